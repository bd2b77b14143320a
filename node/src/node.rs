//! The node: store, network, ingest pipeline, sync and fetch, wired
//! together and started from a data directory and a [`Config`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use futures::StreamExt;
use kith_protocol::{Event, EventId, Keypair, Kind, PublicKey, UnsignedEvent};
use kith_storage::{IngestOutcome, Store, StoreConfig};
use rust_ipfs::{Ipfs, Multiaddr, PeerId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::identity;
use crate::ingest::{Ingest, IngestStats, Interest, Origin, PeerLimits, Peers, Pipeline, Verdict};
use crate::net::{self, GossipEvent, GossipHandle, NetConfig};
use crate::notify::Notifications;
use crate::sync::{self, Scope, SyncError, SyncReport};
use crate::trending::Trending;

/// Events waiting in the ingest queue before submitters wait.
const INGEST_QUEUE: usize = 8192;

/// A running node.
#[derive(Debug)]
pub struct Node {
    data_dir: PathBuf,
    identity: Keypair,
    store: Store,
    ipfs: Ipfs,
    peer_id: PeerId,
    listen: Vec<Multiaddr>,
    gossip: GossipHandle,
    ingest: Ingest,
    /// Asks peers for missing events.
    fetch: mpsc::UnboundedSender<crate::ingest::FetchRequest>,
    interest: Arc<RwLock<Interest>>,
    peers: Arc<Peers>,
    trending: Arc<Trending>,
    notifications: Arc<Notifications>,
    media: crate::media::Media,
    /// The Kith–Nostr bridge, when one runs (set by its starter).
    bridge: std::sync::OnceLock<Arc<dyn crate::bridge::NostrBridge>>,
    /// Direct messages of the hosted identities.
    messenger: Arc<crate::dm::Messenger>,
    /// Identities hosted elsewhere whose mailboxes this node keeps.
    mailboxes: Arc<Vec<PublicKey>>,
    /// How long envelopes are kept, and how many bytes per identity.
    retention: crate::config::MessagesSection,
    tasks: Vec<JoinHandle<()>>,
}

/// Settings that are not in the config file (tests and embedders).
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Keep IPFS blocks in memory instead of `<data dir>/ipfs`.
    pub memory_blocks: bool,
    /// Reconcile with every peer as soon as it connects (default true;
    /// benchmarks turn it off to time one session by itself).
    pub sync_on_connect: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            memory_blocks: false,
            sync_on_connect: true,
        }
    }
}

