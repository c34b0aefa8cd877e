//! Proptest strategies for random, valid syntax trees (feature `arbitrary`, and in tests).
//!
//! "Valid" means [`super::validate`] accepts them, so every generated tree must survive
//! text -> tree and JSON -> tree exactly. Numbers are drawn so that they also survive
//! serde_json's float parser, which is exact only for short decimals: integers, hundredths,
//! and one- or two-digit mantissas with exponents up to 20.

use crate::ast::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// A segment name (may coincide with names used elsewhere; see [`definitions`]).
pub fn segment_name() -> impl Strategy<Value = SegmentName> {
    "[a-z][a-z0-9_]{0,10}".prop_map(|s| SegmentName::parse(&s).expect("pattern matches the rule"))
}

/// Event names: common ones, and any text at all (quotes, backslashes, control characters).
pub fn event_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(&["Order Completed", "Product Viewed", "Product Added", "Email Opened", "Signed Up"][..])
            .prop_map(str::to_owned),
        1 => "(?s).{0,12}",
    ]
}

/// A property key: plain words, keywords (which print back-quoted) and any characters but
/// `.`, `[` and `]` (which the JSON form cannot spell inside a key).
pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z_][a-zA-Z0-9_-]{0,8}",
        1 => select(&["in", "and", "where", "any", "count", "true", "last", "not"][..]).prop_map(str::to_owned),
        1 => "[^.\\[\\]]{1,8}",
    ]
}

pub fn path() -> impl Strategy<Value = PropertyPath> {
    let step = prop_oneof![key().prop_map(PathStep::Key), Just(PathStep::Each)];
    (key(), vec(step, 0..3)).prop_map(|(first, rest)| {
        PropertyPath(std::iter::once(PathStep::Key(first)).chain(rest).collect())
    })
}

/// Numbers that round-trip through text and through serde_json (see the module docs).
pub fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1_000_000i64..1_000_000).prop_map(|i| i as f64),
        (-100_000i64..100_000).prop_map(|i| format!("{}e-2", i).parse().expect("a number")),
        (1u32..100, -20i32..=20).prop_map(|(m, e)| format!("{m}e{e}").parse().expect("a number")),
    ]
}

pub fn timestamp() -> impl Strategy<Value = jiff::Timestamp> {
    let midnight = (0i64..50_000).prop_map(|d| d * 86_400);
    let any_second = 0i64..4_102_444_800;
    (
        prop_oneof![midnight, any_second],
        prop_oneof![Just(0i32), 0..1_000_000_000],
    )
        .prop_map(|(s, n)| jiff::Timestamp::new(s, n).expect("in range"))
}

pub fn span() -> impl Strategy<Value = Span> {
    let unit = select(&[Unit::Minutes, Unit::Hours, Unit::Days, Unit::Weeks][..]);
    (prop_oneof![9 => 0u32..400, 1 => Just(u32::MAX)], unit)
        .prop_map(|(amount, unit)| Span { amount, unit })
}

pub fn month_day() -> impl Strategy<Value = MonthDay> {
    (1u8..=12).prop_flat_map(|month| {
        let max = match month {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        (1u8..=max).prop_map(move |day| MonthDay { month, day })
    })
}

pub fn window() -> impl Strategy<Value = Window> {
    let between = (span(), span()).prop_filter_map("non-empty", |(a, b)| {
        let (from, to) = if a.millis() >= b.millis() {
            (a, b)
        } else {
            (b, a)
        };
        (from.millis() > to.millis()).then_some(Window::Between { from, to })
    });
    let calendar =
        (0u32..5, month_day(), month_day()).prop_map(|(years_ago, a, b)| Window::Calendar {
            years_ago,
            from: a.min(b),
            to: a.max(b),
        });
    prop_oneof![
        Just(Window::Ever),
        span().prop_map(Window::Last),
        between,
        timestamp().prop_map(Window::Since),
        calendar,
    ]
}

pub fn literal() -> impl Strategy<Value = Literal> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Literal::Bool),
        number().prop_map(Literal::Number),
        "(?s).{0,8}".prop_map(Literal::Text),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| vec(inner, 0..4).prop_map(Literal::List))
}

/// An operator with a value that fits it (`in` a list, `exists` none).
pub fn op_value() -> impl Strategy<Value = (FilterOp, Option<Literal>)> {
    use FilterOp::*;
    let valued = select(&[Eq, Ne, Lt, Le, Gt, Ge, Contains, StartsWith][..]);
    prop_oneof![
        3 => (valued, literal()).prop_map(|(op, v)| (op, Some(v))),
        1 => vec(literal(), 0..4).prop_map(|l| (In, Some(Literal::List(l)))),
        1 => select(&[Exists, NotExists][..]).prop_map(|op| (op, None)),
    ]
}

