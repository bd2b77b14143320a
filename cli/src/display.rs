//! How the API's documents look to people: posts, identities and
//! delegations as a few readable lines in the reader's language. `--json`
//! bypasses all of this.

use std::collections::BTreeMap;

use kith_node::protocol::PublicKey;
use kith_node::protocol::hashtag;
use serde::Deserialize;
use serde_json::Value;

use crate::i18n::Messages;

/// An event as the API shows it (the fields people read).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EventView {
    /// Content id.
    pub(crate) id: String,
    /// Kind name.
    pub(crate) kind: String,
    /// `kith1…`.
    pub(crate) author: String,
    /// ms since the epoch.
    pub(crate) created_at: u64,
    /// References.
    #[serde(default)]
    pub(crate) refs: Vec<RefView>,
    /// The kind's payload.
    #[serde(default)]
    pub(crate) payload: Value,
    /// Counts, where the listing gives them.
    #[serde(default)]
    pub(crate) stats: Option<StatsView>,
}

impl EventView {
    /// The event referenced with `rel`, if any.
    pub(crate) fn ref_event(&self, rel: &str) -> Option<&str> {
        self.refs
            .iter()
            .find(|r| r.rel == rel)
            .and_then(|r| r.event.as_deref())
    }

    fn text(&self) -> &str {
        self.payload
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// One reference.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RefView {
    /// Relation.
    pub(crate) rel: String,
    /// Event id, for event references.
    #[serde(default)]
    pub(crate) event: Option<String>,
}

/// Counts of an event.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StatsView {
    #[serde(default)]
    reactions: BTreeMap<String, u64>,
    #[serde(default)]
    replies: u64,
    #[serde(default)]
    reposts: u64,
    /// The viewer's reaction (`love`…), when the API knows the viewer.
    #[serde(default)]
    mine: Option<String>,
}

/// The six reactions, by their wire names, in display order (the
/// protocol's `ReactionType::ALL`).
pub(crate) const REACTIONS: [&str; 6] = ["like", "love", "haha", "wow", "sad", "angry"];

/// The symbol of a reaction by its wire name (`love` → ❤️); the name
/// itself for one this version does not know.
pub(crate) fn reaction_symbol(name: &str) -> &str {
    match name {
        "like" => "👍",
        "love" => "❤️",
        "haha" => "😆",
        "wow" => "😮",
        "sad" => "😢",
        "angry" => "😠",
        other => other,
    }
}

/// The short form of an identity (`kith1` and 12 characters), or the text
/// as given if it is not one.
pub(crate) fn short(key: &str) -> String {
    key.parse::<PublicKey>()
        .map_or_else(|_| key.to_string(), |k| k.short())
}

/// `2026-01-05 14:03 UTC` for a time in ms since the Unix epoch.
pub(crate) fn time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let (h, min) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02} UTC")
}

