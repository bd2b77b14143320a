//! The ranked home feed, computed on the person's own node, with the
//! reasons for every item.
//!
//! 1. **Candidates.** The newest posts, quotes and reposts of followed
//!    authors (up to [`Limits::following`]); the popular recent posts of
//!    friends of friends, from a bounded sample of the follow graph; and the
//!    recent posts of newcomers (authors the node first saw lately, with few
//!    followers). Blocked and muted authors and muted words never pass.
//! 2. **Features,** each in `[0, 1]`, from what the person did in the last
//!    week: hashtag affinity (the hashtags of what they reacted to, replied
//!    to, reposted), author affinity (their interactions with the author),
//!    engagement (counts relative to what the author usually gets),
//!    freshness (halving every 12 hours) and media type (the share of what
//!    they engaged with that had the candidate's kind of media).
//! 3. **Score:** the weighted sum, with per-person [`Weights`].
//! 4. **Diversification:** no two consecutive items by one author, and a
//!    newcomer's post at every tenth place.
//!
//! Every [`Ranked`] item carries its source and the features that put it
//! there with their contributions; [`Ranked::explain`] says them in words.
//! The normative description is `specs/feed.md`.

use std::collections::{HashMap, HashSet};

use kith_protocol::{Event, EventId, Kind, Payload, PublicKey, Rel};
use kith_storage::{EventStats, Reader, StoreError};
use serde::{Deserialize, Serialize};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
/// What the person did in this window shapes their affinities.
pub const INTEREST_WINDOW_MS: u64 = 7 * DAY;
/// Friends-of-friends and newcomer posts are taken from this window.
pub const DISCOVERY_WINDOW_MS: u64 = 48 * HOUR;
/// Freshness halves every this many milliseconds.
pub const FRESHNESS_HALF_LIFE_MS: u64 = 12 * HOUR;
/// An author whose first post the node saw within this window is a
/// newcomer...
pub const NEWCOMER_WINDOW_MS: u64 = 14 * DAY;
/// ...if fewer than this many identities follow them.
pub const NEWCOMER_MAX_FOLLOWERS: u64 = 10;
/// A newcomer's post takes every this-many-th place.
pub const NEWCOMER_EVERY: usize = 10;

/// How much each feature counts. Each is in `[0, 10]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// Hashtag affinity.
    pub hashtags: f64,
    /// Author affinity.
    pub author: f64,
    /// Engagement relative to the author's usual.
    pub engagement: f64,
    /// Freshness.
    pub freshness: f64,
    /// Media type affinity.
    pub media: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            hashtags: 0.4,
            author: 0.3,
            engagement: 0.2,
            freshness: 0.1,
            media: 0.0,
        }
    }
}

/// A weight outside `[0, 10]` (or not a number).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the weight `{feature}` must be a number from 0 to 10, not {value}")]
pub struct BadWeight {
    /// The feature's name.
    pub feature: &'static str,
    /// What was given.
    pub value: f64,
}

impl Weights {
    /// Each feature with its weight.
    pub fn named(&self) -> [(Feature, f64); 5] {
        [
            (Feature::Hashtags, self.hashtags),
            (Feature::Author, self.author),
            (Feature::Engagement, self.engagement),
            (Feature::Freshness, self.freshness),
            (Feature::Media, self.media),
        ]
    }

    /// Sets one weight by its feature's name; a bad name or value changes
    /// nothing.
    pub fn set(&mut self, feature: &str, value: f64) -> Result<(), BadWeight> {
        if !(0.0..=10.0).contains(&value) {
            return Err(BadWeight {
                feature: Feature::ALL
                    .iter()
                    .find(|f| f.name() == feature)
                    .map_or("unknown", |f| f.name()),
                value,
            });
        }
        let slot = match feature {
            "hashtags" => &mut self.hashtags,
            "author" => &mut self.author,
            "engagement" => &mut self.engagement,
            "freshness" => &mut self.freshness,
            "media" => &mut self.media,
            _ => {
                return Err(BadWeight {
                    feature: "unknown",
                    value,
                });
            }
        };
        *slot = value;
        Ok(())
    }

    fn of(&self, f: Feature) -> f64 {
        match f {
            Feature::Hashtags => self.hashtags,
            Feature::Author => self.author,
            Feature::Engagement => self.engagement,
            Feature::Freshness => self.freshness,
            Feature::Media => self.media,
        }
    }
}

