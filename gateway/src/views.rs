//! Read caches, and listings assembled from them.
//!
//! - **Rendered events.** An event is content-addressed, so its JSON view
//!   never changes: it is rendered once and reused by every page and every
//!   live subscriber that shows it. Counts are not part of it; they are read
//!   for each page and spliced in.
//! - **Viewers' graphs.** Whom an identity follows, blocks and mutes, read
//!   from the store once and kept until one of its own events changes it.
//!   A task follows the store's stream of accepted events and drops the
//!   graph of whoever published a follow, unfollow, list, delete or
//!   revocation. A graph is served only when that task has seen everything
//!   the store held when the request read it, so a follow shows in the very
//!   next page.
//!
//! Both are bounded in bytes and evict the least recently used entry.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::header;
use axum::response::{IntoResponse, Response};
use kith_node::protocol::{Event, EventId, Kind, PublicKey};
use kith_node::storage::{EventStats, Reader, StoreError, StoredEvent};
use lru::LruCache;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::json::EventView;

/// Bookkeeping bytes counted per cache entry besides its contents.
const ENTRY_OVERHEAD: usize = 96;
/// Bytes counted per identity in a graph (hash set slot and key).
const KEY_BYTES: usize = 48;

/// The gateway's read caches.
#[derive(Debug)]
pub(crate) struct Views {
    events: Mutex<Weighed<EventId, Arc<str>>>,
    graphs: Mutex<Graphs>,
    /// The highest store sequence the invalidation task has handled.
    seen: AtomicU64,
    /// Hits and misses: rendered events, graphs.
    hits: [AtomicU64; 2],
    misses: [AtomicU64; 2],
}

/// One cache's figures, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheFigures {
    pub(crate) name: &'static str,
    pub(crate) entries: usize,
    pub(crate) bytes: usize,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
}

const EVENTS: usize = 0;
const GRAPHS: usize = 1;

#[derive(Debug)]
struct Graphs {
    /// Bumped by every invalidation, so a graph read before one is not
    /// stored after it.
    generation: u64,
    cache: Weighed<PublicKey, Arc<Graph>>,
}

/// An LRU map with a byte budget.
#[derive(Debug)]
struct Weighed<K: std::hash::Hash + Eq, V> {
    lru: LruCache<K, (V, usize)>,
    bytes: usize,
    budget: usize,
}

impl<K: std::hash::Hash + Eq, V: Clone> Weighed<K, V> {
    fn new(budget: usize) -> Self {
        Weighed {
            lru: LruCache::unbounded(),
            bytes: 0,
            budget,
        }
    }

    fn get(&mut self, k: &K) -> Option<V> {
        self.lru.get(k).map(|(v, _)| v.clone())
    }

    fn insert(&mut self, k: K, v: V, weight: usize) {
        let weight = weight + ENTRY_OVERHEAD;
        if weight > self.budget {
            return;
        }
        if let Some((_, (_, old))) = self.lru.push(k, (v, weight)) {
            self.bytes -= old;
        }
        self.bytes += weight;
        while self.bytes > self.budget {
            match self.lru.pop_lru() {
                Some((_, (_, w))) => self.bytes -= w,
                None => break,
            }
        }
    }

    fn remove(&mut self, k: &K) {
        if let Some((_, w)) = self.lru.pop(k) {
            self.bytes -= w;
        }
    }

    fn clear(&mut self) {
        self.lru.clear();
        self.bytes = 0;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lru.len()
    }

    fn figures(&self, name: &'static str, hits: &AtomicU64, misses: &AtomicU64) -> CacheFigures {
        CacheFigures {
            name,
            entries: self.lru.len(),
            bytes: self.bytes,
            hits: hits.load(Ordering::Relaxed),
            misses: misses.load(Ordering::Relaxed),
        }
    }
}

/// Whom a viewer sees and hides.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    pub(crate) me: PublicKey,
    /// Followed identities and the viewer, less the hidden ones: whose
    /// posts make the home timeline.
    pub(crate) visible: HashSet<PublicKey>,
    /// Blocked and muted identities.
    pub(crate) hidden: HashSet<PublicKey>,
}

