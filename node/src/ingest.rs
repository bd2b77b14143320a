//! The ingest pipeline: the one place where an event becomes accepted.
//!
//! ```text
//!  local API ─┐
//!  gossip  ───┼─► bounded queue ─► rate limit ─► decode ─► verify (batched, ─► relevance ─► store ─► report to gossip,
//!  sync/fetch ┘   (back-pressure)   (gossip)              blocking pool)     (gossip)      (atomic)  publish local events,
//!                                                                                                     fetch missing parents
//! ```
//!
//! Every refusal is counted by reason (the codes of `specs/events.md`).
//! What a gossip peer sent decides its standing: undecodable bytes, bad
//! signatures and oversized messages are `Reject` (forwarded by nobody,
//! penalised by gossipsub scoring, and an offence here); events that are
//! fine but fail a rule that depends on our state (a missing delegation, a
//! clock ahead of ours) are only `Ignore`d, because an honest relay cannot
//! know our state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use kith_protocol::{Event, EventError, EventId, PublicKey, RefTarget, Unverified, verify_batch};
use kith_storage::{Dependency, IngestOutcome, Store};
use libp2p::gossipsub::{MessageAcceptance, MessageId, TopicHash};
use rust_ipfs::PeerId;
use tokio::sync::{mpsc, oneshot};

use crate::net::GossipHandle;
use crate::topics;

/// Where an event came from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// Signed by one of this node's identities (through its API).
    Local,
    /// Received on a gossip topic.
    Gossip {
        /// Gossipsub's id for the message.
        message_id: MessageId,
        /// The peer that forwarded it.
        from: PeerId,
        /// The topic.
        topic: TopicHash,
    },
    /// Asked for: found missing by sync, or referenced by another event.
    Fetched {
        /// The peer that served it.
        from: PeerId,
    },
}

impl Origin {
    fn peer(&self) -> Option<PeerId> {
        match self {
            Origin::Local => None,
            Origin::Gossip { from, .. } | Origin::Fetched { from } => Some(*from),
        }
    }
}

/// What happened to a submitted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Handled by the store (stored, duplicate, pending, refused by a rule…).
    Store(IngestOutcome),
    /// Valid, but nobody on this node follows it: forwarded, not stored.
    NotRelevant,
    /// Refused before reaching the store; the code says why.
    Refused(&'static str),
}

struct Job {
    bytes: Vec<u8>,
    origin: Origin,
    reply: Option<oneshot::Sender<Verdict>>,
}

/// Who this node stores events for.
#[derive(Debug, Default)]
pub struct Interest {
    locals: HashSet<PublicKey>,
    follows: HashSet<PublicKey>,
    inboxes: HashSet<TopicHash>,
    /// Inbox hints whose envelopes are kept: the locals' and those of the
    /// mailboxes the operator keeps for others.
    mailboxes: HashSet<[u8; 32]>,
}

impl Interest {
    /// Builds the interest of `locals` from the follow graph in `store`.
    pub fn load(store: &Store, locals: &[PublicKey]) -> Result<Interest, kith_storage::StoreError> {
        let mut follows = HashSet::new();
        for l in locals {
            follows.extend(store.reader().follow_set(l)?);
        }
        Ok(Interest {
            locals: locals.iter().copied().collect(),
            follows,
            inboxes: locals
                .iter()
                .map(|k| libp2p::gossipsub::IdentTopic::new(topics::inbox_topic(k)).hash())
                .collect(),
            mailboxes: locals.iter().map(kith_protocol::dm::inbox_hint).collect(),
        })
    }

    /// Also keeps the mailboxes of `others` (identities hosted elsewhere
    /// whose envelopes this node holds until their node syncs them).
    pub fn with_mailboxes(mut self, others: &[PublicKey]) -> Interest {
        self.mailboxes
            .extend(others.iter().map(kith_protocol::dm::inbox_hint));
        self
    }