/// A ranking feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Hashtags of what the person engaged with.
    Hashtags,
    /// The person's interactions with the author.
    Author,
    /// Counts relative to the author's usual.
    Engagement,
    /// How recent.
    Freshness,
    /// The kind of media the person engages with.
    Media,
}

impl Feature {
    /// Every feature.
    pub const ALL: [Feature; 5] = [
        Feature::Hashtags,
        Feature::Author,
        Feature::Engagement,
        Feature::Freshness,
        Feature::Media,
    ];

    /// The name used in settings and the API.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Hashtags => "hashtags",
            Feature::Author => "author",
            Feature::Engagement => "engagement",
            Feature::Freshness => "freshness",
            Feature::Media => "media",
        }
    }
}

/// What the person did with a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Reacted to it.
    Reacted,
    /// Replied to it.
    Replied,
    /// Reposted or quoted it.
    Reposted,
}

/// The kind of media a post carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaClass {
    /// No media.
    None,
    /// Images.
    Image,
    /// Video.
    Video,
}

impl MediaClass {
    fn of(e: &Event) -> MediaClass {
        let media = e.payload().media();
        if media.iter().any(|m| m.mime.starts_with("video/")) {
            MediaClass::Video
        } else if media.iter().any(|m| m.mime.starts_with("image/")) {
            MediaClass::Image
        } else {
            MediaClass::None
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why a candidate was considered at all.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// The person follows the author (or is the author).
    Following,
    /// Followed by people the person follows.
    FriendsOfFriends {
        /// Some of them (at most three).
        followed_by: Vec<PublicKey>,
        /// How many of the sampled follows follow the author.
        count: usize,
    },
    /// A newcomer's post.
    Newcomer {
        /// The author's first post the node has (ms).
        first_seen: u64,
    },
    /// Posted in a community the person joined.
    Community {
        /// The community (its founding event).
        community: EventId,
        /// Its name when the node has it.
        name: String,
    },
}

/// The facts behind a feature's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// The person engaged `count` times with posts tagged `tag`, mostly by
    /// `action`.
    Hashtag {
        /// The hashtag (normalised, without `#`).
        tag: String,
        /// Posts with it the person engaged with this week.
        count: u32,
        /// The most common way they did.
        action: Action,
    },
    /// The person engaged `count` times with the author's posts.
    Author {
        /// The author.
        author: PublicKey,
        /// Interactions this week.
        count: u32,
    },
    /// The post's counts and how they compare with the author's usual.
    Engagement {
        /// All reactions.
        reactions: u64,
        /// Direct replies.
        replies: u64,
        /// Reposts and quotes.
        reposts: u64,
        /// Weighted engagement over the author's usual (1 is usual).
        ratio: f64,
    },
    /// The post's age.
    Freshness {
        /// Milliseconds.
        age_ms: u64,
    },
    /// The share of what the person engaged with that had this media.
    Media {
        /// The post's media.
        class: MediaClass,
        /// 0 to 1.
        share: f64,
    },
}

/// One feature's part in an item's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The feature.
    pub feature: Feature,
    /// Its value for the item, 0 to 1.
    pub value: f64,
    /// The person's weight for it.
    pub weight: f64,
    /// `value × weight`: its share of the score.
    pub contribution: f64,
    /// The facts.
    pub evidence: Evidence,
}

/// A ranked item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    /// The event.
    pub id: EventId,
    /// Its author.
    pub author: PublicKey,
    /// Its `created_at`.
    pub created_at: u64,
    /// The weighted sum of its features.
    pub score: f64,
    /// Why it was a candidate.
    pub source: Source,
    /// The features that count for it (contribution above zero), largest
    /// first.
    pub reasons: Vec<Reason>,
}

/// Who the feed is for.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    /// The person.
    pub me: PublicKey,
    /// Followed identities and the person, less hidden ones.
    pub visible: &'a HashSet<PublicKey>,
    /// Blocked and muted identities.
    pub hidden: &'a HashSet<PublicKey>,
    /// Muted words and phrases (matched case-insensitively).
    pub muted_words: &'a [String],
}

