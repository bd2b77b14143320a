//! Reads: a general filter with cursor pagination, and the purpose-built
//! reads the product shows (timelines, threads, counts, followers, stories).
//!
//! Every listing is newest first in `(created_at, id)` order, and a page ends
//! with a [`Cursor`] naming its last item; the next page starts strictly after
//! it. New events never shift the pages already handed out.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use kith_protocol::kinds::{Payload, ReactionType};
use kith_protocol::{Event, EventId, Kind, PublicKey, RefTarget, Rel};

use crate::apply::{StoredEvent, TradeRecord};
use crate::error::StoreError;
use crate::keys::{self, EventCounter, Key, KeyCounter, id_at, kind_code, rel_code, u64_at};

/// A position in a newest-first listing: the next page holds what is strictly older.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// `created_at` of the last item returned.
    pub created_at: u64,
    /// Its id.
    pub id: EventId,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.created_at)?;
        for b in self.id.digest() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for Cursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 80 || !s.is_ascii() {
            return Err(StoreError::BadCursor);
        }
        let created_at = u64::from_str_radix(&s[..16], 16).map_err(|_| StoreError::BadCursor)?;
        let mut digest = [0u8; 32];
        for (i, b) in digest.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[16 + 2 * i..18 + 2 * i], 16)
                .map_err(|_| StoreError::BadCursor)?;
        }
        Ok(Cursor {
            created_at,
            id: EventId::from_digest(digest),
        })
    }
}

/// Which of a person's trades [`Reader::trades_of`] returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TradeFilter {
    /// Only where the person is this party.
    pub role: Option<kith_protocol::kinds::trade::Party>,
    /// Only trades in this state.
    pub state: Option<kith_protocol::kinds::TradeState>,
    /// Only trades not in a final state.
    pub open: bool,
}

/// A page of a person's trades (order id and record, newest first) and the
/// cursor of the next page, if there may be one.
pub type TradePage = (Vec<(EventId, TradeRecord)>, Option<Cursor>);

/// A person's reputation as a trading partner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reputation {
    /// Reviews received, each from a completed trade.
    pub count: u64,
    /// Their mean rating (1 to 5), when there is any.
    pub mean: Option<f64>,
}

/// Which events a listing wants. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Any of these authors.
    pub authors: Vec<PublicKey>,
    /// Any of these kinds.
    pub kinds: Vec<Kind>,
    /// Created at or after (ms).
    pub since: Option<u64>,
    /// Created at or before (ms).
    pub until: Option<u64>,
    /// Carrying any of these hashtags (normalised).
    pub hashtags: Vec<String>,
    /// Referencing any of these events.
    pub refs: Vec<EventId>,
    /// Mentioning any of these identities.
    pub mentions: Vec<PublicKey>,
    /// In this community.
    pub community: Option<EventId>,
    /// Most events to return (capped at [`MAX_PAGE`]).
    pub limit: usize,
}

/// Largest page any read returns.
pub const MAX_PAGE: usize = 500;

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Newest first.
    pub events: Vec<Event>,
    /// Where the next page starts, if there may be one.
    pub next: Option<Cursor>,
}

/// One page of a listing, as ids.
#[derive(Debug, Clone, Default)]
pub struct IdPage {
    /// Newest first.
    pub ids: Vec<EventId>,
    /// Each id's `created_at` (ms), in the same order.
    pub times: Vec<u64>,
    /// Where the next page starts, if there may be one.
    pub next: Option<Cursor>,
}

/// Counts and the viewer's reaction for one event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventStats {
    /// Live reactions per type, in `ReactionType::ALL` order.
    pub reactions: [u64; 6],
    /// Direct replies.
    pub replies: u64,
    /// Reposts.
    pub reposts: u64,
    /// Quotes.
    pub quotes: u64,
    /// Replies anywhere in the thread (for a root).
    pub thread_replies: u64,
    /// The viewer's live reaction, if a viewer was given and has reacted.
    pub mine: Option<ReactionType>,
    /// The id of the viewer's live reaction event (with [`mine`](Self::mine)):
    /// what a `delete` names to take the reaction back.
    pub mine_id: Option<EventId>,
}

/// How siblings are ordered at every level of a thread view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ThreadSort {
    /// Oldest first: `created_at`, then id.
    #[default]
    Oldest,
    /// Newest first: `created_at`, then id, descending.
    Newest,
    /// Most reactions first (the six live reaction counters summed), then
    /// most direct replies, then oldest.
    Reactions,
}

impl ThreadSort {
    /// Every sort, in the order they are documented.
    pub const ALL: [ThreadSort; 3] = [
        ThreadSort::Oldest,
        ThreadSort::Newest,
        ThreadSort::Reactions,
    ];

    /// The name clients use (`oldest`, `newest`, `reactions`).
    pub fn name(self) -> &'static str {
        match self {
            ThreadSort::Oldest => "oldest",
            ThreadSort::Newest => "newest",
            ThreadSort::Reactions => "reactions",
        }
    }
}

impl fmt::Display for ThreadSort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A thread sort name that is not `oldest`, `newest` or `reactions`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown thread sort `{0}`: expected oldest, newest or reactions")]
pub struct UnknownThreadSort(pub String);

impl FromStr for ThreadSort {
    type Err = UnknownThreadSort;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ThreadSort::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownThreadSort(s.to_string()))
    }
}

/// How a thread is shown: the order of siblings and how deep it is listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadOptions {
    /// Order of siblings at every level.
    pub sort: ThreadSort,
    /// Deepest reply listed, counted from the root of the view (1: direct
    /// replies only). Replies below it are not listed; the listed reply at
    /// this depth counts them in [`ThreadItem::hidden_replies`]. `None`
    /// lists every depth.
    pub max_depth: Option<usize>,
}

/// One reply in a thread.
#[derive(Debug, Clone)]
pub struct ThreadItem {
    /// The reply.
    pub event: Event,
    /// 1 for a reply to the root of the view, 2 for a reply to that, …
    pub depth: usize,
    /// The event it answers.
    pub parent: EventId,
    /// Its parent is not in the store yet (shown under the thread's root
    /// until it arrives).
    pub orphan: bool,
    /// Direct replies to it stored in this thread.
    pub replies: usize,
    /// Replies anywhere below it stored in this thread.
    pub descendants: usize,
    /// Replies below it that the view does not list because they are deeper
    /// than [`ThreadOptions::max_depth`]: its `descendants` when it sits at
    /// the maximum depth, else 0. Ask for the thread rooted at this reply
    /// to read them.
    pub hidden_replies: usize,
}

