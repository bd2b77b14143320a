//! The Kith–Nostr bridge (`specs/nostr.md` § 10): each person's linked
//! Nostr key publishes their Kith events as Nostr events to their relays,
//! and the Nostr keys people follow are read from those relays into the
//! node's relay store, where the gateway's views find them.
//!
//! Three tasks run while the bridge does:
//! - **outbound** reads the node's acceptance log from a persisted
//!   watermark, converts each event of a linked person ([`crate::outbound`]),
//!   signs it with their linked key, stores it in the node's relay and puts
//!   it in the outbox;
//! - **sender** hands the outbox to the relays through nostr-sdk, one
//!   delivery per relay, trying again with a doubling delay and keeping
//!   per-person, per-relay counts;
//! - **inbound** keeps one subscription on every relay (the keys anyone
//!   here follows; notes that tag a linked key), verifies what comes,
//!   drops what it already has (the same note from several relays, or a
//!   Kith event of ours coming back) and stores the rest.

mod db;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kith_node::bridge::{
    BridgeError, BridgeStatus, InboundCounts, NostrBridge, NostrDm, NostrKey, NostrNote,
    NostrThread, RelayStatus,
};
use kith_node::config::NostrSection;
use kith_node::protocol::{
    Event as KithEvent, EventId as KithId, Keypair, Payload, PublicKey as KithKey,
};
use kith_node::storage::Store;
use nostr::prelude::{
    Event, EventBuilder, EventId, Filter, FinalizeEvent, Keys, Kind, PublicKey, RelayUrl,
    SecretKey, Tag, Timestamp, ToBech32,
};
use nostr_sdk::{
    Client, RelayMessage, RelayPoolNotification, RelayStatus as SdkStatus, SubscriptionId,
};
use tokio::sync::{Notify, watch};

use crate::store::{QueryLimits, RelayStore};
use db::{BridgeDb, Delivery, Outgoing};

/// The folder of the bridge's database inside the node's data directory.
pub const BRIDGE_DIR: &str = "nostr-bridge";

/// The subscriptions the bridge keeps on every relay, one per filter
/// (§ 10.4): followed keys, notes tagging linked keys, notes by them.
const SUBSCRIPTIONS: [&str; 4] = [
    "kith-bridge-follows",
    "kith-bridge-tagged",
    "kith-bridge-own",
    "kith-dms",
];
/// Longest text of a reply written through the bridge.
const MAX_TEXT: usize = 16 * 1024;
/// Bounds on the bridge's own reads of the relay store.
const LIMITS: QueryLimits = QueryLimits {
    max_limit: 1000,
    max_scan: 50_000,
};
/// Longest wait between two retries of one delivery.
const MAX_BACKOFF_MS: u64 = 60 * 60 * 1000;

fn storage(e: impl std::fmt::Display) -> BridgeError {
    BridgeError::Storage(e.to_string())
}

fn now_ms() -> u64 {
    kith_node::now_ms()
}

/// A running bridge.
#[derive(Debug)]
pub struct Bridge {
    /// The node's Kith store (not the node: the node holds the bridge).
    kith: Store,
    store: Arc<RelayStore>,
    db: BridgeDb,
    config: NostrSection,
    /// `<base>/ipfs/<cid>` for media in bridged notes.
    media_base: String,
    client: Client,
    /// Wakes the sender (a new note in the outbox).
    outbox_changed: Notify,
    /// Wakes the subscriber (follows, links or relays changed).
    interest_changed: Notify,
    stop: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// What came in since start (for the status and the logs).
    inbound: Inbound,
}

/// Counts of events relays sent the bridge since it started.
#[derive(Debug, Default)]
struct Inbound {
    /// New notes stored.
    stored: AtomicU64,
    /// The same note again (from the same or another relay).
    duplicate: AtomicU64,
    /// Kith events (ours, or another Kith node's that we hold) coming back.
    recognised: AtomicU64,
    /// Bad signatures.
    invalid: AtomicU64,
}

impl Bridge {
    /// Opens the bridge's database in `data_dir` and starts its tasks.
    /// `kith` is the node's store (the node's acceptance log is what goes
    /// out);
    /// `store` is the node's relay store (shared with the relay, if it
    /// runs); `gateway_url` is where media links point unless the config
    /// names another base.
    pub fn start(
        kith: Store,
        store: Arc<RelayStore>,
        data_dir: &Path,
        config: NostrSection,
        gateway_url: Option<&str>,
    ) -> Result<Arc<Bridge>, BridgeError> {
        for url in &config.relays {
            relay_url(url)?;
        }
        let db = BridgeDb::open(&data_dir.join(BRIDGE_DIR))?;
        if db.watermark()?.is_none() {
            // A new bridge does not send the node's whole history.
            let last = kith.reader().last_seq().map_err(storage)?;
            db.set_watermark(last)?;
        }
        let media_base = if config.media_base_url.is_empty() {
            gateway_url.unwrap_or("http://127.0.0.1:7417").to_owned()
        } else {
            config.media_base_url.clone()
        };
        let (stop, _) = watch::channel(false);
        let bridge = Arc::new(Bridge {
            kith,
            store,
            db,
            media_base: media_base.trim_end_matches('/').to_owned(),
            config,
            // NIP-42 needs a signer per person, which nostr-sdk's one
            // signer cannot be: the bridge answers challenges itself, for
            // the linked keys of the people who use that relay
            // (`authenticate`), so it can read their gift wraps.
            client: Client::builder()
                .opts(nostr_sdk::ClientOptions::new().automatic_authentication(false))
                .build(),
            outbox_changed: Notify::new(),
            interest_changed: Notify::new(),
            stop,
            tasks: std::sync::Mutex::default(),
            inbound: Inbound::default(),
        });
        let tasks = vec![
            tokio::spawn(outbound_loop(bridge.clone())),
            tokio::spawn(sender_loop(bridge.clone())),
            tokio::spawn(inbound_loop(bridge.clone())),
        ];
        *bridge.tasks.lock().unwrap_or_else(|p| p.into_inner()) = tasks;
        Ok(bridge)
    }

