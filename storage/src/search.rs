//! Full-text search with tantivy: posts (text, hashtags), profiles (name,
//! bio) and listings (title, description, category).
//!
//! ```text
//!  writer ──notify(removed)──► indexer thread ──► tantivy IndexWriter ──► commit(payload = seq)
//!                                   │  reads the acceptance log after the
//!                                   │  last indexed seq, so it catches up
//!                                   ▼  after a restart or a rebuild
//!  Store::search ─────────────► IndexReader ──► hits ──► kept only if still stored
//! ```
//!
//! The index is derived: it records in each commit how far it has indexed
//! (the commit payload holds the sequence number), catches up from the log on
//! start, and [`Search::rebuild`] starts it over from the event store. Hits are
//! checked against the store, so a deleted or expired event is never returned
//! even before the index has caught up with its removal.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kith_protocol::kinds::Payload;
use kith_protocol::{Event, EventId, Kind};
use tantivy::collector::TopDocs;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::error::{OpenStoreError, StoreError};
use crate::query::Reader;

const ANALYZER: &str = "kith";
/// The indexing arena. Every commit allocates a fresh one, so a smaller
/// arena is cheaper for a node that commits often with few events (a
/// testnet of 50 nodes on two cores spent a visible share of its time
/// zeroing 64 MiB arenas); bulk indexing still fills it well.
const WRITER_MEMORY: usize = 32 << 20;
/// Events indexed before a commit is forced.
const COMMIT_EVERY_DOCS: usize = 20_000;
/// Longest a new event waits before a commit makes it searchable.
const COMMIT_EVERY: Duration = Duration::from_millis(1000);

/// A search request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Words, matched with typo tolerance.
    pub text: String,
    /// Only these kinds (post, reply, quote, profile, listing); empty for all.
    pub kinds: Vec<Kind>,
    /// Only this language (BCP 47 tag as written in the event).
    pub lang: Option<String>,
    /// Most hits to return.
    pub limit: usize,
}

/// How listing results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListingSort {
    /// Best match first (needs words; without them, newest first).
    #[default]
    Relevance,
    /// Most recently published or edited first.
    Newest,
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
}

/// A marketplace search: words (optional) and filters, all of which must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingQuery {
    /// Words, matched with typo tolerance in title, description, category
    /// and place; empty to browse.
    pub text: String,
    /// A category path: it and its children (`home` matches `home/furniture`).
    pub category: Option<String>,
    /// Lowest price per unit, minor units.
    pub min_price: Option<u64>,
    /// Highest price per unit, minor units.
    pub max_price: Option<u64>,
    /// ISO 4217 code.
    pub currency: Option<String>,
    /// A geohash prefix (1 to 6 characters): listings inside that cell.
    pub near: Option<String>,
    /// Only listings with units left.
    pub in_stock: bool,
    /// Only this seller's listings.
    pub seller: Option<kith_protocol::PublicKey>,
    /// Order of the results.
    pub sort: ListingSort,
    /// Most hits to return (1 to 100).
    pub limit: usize,
}

/// One listing found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingHit {
    /// The listing's id (its original event).
    pub listing: EventId,
    /// Its current version.
    pub version: EventId,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The event.
    pub id: EventId,
    /// Its kind.
    pub kind: Kind,
    /// Relevance (BM25, higher is better).
    pub score: f32,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    kind: Field,
    lang: Field,
    slot: Field,
    text: Field,
    tags: Field,
    name: Field,
    bio: Field,
    title: Field,
    description: Field,
    category: Field,
    place: Field,
    price: Field,
    created: Field,
    currency: Field,
    cat: Field,
    geo: Field,
    seller: Field,
    stock: Field,
}

