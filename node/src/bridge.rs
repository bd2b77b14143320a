//! What the rest of the node sees of the Kith–Nostr bridge
//! (`specs/nostr.md` § 10).
//!
//! The bridge itself lives in `kith-relay` (it speaks Nostr); the gateway,
//! which must not depend on it, reaches it through [`NostrBridge`], set on
//! the [`crate::node::Node`] by whoever starts both (`kith up`). Keys,
//! notes and relays cross this boundary in their Nostr text forms (hex ids
//! and keys), so the node needs no Nostr library.

use serde::Serialize;

use crate::protocol::{Keypair, PublicKey};

/// A Nostr key in both of its text forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NostrKey {
    /// 64 lower-case hex digits.
    pub hex: String,
    /// NIP-19 `npub1…`.
    pub npub: String,
}

/// A Nostr note as Kith views show it: one that came from an outside relay
/// (a followed Nostr key's, or one that mentions a person here), or a
/// person's own note to Nostr-only content.
#[derive(Debug, Clone, Serialize)]
pub struct NostrNote {
    /// The Nostr event id (hex).
    pub id: String,
    /// Its author.
    pub author: NostrKey,
    /// The author's name from their kind 0, when known.
    pub name: Option<String>,
    /// The Kith identity the author proved a link to (§ 10.1), when known.
    pub kith: Option<String>,
    /// Nostr kind: 1 (note), 6 (repost), 7 (reaction).
    pub kind: u16,
    /// Milliseconds since the Unix epoch (Nostr's seconds × 1000).
    pub created_at: u64,
    /// The content as the author wrote it.
    pub content: String,
    /// The event's tags.
    pub tags: Vec<Vec<String>>,
    /// The NIP-10 root of the thread it answers, if any.
    pub root: Option<String>,
    /// The note it answers (or reacts to, or reposts), if any.
    pub reply_to: Option<String>,
    /// The outside relays it was seen on (empty: written here).
    pub relays: Vec<String>,
}

impl NostrNote {
    /// Its position for paging next to Kith events: `created_at` then id.
    pub fn position(&self) -> (u64, [u8; 32]) {
        let mut id = [0u8; 32];
        if let Ok(bytes) = hex::decode(&self.id) {
            let n = bytes.len().min(32);
            id[..n].copy_from_slice(&bytes[..n]);
        }
        (self.created_at, id)
    }
}

/// A Nostr note and the notes that answer it.
#[derive(Debug, Clone, Serialize)]
pub struct NostrThread {
    /// The note asked for.
    pub note: NostrNote,
    /// Its root, when it answers another note held here.
    pub root: Option<NostrNote>,
    /// Replies to it and within its thread, oldest first.
    pub replies: Vec<NostrNote>,
    /// Reactions to the note (content → count).
    pub reactions: Vec<(String, u64)>,
}

/// One outside relay as the bridge sees it.
#[derive(Debug, Clone, Serialize)]
pub struct RelayStatus {
    /// Its URL.
    pub url: String,
    /// `node` (from `[nostr] relays`) or `person`.
    pub source: &'static str,
    /// Whether the bridge has a live connection to it now.
    pub connected: bool,
    /// Notes it accepted.
    pub sent: u64,
    /// Notes waiting for another try.
    pub pending: u64,
    /// Notes it refused, or that were given up on.
    pub failed: u64,
    /// The last refusal or connection error.
    pub last_error: Option<String>,
    /// When it last accepted a note (ms).
    pub last_sent_at: Option<u64>,
}

/// A person's bridge.
#[derive(Debug, Clone, Serialize)]
pub struct BridgeStatus {
    /// Their linked Nostr key, if they have one held by this node.
    pub linked: Option<NostrKey>,
    /// Every relay their notes go to and followed keys are read from.
    pub relays: Vec<RelayStatus>,
    /// The Nostr keys they follow.
    pub follows: Vec<NostrKey>,
    /// Their Kith events bridged so far.
    pub bridged: u64,
    /// What relays sent this node's bridge since it started (all people).
    pub inbound: InboundCounts,
}

/// Events outside relays sent the bridge since it started.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct InboundCounts {
    /// New notes stored.
    pub stored: u64,
    /// The same note again, from the same or another relay: dropped.
    pub duplicate: u64,
    /// Kith events coming back through Nostr (this node's bridged events,
    /// or another node's whose original is here): dropped.
    pub recognised: u64,
    /// Bad ids or signatures: dropped.
    pub invalid: u64,
}

