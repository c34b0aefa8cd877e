//! Counts, sums and the other measures at their boundaries: exact window edges, 1 ms before and
//! after, future-stamped and late events, calendar windows at new years and leap days, filters.
//! Every step is also checked against the reference evaluator and the state's encoding (see
//! `engine_support::Sim`).

mod engine_support;

use engine_support::library::library;
use engine_support::*;
use herald_segments::ast::*;
use serde_json::json;

fn oc(ts: jiff::Timestamp) -> Msg {
    track("Order Completed", ts, json!({"revenue": 100}))
}

#[test]
fn count_in_last_days_is_half_open() {
    let mut sim = Sim::new(vec![def(
        "frequent",
        count(event("Order Completed"), last("90 days"), CmpOp::Ge, 3.0),
    )]);
    let t0 = at("2024-01-01T10:00:00Z");
    sim.observe(oc(t0), t0);
    sim.observe(oc(t0 + DAY), t0 + DAY);
    assert!(!sim.is("frequent"));
    sim.observe(oc(t0 + days(2)), t0 + days(2));
    assert!(sim.is("frequent"));
    // The oldest leaves at exactly t0 + 90 days: in at 1 ms before, out at the instant.
    assert_eq!(sim.deadline(), Some(t0 + days(90)));
    sim.advance(t0 + days(90) - MS);
    assert!(sim.is("frequent"));
    let changes = sim.advance(t0 + days(90));
    assert_eq!(changes.len(), 1);
    assert!(!changes[0].entered);
    assert_eq!(changes[0].at, t0 + days(90));
    // Two events remain but can never make three on their own: no more deadlines.
    assert_eq!(sim.deadline(), None);
}

#[test]
fn late_events_count_exactly_and_expired_ones_do_not() {
    let mut sim = Sim::new(vec![def(
        "frequent",
        count(event("Order Completed"), last("90 days"), CmpOp::Ge, 3.0),
    )]);
    let now = at("2024-06-01");
    sim.observe(oc(now), now);
    // Imported history, out of order: one too old to count, two inside the window.
    sim.observe(oc(now - days(90)), now + MS);
    assert!(!sim.is("frequent"));
    sim.observe(oc(now - days(10)), now + MS * 2);
    assert!(!sim.is("frequent"));
    let changes = sim.observe(oc(now - days(89)), now + MS * 3);
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].at,
        now + MS * 3,
        "caused by a message: at its arrival"
    );
    // It leaves when the event from 89 days ago does.
    assert_eq!(sim.deadline(), Some(now + DAY));
    sim.jump_to_deadline();
    assert!(!sim.is("frequent"));
}

#[test]
fn future_stamped_events_count_from_their_timestamp() {
    let mut sim = Sim::new(vec![def(
        "recent",
        count(event("Order Completed"), last("30 days"), CmpOp::Ge, 1.0),
    )]);
    let now = at("2024-03-01T12:00:00Z");
    sim.observe(oc(now + HOUR), now);
    assert!(!sim.is("recent"));
    assert_eq!(sim.deadline(), Some(now + HOUR));
    sim.advance(now + HOUR - MS);
    assert!(!sim.is("recent"));
    let (d, changes) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, now + HOUR);
    assert!(changes[0].entered);
    assert_eq!(sim.deadline(), Some(now + HOUR + days(30)));
}

#[test]
fn a_late_wake_reports_every_change_at_its_instant_in_order() {
    let mut sim = Sim::new(vec![
        def(
            "recent",
            count(event("Order Completed"), last("1 day"), CmpOp::Ge, 1.0),
        ),
        def("not_recent", not(in_segment("recent"))),
    ]);
    let now = at("2024-03-01");
    sim.observe(oc(now + HOUR), now);
    // Wake up two days later: entered at +1h, exited a day later, in order, dependents too.
    let changes = sim.advance(now + days(2));
    let seen: Vec<_> = changes
        .iter()
        .map(|c| {
            (
                sim.program.segments()[c.segment.index()].as_str(),
                c.entered,
                c.at,
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("recent", true, now + HOUR),
            ("not_recent", false, now + HOUR),
            ("recent", false, now + HOUR + DAY),
            ("not_recent", true, now + HOUR + DAY),
        ]
    );
}

#[test]
fn between_windows_shift_in_and_out() {
    let mut sim = Sim::new(vec![def(
        "q2",
        count(
            event("Order Completed"),
            between("180 days", "90 days"),
            CmpOp::Ge,
            1.0,
        ),
    )]);
    let t0 = at("2024-01-01");
    sim.observe(oc(t0), t0);
    assert!(!sim.is("q2"));
    // In from t0 + 90 days (the window is (now - 180d, now - 90d]) until t0 + 180 days.
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, t0 + days(90));
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, t0 + days(180));
    assert!(!sim.is("q2"));
}

