//! The event log as the engine replays it.
//!
//! Recomputing segments from the store means reading every row of the log and parsing every
//! JSON body, which is nearly all of a backfill's time. So the segmenter keeps, in memory, every
//! profile's messages in a compact form: kind, event name, time, and only the property and trait
//! values that some rule reads ([`PropertyNeeds`]), interned. It is built by one scan of the log
//! when a backfill first needs it (or needs values it lacks), then extended as the segmenter
//! follows the log, so later backfills replay memory only, on every core.
//!
//! Per message: a varint header (event name id, whether values follow, kind), the time as a
//! zigzag varint delta from the profile's previous message, then the values as varint
//! `(key, value)` id pairs. About six bytes a message.
//!
//! An erasure drops the whole cache (rebuilt when next needed): interned values are shared, so
//! this is the simple way to keep nothing of an erased person.

use crate::SegmenterError;
use crate::inputs::{self, Parsed, PropertyNeeds};
use herald_core::{MessageKind, ProfileId, StoredEvent, Timestamp};
use herald_segments::engine::{EventRoute, Input, OWN_EVENTS, Pairs, ProfileState, Program, Props};
use herald_store::{BodyFilter, Store};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) struct ReplayLog {
    needs: PropertyNeeds,
    names: Table,
    keys: Table,
    values: Values,
    profiles: HashMap<ProfileId, History>,
    messages: u64,
    /// Key ids kept, by event name id + 1 (0: identify traits), filled as names appear.
    kept: Vec<Option<Arc<[u32]>>>,
}

/// One profile's messages, encoded.
#[derive(Default)]
struct History {
    last_ms: i64,
    bytes: Vec<u8>,
}

/// Interned strings: id to text and back.
#[derive(Default)]
struct Table {
    texts: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
}

impl Table {
    fn id(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = self.texts.len() as u32;
        self.texts.push(text.into());
        self.ids.insert(text.into(), id);
        id
    }
}

/// Interned values: strings by their text, anything else by its JSON text.
#[derive(Default)]
struct Values {
    all: Vec<Value>,
    strings: HashMap<Box<str>, u32>,
    others: HashMap<String, u32>,
}

impl Values {
    fn id(&mut self, v: &Value) -> u32 {
        let next = self.all.len() as u32;
        let id = match v {
            Value::String(s) => match self.strings.get(s.as_str()) {
                Some(&id) => return id,
                None => {
                    self.strings.insert(s.as_str().into(), next);
                    next
                }
            },
            other => *self.others.entry(other.to_string()).or_insert(next),
        };
        if id == next {
            self.all.push(v.clone());
        }
        id
    }
}

const KINDS: [MessageKind; 6] = MessageKind::ALL;

/// Messages read from the store at a time while building.
const SCAN_PAGE: usize = 32_768;

fn kind_code(kind: MessageKind) -> u64 {
    KINDS
        .iter()
        .position(|k| *k == kind)
        .expect("every kind is listed") as u64
}

impl ReplayLog {
    /// Reads the log up to position `upto`, keeping the values `needs` names.
    pub(crate) async fn build(
        store: Arc<dyn Store>,
        needs: PropertyNeeds,
        upto: u64,
    ) -> Result<ReplayLog, SegmenterError> {
        let mut log = ReplayLog {
            needs,
            names: Table::default(),
            keys: Table::default(),
            values: Values::default(),
            profiles: HashMap::new(),
            messages: 0,
            kept: Vec::new(),
        };
        // Id 0 is "no event name".
        log.names.id("");
        let needs = log.needs.clone();
        let wanted: BodyFilter = Arc::new(move |kind, name| match kind {
            MessageKind::Identify => !needs.trait_keys().is_empty(),
            _ => needs.reads(name),
        });
        // The store reads the next page while this one is encoded.
        let fetch = |after: u64| {
            let (store, wanted) = (store.clone(), wanted.clone());
            tokio::spawn(async move { store.scan_events_sparse(after, SCAN_PAGE, wanted).await })
        };
        let mut next = (upto > 0).then(|| fetch(0));
        while let Some(pending) = next.take() {
            let page = pending
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
            let Some(last) = page.last() else { break };
            if last.seq < upto {
                next = Some(fetch(last.seq));
            }
            for e in page.iter().filter(|e| e.seq <= upto) {
                log.append(e, None);
            }
        }
        Ok(log)
    }

    pub(crate) fn needs(&self) -> &PropertyNeeds {
        &self.needs
    }

    /// Messages held.
    pub(crate) fn messages(&self) -> u64 {
        self.messages
    }

