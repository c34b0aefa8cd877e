//! Property tests: on random histories (random timestamps, late and future-stamped messages,
//! random arrival order) and random definitions covering every condition kind, the incremental
//! engine equals the from-scratch reference at every arrival, at every deadline, and at random
//! instants in between; nothing changes before a deadline and something changes at it; every
//! reported change happened exactly at its instant; and the state survives encode/decode.

mod engine_support;

use engine_support::library::library;
use engine_support::*;
use herald_segments::ast::*;
use herald_segments::engine::{ProfileState, Program};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

// --- Random definitions --------------------------------------------------------------------

fn bases() -> Vec<Timestamp> {
    [
        "2024-02-26T00:00:00Z",
        "2023-12-28T00:00:00Z",
        "2024-12-30T12:00:00Z",
    ]
    .iter()
    .map(|s| at(s))
    .collect()
}

/// Fixed instants near every base, for `since` windows and `at` time points.
fn points() -> Vec<Timestamp> {
    let mut out = Vec::new();
    for b in bases() {
        for d in [-30, -3, -1, 0, 1, 3, 30] {
            out.push(b + days(d));
        }
    }
    out
}

fn arb_span() -> impl Strategy<Value = Span> {
    select(vec![
        "0 minutes",
        "1 minute",
        "30 minutes",
        "1 hour",
        "1 day",
        "2 days",
        "7 days",
        "30 days",
        "1 week",
    ])
    .prop_map(span)
}

fn arb_md() -> impl Strategy<Value = MonthDay> {
    select(vec![
        "01-01", "01-31", "02-28", "02-29", "03-01", "11-15", "12-01", "12-31",
    ])
    .prop_map(|s| MonthDay::parse(s).unwrap())
}

fn arb_window() -> impl Strategy<Value = Window> {
    prop_oneof![
        2 => Just(Window::Ever),
        4 => arb_span().prop_map(Window::Last),
        2 => (arb_span(), arb_span()).prop_map(|(from, to)| Window::Between { from, to }),
        1 => select(points()).prop_map(Window::Since),
        1 => (0u32..3, arb_md(), arb_md()).prop_map(|(years_ago, from, to)| Window::Calendar {
            years_ago,
            from,
            to
        }),
    ]
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    let num = |x: f64| Some(Literal::Number(x));
    prop_oneof![
        (
            select(vec![
                FilterOp::Gt,
                FilterOp::Ge,
                FilterOp::Lt,
                FilterOp::Le,
                FilterOp::Eq,
                FilterOp::Ne
            ]),
            select(vec![0.0, 1.0, 2.0, 2.5])
        )
            .prop_map(move |(op, x)| filter("p", op, num(x))),
        (
            select(vec![
                FilterOp::Eq,
                FilterOp::Ne,
                FilterOp::StartsWith,
                FilterOp::Contains
            ]),
            select(vec!["x", "y"])
        )
            .prop_map(|(op, s)| filter("k", op, text(s))),
        select(vec![FilterOp::Exists, FilterOp::NotExists]).prop_map(|op| filter("k", op, None)),
        Just(filter(
            "k",
            FilterOp::In,
            Some(Literal::List(vec![
                Literal::Text("x".into()),
                Literal::Number(1.0)
            ]))
        )),
        Just(filter("tags[]", FilterOp::Eq, text("x"))),
        Just(filter("tags", FilterOp::Contains, text("y"))),
        Just(filter("o.v", FilterOp::Ge, num(1.0))),
    ]
}

fn arb_selector() -> impl Strategy<Value = EventSelector> {
    (
        prop_oneof![1 => Just(None), 4 => select(vec!["A", "B", "C"]).prop_map(|e| Some(e.to_owned()))],
        prop::collection::vec(arb_filter(), 0..=2),
    )
        .prop_map(|(event, filters)| EventSelector { event, filters })
}

fn arb_measure() -> impl Strategy<Value = Measure> {
    prop_oneof![
        6 => Just(Measure::Count),
        1 => Just(Measure::Sum(path("p"))),
        1 => Just(Measure::Avg(path("p"))),
        1 => Just(Measure::Min(path("p"))),
        1 => Just(Measure::Max(path("p"))),
        1 => Just(Measure::Distinct(path("k"))),
        1 => Just(Measure::Distinct(path("tags[]"))),
    ]
}