    /// Stops the tasks, closes the relay connections, flushes.
    pub async fn shutdown(&self) {
        // `send` would not store the value while no task has subscribed yet
        // (one just spawned), and that task would then never see it.
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
        self.client.shutdown().await;
        if let Err(e) = self.db.flush() {
            tracing::warn!(error = %e, "bridge flush failed");
        }
    }

    fn keys(&self, who: &KithKey) -> Result<Option<Keys>, BridgeError> {
        match self.db.key(who)? {
            Some((secret, _)) => {
                let sk = SecretKey::from_slice(&secret).map_err(storage)?;
                Ok(Some(Keys::new(sk)))
            }
            None => Ok(None),
        }
    }

    /// The relays a person's notes go to: theirs, then the node's.
    fn relays_of(&self, who: &KithKey) -> Result<Vec<String>, BridgeError> {
        let mut out = self.db.relays(who)?;
        for r in &self.config.relays {
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        Ok(out)
    }

    /// Every relay the bridge uses.
    fn all_relays(&self) -> Result<BTreeSet<String>, BridgeError> {
        let mut all: BTreeSet<String> = self.config.relays.iter().cloned().collect();
        all.extend(self.db.all_relays()?);
        Ok(all)
    }

    /// Signs, stores locally, and queues an event for `relays`.
    fn emit(
        &self,
        who: &KithKey,
        keys: &Keys,
        builder: EventBuilder,
        relays: Vec<String>,
    ) -> Result<Event, BridgeError> {
        let event = builder.finalize(keys).map_err(storage)?;
        self.emit_signed(who, event, relays)
    }

    /// Stores locally, and queues for `relays`, an event signed already (a
    /// gift wrap, signed by its one-time key).
    fn emit_signed(
        &self,
        who: &KithKey,
        event: Event,
        relays: Vec<String>,
    ) -> Result<Event, BridgeError> {
        self.store
            .insert(&event, Timestamp::now())
            .map_err(storage)?;
        if !relays.is_empty() {
            let now = now_ms();
            let o = Outgoing {
                event: event.as_json(),
                person: hex::encode(who.as_bytes()),
                relays: relays
                    .into_iter()
                    .map(|r| (r, Delivery::due(now)))
                    .collect(),
            };
            self.db.put_outgoing(event.id.as_bytes(), &o)?;
            self.outbox_changed.notify_one();
        }
        Ok(event)
    }

    /// Bridges one accepted Kith event, if its author has a linked key here.
    fn bridge_event(&self, event: &KithEvent) -> Result<(), BridgeError> {
        let author = event.author();
        let Some(keys) = self.keys(&author)? else {
            return Ok(());
        };
        if self.db.nostr_of(event.id().digest())?.is_some() {
            return Ok(());
        }
        let link = match event.payload() {
            Payload::Profile(p) => {
                // The Kith half must name this key, or the link has ended.
                if p.nostr.as_deref() != Some(keys.public_key().to_bytes().as_slice()) {
                    return Ok(());
                }
                self.link_tag(&author)?
            }
            _ => None,
        };
        let lookup = Lookup { bridge: self };
        let builder = match crate::outbound::to_nostr(event, &lookup, link) {
            Ok(b) => b,
            Err(skip) => {
                tracing::debug!(id = %event.id(), %skip, "not bridged");
                return Ok(());
            }
        };
        let relays = self.relays_of(&author)?;
        let nostr = self.emit(&author, &keys, builder, relays)?;
        self.db.map_ids(event.id().digest(), nostr.id.as_bytes())?;
        self.db.count_bridged(&author)?;
        tracing::debug!(kith = %event.id(), nostr = %nostr.id, "bridged to nostr");
        Ok(())
    }

    fn link_tag(&self, who: &KithKey) -> Result<Option<Tag>, BridgeError> {
        let Some((_, proof)) = self.db.key(who)? else {
            return Ok(None);
        };
        Ok(Some(
            Tag::parse([
                "i".to_owned(),
                format!("{}:{}", crate::link::PLATFORM, who.to_text()),
                hex::encode(proof),
            ])
            .map_err(storage)?,
        ))
    }

    /// Handles one event a relay sent.
    fn take_in(&self, event: &Event, relay: &str) -> Result<(), BridgeError> {
        let id = *event.id.as_bytes();
        if event.verify().is_err() {
            self.inbound.invalid.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%relay, id = %event.id, "dropping a nostr event with a bad signature");
            return Ok(());
        }
        if self.db.saw(&id, relay)? {
            // The same note again, from this or another relay.
            self.inbound.duplicate.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        // One of ours coming back.
        if self.db.kith_of(&id)?.is_some() {
            self.inbound.recognised.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        // Another Kith node's bridged event whose Kith original we hold.
        if let Some(kith) = kith_tag(event) {
            let reader = self.kith.reader();
            if reader.contains(&kith).map_err(storage)? {
                self.db.map_ids(kith.digest(), &id)?;
                self.inbound.recognised.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
        }
        self.inbound.stored.fetch_add(1, Ordering::Relaxed);
        if event.kind == Kind::Metadata {
            let pk = event.pubkey.to_bytes();
            if let Ok(meta) = serde_json::from_str::<serde_json::Value>(&event.content) {
                let name = meta
                    .get("display_name")
                    .or_else(|| meta.get("name"))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                if !name.is_empty() {
                    self.db
                        .set_name(&pk, &name.chars().take(100).collect::<String>())?;
                }
            }
            if let Some(kith) = crate::link::linked_identity(event) {
                self.db.set_link(&pk, &kith)?;
            }
        }
        match self.store.insert(event, Timestamp::now()) {
            Ok(_) => Ok(()),
            Err(e) => Err(storage(e)),
        }
    }

    fn note(&self, e: &Event) -> Result<NostrNote, BridgeError> {
        let pk = e.pubkey.to_bytes();
        let (root, reply_to) = thread_refs(e);
        Ok(NostrNote {
            id: e.id.to_hex(),
            author: key_text(&e.pubkey),
            name: self.db.name(&pk)?,
            kith: self.db.link(&pk)?.map(|k| k.to_text()),
            kind: e.kind.as_u16(),
            created_at: e.created_at.as_secs().saturating_mul(1000),
            content: e.content.clone(),
            tags: e.tags.iter().map(|t| t.as_slice().to_vec()).collect(),
            root: root.map(|r| r.to_hex()),
            reply_to: reply_to.map(|r| r.to_hex()),
            relays: self.db.seen_on(e.id.as_bytes())?,
        })
    }

    fn query(&self, filter: Filter) -> Result<Vec<Event>, BridgeError> {
        Ok(self
            .store
            .query(&[filter], LIMITS, Timestamp::now(), &|_| true)
            .map_err(storage)?
            .events)
    }

    /// The three subscriptions' filters (§ 10.4), `None` where there is
    /// nothing to read: the keys anyone here follows, notes tagging a
    /// linked key, notes by a linked key.
    fn interest(&self) -> Result<Vec<Option<Filter>>, BridgeError> {
        let follows: Vec<PublicKey> = self
            .db
            .all_follows()?
            .iter()
            .filter_map(|k| PublicKey::from_slice(k).ok())
            .collect();
        let mut linked = Vec::new();
        for who in self.db.linked()? {
            if let Some(k) = self.keys(&who)? {
                linked.push(k.public_key());
            }
        }
        let notes = [Kind::TextNote, Kind::Repost, Kind::Reaction];
        Ok(vec![
            (!follows.is_empty()).then(|| {
                Filter::new()
                    .authors(follows)
                    .kinds([
                        Kind::Metadata,
                        Kind::TextNote,
                        Kind::Repost,
                        Kind::Reaction,
                        Kind::EventDeletion,
                    ])
                    .limit(500)
            }),
            (!linked.is_empty()).then(|| {
                Filter::new()
                    .pubkeys(linked.clone())
                    .kinds(notes)
                    .limit(200)
            }),
            // What people write with their linked key in other Nostr apps
            // (and our own bridged events coming back, recognised in take_in).
            (!linked.is_empty()).then(|| {
                Filter::new()
                    .authors(linked.clone())
                    .kinds(notes)
                    .limit(200)
            }),
            // NIP-17 private messages to a linked key: gift wraps tagging it.
            (!linked.is_empty()).then(|| {
                Filter::new()
                    .pubkeys(linked)
                    .kind(Kind::GiftWrap)
                    .limit(500)
            }),
        ])
    }

    /// Sends a linked person's newest profile (kind 0) and contact list
    /// (kind 3) to relays they just added, so those relays know them.
    fn introduce(&self, who: &KithKey, relays: &[String]) -> Result<(), BridgeError> {
        let Some(keys) = self.keys(who)? else {
            return Ok(());
        };
        let now = now_ms();
        for event in self.query(
            Filter::new()
                .author(keys.public_key())
                .kinds([Kind::Metadata, Kind::ContactList]),
        )? {
            let id = *event.id.as_bytes();
            let mut out = match self.db.outgoing_one(&id)? {
                Some(o) => o,
                None => Outgoing {
                    event: event.as_json(),
                    person: hex::encode(who.as_bytes()),
                    relays: BTreeMap::new(),
                },
            };
            for r in relays {
                out.relays
                    .entry(r.clone())
                    .or_insert_with(|| Delivery::due(now));
            }
            self.db.put_outgoing(&id, &out)?;
        }
        self.outbox_changed.notify_one();
        Ok(())
    }

    /// Publishes a fresh contact list (kind 3) for a linked person.
    fn send_contacts(&self, who: &KithKey) -> Result<(), BridgeError> {
        let Some(keys) = self.keys(who)? else {
            return Ok(());
        };
        let lookup = Lookup { bridge: self };
        let follows = crate::outbound::Lookup::follows(&lookup, who);
        let builder =
            EventBuilder::new(Kind::ContactList, "").tags(follows.into_iter().map(Tag::public_key));
        self.emit(who, &keys, builder, self.relays_of(who)?)?;
        Ok(())
    }

    fn parse_note(&self, text: &str) -> Result<Event, BridgeError> {
        let id = EventId::parse(text.trim_start_matches("nostr:"))
            .map_err(|_| BridgeError::BadNote(text.to_owned()))?;
        self.store
            .get(&id)
            .map_err(storage)?
            .ok_or_else(|| BridgeError::UnknownNote(id.to_hex()))
    }

    /// The relays a note about `target` goes to: the person's, and where
    /// the target was seen.
    fn relays_with(&self, who: &KithKey, target: &Event) -> Result<Vec<String>, BridgeError> {
        let mut relays = self.relays_of(who)?;
        for r in self.db.seen_on(target.id.as_bytes())? {
            if !relays.contains(&r) {
                relays.push(r);
            }
        }
        Ok(relays)
    }
}

/// A Kith event id a bridged Nostr event names in its `kith` tag.
fn kith_tag(event: &Event) -> Option<KithId> {
    event.tags.iter().find_map(|t| match t.as_slice() {
        [name, id, ..] if name == "kith" => id.parse().ok(),
        _ => None,
    })
}

fn key_text(k: &PublicKey) -> NostrKey {
    NostrKey {
        hex: k.to_hex(),
        npub: k.to_bech32().unwrap_or_else(|_| k.to_hex()),
    }
}

fn parse_key(text: &str) -> Result<PublicKey, BridgeError> {
    PublicKey::parse(text.trim().trim_start_matches("nostr:"))
        .map_err(|_| BridgeError::BadKey(text.to_owned()))
}

/// A relay URL in the one form the bridge keeps (nostr-sdk's may differ).
fn norm(text: &str) -> String {
    relay_url(text).unwrap_or_else(|_| text.to_owned())
}

fn relay_url(text: &str) -> Result<String, BridgeError> {
    let url = RelayUrl::parse(text.trim()).map_err(|_| BridgeError::BadRelay(text.to_owned()))?;
    // `wss://host/` and `wss://host` are one relay.
    Ok(url.to_string().trim_end_matches('/').to_owned())
}

/// NIP-10: the root and the parent a note answers. Marked `e` tags first;
/// else the deprecated positional form (first is the root, last the
/// parent). Reposts and reactions answer their last `e` tag.
fn thread_refs(e: &Event) -> (Option<EventId>, Option<EventId>) {
    let es: Vec<&[String]> = e
        .tags
        .iter()
        .map(|t| t.as_slice())
        .filter(|t| t.first().is_some_and(|n| n == "e") && t.len() >= 2)
        .collect();
    let id = |t: &[String]| EventId::from_hex(&t[1]).ok();
    if e.kind != Kind::TextNote {
        return (None, es.last().and_then(|t| id(t)));
    }
    let marked = |m: &str| {
        es.iter()
            .find(|t| t.get(3).is_some_and(|x| x == m))
            .and_then(|t| id(t))
    };
    let (root, reply) = (marked("root"), marked("reply"));
    if root.is_some() || reply.is_some() {
        return (root.or(reply), reply.or(root));
    }
    match (es.first(), es.last()) {
        (Some(f), Some(l)) => (id(f), id(l)),
        _ => (None, None),
    }
}

/// What [`crate::outbound::to_nostr`] needs, read from the bridge and the
/// node's store.
struct Lookup<'a> {
    bridge: &'a Bridge,
}

impl crate::outbound::Lookup for Lookup<'_> {
    fn nostr_id(&self, kith: &KithId) -> Option<EventId> {
        let id = self.bridge.db.nostr_of(kith.digest()).ok()??;
        EventId::from_slice(&id).ok()
    }

    fn nostr_key(&self, kith: &KithKey) -> Option<PublicKey> {
        if let Ok(Some(k)) = self.bridge.keys(kith) {
            return Some(k.public_key());
        }
        let profile = self.bridge.kith.reader().profile(kith).ok()??;
        match profile.payload() {
            Payload::Profile(p) => PublicKey::from_slice(p.nostr.as_deref()?).ok(),
            _ => None,
        }
    }

    fn nostr_author(&self, event: &KithId) -> Option<PublicKey> {
        let e = self.bridge.kith.reader().get(event).ok()??;
        self.nostr_key(&e.author())
    }

    fn media_url(&self, cid: &str) -> String {
        format!("{}/ipfs/{cid}", self.bridge.media_base)
    }

    fn follows(&self, author: &KithKey) -> Vec<PublicKey> {
        let mut out: Vec<PublicKey> = Vec::new();
        if let Ok(kith) = self.bridge.kith.reader().follow_set(author) {
            out.extend(kith.iter().filter_map(|k| self.nostr_key(k)));
        }
        if let Ok(nostr) = self.bridge.db.follows(author) {
            out.extend(nostr.iter().filter_map(|k| PublicKey::from_slice(k).ok()));
        }
        out.sort();
        out.dedup();
        out
    }
}

impl NostrBridge for Bridge {
    fn status(&self, who: &KithKey) -> Result<BridgeStatus, BridgeError> {
        let linked = self.keys(who)?.map(|k| key_text(&k.public_key()));
        let person = hex::encode(who.as_bytes());
        let own = self.db.relays(who)?;
        let connected: HashMap<String, bool> = futures::executor::block_on(async {
            self.client
                .relays()
                .await
                .into_iter()
                .map(|(url, r)| (norm(&url.to_string()), r.status() == SdkStatus::Connected))
                .collect()
        });
        let pending = self.db.pending_by_relay(&person)?;
        let mut relays = Vec::new();
        for url in self.relays_of(who)? {
            let c = self.db.counters(who, &url)?;
            relays.push(RelayStatus {
                connected: connected.get(&url).copied().unwrap_or(false),
                source: if own.contains(&url) { "person" } else { "node" },
                sent: c.sent,
                pending: pending.get(&url).copied().unwrap_or(0),
                failed: c.failed,
                last_error: c.last_error,
                last_sent_at: c.last_sent_at,
                url,
            });
        }
        let follows = self
            .db
            .follows(who)?
            .iter()
            .filter_map(|k| PublicKey::from_slice(k).ok())
            .map(|k| key_text(&k))
            .collect();
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Ok(BridgeStatus {
            linked,
            relays,
            follows,
            bridged: self.db.bridged(who)?,
            inbound: InboundCounts {
                stored: n(&self.inbound.stored),
                duplicate: n(&self.inbound.duplicate),
                recognised: n(&self.inbound.recognised),
                invalid: n(&self.inbound.invalid),
            },
        })
    }

