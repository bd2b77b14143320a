//! Suggested people to follow, computed on the person's own node, each with
//! its reasons in words.
//!
//! Two sources of candidates, both bounded so that one request stays cheap
//! on a store of a million events:
//!
//! 1. **Friends of friends.** Up to [`Limits::sampled_follows`] of the
//!    person's follows, in a stable per-person order (SHA-256 of the
//!    person's key and the follow's, as the feed samples), and up to
//!    [`Limits::follows_of_each`] of the identities each of them follows.
//!    A candidate scores one point per sampled follow that follows it.
//! 2. **Shared hashtags.** The hashtags of what the person reacted to,
//!    replied to, reposted or quoted in the last [`INTEREST_WINDOW_MS`]
//!    (their newest [`Limits::interactions`] such events), the
//!    [`Limits::tags`] most engaged with. For each, the newest
//!    [`Limits::posts_per_tag`] posts carrying it in the last
//!    [`TAG_WINDOW_MS`]; their authors are candidates. A candidate gains
//!    `n / (n + 2)` for each such tag, `n` being the person's interactions
//!    with the tag (the feed's hashtag value), so a tag is worth less than
//!    one shared follow and two strong tags more.
//!
//! The person, whom they already follow, and whom they block or mute are
//! never suggested. Order: score, highest first; ties go to the smaller
//! key, so the list is a function of the store and the clock.

use std::collections::{HashMap, HashSet};

use kith_protocol::PublicKey;
use kith_protocol::kinds::Payload;
use kith_storage::{Reader, StoreError};
use serde::Serialize;

use crate::feed::{Action, Interests, Lang};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
/// The person's interactions in this window make their hashtag interests.
pub const INTEREST_WINDOW_MS: u64 = 30 * DAY;
/// Posts with an interesting hashtag are read from this window.
pub const TAG_WINDOW_MS: u64 = 14 * DAY;
/// Most suggestions one call returns.
pub const MAX_SUGGESTIONS: usize = 100;
/// Identities named in a "followed by" reason.
pub const NAMED: usize = 2;
/// Hashtags named in a "posts about" reason.
pub const NAMED_TAGS: usize = 3;

/// Bounds on the work one call does.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The person's follows sampled for friends of friends.
    pub sampled_follows: usize,
    /// Follows read for each sampled one.
    pub follows_of_each: usize,
    /// The person's newest interactions read for their hashtags.
    pub interactions: usize,
    /// Hashtags (most engaged with first) whose posts are read.
    pub tags: usize,
    /// Newest posts read per hashtag.
    pub posts_per_tag: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sampled_follows: 500,
            follows_of_each: 200,
            interactions: 500,
            tags: 5,
            posts_per_tag: 200,
        }
    }
}

/// Whom the suggestions are for.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    /// The person.
    pub me: PublicKey,
    /// Everyone they follow (the person may be in it too).
    pub follows: &'a HashSet<PublicKey>,
    /// Whom they block or mute.
    pub hidden: &'a HashSet<PublicKey>,
}

/// Why someone is suggested.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reason {
    /// People the person follows follow them.
    FollowedBy {
        /// The first [`NAMED`] of them (in the person's sample order).
        followed_by: Vec<PublicKey>,
        /// How many of the sampled follows follow them.
        count: usize,
    },
    /// They recently posted with hashtags the person engages with.
    Hashtags {
        /// Up to [`NAMED_TAGS`] of the tags, the person's strongest first.
        tags: Vec<String>,
        /// Their posts read with any of those tags.
        posts: usize,
        /// How the person engages with those tags, mostly.
        action: Action,
    },
}

/// One suggested identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// Whom to follow.
    pub identity: PublicKey,
    /// Shared follows plus hashtag affinity (see the module's docs).
    pub score: f64,
    /// Why, strongest first.
    pub reasons: Vec<Reason>,
}

/// A stable, person-specific order of keys, to sample from.
fn sample_order(me: &PublicKey, k: &PublicKey) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(me.as_bytes());
    h.update(k.as_bytes());
    h.finalize().into()
}

