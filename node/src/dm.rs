//! Direct messages on a node (`specs/messages.md`): the DM keys of the
//! identities it hosts, sealing letters into envelopes, and reading its
//! identities' mailboxes into conversations.
//!
//! Nothing decrypted is written to disk. The store holds envelopes
//! (ciphertext, indexed by inbox hint); conversations are rebuilt in memory
//! by opening them, and kept there while the node runs. Read markers are
//! stored under a hash of (identity, conversation), so the data directory
//! does not say who talks to whom.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use kith_protocol::dm::{
    self, Body, DmError, DmPublic, DmSecret, GroupChange, GroupId, Letter, LetterId, SignedLetter,
};
use kith_protocol::{Event, EventId, Keypair, Payload, PublicKey};
use kith_storage::{Store, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Folder of the DM keys and read markers inside the data directory.
pub const DIR: &str = "dm";

/// Why a messaging operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The letter breaks a rule, or sealing failed.
    #[error(transparent)]
    Letter(#[from] DmError),
    /// A recipient has published no DM key this node knows of.
    #[error("{0} has not published a DM key")]
    NoDmKey(PublicKey),
    /// No such conversation for this identity.
    #[error("no such conversation")]
    UnknownConversation,
    /// A page cursor that is not one this node gave out.
    #[error("the cursor is not valid")]
    BadCursor,
    /// The sender is not a member (or not an admin, for a change) of the group.
    #[error("{0}")]
    NotAllowed(&'static str),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing keys or markers failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl MessageError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            MessageError::Letter(e) => e.code(),
            MessageError::NoDmKey(_) => "no_dm_key",
            MessageError::UnknownConversation => "unknown_conversation",
            MessageError::BadCursor => "bad_cursor",
            MessageError::NotAllowed(_) => "not_allowed",
            MessageError::Store(_) | MessageError::Io(_) => "internal",
        }
    }
}

/// A conversation: with one person, or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Conversation {
    /// One to one, named by the other person.
    Peer(PublicKey),
    /// A group.
    Group(GroupId),
}

impl Conversation {
    /// Text form: the peer's `kith1…` key, or `group:<hex id>`.
    pub fn to_text(&self) -> String {
        match self {
            Conversation::Peer(k) => k.to_text(),
            Conversation::Group(g) => format!("group:{g}"),
        }
    }

    /// Parses the text form.
    pub fn parse(s: &str) -> Option<Conversation> {
        let s = s.trim();
        match s.strip_prefix("group:") {
            Some(hex) => GroupId::from_hex(hex).map(Conversation::Group),
            None => s.parse().ok().map(Conversation::Peer),
        }
    }

    /// The conversation `letter` belongs to, as `me` sees it.
    pub fn of(letter: &Letter, me: &PublicKey) -> Conversation {
        match letter.group {
            Some(g) => Conversation::Group(g),
            None if letter.from == *me => Conversation::Peer(letter.to[0]),
            None => Conversation::Peer(letter.from),
        }
    }
}

/// One message as a client shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    /// Letter id (hex).
    pub id: LetterId,
    /// Sender.
    pub from: PublicKey,
    /// Sending time (ms).
    pub created_at: u64,
    /// Current text (after edits); empty once deleted.
    pub text: String,
    /// The letter it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<LetterId>,
    /// Encrypted attachments (with their keys: this view is only for the
    /// person's own client).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<dm::Attachment>,
    /// The trade it is about (delivery details of an order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<kith_protocol::EventId>,
    /// Edited by its sender.
    pub edited: bool,
    /// Deleted by its sender.
    pub deleted: bool,
    /// Reactions by person (`kith1…` → reaction).
    pub reactions: BTreeMap<String, String>,
    /// Who has acknowledged reading it (opt-in read receipts).
    pub read_by: Vec<PublicKey>,
    /// Whose node has acknowledged receiving it (opt-in delivery receipts).
    pub delivered_to: Vec<PublicKey>,
    /// Sent by the identity reading.
    pub mine: bool,
}

/// What a person tells the others about the letters they receive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatSettings {
    /// Acknowledge each letter once a client of theirs has fetched it.
    pub delivery_receipts: bool,
    /// Tell the others when a conversation is read.
    pub read_receipts: bool,
}

