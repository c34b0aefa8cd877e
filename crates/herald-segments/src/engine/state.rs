//! A profile's engine state, and its compact byte encoding.
//!
//! The state is sparse: a profile only has a slot for the trackers (tallies, occurrences,
//! sequences, traits) its messages touched, so a profile with three kinds of event pays for
//! three slots, however many segments there are. Memberships are a bit set.
//!
//! # Encoding
//!
//! `encode` writes a versioned, self-delimiting byte string: LEB128 varints, zigzag for signed
//! numbers, times relative to the state's `now` and sorted lists as gaps, integral numbers as
//! varints. It does not record which [`Program`](super::Program) made the state: a state is
//! only meaningful with the program that made it, so the store keys states by
//! [`Program::fingerprint`](super::Program::fingerprint) and backfills when it changes. A
//! state whose slots do not fit the program is treated as empty where they do not fit; it never
//! makes the engine panic.

use super::input::Key;
use super::marks::{OccurState, TraitState};
use super::sequence::{FirstEvent, SecondEvent, SeqState};
use super::sum::ExactSum;
use super::tally::{NumEver, Sample, TallyState, X};
use super::time::Ms;

/// One tracker's state.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Slot {
    Tally(TallyState),
    Occur(OccurState),
    // Boxed: rare and larger than the rest, they would widen every slot.
    Seq(Box<SeqState>),
    Trait(Box<TraitState>),
}

/// Everything the engine remembers about one profile.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileState {
    /// The latest instant the state was brought to (`Ms::MIN`: never).
    pub(crate) now: Ms,
    /// No membership can change before this instant without new input (a lower bound).
    pub(crate) wake: Ms,
    /// Membership bits by segment index.
    pub(crate) members: Vec<u64>,
    /// Slots by tracker index, sorted, only for trackers that hold something.
    pub(crate) slots: Vec<(u32, Slot)>,
}

/// Why a byte string is not a profile state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt segment state: {0}")]
pub struct DecodeError(&'static str);

const VERSION: u8 = 1;

/// Inserts into a vector growing it by one element at most: states hold many short vectors, and
/// doubling would leave most of their memory unused.
pub(crate) fn insert_tight<T>(v: &mut Vec<T>, i: usize, x: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(1);
    }
    v.insert(i, x);
}

impl Slot {
    /// Which kind of state this is (compared with the program's `shapes`).
    pub(crate) fn shape(&self) -> u8 {
        match self {
            Slot::Tally(TallyState::Times(_)) => 0,
            Slot::Tally(TallyState::CountEver { .. }) => 1,
            Slot::Tally(TallyState::Nums(_)) => 2,
            Slot::Tally(TallyState::NumEver(_)) => 3,
            Slot::Tally(TallyState::Samples(_)) => 4,
            Slot::Occur(OccurState::First(_)) => 5,
            Slot::Occur(OccurState::Last { .. }) => 6,
            Slot::Seq(_) => 7,
            Slot::Trait(_) => 8,
        }
    }
}

impl ProfileState {
    pub(crate) fn new(segments: usize) -> ProfileState {
        ProfileState {
            now: Ms::MIN,
            // A new profile is evaluated at its first instant: empty profiles can be members.
            wake: Ms::MIN,
            members: vec![0; segments.div_ceil(64)],
            slots: Vec::new(),
        }
    }

    pub(crate) fn slot(&self, tracker: u32) -> Option<&Slot> {
        self.slots
            .binary_search_by_key(&tracker, |(t, _)| *t)
            .ok()
            .map(|i| &self.slots[i].1)
    }

    /// The slot of `tracker`, created by `make` when missing.
    pub(crate) fn slot_mut(&mut self, tracker: u32, make: impl FnOnce() -> Slot) -> &mut Slot {
        let i = match self.slots.binary_search_by_key(&tracker, |(t, _)| *t) {
            Ok(i) => i,
            Err(i) => {
                insert_tight(&mut self.slots, i, (tracker, make()));
                i
            }
        };
        &mut self.slots[i].1
    }

    pub(crate) fn remove_slot(&mut self, tracker: u32) {
        if let Ok(i) = self.slots.binary_search_by_key(&tracker, |(t, _)| *t) {
            self.slots.remove(i);
        }
    }

    pub(crate) fn bit(&self, seg: usize) -> bool {
        self.members
            .get(seg / 64)
            .is_some_and(|w| w & (1 << (seg % 64)) != 0)
    }

    /// The instant the state was last brought to, if ever.
    pub fn now(&self) -> Option<jiff::Timestamp> {
        (self.now != Ms::MIN)
            .then(|| super::time::from_ms(self.now))
            .flatten()
    }