/// The most common action (ties: reacted, then replied, then reposted).
fn main_action(counts: &[u32; 3]) -> Action {
    [Action::Reacted, Action::Replied, Action::Reposted]
        .into_iter()
        .max_by_key(|a| (counts[*a as usize], std::cmp::Reverse(*a as usize)))
        .unwrap_or(Action::Reacted)
}

#[derive(Default)]
struct Candidate {
    /// Sampled follows following them, in sample order.
    via: Vec<PublicKey>,
    /// Interesting tags they posted with: tag index → posts.
    tags: Vec<(usize, usize)>,
}

/// Suggests up to `limit` (at most [`MAX_SUGGESTIONS`]) people for
/// `person` to follow at `now_ms`, best first.
pub fn suggest(
    reader: &Reader,
    person: Person<'_>,
    limits: &Limits,
    now_ms: u64,
    limit: usize,
) -> Result<Vec<Suggestion>, StoreError> {
    let me = person.me;
    let excluded =
        |k: &PublicKey| *k == me || person.follows.contains(k) || person.hidden.contains(k);
    let mut found: HashMap<PublicKey, Candidate> = HashMap::new();

    // Friends of friends, from a stable sample of the follow graph.
    let mut follows: Vec<&PublicKey> = person
        .follows
        .iter()
        .filter(|k| **k != me && !person.hidden.contains(k))
        .collect();
    follows.sort_by_cached_key(|k| sample_order(&me, k));
    follows.truncate(limits.sampled_follows);
    for f in follows {
        for k in reader.following(f, None, limits.follows_of_each)? {
            if !excluded(&k) {
                found.entry(k).or_default().via.push(*f);
            }
        }
    }

    // Authors posting with the hashtags the person engages with.
    let mut tags: Vec<(String, [u32; 3])> = Interests::read(
        reader,
        &me,
        now_ms.saturating_sub(INTEREST_WINDOW_MS),
        limits.interactions,
    )?
    .tags
    .into_iter()
    .collect();
    tags.sort_by(|a, b| {
        b.1.iter()
            .sum::<u32>()
            .cmp(&a.1.iter().sum::<u32>())
            .then(a.0.cmp(&b.0))
    });
    tags.truncate(limits.tags);
    let since = now_ms.saturating_sub(TAG_WINDOW_MS);
    for (i, (tag, _)) in tags.iter().enumerate() {
        let mut posts: HashMap<PublicKey, usize> = HashMap::new();
        for (_, _, author) in reader.hashtag_recent(tag, since, limits.posts_per_tag)? {
            if !excluded(&author) {
                *posts.entry(author).or_default() += 1;
            }
        }
        for (author, n) in posts {
            found.entry(author).or_default().tags.push((i, n));
        }
    }

    let affinity = |i: usize| -> f64 {
        let n = f64::from(tags[i].1.iter().sum::<u32>());
        n / (n + 2.0)
    };
    let mut out: Vec<Suggestion> = found
        .into_iter()
        .map(|(identity, c)| {
            let shared = c.via.len() as f64;
            let tag_score: f64 = c.tags.iter().map(|(i, _)| affinity(*i)).sum();
            let mut reasons = Vec::with_capacity(2);
            let follow_reason = (!c.via.is_empty()).then(|| Reason::FollowedBy {
                followed_by: c.via.iter().take(NAMED).copied().collect(),
                count: c.via.len(),
            });
            let tag_reason = (!c.tags.is_empty()).then(|| {
                let mut mine = c.tags.clone();
                // The person's strongest tags first (the tag list's order).
                mine.sort();
                let mut counts = [0u32; 3];
                for (i, _) in &mine {
                    for (a, n) in tags[*i].1.iter().enumerate() {
                        counts[a] += n;
                    }
                }
                Reason::Hashtags {
                    tags: mine
                        .iter()
                        .take(NAMED_TAGS)
                        .map(|(i, _)| tags[*i].0.clone())
                        .collect(),
                    posts: mine.iter().map(|(_, n)| n).sum(),
                    action: main_action(&counts),
                }
            });
            match (follow_reason, tag_reason) {
                (Some(f), Some(t)) if tag_score > shared => reasons.extend([t, f]),
                (f, t) => reasons.extend(f.into_iter().chain(t)),
            }
            Suggestion {
                identity,
                score: shared + tag_score,
                reasons,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.identity.cmp(&b.identity))
    });
    out.truncate(limit.clamp(1, MAX_SUGGESTIONS));
    Ok(out)
}