/// Bounds on the work one ranking does.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Newest items of followed authors considered.
    pub following: usize,
    /// Follows sampled for friends of friends.
    pub sampled_follows: usize,
    /// Follows read for each sampled one.
    pub follows_of_each: usize,
    /// Friends-of-friends authors considered (most shared first).
    pub fof_authors: usize,
    /// Friends-of-friends posts kept (most engaged first).
    pub fof_posts: usize,
    /// Recent posts scanned for newcomers.
    pub newcomer_scan: usize,
    /// Distinct authors checked for being newcomers.
    pub newcomer_authors: usize,
    /// Newcomers kept.
    pub newcomers: usize,
    /// Interactions of the person read for their affinities.
    pub interactions: usize,
    /// Communities joined that are read.
    pub communities: usize,
    /// Newest posts taken from each.
    pub community_posts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            following: 500,
            sampled_follows: 100,
            follows_of_each: 100,
            fof_authors: 50,
            fof_posts: 40,
            newcomer_scan: 2_000,
            newcomer_authors: 200,
            newcomers: 20,
            interactions: 500,
            communities: 50,
            community_posts: 20,
        }
    }
}

/// What the person engaged with in the interest window (also what people
/// suggestions read their hashtags from).
#[derive(Debug, Default)]
pub(crate) struct Interests {
    /// Per hashtag, engagements by action.
    pub(crate) tags: HashMap<String, [u32; 3]>,
    /// Per author, engagements.
    authors: HashMap<PublicKey, u32>,
    /// Engagements by the target's media class.
    media: [u32; 3],
    /// All engagements counted.
    total: u32,
}

impl Interests {
    /// The person's newest `limit` reactions, replies, reposts and quotes
    /// since `since`, by what they engaged with (their own events aside).
    pub(crate) fn read(
        reader: &Reader,
        me: &PublicKey,
        since: u64,
        limit: usize,
    ) -> Result<Self, StoreError> {
        let mut out = Interests::default();
        let mine = reader.author_recent(
            me,
            &[Kind::Reaction, Kind::Reply, Kind::Repost, Kind::Quote],
            since,
            limit,
        )?;
        for (_, id) in mine {
            let Some(e) = reader.get(&id)? else { continue };
            let (action, rel) = match e.kind() {
                Kind::Reaction => (Action::Reacted, Rel::Target),
                Kind::Reply => (Action::Replied, Rel::Parent),
                _ => (Action::Reposted, Rel::Target),
            };
            let Some(target) = e.event_ref(rel) else {
                continue;
            };
            let Some(t) = reader.get(&target)? else {
                continue;
            };
            if t.author() == *me {
                continue;
            }
            *out.authors.entry(t.author()).or_default() += 1;
            for tag in t.payload().tags() {
                out.tags.entry(tag.clone()).or_default()[action as usize] += 1;
            }
            out.media[MediaClass::of(&t).index()] += 1;
            out.total += 1;
        }
        Ok(out)
    }
}

/// A candidate before scoring.
struct Candidate {
    event: Event,
    /// What its content features are read from: the event, or for a
    /// repost the reposted event.
    content: Option<Event>,
    source: Source,
}

/// Ranks the person's home feed at `now_ms`: the whole ranked list, best
/// first (page it by offset).
pub fn rank(
    reader: &Reader,
    viewer: Viewer<'_>,
    weights: &Weights,
    limits: &Limits,
    now_ms: u64,
) -> Result<Vec<Ranked>, StoreError> {
    let interests = Interests::read(
        reader,
        &viewer.me,
        now_ms.saturating_sub(INTEREST_WINDOW_MS),
        limits.interactions,
    )?;
    let muted: Vec<String> = viewer
        .muted_words
        .iter()
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    let mut seen: HashSet<EventId> = HashSet::new();
    let mut main = Vec::new();
    let mut newcomers = Vec::new();
    let mut admit = |c: Candidate, to: &mut Vec<Candidate>| {
        if viewer.hidden.contains(&c.event.author())
            || c.content
                .as_ref()
                .is_some_and(|t| viewer.hidden.contains(&t.author()))
            || mutes(&muted, &c.event)
            || c.content.as_ref().is_some_and(|t| mutes(&muted, t))
            || !seen.insert(c.event.id())
        {
            return;
        }
        to.push(c);
    };
    for c in following(reader, &viewer, limits)? {
        admit(c, &mut main);
    }
    for c in communities(reader, &viewer, limits, now_ms)? {
        admit(c, &mut main);
    }
    for c in friends_of_friends(reader, &viewer, limits, now_ms)? {
        admit(c, &mut main);
    }
    for c in newcomer_posts(reader, &viewer, limits, now_ms)? {
        admit(c, &mut newcomers);
    }

    let mut usual: HashMap<PublicKey, f64> = HashMap::new();
    let mut score = |c: Candidate| -> Result<Ranked, StoreError> {
        score_one(reader, &interests, weights, &mut usual, c, now_ms)
    };
    let mut ranked: Vec<Ranked> = main.into_iter().map(&mut score).collect::<Result<_, _>>()?;
    let mut fresh: Vec<Ranked> = newcomers
        .into_iter()
        .map(&mut score)
        .collect::<Result<_, _>>()?;
    sort(&mut ranked);
    sort(&mut fresh);
    Ok(inject(diversify(ranked), fresh))
}

