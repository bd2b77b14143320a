//! Notifications for the identities hosted on this node: mentions, replies,
//! reactions, reposts, quotes, new followers and story views, grouped by
//! what they are about ("Ana and 3 others reacted to your post").
//!
//! The service follows the store: it reads the acceptance log from a
//! persisted watermark (so it catches up after a restart), then the store's
//! broadcast, and applies each accepted event in order. Everything lives in
//! its own sled database (`<data dir>/notify/`), one tree with a prefix byte
//! per table, and each event's changes (with the new watermark) are one
//! atomic batch. Memory use does not grow with the data: groups, actors and
//! indexes are on disk, and each identity keeps at most [`MAX_GROUPS`]
//! groups (the least recent go first).
//!
//! Layout (`R` = recipient key, `G` = 16-byte group id):
//!
//! | key | value |
//! |---|---|
//! | `g R G` | the group's record (JSON) |
//! | `a R G actor` | that actor's latest contribution (JSON) |
//! | `o R !latest_at G` | — (groups newest first) |
//! | `s R seq G` | — (groups by the sequence that last changed them) |
//! | `u R G` | the type's name (unread groups) |
//! | `n R` | groups held for `R` (u64) |
//! | `e event R G` | the actor (what a delete of `event` takes back) |
//! | `f R actor G` | — (follow groups `actor` is in: what an unfollow takes back) |
//! | `c R` | per-type settings (JSON `{"reaction": false, …}`) |
//! | `h R` | — (hosted identities, so a restart catches up for them) |
//! | `m w` | the watermark: the last acceptance sequence applied |
//! | `m f` | — (the `f` table is complete; databases made before it get it at open) |
//!
//! Rules: nobody is notified about their own events, nor by authors on
//! their block or mute list (as the lists stand when the event is applied).
//! A person counts once per group: a changed reaction replaces the older
//! one (the newest `(created_at, id)` wins), and deleting it takes it back.
//! New activity on a read group makes it unread. Follows group per UTC day;
//! an unfollow takes back the person's older follows of the recipient (a
//! group left empty goes; one that keeps others keeps its read state), and
//! a follow already undone by a newer unfollow notifies nobody.
//! Types a person turned off are still recorded but neither listed nor
//! pushed, so turning one back on shows what came meanwhile.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use kith_protocol::kinds::{Payload, ReactionType};
use kith_protocol::{Event, EventId, Kind, PublicKey, RefTarget, Rel};
use kith_storage::{Reader, Store, StoreError, StoredEvent};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

/// Name of the service's directory inside the node's data directory.
pub const NOTIFY_DIR: &str = "notify";
/// Groups kept per identity; the least recent go when there are more.
pub const MAX_GROUPS: u64 = 2_000;
/// Actors named in a group (the newest).
pub const NAMED_ACTORS: usize = 3;
/// Largest page.
pub const MAX_PAGE: usize = 100;
/// Log entries read per catch-up step.
const LOG_STEP: usize = 512;
/// Updates a slow live subscriber may fall behind before it lags.
const UPDATES: usize = 1024;
/// One UTC day, ms (follows group per day).
const DAY_MS: u64 = 86_400_000;

const GROUP: u8 = b'g';
const ACTOR: u8 = b'a';
const ORDER: u8 = b'o';
const BY_SEQ: u8 = b's';
const UNREAD: u8 = b'u';
const COUNT: u8 = b'n';
const SOURCE: u8 = b'e';
const SETTINGS: u8 = b'c';
const HOSTED: u8 = b'h';
const FOLLOWED: u8 = b'f';
const WATERMARK: &[u8] = b"mw";
const FOLLOW_INDEX: &[u8] = b"mf";

macro_rules! types {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// What a notification is about. Adding a type is one line here
        /// (and a rule in `activities`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum NotificationType {
            $( $(#[$doc])* $variant, )*
        }

        impl NotificationType {
            /// Every type, in display order.
            pub const ALL: &'static [NotificationType] = &[$(NotificationType::$variant),*];

            /// The wire name.
            pub fn name(self) -> &'static str {
                match self { $(NotificationType::$variant => $name,)* }
            }

            /// The type with this wire name.
            pub fn from_name(name: &str) -> Option<NotificationType> {
                match name { $($name => Some(NotificationType::$variant),)* _ => None }
            }
        }
    };
}

types! {
    /// An event names the person (`mention` reference): post, reply, quote, story.
    Mention = "mention",
    /// A reply to one of their events (as parent or as thread root).
    Reply = "reply",
    /// A reaction to one of their events.
    Reaction = "reaction",
    /// A repost of one of their events.
    Repost = "repost",
    /// A quote of one of their events.
    Quote = "quote",
    /// Someone followed them (grouped per UTC day).
    Follow = "follow",
    /// Someone viewed one of their stories.
    StoryView = "story_view",
    /// Someone ordered one of their listings (the seller is told).
    Order = "order",
    /// The other party took a step in one of their trades.
    Trade = "trade",
    /// The other party of a completed trade reviewed them.
    Review = "review",
}

