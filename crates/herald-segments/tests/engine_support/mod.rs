//! Shared helpers for the engine tests: owned messages, condition builders, the library's meanings
//! as syntax trees, and a checker that holds the incremental engine to the reference.

#![allow(dead_code)]

pub mod library;

use herald_core::MessageKind;
use herald_segments::ast::*;
use herald_segments::engine::{Change, Input, ProfileState, Program};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};

/// A message owned by a test.
#[derive(Clone, Debug)]
pub struct Msg {
    pub kind: MessageKind,
    pub name: Option<String>,
    pub ts: Timestamp,
    pub props: Map<String, Value>,
    pub traits: Option<Map<String, Value>>,
}

impl Msg {
    pub fn input(&self) -> Input<'_> {
        Input {
            kind: self.kind,
            name: self.name.as_deref(),
            timestamp: self.ts,
            properties: (&self.props).into(),
            traits: self.traits.as_ref().map(Into::into),
            route: None,
        }
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => panic!("not an object: {other}"),
    }
}

pub fn track(name: &str, ts: Timestamp, props: Value) -> Msg {
    Msg {
        kind: MessageKind::Track,
        name: Some(name.to_owned()),
        ts,
        props: object(props),
        traits: None,
    }
}

pub fn identify(ts: Timestamp, traits: Value) -> Msg {
    Msg {
        kind: MessageKind::Identify,
        name: None,
        ts,
        props: Map::new(),
        traits: Some(object(traits)),
    }
}

pub fn page(ts: Timestamp) -> Msg {
    Msg {
        kind: MessageKind::Page,
        name: Some("Home".to_owned()),
        ts,
        props: Map::new(),
        traits: None,
    }
}

/// `"2024-01-01"` (midnight UTC) or a full RFC 3339 instant.
pub fn at(s: &str) -> Timestamp {
    if s.len() == 10 {
        format!("{s}T00:00:00Z").parse().unwrap()
    } else {
        s.parse().unwrap()
    }
}

pub const MS: SignedDuration = SignedDuration::from_millis(1);
pub const MINUTE: SignedDuration = SignedDuration::from_mins(1);
pub const HOUR: SignedDuration = SignedDuration::from_hours(1);
pub const DAY: SignedDuration = SignedDuration::from_hours(24);

pub fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

// --- Condition builders -------------------------------------------------------------------

pub fn span(s: &str) -> Span {
    Span::parse(s).unwrap()
}

pub fn path(s: &str) -> PropertyPath {
    PropertyPath::parse(s).unwrap()
}

pub fn last(s: &str) -> Window {
    Window::Last(span(s))
}

pub fn between(from: &str, to: &str) -> Window {
    Window::Between {
        from: span(from),
        to: span(to),
    }
}

pub fn event(name: &str) -> EventSelector {
    EventSelector {
        event: Some(name.to_owned()),
        filters: Vec::new(),
    }
}

pub fn any_event() -> EventSelector {
    EventSelector {
        event: None,
        filters: Vec::new(),
    }
}

pub fn filter(p: &str, op: FilterOp, value: Option<Literal>) -> Filter {
    Filter {
        path: path(p),
        op,
        value,
    }
}

pub fn text(s: &str) -> Option<Literal> {
    Some(Literal::Text(s.to_owned()))
}

pub fn event_where(name: &str, filters: Vec<Filter>) -> EventSelector {
    EventSelector {
        event: Some(name.to_owned()),
        filters,
    }
}

pub fn metric(
    measure: Measure,
    events: EventSelector,
    window: Window,
    op: CmpOp,
    value: f64,
) -> Condition {
    Condition::Metric(Metric {
        measure,
        events,
        window,
        compare: Comparison { op, value },
    })
}

pub fn count(events: EventSelector, window: Window, op: CmpOp, value: f64) -> Condition {
    metric(Measure::Count, events, window, op, value)
}

pub fn all(of: Vec<Condition>) -> Condition {
    Condition::All { of }
}

pub fn not(c: Condition) -> Condition {
    Condition::Not {
        condition: Box::new(c),
    }
}

pub fn in_segment(name: &str) -> Condition {
    Condition::Segment {
        name: SegmentName::parse(name).unwrap(),
    }
}

