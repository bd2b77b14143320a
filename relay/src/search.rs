//! NIP-50 full-text search over the relay's events, with tantivy.
//!
//! The index is derived from the store. Every stored event gets a sequence
//! number and a row in the store's log (`L seq → id`, written in the same
//! batch as the event). An indexer thread reads the log after the last
//! committed position, indexes those events, commits with the position as
//! the commit payload, and then trims the log up to it. So after a crash the
//! indexer resumes from its last commit and nothing stored is left out.
//! Hits are looked up in the store, so a deleted, replaced or expired event
//! is never returned even before its document is removed.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nostr::prelude::EventId;
use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};

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

/// The two fields of a stored event's JSON the index needs (the rest is
/// skipped, not parsed).
#[derive(serde::Deserialize)]
struct Indexed<'a> {
    kind: u16,
    #[serde(borrow)]
    content: std::borrow::Cow<'a, str>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
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
    fields: Fields,
    progress: Arc<Progress>,
    wake: Option<std::sync::mpsc::SyncSender<()>>,
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
    /// Opens (or creates) the index in `dir`, catching up with `tree`'s log.
    pub(crate) fn open(dir: &Path, tree: sled::Tree) -> Result<Search, StoreError> {
        std::fs::create_dir_all(dir).map_err(tantivy_err)?;
        let mut b = Schema::builder();
        let text_opts = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            id: b.add_text_field("id", STRING | STORED),
            text: b.add_text_field("text", text_opts),
        };
        let directory = tantivy::directory::MmapDirectory::open(dir).map_err(tantivy_err)?;
        let index = Index::open_or_create(directory, b.build()).map_err(tantivy_err)?;
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
        let (wake, rx) = std::sync::mpsc::sync_channel(1);
        let indexer = Indexer {
            tree,
            writer,
            reader: reader.clone(),
            fields,
            progress: progress.clone(),
            position: indexed,
        };
        let thread = std::thread::Builder::new()
            .name("kith-relay-search".into())
            .spawn(move || indexer.run(rx))
            .map_err(tantivy_err)?;
        let search = Search {
            reader,
            parser,
            fields,
            progress,
            wake: Some(wake),
            thread: Some(thread),
        };
        search.notify();
        Ok(search)
    }

    /// New events are in the log.
    pub(crate) fn notify(&self) {
        if let Some(w) = &self.wake {
            let _ = w.try_send(());
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

    /// The ids of up to `limit` events matching every word of `text`, best
    /// first. NIP-50 extensions (`key:value` words) are ignored.
    pub(crate) fn search(&self, text: &str, limit: usize) -> Result<Vec<EventId>, StoreError> {
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
        let mut ids = Vec::with_capacity(top.len());
        for (_, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr).map_err(tantivy_err)?;
            if let Some(hex) = doc.get_first(self.fields.id).and_then(|v| v.as_str())
                && let Ok(id) = EventId::from_hex(hex)
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

impl Drop for Search {
    fn drop(&mut self) {
        // Closing the channel stops the indexer after a last commit.
        self.wake.take();
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
    position: u64,
}

impl Indexer {
    fn run(mut self, wake: std::sync::mpsc::Receiver<()>) {
        use std::sync::mpsc::RecvTimeoutError;
        let mut dirty = 0usize;
        let mut since_commit = Instant::now();
        loop {
            // Uncommitted documents: wait only briefly for more, and commit
            // when none come (idle) or the oldest has waited long enough.
            let wait = if dirty > 0 { COMMIT_IDLE } else { COMMIT_EVERY };
            let (woken, stop) = match wake.recv_timeout(wait) {
                Ok(()) => (true, false),
                Err(RecvTimeoutError::Timeout) => (false, false),
                Err(RecvTimeoutError::Disconnected) => (false, true),
            };
            let mut new = 0;
            match self.index_new() {
                Ok(n) => new = n,
                Err(e) => tracing::warn!(error = %e, "indexing nostr events failed"),
            }
            if dirty == 0 && new > 0 {
                since_commit = Instant::now();
            }
            dirty += new;
            let idle = !woken && new == 0;
            let due = idle || dirty >= COMMIT_EVERY_DOCS || since_commit.elapsed() >= COMMIT_EVERY;
            if dirty > 0 && (due || stop) {
                match self.commit() {
                    Ok(()) => {
                        dirty = 0;
                        since_commit = Instant::now();
                    }
                    Err(e) => tracing::warn!(error = %e, "committing the nostr index failed"),
                }
            }
            if stop {
                return;
            }
        }
    }

    /// Indexes what the log holds after the current position; returns how
    /// many log entries it went through.
    fn index_new(&mut self) -> Result<usize, StoreError> {
        let mut n = 0;
        loop {
            let batch = store::log_after(&self.tree, self.position, 1000)?;
            let Some(&(last, _)) = batch.last() else {
                return Ok(n);
            };
            for (_, id) in batch {
                n += 1;
                // An event is stored (and logged) once: what a crash left
                // uncommitted is gone from the index too, so there is no
                // older document of it to delete first.
                let Some(json) = store::get_event_json(&self.tree, id.as_bytes())? else {
                    continue;
                };
                let e: Indexed<'_> = serde_json::from_slice(&json)
                    .map_err(|e| StoreError::Corrupt(format!("{id}: {e}")))?;
                if PRIVATE_KINDS.contains(&e.kind) || e.content.is_empty() {
                    continue;
                }
                let mut doc = TantivyDocument::default();
                doc.add_text(self.fields.id, id.to_hex());
                doc.add_text(self.fields.text, &e.content);
                self.writer.add_document(doc).map_err(tantivy_err)?;
            }
            self.position = last;
            if n >= COMMIT_EVERY_DOCS {
                return Ok(n);
            }
        }
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        let mut prepared = self.writer.prepare_commit().map_err(tantivy_err)?;
        prepared.set_payload(&self.position.to_string());
        prepared.commit().map_err(tantivy_err)?;
        self.reader.reload().map_err(tantivy_err)?;
        store::trim_log(&self.tree, self.position)?;
        let p = &self.progress;
        let _g = p.lock.lock().unwrap_or_else(|e| e.into_inner());
        p.indexed.store(self.position, Ordering::Release);
        p.changed.notify_all();
        Ok(())
    }
}