impl Node {
    /// Starts a node: opens (or creates) the identity and the store in
    /// `data_dir`, starts the network and every background task.
    pub async fn start(
        data_dir: &Path,
        config: &Config,
        options: StartOptions,
    ) -> anyhow::Result<Node> {
        let (identity, _) = identity::load_or_create(data_dir)?;
        let (network_key, _) = identity::load_or_create_file(data_dir, identity::NETWORK_KEY_FILE)?;

        let mut store_config = StoreConfig::new(data_dir);
        store_config.cache_bytes = config.store.cache_mb << 20;
        store_config.flush_interval = config.flush_interval();
        // Stories expire on the node's clock (crate::stories::run_expiry).
        store_config.expiry_interval = None;
        store_config.clock = crate::now_ms;
        let store = tokio::task::spawn_blocking(move || Store::open(store_config)).await??;

        let net_config = NetConfig {
            listen: config.network.listen.clone(),
            bootstrap: config.network.bootstrap.clone(),
            mdns: config.network.mdns,
            relay_server: config.network.relay_server,
            gossip: crate::net::GossipConfig {
                ban_after: config.gossip.ban_after,
                ..crate::net::GossipConfig::default()
            },
            ..NetConfig::default()
        };
        let repo = (!options.memory_blocks).then(|| data_dir.join("ipfs"));
        let network = net::start(*network_key.seed(), repo.as_deref(), &net_config).await?;

        let mailboxes = Arc::new(config.messages.mailbox_keys()?);
        let interest = Arc::new(RwLock::new(
            Interest::load(&store, &[identity.public()])?.with_mailboxes(&mailboxes),
        ));
        let limits = PeerLimits {
            rate_per_sec: f64::from(config.gossip.rate_per_sec),
            burst: f64::from(config.gossip.burst),
            ban_after: config.gossip.ban_after,
            window: Duration::from_secs(config.gossip.ban_window_secs),
            ban_for: Duration::from_secs(config.gossip.ban_secs),
        };
        let stats = Arc::new(IngestStats::default());
        let peers = Arc::new(Peers::new(limits, network.gossip.clone(), stats.clone()));
        let (fetch_tx, fetch_rx) = mpsc::unbounded_channel();
        let (changed_tx, changed_rx) = mpsc::unbounded_channel();
        let ingest = Pipeline {
            store: store.clone(),
            gossip: network.gossip.clone(),
            interest: interest.clone(),
            peers: peers.clone(),
            fetch: fetch_tx.clone(),
            on_local_change: changed_tx,
            stats,
            waiting_local: Arc::default(),
        }
        .spawn(INGEST_QUEUE);
        let (ingest, pipeline_tasks) = ingest;
        let notifications = {
            let (dir, reader, me) = (
                data_dir.to_path_buf(),
                store.reader().clone(),
                identity.public(),
            );
            Arc::new(
                tokio::task::spawn_blocking(move || Notifications::open(&dir, reader, &[me]))
                    .await??,
            )
        };

        let media =
            crate::media::Media::start(data_dir, network.ipfs.clone(), &config.media).await?;

        let messenger = Arc::new(crate::dm::Messenger::open(data_dir, store.clone())?);
        let mut node = Node {
            data_dir: data_dir.to_path_buf(),
            identity,
            store,
            ipfs: network.ipfs.clone(),
            peer_id: network.peer_id,
            listen: network.listen.clone(),
            gossip: network.gossip.clone(),
            ingest,
            fetch: fetch_tx,
            interest,
            peers,
            trending: Arc::new(Trending::new()),
            notifications,
            media,
            bridge: std::sync::OnceLock::new(),
            messenger,
            mailboxes,
            retention: config.messages.clone(),
            tasks: pipeline_tasks,
        };
        node.subscribe_topics().await;

        let sync_every =
            (config.sync.interval_secs > 0).then(|| Duration::from_secs(config.sync.interval_secs));
        node.tasks.push(tokio::spawn(node.gossip_loop(
            network.events,
            sync_every,
            options.sync_on_connect,
        )));
        let (ipfs, store, peers) = (node.ipfs.clone(), node.store.clone(), node.peers.clone());
        node.tasks.push(tokio::spawn(async move {
            if let Err(e) = sync::serve(ipfs, store, peers).await {
                tracing::error!(error = %e, "sync server stopped");
            }
        }));
        node.tasks.push(tokio::spawn(sync::fetcher(
            node.ipfs.clone(),
            node.ingest.clone(),
            node.store.clone(),
            node.peers.clone(),
            fetch_rx,
        )));
        node.tasks
            .push(tokio::spawn(node.interest_loop(changed_rx)));
        node.tasks.push(tokio::spawn(node.discovery_loop()));
        node.tasks.push(tokio::spawn(crate::stories::run_expiry(
            node.store.clone(),
            crate::stories::EXPIRY_EVERY,
        )));
        node.tasks
            .push(tokio::spawn(retention_loop(node.retention_handle())));
        node.tasks.push(tokio::spawn(trending_loop(
            node.store.clone(),
            node.trending.clone(),
        )));
        node.tasks.push(tokio::spawn(crate::notify::follow(
            node.store.clone(),
            node.notifications.clone(),
        )));
        node.tasks
            .push(tokio::spawn(node.media.clone().run_worker()));
        node.tasks.push(tokio::spawn(followed_media_loop(
            node.store.clone(),
            node.interest.clone(),
            node.media.clone(),
        )));
        tracing::info!(peer_id = %node.peer_id, identity = %node.identity.public(), "node started");
        Ok(node)
    }

    /// Joins the gossip topics the current interest needs.
    async fn subscribe_topics(&self) {
        let topics = self
            .interest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .topics();
        for t in topics {
            if let Err(e) = self.gossip.subscribe(&t).await {
                tracing::warn!(topic = %t, error = %e, "cannot subscribe");
            }
        }
    }