/// A group's current state.
#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    /// Id (hex).
    pub id: GroupId,
    /// Name.
    pub name: String,
    /// Members.
    pub members: Vec<PublicKey>,
    /// Admins.
    pub admins: Vec<PublicKey>,
}

/// A conversation in the list.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    /// `kith1…` or `group:<hex>`.
    pub id: String,
    /// The other person, one to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<PublicKey>,
    /// The group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupView>,
    /// The newest message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<MessageView>,
    /// Messages from others newer than the read marker.
    pub unread: u64,
    /// A message request: someone `me` does not follow wrote first and `me`
    /// has not answered. Requests are listed apart and not counted unread.
    pub request: bool,
    /// Time of the newest message (ms).
    pub updated_at: u64,
}

/// A page of a conversation, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct MessagePage {
    /// The messages.
    pub messages: Vec<MessageView>,
    /// Pass as `before` for the older page; absent at the beginning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

/// What one identity's mailbox holds, opened.
#[derive(Default)]
struct Inbox {
    /// Envelopes already looked at (opened or not).
    seen: HashSet<EventId>,
    /// Letters by (time, id): the one order of every conversation.
    letters: BTreeMap<(u64, LetterId), Letter>,
    ids: HashSet<LetterId>,
    /// Envelopes that did not open, by error code (diagnostics).
    unopened: BTreeMap<&'static str, u64>,
}

/// A conversation's state, computed from its letters in order.
#[derive(Default)]
struct Thread {
    messages: Vec<MessageView>,
    index: HashMap<LetterId, usize>,
    group: Option<GroupView>,
}

/// Someone is typing in a conversation of an identity hosted here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypingEvent {
    /// Who reads it (hosted here).
    pub to: PublicKey,
    /// Who is typing.
    pub from: PublicKey,
    /// Where, as `to` sees it.
    pub conversation: Conversation,
}

/// Direct messages for every identity the node hosts.
pub struct Messenger {
    dir: PathBuf,
    store: Store,
    keys: Mutex<HashMap<PublicKey, Arc<Vec<DmSecret>>>>,
    inboxes: Mutex<HashMap<PublicKey, Inbox>>,
    typing: tokio::sync::broadcast::Sender<TypingEvent>,
}

impl std::fmt::Debug for Messenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messenger").field("dir", &self.dir).finish()
    }
}

fn hashed(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u32).to_be_bytes());
        h.update(p);
    }
    hex::encode(&h.finalize()[..16])
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

impl Messenger {
    /// The messenger of the node whose data directory is `data_dir`.
    pub fn open(data_dir: &Path, store: Store) -> std::io::Result<Messenger> {
        let dir = data_dir.join(DIR);
        std::fs::create_dir_all(&dir)?;
        Ok(Messenger {
            dir,
            store,
            keys: Mutex::default(),
            inboxes: Mutex::default(),
            typing: tokio::sync::broadcast::channel(256).0,
        })
    }

    fn key_file(&self, who: &PublicKey) -> PathBuf {
        self.dir
            .join(format!("keys-{}", hashed(&[b"keys", who.as_bytes()])))
    }

    fn read_file(&self, who: &PublicKey) -> PathBuf {
        self.dir
            .join(format!("read-{}", hashed(&[b"read", who.as_bytes()])))
    }

    /// Every DM secret of `who`, newest first (empty if it has none yet).
    fn secrets(&self, who: &PublicKey) -> Result<Arc<Vec<DmSecret>>, MessageError> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(k) = keys.get(who) {
            return Ok(k.clone());
        }
        let mut list = Vec::new();
        match std::fs::read_to_string(self.key_file(who)) {
            Ok(text) => {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let bytes: [u8; 32] = hex::decode(line.trim())
                        .ok()
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| {
                            std::io::Error::new(std::io::ErrorKind::InvalidData, "bad DM key file")
                        })?;
                    list.push(DmSecret::from_bytes(bytes)?);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        // Stored oldest first; used newest first.
        list.reverse();
        let list = Arc::new(list);
        keys.insert(*who, list.clone());
        Ok(list)
    }

    fn save_secrets(&self, who: &PublicKey, newest_first: &[DmSecret]) -> std::io::Result<()> {
        let text: String = newest_first
            .iter()
            .rev()
            .map(|k| format!("{}\n", hex::encode(k.to_bytes().as_ref())))
            .collect();
        write_private(&self.key_file(who), text.as_bytes())
    }