impl Serialize for NotificationType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for NotificationType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        NotificationType::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown notification type `{name}`")))
    }
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Reading the event store failed.
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    /// The notification database failed.
    #[error("notification database: {0}")]
    Db(#[from] sled::Error),
    /// A stored record does not decode.
    #[error("notification database: corrupt {0} record")]
    Corrupt(&'static str),
    /// A cursor that this service did not hand out.
    #[error("the cursor is not valid")]
    BadCursor,
}

/// A group's id: 16 bytes, 32 hex digits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupId([u8; 16]);

impl GroupId {
    fn of(recipient: &PublicKey, ty: NotificationType, target: Option<&EventId>, day: u64) -> Self {
        let mut h = Sha256::new();
        h.update(b"kith-notify-group\0");
        h.update(recipient.as_bytes());
        h.update(ty.name().as_bytes());
        h.update([0]);
        match target {
            Some(t) => h.update(t.digest()),
            None => h.update(day.to_be_bytes()),
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize()[..16]);
        GroupId(out)
    }

    fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(GroupId(bytes.try_into().ok()?))
    }
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::str::FromStr for GroupId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let bytes = hex::decode(s).map_err(|_| ())?;
        GroupId::from_slice(&bytes).ok_or(())
    }
}

/// One person in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// Their identity.
    pub identity: PublicKey,
    /// Their profile name, if this node has their profile.
    pub name: Option<String>,
}

/// A notification group, as listed and pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Its id (32 hex digits), to mark it read.
    pub id: String,
    /// What it is about.
    #[serde(rename = "type")]
    pub ty: NotificationType,
    /// The event it is about: the person's own event that was replied to,
    /// reacted to, reposted, quoted or viewed, or the event that mentions
    /// them; none for follows.
    pub target: Option<EventId>,
    /// The newest actors (up to [`NAMED_ACTORS`]), newest first.
    pub actors: Vec<Actor>,
    /// Distinct actors in the group.
    pub actor_count: u64,
    /// For reactions: how many of each of the six types (all six named).
    pub reactions: Option<BTreeMap<String, u64>>,
    /// `created_at` of the newest activity, ms.
    pub latest_at: u64,
    /// The newest event that contributed.
    pub latest_event: Option<EventId>,
    /// Whether the person has read it (new activity makes it unread).
    pub read: bool,
    /// Acceptance sequence of the event that last changed it.
    pub seq: u64,
}

/// A change to someone's notifications, as pushed to live subscribers.
#[derive(Debug, Clone)]
pub struct Update {
    /// Whose.
    pub recipient: PublicKey,
    /// The group as it is now.
    pub group: Group,
}

/// A page of groups, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// The groups.
    pub groups: Vec<Group>,
    /// Unread groups of enabled types (all of them, not only this page's).
    pub unread_count: u64,
    /// Pass as `cursor` for the next page.
    pub next: Option<String>,
    /// The acceptance sequence applied when read (subscribe live after it).
    pub seq: u64,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only unread groups.
    pub unread_only: bool,
    /// Groups per page (1 to [`MAX_PAGE`]).
    pub limit: usize,
    /// A previous page's `next`.
    pub cursor: Option<String>,
}

/// What an event means for one recipient.
#[derive(Debug, Clone, Copy)]
struct Activity {
    ty: NotificationType,
    target: Option<EventId>,
    reaction: Option<ReactionType>,
}

/// A group as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    #[serde(rename = "type")]
    ty: NotificationType,
    target: Option<EventId>,
    /// Newest actors with the time of their contribution, newest first.
    latest: Vec<(PublicKey, u64)>,
    actor_count: u64,
    reactions: BTreeMap<String, u64>,
    latest_at: u64,
    latest_event: Option<EventId>,
    read: bool,
    seq: u64,
}

/// One actor's latest contribution to a group.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ActorRow {
    event: EventId,
    at: u64,
    reaction: Option<String>,
}

/// The notification service. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Notifications {
    db: sled::Db,
    reader: Reader,
    hosted: RwLock<HashSet<PublicKey>>,
    /// Serialises writers (the follower, read marks, settings).
    write: Mutex<()>,
    watermark: AtomicU64,
    updates: broadcast::Sender<Update>,
}

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

fn u64_of(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?))
}

