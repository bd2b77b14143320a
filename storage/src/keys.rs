//! The key layout of the store: one sled tree, one prefix byte per table.
//!
//! Every table lives in the same tree so that one `sled::Batch` (atomic on a
//! single tree) applies an event with all its indexes, counters and derived
//! state. Envelopes live in the log under increasing sequence numbers, so
//! they are only ever appended; rows under random keys (ids, authors, targets)
//! stay small. sled copies a leaf when it changes, so big values in leaves
//! that are written at random positions cost a copy of the leaf per insert. Integers are big-endian so byte order is numeric order; time-ordered
//! keys end in `created_at ‖ id` so ties break by id and scans are stable.
//!
//! | prefix | key | value | what |
//! |---|---|---|---|
//! | `e` | id | seq ‖ kind | accepted events, by id |
//! | `q` | seq | id ‖ envelope | the acceptance log, holding the events themselves |
//! | `b` | author ‖ kind ‖ t ‖ id | () | author timeline by kind |
//! | `k` | kind ‖ t ‖ id | author | kind timeline |
//! | `r` | target ‖ rel ‖ kind ‖ t ‖ id | author [‖ parent] | references to events |
//! | `p` | key ‖ rel ‖ kind ‖ t ‖ id | author | references to identities (mentions…) |
//! | `h` | tag ‖ 0 ‖ t ‖ id | author | hashtags |
//! | `i` | inbox ‖ t ‖ id | () | direct-message inboxes |
//! | `g` | signer ‖ author ‖ t ‖ id | () | events signed by delegates |
//! | `f` | follower ‖ followee | t ‖ id ‖ state | newest follow/unfollow |
//! | `F` | followee ‖ follower | () | followers (while following) |
//! | `l` | author ‖ kind ‖ slot | t ‖ id | newest replaceable event per slot |
//! | `x` | author ‖ kind ‖ key | () | materialised block and mute lists |
//! | `d` | author ‖ signer ‖ id | t ‖ expires | delegations |
//! | `v` | delegation ‖ revocation | keep_before | revocations |
//! | `s` | expires ‖ id | () | story expiry queue |
//! | `t` | id | delete id ‖ deleter | tombstones |
//! | `o` | order | trade record | trade state |
//! | `O` | party ‖ t ‖ order | role ‖ state | trades by party, newest last |
//! | `w` | listing | available | stock |
//! | `c` | community | owner ‖ settings id ‖ t | communities |
//! | `m` | community ‖ member | standing | membership and roles |
//! | `z` | community ‖ target | action | moderation of content |
//! | `n` | id ‖ counter | u64 | counters per event |
//! | `N` | key ‖ counter | u64 | counters per identity |
//! | `y` | target ‖ person | t ‖ id ‖ type | live reaction per person |
//! | `j` | dependency ‖ id | envelope | events waiting for a dependency |
//! | `J` | id | dependency | the same, by waiting event |
//! | `u` | cid ‖ id | () | media referenced by events |
//! | `_` | name | value | store metadata |

use kith_protocol::{EventId, Kind, PublicKey, Rel};

pub(crate) const EVENT: u8 = b'e';
pub(crate) const LOG: u8 = b'q';
/// Bytes before the envelope in a `q` row: the event id's digest.
pub(crate) const LOG_HEADER: usize = 32;
pub(crate) const AUTHOR_KIND: u8 = b'b';
pub(crate) const KIND: u8 = b'k';
pub(crate) const REF_EVENT: u8 = b'r';
pub(crate) const REF_KEY: u8 = b'p';
pub(crate) const HASHTAG: u8 = b'h';
pub(crate) const INBOX: u8 = b'i';
pub(crate) const DELEGATED: u8 = b'g';
pub(crate) const FOLLOW: u8 = b'f';
pub(crate) const FOLLOWER: u8 = b'F';
pub(crate) const LATEST: u8 = b'l';
pub(crate) const LISTED: u8 = b'x';
pub(crate) const DELEGATION: u8 = b'd';
pub(crate) const REVOKED: u8 = b'v';
pub(crate) const EXPIRY: u8 = b's';
pub(crate) const TOMBSTONE: u8 = b't';
pub(crate) const TRADE: u8 = b'o';
pub(crate) const TRADE_PARTY: u8 = b'O';
pub(crate) const STOCK: u8 = b'w';
pub(crate) const COMMUNITY: u8 = b'c';
pub(crate) const MEMBER: u8 = b'm';
pub(crate) const MODERATED: u8 = b'z';
pub(crate) const COUNT: u8 = b'n';
pub(crate) const KEY_COUNT: u8 = b'N';
pub(crate) const REACTION: u8 = b'y';
pub(crate) const PENDING: u8 = b'j';
pub(crate) const PENDING_BY_ID: u8 = b'J';
pub(crate) const MEDIA: u8 = b'u';
pub(crate) const META: u8 = b'_';

