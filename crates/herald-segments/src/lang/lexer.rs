//! Splits segment text into tokens, each with its 1-based line and column.
//!
//! The lexer knows nothing of the grammar. Two choices make the parser's errors better:
//!
//! * A run that starts with a digit (`90`, `19.5`, `2025-01-01`, `11-15`, `90days`) is one
//!   [`Tok::Num`] token; the parser decides by context whether it is a number, a date or a
//!   month and day, so `90days` is reported as a bad number where a number was expected.
//! * Words are ASCII letters, digits, `_` and `-` (`frequent-buyers` is one word), and keywords
//!   are ordinary words that the parser compares by text, so `AND` is found as a word and the
//!   parser can say "keywords are lower-case".

use super::error::ParseError;
use crate::ast::CmpOp;

/// A token's kind and value. Public (through [`super::syntax`]) for languages built on this one.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A bare word: keyword, segment name, unit or property key.
    Word(String),
    /// A run starting with a digit (or `-` and a digit): number, date, month-day.
    Num(String),
    /// A double-quoted string, unescaped.
    Str(String),
    /// A back-quoted property key, unescaped.
    Key(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Cmp(CmpOp),
    Eof,
}

/// A token with its position, as the parser sees it.
#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
    pub column: usize,
    /// The source text of the token, for "found ..." in errors.
    pub src: String,
}

impl Token {
    pub fn is_word(&self, w: &str) -> bool {
        matches!(&self.tok, Tok::Word(x) if x == w)
    }

    /// How an error message names this token.
    pub fn describe(&self) -> String {
        match &self.tok {
            Tok::Eof => "the end of the text".to_owned(),
            Tok::Str(_) => format!("the string {}", shorten(&self.src)),
            _ => format!("\"{}\"", shorten(&self.src)),
        }
    }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

pub(crate) fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub(crate) fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Characters that continue a digit-led run: enough for `-1.5e-3`, `2025-01-01`,
/// `2025-01-01T10:00:00.5+02:00`.
fn is_num_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '+' | '-')
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    text: &'a str,
    line: usize,
    column: usize,
}

/// Tokenizes the whole text; the last token is always [`Tok::Eof`].
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer {
        chars: text.char_indices().peekable(),
        text,
        line: 1,
        column: 1,
    };
    let mut out = Vec::new();
    loop {
        let tok = lx.next_token()?;
        let eof = tok.tok == Tok::Eof;
        out.push(tok);
        if eof {
            return Ok(out);
        }
    }
}

