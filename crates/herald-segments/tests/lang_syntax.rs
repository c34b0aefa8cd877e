//! One test per construct of the text form: the tree it parses to, and the canonical text the
//! printer gives back.

use herald_segments::ast::*;
use herald_segments::lang::{parse, parse_condition, print, print_condition};

fn c(text: &str) -> Condition {
    parse_condition(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Parses `text`, checks it prints as `canonical`, and that `canonical` parses to the same tree.
fn canon(text: &str, canonical: &str) -> Condition {
    let tree = c(text);
    assert_eq!(print_condition(&tree), canonical, "printing {text}");
    assert_eq!(c(canonical), tree, "re-parsing {canonical}");
    tree
}

fn p(s: &str) -> PropertyPath {
    PropertyPath::parse(s).unwrap()
}

fn days(amount: u32) -> Span {
    Span {
        amount,
        unit: Unit::Days,
    }
}

fn event(name: &str) -> EventSelector {
    EventSelector {
        event: Some(name.into()),
        filters: vec![],
    }
}

fn count(name: &str, window: Window, op: CmpOp, value: f64) -> Condition {
    Condition::Metric(Metric {
        measure: Measure::Count,
        events: event(name),
        window,
        compare: Comparison { op, value },
    })
}

fn filter(path: &str, op: FilterOp, value: Option<Literal>) -> Filter {
    Filter {
        path: p(path),
        op,
        value,
    }
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

#[test]
fn count_with_window_and_each_comparison() {
    let tree = canon(
        r#"count("Order Completed") in last 90 days >= 3"#,
        r#"count("Order Completed") in last 90 days >= 3"#,
    );
    assert_eq!(
        tree,
        count("Order Completed", Window::Last(days(90)), CmpOp::Ge, 3.0)
    );
    for (text, op) in [
        ("=", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        ("<", CmpOp::Lt),
        ("<=", CmpOp::Le),
        (">", CmpOp::Gt),
        (">=", CmpOp::Ge),
    ] {
        let src = format!(r#"count("E") {text} 2"#);
        assert_eq!(canon(&src, &src), count("E", Window::Ever, op, 2.0));
    }
}

#[test]
fn ever_is_the_default_window_and_is_not_printed() {
    let explicit = canon(r#"count("E") ever = 1"#, r#"count("E") = 1"#);
    assert_eq!(explicit, count("E", Window::Ever, CmpOp::Eq, 1.0));
}

#[test]
fn property_measures() {
    for (word, make) in [
        ("sum", Measure::Sum as fn(PropertyPath) -> Measure),
        ("avg", Measure::Avg),
        ("min", Measure::Min),
        ("max", Measure::Max),
        ("distinct", Measure::Distinct),
    ] {
        let text = format!(r#"{word}("Order Completed".revenue) in last 365 days >= 500"#);
        let tree = canon(&text, &text);
        assert_eq!(
            tree,
            Condition::Metric(Metric {
                measure: make(p("revenue")),
                events: event("Order Completed"),
                window: Window::Last(days(365)),
                compare: Comparison {
                    op: CmpOp::Ge,
                    value: 500.0
                },
            })
        );
    }
    // A property measure over any event, with a filter after the property.
    let tree = canon(
        r#"avg(any.total where currency = "USD") < 19.5"#,
        r#"avg(any.total where currency = "USD") < 19.5"#,
    );
    let Condition::Metric(m) = tree else { panic!() };
    assert_eq!(
        m.events,
        EventSelector {
            event: None,
            filters: vec![filter(
                "currency",
                FilterOp::Eq,
                Some(Literal::Text("USD".into()))
            )],
        }
    );
}

#[test]
fn filters_of_every_kind() {
    let tree = canon(
        r#"count("Email Link Clicked" where link_url contains "/shoes" and url starts with "https://" and a exists and b not exists and n != -2.5 and m in ["a", 3, true, []] and ok = false) >= 1"#,
        r#"count("Email Link Clicked" where link_url contains "/shoes" and url starts with "https://" and a exists and b not exists and n != -2.5 and m in ["a", 3, true, []] and ok = false) >= 1"#,
    );
    let Condition::Metric(m) = tree else { panic!() };
    assert_eq!(
        m.events.filters,
        vec![
            filter(
                "link_url",
                FilterOp::Contains,
                Some(Literal::Text("/shoes".into()))
            ),
            filter(
                "url",
                FilterOp::StartsWith,
                Some(Literal::Text("https://".into()))
            ),
            filter("a", FilterOp::Exists, None),
            filter("b", FilterOp::NotExists, None),
            filter("n", FilterOp::Ne, Some(Literal::Number(-2.5))),
            filter(
                "m",
                FilterOp::In,
                Some(Literal::List(vec![
                    Literal::Text("a".into()),
                    Literal::Number(3.0),
                    Literal::Bool(true),
                    Literal::List(vec![]),
                ]))
            ),
            filter("ok", FilterOp::Eq, Some(Literal::Bool(false))),
        ]
    );
    for (op, fop) in [
        ("<", FilterOp::Lt),
        ("<=", FilterOp::Le),
        (">", FilterOp::Gt),
        (">=", FilterOp::Ge),
        ("=", FilterOp::Eq),
    ] {
        let text = format!(r#"count("E" where x {op} 1e21) >= 1"#);
        let Condition::Metric(m) = canon(&text, &text) else {
            panic!()
        };
        assert_eq!(
            m.events.filters,
            vec![filter("x", fop, Some(Literal::Number(1e21)))]
        );
    }
}

#[test]
fn paths_with_arrays_and_back_quoted_keys() {
    let tree = canon(
        r#"count("Order Completed" where products[].category = "shoes" and `order id` exists and `in`.`a\`b` exists and address.city = "Oslo") >= 1"#,
        r#"count("Order Completed" where products[].category = "shoes" and `order id` exists and `in`.`a\`b` exists and address.city = "Oslo") >= 1"#,
    );
    let Condition::Metric(m) = tree else { panic!() };
    let paths: Vec<&PropertyPath> = m.events.filters.iter().map(|f| &f.path).collect();
    assert_eq!(
        paths,
        vec![
            &PropertyPath(vec![
                PathStep::Key("products".into()),
                PathStep::Each,
                PathStep::Key("category".into())
            ]),
            &PropertyPath(vec![PathStep::Key("order id".into())]),
            &PropertyPath(vec![
                PathStep::Key("in".into()),
                PathStep::Key("a`b".into())
            ]),
            &p("address.city"),
        ]
    );
    // Keywords are accepted bare where only a key can stand, and printed back-quoted.
    canon(
        r#"count("E" where in = 1) >= 1"#,
        r#"count("E" where `in` = 1) >= 1"#,
    );
}

#[test]
fn per_key() {
    let tree = canon(
        r#"count("Product Viewed") per product_id in last 7 days > 3"#,
        r#"count("Product Viewed") per product_id in last 7 days > 3"#,
    );
    assert_eq!(
        tree,
        Condition::PerKey(PerKey {
            measure: Measure::Count,
            events: event("Product Viewed"),
            key: p("product_id"),
            window: Window::Last(days(7)),
            compare: Comparison {
                op: CmpOp::Gt,
                value: 3.0
            },
        })
    );
    canon(
        r#"sum("A".price) per sku >= 10"#,
        r#"sum("A".price) per sku >= 10"#,
    );
}

#[test]
fn occurrences_and_time_points() {
    let occ = |which, events, time| {
        Condition::Occurrence(Occurrence {
            which,
            events,
            time,
        })
    };
    assert_eq!(
        canon(
            r#"first("Order Completed") before 365 days ago"#,
            r#"first("Order Completed") before 365 days ago"#
        ),
        occ(
            Which::First,
            event("Order Completed"),
            TimeTest::Before(TimePoint::Ago(days(365)))
        )
    );
    assert_eq!(
        canon(
            r#"last("Order Completed") after 2025-01-01"#,
            r#"last("Order Completed") after 2025-01-01"#
        ),
        occ(
            Which::Last,
            event("Order Completed"),
            TimeTest::After(TimePoint::At(ts("2025-01-01T00:00:00Z")))
        )
    );
    assert_eq!(
        canon("last(any) in last 30 days", "last(any) in last 30 days"),
        occ(
            Which::Last,
            EventSelector {
                event: None,
                filters: vec![]
            },
            TimeTest::Within(Window::Last(days(30)))
        )
    );
    assert_eq!(
        canon(r#"first("E") ever"#, r#"first("E") ever"#),
        occ(Which::First, event("E"), TimeTest::Within(Window::Ever))
    );
    assert_eq!(
        canon(r#"last("E") before now"#, r#"last("E") before now"#),
        occ(Which::Last, event("E"), TimeTest::Before(TimePoint::Now))
    );
    assert_eq!(
        canon(
            r#"last("E") before 2 weeks from now"#,
            r#"last("E") before 2 weeks from now"#
        ),
        occ(
            Which::Last,
            event("E"),
            TimeTest::Before(TimePoint::FromNow(Span {
                amount: 2,
                unit: Unit::Weeks
            }))
        )
    );
    // An instant with an offset is printed in UTC; midnight UTC is printed as a date.
    assert_eq!(
        canon(
            r#"last("E") after 2025-03-01T10:30:00+02:00"#,
            r#"last("E") after 2025-03-01T08:30:00Z"#
        ),
        occ(
            Which::Last,
            event("E"),
            TimeTest::After(TimePoint::At(ts("2025-03-01T08:30:00Z")))
        )
    );
    canon(
        r#"last("E") after 2025-03-01T00:00:00Z"#,
        r#"last("E") after 2025-03-01"#,
    );
    canon(
        r#"last("E" where x = 1) after 2025-03-01T00:00:00.5Z"#,
        r#"last("E" where x = 1) after 2025-03-01T00:00:00.5Z"#,
    );
}

#[test]
fn sequences() {
    let tree = canon(
        r#"latest "Product Added" in last 7 days older than 1 hour not followed by "Order Completed""#,
        r#"latest "Product Added" in last 7 days older than 1 hour not followed by "Order Completed""#,
    );
    assert_eq!(
        tree,
        Condition::Sequence(Sequence {
            pick: Pick::Latest,
            first: event("Product Added"),
            window: Window::Last(days(7)),
            older_than: Some(Span {
                amount: 1,
                unit: Unit::Hours
            }),
            followed: false,
            second: event("Order Completed"),
            same: None,
            within: None,
        })
    );
    let tree = canon(
        r#"any "Form Started" in last 7 days older than 30 minutes not followed by "Form Submitted" on form_id within 30 minutes"#,
        r#"any "Form Started" in last 7 days older than 30 minutes not followed by "Form Submitted" on form_id within 30 minutes"#,
    );
    let Condition::Sequence(s) = tree else {
        panic!()
    };
    assert_eq!((s.pick, s.followed), (Pick::Any, false));
    assert_eq!(s.same, Some(p("form_id")));
    assert_eq!(
        s.within,
        Some(Span {
            amount: 30,
            unit: Unit::Minutes
        })
    );

    // The positive form, with no window, filters in parentheses, and `any` events.
    let tree = canon(
        r#"latest ("Product Added" where price > 10) followed by (any where x exists) within 1 day"#,
        r#"latest ("Product Added" where price > 10) followed by (any where x exists) within 1 day"#,
    );
    let Condition::Sequence(s) = tree else {
        panic!()
    };
    assert!(s.followed);
    assert_eq!(s.window, Window::Ever);
    assert_eq!(
        s.first.filters,
        vec![filter("price", FilterOp::Gt, Some(Literal::Number(10.0)))]
    );
    assert_eq!(
        s.second,
        EventSelector {
            event: None,
            filters: vec![filter("x", FilterOp::Exists, None)]
        }
    );
    // Parentheses around an event without filters are allowed and dropped.
    canon(r#"any ("A") followed by any"#, r#"any "A" followed by any"#);
}

#[test]
fn traits() {
    let tr = |path: &str, test| {
        Condition::Trait(TraitCondition {
            path: p(path),
            test,
        })
    };
    let value = |op, v: Option<Literal>| TraitTest::Value { op, value: v };
    assert_eq!(
        canon(r#"trait plan = "trial""#, r#"trait plan = "trial""#),
        tr(
            "plan",
            value(FilterOp::Eq, Some(Literal::Text("trial".into())))
        )
    );
    assert_eq!(
        canon("trait email exists", "trait email exists"),
        tr("email", value(FilterOp::Exists, None))
    );
    assert_eq!(
        canon("trait email not exists", "trait email not exists"),
        tr("email", value(FilterOp::NotExists, None))
    );
    assert_eq!(
        canon("trait age >= 18", "trait age >= 18"),
        tr("age", value(FilterOp::Ge, Some(Literal::Number(18.0))))
    );
    assert_eq!(
        canon(r#"trait plan in ["a", "b"]"#, r#"trait plan in ["a", "b"]"#),
        tr(
            "plan",
            value(
                FilterOp::In,
                Some(Literal::List(vec![
                    Literal::Text("a".into()),
                    Literal::Text("b".into())
                ]))
            )
        )
    );
    assert_eq!(
        canon(
            "trait created_at before 30 days ago",
            "trait created_at before 30 days ago"
        ),
        tr(
            "created_at",
            TraitTest::Date(TimeTest::Before(TimePoint::Ago(days(30))))
        )
    );
    assert_eq!(
        canon(
            "trait created_at in last 30 days",
            "trait created_at in last 30 days"
        ),
        tr(
            "created_at",
            TraitTest::Date(TimeTest::Within(Window::Last(days(30))))
        )
    );
    assert_eq!(
        canon(
            "trait birthday anniversary within 7 days",
            "trait birthday anniversary within 7 days"
        ),
        tr("birthday", TraitTest::Anniversary { within: days(7) })
    );
    canon(
        r#"trait email contains "@example.com""#,
        r#"trait email contains "@example.com""#,
    );
    canon(
        r#"trait address.country starts with "N""#,
        r#"trait address.country starts with "N""#,
    );
}

#[test]
fn segment_membership() {
    let name = SegmentName::parse("frequent_buyers").unwrap();
    assert_eq!(
        canon("in segment frequent_buyers", "in segment frequent_buyers"),
        Condition::Segment { name }
    );
}

#[test]
fn windows() {
    let w = |text: &str| {
        let Condition::Metric(m) = canon(
            &format!(r#"count("E") {text} >= 1"#),
            &format!(r#"count("E") {text} >= 1"#),
        ) else {
            panic!()
        };
        m.window
    };
    assert_eq!(w("in last 90 days"), Window::Last(days(90)));
    assert_eq!(
        w("between 180 days ago and 90 days ago"),
        Window::Between {
            from: days(180),
            to: days(90)
        }
    );
    assert_eq!(
        w("since 2025-01-01"),
        Window::Since(ts("2025-01-01T00:00:00Z"))
    );
    assert_eq!(
        w("since 2025-01-01T09:30:00Z"),
        Window::Since(ts("2025-01-01T09:30:00Z"))
    );
    let md = |s: &str| MonthDay::parse(s).unwrap();
    assert_eq!(
        w("between 11-15 and 12-31 of last year"),
        Window::Calendar {
            years_ago: 1,
            from: md("11-15"),
            to: md("12-31")
        }
    );
    assert_eq!(
        w("between 01-01 and 03-31 of this year"),
        Window::Calendar {
            years_ago: 0,
            from: md("01-01"),
            to: md("03-31")
        }
    );
    assert_eq!(
        w("between 02-29 and 02-29 of 4 years ago"),
        Window::Calendar {
            years_ago: 4,
            from: md("02-29"),
            to: md("02-29")
        }
    );
    // Other spellings of the same windows print canonically.
    canon(
        r#"count("E") between 01-01 and 01-02 of 1 year ago >= 1"#,
        r#"count("E") between 01-01 and 01-02 of last year >= 1"#,
    );
    canon(
        r#"count("E") between 01-01 and 01-02 of 0 years ago >= 1"#,
        r#"count("E") between 01-01 and 01-02 of this year >= 1"#,
    );
}

#[test]
fn units_singular_and_plural() {
    for (text, canonical, span) in [
        (
            "1 minute",
            "1 minute",
            Span {
                amount: 1,
                unit: Unit::Minutes,
            },
        ),
        (
            "1 minutes",
            "1 minute",
            Span {
                amount: 1,
                unit: Unit::Minutes,
            },
        ),
        (
            "2 hour",
            "2 hours",
            Span {
                amount: 2,
                unit: Unit::Hours,
            },
        ),
        ("1 day", "1 day", days(1)),
        (
            "3 weeks",
            "3 weeks",
            Span {
                amount: 3,
                unit: Unit::Weeks,
            },
        ),
        ("0 days", "0 days", days(0)),
    ] {
        let Condition::Metric(m) = canon(
            &format!(r#"count("E") in last {text} >= 1"#),
            &format!(r#"count("E") in last {canonical} >= 1"#),
        ) else {
            panic!()
        };
        assert_eq!(m.window, Window::Last(span));
    }
}

#[test]
fn and_binds_tighter_than_or_and_not_binds_tightest() {
    let a = || count("A", Window::Ever, CmpOp::Ge, 1.0);
    let b = || count("B", Window::Ever, CmpOp::Ge, 1.0);
    let d = || count("D", Window::Ever, CmpOp::Ge, 1.0);
    let not = |c| Condition::Not {
        condition: Box::new(c),
    };
    assert_eq!(
        c(r#"count("A") >= 1 or count("B") >= 1 and count("D") >= 1"#),
        Condition::Any {
            of: vec![a(), Condition::All { of: vec![b(), d()] }]
        }
    );
    assert_eq!(
        c(r#"not count("A") >= 1 and count("B") >= 1"#),
        Condition::All {
            of: vec![not(a()), b()]
        }
    );
    // Chains are flat; parentheses keep nesting as written, and the printer keeps it too.
    assert_eq!(
        c(r#"count("A") >= 1 and count("B") >= 1 and count("D") >= 1"#),
        Condition::All {
            of: vec![a(), b(), d()]
        }
    );
    let nested = canon(
        r#"(count("A") >= 1 and count("B") >= 1) and count("D") >= 1"#,
        r#"(count("A") >= 1 and count("B") >= 1) and count("D") >= 1"#,
    );
    assert_eq!(
        nested,
        Condition::All {
            of: vec![Condition::All { of: vec![a(), b()] }, d()]
        }
    );
    canon(
        r#"count("A") >= 1 or count("B") >= 1 and count("D") >= 1"#,
        r#"count("A") >= 1 or (count("B") >= 1 and count("D") >= 1)"#,
    );
    canon(
        r#"not (count("A") >= 1 or count("B") >= 1)"#,
        r#"not (count("A") >= 1 or count("B") >= 1)"#,
    );
    canon(r#"not not count("A") >= 1"#, r#"not not count("A") >= 1"#);
    canon(r#"((count("A") >= 1))"#, r#"count("A") >= 1"#);
}

#[test]
fn lists_all_of_any_of_at_least() {
    let a = || count("A", Window::Ever, CmpOp::Ge, 1.0);
    let b = || count("B", Window::Ever, CmpOp::Ge, 1.0);
    assert_eq!(
        canon(
            r#"at least 1 of (count("A") >= 1, count("B") >= 1,)"#,
            r#"at least 1 of (count("A") >= 1, count("B") >= 1)"#
        ),
        Condition::AtLeast {
            n: 1,
            of: vec![a(), b()]
        }
    );
    // `all of` / `any of` print infix from two members on, and as lists below that.
    assert_eq!(
        canon(
            r#"all of (count("A") >= 1, count("B") >= 1)"#,
            r#"count("A") >= 1 and count("B") >= 1"#
        ),
        Condition::All { of: vec![a(), b()] }
    );
    assert_eq!(
        canon(r#"any of (count("A") >= 1)"#, r#"any of (count("A") >= 1)"#),
        Condition::Any { of: vec![a()] }
    );
    assert_eq!(
        canon("all of ()", "all of ()"),
        Condition::All { of: vec![] }
    );
    assert_eq!(
        canon("at least 0 of ()", "at least 0 of ()"),
        Condition::AtLeast { n: 0, of: vec![] }
    );
    // A list member may itself be an `or`.
    canon(
        r#"at least 1 of (count("A") >= 1 or count("B") >= 1, count("A") >= 1)"#,
        r#"at least 1 of (count("A") >= 1 or count("B") >= 1, count("A") >= 1)"#,
    );
}

#[test]
fn strings_escapes_comments_and_layout() {
    let text = "# leading comment\nsegment a \"Line one\\nwith \\\"quotes\\\" \\u{e9}\" # trailing comment\n\
                \n  count(\"Tab\\there\\\\\") # the measure\n  >= 1\n\nsegment b trait x exists";
    let defs = parse(text).unwrap();
    assert_eq!(defs.len(), 2);
    assert_eq!(
        defs[0].description.as_deref(),
        Some("Line one\nwith \"quotes\" é")
    );
    assert_eq!(
        defs[0].condition,
        count("Tab\there\\", Window::Ever, CmpOp::Ge, 1.0)
    );
    assert_eq!(defs[1].description, None);
    assert_eq!(
        print(&defs),
        "segment a \"Line one\\nwith \\\"quotes\\\" é\"\n  count(\"Tab\\there\\\\\") >= 1\n\n\
         segment b\n  trait x exists\n"
    );
}

#[test]
fn printer_splits_long_conditions_over_lines() {
    let text = r#"segment s
      count("Order Completed") in last 90 days >= 1 and (count("Product Viewed") in last 7 days >= 1 or trait plan = "trial")
      and at least 1 of (count("Order Completed" where products[].category = "shoes") in last 30 days >= 1, count("Email Opened" where campaign_id = "welcome") in last 30 days >= 1)"#;
    let defs = parse(text).unwrap();
    assert_eq!(
        print(&defs),
        r#"segment s
  count("Order Completed") in last 90 days >= 1
  and (count("Product Viewed") in last 7 days >= 1 or trait plan = "trial")
  and at least 1 of (
    count("Order Completed" where products[].category = "shoes") in last 30 days >= 1,
    count("Email Opened" where campaign_id = "welcome") in last 30 days >= 1
  )
"#
    );
}
