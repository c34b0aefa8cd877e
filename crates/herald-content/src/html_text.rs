//! HTML → plain text, for the text alternative of emails that do not write one.
//!
//! Email HTML is tables, inline styles and links; the text version should read like a plain
//! email someone typed: paragraphs separated by a blank line, `<br>` as a line break, list items
//! as `- item`, links as `text (url)`, and nothing from `<head>`, `<style>`, `<script>` or
//! elements hidden with `display:none` (such as preheader spans). Whitespace is collapsed as a
//! browser would; common entities are decoded. This is a small scanner, not an HTML parser: it
//! never fails, and malformed markup degrades to its text.

/// Converts rendered email HTML to readable plain text.
pub fn html_to_text(html: &str) -> String {
    let mut w = Writer::default();
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |i| &after[i + 3..]);
            continue;
        }
        if rest.starts_with('<')
            && let Some((tag, after)) = read_tag(rest)
        {
            w.tag(&tag);
            rest = after;
            continue;
        }
        // Text up to the next tag (a lone `<` is text).
        let first = rest.chars().next().map_or(1, char::len_utf8);
        let end = rest[first..].find('<').map_or(rest.len(), |i| i + first);
        if w.skip.is_none() {
            w.text(&decode_entities(&rest[..end]));
        }
        rest = &rest[end..];
    }
    w.finish()
}

struct Tag {
    name: String,
    closing: bool,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `<name attr="v" ...>` at the start of `s`; None when it is not a tag (`a < b`).
fn read_tag(s: &str) -> Option<(Tag, &str)> {
    let body = &s[1..];
    let (closing, body) = match body.strip_prefix('/') {
        Some(b) => (true, b),
        None => (false, body),
    };
    let first = body.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '!' || first == '?') {
        return None;
    }
    // Find the closing `>` outside quotes.
    let mut quote = None;
    let mut end = None;
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    let end = end?;
    let inner = body[..end].trim_end_matches('/');
    let name_end = inner
        .find(|c: char| c.is_whitespace())
        .unwrap_or(inner.len());
    let name = inner[..name_end].to_ascii_lowercase();
    let attrs = read_attrs(&inner[name_end..]);
    Some((
        Tag {
            name,
            closing,
            attrs,
        },
        &body[end + 1..],
    ))
}

fn read_attrs(mut s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return out;
        }
        let key_end = s
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(s.len());
        let key = s[..key_end].to_ascii_lowercase();
        s = s[key_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = s.strip_prefix('=') {
            let after = after.trim_start();
            if let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let v = &after[1..];
                let close = v.find(q).unwrap_or(v.len());
                value = decode_entities(&v[..close]);
                s = v.get(close + 1..).unwrap_or("");
            } else {
                let close = after
                    .find(|c: char| c.is_whitespace())
                    .unwrap_or(after.len());
                value = decode_entities(&after[..close]);
                s = &after[close..];
            }
        }
        if key.is_empty() {
            // Stray `=` or junk: drop one character so the loop always advances.
            s = s.get(1..).unwrap_or("");
        } else {
            out.push((key, value));
        }
    }
}

#[derive(Default)]
struct Writer {
    out: String,
    /// Newlines wanted at the end of the output before the next text.
    breaks: usize,
    space: bool,
    /// Inside an element whose content is not shown: its name and nesting depth.
    skip: Option<(String, usize)>,
    /// Open links: href and where their text starts in `out`.
    links: Vec<(String, usize)>,
    /// Open lists: None for `<ul>`, the next number for `<ol>`.
    lists: Vec<Option<usize>>,
}

const BLOCK_2: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "table",
    "blockquote",
    "pre",
];
const BLOCK_1: &[&str] = &[
    "div", "tr", "section", "article", "header", "footer", "center", "form", "dl", "dt", "dd",
    "tbody", "thead", "main", "nav", "aside", "address", "figure",
];