    /// Approximate bytes of memory held: encoded messages, per-profile entries and interned
    /// texts and values.
    pub(crate) fn bytes(&self) -> usize {
        let entry = size_of::<(ProfileId, History)>() + 8;
        let texts = |t: &Table| t.texts.iter().map(|s| 2 * s.len() + 48).sum::<usize>();
        self.profiles
            .values()
            .map(|h| h.bytes.capacity() + entry)
            .sum::<usize>()
            + texts(&self.names)
            + texts(&self.keys)
            + self.values.all.len() * (size_of::<Value>() + 48)
    }

    /// Adds a message read from the log; `parsed` is its body if the caller has parsed it.
    pub(crate) fn append(&mut self, e: &StoredEvent, parsed: Option<&Parsed>) {
        let name = match e.kind {
            MessageKind::Track => e.name.as_deref(),
            _ => None,
        };
        if name.is_some_and(|n| OWN_EVENTS.contains(&n)) {
            return;
        }
        let name_id = name.map_or(0, |n| self.names.id(n));
        let keys = self.kept_keys(e.kind, name_id);
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        if !keys.is_empty() {
            let identify = e.kind == MessageKind::Identify;
            let id_of = |key: &str| {
                keys.iter()
                    .find(|&&k| &*self.keys.texts[k as usize] == key)
                    .copied()
            };
            let found: Vec<(u32, Value)> = match parsed {
                Some(p) => {
                    let map = if identify {
                        p.traits.as_ref()
                    } else {
                        Some(&p.properties)
                    };
                    map.into_iter()
                        .flatten()
                        .filter_map(|(k, v)| id_of(k).map(|id| (id, v.clone())))
                        .collect()
                }
                None => {
                    let section = if identify { "traits" } else { "properties" };
                    inputs::pick(&e.body, section, &id_of)
                }
            };
            pairs = found
                .into_iter()
                .map(|(k, v)| (k, self.values.id(&v)))
                .collect();
        }
        let ms = e.timestamp.as_millisecond();
        let history = self.profiles.entry(e.profile_id).or_default();
        let header =
            (u64::from(name_id) << 4) | (u64::from(!pairs.is_empty()) << 3) | kind_code(e.kind);
        put(&mut history.bytes, header);
        put(&mut history.bytes, zigzag(ms.wrapping_sub(history.last_ms)));
        history.last_ms = ms;
        if !pairs.is_empty() {
            put(&mut history.bytes, pairs.len() as u64);
            for (k, v) in pairs {
                put(&mut history.bytes, u64::from(k));
                put(&mut history.bytes, u64::from(v));
            }
        }
        self.messages += 1;
    }

    /// Ids of the keys kept for messages of this kind and event name id (looked up once per
    /// name).
    fn kept_keys(&mut self, kind: MessageKind, name_id: u32) -> Arc<[u32]> {
        let slot = match kind {
            MessageKind::Identify => 0,
            _ => name_id as usize + 1,
        };
        if let Some(Some(keys)) = self.kept.get(slot) {
            return keys.clone();
        }
        let texts: Vec<String> = match kind {
            MessageKind::Identify => self.needs.trait_keys().iter().cloned().collect(),
            _ => {
                let name = (name_id != 0).then(|| &*self.names.texts[name_id as usize]);
                self.needs.keys(name).map(str::to_owned).collect()
            }
        };
        let mut ids: Vec<u32> = texts.iter().map(|k| self.keys.id(k)).collect();
        ids.sort_unstable();
        ids.dedup();
        let ids: Arc<[u32]> = ids.into();
        if self.kept.len() <= slot {
            self.kept.resize(slot + 1, None);
        }
        self.kept[slot] = Some(ids.clone());
        ids
    }

    /// Replaces a profile's messages (after a merge: the surviving profile's whole history).
    pub(crate) fn replace(&mut self, profile: ProfileId, history: &[StoredEvent]) {
        if let Some(old) = self.profiles.remove(&profile) {
            self.messages -= count(&old);
        }
        for e in history {
            self.append(e, None);
        }
    }

    pub(crate) fn remove(&mut self, profile: ProfileId) {
        if let Some(old) = self.profiles.remove(&profile) {
            self.messages -= count(&old);
        }
    }

    /// Every profile's state under `program` at `now`, from its messages, computed on every
    /// core. Profiles with no message the program looks at get no state.
    pub(crate) fn replay(
        &self,
        program: &Program,
        now: Timestamp,
    ) -> HashMap<ProfileId, ProfileState> {
        let depends: Vec<bool> = self
            .names
            .texts
            .iter()
            .map(|n| program.depends_on(MessageKind::Track, Some(n)))
            .collect();
        let kinds: Vec<bool> = KINDS
            .iter()
            .map(|k| *k != MessageKind::Track && program.depends_on(*k, None))
            .collect();
        let name_routes: Vec<EventRoute> = self
            .names
            .texts
            .iter()
            .map(|n| program.route_of(MessageKind::Track, Some(n)))
            .collect();
        let kind_routes: Vec<EventRoute> =
            KINDS.iter().map(|k| program.route_of(*k, None)).collect();
        let profiles: Vec<(&ProfileId, &History)> = self.profiles.iter().collect();
        let ctx = Replay {
            log: self,
            program,
            now,
            depends: &depends,
            kinds: &kinds,
            name_routes: &name_routes,
            kind_routes: &kind_routes,
        };
        // Small parts, so that threads that finish early take more.
        let results: Vec<Vec<(ProfileId, ProfileState)>> = profiles
            .par_chunks(2048)
            .map(|part| ctx.run(part))
            .collect();
        let mut states = HashMap::with_capacity(results.iter().map(Vec::len).sum());
        for part in results {
            states.extend(part);
        }
        states
    }
}

