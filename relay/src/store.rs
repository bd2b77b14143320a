//! The relay's event store: Nostr events in their own sled database
//! (`<data dir>/relay/db`), with the indexes NIP-01 filters need.
//!
//! One tree (`events`), keys prefixed by a byte naming the index. Every stored
//! event gets the next sequence number (`seq`) and is stored under its kind,
//! time and seq (its *location*), so a filter by kinds reads events straight
//! from their rows, and the other index entries end with the location or
//! its parts. A write is one sled batch, applied atomically: an event and all
//! its index entries appear together or not at all, and a replaced or
//! deleted event leaves with its entries. One thread writes (under a mutex),
//! so the check for a newer replaceable event and the write that follows
//! cannot interleave with another write.
//!
//! | prefix | key                                          | value                |
//! |--------|----------------------------------------------|----------------------|
//! | `S`    | kind · created_at · seq (the location)        | event JSON           |
//! | `I`    | id                                           | location (18 bytes)  |
//! | `D`    | id · deleter (a NIP-09 deletion of an id not stored: refused if that author's event comes) | |
//! | `B`    | author · kind · created_at · seq             |                      |
//! | `T`    | letter · sha256(value)[..16] · created_at · kind · seq |            |
//! | `X`    | expiration · location                        |                      |
//! | `R`    | author · kind · sha256(d)[..16]              | location             |
//! | `Q`    | author · kind · sha256(d)[..16] (deleted coordinate) | until created_at |
//! | `L`    | seq of the first (stored in one batch, not yet indexed for search) | locations, in order |
//! | `M`    | `seq` (the last sequence number given)       | seq                  |
//!
//! Numbers are big-endian, so byte order is time order. There is no index by
//! time alone nor by author alone: a filter with neither kinds nor authors
//! reads `S` once per kind present, and one with authors but no kinds reads
//! `B` once per kind each author used (finding each kind is one seek). Every
//! row an event has is a sled insert, the store's main cost, so an event has
//! as few as its filters need: its row, its id, `B`, one `T` per tag value.
//!
//! A store written by an earlier version (tree `nostr`, events by id) is
//! carried over into this layout when opened, and the old tree dropped.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use nostr::prelude::{Event, EventId, Filter, Kind, MatchEventOptions, PublicKey, Timestamp};

pub(crate) use crate::search::Changes;
use sha2::{Digest, Sha256};

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sled::Error),
    /// A stored event no longer parses (the database is damaged).
    #[error("stored event {0} does not parse")]
    Corrupt(String),
    /// The search index failed.
    #[error("search index: {0}")]
    Search(String),
}

/// What happened to an event handed to [`RelayStore::insert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Stored (and, for a replaceable event, the older version removed).
    Stored,
    /// Already here.
    Duplicate,
    /// A newer version of this replaceable event is here.
    Outdated,
    /// Its author (or the coordinate's) deleted it.
    Deleted,
    /// Its expiration has passed.
    Expired,
}

/// Bounds on one query, set by the relay's policy.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    /// Most events one filter returns (a larger or missing `limit` is cut to it).
    pub max_limit: usize,
    /// Most index entries one query reads, matching or not, so that a filter
    /// asking for the whole database costs a bounded amount of work.
    pub max_scan: usize,
}

/// The relay's events.
#[derive(Debug)]
pub struct RelayStore {
    tree: sled::Tree,
    db: sled::Db,
    /// Held by the writer; holds the last sequence number given.
    write: Mutex<u64>,
    search: crate::search::Search,
}

/// A verified event made ready for the store: its JSON as stored and its
/// index keys, computed where it was verified (on the connection's task,
/// on any core), so the one writer thread only judges and writes.
#[derive(Debug)]
pub struct Prepared {
    event: Arc<Event>,
    json: Vec<u8>,
    /// Index keys, each ending with 8 bytes the writer fills with the seq.
    index: Vec<Vec<u8>>,
    /// The coordinate of a replaceable or addressable event.
    coord: Option<Vec<u8>>,
}

impl Prepared {
    /// Prepares `event` (its JSON, index keys and coordinate).
    pub fn new(event: Arc<Event>) -> Prepared {
        let json = event.as_json();
        Prepared::with_json(event, json)
    }

    /// Prepares `event` whose JSON (`event.as_json()`) is already made.
    pub fn with_json(event: Arc<Event>, json: String) -> Prepared {
        let json = json.into_bytes();
        let index = index_keys(&event, 0);
        let coord = (event.kind.is_replaceable() || event.kind.is_addressable())
            .then(|| coord(&event.pubkey, event.kind, &d_tag(&event)));
        Prepared {
            event,
            json,
            index,
            coord,
        }
    }
}

const ID: u8 = b'I';
const EVENT: u8 = b'S';
const AUTHOR_KIND: u8 = b'B';
const TAG: u8 = b'T';
const LOG: u8 = b'L';
const REPLACEABLE: u8 = b'R';
const EXPIRY: u8 = b'X';
const DELETED_COORD: u8 = b'Q';
const DELETED: u8 = b'D';
const META_SEQ: &[u8] = b"Mseq";
/// The tree of this layout, and of the one before it.
const TREE: &str = "events";
const OLD_TREE: &str = "nostr";