impl Writer {
    fn tag(&mut self, tag: &Tag) {
        if let Some((name, depth)) = &mut self.skip {
            if *name == tag.name && !void(&tag.name) {
                if tag.closing {
                    *depth -= 1;
                } else {
                    *depth += 1;
                }
                if *depth == 0 {
                    self.skip = None;
                }
            }
            return;
        }
        let name = tag.name.as_str();
        let hidden = tag.attr("style").is_some_and(|s| {
            s.replace(' ', "")
                .to_ascii_lowercase()
                .contains("display:none")
        });
        if !tag.closing
            && (matches!(name, "head" | "style" | "script" | "title" | "template") || hidden)
            && !void(name)
        {
            self.skip = Some((tag.name.clone(), 1));
            return;
        }
        match (name, tag.closing) {
            ("br", _) => {
                self.trim_spaces();
                self.out.push('\n');
                self.space = false;
            }
            ("hr", _) => {
                self.want(2);
                self.write("----");
                self.want(2);
            }
            ("li", false) => {
                self.want(1);
                let bullet = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "- ".to_owned(),
                };
                self.write(&bullet);
                self.space = false;
            }
            ("li", true) => self.want(1),
            ("ul", false) => self.open_list(None),
            ("ol", false) => self.open_list(Some(1)),
            ("ul" | "ol", true) => {
                self.lists.pop();
                self.want(if self.lists.is_empty() { 2 } else { 1 });
            }
            ("td" | "th", true) => self.space = true,
            ("a", false) => {
                let href = tag.attr("href").unwrap_or("").trim().to_owned();
                self.links.push((href, self.out.len()));
            }
            ("a", true) => self.close_link(),
            ("img", _) if !self.links.is_empty() => {
                if let Some(alt) = tag.attr("alt").filter(|a| !a.trim().is_empty()) {
                    self.text(alt);
                }
            }
            (n, _) if BLOCK_2.contains(&n) => self.want(2),
            (n, _) if BLOCK_1.contains(&n) => self.want(1),
            _ => {}
        }
    }

    fn open_list(&mut self, numbering: Option<usize>) {
        self.want(if self.lists.is_empty() { 2 } else { 1 });
        self.lists.push(numbering);
    }

    fn close_link(&mut self) {
        let Some((href, start)) = self.links.pop() else {
            return;
        };
        let start = start.min(self.out.len());
        let text = self.out[start..].trim().to_owned();
        let shown = href.strip_prefix("mailto:").unwrap_or(&href);
        if href.is_empty() || href.starts_with('#') || href.starts_with("javascript:") {
            return;
        }
        if text.is_empty() {
            self.write(shown);
        } else if text != shown && text != href {
            self.write_raw(&format!(" ({shown})"));
        }
    }

    fn want(&mut self, n: usize) {
        self.breaks = self.breaks.max(n);
        self.space = false;
    }

    fn text(&mut self, s: &str) {
        // Each boundary between pieces was whitespace; the no-break space is text.
        for (i, word) in s
            .split(|c: char| c.is_whitespace() && c != '\u{a0}')
            .enumerate()
        {
            if i > 0 {
                self.space = true;
            }
            if !word.is_empty() {
                self.write(word);
            }
        }
    }

    /// Writes a word, first placing the pending breaks or space.
    fn write(&mut self, word: &str) {
        if self.out.is_empty() {
            self.breaks = 0;
        } else if self.breaks > 0 {
            self.trim_spaces();
            let have = self.out.len() - self.out.trim_end_matches('\n').len();
            for _ in have..self.breaks {
                self.out.push('\n');
            }
        } else if self.space && !self.out.ends_with('\n') && !self.out.ends_with(' ') {
            self.out.push(' ');
        }
        self.breaks = 0;
        self.space = false;
        self.out.push_str(word);
    }

    /// Appends right after the previous word (a link's URL after its text).
    fn write_raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn trim_spaces(&mut self) {
        let len = self.out.trim_end_matches(' ').len();
        self.out.truncate(len);
    }

    fn finish(self) -> String {
        let mut out = String::with_capacity(self.out.len());
        let mut blank = 0;
        for line in self.out.lines() {
            let line = line.trim_end().replace('\u{a0}', " ");
            if line.is_empty() {
                blank += 1;
                continue;
            }
            if !out.is_empty() {
                out.push_str(if blank > 0 { "\n\n" } else { "\n" });
            }
            blank = 0;
            out.push_str(&line);
        }
        out
    }
}

fn void(name: &str) -> bool {
    matches!(
        name,
        "br" | "hr" | "img" | "meta" | "link" | "input" | "col" | "area" | "base" | "wbr"
    ) || name.starts_with('!')
        || name.starts_with('?')
}

/// Decodes the entities that appear in email copy; unknown ones are left as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..]
            .find(|c: char| c == ';' || c == '&' || c.is_whitespace())
            .map(|j| j + 1);
        let decoded = match end {
            Some(j) if rest[j..].starts_with(';') => entity(&rest[1..j]).map(|c| (c, j + 1)),
            _ => None,
        };
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "rsquo" => '’',
        "lsquo" => '‘',
        "rdquo" => '”',
        "ldquo" => '“',
        "laquo" => '«',
        "raquo" => '»',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "middot" => '·',
        "bull" => '•',
        "times" => '×',
        "zwnj" => '\u{200c}',
        _ => return None,
    })
}
