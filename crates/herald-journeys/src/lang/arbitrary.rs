//! Proptest strategies for random, valid journey documents (feature `arbitrary`, and in tests).
//!
//! "Valid" means [`super::validate`] accepts them, so every generated document must survive
//! text -> tree and JSON -> tree exactly. Selectors, filters, paths, spans, literals and trait
//! conditions come from the segment language's strategies. Rather than filtering out most
//! random journeys, the strategies build valid ones: `same key` only where the journey has a
//! key, split arms with distinct names and some weight, and every template a condition asks
//! about is sent first thing.

use crate::ast::*;
use herald_segments::lang::arbitrary as seg;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

pub fn journey_name() -> impl Strategy<Value = JourneyName> {
    "[a-z][a-z0-9_]{0,10}".prop_map(|s| JourneyName::parse(&s).expect("pattern matches the rule"))
}

/// A few names, so that sends and engagement conditions often meet.
pub fn template_name() -> impl Strategy<Value = TemplateName> {
    prop_oneof![
        3 => select(&["welcome_1", "welcome_2", "offer", "last_chance"][..]),
        1 => Just("t0"),
    ]
    .prop_map(|s| TemplateName::parse(s).expect("a template name"))
}

pub fn time_of_day() -> impl Strategy<Value = TimeOfDay> {
    (0u8..24, 0u8..60).prop_map(|(hour, minute)| TimeOfDay { hour, minute })
}

pub fn channel() -> impl Strategy<Value = Channel> {
    select(&Channel::ALL[..])
}

pub fn class() -> impl Strategy<Value = MessageClass> {
    select(&[MessageClass::Marketing, MessageClass::Transactional][..])
}

pub fn trigger() -> impl Strategy<Value = Trigger> {
    prop_oneof![
        3 => seg::selector().prop_map(|events| Trigger::Event { events }),
        1 => seg::segment_name().prop_map(|segment| Trigger::Entered { segment }),
        1 => seg::segment_name().prop_map(|segment| Trigger::Left { segment }),
        1 => (seg::path(), time_of_day()).prop_map(|(path, at)| Trigger::Anniversary { path, at }),
        1 => Just(Trigger::Api),
    ]
}

pub fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        Just(Entry::Once),
        seg::span().prop_map(|span| Entry::OncePer { span }),
        Just(Entry::EveryTime),
    ]
}

/// `true` only when the journey has a key.
fn same_key(has_key: bool) -> impl Strategy<Value = bool> {
    any::<bool>().prop_map(move |b| b && has_key)
}

pub fn exit_when(has_key: bool) -> impl Strategy<Value = ExitWhen> {
    prop_oneof![
        seg::segment_name().prop_map(|segment| ExitWhen::Entered { segment }),
        seg::segment_name().prop_map(|segment| ExitWhen::Left { segment }),
        (seg::selector(), same_key(has_key))
            .prop_map(|(events, same_key)| ExitWhen::Event { events, same_key }),
    ]
}

/// Conditions nested up to three levels, with `and` / `or` of 2 to 3 members.
pub fn condition(has_key: bool) -> impl Strategy<Value = Cond> {
    let how = select(
        &[
            Engagement::Delivered,
            Engagement::Opened,
            Engagement::Clicked,
        ][..],
    );
    let leaf = prop_oneof![
        seg::segment_name().prop_map(|segment| Cond::InSegment { segment }),
        seg::trait_condition().prop_map(Cond::Trait),
        seg::filter().prop_map(Cond::Trigger),
        (template_name(), how).prop_map(|(template, how)| Cond::Engaged { template, how }),
        (seg::selector(), same_key(has_key))
            .prop_map(|(events, same_key)| Cond::Event { events, same_key }),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 2..4).prop_map(|of| Cond::All { of }),
            vec(inner.clone(), 2..4).prop_map(|of| Cond::Any { of }),
            inner.prop_map(|c| Cond::Not {
                condition: Box::new(c)
            }),
        ]
    })
}

/// Any text for a trait key but the empty one.
fn trait_key() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-z_][a-z0-9_]{0,8}", 1 => "(?s).{1,8}"]
}

/// 2 to 4 arms with distinct names and a positive total weight, maybe one of them a holdout.
fn arms(inner: BoxedStrategy<Vec<Step>>) -> impl Strategy<Value = Vec<Arm>> {
    let name = prop_oneof![3 => "[a-z][a-z0-9_-]{0,4}", 1 => "(?s).{0,6}"];
    let arm = (name, 0u32..100, inner);
    (
        vec(arm, 2..4),
        option::of((0u32..20, any::<prop::sample::Index>())),
    )
        .prop_map(|(raw, holdout)| {
            let mut arms: Vec<Arm> = raw
                .into_iter()
                .enumerate()
                .map(|(i, (name, weight, steps))| Arm {
                    // The index keeps names distinct (and never exactly "holdout").
                    name: format!("{name}{i}"),
                    weight,
                    holdout: false,
                    steps,
                })
                .collect();
            if arms.iter().all(|a| a.weight == 0) {
                arms[0].weight = 1;
            }
            if let Some((weight, at)) = holdout {
                let at = at.index(arms.len() + 1);
                arms.insert(
                    at,
                    Arm {
                        name: "holdout".into(),
                        weight,
                        holdout: true,
                        steps: Vec::new(),
                    },
                );
            }
            arms
        })
}

