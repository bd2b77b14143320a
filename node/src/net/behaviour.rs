//! Kith's own gossipsub, plugged into rust-ipfs as its custom behaviour.
//!
//! rust-ipfs's built-in pubsub forwards a message as soon as its libp2p
//! signature checks out and has no peer scoring. Kith must validate events
//! before they are forwarded and punish peers that send bad ones, so the node
//! runs its own `gossipsub::Behaviour` with `validate_messages()` and peer
//! scoring, plus a ban list (rust-ipfs's `ban_peer` is not wired up).
//!
//! rust-ipfs requires the custom behaviour to emit nothing to the swarm
//! (`ToSwarm = Infallible`), so the application talks to it over channels:
//! commands in (polled inside `poll`, which wakes the swarm task), events
//! out through a bounded queue. When that queue is full, a message is
//! answered `Ignore` at once: not forwarded, not penalised, counted.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use libp2p::core::{Endpoint, transport::PortUse};
use libp2p::gossipsub::{
    self, IdentTopic, MessageAcceptance, MessageAuthenticity, MessageId, PeerScoreParams,
    PeerScoreThresholds, PublishError, SubscriptionError, TopicHash, TopicScoreParams,
    ValidationMode,
};
use libp2p::swarm::{
    CloseConnection, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
pub use libp2p::{Multiaddr, PeerId};
use sha2::{Digest, Sha256};

/// Gossip settings.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// Largest RPC frame accepted from a peer (bytes). Bigger frames are
    /// dropped by the codec; messages under it but over the event size limit
    /// reach validation and are rejected there.
    pub max_transmit_size: usize,
    /// Events waiting for validation before new ones are answered `Ignore`.
    pub queue: usize,
    /// Treat loopback addresses as distinct hosts for IP-colocation scoring
    /// (testnets put every node on 127.0.0.1).
    pub whitelist_loopback: bool,
    /// Gossipsub heartbeat.
    pub heartbeat: Duration,
    /// Offences before the node bans a peer (the ingest pipeline's
    /// `ban_after`); invalid-message scoring is scaled so that gossipsub
    /// does not graylist a peer (and hide its next offence) before that.
    pub ban_after: u32,
}

impl Default for GossipConfig {
    fn default() -> Self {
        GossipConfig {
            // Four maximum-size events per RPC. The codec drops bigger frames
            // without telling the behaviour, so this also caps what a peer
            // can make us read for nothing.
            max_transmit_size: 256 * 1024,
            queue: 4096,
            whitelist_loopback: true,
            heartbeat: Duration::from_millis(700),
            ban_after: 5,
        }
    }
}

/// The message id: `sha256(topic ‖ 0x00 ‖ data)`. Including the topic lets
/// the same event travel on several topics (author shard, inboxes,
/// community) without being taken for a duplicate of itself.
pub fn message_id(topic: &str, data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(topic.as_bytes());
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// A message received from gossip, waiting for validation.
#[derive(Debug)]
pub struct Incoming {
    /// Gossipsub's id for it; the verdict is reported under this id.
    pub message_id: MessageId,
    /// The peer it came from (not necessarily its publisher).
    pub from: PeerId,
    /// The topic it arrived on.
    pub topic: TopicHash,
    /// The payload: an event envelope, if the sender is honest.
    pub data: Vec<u8>,
}

/// What the behaviour tells the application.
#[derive(Debug)]
pub enum GossipEvent {
    /// A message to validate; answer with [`GossipHandle::report`].
    Message(Incoming),
    /// The first connection to a peer was established.
    Connected(PeerId),
    /// A peer joined a topic.
    Subscribed {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: TopicHash,
    },
}

/// Counters the behaviour keeps by itself.
#[derive(Debug, Default)]
pub struct GossipStats {
    /// Messages answered `Ignore` because the validation queue was full.
    pub shed: AtomicU64,
    /// Connections refused because the peer is banned.
    pub refused_banned: AtomicU64,
}

pub(crate) enum Command {
    Subscribe {
        topic: String,
        reply: oneshot::Sender<Result<bool, SubscriptionError>>,
    },
    Unsubscribe {
        topic: String,
    },
    Publish {
        topic: String,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<MessageId, PublishError>>,
    },
    Report {
        message_id: MessageId,
        from: PeerId,
        acceptance: MessageAcceptance,
    },
    SetAppScore {
        peer: PeerId,
        score: f64,
    },
    PeerScore {
        peer: PeerId,
        reply: oneshot::Sender<Option<f64>>,
    },
    TopicPeers {
        topic: String,
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    Ban {
        peer: PeerId,
        until: Instant,
    },
    Unban(PeerId),
}

struct Inner {
    gossipsub: gossipsub::Behaviour,
    banned: HashMap<PeerId, Instant>,
    pending: VecDeque<ToSwarm<Infallible, THandlerInEvent<gossipsub::Behaviour>>>,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<GossipEvent>,
    stats: Arc<GossipStats>,
    topic_params: TopicScoreParams,
    scored_topics: HashSet<TopicHash>,
}

/// The rust-ipfs custom behaviour: gossipsub plus a ban list.
///
/// The `Mutex` only satisfies rust-ipfs's `Sync` bound: every
/// `NetworkBehaviour` method takes `&mut self`, so `get_mut` is used and no
/// lock is ever contended.
pub struct KithBehaviour(Mutex<Inner>);

impl std::fmt::Debug for KithBehaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KithBehaviour").finish_non_exhaustive()
    }
}