/// An event as a few lines, each starting with `indent`.
/// A Nostr note from the bridge (`NostrNote` JSON): its author (name or
/// short npub), time, origin relays, what it answers, and its text.
pub(crate) fn nostr_note(m: &Messages, n: &Value, indent: &str) -> String {
    let s = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or_default();
    let npub = n
        .pointer("/author/npub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let author = match n.get("name").and_then(Value::as_str) {
        Some(name) => format!("{name} ({})", short(npub)),
        None => short(npub),
    };
    let when = time(n.get("created_at").and_then(Value::as_u64).unwrap_or(0));
    let relays: Vec<&str> = n
        .get("relays")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut lines = vec![m.get(
        "nostr-note-header",
        &[
            ("author", &author),
            ("time", &when),
            ("relays", &relays.join(", ")),
        ],
    )];
    lines.push(m.get("nostr-note-id", &[("id", s("id"))]));
    match (n.get("kind").and_then(Value::as_u64), s("reply_to")) {
        (Some(6), target) => lines.push(m.get("event-repost-of", &[("target", target)])),
        (Some(7), target) => lines.push(m.get(
            "nostr-reaction",
            &[("reaction", s("content")), ("target", target)],
        )),
        (_, "") => {}
        (_, parent) => lines.push(m.get("event-reply-to", &[("parent", parent)])),
    }
    if !matches!(n.get("kind").and_then(Value::as_u64), Some(6 | 7)) {
        lines.extend(s("content").lines().map(str::to_string));
    }
    lines
        .iter()
        .map(|l| format!("{indent}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn event(m: &Messages, e: &EventView, indent: &str) -> String {
    let mut lines = Vec::new();
    let author = short(&e.author);
    let when = time(e.created_at);
    lines.push(m.get("event-header", &[("author", &author), ("time", &when)]));
    let target = e.ref_event("target").unwrap_or_default();
    match e.kind.as_str() {
        "post" => {}
        "reply" => {
            let parent = e.ref_event("parent").unwrap_or_default();
            lines.push(m.get("event-reply-to", &[("parent", parent)]));
        }
        "quote" => lines.push(m.get("event-quote-of", &[("target", target)])),
        "repost" => lines.push(m.get("event-repost-of", &[("target", target)])),
        other => lines.push(m.get("event-kind", &[("kind", other)])),
    }
    lines.extend(e.text().lines().map(str::to_string));
    let tags: Vec<&str> = e
        .payload
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // Tags the text does not show (added with --hashtag, say) are listed.
    let shown = hashtag::extract(e.text());
    let hidden: Vec<String> = tags
        .iter()
        .filter(|t| !shown.iter().any(|s| s == *t))
        .map(|t| format!("#{t}"))
        .collect();
    if !hidden.is_empty() {
        lines.push(hidden.join(" "));
    }
    let media = e
        .payload
        .get("media")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if media > 0 {
        lines.push(m.get_n("event-media", &[], &[("count", media as u64)]));
    }
    if let Some(s) = &e.stats {
        let reactions = s.reactions.values().sum();
        lines.push(m.get_n(
            "event-counts",
            &[],
            &[
                ("replies", s.replies),
                ("reactions", reactions),
                ("reposts", s.reposts),
            ],
        ));
        // Per type, in the protocol's order: `👍 2 · ❤️ 1`.
        let per_type: Vec<String> = REACTIONS
            .iter()
            .filter_map(|t| {
                let n = s.reactions.get(*t).copied().unwrap_or(0);
                (n > 0).then(|| format!("{} {n}", reaction_symbol(t)))
            })
            .collect();
        if !per_type.is_empty() {
            lines.push(per_type.join(" · "));
        }
        if let Some(mine) = &s.mine {
            lines.push(m.get("event-reacted", &[("reaction", reaction_symbol(mine))]));
        }
    }
    lines.push(m.get("event-id", &[("id", &e.id)]));
    indented(&lines, indent)
}

fn indented(lines: &[String], indent: &str) -> String {
    lines
        .iter()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{indent}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An identity with its profile, as the API shows it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IdentityView {
    identity: String,
    #[serde(default)]
    profile: Option<EventView>,
    #[serde(default)]
    followers: u64,
    #[serde(default)]
    following: u64,
    #[serde(default)]
    followed_by_me: Option<bool>,
    #[serde(default)]
    hosted: bool,
}

impl IdentityView {
    /// The profile's payload, or an empty object.
    pub(crate) fn profile_payload(&self) -> Value {
        self.profile
            .as_ref()
            .map_or_else(|| serde_json::json!({}), |p| p.payload.clone())
    }
}

/// An identity: name, key, bio, languages, links, counts.
pub(crate) fn identity(m: &Messages, v: &IdentityView) -> String {
    let mut lines = Vec::new();
    let payload = v.profile_payload();
    let field = |k: &str| payload.get(k).and_then(Value::as_str).unwrap_or_default();
    let list = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let name = field("name");
    if !name.is_empty() {
        lines.push(m.get("profile-name", &[("name", name)]));
    }
    lines.push(v.identity.clone());
    let bio = field("bio");
    if !bio.is_empty() {
        lines.extend(bio.lines().map(str::to_string));
    }
    let langs = list("langs");
    if !langs.is_empty() {
        lines.push(m.get("profile-langs", &[("langs", &langs)]));
    }
    let links = list("links");
    if !links.is_empty() {
        lines.push(m.get("profile-links", &[("links", &links)]));
    }
    lines.push(m.get_n(
        "identity-counts",
        &[],
        &[("followers", v.followers), ("following", v.following)],
    ));
    if v.followed_by_me == Some(true) {
        lines.push(m.get("identity-followed", &[]));
    }
    if v.hosted {
        lines.push(m.get("identity-hosted", &[]));
    }
    lines.join("\n")
}

/// A delegation as listed.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DelegationView {
    id: String,
    signer: String,
    expires_at: u64,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    gateway: bool,
}

/// One line per delegation: id, key, end, and whether it is revoked or the
/// gateway's own.
pub(crate) fn delegation(m: &Messages, d: &DelegationView) -> String {
    let mut line = m.get(
        "delegation-line",
        &[
            ("id", &d.id),
            ("signer", &short(&d.signer)),
            ("until", &time(d.expires_at)),
        ],
    );
    if d.revoked {
        line.push_str(" · ");
        line.push_str(&m.get("delegation-revoked", &[]));
    }
    if d.gateway {
        line.push_str(" · ");
        line.push_str(&m.get("delegation-gateway", &[]));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_calendar_dates_in_utc() {
        assert_eq!(time(0), "1970-01-01 00:00 UTC");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(time(1_767_225_600_000), "2026-01-01 00:00 UTC");
        assert_eq!(
            time(1_767_225_600_000 + 14 * 3_600_000 + 3 * 60_000),
            "2026-01-01 14:03 UTC"
        );
    }

    #[test]
    fn a_reply_shows_author_time_parent_text_counts_and_id() {
        let key = kith_node::protocol::Keypair::from_seed(&[7; 32])
            .unwrap()
            .public();
        let e: EventView = serde_json::from_value(serde_json::json!({
            "id": "bafyreiaaa", "kind": "reply", "author": key.to_string(),
            "created_at": 1_767_225_600_000u64,
            "refs": [{"rel": "root", "event": "bafyreiroot"}, {"rel": "parent", "event": "bafyreipar"}],
            "payload": {"text": "¡Hola #kith!", "tags": ["kith", "extra"]},
            "stats": {"reactions": {"like": 2, "love": 1}, "replies": 1, "reposts": 0,
                      "quotes": 0, "thread_replies": 0, "mine": null}
        }))
        .unwrap();
        let en = event(&Messages::new("en"), &e, "  ");
        assert!(
            en.starts_with(&format!("  {} · 2026-01-01 00:00 UTC", key.short())),
            "{en}"
        );
        assert!(
            en.contains("bafyreipar") && en.contains("  ¡Hola #kith!"),
            "{en}"
        );
        assert!(
            en.contains("#extra") && !en.contains("#kith #extra"),
            "{en}"
        );
        assert!(en.contains("1 reply · 3 reactions · 0 reposts"), "{en}");
        assert!(en.contains("\n  👍 2 · ❤️ 1\n"), "{en}");
        assert!(!en.contains("you reacted"), "{en}");
        assert!(en.ends_with("  id bafyreiaaa"), "{en}");
        let es = event(&Messages::new("es"), &e, "");
        assert!(
            es.contains("1 respuesta · 3 reacciones · 0 compartidos"),
            "{es}"
        );
        let mut mine = e.clone();
        if let Some(s) = &mut mine.stats {
            s.mine = Some("love".into());
        }
        assert!(
            event(&Messages::new("en"), &mine, "").contains("\nyou reacted ❤️\n"),
            "the viewer's own reaction"
        );
        assert!(event(&Messages::new("es"), &mine, "").contains("\nreaccionaste con ❤️\n"));
    }
}