    /// The inbox hints whose envelopes are kept here.
    pub fn mailboxes(&self) -> Vec<[u8; 32]> {
        let mut m: Vec<[u8; 32]> = self.mailboxes.iter().copied().collect();
        m.sort_unstable();
        m
    }

    /// The identities hosted here.
    pub fn locals(&self) -> impl Iterator<Item = &PublicKey> {
        self.locals.iter()
    }

    /// The identities hosted here, as a list.
    pub fn local_keys(&self) -> Vec<PublicKey> {
        self.locals.iter().copied().collect()
    }

    /// Whether `key` is hosted here.
    pub fn is_local(&self, key: &PublicKey) -> bool {
        self.locals.contains(key)
    }

    /// Authors whose events this node keeps: its identities and whom they follow.
    pub fn authors(&self) -> Vec<PublicKey> {
        self.locals.union(&self.follows).copied().collect()
    }

    /// Whether an event received on `topic` is kept here.
    pub fn wants(&self, event: &Event, topic: Option<&TopicHash>) -> bool {
        if let kith_protocol::Payload::DirectMessage(dm) = event.payload() {
            return <[u8; 32]>::try_from(dm.inbox.as_slice())
                .is_ok_and(|h| self.mailboxes.contains(&h));
        }
        let author = event.author();
        self.locals.contains(&author)
            || self.follows.contains(&author)
            || topic.is_some_and(|t| self.inboxes.contains(t))
            || event
                .refs()
                .iter()
                .any(|r| matches!(r.target, RefTarget::Identity(k) if self.locals.contains(&k)))
    }

    /// The gossip topics to be on: shards of every author kept, and the
    /// inbox of every local identity.
    pub fn topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self.authors().iter().map(topics::author_topic).collect();
        t.extend(self.locals.iter().map(topics::inbox_topic));
        t.extend(self.mailboxes.iter().map(topics::mailbox_topic));
        t.extend(
            self.locals
                .iter()
                .map(|k| topics::typing_topic(&kith_protocol::dm::inbox_hint(k))),
        );
        t.sort();
        t.dedup();
        t
    }
}

/// Limits on what gossip peers may send.
#[derive(Debug, Clone)]
pub struct PeerLimits {
    /// Sustained messages per second.
    pub rate_per_sec: f64,
    /// Burst.
    pub burst: f64,
    /// Offences within `window` before a ban.
    pub ban_after: u32,
    /// Offence window.
    pub window: Duration,
    /// Ban length.
    pub ban_for: Duration,
}

impl Default for PeerLimits {
    fn default() -> Self {
        PeerLimits {
            rate_per_sec: 200.0,
            burst: 1000.0,
            ban_after: 5,
            window: Duration::from_secs(60),
            ban_for: Duration::from_secs(600),
        }
    }
}

#[derive(Debug)]
struct PeerState {
    tokens: f64,
    refilled: Instant,
    offences: Vec<Instant>,
    excess: u32,
}

/// Per-peer rate limits and offences, shared by gossip, sync and fetch; a
/// peer that keeps misbehaving is banned: disconnected and refused for
/// `ban_for`, its gossip ignored meanwhile.
#[derive(Debug)]
pub(crate) struct Peers {
    limits: PeerLimits,
    state: Mutex<HashMap<PeerId, PeerState>>,
    banned: Mutex<HashMap<PeerId, Instant>>,
    gossip: GossipHandle,
    stats: Arc<IngestStats>,
}

impl Peers {
    pub(crate) fn new(limits: PeerLimits, gossip: GossipHandle, stats: Arc<IngestStats>) -> Self {
        Peers {
            limits,
            state: Mutex::new(HashMap::new()),
            banned: Mutex::new(HashMap::new()),
            gossip,
            stats,
        }
    }

    fn ban(&self, peer: PeerId) {
        let until = Instant::now() + self.limits.ban_for;
        self.banned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(peer, until);
        self.stats.bump("banned_peers");
        tracing::warn!(%peer, "banning peer after repeated offences");
        self.gossip.set_app_score(peer, -1000.0);
        self.gossip.ban(peer, until);
    }