    /// The current DM key of `who`, made (and saved) if it has none.
    pub fn current_key(&self, who: &PublicKey) -> Result<DmPublic, MessageError> {
        if let Some(k) = self.secrets(who)?.first() {
            return Ok(k.public());
        }
        self.rotate_key(who)
    }

    /// Makes a new DM key for `who`; the older ones are kept so older
    /// messages stay readable. The caller publishes it in the profile.
    pub fn rotate_key(&self, who: &PublicKey) -> Result<DmPublic, MessageError> {
        let old = self.secrets(who)?;
        let fresh = DmSecret::generate(&mut rand_core::OsRng);
        let public = fresh.public();
        let mut list = vec![fresh];
        list.extend(
            old.iter()
                .map(|k| DmSecret::from_bytes(*k.to_bytes()))
                .collect::<Result<Vec<_>, _>>()?,
        );
        self.save_secrets(who, &list)?;
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(*who, Arc::new(list));
        Ok(public)
    }

    /// The DM key `who` publishes in its newest profile known here.
    pub fn published_key(&self, who: &PublicKey) -> Result<Option<DmPublic>, MessageError> {
        Ok(
            match self
                .store
                .reader()
                .profile(who)?
                .as_ref()
                .map(Event::payload)
            {
                Some(Payload::Profile(p)) => p.dm_key,
                _ => None,
            },
        )
    }

    /// Signs `letter` with `sender` and seals one envelope per recipient and
    /// one for the sender's own mailbox. Nothing is stored or sent: the
    /// caller submits the envelopes.
    pub fn seal(
        &self,
        sender: &Keypair,
        letter: Letter,
        now: u64,
    ) -> Result<(SignedLetter, Vec<Event>), MessageError> {
        let me = sender.public();
        if letter.group.is_some() {
            self.check_group_send(&me, &letter)?;
        }
        let signed = letter.sign(sender)?;
        let mut envelopes = Vec::with_capacity(signed.letter.to.len() + 1);
        let own = self.current_key(&me)?;
        let mut targets = vec![(me, own)];
        for to in &signed.letter.to {
            let key = self.published_key(to)?.ok_or(MessageError::NoDmKey(*to))?;
            targets.push((*to, key));
        }
        let rng = &mut rand_core::OsRng;
        for (who, key) in targets {
            let sealed = signed.seal(&who, &key, rng)?;
            let env = dm::envelope(&who, sealed, now, rng).map_err(|e| DmError::Invalid {
                field: "envelope",
                reason: e.to_string(),
            })?;
            envelopes.push(env);
        }
        Ok((signed, envelopes))
    }

    fn check_group_send(&self, me: &PublicKey, letter: &Letter) -> Result<(), MessageError> {
        let Some(group) = letter.group else {
            return Ok(());
        };
        let current = self.group(me, &group)?;
        match (&letter.body, current) {
            // Creating a group: the creator is a member and an admin.
            (Body::Group(g), None)
                if g.salt.is_none() || !g.members.contains(me) || !g.admins.contains(me) =>
            {
                return Err(MessageError::NotAllowed(
                    "a group is created by a change with its salt, from a member and admin",
                ));
            }
            (Body::Group(_), None) => {}
            (Body::Group(_), Some(state)) if !state.admins.contains(me) => {
                return Err(MessageError::NotAllowed("only an admin changes a group"));
            }
            (_, None) => return Err(MessageError::UnknownConversation),
            (_, Some(state)) if !state.members.contains(me) => {
                return Err(MessageError::NotAllowed("not a member of this group"));
            }
            _ => {}
        }
        Ok(())
    }

    /// The current state of a group `me` is in (or was in).
    pub fn group(
        &self,
        me: &PublicKey,
        group: &GroupId,
    ) -> Result<Option<GroupView>, MessageError> {
        self.refresh(me)?;
        let inboxes = self.inboxes.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(inbox) = inboxes.get(me) else {
            return Ok(None);
        };
        Ok(build(inbox, me, &Conversation::Group(*group), &HashSet::new()).group)
    }

