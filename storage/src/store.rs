//! The store handle: opening, writing through the writer, reading directly.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use kith_protocol::{Event, EventId};
use tokio::sync::broadcast;

use crate::apply::{IngestOutcome, StoredEvent};
use crate::error::{OpenStoreError, StoreError};
use crate::keys;
use crate::query::Reader;
use crate::search::{Search, SearchHit, SearchQuery};
use crate::writer::{Command, Writer};

/// Name of the event store's directory inside the node's data directory.
/// The version changes whenever the on-disk layout does.
pub const STORE_DIR: &str = "store-v1";
/// Name of the search index's directory inside the node's data directory.
pub const SEARCH_DIR: &str = "search-v1";

/// How a store is opened and run.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The node's data directory; the store lives in `STORE_DIR` and `SEARCH_DIR` below it.
    pub dir: PathBuf,
    /// Longest an event waits in the writer before its group is committed and
    /// flushed to disk. Default 5 ms.
    pub flush_interval: Duration,
    /// Most events in one commit group. Default 8192.
    pub max_batch: usize,
    /// Commands the writer's inbox holds before callers wait. Default 256.
    pub inbox: usize,
    /// sled's page cache, in bytes. Default 256 MiB.
    pub cache_bytes: u64,
    /// Most events waiting for a dependency. Default 100,000.
    pub pending_cap: u64,
    /// Keep a full-text search index. Default on.
    pub search: bool,
    /// How often expired stories are collected (`None`: only when asked). Default 60 s.
    pub expiry_interval: Option<Duration>,
    /// Subscribers' buffer of stored events before they lag. Default 4096.
    pub broadcast: usize,
    /// The clock (ms since the Unix epoch) that decides whether a story has
    /// expired when it arrives and in the periodic sweep. Default: the wall
    /// clock; a node passes its own.
    pub clock: fn() -> u64,
}

impl StoreConfig {
    /// Defaults for a store in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StoreConfig {
            dir: dir.into(),
            flush_interval: Duration::from_millis(5),
            max_batch: 8192,
            inbox: 256,
            cache_bytes: 256 << 20,
            pending_cap: 100_000,
            search: true,
            expiry_interval: Some(Duration::from_secs(60)),
            broadcast: 4096,
            clock: crate::writer::now_ms,
        }
    }
}

/// An open event store. Cheap to clone; the last clone to go closes it
/// (flushing whatever is queued).
///
/// Writes go through [`Store::ingest`] to the one writer thread; reads
/// ([`Reader`], reached through `Deref`) go straight to the tree.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    reader: Reader,
    db: sled::Db,
    inbox: flume::Sender<Command>,
    events: broadcast::Sender<StoredEvent>,
    search: Option<Arc<Search>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stop_expiry: Option<flume::Sender<()>>,
}

impl Store {
    /// Opens the store in `config.dir`, creating it if needed.
    pub fn open(config: StoreConfig) -> Result<Store, OpenStoreError> {
        let path = config.dir.join(STORE_DIR);
        let db = crate::open_sled(
            sled::Config::new()
                .cache_capacity(config.cache_bytes)
                .mode(sled::Mode::HighThroughput),
            &path,
        )
        .map_err(|source| OpenStoreError::Backend {
            path: path.clone(),
            source,
        })?;
        let tree: sled::Tree = (*db).clone();
        let reader = Reader { tree: tree.clone() };
        let next_seq = tree
            .get([keys::META, b's'])
            .map_err(StoreError::from)?
            .and_then(|v| keys::u64_at(&v, 0))
            .unwrap_or(1);
        let search = if config.search {
            Some(Arc::new(Search::open(
                &config.dir.join(SEARCH_DIR),
                reader.clone(),
            )?))
        } else {
            None
        };
        let (inbox, rx) = flume::bounded(config.inbox.max(1));
        let (events, _) = broadcast::channel(config.broadcast.max(1));
        let writer = Writer {
            db: db.clone(),
            tree,
            inbox: rx,
            next_seq,
            flush_interval: config.flush_interval,
            max_batch: config.max_batch.max(1),
            pending_cap: config.pending_cap,
            clock: config.clock,
            events: events.clone(),
            search: search.clone(),
        };
        let spawn_err = |e: std::io::Error| OpenStoreError::Backend {
            path: path.clone(),
            source: e.into(),
        };
        let mut threads = vec![
            std::thread::Builder::new()
                .name("kith-store-writer".into())
                .spawn(move || writer.run())
                .map_err(spawn_err)?,
        ];
        let stop_expiry = match config.expiry_interval {
            Some(every) => {
                let (stop, stopped) = flume::bounded::<()>(1);
                let (inbox, clock) = (inbox.clone(), config.clock);
                threads.push(
                    std::thread::Builder::new()
                        .name("kith-store-expiry".into())
                        .spawn(move || expiry_loop(inbox, stopped, every, clock))
                        .map_err(spawn_err)?,
                );
                Some(stop)
            }
            None => None,
        };
        Ok(Store {
            inner: Arc::new(Inner {
                reader,
                db,
                inbox,
                events,
                search,
                threads: Mutex::new(threads),
                stop_expiry,
            }),
        })
    }