/// One backfill's view of the log, shared by its threads.
struct Replay<'a> {
    log: &'a ReplayLog,
    program: &'a Program,
    now: Timestamp,
    /// By event name id: whether the program looks at the event.
    depends: &'a [bool],
    /// By kind code: whether the program looks at messages of that kind other than track.
    kinds: &'a [bool],
    /// Routes by event name id, and by kind code for other messages.
    name_routes: &'a [EventRoute],
    kind_routes: &'a [EventRoute],
}

/// A decoded message; its values are `pairs[start..end]` of the scratch buffer.
struct Message {
    kind: MessageKind,
    name: u32,
    ms: i64,
    start: u32,
    end: u32,
}

impl Replay<'_> {
    /// States of some profiles.
    fn run(&self, part: &[(&ProfileId, &History)]) -> Vec<(ProfileId, ProfileState)> {
        let mut out = Vec::new();
        let mut messages = Vec::new();
        let mut pairs = Vec::new();
        for (profile, history) in part {
            messages.clear();
            pairs.clear();
            self.decode(history, &mut messages, &mut pairs);
            if messages.is_empty() {
                continue;
            }
            let inputs = messages.iter().map(|m| {
                let values = Props::Pairs(Pairs {
                    pairs: &pairs[m.start as usize..m.end as usize],
                    keys: &self.log.keys.texts,
                    values: &self.log.values.all,
                });
                let identify = m.kind == MessageKind::Identify;
                let track = m.kind == MessageKind::Track;
                Input {
                    kind: m.kind,
                    name: track.then(|| &*self.log.names.texts[m.name as usize]),
                    timestamp: Timestamp::from_millisecond(m.ms).unwrap_or(Timestamp::MIN),
                    properties: if identify { Props::EMPTY } else { values },
                    traits: identify.then_some(values),
                    route: Some(if track {
                        self.name_routes[m.name as usize]
                    } else {
                        self.kind_routes[kind_code(m.kind) as usize]
                    }),
                }
            });
            let mut state = self.program.new_state();
            self.program.observe_all(&mut state, inputs, self.now);
            out.push((**profile, state));
        }
        out
    }

    /// The profile's messages the program looks at, in log order.
    fn decode(&self, history: &History, out: &mut Vec<Message>, pairs: &mut Vec<(u32, u32)>) {
        let mut bytes = &history.bytes[..];
        let mut ms = 0i64;
        while !bytes.is_empty() {
            let header = take(&mut bytes);
            ms = ms.wrapping_add(unzigzag(take(&mut bytes)));
            let start = pairs.len() as u32;
            let has_values = header & 8 != 0;
            let kind = KINDS[(header & 7) as usize];
            let name = (header >> 4) as u32;
            let wanted = match kind {
                MessageKind::Track => self.depends[name as usize],
                k => self.kinds[kind_code(k) as usize],
            };
            if has_values {
                let n = take(&mut bytes);
                for _ in 0..n {
                    let k = take(&mut bytes) as u32;
                    let v = take(&mut bytes) as u32;
                    if wanted {
                        pairs.push((k, v));
                    }
                }
            }
            if wanted {
                out.push(Message {
                    kind,
                    name,
                    ms,
                    start,
                    end: pairs.len() as u32,
                });
            }
        }
    }
}

fn count(history: &History) -> u64 {
    let mut bytes = &history.bytes[..];
    let mut n = 0;
    while !bytes.is_empty() {
        let header = take(&mut bytes);
        take(&mut bytes);
        if header & 8 != 0 {
            let pairs = take(&mut bytes);
            for _ in 0..pairs * 2 {
                take(&mut bytes);
            }
        }
        n += 1;
    }
    n
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint written by [`put`] (the buffer is ours, so it is well formed).
fn take(bytes: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = bytes[0];
        *bytes = &bytes[1..];
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0i64, 1, -1, 63, -64, 1 << 40, i64::MIN, i64::MAX] {
            let mut buf = Vec::new();
            put(&mut buf, zigzag(v));
            let mut bytes = &buf[..];
            assert_eq!(unzigzag(take(&mut bytes)), v);
            assert!(bytes.is_empty());
        }
    }
}