#[test]
fn calendar_windows_move_at_the_new_year() {
    let mut sim = Sim::new(vec![def(
        "holiday",
        count(
            event("Order Completed"),
            Window::Calendar {
                years_ago: 1,
                from: MonthDay::parse("11-15").unwrap(),
                to: MonthDay::parse("12-31").unwrap(),
            },
            CmpOp::Ge,
            1.0,
        ),
    )]);
    let now = at("2024-12-31T23:59:59.999Z");
    sim.observe(oc(at("2024-11-15")), now);
    sim.observe(oc(at("2024-11-14T23:59:59.999Z")), now);
    assert!(!sim.is("holiday"), "this year's orders count next year");
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, at("2025-01-01"));
    assert!(sim.is("holiday"));
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, at("2026-01-01"));
    assert!(!sim.is("holiday"));
    assert_eq!(sim.deadline(), None);
}

#[test]
fn calendar_windows_on_leap_days() {
    let leap = || Window::Calendar {
        years_ago: 0,
        from: MonthDay::parse("02-29").unwrap(),
        to: MonthDay::parse("02-29").unwrap(),
    };
    let mut sim = Sim::new(vec![def(
        "leap",
        count(event("Order Completed"), leap(), CmpOp::Ge, 1.0),
    )]);
    sim.observe(oc(at("2024-02-29T12:00:00Z")), at("2024-02-29T12:00:00Z"));
    assert!(sim.is("leap"));
    // The window holds the event until the year ends.
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, at("2025-01-01"));
    // In a common year there is no 29 February: nothing on 28 February or 1 March counts.
    sim.observe(oc(at("2025-02-28T23:00:00Z")), at("2025-03-01T01:00:00Z"));
    sim.observe(oc(at("2025-03-01T00:00:00Z")), at("2025-03-01T01:00:00Z"));
    assert!(!sim.is("leap"));
}

#[test]
fn metrics_of_nothing_and_non_numeric_values() {
    use Measure::*;
    let p = || path("amount");
    let e = || event("Paid");
    let mut sim = Sim::new(vec![
        def(
            "sum_zero",
            metric(Sum(p()), e(), Window::Ever, CmpOp::Eq, 0.0),
        ),
        def(
            "avg_any",
            metric(Avg(p()), e(), Window::Ever, CmpOp::Ge, -1e300),
        ),
        def(
            "min_any",
            metric(Min(p()), e(), Window::Ever, CmpOp::Le, 1e300),
        ),
        def(
            "max_big",
            metric(Max(p()), e(), last("1 day"), CmpOp::Ge, 10.0),
        ),
        def(
            "distinct_2",
            metric(Distinct(path("tags[]")), e(), Window::Ever, CmpOp::Ge, 2.0),
        ),
        def("count_zero", count(e(), Window::Ever, CmpOp::Eq, 0.0)),
    ]);
    let t = at("2024-01-01");
    sim.advance(t);
    assert!(sim.is("sum_zero") && sim.is("count_zero"));
    assert!(
        !sim.is("avg_any") && !sim.is("min_any"),
        "avg/min of nothing are false"
    );
    sim.observe(
        track("Paid", t, json!({"amount": "12", "tags": ["a", "a"]})),
        t,
    );
    assert!(sim.is("sum_zero"), "a string is not a number");
    assert!(!sim.is("avg_any") && !sim.is("count_zero") && !sim.is("distinct_2"));
    sim.observe(
        track("Paid", t, json!({"amount": 12.5, "tags": ["b"]})),
        t + MS,
    );
    assert!(sim.is("avg_any") && sim.is("min_any") && sim.is("max_big") && sim.is("distinct_2"));
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, t + DAY);
    assert!(!sim.is("max_big"));
}