/// Fields searched for words, with their weights.
const fn weighted(f: &Fields) -> [(Field, f32); 8] {
    [
        (f.text, 1.0),
        (f.tags, 2.0),
        (f.name, 3.0),
        (f.bio, 1.0),
        (f.title, 2.5),
        (f.description, 1.0),
        (f.category, 1.5),
        (f.place, 1.0),
    ]
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        lang: b.add_text_field("lang", STRING),
        slot: b.add_text_field("slot", STRING | STORED),
        text: b.add_text_field("text", text_opts.clone()),
        tags: b.add_text_field("tags", text_opts.clone()),
        name: b.add_text_field("name", text_opts.clone()),
        bio: b.add_text_field("bio", text_opts.clone()),
        title: b.add_text_field("title", text_opts.clone()),
        description: b.add_text_field("description", text_opts.clone()),
        category: b.add_text_field("category", text_opts.clone()),
        place: b.add_text_field("place", text_opts),
        price: b.add_u64_field("price", INDEXED | FAST),
        created: b.add_u64_field("created", FAST),
        currency: b.add_text_field("currency", STRING),
        cat: b.add_text_field("cat", STRING),
        geo: b.add_text_field("geo", STRING),
        seller: b.add_text_field("seller", STRING),
        stock: b.add_text_field("stock", STRING),
    };
    (b.build(), fields)
}

/// How text is cut into words for search: split on non-alphanumerics, words
/// over 64 bytes dropped, lower-cased, accents folded. No stemmer (Kith's
/// text is in many languages). The relay's NIP-50 index uses it too.
pub fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The distinct words of a query, as the index cuts them.
fn query_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut analyzer = text_analyzer();
    let mut stream = analyzer.token_stream(text);
    while let Some(token) = stream.next() {
        if !words.contains(&token.text) {
            words.push(token.text.clone());
        }
    }
    words
}

enum Msg {
    Wake(Vec<EventId>),
    Rebuild(flume::Sender<Result<(), StoreError>>),
    Shutdown,
}

struct Progress {
    indexed: AtomicU64,
    lock: Mutex<()>,
    changed: Condvar,
}

/// The search index and its indexer thread.
pub struct Search {
    inner: Arc<Inner>,
    tx: flume::Sender<Msg>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Inner {
    reader: IndexReader,
    fields: Fields,
    store: Reader,
    progress: Progress,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search")
            .field("indexed", &self.indexed_seq())
            .finish_non_exhaustive()
    }
}

impl Search {
    /// Opens (or creates) the index in `dir` and starts catching up with `store`.
    pub(crate) fn open(dir: &Path, store: Reader) -> Result<Search, OpenStoreError> {
        let err = |source| OpenStoreError::Search {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| err(tantivy::TantivyError::from(e)))?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| err(tantivy::TantivyError::from(e)))?;
        let index = match Index::open_or_create(directory, schema.clone()) {
            Ok(index) => index,
            // An index made with an older schema: it is derived, so it is
            // dropped and rebuilt from the log.
            Err(tantivy::TantivyError::SchemaError(e)) => {
                tracing::warn!(error = %e, dir = %dir.display(), "search index has an older schema; rebuilding it");
                std::fs::remove_dir_all(dir).map_err(|e| err(tantivy::TantivyError::from(e)))?;
                std::fs::create_dir_all(dir).map_err(|e| err(tantivy::TantivyError::from(e)))?;
                let directory = tantivy::directory::MmapDirectory::open(dir)
                    .map_err(|e| err(tantivy::TantivyError::from(e)))?;
                Index::open_or_create(directory, schema).map_err(err)?
            }
            Err(e) => return Err(err(e)),
        };
        index.tokenizers().register(ANALYZER, text_analyzer());
        let indexed = index
            .load_metas()
            .map_err(err)?
            .payload
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(0);
        let writer: IndexWriter = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(err)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        let inner = Arc::new(Inner {
            reader,
            fields,
            store,
            progress: Progress {
                indexed: AtomicU64::new(indexed),
                lock: Mutex::new(()),
                changed: Condvar::new(),
            },
        });
        let (tx, rx) = flume::bounded(1024);
        let worker = Indexer {
            inner: inner.clone(),
            writer,
            position: indexed,
            rx,
            dirty: 0,
            last_commit: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("kith-search".into())
            .spawn(move || worker.run())
            .map_err(|e| err(tantivy::TantivyError::from(e)))?;
        let search = Search {
            inner,
            tx,
            thread: Mutex::new(Some(thread)),
        };
        search.notify(&[]);
        Ok(search)
    }