    fn with<T>(&self, peer: PeerId, f: impl FnOnce(&mut PeerState, &PeerLimits) -> T) -> T {
        let mut map = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let s = map.entry(peer).or_insert(PeerState {
            tokens: self.limits.burst,
            refilled: now,
            offences: Vec::new(),
            excess: 0,
        });
        f(s, &self.limits)
    }

    /// Takes one token; false if the peer is over its rate.
    pub(crate) fn admit(&self, peer: PeerId) -> bool {
        self.with(peer, |s, l| {
            let now = Instant::now();
            s.tokens = (s.tokens + now.duration_since(s.refilled).as_secs_f64() * l.rate_per_sec)
                .min(l.burst);
            s.refilled = now;
            if s.tokens >= 1.0 {
                s.tokens -= 1.0;
                true
            } else {
                false
            }
        })
    }

    /// Records an offence, and bans the peer once it has `ban_after` in the
    /// window (and is not banned already). Returns whether it was banned now.
    pub(crate) fn offence(&self, peer: PeerId) -> bool {
        let over = self.with(peer, |s, l| {
            let now = Instant::now();
            s.offences.retain(|t| now.duration_since(*t) < l.window);
            s.offences.push(now);
            s.offences.len() as u32 >= l.ban_after
        });
        if over && !self.is_banned(&peer) {
            self.ban(peer);
            return true;
        }
        false
    }

    /// Counts messages over the rate; every `burst / 10` of them is one offence.
    fn over_rate(&self, peer: PeerId) -> bool {
        let offence = self.with(peer, |s, l| {
            s.excess += 1;
            if f64::from(s.excess) >= (l.burst / 10.0).max(1.0) {
                s.excess = 0;
                true
            } else {
                false
            }
        });
        offence && self.offence(peer)
    }

    /// The offence count in the current window.
    pub(crate) fn offences(&self, peer: PeerId) -> usize {
        self.with(peer, |s, l| {
            let now = Instant::now();
            s.offences.retain(|t| now.duration_since(*t) < l.window);
            s.offences.len()
        })
    }

    /// Whether the peer is banned now (bans expire after `ban_for`).
    pub(crate) fn is_banned(&self, peer: &PeerId) -> bool {
        let mut banned = self.banned.lock().unwrap_or_else(PoisonError::into_inner);
        match banned.get(peer) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                banned.remove(peer);
                // Served its time: its gossip score starts over.
                self.gossip.set_app_score(*peer, 0.0);
                false
            }
            None => false,
        }
    }
}

/// Counters of the pipeline, by outcome and by refusal reason.
#[derive(Debug, Default)]
pub struct IngestStats {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl IngestStats {
    fn bump(&self, what: &'static str) {
        self.add(what, 1);
    }

    /// Adds `n` to a counter (traffic in bytes, sessions…).
    pub(crate) fn add(&self, what: &'static str, n: u64) {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(what)
            .or_default() += n;
    }

    /// A snapshot: name → count.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// One counter.
    pub fn get(&self, what: &str) -> u64 {
        self.snapshot().get(what).copied().unwrap_or(0)
    }
}

/// A request to fetch what an event waits for, from a peer that probably
/// has it: an event by id, or the delegations an author made.
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest {
    /// What is missing.
    pub want: Dependency,
    /// Who to ask first.
    pub hint: Option<PeerId>,
}

/// Handle for submitting events.
#[derive(Debug, Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Job>,
    stats: Arc<IngestStats>,
}

