//! Stories: the tray of followed authors with live stories, view receipts,
//! highlights, and expiry driven by the node's clock.
//!
//! A story lives until its `expires_at`. The store drops expired stories and
//! view receipts in sweeps ([`run_expiry`], on tokio's clock so paused time
//! moves it); between two sweeps every read here checks `expires_at` against
//! [`crate::now_ms`], so an expired story is never shown, listed or counted.
//! Sync and search read the store, which refuses an expired story on ingest
//! and removes it at the sweep (its search document and log row with it).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use kith_protocol::kinds::{Highlight, HighlightItem, StoryView};
use kith_protocol::{Event, EventId, Kind, Payload, PublicKey, Rel, UnsignedEvent};
pub use kith_storage::expires_at;
use kith_storage::{Cursor, Filter, MAX_PAGE, Reader, Store, StoreError};

/// How often the node sweeps expired stories out of the store by default.
pub const EXPIRY_EVERY: Duration = Duration::from_secs(30);

/// Most distinct viewers listed for one story.
pub const MAX_VIEWERS: usize = 10_000;

/// Whether `event` is an expiring event whose time is up at `now_ms`.
pub fn expired(event: &Event, now_ms: u64) -> bool {
    expires_at(event).is_some_and(|at| at <= now_ms)
}

/// One author in the tray.
#[derive(Debug, Clone)]
pub struct TrayEntry {
    /// Whose stories.
    pub author: PublicKey,
    /// Live stories, oldest first (the order they are watched in), each
    /// with whether the viewer has seen it.
    pub stories: Vec<(Event, bool)>,
    /// How many of them the viewer has not seen.
    pub unseen: usize,
    /// Creation time of the newest.
    pub latest: u64,
}

/// The tray: `authors` (whom the viewer follows, and the viewer) with live
/// stories at `now_ms`; authors with unseen stories first, then newest
/// first. `seen` says whether the viewer has seen a story.
pub fn tray(
    reader: &Reader,
    authors: &[PublicKey],
    seen: impl Fn(&EventId) -> bool,
    now_ms: u64,
) -> Result<Vec<TrayEntry>, StoreError> {
    let mut by_author: HashMap<PublicKey, Vec<Event>> = HashMap::new();
    for story in reader.active_stories(authors, now_ms)? {
        by_author.entry(story.author()).or_default().push(story);
    }
    let mut tray: Vec<TrayEntry> = by_author
        .into_iter()
        .map(|(author, mut stories)| {
            stories.sort_by_key(|e| (e.created_at(), e.id()));
            let latest = stories.last().map_or(0, Event::created_at);
            let stories: Vec<(Event, bool)> = stories
                .into_iter()
                .map(|e| {
                    let was_seen = seen(&e.id());
                    (e, was_seen)
                })
                .collect();
            let unseen = stories.iter().filter(|(_, s)| !s).count();
            TrayEntry {
                author,
                stories,
                unseen,
                latest,
            }
        })
        .collect();
    tray.sort_by(|a, b| {
        (b.unseen > 0)
            .cmp(&(a.unseen > 0))
            .then(b.latest.cmp(&a.latest))
            .then(a.author.as_bytes().cmp(b.author.as_bytes()))
    });
    Ok(tray)
}

/// The live story `id` at `now_ms`, if the store has it.
pub fn live_story(reader: &Reader, id: &EventId, now_ms: u64) -> Result<Option<Event>, StoreError> {
    Ok(reader
        .get(id)?
        .filter(|e| e.kind() == Kind::Story && !expired(e, now_ms)))
}

/// Who viewed `story` (distinct authors of live receipts, earliest view
/// first), at most [`MAX_VIEWERS`].
pub fn viewers(
    reader: &Reader,
    story: &EventId,
    now_ms: u64,
) -> Result<Vec<(PublicKey, u64)>, StoreError> {
    let mut first: HashMap<PublicKey, u64> = HashMap::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = reader.query(
            &Filter {
                kinds: vec![Kind::StoryView],
                refs: vec![*story],
                limit: MAX_PAGE,
                ..Filter::default()
            },
            cursor,
        )?;
        for e in &page.events {
            if expired(e, now_ms) || e.event_ref(Rel::Story) != Some(*story) {
                continue;
            }
            let at = first.entry(e.author()).or_insert(e.created_at());
            *at = (*at).min(e.created_at());
        }
        match page.next {
            Some(next) if first.len() < MAX_VIEWERS => cursor = Some(next),
            _ => break,
        }
    }
    let mut out: Vec<(PublicKey, u64)> = first.into_iter().collect();
    out.sort_by_key(|(k, at)| (*at, *k.as_bytes()));
    out.truncate(MAX_VIEWERS);
    Ok(out)
}