impl KithBehaviour {
    fn inner(&mut self) -> &mut Inner {
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Score parameters for every Kith topic. Invalid messages (P4) weigh
/// heavily; mesh-delivery penalties (P3) are off, because a quiet topic on a
/// small network would otherwise punish honest peers for having little to say.
fn topic_params(ban_after: u32) -> TopicScoreParams {
    // P4 is weight × count²: (ban_after − 1) invalid messages reach exactly
    // the graylist threshold (−80, which needs a score strictly below it),
    // so the peer's ban_after-th offence still reaches the pipeline and
    // bans it. With ban_after 5: −5, −20 (no more gossip from us), −45,
    // −80 (no publishing to it), then the ban.
    let steps = f64::from(ban_after.max(2) - 1);
    let invalid_weight = -80.0 / (steps * steps);
    TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 3600.0,
        first_message_deliveries_weight: 0.5,
        first_message_deliveries_decay: 0.9,
        first_message_deliveries_cap: 100.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        // Decaying by ~1% a second so a trickle of bad events accumulates.
        invalid_message_deliveries_weight: invalid_weight,
        invalid_message_deliveries_decay: 0.99,
        ..TopicScoreParams::default()
    }
}

fn score_params(cfg: &GossipConfig) -> (PeerScoreParams, PeerScoreThresholds) {
    let mut params = PeerScoreParams {
        app_specific_weight: 1.0,
        ..PeerScoreParams::default()
    };
    if cfg.whitelist_loopback {
        params
            .ip_colocation_factor_whitelist
            .insert(IpAddr::V4(Ipv4Addr::LOCALHOST));
        params
            .ip_colocation_factor_whitelist
            .insert(IpAddr::V6(Ipv6Addr::LOCALHOST));
    }
    let thresholds = PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -50.0,
        graylist_threshold: -80.0,
        accept_px_threshold: 10.0,
        opportunistic_graft_threshold: 5.0,
    };
    (params, thresholds)
}

/// The behaviour, the handle the application uses, and the event stream.
pub(crate) fn build(
    cfg: &GossipConfig,
) -> anyhow::Result<(KithBehaviour, GossipHandle, mpsc::Receiver<GossipEvent>)> {
    let config = gossipsub::ConfigBuilder::default()
        // Kith events carry their own signatures: a libp2p signature per
        // message would cost a signature per publish and a verification per
        // hop, and name the publishing node to everyone. Messages go
        // unsigned, with no source and no sequence number (js-libp2p:
        // StrictNoSign).
        .validation_mode(ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(|m: &gossipsub::Message| {
            MessageId::new(&message_id(m.topic.as_str(), &m.data))
        })
        .max_transmit_size(cfg.max_transmit_size)
        .heartbeat_initial_delay(Duration::from_millis(300))
        .heartbeat_interval(cfg.heartbeat)
        .build()
        .map_err(|e| anyhow::anyhow!("gossipsub config: {e}"))?;
    let mut gossipsub = gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config)
        .map_err(|e| anyhow::anyhow!("gossipsub: {e}"))?;
    let (params, thresholds) = score_params(cfg);
    gossipsub
        .with_peer_score(params, thresholds)
        .map_err(|e| anyhow::anyhow!("gossipsub scoring: {e}"))?;
    let (cmd_tx, cmd_rx) = mpsc::unbounded();
    let (ev_tx, ev_rx) = mpsc::channel(cfg.queue);
    let stats = Arc::new(GossipStats::default());
    let inner = Inner {
        gossipsub,
        banned: HashMap::new(),
        pending: VecDeque::new(),
        commands: cmd_rx,
        events: ev_tx,
        stats: stats.clone(),
        topic_params: topic_params(cfg.ban_after),
        scored_topics: HashSet::new(),
    };
    let handle = GossipHandle { tx: cmd_tx, stats };
    Ok((KithBehaviour(Mutex::new(inner)), handle, ev_rx))
}