pub fn filter() -> impl Strategy<Value = Filter> {
    (path(), op_value()).prop_map(|(path, (op, value))| Filter { path, op, value })
}

pub fn selector() -> impl Strategy<Value = EventSelector> {
    (
        prop::option::weighted(0.8, event_name()),
        vec(filter(), 0..3),
    )
        .prop_map(|(event, filters)| EventSelector { event, filters })
}

pub fn measure() -> impl Strategy<Value = Measure> {
    prop_oneof![
        2 => Just(Measure::Count),
        1 => path().prop_map(Measure::Sum),
        1 => path().prop_map(Measure::Avg),
        1 => path().prop_map(Measure::Min),
        1 => path().prop_map(Measure::Max),
        1 => path().prop_map(Measure::Distinct),
    ]
}

pub fn comparison() -> impl Strategy<Value = Comparison> {
    use CmpOp::*;
    (select(&[Eq, Ne, Lt, Le, Gt, Ge][..]), number())
        .prop_map(|(op, value)| Comparison { op, value })
}

pub fn time_test() -> impl Strategy<Value = TimeTest> {
    let point = prop_oneof![
        Just(TimePoint::Now),
        span().prop_map(TimePoint::Ago),
        span().prop_map(TimePoint::FromNow),
        timestamp().prop_map(TimePoint::At),
    ];
    prop_oneof![
        point.clone().prop_map(TimeTest::Before),
        point.prop_map(TimeTest::After),
        window().prop_map(TimeTest::Within),
    ]
}

/// A test of a trait: of its value, as a date, or of its anniversary.
pub fn trait_condition() -> impl Strategy<Value = TraitCondition> {
    let test = prop_oneof![
        op_value().prop_map(|(op, value)| TraitTest::Value { op, value }),
        time_test().prop_map(TraitTest::Date),
        span().prop_map(|within| TraitTest::Anniversary { within }),
    ];
    (path(), test).prop_map(|(path, test)| TraitCondition { path, test })
}

/// A condition with no sub-conditions.
pub fn leaf_condition() -> impl Strategy<Value = Condition> {
    let metric = (measure(), selector(), window(), comparison()).prop_map(
        |(measure, events, window, compare)| {
            Condition::Metric(Metric {
                measure,
                events,
                window,
                compare,
            })
        },
    );
    let per_key = (measure(), selector(), path(), window(), comparison()).prop_map(
        |(measure, events, key, window, compare)| {
            Condition::PerKey(PerKey {
                measure,
                events,
                key,
                window,
                compare,
            })
        },
    );
    let occurrence = (
        select(&[Which::First, Which::Last][..]),
        selector(),
        time_test(),
    )
        .prop_map(|(which, events, time)| {
            Condition::Occurrence(Occurrence {
                which,
                events,
                time,
            })
        });
    let sequence = (
        (
            select(&[Pick::Latest, Pick::Any][..]),
            selector(),
            window(),
            proptest::option::of(span()),
        ),
        (
            any::<bool>(),
            selector(),
            proptest::option::of(path()),
            proptest::option::of(span()),
        ),
    )
        .prop_map(
            |((pick, first, window, older_than), (followed, second, same, within))| {
                Condition::Sequence(Sequence {
                    pick,
                    first,
                    window,
                    older_than,
                    followed,
                    second,
                    same,
                    within,
                })
            },
        );
    let trait_ = trait_condition().prop_map(Condition::Trait);
    prop_oneof![
        3 => metric,
        1 => per_key,
        1 => occurrence,
        1 => sequence,
        1 => trait_,
        1 => segment_name().prop_map(|name| Condition::Segment { name }),
    ]
}

/// Conditions nested up to four levels, with `and` / `or` lists of 0 to 4 members.
pub fn condition() -> impl Strategy<Value = Condition> {
    leaf_condition().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(|of| Condition::All { of }),
            vec(inner.clone(), 0..5).prop_map(|of| Condition::Any { of }),
            inner.clone().prop_map(|c| Condition::Not {
                condition: Box::new(c)
            }),
            vec(inner, 0..5)
                .prop_flat_map(|of| (0..=of.len() as u32, Just(of)))
                .prop_map(|(n, of)| Condition::AtLeast { n, of }),
        ]
    })
}

/// A valid definition (it does not refer to itself).
pub fn definition() -> impl Strategy<Value = Definition> {
    (segment_name(), prop::option::of("(?s).{0,20}"), condition())
        .prop_map(|(name, description, condition)| Definition {
            name,
            description,
            condition,
        })
        .prop_filter("valid", |d| {
            super::validate(std::slice::from_ref(d)).is_ok()
        })
}

/// 1 to 4 valid definitions with distinct names and no circle of references.
pub fn definitions() -> impl Strategy<Value = Vec<Definition>> {
    vec(definition(), 1..5).prop_filter("valid", |defs| super::validate(defs).is_ok())
}