/// Best first; ties by newer, then id, so the order is total.
fn sort(items: &mut [Ranked]) {
    items.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.created_at.cmp(&a.created_at))
            .then(a.id.cmp(&b.id))
    });
}

/// Reorders `items` (best first) so that no two consecutive items share an
/// author, moving as little as possible: each place takes the best item
/// left whose author differs from the previous one's, or the best item if
/// every one left is by that author.
pub fn diversify(items: Vec<Ranked>) -> Vec<Ranked> {
    let mut left: std::collections::VecDeque<Ranked> = items.into();
    let mut out: Vec<Ranked> = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let prev = out.last().map(|r| r.author);
        let pick = left
            .iter()
            .position(|r| Some(r.author) != prev)
            .unwrap_or(0);
        if let Some(item) = left.remove(pick) {
            out.push(item);
        }
    }
    out
}

/// Puts one of `newcomers` (best first) at every [`NEWCOMER_EVERY`]-th
/// place of `items`, while both last; leftover newcomers are not shown.
pub fn inject(items: Vec<Ranked>, newcomers: Vec<Ranked>) -> Vec<Ranked> {
    let mut newcomers = newcomers.into_iter();
    let mut out = Vec::with_capacity(items.len() + items.len() / NEWCOMER_EVERY);
    for item in items {
        if (out.len() + 1) % NEWCOMER_EVERY == 0
            && let Some(n) = newcomers.next()
        {
            out.push(n);
        }
        out.push(item);
    }
    out
}

fn mutes(muted: &[String], e: &Event) -> bool {
    if muted.is_empty() {
        return false;
    }
    let text = e.payload().text().unwrap_or_default().to_lowercase();
    let tags = e.payload().tags();
    muted
        .iter()
        .any(|w| text.contains(w.as_str()) || tags.iter().any(|t| t == w.trim_start_matches('#')))
}

fn candidate(
    reader: &Reader,
    id: &EventId,
    source: Source,
) -> Result<Option<Candidate>, StoreError> {
    let Some(event) = reader.get(id)? else {
        return Ok(None);
    };
    let content = match event.kind() {
        Kind::Repost => match event.event_ref(Rel::Target) {
            Some(t) => reader.get(&t)?,
            None => None,
        },
        _ => None,
    };
    Ok(Some(Candidate {
        event,
        content,
        source,
    }))
}

fn following(
    reader: &Reader,
    viewer: &Viewer<'_>,
    limits: &Limits,
) -> Result<Vec<Candidate>, StoreError> {
    let page = reader.home_ids(viewer.visible, None, limits.following)?;
    let mut out = Vec::with_capacity(page.ids.len());
    for id in &page.ids {
        out.extend(candidate(reader, id, Source::Following)?);
    }
    Ok(out)
}

