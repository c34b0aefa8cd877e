//! Occurrences, sequences and traits at their boundaries (strict `before`/`older than`, `within`
//! edges, last write by timestamp, anniversaries at UTC midnights, leap birthdays), and the
//! program as a whole: compile errors, explanations, corrupt states. Every step is also checked
//! against the reference evaluator and the state's encoding (see `engine_support::Sim`).

mod engine_support;

use engine_support::library::library;
use engine_support::*;
use herald_segments::ast::*;
use serde_json::json;

fn oc(ts: jiff::Timestamp) -> Msg {
    track("Order Completed", ts, json!({"revenue": 100}))
}

#[test]
fn first_occurrence_before_days_ago_is_strict() {
    let mut sim = Sim::new(vec![def(
        "long_term",
        Condition::Occurrence(Occurrence {
            which: Which::First,
            events: event("Order Completed"),
            time: TimeTest::Before(TimePoint::Ago(span("365 days"))),
        }),
    )]);
    let t0 = at("2023-03-01T08:00:00Z");
    sim.observe(oc(t0), t0);
    // first < now - 365d  <=>  now > t0 + 365d.
    assert_eq!(sim.deadline(), Some(t0 + days(365) + MS));
    sim.advance(t0 + days(365));
    assert!(!sim.is("long_term"));
    sim.jump_to_deadline();
    assert!(sim.is("long_term"));
    // A late, earlier first order changes nothing once true; none makes it false.
    sim.observe(oc(t0 - days(30)), t0 + days(400));
    assert!(sim.is("long_term"));
}

#[test]
fn last_occurrence_within_window_and_after_point() {
    let mut sim = Sim::new(vec![
        def(
            "seen_lately",
            Condition::Occurrence(Occurrence {
                which: Which::Last,
                events: any_event(),
                time: TimeTest::Within(last("2 days")),
            }),
        ),
        def(
            "after_noon",
            Condition::Occurrence(Occurrence {
                which: Which::Last,
                events: any_event(),
                time: TimeTest::After(TimePoint::At(at("2024-05-01T12:00:00Z"))),
            }),
        ),
    ]);
    sim.observe(page(at("2024-05-01T12:00:00Z")), at("2024-05-01T12:00:00Z"));
    assert!(sim.is("seen_lately"));
    assert!(!sim.is("after_noon"), "after is strict");
    sim.observe(page(at("2024-05-01T12:00:00.001Z")), at("2024-05-02"));
    assert!(sim.is("after_noon"));
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, at("2024-05-03T12:00:00.001Z"));
}

#[test]
fn cart_abandoners_latest_add_older_than_an_hour_not_followed() {
    let mut sim = Sim::new(vec![
        library()
            .into_iter()
            .find(|d| d.name.as_str() == "cart_abandoners")
            .unwrap(),
    ]);
    let t = at("2024-04-10T09:00:00Z");
    let add = |ts| track("Product Added", ts, json!({"cart_id": "c1"}));
    sim.observe(add(t), t);
    assert!(!sim.is("cart_abandoners"));
    // Older than 1 hour is strict: now - t > 1h.
    assert_eq!(sim.deadline(), Some(t + HOUR + MS));
    sim.jump_to_deadline();
    assert!(sim.is("cart_abandoners"));
    // An order stamped before the add does not follow it.
    sim.observe(oc(t - MINUTE), t + HOUR * 2);
    assert!(sim.is("cart_abandoners"));
    // An order at the same instant does.
    sim.observe(oc(t), t + HOUR * 3);
    assert!(!sim.is("cart_abandoners"));
    // A new add: the latest is not followed, but is young; then old enough.
    sim.observe(add(t + HOUR * 4), t + HOUR * 4);
    assert!(!sim.is("cart_abandoners"));
    sim.jump_to_deadline();
    assert!(sim.is("cart_abandoners"));
    // It leaves the 7-day window.
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, t + HOUR * 4 + days(7));
}

#[test]
fn form_abandoners_match_the_form_within_thirty_minutes() {
    let mut sim = Sim::new(vec![
        library()
            .into_iter()
            .find(|d| d.name.as_str() == "form_abandoners")
            .unwrap(),
    ]);
    let t = at("2024-04-10T09:00:00Z");
    let start = |ts, form| track("Form Started", ts, json!({ "form_id": form }));
    let submit = |ts, form| track("Form Submitted", ts, json!({ "form_id": form }));
    sim.observe(start(t, "a"), t);
    sim.observe(submit(t + MINUTE * 30, "b"), t + MINUTE * 30);
    assert!(!sim.is("form_abandoners"));
    sim.jump_to_deadline();
    assert!(
        sim.is("form_abandoners"),
        "another form's submission does not count"
    );
    // A submission exactly 30 minutes later, arriving late, follows it.
    sim.observe(submit(t + MINUTE * 30, "a"), t + HOUR * 2);
    assert!(!sim.is("form_abandoners"));
    // One 1 ms too late does not.
    sim.observe(start(t + HOUR * 3, "c"), t + HOUR * 3);
    sim.observe(
        submit(t + HOUR * 3 + MINUTE * 30 + MS, "c"),
        t + HOUR * 3 + MINUTE * 30 + MS,
    );
    assert!(sim.is("form_abandoners"));
    // A start without a form_id is never followed, even by a submission without one.
    sim.observe(submit(t + HOUR * 3, "c"), t + HOUR * 4);
    assert!(!sim.is("form_abandoners"));
    sim.observe(track("Form Started", t + HOUR * 4, json!({})), t + HOUR * 4);
    sim.observe(
        track("Form Submitted", t + HOUR * 4, json!({})),
        t + HOUR * 4,
    );
    sim.jump_to_deadline();
    assert!(sim.is("form_abandoners"));
}

