//! What goes wrong with a definition, said so that a marketer can fix it.
//!
//! Every error names a 1-based line and column, what was expected there, and a hint; a warning
//! names the segment and the thing it warns about.

use crate::ast::SegmentName;
use std::fmt;

/// A mistake in the text form, at the token where it was noticed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}; hint: {hint}")]
pub struct ParseError {
    /// 1-based line of the offending token.
    pub line: usize,
    /// 1-based column (in characters) of the offending token.
    pub column: usize,
    /// What was expected and what was found.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, column: usize, message: String, hint: &str) -> Self {
        ParseError {
            line,
            column,
            message,
            hint: hint.to_owned(),
        }
    }
}

/// A mistake in the JSON form. Syntax and shape errors carry serde_json's position; a definition
/// that is well-formed but invalid (e.g. a duplicate name) is reported at the start of its object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}; hint: {hint}")]
pub struct JsonError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

/// A definition that is well-formed but cannot be accepted (see [`super::validate`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("segment {segment}: {message}; hint: {hint}")]
pub struct ValidationError {
    /// Index of the offending definition in the slice given to `validate`.
    pub index: usize,
    pub segment: SegmentName,
    pub message: String,
    pub hint: String,
}

/// Something allowed but probably unintended (see [`super::lint`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub segment: SegmentName,
    /// The event name the warning is about.
    pub event: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {}: {}", self.segment, self.message)
    }
}

/// The closest of `candidates` to a misspelt `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&word, &c.to_lowercase()), *c))
        .filter(|&(d, c)| d > 0 && d <= 2 && d < c.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("coutn", &["count", "sum"]), Some("count"));
        assert_eq!(did_you_mean("dayz", &["days", "hours"]), Some("days"));
        assert_eq!(did_you_mean("banana", &["count", "sum"]), None);
        assert_eq!(did_you_mean("count", &["count"]), None);
    }
}
