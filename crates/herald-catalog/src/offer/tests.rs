use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use std::collections::HashSet;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn refusal(name: &str, definition: Value) -> (String, String) {
    let e = Offer::parse(name, &definition).unwrap_err();
    (e.field().to_owned(), e.to_string())
}

#[test]
fn parses_a_full_definition_and_round_trips() {
    let definition = json!({
        "pattern": "CART-{XXXXXX}",
        "valid_days": 7,
        "ends_at": "2027-01-01T00:00:00Z",
        "low_water": 50,
        "attributes": {"percent_off": 10, "description": "10% off"}
    });
    let offer = Offer::parse("cart_recovery", &definition).unwrap();
    assert_eq!(offer.name, "cart_recovery");
    assert_eq!(offer.pattern.as_ref().unwrap().as_str(), "CART-{XXXXXX}");
    assert_eq!(offer.valid_days, Some(7));
    assert_eq!(offer.ends_at, Some(at("2027-01-01T00:00:00Z")));
    assert_eq!(offer.low_water, 50);
    assert_eq!(offer.attributes["percent_off"], 10);
    assert_eq!(offer.to_json(), definition);
    assert_eq!(
        Offer::parse("cart_recovery", &offer.to_json()).unwrap(),
        offer
    );
    let serialised = serde_json::to_value(&offer).unwrap();
    assert_eq!(serialised["pattern"], "CART-{XXXXXX}");
    assert_eq!(serialised["name"], "cart_recovery");
}

#[test]
fn an_empty_definition_is_an_imported_pool() {
    for definition in [json!({}), Value::Null] {
        let offer = Offer::parse("welcome10", &definition).unwrap();
        assert_eq!(offer.pattern, None);
        assert_eq!(offer.low_water, DEFAULT_LOW_WATER);
        assert_eq!(offer.expiry(at("2026-01-01T00:00:00Z")), None);
        assert_eq!(Offer::parse("welcome10", &offer.to_json()).unwrap(), offer);
    }
}

#[test]
fn refuses_bad_names_and_fields() {
    for name in [
        "",
        "Cart",
        "cart-recovery",
        "cart recovery",
        &"a".repeat(65),
    ] {
        let (field, message) = refusal(name, json!({}));
        assert_eq!(field, "name", "{name}");
        assert!(message.contains("lowercase letters"), "{message}");
    }
    assert!(valid_offer_name(&"a".repeat(64)));
    let cases = [
        (json!([]), "", "expected a JSON object"),
        (
            json!({"pattrn": "X"}),
            "pattrn",
            "unknown field: use pattern",
        ),
        (json!({"pattern": 5}), "pattern", "expected a pattern"),
        (json!({"valid_days": 0}), "valid_days", "from 1 to 3650"),
        (json!({"valid_days": -3}), "valid_days", "from 1 to 3650"),
        (json!({"valid_days": 1.5}), "valid_days", "whole number"),
        (json!({"valid_days": "7"}), "valid_days", "whole number"),
        (json!({"valid_days": 4000}), "valid_days", "from 1 to 3650"),
        (json!({"ends_at": "next week"}), "ends_at", "RFC 3339"),
        (
            json!({"ends_at": "2027-01-01T00:00:00"}),
            "ends_at",
            "offset",
        ),
        (json!({"ends_at": 1700000000}), "ends_at", "timestamp"),
        (json!({"low_water": -1}), "low_water", "whole number >= 0"),
        (json!({"attributes": "10%"}), "attributes", "JSON object"),
    ];
    for (definition, field, message) in cases {
        let (f, m) = refusal("x", definition.clone());
        assert_eq!(f, field, "{definition}");
        assert!(m.contains(message), "{definition}: {m}");
    }
}

#[test]
fn patterns_are_checked() {
    let cases = [
        ("CART-{XXXXX}", "5 random characters"),
        ("{XXX}{999}", ""),
        ("SAVE10", "0 random characters"),
        ("", "0 random characters"),
        ("cart-{XXXXXX}", "codes are upper case; write `C`"),
        ("CART {XXXXXX}", "cannot be part of a code"),
        ("CART-{XXXXXX", "without its `}`"),
        ("CART-{XX{XX}}", "without its `}`"),
        ("CART-XXXXXX}", "without its `{`"),
        ("CART-{}", "is not a group"),
        ("CART-{X9X9X9}", "`{X9X9X9}` is not a group"),
        ("CART-{ZZZZZZ}", "is not a group"),
        ("CART-{xxxxxx}", "is not a group"),
    ];
    for (pattern, message) in cases {
        match CodePattern::parse(pattern) {
            Ok(_) if message.is_empty() => {}
            Ok(p) => panic!("{pattern} was accepted as {p:?}"),
            Err(e) => {
                assert!(!message.is_empty(), "{pattern}: {e}");
                assert_eq!(e.field(), "pattern");
                assert!(e.to_string().contains(message), "{pattern}: {e}");
            }
        }
    }
    let long = format!("{}{{XXXXXX}}", "A".repeat(59));
    assert!(
        CodePattern::parse(&long)
            .unwrap_err()
            .to_string()
            .contains("65 characters")
    );
    assert!(CodePattern::parse(&format!("{}{{XXXXXX}}", "A".repeat(58))).is_ok());
    let (field, _) = refusal("x", json!({"pattern": "AB{99}"}));
    assert_eq!(field, "pattern");
}