    /// Stores verified events (each one atomically with all its derived
    /// state); answers once they are durable. Outcomes are in input order.
    pub async fn ingest(&self, events: Vec<Event>) -> Result<Vec<IngestOutcome>, StoreError> {
        let (reply, answer) = flume::bounded(1);
        self.inner
            .inbox
            .send_async(Command::Ingest { events, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.recv_async().await.map_err(|_| StoreError::Closed)?
    }

    /// [`Store::ingest`] for threads outside an async runtime.
    pub fn ingest_blocking(&self, events: Vec<Event>) -> Result<Vec<IngestOutcome>, StoreError> {
        let (reply, answer) = flume::bounded(1);
        self.inner
            .inbox
            .send(Command::Ingest { events, reply })
            .map_err(|_| StoreError::Closed)?;
        answer.recv().map_err(|_| StoreError::Closed)?
    }

    /// Waits until everything queued before this call is durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (reply, answer) = flume::bounded(1);
        self.inner
            .inbox
            .send_async(Command::Flush { reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.recv_async().await.map_err(|_| StoreError::Closed)?
    }

    /// [`Store::flush`] for threads outside an async runtime.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        let (reply, answer) = flume::bounded(1);
        self.inner
            .inbox
            .send(Command::Flush { reply })
            .map_err(|_| StoreError::Closed)?;
        answer.recv().map_err(|_| StoreError::Closed)?
    }

    /// Removes every story expired at `now_ms`; returns how many.
    /// Works in small groups so writes never wait long behind it.
    pub async fn expire(&self, now_ms: u64) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let (reply, answer) = flume::bounded(1);
            let cmd = Command::Expire {
                now_ms,
                limit: EXPIRY_CHUNK,
                reply,
            };
            self.inner
                .inbox
                .send_async(cmd)
                .await
                .map_err(|_| StoreError::Closed)?;
            let n = answer
                .recv_async()
                .await
                .map_err(|_| StoreError::Closed)??;
            total += n;
            if n < EXPIRY_CHUNK {
                return Ok(total);
            }
        }
    }

    /// Removes these stored events with their index rows, atomically
    /// (retention of sealed-message envelopes, `specs/messages.md` § 7.4);
    /// returns how many were asked for. Absent ids are no error.
    pub async fn remove(&self, ids: Vec<EventId>) -> Result<usize, StoreError> {
        let mut total = 0;
        for chunk in ids.chunks(EXPIRY_CHUNK) {
            let (reply, answer) = flume::bounded(1);
            self.inner
                .inbox
                .send_async(Command::Remove {
                    ids: chunk.to_vec(),
                    reply,
                })
                .await
                .map_err(|_| StoreError::Closed)?;
            total += answer
                .recv_async()
                .await
                .map_err(|_| StoreError::Closed)??;
        }
        Ok(total)
    }

    /// [`Store::expire`] for threads outside an async runtime.
    pub fn expire_blocking(&self, now_ms: u64) -> Result<usize, StoreError> {
        expire_with(&self.inner.inbox, now_ms)
    }

    /// Every event stored from now on, in acceptance order. A subscriber that
    /// falls behind gets `Lagged` and catches up with [`Reader::log_after`].
    pub fn subscribe(&self) -> broadcast::Receiver<StoredEvent> {
        self.inner.events.subscribe()
    }

    /// Full-text search (see [`SearchQuery`]).
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
        match &self.inner.search {
            Some(s) => s.search(query),
            None => Err(StoreError::BadQuery(
                "search is turned off on this node".into(),
            )),
        }
    }

    /// Marketplace search (see [`crate::ListingQuery`]); `now` in ms.
    pub fn search_listings(
        &self,
        query: &crate::ListingQuery,
        now: u64,
    ) -> Result<Vec<crate::ListingHit>, StoreError> {
        match &self.inner.search {
            Some(s) => s.search_listings(query, now),
            None => Err(StoreError::BadQuery(
                "search is turned off on this node".into(),
            )),
        }
    }

    /// The search index, if this store keeps one.
    pub fn search_index(&self) -> Option<&Search> {
        self.inner.search.as_deref()
    }

    /// Bytes the store takes on disk (sled's estimate).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk()?)
    }

    /// Read access.
    pub fn reader(&self) -> &Reader {
        &self.inner.reader
    }
}

impl Deref for Store {
    type Target = Reader;

    fn deref(&self) -> &Reader {
        &self.inner.reader
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(stop) = self.stop_expiry.take() {
            let _ = stop.send(());
        }
        let _ = self.inbox.send(Command::Shutdown);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        let _ = self.db.flush();
    }
}

const EXPIRY_CHUNK: usize = 1000;

fn expire_with(inbox: &flume::Sender<Command>, now_ms: u64) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let (reply, answer) = flume::bounded(1);
        inbox
            .send(Command::Expire {
                now_ms,
                limit: EXPIRY_CHUNK,
                reply,
            })
            .map_err(|_| StoreError::Closed)?;
        let n = answer.recv().map_err(|_| StoreError::Closed)??;
        total += n;
        if n < EXPIRY_CHUNK {
            return Ok(total);
        }
    }
}

fn expiry_loop(
    inbox: flume::Sender<Command>,
    stop: flume::Receiver<()>,
    every: Duration,
    clock: fn() -> u64,
) {
    loop {
        match stop.recv_timeout(every) {
            Err(flume::RecvTimeoutError::Timeout) => {
                if let Err(e) = expire_with(&inbox, clock()) {
                    tracing::warn!(error = %e, "story expiry failed; will retry");
                }
            }
            _ => return,
        }
    }
}