#[test]
fn a_message_does_not_follow_itself() {
    let mut sim = Sim::new(vec![def(
        "lone_view",
        Condition::Sequence(Sequence {
            pick: Pick::Latest,
            first: event("View"),
            window: Window::Ever,
            older_than: None,
            followed: false,
            second: event("View"),
            same: None,
            within: None,
        }),
    )]);
    let t = at("2024-01-01");
    sim.observe(track("View", t, json!({})), t);
    assert!(sim.is("lone_view"));
    // Another view at the same instant: each is followed by the other.
    sim.observe(track("View", t, json!({})), t + MS);
    assert!(!sim.is("lone_view"));
}

#[test]
fn traits_last_write_by_timestamp_wins() {
    let trial = || {
        Condition::Trait(TraitCondition {
            path: path("plan"),
            test: TraitTest::Value {
                op: FilterOp::Eq,
                value: text("trial"),
            },
        })
    };
    let no_plan = Condition::Trait(TraitCondition {
        path: path("plan"),
        test: TraitTest::Value {
            op: FilterOp::NotExists,
            value: None,
        },
    });
    let not_trial = Condition::Trait(TraitCondition {
        path: path("plan"),
        test: TraitTest::Value {
            op: FilterOp::Ne,
            value: text("trial"),
        },
    });
    let mut sim = Sim::new(vec![
        def("trial", trial()),
        def("no_plan", no_plan),
        def("not_trial", not_trial),
    ]);
    let t = at("2024-01-01");
    sim.advance(t);
    assert!(
        sim.is("no_plan") && !sim.is("not_trial"),
        "missing only matches `not exists`"
    );
    sim.observe(identify(t, json!({"plan": "trial"})), t);
    assert!(sim.is("trial"));
    // An older identify arriving late loses; one not naming the plan leaves it.
    sim.observe(identify(t - DAY, json!({"plan": "pro"})), t + MS);
    sim.observe(identify(t + MS, json!({"email": "a@x"})), t + MS);
    assert!(sim.is("trial"));
    // Same instant: the later arrival wins.
    sim.observe(identify(t, json!({"plan": "pro"})), t + MS * 2);
    assert!(!sim.is("trial") && sim.is("not_trial"));
    // A future-stamped identify takes over when reached; null clears.
    sim.observe(identify(t + HOUR, json!({"plan": null})), t + MS * 3);
    assert!(sim.is("not_trial"));
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, t + HOUR);
    assert!(sim.is("no_plan") && !sim.is("not_trial"));
}

#[test]
fn birthdays_flip_at_utc_midnights_and_leap_birthdays_fall_on_feb_28() {
    let mut sim = Sim::new(vec![
        library()
            .into_iter()
            .find(|d| d.name.as_str() == "birthday_this_week")
            .unwrap(),
    ]);
    let t = at("2025-02-01T15:00:00Z");
    sim.observe(identify(t, json!({"birthday": "2000-02-29"})), t);
    assert!(!sim.is("birthday_this_week"));
    // 2025 is common: the birthday is 28 February, so it is within 7 days from 21 February.
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, at("2025-02-21"));
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, at("2025-03-01"));
    // In 2028 (leap) it is 29 February again.
    sim.advance(at("2028-02-21T23:59:59.999Z"));
    assert!(!sim.is("birthday_this_week"));
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, at("2028-02-22"));
    // A date that is not a date makes the test false.
    sim.observe(
        identify(t, json!({"birthday": "29/02/2000"})),
        at("2028-02-23"),
    );
    sim.observe(
        identify(at("2028-02-23"), json!({"birthday": "29/02/2000"})),
        at("2028-02-23"),
    );
    assert!(!sim.is("birthday_this_week"));
}

#[test]
fn trait_dates_before_and_within() {
    let created = |test| {
        Condition::Trait(TraitCondition {
            path: path("created_at"),
            test: TraitTest::Date(test),
        })
    };
    let mut sim = Sim::new(vec![
        def(
            "old_account",
            created(TimeTest::Before(TimePoint::Ago(span("30 days")))),
        ),
        def("new_account", created(TimeTest::Within(last("30 days")))),
    ]);
    let t = at("2024-01-01T06:00:00Z");
    sim.observe(identify(t, json!({"created_at": "2024-01-01"})), t);
    assert!(sim.is("new_account") && !sim.is("old_account"));
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, at("2024-01-31"));
    assert!(!sim.is("new_account"));
    let (d, _) = sim.jump_to_deadline().unwrap();
    assert_eq!(d, at("2024-01-31") + MS);
    assert!(sim.is("old_account"));
}

