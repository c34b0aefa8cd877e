//! Deterministic simulations of the runner: every step type and rule, with time passed as an
//! argument (days go by in microseconds).

use herald_core::{MessageKind, ProfileId};
use herald_journeys::ast::Document;
use herald_journeys::runner::{
    Action, Event, ExitReason, Flow, Person, PersonState, Runner, SendRecord, What, note_actions,
};
use herald_journeys::{lang, library};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

const HOUR: SignedDuration = SignedDuration::from_hours(1);
const DAY: SignedDuration = SignedDuration::from_hours(24);

fn t0() -> Timestamp {
    "2026-03-02T12:00:00Z".parse().unwrap()
}

/// One person going through journeys, with the bookkeeping a store would do.
struct Sim {
    runner: Runner,
    state: PersonState,
    traits: Map<String, Value>,
    segments: BTreeSet<String>,
    sends: Vec<SendRecord>,
    log: Vec<Action>,
}

impl Sim {
    fn new(text: &str) -> Sim {
        Sim::from_document(&lang::parse(text).unwrap())
    }

    fn from_document(doc: &Document) -> Sim {
        let mut runner = Runner::new(TimeZone::UTC);
        for j in &doc.journeys {
            runner.add(Flow::compile(j, 1).unwrap(), true);
        }
        if let Some(rules) = &doc.rules {
            runner.set_rules(rules.clone());
        }
        Sim {
            runner,
            state: PersonState::default(),
            traits: Map::new(),
            segments: BTreeSet::new(),
            sends: Vec::new(),
            log: Vec::new(),
        }
    }

    /// The library's rules and only the named journeys of it.
    fn library(names: &[&str]) -> Sim {
        let mut doc = library::library();
        doc.journeys.retain(|j| names.contains(&j.name.as_str()));
        assert_eq!(doc.journeys.len(), names.len());
        Sim::from_document(&doc)
    }

    fn absorb(&mut self, actions: Vec<Action>) -> Vec<Action> {
        note_actions(&actions, &mut self.sends, &mut self.traits);
        self.log.extend(actions.iter().cloned());
        actions
    }

    fn track(&mut self, name: &str, props: Value, at: Timestamp) -> Vec<Action> {
        self.message(MessageKind::Track, Some(name), props, at)
    }

    fn message(
        &mut self,
        kind: MessageKind,
        name: Option<&str>,
        props: Value,
        at: Timestamp,
    ) -> Vec<Action> {
        // Time first: whatever fell due before the event happens before it.
        let mut out = self.tick(at);
        let props = props.as_object().cloned().unwrap_or_default();
        let person = Person {
            profile: ProfileId(7),
            traits: &self.traits,
            segments: &self.segments,
            recent_sends: &self.sends,
        };
        let event = Event {
            kind,
            name,
            timestamp: at,
            received_at: at,
            properties: &props,
        };
        let actions = self.runner.on_event(&mut self.state, &person, &event, at);
        out.extend(self.absorb(actions));
        out
    }

    /// Fires every due wake-up up to `until`, each at its own instant (as the live service does).
    fn tick(&mut self, until: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(due) = self.runner.next_due(&self.state) {
            if due > until {
                break;
            }
            let person = Person {
                profile: ProfileId(7),
                traits: &self.traits,
                segments: &self.segments,
                recent_sends: &self.sends,
            };
            let actions = self.runner.on_time(&mut self.state, &person, due);
            out.extend(self.absorb(actions));
        }
        out
    }

    fn entered(&mut self, segment: &str, at: Timestamp) -> Vec<Action> {
        self.segments.insert(segment.to_owned());
        self.track("Segment Entered", json!({ "segment": segment }), at)
    }

