//! Compiling definitions into a [`Program`]: validation (duplicate names, unknown `in segment`
//! references, cycles, ill-typed filters), dependency order, shared state and routing.
//!
//! Each definition's condition becomes a boolean expression over *atoms* (its leaves, see
//! `atom`) and other segments; routing tables (see `route`) say which trackers and segments a
//! message can touch.

use super::atom::{Atom, Builder, Tracker};
use super::route::{NameHasher, Route};
use crate::ast::{Condition, Definition, SegmentName};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// A segment's position in [`Program::segments`].
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct SegmentIdx(pub u32);

impl SegmentIdx {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Why definitions do not compile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompileError {
    #[error("segment `{0}` is defined more than once; give each definition its own name")]
    Duplicate(String),
    #[error(
        "segment `{segment}` uses `in segment {missing}`, but no segment is named `{missing}`{hint}"
    )]
    UnknownSegment {
        segment: String,
        missing: String,
        /// `", did you mean `x`?"` or empty.
        hint: String,
    },
    #[error(
        "segments depend on each other in a circle ({}); membership would have no answer, so \
         break the circle",
        .0.join(" -> ")
    )]
    Cycle(Vec<String>),
    #[error("segment `{segment}`: {message}")]
    Invalid { segment: String, message: String },
}

/// A segment's condition, compiled.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    Atom(u32),
    Segment(u32),
    Not(Box<Expr>),
    All(Box<[Expr]>),
    Any(Box<[Expr]>),
    AtLeast(u32, Box<[Expr]>),
}

/// A compiled, validated set of segment definitions.
#[derive(Clone, Debug)]
pub struct Program {
    pub(crate) names: Vec<SegmentName>,
    pub(crate) defs: Vec<Definition>,
    pub(crate) index: HashMap<String, u32>,
    /// Segment indexes, dependencies first.
    pub(crate) order: Vec<u32>,
    pub(crate) exprs: Vec<Expr>,
    pub(crate) trackers: Vec<Tracker>,
    pub(crate) atoms: Vec<Atom>,
    /// Atoms by tracker.
    pub(crate) tracker_atoms: Vec<Vec<u32>>,
    pub(crate) routes: Vec<Route>,
    pub(crate) by_event: HashMap<Box<str>, u32, BuildHasherDefault<NameHasher>>,
    /// Messages whose event name no tracker selects (and page, screen, group, alias calls).
    pub(crate) route_other: u32,
    pub(crate) route_identify: u32,
    /// The slot shape of each tracker (see [`Slot::shape`](super::state::Slot::shape)).
    pub(crate) shapes: Vec<u8>,
    /// Each atom's value for a profile with nothing tracked (it does not depend on time).
    pub(crate) unset: Vec<bool>,
    fingerprint: u64,
}

