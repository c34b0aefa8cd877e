//! The JSON form: serde does the shape (see `ast.rs` and `segment.schema.json`); this module
//! adds what serde does not: hints for its errors, positions for definitions that are
//! well-formed but invalid, and acceptance of a single definition as well as an array.

use super::check::validate;
use super::error::{JsonError, did_you_mean};
use crate::ast::Definition;
use serde_json::value::RawValue;

/// Reads a definition object or an array of them, then [`validate`]s them.
///
/// Errors carry serde_json's line and column (in characters from the start of `text`); a
/// validation error points at the start of the offending definition's object.
pub fn from_json(text: &str) -> Result<Vec<Definition>, JsonError> {
    let start = text.len() - text.trim_start().len();
    let raws: Vec<&RawValue> = match text[start..].chars().next() {
        Some('[') => serde_json::from_str(text).map_err(|e| from_serde(&e, text, 0))?,
        Some('{') => vec![serde_json::from_str(text).map_err(|e| from_serde(&e, text, 0))?],
        _ => {
            let (line, column) = line_column(text, start);
            return Err(JsonError {
                line,
                column,
                message: "expected a definition object {...} or an array [...] of them".into(),
                hint: "a definition looks like {\"name\": \"recent_buyers\", \"condition\": {...}}"
                    .into(),
            });
        }
    };
    // RawValue borrows from `text`, so its address gives its offset for positions.
    let offsets: Vec<usize> = raws
        .iter()
        .map(|r| r.get().as_ptr() as usize - text.as_ptr() as usize)
        .collect();
    let mut defs = Vec::with_capacity(raws.len());
    for (raw, &offset) in raws.iter().zip(&offsets) {
        defs.push(serde_json::from_str(raw.get()).map_err(|e| from_serde(&e, text, offset))?);
    }
    validate(&defs).map_err(|e| {
        let (line, column) = line_column(text, offsets[e.index]);
        JsonError {
            line,
            column,
            message: format!("segment {}: {}", e.segment, e.message),
            hint: e.hint,
        }
    })?;
    Ok(defs)
}

/// The JSON form of `defs` as a pretty-printed array.
pub fn to_json(defs: &[Definition]) -> String {
    serde_json::to_string_pretty(defs).expect("definitions always serialize: no maps, no I/O")
}

/// 1-based line and character column of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// What the hints of a JSON form name: its schema file, and how to avoid nesting too deeply.
pub(crate) struct JsonForm {
    pub schema_file: &'static str,
    pub too_deep: &'static str,
}

const SEGMENTS: JsonForm = JsonForm {
    schema_file: "segment.schema.json",
    too_deep: "the condition is nested too deeply: split it into segments joined with \"segment\" conditions",
};

fn from_serde(e: &serde_json::Error, text: &str, offset: usize) -> JsonError {
    from_serde_in(&SEGMENTS, e, text, offset)
}

/// Converts serde_json's error in `text[offset..]` (1-based line, byte column) to a position in
/// `text` and adds a hint.
pub(crate) fn from_serde_in(
    form: &JsonForm,
    e: &serde_json::Error,
    text: &str,
    offset: usize,
) -> JsonError {
    let sub = &text[offset..];
    // Byte offset in `sub` of the reported position; serde reports column 0 at some ends.
    let line_start: usize = sub
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let mut at = (line_start + e.column().saturating_sub(1)).min(sub.len());
    while !sub.is_char_boundary(at) {
        at -= 1;
    }
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    let at = offender(sub, at, &message).unwrap_or(at);
    let (line, column) = line_column(text, offset + at);
    let (message, hint) = hint_for(message, e.classify(), form);
    JsonError {
        line,
        column,
        message,
        hint,
    }
}

/// Where the string that `message` complains about starts, searching back from serde's `at`.
///
/// serde reports an error where it noticed it: after an unknown key, and, inside a tagged
/// object such as a condition (which serde reads whole before looking at its `type`), at the
/// end of that object. The offending key or string value lies before that point, so the nearest
/// earlier occurrence of it is almost always the right one, and a far better place to point at.
fn offender(sub: &str, at: usize, message: &str) -> Option<usize> {
    let named = if message.starts_with("unknown field") || message.starts_with("unknown variant") {
        ticked(message).first().copied()
    } else if message.contains(" is not a") {
        // Our own parse errors start with the value in backticks.
        message.strip_prefix('`').and_then(|m| m.split('`').next())
    } else {
        // `invalid type: string "3", expected f64`: the value is quoted, Debug-style.
        message
            .strip_prefix("invalid type: string \"")
            .and_then(|m| m.split('"').next())
    };
    let needle = serde_json::to_string(named?).ok()?;
    let end = (at + 1).min(sub.len());
    sub.get(..end)?.rfind(&needle)
}

/// The words between backticks in a serde message: `foo`, `a`, `b`.
fn ticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

fn hint_for(
    message: String,
    class: serde_json::error::Category,
    form: &JsonForm,
) -> (String, String) {
    use serde_json::error::Category;
    let hint = if message.starts_with("unknown field") || message.starts_with("unknown variant") {
        let words = ticked(&message);
        let kind = if message.starts_with("unknown field") {
            "field"
        } else {
            "type"
        };
        match words.split_first() {
            Some((found, allowed)) => match did_you_mean(found, allowed) {
                Some(s) => format!("did you mean \"{s}\"?"),
                None => format!("the {kind}s allowed here are: {}", allowed.join(", ")),
            },
            None => format!("see {} for the JSON form", form.schema_file),
        }
    } else if let Some(field) = message.strip_prefix("missing field ") {
        format!("add the field {}", field.replace('`', "\""))
    } else if message.starts_with("invalid type") {
        "check the value's type: numbers without quotes; names, paths, spans (\"90 days\") and \
         dates as strings; lists in [ ]"
            .into()
    } else if message.contains("untagged enum Literal") {
        "a value is a number, a string, true, false or a list of those".into()
    } else if message.contains("recursion limit") {
        form.too_deep.into()
    } else if let Some((what, how)) = message
        .split_once(": ")
        .filter(|_| message.contains(" is not a"))
    {
        // Our own parse errors (spans, paths, names, dates) say what and how in one sentence.
        return (what.to_owned(), how.to_owned());
    } else if class == Category::Eof {
        "the JSON ends early: close every { and [".into()
    } else if message.contains("trailing comma") {
        "remove the comma before the closing bracket".into()
    } else if message.starts_with("key must be a string") {
        "object keys are in double quotes: \"name\"".into()
    } else if class == Category::Syntax {
        "check the JSON syntax here: a comma, quote or bracket may be missing".into()
    } else {
        format!("see {} for the JSON form", form.schema_file)
    };
    (message, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_from_the_start_of_the_text() {
        assert_eq!(line_column("ab\ncdé f", 9), (2, 6));
        let e = from_json("[\n  {\"name\": \"a\", \"bogus\": 1, \"condition\": {}}]").unwrap_err();
        // serde notices the unknown field at the key's closing quote; we point at its start.
        assert_eq!((e.line, e.column), (2, 17), "{e}");
    }
}