/// A page of a thread view: its root (if stored) and replies in reading
/// order (depth first, siblings in the [`ThreadSort`] asked for).
#[derive(Debug, Clone, Default)]
pub struct ThreadPage {
    /// The root of the view: the thread's first post, or the reply the
    /// view was asked for.
    pub root: Option<Event>,
    /// Replies on this page.
    pub replies: Vec<ThreadItem>,
    /// All replies below the root of the view, listed or not.
    pub total: usize,
    /// Replies the view lists (those within the maximum depth), over all pages.
    pub listed: usize,
    /// The last reply of this page, to continue after.
    pub next: Option<EventId>,
    /// The sort used.
    pub sort: ThreadSort,
    /// The maximum depth used (`None`: every depth).
    pub max_depth: Option<usize>,
}

/// A delegation an identity has made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationInfo {
    /// The delegation event.
    pub id: EventId,
    /// The delegated key.
    pub signer: PublicKey,
    /// When it was made.
    pub created_at: u64,
    /// When it ends.
    pub expires_at: u64,
    /// Whether a revocation withdrew it.
    pub revoked: bool,
}

/// A reply's place in a thread view, before its event is loaded.
#[derive(Debug, Clone, Copy)]
struct ThreadNode {
    id: EventId,
    depth: usize,
    parent: EventId,
    orphan: bool,
}

/// A stream of `(created_at, id)` keys from one index prefix, newest first.
struct Stream {
    iter: sled::Iter,
    /// Bytes of key before `created_at ‖ id`.
    prefix_len: usize,
}

impl Stream {
    fn next(&mut self) -> Result<Option<(Cursor, Vec<u8>)>, StoreError> {
        match self.iter.next_back() {
            None => Ok(None),
            Some(r) => {
                let (k, v) = r?;
                let (created_at, id) =
                    keys::tail(&k[self.prefix_len..]).ok_or(StoreError::corrupt(k[0]))?;
                Ok(Some((Cursor { created_at, id }, v.to_vec())))
            }
        }
    }
}

/// Merges newest-first streams into one newest-first sequence without repeats.
struct Merge {
    streams: Vec<Stream>,
    heap: BinaryHeap<(Cursor, usize)>,
    values: Vec<Vec<u8>>,
    last: Option<Cursor>,
}

impl Merge {
    fn new(streams: Vec<Stream>) -> Result<Self, StoreError> {
        let mut m = Merge {
            heap: BinaryHeap::new(),
            values: vec![Vec::new(); streams.len()],
            streams,
            last: None,
        };
        for i in 0..m.streams.len() {
            m.refill(i)?;
        }
        Ok(m)
    }

    fn refill(&mut self, i: usize) -> Result<(), StoreError> {
        if let Some((c, v)) = self.streams[i].next()? {
            self.values[i] = v;
            self.heap.push((c, i));
        }
        Ok(())
    }

    /// The next item and the index value it came with.
    fn next(&mut self) -> Result<Option<(Cursor, Vec<u8>)>, StoreError> {
        while let Some((c, i)) = self.heap.pop() {
            let value = std::mem::take(&mut self.values[i]);
            self.refill(i)?;
            if self.last == Some(c) {
                continue;
            }
            self.last = Some(c);
            return Ok(Some((c, value)));
        }
        Ok(None)
    }
}

/// Read access to a store's tree.
#[derive(Debug, Clone)]
pub struct Reader {
    pub(crate) tree: sled::Tree,
}

impl Reader {
    /// A stream over `prefix ‖ created_at ‖ id` keys within the bounds, newest first.
    fn stream(&self, prefix: Vec<u8>, since: Option<u64>, upper: Upper) -> Stream {
        let mut lower = prefix.clone();
        lower.extend_from_slice(&since.unwrap_or(0).to_be_bytes());
        let mut high = prefix.clone();
        match upper {
            Upper::Before(c) => {
                high.extend_from_slice(&c.created_at.to_be_bytes());
                high.extend_from_slice(c.id.digest());
            }
            Upper::AtOrBefore(t) => match t.checked_add(1) {
                Some(t) => high.extend_from_slice(&t.to_be_bytes()),
                None => high = keys::prefix_end(&prefix).unwrap_or_else(|| vec![0xff; 64]),
            },
        }
        let prefix_len = prefix.len();
        Stream {
            iter: self.tree.range(lower..high),
            prefix_len,
        }
    }

    /// The stored event with this id.
    pub fn get(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        Ok(self.get_with_seq(id)?.map(|s| s.event))
    }

    /// The stored event with its sequence number.
    pub fn get_with_seq(&self, id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        let Some(v) = self.tree.get(Key::new(keys::EVENT).id(id).build())? else {
            return Ok(None);
        };
        let seq = u64_at(&v, 0).ok_or(StoreError::corrupt(keys::EVENT))?;
        let Some(row) = self.tree.get(Key::new(keys::LOG).u64(seq).build())? else {
            // Removed between the two reads.
            return Ok(None);
        };
        let event = Event::from_stored(row.get(keys::LOG_HEADER..).unwrap_or_default())
            .map_err(|_| StoreError::corrupt(keys::LOG))?;
        Ok(Some(StoredEvent { seq, event }))
    }

    /// Whether an event is stored.
    pub fn contains(&self, id: &EventId) -> Result<bool, StoreError> {
        Ok(self
            .tree
            .contains_key(Key::new(keys::EVENT).id(id).build())?)
    }

    /// The delete event that removed (or will refuse) `id`, if any.
    pub fn tombstone(&self, id: &EventId) -> Result<Option<EventId>, StoreError> {
        Ok(self
            .tree
            .get(Key::new(keys::TOMBSTONE).id(id).build())?
            .and_then(|v| id_at(&v, 0)))
    }

    /// Whether an event waits in the pending room.
    pub fn is_pending(&self, id: &EventId) -> Result<bool, StoreError> {
        Ok(self
            .tree
            .contains_key(Key::new(keys::PENDING_BY_ID).id(id).build())?)
    }

    /// Events in acceptance order after sequence number `after`.
    pub fn log_after(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let start = Key::new(keys::LOG).u64(after.saturating_add(1)).build();
        let mut out = Vec::new();
        for row in self.tree.range(start..vec![keys::LOG + 1]).take(limit) {
            let (k, v) = row?;
            let seq = u64_at(&k, 1).ok_or(StoreError::corrupt(keys::LOG))?;
            let event = Event::from_stored(v.get(keys::LOG_HEADER..).unwrap_or_default())
                .map_err(|_| StoreError::corrupt(keys::LOG))?;
            out.push(StoredEvent { seq, event });
        }
        Ok(out)
    }

