//! The ranked home feed over HTTP: weights from the account's settings and
//! the query, a ranking per first page kept as a snapshot that later pages
//! read from, and each item's explanation in the caller's language.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kith_node::feed::{self, Lang, Limits, Ranked, Viewer, Weights};
use kith_node::protocol::kinds::Payload;
use kith_node::protocol::{Kind, PublicKey};
use kith_node::storage::Reader;
use lru::LruCache;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::server::AppState;
use crate::views::{self, Graph, Item, RawJson};

/// Rankings kept for paging.
const SNAPSHOTS: usize = 256;
/// How long a ranking serves later pages.
const SNAPSHOT_TTL: Duration = Duration::from_secs(15 * 60);

/// One person's ranking, for its later pages.
#[derive(Debug)]
pub(crate) struct Snapshot {
    owner: PublicKey,
    weights: Weights,
    items: Vec<Ranked>,
    made: Instant,
}

/// Rankings by snapshot id.
#[derive(Debug)]
pub(crate) struct Snapshots(Mutex<LruCache<u64, Arc<Snapshot>>>);

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots(Mutex::new(LruCache::new(
            std::num::NonZeroUsize::new(SNAPSHOTS).unwrap_or(std::num::NonZeroUsize::MIN),
        )))
    }
}

impl Snapshots {
    fn get(&self, id: u64, owner: &PublicKey, weights: &Weights) -> Option<Arc<Snapshot>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&id) {
            Some(s)
                if s.owner == *owner
                    && s.weights == *weights
                    && s.made.elapsed() < SNAPSHOT_TTL =>
            {
                Some(s.clone())
            }
            _ => None,
        }
    }

    fn put(&self, s: Arc<Snapshot>) -> u64 {
        let id = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
        self.0.lock().unwrap_or_else(|e| e.into_inner()).put(id, s);
        id
    }
}

/// A ranked-feed cursor: `r<snapshot>.<offset>`.
pub(crate) fn parse_cursor(text: &str) -> ApiResult<(u64, usize)> {
    let bad = || ApiError::bad_request("bad_cursor", "the cursor is not valid");
    let rest = text.strip_prefix('r').ok_or_else(bad)?;
    let (id, offset) = rest.split_once('.').ok_or_else(bad)?;
    Ok((
        u64::from_str_radix(id, 16).map_err(|_| bad())?,
        offset.parse().map_err(|_| bad())?,
    ))
}

/// The weights: defaults, then the account's `feed.weights` setting, then
/// the query's `w_*` parameters.
pub(crate) fn weights(
    settings: Option<&serde_json::Value>,
    query: &[(&'static str, Option<f64>)],
) -> ApiResult<Weights> {
    let mut w = Weights::default();
    if let Some(obj) = settings
        .and_then(|s| s.pointer("/feed/weights"))
        .and_then(|v| v.as_object())
    {
        for (k, v) in obj {
            // A stale or hand-edited setting is skipped, not an error.
            if let Some(v) = v.as_f64() {
                let _ = w.set(k, v);
            }
        }
    }
    for (name, value) in query {
        if let Some(v) = value {
            w.set(name, *v).map_err(|e| {
                ApiError::bad_request("invalid_weight", e.to_string())
                    .with_details(serde_json::json!({ "field": format!("w_{name}") }))
            })?;
        }
    }
    Ok(w)
}

/// The explanation language: the query's `lang`, the account's `lang`
/// setting, then `Accept-Language`.
pub(crate) fn lang(
    query: Option<&str>,
    settings: Option<&serde_json::Value>,
    accept: Option<&str>,
) -> Lang {
    query
        .or_else(|| {
            settings
                .and_then(|s| s.get("lang"))
                .and_then(|v| v.as_str())
        })
        .or(accept)
        .map(Lang::from_tag)
        .unwrap_or_default()
}

/// An item's `why`.
#[derive(Debug, Serialize)]
struct Why<'a> {
    score: f64,
    source: &'a feed::Source,
    reasons: Vec<ReasonView<'a>>,
    /// The source and each reason, in words.
    summary: Vec<String>,
}

#[derive(Debug, Serialize)]
struct ReasonView<'a> {
    feature: feed::Feature,
    value: f64,
    weight: f64,
    contribution: f64,
    evidence: &'a feed::Evidence,
    text: String,
}

/// Display names: the profile's name, or the key's start.
struct Names<'a> {
    reader: &'a Reader,
    known: std::cell::RefCell<HashMap<PublicKey, String>>,
}