    fn link(&self, identity: &Keypair) -> Result<NostrKey, BridgeError> {
        let who = identity.public();
        if let Some(k) = self.keys(&who)? {
            return Ok(key_text(&k.public_key()));
        }
        let keys = Keys::generate();
        let pk = keys.public_key().to_bytes();
        let proof = identity.sign_nostr_link(&pk);
        let secret = keys.secret_key().to_secret_bytes();
        self.db.set_key(&who, &secret, proof.as_bytes())?;
        self.interest_changed.notify_one();
        Ok(key_text(&keys.public_key()))
    }

    fn set_relays(&self, who: &KithKey, relays: &[String]) -> Result<Vec<String>, BridgeError> {
        if relays.len() > self.config.max_relays_per_person {
            return Err(BridgeError::TooMany(format!(
                "at most {} relays",
                self.config.max_relays_per_person
            )));
        }
        let mut list: Vec<String> = Vec::new();
        for r in relays {
            let url = relay_url(r)?;
            if !list.contains(&url) {
                list.push(url);
            }
        }
        let before = self.relays_of(who)?;
        self.db.set_relays(who, &list)?;
        let added: Vec<String> = list
            .iter()
            .filter(|r| !before.contains(r))
            .cloned()
            .collect();
        if !added.is_empty() {
            self.introduce(who, &added)?;
        }
        self.interest_changed.notify_one();
        self.outbox_changed.notify_one();
        Ok(list)
    }

