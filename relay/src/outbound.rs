//! Kith events as their Nostr counterparts (`specs/nostr.md` § Outbound).
//!
//! Pure conversion: what the bridge needs to know beyond the event (the
//! Nostr ids of events it already bridged, linked keys, where media are
//! served, a person's follows) comes through [`Lookup`]. The result is an
//! unsigned [`EventBuilder`] for the author's linked Nostr key to sign.

use kith_node::protocol::kinds::{Content, ReactionType};
use kith_node::protocol::media::MediaDescriptor;
use kith_node::protocol::{
    Event as KithEvent, EventId as KithId, Payload, PublicKey as KithKey, RefTarget, Rel,
};
use nostr::prelude::{EventBuilder, EventId, Kind, PublicKey, Tag, Timestamp};

/// What conversion needs to know besides the event.
pub trait Lookup {
    /// The Nostr id under which a Kith event was bridged, or the original id
    /// of an event that came from Nostr.
    fn nostr_id(&self, kith: &KithId) -> Option<EventId>;
    /// A Kith identity's linked Nostr key.
    fn nostr_key(&self, kith: &KithKey) -> Option<PublicKey>;
    /// The Nostr key of an event's author: the linked key of a Kith
    /// event's author, or the author of an event that came from Nostr.
    fn nostr_author(&self, event: &KithId) -> Option<PublicKey>;
    /// The public URL of a media object (through the node's gateway).
    fn media_url(&self, cid: &str) -> String;
    /// A person's follows now, as Nostr keys (kind 3 is the whole list).
    fn follows(&self, author: &KithKey) -> Vec<PublicKey>;
}

/// Why an event has no Nostr counterpart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    /// Kinds that stay in Kith (view receipts, trades, community actions…).
    #[error("{0} events are not bridged")]
    Kind(&'static str),
    /// It answers, reacts to or deletes an event that is not on Nostr.
    #[error("the event it refers to is not on Nostr")]
    TargetNotBridged,
}

fn seconds(ms: u64) -> Timestamp {
    Timestamp::from_secs(ms / 1000)
}

fn tag(parts: &[&str]) -> Tag {
    Tag::parse(parts.iter().map(|s| (*s).to_owned())).expect("tags here have a name")
}

/// NIP-92 `imeta` for a media object: its URL, type, size, dimensions, alt
/// text, and (Kith's addition) its IPFS CID.
fn imeta(m: &MediaDescriptor, lookup: &dyn Lookup) -> (String, Tag) {
    let cid = m.cid.to_string();
    let url = lookup.media_url(&cid);
    let mut parts = vec![
        "imeta".to_owned(),
        format!("url {url}"),
        format!("m {}", m.mime),
        format!("size {}", m.size),
        format!("cid {cid}"),
    ];
    if let (Some(w), Some(h)) = (m.width, m.height) {
        parts.push(format!("dim {w}x{h}"));
    }
    if let Some(alt) = &m.alt {
        parts.push(format!("alt {alt}"));
    }
    (url, Tag::parse(parts).expect("imeta has a name"))
}

/// Text, hashtags, media and mentions of a post-like event.
fn note_parts(content: &Content, event: &KithEvent, lookup: &dyn Lookup) -> (String, Vec<Tag>) {
    let mut text = content.text.clone();
    let mut tags = Vec::new();
    for m in &content.media {
        let (url, t) = imeta(m, lookup);
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&url);
        tags.push(t);
    }
    for h in &content.tags {
        tags.push(Tag::hashtag(h));
    }
    for r in event.refs() {
        if let (Rel::Mention, RefTarget::Identity(who)) = (r.rel, r.target)
            && let Some(key) = lookup.nostr_key(&who)
        {
            tags.push(Tag::public_key(key));
        }
    }
    (text, tags)
}

fn target(event: &KithEvent, rel: Rel) -> Option<KithId> {
    event
        .refs()
        .iter()
        .find_map(|r| match (r.rel == rel, r.target) {
            (true, RefTarget::Event(id)) => Some(id),
            _ => None,
        })
}

/// The `p` tag of the author of the event `target` refers to, if known.
fn author_tag(target: &KithId, lookup: &dyn Lookup) -> Option<Tag> {
    lookup.nostr_author(target).map(Tag::public_key)
}

/// `1999` minor units of EUR → `"19.99"`.
pub fn major_units(amount: u64, currency: &str) -> String {
    kith_node::protocol::kinds::trade::Price {
        amount,
        currency: currency.into(),
    }
    .major_units()
}

/// The emoji NIP-25 uses for each Kith reaction (`+` for a like).
pub fn reaction_content(r: ReactionType) -> &'static str {
    match r {
        ReactionType::Like => "+",
        ReactionType::Love => "❤️",
        ReactionType::Haha => "😂",
        ReactionType::Wow => "😮",
        ReactionType::Sad => "😢",
        ReactionType::Angry => "😡",
    }
}