impl Ingest {
    /// Submits envelope bytes and waits for the verdict.
    pub async fn submit(&self, bytes: Vec<u8>, origin: Origin) -> Verdict {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            bytes,
            origin,
            reply: Some(reply),
        };
        if self.tx.send(job).await.is_err() {
            return Verdict::Refused("stopped");
        }
        rx.await.unwrap_or(Verdict::Refused("stopped"))
    }

    /// Submits without waiting for the verdict (waits only for queue room).
    pub async fn feed(&self, bytes: Vec<u8>, origin: Origin) -> bool {
        self.tx
            .send(Job {
                bytes,
                origin,
                reply: None,
            })
            .await
            .is_ok()
    }

    /// The pipeline's counters.
    pub fn stats(&self) -> &IngestStats {
        &self.stats
    }
}

pub(crate) struct Pipeline {
    pub(crate) store: Store,
    pub(crate) gossip: GossipHandle,
    pub(crate) interest: Arc<RwLock<Interest>>,
    pub(crate) peers: Arc<Peers>,
    pub(crate) fetch: mpsc::UnboundedSender<FetchRequest>,
    pub(crate) on_local_change: mpsc::UnboundedSender<()>,
    pub(crate) stats: Arc<IngestStats>,
    /// Local events the store parked; published when it releases them.
    pub(crate) waiting_local: Arc<Mutex<HashSet<EventId>>>,
}

/// Events handled per round; bigger rounds verify more efficiently.
const ROUND: usize = 512;

impl Pipeline {
    /// Starts the pipeline; the tasks are the node's to stop.
    pub(crate) fn spawn(self, queue: usize) -> (Ingest, Vec<tokio::task::JoinHandle<()>>) {
        let (tx, rx) = mpsc::channel(queue);
        let stats = self.stats.clone();
        let released = tokio::spawn(publish_released(
            self.store.clone(),
            self.gossip.clone(),
            self.waiting_local.clone(),
            stats.clone(),
        ));
        let run = tokio::spawn(self.run(rx, stats.clone()));
        (Ingest { tx, stats }, vec![released, run])
    }

    async fn run(self, mut rx: mpsc::Receiver<Job>, stats: Arc<IngestStats>) {
        let mut jobs = Vec::with_capacity(ROUND);
        while rx.recv_many(&mut jobs, ROUND).await > 0 {
            self.round(std::mem::take(&mut jobs), &stats).await;
        }
    }

    fn report(&self, origin: &Origin, acceptance: MessageAcceptance) {
        if let Origin::Gossip {
            message_id, from, ..
        } = origin
        {
            self.gossip.report(message_id.clone(), *from, acceptance);
        }
    }

    fn refuse(&self, job: Job, code: &'static str, stats: &IngestStats, intrinsic: bool) {
        stats.bump(code);
        if intrinsic {
            self.report(&job.origin, MessageAcceptance::Reject);
            if let Some(peer) = job.origin.peer() {
                self.peers.offence(peer);
            }
        } else {
            self.report(&job.origin, MessageAcceptance::Ignore);
        }
        if let Some(r) = job.reply {
            let _ = r.send(Verdict::Refused(code));
        }
    }

