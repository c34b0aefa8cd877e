//! A minimal streaming JSON object writer.
//!
//! Events are written straight into a text buffer instead of through `serde_json::Value`: building
//! and dropping a tree per event would cost more than everything else the generator does. Keys are
//! compile-time constants and never need escaping; values are escaped.

use std::fmt::Write as _;

/// Fields of one JSON object being written; the opening brace is the caller's.
pub(crate) struct Obj<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Obj<'a> {
    /// Continues an object that already has fields, so the first field written starts with a comma.
    pub(crate) fn continuing(out: &'a mut String) -> Self {
        Obj { out, empty: false }
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_string(self.out, value);
        self
    }

    /// A string value that `write` appends; its text must not need escaping (ids, URLs and slugs
    /// made from ASCII words).
    pub(crate) fn text(&mut self, key: &str, write: impl FnOnce(&mut String)) -> &mut Self {
        self.key(key);
        self.out.push('"');
        let start = self.out.len();
        write(self.out);
        debug_assert!(!needs_escape(&self.out[start..]));
        self.out.push('"');
        self
    }

    pub(crate) fn int(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }

    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    /// An amount of money given in cents, written as a decimal number with two places.
    pub(crate) fn money(&mut self, key: &str, cents: u64) -> &mut Self {
        self.key(key);
        let _ = write!(self.out, "{}.{:02}", cents / 100, cents % 100);
        self
    }

    /// A nested object whose fields `fill` writes.
    pub(crate) fn obj(&mut self, key: &str, fill: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(key);
        self.out.push('{');
        fill(&mut Obj {
            out: self.out,
            empty: true,
        });
        self.out.push('}');
        self
    }

    /// An array of objects, one per item, each filled by `fill`.
    pub(crate) fn objs<T>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = T>,
        mut fill: impl FnMut(&mut Obj<'_>, T),
    ) -> &mut Self {
        self.key(key);
        self.out.push('[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push('{');
            fill(
                &mut Obj {
                    out: self.out,
                    empty: true,
                },
                item,
            );
            self.out.push('}');
        }
        self.out.push(']');
        self
    }
}

fn needs_escape(s: &str) -> bool {
    s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_string(out: &mut String, s: &str) {
    out.push('"');
    if !needs_escape(s) {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_objects_and_escapes() {
        let mut s = String::from("{\"a\":1");
        Obj::continuing(&mut s)
            .str("b", "say \"hi\"\n")
            .money("price", 1_999)
            .money("small", 5)
            .bool("ok", true)
            .obj("o", |o| {
                o.int("n", -3).text("u", |s| s.push_str("x-7"));
            })
            .objs("list", [1, 2], |o, n| {
                o.int("n", n);
            });
        s.push('}');
        assert_eq!(
            s,
            r#"{"a":1,"b":"say \"hi\"\n","price":19.99,"small":0.05,"ok":true,"o":{"n":-3,"u":"x-7"},"list":[{"n":1},{"n":2}]}"#
        );
    }
}
