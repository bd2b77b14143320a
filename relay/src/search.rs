//! NIP-50 full-text search over the relay's events, with tantivy.
//!
//! The index is derived from the store. Every stored event has a sequence
//! number, and the store keeps events in that order. The writer hands each
//! batch it stored to the indexer thread (the events themselves, so they
//! are not read back and parsed again); the indexer indexes them and commits
//! with the last sequence number as the commit payload. When a hand-over is
//! missed (the indexer was behind and its queue full) or after a restart,
//! the indexer reads the store's log after its last committed position
//! instead; and an index rebuilt from nothing (new, of another schema, or
//! ahead of the store after a crash) reads every stored event. The store is
//! flushed before each commit, so the index is never ahead of what survives
//! a crash, and nothing stored is left out. A document holds where its
//! event is stored; hits are looked up in the store, so a deleted, replaced
//! or expired event is never returned. Documents of removed events are
//! deleted when the writer hands their removal over (best effort: one
//! missed only costs a hit that the store lookup drops).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nostr::prelude::Event;
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::config::PRIVATE_KINDS;
use crate::store::{self, StoreError};

const ANALYZER: &str = "nostr";
const WRITER_MEMORY: usize = 32 << 20;
/// Longest a stored event waits before it is searchable while events keep
/// coming: under load the index commits this often, in large segments.
const COMMIT_EVERY: Duration = Duration::from_millis(1000);
/// No new event for this long: the relay is idle, so commit now.
const COMMIT_IDLE: Duration = Duration::from_millis(50);
/// Events indexed before a commit is forced.
const COMMIT_EVERY_DOCS: usize = 50_000;

/// Stored batches waiting for the indexer; past this, hand-overs are
/// dropped and the indexer reads the store instead.
const QUEUE: usize = 64;

/// What one write changed: the events it stored (with their sequence
/// numbers, in order) and the sequence numbers of those it removed.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) stored: Vec<(u64, Arc<Event>)>,
    pub(crate) removed: Vec<u64>,
}

#[derive(Clone, Copy)]
struct Fields {
    seq: Field,
    kind: Field,
    time: Field,
    text: Field,
}

struct Progress {
    indexed: AtomicU64,
    lock: Mutex<()>,
    changed: Condvar,
}

