//! How profile traits combine.
//!
//! An `identify` overwrites the traits it names and keeps the others (Segment's semantics). When two
//! profiles merge, the surviving (identified) profile's values win and the absorbed profile only
//! fills gaps: what a person told us as themselves outranks what a device recorded before.

use serde_json::{Map, Value};

/// Applies an identify's traits: named traits are overwritten, others kept.
pub fn apply_identify(traits: &mut Map<String, Value>, incoming: &Map<String, Value>) {
    for (key, value) in incoming {
        traits.insert(key.clone(), value.clone());
    }
}

/// Fills traits missing from `traits` with those of an absorbed profile.
pub fn fill_gaps(traits: &mut Map<String, Value>, absorbed: Map<String, Value>) {
    for (key, value) in absorbed {
        traits.entry(key).or_insert(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn identify_overwrites_named_traits_only() {
        let mut t = map(json!({"email": "a@x", "plan": "free"}));
        apply_identify(&mut t, &map(json!({"plan": "pro"})));
        assert_eq!(Value::Object(t), json!({"email": "a@x", "plan": "pro"}));
    }

    #[test]
    fn merge_keeps_survivor_values() {
        let mut t = map(json!({"email": "known@x"}));
        fill_gaps(&mut t, map(json!({"email": "anon@x", "utm_source": "ad"})));
        assert_eq!(
            Value::Object(t),
            json!({"email": "known@x", "utm_source": "ad"})
        );
    }
}
