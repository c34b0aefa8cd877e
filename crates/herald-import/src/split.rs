//! Splitting a row of a delimited file (CSV, TSV, `;`-separated...) into its values.
//!
//! Rows are split here rather than by the `csv` crate because rejections must name the file line a
//! row starts on, and csv's record positions do not give that exactly (blank lines and CRLF endings
//! shift them). The reader in [`crate::lines`] numbers lines itself and hands each row here; a row
//! whose quoted value runs on past the end of its line is given the next line too.

/// A quoted value is still open at the end of the text: the row goes on on the next line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unclosed;

/// Splits `text` at `delimiter` (an ASCII byte) as RFC 4180 says: a value may be quoted with `"`,
/// a doubled `""` inside quotes is one quote, and delimiters and line breaks inside quotes are
/// part of the value. Unquoted values are trimmed of surrounding spaces; quoted ones are kept as
/// written. Like most CSV readers it is lenient where the RFC is strict: spaces may surround a
/// quoted value, a quote inside an unquoted value is an ordinary character, and text after a
/// closing quote is kept.
pub(crate) fn delimited(text: &str, delimiter: u8) -> Result<Vec<String>, Unclosed> {
    let bytes = text.as_bytes();
    // The delimiter is ASCII, so every index found below is a character boundary.
    let next_delimiter = |from: usize| {
        bytes[from..]
            .iter()
            .position(|&b| b == delimiter)
            .map_or(bytes.len(), |i| from + i)
    };
    let is_blank = |b: u8| (b == b' ' || b == b'\t') && b != delimiter;
    let mut fields = Vec::new();
    let mut at = 0;
    loop {
        let mut start = at;
        while start < bytes.len() && is_blank(bytes[start]) {
            start += 1;
        }
        if bytes.get(start) == Some(&b'"') {
            let mut value = String::new();
            let mut pos = start + 1;
            loop {
                let Some(quote) = bytes[pos..].iter().position(|&b| b == b'"') else {
                    return Err(Unclosed);
                };
                value.push_str(&text[pos..pos + quote]);
                pos += quote + 1;
                if bytes.get(pos) == Some(&b'"') {
                    value.push('"');
                    pos += 1;
                } else {
                    break;
                }
            }
            let end = next_delimiter(pos);
            value.push_str(text[pos..end].trim());
            fields.push(value);
            at = end;
        } else {
            let end = next_delimiter(at);
            fields.push(text[at..end].trim().to_owned());
            at = end;
        }
        if at >= bytes.len() {
            return Ok(fields);
        }
        at += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        delimited(text, b',').unwrap()
    }

    #[test]
    fn splits_plain_and_quoted_values() {
        assert_eq!(split("a,b,c"), ["a", "b", "c"]);
        assert_eq!(split(" a , b ,c "), ["a", "b", "c"]);
        assert_eq!(split("a,,c,"), ["a", "", "c", ""]);
        assert_eq!(split(""), [""]);
        assert_eq!(
            split(r#""a, b","say ""hi""",c"#),
            ["a, b", r#"say "hi""#, "c"]
        );
        assert_eq!(split(r#" "  padded  " ,x"#), ["  padded  ", "x"]);
        assert_eq!(split(r#"a"b,"c"d"#), [r#"a"b"#, "cd"]);
        assert_eq!(split("\"two\nlines\",x"), ["two\nlines", "x"]);
        assert_eq!(split("é,ü"), ["é", "ü"]);
    }

    #[test]
    fn finds_unclosed_quotes() {
        assert_eq!(delimited("a,\"b", b','), Err(Unclosed));
        assert_eq!(delimited("a,\"b\"\"", b','), Err(Unclosed));
    }

    #[test]
    fn tabs_can_delimit() {
        assert_eq!(delimited("a\t b\t\"c\"", b'\t').unwrap(), ["a", "b", "c"]);
        assert_eq!(delimited("\t", b'\t').unwrap(), ["", ""]);
    }
}
