//! Routing: which trackers a message can touch and which segments must then be re-evaluated.
//!
//! Per event name, the trackers that select it (or any message) and the segments that use them,
//! directly or through `in segment`, in dependency order; identify calls also reach the trait
//! trackers. An event then costs only what depends on it, and a name no segment mentions costs
//! one hash lookup.

use super::Input;
use super::atom::Tracker;
use super::program::{Program, expr_atoms};
use std::collections::BTreeMap;
use std::hash::Hasher;

/// What one kind of message touches.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Route {
    pub(crate) trackers: Box<[u32]>,
    /// Segments to re-evaluate, in dependency order.
    pub(crate) segments: Box<[u32]>,
}

/// A hasher for the small event-name table. The table holds only the program's own names and
/// the map compares keys anyway, so mixing the length and the first and last eight bytes is
/// plenty, and much cheaper than SipHash on the per-event path.
#[derive(Default, Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        let (head, tail) = if n >= 8 {
            let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
            (word(&bytes[..8]), word(&bytes[n - 8..]))
        } else {
            let short = bytes
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, &b)| w | u64::from(b) << (8 * i));
            (short, 0)
        };
        self.0 = (self.0.rotate_left(5) ^ head ^ tail.rotate_left(29) ^ n as u64)
            .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A message's route, looked up once for many messages of the same kind and name (a replay of
/// interned events); set it in [`Input::route`]. Only meaningful to the program that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRoute(u32);

impl Program {
    /// The route of messages of this kind and event name.
    pub fn route_of(&self, kind: herald_core::MessageKind, name: Option<&str>) -> EventRoute {
        use herald_core::MessageKind as K;
        EventRoute(match kind {
            K::Track => name
                .and_then(|n| self.by_event.get(n).copied())
                .unwrap_or(self.route_other),
            K::Identify => self.route_identify,
            _ => self.route_other,
        })
    }

    /// The route of a message.
    pub(crate) fn route(&self, input: &Input) -> &Route {
        let i = match input.route {
            Some(r) if (r.0 as usize) < self.routes.len() => r,
            _ => self.route_of(input.kind, input.name),
        };
        debug_assert_eq!(i, self.route_of(input.kind, input.name));
        &self.routes[i.0 as usize]
    }

    pub(crate) fn build_routes(&mut self, deps: &[Vec<u32>]) {
        let mut named: BTreeMap<Box<str>, Vec<u32>> = BTreeMap::new();
        let mut any = Vec::new();
        let mut traits = Vec::new();
        for (i, tracker) in self.trackers.iter().enumerate() {
            let i = i as u32;
            let mut add = |event: &Option<Box<str>>| match event {
                Some(e) => named.entry(e.clone()).or_default().push(i),
                None => any.push(i),
            };
            match tracker {
                Tracker::Tally(t) => add(&t.sel.event),
                Tracker::Occur(sel, _) => add(&sel.event),
                Tracker::Seq(s) => {
                    add(&s.first.event);
                    add(&s.second.event);
                }
                Tracker::Trait(_) => traits.push(i),
            }
        }
        // Segments that must be re-evaluated when a tracker changes: those using its atoms,
        // then, transitively, those using them through `in segment`.
        let mut users = vec![Vec::new(); self.trackers.len()];
        for (seg, expr) in self.exprs.iter().enumerate() {
            let mut atoms = Vec::new();
            expr_atoms(expr, &mut atoms);
            for a in atoms {
                users[self.atoms[a as usize].tracker as usize].push(seg as u32);
            }
        }
        let mut dependents = vec![Vec::new(); self.names.len()];
        for (seg, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d as usize].push(seg as u32);
            }
        }
        let mut position = vec![0; self.names.len()];
        for (pos, &seg) in self.order.iter().enumerate() {
            position[seg as usize] = pos;
        }
        let route = |trackers: Vec<u32>| -> Route {
            let mut trackers = trackers;
            trackers.sort_unstable();
            trackers.dedup();
            let mut affected = vec![false; dependents.len()];
            let mut stack: Vec<u32> = trackers
                .iter()
                .flat_map(|&t| users[t as usize].iter().copied())
                .collect();
            while let Some(s) = stack.pop() {
                if !std::mem::replace(&mut affected[s as usize], true) {
                    stack.extend(&dependents[s as usize]);
                }
            }
            let mut segments: Vec<u32> = (0..affected.len() as u32)
                .filter(|&s| affected[s as usize])
                .collect();
            segments.sort_by_key(|&s| position[s as usize]);
            Route {
                trackers: trackers.into(),
                segments: segments.into(),
            }
        };
        let mut routes = Vec::new();
        for (event, trackers) in named {
            let all = trackers.iter().chain(&any).copied().collect();
            self.by_event.insert(event, routes.len() as u32);
            routes.push(route(all));
        }
        self.route_other = routes.len() as u32;
        routes.push(route(any.clone()));
        self.route_identify = routes.len() as u32;
        routes.push(route(any.into_iter().chain(traits).collect()));
        self.routes = routes;
    }
}