    /// The last sequence number handed out (0 for an empty store).
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        Ok(self
            .tree
            .get([keys::META, b's'])?
            .and_then(|v| u64_at(&v, 0))
            .map_or(0, |next| next.saturating_sub(1)))
    }

    /// A page of the events matching `filter`, strictly older than `cursor`.
    pub fn query(&self, filter: &Filter, cursor: Option<Cursor>) -> Result<Page, StoreError> {
        let limit = filter.limit.clamp(1, MAX_PAGE);
        let upper = match (cursor, filter.until) {
            (Some(c), Some(u)) if c.created_at > u => Upper::AtOrBefore(u),
            (Some(c), _) => Upper::Before(c),
            (None, Some(u)) => Upper::AtOrBefore(u),
            (None, None) => Upper::AtOrBefore(u64::MAX),
        };
        let kinds: Vec<Kind> = if filter.kinds.is_empty() {
            Kind::ALL.to_vec()
        } else {
            filter.kinds.clone()
        };
        let mut prefixes = Vec::new();
        if !filter.refs.is_empty() {
            for target in &filter.refs {
                for kind in &kinds {
                    for rule in kind
                        .ref_rules()
                        .iter()
                        .filter(|r| r.target == kith_protocol::refs::TargetType::Event)
                    {
                        prefixes.push(
                            Key::new(keys::REF_EVENT)
                                .id(target)
                                .u8(rel_code(rule.rel))
                                .u8(kind_code(*kind))
                                .build(),
                        );
                    }
                }
            }
        } else if !filter.hashtags.is_empty() {
            for tag in &filter.hashtags {
                prefixes.push(Key::new(keys::HASHTAG).bytes(tag.as_bytes()).u8(0).build());
            }
        } else if !filter.mentions.is_empty() {
            for key in &filter.mentions {
                for kind in kinds
                    .iter()
                    .filter(|k| k.ref_rules().iter().any(|r| r.rel == Rel::Mention))
                {
                    prefixes.push(
                        Key::new(keys::REF_KEY)
                            .key(key)
                            .u8(rel_code(Rel::Mention))
                            .u8(kind_code(*kind))
                            .build(),
                    );
                }
            }
        } else if let Some(community) = filter.community {
            for kind in kinds
                .iter()
                .filter(|k| k.ref_rules().iter().any(|r| r.rel == Rel::Community))
            {
                prefixes.push(
                    Key::new(keys::REF_EVENT)
                        .id(&community)
                        .u8(rel_code(Rel::Community))
                        .u8(kind_code(*kind))
                        .build(),
                );
            }
        } else if !filter.authors.is_empty() {
            for author in &filter.authors {
                // Every kind's range when no kinds are given: there is no
                // author-only index (see keys.rs).
                for kind in &kinds {
                    prefixes.push(
                        Key::new(keys::AUTHOR_KIND)
                            .key(author)
                            .u8(kind_code(*kind))
                            .build(),
                    );
                }
            }
        } else {
            for kind in &kinds {
                prefixes.push(Key::new(keys::KIND).u8(kind_code(*kind)).build());
            }
        }
        let streams = prefixes
            .into_iter()
            .map(|p| self.stream(p, filter.since, upper))
            .collect();
        let mut merge = Merge::new(streams)?;
        let mut page = Page::default();
        while page.events.len() < limit {
            let Some((c, _)) = merge.next()? else { break };
            let Some(event) = self.get(&c.id)? else {
                continue;
            };
            if matches(filter, &event) {
                page.events.push(event);
            }
        }
        if page.events.len() == limit {
            page.next = page.events.last().map(|e| Cursor {
                created_at: e.created_at(),
                id: e.id(),
            });
        }
        Ok(page)
    }

    /// An author's timeline: posts, quotes and reposts (and replies if asked).
    pub fn author_timeline(
        &self,
        author: &PublicKey,
        include_replies: bool,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let mut kinds = vec![Kind::Post, Kind::Quote, Kind::Repost];
        if include_replies {
            kinds.push(Kind::Reply);
        }
        self.query(
            &Filter {
                authors: vec![*author],
                kinds,
                limit,
                ..Filter::default()
            },
            cursor,
        )
    }

    /// The home timeline over a follow set: posts, quotes and reposts of the
    /// followed authors, newest first.
    ///
    /// Two plans: walk the global content index and keep followed authors
    /// (fast when they are a good share of what the node sees), or merge the
    /// followed authors' own indexes (fast when they are few or quiet). It
    /// starts with the first and switches to the second if the walk finds too
    /// few matches for the rows it reads.
    pub fn home_timeline(
        &self,
        follows: &HashSet<PublicKey>,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let ids = self.home_ids(follows, cursor, limit)?;
        let mut page = Page {
            events: Vec::with_capacity(ids.ids.len()),
            next: ids.next,
        };
        for id in &ids.ids {
            if let Some(e) = self.get(id)? {
                page.events.push(e);
            }
        }
        Ok(page)
    }

    /// [`home_timeline`](Self::home_timeline) without reading the events:
    /// their ids, for a caller that keeps its own copies.
    pub fn home_ids(
        &self,
        follows: &HashSet<PublicKey>,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<IdPage, StoreError> {
        const KINDS: [Kind; 3] = [Kind::Post, Kind::Quote, Kind::Repost];
        let limit = limit.clamp(1, MAX_PAGE);
        let upper = cursor.map_or(Upper::AtOrBefore(u64::MAX), Upper::Before);
        let streams = KINDS
            .iter()
            .map(|k| self.stream(Key::new(keys::KIND).u8(kind_code(*k)).build(), None, upper))
            .collect();
        let mut merge = Merge::new(streams)?;
        let budget = 40 * limit + 200;
        let mut ids = Vec::with_capacity(limit);
        let mut read = 0;
        let mut position = cursor;
        while ids.len() < limit && read < budget {
            let Some((c, author)) = merge.next()? else {
                break;
            };
            read += 1;
            position = Some(c);
            if keys::key_at(&author, 0).is_some_and(|a| follows.contains(&a)) {
                ids.push(c);
            }
        }
        if ids.len() < limit && read >= budget {
            // The followed authors are a small share: merge their own indexes
            // from where the walk stopped.
            let upper = position.map_or(Upper::AtOrBefore(u64::MAX), Upper::Before);
            let mut streams = Vec::with_capacity(follows.len() * KINDS.len());
            for author in follows {
                for k in KINDS {
                    streams.push(
                        self.stream(
                            Key::new(keys::AUTHOR_KIND)
                                .key(author)
                                .u8(kind_code(k))
                                .build(),
                            None,
                            upper,
                        ),
                    );
                }
            }
            let mut merge = Merge::new(streams)?;
            while ids.len() < limit {
                let Some((c, _)) = merge.next()? else { break };
                ids.push(c);
            }
        }
        Ok(IdPage {
            next: (ids.len() == limit).then(|| ids.last().copied()).flatten(),
            times: ids.iter().map(|c| c.created_at).collect(),
            ids: ids.into_iter().map(|c| c.id).collect(),
        })
    }

    /// A thread: the root and its replies in reading order (depth first,
    /// siblings oldest first), `limit` replies after `after`. The same as
    /// [`Reader::thread_view`] with the default [`ThreadOptions`].
    pub fn thread(
        &self,
        root: &EventId,
        after: Option<EventId>,
        limit: usize,
    ) -> Result<ThreadPage, StoreError> {
        self.thread_view(root, after, limit, ThreadOptions::default())
    }

    /// A thread view rooted at `id`: depth first, siblings in
    /// `options.sort` order at every level, replies deeper than
    /// `options.max_depth` not listed (their listed ancestor counts them in
    /// `hidden_replies`); `limit` listed replies after the reply `after`.
    ///
    /// `id` is usually a thread's first post. When it is a stored reply,
    /// the view is its subthread: the reply is the root of the view and
    /// depths count from it, so a client can continue a trimmed thread.
    ///
    /// The thread's shape comes from one scan of its root's reference
    /// index; no event is loaded but the root and the page's replies. The
    /// `reactions` sort also reads the reaction counters of the listed
    /// replies that have siblings. A page continues after the reply named by
    /// `after` in this same reading order, so replies that arrive meanwhile
    /// never repeat or skip a listed reply under the `oldest` and `newest`
    /// sorts; under `reactions`, reactions that change the order between
    /// pages can. An `after` that is not listed (deleted, or from another
    /// sort or depth) gives an empty page.
    pub fn thread_view(
        &self,
        id: &EventId,
        after: Option<EventId>,
        limit: usize,
        options: ThreadOptions,
    ) -> Result<ThreadPage, StoreError> {
        let head = self.get(id)?;
        // A reply's replies are indexed under its thread's first post.
        let thread_root = head
            .as_ref()
            .filter(|e| e.kind() == Kind::Reply)
            .and_then(|e| e.event_ref(Rel::Root))
            .unwrap_or(*id);
        let prefix = Key::new(keys::REF_EVENT)
            .id(&thread_root)
            .u8(rel_code(Rel::Root))
            .u8(kind_code(Kind::Reply))
            .build();
        let mut nodes: Vec<(Cursor, EventId)> = Vec::new();
        for row in self.tree.scan_prefix(&prefix) {
            let (k, v) = row?;
            let (created_at, id) = keys::tail(&k).ok_or(StoreError::corrupt(keys::REF_EVENT))?;
            let parent = id_at(&v, 32).unwrap_or(thread_root);
            nodes.push((Cursor { created_at, id }, parent));
        }
        let present: HashSet<EventId> = nodes.iter().map(|(c, _)| c.id).collect();
        // Children lists in (created_at, id) order: the scan's order.
        let mut children: HashMap<EventId, Vec<(Cursor, bool)>> = HashMap::new();
        for (c, parent) in &nodes {
            let known = *parent == thread_root || present.contains(parent);
            let under = if known { *parent } else { thread_root };
            children.entry(under).or_default().push((*c, !known));
        }
        for list in children.values_mut() {
            list.sort();
        }
        let max_depth = options.max_depth.unwrap_or(usize::MAX);
        // The whole view in reading order, listed or not. Each node's
        // children are taken out of the map when it is visited, so every
        // reply is visited once. Siblings are only ordered where listed.
        let mut order: Vec<ThreadNode> = Vec::with_capacity(nodes.len());
        let mut stack: Vec<ThreadNode> = Vec::new();
        self.push_children(&mut stack, &mut children, *id, 0, max_depth, options.sort)?;
        while let Some(node) = stack.pop() {
            self.push_children(
                &mut stack,
                &mut children,
                node.id,
                node.depth,
                max_depth,
                options.sort,
            )?;
            order.push(node);
        }
        // Counts below each node: in reverse reading order a node's
        // descendants all come before it.
        let mut below: HashMap<EventId, usize> = HashMap::new();
        let mut direct: HashMap<EventId, usize> = HashMap::new();
        for node in order.iter().rev() {
            let mine = below.get(&node.id).copied().unwrap_or(0);
            *below.entry(node.parent).or_default() += 1 + mine;
            *direct.entry(node.parent).or_default() += 1;
        }
        let reading: Vec<&ThreadNode> = order.iter().filter(|n| n.depth <= max_depth).collect();
        let start = match after {
            Some(a) => reading
                .iter()
                .position(|r| r.id == a)
                .map_or(reading.len(), |i| i + 1),
            None => 0,
        };
        let limit = limit.clamp(1, MAX_PAGE);
        let mut page = ThreadPage {
            root: head,
            total: order.len(),
            listed: reading.len(),
            sort: options.sort,
            max_depth: options.max_depth,
            ..ThreadPage::default()
        };
        for node in reading.iter().skip(start).take(limit) {
            let Some(event) = self.get(&node.id)? else {
                continue;
            };
            let descendants = below.get(&node.id).copied().unwrap_or(0);
            page.replies.push(ThreadItem {
                event,
                depth: node.depth,
                parent: node.parent,
                orphan: node.orphan,
                replies: direct.get(&node.id).copied().unwrap_or(0),
                descendants,
                hidden_replies: if node.depth >= max_depth {
                    descendants
                } else {
                    0
                },
            });
        }
        if start + limit < reading.len() {
            page.next = page.replies.last().map(|r| r.event.id());
        }
        Ok(page)
    }

    /// Pushes the children of `parent` (at `depth`) on the walk's stack so
    /// that they pop in `sort` order.
    fn push_children(
        &self,
        stack: &mut Vec<ThreadNode>,
        children: &mut HashMap<EventId, Vec<(Cursor, bool)>>,
        parent: EventId,
        depth: usize,
        max_depth: usize,
        sort: ThreadSort,
    ) -> Result<(), StoreError> {
        let Some(mut kids) = children.remove(&parent) else {
            return Ok(());
        };
        let listed = depth < max_depth;
        if listed && kids.len() > 1 {
            match sort {
                ThreadSort::Oldest => {}
                ThreadSort::Newest => kids.reverse(),
                ThreadSort::Reactions => {
                    let mut keyed = Vec::with_capacity(kids.len());
                    for (c, orphan) in kids {
                        let reactions = self.reaction_total(&c.id)?;
                        let replies = children.get(&c.id).map_or(0, Vec::len);
                        keyed.push((Reverse(reactions), Reverse(replies), c, orphan));
                    }
                    keyed.sort();
                    kids = keyed.into_iter().map(|(_, _, c, o)| (c, o)).collect();
                }
            }
        }
        stack.extend(kids.into_iter().rev().map(|(c, orphan)| ThreadNode {
            id: c.id,
            depth: depth + 1,
            parent,
            orphan,
        }));
        Ok(())
    }

    /// The six live reaction counters of an event, summed.
    fn reaction_total(&self, id: &EventId) -> Result<u64, StoreError> {
        let from = Key::new(keys::COUNT)
            .id(id)
            .u8(EventCounter::Reaction as u8)
            .build();
        let to = Key::new(keys::COUNT)
            .id(id)
            .u8(EventCounter::Reaction as u8 + 6)
            .build();
        let mut total = 0u64;
        for row in self.tree.range(from..to) {
            let (_, v) = row?;
            let n = u64_at(&v, 0).ok_or(StoreError::corrupt(keys::COUNT))?;
            total = total.saturating_add(n);
        }
        Ok(total)
    }

    /// Counts for each event, and the viewer's live reaction.
    pub fn stats(
        &self,
        ids: &[EventId],
        viewer: Option<&PublicKey>,
    ) -> Result<Vec<EventStats>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let mut s = EventStats::default();
            for row in self.tree.scan_prefix(Key::new(keys::COUNT).id(id).build()) {
                let (k, v) = row?;
                let n = u64_at(&v, 0).ok_or(StoreError::corrupt(keys::COUNT))?;
                match k.get(33).copied() {
                    Some(c) if c < 6 => s.reactions[usize::from(c)] = n,
                    Some(c) if c == EventCounter::Replies as u8 => s.replies = n,
                    Some(c) if c == EventCounter::Reposts as u8 => s.reposts = n,
                    Some(c) if c == EventCounter::Quotes as u8 => s.quotes = n,
                    Some(c) if c == EventCounter::ThreadReplies as u8 => s.thread_replies = n,
                    _ => {}
                }
            }
            if let Some(viewer) = viewer
                && let Some(v) = self
                    .tree
                    .get(Key::new(keys::REACTION).id(id).key(viewer).build())?
            {
                // y ‖ target(32) ‖ person(32) → t(8) ‖ id(32) ‖ type(1)
                s.mine = v
                    .get(40)
                    .and_then(|t| ReactionType::ALL.get(usize::from(*t)).copied());
                s.mine_id = s.mine.and(id_at(&v, 8));
            }
            out.push(s);
        }
        Ok(out)
    }

    /// One of an identity's counters.
    fn key_counter(&self, key: &PublicKey, c: KeyCounter) -> Result<u64, StoreError> {
        Ok(self
            .tree
            .get(Key::new(keys::KEY_COUNT).key(key).u8(c as u8).build())?
            .and_then(|v| u64_at(&v, 0))
            .unwrap_or(0))
    }

    /// Followers and following counts.
    pub fn follow_counts(&self, key: &PublicKey) -> Result<(u64, u64), StoreError> {
        Ok((
            self.key_counter(key, KeyCounter::Followers)?,
            self.key_counter(key, KeyCounter::Following)?,
        ))
    }

    /// Whether `follower` follows `followee`.
    pub fn follows(&self, follower: &PublicKey, followee: &PublicKey) -> Result<bool, StoreError> {
        Ok(self
            .tree
            .contains_key(Key::new(keys::FOLLOWER).key(followee).key(follower).build())?)
    }

    /// A page of the identities following `key`, in key order after `after`.
    pub fn followers(
        &self,
        key: &PublicKey,
        after: Option<&PublicKey>,
        limit: usize,
    ) -> Result<Vec<PublicKey>, StoreError> {
        self.key_page(keys::FOLLOWER, key, after, limit, |_| true)
    }

    /// A page of the identities `key` follows, in key order after `after`.
    pub fn following(
        &self,
        key: &PublicKey,
        after: Option<&PublicKey>,
        limit: usize,
    ) -> Result<Vec<PublicKey>, StoreError> {
        self.key_page(keys::FOLLOW, key, after, limit, |v| v.get(40) == Some(&1))
    }

    fn key_page(
        &self,
        table: u8,
        key: &PublicKey,
        after: Option<&PublicKey>,
        limit: usize,
        keep: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<PublicKey>, StoreError> {
        let prefix = Key::new(table).key(key).build();
        let start = match after {
            Some(a) => {
                let mut s = Key::new(table).key(key).key(a).build();
                s.push(0);
                s
            }
            None => prefix.clone(),
        };
        let end = keys::prefix_end(&prefix).unwrap_or_default();
        let mut out = Vec::new();
        for row in self.tree.range(start..end) {
            if out.len() >= limit.clamp(1, MAX_PAGE) {
                break;
            }
            let (k, v) = row?;
            if keep(&v) {
                out.push(keys::key_at(&k, 33).ok_or(StoreError::corrupt(table))?);
            }
        }
        Ok(out)
    }

    /// The newest `limit` events by `author` of any of `kinds` created at
    /// or after `since`: `(created_at, id)`, newest first, from the author
    /// index alone (no event is read).
    pub fn author_recent(
        &self,
        author: &PublicKey,
        kinds: &[Kind],
        since: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EventId)>, StoreError> {
        let streams = kinds
            .iter()
            .map(|k| {
                self.stream(
                    Key::new(keys::AUTHOR_KIND)
                        .key(author)
                        .u8(kind_code(*k))
                        .build(),
                    Some(since),
                    Upper::AtOrBefore(u64::MAX),
                )
            })
            .collect();
        let mut merge = Merge::new(streams)?;
        let mut out = Vec::with_capacity(limit.min(MAX_PAGE));
        while out.len() < limit {
            let Some((c, _)) = merge.next()? else { break };
            out.push((c.created_at, c.id));
        }
        Ok(out)
    }

    /// The newest `limit` events of any of `kinds` on the node created at or
    /// after `since`: `(created_at, id, author)`, newest first, from the
    /// kind index alone.
    pub fn recent(
        &self,
        kinds: &[Kind],
        since: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EventId, PublicKey)>, StoreError> {
        let streams = kinds
            .iter()
            .map(|k| {
                self.stream(
                    Key::new(keys::KIND).u8(kind_code(*k)).build(),
                    Some(since),
                    Upper::AtOrBefore(u64::MAX),
                )
            })
            .collect();
        let mut merge = Merge::new(streams)?;
        let mut out = Vec::with_capacity(limit.min(4096));
        while out.len() < limit {
            let Some((c, author)) = merge.next()? else {
                break;
            };
            let author = keys::key_at(&author, 0).ok_or(StoreError::corrupt(keys::KIND))?;
            out.push((c.created_at, c.id, author));
        }
        Ok(out)
    }

    /// The oldest `created_at` among the stored events of `kinds` by
    /// `author` (one index seek per kind).
    pub fn author_first_seen(
        &self,
        author: &PublicKey,
        kinds: &[Kind],
    ) -> Result<Option<u64>, StoreError> {
        let mut first: Option<u64> = None;
        for k in kinds {
            let prefix = Key::new(keys::AUTHOR_KIND)
                .key(author)
                .u8(kind_code(*k))
                .build();
            if let Some(row) = self.tree.scan_prefix(&prefix).next() {
                let (key, _) = row?;
                let t = keys::u64_at(&key, 34).ok_or(StoreError::corrupt(keys::AUTHOR_KIND))?;
                first = Some(first.map_or(t, |f| f.min(t)));
            }
        }
        Ok(first)
    }

    /// `(created_at, id)` of every stored event by `author` with
    /// `since <= created_at < until`, from the author index alone (no event
    /// is read). This is the set that sync reconciles.
    /// `kinds`, when not empty, keeps only those kinds.
    pub fn author_items(
        &self,
        author: &PublicKey,
        kinds: &[Kind],
        since: u64,
        until: u64,
    ) -> Result<Vec<(u64, EventId)>, StoreError> {
        let codes: Vec<u8> = kinds.iter().map(|k| kind_code(*k)).collect();
        let mut out = Vec::new();
        // b ‖ author(32) ‖ kind(1) ‖ t(8) ‖ id(32)
        for row in self
            .tree
            .scan_prefix(Key::new(keys::AUTHOR_KIND).key(author).build())
        {
            let (k, _) = row?;
            let t = keys::u64_at(&k, 34).ok_or(StoreError::corrupt(keys::AUTHOR_KIND))?;
            if (since..until).contains(&t) && (codes.is_empty() || codes.contains(&k[33])) {
                out.push((
                    t,
                    keys::id_at(&k, 42).ok_or(StoreError::corrupt(keys::AUTHOR_KIND))?,
                ));
            }
        }
        Ok(out)
    }

    /// `(created_at, id)` of every stored `direct_message` envelope whose
    /// inbox hint is `inbox`, with `since <= created_at < until`, oldest
    /// first, from the inbox index alone. A mailbox's contents, and the set
    /// an inbox sync reconciles.
    pub fn inbox_items(
        &self,
        inbox: &[u8; 32],
        since: u64,
        until: u64,
    ) -> Result<Vec<(u64, EventId)>, StoreError> {
        let mut out = Vec::new();
        // i ‖ inbox(32) ‖ t(8) ‖ id(32)
        let start = Key::new(keys::INBOX).bytes(inbox).u64(since).build();
        let end = Key::new(keys::INBOX).bytes(inbox).u64(until).build();
        for row in self.tree.range(start..end) {
            let (k, _) = row?;
            out.push(keys::tail(&k).ok_or(StoreError::corrupt(keys::INBOX))?);
        }
        Ok(out)
    }

    /// `(inbox hint, created_at, id)` of every stored envelope, of any
    /// inbox, with `created_at < before`: what retention looks at.
    pub fn inbox_all_before(
        &self,
        before: u64,
    ) -> Result<Vec<([u8; 32], u64, EventId)>, StoreError> {
        let mut out = Vec::new();
        for row in self.tree.scan_prefix([keys::INBOX]) {
            let (k, _) = row?;
            let hint: [u8; 32] = k
                .get(1..33)
                .and_then(|h| h.try_into().ok())
                .ok_or(StoreError::corrupt(keys::INBOX))?;
            let (t, id) = keys::tail(&k).ok_or(StoreError::corrupt(keys::INBOX))?;
            if t < before {
                out.push((hint, t, id));
            }
        }
        Ok(out)
    }

    /// `(created_at, id, author)` of every stored event inside `community`
    /// (pointing at it with `community`), of `kinds` if not empty, with
    /// `since <= created_at < until`, from the reference index alone.
    pub fn community_items(
        &self,
        community: &EventId,
        kinds: &[Kind],
        since: u64,
        until: u64,
    ) -> Result<Vec<(u64, EventId, PublicKey)>, StoreError> {
        let codes: Vec<u8> = kinds.iter().map(|k| kind_code(*k)).collect();
        let prefix = Key::new(keys::REF_EVENT)
            .id(community)
            .u8(rel_code(Rel::Community))
            .build();
        let mut out = Vec::new();
        // r ‖ target(32) ‖ rel(1) ‖ kind(1) ‖ t(8) ‖ id(32) → author
        for row in self.tree.scan_prefix(&prefix) {
            let (k, v) = row?;
            let corrupt = || StoreError::corrupt(keys::REF_EVENT);
            let t = keys::u64_at(&k, 35).ok_or_else(corrupt)?;
            if (since..until).contains(&t) && (codes.is_empty() || codes.contains(&k[34])) {
                out.push((
                    t,
                    keys::id_at(&k, 43).ok_or_else(corrupt)?,
                    keys::key_at(&v, 0).ok_or_else(corrupt)?,
                ));
            }
        }
        Ok(out)
    }

    /// Everyone `key` follows (for building a home timeline).
    pub fn follow_set(&self, key: &PublicKey) -> Result<Vec<PublicKey>, StoreError> {
        let mut out = Vec::new();
        for row in self
            .tree
            .scan_prefix(Key::new(keys::FOLLOW).key(key).build())
        {
            let (k, v) = row?;
            if v.get(40) == Some(&1) {
                out.push(keys::key_at(&k, 33).ok_or(StoreError::corrupt(keys::FOLLOW))?);
            }
        }
        Ok(out)
    }

    /// The identities on `author`'s block list.
    pub fn blocked(&self, author: &PublicKey) -> Result<Vec<PublicKey>, StoreError> {
        self.listed(author, Kind::BlockList)
    }

    /// The identities on `author`'s mute list.
    pub fn muted(&self, author: &PublicKey) -> Result<Vec<PublicKey>, StoreError> {
        self.listed(author, Kind::MuteList)
    }

    fn listed(&self, author: &PublicKey, kind: Kind) -> Result<Vec<PublicKey>, StoreError> {
        let mut out = Vec::new();
        for row in self.tree.scan_prefix(
            Key::new(keys::LISTED)
                .key(author)
                .u8(kind_code(kind))
                .build(),
        ) {
            let (k, _) = row?;
            out.push(keys::key_at(&k, 34).ok_or(StoreError::corrupt(keys::LISTED))?);
        }
        Ok(out)
    }

    /// The newest event of a replaceable kind for `author` (profile, block
    /// list, mute list), or of the slot `original` (listing, community,
    /// calendar event edits).
    pub fn latest(
        &self,
        author: &PublicKey,
        kind: Kind,
        original: Option<&EventId>,
    ) -> Result<Option<Event>, StoreError> {
        let slot = original.map_or([0u8; 32], |o| *o.digest());
        let key = Key::new(keys::LATEST)
            .key(author)
            .u8(kind_code(kind))
            .bytes(&slot)
            .build();
        match self.tree.get(key)?.and_then(|v| id_at(&v, 8)) {
            Some(id) => self.get(&id),
            None => Ok(None),
        }
    }

    /// The author's current profile.
    pub fn profile(&self, author: &PublicKey) -> Result<Option<Event>, StoreError> {
        self.latest(author, Kind::Profile, None)
    }

    /// Stories of these authors that are live at `now_ms`, newest first.
    pub fn active_stories(
        &self,
        authors: &[PublicKey],
        now_ms: u64,
    ) -> Result<Vec<Event>, StoreError> {
        let since = now_ms.saturating_sub(kith_protocol::kinds::story::MAX_STORY_LIFETIME_MS);
        let mut out = Vec::new();
        for author in authors {
            let prefix = Key::new(keys::AUTHOR_KIND)
                .key(author)
                .u8(kind_code(Kind::Story))
                .build();
            let mut stream = self.stream(prefix, Some(since), Upper::AtOrBefore(u64::MAX));
            while let Some((c, _)) = stream.next()? {
                if let Some(e) = self.get(&c.id)?
                    && let Payload::Story(s) = e.payload()
                    && s.expires_at > now_ms
                {
                    out.push(e);
                }
            }
        }
        out.sort_by_key(|e| Reverse((e.created_at(), e.id())));
        Ok(out)
    }

    /// The delegations `author` has made, with whether each was revoked.
    pub fn delegations(&self, author: &PublicKey) -> Result<Vec<DelegationInfo>, StoreError> {
        let mut out = Vec::new();
        for row in self
            .tree
            .scan_prefix(Key::new(keys::DELEGATION).key(author).build())
        {
            let (k, v) = row?;
            let signer = keys::key_at(&k, 33).ok_or(StoreError::corrupt(keys::DELEGATION))?;
            let id = id_at(&k, 65).ok_or(StoreError::corrupt(keys::DELEGATION))?;
            let revoked = self
                .tree
                .scan_prefix(Key::new(keys::REVOKED).id(&id).build())
                .next()
                .is_some();
            out.push(DelegationInfo {
                id,
                signer,
                created_at: u64_at(&v, 0).ok_or(StoreError::corrupt(keys::DELEGATION))?,
                expires_at: u64_at(&v, 8).ok_or(StoreError::corrupt(keys::DELEGATION))?,
                revoked,
            });
        }
        Ok(out)
    }

    /// A trade's record, by its order id.
    pub fn trade(&self, order: &EventId) -> Result<Option<TradeRecord>, StoreError> {
        self.tree
            .get(Key::new(keys::TRADE).id(order).build())?
            .map(|v| TradeRecord::decode(&v).ok_or(StoreError::corrupt(keys::TRADE)))
            .transpose()
    }

    /// The trades `party` is in, newest order first, those strictly older
    /// than `before`, filtered by `filter`, at most `limit`, with the cursor
    /// of the next page when there may be more. Reads one index row per
    /// trade looked at (role and state are in the index), so a seller with
    /// many trades is paged without loading them.
    pub fn trades_of(
        &self,
        party: &PublicKey,
        filter: &TradeFilter,
        before: Option<Cursor>,
        limit: usize,
    ) -> Result<TradePage, StoreError> {
        let start = Key::new(keys::TRADE_PARTY).key(party).build();
        let end = match before {
            Some(c) => Key::new(keys::TRADE_PARTY)
                .key(party)
                .at(c.created_at, &c.id)
                .build(),
            None => keys::prefix_end(&start).unwrap_or_default(),
        };
        let mut out = Vec::new();
        let mut next = None;
        for row in self.tree.range(start..end).rev() {
            let (k, v) = row?;
            let (_, order) = keys::tail(&k).ok_or(StoreError::corrupt(keys::TRADE_PARTY))?;
            let (role, state) = match *v {
                [role, state] => (role, TradeRecord::state_from_code(state)),
                _ => return Err(StoreError::corrupt(keys::TRADE_PARTY)),
            };
            let state = state.ok_or(StoreError::corrupt(keys::TRADE_PARTY))?;
            let role = if role == 0 {
                kith_protocol::kinds::trade::Party::Buyer
            } else {
                kith_protocol::kinds::trade::Party::Seller
            };
            if filter.role.is_some_and(|r| r != role)
                || filter.state.is_some_and(|s| s != state)
                || (filter.open && state.is_final())
            {
                continue;
            }
            if out.len() == limit {
                next = out.last().map(|(id, r): &(EventId, TradeRecord)| Cursor {
                    created_at: r.ordered_at,
                    id: *id,
                });
                break;
            }
            if let Some(record) = self.trade(&order)? {
                out.push((order, record));
            }
        }
        Ok((out, next))
    }

    /// What `key`'s trading partners said of them: reviews received (of
    /// completed trades) and the mean rating.
    pub fn reputation(&self, key: &PublicKey) -> Result<Reputation, StoreError> {
        let count = self.key_counter(key, KeyCounter::Reviews)?;
        let sum = self.key_counter(key, KeyCounter::RatingSum)?;
        Ok(Reputation {
            count,
            mean: (count > 0).then(|| sum as f64 / count as f64),
        })
    }

    /// Units of a listing (by its original id) still available.
    pub fn stock(&self, listing: &EventId) -> Result<u32, StoreError> {
        Ok(self
            .tree
            .get(Key::new(keys::STOCK).id(listing).build())?
            .and_then(|v| Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?)))
            .unwrap_or(0))
    }

    /// Whether any stored event references this media CID (as file or thumbnail).
    pub fn media_referenced(&self, cid: &cid::Cid) -> Result<bool, StoreError> {
        let bytes = cid.to_bytes();
        Ok(self
            .tree
            .scan_prefix(
                Key::new(keys::MEDIA)
                    .u8(bytes.len() as u8)
                    .bytes(&bytes)
                    .build(),
            )
            .next()
            .is_some())
    }

    /// Kind of a stored event, from its row header, without decoding it.
    pub fn kind_of(&self, id: &EventId) -> Result<Option<Kind>, StoreError> {
        Ok(self
            .tree
            .get(Key::new(keys::EVENT).id(id).build())?
            .and_then(|v| v.get(8).copied())
            .and_then(keys::kind_from_code))
    }
}

