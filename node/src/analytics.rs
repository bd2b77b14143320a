//! Creator analytics: for one identity and each UTC day of a period, what
//! they published and what they received, as time series for charts, with
//! the period's totals and top posts.
//!
//! Everything is read from the store's indexes, without loading the
//! events that did the engaging:
//!
//! - **posts:** the author index (`post` and `quote` events) over the period;
//! - **reactions, replies, reposts, quotes received:** for each of the
//!   identity's newest [`Limits::content`] posts, replies and quotes, its
//!   counters first (a post nobody engaged with costs one read), then, for
//!   the kinds it has, the live-reaction rows (one per person: their newest
//!   reaction, so a changed reaction counts once, with its new type, on the
//!   day of the change) and the reference index over the period's time
//!   range (replies by `parent`, reposts and quotes by `target`);
//! - **new followers:** follow events naming the identity in the period
//!   (identity reference index) that are still the follower's current
//!   follow, on the day of that follow; **lost followers:** unfollows in the
//!   period that are still current. Someone who followed and left within
//!   the period shows only as lost;
//! - **story views:** `story_view` receipts over the period of the
//!   identity's stories, each viewer once per story (at their first view).
//!   Receipts live no longer than their story, so only recent days can
//!   have any. They are private to the identity: asked for by anyone else,
//!   they are left out of the report altogether.
//!
//! Engagement by the identity itself (replying in their own threads,
//! reacting to their own posts) is not counted as received. Top posts are
//! ranked by what they received within the period.

use std::collections::{HashMap, HashSet};

use kith_protocol::kinds::ReactionType;
use kith_protocol::{EventId, Kind, PublicKey, Rel};
use kith_storage::{Reader, StoreError};
use serde::Serialize;

/// One UTC day, ms.
pub const DAY_MS: u64 = 24 * 3_600_000;
/// Days reported when none are asked for.
pub const DEFAULT_DAYS: u32 = 30;
/// Most days one report covers.
pub const MAX_DAYS: u32 = 365;
/// Characters of a top post's text in the report.
pub const PREVIEW_CHARS: usize = 140;

/// A number of days outside `1..=MAX_DAYS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("days must be a whole number from 1 to {MAX_DAYS}, not {0}")]
pub struct BadDays(pub u64);

/// Checks a number of days.
pub fn days(n: Option<u64>) -> Result<u32, BadDays> {
    match n {
        None => Ok(DEFAULT_DAYS),
        Some(d) if (1..=u64::from(MAX_DAYS)).contains(&d) => Ok(d as u32),
        Some(d) => Err(BadDays(d)),
    }
}

/// Bounds on the work one report does.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most posts and quotes counted as published in the period.
    pub published: usize,
    /// The identity's newest posts, replies and quotes whose engagement is read.
    pub content: usize,
    /// The identity's newest stories whose views are read.
    pub stories: usize,
    /// Top posts listed.
    pub top_posts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            published: 100_000,
            content: 5_000,
            stories: 1_000,
            top_posts: 10,
        }
    }
}

/// Reactions by type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Reactions {
    /// 👍
    pub like: u64,
    /// ❤️
    pub love: u64,
    /// 😆
    pub haha: u64,
    /// 😮
    pub wow: u64,
    /// 😢
    pub sad: u64,
    /// 😠
    pub angry: u64,
}

impl Reactions {
    fn add(&mut self, t: ReactionType) {
        *match t {
            ReactionType::Like => &mut self.like,
            ReactionType::Love => &mut self.love,
            ReactionType::Haha => &mut self.haha,
            ReactionType::Wow => &mut self.wow,
            ReactionType::Sad => &mut self.sad,
            ReactionType::Angry => &mut self.angry,
        } += 1;
    }

    fn merge(&mut self, o: &Reactions) {
        self.like += o.like;
        self.love += o.love;
        self.haha += o.haha;
        self.wow += o.wow;
        self.sad += o.sad;
        self.angry += o.angry;
    }

    /// All six.
    pub fn total(&self) -> u64 {
        self.like + self.love + self.haha + self.wow + self.sad + self.angry
    }
}