/// The communities the person is in: the newest membership event per
/// community says join; the most recently joined first.
pub fn joined_communities(
    reader: &Reader,
    me: &PublicKey,
    limit: usize,
) -> Result<Vec<EventId>, StoreError> {
    let mut newest: HashMap<EventId, (u64, EventId, bool)> = HashMap::new();
    for (t, id) in reader.author_items(me, &[Kind::Membership], 0, u64::MAX)? {
        let Some(e) = reader.get(&id)? else { continue };
        let (Some(c), Payload::Membership(m)) = (e.event_ref(Rel::Community), e.payload()) else {
            continue;
        };
        let joined = m.action == kith_protocol::kinds::MembershipAction::Join;
        let slot = newest.entry(c).or_insert((t, id, joined));
        if (t, id) > (slot.0, slot.1) {
            *slot = (t, id, joined);
        }
    }
    let mut joined: Vec<(u64, EventId)> = newest
        .into_iter()
        .filter(|(_, (_, _, j))| *j)
        .map(|(c, (t, _, _))| (t, c))
        .collect();
    joined.sort_by(|a, b| b.cmp(a));
    joined.truncate(limit);
    Ok(joined.into_iter().map(|(_, c)| c).collect())
}

fn communities(
    reader: &Reader,
    viewer: &Viewer<'_>,
    limits: &Limits,
    now_ms: u64,
) -> Result<Vec<Candidate>, StoreError> {
    let since = now_ms.saturating_sub(DISCOVERY_WINDOW_MS);
    let mut out = Vec::new();
    for community in joined_communities(reader, &viewer.me, limits.communities)? {
        let name = match reader.get(&community)?.as_ref().map(Event::payload) {
            Some(Payload::Community(c)) => c.name.clone(),
            _ => String::new(),
        };
        let mut items =
            reader.community_items(&community, &[Kind::Post, Kind::Quote], since, u64::MAX)?;
        items.sort_by_key(|(t, id, _)| std::cmp::Reverse((*t, *id)));
        items.truncate(limits.community_posts);
        for (_, id, _) in items {
            out.extend(candidate(
                reader,
                &id,
                Source::Community {
                    community,
                    name: name.clone(),
                },
            )?);
        }
    }
    Ok(out)
}

/// A stable, viewer-specific order of keys, to sample from.
fn sample_order(me: &PublicKey, k: &PublicKey) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(me.as_bytes());
    h.update(k.as_bytes());
    h.finalize().into()
}

fn friends_of_friends(
    reader: &Reader,
    viewer: &Viewer<'_>,
    limits: &Limits,
    now_ms: u64,
) -> Result<Vec<Candidate>, StoreError> {
    let mut follows: Vec<&PublicKey> = viewer.visible.iter().filter(|k| **k != viewer.me).collect();
    follows.sort_by_cached_key(|k| sample_order(&viewer.me, k));
    follows.truncate(limits.sampled_follows);
    let mut shared: HashMap<PublicKey, Vec<PublicKey>> = HashMap::new();
    for f in follows {
        for k in reader.following(f, None, limits.follows_of_each)? {
            if k != viewer.me && !viewer.visible.contains(&k) && !viewer.hidden.contains(&k) {
                shared.entry(k).or_default().push(*f);
            }
        }
    }
    let mut authors: Vec<(PublicKey, Vec<PublicKey>)> = shared.into_iter().collect();
    authors.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    authors.truncate(limits.fof_authors);
    let since = now_ms.saturating_sub(DISCOVERY_WINDOW_MS);
    let mut posts: Vec<(u64, EventId, &PublicKey, &Vec<PublicKey>)> = Vec::new();
    for (author, via) in &authors {
        let recent = reader.author_recent(author, &[Kind::Post, Kind::Quote], since, 5)?;
        let ids: Vec<EventId> = recent.iter().map(|(_, id)| *id).collect();
        for (id, s) in ids.iter().zip(reader.stats(&ids, None)?) {
            let e = weighted(&s);
            // Popular: somebody engaged with it.
            if e > 0 {
                posts.push((e, *id, author, via));
            }
        }
    }
    posts.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    posts.truncate(limits.fof_posts);
    let mut out = Vec::with_capacity(posts.len());
    for (_, id, _, via) in posts {
        let mut followed_by = via.clone();
        followed_by.sort();
        let count = followed_by.len();
        followed_by.truncate(3);
        out.extend(candidate(
            reader,
            &id,
            Source::FriendsOfFriends { followed_by, count },
        )?);
    }
    Ok(out)
}