    /// Turns gossip events into pipeline jobs and syncs with new peers.
    fn gossip_loop(
        &self,
        mut events: futures::channel::mpsc::Receiver<GossipEvent>,
        sync_every: Option<Duration>,
        sync_on_connect: bool,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let ingest = self.ingest.clone();
        let syncer = self.syncer();
        let (messenger, interest, gossip, peers) = (
            self.messenger.clone(),
            self.interest.clone(),
            self.gossip.clone(),
            self.peers.clone(),
        );
        async move {
            let mut tick = tokio::time::interval(sync_every.unwrap_or(Duration::from_secs(3600)));
            tick.tick().await;
            let mut round: Option<JoinHandle<()>> = None;
            loop {
                tokio::select! {
                    ev = events.next() => match ev {
                        // Typing indicators are seals, not events: relayed
                            // when of the one possible size, opened by the
                            // identity they are for, never stored.
                            Some(GossipEvent::Message(m)) if crate::topics::is_typing_topic(m.topic.as_str()) => {
                                use libp2p::gossipsub::MessageAcceptance as Acceptance;
                                // The same limits as events: banned peers and
                                // peers over their rate are not relayed.
                                if peers.is_banned(&m.from) || !peers.admit(m.from) {
                                    gossip.report(m.message_id, m.from, Acceptance::Ignore);
                                    continue;
                                }
                                let fits = m.data.len() == kith_protocol::dm::BUCKETS[0] + kith_protocol::dm::SEAL_OVERHEAD;
                                let acceptance = if fits {
                                    Acceptance::Accept
                                } else {
                                    let _ = peers.offence(m.from);
                                    Acceptance::Reject
                                };
                                gossip.report(m.message_id, m.from, acceptance);
                                if fits {
                                    let locals = interest
                                        .read()
                                        .unwrap_or_else(PoisonError::into_inner)
                                        .local_keys();
                                    let topic = m.topic.as_str().to_owned();
                                    let messenger = messenger.clone();
                                    tokio::task::spawn_blocking(move || {
                                        for me in locals {
                                            let hint = kith_protocol::dm::inbox_hint(&me);
                                            if crate::topics::typing_topic(&hint) == topic {
                                                messenger.take_typing(&me, &m.data, crate::now_ms());
                                            }
                                        }
                                    });
                                }
                            }
                        Some(GossipEvent::Message(m)) => {
                            let origin = Origin::Gossip { message_id: m.message_id, from: m.from, topic: m.topic };
                            if !ingest.feed(m.data, origin).await {
                                break;
                            }
                        }
                        Some(GossipEvent::Connected(peer)) if sync_on_connect => {
                            let syncer = syncer.clone();
                            tokio::spawn(async move {
                                // Let identify and protocol negotiation settle first.
                                tokio::time::sleep(Duration::from_millis(200)).await;
                                syncer.run(peer).await;
                            });
                        }
                        Some(GossipEvent::Connected(_) | GossipEvent::Subscribed { .. }) => {}
                        None => break,
                    },
                    // Off this loop, so gossip keeps flowing while it runs;
                    // one round at a time.
                    _ = tick.tick(), if sync_every.is_some() => {
                        if !round.as_ref().is_none_or(JoinHandle::is_finished) {
                            continue; // the last round is still running
                        }
                        let syncer = syncer.clone();
                        round = Some(tokio::spawn(async move {
                            for peer in syncer.ipfs.connected().await.unwrap_or_default() {
                                syncer.run(peer).await;
                            }
                        }));
                    }
                }
            }
        }
    }

    fn syncer(&self) -> Syncer {
        Syncer {
            ipfs: self.ipfs.clone(),
            store: self.store.clone(),
            ingest: self.ingest.clone(),
            interest: self.interest.clone(),
            peers: self.peers.clone(),
            keep_ms: self.retention.keep_ms(),
        }
    }

