//! The relay's event store: Nostr events in their own sled database
//! (`<data dir>/relay/`), with the indexes NIP-01 filters need.
//!
//! One tree, keys prefixed by a byte naming the index. A write is one sled
//! batch, applied atomically: an event and all its index entries appear
//! together or not at all, and a replaced or deleted event leaves with its
//! entries. Writes go one at a time through a mutex, so the check for a newer
//! replaceable event and the write that follows cannot interleave with
//! another write.
//!
//! | prefix | key                                         | value      |
//! |--------|---------------------------------------------|------------|
//! | `E`    | id                                          | event JSON |
//! | `C`    | created_at · id                             |            |
//! | `A`    | author · created_at · id                    |            |
//! | `B`    | author · kind · created_at · id             |            |
//! | `K`    | kind · created_at · id                      |            |
//! | `T`    | letter · sha256(value)[..16] · created_at · id |         |
//! | `R`    | author · kind · sha256(d)[..16]             | id         |
//! | `X`    | expiration · id                             |            |
//! | `D`    | id (deleted: refused if it comes again)      | deleter    |
//! | `Q`    | author · kind · sha256(d)[..16] (deleted coordinate) | until created_at |
//! | `L`    | seq of the first (stored in one batch, not yet indexed for search) | ids, in order |
//! | `M`    | `seq` (the last sequence number given)      | seq        |
//!
//! Numbers are big-endian, so byte order is time order.

use std::path::Path;
use std::sync::Mutex;

use nostr::prelude::{Event, EventId, Filter, Kind, MatchEventOptions, PublicKey, Timestamp};
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
    /// Held by writers; holds the last sequence number given.
    write: Mutex<u64>,
    search: crate::search::Search,
}

const ID: u8 = b'E';
const TIME: u8 = b'C';
const AUTHOR: u8 = b'A';
const AUTHOR_KIND: u8 = b'B';
const KIND: u8 = b'K';
const TAG: u8 = b'T';
const REPLACEABLE: u8 = b'R';
const EXPIRY: u8 = b'X';
const DELETED: u8 = b'D';
const DELETED_COORD: u8 = b'Q';
const LOG: u8 = b'L';
const META_SEQ: &[u8] = b"Mseq";