impl Names<'_> {
    fn name(&self, k: &PublicKey) -> String {
        if let Some(n) = self.known.borrow().get(k) {
            return n.clone();
        }
        let name = views::display_name(self.reader, k);
        self.known.borrow_mut().insert(*k, name.clone());
        name
    }
}

fn why(r: &Ranked, lang: Lang, names: &Names<'_>) -> String {
    let name = |k: &PublicKey| names.name(k);
    let view = Why {
        score: r.score,
        source: &r.source,
        reasons: r
            .reasons
            .iter()
            .map(|x| ReasonView {
                feature: x.feature,
                value: x.value,
                weight: x.weight,
                contribution: x.contribution,
                evidence: &x.evidence,
                text: x.explain(lang, &name),
            })
            .collect(),
        summary: r.explain(lang, &name),
    };
    serde_json::to_string(&view).unwrap_or_else(|_| String::from("null"))
}

/// A ranked page: from the snapshot the cursor names (if it is still
/// kept, is the caller's and has the same weights), else a new ranking.
pub(crate) fn page(
    state: &AppState,
    reader: &Reader,
    me: PublicKey,
    weights: Weights,
    cursor: Option<(u64, usize)>,
    limit: usize,
    lang: Lang,
) -> ApiResult<RawJson> {
    let seq = reader.last_seq()?;
    let (id, snapshot, offset) = match cursor
        .and_then(|(id, off)| state.feeds.get(id, &me, &weights).map(|s| (id, s, off)))
    {
        Some(found) => found,
        None => {
            let graph: Arc<Graph> = state.views.graph(reader, me, seq)?;
            let muted = muted_words(reader, &me)?;
            let items = feed::rank(
                reader,
                Viewer {
                    me,
                    visible: &graph.visible,
                    hidden: &graph.hidden,
                    muted_words: &muted,
                },
                &weights,
                &Limits::default(),
                kith_node::now_ms(),
            )?;
            let snapshot = Arc::new(Snapshot {
                owner: me,
                weights,
                items,
                made: Instant::now(),
            });
            let id = state.feeds.put(snapshot.clone());
            // A cursor whose ranking is gone continues at its offset in
            // the new one.
            (id, snapshot, cursor.map_or(0, |(_, off)| off))
        }
    };
    let end = (offset + limit).min(snapshot.items.len());
    let slice = snapshot.items.get(offset..end).unwrap_or_default();
    let names = Names {
        reader,
        known: Default::default(),
    };
    let mut items = Vec::with_capacity(slice.len());
    let mut ids = Vec::with_capacity(slice.len());
    let mut whys = Vec::with_capacity(slice.len());
    for r in slice {
        if let Some(view) = state.views.event_by_id(reader, &r.id)? {
            ids.push(r.id);
            items.push(view);
            whys.push(why(r, lang, &names));
        }
    }
    let stats = reader.stats(&ids, Some(&me))?;
    let items: Vec<Item> = items
        .into_iter()
        .zip(stats)
        .zip(whys)
        .map(|((view, stats), why)| Item {
            view,
            stats,
            why: Some(why),
        })
        .collect();
    let next = (end < snapshot.items.len()).then(|| format!("r{id:016x}.{end}"));
    if next.is_some() {
        prefetch(state.clone(), snapshot, end, limit, me);
    }
    Ok(views::page_body(&items, next.as_deref(), seq))
}

/// Reads the page after `offset` in the background, so that the reader
/// scrolling on finds its events rendered and its counts' pages in the
/// store's cache: a following page then costs what a warm read does, even
/// when those items were never read since the node started.
fn prefetch(state: AppState, snapshot: Arc<Snapshot>, offset: usize, limit: usize, me: PublicKey) {
    tokio::task::spawn_blocking(move || {
        let reader = state.node.store().reader();
        let end = (offset + limit).min(snapshot.items.len());
        let ids: Vec<_> = snapshot
            .items
            .get(offset..end)
            .unwrap_or_default()
            .iter()
            .map(|r| r.id)
            .collect();
        for id in &ids {
            if state.views.event_by_id(reader, id).is_err() {
                return;
            }
        }
        let _ = reader.stats(&ids, Some(&me));
    });
}

/// The caller's muted words.
fn muted_words(reader: &Reader, me: &PublicKey) -> ApiResult<Vec<String>> {
    Ok(match reader.latest(me, Kind::MuteList, None)? {
        Some(e) => match e.payload() {
            Payload::MuteList(m) => m.words.clone(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    })
}