fn newcomer_posts(
    reader: &Reader,
    viewer: &Viewer<'_>,
    limits: &Limits,
    now_ms: u64,
) -> Result<Vec<Candidate>, StoreError> {
    let since = now_ms.saturating_sub(DISCOVERY_WINDOW_MS);
    let mut checked: HashSet<PublicKey> = HashSet::new();
    let mut out = Vec::new();
    for (_, id, author) in reader.recent(&[Kind::Post], since, limits.newcomer_scan)? {
        if out.len() >= limits.newcomers {
            break;
        }
        if author == viewer.me
            || viewer.visible.contains(&author)
            || viewer.hidden.contains(&author)
            || !checked.insert(author)
        {
            continue;
        }
        if checked.len() > limits.newcomer_authors {
            break;
        }
        let Some(first_seen) = reader.author_first_seen(&author, &[Kind::Post])? else {
            continue;
        };
        if first_seen + NEWCOMER_WINDOW_MS < now_ms
            || reader.follow_counts(&author)?.0 >= NEWCOMER_MAX_FOLLOWERS
        {
            continue;
        }
        out.extend(candidate(reader, &id, Source::Newcomer { first_seen })?);
    }
    Ok(out)
}

/// Reactions + 2 × replies + 3 × (reposts + quotes).
fn weighted(s: &EventStats) -> u64 {
    s.reactions.iter().sum::<u64>() + 2 * s.replies + 3 * (s.reposts + s.quotes)
}

/// Posts and quotes whose engagement makes an author's usual.
pub const USUAL_OVER: usize = 5;

/// The author's usual weighted engagement: the mean over their
/// [`USUAL_OVER`] newest posts and quotes.
fn usual_engagement(reader: &Reader, author: &PublicKey) -> Result<f64, StoreError> {
    let recent = reader.author_recent(author, &[Kind::Post, Kind::Quote], 0, USUAL_OVER)?;
    if recent.is_empty() {
        return Ok(0.0);
    }
    let ids: Vec<EventId> = recent.iter().map(|(_, id)| *id).collect();
    let total: u64 = reader.stats(&ids, None)?.iter().map(weighted).sum();
    Ok(total as f64 / ids.len() as f64)
}

fn score_one(
    reader: &Reader,
    interests: &Interests,
    weights: &Weights,
    usual: &mut HashMap<PublicKey, f64>,
    c: Candidate,
    now_ms: u64,
) -> Result<Ranked, StoreError> {
    let e = &c.event;
    let content = c.content.as_ref().unwrap_or(e);
    // Whose work it is: for a repost, the reposted author's.
    let creator = content.author();
    let mut evidence: Vec<(Feature, f64, Evidence)> = Vec::with_capacity(5);

    // Hashtags: the tag the person engaged with most.
    if let Some((tag, counts)) = content
        .payload()
        .tags()
        .iter()
        .filter_map(|t| interests.tags.get(t).map(|c| (t, c)))
        .max_by(|a, b| {
            a.1.iter()
                .sum::<u32>()
                .cmp(&b.1.iter().sum::<u32>())
                .then(b.0.cmp(a.0))
        })
    {
        let n: u32 = counts.iter().sum();
        let action = [Action::Reacted, Action::Replied, Action::Reposted]
            .into_iter()
            .max_by_key(|a| (counts[*a as usize], std::cmp::Reverse(*a as usize)))
            .unwrap_or(Action::Reacted);
        evidence.push((
            Feature::Hashtags,
            f64::from(n) / (f64::from(n) + 2.0),
            Evidence::Hashtag {
                tag: tag.clone(),
                count: n,
                action,
            },
        ));
    }

    // Author affinity.
    if let Some(&m) = interests.authors.get(&creator) {
        evidence.push((
            Feature::Author,
            f64::from(m) / (f64::from(m) + 3.0),
            Evidence::Author {
                author: creator,
                count: m,
            },
        ));
    }

    // Engagement relative to the author's usual.
    let stats = reader
        .stats(&[content.id()], None)?
        .pop()
        .unwrap_or_default();
    let mine = weighted(&stats) as f64;
    // With no engagement the ratio is at most 1 (value 0) whatever the
    // usual is: it is only read for posts someone engaged with.
    let base = match usual.get(&creator) {
        Some(u) => *u,
        None if mine == 0.0 => 0.0,
        None => {
            let u = usual_engagement(reader, &creator)?;
            usual.insert(creator, u);
            u
        }
    };
    let ratio = (mine + 1.0) / (base + 1.0);
    evidence.push((
        Feature::Engagement,
        ((ratio - 1.0) / (ratio + 1.0)).max(0.0),
        Evidence::Engagement {
            reactions: stats.reactions.iter().sum(),
            replies: stats.replies,
            reposts: stats.reposts + stats.quotes,
            ratio,
        },
    ));

    // Freshness.
    let age_ms = now_ms.saturating_sub(e.created_at());
    evidence.push((
        Feature::Freshness,
        0.5f64.powf(age_ms as f64 / FRESHNESS_HALF_LIFE_MS as f64),
        Evidence::Freshness { age_ms },
    ));

    // Media type.
    let class = MediaClass::of(content);
    if class != MediaClass::None && interests.total > 0 {
        let share = f64::from(interests.media[class.index()]) / f64::from(interests.total);
        evidence.push((Feature::Media, share, Evidence::Media { class, share }));
    }

    let mut reasons: Vec<Reason> = evidence
        .into_iter()
        .map(|(feature, value, evidence)| {
            let weight = weights.of(feature);
            Reason {
                feature,
                value,
                weight,
                contribution: value * weight,
                evidence,
            }
        })
        .filter(|r| r.contribution > 0.0)
        .collect();
    reasons.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    Ok(Ranked {
        id: e.id(),
        author: e.author(),
        created_at: e.created_at(),
        score: reasons.iter().map(|r| r.contribution).sum(),
        source: c.source,
        reasons,
    })
}