    async fn round(&self, jobs: Vec<Job>, stats: &IngestStats) {
        // 1. Rate limits (gossip only) and decoding.
        let mut decoded = Vec::with_capacity(jobs.len());
        for job in jobs {
            if let Origin::Gossip { from, .. } = &job.origin {
                let from = *from;
                stats.bump("gossip_received");
                stats.add("gossip_bytes_received", job.bytes.len() as u64);
                if self.peers.is_banned(&from) {
                    self.refuse(job, "peer_banned", stats, false);
                    continue;
                }
                if !self.peers.admit(from) {
                    self.peers.over_rate(from);
                    self.refuse(job, "rate_limited", stats, false);
                    continue;
                }
            }
            match Unverified::decode(&job.bytes) {
                Ok(u) => decoded.push((job, u)),
                // A kind newer than this node is not the sender's fault.
                Err(e @ EventError::UnknownKind(_)) => self.refuse(job, e.code(), stats, false),
                Err(e) => self.refuse(job, e.code(), stats, true),
            }
        }
        if decoded.is_empty() {
            return;
        }
        // 2. Signatures, as one batch on the blocking pool.
        let (jobs, unverified): (Vec<Job>, Vec<Unverified>) = decoded.into_iter().unzip();
        let verified = match tokio::task::spawn_blocking(move || verify_batch(unverified)).await {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "verification task failed");
                for job in jobs {
                    self.refuse(job, "internal", stats, false);
                }
                return;
            }
        };
        // 3. Clock and relevance.
        let now = crate::now_ms();
        let mut to_store: Vec<(Job, Event)> = Vec::new();
        for (job, result) in jobs.into_iter().zip(verified) {
            let event = match result {
                Ok(e) => e,
                Err(e) => {
                    self.refuse(job, e.code(), stats, true);
                    continue;
                }
            };
            if let Err(e @ EventError::ClockSkew { .. }) =
                event.check_clock(now, kith_protocol::DEFAULT_MAX_FUTURE_SKEW_MS)
            {
                self.refuse(job, e.code(), stats, false);
                continue;
            }
            // The store checks expiry on the wall clock; the node's clock
            // (which follows tokio's) decides here, so both agree.
            if crate::stories::expired(&event, now) {
                stats.bump("expired");
                self.report(&job.origin, MessageAcceptance::Ignore);
                if let Some(r) = job.reply {
                    let _ = r.send(Verdict::Store(IngestOutcome::Expired));
                }
                continue;
            }
            let relevant = match &job.origin {
                Origin::Gossip { topic, .. } => self
                    .interest
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .wants(&event, Some(topic)),
                Origin::Local | Origin::Fetched { .. } => true,
            };
            if relevant {
                to_store.push((job, event));
            } else {
                stats.bump("not_relevant");
                self.report(&job.origin, MessageAcceptance::Accept);
                if let Some(r) = job.reply {
                    let _ = r.send(Verdict::NotRelevant);
                }
            }
        }
        if to_store.is_empty() {
            return;
        }
        // 4. Store, atomically and durably.
        let (jobs, events): (Vec<Job>, Vec<Event>) = to_store.into_iter().unzip();
        let outcomes = match self.store.ingest(events.clone()).await {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "store refused a batch");
                for job in jobs {
                    self.refuse(job, "store_error", stats, false);
                }
                return;
            }
        };
        // 5. Verdicts, fan-out, follow-ups.
        let mut local_changed = false;
        for ((job, event), outcome) in jobs.into_iter().zip(events).zip(outcomes) {
            let acceptance = match &outcome {
                IngestOutcome::Stored { .. } => {
                    stats.bump("stored");
                    // Only follows change whom we keep; reloading the
                    // interest on every post of a hosted identity cost a
                    // fifth of the CPU with a thousand accounts.
                    let changes_interest = matches!(
                        event.kind(),
                        kith_protocol::Kind::Follow | kith_protocol::Kind::Unfollow
                    ) && self
                        .interest
                        .read()
                        .unwrap_or_else(PoisonError::into_inner)
                        .locals
                        .contains(&event.author());
                    local_changed |= changes_interest;
                    self.fetch_missing_refs(&event, job.origin.peer(), stats);
                    if matches!(job.origin, Origin::Local) {
                        self.publish(&event, stats).await;
                    }
                    MessageAcceptance::Accept
                }
                // Valid and already here (from another topic, or sync):
                // still forwarded on the topic it came by.
                IngestOutcome::Duplicate => {
                    stats.bump("duplicate");
                    MessageAcceptance::Accept
                }
                IngestOutcome::Pending { waiting_for } => {
                    stats.bump("pending");
                    if matches!(job.origin, Origin::Local) {
                        // Bounded: the store's own waiting room is bounded too.
                        let mut w = self
                            .waiting_local
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner);
                        if w.len() < 100_000 {
                            w.insert(event.id());
                        }
                    }
                    // A delegated event from someone this node does not
                    // follow waits for the author's delegation, which only
                    // a sync of their delegations brings.
                    let _ = self.fetch.send(FetchRequest {
                        want: *waiting_for,
                        hint: job.origin.peer(),
                    });
                    MessageAcceptance::Accept
                }
                IngestOutcome::Rejected(e) => {
                    stats.bump(e.code());
                    MessageAcceptance::Ignore
                }
                IngestOutcome::Deleted => {
                    stats.bump("deleted");
                    MessageAcceptance::Ignore
                }
                IngestOutcome::Expired => {
                    stats.bump("expired");
                    MessageAcceptance::Ignore
                }
                _ => {
                    stats.bump("overloaded");
                    MessageAcceptance::Ignore
                }
            };
            self.report(&job.origin, acceptance);
            if let Some(r) = job.reply {
                let _ = r.send(Verdict::Store(outcome));
            }
        }
        if local_changed {
            let _ = self.on_local_change.send(());
        }
    }

    /// Asks for the events a stored event answers or quotes (the parent and
    /// root of a reply, the target of a quote or repost) if they are not
    /// here, so a thread is readable without waiting for sync.
    fn fetch_missing_refs(&self, event: &Event, hint: Option<PeerId>, stats: &IngestStats) {
        use kith_protocol::{Kind, Rel};
        let wanted = |rel: Rel| match event.kind() {
            Kind::Reply => matches!(rel, Rel::Root | Rel::Parent),
            Kind::Quote | Kind::Repost => rel == Rel::Target,
            _ => false,
        };
        let reader = self.store.reader();
        for r in event.refs() {
            let RefTarget::Event(id) = r.target else {
                continue;
            };
            if !wanted(r.rel)
                || reader.contains(&id).unwrap_or(true)
                || reader.tombstone(&id).ok().flatten().is_some()
            {
                continue;
            }
            stats.bump("fetch_requested");
            let _ = self.fetch.send(FetchRequest {
                want: Dependency::Event(id),
                hint,
            });
        }
    }

    async fn publish(&self, event: &Event, stats: &IngestStats) {
        publish(&self.store, &self.gossip, event, stats).await;
    }
}