impl Inner {
    fn is_banned(&mut self, peer: &PeerId) -> bool {
        match self.banned.get(peer) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                self.banned.remove(peer);
                self.gossipsub.remove_blacklisted_peer(peer);
                false
            }
            None => false,
        }
    }

    fn deny_if_banned(&mut self, peer: &PeerId) -> Result<(), ConnectionDenied> {
        if self.is_banned(peer) {
            self.stats.refused_banned.fetch_add(1, Ordering::Relaxed);
            Err(ConnectionDenied::new(std::io::Error::other(
                "peer is banned",
            )))
        } else {
            Ok(())
        }
    }

    fn score_topic(&mut self, topic: &IdentTopic) {
        if self.scored_topics.insert(topic.hash()) {
            let _ = self
                .gossipsub
                .set_topic_params(topic.clone(), self.topic_params.clone());
        }
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Subscribe { topic, reply } => {
                let topic = IdentTopic::new(topic);
                self.score_topic(&topic);
                let _ = reply.send(self.gossipsub.subscribe(&topic));
            }
            Command::Unsubscribe { topic } => {
                self.gossipsub.unsubscribe(&IdentTopic::new(topic));
            }
            Command::Publish { topic, data, reply } => {
                let _ = reply.send(self.gossipsub.publish(IdentTopic::new(topic), data));
            }
            Command::Report {
                message_id,
                from,
                acceptance,
            } => {
                // false: no longer cached (already reported or evicted); nothing to do.
                let _ =
                    self.gossipsub
                        .report_message_validation_result(&message_id, &from, acceptance);
            }
            Command::SetAppScore { peer, score } => {
                let _ = self.gossipsub.set_application_score(&peer, score);
            }
            Command::PeerScore { peer, reply } => {
                let _ = reply.send(self.gossipsub.peer_score(&peer));
            }
            Command::TopicPeers { topic, reply } => {
                let hash = IdentTopic::new(topic).hash();
                let peers = self
                    .gossipsub
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&&hash))
                    .map(|(p, _)| *p)
                    .collect();
                let _ = reply.send(peers);
            }
            Command::Unban(peer) => {
                self.banned.remove(&peer);
                self.gossipsub.remove_blacklisted_peer(&peer);
            }
            Command::Ban { peer, until } => {
                self.banned.insert(peer, until);
                self.gossipsub.blacklist_peer(&peer);
                self.pending.push_back(ToSwarm::CloseConnection {
                    peer_id: peer,
                    connection: CloseConnection::All,
                });
            }
        }
    }

    fn deliver(&mut self, event: gossipsub::Event) {
        let event = match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => GossipEvent::Message(Incoming {
                message_id,
                from: propagation_source,
                topic: message.topic,
                data: message.data,
            }),
            gossipsub::Event::Subscribed { peer_id, topic } => GossipEvent::Subscribed {
                peer: peer_id,
                topic,
            },
            _ => return,
        };
        if let Err(e) = self.events.try_send(event)
            && let GossipEvent::Message(m) = e.into_inner()
        {
            self.stats.shed.fetch_add(1, Ordering::Relaxed);
            let _ = self.gossipsub.report_message_validation_result(
                &m.message_id,
                &m.from,
                MessageAcceptance::Ignore,
            );
        }
    }
}