fn be(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// The ids of a log row, with their sequence numbers (the row's key is the
/// first one; the ids follow in order).
fn log_row(k: &[u8], v: &[u8]) -> Result<Vec<(u64, EventId)>, StoreError> {
    let first = be(&k[1..]);
    if v.is_empty() || !v.len().is_multiple_of(32) {
        return Err(StoreError::Corrupt(format!("log row {first}")));
    }
    let mut out = Vec::with_capacity(v.len() / 32);
    for (i, id) in (0u64..).zip(v.chunks_exact(32)) {
        let id = EventId::from_slice(id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        out.push((first + i, id));
    }
    Ok(out)
}

/// Log entries after `after`: whole rows, until at least `max` entries.
pub(crate) fn log_after(
    tree: &sled::Tree,
    after: u64,
    max: usize,
) -> Result<Vec<(u64, EventId)>, StoreError> {
    // Rows up to `after` are normally trimmed; one left by a failed trim is
    // skipped entry by entry.
    let mut out = Vec::new();
    for entry in tree.range(vec![LOG]..vec![LOG + 1]) {
        let (k, v) = entry?;
        out.extend(log_row(&k, &v)?.into_iter().filter(|(seq, _)| *seq > after));
        if out.len() >= max {
            break;
        }
    }
    Ok(out)
}

/// Drops log rows whose entries are all up to `upto` (they are indexed).
pub(crate) fn trim_log(tree: &sled::Tree, upto: u64) -> Result<(), StoreError> {
    let end = key(&[&[LOG], &upto.saturating_add(1).to_be_bytes()]);
    let mut batch = sled::Batch::default();
    for entry in tree.range(vec![LOG]..end) {
        let (k, v) = entry?;
        let last = be(&k[1..]) + (v.len() / 32).saturating_sub(1) as u64;
        if last <= upto {
            batch.remove(k);
        }
    }
    tree.apply_batch(batch)?;
    Ok(())
}

/// One stored event's JSON by id bytes.
pub(crate) fn get_event_json(
    tree: &sled::Tree,
    id: &[u8],
) -> Result<Option<sled::IVec>, StoreError> {
    Ok(tree.get(key(&[&[ID], id]))?)
}

/// One stored event by id bytes.
pub(crate) fn get_event(tree: &sled::Tree, id: &[u8]) -> Result<Option<Event>, StoreError> {
    match tree.get(key(&[&[ID], id]))? {
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

fn d_tag(e: &Event) -> String {
    e.tags.identifier().unwrap_or_default()
}

/// Index keys of an event (not its `E` row).
fn index_keys(e: &Event) -> Vec<Vec<u8>> {
    let t = e.created_at.as_secs().to_be_bytes();
    let id = e.id.as_bytes();
    let kind = e.kind.as_u16().to_be_bytes();
    let mut keys = vec![
        key(&[&[TIME], &t, id]),
        key(&[&[AUTHOR], e.pubkey.as_bytes(), &t, id]),
        key(&[&[AUTHOR_KIND], e.pubkey.as_bytes(), &kind, &t, id]),
        key(&[&[KIND], &kind, &t, id]),
    ];
    for tag in e.tags.iter() {
        let (Some(letter), Some(value)) = (tag.single_letter_tag(), tag.content()) else {
            continue;
        };
        let k = key(&[&[TAG, letter.as_byte()], &h16(value), &t, id]);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    if let Some(x) = e.tags.expiration() {
        keys.push(key(&[&[EXPIRY], &x.as_secs().to_be_bytes(), id]));
    }
    keys
}

fn parse(bytes: &[u8]) -> Result<Event, StoreError> {
    let s = std::str::from_utf8(bytes).map_err(|_| StoreError::Corrupt("utf-8".into()))?;
    Event::from_json(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Writes not yet applied, read through before the tree: the state after
/// them, as one batch will leave it.
#[derive(Default)]
struct Pending(std::collections::HashMap<Vec<u8>, Option<Vec<u8>>>);

impl Pending {
    fn get(&self, tree: &sled::Tree, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.0.get(k) {
            Some(v) => Ok(v.clone()),
            None => Ok(tree.get(k)?.map(|v| v.to_vec())),
        }
    }

    fn event(&self, tree: &sled::Tree, id: &[u8]) -> Result<Option<Event>, StoreError> {
        match self.get(tree, &key(&[&[ID], id]))? {
            Some(v) => parse(&v).map(Some),
            None => Ok(None),
        }
    }

    fn put(&mut self, k: Vec<u8>, v: Vec<u8>) {
        self.0.insert(k, Some(v));
    }

    fn delete(&mut self, k: Vec<u8>) {
        self.0.insert(k, None);
    }

    /// An event's row and index entries, and for a replaceable event its
    /// coordinate's row (a later `put` in the same batch may set it again).
    fn remove_event(&mut self, e: &Event) {
        self.delete(key(&[&[ID], e.id.as_bytes()]));
        for k in index_keys(e) {
            self.delete(k);
        }
        if e.kind.is_replaceable() || e.kind.is_addressable() {
            self.delete(key(&[&[REPLACEABLE], &coord(&e.pubkey, e.kind, &d_tag(e))]));
        }
    }

    fn into_batch(self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        for (k, v) in self.0 {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        batch
    }
}

/// One scan: index entries under `prefix` whose time lies in `[since, until]`.
struct Scan {
    prefix: Vec<u8>,
}

impl RelayStore {
    /// Opens (or creates) the store in `dir` (the database) and its search
    /// index in `dir/search`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(e.into()))?;
        let db = kith_node::storage::open_sled(sled::Config::new(), &dir.join("db"))?;
        let tree = db.open_tree("nostr")?;
        let seq = tree.get(META_SEQ)?.map_or(0, |v| be(&v));
        let search = crate::search::Search::open(&dir.join("search"), tree.clone())?;
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
        Ok(self.tree.contains_key(key(&[&[ID], id.as_bytes()]))?)
    }

    /// Stores a verified event, applying NIP-01 replacement, NIP-09 deletion
    /// (when `event` is a kind 5) and NIP-40 expiration. Ephemeral events
    /// must not come here.
    pub fn insert(&self, e: &Event, now: Timestamp) -> Result<Inserted, StoreError> {
        let mut out = self.insert_many(std::slice::from_ref(e), now)?;
        Ok(out.pop().unwrap_or(Inserted::Duplicate))
    }

    /// Stores several verified events in one atomic write, each judged as if
    /// the ones before it were already stored (a duplicate, a replacement or
    /// a deletion among them takes effect for the next). One write instead
    /// of one per event is what lets a busy relay keep up.
    pub fn insert_many<E: std::borrow::Borrow<Event>>(
        &self,
        events: &[E],
        now: Timestamp,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut seq = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut pending = Pending::default();
        let mut next = *seq;
        let mut out = Vec::with_capacity(events.len());
        // One log row for the batch: the stored ids in sequence order.
        let mut log = Vec::new();
        for e in events {
            let e = e.borrow();
            let verdict = self.insert_into(&mut pending, e, now)?;
            if verdict == Inserted::Stored {
                next += 1;
                log.extend_from_slice(e.id.as_bytes());
            }
            out.push(verdict);
        }
        if next != *seq {
            pending.put(key(&[&[LOG], &(*seq + 1).to_be_bytes()]), log);
            pending.put(META_SEQ.to_vec(), next.to_be_bytes().to_vec());
            self.tree.apply_batch(pending.into_batch())?;
            *seq = next;
            drop(seq);
            self.search.notify();
        }
        Ok(out)
    }

    fn insert_into(
        &self,
        p: &mut Pending,
        e: &Event,
        now: Timestamp,
    ) -> Result<Inserted, StoreError> {
        if e.is_expired_at(now) {
            return Ok(Inserted::Expired);
        }
        let id_key = key(&[&[ID], e.id.as_bytes()]);
        if p.get(&self.tree, &id_key)?.is_some() {
            return Ok(Inserted::Duplicate);
        }
        if p.get(&self.tree, &key(&[&[DELETED], e.id.as_bytes()]))?
            .is_some()
        {
            return Ok(Inserted::Deleted);
        }
        if e.kind.is_replaceable() || e.kind.is_addressable() {
            let c = coord(&e.pubkey, e.kind, &d_tag(e));
            if let Some(until) = p.get(&self.tree, &key(&[&[DELETED_COORD], &c]))?
                && e.created_at.as_secs() <= be(&until)
            {
                return Ok(Inserted::Deleted);
            }
            let r_key = key(&[&[REPLACEABLE], &c]);
            if let Some(old_id) = p.get(&self.tree, &r_key)?
                && let Some(old) = p.event(&self.tree, &old_id)?
            {
                // Newer wins; at the same second, the lowest id (NIP-01).
                let keep_old = old.created_at > e.created_at
                    || (old.created_at == e.created_at && old.id < e.id);
                if keep_old {
                    return Ok(Inserted::Outdated);
                }
                p.remove_event(&old);
            }
            p.put(r_key, e.id.as_bytes().to_vec());
        }
        if e.kind == Kind::EventDeletion {
            self.delete_into(p, e)?;
        }
        p.put(id_key, e.as_json().into_bytes());
        for k in index_keys(e) {
            p.put(k, Vec::new());
        }
        Ok(Inserted::Stored)
    }

    fn get_raw(&self, id: &[u8]) -> Result<Option<Event>, StoreError> {
        get_event(&self.tree, id)
    }

    /// Reads one event by id.
    pub fn get(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        self.get_raw(id.as_bytes())
    }

    /// NIP-09: removes the events a deletion names that its author wrote,
    /// and remembers them so they are refused if they come again.
    fn delete_into(&self, p: &mut Pending, del: &Event) -> Result<(), StoreError> {
        for id in del.tags.event_ids() {
            if let Some(target) = p.event(&self.tree, id.as_bytes())? {
                if target.pubkey != del.pubkey || target.kind == Kind::EventDeletion {
                    continue;
                }
                p.remove_event(&target);
            }
            // Remembered even if not here yet: the author deleted it.
            p.put(
                key(&[&[DELETED], id.as_bytes()]),
                del.pubkey.as_bytes().to_vec(),
            );
        }
        for c in del.tags.coordinates() {
            if c.public_key != del.pubkey {
                continue;
            }
            let ck = coord(&c.public_key, c.kind, &c.identifier);
            let r_key = key(&[&[REPLACEABLE], &ck]);
            if let Some(old_id) = p.get(&self.tree, &r_key)?
                && let Some(old) = p.event(&self.tree, &old_id)?
                && old.created_at <= del.created_at
            {
                p.remove_event(&old);
            }
            p.put(
                key(&[&[DELETED_COORD], &ck]),
                del.created_at.as_secs().to_be_bytes().to_vec(),
            );
        }
        Ok(())
    }

    /// Removes events whose expiration is before `now`; returns how many.
    pub fn purge_expired(&self, now: Timestamp) -> Result<usize, StoreError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let end = key(&[&[EXPIRY], &now.as_secs().to_be_bytes()]);
        let mut pending = Pending::default();
        let mut n = 0;
        for entry in self.tree.range(vec![EXPIRY]..end) {
            let (k, _) = entry?;
            match self.get_raw(&k[9..])? {
                Some(e) => {
                    pending.remove_event(&e);
                    n += 1;
                }
                None => pending.delete(k.to_vec()),
            }
            if n >= 1000 {
                break;
            }
        }
        self.tree.apply_batch(pending.into_batch())?;
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
            out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
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
            let ids = self.search.search(text, wanted)?;
            *budget -= ids.len().min(*budget);
            let by_words = |e: &Event| {
                let opts = MatchEventOptions {
                    nip50: false,
                    ..MatchEventOptions::new()
                };
                f.match_event(e, opts) && !e.is_expired_at(now) && visible(e)
            };
            let mut out = Vec::new();
            for id in ids {
                if let Some(e) = self.get(&id)?
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
            out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
            out.truncate(limit);
            return Ok((out, false));
        }
        let scans = plan(f);
        let since = f.since.map_or(0, |t| t.as_secs());
        let until = f.until.map_or(u64::MAX, |t| t.as_secs());
        if since > until {
            return Ok((Vec::new(), false));
        }
        // Each scan yields ids newest first; merge them keeping `limit`.
        let mut found: Vec<Event> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut cut = false;
        for scan in scans {
            let lo = key(&[&scan.prefix, &since.to_be_bytes()]);
            let mut hi = key(&[&scan.prefix, &until.to_be_bytes()]);
            hi.extend_from_slice(&[0xff; 33]);
            let mut taken = 0;
            for entry in self.tree.range(lo..hi).rev() {
                if *budget == 0 {
                    cut = true;
                    break;
                }
                *budget -= 1;
                let (k, _) = entry?;
                let id = &k[k.len() - 32..];
                if !seen.insert(id.to_vec()) {
                    continue;
                }
                if let Some(e) = self.get_raw(id)?
                    && accept(&e)
                {
                    found.push(e);
                    taken += 1;
                    if taken >= limit {
                        break;
                    }
                }
            }
        }
        found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        found.truncate(limit);
        Ok((found, cut))
    }
}

/// The answer to a query.
#[derive(Debug)]
pub struct Queried {
    /// The events, newest first.
    pub events: Vec<Event>,
    /// The scan budget ran out: there may be more matching events.
    pub truncated: bool,
}

/// Chooses the index scans that answer a filter (without `ids`): the most
/// selective field it has.
fn plan(f: &Filter) -> Vec<Scan> {
    if let Some(authors) = &f.authors {
        if let Some(kinds) = &f.kinds
            && authors.len() * kinds.len() <= 64
        {
            let mut scans = Vec::new();
            for a in authors {
                for k in kinds {
                    scans.push(Scan {
                        prefix: key(&[&[AUTHOR_KIND], a.as_bytes(), &k.as_u16().to_be_bytes()]),
                    });
                }
            }
            return scans;
        }
        return authors
            .iter()
            .map(|a| Scan {
                prefix: key(&[&[AUTHOR], a.as_bytes()]),
            })
            .collect();
    }
    if let Some((letter, values)) = f.generic_tags.iter().min_by_key(|(_, v)| v.len()) {
        return values
            .iter()
            .map(|v| Scan {
                prefix: key(&[&[TAG, letter.as_byte()], &h16(v)]),
            })
            .collect();
    }
    if let Some(kinds) = &f.kinds {
        return kinds
            .iter()
            .map(|k| Scan {
                prefix: key(&[&[KIND], &k.as_u16().to_be_bytes()]),
            })
            .collect();
    }
    vec![Scan { prefix: vec![TIME] }]
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
        assert!(r.truncated && r.events.len() == 10, "{}", r.events.len());
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
                log_after(&s.tree, 0, 10).unwrap().is_empty(),
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
}