    fn follow(&self, who: &KithKey, key: &str) -> Result<NostrKey, BridgeError> {
        let pk = parse_key(key)?;
        if self.db.follows(who)?.len() >= self.config.max_follows_per_person {
            return Err(BridgeError::TooMany(format!(
                "at most {} followed Nostr keys",
                self.config.max_follows_per_person
            )));
        }
        if !self.db.set_follow(who, &pk.to_bytes(), true)? {
            self.send_contacts(who)?;
            self.interest_changed.notify_one();
        }
        Ok(key_text(&pk))
    }

    fn unfollow(&self, who: &KithKey, key: &str) -> Result<bool, BridgeError> {
        let pk = parse_key(key)?;
        let was = self.db.set_follow(who, &pk.to_bytes(), false)?;
        if was {
            self.send_contacts(who)?;
            self.interest_changed.notify_one();
        }
        Ok(was)
    }

    fn home(
        &self,
        who: &KithKey,
        before: Option<(u64, [u8; 32])>,
        after: Option<(u64, [u8; 32])>,
        limit: usize,
    ) -> Result<Vec<NostrNote>, BridgeError> {
        let mut follows: Vec<PublicKey> = self
            .db
            .follows(who)?
            .iter()
            .filter_map(|k| PublicKey::from_slice(k).ok())
            .collect();
        if follows.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        // Their own notes written with the linked key in a Nostr app.
        if let Some(k) = self.keys(who)? {
            follows.push(k.public_key());
        }
        let mut filter = Filter::new()
            .authors(follows)
            .kinds([Kind::TextNote, Kind::Repost])
            // Notes of the same second as the bound are filtered below.
            .limit((limit + 50).min(LIMITS.max_limit));
        if let Some((ms, _)) = before {
            filter = filter.until(Timestamp::from_secs(ms / 1000));
        }
        if let Some((ms, _)) = after {
            filter = filter.since(Timestamp::from_secs(ms / 1000));
        }
        let mut notes = Vec::new();
        for e in self.query(filter)? {
            // Home shows notes and reposts, not replies (as for Kith posts);
            // a Kith event's own Nostr copy is shown as the Kith event.
            if (e.kind == Kind::TextNote && thread_refs(&e).1.is_some())
                || self.db.kith_of(e.id.as_bytes())?.is_some()
            {
                continue;
            }
            let n = self.note(&e)?;
            let pos = n.position();
            if before.is_some_and(|b| pos >= b) || after.is_some_and(|a| pos <= a) {
                continue;
            }
            notes.push(n);
        }
        notes.sort_by_cached_key(|n| std::cmp::Reverse(n.position()));
        notes.truncate(limit);
        Ok(notes)
    }