fn arb_compare() -> impl Strategy<Value = Comparison> {
    (
        select(vec![
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Ge,
        ]),
        select(vec![0.0, 1.0, 2.0, 3.0, 0.5, 2.5, -1.0, 4.0]),
    )
        .prop_map(|(op, value)| Comparison { op, value })
}

fn arb_time_point() -> impl Strategy<Value = TimePoint> {
    prop_oneof![
        Just(TimePoint::Now),
        arb_span().prop_map(TimePoint::Ago),
        arb_span().prop_map(TimePoint::FromNow),
        select(points()).prop_map(TimePoint::At),
    ]
}

fn arb_time_test() -> impl Strategy<Value = TimeTest> {
    prop_oneof![
        arb_time_point().prop_map(TimeTest::Before),
        arb_time_point().prop_map(TimeTest::After),
        arb_window().prop_map(TimeTest::Within),
    ]
}

fn arb_trait() -> impl Strategy<Value = TraitCondition> {
    let value = |p: &str, op, lit| TraitCondition {
        path: path(p),
        test: TraitTest::Value { op, value: lit },
    };
    prop_oneof![
        (
            select(vec![FilterOp::Eq, FilterOp::Ne]),
            select(vec!["trial", "pro"])
        )
            .prop_map(move |(op, s)| value("plan", op, text(s))),
        select(vec![FilterOp::Exists, FilterOp::NotExists])
            .prop_map(move |op| value("plan", op, None)),
        select(vec![FilterOp::Ge, FilterOp::Lt]).prop_map(move |op| value(
            "age",
            op,
            Some(Literal::Number(18.0))
        )),
        arb_time_test().prop_map(|t| TraitCondition {
            path: path("bday"),
            test: TraitTest::Date(t)
        }),
        select(vec![
            "0 days", "1 day", "7 days", "1 hour", "30 days", "52 weeks", "365 days"
        ])
        .prop_map(|s| {
            TraitCondition {
                path: path("bday"),
                test: TraitTest::Anniversary { within: span(s) },
            }
        }),
    ]
}

fn arb_leaf() -> impl Strategy<Value = Condition> {
    prop_oneof![
        4 => (arb_measure(), arb_selector(), arb_window(), arb_compare()).prop_map(|(measure, events, window, compare)| {
            Condition::Metric(Metric { measure, events, window, compare })
        }),
        1 => (arb_measure(), arb_selector(), select(vec!["k", "tags[]"]), arb_window(), arb_compare()).prop_map(
            |(measure, events, key, window, compare)| Condition::PerKey(PerKey {
                measure,
                events,
                key: path(key),
                window,
                compare
            })
        ),
        2 => (select(vec![Which::First, Which::Last]), arb_selector(), arb_time_test())
            .prop_map(|(which, events, time)| Condition::Occurrence(Occurrence { which, events, time })),
        2 => (
            select(vec![Pick::Latest, Pick::Any]),
            arb_selector(),
            arb_window(),
            prop::option::of(arb_span()),
            any::<bool>(),
            arb_selector(),
            prop::option::of(Just(path("k"))),
            prop::option::of(arb_span()),
        )
            .prop_map(|(pick, first, window, older_than, followed, second, same, within)| {
                Condition::Sequence(Sequence { pick, first, window, older_than, followed, second, same, within })
            }),
        2 => arb_trait().prop_map(Condition::Trait),
        1 => Just(in_segment("s0")),
    ]
}

fn arb_condition() -> impl Strategy<Value = Condition> {
    arb_leaf().prop_recursive(2, 10, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..=3).prop_map(|of| Condition::All { of }),
            prop::collection::vec(inner.clone(), 1..=3).prop_map(|of| Condition::Any { of }),
            inner.clone().prop_map(not),
            (0u32..=3, prop::collection::vec(inner, 1..=4))
                .prop_map(|(n, of)| Condition::AtLeast { n, of }),
        ]
    })
}