#[derive(Debug, Clone, Copy)]
enum Upper {
    Before(Cursor),
    AtOrBefore(u64),
}

/// Whether an event satisfies every condition of a filter.
pub fn matches(filter: &Filter, event: &Event) -> bool {
    let t = event.created_at();
    (filter.authors.is_empty() || filter.authors.contains(&event.author()))
        && (filter.kinds.is_empty() || filter.kinds.contains(&event.kind()))
        && filter.since.is_none_or(|s| t >= s)
        && filter.until.is_none_or(|u| t <= u)
        && (filter.hashtags.is_empty()
            || event
                .payload()
                .tags()
                .iter()
                .any(|t| filter.hashtags.contains(t)))
        && (filter.refs.is_empty()
            || event
                .refs()
                .iter()
                .any(|r| matches!(r.target, RefTarget::Event(id) if filter.refs.contains(&id))))
        && (filter.mentions.is_empty()
            || event.refs().iter().any(|r| {
                r.rel == Rel::Mention
                    && matches!(r.target, RefTarget::Identity(k) if filter.mentions.contains(&k))
            }))
        && filter
            .community
            .is_none_or(|c| event.event_ref(Rel::Community) == Some(c))
}

// ------------------------------------------------------------------------
// Reads for discovery and creator analytics (`kith_node::suggest`,
// `kith_node::analytics`): index ranges bounded in time, read without
// loading the events.
// ------------------------------------------------------------------------