/// Why the bridge refused a request.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The person has no linked Nostr key here.
    #[error("no linked Nostr key: link one first (kith nostr link)")]
    NotLinked,
    /// Not a Nostr public key (hex or `npub1…`).
    #[error("`{0}` is not a Nostr public key (hex or npub1…)")]
    BadKey(String),
    /// Not a Nostr event id (hex or `note1…`/`nevent1…`).
    #[error("`{0}` is not a Nostr event id")]
    BadNote(String),
    /// Not a relay URL the bridge can use.
    #[error("`{0}` is not a relay URL (ws:// or wss://)")]
    BadRelay(String),
    /// Over a limit the operator set.
    #[error("{0}")]
    TooMany(String),
    /// No such note here.
    #[error("no Nostr note {0} here")]
    UnknownNote(String),
    /// The text is empty or too long.
    #[error("{0}")]
    BadText(String),
    /// The bridge's storage failed.
    #[error("bridge storage: {0}")]
    Storage(String),
}

impl BridgeError {
    /// Stable machine code (`specs/gateway.md` errors).
    pub fn code(&self) -> &'static str {
        match self {
            BridgeError::NotLinked => "nostr_not_linked",
            BridgeError::BadKey(_) => "nostr_bad_key",
            BridgeError::BadNote(_) => "nostr_bad_note",
            BridgeError::BadRelay(_) => "nostr_bad_relay",
            BridgeError::TooMany(_) => "nostr_limit",
            BridgeError::UnknownNote(_) => "nostr_unknown_note",
            BridgeError::BadText(_) => "invalid_text",
            BridgeError::Storage(_) => "internal",
        }
    }
}

/// The bridge, as the gateway uses it. Every method is blocking (it reads
/// or writes the bridge's database): call it off the async threads.
pub trait NostrBridge: Send + Sync + std::fmt::Debug {
    /// A person's linked key, relays with their delivery status, follows.
    fn status(&self, who: &PublicKey) -> Result<BridgeStatus, BridgeError>;
    /// Gives the identity a linked Nostr key (the one it has, or a new one)
    /// and its NIP-39 proof, signed with the identity's root key. The
    /// caller publishes the profile that names it (the Kith half).
    fn link(&self, identity: &Keypair) -> Result<NostrKey, BridgeError>;
    /// Replaces a person's own relays; answers the list as stored.
    fn set_relays(&self, who: &PublicKey, relays: &[String]) -> Result<Vec<String>, BridgeError>;
    /// Follows a Nostr key (hex or `npub1…`).
    fn follow(&self, who: &PublicKey, key: &str) -> Result<NostrKey, BridgeError>;
    /// Stops following a Nostr key; answers whether it was followed.
    fn unfollow(&self, who: &PublicKey, key: &str) -> Result<bool, BridgeError>;
    /// Notes and reposts of the Nostr keys a person follows, newest first,
    /// strictly before `before` (`created_at` ms, id), at most `limit`;
    /// with `after`, only those strictly after it.
    fn home(
        &self,
        who: &PublicKey,
        before: Option<(u64, [u8; 32])>,
        after: Option<(u64, [u8; 32])>,
        limit: usize,
    ) -> Result<Vec<NostrNote>, BridgeError>;
    /// A note with its thread and reactions.
    fn thread(&self, id: &str) -> Result<Option<NostrThread>, BridgeError>;
    /// Publishes a reply to a Nostr note with the person's linked key
    /// (NIP-10), to their relays and those the note came from.
    fn reply(&self, who: &PublicKey, to: &str, text: &str) -> Result<NostrNote, BridgeError>;
    /// Publishes a NIP-25 reaction (`+`, or an emoji) to a Nostr note.
    fn react(&self, who: &PublicKey, to: &str, reaction: &str) -> Result<NostrNote, BridgeError>;
    /// Notes from Nostr that mention, answer or react to the person's
    /// linked key, newest first.
    fn mentions(&self, who: &PublicKey, limit: usize) -> Result<Vec<NostrNote>, BridgeError>;
    /// Sends a NIP-17 private message from the person's linked key to a
    /// Nostr key: a kind 14 rumor, sealed and gift-wrapped (NIP-59) once for
    /// the recipient and once for the sender, sent to the person's relays.
    fn send_dm(&self, who: &PublicKey, to: &str, text: &str) -> Result<NostrDm, BridgeError>;
    /// Every NIP-17 message to or from the person's linked key that reached
    /// this node, unwrapped, oldest first. Only gift wraps are stored.
    fn dms(&self, who: &PublicKey) -> Result<Vec<NostrDm>, BridgeError>;
}

/// One NIP-17 private message, unwrapped (`specs/nostr.md` § 10.7).
#[derive(Debug, Clone, Serialize)]
pub struct NostrDm {
    /// The rumor's id (hex).
    pub id: String,
    /// Who wrote it (the seal's signer, which the rumor must name).
    pub from: NostrKey,
    /// The other side of the conversation.
    pub peer: NostrKey,
    /// The text.
    pub content: String,
    /// Milliseconds since the Unix epoch (the rumor's seconds × 1000).
    pub created_at: u64,
    /// Written with the person's own linked key.
    pub mine: bool,
}
