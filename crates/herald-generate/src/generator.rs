//! The day-by-day simulation loop behind [`Generator`].
//!
//! Each window day, every person who has found the shop lives that day (visits, carts, trial ends)
//! and receives the day's campaigns; the timeline then sorts the day's events. Nothing is simulated
//! ahead of the day being read, so memory stays at one day's events plus per-person state, and a
//! consumer that stops reading early pays only for what it read.

use crate::catalog::Catalog;
use crate::clock::DAY;
use crate::email;
use crate::person::Person;
use crate::session;
use crate::timeline::Timeline;
use crate::{Options, Summary};

/// What the simulation of one day works with.
pub(crate) struct Ctx<'a> {
    pub seed: u64,
    pub catalog: &'a Catalog,
    pub tl: &'a mut Timeline,
    /// Window day being simulated, from 0.
    pub day: u32,
    /// Exclusive start of that day: its events are after this instant.
    pub day_start: i64,
}

/// Streams the NDJSON lines of a simulated window, in non-decreasing timestamp order.
///
/// Each item is one Segment message without a trailing newline. The same [`Options`] always give
/// the same lines.
pub struct Generator {
    seed: u64,
    days: u32,
    start: i64,
    end: i64,
    catalog: Catalog,
    people: Vec<Person>,
    timeline: Timeline,
    next_day: u32,
    summary: Summary,
}

impl Generator {
    pub fn new(opts: &Options) -> Self {
        let end = opts.end.as_millisecond();
        let start = end - i64::from(opts.days) * DAY;
        let population = opts.profiles;
        let index_limit = u64::from(u32::MAX);
        assert!(
            population <= index_limit,
            "at most {index_limit} profiles are supported"
        );
        let people = (0..population as u32)
            .map(|i| Person::new(opts.seed, i, population, opts.days, start))
            .collect();
        Generator {
            seed: opts.seed,
            days: opts.days,
            start,
            end,
            catalog: Catalog::new(opts.seed),
            people,
            timeline: Timeline::new(opts.seed),
            next_day: 0,
            summary: Summary::default(),
        }
    }

    /// Counts of what has been emitted so far.
    pub(crate) fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Appends the next line to `out`; `false` when the window is exhausted.
    pub(crate) fn next_into(&mut self, out: &mut String) -> bool {
        loop {
            if let Some(flags) = self.timeline.emit(out) {
                self.summary.count(flags);
                return true;
            }
            if self.next_day >= self.days {
                return false;
            }
            self.simulate_day();
        }
    }

    fn simulate_day(&mut self) {
        let day = self.next_day;
        self.next_day += 1;
        let day_start = self.start + i64::from(day) * DAY;
        // The last day ends exactly at the window's end; anything later is never emitted.
        let day_end = (day_start + DAY).min(self.end);
        self.timeline.begin_day(day_end);
        let campaigns = email::calendar(day_start, self.seed);
        let mut ctx = Ctx {
            seed: self.seed,
            catalog: &self.catalog,
            tl: &mut self.timeline,
            day,
            day_start,
        };
        for person in &mut self.people {
            if day < person.first_day {
                continue;
            }
            session::live_day(person, &mut ctx);
            for campaign in &campaigns {
                email::deliver(person, &mut ctx, campaign);
            }
        }
        self.timeline.seal();
    }
}

impl Iterator for Generator {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let mut line = String::with_capacity(512);
        self.next_into(&mut line).then_some(line)
    }
}