impl Graph {
    /// Reads the graph from the store.
    pub(crate) fn load(reader: &Reader, me: PublicKey) -> Result<Graph, StoreError> {
        let mut hidden: HashSet<PublicKey> = reader.blocked(&me)?.into_iter().collect();
        hidden.extend(reader.muted(&me)?);
        let mut visible: HashSet<PublicKey> = reader.follow_set(&me)?.into_iter().collect();
        visible.insert(me);
        visible.retain(|k| !hidden.contains(k));
        Ok(Graph {
            me,
            visible,
            hidden,
        })
    }

    /// Whether `e` may change this graph.
    pub(crate) fn changed_by(&self, e: &Event) -> bool {
        e.author() == self.me && changes_graph(e)
    }

    fn weight(&self) -> usize {
        (self.visible.len() + self.hidden.len()) * KEY_BYTES
    }
}

/// Whether an event may change its author's graph: follows, lists, and
/// deletes and revocations (which can remove either).
fn changes_graph(e: &Event) -> bool {
    matches!(
        e.kind(),
        Kind::Follow
            | Kind::Unfollow
            | Kind::BlockList
            | Kind::MuteList
            | Kind::Delete
            | Kind::Revocation
    )
}

impl Views {
    /// Caches within `budget` bytes: three quarters for rendered events,
    /// one for graphs.
    pub(crate) fn new(budget: usize) -> Views {
        Views {
            events: Mutex::new(Weighed::new(budget / 4 * 3)),
            graphs: Mutex::new(Graphs {
                generation: 0,
                cache: Weighed::new(budget / 4),
            }),
            seen: AtomicU64::new(0),
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    fn count(&self, cache: usize, hit: bool) {
        let c = if hit { &self.hits } else { &self.misses };
        c[cache].fetch_add(1, Ordering::Relaxed);
    }

    fn events(&self) -> MutexGuard<'_, Weighed<EventId, Arc<str>>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn graphs(&self) -> MutexGuard<'_, Graphs> {
        self.graphs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The event's JSON view (without counts).
    pub(crate) fn event(&self, e: &Event) -> Arc<str> {
        let id = e.id();
        if let Some(json) = self.events().get(&id) {
            self.count(EVENTS, true);
            return json;
        }
        self.count(EVENTS, false);
        let json = render(e);
        self.events().insert(id, json.clone(), json.len());
        json
    }

    /// The JSON view of the event `id`, from the cache or the store; `None`
    /// if the store no longer holds it.
    pub(crate) fn event_by_id(
        &self,
        reader: &Reader,
        id: &EventId,
    ) -> Result<Option<Arc<str>>, StoreError> {
        if let Some(json) = self.events().get(id) {
            self.count(EVENTS, true);
            return Ok(Some(json));
        }
        Ok(reader.get(id)?.map(|e| self.event(&e)))
    }

    /// The viewer's graph as of store sequence `seq` (what the caller read
    /// with [`Reader::last_seq`] before this call).
    pub(crate) fn graph(
        &self,
        reader: &Reader,
        me: PublicKey,
        seq: u64,
    ) -> Result<Arc<Graph>, StoreError> {
        let current = self.seen.load(Ordering::Acquire) >= seq;
        let generation = {
            let mut graphs = self.graphs();
            if current && let Some(g) = graphs.cache.get(&me) {
                self.count(GRAPHS, true);
                return Ok(g);
            }
            graphs.generation
        };
        self.count(GRAPHS, false);
        let graph = Arc::new(Graph::load(reader, me)?);
        let mut graphs = self.graphs();
        if graphs.generation == generation {
            let weight = graph.weight();
            graphs.cache.insert(me, graph.clone(), weight);
        }
        Ok(graph)
    }

    /// Takes note of an accepted event.
    fn saw(&self, s: &StoredEvent) {
        if changes_graph(&s.event) {
            let mut graphs = self.graphs();
            graphs.generation += 1;
            graphs.cache.remove(&s.event.author());
        }
        self.seen.fetch_max(s.seq, Ordering::AcqRel);
    }

    /// Forgets every graph (events were missed).
    fn forget_graphs(&self) {
        let mut graphs = self.graphs();
        graphs.generation += 1;
        graphs.cache.clear();
    }

    /// Each cache's figures.
    pub(crate) fn figures(&self) -> [CacheFigures; 2] {
        [
            self.events()
                .figures("events", &self.hits[EVENTS], &self.misses[EVENTS]),
            self.graphs()
                .cache
                .figures("graphs", &self.hits[GRAPHS], &self.misses[GRAPHS]),
        ]
    }

    /// Keeps the graphs true to the store until the stream closes. `now` is
    /// the store's last sequence, read after `feed` was subscribed.
    pub(crate) async fn follow(&self, mut feed: broadcast::Receiver<StoredEvent>, now: u64) {
        self.seen.fetch_max(now, Ordering::AcqRel);
        loop {
            match feed.recv().await {
                Ok(s) => self.saw(&s),
                // Whatever was missed was committed before now: graphs read
                // from here on include it, older ones are dropped.
                Err(RecvError::Lagged(_)) => self.forget_graphs(),
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// An event's JSON view, rendered.
fn render(e: &Event) -> Arc<str> {
    serde_json::to_string(&EventView::of(e))
        .unwrap_or_else(|_| String::from("null"))
        .into()
}

/// Appends `view` (an object) with `"stats"` (and `"why"`) added.
fn push_with_stats(out: &mut String, view: &str, s: &EventStats, why: Option<&str>) {
    match view.strip_suffix('}') {
        Some(open) => {
            out.push_str(open);
            out.push_str(",\"stats\":");
            push_stats(out, s);
            if let Some(why) = why {
                out.push_str(",\"why\":");
                out.push_str(why);
            }
            out.push('}');
        }
        None => out.push_str(view),
    }
}

/// Appends the JSON of `StatsView` for `s`.
fn push_stats(out: &mut String, s: &EventStats) {
    out.push_str("{\"reactions\":{");
    for (i, (t, n)) in kith_node::protocol::kinds::ReactionType::ALL
        .iter()
        .zip(s.reactions)
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\":{n}", t.name());
    }
    let _ = write!(
        out,
        "}},\"replies\":{},\"reposts\":{},\"quotes\":{},\"thread_replies\":{},\"mine\":",
        s.replies, s.reposts, s.quotes, s.thread_replies
    );
    match s.mine {
        Some(t) => {
            let _ = write!(out, "\"{}\"", t.name());
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"mine_id\":");
    match &s.mine_id {
        // An id's text form is base32: nothing in it needs escaping.
        Some(id) => {
            let _ = write!(out, "\"{id}\"");
        }
        None => out.push_str("null"),
    }
    out.push('}');
}

/// One item of a page.
#[derive(Debug)]
pub(crate) struct Item {
    /// The rendered event.
    pub(crate) view: Arc<str>,
    /// Its counts.
    pub(crate) stats: EventStats,
    /// Why it is there (ranked feeds): a JSON object.
    pub(crate) why: Option<String>,
}

impl Item {
    pub(crate) fn new(view: Arc<str>, stats: EventStats) -> Item {
        Item {
            view,
            stats,
            why: None,
        }
    }
}

/// An `EventPage` body: rendered events with their counts, the next
/// cursor and the sequence the page was read at.
pub(crate) fn page_body(items: &[Item], next: Option<&str>, seq: u64) -> RawJson {
    let entries: Vec<Entry<'_>> = items.iter().map(Entry::Kith).collect();
    mixed_page_body(&entries, next, seq)
}

/// One item of a page: a Kith event, or something already rendered (a
/// Nostr note from the bridge, `{"origin":"nostr",…}`).
#[derive(Debug)]
pub(crate) enum Entry<'a> {
    /// A Kith event with its counts.
    Kith(&'a Item),
    /// Rendered JSON.
    Raw(String),
}

/// An `EventPage` body of Kith events and other items, in the given order.
pub(crate) fn mixed_page_body(items: &[Entry<'_>], next: Option<&str>, seq: u64) -> RawJson {
    let mut out = String::with_capacity(
        64 + items
            .iter()
            .map(|e| match e {
                Entry::Kith(i) => i.view.len() + 200 + i.why.as_ref().map_or(0, String::len),
                Entry::Raw(r) => r.len(),
            })
            .sum::<usize>(),
    );
    out.push_str("{\"items\":[");
    for (i, entry) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match entry {
            Entry::Kith(item) => {
                push_with_stats(&mut out, &item.view, &item.stats, item.why.as_deref())
            }
            Entry::Raw(raw) => out.push_str(raw),
        }
    }
    out.push_str("],\"next\":");
    match next {
        Some(c) => out.push_str(&serde_json::to_string(c).unwrap_or_else(|_| "null".into())),
        None => out.push_str("null"),
    }
    let _ = write!(out, ",\"seq\":{seq}}}");
    RawJson(out)
}

/// A live `event` frame: `{"type":"event","sub","seq","event"}`.
pub(crate) fn event_frame(sub: &str, seq: u64, view: &str) -> String {
    let sub = serde_json::to_string(sub).unwrap_or_else(|_| String::from("null"));
    format!("{{\"type\":\"event\",\"sub\":{sub},\"seq\":{seq},\"event\":{view}}}")
}

/// A JSON body already serialised.
#[derive(Debug)]
pub(crate) struct RawJson(pub(crate) String);

impl IntoResponse for RawJson {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}

/// The caches' budget in bytes for `cache_mib` (0 turns them off).
pub(crate) fn budget_bytes(mib: usize) -> usize {
    mib.saturating_mul(1 << 20)
}

/// What to call an identity: its profile's name, else the start of its key.
pub(crate) fn display_name(reader: &Reader, k: &PublicKey) -> String {
    reader
        .profile(k)
        .ok()
        .flatten()
        .and_then(|e| match e.payload() {
            kith_node::protocol::Payload::Profile(p) if !p.name.trim().is_empty() => {
                Some(p.name.trim().to_string())
            }
            _ => None,
        })
        .unwrap_or_else(|| {
            let text = k.to_text();
            format!("{}…", &text[..text.len().min(12)])
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_node::protocol::kinds::ReactionType;

    fn post(text: &str) -> Event {
        let key = kith_node::protocol::Keypair::generate(&mut rand_core::OsRng);
        let draft: crate::json::Draft = serde_json::from_value(serde_json::json!({
            "kind": "post", "payload": { "text": text }
        }))
        .unwrap();
        draft
            .build(key.public(), key.public(), 1_767_225_600_000)
            .unwrap()
            .sign(&key)
            .unwrap()
    }

    /// The spliced page is the page serde would write.
    #[test]
    fn page_body_matches_the_typed_page() {
        let events = [post("hola"), post("a \"quoted\" } brace")];
        let views = Views::new(1 << 20);
        let stats = [
            EventStats {
                reactions: [1, 0, 2, 0, 0, 7],
                replies: 3,
                reposts: 1,
                quotes: 0,
                thread_replies: 9,
                mine: Some(ReactionType::Haha),
                mine_id: Some(events[1].id()),
            },
            EventStats::default(),
        ];
        let items: Vec<_> = events
            .iter()
            .zip(&stats)
            .map(|(e, s)| Item::new(views.event(e), s.clone()))
            .collect();
        let next = Some(kith_node::storage::Cursor {
            created_at: 5,
            id: events[1].id(),
        });
        let text = next.map(|c| c.to_string());
        let got: serde_json::Value =
            serde_json::from_str(&page_body(&items, text.as_deref(), 42).0).unwrap();
        let typed = crate::json::EventPage {
            items: events
                .iter()
                .zip(&stats)
                .map(|(e, s)| EventView::of(e).with_stats(s))
                .collect(),
            next: next.map(|c| c.to_string()),
            seq: 42,
        };
        assert_eq!(got, serde_json::to_value(typed).unwrap());
        let empty: serde_json::Value = serde_json::from_str(&page_body(&[], None, 0).0).unwrap();
        assert_eq!(
            empty,
            serde_json::json!({ "items": [], "next": null, "seq": 0 })
        );
    }

    #[test]
    fn the_event_cache_keeps_to_its_budget() {
        let mut c: Weighed<u32, Arc<str>> = Weighed::new(10 * (ENTRY_OVERHEAD + 100));
        for i in 0..100 {
            c.insert(i, Arc::from("x".repeat(100)), 100);
            assert!(c.bytes <= c.budget);
        }
        assert_eq!(c.len(), 10);
        assert!(c.get(&99).is_some() && c.get(&0).is_none());
        c.remove(&99);
        assert_eq!(c.len(), 9);
        // Too big for the budget: not kept.
        c.insert(1000, Arc::from(""), 1 << 20);
        assert!(c.get(&1000).is_none());
    }
}
