//! The gossip topic scheme (spec: `specs/gossip.md`).
//!
//! One firehose does not scale, so events travel on several kinds of topic:
//!
//! | topic | carries | who subscribes |
//! |---|---|---|
//! | `kith/1/a/<shard>` | every event, on its author's shard | nodes whose identities follow someone in the shard |
//! | `kith/1/i/<identity>` | events that concern an identity (mentions, follows, replies and reactions to its posts, orders, messages) | the node hosting that identity |
//! | `kith/1/c/<community>` | events inside a community | nodes with a member of the community |
//! | `kith/1/m/<inbox hint>` | sealed direct messages, and nothing else | the node hosting the recipient, and mailboxes kept for them |
//! | `kith/1/t/<inbox hint>` | sealed typing indicators (not events; never stored) | the node hosting the recipient |
//!
//! The shard of an author is the low six bits of the first byte of
//! `sha256("kith/1/a" ‖ key)`: 64 shards, so a node following 500 people
//! does not hear the whole network, and an author cannot choose its shard
//! more cheaply than by grinding keys.

use kith_protocol::{Event, EventId, PublicKey, RefTarget, Rel};
use sha2::{Digest, Sha256};

/// Version segment of every topic.
pub const PREFIX: &str = "kith/1";
/// Number of author shards.
pub const SHARDS: u8 = 64;
/// At most this many inbox topics per event; the rest are reached by sync.
pub const MAX_INBOXES: usize = 8;

/// The shard (0..64) of an author.
pub fn shard(author: &PublicKey) -> u8 {
    let mut h = Sha256::new();
    h.update(b"kith/1/a");
    h.update(author.as_bytes());
    h.finalize()[0] % SHARDS
}

/// The topic of an author's shard.
pub fn author_topic(author: &PublicKey) -> String {
    shard_topic(shard(author))
}

/// The topic of shard `n`.
pub fn shard_topic(n: u8) -> String {
    format!("{PREFIX}/a/{n:02x}")
}

/// The inbox topic of an identity.
pub fn inbox_topic(key: &PublicKey) -> String {
    format!("{PREFIX}/i/{key}")
}

/// The mailbox topic of an inbox hint (`specs/messages.md` § Delivery):
/// where `direct_message` envelopes travel, and only they.
pub fn mailbox_topic(hint: &[u8; 32]) -> String {
    format!("{PREFIX}/m/{}", hex::encode(hint))
}

/// The typing topic of an inbox hint: sealed typing indicators, raw (a
/// seal, not an event), relayed and never stored.
pub fn typing_topic(hint: &[u8; 32]) -> String {
    format!("{PREFIX}/t/{}", hex::encode(hint))
}

/// Whether a topic is a typing topic.
pub fn is_typing_topic(topic: &str) -> bool {
    topic.starts_with(&format!("{PREFIX}/t/"))
}

/// The topic of a community, named by its founding event.
pub fn community_topic(community: &EventId) -> String {
    format!("{PREFIX}/c/{}", hex::encode(community.digest()))
}

/// The DHT key under which nodes announce that they are on `topic`
/// (`sha256("kith/1/provider" ‖ topic)`): a node joining a topic looks up
/// its providers and dials a few, so followers find each other without a
/// firehose and without knowing each other in advance.
pub fn provider_key(topic: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"kith/1/provider");
    h.update(topic.as_bytes());
    h.finalize().to_vec()
}

/// The DHT key under which a node announces that it hosts an identity
/// (`sha256("kith/1/host" ‖ key)`): how a node finds who to fetch an
/// author's events from, or where to deliver to someone.
pub fn host_key(identity: &PublicKey) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"kith/1/host");
    h.update(identity.as_bytes());
    h.finalize().to_vec()
}

/// Whether a topic name belongs to the Kith scheme (a peer may subscribe
/// to anything; we only pay attention to these).
pub fn is_kith_topic(topic: &str) -> bool {
    topic
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| {
            matches!(rest.split_once('/'), Some(("a" | "i" | "c" | "m" | "t", name)) if !name.is_empty())
        })
}

/// Every topic an event is published on: its author's shard, the inboxes of
/// the identities it concerns (`also_notify` adds authors of the events it
/// answers, which only the publishing node can look up), and its community.
pub fn topics_for(event: &Event, also_notify: &[PublicKey]) -> Vec<String> {
    // An envelope's author is a one-time key: its shard means nothing, and
    // the only place it belongs is its recipient's mailbox.
    if let kith_protocol::Payload::DirectMessage(dm) = event.payload() {
        return <[u8; 32]>::try_from(dm.inbox.as_slice())
            .map(|h| vec![mailbox_topic(&h)])
            .unwrap_or_default();
    }
    let mut topics = vec![author_topic(&event.author())];
    let mut inboxes: Vec<PublicKey> = Vec::new();
    let mut notify = |key: PublicKey| {
        if key != event.author() && !inboxes.contains(&key) && inboxes.len() < MAX_INBOXES {
            inboxes.push(key);
        }
    };
    for r in event.refs() {
        match (r.rel, r.target) {
            (Rel::Community, RefTarget::Event(id)) => topics.push(community_topic(&id)),
            (_, RefTarget::Identity(key)) => notify(key),
            _ => {}
        }
    }
    for key in also_notify {
        notify(*key);
    }
    topics.extend(inboxes.iter().map(inbox_topic));
    topics.dedup();
    topics
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_protocol::kinds::{Content, Post};
    use kith_protocol::{Keypair, UnsignedEvent};

    #[test]
    fn shards_spread_and_topics_parse() {
        let mut seen = [0u32; SHARDS as usize];
        for _ in 0..4096 {
            let k = Keypair::generate(&mut rand_core::OsRng);
            seen[shard(&k.public()) as usize] += 1;
            assert!(is_kith_topic(&author_topic(&k.public())));
            assert!(is_kith_topic(&inbox_topic(&k.public())));
        }
        // 4096 keys over 64 shards: 64 expected each; every shard is used.
        assert!(seen.iter().all(|&n| n > 20), "{seen:?}");
        assert!(!is_kith_topic("kith/1/x/00"));
        assert!(!is_kith_topic("kith/1/a/"));
        assert!(!is_kith_topic("kith/2/a/00"));
    }

    #[test]
    fn a_mention_goes_to_the_inbox_too() {
        let a = Keypair::generate(&mut rand_core::OsRng);
        let b = Keypair::generate(&mut rand_core::OsRng);
        let e = UnsignedEvent::new(
            a.public(),
            1_700_000_000_000,
            Post {
                content: Content::text("hi"),
            },
        )
        .ref_identity(Rel::Mention, b.public())
        .sign(&a)
        .unwrap();
        let t = topics_for(&e, &[a.public()]);
        assert_eq!(t, vec![author_topic(&a.public()), inbox_topic(&b.public())]);
    }
}