impl Reader {
    /// The newest `limit` events carrying hashtag `tag` (normalised)
    /// created at or after `since`: `(created_at, id, author)`, newest
    /// first, from the hashtag index alone.
    pub fn hashtag_recent(
        &self,
        tag: &str,
        since: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EventId, PublicKey)>, StoreError> {
        let prefix = Key::new(keys::HASHTAG).bytes(tag.as_bytes()).u8(0).build();
        let mut stream = self.stream(prefix, Some(since), Upper::AtOrBefore(u64::MAX));
        let mut out = Vec::with_capacity(limit.min(MAX_PAGE));
        while out.len() < limit {
            let Some((c, author)) = stream.next()? else {
                break;
            };
            let author = keys::key_at(&author, 0).ok_or(StoreError::corrupt(keys::HASHTAG))?;
            out.push((c.created_at, c.id, author));
        }
        Ok(out)
    }

    /// Events of `kind` pointing at `target` with relation `rel`, created
    /// in `since <= created_at < until`: `(created_at, id, author)`,
    /// oldest first, from the reference index alone.
    pub fn referrers_between(
        &self,
        target: &EventId,
        rel: Rel,
        kind: Kind,
        since: u64,
        until: u64,
    ) -> Result<Vec<(u64, EventId, PublicKey)>, StoreError> {
        let prefix = Key::new(keys::REF_EVENT)
            .id(target)
            .u8(rel_code(rel))
            .u8(kind_code(kind))
            .build();
        self.time_range(keys::REF_EVENT, prefix, since, until)
    }