    fn thread(&self, id: &str) -> Result<Option<NostrThread>, BridgeError> {
        let event = match self.parse_note(id) {
            Ok(e) => e,
            Err(BridgeError::UnknownNote(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let (root_id, _) = thread_refs(&event);
        let root = match root_id {
            Some(r) if r != event.id => self.store.get(&r).map_err(storage)?,
            _ => None,
        };
        let mut replies: Vec<NostrNote> = self
            .query(
                Filter::new()
                    .kind(Kind::TextNote)
                    .event(event.id)
                    .limit(LIMITS.max_limit),
            )?
            .iter()
            .filter(|e| e.id != event.id)
            .map(|e| self.note(e))
            .collect::<Result<_, _>>()?;
        replies.sort_by_cached_key(NostrNote::position);
        let mut reactions: BTreeMap<String, u64> = BTreeMap::new();
        for r in self.query(
            Filter::new()
                .kind(Kind::Reaction)
                .event(event.id)
                .limit(LIMITS.max_limit),
        )? {
            *reactions.entry(r.content.clone()).or_default() += 1;
        }
        Ok(Some(NostrThread {
            note: self.note(&event)?,
            root: root.map(|r| self.note(&r)).transpose()?,
            replies,
            reactions: reactions.into_iter().collect(),
        }))
    }

    fn reply(&self, who: &KithKey, to: &str, text: &str) -> Result<NostrNote, BridgeError> {
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_TEXT {
            return Err(BridgeError::BadText(format!(
                "a reply has 1 to {MAX_TEXT} bytes of text"
            )));
        }
        let keys = self.keys(who)?.ok_or(BridgeError::NotLinked)?;
        let parent = self.parse_note(to)?;
        let (root, _) = thread_refs(&parent);
        let root = root.unwrap_or(parent.id);
        let hint = self
            .db
            .seen_on(parent.id.as_bytes())?
            .into_iter()
            .next()
            .unwrap_or_default();
        let mut tags = vec![Tag::parse(["e", &root.to_hex(), &hint, "root"]).map_err(storage)?];
        if root != parent.id {
            tags.push(Tag::parse(["e", &parent.id.to_hex(), &hint, "reply"]).map_err(storage)?);
        }
        tags.push(Tag::public_key(parent.pubkey));
        let hashtags: Vec<String> = text
            .split(|c: char| c.is_whitespace())
            .filter_map(|w| w.strip_prefix('#'))
            .map(|h| {
                h.trim_end_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .filter(|h| !h.is_empty())
            .collect();
        tags.extend(hashtags.iter().map(Tag::hashtag));
        let builder = EventBuilder::new(Kind::TextNote, text).tags(tags);
        let relays = self.relays_with(who, &parent)?;
        let event = self.emit(who, &keys, builder, relays)?;
        self.note(&event)
    }

    fn react(&self, who: &KithKey, to: &str, reaction: &str) -> Result<NostrNote, BridgeError> {
        let reaction = if reaction.trim().is_empty() {
            "+"
        } else {
            reaction.trim()
        };
        if reaction.chars().count() > 16 {
            return Err(BridgeError::BadText(
                "a reaction is `+`, `-` or an emoji".into(),
            ));
        }
        let keys = self.keys(who)?.ok_or(BridgeError::NotLinked)?;
        let target = self.parse_note(to)?;
        let builder = EventBuilder::new(Kind::Reaction, reaction)
            .tag(Tag::event(target.id))
            .tag(Tag::public_key(target.pubkey));
        let relays = self.relays_with(who, &target)?;
        let event = self.emit(who, &keys, builder, relays)?;
        self.note(&event)
    }

    fn send_dm(&self, who: &KithKey, to: &str, text: &str) -> Result<NostrDm, BridgeError> {
        use nostr::nips::nip59::GiftWrapBuilder;
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_TEXT {
            return Err(BridgeError::BadText(format!(
                "a message has 1 to {MAX_TEXT} bytes of text"
            )));
        }
        let keys = self.keys(who)?.ok_or(BridgeError::NotLinked)?;
        let peer = parse_key(to)?;
        let me = keys.public_key();
        // One rumor (kind 14, unsigned), wrapped for the recipient and for
        // the sender's own other apps and this node (NIP-17).
        let mut rumor = nostr::prelude::FinalizeUnsignedEvent::finalize_unsigned(
            EventBuilder::new(Kind::PrivateDirectMessage, text).tag(Tag::public_key(peer)),
            me,
        );
        rumor.ensure_id();
        let relays = self.relays_of(who)?;
        for receiver in [peer, me] {
            let wrap = GiftWrapBuilder::new(receiver, rumor.clone())
                .finalize(&keys)
                .map_err(storage)?;
            self.emit_signed(who, wrap, relays.clone())?;
        }
        Ok(NostrDm {
            id: rumor.id.map(|i| i.to_hex()).unwrap_or_default(),
            from: key_text(&me),
            peer: key_text(&peer),
            content: text.to_owned(),
            created_at: rumor.created_at.as_secs() * 1000,
            mine: true,
        })
    }

    fn dms(&self, who: &KithKey) -> Result<Vec<NostrDm>, BridgeError> {
        let Some(keys) = self.keys(who)? else {
            return Ok(Vec::new());
        };
        let me = keys.public_key();
        let wraps = self.query(
            Filter::new()
                .pubkey(me)
                .kind(Kind::GiftWrap)
                .limit(LIMITS.max_limit),
        )?;
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for wrap in wraps {
            // Not for this key, tampered with, or a seal whose signer the
            // rumor does not name: left out (NIP-59).
            let Ok(gift) = nostr::nips::nip59::extract_rumor(&keys, &wrap) else {
                continue;
            };
            let mut rumor = gift.rumor;
            if rumor.kind != Kind::PrivateDirectMessage || rumor.pubkey != gift.sender {
                continue;
            }
            // One-to-one only: a group message (several `p` tags) is not
            // bridged, nor one that does not name its reader.
            let named: Vec<PublicKey> = rumor.tags.public_keys().collect();
            let mine = gift.sender == me;
            if named.len() != 1 || (!mine && named[0] != me) {
                continue;
            }
            // The id as computed from the rumor, never as claimed.
            rumor.id = None;
            let id = rumor.id().to_hex();
            // The same rumor wrapped twice (for each side) shows once.
            if !seen.insert(id.clone()) {
                continue;
            }
            let peer = if mine { named[0] } else { gift.sender };
            out.push(NostrDm {
                id,
                from: key_text(&gift.sender),
                peer: key_text(&peer),
                content: rumor.content,
                created_at: rumor.created_at.as_secs() * 1000,
                mine,
            });
        }
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    fn mentions(&self, who: &KithKey, limit: usize) -> Result<Vec<NostrNote>, BridgeError> {
        let Some(keys) = self.keys(who)? else {
            return Ok(Vec::new());
        };
        let me = keys.public_key();
        self.query(
            Filter::new()
                .pubkey(me)
                .kinds([Kind::TextNote, Kind::Repost, Kind::Reaction])
                .limit(limit.clamp(1, LIMITS.max_limit)),
        )?
        .iter()
        .filter(|e| e.pubkey != me)
        .map(|e| self.note(e))
        .collect()
    }
}

// ---------------------------------------------------------------- tasks

/// Reads the acceptance log from the watermark and bridges what it finds.
async fn outbound_loop(bridge: Arc<Bridge>) {
    let mut feed = bridge.kith.subscribe();
    let mut stop = bridge.stop.subscribe();
    loop {
        let b = bridge.clone();
        let step = tokio::task::spawn_blocking(move || -> Result<usize, BridgeError> {
            let from = b.db.watermark()?.unwrap_or(0);
            let batch = b.kith.reader().log_after(from, 256).map_err(storage)?;
            for s in &batch {
                if let Err(e) = b.bridge_event(&s.event) {
                    tracing::warn!(id = %s.event.id(), error = %e, "bridging failed");
                }
                b.db.set_watermark(s.seq)?;
            }
            Ok(batch.len())
        })
        .await;
        match step {
            Ok(Ok(n)) if n > 0 => continue,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "bridge: reading the log failed"),
            Err(_) => return,
        }
        tokio::select! {
            r = feed.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Makes sure the client knows and connects to `urls`.
async fn ensure_relays(client: &Client, urls: &BTreeSet<String>) {
    let known: BTreeSet<String> = client
        .relays()
        .await
        .keys()
        .map(|u| norm(&u.to_string()))
        .collect();
    let mut added = false;
    for url in urls.difference(&known) {
        match client.add_relay(url.as_str()).await {
            Ok(_) => added = true,
            Err(e) => tracing::warn!(%url, error = %e, "cannot add nostr relay"),
        }
    }
    if added {
        client.connect().await;
    }
}

/// Hands due outbox entries to their relays.
async fn sender_loop(bridge: Arc<Bridge>) {
    let mut stop = bridge.stop.subscribe();
    loop {
        let b = bridge.clone();
        let due = tokio::task::spawn_blocking(move || b.db.outgoing()).await;
        let entries = match due {
            Ok(Ok(e)) => e,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "bridge: reading the outbox failed");
                Vec::new()
            }
            Err(_) => return,
        };
        let now = now_ms();
        let mut next_wake = now + 30_000;
        for (id, mut out) in entries {
            let due: Vec<String> = out
                .relays
                .iter()
                .filter(|(_, d)| d.next_at <= now)
                .map(|(u, _)| u.clone())
                .collect();
            for d in out.relays.values() {
                if d.next_at > now {
                    next_wake = next_wake.min(d.next_at);
                }
            }
            if due.is_empty() {
                continue;
            }
            // nostr-sdk's own (one minor older) Event type, from the JSON.
            let Ok(event) = <nostr_sdk::Event as nostr_sdk::JsonUtil>::from_json(&out.event) else {
                let _ = bridge.db.drop_outgoing(&id);
                continue;
            };
            ensure_relays(&bridge.client, &due.iter().cloned().collect()).await;
            let result = tokio::time::timeout(
                Duration::from_secs(15),
                bridge
                    .client
                    .send_event_to(due.iter().map(String::as_str), &event),
            )
            .await
            .map_err(|_| "no answer within 15 s".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()));
            let (ok, failed): (Vec<String>, HashMap<String, String>) = match result {
                Ok(output) => (
                    output
                        .success
                        .iter()
                        .map(|u| norm(&u.to_string()))
                        .collect(),
                    output
                        .failed
                        .iter()
                        .map(|(u, e)| (norm(&u.to_string()), e.clone()))
                        .collect(),
                ),
                Err(e) => (
                    Vec::new(),
                    due.iter().map(|u| (u.clone(), e.clone())).collect(),
                ),
            };
            let Ok(person) = hex::decode(&out.person)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .map(KithKey::from_bytes_unchecked)
                .ok_or(())
            else {
                let _ = bridge.db.drop_outgoing(&id);
                continue;
            };
            let at = now_ms();
            for url in &due {
                // A relay that already has the note took it (NIP-01 `duplicate:`).
                let error = failed
                    .get(url)
                    .filter(|e| !e.contains("duplicate:"))
                    .cloned()
                    .or_else(|| {
                        (!ok.contains(url) && !failed.contains_key(url))
                            .then(|| "no answer from the relay".to_owned())
                    });
                let counted = match error {
                    None => {
                        out.relays.remove(url);
                        bridge.db.update_counters(&person, url, |c| {
                            c.sent += 1;
                            c.last_sent_at = Some(at);
                        })
                    }
                    Some(err) => {
                        let Some(d) = out.relays.get_mut(url) else {
                            continue;
                        };
                        d.attempts += 1;
                        d.error = Some(err.clone());
                        if d.attempts >= bridge.config.max_attempts {
                            tracing::warn!(%url, id = %event.id, error = %err, "giving up sending a note");
                            out.relays.remove(url);
                            bridge.db.update_counters(&person, url, |c| {
                                c.failed += 1;
                                c.last_error = Some(err.clone());
                            })
                        } else {
                            let backoff = (bridge.config.retry_secs.max(1) * 1000)
                                .saturating_mul(1 << (d.attempts - 1).min(20))
                                .min(MAX_BACKOFF_MS);
                            d.next_at = at + backoff;
                            next_wake = next_wake.min(d.next_at);
                            bridge
                                .db
                                .update_counters(&person, url, |c| c.last_error = Some(err.clone()))
                        }
                    }
                };
                if let Err(e) = counted {
                    tracing::warn!(error = %e, "bridge: counting a delivery failed");
                }
            }
            let saved = if out.relays.is_empty() {
                bridge.db.drop_outgoing(&id)
            } else {
                bridge.db.put_outgoing(&id, &out)
            };
            if let Err(e) = saved {
                tracing::warn!(error = %e, "bridge: updating the outbox failed");
            }
        }
        let wait = Duration::from_millis(next_wake.saturating_sub(now_ms()).max(50));
        tokio::select! {
            _ = bridge.outbox_changed.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Keeps the subscriptions current and takes in what they bring.
async fn inbound_loop(bridge: Arc<Bridge>) {
    let mut stop = bridge.stop.subscribe();
    let mut notifications = bridge.client.notifications();
    let mut subscribed: Option<(BTreeSet<String>, Vec<Option<Filter>>)> = None;
    let mut refresh = true;
    // Until the next look at the subscriptions (sooner after a failure).
    let mut next_look = Duration::from_secs(30);
    loop {
        if refresh {
            refresh = false;
            next_look = Duration::from_secs(30);
            let b = bridge.clone();
            let wanted = tokio::task::spawn_blocking(move || {
                Ok::<_, BridgeError>((b.all_relays()?, b.interest()?))
            })
            .await;
            match wanted {
                Ok(Ok((relays, filters))) => {
                    let want = Some((relays.clone(), filters.clone()));
                    if want != subscribed && !relays.is_empty() {
                        ensure_relays(&bridge.client, &relays).await;
                        let mut failed = false;
                        for (name, filter) in SUBSCRIPTIONS.iter().zip(&filters) {
                            let id = SubscriptionId::new(*name);
                            match filter {
                                None => bridge.client.unsubscribe(&id).await,
                                Some(f) => {
                                    // The relay's filter, as nostr-sdk's type.
                                    let sdk = <nostr_sdk::Filter as nostr_sdk::JsonUtil>::from_json(
                                        f.as_json(),
                                    );
                                    let done = match sdk {
                                        Ok(sdk) => bridge
                                            .client
                                            .subscribe_with_id(id, sdk, None)
                                            .await
                                            .map(|_| ())
                                            .map_err(|e| e.to_string()),
                                        Err(e) => Err(e.to_string()),
                                    };
                                    if let Err(e) = done {
                                        tracing::warn!(error = %e, "bridge: subscribing failed; trying again");
                                        failed = true;
                                    }
                                }
                            }
                        }
                        if failed {
                            next_look = Duration::from_secs(2);
                        } else {
                            subscribed = want;
                        }
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "bridge: reading interest failed"),
                Err(_) => return,
            }
        }
        let n = tokio::select! {
            n = notifications.recv() => n,
            _ = bridge.interest_changed.notified() => {
                refresh = true;
                continue;
            }
            // Picks up relays that connected late (nostr-sdk also sends open
            // subscriptions again on reconnect).
            _ = tokio::time::sleep(next_look) => {
                refresh = true;
                continue;
            }
            _ = stop.wait_for(|s| *s) => return,
        };
        let n = match n {
            Ok(n) => n,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(skipped)) => {
                // Missed events come again with the next subscription.
                tracing::warn!(skipped, "bridge: fell behind the relays; subscribing again");
                subscribed = None;
                refresh = true;
                continue;
            }
            Err(_) => return,
        };
        if let RelayPoolNotification::Message {
            relay_url,
            message: RelayMessage::Auth { challenge },
        } = &n
        {
            authenticate(&bridge, &relay_url.to_string(), challenge).await;
            continue;
        }
        if let RelayPoolNotification::Message {
            relay_url,
            message: RelayMessage::Event { event, .. },
        } = n
        {
            // The relay's (newer) Event type, from the JSON.
            let Ok(event) = Event::from_json(nostr_sdk::JsonUtil::as_json(event.as_ref())) else {
                continue;
            };
            let b = bridge.clone();
            let relay = norm(&relay_url.to_string());
            let taken = tokio::task::spawn_blocking(move || b.take_in(&event, &relay)).await;
            if let Ok(Err(e)) = taken {
                tracing::warn!(error = %e, "bridge: storing a nostr event failed");
            }
        }
    }
}

/// Answers a relay's NIP-42 challenge for every linked key here (a relay
/// serves gift wraps only to their recipients), then asks that relay again
/// for the private messages: the first REQ, sent before AUTH, was refused.
async fn authenticate(bridge: &Arc<Bridge>, relay: &str, challenge: &str) {
    let b = bridge.clone();
    let (relay_s, challenge_s) = (relay.to_owned(), challenge.to_owned());
    let signed = tokio::task::spawn_blocking(move || -> Result<_, BridgeError> {
        let url = RelayUrl::parse(&relay_s).map_err(storage)?;
        let mut out = Vec::new();
        let relay_norm = norm(&relay_s);
        for who in b.db.linked()? {
            // Only people who use this relay: authenticating tells the
            // relay which keys sit on one node.
            if !b.relays_of(&who)?.iter().any(|r| norm(r) == relay_norm) {
                continue;
            }
            if let Some(keys) = b.keys(&who)? {
                let auth =
                    nostr::nips::nip42::ClientAuthentication::new(challenge_s.clone(), url.clone())
                        .finalize(&keys)
                        .map_err(storage)?;
                out.push(auth.as_json());
            }
        }
        let dms = b.interest()?.pop().flatten().map(|f| f.as_json());
        Ok((out, dms))
    })
    .await;
    let Ok(Ok((auths, dms))) = signed else {
        return;
    };
    for json in auths {
        let Ok(event) = <nostr_sdk::Event as nostr_sdk::JsonUtil>::from_json(&json) else {
            continue;
        };
        if let Err(e) = bridge
            .client
            .send_msg_to([relay], nostr_sdk::ClientMessage::auth(event))
            .await
        {
            tracing::debug!(%relay, error = %e, "bridge: AUTH not sent");
        }
    }
    if let Some(Ok(filter)) = dms.map(<nostr_sdk::Filter as nostr_sdk::JsonUtil>::from_json) {
        let id = SubscriptionId::new(SUBSCRIPTIONS[3]);
        if let Err(e) = bridge
            .client
            .subscribe_with_id_to([relay], id, filter, None)
            .await
        {
            tracing::debug!(%relay, error = %e, "bridge: private messages not asked again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signed events with hostile tags (truncated, empty, wrong markers,
    /// bad hex, bad CIDs): reading their thread references and their `kith`
    /// tag never panics, and only ever yields ids that are in the tags.
    #[test]
    fn hostile_tags_are_read_without_panics() {
        let keys = Keys::generate();
        let zeros = "0".repeat(64);
        let ones = "1".repeat(64);
        let pieces = [
            "e",
            "p",
            "kith",
            "",
            "root",
            "reply",
            "mention",
            zeros.as_str(),
            ones.as_str(),
            "zz",
            "bafyreiabc",
            "\u{0}",
            "ffff",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..2000 {
            let mut tags = Vec::new();
            for _ in 0..next(6) {
                let parts: Vec<String> = (0..next(5))
                    .map(|_| pieces[next(pieces.len())].to_owned())
                    .collect();
                if let Ok(t) = Tag::parse(parts) {
                    tags.push(t);
                }
            }
            let kind = [1u16, 6, 7][next(3)];
            let e = EventBuilder::new(Kind::from(kind), "x")
                .tags(tags)
                .finalize(&keys)
                .unwrap();
            let named: Vec<String> = e
                .tags
                .iter()
                .filter_map(|t| t.as_slice().get(1).cloned())
                .collect();
            let (root, reply) = thread_refs(&e);
            for id in [root, reply].into_iter().flatten() {
                assert!(named.contains(&id.to_hex()), "{id} not in {named:?}");
            }
            assert!(kith_tag(&e).is_none(), "no valid Kith id was given");
        }
    }

    #[test]
    fn keys_and_relay_urls_are_checked() {
        assert!(parse_key("npub1x").is_err());
        assert!(parse_key(&"g".repeat(64)).is_err());
        let k = Keys::generate().public_key();
        assert_eq!(parse_key(&k.to_hex()).unwrap(), k);
        assert_eq!(parse_key(&k.to_bech32().unwrap()).unwrap(), k);
        assert!(relay_url("http://example.org").is_err());
        assert!(relay_url("not a url").is_err());
        assert_eq!(norm("ws://127.0.0.1:7418"), norm("ws://127.0.0.1:7418/"));
    }
}
