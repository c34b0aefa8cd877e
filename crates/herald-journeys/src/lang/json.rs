//! The JSON form: serde does the shape (see `ast.rs` and `journey.schema.json`); this module
//! adds hints to serde's errors (the segment language's, via `syntax::json_error`) and
//! positions to validation errors, by following the error's path through the JSON text.

use super::check::validate;
use super::error::{JsonError, ValidationError};
use crate::ast::Document;
use herald_segments::lang::syntax::{json_error, line_column};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

const SCHEMA_FILE: &str = "journey.schema.json";
const TOO_DEEP: &str = "the journey is nested too deeply: move some steps into another journey, \
                        or simplify the condition";

/// Reads a document (`{"rules": {...}, "journeys": [...]}`), then [`validate`]s it.
///
/// Errors carry a 1-based line and character column in `text`; a validation error points at
/// the start of the part it is about (the step, the goal, the cap, ...).
pub fn from_json(text: &str) -> Result<Document, JsonError> {
    let start = text.len() - text.trim_start().len();
    if !text[start..].starts_with('{') {
        let (line, column) = line_column(text, start);
        return Err(JsonError {
            line,
            column,
            message: "expected a journey document {...}".into(),
            hint: "a document looks like {\"journeys\": [{\"name\": \"welcome\", \"trigger\": \
                   \"api\", \"steps\": [...]}]}, with an optional \"rules\" object"
                .into(),
        });
    }
    let doc: Document =
        serde_json::from_str(text).map_err(|e| json_error(&e, text, 0, SCHEMA_FILE, TOO_DEEP))?;
    if let Err(errors) = validate(&doc) {
        let e = &errors[0];
        let (line, column) = line_column(text, locate(text, e));
        return Err(JsonError {
            line,
            column,
            message: format!("{}: {}", e.location(), e.message),
            hint: e.hint.clone(),
        });
    }
    Ok(doc)
}

/// The JSON form of `doc`, pretty-printed.
pub fn to_json(doc: &Document) -> String {
    serde_json::to_string_pretty(doc).expect("documents always serialize: no maps, no I/O")
}

enum Seg<'p> {
    Field(&'p str),
    Index(usize),
}

/// `steps[3].then[0]` as fields and indexes.
fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(field) = pieces.next().filter(|f| !f.is_empty()) {
            out.push(Seg::Field(field));
        }
        for index in pieces {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                out.push(Seg::Index(i));
            }
        }
    }
    out
}

/// Byte offset in `text` of the part `e` is about: as deep as its path can be followed.
fn locate(text: &str, e: &ValidationError) -> usize {
    let Ok(mut at) = serde_json::from_str::<&RawValue>(text) else {
        return 0;
    };
    let mut path = match e.index {
        Some(i) => vec![Seg::Field("journeys"), Seg::Index(i)],
        None => vec![Seg::Field("rules")],
    };
    path.extend(segments(&e.path));
    for seg in &path {
        match descend(at, seg) {
            Some(next) => at = next,
            None => break,
        }
    }
    // RawValue borrows from `text`, so its address gives its offset.
    at.get().as_ptr() as usize - text.as_ptr() as usize
}

fn descend<'t>(v: &'t RawValue, seg: &Seg) -> Option<&'t RawValue> {
    match seg {
        Seg::Index(i) => {
            let items: Vec<&'t RawValue> = serde_json::from_str(v.get()).ok()?;
            items.get(*i).copied()
        }
        Seg::Field(name) => {
            let fields: BTreeMap<String, &'t RawValue> = serde_json::from_str(v.get()).ok()?;
            if let Some(&found) = fields.get(*name) {
                return Some(found);
            }
            // A step or condition wraps its fields in its variant's name: {"branch": {...}}.
            match fields.into_values().collect::<Vec<_>>()[..] {
                [only] => descend(only, seg),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_fields_and_indexes() {
        let segs = segments("steps[3].arms[1].steps[0]");
        let shown: Vec<String> = segs
            .iter()
            .map(|s| match s {
                Seg::Field(f) => f.to_string(),
                Seg::Index(i) => i.to_string(),
            })
            .collect();
        assert_eq!(shown, ["steps", "3", "arms", "1", "steps", "0"]);
    }

    #[test]
    fn validation_errors_point_into_nested_steps() {
        let json = r#"{"journeys": [{"name": "a", "trigger": "api", "steps": [
  "exit",
  {"branch": {"condition": {"opened": {}}, "then": [
    {"webhook": {"url": "ftp://x"}}]}}]}]}"#;
        // The branch's condition is malformed first: serde's error, with serde's position.
        let e = from_json(json).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let json = json.replace(r#"{"opened": {}}"#, r#"{"in_segment": {"segment": "s"}}"#);
        let e = from_json(&json).unwrap_err();
        assert_eq!((e.line, e.column), (4, 5), "{e}");
        assert!(
            e.message.starts_with("journey a, steps[1].then[0]: "),
            "{e}"
        );
    }
}