/// Points `in segment` placeholders of segment `i` at earlier segments (acyclic by construction).
fn fix_refs(c: &mut Condition, i: usize, salt: &mut usize) {
    match c {
        Condition::All { of } | Condition::Any { of } | Condition::AtLeast { of, .. } => {
            of.iter_mut().for_each(|c| fix_refs(c, i, salt));
        }
        Condition::Not { condition } => fix_refs(condition, i, salt),
        Condition::Segment { name } if i == 0 => {
            let _ = name;
            *c = count(any_event(), Window::Ever, CmpOp::Ge, 1.0);
        }
        Condition::Segment { name } => {
            *salt += 1;
            *name = SegmentName::parse(&format!("s{}", *salt % i)).unwrap();
        }
        _ => {}
    }
}

fn arb_definitions() -> impl Strategy<Value = Vec<Definition>> {
    prop::collection::vec(arb_condition(), 1..=4).prop_map(|conds| {
        let mut salt = 0;
        conds
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                fix_refs(&mut c, i, &mut salt);
                def(&format!("s{i}"), c)
            })
            .collect()
    })
}

// --- Random histories ----------------------------------------------------------------------

/// A message and when it arrives: `gap` after the previous arrival, stamped `skew` from it.
#[derive(Clone, Debug)]
struct Arrival {
    gap: i64,
    skew: i64,
    probe: f64,
    msg: Msg,
}

fn ms_of(s: &str) -> i64 {
    let (n, unit) = s.split_once(' ').unwrap();
    let n: i64 = n.parse().unwrap();
    n * match unit {
        "ms" => 1,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => unreachable!(),
    }
}

fn arb_gap() -> impl Strategy<Value = i64> {
    select(vec![
        "0 ms", "1 ms", "1 min", "30 min", "59 min", "1 h", "1 d", "2 d", "7 d", "30 d", "100 d",
    ])
    .prop_map(ms_of)
    .prop_flat_map(|g| prop_oneof![4 => Just(g), 1 => Just((g - 1).max(0))])
}

fn arb_skew() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => Just(0),
        4 => select(vec!["-1 ms", "-1 h", "-1 d", "-7 d", "-30 d", "-400 d", "1 ms", "1 h", "1 d", "7 d"]).prop_map(ms_of),
    ]
}

fn arb_props() -> impl Strategy<Value = Value> {
    (
        prop::option::of(select(vec![
            json!(0),
            json!(1),
            json!(2),
            json!(2.5),
            json!(-1),
            json!("2"),
            json!(0.1),
        ])),
        prop::option::of(select(vec![
            json!("x"),
            json!("y"),
            json!("xy"),
            json!(1),
            json!(null),
        ])),
        prop::option::of(select(vec![
            json!([]),
            json!(["x"]),
            json!(["x", "y"]),
            json!(["y", "y"]),
        ])),
        prop::option::of(select(vec![json!({"v": 0}), json!({"v": 1.5})])),
    )
        .prop_map(|(p, k, tags, o)| {
            let mut m = serde_json::Map::new();
            for (key, v) in [("p", p), ("k", k), ("tags", tags), ("o", o)] {
                if let Some(v) = v {
                    m.insert(key.into(), v);
                }
            }
            Value::Object(m)
        })
}

fn arb_traits() -> impl Strategy<Value = Value> {
    (
        prop::option::of(select(vec![json!("trial"), json!("pro"), json!(null)])),
        prop::option::of(select(vec![json!(17), json!(18), json!(30), json!("18")])),
        prop::option::of(select(vec![
            json!("2000-02-29"),
            json!("1990-03-01"),
            json!("1985-12-31T23:30:00Z"),
            json!("1999-01-02"),
            json!("1970-02-27"),
            json!("bad"),
            json!(5),
        ])),
    )
        .prop_map(|(plan, age, bday)| {
            let mut m = serde_json::Map::new();
            for (key, v) in [("plan", plan), ("age", age), ("bday", bday)] {
                if let Some(v) = v {
                    m.insert(key.into(), v);
                }
            }
            Value::Object(m)
        })
}

fn arb_msg() -> impl Strategy<Value = Msg> {
    let epoch = Timestamp::UNIX_EPOCH; // replaced by the arrival time
    prop_oneof![
        6 => (select(vec!["A", "B", "C"]), arb_props()).prop_map(move |(e, p)| track(e, epoch, p)),
        1 => Just(page(epoch)),
        2 => arb_traits().prop_map(move |t| identify(epoch, t)),
        1 => Just(track("Segment Entered", epoch, json!({"p": 1}))),
    ]
}