#[test]
fn sums_are_exact_whatever_the_order() {
    let mut sim = Sim::new(vec![def(
        "exactly",
        metric(
            Measure::Sum(path("v")),
            event("X"),
            last("7 days"),
            CmpOp::Eq,
            0.6,
        ),
    )]);
    let t = at("2024-01-01");
    for v in [0.3, 0.2, 0.1] {
        sim.observe(track("X", t, json!({ "v": v })), t);
    }
    assert!(sim.is("exactly"), "0.3 + 0.2 + 0.1 is 0.6, exactly");
}

#[test]
fn per_key_counts_each_key_separately() {
    let mut sim = Sim::new(vec![
        library()
            .into_iter()
            .find(|d| d.name.as_str() == "product_page_3x")
            .unwrap(),
    ]);
    let t = at("2024-01-01");
    for i in 0..3 {
        sim.observe(
            track("Product Viewed", t + MINUTE * i, json!({"product_id": "a"})),
            t + MINUTE * i,
        );
        sim.observe(
            track("Product Viewed", t + MINUTE * i, json!({"product_id": "b"})),
            t + MINUTE * i,
        );
    }
    assert!(!sim.is("product_page_3x"));
    sim.observe(
        track("Product Viewed", t, json!({"product_id": "b"})),
        t + HOUR,
    );
    assert!(sim.is("product_page_3x"));
    // The first of b's four views leaves at t + 7 days.
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, t + days(7));
}

#[test]
fn herald_own_events_are_invisible() {
    let mut sim = Sim::new(vec![def(
        "active",
        count(any_event(), last("1 day"), CmpOp::Ge, 1.0),
    )]);
    let t = at("2024-01-01");
    sim.observe(track("Segment Entered", t, json!({"segment": "x"})), t);
    sim.observe(track("Segment Exited", t, json!({"segment": "x"})), t);
    assert!(!sim.is("active"));
    assert!(!sim.program.depends_on_event(Some("Segment Entered")));
    sim.observe(page(t), t);
    assert!(sim.is("active"));
}

#[test]
fn filters_on_missing_properties() {
    let mut sim = Sim::new(vec![def(
        "not_welcome",
        count(
            event_where(
                "Email Opened",
                vec![filter("campaign_id", FilterOp::Ne, text("welcome"))],
            ),
            Window::Ever,
            CmpOp::Ge,
            1.0,
        ),
    )]);
    let t = at("2024-01-01");
    sim.observe(track("Email Opened", t, json!({})), t);
    assert!(
        !sim.is("not_welcome"),
        "a missing property is not `!= welcome`"
    );
    sim.observe(track("Email Opened", t, json!({"campaign_id": "news"})), t);
    assert!(sim.is("not_welcome"));
}

#[test]
fn at_least_and_loyal_customers() {
    let mut sim = Sim::new(vec![
        library()
            .into_iter()
            .find(|d| d.name.as_str() == "loyal_customers")
            .unwrap(),
    ]);
    let now = at("2024-12-01");
    for ago in [10, 100, 200] {
        sim.observe(oc(now - days(ago)), now);
    }
    assert!(sim.is("loyal_customers"));
    // The orders move through the quarters together; the oldest leaves the fourth quarter at
    // now + 160 days, when only two quarters hold an order.
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, now + days(160));
    assert!(!sim.is("loyal_customers"));
}

#[test]
fn distinct_over_ever_saturates_but_keeps_what_can_still_count() {
    let mut sim = Sim::new(vec![def(
        "many_tags",
        metric(
            Measure::Distinct(path("tag")),
            event("T"),
            Window::Ever,
            CmpOp::Gt,
            2.0,
        ),
    )]);
    let t = at("2024-01-01");
    for tag in ["a", "b", "a"] {
        sim.observe(track("T", t, json!({ "tag": tag })), t);
    }
    // A third value, stamped in the future, makes three when it is reached.
    sim.observe(track("T", t + HOUR, json!({"tag": "c"})), t + MS);
    assert!(!sim.is("many_tags"));
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, t + HOUR);
    // More values change nothing, and the state stays small.
    for tag in ["d", "e", "f", "g"] {
        sim.observe(track("T", t, json!({ "tag": tag })), t + HOUR);
    }
    assert!(sim.is("many_tags"));
    assert!(
        sim.state.encode().len() < 40,
        "{}",
        sim.state.encode().len()
    );
}