#[test]
fn compile_errors_name_what_is_wrong() {
    use herald_segments::engine::{CompileError, Program};
    let seg = |name: &str, c| def(name, c);
    let dup = Program::compile(&[seg("a", all(vec![])), seg("a", all(vec![]))]).unwrap_err();
    assert_eq!(dup, CompileError::Duplicate("a".into()));
    let unknown = Program::compile(&[
        seg("lapsed", in_segment("frequent_buyer")),
        seg("frequent_buyers", all(vec![])),
    ])
    .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "segment `lapsed` uses `in segment frequent_buyer`, but no segment is named \
         `frequent_buyer`, did you mean `frequent_buyers`?"
    );
    let cycle = Program::compile(&[
        seg("a", in_segment("b")),
        seg("b", all(vec![in_segment("c")])),
        seg("c", not(in_segment("a"))),
    ])
    .unwrap_err();
    assert_eq!(
        cycle,
        CompileError::Cycle(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert!(cycle.to_string().contains("a -> b -> c -> a"));
    let bad = Program::compile(&[seg(
        "x",
        count(
            event_where(
                "E",
                vec![filter("n", FilterOp::Gt, Some(Literal::Bool(true)))],
            ),
            Window::Ever,
            CmpOp::Ge,
            1.0,
        ),
    )])
    .unwrap_err();
    assert!(
        bad.to_string()
            .starts_with("segment `x`: in the filter on `n`"),
        "{bad}"
    );
}

#[test]
fn the_whole_library_compiles_and_shares_state() {
    use herald_segments::engine::Program;
    let program = Program::compile(&library()).unwrap();
    assert_eq!(program.segments().len(), 25);
    assert!(program.depends_on_event(Some("Order Completed")));
    // `count(any)` (churn_risk) makes every message matter.
    assert!(program.depends_on_event(Some("Something Else")));
    let shipped = herald_segments::library::library();
    assert!(Program::compile(&shipped).is_ok());
}

#[test]
fn depends_on_event_skips_irrelevant_events() {
    use herald_segments::engine::Program;
    let program = Program::compile(&[def(
        "buyers",
        count(event("Order Completed"), Window::Ever, CmpOp::Ge, 1.0),
    )])
    .unwrap();
    assert!(program.depends_on_event(Some("Order Completed")));
    assert!(!program.depends_on_event(Some("Product Viewed")));
    assert!(!program.depends_on_event(None));
}

#[test]
fn explanations_show_values_thresholds_and_times() {
    use herald_segments::engine::{Node, Program};
    let program = Program::compile(&library()).unwrap();
    let t = at("2024-05-01");
    let msgs = [
        oc(t - days(1)),
        oc(t - days(2)),
        oc(t - days(100)),
        identify(t, json!({"plan": "trial"})),
    ];
    let history: Vec<_> = msgs.iter().map(Msg::input).collect();
    let seg = program.index_of("lapsed_buyers").unwrap();
    let e = program.explain(seg, &history, t);
    assert!(!e.member);
    let Node::All { of, .. } = &e.condition else {
        panic!("{e:?}")
    };
    let Node::Metric {
        value,
        events,
        holds,
        ..
    } = &of[1]
    else {
        panic!("{e:?}")
    };
    assert_eq!((*value, *events, *holds), (Some(2.0), 2, false));
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["condition"]["of"][0]["value"], json!(3.0));
    assert_eq!(
        json["condition"]["of"][1]["recent"][0],
        json!("2024-04-30T00:00:00Z")
    );
    let trial = program.explain(program.index_of("trial_users").unwrap(), &history, t);
    assert!(trial.member);
    assert_eq!(
        serde_json::to_value(&trial).unwrap()["condition"]["value"],
        json!("trial")
    );
}

#[test]
fn corrupt_state_is_an_error_not_a_panic() {
    use herald_segments::engine::ProfileState;
    assert!(ProfileState::decode(&[]).is_err());
    assert!(ProfileState::decode(&[9]).is_err());
    let mut sim = Sim::new(library());
    let t = at("2024-05-01");
    sim.observe(oc(t), t);
    let bytes = sim.state.encode();
    for cut in 0..bytes.len() {
        let _ = ProfileState::decode(&bytes[..cut]);
    }
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x5a;
        if let Ok(state) = ProfileState::decode(&flipped) {
            // A garbled state may be wrong but must not crash the engine.
            let mut state = state;
            let _ = sim
                .program
                .observe(&mut state, &oc(t + DAY).input(), t + DAY);
            let _ = sim.program.next_deadline(&state, t + DAY);
        }
    }
}