fn decode<T: serde::de::DeserializeOwned>(v: &[u8], what: &'static str) -> Result<T, NotifyError> {
    serde_json::from_slice(v).map_err(|_| NotifyError::Corrupt(what))
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Records are plain structs of strings and numbers: encoding cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

impl Notifications {
    /// Opens (or creates) the database in `<data_dir>/notify/`; `hosted`
    /// are identities hosted from the start (the node's own).
    pub fn open(
        data_dir: &Path,
        reader: Reader,
        hosted: &[PublicKey],
    ) -> Result<Notifications, NotifyError> {
        let dir = data_dir.join(NOTIFY_DIR);
        let db = kith_storage::open_sled(sled::Config::new().cache_capacity(16 << 20), &dir)?;
        index_follows(&db)?;
        let watermark = db.get(WATERMARK)?.and_then(|v| u64_of(&v)).unwrap_or(0);
        let mut set = HashSet::new();
        for row in db.scan_prefix([HOSTED]) {
            let (k, _) = row?;
            let bytes: [u8; 32] = k
                .get(1..33)
                .and_then(|b| b.try_into().ok())
                .ok_or(NotifyError::Corrupt("hosted"))?;
            set.insert(PublicKey::from_bytes_unchecked(bytes));
        }
        let n = Notifications {
            db,
            reader,
            hosted: RwLock::new(set),
            write: Mutex::new(()),
            watermark: AtomicU64::new(watermark),
            updates: broadcast::channel(UPDATES).0,
        };
        for k in hosted {
            n.host(*k)?;
        }
        Ok(n)
    }

    /// Starts notifying `key` (an identity hosted on this node); kept
    /// across restarts. Idempotent.
    pub fn host(&self, key: PublicKey) -> Result<(), NotifyError> {
        if self.is_hosted(&key) {
            return Ok(());
        }
        self.db.insert(key_of(HOSTED, &key), &[])?;
        self.hosted
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key);
        Ok(())
    }

    fn is_hosted(&self, key: &PublicKey) -> bool {
        self.hosted
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(key)
    }

    /// The last acceptance sequence applied.
    pub fn watermark(&self) -> u64 {
        self.watermark.load(Ordering::Acquire)
    }

    /// Changes as they are applied (new activity only; retractions are
    /// seen in the next listing).
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.updates.subscribe()
    }

    /// Writes what is buffered to disk.
    pub fn flush(&self) -> Result<(), NotifyError> {
        self.db.flush()?;
        Ok(())
    }

    // ------------------------------------------------------------ applying

    /// Applies the acceptance log after the watermark; answers how many
    /// entries were read.
    pub fn catch_up(&self) -> Result<usize, NotifyError> {
        let mut total = 0;
        loop {
            let batch = self.reader.log_after(self.watermark(), LOG_STEP)?;
            total += batch.len();
            for s in &batch {
                self.apply(s)?;
            }
            if batch.len() < LOG_STEP {
                return Ok(total);
            }
        }
    }

    /// Applies one accepted event (nothing if it is not after the watermark).
    pub fn apply(&self, s: &StoredEvent) -> Result<(), NotifyError> {
        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        if s.seq <= self.watermark() {
            return Ok(());
        }
        let e = &s.event;
        let mut batch = sled::Batch::default();
        let mut changed: Vec<(PublicKey, GroupId, Record)> = Vec::new();
        if e.kind() == Kind::Delete
            && let Some(target) = e.event_ref(Rel::Target)
        {
            self.retract(&target, &e.author(), s.seq, &mut batch)?;
        }
        if e.kind() == Kind::Unfollow
            && let Some(subject) = e.identity_ref(Rel::Subject)
        {
            self.unfollow(&subject, e, s.seq, &mut batch)?;
        }
        for (recipient, activity) in self.activities(e)? {
            if let Some(rec) = self.record(&recipient, activity, e, s.seq, &mut batch)? {
                changed.push(rec);
            }
        }
        batch.insert(WATERMARK, &s.seq.to_be_bytes());
        self.db.apply_batch(batch)?;
        self.watermark.store(s.seq, Ordering::Release);
        if self.updates.receiver_count() > 0 {
            for (recipient, gid, rec) in changed {
                let group = self.view(&gid, &rec);
                let _ = self.updates.send(Update { recipient, group });
            }
        }
        Ok(())
    }

    /// Who `e` notifies, and about what: at most one activity per
    /// recipient (a reply that also mentions counts as the reply).
    fn activities(&self, e: &Event) -> Result<Vec<(PublicKey, Activity)>, NotifyError> {
        let mut out: Vec<(PublicKey, Activity)> = Vec::new();
        let author_of = |id: Option<EventId>| -> Result<Option<(PublicKey, EventId)>, NotifyError> {
            let Some(id) = id else { return Ok(None) };
            Ok(self.reader.get(&id)?.map(|t| (t.author(), id)))
        };
        let on = |ty: NotificationType,
                  reaction: Option<ReactionType>,
                  t: Option<(PublicKey, EventId)>| {
            t.map(|(who, id)| {
                (
                    who,
                    Activity {
                        ty,
                        target: Some(id),
                        reaction,
                    },
                )
            })
        };
        let mut direct: Vec<Option<(PublicKey, Activity)>> = Vec::new();
        match e.payload() {
            Payload::Reply(_) => {
                direct.push(on(
                    NotificationType::Reply,
                    None,
                    author_of(e.event_ref(Rel::Parent))?,
                ));
                direct.push(on(
                    NotificationType::Reply,
                    None,
                    author_of(e.event_ref(Rel::Root))?,
                ));
            }
            Payload::Reaction(r) => direct.push(on(
                NotificationType::Reaction,
                Some(r.reaction),
                author_of(e.event_ref(Rel::Target))?,
            )),
            Payload::Repost(_) => direct.push(on(
                NotificationType::Repost,
                None,
                author_of(e.event_ref(Rel::Target))?,
            )),
            Payload::Quote(_) => direct.push(on(
                NotificationType::Quote,
                None,
                author_of(e.event_ref(Rel::Target))?,
            )),
            Payload::StoryView(_) => direct.push(on(
                NotificationType::StoryView,
                None,
                author_of(e.event_ref(Rel::Story))?,
            )),
            // Grouped per trade: the target is the order (the trade's id).
            Payload::Order(_) => direct.push(on(
                NotificationType::Order,
                None,
                e.identity_ref(Rel::Seller).map(|s| (s, e.id())),
            )),
            Payload::TradeUpdate(_) | Payload::Review(_) => {
                if let Some(order) = e.event_ref(Rel::Order)
                    && let Some(trade) = self.reader.trade(&order)?
                {
                    let other = if e.author() == trade.buyer {
                        trade.seller
                    } else {
                        trade.buyer
                    };
                    let ty = if e.kind() == Kind::Review {
                        NotificationType::Review
                    } else {
                        NotificationType::Trade
                    };
                    direct.push(Some((
                        other,
                        Activity {
                            ty,
                            target: Some(order),
                            reaction: None,
                        },
                    )));
                }
            }
            Payload::Follow(_) => {
                let subject = e.identity_ref(Rel::Subject);
                // A newer unfollow that arrived first has undone it already.
                let undone = match &subject {
                    Some(who) => self.reader.follow_state(&e.author(), who)?.is_some_and(
                        |(t, id, following)| !following && (t, id) > (e.created_at(), e.id()),
                    ),
                    None => false,
                };
                if !undone {
                    direct.push(subject.map(|who| {
                        (
                            who,
                            Activity {
                                ty: NotificationType::Follow,
                                target: None,
                                reaction: None,
                            },
                        )
                    }));
                }
            }
            _ => {}
        }
        if matches!(
            e.kind(),
            Kind::Post | Kind::Reply | Kind::Quote | Kind::Story
        ) {
            for r in e.refs() {
                if let (Rel::Mention, RefTarget::Identity(who)) = (r.rel, r.target) {
                    direct.push(Some((
                        who,
                        Activity {
                            ty: NotificationType::Mention,
                            target: Some(e.id()),
                            reaction: None,
                        },
                    )));
                }
            }
        }
        for (who, activity) in direct.into_iter().flatten() {
            if who == e.author() || !self.is_hosted(&who) || out.iter().any(|(w, _)| *w == who) {
                continue;
            }
            let author = e.author();
            if self.reader.blocked(&who)?.contains(&author)
                || self.reader.muted(&who)?.contains(&author)
            {
                continue;
            }
            out.push((who, activity));
        }
        Ok(out)
    }

    /// Adds `e` by its author to the recipient's group; the group as it
    /// then is, or `None` when nothing changed (an older reaction).
    fn record(
        &self,
        recipient: &PublicKey,
        activity: Activity,
        e: &Event,
        seq: u64,
        batch: &mut sled::Batch,
    ) -> Result<Option<(PublicKey, GroupId, Record)>, NotifyError> {
        let day = e.created_at() / DAY_MS;
        let gid = GroupId::of(recipient, activity.ty, activity.target.as_ref(), day);
        let r = recipient.as_bytes();
        let actor = e.author();
        let at = e.created_at();
        let akey = key(ACTOR, &[r, &gid.0, actor.as_bytes()]);
        let prev: Option<ActorRow> = self
            .db
            .get(&akey)?
            .map(|v| decode(&v, "actor"))
            .transpose()?;
        let gkey = key(GROUP, &[r, &gid.0]);
        let existing: Option<Record> = self
            .db
            .get(&gkey)?
            .map(|v| decode(&v, "group"))
            .transpose()?;
        let mut rec = match existing.clone() {
            Some(rec) => rec,
            None => Record {
                ty: activity.ty,
                target: activity.target,
                latest: Vec::new(),
                actor_count: 0,
                reactions: BTreeMap::new(),
                latest_at: 0,
                latest_event: None,
                read: false,
                seq,
            },
        };
        match &prev {
            // The actor already counts with something at least as new.
            Some(p) if (p.at, p.event) >= (at, e.id()) => return Ok(None),
            Some(p) => {
                if let Some(old) = &p.reaction
                    && let Some(n) = rec.reactions.get_mut(old)
                {
                    *n = n.saturating_sub(1);
                }
                batch.remove(key(SOURCE, &[p.event.digest(), r, &gid.0]));
            }
            None => rec.actor_count += 1,
        }
        let reaction = activity.reaction.map(|x| x.name().to_string());
        if let Some(name) = &reaction {
            *rec.reactions.entry(name.clone()).or_default() += 1;
        }
        batch.insert(
            akey,
            encode(&ActorRow {
                event: e.id(),
                at,
                reaction,
            }),
        );
        batch.insert(key(SOURCE, &[e.id().digest(), r, &gid.0]), actor.as_bytes());
        if activity.ty == NotificationType::Follow {
            batch.insert(key(FOLLOWED, &[r, actor.as_bytes(), &gid.0]), &[]);
        }
        rec.latest.retain(|(k, _)| *k != actor);
        let place = rec.latest.partition_point(|(_, t)| *t > at);
        rec.latest.insert(place, (actor, at));
        rec.latest.truncate(NAMED_ACTORS);
        let old_latest_at = rec.latest_at;
        if at >= rec.latest_at {
            rec.latest_at = at;
            rec.latest_event = Some(e.id());
        }
        rec.read = false;
        let old_seq = rec.seq;
        rec.seq = seq;
        if existing.is_some() {
            batch.remove(key(ORDER, &[r, &(!old_latest_at).to_be_bytes(), &gid.0]));
            batch.remove(key(BY_SEQ, &[r, &old_seq.to_be_bytes(), &gid.0]));
        }
        self.index(recipient, &gid, &rec, batch);
        if existing.is_none() {
            let ckey = key(COUNT, &[r]);
            let count = self.db.get(&ckey)?.and_then(|v| u64_of(&v)).unwrap_or(0) + 1;
            let count = if count > MAX_GROUPS {
                self.drop_oldest(recipient, batch)?;
                count - 1
            } else {
                count
            };
            batch.insert(ckey, &count.to_be_bytes());
        }
        Ok(Some((*recipient, gid, rec)))
    }

    /// Writes a group with its order, sequence and unread index entries.
    fn index(&self, recipient: &PublicKey, gid: &GroupId, rec: &Record, batch: &mut sled::Batch) {
        let r = recipient.as_bytes();
        batch.insert(key(GROUP, &[r, &gid.0]), encode(rec));
        batch.insert(
            key(ORDER, &[r, &(!rec.latest_at).to_be_bytes(), &gid.0]),
            &[],
        );
        batch.insert(key(BY_SEQ, &[r, &rec.seq.to_be_bytes(), &gid.0]), &[]);
        let ukey = key(UNREAD, &[r, &gid.0]);
        if rec.read {
            batch.remove(ukey);
        } else {
            batch.insert(ukey, rec.ty.name().as_bytes());
        }
    }

    /// Removes a group and everything that points at it.
    fn remove_group(
        &self,
        recipient: &PublicKey,
        gid: &GroupId,
        rec: &Record,
        batch: &mut sled::Batch,
    ) -> Result<(), NotifyError> {
        let r = recipient.as_bytes();
        batch.remove(key(GROUP, &[r, &gid.0]));
        batch.remove(key(ORDER, &[r, &(!rec.latest_at).to_be_bytes(), &gid.0]));
        batch.remove(key(BY_SEQ, &[r, &rec.seq.to_be_bytes(), &gid.0]));
        batch.remove(key(UNREAD, &[r, &gid.0]));
        for row in self.db.scan_prefix(key(ACTOR, &[r, &gid.0])) {
            let (k, v) = row?;
            let a: ActorRow = decode(&v, "actor")?;
            batch.remove(key(SOURCE, &[a.event.digest(), r, &gid.0]));
            if rec.ty == NotificationType::Follow {
                let actor = k.get(49..81).ok_or(NotifyError::Corrupt("actor"))?;
                batch.remove(key(FOLLOWED, &[r, actor, &gid.0]));
            }
            batch.remove(k);
        }
        Ok(())
    }

    /// Lowers the recipient's group count by `n` (groups just removed).
    fn uncount(
        &self,
        recipient: &PublicKey,
        n: u64,
        batch: &mut sled::Batch,
    ) -> Result<(), NotifyError> {
        if n == 0 {
            return Ok(());
        }
        let ckey = key(COUNT, &[recipient.as_bytes()]);
        let count = self.db.get(&ckey)?.and_then(|v| u64_of(&v)).unwrap_or(n);
        batch.insert(ckey, &count.saturating_sub(n).to_be_bytes());
        Ok(())
    }

    /// Makes room: drops the recipient's least recent group.
    fn drop_oldest(
        &self,
        recipient: &PublicKey,
        batch: &mut sled::Batch,
    ) -> Result<(), NotifyError> {
        let r = recipient.as_bytes();
        let Some(row) = self.db.scan_prefix(key(ORDER, &[r])).next_back() else {
            return Ok(());
        };
        let (k, _) = row?;
        let gid = k
            .get(41..57)
            .and_then(GroupId::from_slice)
            .ok_or(NotifyError::Corrupt("order"))?;
        let Some(v) = self.db.get(key(GROUP, &[r, &gid.0]))? else {
            batch.remove(k);
            return Ok(());
        };
        let rec: Record = decode(&v, "group")?;
        self.remove_group(recipient, &gid, &rec, batch)
    }

    /// A delete of `target` by `by`: takes back what it contributed.
    fn retract(
        &self,
        target: &EventId,
        by: &PublicKey,
        seq: u64,
        batch: &mut sled::Batch,
    ) -> Result<(), NotifyError> {
        for row in self.db.scan_prefix(key(SOURCE, &[target.digest()])) {
            let (k, v) = row?;
            if v.as_ref() != by.as_bytes() {
                continue;
            }
            let (Some(r), Some(gid)) = (
                k.get(33..65).and_then(|b| <[u8; 32]>::try_from(b).ok()),
                k.get(65..81).and_then(GroupId::from_slice),
            ) else {
                return Err(NotifyError::Corrupt("source"));
            };
            let recipient = PublicKey::from_bytes_unchecked(r);
            batch.remove(k);
            let akey = key(ACTOR, &[&r, &gid.0, by.as_bytes()]);
            let Some(row) = self.db.get(&akey)? else {
                continue;
            };
            let a: ActorRow = decode(&row, "actor")?;
            if a.event != *target {
                continue; // replaced by a newer contribution since
            }
            if self.take_back(&recipient, &gid, by, &a, seq, batch)? {
                self.uncount(&recipient, 1, batch)?;
            }
        }
        Ok(())
    }

    /// An unfollow `e` of `recipient`: takes its author out of the
    /// recipient's follow groups, for each follow older than the unfollow
    /// (a newer follow that arrived first still stands).
    fn unfollow(
        &self,
        recipient: &PublicKey,
        e: &Event,
        seq: u64,
        batch: &mut sled::Batch,
    ) -> Result<(), NotifyError> {
        let by = e.author();
        let r = recipient.as_bytes();
        let mut removed = 0;
        for row in self.db.scan_prefix(key(FOLLOWED, &[r, by.as_bytes()])) {
            let (k, _) = row?;
            let gid = k
                .get(65..81)
                .and_then(GroupId::from_slice)
                .ok_or(NotifyError::Corrupt("follow"))?;
            let Some(v) = self.db.get(key(ACTOR, &[r, &gid.0, by.as_bytes()]))? else {
                batch.remove(k);
                continue;
            };
            let a: ActorRow = decode(&v, "actor")?;
            if (a.at, a.event) > (e.created_at(), e.id()) {
                continue;
            }
            batch.remove(k);
            if self.take_back(recipient, &gid, &by, &a, seq, batch)? {
                removed += 1;
            }
        }
        self.uncount(recipient, removed, batch)
    }

    /// Takes `by`'s contribution `a` out of the recipient's group: the
    /// group goes when nobody is left (answers `true`; the caller lowers
    /// the count), else it names the newest remaining actors and keeps
    /// its read state.
    fn take_back(
        &self,
        recipient: &PublicKey,
        gid: &GroupId,
        by: &PublicKey,
        a: &ActorRow,
        seq: u64,
        batch: &mut sled::Batch,
    ) -> Result<bool, NotifyError> {
        let r = recipient.as_bytes();
        let akey = key(ACTOR, &[r, &gid.0, by.as_bytes()]);
        batch.remove(akey.clone());
        batch.remove(key(SOURCE, &[a.event.digest(), r, &gid.0]));
        let Some(v) = self.db.get(key(GROUP, &[r, &gid.0]))? else {
            return Ok(false);
        };
        let mut rec: Record = decode(&v, "group")?;
        let old = rec.clone();
        rec.actor_count = rec.actor_count.saturating_sub(1);
        if let Some(name) = &a.reaction
            && let Some(n) = rec.reactions.get_mut(name)
        {
            *n = n.saturating_sub(1);
        }
        if rec.actor_count == 0 {
            self.remove_group(recipient, gid, &old, batch)?;
            return Ok(true);
        }
        if rec.latest.iter().any(|(k, _)| k == by) {
            // Name the newest remaining actors again.
            let mut rows: Vec<(PublicKey, u64, EventId)> = Vec::new();
            for row in self.db.scan_prefix(key(ACTOR, &[r, &gid.0])) {
                let (k, v) = row?;
                if k.as_ref() == akey.as_slice() {
                    continue;
                }
                let who = k
                    .get(49..81)
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .map(PublicKey::from_bytes_unchecked)
                    .ok_or(NotifyError::Corrupt("actor"))?;
                let a: ActorRow = decode(&v, "actor")?;
                rows.push((who, a.at, a.event));
            }
            rows.sort_by_key(|r| std::cmp::Reverse((r.1, r.2)));
            rec.latest = rows
                .iter()
                .take(NAMED_ACTORS)
                .map(|(k, t, _)| (*k, *t))
                .collect();
            if let Some((_, t, id)) = rows.first() {
                rec.latest_at = *t;
                rec.latest_event = Some(*id);
            }
        }
        rec.seq = seq;
        batch.remove(key(ORDER, &[r, &(!old.latest_at).to_be_bytes(), &gid.0]));
        batch.remove(key(BY_SEQ, &[r, &old.seq.to_be_bytes(), &gid.0]));
        self.index(recipient, gid, &rec, batch);
        Ok(false)
    }

    // ------------------------------------------------------------ reading

    /// A group as shown, with the actors' profile names.
    fn view(&self, gid: &GroupId, rec: &Record) -> Group {
        let actors = rec
            .latest
            .iter()
            .map(|(k, _)| Actor {
                identity: *k,
                name: self.name_of(k),
            })
            .collect();
        let reactions = (rec.ty == NotificationType::Reaction).then(|| {
            ReactionType::ALL
                .iter()
                .map(|r| {
                    let n = rec.reactions.get(r.name()).copied().unwrap_or(0);
                    (r.name().to_string(), n)
                })
                .collect()
        });
        Group {
            id: gid.to_string(),
            ty: rec.ty,
            target: rec.target,
            actors,
            actor_count: rec.actor_count,
            reactions,
            latest_at: rec.latest_at,
            latest_event: rec.latest_event,
            read: rec.read,
            seq: rec.seq,
        }
    }

    fn name_of(&self, key: &PublicKey) -> Option<String> {
        match self.reader.profile(key) {
            Ok(Some(e)) => match e.payload() {
                Payload::Profile(p) if !p.name.is_empty() => Some(p.name.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    /// A page of `who`'s groups of enabled types, newest first.
    pub fn list(&self, who: &PublicKey, q: &ListQuery) -> Result<Page, NotifyError> {
        let seq = self.watermark();
        let r = who.as_bytes();
        let prefix = key(ORDER, &[r]);
        let start = match &q.cursor {
            None => prefix.clone(),
            Some(c) => {
                let bytes = hex::decode(c).map_err(|_| NotifyError::BadCursor)?;
                if bytes.len() != 24 {
                    return Err(NotifyError::BadCursor);
                }
                // Strictly after the cursor's entry.
                let mut k = key(ORDER, &[r, &bytes]);
                k.push(0);
                k
            }
        };
        let end = prefix_end(&prefix);
        let limit = q.limit.clamp(1, MAX_PAGE);
        let enabled = self.enabled_types(who)?;
        let mut groups = Vec::new();
        let mut next = None;
        for row in self.db.range(start..end) {
            let (k, _) = row?;
            let gid = k
                .get(41..57)
                .and_then(GroupId::from_slice)
                .ok_or(NotifyError::Corrupt("order"))?;
            let Some(v) = self.db.get(key(GROUP, &[r, &gid.0]))? else {
                continue;
            };
            let rec: Record = decode(&v, "group")?;
            if !enabled.contains(&rec.ty) || (q.unread_only && rec.read) {
                continue;
            }
            groups.push(self.view(&gid, &rec));
            if groups.len() == limit {
                next = k.get(33..).map(hex::encode);
                break;
            }
        }
        Ok(Page {
            groups,
            unread_count: self.unread_count(who)?,
            next,
            seq,
        })
    }

    /// Unread groups of enabled types.
    pub fn unread_count(&self, who: &PublicKey) -> Result<u64, NotifyError> {
        let enabled = self.enabled_types(who)?;
        let mut n = 0;
        for row in self.db.scan_prefix(key(UNREAD, &[who.as_bytes()])) {
            let (_, v) = row?;
            let ty = std::str::from_utf8(&v)
                .ok()
                .and_then(NotificationType::from_name);
            if ty.is_some_and(|t| enabled.contains(&t)) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// `who`'s groups of enabled types changed after sequence `after` (up
    /// to the watermark), oldest change first: what a live subscriber
    /// that resumes missed.
    pub fn changed_after(&self, who: &PublicKey, after: u64) -> Result<Vec<Group>, NotifyError> {
        let r = who.as_bytes();
        let enabled = self.enabled_types(who)?;
        let start = key(BY_SEQ, &[r, &after.saturating_add(1).to_be_bytes()]);
        let end = prefix_end(&key(BY_SEQ, &[r]));
        let mut out = Vec::new();
        for row in self.db.range(start..end) {
            let (k, _) = row?;
            let gid = k
                .get(41..57)
                .and_then(GroupId::from_slice)
                .ok_or(NotifyError::Corrupt("sequence"))?;
            let Some(v) = self.db.get(key(GROUP, &[r, &gid.0]))? else {
                continue;
            };
            let rec: Record = decode(&v, "group")?;
            if enabled.contains(&rec.ty) {
                out.push(self.view(&gid, &rec));
            }
        }
        Ok(out)
    }

    /// Marks one group read; `false` when `who` has no such group.
    pub fn mark_read(&self, who: &PublicKey, group: &GroupId) -> Result<bool, NotifyError> {
        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let r = who.as_bytes();
        let Some(v) = self.db.get(key(GROUP, &[r, &group.0]))? else {
            return Ok(false);
        };
        let mut rec: Record = decode(&v, "group")?;
        if !rec.read {
            rec.read = true;
            let mut batch = sled::Batch::default();
            batch.insert(key(GROUP, &[r, &group.0]), encode(&rec));
            batch.remove(key(UNREAD, &[r, &group.0]));
            self.db.apply_batch(batch)?;
        }
        Ok(true)
    }

    /// Marks every group `who` has now read; answers how many were unread.
    pub fn mark_all_read(&self, who: &PublicKey) -> Result<u64, NotifyError> {
        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let r = who.as_bytes();
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for row in self.db.scan_prefix(key(UNREAD, &[r])) {
            let (k, _) = row?;
            batch.remove(k.clone());
            let Some(gid) = k.get(33..49).and_then(GroupId::from_slice) else {
                continue;
            };
            if let Some(v) = self.db.get(key(GROUP, &[r, &gid.0]))? {
                let mut rec: Record = decode(&v, "group")?;
                rec.read = true;
                batch.insert(key(GROUP, &[r, &gid.0]), encode(&rec));
                n += 1;
            }
        }
        self.db.apply_batch(batch)?;
        Ok(n)
    }

    /// Whether each type is on for `who` (all are unless turned off).
    pub fn settings(
        &self,
        who: &PublicKey,
    ) -> Result<BTreeMap<NotificationType, bool>, NotifyError> {
        let stored: BTreeMap<String, bool> = match self.db.get(key(SETTINGS, &[who.as_bytes()]))? {
            Some(v) => decode(&v, "settings")?,
            None => BTreeMap::new(),
        };
        Ok(NotificationType::ALL
            .iter()
            .map(|t| (*t, stored.get(t.name()).copied().unwrap_or(true)))
            .collect())
    }

    /// Turns types on or off for `who`; answers the settings now.
    pub fn set_settings(
        &self,
        who: &PublicKey,
        changes: &[(NotificationType, bool)],
    ) -> Result<BTreeMap<NotificationType, bool>, NotifyError> {
        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let mut now = self.settings(who)?;
        for (t, on) in changes {
            now.insert(*t, *on);
        }
        // Only what is off is stored: a type added later starts on.
        let off: BTreeMap<&str, bool> = now
            .iter()
            .filter(|(_, on)| !**on)
            .map(|(t, _)| (t.name(), false))
            .collect();
        self.db
            .insert(key(SETTINGS, &[who.as_bytes()]), encode(&off))?;
        Ok(now)
    }

    /// Whether `who` has `ty` on.
    pub fn enabled(&self, who: &PublicKey, ty: NotificationType) -> Result<bool, NotifyError> {
        Ok(self.settings(who)?.get(&ty).copied().unwrap_or(true))
    }

    fn enabled_types(&self, who: &PublicKey) -> Result<HashSet<NotificationType>, NotifyError> {
        Ok(self
            .settings(who)?
            .into_iter()
            .filter_map(|(t, on)| on.then_some(t))
            .collect())
    }
}

/// Fills the `f` table (follow groups per actor) in a database made
/// before it existed; once.
fn index_follows(db: &sled::Db) -> Result<(), NotifyError> {
    if db.contains_key(FOLLOW_INDEX)? {
        return Ok(());
    }
    let mut batch = sled::Batch::default();
    for row in db.scan_prefix([GROUP]) {
        let (k, v) = row?;
        let rec: Record = decode(&v, "group")?;
        if rec.ty != NotificationType::Follow {
            continue;
        }
        // g ‖ R(32) ‖ G(16)
        let (Some(r), Some(g)) = (k.get(1..33), k.get(33..49)) else {
            return Err(NotifyError::Corrupt("group"));
        };
        for row in db.scan_prefix(key(ACTOR, &[r, g])) {
            let (k, _) = row?;
            let actor = k.get(49..81).ok_or(NotifyError::Corrupt("actor"))?;
            batch.insert(key(FOLLOWED, &[r, actor, g]), &[]);
        }
    }
    batch.insert(FOLLOW_INDEX, &[]);
    db.apply_batch(batch)?;
    Ok(())
}

fn key_of(prefix: u8, k: &PublicKey) -> Vec<u8> {
    key(prefix, &[k.as_bytes()])
}

/// The first key after every key starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![u8::MAX; prefix.len() + 1]
}

/// Keeps the service up to date: the acceptance log from its watermark,
/// then each event the store announces (from the log again when the
/// broadcast skipped some). Runs until the store closes.
pub async fn follow(store: Store, notifications: Arc<Notifications>) {
    use tokio::sync::broadcast::error::RecvError;
    // Subscribed before the log is read, so nothing falls in between.
    let mut feed = store.subscribe();
    let mut behind = true;
    loop {
        if behind {
            let n = notifications.clone();
            match tokio::task::spawn_blocking(move || n.catch_up()).await {
                Ok(Ok(_)) => behind = false,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "notifications: catching up failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(_) => return,
            }
        }
        let first = match feed.recv().await {
            Ok(s) => s,
            Err(RecvError::Lagged(_)) => {
                behind = true;
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        // Whatever else is already waiting goes in the same trip.
        let mut items = vec![first];
        while items.len() < LOG_STEP {
            match feed.try_recv() {
                Ok(s) => items.push(s),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    behind = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let n = notifications.clone();
        let done = tokio::task::spawn_blocking(move || -> Result<bool, NotifyError> {
            for s in &items {
                let w = n.watermark();
                if s.seq <= w {
                    continue;
                }
                if s.seq > w + 1
                    && n.reader
                        .log_after(w, 1)?
                        .first()
                        .is_some_and(|f| f.seq < s.seq)
                {
                    // Something before it was not announced to us.
                    return Ok(true);
                }
                n.apply(s)?;
            }
            Ok(false)
        })
        .await;
        match done {
            Ok(Ok(gap)) => behind |= gap,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "notifications: applying failed; reading the log again");
                behind = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for t in NotificationType::ALL {
            assert_eq!(NotificationType::from_name(t.name()), Some(*t));
            let json = serde_json::to_string(t).unwrap();
            assert_eq!(serde_json::from_str::<NotificationType>(&json).unwrap(), *t);
        }
        assert!(NotificationType::from_name("nope").is_none());
    }

    #[test]
    fn group_ids_parse_back() {
        let k = PublicKey::from_bytes_unchecked([3; 32]);
        let g = GroupId::of(&k, NotificationType::Follow, None, 20_000);
        assert_eq!(g.to_string().parse::<GroupId>(), Ok(g));
        assert!("zz".parse::<GroupId>().is_err());
        assert_ne!(g, GroupId::of(&k, NotificationType::Follow, None, 20_001));
    }

    /// A database made before the `f` table (follow groups per actor)
    /// gets it when opened, so an unfollow takes back a follow recorded
    /// before the upgrade.
    #[test]
    fn an_unfollow_takes_back_a_follow_recorded_before_the_follow_index() {
        use kith_protocol::kinds::{Follow, Unfollow};
        use kith_protocol::{Keypair, UnsignedEvent};
        use kith_storage::StoreConfig;

        let dir = tempfile::tempdir().unwrap();
        let mut config = StoreConfig::new(dir.path());
        config.expiry_interval = None;
        let store = Store::open(config).unwrap();
        let (ana, bob) = (
            Keypair::from_seed(&[1; 32]).unwrap(),
            Keypair::from_seed(&[2; 32]).unwrap(),
        );
        let t = 1_767_225_600_000;
        let follow = UnsignedEvent::new(bob.public(), t, Follow {})
            .ref_identity(Rel::Subject, ana.public())
            .sign(&bob)
            .unwrap();
        store.ingest_blocking(vec![follow]).unwrap();
        let list = |n: &Notifications| {
            let q = ListQuery {
                limit: MAX_PAGE,
                ..ListQuery::default()
            };
            n.list(&ana.public(), &q).unwrap().groups
        };
        {
            let n =
                Notifications::open(dir.path(), store.reader().clone(), &[ana.public()]).unwrap();
            n.catch_up().unwrap();
            assert_eq!(list(&n)[0].actor_count, 1);
            // As a database of the previous version would be.
            let old: Vec<_> =
                n.db.scan_prefix([FOLLOWED])
                    .keys()
                    .collect::<Result<_, _>>()
                    .unwrap();
            assert_eq!(old.len(), 1);
            for k in old {
                n.db.remove(k).unwrap();
            }
            n.db.remove(FOLLOW_INDEX).unwrap();
            n.flush().unwrap();
        }
        let n = Notifications::open(dir.path(), store.reader().clone(), &[ana.public()]).unwrap();
        let unfollow = UnsignedEvent::new(bob.public(), t + 1, Unfollow {})
            .ref_identity(Rel::Subject, ana.public())
            .sign(&bob)
            .unwrap();
        store.ingest_blocking(vec![unfollow]).unwrap();
        n.catch_up().unwrap();
        assert_eq!(list(&n), Vec::<Group>::new());
        assert_eq!(n.unread_count(&ana.public()).unwrap(), 0);
        let count = n.db.get(key_of(COUNT, &ana.public())).unwrap();
        assert_eq!(count.as_deref().and_then(u64_of), Some(0));
    }

    #[test]
    fn prefix_end_is_past_the_prefix() {
        assert_eq!(prefix_end(&[1, 2]), vec![1, 3]);
        assert_eq!(prefix_end(&[1, 255]), vec![2]);
    }
}