#[test]
fn generated_codes_follow_the_pattern_and_differ() {
    let pattern = CodePattern::parse("CART-{XXXXXX}_{99}{AAA}").unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut seen = HashSet::new();
    for _ in 0..2000 {
        let code = pattern.generate(&mut rng);
        assert!(valid_code(&code), "{code}");
        assert_eq!(code.len(), "CART-".len() + 6 + 1 + 2 + 3);
        let b = code.as_bytes();
        assert!(code.starts_with("CART-"));
        assert!(b[5..11].iter().all(|c| UNAMBIGUOUS.contains(c)), "{code}");
        assert_eq!(b[11], b'_');
        assert!(b[12..14].iter().all(u8::is_ascii_digit), "{code}");
        assert!(b[14..17].iter().all(|c| LETTERS.contains(c)), "{code}");
        seen.insert(code);
    }
    assert_eq!(seen.len(), 2000, "11 random characters rarely repeat");
    // Every character of the alphabet turns up, and none outside it.
    let letters: HashSet<u8> = seen
        .iter()
        .flat_map(|c| c.as_bytes()[5..11].to_vec())
        .collect();
    assert_eq!(letters.len(), UNAMBIGUOUS.len());
    for c in b"01OIL" {
        assert!(!letters.contains(c));
    }
    // The thread's generator works too.
    assert!(valid_code(&pattern.generate(&mut rand::rng())));
}

#[test]
fn codes_are_checked() {
    for code in ["A", "save-10_X", &"Z".repeat(64)] {
        assert!(valid_code(code), "{code}");
    }
    for code in ["", "SAVE 10", "SAVE10!", "ÄBC", &"Z".repeat(65)] {
        assert!(!valid_code(code), "{code}");
    }
}

#[test]
fn expiry_is_the_earlier_of_valid_days_and_the_end() {
    let now = at("2026-12-20T10:00:00Z");
    let mut offer = Offer::parse("x", &json!({"valid_days": 7})).unwrap();
    assert_eq!(offer.expiry(now), Some(at("2026-12-27T10:00:00Z")));
    offer.ends_at = Some(at("2026-12-25T00:00:00Z"));
    assert_eq!(offer.expiry(now), Some(at("2026-12-25T00:00:00Z")));
    offer.ends_at = Some(at("2027-06-01T00:00:00Z"));
    assert_eq!(offer.expiry(now), Some(at("2026-12-27T10:00:00Z")));
    offer.valid_days = None;
    assert_eq!(offer.expiry(now), Some(at("2027-06-01T00:00:00Z")));
    assert!(offer.is_open(now));
    assert!(
        !offer.is_open(at("2027-06-01T00:00:00Z")),
        "closed at the end"
    );
}

#[test]
fn coupons_as_templates_see_them_and_pools_running_low() {
    let offer = Offer::parse(
        "cart",
        &json!({"low_water": 10, "attributes": {"percent_off": 10, "code": "shadowed"}}),
    )
    .unwrap();
    let mut coupon = Coupon {
        offer: "cart".into(),
        code: "CART-ABC234".into(),
        profile: ProfileId(3),
        assigned_at: at("2026-01-01T00:00:00Z"),
        expires_at: Some(at("2026-01-08T00:00:00Z")),
        redeemed_at: None,
    };
    assert_eq!(
        coupon.to_json(&offer),
        json!({"code": "CART-ABC234", "expires_at": "2026-01-08T00:00:00Z",
               "redeemed": false, "percent_off": 10})
    );
    coupon.expires_at = None;
    coupon.redeemed_at = Some(at("2026-01-02T00:00:00Z"));
    let v = coupon.to_json(&offer);
    assert_eq!(
        (&v["expires_at"], &v["redeemed"]),
        (&Value::Null, &json!(true))
    );
    assert_eq!(serde_json::to_value(&coupon).unwrap()["profile"], 3);

    let counts = |available| OfferCounts {
        codes: 100,
        assigned: 95,
        redeemed: 3,
        available,
    };
    assert!(counts(Some(5)).running_low(&offer));
    assert!(!counts(Some(10)).running_low(&offer));
    assert!(!counts(None).running_low(&offer), "patterns never run out");
}