    /// Events of `kind` pointing at the identity `key` with relation `rel`
    /// (a follow's `subject`, a mention…), created in
    /// `since <= created_at < until`: `(created_at, id, author)`, oldest
    /// first, from the identity reference index alone.
    pub fn identity_referrers_between(
        &self,
        key: &PublicKey,
        rel: Rel,
        kind: Kind,
        since: u64,
        until: u64,
    ) -> Result<Vec<(u64, EventId, PublicKey)>, StoreError> {
        let prefix = Key::new(keys::REF_KEY)
            .key(key)
            .u8(rel_code(rel))
            .u8(kind_code(kind))
            .build();
        self.time_range(keys::REF_KEY, prefix, since, until)
    }

    /// Rows `prefix ‖ t ‖ id → author` with `since <= t < until`, oldest first.
    fn time_range(
        &self,
        table: u8,
        prefix: Vec<u8>,
        since: u64,
        until: u64,
    ) -> Result<Vec<(u64, EventId, PublicKey)>, StoreError> {
        if since >= until {
            return Ok(Vec::new());
        }
        let n = prefix.len();
        let lower = Key::new(table).bytes(&prefix[1..]).u64(since).build();
        let upper = Key::new(table).bytes(&prefix[1..]).u64(until).build();
        let mut out = Vec::new();
        for row in self.tree.range(lower..upper) {
            let (k, v) = row?;
            let (t, id) = keys::tail(&k[n..]).ok_or(StoreError::corrupt(table))?;
            let author = keys::key_at(&v, 0).ok_or(StoreError::corrupt(table))?;
            out.push((t, id, author));
        }
        Ok(out)
    }