pub fn def(name: &str, condition: Condition) -> Definition {
    Definition {
        name: SegmentName::parse(name).unwrap(),
        description: None,
        condition,
    }
}

// --- Running and checking -----------------------------------------------------------------

/// One profile fed to a program, with every step checked against the reference.
pub struct Sim {
    pub program: Program,
    pub state: ProfileState,
    pub history: Vec<Msg>,
    pub now: Option<Timestamp>,
}

impl Sim {
    pub fn new(defs: Vec<Definition>) -> Sim {
        let program = Program::compile(&defs).expect("definitions compile");
        let state = program.new_state();
        Sim {
            program,
            state,
            history: Vec::new(),
            now: None,
        }
    }

    pub fn reference(&self, at: Timestamp) -> Vec<bool> {
        let inputs: Vec<Input> = self.history.iter().map(Msg::input).collect();
        self.program.evaluate_at(&inputs, at)
    }

    pub fn members(&self) -> Vec<bool> {
        (0..self.program.segments().len())
            .map(|i| {
                self.program
                    .is_member(&self.state, herald_segments::SegmentIdx(i as u32))
            })
            .collect()
    }

    pub fn is(&self, name: &str) -> bool {
        let idx = self.program.index_of(name).expect("segment exists");
        self.program.is_member(&self.state, idx)
    }

    /// Checks the state against the reference at the state's instant.
    pub fn check(&self) {
        let now = self.now.expect("the simulation has started");
        assert_eq!(
            self.members(),
            self.reference(now),
            "incremental != reference at {now}"
        );
    }

    /// Checks that each reported change happened exactly at its instant: the reference shows the
    /// new membership at `at` and the old one a millisecond before.
    pub fn check_changes(&self, changes: &[Change]) {
        for pair in changes.windows(2) {
            assert!(
                pair[0].at <= pair[1].at,
                "changes out of time order: {changes:?}"
            );
        }
        for c in changes {
            let seg = c.segment.index();
            assert_eq!(
                self.reference(c.at)[seg],
                c.entered,
                "change {c:?} not in force at its instant"
            );
            // At its first instant a profile joins the segments an empty profile is in.
            if self.now.is_none() {
                continue;
            }
            assert_eq!(
                self.reference(c.at - MS)[seg],
                !c.entered,
                "change {c:?} was already in force 1 ms before"
            );
        }
    }

    pub fn observe(&mut self, msg: Msg, now: Timestamp) -> Vec<Change> {
        let time_changes = self.program.advance(&mut self.state, now);
        self.check_changes(&time_changes);
        self.history.push(msg);
        let input = self.history.last().unwrap().input();
        let changes = self.program.observe(&mut self.state, &input, now);
        self.now = Some(now);
        self.check();
        self.check_round_trip();
        changes
    }

    pub fn advance(&mut self, now: Timestamp) -> Vec<Change> {
        let changes = self.program.advance(&mut self.state, now);
        self.check_changes(&changes);
        self.now = Some(now);
        self.check();
        self.check_round_trip();
        changes
    }

    pub fn deadline(&self) -> Option<Timestamp> {
        self.program
            .next_deadline(&self.state, self.now.expect("started"))
    }

    /// Jumps to the next deadline (checking nothing changes before it and something at it).
    pub fn jump_to_deadline(&mut self) -> Option<(Timestamp, Vec<Change>)> {
        let d = self.deadline()?;
        let now = self.now.unwrap();
        assert!(d > now, "deadline {d} not after now {now}");
        assert_eq!(
            self.reference(d - MS),
            self.members(),
            "a change before the deadline {d}"
        );
        let changes = self.advance(d);
        // Deadlines are exact, except that after a very long search through atom changes that
        // do not change memberships (yearly anniversaries under an `and` that stays false) the
        // engine settles for an earlier, harmless instant.
        assert!(
            !changes.is_empty() || d.duration_since(now) > days(365 * 50),
            "nothing changed at the deadline {d}"
        );
        Some((d, changes))
    }

    pub fn check_round_trip(&self) {
        let bytes = self.state.encode();
        let decoded = ProfileState::decode(&bytes).expect("decodes");
        assert_eq!(decoded, self.state, "encode/decode changed the state");
    }
}