    /// Opens the envelopes of `me`'s mailbox not looked at yet.
    fn refresh(&self, me: &PublicKey) -> Result<(), MessageError> {
        let hint = dm::inbox_hint(me);
        let items = self.store.reader().inbox_items(&hint, 0, u64::MAX)?;
        let keys = self.secrets(me)?;
        let mut inboxes = self.inboxes.lock().unwrap_or_else(PoisonError::into_inner);
        let inbox = inboxes.entry(*me).or_default();
        for (_, id) in items {
            if !inbox.seen.insert(id) {
                continue;
            }
            let Some(event) = self.store.reader().get(&id)? else {
                continue;
            };
            let Payload::DirectMessage(env) = event.payload() else {
                continue;
            };
            match dm::open(&env.ciphertext, me, &keys) {
                Ok(signed) => {
                    let id = signed.id();
                    // A replayed letter (the same letter in a new envelope) is dropped.
                    if inbox.ids.insert(id) {
                        inbox
                            .letters
                            .insert((signed.letter.created_at, id), signed.letter);
                    }
                }
                Err(e) => *inbox.unopened.entry(e.code()).or_default() += 1,
            }
        }
        Ok(())
    }

    fn settings_file(&self, who: &PublicKey) -> PathBuf {
        self.dir.join(format!(
            "settings-{}",
            hashed(&[b"settings", who.as_bytes()])
        ))
    }