/// The Nostr counterpart of a Kith event. `link` is the author's NIP-39
/// identity tag ([`crate::link::identity_tag`]), added to profiles.
pub fn to_nostr(
    event: &KithEvent,
    lookup: &dyn Lookup,
    link: Option<Tag>,
) -> Result<EventBuilder, Skip> {
    let at = seconds(event.created_at());
    let builder = match event.payload() {
        Payload::Profile(p) => {
            let mut meta = serde_json::json!({ "name": p.name, "display_name": p.name });
            if !p.bio.is_empty() {
                meta["about"] = p.bio.clone().into();
            }
            if let Some(a) = &p.avatar {
                meta["picture"] = lookup.media_url(&a.cid.to_string()).into();
            }
            if let Some(b) = &p.banner {
                meta["banner"] = lookup.media_url(&b.cid.to_string()).into();
            }
            if let Some(site) = p.links.first() {
                meta["website"] = site.clone().into();
            }
            EventBuilder::new(Kind::Metadata, meta.to_string()).tags(link)
        }
        Payload::Post(p) => {
            let (text, tags) = note_parts(&p.content, event, lookup);
            EventBuilder::new(Kind::TextNote, text).tags(tags)
        }
        Payload::Reply(r) => {
            let parent = target(event, Rel::Parent).ok_or(Skip::TargetNotBridged)?;
            let root = target(event, Rel::Root).unwrap_or(parent);
            let parent_n = lookup.nostr_id(&parent).ok_or(Skip::TargetNotBridged)?;
            let root_n = lookup.nostr_id(&root).ok_or(Skip::TargetNotBridged)?;
            let (text, mut tags) = note_parts(&r.content, event, lookup);
            // NIP-10 marked tags: the root, then the event answered.
            tags.push(tag(&["e", &root_n.to_hex(), "", "root"]));
            if parent_n != root_n {
                tags.push(tag(&["e", &parent_n.to_hex(), "", "reply"]));
            }
            tags.extend(author_tag(&parent, lookup));
            EventBuilder::new(Kind::TextNote, text).tags(tags)
        }
        Payload::Quote(q) => {
            let quoted = target(event, Rel::Target).ok_or(Skip::TargetNotBridged)?;
            let quoted_n = lookup.nostr_id(&quoted).ok_or(Skip::TargetNotBridged)?;
            let (mut text, mut tags) = note_parts(&q.content, event, lookup);
            // NIP-18: a q tag, and the quoted note named in the text.
            tags.push(tag(&["q", &quoted_n.to_hex()]));
            tags.extend(author_tag(&quoted, lookup));
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!("nostr:{}", note_bech32(&quoted_n)));
            EventBuilder::new(Kind::TextNote, text).tags(tags)
        }
        Payload::Repost(_) => {
            let t = target(event, Rel::Target).ok_or(Skip::TargetNotBridged)?;
            let n = lookup.nostr_id(&t).ok_or(Skip::TargetNotBridged)?;
            EventBuilder::new(Kind::Repost, "")
                .tag(Tag::event(n))
                .tags(author_tag(&t, lookup))
        }
        Payload::Reaction(r) => {
            let t = target(event, Rel::Target).ok_or(Skip::TargetNotBridged)?;
            let n = lookup.nostr_id(&t).ok_or(Skip::TargetNotBridged)?;
            EventBuilder::new(Kind::Reaction, reaction_content(r.reaction))
                .tag(Tag::event(n))
                .tags(author_tag(&t, lookup))
        }
        Payload::Follow(_) | Payload::Unfollow(_) => {
            let follows = lookup.follows(&event.author());
            EventBuilder::new(Kind::ContactList, "").tags(follows.into_iter().map(Tag::public_key))
        }
        Payload::Delete(d) => {
            let t = target(event, Rel::Target).ok_or(Skip::TargetNotBridged)?;
            let n = lookup.nostr_id(&t).ok_or(Skip::TargetNotBridged)?;
            EventBuilder::new(Kind::EventDeletion, d.reason.clone().unwrap_or_default())
                .tag(Tag::event(n))
        }
        Payload::Story(s) => {
            let mut text = s.text.clone();
            let mut tags = vec![
                Tag::expiration(seconds(s.expires_at)),
                Tag::hashtag("story"),
            ];
            if let Some(m) = &s.media {
                let (url, t) = imeta(m, lookup);
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&url);
                tags.push(t);
            }
            EventBuilder::new(Kind::TextNote, text).tags(tags)
        }
        Payload::Listing(l) => {
            // NIP-99 classified listing, addressed by the Kith event id.
            let mut tags = vec![
                // The listing's id (its original), so an edit replaces it.
                tag(&[
                    "d",
                    &event
                        .event_ref(Rel::EditOf)
                        .unwrap_or(event.id())
                        .to_string(),
                ]),
                tag(&["title", &l.title]),
                tag(&["published_at", &at.as_secs().to_string()]),
                tag(&[
                    "price",
                    &major_units(l.price.amount, &l.price.currency),
                    &l.price.currency,
                ]),
                Tag::hashtag(&l.category),
                tag(&[
                    "status",
                    if l.withdrawn || l.quantity == 0 {
                        "sold"
                    } else {
                        "active"
                    },
                ]),
            ];
            if let Some(loc) = &l.location {
                tags.push(tag(&["location", &loc.text]));
                if !loc.geohash.is_empty() {
                    tags.push(tag(&["g", &loc.geohash]));
                }
            }
            for m in &l.media {
                let (url, t) = imeta(m, lookup);
                tags.push(tag(&["image", &url]));
                tags.push(t);
            }
            if let Some(x) = l.expires_at {
                tags.push(Tag::expiration(seconds(x)));
            }
            EventBuilder::new(Kind::from(30402u16), l.description.clone()).tags(tags)
        }
        other => return Err(Skip::Kind(other.kind().name())),
    };
    // Names the Kith original, so another Kith node that holds it takes
    // this for the same event.
    Ok(builder
        .custom_created_at(at)
        .tag(tag(&["kith", &event.id().to_string()])))
}

/// NIP-19 `note1…` of an event id.
fn note_bech32(id: &EventId) -> String {
    use nostr::prelude::ToBech32;
    id.to_bech32().unwrap_or_else(|_| id.to_hex())
}