/// An identity's display name: its profile's name, or the start of its key.
pub fn display_name(reader: &Reader, k: &PublicKey) -> String {
    reader
        .profile(k)
        .ok()
        .flatten()
        .and_then(|e| match e.payload() {
            Payload::Profile(p) if !p.name.trim().is_empty() => Some(p.name.trim().to_string()),
            _ => None,
        })
        .unwrap_or_else(|| short_key(k))
}

/// The first 12 characters of a key's text form and an ellipsis.
pub fn short_key(k: &PublicKey) -> String {
    let text = k.to_text();
    format!("{}…", &text[..text.len().min(12)])
}

/// `a`, `a and b`, `a, b and c` (`y` in Spanish).
fn list(lang: Lang, items: &[String]) -> String {
    let and = match lang {
        Lang::En => "and",
        Lang::Es => "y",
    };
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

impl Reason {
    /// The reason in words; `name` gives an identity's display name.
    ///
    /// | | English | Spanish |
    /// |---|---|---|
    /// | 1 | Followed by Ana, whom you follow | Seguida por Ana, a quien sigues |
    /// | 2 | Followed by Ana and Luis, whom you follow | Seguida por Ana y Luis, a quienes sigues |
    /// | 5 | Followed by Ana, Luis and 3 others you follow | Seguida por Ana, Luis y 3 más a quienes sigues |
    /// | tags | Posts about #adopcion, which you react to | Publica sobre #adopcion, a lo que reaccionas |
    pub fn explain(&self, lang: Lang, name: &dyn Fn(&PublicKey) -> String) -> String {
        match self {
            Reason::FollowedBy { followed_by, count } => {
                let names: Vec<String> = followed_by.iter().map(name).collect();
                let others = count.saturating_sub(names.len());
                match (lang, others) {
                    (Lang::En, 0) => format!("Followed by {}, whom you follow", list(lang, &names)),
                    (Lang::En, n) => format!(
                        "Followed by {} and {n} {} you follow",
                        names.join(", "),
                        if n == 1 { "other" } else { "others" }
                    ),
                    (Lang::Es, 0) => format!(
                        "Seguida por {}, {} sigues",
                        list(lang, &names),
                        if names.len() == 1 {
                            "a quien"
                        } else {
                            "a quienes"
                        }
                    ),
                    (Lang::Es, n) => {
                        format!(
                            "Seguida por {} y {n} más a quienes sigues",
                            names.join(", ")
                        )
                    }
                }
            }
            Reason::Hashtags { tags, action, .. } => {
                let tags: Vec<String> = tags.iter().map(|t| format!("#{t}")).collect();
                let tags = list(lang, &tags);
                match lang {
                    Lang::En => {
                        let verb = match action {
                            Action::Reacted => "react to",
                            Action::Replied => "reply to",
                            Action::Reposted => "share",
                        };
                        format!("Posts about {tags}, which you {verb}")
                    }
                    Lang::Es => {
                        let verb = match action {
                            Action::Reacted => "a lo que reaccionas",
                            Action::Replied => "a lo que respondes",
                            Action::Reposted => "lo que compartes",
                        };
                        format!("Publica sobre {tags}, {verb}")
                    }
                }
            }
        }
    }
}

impl Suggestion {
    /// Each reason in words.
    pub fn explain(&self, lang: Lang, name: &dyn Fn(&PublicKey) -> String) -> Vec<String> {
        self.reasons.iter().map(|r| r.explain(lang, name)).collect()
    }
}
