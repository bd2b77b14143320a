//! Trending hashtags over sliding windows (1 hour, 24 hours), from the
//! posts, replies and quotes the node has accepted.
//!
//! A tag's standing is the number of **distinct authors** who used it in the
//! window, so one author posting a tag a thousand times counts once. Ties go
//! to the tag with more uses (each author's uses capped at
//! [`USES_PER_AUTHOR`]), then to the tag used most recently. Each entry also
//! says how that compares with the window before (`previous_authors`), so a
//! client can show what is rising.
//!
//! The index is fed event by event (from the store's stream of accepted
//! events) and holds, per tag and author, only the times of that author's
//! last few uses within twice the longest window; [`Trending::top`] reads
//! it without touching the store.

use std::collections::HashMap;
use std::sync::Mutex;

use kith_protocol::{Event, PublicKey};
use serde::Serialize;

/// The longest window, ms.
pub const DAY_MS: u64 = 24 * 3_600_000;
/// Uses of a tag that count per author in a window.
pub const USES_PER_AUTHOR: usize = 3;
/// Tags kept at most (the least recently used go first).
pub const MAX_TAGS: usize = 200_000;

/// A window to rank over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum Window {
    /// The last hour.
    #[serde(rename = "1h")]
    Hour,
    /// The last 24 hours.
    #[serde(rename = "24h")]
    Day,
}

impl Window {
    /// Its length, ms.
    pub fn ms(self) -> u64 {
        match self {
            Window::Hour => 3_600_000,
            Window::Day => DAY_MS,
        }
    }
}

/// One trending tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrendingTag {
    /// The hashtag (normalised, without `#`).
    pub tag: String,
    /// Distinct authors who used it in the window.
    pub authors: u64,
    /// Uses in the window, at most [`USES_PER_AUTHOR`] per author.
    pub uses: u64,
    /// Distinct authors in the window before this one.
    pub previous_authors: u64,
}

/// The newest uses of one tag by one author (newest last).
#[derive(Debug, Default)]
struct Uses {
    times: Vec<u64>,
}

impl Uses {
    fn add(&mut self, t: u64) {
        // Keep the newest few, in order (events may arrive out of order).
        let at = self.times.partition_point(|x| *x <= t);
        self.times.insert(at, t);
        if self.times.len() > 2 * USES_PER_AUTHOR {
            self.times.remove(0);
        }
    }

    fn within(&self, from: u64, to: u64) -> usize {
        self.times.iter().filter(|t| (from..to).contains(t)).count()
    }
}

#[derive(Debug, Default)]
struct Tag {
    by: HashMap<PublicKey, Uses>,
    latest: u64,
}

/// The trending index.
#[derive(Debug, Default)]
pub struct Trending {
    tags: Mutex<HashMap<String, Tag>>,
}

impl Trending {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes note of an accepted event (anything without hashtags is
    /// ignored).
    pub fn add(&self, e: &Event) {
        let tags = e.payload().tags();
        if tags.is_empty() {
            return;
        }
        let mut map = self.tags.lock().unwrap_or_else(|p| p.into_inner());
        for tag in tags {
            let entry = map.entry(tag.clone()).or_default();
            entry.by.entry(e.author()).or_default().add(e.created_at());
            entry.latest = entry.latest.max(e.created_at());
        }
        if map.len() > MAX_TAGS {
            shed(&mut map, MAX_TAGS * 9 / 10);
        }
    }

    /// Forgets uses older than twice the longest window before `now`.
    pub fn prune(&self, now: u64) {
        let horizon = now.saturating_sub(2 * DAY_MS);
        let mut map = self.tags.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, tag| {
            tag.by.retain(|_, uses| {
                uses.times.retain(|t| *t >= horizon);
                !uses.times.is_empty()
            });
            !tag.by.is_empty()
        });
    }

    /// The `limit` top tags in `window` ending at `now`.
    pub fn top(&self, window: Window, now: u64, limit: usize) -> Vec<TrendingTag> {
        let to = now.saturating_add(1);
        let from = to.saturating_sub(window.ms());
        let before = from.saturating_sub(window.ms());
        let map = self.tags.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(TrendingTag, u64)> = map
            .iter()
            .filter(|(_, tag)| tag.latest >= from)
            .filter_map(|(name, tag)| {
                let (mut authors, mut uses, mut previous) = (0u64, 0u64, 0u64);
                for u in tag.by.values() {
                    let n = u.within(from, to);
                    if n > 0 {
                        authors += 1;
                        uses += n.min(USES_PER_AUTHOR) as u64;
                    }
                    if u.within(before, from) > 0 {
                        previous += 1;
                    }
                }
                (authors > 0).then(|| {
                    (
                        TrendingTag {
                            tag: name.clone(),
                            authors,
                            uses,
                            previous_authors: previous,
                        },
                        tag.latest,
                    )
                })
            })
            .collect();
        out.sort_by(|(a, la), (b, lb)| {
            b.authors
                .cmp(&a.authors)
                .then(b.uses.cmp(&a.uses))
                .then(lb.cmp(la))
                .then(a.tag.cmp(&b.tag))
        });
        out.truncate(limit);
        out.into_iter().map(|(t, _)| t).collect()
    }