    /// `me`'s receipt settings (both off until turned on).
    pub fn settings(&self, me: &PublicKey) -> ChatSettings {
        std::fs::read(self.settings_file(me))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Replaces `me`'s receipt settings.
    pub fn set_settings(&self, me: &PublicKey, s: &ChatSettings) -> Result<(), MessageError> {
        let bytes = serde_json::to_vec(s).map_err(std::io::Error::other)?;
        write_private(&self.settings_file(me), &bytes)?;
        Ok(())
    }

    /// With delivery receipts on: the conversations of `me` with letters
    /// from others not acknowledged yet, each with those letters' ids (at
    /// most [`dm::MAX_RECEIPT_IDS`]) and the time to mark as acknowledged.
    /// Nothing with them off.
    pub fn unacknowledged(
        &self,
        me: &PublicKey,
    ) -> Result<Vec<(Conversation, Vec<LetterId>, u64)>, MessageError> {
        if !self.settings(me).delivery_receipts {
            return Ok(Vec::new());
        }
        let reader = self.store.reader();
        let pending = self.with_inbox(me, |inbox, markers, blocked| {
            // Conversations `me` wrote in: the others are requests (unless
            // `me` follows them), which get no receipts.
            let answered: HashSet<Conversation> = inbox
                .letters
                .values()
                .filter(|l| l.from == *me)
                .map(|l| Conversation::of(l, me))
                .collect();
            let mut by: BTreeMap<Conversation, (Vec<LetterId>, u64)> = BTreeMap::new();
            for ((at, id), l) in &inbox.letters {
                if l.from == *me || !matches!(l.body, Body::Text(_)) || blocked.contains(&l.from) {
                    continue;
                }
                let conv = Conversation::of(l, me);
                if let Conversation::Peer(k) = conv
                    && !answered.contains(&conv)
                    && !reader.follows(me, &k)?
                {
                    continue;
                }
                let acked = markers
                    .get(&Self::marker_name(
                        me,
                        &format!("delivered:{}", conv.to_text()),
                    ))
                    .copied()
                    .unwrap_or(0);
                if *at <= acked {
                    continue;
                }
                let slot = by.entry(conv).or_default();
                if slot.0.len() < dm::MAX_RECEIPT_IDS {
                    slot.0.push(*id);
                    slot.1 = slot.1.max(*at);
                }
            }
            Ok(by.into_iter().map(|(c, (ids, at))| (c, ids, at)).collect())
        })?;
        Ok(pending.unwrap_or_default())
    }

    /// Marks letters of `conv` up to `upto` as acknowledged delivered.
    pub fn mark_delivered(
        &self,
        me: &PublicKey,
        conv: &Conversation,
        upto: u64,
    ) -> Result<(), MessageError> {
        self.mark_read_named(me, &format!("delivered:{}", conv.to_text()), upto)
    }

    fn read_markers(&self, me: &PublicKey) -> BTreeMap<String, u64> {
        std::fs::read(self.read_file(me))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn marker_key(me: &PublicKey, conv: &Conversation) -> String {
        Self::marker_name(me, &conv.to_text())
    }

    fn marker_name(me: &PublicKey, name: &str) -> String {
        hashed(&[b"conv", me.as_bytes(), name.as_bytes()])
    }

    /// Marks `conv` read up to `upto` (ms; messages at or before it).
    pub fn mark_read(
        &self,
        me: &PublicKey,
        conv: &Conversation,
        upto: u64,
    ) -> Result<(), MessageError> {
        self.mark_read_named(me, &conv.to_text(), upto)
    }

    /// The read marker of a conversation named `name` (a Kith conversation's
    /// text form, or a Nostr key for a NIP-17 one): ms, 0 when unread.
    pub fn read_marker(&self, me: &PublicKey, name: &str) -> u64 {
        self.read_markers(me)
            .get(&Self::marker_name(me, name))
            .copied()
            .unwrap_or(0)
    }

    /// Marks the conversation named `name` read up to `upto` (ms).
    pub fn mark_read_named(
        &self,
        me: &PublicKey,
        name: &str,
        upto: u64,
    ) -> Result<(), MessageError> {
        let mut markers = self.read_markers(me);
        let slot = markers.entry(Self::marker_name(me, name)).or_default();
        if upto <= *slot {
            return Ok(());
        }
        *slot = upto;
        let bytes = serde_json::to_vec(&markers).map_err(std::io::Error::other)?;
        write_private(&self.read_file(me), &bytes)?;
        Ok(())
    }

    /// Runs `f` on `me`'s mailbox, opened up to now, with `me`'s read
    /// markers and block list; `None` while `me` has no mailbox here.
    fn with_inbox<T>(
        &self,
        me: &PublicKey,
        f: impl FnOnce(&Inbox, &BTreeMap<String, u64>, &HashSet<PublicKey>) -> Result<T, MessageError>,
    ) -> Result<Option<T>, MessageError> {
        self.refresh(me)?;
        let markers = self.read_markers(me);
        let blocked: HashSet<PublicKey> = self.store.reader().blocked(me)?.into_iter().collect();
        let inboxes = self.inboxes.lock().unwrap_or_else(PoisonError::into_inner);
        inboxes
            .get(me)
            .map(|inbox| f(inbox, &markers, &blocked))
            .transpose()
    }

    /// `me`'s conversations, the most recent first. Conversations with
    /// people `me` blocks are left out; in a group, their letters are.
    pub fn conversations(&self, me: &PublicKey) -> Result<Vec<ConversationView>, MessageError> {
        let reader = self.store.reader();
        let listed = self.with_inbox(me, |inbox, markers, blocked| {
            let convs: HashSet<Conversation> = inbox
                .letters
                .values()
                .map(|l| Conversation::of(l, me))
                .collect();
            let mut out = Vec::new();
            for conv in convs {
                if matches!(conv, Conversation::Peer(k) if blocked.contains(&k)) {
                    continue;
                }
                let thread = build(inbox, me, &conv, blocked);
                if thread.group.is_none() && matches!(conv, Conversation::Group(_)) {
                    continue;
                }
                let answered = thread.messages.iter().any(|m| m.mine);
                let request = match conv {
                    Conversation::Peer(k) => !answered && !reader.follows(me, &k)?,
                    Conversation::Group(_) => false,
                };
                let read = markers
                    .get(&Self::marker_key(me, &conv))
                    .copied()
                    .unwrap_or(0);
                let unread = thread
                    .messages
                    .iter()
                    .filter(|m| !m.mine && !m.deleted && m.created_at > read)
                    .count() as u64;
                let last = thread.messages.last().cloned();
                out.push(ConversationView {
                    id: conv.to_text(),
                    peer: match conv {
                        Conversation::Peer(k) => Some(k),
                        Conversation::Group(_) => None,
                    },
                    updated_at: last.as_ref().map_or(0, |m| m.created_at),
                    group: thread.group,
                    last,
                    unread: if request { 0 } else { unread },
                    request,
                });
            }
            out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
            Ok(out)
        })?;
        Ok(listed.unwrap_or_default())
    }

    /// A page of `conv`, oldest first: the `limit` messages before the
    /// cursor (`before`, from an earlier page), or the newest ones.
    pub fn messages(
        &self,
        me: &PublicKey,
        conv: &Conversation,
        before: Option<&str>,
        limit: usize,
    ) -> Result<MessagePage, MessageError> {
        self.refresh(me)?;
        let inboxes = self.inboxes.lock().unwrap_or_else(PoisonError::into_inner);
        let blocked: HashSet<PublicKey> = self.store.reader().blocked(me)?.into_iter().collect();
        let thread = inboxes
            .get(me)
            .map(|i| build(i, me, conv, &blocked))
            .unwrap_or_default();
        if thread.messages.is_empty() && thread.group.is_none() {
            return Err(MessageError::UnknownConversation);
        }
        let cursor = match before {
            Some(text) => Some(parse_cursor(text).ok_or(MessageError::BadCursor)?),
            None => None,
        };
        let end = match cursor {
            Some(c) => thread
                .messages
                .partition_point(|m| (m.created_at, m.id) < c),
            None => thread.messages.len(),
        };
        let start = end.saturating_sub(limit.max(1));
        let messages = thread.messages[start..end].to_vec();
        let before = (start > 0)
            .then(|| {
                messages
                    .first()
                    .map(|m| format!("{}.{}", m.created_at, m.id))
            })
            .flatten();
        Ok(MessagePage { messages, before })
    }

    /// Typing indicators for identities hosted here, as they come.
    pub fn typing_updates(&self) -> tokio::sync::broadcast::Receiver<TypingEvent> {
        self.typing.subscribe()
    }

    /// Seals a typing indicator from `sender` for each of `to` that has a
    /// DM key (no copy for the sender; nothing stored).
    pub fn seal_typing(
        &self,
        sender: &Keypair,
        to: Vec<PublicKey>,
        group: Option<GroupId>,
        now: u64,
    ) -> Result<Vec<(PublicKey, Vec<u8>)>, MessageError> {
        let mut out = Vec::new();
        for who in to {
            let Some(key) = self.published_key(&who)? else {
                continue;
            };
            // One letter per recipient, naming only them: it always fits
            // the smallest bucket, whatever the size of the group.
            let signed = Letter {
                from: sender.public(),
                to: vec![who],
                group,
                created_at: now,
                body: Body::Typing(dm::Typing {}),
            }
            .sign(sender)?;
            out.push((who, signed.seal(&who, &key, &mut rand_core::OsRng)?));
        }
        Ok(out)
    }

    /// Takes a sealed typing indicator for `me`: announced when it opens,
    /// is a typing letter, is fresh at `now`, and (in a group) comes from a
    /// member. Answers whether it was announced.
    pub fn take_typing(&self, me: &PublicKey, ciphertext: &[u8], now: u64) -> bool {
        let Ok(signed) = self.try_open(me, ciphertext) else {
            return false;
        };
        let l = &signed.letter;
        if !matches!(l.body, Body::Typing(_)) || l.created_at.abs_diff(now) > dm::TYPING_FRESH_MS {
            return false;
        }
        let conversation = Conversation::of(l, me);
        if let Conversation::Group(g) = conversation
            && !self
                .group(me, &g)
                .ok()
                .flatten()
                .is_some_and(|s| s.members.contains(&l.from))
        {
            return false;
        }
        let _ = self.typing.send(TypingEvent {
            to: *me,
            from: l.from,
            conversation,
        });
        true
    }

    /// Opens one sealed message as `me` would (diagnostics and tests).
    pub fn try_open(
        &self,
        me: &PublicKey,
        ciphertext: &[u8],
    ) -> Result<SignedLetter, MessageError> {
        Ok(dm::open(ciphertext, me, &self.secrets(me)?)?)
    }

    /// Letters that did not open, by error code.
    pub fn unopened(&self, me: &PublicKey) -> BTreeMap<&'static str, u64> {
        self.inboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(me)
            .map(|i| i.unopened.clone())
            .unwrap_or_default()
    }
}

/// Largest attachment, plaintext bytes.
pub const MAX_ATTACHMENT_BYTES: usize = 25 * 1024 * 1024;

/// Encrypts a file for a letter (`specs/messages.md` § Attachments):
/// ChaCha20-Poly1305 under a fresh random key, nonce zero (each key
/// encrypts one file), no associated data. Returns the key and the
/// ciphertext (plaintext and a 16-byte tag).
pub fn encrypt_file(plain: &[u8]) -> Result<([u8; 32], Vec<u8>), MessageError> {
    use chacha20poly1305::aead::{Aead, KeyInit};
    if plain.is_empty() || plain.len() > MAX_ATTACHMENT_BYTES {
        return Err(MessageError::NotAllowed(
            "an attachment is 1 byte to 25 MiB",
        ));
    }
    let mut key = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut key);
    let cipher = chacha20poly1305::ChaCha20Poly1305::new(&key.into());
    let ct = cipher
        .encrypt(&[0u8; 12].into(), plain)
        .map_err(|_| MessageError::NotAllowed("attachment encryption failed"))?;
    Ok((key, ct))
}