/// The search index and its indexer thread.
pub(crate) struct Search {
    reader: IndexReader,
    parser: QueryParser,
    progress: Arc<Progress>,
    handover: Option<std::sync::mpsc::SyncSender<Changes>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search")
            .field("indexed", &self.progress.indexed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn tantivy_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Search(e.to_string())
}

impl Search {
    /// Opens (or creates) the index in `dir`, catching up with `tree`, whose
    /// last stored event is `stored`. An index of another schema (an earlier
    /// version's), or ahead of the store, is rebuilt.
    pub(crate) fn open(dir: &Path, tree: sled::Tree, stored: u64) -> Result<Search, StoreError> {
        let mut b = Schema::builder();
        let text_opts = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = Fields {
            seq: b.add_u64_field(SEQ, FAST | INDEXED),
            kind: b.add_u64_field(KIND, FAST),
            time: b.add_u64_field(TIME, FAST),
            text: b.add_text_field("text", text_opts),
        };
        let schema = b.build();
        let (index, indexed) = match open_index(dir, &schema)? {
            Some((index, indexed)) if indexed <= stored => (index, indexed),
            _ => {
                std::fs::remove_dir_all(dir).map_err(tantivy_err)?;
                let (index, _) = open_index(dir, &schema)?
                    .ok_or_else(|| tantivy_err("a new index has another schema"))?;
                (index, 0)
            }
        };
        let writer: IndexWriter = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(tantivy_err)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(tantivy_err)?;
        let mut parser = QueryParser::for_index(&index, vec![fields.text]);
        parser.set_conjunction_by_default();
        let progress = Arc::new(Progress {
            indexed: AtomicU64::new(indexed),
            lock: Mutex::new(()),
            changed: Condvar::new(),
        });
        let (handover, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let indexer = Indexer {
            tree,
            writer,
            reader: reader.clone(),
            fields,
            progress: progress.clone(),
            position: indexed,
            committed: indexed,
            changed: false,
        };
        // Nothing indexed but something stored: the log may be trimmed
        // (an index rebuilt after an upgrade or a crash), so every stored
        // event is read.
        let rebuild = (indexed == 0 && stored > 0).then_some(stored);
        let thread = std::thread::Builder::new()
            .name("kith-relay-search".into())
            .spawn(move || indexer.run(rebuild, rx))
            .map_err(tantivy_err)?;
        Ok(Search {
            reader,
            parser,
            progress,
            handover: Some(handover),
            thread: Some(thread),
        })
    }

    /// What a write just changed: indexed soon. When the indexer is far
    /// behind it is not queued; the indexer reads the store's log instead.
    pub(crate) fn indexed_later(&self, changes: Changes) {
        if changes.stored.is_empty() && changes.removed.is_empty() {
            return;
        }
        if let Some(h) = &self.handover {
            let _ = h.try_send(changes);
        }
    }

    /// Waits until everything up to `seq` is searchable, or `timeout` passes.
    pub(crate) fn wait_indexed(&self, seq: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let p = &self.progress;
        let mut guard = p.lock.lock().unwrap_or_else(|e| e.into_inner());
        while p.indexed.load(Ordering::Acquire) < seq {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            guard = p
                .changed
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Where the up to `limit` events matching every word of `text` are
    /// stored, best first. NIP-50 extensions (`key:value` words) are ignored.
    pub(crate) fn search(&self, text: &str, limit: usize) -> Result<Vec<store::Loc>, StoreError> {
        let words: Vec<&str> = text
            .split_whitespace()
            .filter(|w| !w.contains(':'))
            .collect();
        if words.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        // Words only: query syntax from clients is not interpreted.
        let cleaned: String = words
            .join(" ")
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { ' ' })
            .collect();
        let (query, _) = self.parser.parse_query_lenient(&cleaned);
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())
            .map_err(tantivy_err)?;
        let mut locs = Vec::with_capacity(top.len());
        for (_, addr) in top {
            let fast = searcher.segment_reader(addr.segment_ord).fast_fields();
            let value = |name: &str| -> Result<Option<u64>, StoreError> {
                Ok(fast.u64(name).map_err(tantivy_err)?.first(addr.doc_id))
            };
            if let (Some(kind), Some(time), Some(seq)) = (value(KIND)?, value(TIME)?, value(SEQ)?)
                && let Ok(kind) = u16::try_from(kind)
            {
                let at = store::location(kind, time, seq);
                if !locs.contains(&at) {
                    locs.push(at);
                }
            }
        }
        Ok(locs)
    }
}

impl Drop for Search {
    fn drop(&mut self) {
        // Closing the channel stops the indexer after a last commit.
        self.handover.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Indexer {
    tree: sled::Tree,
    writer: IndexWriter,
    reader: IndexReader,
    fields: Fields,
    progress: Arc<Progress>,
    /// The last sequence number gone through.
    position: u64,
    /// The position of the last commit.
    committed: u64,
    /// Documents added or deleted since the last commit.
    changed: bool,
}

impl Indexer {
    fn run(mut self, rebuild: Option<u64>, handover: std::sync::mpsc::Receiver<Changes>) {
        use std::sync::mpsc::RecvTimeoutError;
        if let Some(upto) = rebuild {
            match self.rebuild(upto) {
                Ok(n) => tracing::info!(events = n, "nostr search index rebuilt"),
                Err(e) => tracing::warn!(error = %e, "rebuilding the nostr search index failed"),
            }
        }
        let mut oldest: Option<Instant> = None;
        let mut since_commit = 0usize;
        loop {
            // Uncommitted work: wait only briefly for more, and commit when
            // none comes (idle) or the oldest has waited long enough.
            let behind = self.changed || self.position != self.committed;
            let wait = if behind { COMMIT_IDLE } else { COMMIT_EVERY };
            let (done, woken, stop) = match handover.recv_timeout(wait) {
                Ok(changes) => (self.take(changes), true, false),
                // Nothing handed over: whatever was missed is in the log.
                Err(RecvTimeoutError::Timeout) => (self.catch_up(u64::MAX), false, false),
                Err(RecvTimeoutError::Disconnected) => (self.catch_up(u64::MAX), false, true),
            };
            match done {
                Ok(n) => since_commit += n,
                Err(e) => tracing::warn!(error = %e, "indexing nostr events failed"),
            }
            let behind = self.changed || self.position != self.committed;
            if !behind {
                if stop {
                    return;
                }
                continue;
            }
            let first = *oldest.get_or_insert_with(Instant::now);
            let due =
                !woken || since_commit >= COMMIT_EVERY_DOCS || first.elapsed() >= COMMIT_EVERY;
            if due || stop {
                match self.commit() {
                    Ok(()) => {
                        oldest = None;
                        since_commit = 0;
                    }
                    Err(e) => tracing::warn!(error = %e, "committing the nostr index failed"),
                }
            }
            if stop {
                return;
            }
        }
    }

    /// Indexes every event stored up to `upto`, whatever the log holds, and
    /// commits; returns how many it indexed.
    fn rebuild(&mut self, upto: u64) -> Result<usize, StoreError> {
        let mut n = 0;
        let tree = self.tree.clone();
        store::for_each_event(&tree, upto, |seq, e| {
            n += 1;
            self.document(seq, &e)
        })?;
        self.position = upto;
        self.commit()?;
        Ok(n)
    }

    /// Adds the document of a stored event (private kinds and empty texts
    /// have none).
    fn document(&mut self, seq: u64, e: &Event) -> Result<(), StoreError> {
        if PRIVATE_KINDS.contains(&e.kind.as_u16()) || e.content.is_empty() {
            return Ok(());
        }
        let mut doc = TantivyDocument::default();
        doc.add_u64(self.fields.seq, seq);
        doc.add_u64(self.fields.kind, e.kind.as_u16().into());
        doc.add_u64(self.fields.time, e.created_at.as_secs());
        doc.add_text(self.fields.text, &e.content);
        self.writer.add_document(doc).map_err(tantivy_err)?;
        self.changed = true;
        Ok(())
    }

    /// Indexes one stored event and moves the position past it.
    fn add(&mut self, seq: u64, e: &Event) -> Result<(), StoreError> {
        self.document(seq, e)?;
        self.position = seq;
        Ok(())
    }

    /// Takes a write the writer handed over: deletes the documents of what
    /// it removed, and indexes what it stored, after reading from the log
    /// whatever came before it and was not handed over. Returns how many
    /// events it went through.
    fn take(&mut self, changes: Changes) -> Result<usize, StoreError> {
        for seq in &changes.removed {
            self.writer
                .delete_term(Term::from_field_u64(self.fields.seq, *seq));
            self.changed = true;
        }
        let mut n = changes.removed.len();
        if let Some(&(first, _)) = changes.stored.first()
            && first > self.position + 1
        {
            n += self.catch_up(first - 1)?;
            if first > self.position + 1 {
                // Still behind (the catch-up stops to commit): these are in
                // the log too, and are read from it in turn.
                return Ok(n);
            }
        }
        for (seq, e) in changes.stored {
            // An event is stored once: what a crash left uncommitted is gone
            // from the index too, so there is no older document to delete.
            if seq > self.position {
                self.add(seq, &e)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Indexes logged events after the position, up to `upto` (at most
    /// [`COMMIT_EVERY_DOCS`] of them); returns how many it went through.
    fn catch_up(&mut self, upto: u64) -> Result<usize, StoreError> {
        let mut n = 0;
        while self.position < upto && n < COMMIT_EVERY_DOCS {
            let batch = store::events_after(&self.tree, self.position, 1000)?;
            if batch.is_empty() {
                break;
            }
            for (seq, e) in batch {
                if seq > upto {
                    return Ok(n);
                }
                match e {
                    Some(e) => self.add(seq, &e)?,
                    // Removed since it was stored.
                    None => self.position = seq,
                }
                n += 1;
            }
        }
        Ok(n)
    }

    /// Commits with the position as payload, after making the store durable
    /// up to it (the index is never ahead of the store a crash leaves), and
    /// trims the log.
    fn commit(&mut self) -> Result<(), StoreError> {
        self.tree.flush()?;
        let mut prepared = self.writer.prepare_commit().map_err(tantivy_err)?;
        prepared.set_payload(&self.position.to_string());
        prepared.commit().map_err(tantivy_err)?;
        self.committed = self.position;
        self.changed = false;
        self.reader.reload().map_err(tantivy_err)?;
        // A log row left behind is read again and skipped, entry by entry.
        if let Err(e) = store::trim_log(&self.tree, self.position) {
            tracing::warn!(error = %e, "trimming the nostr search log failed");
        }
        let p = &self.progress;
        let _g = p.lock.lock().unwrap_or_else(|e| e.into_inner());
        p.indexed.store(self.position, Ordering::Release);
        p.changed.notify_all();
        Ok(())
    }
}

/// The fields holding where an event is stored.
const SEQ: &str = "seq";
const KIND: &str = "kind";
const TIME: &str = "time";

/// Opens the index in `dir` (creating it if there is none) with its
/// committed position; `None` if the index there has another schema.
fn open_index(dir: &Path, schema: &Schema) -> Result<Option<(Index, u64)>, StoreError> {
    std::fs::create_dir_all(dir).map_err(tantivy_err)?;
    let directory = tantivy::directory::MmapDirectory::open(dir).map_err(tantivy_err)?;
    let index = match Index::open_or_create(directory, schema.clone()) {
        Ok(index) => index,
        Err(tantivy::TantivyError::SchemaError(_)) => return Ok(None),
        Err(e) => return Err(tantivy_err(e)),
    };
    // The same words as the node's own search (case and accents folded).
    index
        .tokenizers()
        .register(ANALYZER, kith_node::storage::text_analyzer());
    let indexed = index
        .load_metas()
        .map_err(tantivy_err)?
        .payload
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(Some((index, indexed)))
}