    /// Every live reaction to `target` (one per person: their newest):
    /// `(person, created_at, reaction id, type)`, in key order.
    pub fn live_reactions(
        &self,
        target: &EventId,
    ) -> Result<Vec<(PublicKey, u64, EventId, ReactionType)>, StoreError> {
        let mut out = Vec::new();
        // y ‖ target(32) ‖ person(32) → t(8) ‖ id(32) ‖ type(1)
        for row in self
            .tree
            .scan_prefix(Key::new(keys::REACTION).id(target).build())
        {
            let (k, v) = row?;
            let corrupt = || StoreError::corrupt(keys::REACTION);
            let person = keys::key_at(&k, 33).ok_or_else(corrupt)?;
            let t = u64_at(&v, 0).ok_or_else(corrupt)?;
            let id = id_at(&v, 8).ok_or_else(corrupt)?;
            let kind = v
                .get(40)
                .and_then(|c| ReactionType::ALL.get(usize::from(*c)).copied())
                .ok_or_else(corrupt)?;
            out.push((person, t, id, kind));
        }
        Ok(out)
    }

    /// The newest follow or unfollow of `follower` for `followee`:
    /// `(created_at, id, following)`, or `None` if there is none.
    pub fn follow_state(
        &self,
        follower: &PublicKey,
        followee: &PublicKey,
    ) -> Result<Option<(u64, EventId, bool)>, StoreError> {
        let Some(v) = self
            .tree
            .get(Key::new(keys::FOLLOW).key(follower).key(followee).build())?
        else {
            return Ok(None);
        };
        let corrupt = || StoreError::corrupt(keys::FOLLOW);
        Ok(Some((
            u64_at(&v, 0).ok_or_else(corrupt)?,
            id_at(&v, 8).ok_or_else(corrupt)?,
            v.get(40) == Some(&1),
        )))
    }
}
