//! Putting events in time order with bounded memory.
//!
//! People are simulated one after another, so events are produced out of order. The timeline
//! collects one day's events (bodies written into a single text arena to avoid an allocation per
//! event), sorts them, and hands them out. Events a simulation schedules past the day's end (an
//! email opened two days later, a visit running over midnight) wait in a heap until their day
//! comes; those past the window's end are never written. Memory is thus one day's events plus what
//! is pending, however long the window.
//!
//! `messageId`s are numbered in output order at emission, so they rise with time.

use crate::clock::write_timestamp;
use crate::json::Obj;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write;

/// The Segment call an event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Identify,
    Track,
    Page,
    Group,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Identify => "identify",
            Kind::Track => "track",
            Kind::Page => "page",
            Kind::Group => "group",
        }
    }
}

/// What an event counts towards in the [`crate::Summary`].
pub(crate) mod flags {
    /// The first event written for a person.
    pub(crate) const FIRST_OF_PROFILE: u8 = 1;
    /// The first `identify` of a person.
    pub(crate) const FIRST_IDENTIFY: u8 = 2;
    /// An `Order Completed`.
    pub(crate) const ORDER: u8 = 4;
}

/// A pending event of the current day; its body is a range of the arena.
struct Entry {
    ts: i64,
    seq: u64,
    kind: Kind,
    flags: u8,
    start: usize,
    end: usize,
}

/// An event waiting for a later day, with its own copy of the body.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Deferred {
    // Field order makes the derived ordering (ts, seq): seq is unique, so it is total.
    ts: i64,
    seq: u64,
    kind: Kind,
    flags: u8,
    body: Box<str>,
}

pub(crate) struct Timeline {
    text: String,
    today: Vec<Entry>,
    later: BinaryHeap<Reverse<Deferred>>,
    /// Creation counter: breaks timestamp ties so that, e.g., an `identify` precedes the
    /// `Signed Up` written in the same millisecond.
    seq: u64,
    /// Events after this instant belong to a later day.
    horizon: i64,
    cursor: usize,
    /// Prefix of every messageId (`g-<seed>-`).
    id_prefix: String,
    emitted: u64,
}

impl Timeline {
    pub(crate) fn new(seed: u64) -> Self {
        Timeline {
            text: String::new(),
            today: Vec::new(),
            later: BinaryHeap::new(),
            seq: 0,
            horizon: i64::MIN,
            cursor: 0,
            id_prefix: format!("g-{seed}-"),
            emitted: 0,
        }
    }

    /// Starts collecting the events up to `day_end`, bringing in those deferred to this day.
    pub(crate) fn begin_day(&mut self, day_end: i64) {
        self.text.clear();
        self.today.clear();
        self.cursor = 0;
        self.horizon = day_end;
        while self.later.peek().is_some_and(|d| d.0.ts <= day_end) {
            let Reverse(d) = self.later.pop().expect("peeked");
            let start = self.text.len();
            self.text.push_str(&d.body);
            self.today.push(Entry {
                ts: d.ts,
                seq: d.seq,
                kind: d.kind,
                flags: d.flags,
                start,
                end: self.text.len(),
            });
        }
    }

    /// Records an event at `ts` whose body fields (everything but `type`, `messageId` and
    /// `timestamp`) `body` writes.
    pub(crate) fn push(&mut self, ts: i64, kind: Kind, flags: u8, body: impl FnOnce(&mut Obj<'_>)) {
        let start = self.text.len();
        body(&mut Obj::continuing(&mut self.text));
        self.today.push(Entry {
            ts,
            seq: self.seq,
            kind,
            flags,
            start,
            end: self.text.len(),
        });
        self.seq += 1;
    }

    /// Ends the day: defers what belongs to later days and sorts the rest for emission.
    pub(crate) fn seal(&mut self) {
        let horizon = self.horizon;
        let text = &self.text;
        let later = &mut self.later;
        self.today.retain(|e| {
            if e.ts <= horizon {
                return true;
            }
            later.push(Reverse(Deferred {
                ts: e.ts,
                seq: e.seq,
                kind: e.kind,
                flags: e.flags,
                body: text[e.start..e.end].into(),
            }));
            false
        });
        self.today.sort_unstable_by_key(|e| (e.ts, e.seq));
    }

    /// Appends the next event of the sealed day as one NDJSON line (without newline) and returns
    /// its flags, or `None` when the day is exhausted.
    pub(crate) fn emit(&mut self, out: &mut String) -> Option<u8> {
        let e = self.today.get(self.cursor)?;
        self.cursor += 1;
        out.push_str("{\"type\":\"");
        out.push_str(e.kind.as_str());
        out.push_str("\",\"messageId\":\"");
        out.push_str(&self.id_prefix);
        let _ = write!(out, "{}", self.emitted);
        out.push_str("\",\"timestamp\":\"");
        write_timestamp(out, e.ts);
        out.push('"');
        out.push_str(&self.text[e.start..e.end]);
        out.push('}');
        self.emitted += 1;
        Some(e.flags)
    }

    /// Events waiting for later days (bounded by the population, not the window).
    #[cfg(test)]
    pub(crate) fn deferred(&self) -> usize {
        self.later.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::DAY;

    #[test]
    fn orders_by_time_and_defers_to_later_days() {
        let mut tl = Timeline::new(7);
        tl.begin_day(DAY);
        tl.push(500, Kind::Track, 0, |o| {
            o.str("event", "b");
        });
        tl.push(DAY + 5, Kind::Page, 0, |o| {
            o.str("name", "tomorrow");
        });
        tl.push(100, Kind::Identify, flags::FIRST_IDENTIFY, |o| {
            o.str("userId", "u");
        });
        tl.push(500, Kind::Track, 0, |o| {
            o.str("event", "c");
        });
        tl.seal();
        assert_eq!(tl.deferred(), 1);
        let mut lines = Vec::new();
        let mut line = String::new();
        while tl.emit(&mut line).is_some() {
            lines.push(std::mem::take(&mut line));
        }
        assert_eq!(
            lines,
            [
                r#"{"type":"identify","messageId":"g-7-0","timestamp":"1970-01-01T00:00:00.100Z","userId":"u"}"#,
                r#"{"type":"track","messageId":"g-7-1","timestamp":"1970-01-01T00:00:00.500Z","event":"b"}"#,
                r#"{"type":"track","messageId":"g-7-2","timestamp":"1970-01-01T00:00:00.500Z","event":"c"}"#,
            ]
        );
        tl.begin_day(2 * DAY);
        tl.seal();
        assert!(tl.emit(&mut line).is_some());
        assert!(line.contains("tomorrow") && line.contains("g-7-3"));
    }
}