fn be(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// Where an event is stored: kind · created_at · seq (its `S` row's key
/// after the prefix).
pub(crate) type Loc = [u8; LOC];
const LOC: usize = 18;

/// The location of an event of `kind` created at `time`, stored as `seq`.
pub(crate) fn location(kind: u16, time: u64, seq: u64) -> Loc {
    let mut l = [0; LOC];
    l[..2].copy_from_slice(&kind.to_be_bytes());
    l[2..10].copy_from_slice(&time.to_be_bytes());
    l[10..].copy_from_slice(&seq.to_be_bytes());
    l
}

fn loc(e: &Event, seq: u64) -> Loc {
    location(e.kind.as_u16(), e.created_at.as_secs(), seq)
}

fn loc_seq(l: &Loc) -> u64 {
    be(&l[10..])
}

/// A location read from a row, if the row holds one.
fn as_loc(v: &[u8]) -> Option<Loc> {
    v.try_into().ok()
}

fn event_key(l: &Loc) -> [u8; LOC + 1] {
    let mut k = [EVENT; LOC + 1];
    k[1..].copy_from_slice(l);
    k
}

/// The ids of a log row, with their locations and sequence numbers.
fn log_row(v: &[u8]) -> Result<Vec<(u64, Loc)>, StoreError> {
    if v.is_empty() || !v.len().is_multiple_of(LOC) {
        return Err(StoreError::Corrupt("log row".into()));
    }
    Ok(v.chunks_exact(LOC)
        .filter_map(as_loc)
        .map(|l| (loc_seq(&l), l))
        .collect())
}

/// Events stored after `after`, in sequence order, read through the log
/// (whole rows, at least `max` entries if there are): for the search
/// indexer, which follows the store in this order. `None`: removed since.
#[allow(clippy::type_complexity)]
pub(crate) fn events_after(
    tree: &sled::Tree,
    after: u64,
    max: usize,
) -> Result<Vec<(u64, Option<Event>)>, StoreError> {
    // Rows up to `after` are normally trimmed; one left by a failed trim is
    // skipped entry by entry.
    let mut out = Vec::new();
    // From the row holding `after + 1`: the last row starting at or before it.
    let from = match tree.get_lt(key(&[&[LOG], &after.saturating_add(1).to_be_bytes(), &[0]]))? {
        Some((k, _)) if k.first() == Some(&LOG) => k.to_vec(),
        _ => vec![LOG],
    };
    for row in tree.range(from..vec![LOG + 1]) {
        let (_, v) = row?;
        for (seq, l) in log_row(&v)? {
            if seq > after {
                out.push((seq, event_at(tree, &l)?));
            }
        }
        if out.len() >= max {
            break;
        }
    }
    Ok(out)
}

/// Calls `f` with every stored event up to `upto` (and its seq), in
/// storage order (kind, then time): for a search index rebuilt from nothing.
pub(crate) fn for_each_event(
    tree: &sled::Tree,
    upto: u64,
    mut f: impl FnMut(u64, Event) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for row in tree.scan_prefix([EVENT]) {
        let (k, v) = row?;
        let Some(at) = k.get(1..).and_then(as_loc) else {
            return Err(StoreError::Corrupt("event row".into()));
        };
        let seq = loc_seq(&at);
        if seq <= upto {
            f(seq, parse(&v)?)?;
        }
    }
    Ok(())
}

/// Drops log rows whose entries are all up to `upto` (they are indexed).
pub(crate) fn trim_log(tree: &sled::Tree, upto: u64) -> Result<(), StoreError> {
    let end = key(&[&[LOG], &upto.saturating_add(1).to_be_bytes()]);
    let mut batch = sled::Batch::default();
    for row in tree.range(vec![LOG]..end) {
        let (k, v) = row?;
        if log_row(&v)?.last().is_none_or(|(seq, _)| *seq <= upto) {
            batch.remove(k);
        }
    }
    tree.apply_batch(batch)?;
    Ok(())
}

/// One stored event by location.
fn event_at(tree: &sled::Tree, l: &Loc) -> Result<Option<Event>, StoreError> {
    match tree.get(event_key(l))? {
        Some(v) => parse(&v).map(Some),
        None => Ok(None),
    }
}

fn h16(s: &str) -> [u8; 16] {
    let d = Sha256::digest(s.as_bytes());
    let mut out = [0; 16];
    out.copy_from_slice(&d[..16]);
    out
}

fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// The coordinate key of a replaceable (`d` = "") or addressable event.
fn coord(author: &PublicKey, kind: Kind, d: &str) -> Vec<u8> {
    key(&[author.as_bytes(), &kind.as_u16().to_be_bytes(), &h16(d)])
}

/// The `d` of an addressable event; "" for a replaceable one, whatever
/// tags it has (one per author and kind).
fn d_tag(e: &Event) -> String {
    if e.kind.is_addressable() {
        e.tags.identifier().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Index keys of an event stored under `seq` (not its `I` and `S` rows);
/// each ends with the seq.
fn index_keys(e: &Event, seq: u64) -> Vec<Vec<u8>> {
    let t = e.created_at.as_secs().to_be_bytes();
    let s = seq.to_be_bytes();
    let kind = e.kind.as_u16().to_be_bytes();
    let mut keys = vec![key(&[&[AUTHOR_KIND], e.pubkey.as_bytes(), &kind, &t, &s])];
    for tag in e.tags.iter() {
        let (Some(letter), Some(value)) = (tag.single_letter_tag(), tag.content()) else {
            continue;
        };
        let k = key(&[&[TAG, letter.as_byte()], &h16(value), &t, &kind, &s]);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    if let Some(x) = e.tags.expiration() {
        keys.push(key(&[&[EXPIRY], &x.as_secs().to_be_bytes(), &loc(e, seq)]));
    }
    keys
}

fn parse(bytes: &[u8]) -> Result<Event, StoreError> {
    let s = std::str::from_utf8(bytes).map_err(|_| StoreError::Corrupt("utf-8".into()))?;
    Event::from_json(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// One atomic write being built: the batch, and what it has set so far
/// for the rows later events in it read (ids, coordinates, events), so
/// that each is judged as if the ones before it were already stored.
struct Write<'a> {
    tree: &'a sled::Tree,
    batch: sled::Batch,
    /// `I`, `R` and `Q` rows set (`Some`) or removed (`None`) so far.
    rows: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// Events stored (`Some`) or removed (`None`) so far, by seq.
    events: HashMap<u64, Option<Arc<Event>>>,
    /// The last sequence number given.
    seq: u64,
    /// What this write stores, for the search indexer.
    stored: Vec<(u64, Arc<Event>)>,
    /// The locations it stores, in order: its log row.
    log: Vec<u8>,
    /// Sequence numbers of the events it removes, for the search indexer.
    removed: Vec<u64>,
}

impl<'a> Write<'a> {
    fn new(tree: &'a sled::Tree, seq: u64) -> Self {
        Write {
            tree,
            batch: sled::Batch::default(),
            rows: HashMap::new(),
            events: HashMap::new(),
            seq,
            stored: Vec::new(),
            log: Vec::new(),
            removed: Vec::new(),
        }
    }

    fn get(&self, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.rows.get(k) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.tree.get(k)?.map(|v| v.to_vec())),
        }
    }

    /// Sets a row later events in this write may read.
    fn set(&mut self, k: Vec<u8>, v: Vec<u8>) {
        self.batch.insert(k.as_slice(), v.as_slice());
        self.rows.insert(k, Some(v));
    }

    fn unset(&mut self, k: Vec<u8>) {
        self.batch.remove(k.as_slice());
        self.rows.insert(k, None);
    }

    fn event(&self, l: &Loc) -> Result<Option<Arc<Event>>, StoreError> {
        match self.events.get(&loc_seq(l)) {
            Some(e) => Ok(e.clone()),
            None => Ok(event_at(self.tree, l)?.map(Arc::new)),
        }
    }

    /// Stores a prepared event under the next sequence number.
    fn store(&mut self, p: Prepared) -> Loc {
        self.seq += 1;
        let seq = self.seq;
        let s = seq.to_be_bytes();
        let at = loc(&p.event, seq);
        self.set(key(&[&[ID], p.event.id.as_bytes()]), at.to_vec());
        self.batch.insert(&event_key(&at)[..], p.json);
        self.log.extend_from_slice(&at);
        for mut k in p.index {
            let n = k.len();
            k[n - 8..].copy_from_slice(&s);
            self.batch.insert(k, &[][..]);
        }
        self.events.insert(seq, Some(p.event.clone()));
        self.stored.push((seq, p.event));
        at
    }

    /// An event's rows and index entries, and for a replaceable event its
    /// coordinate's row (a later `set` in the same write may set it again).
    fn remove_event(&mut self, e: &Event, l: &Loc) {
        let seq = loc_seq(l);
        self.unset(key(&[&[ID], e.id.as_bytes()]));
        self.batch.remove(&event_key(l)[..]);
        for k in index_keys(e, seq) {
            self.batch.remove(k);
        }
        if e.kind.is_replaceable() || e.kind.is_addressable() {
            self.unset(key(&[&[REPLACEABLE], &coord(&e.pubkey, e.kind, &d_tag(e))]));
        }
        self.events.insert(seq, None);
        self.removed.push(seq);
    }

    /// What this write stored (and did not remove again) and removed.
    fn changes(&mut self) -> Changes {
        let removed = std::mem::take(&mut self.removed);
        let mut stored = std::mem::take(&mut self.stored);
        stored.retain(|(seq, _)| !removed.contains(seq));
        Changes { stored, removed }
    }
}

impl Write<'_> {
    /// Judges one event against what is stored and what this write has
    /// done so far, and adds it to the write when it is to be stored.
    fn insert(&mut self, p: Prepared, now: Timestamp) -> Result<Inserted, StoreError> {
        let e = p.event.clone();
        if e.is_expired_at(now) {
            return Ok(Inserted::Expired);
        }
        if self.get(&key(&[&[ID], e.id.as_bytes()]))?.is_some() {
            return Ok(Inserted::Duplicate);
        }
        // Deleted before it came: only its author's deletion counts.
        if self
            .get(&key(&[&[DELETED], e.id.as_bytes(), e.pubkey.as_bytes()]))?
            .is_some()
        {
            return Ok(Inserted::Deleted);
        }
        let mut r_key = None;
        if let Some(c) = &p.coord {
            if let Some(until) = self.get(&key(&[&[DELETED_COORD], c]))?
                && e.created_at.as_secs() <= be(&until)
            {
                return Ok(Inserted::Deleted);
            }
            let k = key(&[&[REPLACEABLE], c]);
            if let Some(old_at) = self.get(&k)?.and_then(|v| as_loc(&v))
                && let Some(old) = self.event(&old_at)?
            {
                // Newer wins; at the same second, the lowest id (NIP-01).
                let keep_old = old.created_at > e.created_at
                    || (old.created_at == e.created_at && old.id < e.id);
                if keep_old {
                    return Ok(Inserted::Outdated);
                }
                self.remove_event(&old, &old_at);
            }
            r_key = Some(k);
        }
        if e.kind == Kind::EventDeletion {
            self.delete(&e)?;
        }
        let at = self.store(p);
        if let Some(k) = r_key {
            self.set(k, at.to_vec());
        }
        Ok(Inserted::Stored)
    }

    /// NIP-09: removes the events a deletion names that its author wrote,
    /// and remembers them so they are refused if they come again.
    fn delete(&mut self, del: &Event) -> Result<(), StoreError> {
        for id in del.tags.event_ids() {
            if let Some(at) = self
                .get(&key(&[&[ID], id.as_bytes()]))?
                .and_then(|v| as_loc(&v))
                && let Some(target) = self.event(&at)?
            {
                if target.pubkey != del.pubkey || target.kind == Kind::EventDeletion {
                    continue;
                }
                self.remove_event(&target, &at);
            }
            // Remembered, also if not here yet: refused if it comes and
            // this deleter wrote it. One row per deleter, so no number of
            // forged deletions crowds out the author's.
            self.set(
                key(&[&[DELETED], id.as_bytes(), del.pubkey.as_bytes()]),
                Vec::new(),
            );
        }
        for c in del.tags.coordinates() {
            if c.public_key != del.pubkey {
                continue;
            }
            let ck = coord(&c.public_key, c.kind, &c.identifier);
            let r_key = key(&[&[REPLACEABLE], &ck]);
            if let Some(old_at) = self.get(&r_key)?.and_then(|v| as_loc(&v))
                && let Some(old) = self.event(&old_at)?
                && old.created_at <= del.created_at
            {
                self.remove_event(&old, &old_at);
            }
            // The horizon only moves forward: an older deletion seen later
            // does not bring back what a newer one deleted.
            let q_key = key(&[&[DELETED_COORD], &ck]);
            let until = self.get(&q_key)?.map_or(0, |v| be(&v));
            if del.created_at.as_secs() > until {
                self.set(q_key, del.created_at.as_secs().to_be_bytes().to_vec());
            }
        }
        Ok(())
    }
}

/// Judges and writes `events` in one atomic batch after `seq` (the last
/// sequence number given, advanced on success); returns the verdicts and
/// what changed, for the search indexer.
fn write_events(
    tree: &sled::Tree,
    seq: &mut u64,
    events: Vec<Prepared>,
    now: Timestamp,
) -> Result<(Vec<Inserted>, Changes), StoreError> {
    let mut w = Write::new(tree, *seq);
    let mut out = Vec::with_capacity(events.len());
    for p in events {
        out.push(w.insert(p, now)?);
    }
    if w.seq != *seq || !w.rows.is_empty() {
        let mut batch = std::mem::take(&mut w.batch);
        if !w.log.is_empty() {
            batch.insert(key(&[&[LOG], &(*seq + 1).to_be_bytes()]), w.log.as_slice());
        }
        batch.insert(META_SEQ, &w.seq.to_be_bytes()[..]);
        tree.apply_batch(batch)?;
        *seq = w.seq;
        return Ok((out, w.changes()));
    }
    Ok((out, Changes::default()))
}

/// Moves the events of a store of the earlier layout (tree `nostr`: `E` id
/// → JSON, deletion marks `D` id → deleter, deleted coordinates `Q`) into
/// `tree`. Idempotent: a carry-over cut short is done again on the next
/// open, and the events already carried are duplicates.
fn carry_over(tree: &sled::Tree, old: &sled::Tree) -> Result<(), StoreError> {
    let now = Timestamp::now();
    let mut seq = tree.get(META_SEQ)?.map_or(0, |v| be(&v));
    let mut events = Vec::new();
    for entry in old.scan_prefix([b'E']) {
        let (_, v) = entry?;
        match parse(&v) {
            Ok(e) => events.push(Prepared::new(Arc::new(e))),
            Err(e) => tracing::warn!(error = %e, "skipping an unreadable old relay event"),
        }
        if events.len() >= 1000 {
            write_events(tree, &mut seq, std::mem::take(&mut events), now)?;
        }
    }
    write_events(tree, &mut seq, events, now)?;
    let mut batch = sled::Batch::default();
    for entry in old.scan_prefix([DELETED]) {
        let (k, v) = entry?;
        batch.insert(key(&[&k, &v]), &[][..]);
    }
    for entry in old.scan_prefix([DELETED_COORD]) {
        let (k, v) = entry?;
        batch.insert(k, v);
    }
    tree.apply_batch(batch)?;
    tracing::info!(
        events = seq,
        "nostr relay store carried over to its new layout"
    );
    Ok(())
}

/// One scan: rows under `prefix` (then created_at, and the rest of a
/// location) whose time lies in `[since, until]`.
struct Scan {
    prefix: Vec<u8>,
    rows: Rows,
}

/// The kinds of rows a scan reads.
#[derive(Clone, Copy)]
enum Rows {
    /// `S`: the events themselves.
    Events,
    /// `B`: author · kind · created_at · seq.
    AuthorKind,
    /// `T`: letter · hash · created_at · kind · seq.
    Tag,
}

impl Scan {
    /// The location a row of this scan names.
    fn loc(&self, k: &[u8]) -> Option<Loc> {
        match self.rows {
            Rows::Events | Rows::AuthorKind => as_loc(k.get(k.len().checked_sub(LOC)?..)?),
            Rows::Tag => {
                let n = k.len().checked_sub(LOC)?;
                let (t, kind, seq) = (&k[n..n + 8], &k[n + 8..n + 10], &k[n + 10..]);
                as_loc(&key(&[kind, t, seq]))
            }
        }
    }
}

impl RelayStore {
    /// Opens (or creates) the store in `dir` (the database) and its search
    /// index in `dir/search`, carrying over a store of the earlier layout.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(e.into()))?;
        let db = kith_node::storage::open_sled(sled::Config::new(), &dir.join("db"))?;
        let tree = db.open_tree(TREE)?;
        if db.tree_names().iter().any(|n| n == OLD_TREE.as_bytes()) {
            carry_over(&tree, &db.open_tree(OLD_TREE)?)?;
            db.drop_tree(OLD_TREE)?;
            db.flush()?;
        }
        let seq = tree.get(META_SEQ)?.map_or(0, |v| be(&v));
        let search = crate::search::Search::open(&dir.join("search"), tree.clone(), seq)?;
        Ok(Self {
            tree,
            db,
            write: Mutex::new(seq),
            search,
        })
    }

    /// The sequence number of the last stored event.
    pub fn last_seq(&self) -> u64 {
        *self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until every event stored up to `seq` is searchable (NIP-50).
    pub fn wait_searchable(&self, seq: u64, timeout: std::time::Duration) -> bool {
        self.search.wait_indexed(seq, timeout)
    }

    /// Makes every acknowledged write durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Whether an event with this id is stored.
    pub fn contains(&self, id: &EventId) -> Result<bool, StoreError> {
        Ok(self.tree.get(key(&[&[ID], id.as_bytes()]))?.is_some())
    }

    /// Stores a verified event, applying NIP-01 replacement, NIP-09 deletion
    /// (when `event` is a kind 5) and NIP-40 expiration. Ephemeral events
    /// must not come here.
    pub fn insert(&self, e: &Event, now: Timestamp) -> Result<Inserted, StoreError> {
        let mut out = self.insert_many(std::slice::from_ref(e), now)?;
        Ok(out.pop().unwrap_or(Inserted::Duplicate))
    }

    /// [`RelayStore::insert_prepared`] for events not yet prepared.
    pub fn insert_many<E: std::borrow::Borrow<Event>>(
        &self,
        events: &[E],
        now: Timestamp,
    ) -> Result<Vec<Inserted>, StoreError> {
        let prepared = events
            .iter()
            .map(|e| Prepared::new(Arc::new(e.borrow().clone())))
            .collect();
        self.insert_prepared(prepared, now)
    }

    /// Stores several verified events in one atomic write, each judged as if
    /// the ones before it were already stored (a duplicate, a replacement or
    /// a deletion among them takes effect for the next). One write instead
    /// of one per event is what lets a busy relay keep up.
    pub fn insert_prepared(
        &self,
        events: Vec<Prepared>,
        now: Timestamp,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut seq = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let (out, stored) = write_events(&self.tree, &mut seq, events, now)?;
        drop(seq);
        self.search.indexed_later(stored);
        Ok(out)
    }

    /// Reads one event by id.
    pub fn get(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        match self.tree.get(key(&[&[ID], id.as_bytes()]))? {
            Some(v) => match as_loc(&v) {
                Some(at) => event_at(&self.tree, &at),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// Removes events whose expiration is before `now`; returns how many.
    pub fn purge_expired(&self, now: Timestamp) -> Result<usize, StoreError> {
        let seq = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let end = key(&[&[EXPIRY], &now.as_secs().to_be_bytes()]);
        let mut w = Write::new(&self.tree, *seq);
        let mut n = 0;
        for entry in self.tree.range(vec![EXPIRY]..end) {
            let (k, _) = entry?;
            let Some(at) = k.get(9..).and_then(as_loc) else {
                w.batch.remove(k);
                continue;
            };
            match w.event(&at)? {
                Some(e) => {
                    w.remove_event(&e, &at);
                    n += 1;
                }
                None => w.batch.remove(k),
            }
            if n >= 1000 {
                break;
            }
        }
        let batch = std::mem::take(&mut w.batch);
        self.tree.apply_batch(batch)?;
        drop(seq);
        self.search.indexed_later(w.changes());
        Ok(n)
    }

    /// The events matching any of `filters`, newest first (ties: lowest id
    /// first), each filter returning at most its `limit` (cut to
    /// `limits.max_limit`). `visible` hides events the reader may not see.
    /// [`Queried::truncated`] tells whether the scan budget ran out before
    /// the filters were fully answered.
    pub fn query(
        &self,
        filters: &[Filter],
        limits: QueryLimits,
        now: Timestamp,
        visible: &dyn Fn(&Event) -> bool,
    ) -> Result<Queried, StoreError> {
        let mut budget = limits.max_scan;
        let mut out: Vec<Event> = Vec::new();
        let mut truncated = false;
        for f in filters {
            let limit = f.limit.unwrap_or(limits.max_limit).min(limits.max_limit);
            if limit == 0 {
                continue;
            }
            let (found, cut) = self.query_one(f, limit, now, visible, &mut budget)?;
            truncated |= cut;
            out.extend(found);
        }
        // A lone search filter keeps its relevance order (NIP-50).
        if !(filters.len() == 1 && filters[0].search.is_some()) {
            newest_first(&mut out);
            out.dedup_by(|a, b| a.id == b.id);
        }
        Ok(Queried {
            events: out,
            truncated,
        })
    }

    /// How many stored events match any of `filters` (NIP-45), counting at
    /// most `limits.max_scan` index entries.
    pub fn count(
        &self,
        filters: &[Filter],
        limits: QueryLimits,
        now: Timestamp,
        visible: &dyn Fn(&Event) -> bool,
    ) -> Result<Queried, StoreError> {
        // One more than the budget can find, so running out of budget is
        // reported as `truncated` rather than taken for a full answer.
        let unlimited = QueryLimits {
            max_limit: limits.max_scan.saturating_add(1),
            max_scan: limits.max_scan,
        };
        let mut filters = filters.to_vec();
        for f in &mut filters {
            f.limit = None;
        }
        self.query(&filters, unlimited, now, visible)
    }

    fn query_one(
        &self,
        f: &Filter,
        limit: usize,
        now: Timestamp,
        visible: &dyn Fn(&Event) -> bool,
        budget: &mut usize,
    ) -> Result<(Vec<Event>, bool), StoreError> {
        let accept = |e: &Event| {
            f.match_event(e, MatchEventOptions::new()) && !e.is_expired_at(now) && visible(e)
        };
        if let Some(text) = &f.search {
            // NIP-50: best matches first; the other fields filter them.
            let wanted = limit.saturating_mul(4).min(*budget);
            let locs = self.search.search(text, wanted)?;
            *budget -= locs.len().min(*budget);
            let by_words = |e: &Event| {
                let opts = MatchEventOptions {
                    nip50: false,
                    ..MatchEventOptions::new()
                };
                f.match_event(e, opts) && !e.is_expired_at(now) && visible(e)
            };
            let mut out = Vec::new();
            for at in locs {
                if let Some(e) = event_at(&self.tree, &at)?
                    && by_words(&e)
                {
                    out.push(e);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            return Ok((out, false));
        }
        if let Some(ids) = &f.ids {
            let mut out = Vec::new();
            for id in ids {
                if *budget == 0 {
                    return Ok((out, true));
                }
                *budget -= 1;
                if let Some(e) = self.get(id)?
                    && accept(&e)
                {
                    out.push(e);
                }
            }
            newest_first(&mut out);
            out.truncate(limit);
            return Ok((out, false));
        }
        let since = f.since.map_or(0, |t| t.as_secs());
        let until = f.until.map_or(u64::MAX, |t| t.as_secs());
        if since > until {
            return Ok((Vec::new(), false));
        }
        let (scans, mut cut) = self.plan(f, budget)?;
        // Each scan yields entries newest first; take `limit` from each
        // (and every entry of the same second as the last one taken, so
        // that ties are settled by id below), then merge.
        let mut found: Vec<Event> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for scan in scans {
            let lo = key(&[&scan.prefix, &since.to_be_bytes()]);
            let hi = key(&[&scan.prefix, &until.to_be_bytes(), &[0xff; 10]]);
            let mut taken = 0;
            let mut last_t = u64::MAX;
            for entry in self.tree.range(lo..=hi).rev() {
                if *budget == 0 {
                    cut = true;
                    break;
                }
                *budget -= 1;
                let (k, v) = entry?;
                let Some(at) = scan.loc(&k) else {
                    return Err(StoreError::Corrupt("index entry".into()));
                };
                let t = be(&at[2..10]);
                if taken >= limit && t < last_t {
                    break;
                }
                if !seen.insert(loc_seq(&at)) {
                    continue;
                }
                // An event row holds the event; an index entry names it.
                let event = match scan.rows {
                    Rows::Events => Some(parse(&v)?),
                    _ => event_at(&self.tree, &at)?,
                };
                if let Some(e) = event
                    && accept(&e)
                {
                    found.push(e);
                    taken += 1;
                    last_t = t;
                }
            }
        }
        newest_first(&mut found);
        found.truncate(limit);
        Ok((found, cut))
    }

    /// The index scans that answer a filter (without `ids`): the most
    /// selective field it has. Authors without kinds, and a filter with
    /// neither authors, tags nor kinds, are read kind by kind; finding each
    /// kind is one seek, counted against `budget`. `true`: the budget ran
    /// out while planning.
    fn plan(&self, f: &Filter, budget: &mut usize) -> Result<(Vec<Scan>, bool), StoreError> {
        let kinds: Option<Vec<[u8; 2]>> = f
            .kinds
            .as_ref()
            .filter(|k| !k.is_empty())
            .map(|k| k.iter().map(|k| k.as_u16().to_be_bytes()).collect());
        if let Some(authors) = f.authors.as_ref().filter(|a| !a.is_empty()) {
            let mut scans = Vec::new();
            for a in authors {
                let prefix = key(&[&[AUTHOR_KIND], a.as_bytes()]);
                let (kinds, cut) = match &kinds {
                    Some(k) => (k.clone(), false),
                    None => self.kinds_under(&prefix, budget)?,
                };
                scans.extend(kinds.iter().map(|k| Scan {
                    prefix: key(&[&prefix, k]),
                    rows: Rows::AuthorKind,
                }));
                if cut {
                    return Ok((scans, true));
                }
            }
            return Ok((scans, false));
        }
        if let Some((letter, values)) = f.generic_tags.iter().min_by_key(|(_, v)| v.len()) {
            let scans = values
                .iter()
                .map(|v| Scan {
                    prefix: key(&[&[TAG, letter.as_byte()], &h16(v)]),
                    rows: Rows::Tag,
                })
                .collect();
            return Ok((scans, false));
        }
        let (kinds, cut) = match kinds {
            Some(k) => (k, false),
            None => self.kinds_under(&[EVENT], budget)?,
        };
        let scans = kinds
            .iter()
            .map(|k| Scan {
                prefix: key(&[&[EVENT], k]),
                rows: Rows::Events,
            })
            .collect();
        Ok((scans, cut))
    }

    /// The kinds that index entries under `prefix` (followed by a kind)
    /// have, in order: one seek per kind, each counted against `budget`.
    /// `true`: the budget ran out first.
    fn kinds_under(
        &self,
        prefix: &[u8],
        budget: &mut usize,
    ) -> Result<(Vec<[u8; 2]>, bool), StoreError> {
        use std::ops::Bound;
        let mut out = Vec::new();
        let end = kith_node::storage::prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded);
        let mut from = key(&[prefix, &[0, 0]]);
        loop {
            if *budget == 0 {
                return Ok((out, true));
            }
            *budget -= 1;
            let Some(entry) = self.tree.range((Bound::Included(from), end.clone())).next() else {
                return Ok((out, false));
            };
            let (k, _) = entry?;
            let Some(&[hi, lo]) = k.get(prefix.len()..prefix.len() + 2) else {
                return Ok((out, false));
            };
            out.push([hi, lo]);
            let Some(next) = u16::from_be_bytes([hi, lo]).checked_add(1) else {
                return Ok((out, false));
            };
            from = key(&[prefix, &next.to_be_bytes()]);
        }
    }
}

/// Newest first; at the same second, the lowest id first (NIP-01).
fn newest_first(events: &mut [Event]) {
    events.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
}

/// The answer to a query.
#[derive(Debug)]
pub struct Queried {
    /// The events, newest first.
    pub events: Vec<Event>,
    /// The scan budget ran out: there may be more matching events.
    pub truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use nostr::prelude::{EventBuilder, FinalizeEvent, Keys, Tag};

    fn store() -> (tempfile::TempDir, RelayStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = RelayStore::open(dir.path()).unwrap();
        (dir, s)
    }

    fn ev(keys: &Keys, kind: u16, t: u64, content: &str, tags: Vec<Tag>) -> Event {
        EventBuilder::new(Kind::from(kind), content)
            .tags(tags)
            .custom_created_at(Timestamp::from_secs(t))
            .finalize(keys)
            .unwrap()
    }

    const LIMITS: QueryLimits = QueryLimits {
        max_limit: 100,
        max_scan: 10_000,
    };

    fn q(s: &RelayStore, filters: &[Filter]) -> Vec<Event> {
        s.query(filters, LIMITS, Timestamp::from_secs(2_000), &|_| true)
            .unwrap()
            .events
    }

    const NOW: Timestamp = Timestamp::from_secs(1_500);

    #[test]
    fn replaceable_and_addressable_keep_the_newest() {
        let (_d, s) = store();
        let k = Keys::generate();
        let old = ev(&k, 0, 100, "old", vec![]);
        let new = ev(&k, 0, 200, "new", vec![]);
        assert_eq!(s.insert(&new, NOW).unwrap(), Inserted::Stored);
        assert_eq!(s.insert(&old, NOW).unwrap(), Inserted::Outdated);
        assert_eq!(s.insert(&new, NOW).unwrap(), Inserted::Duplicate);
        let newer = ev(&k, 0, 300, "newer", vec![]);
        assert_eq!(s.insert(&newer, NOW).unwrap(), Inserted::Stored);
        let got = q(
            &s,
            &[Filter::new().author(k.public_key()).kind(Kind::Metadata)],
        );
        assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), vec![newer.id]);
        assert!(
            !s.contains(&new.id).unwrap(),
            "the replaced version left with its indexes"
        );

        let a1 = ev(&k, 30023, 100, "a1", vec![Tag::identifier("a")]);
        let a2 = ev(&k, 30023, 150, "a2", vec![Tag::identifier("a")]);
        let b = ev(&k, 30023, 120, "b", vec![Tag::identifier("b")]);
        for e in [&a1, &a2, &b] {
            assert_eq!(s.insert(e, NOW).unwrap(), Inserted::Stored);
        }
        let got = q(&s, &[Filter::new().kind(Kind::from(30023u16))]);
        assert_eq!(
            got.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![a2.id, b.id]
        );
    }

    #[test]
    fn deletion_removes_only_the_authors_events_and_keeps_them_out() {
        let (_d, s) = store();
        let (alice, mallory) = (Keys::generate(), Keys::generate());
        let note = ev(&alice, 1, 100, "hello", vec![]);
        let other = ev(&alice, 1, 101, "stays", vec![]);
        s.insert(&note, NOW).unwrap();
        s.insert(&other, NOW).unwrap();
        let forged = ev(
            &mallory,
            5,
            110,
            "",
            vec![Tag::event(note.id), Tag::event(other.id)],
        );
        s.insert(&forged, NOW).unwrap();
        assert!(s.contains(&note.id).unwrap() && s.contains(&other.id).unwrap());
        // Mallory's ids are not tombstoned for Alice's events either.
        let del = ev(&alice, 5, 120, "", vec![Tag::event(note.id)]);
        assert_eq!(s.insert(&del, NOW).unwrap(), Inserted::Stored);
        assert!(!s.contains(&note.id).unwrap());
        assert_eq!(s.insert(&note, NOW).unwrap(), Inserted::Deleted);
        let got = q(
            &s,
            &[Filter::new()
                .author(alice.public_key())
                .kind(Kind::TextNote)],
        );
        assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), vec![other.id]);

        // `a` deletion: the coordinate's versions up to the deletion go.
        let art = ev(&alice, 30023, 100, "v1", vec![Tag::identifier("post")]);
        s.insert(&art, NOW).unwrap();
        let coord = nostr::prelude::Coordinate::new(Kind::from(30023u16), alice.public_key())
            .identifier("post");
        let del = ev(&alice, 5, 130, "", vec![Tag::coordinate(coord, None)]);
        s.insert(&del, NOW).unwrap();
        assert!(!s.contains(&art.id).unwrap());
        let again = ev(&alice, 30023, 125, "v0.5", vec![Tag::identifier("post")]);
        assert_eq!(s.insert(&again, NOW).unwrap(), Inserted::Deleted);
        let later = ev(&alice, 30023, 140, "v2", vec![Tag::identifier("post")]);
        assert_eq!(s.insert(&later, NOW).unwrap(), Inserted::Stored);
    }

    #[test]
    fn expired_events_are_refused_hidden_and_purged() {
        let (_d, s) = store();
        let k = Keys::generate();
        let past = ev(
            &k,
            1,
            100,
            "gone",
            vec![Tag::expiration(Timestamp::from_secs(1_000))],
        );
        assert_eq!(s.insert(&past, NOW).unwrap(), Inserted::Expired);
        let soon = ev(
            &k,
            1,
            100,
            "soon",
            vec![Tag::expiration(Timestamp::from_secs(1_800))],
        );
        assert_eq!(s.insert(&soon, NOW).unwrap(), Inserted::Stored);
        let at = |t| {
            s.query(
                &[Filter::new().author(k.public_key())],
                LIMITS,
                Timestamp::from_secs(t),
                &|_| true,
            )
            .unwrap()
            .events
            .len()
        };
        assert_eq!(at(1_700), 1);
        assert_eq!(at(1_900), 0, "never served after it expires");
        assert_eq!(s.purge_expired(Timestamp::from_secs(1_700)).unwrap(), 0);
        assert_eq!(s.purge_expired(Timestamp::from_secs(1_900)).unwrap(), 1);
        assert!(!s.contains(&soon.id).unwrap());
    }

    #[test]
    fn queries_merge_filters_newest_first_within_limits_and_budget() {
        let (_d, s) = store();
        let (a, b) = (Keys::generate(), Keys::generate());
        let mut all = Vec::new();
        for i in 0..30u64 {
            let k = if i % 2 == 0 { &a } else { &b };
            let tags = if i % 3 == 0 {
                vec![Tag::hashtag("kith")]
            } else {
                vec![]
            };
            let e = ev(k, 1, 100 + i, &format!("n{i}"), tags);
            s.insert(&e, NOW).unwrap();
            all.push(e);
        }
        let by_a = Filter::new().author(a.public_key()).limit(3);
        let tagged = Filter::new().hashtag("kith");
        let got = q(&s, &[by_a, tagged]);
        let mut want: Vec<&Event> = all
            .iter()
            .filter(|e| e.tags.hashtags().any(|t| t == "kith"))
            .collect();
        for e in all
            .iter()
            .rev()
            .filter(|e| e.pubkey == a.public_key())
            .take(3)
        {
            if !want.iter().any(|w| w.id == e.id) {
                want.push(e);
            }
        }
        want.sort_by_key(|e| std::cmp::Reverse(e.created_at));
        assert_eq!(
            got.iter().map(|e| e.id).collect::<Vec<_>>(),
            want.iter().map(|e| e.id).collect::<Vec<_>>()
        );
        let window = Filter::new()
            .kind(Kind::TextNote)
            .since(Timestamp::from_secs(110))
            .until(Timestamp::from_secs(114));
        assert_eq!(q(&s, &[window]).len(), 5, "since and until are inclusive");

        let tight = QueryLimits {
            max_limit: 100,
            max_scan: 10,
        };
        let r = s.query(&[Filter::new()], tight, NOW, &|_| true).unwrap();
        // Two seeks find the kinds (one, then none after it); eight entries remain.
        assert!(r.truncated && r.events.len() == 8, "{}", r.events.len());
    }

    #[test]
    fn search_finds_words_best_first_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let k = Keys::generate();
        let both = ev(&k, 1, 100, "Hola mundo, ¡qué día!", vec![]);
        let one = ev(&k, 1, 101, "hola a todos", vec![]);
        let dm = ev(
            &k,
            4,
            102,
            "hola secreto",
            vec![Tag::public_key(k.public_key())],
        );
        let gone = ev(&k, 1, 103, "hola mundo otra vez", vec![]);
        {
            let s = RelayStore::open(dir.path()).unwrap();
            for e in [&both, &one, &dm, &gone] {
                assert_eq!(s.insert(e, NOW).unwrap(), Inserted::Stored);
            }
            s.insert(&ev(&k, 5, 104, "", vec![Tag::event(gone.id)]), NOW)
                .unwrap();
            assert!(s.wait_searchable(s.last_seq(), std::time::Duration::from_secs(10)));
            let hits = q(&s, &[Filter::new().search("mundo hola")]);
            assert_eq!(hits.iter().map(|e| e.id).collect::<Vec<_>>(), vec![both.id]);
            let hits = q(&s, &[Filter::new().search("HOLA language:es").limit(10)]);
            let mut ids: Vec<_> = hits.iter().map(|e| e.id).collect();
            ids.sort();
            let mut want = vec![both.id, one.id];
            want.sort();
            assert_eq!(
                ids, want,
                "case folded, extensions ignored, DMs and deleted left out"
            );
            let dia = q(&s, &[Filter::new().search("dia")]);
            assert_eq!(dia.len(), 1, "accents folded");
            let only_old = Filter::new()
                .search("hola")
                .until(Timestamp::from_secs(100));
            assert_eq!(q(&s, &[only_old]).len(), 1, "other fields still filter");
            assert!(
                s.tree.scan_prefix([LOG]).next().is_none(),
                "the log is trimmed once indexed"
            );
        }
        let s = RelayStore::open(dir.path()).unwrap();
        assert_eq!(q(&s, &[Filter::new().search("todos")]).len(), 1);
        let later = ev(&k, 1, 105, "todos juntos", vec![]);
        s.insert(&later, NOW).unwrap();
        assert!(s.wait_searchable(s.last_seq(), std::time::Duration::from_secs(10)));
        assert_eq!(q(&s, &[Filter::new().search("todos")]).len(), 2);
    }

    #[test]
    fn one_batch_judges_each_event_after_the_ones_before_it() {
        let (_d, s) = store();
        let k = Keys::generate();
        let note = ev(&k, 1, 100, "hola", vec![]);
        let old = ev(&k, 0, 100, "old", vec![]);
        let new = ev(&k, 0, 200, "new", vec![]);
        let del = ev(&k, 5, 150, "", vec![Tag::event(note.id)]);
        let verdicts = s
            .insert_many(&[&note, &note, &new, &old, &del, &note], NOW)
            .unwrap();
        assert_eq!(
            verdicts,
            vec![
                Inserted::Stored,
                Inserted::Duplicate,
                Inserted::Stored,
                Inserted::Outdated,
                Inserted::Stored,
                Inserted::Deleted,
            ]
        );
        assert!(!s.contains(&note.id).unwrap(), "deleted within the batch");
        assert!(s.contains(&new.id).unwrap() && s.contains(&del.id).unwrap());
        let all = q(&s, &[Filter::new().author(k.public_key())]);
        assert_eq!(
            all.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![new.id, del.id]
        );
        assert_eq!(s.last_seq(), 3, "one sequence number per stored event");
    }

    #[test]
    fn a_forged_deletion_does_not_keep_out_the_authors_event() {
        let (_d, s) = store();
        let (alice, mallory) = (Keys::generate(), Keys::generate());
        let note = ev(&alice, 1, 100, "mine", vec![]);
        let gone = ev(&alice, 1, 101, "deleted before it came", vec![]);
        // Deletions arriving before the events they name, the author's
        // among a crowd of forged ones.
        s.insert(&ev(&mallory, 5, 110, "", vec![Tag::event(note.id)]), NOW)
            .unwrap();
        for i in 0..12 {
            let forger = Keys::generate();
            s.insert(&ev(&forger, 5, 100 + i, "", vec![Tag::event(gone.id)]), NOW)
                .unwrap();
        }
        s.insert(&ev(&alice, 5, 111, "", vec![Tag::event(gone.id)]), NOW)
            .unwrap();
        s.insert(&ev(&mallory, 5, 112, "", vec![Tag::event(gone.id)]), NOW)
            .unwrap();
        assert_eq!(s.insert(&note, NOW).unwrap(), Inserted::Stored);
        assert_eq!(s.insert(&gone, NOW).unwrap(), Inserted::Deleted);
        assert!(s.contains(&note.id).unwrap() && !s.contains(&gone.id).unwrap());
    }

    #[test]
    fn ties_at_the_limit_go_to_the_lowest_ids_and_kinds_are_found() {
        let (_d, s) = store();
        let k = Keys::generate();
        let mut same: Vec<Event> = (0..6)
            .map(|i| ev(&k, 1, 100, &format!("tie {i}"), vec![]))
            .collect();
        for e in &same {
            s.insert(e, NOW).unwrap();
        }
        let other = [
            ev(&k, 7, 90, "reaction", vec![]),
            ev(&k, 30023, 95, "article", vec![Tag::identifier("a")]),
        ];
        for e in &other {
            s.insert(e, NOW).unwrap();
        }
        same.sort_by_key(|e| e.id);
        let got = q(&s, &[Filter::new().author(k.public_key()).limit(3)]);
        assert_eq!(
            got.iter().map(|e| e.id).collect::<Vec<_>>(),
            same[..3].iter().map(|e| e.id).collect::<Vec<_>>()
        );
        // Authors without kinds, and no filter at all, read every kind.
        let all = q(&s, &[Filter::new().author(k.public_key())]);
        assert_eq!(all.len(), 8);
        assert_eq!(all[6].id, other[1].id);
        assert_eq!(all[7].id, other[0].id);
        assert_eq!(
            q(&s, &[Filter::new().until(Timestamp::from_secs(95))]).len(),
            2
        );
    }

    #[test]
    fn a_store_of_the_earlier_layout_is_carried_over() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, bob) = (Keys::generate(), Keys::generate());
        let note = ev(&alice, 1, 100, "hola de antes", vec![Tag::hashtag("kith")]);
        let profile = ev(&bob, 0, 100, "{}", vec![]);
        let deleted = ev(&alice, 1, 90, "borrado", vec![]);
        {
            let db =
                kith_node::storage::open_sled(sled::Config::new(), &dir.path().join("db")).unwrap();
            let old = db.open_tree(OLD_TREE).unwrap();
            for e in [&note, &profile] {
                old.insert(key(&[b"E", e.id.as_bytes()]), e.as_json().as_bytes())
                    .unwrap();
                old.insert(key(&[b"C", &[0; 8], e.id.as_bytes()]), &[][..])
                    .unwrap();
            }
            old.insert(
                key(&[b"D", deleted.id.as_bytes()]),
                alice.public_key().as_bytes(),
            )
            .unwrap();
            db.flush().unwrap();
            // The earlier search index: documents by id, ahead of the new store.
            use tantivy::schema::{STORED, STRING, TEXT};
            let mut b = tantivy::schema::Schema::builder();
            let id = b.add_text_field("id", STRING | STORED);
            let text = b.add_text_field("text", TEXT);
            let search = dir.path().join("search");
            std::fs::create_dir_all(&search).unwrap();
            let index = tantivy::Index::create_in_dir(&search, b.build()).unwrap();
            let mut writer: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
            writer
                .add_document(tantivy::doc!(id => note.id.to_hex(), text => "hola de antes"))
                .unwrap();
            let mut commit = writer.prepare_commit().unwrap();
            commit.set_payload("5000");
            commit.commit().unwrap();
        }
        let s = RelayStore::open(dir.path()).unwrap();
        assert_eq!(s.last_seq(), 2);
        let tagged = q(&s, &[Filter::new().hashtag("kith")]);
        assert_eq!(
            tagged.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![note.id]
        );
        assert_eq!(q(&s, &[Filter::new().kind(Kind::Metadata)]).len(), 1);
        assert_eq!(s.insert(&deleted, NOW).unwrap(), Inserted::Deleted);
        assert!(s.wait_searchable(2, std::time::Duration::from_secs(10)));
        assert_eq!(q(&s, &[Filter::new().search("antes")]).len(), 1);
        assert!(!s.db.tree_names().iter().any(|n| n == OLD_TREE.as_bytes()));
        drop(s);
        let s = RelayStore::open(dir.path()).unwrap();
        assert_eq!(s.last_seq(), 2, "carried over once");
    }

    #[test]
    fn queries_answer_like_a_full_scan() {
        let (_d, s) = store();
        let keys: Vec<Keys> = (0..3).map(|_| Keys::generate()).collect();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut model: Vec<Event> = Vec::new();
        let mut batch: Vec<Event> = Vec::new();
        for i in 0..1500u64 {
            let k = &keys[next(3) as usize];
            let mine: Vec<&Event> = model
                .iter()
                .filter(|e| e.pubkey == k.public_key() && e.kind != Kind::EventDeletion)
                .collect();
            let e = if i % 17 == 16 && !mine.is_empty() {
                let target = mine[next(mine.len() as u64) as usize].id;
                ev(k, 5, 100 + next(400), "", vec![Tag::event(target)])
            } else {
                let kind = if next(4) == 0 { 7 } else { 1 };
                let tags = vec![Tag::hashtag(format!("t{}", next(3)))];
                ev(k, kind, 100 + next(400), &format!("n{i}"), tags)
            };
            batch.push(e.clone());
            if e.kind == Kind::EventDeletion {
                let target = e.tags.event_ids().next();
                model.retain(|m| Some(m.id) != target);
            }
            model.push(e);
            if next(8) == 0 {
                let verdicts = s.insert_many(&batch, NOW).unwrap();
                assert!(verdicts.iter().all(|v| *v == Inserted::Stored));
                batch.clear();
            }
        }
        s.insert_many(&batch, NOW).unwrap();
        let mut filters = vec![Filter::new(), Filter::new().kind(Kind::from(7u16))];
        for k in &keys {
            filters.push(Filter::new().author(k.public_key()));
            filters.push(Filter::new().author(k.public_key()).kind(Kind::TextNote));
        }
        for t in 0..3 {
            filters.push(Filter::new().hashtag(format!("t{t}")));
        }
        let mut windows = Vec::new();
        for f in &filters {
            for (since, until, limit) in [
                (0, 1000, 1000),
                (0, 1000, 7),
                (200, 260, 1000),
                (300, 300, 5),
            ] {
                windows.push(
                    f.clone()
                        .since(Timestamp::from_secs(since))
                        .until(Timestamp::from_secs(until))
                        .limit(limit),
                );
            }
        }
        let limits = QueryLimits {
            max_limit: 1000,
            max_scan: 1_000_000,
        };
        for f in windows {
            let got = s
                .query(std::slice::from_ref(&f), limits, NOW, &|_| true)
                .unwrap();
            let mut want: Vec<Event> = model
                .iter()
                .filter(|e| f.match_event(e, MatchEventOptions::new()))
                .cloned()
                .collect();
            newest_first(&mut want);
            want.truncate(f.limit.unwrap());
            let got: Vec<_> = got.events.iter().map(|e| e.id).collect();
            let want: Vec<_> = want.iter().map(|e| e.id).collect();
            let first_diff = got.iter().zip(&want).position(|(a, b)| a != b);
            assert!(
                got == want,
                "{f:?}: {} events, {} expected, first difference at {first_diff:?}",
                got.len(),
                want.len()
            );
        }
        // Every note of the first author deleted at once.
        let k = &keys[0];
        let notes: Vec<Tag> = model
            .iter()
            .filter(|e| e.pubkey == k.public_key() && e.kind != Kind::EventDeletion)
            .map(|e| Tag::event(e.id))
            .collect();
        s.insert(&ev(k, 5, 999, "", notes), NOW).unwrap();
        let left = q(&s, &[Filter::new().author(k.public_key())]);
        assert!(left.iter().all(|e| e.kind == Kind::EventDeletion));
    }

    #[test]
    fn coordinates_keep_their_newest_deletion_and_replaceables_ignore_d() {
        let (_d, s) = store();
        let k = Keys::generate();
        let coord = nostr::nips::nip01::Coordinate::new(Kind::from(30023u16), k.public_key())
            .identifier("post");
        let newer = ev(&k, 5, 200, "", vec![Tag::coordinate(coord.clone(), None)]);
        let older = ev(&k, 5, 100, "", vec![Tag::coordinate(coord, None)]);
        s.insert(&newer, NOW).unwrap();
        s.insert(&older, NOW).unwrap();
        let between = ev(&k, 30023, 150, "v", vec![Tag::identifier("post")]);
        assert_eq!(s.insert(&between, NOW).unwrap(), Inserted::Deleted);

        // A profile is one per author, whatever `d` tag it carries.
        let tagged = ev(&k, 0, 100, "{}", vec![Tag::identifier("x")]);
        let plain = ev(&k, 0, 101, "{}", vec![]);
        s.insert(&tagged, NOW).unwrap();
        s.insert(&plain, NOW).unwrap();
        let profiles = q(
            &s,
            &[Filter::new().author(k.public_key()).kind(Kind::Metadata)],
        );
        assert_eq!(
            profiles.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![plain.id]
        );
    }

    #[test]
    fn search_forgets_replaced_events_and_is_rebuilt_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let k = Keys::generate();
        let versions: Vec<Event> = (0..5)
            .map(|i| {
                ev(
                    &k,
                    0,
                    100 + i,
                    &format!("{{\"about\":\"ciclista {i}\"}}"),
                    vec![],
                )
            })
            .collect();
        let note = ev(&k, 1, 100, "un ciclista en Madrid", vec![]);
        {
            let s = RelayStore::open(dir.path()).unwrap();
            s.insert(&note, NOW).unwrap();
            for v in &versions {
                assert_eq!(s.insert(v, NOW).unwrap(), Inserted::Stored);
            }
            assert!(s.wait_searchable(s.last_seq(), std::time::Duration::from_secs(10)));
            // Deleted documents are gone from the index itself, not only
            // filtered out by the store lookup.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while s.search.search("ciclista", 100).unwrap().len() != 2 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "replaced versions stay indexed"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            assert!(s.tree.scan_prefix([LOG]).next().is_none());
        }
        // The index is lost; the log was trimmed long ago.
        std::fs::remove_dir_all(dir.path().join("search")).unwrap();
        let s = RelayStore::open(dir.path()).unwrap();
        assert!(s.wait_searchable(s.last_seq(), std::time::Duration::from_secs(10)));
        let hits = q(&s, &[Filter::new().search("ciclista")]);
        let mut ids: Vec<_> = hits.iter().map(|e| e.id).collect();
        ids.sort();
        let mut want = vec![note.id, versions[4].id];
        want.sort();
        assert_eq!(ids, want);
    }
}