    /// The templates sent so far, in order.
    fn sent(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|a| match &a.what {
                What::Send {
                    template, channel, ..
                } => Some(format!("{}:{template}", channel.as_str())),
                _ => None,
            })
            .collect()
    }

    fn message_id(&self, template: &str) -> String {
        self.log
            .iter()
            .find_map(|a| match &a.what {
                What::Send {
                    template: t,
                    message_id,
                    ..
                } if t.as_str() == template => Some(message_id.clone()),
                _ => None,
            })
            .unwrap()
    }

    fn exits(&self) -> Vec<ExitReason> {
        self.log
            .iter()
            .filter_map(|a| match &a.what {
                What::Exit { reason } => Some(*reason),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn welcome_series_branches_on_engagement_with_its_first_email() {
    let doc = library::library();
    // Not opened: welcome_2.
    let mut sim = Sim::from_document(&doc);
    sim.track("Signed Up", json!({}), t0());
    assert_eq!(sim.sent(), ["email:welcome_1"]);
    sim.tick(t0() + DAY * 2 - HOUR);
    assert_eq!(sim.sent().len(), 1, "nothing before the 2 days are up");
    sim.tick(t0() + DAY * 6);
    assert_eq!(
        sim.sent(),
        ["email:welcome_1", "email:welcome_2", "email:welcome_3"]
    );
    assert_eq!(sim.exits(), [ExitReason::Completed]);
    assert!(sim.state.instances.is_empty());

    // Opened, not clicked: the follow-up with another call to action.
    let mut sim = Sim::from_document(&doc);
    sim.track("Signed Up", json!({}), t0());
    let id = sim.message_id("welcome_1");
    sim.track("Email Opened", json!({ "email_id": id }), t0() + HOUR);
    sim.tick(t0() + DAY * 6);
    assert_eq!(
        sim.sent(),
        [
            "email:welcome_1",
            "email:welcome_followup",
            "email:welcome_3"
        ]
    );

    // Clicked: welcome_2. Entry is once ever.
    let mut sim = Sim::from_document(&doc);
    sim.track("Signed Up", json!({}), t0());
    let id = sim.message_id("welcome_1");
    sim.track("Email Link Clicked", json!({ "email_id": id }), t0() + HOUR);
    sim.tick(t0() + DAY * 6);
    sim.track("Signed Up", json!({}), t0() + DAY * 10);
    assert_eq!(
        sim.sent(),
        ["email:welcome_1", "email:welcome_2", "email:welcome_3"]
    );
}

#[test]
fn abandoned_cart_runs_one_instance_per_cart_and_reaches_its_goal() {
    let mut sim = Sim::library(&["abandoned_cart"]);
    sim.track(
        "Product Added",
        json!({ "cart_id": "A", "product_id": "p1" }),
        t0(),
    );
    sim.track(
        "Product Added",
        json!({ "cart_id": "A", "product_id": "p2" }),
        t0() + SignedDuration::from_mins(5),
    );
    sim.track(
        "Product Added",
        json!({ "cart_id": "B" }),
        t0() + SignedDuration::from_mins(10),
    );
    // Without a cart id there is no cart to remind of.
    sim.track(
        "Product Added",
        json!({}),
        t0() + SignedDuration::from_mins(11),
    );
    assert_eq!(sim.state.instances.len(), 2, "one per cart");
    // Cart A is ordered within the hour: its instance leaves at the check.
    sim.track(
        "Order Completed",
        json!({ "cart_id": "A" }),
        t0() + SignedDuration::from_mins(30),
    );
    assert_eq!(sim.exits(), [ExitReason::Goal], "the order is A's goal");
    sim.tick(t0() + HOUR * 2);
    assert_eq!(sim.sent(), ["email:abandoned_cart_1"]);
    let b = sim
        .log
        .iter()
        .find(|a| a.key.as_deref() == Some("B"))
        .unwrap();
    assert!(matches!(b.what, What::Enter));
    // No phone: the second reminder is an email; then the order of cart B is the goal.
    sim.tick(t0() + HOUR * 30);
    assert_eq!(
        sim.sent(),
        ["email:abandoned_cart_1", "email:abandoned_cart_2"]
    );
    sim.track("Order Completed", json!({ "cart_id": "B" }), t0() + DAY * 3);
    assert_eq!(sim.exits(), [ExitReason::Goal, ExitReason::Goal]);

    // With a phone, the second reminder goes by SMS (outside quiet hours).
    let mut sim = Sim::library(&["abandoned_cart"]);
    sim.traits.insert("phone".into(), json!("+15555550100"));
    sim.track("Product Added", json!({ "cart_id": "C" }), t0());
    sim.tick(t0() + DAY * 2);
    assert_eq!(
        sim.sent(),
        ["email:abandoned_cart_1", "sms:abandoned_cart_2"]
    );
    // The last message is out, but an order within the goal's 7 days would still count.
    assert!(sim.exits().is_empty());
    sim.tick(t0() + DAY * 8);
    assert_eq!(sim.exits(), [ExitReason::Completed]);
}

#[test]
fn entry_rules() {
    let text = |entry: &str| {
        format!(
            "journey j\n  on \"Ping\"\n  {entry}\ndo\n  send email hello\n  wait 1 day\n  send email bye\nend\n"
        )
    };
    let pings = |sim: &mut Sim| {
        for d in [0, 0, 2, 10, 20] {
            sim.track(
                "Ping",
                json!({}),
                t0() + DAY * d + SignedDuration::from_mins(d as i64),
            );
        }
        sim.tick(t0() + DAY * 30);
        sim.sent().iter().filter(|s| *s == "email:hello").count()
    };
    assert_eq!(pings(&mut Sim::new(&text("entry once"))), 1);
    assert_eq!(pings(&mut Sim::new(&text("entry once per 7 days"))), 3);
    // Every time, but never two instances at once: the second ping of day 0 is refused.
    assert_eq!(pings(&mut Sim::new(&text("entry every time"))), 4);
}

#[test]
fn wait_for_an_event_of_the_same_key_or_time_out() {
    let text = "journey j\n  on \"Trial Started\"\n  key trial_id\ndo\n  wait for \"Trial Converted\" same key up to 3 days\n    send email thanks\n  timeout\n    send email nudge\n  end\nend\n";
    let mut sim = Sim::new(text);
    sim.track("Trial Started", json!({ "trial_id": 1 }), t0());
    sim.track("Trial Started", json!({ "trial_id": 2 }), t0());
    sim.track("Trial Converted", json!({ "trial_id": 2.0 }), t0() + DAY);
    sim.track("Trial Converted", json!({ "trial_id": "1" }), t0() + DAY);
    sim.tick(t0() + DAY * 5);
    assert_eq!(sim.sent(), ["email:thanks", "email:nudge"]);
    let arms: Vec<&str> = sim
        .log
        .iter()
        .filter_map(|a| match &a.what {
            What::Branch { arm } => Some(arm.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(arms, ["received", "timed_out"]);
}

#[test]
fn splits_follow_their_weights_and_holdouts_send_nothing() {
    let text = "journey j\n  on \"Ping\"\ndo\n  split\n    arm a 60\n      send email a\n    arm b 30\n      send email b\n    holdout 10\n  end\nend\n";
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut holdouts = 0;
    for p in 0..2000u64 {
        let mut sim = Sim::new(text);
        sim.state.serial = p * 7919;
        sim.track("Ping", json!({}), t0());
        for s in sim.sent() {
            *counts.entry(s).or_default() += 1;
        }
        holdouts += sim
            .exits()
            .iter()
            .filter(|r| **r == ExitReason::Holdout)
            .count();
        // The same instance always lands in the same arm.
        let mut again = Sim::new(text);
        again.state.serial = p * 7919;
        again.track("Ping", json!({}), t0());
        assert_eq!(again.sent(), sim.sent());
    }
    let a = counts["email:a"] as f64 / 2000.0;
    let b = counts["email:b"] as f64 / 2000.0;
    let h = holdouts as f64 / 2000.0;
    assert!(
        (a - 0.6).abs() < 0.05 && (b - 0.3).abs() < 0.05 && (h - 0.1).abs() < 0.03,
        "{a} {b} {h}"
    );
}

#[test]
fn quiet_hours_hold_sends_until_morning_across_a_dst_change() {
    let text = "rules\n  quiet hours sms 21:00 to 08:00\nend\njourney j\n  on \"Ping\"\ndo\n  send sms hello\n  send email also\nend\n";
    let mut sim = Sim::new(text);
    sim.traits
        .insert("timezone".into(), json!("America/New_York"));
    // Saturday 2026-03-07 22:30 in New York (UTC-5); clocks spring forward that night, so
    // 08:00 on Sunday is 12:00 UTC, not 13:00.
    let late: Timestamp = "2026-03-08T03:30:00Z".parse().unwrap();
    let actions = sim.track("Ping", json!({}), late);
    assert!(
        matches!(&actions[1].what, What::Defer { until, .. } if *until == "2026-03-08T12:00:00Z".parse::<Timestamp>().unwrap())
    );
    assert!(
        sim.sent().is_empty(),
        "the SMS waits, and the email after it"
    );
    sim.tick("2026-03-08T11:59:59Z".parse().unwrap());
    assert!(sim.sent().is_empty());
    sim.tick("2026-03-08T12:00:00Z".parse().unwrap());
    assert_eq!(sim.sent(), ["sms:hello", "email:also"]);
    let send = sim
        .log
        .iter()
        .find(|a| matches!(a.what, What::Send { .. }))
        .unwrap();
    assert_eq!(
        send.at,
        "2026-03-08T12:00:00Z".parse::<Timestamp>().unwrap()
    );
}

#[test]
fn caps_skip_marketing_sends_over_the_limit_by_local_calendar_day() {
    let text = "rules\n  cap email marketing 2 per 1 day\nend\njourney m\n  on \"Ping\"\ndo\n  send email promo\nend\njourney t\n  on \"Reset\"\n  class transactional\ndo\n  send email reset\nend\n";
    let mut sim = Sim::new(text);
    sim.traits.insert("timezone".into(), json!("Asia/Tokyo"));
    // 2026-05-01 in Tokyo: 10:00, 11:00, 12:00 local; then 00:30 on 2026-05-02.
    let tokyo = |h: i32| "2026-05-01T01:00:00Z".parse::<Timestamp>().unwrap() + HOUR * h;
    sim.track("Ping", json!({}), tokyo(0));
    sim.track("Ping", json!({}), tokyo(1));
    sim.track("Ping", json!({}), tokyo(2));
    sim.track("Reset", json!({}), tokyo(3));
    assert_eq!(sim.sent(), ["email:promo", "email:promo", "email:reset"]);
    let skip = sim.log.iter().find_map(|a| match &a.what {
        What::Skip { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(
        skip.as_deref(),
        Some("frequency cap: at most 2 marketing email messages per 1 day")
    );
    // A new local day (00:30 in Tokyo is 15:30 UTC): allowed again, though not 24 hours later.
    sim.track("Ping", json!({}), "2026-05-01T15:30:00Z".parse().unwrap());
    assert_eq!(sim.sent().len(), 4);
}

#[test]
fn segment_triggers_exit_conditions_and_branches_on_membership() {
    let mut sim = Sim::from_document(&library::library());
    sim.entered("product_viewers", t0());
    assert_eq!(sim.state.instances.len(), 1);
    // Buying before the day is up takes them out of browse_recommendations.
    sim.entered("recent_buyers", t0() + HOUR);
    assert!(sim.sent().is_empty());
    assert!(sim.exits().contains(&ExitReason::Condition));
    // loyal_new_arrivals: only loyal customers get the email (they entered recent_buyers above
    // without being loyal).
    assert!(!sim.sent().contains(&"email:new_arrivals".to_owned()));
    sim.segments.insert("loyal_customers".into());
    sim.track(
        "Segment Exited",
        json!({ "segment": "recent_buyers" }),
        t0() + DAY * 40,
    );
    sim.entered("recent_buyers", t0() + DAY * 41);
    assert_eq!(sim.sent(), ["email:new_arrivals"]);
}

#[test]
fn reengagement_sets_a_trait_when_nothing_is_opened() {
    let mut sim = Sim::from_document(&library::library());
    sim.entered("inactive_subscribers", t0());
    sim.tick(t0() + DAY * 20);
    assert_eq!(
        sim.sent(),
        ["email:winback_offer", "email:winback_last_chance"]
    );
    assert_eq!(sim.traits.get("email_sunset"), Some(&json!(true)));

    let mut sim = Sim::from_document(&library::library());
    sim.entered("inactive_subscribers", t0());
    sim.track("Email Opened", json!({}), t0() + DAY * 3);
    sim.tick(t0() + DAY * 20);
    assert_eq!(sim.sent(), ["email:winback_offer"]);
    assert_eq!(sim.traits.get("email_sunset"), None);
}

#[test]
fn goals_count_only_events_after_entry_and_within_the_window() {
    let mut sim = Sim::from_document(&library::library());
    sim.track("Order Completed", json!({ "order_id": "o1" }), t0());
    assert_eq!(
        sim.state.instances.len(),
        1,
        "the trigger is not its own goal"
    );
    sim.tick(t0() + DAY * 4);
    assert_eq!(sim.sent(), ["email:cross_sell"]);
    // Its steps are done but its goal window is not: o2 is o1's conversion, and starts the
    // next instance, whose goal o3 is; o4 after o3's window is nobody's.
    sim.track(
        "Order Completed",
        json!({ "order_id": "o2" }),
        t0() + DAY * 10,
    );
    sim.track(
        "Order Completed",
        json!({ "order_id": "o3" }),
        t0() + DAY * 11,
    );
    let goals = |sim: &Sim| {
        sim.log
            .iter()
            .filter(|a| matches!(a.what, What::Goal))
            .count()
    };
    assert_eq!(goals(&sim), 2);
    assert_eq!(sim.state.instances.len(), 1, "o3 started the next");
    sim.tick(t0() + DAY * 45);
    assert!(sim.state.instances.is_empty());
    sim.track(
        "Order Completed",
        json!({ "order_id": "o4" }),
        t0() + DAY * 46,
    );
    assert_eq!(goals(&sim), 2);
}

#[test]
fn anniversaries_start_journeys_at_local_time() {
    let text = "journey birthday\n  on anniversary of birthday at 09:00\ndo\n  send email happy_birthday\nend\n";
    let mut sim = Sim::new(text);
    sim.traits.insert("birthday".into(), json!("1990-03-05"));
    sim.traits.insert("timezone".into(), json!("Europe/Paris"));
    sim.message(MessageKind::Identify, None, json!({}), t0());
    assert_eq!(
        sim.runner.next_due(&sim.state),
        Some("2026-03-05T08:00:00Z".parse().unwrap())
    );
    sim.tick(t0() + DAY * 3);
    assert_eq!(sim.sent(), ["email:happy_birthday"]);
    assert_eq!(
        sim.runner.next_due(&sim.state),
        Some("2027-03-05T08:00:00Z".parse().unwrap())
    );
}

#[test]
fn instances_finish_on_the_version_they_started() {
    let v1 = "journey j\n  on \"Ping\"\ndo\n  wait 1 day\n  send email old\nend\n";
    let v2 = "journey j\n  on \"Ping\"\ndo\n  wait 1 day\n  send email new\nend\n";
    let mut sim = Sim::new(v1);
    sim.track("Ping", json!({}), t0());
    let doc = lang::parse(v2).unwrap();
    sim.runner
        .add(Flow::compile(&doc.journeys[0], 2).unwrap(), true);
    sim.tick(t0() + DAY * 2);
    sim.track("Ping", json!({}), t0() + DAY * 3);
    sim.tick(t0() + DAY * 5);
    assert_eq!(sim.sent(), ["email:old", "email:new"]);
    let versions: Vec<u32> = sim
        .log
        .iter()
        .filter(|a| matches!(a.what, What::Send { .. }))
        .map(|a| a.version)
        .collect();
    assert_eq!(versions, [1, 2]);
}

#[test]
fn api_enrolment_webhooks_and_exit_steps() {
    let text = "journey j\n  on api\ndo\n  if trigger plan = \"pro\" then\n    webhook \"https://example.com/hook\"\n    exit\n  end\n  send email basic\nend\njourney k\n  on \"Ping\"\ndo\n  send email x\nend\n";
    let mut sim = Sim::new(text);
    let person = Person {
        profile: ProfileId(7),
        traits: &Map::new(),
        segments: &BTreeSet::new(),
        recent_sends: &[],
    };
    let name = "j".parse::<String>().unwrap();
    let j = herald_journeys::ast::JourneyName::parse(&name).unwrap();
    let props = json!({ "plan": "pro" }).as_object().cloned().unwrap();
    let actions = sim
        .runner
        .enrol(&mut sim.state, &person, &j, &props, t0())
        .unwrap();
    let kinds: Vec<String> = actions
        .iter()
        .map(|a| {
            serde_json::to_value(a).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, ["enter", "branch", "webhook", "exit"]);
    let k = herald_journeys::ast::JourneyName::parse("k").unwrap();
    assert!(
        sim.runner
            .enrol(&mut sim.state, &person, &k, &props, t0())
            .is_err()
    );
}

#[test]
fn the_same_history_gives_the_same_actions() {
    let run = || {
        let mut sim = Sim::from_document(&library::library());
        sim.track("Signed Up", json!({}), t0());
        sim.track("Product Added", json!({ "cart_id": "A" }), t0() + HOUR);
        sim.track("Order Completed", json!({ "cart_id": "A" }), t0() + DAY * 2);
        sim.tick(t0() + DAY * 40);
        serde_json::to_string(&sim.log).unwrap()
    };
    assert_eq!(run(), run());
}