/// Every table whose rows are derived from the events (all but `e`, `q`, `j`, `J`, `_`).
///
/// There is no author-only index: an author's events of any kind are the
/// merge of their `b` ranges, and one index fewer is one random insert fewer
/// per event.
pub(crate) const DERIVED: &[u8] = &[
    AUTHOR_KIND,
    KIND,
    REF_EVENT,
    REF_KEY,
    HASHTAG,
    INBOX,
    DELEGATED,
    FOLLOW,
    FOLLOWER,
    LATEST,
    LISTED,
    DELEGATION,
    REVOKED,
    EXPIRY,
    TOMBSTONE,
    TRADE,
    TRADE_PARTY,
    STOCK,
    COMMUNITY,
    MEMBER,
    MODERATED,
    COUNT,
    KEY_COUNT,
    REACTION,
    MEDIA,
];

/// Counters kept per event (`n` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventCounter {
    /// Live reactions of one type; the type's index in `ReactionType::ALL` is added.
    Reaction = 0,
    /// Direct replies.
    Replies = 6,
    /// Reposts.
    Reposts = 7,
    /// Quotes.
    Quotes = 8,
    /// Replies anywhere in the thread this event roots.
    ThreadReplies = 9,
}

/// Counters kept per identity (`N` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum KeyCounter {
    /// People following this identity.
    Followers = 0,
    /// People this identity follows.
    Following = 1,
    /// Reviews received (of completed trades).
    Reviews = 2,
    /// Sum of the ratings of those reviews.
    RatingSum = 3,
}

/// The one-byte code of a kind in keys: its position in `Kind::ALL`, which
/// only ever grows at the end.
pub(crate) fn kind_code(kind: Kind) -> u8 {
    Kind::ALL
        .iter()
        .position(|k| *k == kind)
        .map(|i| i as u8)
        .unwrap_or(u8::MAX)
}

/// The kind with a key code.
pub(crate) fn kind_from_code(code: u8) -> Option<Kind> {
    Kind::ALL.get(usize::from(code)).copied()
}

/// The one-byte code of a relation in keys.
pub(crate) fn rel_code(rel: Rel) -> u8 {
    match rel {
        Rel::Root => 0,
        Rel::Parent => 1,
        Rel::Target => 2,
        Rel::Mention => 3,
        Rel::Subject => 4,
        Rel::Community => 5,
        Rel::Listing => 6,
        Rel::Order => 7,
        Rel::Prev => 8,
        Rel::Story => 9,
        Rel::EditOf => 10,
        Rel::Seller => 11,
        _ => u8::MAX,
    }
}

/// Builds keys: a prefix byte, then parts.
#[derive(Debug, Clone)]
pub(crate) struct Key(Vec<u8>);

impl Key {
    pub(crate) fn new(prefix: u8) -> Self {
        let mut v = Vec::with_capacity(80);
        v.push(prefix);
        Key(v)
    }

    pub(crate) fn id(mut self, id: &EventId) -> Self {
        self.0.extend_from_slice(id.digest());
        self
    }

    pub(crate) fn key(mut self, key: &PublicKey) -> Self {
        self.0.extend_from_slice(key.as_bytes());
        self
    }

    pub(crate) fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }

    pub(crate) fn u8(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }

    pub(crate) fn u64(mut self, n: u64) -> Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    /// `created_at ‖ id`, the tail of every time-ordered key.
    pub(crate) fn at(self, created_at: u64, id: &EventId) -> Self {
        self.u64(created_at).id(id)
    }

    pub(crate) fn build(self) -> Vec<u8> {
        self.0
    }
}

/// Reads fixed-size fields out of keys and values.
pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

pub(crate) fn id_at(b: &[u8], at: usize) -> Option<EventId> {
    Some(EventId::from_digest(b.get(at..at + 32)?.try_into().ok()?))
}

pub(crate) fn key_at(b: &[u8], at: usize) -> Option<PublicKey> {
    Some(PublicKey::from_bytes_unchecked(
        b.get(at..at + 32)?.try_into().ok()?,
    ))
}

/// The `(created_at, id)` at the end of a time-ordered key.
pub(crate) fn tail(key: &[u8]) -> Option<(u64, EventId)> {
    let n = key.len();
    if n < 40 {
        return None;
    }
    Some((u64_at(key, n - 40)?, id_at(key, n - 32)?))
}

/// The key just after every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