/// What happened over a day or a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Posts and quotes published.
    pub posts: u64,
    /// Live reactions received, by type.
    pub reactions: Reactions,
    /// Direct replies received.
    pub replies: u64,
    /// Reposts received.
    pub reposts: u64,
    /// Quotes received.
    pub quotes: u64,
    /// Follows made that still stand.
    pub new_followers: u64,
    /// Unfollows that still stand.
    pub lost_followers: u64,
    /// Distinct viewers per story (only in the identity's own report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub story_views: Option<u64>,
}

impl Counts {
    fn merge(&mut self, o: &Counts) {
        self.posts += o.posts;
        self.reactions.merge(&o.reactions);
        self.replies += o.replies;
        self.reposts += o.reposts;
        self.quotes += o.quotes;
        self.new_followers += o.new_followers;
        self.lost_followers += o.lost_followers;
        if let Some(v) = o.story_views {
            *self.story_views.get_or_insert(0) += v;
        }
    }
}

/// One day of the series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    /// What happened that day.
    #[serde(flatten)]
    pub counts: Counts,
}

/// The period's sums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Sums over the days.
    #[serde(flatten)]
    pub counts: Counts,
    /// Followers now.
    pub followers: u64,
}

/// One of the period's most engaged-with posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopPost {
    /// The event.
    pub id: EventId,
    /// `post`, `reply` or `quote`.
    pub kind: &'static str,
    /// When it was published (ms).
    pub created_at: u64,
    /// The start of its text.
    pub text: String,
    /// Reactions received in the period, by type.
    pub reactions: Reactions,
    /// Replies received in the period.
    pub replies: u64,
    /// Reposts received in the period.
    pub reposts: u64,
    /// Quotes received in the period.
    pub quotes: u64,
    /// Reactions + replies + reposts + quotes.
    pub engagement: u64,
}

/// A creator report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Whose.
    pub identity: PublicKey,
    /// The first day's start (ms, UTC midnight).
    pub since: u64,
    /// The end of the last day (ms, exclusive).
    pub until: u64,
    /// Each day, oldest first, every day present.
    pub days: Vec<Day>,
    /// The period's sums.
    pub totals: Totals,
    /// Most engagement in the period first (ties: newer, then smaller id).
    pub top_posts: Vec<TopPost>,
    /// Whether the identity has more content than [`Limits::content`]:
    /// engagement on the older part is not counted.
    pub truncated: bool,
}