/// Decrypts an attachment; `None` when the key does not fit the bytes
/// (a wrong key, or bytes that are not the file the letter names).
pub fn decrypt_file(key: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
    use chacha20poly1305::aead::{Aead, KeyInit};
    let key: [u8; 32] = key.try_into().ok()?;
    chacha20poly1305::ChaCha20Poly1305::new(&key.into())
        .decrypt(&[0u8; 12].into(), ciphertext)
        .ok()
}

fn parse_cursor(s: &str) -> Option<(u64, LetterId)> {
    let (t, id) = s.split_once('.')?;
    Some((t.parse().ok()?, LetterId::from_hex(id)?))
}

/// Replays a conversation's letters in order into what a client shows,
/// leaving out what people in `blocked` wrote.
fn build(
    inbox: &Inbox,
    me: &PublicKey,
    conv: &Conversation,
    blocked: &HashSet<PublicKey>,
) -> Thread {
    let mut t = Thread::default();
    let mut group: Option<GroupChange> = None;
    for ((at, id), letter) in &inbox.letters {
        if Conversation::of(letter, me) != *conv {
            continue;
        }
        // A blocked person's group changes still count (the group is
        // theirs too); nothing else of theirs is shown.
        if blocked.contains(&letter.from) && !matches!(letter.body, Body::Group(_)) {
            continue;
        }
        if let Conversation::Group(gid) = conv {
            // Group rules: the group is created by a change carrying the
            // salt its id derives from (so only by its creator, which the
            // letter rules check), whose sender is an admin; later changes
            // only from an admin; other letters only from a member at the time.
            match (&letter.body, &group) {
                (Body::Group(g), None) if g.salt.is_some() && g.admins.contains(&letter.from) => {
                    group = Some(g.clone())
                }
                (Body::Group(g), Some(cur)) if cur.admins.contains(&letter.from) => {
                    group = Some(g.clone())
                }
                (_, Some(cur)) if cur.members.contains(&letter.from) => {}
                _ => continue,
            }
            t.group = group.as_ref().map(|g| GroupView {
                id: *gid,
                name: g.name.clone(),
                members: g.members.clone(),
                admins: g.admins.clone(),
            });
        }
        let own_target = |t: &Thread, target: &LetterId| {
            t.index
                .get(target)
                .copied()
                .filter(|&i| t.messages[i].from == letter.from)
        };
        match &letter.body {
            Body::Text(x) => {
                t.index.insert(*id, t.messages.len());
                t.messages.push(MessageView {
                    id: *id,
                    from: letter.from,
                    created_at: *at,
                    text: x.text.clone(),
                    reply_to: x.reply_to,
                    attachments: x.attachments.clone(),
                    order: x.order,
                    edited: false,
                    deleted: false,
                    reactions: BTreeMap::new(),
                    read_by: Vec::new(),
                    delivered_to: Vec::new(),
                    mine: letter.from == *me,
                });
            }
            Body::Edit(e) => {
                if let Some(i) = own_target(&t, &e.of)
                    && !t.messages[i].deleted
                {
                    t.messages[i].text = e.text.clone();
                    t.messages[i].edited = true;
                }
            }
            Body::Unsend(u) => {
                if let Some(i) = own_target(&t, &u.of) {
                    let m = &mut t.messages[i];
                    m.deleted = true;
                    m.text.clear();
                    m.attachments.clear();
                }
            }
            Body::React(r) => {
                if let Some(&i) = t.index.get(&r.to) {
                    let who = letter.from.to_text();
                    if r.reaction.is_empty() {
                        t.messages[i].reactions.remove(&who);
                    } else {
                        t.messages[i].reactions.insert(who, r.reaction.clone());
                    }
                }
            }
            Body::Receipt(r) => {
                for of in &r.of {
                    let Some(&i) = t.index.get(of) else { continue };
                    let m = &mut t.messages[i];
                    if m.from == letter.from {
                        continue;
                    }
                    // Read implies delivered.
                    if !m.delivered_to.contains(&letter.from) {
                        m.delivered_to.push(letter.from);
                    }
                    if r.read && !m.read_by.contains(&letter.from) {
                        m.read_by.push(letter.from);
                    }
                }
            }
            Body::Group(_) | Body::Typing(_) => {}
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_protocol::dm::Text;

    #[test]
    fn attachments_round_trip_and_refuse_the_wrong_key() {
        let (key, ct) = encrypt_file(b"una foto").unwrap();
        assert_eq!(ct.len(), 8 + 16);
        assert_eq!(decrypt_file(&key, &ct).unwrap(), b"una foto");
        let (other, _) = encrypt_file(b"x").unwrap();
        assert_eq!(decrypt_file(&other, &ct), None);
        assert_eq!(decrypt_file(&key[..31], &ct), None);
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(decrypt_file(&key, &bad), None);
        assert!(encrypt_file(b"").is_err());
    }

    #[test]
    fn conversation_text_forms_round_trip() {
        let k = Keypair::generate(&mut rand_core::OsRng).public();
        for c in [Conversation::Peer(k), Conversation::Group(GroupId([9; 32]))] {
            assert_eq!(Conversation::parse(&c.to_text()), Some(c));
        }
        assert_eq!(Conversation::parse("group:zz"), None);
        assert_eq!(Conversation::parse("nonsense"), None);
    }

    #[test]
    fn edits_and_deletes_count_only_from_the_sender_and_groups_follow_admins() {
        let (ana, bob, eve) = (
            Keypair::generate(&mut rand_core::OsRng).public(),
            Keypair::generate(&mut rand_core::OsRng).public(),
            Keypair::generate(&mut rand_core::OsRng).public(),
        );
        let mut inbox = Inbox::default();
        fn put(
            inbox: &mut Inbox,
            from: PublicKey,
            to: Vec<PublicKey>,
            group: Option<GroupId>,
            at: u64,
            body: Body,
        ) -> LetterId {
            let l = Letter {
                from,
                to,
                group,
                created_at: at,
                body,
            };
            let id = l.id();
            inbox.letters.insert((at, id), l);
            id
        }
        let mut add = |from, to, group, at, body| put(&mut inbox, from, to, group, at, body);
        let first = add(
            ana,
            vec![bob],
            None,
            1_767_225_600_000,
            Body::Text(Text {
                text: "hola".into(),
                ..Text::default()
            }),
        );
        add(
            bob,
            vec![ana],
            None,
            1_767_225_600_001,
            Body::Edit(dm::Edit {
                of: first,
                text: "forged".into(),
            }),
        );
        let t = build(&inbox, &bob, &Conversation::Peer(ana), &HashSet::new());
        assert_eq!(t.messages.len(), 1);
        assert_eq!(t.messages[0].text, "hola");
        assert!(!t.messages[0].edited);

        let salt = GroupId([1; 32]);
        let g = GroupId::derive(&ana, &salt);
        let change = |members: Vec<PublicKey>| {
            Body::Group(GroupChange {
                salt: (members.len() == 3).then_some(salt),
                name: "amigos".into(),
                members,
                admins: vec![ana],
            })
        };
        put(
            &mut inbox,
            ana,
            vec![bob, eve],
            Some(g),
            1_767_225_600_010,
            change(vec![ana, bob, eve]),
        );
        // Eve is no admin: her change is ignored.
        put(
            &mut inbox,
            eve,
            vec![ana, bob],
            Some(g),
            1_767_225_600_011,
            change(vec![eve, bob]),
        );
        put(
            &mut inbox,
            ana,
            vec![bob],
            Some(g),
            1_767_225_600_012,
            change(vec![ana, bob]),
        );
        // After removal, Eve's letters no longer count.
        put(
            &mut inbox,
            eve,
            vec![ana, bob],
            Some(g),
            1_767_225_600_013,
            Body::Text(Text {
                text: "still here".into(),
                ..Text::default()
            }),
        );
        let t = build(&inbox, &bob, &Conversation::Group(g), &HashSet::new());
        let state = t.group.unwrap();
        assert_eq!(state.members, vec![ana, bob]);
        assert!(t.messages.is_empty());
    }
}
