//! Herald's library of journeys (`library.journeys`), written in the text form.
//!
//! The journeys use segments from the segment library (`product_viewers`, `recent_buyers`, ...)
//! and templates that ship with Herald; the file documents each journey in its description.

use crate::ast::Document;

/// The library's text, as shipped.
pub const TEXT: &str = include_str!("../library.journeys");

/// The library's rules and journeys, in file order.
pub fn library() -> Document {
    crate::lang::parse(TEXT).expect("library.journeys parses (checked by tests)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{from_json, print, to_json, validate};

    #[test]
    fn parses_validates_and_has_the_expected_journeys() {
        let doc = library();
        validate(&doc).expect("the library is valid");
        let mut names: Vec<&str> = doc.journeys.iter().map(|j| j.name.as_str()).collect();
        names.sort_unstable();
        let mut expected = [
            "welcome_series",
            "abandoned_cart",
            "reengagement",
            "post_purchase_cross_sell",
            "browse_recommendations",
            "product_interest",
            "loyal_new_arrivals",
            "ebook_followup",
            "price_drop",
            "back_in_stock",
        ];
        expected.sort_unstable();
        assert_eq!(names, expected);
        let rules = doc.rules.expect("the library has rules");
        assert_eq!((rules.caps.len(), rules.quiet_hours.len()), (2, 2));
    }

    #[test]
    fn round_trips_through_text_and_json() {
        let doc = library();
        assert_eq!(crate::lang::parse(&print(&doc)).unwrap(), doc);
        assert_eq!(from_json(&to_json(&doc)).unwrap(), doc);
    }

    #[test]
    fn printing_reproduces_the_file_without_its_comments() {
        // Drop comment lines, then the blank lines that only separated them.
        let mut expected = String::new();
        for line in TEXT.lines().filter(|l| !l.trim_start().starts_with('#')) {
            if line.trim().is_empty() && (expected.is_empty() || expected.ends_with("\n\n")) {
                continue;
            }
            expected.push_str(line);
            expected.push('\n');
        }
        assert_eq!(print(&library()), expected.trim_end().to_owned() + "\n");
    }
}