/// Steps nested up to three levels.
pub fn step(has_key: bool) -> impl Strategy<Value = Step> {
    let url = "[a-z0-9/._-]{0,12}".prop_map(|p| format!("https://example.com/{p}"));
    let leaf = prop_oneof![
        3 => (channel(), template_name())
            .prop_map(|(channel, template)| Step::Send { channel, template }),
        2 => seg::span().prop_map(|duration| Step::Wait { duration }),
        1 => (time_of_day(), vec(select(&Weekday::ALL[..]), 0..3))
            .prop_map(|(at, days)| Step::WaitUntil { at, days }),
        1 => (trait_key(), seg::literal()).prop_map(|(key, value)| Step::SetTrait { key, value }),
        1 => url.prop_map(|url| Step::Webhook { url }),
        1 => Just(Step::Exit),
    ];
    leaf.prop_recursive(3, 24, 3, move |inner| {
        let block = vec(inner, 0..3).boxed();
        prop_oneof![
            (
                seg::selector(),
                same_key(has_key),
                seg::span(),
                block.clone(),
                block.clone()
            )
                .prop_map(|(events, same_key, timeout, received, timed_out)| {
                    Step::WaitFor {
                        events,
                        same_key,
                        timeout,
                        received,
                        timed_out,
                    }
                }),
            (condition(has_key), block.clone(), block.clone()).prop_map(
                |(condition, then, otherwise)| Step::Branch {
                    condition,
                    then,
                    otherwise,
                }
            ),
            arms(block).prop_map(|arms| Step::Split { arms }),
        ]
    })
}

/// Calls `f` with every template an engagement condition in `steps` asks about.
fn engaged_templates(steps: &[Step], f: &mut impl FnMut(&TemplateName)) {
    fn cond(c: &Cond, f: &mut impl FnMut(&TemplateName)) {
        match c {
            Cond::All { of } | Cond::Any { of } => of.iter().for_each(|c| cond(c, f)),
            Cond::Not { condition } => cond(condition, f),
            Cond::Engaged { template, .. } => f(template),
            _ => {}
        }
    }
    for s in steps {
        match s {
            Step::WaitFor {
                received,
                timed_out,
                ..
            } => {
                engaged_templates(received, f);
                engaged_templates(timed_out, f);
            }
            Step::Branch {
                condition,
                then,
                otherwise,
            } => {
                cond(condition, f);
                engaged_templates(then, f);
                engaged_templates(otherwise, f);
            }
            Step::Split { arms } => arms.iter().for_each(|a| engaged_templates(&a.steps, f)),
            _ => {}
        }
    }
}

/// A valid journey.
pub fn journey() -> impl Strategy<Value = Journey> {
    any::<bool>()
        .prop_flat_map(|has_key| {
            let key = if has_key {
                seg::path().prop_map(Some).boxed()
            } else {
                Just(None).boxed()
            };
            let goal = (seg::selector(), same_key(has_key), seg::span()).prop_map(
                |(events, same_key, within)| Goal {
                    events,
                    same_key,
                    within,
                },
            );
            (
                (
                    journey_name(),
                    option::of("(?s).{0,16}"),
                    trigger(),
                    key,
                    entry(),
                    class(),
                ),
                (
                    option::of(goal),
                    vec(exit_when(has_key), 0..3),
                    vec(step(has_key), 1..5),
                ),
            )
        })
        .prop_map(
            |((name, description, trigger, key, entry, class), (goal, exit_when, mut steps))| {
                // Send every template a condition asks about before anything else.
                let mut sends: Vec<TemplateName> = Vec::new();
                engaged_templates(&steps, &mut |t| {
                    if !sends.contains(t) {
                        sends.push(t.clone());
                    }
                });
                let first = sends.into_iter().map(|template| Step::Send {
                    channel: Channel::Email,
                    template,
                });
                steps.splice(0..0, first);
                Journey {
                    name,
                    description,
                    trigger,
                    key,
                    entry,
                    class,
                    goal,
                    exit_when,
                    steps,
                }
            },
        )
}

/// Rules with at most one cap per channel and class and one quiet-hours line per channel.
pub fn rules() -> impl Strategy<Value = Rules> {
    let pairs: Vec<(Channel, MessageClass)> = Channel::ALL
        .into_iter()
        .flat_map(|c| {
            [
                (c, MessageClass::Marketing),
                (c, MessageClass::Transactional),
            ]
        })
        .collect();
    let caps =
        vec(option::weighted(0.3, (1u32..10, seg::span())), pairs.len()).prop_map(move |chosen| {
            pairs
                .iter()
                .zip(chosen)
                .filter_map(|(&(channel, class), c)| {
                    c.map(|(count, per)| Cap {
                        channel,
                        class,
                        count,
                        per,
                    })
                })
                .collect::<Vec<_>>()
        });
    let quiet = vec(option::weighted(0.3, (time_of_day(), time_of_day())), 4).prop_map(|chosen| {
        Channel::ALL
            .into_iter()
            .zip(chosen)
            .filter_map(|(channel, q)| q.map(|(from, to)| QuietHours { channel, from, to }))
            .collect::<Vec<_>>()
    });
    (caps, quiet).prop_map(|(caps, quiet_hours)| Rules { caps, quiet_hours })
}

/// A valid document: maybe rules, and 0 to 3 journeys with distinct names.
pub fn document() -> impl Strategy<Value = Document> {
    (option::of(rules()), vec(journey(), 0..4))
        .prop_map(|(rules, mut journeys)| {
            for i in 0..journeys.len() {
                if journeys[..i].iter().any(|j| j.name == journeys[i].name) {
                    let name = format!("{}_{i}", journeys[i].name);
                    journeys[i].name = JourneyName::parse(&name).expect("still a name");
                }
            }
            Document { rules, journeys }
        })
        .prop_filter("valid", |doc| super::validate(doc).is_ok())
}