impl NetworkBehaviour for KithBehaviour {
    type ConnectionHandler = THandler<gossipsub::Behaviour>;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner()
            .gossipsub
            .handle_pending_inbound_connection(id, local, remote)
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        let inner = self.inner();
        inner.deny_if_banned(&peer)?;
        inner
            .gossipsub
            .handle_established_inbound_connection(id, peer, local, remote)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addrs: &[Multiaddr],
        role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        let inner = self.inner();
        if let Some(p) = maybe_peer.as_ref() {
            inner.deny_if_banned(p)?;
        }
        inner
            .gossipsub
            .handle_pending_outbound_connection(id, maybe_peer, addrs, role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        let inner = self.inner();
        inner.deny_if_banned(&peer)?;
        inner.gossipsub.handle_established_outbound_connection(
            id,
            peer,
            addr,
            role_override,
            port_use,
        )
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        let inner = self.inner();
        // Best effort: periodic sync covers a dropped notice.
        if let FromSwarm::ConnectionEstablished(c) = &event
            && c.other_established == 0
        {
            let _ = inner.events.try_send(GossipEvent::Connected(c.peer_id));
        }
        inner.gossipsub.on_swarm_event(event)
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner()
            .gossipsub
            .on_connection_handler_event(peer, id, event)
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        let inner = self.inner();
        while let Poll::Ready(Some(cmd)) = inner.commands.poll_next_unpin(cx) {
            inner.handle(cmd);
        }
        if let Some(ev) = inner.pending.pop_front() {
            return Poll::Ready(ev);
        }
        loop {
            match inner.gossipsub.poll(cx) {
                Poll::Ready(ToSwarm::GenerateEvent(ev)) => inner.deliver(ev),
                Poll::Ready(other) => {
                    return Poll::Ready(
                        other
                            .map_out(|_| unreachable!("GenerateEvent is handled in the arm above")),
                    );
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The application's handle on the gossip behaviour.
#[derive(Debug, Clone)]
pub struct GossipHandle {
    tx: mpsc::UnboundedSender<Command>,
    stats: Arc<GossipStats>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("gossip command")
    }
}

/// The gossip behaviour is gone (the node is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the network has stopped")]
pub struct Stopped;

impl GossipHandle {
    fn send(&self, cmd: Command) -> Result<(), Stopped> {
        self.tx.unbounded_send(cmd).map_err(|_| Stopped)
    }

    /// Subscribes to a topic (true if newly subscribed).
    pub async fn subscribe(&self, topic: &str) -> anyhow::Result<bool> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Subscribe {
            topic: topic.to_owned(),
            reply,
        })?;
        Ok(rx.await.map_err(|_| Stopped)??)
    }

    /// Leaves a topic.
    pub fn unsubscribe(&self, topic: &str) -> Result<(), Stopped> {
        self.send(Command::Unsubscribe {
            topic: topic.to_owned(),
        })
    }

    /// Publishes bytes on a topic.
    pub async fn publish(&self, topic: &str, data: Vec<u8>) -> Result<MessageId, PublishFailed> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Publish {
            topic: topic.to_owned(),
            data,
            reply,
        })
        .map_err(|_| PublishFailed::Stopped)?;
        rx.await
            .map_err(|_| PublishFailed::Stopped)?
            .map_err(PublishFailed::Gossip)
    }

    /// Reports the verdict on a received message: `Accept` forwards it,
    /// `Reject` drops it and penalises the sender, `Ignore` just drops it.
    pub fn report(&self, message_id: MessageId, from: PeerId, acceptance: MessageAcceptance) {
        let _ = self.send(Command::Report {
            message_id,
            from,
            acceptance,
        });
    }

    /// Sets a peer's application-specific score component.
    pub fn set_app_score(&self, peer: PeerId, score: f64) {
        let _ = self.send(Command::SetAppScore { peer, score });
    }

    /// A peer's current gossipsub score.
    pub async fn peer_score(&self, peer: PeerId) -> Option<f64> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::PeerScore { peer, reply }).ok()?;
        rx.await.ok().flatten()
    }

    /// Peers known to be subscribed to a topic.
    pub async fn topic_peers(&self, topic: &str) -> Vec<PeerId> {
        let (reply, rx) = oneshot::channel();
        if self
            .send(Command::TopicPeers {
                topic: topic.to_owned(),
                reply,
            })
            .is_err()
        {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Disconnects a peer and refuses it until `until`.
    pub fn ban(&self, peer: PeerId, until: Instant) {
        let _ = self.send(Command::Ban { peer, until });
    }

    /// Lifts a ban.
    pub fn unban(&self, peer: PeerId) {
        let _ = self.send(Command::Unban(peer));
    }

    /// The behaviour's own counters.
    pub fn stats(&self) -> &GossipStats {
        &self.stats
    }
}

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishFailed {
    /// The network has stopped.
    #[error("the network has stopped")]
    Stopped,
    /// Gossipsub refused it (most often: no peer on the topic yet).
    #[error("gossip: {0}")]
    Gossip(PublishError),
}