/// A language explanations are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Spanish.
    Es,
}

impl Lang {
    /// The language of a BCP 47 tag or an `Accept-Language` value (its
    /// first language we speak), English otherwise.
    pub fn from_tag(tag: &str) -> Lang {
        tag.split(',')
            .map(|t| {
                t.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .find_map(|t| match t.split('-').next() {
                Some("es") => Some(Lang::Es),
                Some("en") => Some(Lang::En),
                _ => None,
            })
            .unwrap_or_default()
    }
}

/// An age in words: "5 minutes", "3 hours", "2 days".
fn age(lang: Lang, ms: u64) -> String {
    let (n, unit) = if ms < HOUR {
        ((ms / 60_000).max(1), 0)
    } else if ms < DAY {
        (ms / HOUR, 1)
    } else {
        (ms / DAY, 2)
    };
    let one = n == 1;
    let word = match (lang, unit, one) {
        (Lang::En, 0, true) => "minute",
        (Lang::En, 0, false) => "minutes",
        (Lang::En, 1, true) => "hour",
        (Lang::En, 1, false) => "hours",
        (Lang::En, _, true) => "day",
        (Lang::En, _, false) => "days",
        (Lang::Es, 0, true) => "minuto",
        (Lang::Es, 0, false) => "minutos",
        (Lang::Es, 1, true) => "hora",
        (Lang::Es, 1, false) => "horas",
        (Lang::Es, _, true) => "día",
        (Lang::Es, _, false) => "días",
    };
    format!("{n} {word}")
}

fn plural<'a>(n: impl Into<u64>, one: &'a str, many: &'a str) -> &'a str {
    if n.into() == 1 { one } else { many }
}

impl Source {
    /// The source in words; `name` gives an identity's display name.
    pub fn explain(
        &self,
        lang: Lang,
        author: &PublicKey,
        name: &dyn Fn(&PublicKey) -> String,
    ) -> String {
        let who = name(author);
        match (self, lang) {
            (Source::Following, Lang::En) => format!("You follow {who}"),
            (Source::Following, Lang::Es) => format!("Sigues a {who}"),
            (Source::FriendsOfFriends { followed_by, count }, lang) => {
                let first = followed_by.first().map(name).unwrap_or_default();
                let others = count.saturating_sub(1);
                match (lang, others) {
                    (Lang::En, 0) => {
                        format!("Popular with people you follow: {first} follows {who}")
                    }
                    (Lang::En, n) => format!(
                        "Popular with people you follow: {first} and {n} {} follow {who}",
                        plural(n as u64, "other", "others")
                    ),
                    (Lang::Es, 0) => format!("Popular entre quienes sigues: {first} sigue a {who}"),
                    (Lang::Es, n) => format!(
                        "Popular entre quienes sigues: {first} y {n} {} siguen a {who}",
                        plural(n as u64, "persona más", "personas más")
                    ),
                }
            }
            (Source::Newcomer { .. }, Lang::En) => {
                format!("New on Kith: {who} just started posting")
            }
            (Source::Community { name, .. }, Lang::En) => {
                format!("Posted by {who} in {name}, a community you joined")
            }
            (Source::Community { name, .. }, Lang::Es) => {
                format!("Publicado por {who} en {name}, una comunidad a la que te uniste")
            }
            (Source::Newcomer { .. }, Lang::Es) => {
                format!("Nuevo en Kith: {who} acaba de empezar a publicar")
            }
        }
    }
}

impl Reason {
    /// The reason in words; `name` gives an identity's display name.
    pub fn explain(&self, lang: Lang, name: &dyn Fn(&PublicKey) -> String) -> String {
        match (&self.evidence, lang) {
            (Evidence::Hashtag { tag, count, action }, Lang::En) => {
                let verb = match action {
                    Action::Reacted => "reacted to",
                    Action::Replied => "replied to",
                    Action::Reposted => "reposted",
                };
                let posts = plural(*count, "post", "posts");
                format!("You {verb} {count} {posts} tagged #{tag} this week")
            }
            (Evidence::Hashtag { tag, count, action }, Lang::Es) => {
                let verb = match action {
                    Action::Reacted => "Reaccionaste a",
                    Action::Replied => "Respondiste a",
                    Action::Reposted => "Compartiste",
                };
                let posts = plural(*count, "publicación", "publicaciones");
                format!("{verb} {count} {posts} con #{tag} esta semana")
            }
            (Evidence::Author { author, count }, Lang::En) => format!(
                "You interacted with {} {count} {} this week",
                name(author),
                plural(*count, "time", "times")
            ),
            (Evidence::Author { author, count }, Lang::Es) => format!(
                "Interactuaste con {} {count} {} esta semana",
                name(author),
                plural(*count, "vez", "veces")
            ),
            (
                Evidence::Engagement {
                    reactions,
                    replies,
                    reposts,
                    ratio,
                },
                Lang::En,
            ) => format!(
                "{reactions} {}, {replies} {} and {reposts} {}: {ratio:.1}× what its author usually gets",
                plural(*reactions, "reaction", "reactions"),
                plural(*replies, "reply", "replies"),
                plural(*reposts, "repost", "reposts"),
            ),
            (
                Evidence::Engagement {
                    reactions,
                    replies,
                    reposts,
                    ratio,
                },
                Lang::Es,
            ) => format!(
                "{reactions} {}, {replies} {} y {reposts} {}: {ratio:.1}× lo que su autor suele recibir",
                plural(*reactions, "reacción", "reacciones"),
                plural(*replies, "respuesta", "respuestas"),
                plural(*reposts, "difusión", "difusiones"),
            ),
            (Evidence::Freshness { age_ms }, Lang::En) if *age_ms < 60_000 => {
                "Posted just now".into()
            }
            (Evidence::Freshness { age_ms }, Lang::Es) if *age_ms < 60_000 => {
                "Publicado hace un momento".into()
            }
            (Evidence::Freshness { age_ms }, Lang::En) => {
                format!("Posted {} ago", age(lang, *age_ms))
            }
            (Evidence::Freshness { age_ms }, Lang::Es) => {
                format!("Publicado hace {}", age(lang, *age_ms))
            }
            (Evidence::Media { class, share }, Lang::En) => format!(
                "{:.0}% of what you engaged with this week had {}",
                share * 100.0,
                if *class == MediaClass::Video {
                    "video"
                } else {
                    "images"
                }
            ),
            (Evidence::Media { class, share }, Lang::Es) => format!(
                "El {:.0} % de lo que te interesó esta semana tenía {}",
                share * 100.0,
                if *class == MediaClass::Video {
                    "vídeo"
                } else {
                    "imágenes"
                }
            ),
        }
    }
}

impl Ranked {
    /// The item's explanation: its source, then each reason, in words.
    pub fn explain(&self, lang: Lang, name: &dyn Fn(&PublicKey) -> String) -> Vec<String> {
        std::iter::once(self.source.explain(lang, &self.author, name))
            .chain(self.reasons.iter().map(|r| r.explain(lang, name)))
            .collect()
    }
}
