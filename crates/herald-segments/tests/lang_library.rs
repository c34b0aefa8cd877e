//! The segment library: it parses, round-trips through text and JSON, and holds exactly the
//! segments that external checks rely on, with the meanings they rely on.

use herald_segments::ast::*;
use herald_segments::lang::{from_json, parse, parse_condition, print, to_json};
use herald_segments::library::{LIBRARY, library};

const NAMES: &[&str] = &[
    "frequent_buyers",
    "one_time_buyers",
    "high_value_buyers",
    "lapsed_buyers",
    "recent_buyers",
    "product_viewers",
    "product_page_3x",
    "cart_abandoners",
    "form_abandoners",
    "active_engagers",
    "passive_engagers",
    "inactive_subscribers",
    "ctr_shoes",
    "welcome_opened_not_clicked",
    "ebook_downloaders",
    "new_subscribers",
    "trial_users",
    "long_term_customers",
    "churn_risk",
    "light_users",
    "mid_users",
    "heavy_users",
    "loyal_customers",
    "birthday_this_week",
    "holiday_shoppers",
];

fn get(name: &str) -> Definition {
    library()
        .into_iter()
        .find(|d| d.name.as_str() == name)
        .unwrap_or_else(|| panic!("{name} missing"))
}

fn cond(text: &str) -> Condition {
    parse_condition(text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn has_exactly_the_documented_names_each_with_a_description() {
    let defs = library();
    let mut names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    let mut expected = NAMES.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for d in &defs {
        let desc = d.description.as_deref().unwrap_or_default();
        assert!(
            !desc.is_empty() && !desc.contains('\n'),
            "{} needs a one-line description",
            d.name
        );
    }
}

#[test]
fn round_trips_through_text_and_json() {
    let defs = parse(LIBRARY).unwrap();
    let text = print(&defs);
    assert_eq!(parse(&text).unwrap(), defs, "{text}");
    assert_eq!(
        print(&parse(&text).unwrap()),
        text,
        "the printer is canonical"
    );
    assert_eq!(from_json(&to_json(&defs)).unwrap(), defs);
}

#[test]
fn metric_segments_mean_what_the_table_says() {
    let cases = [
        (
            "frequent_buyers",
            r#"count("Order Completed") in last 90 days >= 3"#,
        ),
        ("one_time_buyers", r#"count("Order Completed") ever = 1"#),
        (
            "high_value_buyers",
            r#"sum("Order Completed".revenue) in last 365 days >= 500"#,
        ),
        (
            "lapsed_buyers",
            r#"count("Order Completed") >= 1 and count("Order Completed") in last 90 days = 0"#,
        ),
        (
            "recent_buyers",
            r#"count("Order Completed") in last 30 days >= 1"#,
        ),
        (
            "product_viewers",
            r#"count("Product Viewed") in last 7 days >= 1 and count("Order Completed") in last 7 days = 0"#,
        ),
        (
            "product_page_3x",
            r#"count("Product Viewed") per product_id in last 7 days > 3"#,
        ),
        (
            "active_engagers",
            r#"count("Email Link Clicked") in last 30 days >= 1"#,
        ),
        (
            "passive_engagers",
            r#"count("Email Opened") in last 30 days >= 1 and count("Email Link Clicked") in last 30 days = 0"#,
        ),
        (
            "inactive_subscribers",
            r#"count("Email Delivered") in last 60 days >= 1 and count("Email Opened") in last 60 days = 0"#,
        ),
        (
            "ctr_shoes",
            r#"count("Email Link Clicked" where link_url contains "/shoes") in last 30 days >= 1"#,
        ),
        (
            "welcome_opened_not_clicked",
            r#"count("Email Opened" where campaign_id = "welcome") >= 1
               and count("Email Link Clicked" where campaign_id = "welcome") = 0"#,
        ),
        (
            "ebook_downloaders",
            r#"count("File Downloaded" where category = "ebook") in last 30 days >= 1"#,
        ),
        (
            "new_subscribers",
            r#"count("Signed Up") in last 14 days >= 1"#,
        ),
        ("trial_users", r#"trait plan = "trial""#),
        (
            "long_term_customers",
            r#"first("Order Completed") before 365 days ago and count("Order Completed") >= 4"#,
        ),
        (
            "churn_risk",
            r#"count("Order Completed") >= 2 and count(any) in last 45 days = 0"#,
        ),
        (
            "light_users",
            r#"count("Feature Used") in last 30 days >= 1 and count("Feature Used") in last 30 days <= 4"#,
        ),
        (
            "mid_users",
            r#"count("Feature Used") in last 30 days >= 5 and count("Feature Used") in last 30 days <= 19"#,
        ),
        (
            "heavy_users",
            r#"count("Feature Used") in last 30 days >= 20"#,
        ),
        (
            "birthday_this_week",
            "trait birthday anniversary within 7 days",
        ),
        (
            "holiday_shoppers",
            r#"count("Order Completed") between 11-15 and 12-31 of last year >= 1"#,
        ),
    ];
    for (name, text) in cases {
        assert_eq!(get(name).condition, cond(text), "{name}");
    }
}

#[test]
fn loyal_customers_counts_four_consecutive_quarters() {
    let Condition::AtLeast { n: 3, of } = get("loyal_customers").condition else {
        panic!("loyal_customers is `at least 3 of (...)`");
    };
    let days = |amount| Span {
        amount,
        unit: Unit::Days,
    };
    let windows: Vec<Window> = of
        .iter()
        .map(|c| match c {
            Condition::Metric(m) => {
                assert_eq!(m.events.event.as_deref(), Some("Order Completed"));
                assert_eq!(
                    m.compare,
                    Comparison {
                        op: CmpOp::Ge,
                        value: 1.0
                    }
                );
                m.window.clone()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        windows,
        vec![
            Window::Last(days(90)),
            Window::Between {
                from: days(180),
                to: days(90)
            },
            Window::Between {
                from: days(270),
                to: days(180)
            },
            Window::Between {
                from: days(360),
                to: days(270)
            },
        ]
    );
}

#[test]
fn sequences_mean_what_the_table_says() {
    let Condition::Sequence(cart) = get("cart_abandoners").condition else {
        panic!()
    };
    assert_eq!(cart.pick, Pick::Latest);
    assert_eq!(cart.first.event.as_deref(), Some("Product Added"));
    assert_eq!(
        cart.window,
        Window::Last(Span {
            amount: 7,
            unit: Unit::Days
        })
    );
    assert_eq!(
        cart.older_than,
        Some(Span {
            amount: 1,
            unit: Unit::Hours
        })
    );
    assert!(!cart.followed);
    assert_eq!(cart.second.event.as_deref(), Some("Order Completed"));
    assert_eq!((cart.same, cart.within), (None, None));

    let Condition::Sequence(form) = get("form_abandoners").condition else {
        panic!()
    };
    assert_eq!(form.pick, Pick::Any);
    assert_eq!(form.first.event.as_deref(), Some("Form Started"));
    assert_eq!(
        form.window,
        Window::Last(Span {
            amount: 7,
            unit: Unit::Days
        })
    );
    assert_eq!(
        form.older_than,
        Some(Span {
            amount: 30,
            unit: Unit::Minutes
        })
    );
    assert!(!form.followed);
    assert_eq!(form.second.event.as_deref(), Some("Form Submitted"));
    assert_eq!(form.same, Some(PropertyPath::parse("form_id").unwrap()));
    assert_eq!(
        form.within,
        Some(Span {
            amount: 30,
            unit: Unit::Minutes
        })
    );
}