impl Program {
    /// Validates and compiles definitions; segment indexes follow their order.
    pub fn compile(defs: &[Definition]) -> Result<Program, CompileError> {
        let mut index = HashMap::new();
        for (i, d) in defs.iter().enumerate() {
            if index.insert(d.name.as_str().to_owned(), i as u32).is_some() {
                return Err(CompileError::Duplicate(d.name.to_string()));
            }
        }
        let deps = defs
            .iter()
            .map(|d| {
                let mut refs = Vec::new();
                segment_refs(&d.condition, &mut refs);
                refs.into_iter()
                    .map(|r| {
                        index
                            .get(r)
                            .copied()
                            .ok_or_else(|| CompileError::UnknownSegment {
                                segment: d.name.to_string(),
                                missing: r.to_owned(),
                                hint: suggest(r, defs),
                            })
                    })
                    .collect::<Result<Vec<u32>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let order = topological(&deps, defs)?;

        let mut b = Builder::default();
        let exprs = defs
            .iter()
            .map(|d| {
                b.expr(&d.condition, &index)
                    .map_err(|message| CompileError::Invalid {
                        segment: d.name.to_string(),
                        message,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let mut tracker_atoms = vec![Vec::new(); b.trackers.len()];
        for (i, atom) in b.atoms.iter().enumerate() {
            tracker_atoms[atom.tracker as usize].push(i as u32);
        }
        let shapes = b.trackers.iter().map(|t| t.empty_slot().shape()).collect();
        let mut program = Program {
            names: defs.iter().map(|d| d.name.clone()).collect(),
            defs: defs.to_vec(),
            index,
            order,
            exprs,
            trackers: b.trackers,
            atoms: b.atoms,
            tracker_atoms,
            routes: Vec::new(),
            by_event: HashMap::default(),
            route_other: 0,
            route_identify: 0,
            shapes,
            unset: Vec::new(),
            fingerprint: fingerprint(defs),
        };
        program.unset = (0..program.atoms.len() as u32)
            .map(|a| program.atom_value(a, None, 0))
            .collect();
        program.build_routes(&deps);
        Ok(program)
    }

    /// The segments, by [`SegmentIdx`].
    pub fn segments(&self) -> &[SegmentName] {
        &self.names
    }

    pub fn index_of(&self, name: &str) -> Option<SegmentIdx> {
        self.index.get(name).map(|&i| SegmentIdx(i))
    }

    /// The definitions, by [`SegmentIdx`].
    pub fn definitions(&self) -> &[Definition] {
        &self.defs
    }

    /// A stable hash of the definitions: states made by a program with another fingerprint must
    /// be rebuilt (backfilled).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Whether a track event with this name (`None`: any other message) can change any
    /// segment; callers can skip reading the bodies of messages that cannot.
    pub fn depends_on_event(&self, name: Option<&str>) -> bool {
        match name {
            Some(n) if super::input::OWN_EVENTS.contains(&n) => false,
            Some(n) => {
                self.by_event.contains_key(n)
                    || !self.routes[self.route_other as usize].trackers.is_empty()
            }
            None => !self.routes[self.route_identify as usize]
                .trackers
                .is_empty(),
        }
    }

    /// Like [`Program::depends_on_event`], knowing the message kind.
    pub fn depends_on(&self, kind: herald_core::MessageKind, name: Option<&str>) -> bool {
        use herald_core::MessageKind as K;
        match kind {
            K::Track => self.depends_on_event(name),
            K::Identify => !self.routes[self.route_identify as usize]
                .trackers
                .is_empty(),
            _ => !self.routes[self.route_other as usize].trackers.is_empty(),
        }
    }
}

fn fingerprint(defs: &[Definition]) -> u64 {
    // FNV-1a over the JSON form, which is stable across builds (unlike `Debug`).
    let text = serde_json::to_string(defs).unwrap_or_default();
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn segment_refs<'c>(c: &'c Condition, out: &mut Vec<&'c str>) {
    match c {
        Condition::All { of } | Condition::Any { of } | Condition::AtLeast { of, .. } => {
            of.iter().for_each(|c| segment_refs(c, out));
        }
        Condition::Not { condition } => segment_refs(condition, out),
        Condition::Segment { name } => out.push(name.as_str()),
        _ => {}
    }
}

pub(crate) fn expr_atoms(e: &Expr, out: &mut Vec<u32>) {
    match e {
        Expr::Atom(a) => out.push(*a),
        Expr::Segment(_) => {}
        Expr::Not(e) => expr_atoms(e, out),
        Expr::All(es) | Expr::Any(es) | Expr::AtLeast(_, es) => {
            es.iter().for_each(|e| expr_atoms(e, out));
        }
    }
}

/// Segment indexes with every segment after those it refers to; a cycle is an error naming it.
fn topological(deps: &[Vec<u32>], defs: &[Definition]) -> Result<Vec<u32>, CompileError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        s: u32,
        deps: &[Vec<u32>],
        marks: &mut [Mark],
        path: &mut Vec<u32>,
        order: &mut Vec<u32>,
    ) -> Result<(), Vec<u32>> {
        match marks[s as usize] {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let from = path.iter().position(|&p| p == s).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(s);
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[s as usize] = Mark::Active;
        path.push(s);
        for &d in &deps[s as usize] {
            visit(d, deps, marks, path, order)?;
        }
        path.pop();
        marks[s as usize] = Mark::Done;
        order.push(s);
        Ok(())
    }
    let mut marks = vec![Mark::New; deps.len()];
    let mut order = Vec::with_capacity(deps.len());
    for s in 0..deps.len() as u32 {
        visit(s, deps, &mut marks, &mut Vec::new(), &mut order).map_err(|cycle| {
            CompileError::Cycle(
                cycle
                    .into_iter()
                    .map(|i| defs[i as usize].name.to_string())
                    .collect(),
            )
        })?;
    }
    Ok(order)
}

/// `", did you mean `x`?"` for the closest defined name, if one is close.
fn suggest(missing: &str, defs: &[Definition]) -> String {
    let distance = |a: &str, b: &str| -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut diagonal = row[0];
            row[0] = i + 1;
            for (j, &cb) in b.iter().enumerate() {
                let next = (diagonal + usize::from(ca != cb))
                    .min(row[j] + 1)
                    .min(row[j + 1] + 1);
                diagonal = row[j + 1];
                row[j + 1] = next;
            }
        }
        row[b.len()]
    };
    defs.iter()
        .map(|d| (distance(missing, d.name.as_str()), d.name.as_str()))
        .filter(|&(dist, name)| dist <= 2.max(name.len() / 4))
        .min()
        .map(|(_, name)| format!(", did you mean `{name}`?"))
        .unwrap_or_default()
}