fn arb_arrivals(msg: impl Strategy<Value = Msg>, n: usize) -> impl Strategy<Value = Vec<Arrival>> {
    prop::collection::vec(
        (arb_gap(), arb_skew(), 0.0..1.0f64, msg).prop_map(|(gap, skew, probe, msg)| Arrival {
            gap,
            skew,
            probe,
            msg,
        }),
        1..=n,
    )
}

// --- Simulation ----------------------------------------------------------------------------

fn ms(n: i64) -> jiff::SignedDuration {
    jiff::SignedDuration::from_millis(n)
}

/// Moves time forward to `until`, visiting every deadline before it (and a random instant).
fn pass_time(sim: &mut Sim, until: Timestamp, probe: f64) {
    for _ in 0..40 {
        match sim.deadline() {
            Some(d) if d <= until => {
                sim.jump_to_deadline();
            }
            _ => break,
        }
    }
    let now = sim.now.unwrap();
    if until > now {
        let span = until.duration_since(now).as_millis() as f64;
        let probe_at = now + ms((span * probe) as i64);
        if probe_at > now && probe_at < until {
            sim.advance(probe_at);
        }
    }
}

fn simulate(
    defs: Vec<Definition>,
    base: Timestamp,
    arrivals: Vec<Arrival>,
    shadow: Option<&Program>,
) {
    let mut sim = Sim::new(defs);
    let mut now = base;
    sim.advance(now);
    for a in arrivals {
        let next = now + ms(a.gap);
        pass_time(&mut sim, next, a.probe);
        now = next;
        let mut msg = a.msg;
        msg.ts = now + ms(a.skew);
        sim.observe(msg, now);
        if let Some(shadow) = shadow {
            same_meaning(&sim, shadow, now);
        }
    }
    // Let the profile age: windows empty, future events arrive, anniversaries come round.
    for _ in 0..30 {
        if sim.jump_to_deadline().is_none() {
            break;
        }
    }
}

/// The shipped library (text form) means what the contract says (syntax trees).
fn same_meaning(sim: &Sim, shipped: &Program, now: Timestamp) {
    let inputs: Vec<_> = sim.history.iter().map(Msg::input).collect();
    let theirs = shipped.evaluate_at(&inputs, now);
    for (i, name) in sim.program.segments().iter().enumerate() {
        let j = shipped
            .index_of(name.as_str())
            .expect("the shipped library has every segment");
        assert_eq!(
            theirs[j.index()],
            sim.members()[i],
            "library segment {name} at {now}"
        );
    }
}

/// `ENGINE_CASES=100000 cargo test --release --test engine_props` for a long hunt.
fn cases(default: u32) -> u32 {
    std::env::var("ENGINE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(400), ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_reference_on_random_definitions(
        defs in arb_definitions(),
        base in select(bases()),
        arrivals in arb_arrivals(arb_msg(), 14),
    ) {
        simulate(defs, base, arrivals, None);
    }
}

// --- The library ---------------------------------------------------------------------------