/// Publishes a locally submitted event on every topic it belongs to.
async fn publish(store: &Store, gossip: &GossipHandle, event: &Event, stats: &IngestStats) {
    // The authors of the events it answers get it in their inbox.
    let mut notify = Vec::new();
    for r in event.refs() {
        if let RefTarget::Event(id) = r.target
            && let Ok(Some(target)) = store.reader().get(&id)
        {
            notify.push(target.author());
        }
    }
    // A trade's steps and reviews reach both parties, whoever took the
    // step before (`specs/trades.md` § Propagation).
    if matches!(
        event.kind(),
        kith_protocol::Kind::TradeUpdate | kith_protocol::Kind::Review
    ) && let Some(order) = event.event_ref(kith_protocol::Rel::Order)
        && let Ok(Some(trade)) = store.reader().trade(&order)
    {
        notify.extend([trade.seller, trade.buyer]);
    }
    for topic in topics::topics_for(event, &notify) {
        match gossip.publish(&topic, event.as_bytes().to_vec()).await {
            Ok(_) => stats.bump("published"),
            // Nobody on the topic yet: sync delivers it when they come.
            Err(e) => {
                stats.bump("publish_no_peers");
                tracing::debug!(%topic, error = %e, "not published");
            }
        }
    }
}

/// Publishes local events that waited for a dependency once the store
/// releases them (it announces every event it stores, released ones too).
async fn publish_released(
    store: Store,
    gossip: GossipHandle,
    waiting: Arc<Mutex<HashSet<EventId>>>,
    stats: Arc<IngestStats>,
) {
    let mut stored = store.subscribe();
    loop {
        let event = match stored.recv().await {
            Ok(s) => s.event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => break,
        };
        let was_waiting = waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&event.id());
        if was_waiting {
            publish(&store, &gossip, &event, &stats).await;
        }
    }
}