impl Lexer<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|&(_, c)| c)
    }

    fn bump(&mut self) -> Option<char> {
        let (_, c) = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn offset(&mut self) -> usize {
        self.chars.peek().map_or(self.text.len(), |&(i, _)| i)
    }

    fn skip_space_and_comments(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.bump();
            } else if c == '#' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_space_and_comments();
        let (line, column) = (self.line, self.column);
        let start = self.offset();
        let err = |message: String, hint: &str| ParseError::new(line, column, message, hint);
        let Some(c) = self.bump() else {
            return Ok(Token {
                tok: Tok::Eof,
                line,
                column,
                src: String::new(),
            });
        };
        let tok = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '.' => Tok::Dot,
            '"' => Tok::Str(self.quoted('"', line, column)?),
            '`' => Tok::Key(self.quoted('`', line, column)?),
            '=' if self.peek() == Some('=') => {
                return Err(err(
                    "unexpected \"==\"".into(),
                    "equality is a single \"=\"",
                ));
            }
            '=' => Tok::Cmp(CmpOp::Eq),
            '!' if self.peek() == Some('=') => {
                self.bump();
                Tok::Cmp(CmpOp::Ne)
            }
            '<' | '>' => {
                let or_equal = self.peek() == Some('=');
                if or_equal {
                    self.bump();
                }
                Tok::Cmp(match (c, or_equal) {
                    ('<', false) => CmpOp::Lt,
                    ('<', true) => CmpOp::Le,
                    ('>', false) => CmpOp::Gt,
                    _ => CmpOp::Ge,
                })
            }
            c if c.is_ascii_digit()
                || (c == '-' && self.peek().is_some_and(|d| d.is_ascii_digit())) =>
            {
                while self.peek().is_some_and(is_num_char) {
                    self.bump();
                }
                Tok::Num(self.text[start..self.offset()].to_owned())
            }
            c if is_word_start(c) => {
                while self.peek().is_some_and(is_word_char) {
                    self.bump();
                }
                Tok::Word(self.text[start..self.offset()].to_owned())
            }
            other => {
                let hint = match (other, self.peek()) {
                    ('&', _) => "write \"and\" to join conditions",
                    ('|', _) => "write \"or\" for either condition",
                    ('!', _) => "write \"not\" before a condition, or \"!=\" for not equal",
                    ('\'', _) => "strings are written in double quotes: \"Order Completed\"",
                    ('\u{201c}' | '\u{201d}', _) => {
                        "use straight double quotes (\") around strings"
                    }
                    ('-', _) => "a minus sign must be followed by digits, e.g. -5",
                    _ if other.is_alphabetic() => {
                        "bare words are ASCII; write other property keys in backticks: `größe`"
                    }
                    _ => "property keys with special characters go in backticks: `order id`",
                };
                return Err(err(format!("unexpected character \"{other}\""), hint));
            }
        };
        Ok(Token {
            tok,
            line,
            column,
            src: self.text[start..self.offset()].to_owned(),
        })
    }

    /// Reads the rest of a `"..."` string or `` `...` `` key (the opening quote is consumed).
    /// Neither may span lines: an unterminated one is then reported at its opening quote
    /// instead of at the end of the file.
    fn quoted(&mut self, quote: char, line: usize, column: usize) -> Result<String, ParseError> {
        let what = if quote == '"' {
            "string"
        } else {
            "back-quoted key"
        };
        let unterminated = || {
            ParseError::new(
                line,
                column,
                format!("this {what} is not closed: {quote} missing on this line"),
                &format!("add the closing {quote}; inside it, write a line break as \\n"),
            )
        };
        let mut out = String::new();
        loop {
            let (el, ec) = (self.line, self.column);
            match self.bump() {
                None | Some('\n') => return Err(unterminated()),
                Some(c) if c == quote => return Ok(out),
                Some('\\') => {
                    let esc = self.bump();
                    let bad = |found: String| {
                        ParseError::new(
                            el,
                            ec,
                            format!("unknown escape \"\\{found}\""),
                            "escapes are \\\" \\` \\\\ \\n \\r \\t and \\u{hex}",
                        )
                    };
                    match esc {
                        Some('n') => out.push('\n'),
                        Some('r') => out.push('\r'),
                        Some('t') => out.push('\t'),
                        Some(c @ ('"' | '`' | '\\')) => out.push(c),
                        Some('u') => out.push(self.unicode_escape(el, ec)?),
                        Some('\n') | None => return Err(unterminated()),
                        Some(c) => return Err(bad(c.to_string())),
                    }
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// After `\u`: `{hex}` naming a Unicode scalar value.
    fn unicode_escape(&mut self, line: usize, column: usize) -> Result<char, ParseError> {
        let bad = || {
            ParseError::new(
                line,
                column,
                "bad unicode escape".into(),
                "write \\u{...} with 1 to 6 hex digits of a Unicode character, e.g. \\u{e9}",
            )
        };
        if self.bump() != Some('{') {
            return Err(bad());
        }
        let mut hex = String::new();
        while let Some(c) = self.peek() {
            if c == '}' || hex.len() > 6 {
                break;
            }
            hex.push(c);
            self.bump();
        }
        if self.bump() != Some('}') || hex.is_empty() {
            return Err(bad());
        }
        u32::from_str_radix(&hex, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn splits_words_numbers_strings_and_operators() {
        assert_eq!(
            toks("count(\"A\\\"b\") >= -1.5e3 # no\n`a b`.c"),
            vec![
                Tok::Word("count".into()),
                Tok::LParen,
                Tok::Str("A\"b".into()),
                Tok::RParen,
                Tok::Cmp(CmpOp::Ge),
                Tok::Num("-1.5e3".into()),
                Tok::Key("a b".into()),
                Tok::Dot,
                Tok::Word("c".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let t = lex("a\n  bb \"é\" c").unwrap();
        let pos: Vec<_> = t.iter().map(|t| (t.line, t.column)).collect();
        assert_eq!(pos, vec![(1, 1), (2, 3), (2, 6), (2, 10), (2, 11)]);
    }

    #[test]
    fn dates_and_timestamps_are_single_runs() {
        assert_eq!(
            toks("2025-01-01T10:00:00.5+02:00 11-15"),
            vec![
                Tok::Num("2025-01-01T10:00:00.5+02:00".into()),
                Tok::Num("11-15".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn unicode_escapes() {
        assert_eq!(
            toks("\"\\u{e9}\\u{1F600}\""),
            vec![Tok::Str("é😀".into()), Tok::Eof]
        );
        assert!(lex("\"\\u{110000}\"").is_err());
        assert!(lex("\"\\u{}\"").is_err());
    }
}