/// `YYYY-MM-DD` of a UTC day number (days since 1970-01-01).
pub fn date(day: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[derive(Default)]
struct PostCounts {
    reactions: Reactions,
    replies: u64,
    reposts: u64,
    quotes: u64,
    created_at: u64,
}

impl PostCounts {
    fn engagement(&self) -> u64 {
        self.reactions.total() + self.replies + self.reposts + self.quotes
    }
}

/// The report of `who` over the `days` UTC days ending with the one of
/// `now_ms` (checked with [`days`]); `story_views` only when the identity
/// itself asks.
pub fn report(
    reader: &Reader,
    who: &PublicKey,
    days: u32,
    story_views: bool,
    limits: &Limits,
    now_ms: u64,
) -> Result<Report, StoreError> {
    let days = days.clamp(1, MAX_DAYS);
    let today = now_ms / DAY_MS;
    let first = today.saturating_sub(u64::from(days) - 1);
    let since = first * DAY_MS;
    let until = (today + 1) * DAY_MS;
    let mut series: Vec<Counts> = vec![
        Counts {
            story_views: story_views.then_some(0),
            ..Counts::default()
        };
        (today - first + 1) as usize
    ];
    let slot = |t: u64| -> Option<usize> {
        (since..until)
            .contains(&t)
            .then(|| ((t - since) / DAY_MS) as usize)
    };

    // Published.
    for (t, _) in reader.author_recent(who, &[Kind::Post, Kind::Quote], since, limits.published)? {
        if let Some(d) = slot(t).and_then(|i| series.get_mut(i)) {
            d.posts += 1;
        }
    }

    // Received, per piece of content.
    let content = reader.author_recent(
        who,
        &[Kind::Post, Kind::Quote, Kind::Reply],
        0,
        limits.content.saturating_add(1),
    )?;
    let truncated = content.len() > limits.content;
    let mut per_post: HashMap<EventId, PostCounts> = HashMap::new();
    for (created_at, id) in content.into_iter().take(limits.content) {
        if created_at >= until {
            continue;
        }
        let Some(stats) = reader.stats(&[id], None)?.pop() else {
            continue;
        };
        let mut mine = PostCounts {
            created_at,
            ..PostCounts::default()
        };
        if stats.reactions.iter().any(|n| *n > 0) {
            for (person, t, _, kind) in reader.live_reactions(&id)? {
                if person == *who {
                    continue;
                }
                if let Some(d) = slot(t).and_then(|i| series.get_mut(i)) {
                    d.reactions.add(kind);
                    mine.reactions.add(kind);
                }
            }
        }
        let refs = [
            (stats.replies, Rel::Parent, Kind::Reply),
            (stats.reposts, Rel::Target, Kind::Repost),
            (stats.quotes, Rel::Target, Kind::Quote),
        ];
        for (count, rel, kind) in refs {
            if count == 0 {
                continue;
            }
            for (t, _, author) in reader.referrers_between(&id, rel, kind, since, until)? {
                if author == *who {
                    continue;
                }
                let Some(d) = slot(t).and_then(|i| series.get_mut(i)) else {
                    continue;
                };
                let (day, post) = match kind {
                    Kind::Reply => (&mut d.replies, &mut mine.replies),
                    Kind::Repost => (&mut d.reposts, &mut mine.reposts),
                    _ => (&mut d.quotes, &mut mine.quotes),
                };
                *day += 1;
                *post += 1;
            }
        }
        if mine.engagement() > 0 {
            per_post.insert(id, mine);
        }
    }

    // Followers gained and lost, where that is still the follower's state.
    for (kind, following) in [(Kind::Follow, true), (Kind::Unfollow, false)] {
        for (t, id, follower) in
            reader.identity_referrers_between(who, Rel::Subject, kind, since, until)?
        {
            if follower == *who {
                continue;
            }
            let current = reader.follow_state(&follower, who)?;
            if current.is_none_or(|(_, cid, state)| cid != id || state != following) {
                continue;
            }
            if let Some(d) = slot(t).and_then(|i| series.get_mut(i)) {
                if following {
                    d.new_followers += 1;
                } else {
                    d.lost_followers += 1;
                }
            }
        }
    }

    // Story views (the identity's own report only).
    if story_views {
        let stories = reader.author_recent(
            who,
            &[Kind::Story],
            since.saturating_sub(kith_protocol::kinds::story::MAX_STORY_LIFETIME_MS),
            limits.stories,
        )?;
        for (_, story) in stories {
            let mut seen: HashSet<PublicKey> = HashSet::new();
            for (t, _, viewer) in
                reader.referrers_between(&story, Rel::Story, Kind::StoryView, since, until)?
            {
                if viewer == *who || !seen.insert(viewer) {
                    continue;
                }
                if let Some(d) = slot(t).and_then(|i| series.get_mut(i)) {
                    *d.story_views.get_or_insert(0) += 1;
                }
            }
        }
    }

    let mut totals = Counts {
        story_views: story_views.then_some(0),
        ..Counts::default()
    };
    for d in &series {
        totals.merge(d);
    }
    let mut top: Vec<(EventId, PostCounts)> = per_post.into_iter().collect();
    top.sort_by(|a, b| {
        b.1.engagement()
            .cmp(&a.1.engagement())
            .then(b.1.created_at.cmp(&a.1.created_at))
            .then(a.0.cmp(&b.0))
    });
    top.truncate(limits.top_posts);
    let mut top_posts = Vec::with_capacity(top.len());
    for (id, c) in top {
        // Removed since the walk: left out.
        let Some(e) = reader.get(&id)? else { continue };
        top_posts.push(TopPost {
            id,
            kind: e.kind().name(),
            created_at: c.created_at,
            text: e
                .payload()
                .text()
                .unwrap_or_default()
                .chars()
                .take(PREVIEW_CHARS)
                .collect(),
            reactions: c.reactions,
            replies: c.replies,
            reposts: c.reposts,
            quotes: c.quotes,
            engagement: c.engagement(),
        });
    }
    Ok(Report {
        identity: *who,
        since,
        until,
        days: series
            .into_iter()
            .enumerate()
            .map(|(i, counts)| Day {
                date: date(first + i as u64),
                counts,
            })
            .collect(),
        totals: Totals {
            counts: totals,
            followers: reader.follow_counts(who)?.0,
        },
        top_posts,
        truncated,
    })
}