    /// Tags held.
    pub fn len(&self) -> usize {
        self.tags.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no tag is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops the least recently used tags down to `keep`.
fn shed(map: &mut HashMap<String, Tag>, keep: usize) {
    let mut latest: Vec<u64> = map.values().map(|t| t.latest).collect();
    if latest.len() <= keep {
        return;
    }
    let cut = latest.len() - keep;
    let (_, nth, _) = latest.select_nth_unstable(cut);
    let threshold = *nth;
    map.retain(|_, t| t.latest > threshold);
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_protocol::kinds::{Content, Post};
    use kith_protocol::{Keypair, UnsignedEvent};

    fn key(n: u16) -> Keypair {
        let mut seed = [7u8; 32];
        seed[..2].copy_from_slice(&n.to_le_bytes());
        Keypair::from_seed(&seed).unwrap()
    }

    fn post(k: &Keypair, at: u64, text: &str) -> Event {
        UnsignedEvent::new(
            k.public(),
            at,
            Post {
                content: Content::text(text),
            },
        )
        .sign(k)
        .unwrap()
    }

    const NOW: u64 = 1_800_000_000_000;
    const MIN: u64 = 60_000;

    #[test]
    fn one_author_spamming_a_tag_does_not_trend() {
        let t = Trending::new();
        let spammer = key(0);
        for i in 0..1_000u64 {
            t.add(&post(&spammer, NOW - i * 1_000, "buy now #spam"));
        }
        // Five people each mention #rain once.
        for a in 1..=5 {
            t.add(&post(&key(a), NOW - u64::from(a) * MIN, "wet #rain"));
        }
        let top = t.top(Window::Hour, NOW, 10);
        assert_eq!(top[0].tag, "rain");
        assert_eq!((top[0].authors, top[0].uses), (5, 5));
        assert_eq!(top[1].tag, "spam");
        assert_eq!((top[1].authors, top[1].uses), (1, USES_PER_AUTHOR as u64));
    }

    #[test]
    fn windows_slide_and_compare_with_the_one_before() {
        let t = Trending::new();
        // #old: 4 authors two hours ago; #new: 2 authors in the last hour,
        // one of whom also used it two hours ago.
        for a in 0..4 {
            t.add(&post(&key(a), NOW - 2 * 60 * MIN + 5 * MIN, "#old"));
        }
        t.add(&post(&key(10), NOW - 90 * MIN, "#new"));
        t.add(&post(&key(10), NOW - 10 * MIN, "#new"));
        t.add(&post(&key(11), NOW - 20 * MIN, "#new"));
        let hour = t.top(Window::Hour, NOW, 10);
        assert_eq!(hour.len(), 1, "{hour:?}");
        assert_eq!(
            hour[0],
            TrendingTag {
                tag: "new".into(),
                authors: 2,
                uses: 2,
                previous_authors: 1
            }
        );
        let day = t.top(Window::Day, NOW, 10);
        assert_eq!(day[0].tag, "old");
        assert_eq!(day[0].authors, 4);
        assert_eq!(day[1].tag, "new");
        assert_eq!((day[1].authors, day[1].uses), (2, 3));
        // A day later nothing is in the hour window; pruning two days later
        // forgets everything.
        assert!(t.top(Window::Hour, NOW + DAY_MS, 10).is_empty());
        t.prune(NOW + 3 * DAY_MS);
        assert!(t.is_empty());
    }

    #[test]
    fn posts_without_tags_and_limits() {
        let t = Trending::new();
        t.add(&post(&key(1), NOW, "no tags here"));
        assert!(t.is_empty());
        for i in 0..30u16 {
            t.add(&post(&key(i), NOW - MIN, &format!("#tag{i}")));
        }
        assert_eq!(t.top(Window::Day, NOW, 5).len(), 5);
        let mut map = HashMap::new();
        for i in 0..100u64 {
            map.insert(
                format!("t{i}"),
                Tag {
                    by: HashMap::new(),
                    latest: i,
                },
            );
        }
        shed(&mut map, 10);
        assert!(map.len() <= 10 && map.contains_key("t99") && !map.contains_key("t0"));
    }
}