    /// Bytes this state holds on the heap (plus `size_of::<ProfileState>()` inline).
    pub fn heap_bytes(&self) -> usize {
        let slots: usize = self.slots.iter().map(|(_, s)| slot_heap(s)).sum();
        self.members.capacity() * 8 + self.slots.capacity() * size_of::<(u32, Slot)>() + slots
    }

    /// The compact byte form (see the module documentation).
    pub fn encode(&self) -> Vec<u8> {
        let base = if self.now == Ms::MIN { 0 } else { self.now };
        // `now` is written relative to 0 and is the base for every time after it.
        let mut w = Writer {
            buf: Vec::with_capacity(64),
            base: 0,
        };
        w.buf.push(VERSION);
        w.opt_time(self.now, Ms::MIN);
        w.base = base;
        w.opt_time(self.wake, Ms::MAX);
        w.u(self.members.len() as u64);
        self.members.iter().for_each(|&m| w.u(m));
        w.u(self.slots.len() as u64);
        let mut previous = 0;
        for (tracker, slot) in &self.slots {
            w.u(u64::from(tracker - previous));
            previous = *tracker;
            w.slot(slot);
        }
        w.buf
    }

    pub fn decode(bytes: &[u8]) -> Result<ProfileState, DecodeError> {
        let (&version, rest) = bytes.split_first().ok_or(DecodeError("empty"))?;
        if version != VERSION {
            return Err(DecodeError("unknown version"));
        }
        let mut r = Reader { rest, base: 0 };
        let now = r.opt_time(Ms::MIN)?;
        r.base = if now == Ms::MIN { 0 } else { now };
        let wake = r.opt_time(Ms::MAX)?;
        let words = r.len()?;
        let members = (0..words).map(|_| r.u()).collect::<Result<_, _>>()?;
        let n = r.len()?;
        let mut slots = Vec::with_capacity(n);
        let mut tracker: u32 = 0;
        for _ in 0..n {
            let gap = u32::try_from(r.u()?).map_err(|_| DecodeError("tracker index"))?;
            tracker = tracker
                .checked_add(gap)
                .ok_or(DecodeError("tracker index"))?;
            if slots.last().is_some_and(|(t, _)| *t >= tracker) {
                return Err(DecodeError("slots out of order"));
            }
            slots.push((tracker, r.slot()?));
        }
        if !r.rest.is_empty() {
            return Err(DecodeError("trailing bytes"));
        }
        Ok(ProfileState {
            now,
            wake,
            members,
            slots,
        })
    }
}

fn slot_heap(slot: &Slot) -> usize {
    let key = |k: &Option<Key>| k.as_ref().map_or(0, |k| k.len());
    match slot {
        Slot::Tally(TallyState::Times(v)) => v.capacity() * 8,
        Slot::Tally(TallyState::CountEver { future, .. }) => future.capacity() * 8,
        Slot::Tally(TallyState::Nums(v)) => v.capacity() * 16,
        Slot::Tally(TallyState::NumEver(agg)) => {
            size_of::<NumEver>() + agg.sum.heap_bytes() + agg.future.capacity() * 16
        }
        Slot::Tally(TallyState::Samples(v)) => {
            v.capacity() * size_of::<Sample>()
                + v.iter()
                    .map(|s| {
                        key(&s.group)
                            + match &s.x {
                                X::Key(k) => k.len(),
                                _ => 0,
                            }
                    })
                    .sum::<usize>()
        }
        Slot::Occur(OccurState::First(_)) => 0,
        Slot::Occur(OccurState::Last { future, .. }) => future.capacity() * 8,
        Slot::Seq(seq) => {
            size_of::<SeqState>()
                + seq.firsts.capacity() * size_of::<FirstEvent>()
                + seq.seconds.capacity() * size_of::<SecondEvent>()
                + seq.firsts.iter().map(|f| key(&f.key)).sum::<usize>()
                + seq.seconds.iter().map(|s| key(&s.key)).sum::<usize>()
        }
        Slot::Trait(t) => size_of::<TraitState>() + t.future.capacity() * 16,
    }
}

struct Writer {
    buf: Vec<u8>,
    base: Ms,
}