    /// Tells the indexer that new events are in the log, and which were removed.
    pub(crate) fn notify(&self, removed: &[EventId]) {
        // A full queue already holds a wake-up; the removals are covered by
        // the store check on every hit and by the next rebuild.
        let _ = self.tx.try_send(Msg::Wake(removed.to_vec()));
    }

    /// The last sequence number indexed and committed.
    pub fn indexed_seq(&self) -> u64 {
        self.inner.progress.indexed.load(Ordering::Acquire)
    }

    /// Waits until everything up to `seq` is searchable, or `timeout` passes.
    pub fn wait_indexed(&self, seq: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let p = &self.inner.progress;
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

    /// Drops the index's contents and indexes the whole event store again.
    pub fn rebuild(&self) -> Result<(), StoreError> {
        let (reply, answer) = flume::bounded(1);
        self.tx
            .send(Msg::Rebuild(reply))
            .map_err(|_| StoreError::Closed)?;
        answer.recv().map_err(|_| StoreError::Closed)?
    }

    /// Searches. Results are ranked by relevance and are all still stored.
    pub fn search(&self, q: &SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
        let limit = q.limit.clamp(1, 100);
        let f = self.inner.fields;
        let mut words = query_words(&q.text);
        if words.is_empty() {
            return Err(StoreError::BadQuery("no words to search for".into()));
        }
        words.truncate(8);
        let mut must = self.word_clauses(&words, &weighted(&f));
        if !q.kinds.is_empty() {
            let kinds: Vec<(Occur, Box<dyn Query>)> = q
                .kinds
                .iter()
                .map(|k| {
                    let t = Term::from_field_text(f.kind, k.name());
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(t, IndexRecordOption::Basic)) as Box<dyn Query>,
                    )
                })
                .collect();
            must.push((Occur::Must, Box::new(BooleanQuery::new(kinds))));
        }
        if let Some(lang) = &q.lang {
            let t = Term::from_field_text(f.lang, lang);
            must.push((
                Occur::Must,
                Box::new(TermQuery::new(t, IndexRecordOption::Basic)),
            ));
        }
        let query = BooleanQuery::new(must);
        let searcher = self.inner.reader.searcher();
        // Ask for a few more than needed: some may have been removed since indexing.
        let top = searcher.search(&query, &TopDocs::with_limit(limit + 10).order_by_score())?;
        let mut hits = Vec::with_capacity(limit);
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let id = doc
                .get_first(f.id)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse::<EventId>().ok());
            let kind = doc
                .get_first(f.kind)
                .and_then(|v| v.as_str())
                .and_then(Kind::from_name);
            let (Some(id), Some(kind)) = (id, kind) else {
                continue;
            };
            if self.inner.store.contains(&id)? {
                hits.push(SearchHit { id, kind, score });
            }
            if hits.len() == limit {
                break;
            }
        }
        Ok(hits)
    }

    /// One `Must` clause per word: the word (or a near spelling) in any of `fields`.
    fn word_clauses(
        &self,
        words: &[String],
        fields: &[(Field, f32)],
    ) -> Vec<(Occur, Box<dyn Query>)> {
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in words {
            let distance = match word.chars().count() {
                0..=3 => 0,
                4..=7 => 1,
                _ => 2,
            };
            let mut any_field: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for &(field, weight) in fields {
                let term = Term::from_field_text(field, word);
                let exact = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
                any_field.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(exact), 2.0 * weight)),
                ));
                if distance > 0 {
                    let fuzzy = FuzzyTermQuery::new(term, distance, true);
                    any_field.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(fuzzy), weight)),
                    ));
                }
            }
            must.push((Occur::Must, Box::new(BooleanQuery::new(any_field))));
        }
        must
    }

    /// Searches the marketplace: listings whose current version matches
    /// the words (if any) and every filter, in the order asked. A hit is
    /// checked against the store before it is returned: still the current
    /// version, not expired at `now` (ms), and with stock when `in_stock`
    /// asks for it (the index may be a moment behind).
    pub fn search_listings(
        &self,
        q: &ListingQuery,
        now: u64,
    ) -> Result<Vec<ListingHit>, StoreError> {
        let limit = q.limit.clamp(1, 100);
        let f = self.inner.fields;
        let mut words = query_words(&q.text);
        words.truncate(8);
        let fields = [
            (f.title, 2.5),
            (f.description, 1.0),
            (f.category, 1.5),
            (f.place, 1.0),
        ];
        let mut must = self.word_clauses(&words, &fields);
        let term = |field: Field, text: &str| -> (Occur, Box<dyn Query>) {
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(field, text),
                    IndexRecordOption::Basic,
                )),
            )
        };
        must.push(term(f.kind, Kind::Listing.name()));
        if let Some(c) = &q.category {
            must.push(term(f.cat, c.trim_end_matches('/')));
        }
        if let Some(c) = &q.currency {
            must.push(term(f.currency, c));
        }
        if let Some(g) = &q.near {
            must.push(term(f.geo, g));
        }
        if let Some(k) = &q.seller {
            must.push(term(f.seller, &k.to_string()));
        }
        if q.in_stock {
            must.push(term(f.stock, "1"));
        }
        if q.min_price.is_some() || q.max_price.is_some() {
            use std::ops::Bound;
            let bound = |v: Option<u64>| {
                v.map_or(Bound::Unbounded, |v| {
                    Bound::Included(Term::from_field_u64(f.price, v))
                })
            };
            must.push((
                Occur::Must,
                Box::new(RangeQuery::new(bound(q.min_price), bound(q.max_price))),
            ));
        }
        let query: Box<dyn Query> = if must.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(must))
        };
        let searcher = self.inner.reader.searcher();
        // A few more than needed: some may have changed since indexing.
        let want = limit + 20;
        let sort = match q.sort {
            ListingSort::Relevance if words.is_empty() => ListingSort::Newest,
            s => s,
        };
        let addresses: Vec<tantivy::DocAddress> = match sort {
            ListingSort::Relevance => searcher
                .search(&query, &TopDocs::with_limit(want).order_by_score())?
                .into_iter()
                .map(|(_, a)| a)
                .collect(),
            ListingSort::Newest => searcher
                .search(
                    &query,
                    &TopDocs::with_limit(want)
                        .order_by_fast_field::<u64>("created", tantivy::Order::Desc),
                )?
                .into_iter()
                .map(|(_, a)| a)
                .collect(),
            ListingSort::PriceAsc | ListingSort::PriceDesc => {
                let order = if sort == ListingSort::PriceAsc {
                    tantivy::Order::Asc
                } else {
                    tantivy::Order::Desc
                };
                searcher
                    .search(
                        &query,
                        &TopDocs::with_limit(want).order_by_fast_field::<u64>("price", order),
                    )?
                    .into_iter()
                    .map(|(_, a)| a)
                    .collect()
            }
        };
        let mut hits = Vec::with_capacity(limit);
        for address in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            let version = doc
                .get_first(f.id)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse::<EventId>().ok());
            let listing = doc
                .get_first(f.slot)
                .and_then(|v| v.as_str())
                .and_then(|s| s.strip_prefix("listing/"))
                .and_then(|s| s.parse::<EventId>().ok());
            let (Some(version), Some(listing)) = (version, listing) else {
                continue;
            };
            if !self
                .inner
                .listing_live(&listing, &version, q.in_stock, now)?
            {
                continue;
            }
            hits.push(ListingHit { listing, version });
            if hits.len() == limit {
                break;
            }
        }
        Ok(hits)
    }

    /// Stops the indexer after a final commit.
    pub(crate) fn shutdown(&self) {
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Search {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Inner {
    /// Whether `version` is still the current, unexpired version of
    /// `listing` (and has stock, if asked).
    fn listing_live(
        &self,
        listing: &EventId,
        version: &EventId,
        in_stock: bool,
        now: u64,
    ) -> Result<bool, StoreError> {
        let Some(event) = self.store.get(version)? else {
            return Ok(false);
        };
        let Payload::Listing(l) = event.payload() else {
            return Ok(false);
        };
        let current = self
            .store
            .latest(&event.author(), Kind::Listing, Some(listing))?
            .map(|e| e.id());
        if current != Some(*version) || l.withdrawn || l.expires_at.is_some_and(|t| t <= now) {
            return Ok(false);
        }
        Ok(!in_stock || self.store.stock(listing)? > 0)
    }
}

struct Indexer {
    inner: Arc<Inner>,
    writer: IndexWriter,
    /// Last sequence number added to the writer (committed or not).
    position: u64,
    rx: flume::Receiver<Msg>,
    dirty: usize,
    last_commit: Instant,
}

impl Indexer {
    fn run(mut self) {
        loop {
            let msg = if self.dirty > 0 {
                match self.rx.recv_deadline(self.last_commit + COMMIT_EVERY) {
                    Ok(m) => Some(m),
                    Err(flume::RecvTimeoutError::Timeout) => None,
                    Err(flume::RecvTimeoutError::Disconnected) => Some(Msg::Shutdown),
                }
            } else {
                Some(self.rx.recv().unwrap_or(Msg::Shutdown))
            };
            let result = match msg {
                Some(Msg::Shutdown) => {
                    if let Err(e) = self.commit() {
                        tracing::error!(error = %e, "search commit at shutdown failed");
                    }
                    return;
                }
                Some(Msg::Rebuild(reply)) => {
                    let r = self.rebuild();
                    let _ = reply.send(r);
                    Ok(())
                }
                Some(Msg::Wake(removed)) => self.catch_up(&removed),
                None => self.commit(),
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "search indexing failed; it will retry on the next event");
            }
        }
    }

    fn rebuild(&mut self) -> Result<(), StoreError> {
        self.writer.delete_all_documents()?;
        self.inner.progress.indexed.store(0, Ordering::Release);
        self.position = 0;
        self.commit()?;
        self.catch_up(&[])?;
        self.commit()
    }

    fn catch_up(&mut self, removed: &[EventId]) -> Result<(), StoreError> {
        let f = self.inner.fields;
        for id in removed {
            self.writer
                .delete_term(Term::from_field_text(f.id, &id.to_string()));
            self.dirty += 1;
        }
        loop {
            let batch = self.inner.store.log_after(self.position, 1_000)?;
            let Some(last) = batch.last().map(|s| s.seq) else {
                break;
            };
            for stored in &batch {
                self.index(&stored.event)?;
            }
            self.position = last;
            if self.dirty >= COMMIT_EVERY_DOCS {
                self.commit()?;
            }
        }
        if self.dirty > 0 && self.last_commit.elapsed() >= COMMIT_EVERY {
            self.commit()?;
        } else if self.dirty == 0 {
            // What was read since the last commit holds nothing searchable
            // (reactions, follows…): it is as indexed as it will be. Without
            // this, a log ending in such events was never reported indexed.
            self.publish();
        }
        Ok(())
    }

    /// Tells waiters that everything up to `position` is searchable.
    fn publish(&self) {
        let p = &self.inner.progress;
        let _guard = p.lock.lock().unwrap_or_else(|e| e.into_inner());
        p.indexed.store(self.position, Ordering::Release);
        p.changed.notify_all();
    }

    fn index(&mut self, event: &Event) -> Result<(), StoreError> {
        let f = self.inner.fields;
        let id = event.id().to_string();
        let kind = event.kind().name();
        let mut d = TantivyDocument::default();
        d.add_text(f.id, &id);
        d.add_text(f.kind, kind);
        match event.payload() {
            Payload::Post(kith_protocol::kinds::Post { content })
            | Payload::Reply(kith_protocol::kinds::Reply { content })
            | Payload::Quote(kith_protocol::kinds::Quote { content }) => {
                d.add_text(f.text, &content.text);
                for tag in &content.tags {
                    d.add_text(f.tags, tag);
                }
                if let Some(lang) = &content.lang {
                    d.add_text(f.lang, lang);
                }
            }
            Payload::Profile(p) => {
                // Only the current profile is searchable.
                if self.inner.store.profile(&event.author())?.map(|e| e.id()) != Some(event.id()) {
                    return Ok(());
                }
                let slot = format!("profile/{}", event.author());
                self.writer
                    .delete_term(Term::from_field_text(f.slot, &slot));
                d.add_text(f.slot, &slot);
                d.add_text(f.name, &p.name);
                d.add_text(f.bio, &p.bio);
                for lang in &p.langs {
                    d.add_text(f.lang, lang);
                }
            }
            Payload::Listing(l) => {
                let original = event
                    .event_ref(kith_protocol::Rel::EditOf)
                    .unwrap_or(event.id());
                let current =
                    self.inner
                        .store
                        .latest(&event.author(), Kind::Listing, Some(&original))?;
                if current.map(|e| e.id()) != Some(event.id()) {
                    return Ok(());
                }
                let slot = format!("listing/{original}");
                self.writer
                    .delete_term(Term::from_field_text(f.slot, &slot));
                if l.withdrawn {
                    self.dirty += 1;
                    return Ok(());
                }
                d.add_text(f.slot, &slot);
                d.add_text(f.title, &l.title);
                d.add_text(f.description, &l.description);
                d.add_text(f.category, l.category.replace('/', " "));
                d.add_u64(f.price, l.price.amount);
                d.add_u64(f.created, event.created_at());
                d.add_text(f.currency, &l.price.currency);
                d.add_text(f.seller, event.author().to_string());
                let in_stock = self.inner.store.stock(&original)? > 0;
                d.add_text(f.stock, if in_stock { "1" } else { "0" });
                let mut path = String::new();
                for segment in l.category.split('/') {
                    if !path.is_empty() {
                        path.push('/');
                    }
                    path.push_str(segment);
                    d.add_text(f.cat, &path);
                }
                if let Some(place) = &l.location {
                    d.add_text(f.place, &place.text);
                    for n in 1..=place.geohash.len() {
                        d.add_text(f.geo, &place.geohash[..n]);
                    }
                }
            }
            // A step that takes units from stock or gives them back changes
            // whether the listing is in stock: index its current version again.
            Payload::TradeUpdate(step)
                if matches!(
                    step.state,
                    kith_protocol::kinds::TradeState::Accepted
                        | kith_protocol::kinds::TradeState::Cancelled
                ) =>
            {
                let listing = event
                    .event_ref(kith_protocol::Rel::Order)
                    .and_then(|o| self.inner.store.trade(&o).ok().flatten())
                    .map(|t| (t.listing, t.seller));
                if let Some((listing, seller)) = listing
                    && let Some(current) =
                        self.inner
                            .store
                            .latest(&seller, Kind::Listing, Some(&listing))?
                {
                    return self.index(&current);
                }
                return Ok(());
            }
            _ => return Ok(()),
        }
        self.writer.add_document(d)?;
        self.dirty += 1;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&self.position.to_string());
        prepared.commit()?;
        self.inner.reader.reload()?;
        self.dirty = 0;
        self.last_commit = Instant::now();
        self.publish();
        Ok(())
    }
}