    /// Recomputes who we store for when a local identity's follows change.
    fn interest_loop(
        &self,
        mut changed: mpsc::UnboundedReceiver<()>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (store, interest, gossip, mailboxes) = (
            self.store.clone(),
            self.interest.clone(),
            self.gossip.clone(),
            self.mailboxes.clone(),
        );
        let syncer = self.syncer();
        async move {
            while changed.recv().await.is_some() {
                while changed.try_recv().is_ok() {}
                let locals = interest
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .local_keys();
                let fresh = match Interest::load(&store, &locals) {
                    Ok(i) => i.with_mailboxes(&mailboxes),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot reload follows");
                        continue;
                    }
                };
                let (old, new, added) = {
                    let mut guard = interest.write().unwrap_or_else(PoisonError::into_inner);
                    let old = guard.topics();
                    let before: std::collections::HashSet<PublicKey> =
                        guard.authors().into_iter().collect();
                    *guard = fresh;
                    let added: Vec<PublicKey> = guard
                        .authors()
                        .into_iter()
                        .filter(|a| !before.contains(a))
                        .collect();
                    (old, guard.topics(), added)
                };
                // Someone newly followed: catch up on what they said before,
                // from the peers we are connected to, now rather than at the
                // next periodic sync.
                if !added.is_empty() {
                    let syncer = syncer.clone();
                    tokio::spawn(async move { syncer.catch_up(added).await });
                }
                for t in new.iter().filter(|t| !old.contains(t)) {
                    let _ = gossip.subscribe(t).await;
                }
                for t in old.iter().filter(|t| !new.contains(t)) {
                    let _ = gossip.unsubscribe(t);
                }
            }
        }
    }

    /// Topic discovery through the DHT: announce every topic we are on, and
    /// dial providers of topics where we know too few peers. Every 3 s
    /// for the first half minute, then every 30 s; each step is bounded in time.
    fn discovery_loop(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (ipfs, interest, gossip, me) = (
            self.ipfs.clone(),
            self.interest.clone(),
            self.gossip.clone(),
            self.peer_id,
        );
        async move {
            // What was announced when; announced again after ten minutes,
            // so an announcement made before the routing table filled is
            // not lost for good (kademlia republishes successful ones).
            let mut announced: std::collections::HashMap<String, std::time::Instant> =
                std::collections::HashMap::new();
            let mut backoff: std::collections::HashMap<String, (std::time::Instant, Duration)> =
                std::collections::HashMap::new();
            let mut due = |name: String| {
                let now = std::time::Instant::now();
                match announced.get(&name) {
                    Some(t) if now.duration_since(*t) < Duration::from_secs(600) => false,
                    _ => {
                        announced.insert(name, now);
                        true
                    }
                }
            };
            // Quick rounds while the node is new, then every 30 s.
            for round in 0u32.. {
                let pause = if round < 10 { 3 } else { 30 };
                tokio::time::sleep(Duration::from_secs(pause)).await;
                if ipfs.connected().await.map(|c| c.is_empty()).unwrap_or(true) {
                    continue;
                }
                let (topics, locals): (Vec<String>, Vec<PublicKey>) = {
                    let i = interest.read().unwrap_or_else(PoisonError::into_inner);
                    (i.topics(), i.locals().copied().collect())
                };
                for key in locals.iter().map(crate::topics::host_key) {
                    if due(hex::encode(&key)) {
                        let ipfs = ipfs.clone();
                        tokio::spawn(async move {
                            let _ = tokio::time::timeout(
                                Duration::from_secs(20),
                                ipfs.dht_provide(key),
                            )
                            .await;
                        });
                    }
                }
                for topic in topics {
                    let key = crate::topics::provider_key(&topic);
                    if due(topic.clone()) {
                        let ipfs = ipfs.clone();
                        let key = key.clone();
                        tokio::spawn(async move {
                            let _ = tokio::time::timeout(
                                Duration::from_secs(20),
                                ipfs.dht_provide(key),
                            )
                            .await;
                        });
                    }
                    if gossip.topic_peers(&topic).await.len() >= 3 {
                        continue;
                    }
                    // Back off on topics where lookups find nobody new:
                    // 3 s, then doubling up to 5 minutes.
                    let now = std::time::Instant::now();
                    let (next, wait) = backoff
                        .get(&topic)
                        .copied()
                        .unwrap_or((now, Duration::from_secs(3)));
                    if now < next {
                        continue;
                    }
                    let Ok(Ok(mut found)) =
                        tokio::time::timeout(Duration::from_secs(5), ipfs.dht_get_providers(key))
                            .await
                    else {
                        continue;
                    };
                    let mut dialed = 0;
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                    while let Ok(Some(Ok(set))) =
                        tokio::time::timeout_at(deadline, found.next()).await
                    {
                        for peer in set {
                            if peer == me
                                || dialed >= 4
                                || ipfs.is_connected(peer).await.unwrap_or(true)
                            {
                                continue;
                            }
                            dialed += 1;
                            let _ = ipfs.connect(peer).await;
                        }
                    }
                    let wait = if dialed > 0 {
                        Duration::from_secs(3)
                    } else {
                        (wait * 2).min(Duration::from_secs(300))
                    };
                    backoff.insert(topic, (std::time::Instant::now() + wait, wait));
                }
            }
        }
    }

    /// Signs `event` with the node's identity and ingests it; a stored event
    /// is published on gossip.
    pub async fn publish(&self, event: UnsignedEvent) -> anyhow::Result<(Event, Verdict)> {
        let event = event.sign(&self.identity)?;
        let verdict = self
            .ingest
            .submit(event.as_bytes().to_vec(), Origin::Local)
            .await;
        Ok((event, verdict))
    }

    /// Asks the peers for an event this node does not have (a listing
    /// opened by its id, say) and waits up to `within` for it to be
    /// stored; whether it is here.
    pub async fn fetch_event(&self, id: EventId, within: Duration) -> bool {
        let reader = self.store.reader();
        if reader.contains(&id).unwrap_or(false) {
            return true;
        }
        let _ = self.fetch.send(crate::ingest::FetchRequest {
            want: kith_storage::Dependency::Event(id),
            hint: None,
        });
        let deadline = tokio::time::Instant::now() + within;
        let mut stored = self.store.subscribe();
        loop {
            if reader.contains(&id).unwrap_or(false) {
                return true;
            }
            match tokio::time::timeout_at(deadline, stored.recv()).await {
                Err(_) => return false,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return false,
                Ok(_) => {}
            }
        }
    }

    /// Whether `who` can be written to: their DM key is known here, or
    /// was just fetched from their hosts and the peers.
    pub async fn reachable_by_letter(&self, who: PublicKey) -> bool {
        if matches!(self.messenger.published_key(&who), Ok(Some(_))) {
            return true;
        }
        self.fetch_profile(who).await;
        matches!(self.messenger.published_key(&who), Ok(Some(_)))
    }

    /// Direct messages of the hosted identities.
    pub fn messenger(&self) -> &crate::dm::Messenger {
        &self.messenger
    }

    /// Seals `letter` for its recipients and the sender's own mailbox and
    /// submits the envelopes: stored here, published on each recipient's
    /// mailbox topic (`specs/messages.md` § Sending).
    pub async fn send_letter(
        &self,
        sender: &Keypair,
        letter: kith_protocol::dm::Letter,
    ) -> Result<kith_protocol::dm::SignedLetter, crate::dm::MessageError> {
        let mut asked = Vec::new();
        let (signed, envelopes) = loop {
            match self.messenger.seal(sender, letter.clone(), crate::now_ms()) {
                // A recipient whose profile is not here yet: ask its hosts
                // and the peers for it (a scoped sync), then try again.
                Err(crate::dm::MessageError::NoDmKey(who)) if !asked.contains(&who) => {
                    asked.push(who);
                    self.fetch_profile(who).await;
                }
                other => break other?,
            }
        };
        // All at once: the store takes them in one group commit, and each
        // is published as soon as it is stored.
        let verdicts = futures::future::join_all(
            envelopes
                .iter()
                .map(|env| self.ingest.submit(env.as_bytes().to_vec(), Origin::Local)),
        )
        .await;
        for verdict in verdicts {
            match verdict {
                Verdict::Store(IngestOutcome::Stored { .. } | IngestOutcome::Duplicate) => {}
                Verdict::Refused(code) => return Err(crate::dm::MessageError::NotAllowed(code)),
                _ => return Err(crate::dm::MessageError::NotAllowed("envelope_not_stored")),
            }
        }
        Ok(signed)
    }

    /// Applies the retention of sealed-message envelopes at `now` (ms;
    /// `specs/messages.md` § 7.4): envelopes for identities this node does
    /// not host (mailboxes kept for others, copies of letters sent to
    /// others) go after `keep_days`; a hosted identity's mailbox, which is
    /// its history, keeps at most `quota_mb`, the oldest going first.
    /// Returns how many envelopes were removed.
    pub async fn enforce_retention(&self, now: u64) -> Result<usize, kith_storage::StoreError> {
        self.retention_handle().enforce(now).await
    }

    fn retention_handle(&self) -> Retention {
        Retention {
            store: self.store.clone(),
            interest: self.interest.clone(),
            config: self.retention.clone(),
        }
    }

    /// Asks connected peers for `who`'s profiles (a scoped sync), until
    /// one of them has a DM key.
    async fn fetch_profile(&self, who: PublicKey) {
        let mut peers = self.connected_peers().await;
        peers.truncate(8);
        // The nodes that announce hosting them, which may not be connected.
        for host in self.find_hosts(&who).await.into_iter().take(4) {
            if !peers.contains(&host) {
                peers.insert(0, host);
            }
        }
        tracing::debug!(?peers, %who, "asking for a profile");
        for peer in peers {
            let scope = Scope {
                authors: vec![who],
                kinds: vec![Kind::Profile],
                until: u64::MAX,
                ..Scope::default()
            };
            match self.sync_scope(peer, scope).await {
                Ok(report) if report.fetched > 0 => {
                    // Fetched events go through the ingest queue: wait
                    // (briefly) for the profile to be stored.
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
                    while tokio::time::Instant::now() < deadline {
                        if matches!(self.messenger.published_key(&who), Ok(Some(_))) {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                Ok(report) => tracing::debug!(%peer, ?report, "no profile from this peer"),
                Err(e) => tracing::debug!(%peer, error = %e, "profile fetch failed"),
            }
        }
    }

    /// Tells `to` that `sender` is typing (`specs/messages.md` § Typing):
    /// a sealed typing letter per recipient, handed over directly to those
    /// hosted here and published on the others' typing topics. Best effort:
    /// recipients without a known DM key are skipped; nothing is stored.
    pub async fn send_typing(
        &self,
        sender: &Keypair,
        to: Vec<PublicKey>,
        group: Option<kith_protocol::dm::GroupId>,
    ) -> Result<usize, crate::dm::MessageError> {
        let now = crate::now_ms();
        let sealed = self.messenger.seal_typing(sender, to, group, now)?;
        let mut sent = 0;
        for (who, ct) in sealed {
            if self.hosts(&who) {
                sent += usize::from(self.messenger.take_typing(&who, &ct, now));
                continue;
            }
            let topic = crate::topics::typing_topic(&kith_protocol::dm::inbox_hint(&who));
            match self.gossip.publish(&topic, ct).await {
                Ok(_) => sent += 1,
                Err(e) => tracing::debug!(%topic, error = %e, "typing indicator not published"),
            }
        }
        Ok(sent)
    }

    /// Hosts another identity on this node (a gateway account): its events,
    /// those of whom it follows and its inbox are kept, and the node joins
    /// their gossip topics. Idempotent.
    pub fn host(&self, key: PublicKey) -> anyhow::Result<()> {
        self.notifications.host(key)?;
        let fresh = {
            let guard = self.interest.read().unwrap_or_else(PoisonError::into_inner);
            if guard.is_local(&key) {
                return Ok(());
            }
            let mut locals: Vec<PublicKey> = guard.locals().copied().collect();
            locals.push(key);
            locals
        };
        let interest = Interest::load(&self.store, &fresh)?.with_mailboxes(&self.mailboxes);
        // The interest loop diffs topics against what is in place, so the
        // swap happens there; here the new set is installed before the
        // signal so no event of the new identity is judged irrelevant.
        let old_topics = {
            let mut guard = self
                .interest
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let old = guard.topics();
            *guard = interest;
            old
        };
        let new_topics = self
            .interest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .topics();
        let gossip = self.gossip.clone();
        tokio::spawn(async move {
            for t in new_topics.iter().filter(|t| !old_topics.contains(t)) {
                let _ = gossip.subscribe(t).await;
            }
        });
        Ok(())
    }

    /// Whether `key` is hosted on this node.
    pub fn hosts(&self, key: &PublicKey) -> bool {
        self.interest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_local(key)
    }

    /// Peers with an open connection.
    pub async fn connected_peers(&self) -> Vec<PeerId> {
        self.ipfs.connected().await.unwrap_or_default()
    }

    /// Ingests an event signed elsewhere (a client holding its own key).
    pub async fn submit(&self, envelope: Vec<u8>) -> Verdict {
        self.ingest.submit(envelope, Origin::Local).await
    }

    /// Dials a peer by its `/p2p/` address.
    pub async fn connect(&self, addr: Multiaddr) -> anyhow::Result<PeerId> {
        net::connect(&self.ipfs, addr).await
    }

    /// Reconciles with one peer now, over everything this node keeps.
    pub async fn sync_with(&self, peer: PeerId) -> Result<SyncReport, SyncError> {
        self.syncer().sync(peer).await
    }

    /// Reconciles one scope (some authors, kinds, a community, a time
    /// range) with one peer now, and fetches what it lacks.
    pub async fn sync_scope(&self, peer: PeerId, scope: Scope) -> Result<SyncReport, SyncError> {
        sync::sync_with(&self.ipfs, &self.store, &self.ingest, peer, scope).await
    }

    /// The node's identity.
    pub fn identity(&self) -> &Keypair {
        &self.identity
    }

    /// The node's libp2p peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Listen addresses, each ending in `/p2p/<peer id>`.
    pub fn listen_addrs(&self) -> &[Multiaddr] {
        &self.listen
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Trending hashtags over what the node has accepted.
    pub fn trending(&self) -> &Trending {
        &self.trending
    }

    /// Notifications for the identities hosted here.
    pub fn notifications(&self) -> &Notifications {
        &self.notifications
    }

    /// The ingest pipeline (submit events, read counters).
    pub fn ingest(&self) -> &Ingest {
        &self.ingest
    }

    /// The gossip behaviour (scores, topic peers).
    pub fn gossip(&self) -> &GossipHandle {
        &self.gossip
    }

    /// The media service (uploads, processing, pins, reading files).
    pub fn media(&self) -> &crate::media::Media {
        &self.media
    }

    /// The rust-ipfs handle.
    pub fn ipfs(&self) -> &Ipfs {
        &self.ipfs
    }

    /// Sets the Kith–Nostr bridge (once; a second call is refused).
    pub fn set_bridge(&self, bridge: Arc<dyn crate::bridge::NostrBridge>) -> anyhow::Result<()> {
        self.bridge
            .set(bridge)
            .map_err(|_| anyhow::anyhow!("the node already has a Nostr bridge"))
    }

    /// The Kith–Nostr bridge, if one runs.
    pub fn bridge(&self) -> Option<&Arc<dyn crate::bridge::NostrBridge>> {
        self.bridge.get()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Nodes that announce (in the DHT) that they host `identity`.
    pub async fn find_hosts(&self, identity: &PublicKey) -> Vec<PeerId> {
        let mut out = Vec::new();
        let key = crate::topics::host_key(identity);
        let Ok(Ok(mut found)) =
            tokio::time::timeout(Duration::from_secs(5), self.ipfs.dht_get_providers(key)).await
        else {
            return out;
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while let Ok(Some(Ok(set))) = tokio::time::timeout_at(deadline, found.next()).await {
            for p in set {
                if p != self.peer_id && !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Cuts a peer off until [`Node::unblock_peer`]: closes its connections
    /// and refuses new ones (operators, and partition experiments).
    pub async fn block_peer(&self, peer: PeerId) {
        let forever = std::time::Instant::now() + Duration::from_secs(100 * 365 * 86_400);
        self.gossip.ban(peer, forever);
        let _ = self.ipfs.disconnect(peer).await;
    }

    /// Lets a blocked peer connect again.
    pub fn unblock_peer(&self, peer: PeerId) {
        self.gossip.unban(peer);
    }

    /// Offences counted against a peer in the current window.
    pub fn offences(&self, peer: PeerId) -> usize {
        self.peers.offences(peer)
    }

    /// Stops accepting work, flushes the store and stops the network.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        // Wait until every task has let go of its handles (the store's
        // files stay locked while any clone lives).
        for t in tasks {
            let _ = t.await;
        }
        self.store.flush().await?;
        self.notifications.flush()?;
        self.ipfs.clone().exit_daemon().await;
        tracing::info!("node stopped");
        Ok(())
    }
}

/// Media in events (posts, stories, profiles, listings…) by people this
/// node's identities follow, as they arrive, one at a time: pinned whole
/// with the `pin_followed` policy (within its quota), else their
/// thumbnails fetched ahead (`Media::on_followed`).
async fn followed_media_loop(
    store: Store,
    interest: Arc<RwLock<Interest>>,
    media: crate::media::Media,
) {
    use tokio::sync::broadcast::error::RecvError;
    let mut feed = store.subscribe();
    loop {
        let event = match feed.recv().await {
            Ok(s) => s.event,
            Err(RecvError::Lagged(n)) => {
                tracing::debug!(missed = n, "media pinning lagged");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let author = event.author();
        let followed = {
            let i = interest.read().unwrap_or_else(PoisonError::into_inner);
            !i.is_local(&author) && i.authors().contains(&author)
        };
        if !followed {
            continue;
        }
        let items: Vec<_> = event.payload().media().into_iter().cloned().collect();
        for m in items {
            if let Err(e) = media.on_followed(&m, &author).await {
                tracing::debug!(cid = %m.cid, error = %e, "could not fetch a followed account's media");
            }
        }
    }
}

/// Keeps the trending index: first the last two days from the store, then
/// each accepted event; forgets old uses hourly.
/// Retention of sealed-message envelopes (see [`Node::enforce_retention`]).
#[derive(Debug, Clone)]
struct Retention {
    store: Store,
    interest: Arc<RwLock<Interest>>,
    config: crate::config::MessagesSection,
}

impl Retention {
    async fn enforce(&self, now: u64) -> Result<usize, kith_storage::StoreError> {
        let locals: std::collections::HashSet<[u8; 32]> = self
            .interest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .locals()
            .map(kith_protocol::dm::inbox_hint)
            .collect();
        let cutoff = now.saturating_sub(self.config.keep_ms());
        let quota = self.config.quota_mb.saturating_mul(1 << 20);
        let store = self.store.clone();
        let doomed = tokio::task::spawn_blocking(move || {
            let reader = store.reader();
            let mut doomed: Vec<kith_protocol::EventId> = reader
                .inbox_all_before(cutoff)?
                .into_iter()
                .filter(|(hint, _, _)| !locals.contains(hint))
                .map(|(_, _, id)| id)
                .collect();
            for hint in &locals {
                // Newest first, adding up sizes; what passes the quota goes.
                let mut items = reader.inbox_items(hint, 0, u64::MAX)?;
                items.reverse();
                let mut used = 0u64;
                for (_, id) in items {
                    used += reader.get(&id)?.map_or(0, |e| e.as_bytes().len() as u64);
                    if used > quota {
                        doomed.push(id);
                    }
                }
            }
            Ok::<_, kith_storage::StoreError>(doomed)
        })
        .await
        .map_err(|_| kith_storage::StoreError::Closed)??;
        if doomed.is_empty() {
            return Ok(0);
        }
        self.store.remove(doomed).await
    }
}

/// Applies envelope retention a minute after start, then every ten minutes.
async fn retention_loop(retention: Retention) {
    let mut every = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(60),
        Duration::from_secs(600),
    );
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match retention.enforce(crate::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                "sealed-message envelopes past retention removed"
            ),
            Err(e) => tracing::warn!(error = %e, "envelope retention failed; will retry"),
        }
    }
}

async fn trending_loop(store: Store, trending: Arc<Trending>) {
    use tokio::sync::broadcast::error::RecvError;
    // Subscribed before the store is read, so nothing falls in between (an
    // event seen twice only refreshes its uses).
    let mut feed = store.subscribe();
    let seed = {
        let (store, trending) = (store.clone(), trending.clone());
        tokio::task::spawn_blocking(move || -> Result<(), kith_storage::StoreError> {
            let since = crate::now_ms().saturating_sub(2 * crate::trending::DAY_MS);
            let reader = store.reader();
            let kinds = [Kind::Post, Kind::Reply, Kind::Quote];
            for (_, id, _) in reader.recent(&kinds, since, TRENDING_SEED)? {
                if let Some(e) = reader.get(&id)? {
                    trending.add(&e);
                }
            }
            Ok(())
        })
    };
    match seed.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "trending: reading the store failed"),
        Err(e) => tracing::warn!(error = %e, "trending: seeding stopped"),
        Ok(Ok(())) => {}
    }
    let mut prune = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            item = feed.recv() => match item {
                Ok(s) => trending.add(&s.event),
                // Missed events only make a tag look a little cooler.
                Err(RecvError::Lagged(n)) => tracing::debug!(missed = n, "trending lagged"),
                Err(RecvError::Closed) => return,
            },
            _ = prune.tick() => trending.prune(crate::now_ms()),
        }
    }
}

/// Posts read from the store to seed the trending index at start.
const TRENDING_SEED: usize = 200_000;

/// Runs syncs with peers.
#[derive(Debug, Clone)]
struct Syncer {
    ipfs: Ipfs,
    store: Store,
    ingest: Ingest,
    interest: Arc<RwLock<Interest>>,
    peers: Arc<Peers>,
    /// How far back mailboxes are reconciled (`[messages] keep_days`).
    keep_ms: u64,
}

impl Syncer {
    async fn sync(&self, peer: PeerId) -> Result<SyncReport, SyncError> {
        let authors = self
            .interest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .authors();
        let mailboxes = self
            .interest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .mailboxes();
        // One session per slice of at most MAX_SCOPE_AUTHORS authors, then
        // one per slice of the mailboxes kept here.
        let mut total = SyncReport::default();
        let author_scopes = authors.chunks(sync::MAX_SCOPE_AUTHORS).map(|slice| Scope {
            authors: slice.to_vec(),
            until: u64::MAX,
            ..Scope::default()
        });
        // Only the window envelopes are kept for, so what retention
        // removed here does not come back from a peer that still has it.
        let since = crate::now_ms().saturating_sub(self.keep_ms);
        let mailbox_scopes = mailboxes
            .chunks(sync::MAX_SCOPE_INBOXES)
            .map(|slice| Scope {
                inboxes: slice.to_vec(),
                since,
                until: u64::MAX,
                ..Scope::default()
            });
        for scope in author_scopes.chain(mailbox_scopes) {
            let r = sync::sync_with(&self.ipfs, &self.store, &self.ingest, peer, scope).await?;
            total.missing += r.missing;
            total.fetched += r.fetched;
            total.rounds += r.rounds;
            total.sync_bytes += r.sync_bytes;
            total.fetch_bytes += r.fetch_bytes;
            total.elapsed += r.elapsed;
        }
        Ok(total)
    }

    /// Syncs just `authors` with every connected peer (at most 16).
    async fn catch_up(&self, authors: Vec<PublicKey>) {
        let peers = self.ipfs.connected().await.unwrap_or_default();
        for peer in peers
            .into_iter()
            .filter(|p| !self.peers.is_banned(p))
            .take(16)
        {
            for slice in authors.chunks(sync::MAX_SCOPE_AUTHORS) {
                let scope = Scope {
                    authors: slice.to_vec(),
                    until: u64::MAX,
                    ..Scope::default()
                };
                match sync::sync_with(&self.ipfs, &self.store, &self.ingest, peer, scope).await {
                    Ok(r) if r.missing > 0 => {
                        tracing::info!(%peer, missing = r.missing, "caught up on new follows");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "catch-up sync failed");
                        if e.is_offence() {
                            self.peers.offence(peer);
                        }
                        break;
                    }
                }
            }
        }
    }

    async fn run(&self, peer: PeerId) {
        if self.peers.is_banned(&peer) {
            return;
        }
        match self.sync(peer).await {
            Ok(r) if r.missing > 0 => {
                tracing::info!(%peer, missing = r.missing, fetched = r.fetched, rounds = r.rounds, "synced");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(%peer, error = %e, "sync failed");
                if e.is_offence() {
                    self.peers.offence(peer);
                }
            }
        }
    }
}