impl Writer {
    fn u(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn i(&mut self, v: i64) {
        self.u(((v << 1) ^ (v >> 63)) as u64);
    }

    /// Integral numbers as varints (even tags), anything else as 8 raw bytes after a 1.
    fn f(&mut self, x: f64) {
        let integral =
            x.fract() == 0.0 && x.abs() < 2f64.powi(52) && !(x == 0.0 && x.is_sign_negative());
        if integral {
            let v = x as i64;
            self.u((((v << 1) ^ (v >> 63)) as u64) << 1);
        } else {
            self.u(1);
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
    }

    /// A time relative to the base; `sentinel` (meaning "none") as 0.
    fn opt_time(&mut self, ts: Ms, sentinel: Ms) {
        if ts == sentinel {
            self.u(0);
        } else {
            let rel = ts.wrapping_sub(self.base);
            self.u((((rel << 1) ^ (rel >> 63)) as u64).wrapping_add(1));
        }
    }

    fn time(&mut self, ts: Ms) {
        self.i(ts.wrapping_sub(self.base));
    }

    /// Sorted times: the first relative to the base, the rest as gaps.
    fn times(&mut self, times: impl ExactSizeIterator<Item = Ms>) {
        self.u(times.len() as u64);
        let mut previous = None;
        for ts in times {
            match previous {
                None => self.time(ts),
                Some(p) => self.u(ts.wrapping_sub(p) as u64),
            }
            previous = Some(ts);
        }
    }

    fn key(&mut self, key: &Option<Key>) {
        match key {
            None => self.u(0),
            Some(k) => {
                self.u(k.len() as u64 + 1);
                self.buf.extend_from_slice(k.as_bytes());
            }
        }
    }

    fn slot(&mut self, slot: &Slot) {
        match slot {
            Slot::Tally(TallyState::Times(v)) => {
                self.u(0);
                self.times(v.iter().copied());
            }
            Slot::Tally(TallyState::CountEver { past, future }) => {
                self.u(1);
                self.u(u64::from(*past));
                self.times(future.iter().copied());
            }
            Slot::Tally(TallyState::Nums(v)) => {
                self.u(2);
                self.times(v.iter().map(|(t, _)| *t));
                v.iter().for_each(|(_, x)| self.f(*x));
            }
            Slot::Tally(TallyState::NumEver(agg)) => {
                self.u(3);
                self.u(agg.n);
                self.u(agg.sum.partials().len() as u64);
                agg.sum.partials().iter().for_each(|&p| self.f(p));
                self.f(agg.min);
                self.f(agg.max);
                self.times(agg.future.iter().map(|(t, _)| *t));
                agg.future.iter().for_each(|(_, x)| self.f(*x));
            }
            Slot::Tally(TallyState::Samples(v)) => {
                self.u(4);
                self.u(v.len() as u64);
                for s in v {
                    self.time(s.ts);
                    self.key(&s.group);
                    match &s.x {
                        X::Mark => self.u(0),
                        X::Num(x) => {
                            self.u(1);
                            self.f(*x);
                        }
                        X::Key(k) => {
                            self.u(2);
                            self.key(&Some(k.clone()));
                        }
                    }
                }
            }
            Slot::Occur(OccurState::First(ts)) => {
                self.u(5);
                self.opt_time(*ts, Ms::MAX);
            }
            Slot::Occur(OccurState::Last { past, future }) => {
                self.u(6);
                self.opt_time(*past, Ms::MIN);
                self.times(future.iter().copied());
            }
            Slot::Seq(seq) => {
                self.u(7);
                self.times(seq.firsts.iter().map(|f| f.ts));
                for f in &seq.firsts {
                    self.key(&f.key);
                    self.opt_time(f.followed, Ms::MAX);
                }
                self.times(seq.seconds.iter().map(|s| s.ts));
                seq.seconds.iter().for_each(|s| self.key(&s.key));
            }
            Slot::Trait(t) => {
                self.u(8);
                self.opt_time(t.ts, Ms::MIN);
                self.i(t.reading);
                self.times(t.future.iter().map(|(ts, _)| *ts));
                t.future.iter().for_each(|(_, r)| self.i(*r));
            }
        }
    }
}

struct Reader<'a> {
    rest: &'a [u8],
    base: Ms,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.rest.split_first().ok_or(DecodeError("truncated"))?;
        self.rest = rest;
        Ok(b)
    }