/// Whether `viewer` already sent a live receipt for `story`.
pub fn has_viewed(
    reader: &Reader,
    viewer: &PublicKey,
    story: &EventId,
    now_ms: u64,
) -> Result<bool, StoreError> {
    Ok(reader
        .latest(viewer, Kind::StoryView, Some(story))?
        .is_some_and(|e| !expired(&e, now_ms)))
}

/// The receipt `viewer` sends for `story` at `now_ms`.
pub fn receipt(viewer: PublicKey, story: &Event, now_ms: u64) -> Option<UnsignedEvent> {
    let Payload::Story(s) = story.payload() else {
        return None;
    };
    Some(
        UnsignedEvent::new(
            viewer,
            now_ms,
            StoryView {
                expires_at: s.expires_at,
            },
        )
        .ref_event(Rel::Story, story.id()),
    )
}

/// Why a highlight cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum HighlightError {
    /// A story named is not stored (or has expired and been swept).
    #[error("story {0} is not on this node")]
    Missing(EventId),
    /// An event named is not a story.
    #[error("{0} is not a story")]
    NotAStory(EventId),
    /// A story named is someone else's.
    #[error("story {0} is not yours")]
    NotYours(EventId),
    /// No stories, or too many.
    #[error("a highlight keeps 1 to {max} stories", max = kith_protocol::kinds::story::MAX_HIGHLIGHT_ITEMS)]
    Count,
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A highlight named `name` keeping `stories` (the author's own, still
/// stored: keep a story before it expires) in that order.
pub fn highlight(
    reader: &Reader,
    author: PublicKey,
    name: &str,
    stories: &[EventId],
    now_ms: u64,
) -> Result<UnsignedEvent, HighlightError> {
    if stories.is_empty() || stories.len() > kith_protocol::kinds::story::MAX_HIGHLIGHT_ITEMS {
        return Err(HighlightError::Count);
    }
    let mut items = Vec::with_capacity(stories.len());
    let mut refs = Vec::with_capacity(stories.len());
    let mut once = HashSet::new();
    for id in stories {
        if !once.insert(*id) {
            continue;
        }
        let story = reader.get(id)?.ok_or(HighlightError::Missing(*id))?;
        let Payload::Story(s) = story.payload() else {
            return Err(HighlightError::NotAStory(*id));
        };
        if story.author() != author {
            return Err(HighlightError::NotYours(*id));
        }
        items.push(HighlightItem {
            text: s.text.clone(),
            media: s.media.clone(),
        });
        refs.push(*id);
    }
    let mut event = UnsignedEvent::new(
        author,
        now_ms,
        Highlight {
            name: name.to_string(),
            items,
        },
    );
    for id in refs {
        event = event.ref_event(Rel::Story, id);
    }
    Ok(event)
}

/// The author's highlights: the newest per name, newest first.
pub fn highlights(reader: &Reader, author: &PublicKey) -> Result<Vec<Event>, StoreError> {
    let mut names = HashSet::new();
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = reader.query(
            &Filter {
                authors: vec![*author],
                kinds: vec![Kind::Highlight],
                limit: MAX_PAGE,
                ..Filter::default()
            },
            cursor,
        )?;
        for e in page.events {
            if let Payload::Highlight(h) = e.payload()
                && names.insert(h.name.clone())
            {
                out.push(e);
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Sweeps expired stories and receipts out of `store` every `every`, on
/// tokio's clock, until the store closes.
pub async fn run_expiry(store: Store, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.expire(crate::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "expired stories swept"),
            Err(StoreError::Closed) => return,
            Err(e) => tracing::warn!(error = %e, "story expiry failed; will retry"),
        }
    }
}