fn arb_library_msg() -> impl Strategy<Value = Msg> {
    let epoch = Timestamp::UNIX_EPOCH;
    let names = vec![
        "Order Completed",
        "Order Completed",
        "Product Viewed",
        "Product Added",
        "Form Started",
        "Form Submitted",
        "Email Link Clicked",
        "Email Opened",
        "Email Delivered",
        "File Downloaded",
        "Signed Up",
        "Feature Used",
        "Feature Used",
    ];
    let props = (
        select(vec![
            json!(0),
            json!(50),
            json!(199.99),
            json!(250.5),
            json!(500),
            json!("12"),
        ]),
        select(vec!["p1", "p2"]),
        prop::option::of(select(vec!["f1", "f2"])),
        select(vec!["https://x.example/shoes/a", "https://x.example/hats"]),
        select(vec!["welcome", "news"]),
        select(vec!["ebook", "video"]),
    )
        .prop_map(|(revenue, product, form, url, campaign, category)| {
            let mut p = json!({
                "revenue": revenue, "product_id": product, "link_url": url,
                "campaign_id": campaign, "category": category,
            });
            if let Some(f) = form {
                p["form_id"] = json!(f);
            }
            p
        });
    let traits = (
        prop::option::of(select(vec![json!("trial"), json!("free"), json!(null)])),
        prop::option::of(select(vec![
            json!("1990-03-01"),
            json!("2000-02-29"),
            json!("1988-12-31"),
        ])),
    )
        .prop_map(|(plan, birthday)| {
            let mut t = serde_json::Map::new();
            if let Some(p) = plan {
                t.insert("plan".into(), p);
            }
            if let Some(b) = birthday {
                t.insert("birthday".into(), b);
            }
            Value::Object(t)
        });
    prop_oneof![
        8 => (select(names), props).prop_map(move |(e, p)| track(e, epoch, p)),
        1 => Just(page(epoch)),
        1 => traits.prop_map(move |t| identify(epoch, t)),
        1 => Just(track("Segment Exited", epoch, json!({}))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(200), ..ProptestConfig::default() })]

    #[test]
    fn library_incremental_equals_reference(
        base in select(bases()),
        arrivals in arb_arrivals(arb_library_msg(), 24),
    ) {
        let shipped = Program::compile(&herald_segments::library::library()).expect("the shipped library compiles");
        simulate(library(), base, arrivals, Some(&shipped));
    }

    /// A state written out and read back mid-simulation carries on exactly like the original.
    #[test]
    fn decoded_state_continues_identically(
        base in select(bases()),
        arrivals in arb_arrivals(arb_library_msg(), 16),
        cut in 0usize..16,
    ) {
        let program = Program::compile(&library()).unwrap();
        let mut a = program.new_state();
        let mut b: Option<ProfileState> = None;
        let mut now = base;
        for (i, arr) in arrivals.iter().enumerate() {
            if i == cut {
                b = Some(ProfileState::decode(&a.encode()).unwrap());
            }
            now += ms(arr.gap);
            let mut msg = arr.msg.clone();
            msg.ts = now + ms(arr.skew);
            let ca = program.observe(&mut a, &msg.input(), now);
            if let Some(b) = b.as_mut() {
                let cb = program.observe(b, &msg.input(), now);
                prop_assert_eq!(ca, cb);
                prop_assert_eq!(&a, &*b);
                prop_assert_eq!(program.next_deadline(&a, now), program.next_deadline(b, now));
            }
        }
        if let Some(b) = b.as_mut() {
            let later = now + days(400);
            prop_assert_eq!(program.advance(&mut a, later), program.advance(b, later));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    /// A batch observed at one instant ends where observing its messages one by one ends, and
    /// behaves the same from then on.
    #[test]
    fn a_batch_equals_its_messages_one_by_one(
        defs in arb_definitions(),
        base in select(bases()),
        arrivals in arb_arrivals(arb_msg(), 14),
        later in select(vec![1i64, 3_600_000, 86_400_000 * 40, 86_400_000 * 400]),
    ) {
        let program = Program::compile(&defs).unwrap();
        let now = base + days(1);
        let msgs: Vec<Msg> = arrivals
            .iter()
            .map(|a| {
                let mut m = a.msg.clone();
                m.ts = base + ms(a.skew) + ms(a.gap % 86_400_000);
                m
            })
            .collect();
        let (mut one, mut all) = (program.new_state(), program.new_state());
        program.advance(&mut one, base);
        program.advance(&mut all, base);
        for m in &msgs {
            program.observe(&mut one, &m.input(), now);
        }
        program.observe_all(&mut all, msgs.iter().map(Msg::input), now);
        let members = |s: &ProfileState| program.members(s).collect::<Vec<_>>();
        prop_assert_eq!(members(&one), members(&all));
        let inputs: Vec<_> = msgs.iter().map(Msg::input).collect();
        let reference = program.evaluate_at(&inputs, now);
        prop_assert_eq!(
            members(&all),
            (0..reference.len()).filter(|&i| reference[i]).map(|i| herald_segments::SegmentIdx(i as u32)).collect::<Vec<_>>()
        );
        prop_assert_eq!(program.next_deadline(&one, now), program.next_deadline(&all, now));
        let until = now + ms(later);
        prop_assert_eq!(program.advance(&mut one, until), program.advance(&mut all, until));
    }
}