    fn u(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError("varint too long"))
    }

    fn i(&mut self) -> Result<i64, DecodeError> {
        let v = self.u()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// A count of items, each at least one byte long (so corrupt lengths cannot allocate much).
    fn len(&mut self) -> Result<usize, DecodeError> {
        let n = self.u()?;
        if n > self.rest.len() as u64 {
            return Err(DecodeError("length beyond the end"));
        }
        Ok(n as usize)
    }

    fn f(&mut self) -> Result<f64, DecodeError> {
        let tag = self.u()?;
        if tag & 1 == 0 {
            let v = tag >> 1;
            Ok((((v >> 1) as i64) ^ -((v & 1) as i64)) as f64)
        } else if tag == 1 {
            if self.rest.len() < 8 {
                return Err(DecodeError("truncated number"));
            }
            let (bytes, rest) = self.rest.split_at(8);
            self.rest = rest;
            Ok(f64::from_le_bytes(bytes.try_into().expect("8 bytes")))
        } else {
            Err(DecodeError("number tag"))
        }
    }

    fn opt_time(&mut self, sentinel: Ms) -> Result<Ms, DecodeError> {
        let v = self.u()?;
        if v == 0 {
            return Ok(sentinel);
        }
        let v = v - 1;
        let rel = ((v >> 1) as i64) ^ -((v & 1) as i64);
        Ok(self.base.wrapping_add(rel))
    }

    fn time(&mut self) -> Result<Ms, DecodeError> {
        Ok(self.base.wrapping_add(self.i()?))
    }

    fn times(&mut self) -> Result<Vec<Ms>, DecodeError> {
        let n = self.len()?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let ts = if i == 0 {
                self.time()?
            } else {
                let gap = i64::try_from(self.u()?).map_err(|_| DecodeError("time gap"))?;
                Ms::checked_add(out[i - 1], gap).ok_or(DecodeError("time gap"))?
            };
            out.push(ts);
        }
        Ok(out)
    }

    fn key(&mut self) -> Result<Option<Key>, DecodeError> {
        let n = self.u()?;
        if n == 0 {
            return Ok(None);
        }
        let n = usize::try_from(n - 1).map_err(|_| DecodeError("key length"))?;
        if n > self.rest.len() {
            return Err(DecodeError("key beyond the end"));
        }
        let (bytes, rest) = self.rest.split_at(n);
        self.rest = rest;
        let s = std::str::from_utf8(bytes).map_err(|_| DecodeError("key is not UTF-8"))?;
        Ok(Some(s.into()))
    }

    fn nums(&mut self, times: Vec<Ms>) -> Result<Vec<(Ms, f64)>, DecodeError> {
        times.into_iter().map(|t| Ok((t, self.f()?))).collect()
    }

    fn slot(&mut self) -> Result<Slot, DecodeError> {
        Ok(match self.u()? {
            0 => Slot::Tally(TallyState::Times(self.times()?)),
            1 => {
                let past = u32::try_from(self.u()?).map_err(|_| DecodeError("count"))?;
                Slot::Tally(TallyState::CountEver {
                    past,
                    future: self.times()?,
                })
            }
            2 => {
                let times = self.times()?;
                Slot::Tally(TallyState::Nums(self.nums(times)?))
            }
            3 => {
                let n = self.u()?;
                let parts = self.len()?;
                let partials = (0..parts).map(|_| self.f()).collect::<Result<_, _>>()?;
                let (min, max) = (self.f()?, self.f()?);
                let times = self.times()?;
                Slot::Tally(TallyState::NumEver(Box::new(NumEver {
                    n,
                    sum: ExactSum::from_partials(partials),
                    min,
                    max,
                    future: self.nums(times)?,
                })))
            }
            4 => {
                let n = self.len()?;
                let mut samples = Vec::with_capacity(n);
                for _ in 0..n {
                    let ts = self.time()?;
                    let group = self.key()?;
                    let x = match self.u()? {
                        0 => X::Mark,
                        1 => X::Num(self.f()?),
                        2 => X::Key(self.key()?.ok_or(DecodeError("sample key"))?),
                        _ => return Err(DecodeError("sample tag")),
                    };
                    samples.push(Sample { ts, group, x });
                }
                Slot::Tally(TallyState::Samples(samples))
            }
            5 => Slot::Occur(OccurState::First(self.opt_time(Ms::MAX)?)),
            6 => {
                let past = self.opt_time(Ms::MIN)?;
                Slot::Occur(OccurState::Last {
                    past,
                    future: self.times()?,
                })
            }
            7 => {
                let times = self.times()?;
                let mut firsts = Vec::with_capacity(times.len());
                for ts in times {
                    let key = self.key()?;
                    let followed = self.opt_time(Ms::MAX)?;
                    firsts.push(FirstEvent { ts, key, followed });
                }
                let times = self.times()?;
                let seconds = times
                    .into_iter()
                    .map(|ts| {
                        Ok(SecondEvent {
                            ts,
                            key: self.key()?,
                        })
                    })
                    .collect::<Result<_, DecodeError>>()?;
                Slot::Seq(Box::new(SeqState { firsts, seconds }))
            }
            8 => {
                let ts = self.opt_time(Ms::MIN)?;
                let reading = self.i()?;
                let times = self.times()?;
                let future = times
                    .into_iter()
                    .map(|t| Ok((t, self.i()?)))
                    .collect::<Result<_, DecodeError>>()?;
                Slot::Trait(Box::new(TraitState {
                    ts,
                    reading,
                    future,
                }))
            }
            _ => return Err(DecodeError("slot tag")),
        })
    }
}
