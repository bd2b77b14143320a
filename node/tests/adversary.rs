//! A misbehaving peer against real nodes on loopback.
//!
//! Two honest nodes: A, and B, which follows A's identity and is connected to
//! A only. The attackers are raw rust-libp2p hosts (gossipsub with Kith's
//! message id and strict signing, identify) connected to A only, publishing
//! on A's author topic:
//!
//! - M sends an event of A's with a tampered signature, garbage bytes and an
//!   oversized envelope, one at a time. Each is a `Reject`: counted by reason,
//!   an offence, a gossipsub penalty, never stored nor forwarded. The third
//!   offence bans M: it is disconnected and a new dial is refused.
//! - F floods 3,000 well-formed but useless events (dated an hour ahead, so
//!   each admitted one is only `Ignore`d) as fast as it can: the token bucket
//!   refuses what is over the rate, and the excess bans F. (A flood of
//!   garbage would be three `Reject`s and a ban before the bucket is empty:
//!   it would not exercise the rate limit.)
//!
//! Then: nothing of theirs is stored on A or B, B never heard of any of it,
//! and A's next post still reaches B.
//!
//! A's limits are tightened (50/s, burst 100, ban after 3 offences). Three,
//! because gossipsub graylists a peer after its third invalid message
//! (weight -20, squared, against a threshold of -80) and from then on drops
//! its RPCs before the ingest pipeline sees them: with the default of 5 a
//! peer sending one bad message at a time stays connected, graylisted, with
//! three offences, and is never banned.

mod common;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use kith_node::ingest::Verdict;
use kith_node::net::behaviour::message_id;
use kith_node::node::{Node, StartOptions};
use kith_node::protocol::event::ENVELOPE_HEADER_LEN;
use kith_node::protocol::kinds::{Content, Post};
use kith_node::protocol::{
    EventId, Keypair, MAX_EVENT_BYTES, PublicKey, UnsignedEvent, Unverified, seal_unchecked,
};
use kith_node::storage::IngestOutcome;
use kith_node::topics;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, MessageId, TopicHash};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, identify, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};

/// Every wait in this test is bounded by this (or less).
const LIMIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// The attacker: a plain libp2p host driven from the test through commands.
// ---------------------------------------------------------------------------

#[derive(NetworkBehaviour)]
struct Evil {
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
}

enum Cmd {
    Dial(Multiaddr),
    Publish {
        topic: String,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<MessageId, gossipsub::PublishError>>,
    },
    /// Publishes all, back to back, without yielding; replies how many were queued.
    Flood {
        topic: String,
        data: Vec<Vec<u8>>,
        reply: oneshot::Sender<usize>,
    },
}

/// What the attacker's swarm has seen.
#[derive(Debug, Default)]
struct Seen {
    connected: HashSet<PeerId>,
    established: u32,
    closed: u32,
    dial_errors: u32,
    subscribed: HashSet<(PeerId, TopicHash)>,
}

struct Attacker {
    peer: PeerId,
    cmds: mpsc::UnboundedSender<Cmd>,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Attacker {
    fn spawn() -> Attacker {
        let key = libp2p::identity::Keypair::generate_ed25519();
        let peer = key.public().to_peer_id();
        let config = gossipsub::ConfigBuilder::default()
            .validation_mode(gossipsub::ValidationMode::Anonymous)
            .message_id_fn(|m: &gossipsub::Message| {
                MessageId::new(&message_id(m.topic.as_str(), &m.data))
            })
            // Large enough to send what the node must refuse.
            .max_transmit_size(4 << 20)
            .connection_handler_queue_len(10_000)
            .publish_queue_duration(Duration::from_secs(30))
            .build()
            .expect("gossipsub config");
        let evil = Evil {
            gossipsub: gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config)
                .expect("gossipsub"),
            identify: identify::Behaviour::new(identify::Config::new(
                "/kith/1".into(),
                key.public(),
            )),
        };
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("tcp transport")
            .with_behaviour(|_| evil)
            .expect("behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (cmds, mut rx) = mpsc::unbounded_channel();
        let state = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    cmd = rx.recv() => match cmd {
                        None => break,
                        Some(Cmd::Dial(addr)) => {
                            if swarm.dial(addr).is_err() {
                                lock(&state).dial_errors += 1;
                            }
                        }
                        Some(Cmd::Publish { topic, data, reply }) => {
                            let r = swarm.behaviour_mut().gossipsub.publish(IdentTopic::new(topic), data);
                            let _ = reply.send(r);
                        }
                        Some(Cmd::Flood { topic, data, reply }) => {
                            let g = &mut swarm.behaviour_mut().gossipsub;
                            let sent = data
                                .into_iter()
                                .filter(|d| g.publish(IdentTopic::new(topic.clone()), d.clone()).is_ok())
                                .count();
                            let _ = reply.send(sent);
                        }
                    },
                    ev = swarm.select_next_some() => {
                        let mut s = lock(&state);
                        match ev {
                            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                                s.connected.insert(peer_id);
                                s.established += 1;
                            }
                            SwarmEvent::ConnectionClosed { peer_id, num_established, .. } => {
                                if num_established == 0 {
                                    s.connected.remove(&peer_id);
                                    s.subscribed.retain(|(p, _)| *p != peer_id);
                                }
                                s.closed += 1;
                            }
                            SwarmEvent::OutgoingConnectionError { .. } => s.dial_errors += 1,
                            SwarmEvent::Behaviour(EvilEvent::Gossipsub(
                                gossipsub::Event::Subscribed { peer_id, topic },
                            )) => {
                                s.subscribed.insert((peer_id, topic));
                            }
                            SwarmEvent::Behaviour(EvilEvent::Gossipsub(
                                gossipsub::Event::Unsubscribed { peer_id, topic },
                            )) => {
                                s.subscribed.remove(&(peer_id, topic));
                            }
                            _ => {}
                        }
                    }
                }
            }
        });
        Attacker {
            peer,
            cmds,
            seen,
            task,
        }
    }

    fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&lock(&self.seen))
    }

    fn dial(&self, addr: Multiaddr) {
        self.cmds.send(Cmd::Dial(addr)).expect("attacker running");
    }

    /// Dials `node` and waits until the node's subscription to `topic` is known.
    async fn join(&self, node: &Node, topic: &str) {
        self.dial(tcp_addr(node));
        let (peer, hash) = (node.peer_id(), IdentTopic::new(topic).hash());
        eventually(LIMIT, "attacker sees the node on the topic", || {
            let ok = self.seen(|s| s.subscribed.contains(&(peer, hash.clone())));
            async move { ok }
        })
        .await;
    }

    async fn publish(&self, topic: &str, data: Vec<u8>) -> MessageId {
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::Publish {
                topic: topic.to_owned(),
                data,
                reply,
            })
            .expect("attacker running");
        rx.await
            .expect("attacker running")
            .expect("attacker publishes")
    }

    async fn flood(&self, topic: &str, data: Vec<Vec<u8>>) -> usize {
        let (reply, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::Flood {
                topic: topic.to_owned(),
                data,
                reply,
            })
            .expect("attacker running");
        rx.await.expect("attacker running")
    }
}

fn lock(s: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// Helpers on the honest side.
// ---------------------------------------------------------------------------

/// Waits until an ingest counter of `node` reaches `n`.
async fn counter_reaches(node: &Node, what: &'static str, n: u64) {
    eventually(LIMIT, what, || async {
        node.ingest().stats().get(what) >= n
    })
    .await;
}

/// Authors of every event stored on `node`.
fn stored_authors(node: &Node) -> Vec<PublicKey> {
    node.store()
        .reader()
        .log_after(0, 100_000)
        .unwrap()
        .into_iter()
        .map(|s| s.event.author())
        .collect()
}

async fn disconnected(node: &Node, peer: PeerId) {
    eventually(LIMIT, "the node drops the peer", || async {
        !node.ipfs().is_connected(peer).await.unwrap_or(true)
    })
    .await;
}

async fn score_below(node: &Node, peer: PeerId, max: f64) -> f64 {
    eventually(LIMIT, "the peer's gossip score drops", || async {
        node.gossip()
            .peer_score(peer)
            .await
            .is_some_and(|s| s < max)
    })
    .await;
    node.gossip().peer_score(peer).await.unwrap()
}

fn code_of(bytes: &[u8]) -> &'static str {
    match Unverified::decode(bytes) {
        Ok(u) => match u.verify() {
            Ok(_) => "valid",
            Err(e) => e.code(),
        },
        Err(e) => e.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attackers_are_rejected_penalised_and_banned() {
    let started = Instant::now();
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut cfg = config(0);
    cfg.gossip.rate_per_sec = 50;
    cfg.gossip.burst = 100;
    cfg.gossip.ban_after = 3;
    let a = Node::start(
        dirs[0].path(),
        &cfg,
        StartOptions {
            memory_blocks: true,
            ..StartOptions::default()
        },
    )
    .await
    .expect("A starts");
    let b = start(dirs[1].path()).await;
    let (ia, ib) = (a.identity().public(), b.identity().public());
    let topic = topics::author_topic(&ia);

    // B follows A and is on A's topic.
    let (_, v) = b.publish(follow(ib, now(), ia)).await.unwrap();
    assert!(
        matches!(v, Verdict::Store(IngestOutcome::Stored { .. })),
        "{v:?}"
    );
    b.connect(tcp_addr(&a)).await.unwrap();
    wait_topic_peer(&a, &topic, b.peer_id()).await;

    // The attack material, each checked against the protocol first.
    let m_kith = Keypair::generate(&mut rand_core::OsRng);
    // A genuine post of A's, never published, with one signature byte flipped:
    // were it accepted, A would store it and B (A's follower) too.
    let genuine = post(ia, now(), "words A never published")
        .sign(a.identity())
        .unwrap();
    let mut tampered = genuine.as_bytes().to_vec();
    // The envelope: 7 bytes of map and "sig" header, the 64-byte signature,
    // the 5-byte "body" key, the body.
    let sig = 7..ENVELOPE_HEADER_LEN - 5;
    assert_eq!(sig.len(), 64);
    tampered[sig.start + 10] ^= 0x01;
    assert_eq!(code_of(&tampered), "sig_invalid");
    let tampered_id = genuine.id();
    let garbage = b"\xff\xfegarbage: not an envelope, not even CBOR".to_vec();
    assert_eq!(code_of(&garbage), "malformed");
    // 100 KiB, with a correct signature: the size alone makes it invalid.
    let big_body = UnsignedEvent::new(
        m_kith.public(),
        now(),
        Post {
            content: Content::text("x".repeat(100 << 10)),
        },
    )
    .encode();
    let oversized = seal_unchecked(&big_body, &m_kith);
    assert!(oversized.len() > MAX_EVENT_BYTES && oversized.len() < (1 << 20));
    assert_eq!(code_of(&oversized), "too_large");
    let oversized_id = EventId::of_body(&big_body);

    // ---- M: one bad message of each kind, one at a time. ----
    let m = Attacker::spawn();
    m.join(&a, &topic).await;
    let t = Instant::now();
    m.publish(&topic, tampered).await;
    counter_reaches(&a, "sig_invalid", 1).await;
    let s1 = score_below(&a, m.peer, 0.0).await;
    m.publish(&topic, garbage).await;
    counter_reaches(&a, "malformed", 1).await;
    m.publish(&topic, oversized).await;
    counter_reaches(&a, "too_large", 1).await;
    counter_reaches(&a, "banned_peers", 1).await;
    disconnected(&a, m.peer).await;
    eventually(LIMIT, "M sees the connection closed", || {
        let ok = m.seen(|s| !s.connected.contains(&a.peer_id()));
        async move { ok }
    })
    .await;
    let s3 = score_below(&a, m.peer, -80.0).await;
    eprintln!(
        "M: rejected, penalised (score {s1:.1} after one, {s3:.1} after three) and banned in {:?}",
        t.elapsed()
    );
    assert_eq!(a.offences(m.peer), 3);

    // A new dial from M is refused.
    let refused = a.gossip().stats().refused_banned.load(Ordering::Relaxed);
    let (closed, failed) = m.seen(|s| (s.closed, s.dial_errors));
    m.dial(tcp_addr(&a));
    eventually(LIMIT, "M's new dial fails or is closed", || {
        let ok = m.seen(|s| {
            (s.closed > closed || s.dial_errors > failed) && !s.connected.contains(&a.peer_id())
        });
        async move { ok }
    })
    .await;
    assert!(
        a.gossip().stats().refused_banned.load(Ordering::Relaxed) > refused,
        "A refused the banned peer"
    );
    assert!(!a.ipfs().is_connected(m.peer).await.unwrap());
    m.seen(|s| eprintln!("M's new dial: {s:?}"));

    // ---- F: a flood of well-formed events an hour ahead of the clock. ----
    let f_kith = Keypair::generate(&mut rand_core::OsRng);
    let ahead = now() + 3_600_000;
    let flood: Vec<_> = (0..3000u64)
        .map(|i| {
            UnsignedEvent::new(
                f_kith.public(),
                ahead + i,
                Post {
                    content: Content::text(format!("flood {i}")),
                },
            )
            .sign(&f_kith)
            .unwrap()
        })
        .collect();
    assert_eq!(code_of(flood[0].as_bytes()), "valid");
    let f = Attacker::spawn();
    f.join(&a, &topic).await;
    let t = Instant::now();
    let sent = f
        .flood(
            &topic,
            flood.iter().map(|e| e.as_bytes().to_vec()).collect(),
        )
        .await;
    assert_eq!(sent, flood.len(), "F queued the whole flood");
    counter_reaches(&a, "banned_peers", 2).await;
    disconnected(&a, f.peer).await;
    let flood_secs = t.elapsed().as_secs_f64();
    let sf = score_below(&a, f.peer, -80.0).await;
    let st = a.ingest().stats().snapshot();
    eprintln!("F: banned in {flood_secs:.2}s, score {sf:.1}; A's counters: {st:?}");
    let get = |k: &str| st.get(k).copied().unwrap_or(0);
    // Ten messages over the rate (burst / 10) make an offence; three ban.
    assert!(get("rate_limited") >= 30, "{st:?}");
    // Everything admitted was the flood's: at least the burst, at most the
    // burst plus what the rate allowed while it lasted.
    let admitted = get("clock_skew");
    assert!(admitted >= 100, "{st:?}");
    assert!(
        admitted as f64 <= 100.0 + 50.0 * flood_secs + 1.0,
        "{admitted} admitted in {flood_secs:.2}s"
    );
    assert!(admitted + get("rate_limited") + get("peer_banned") <= 3000);

    // Exactly one refusal of each kind from M, none from anyone else.
    for (code, n) in [("sig_invalid", 1), ("malformed", 1), ("too_large", 1)] {
        assert_eq!(get(code), n, "{code}: {st:?}");
    }
    assert_eq!(get("banned_peers"), 2, "{st:?}");

    // ---- The honest path still works, and nothing bad was kept or forwarded. ----
    // A's local submission queues behind whatever gossip is left, so once
    // it is stored, A has judged every message the attackers got through.
    let t = Instant::now();
    let (p, v) = a.publish(post(ia, now(), "still here")).await.unwrap();
    assert!(
        matches!(v, Verdict::Store(IngestOutcome::Stored { .. })),
        "{v:?}"
    );
    let p_id = p.id();
    eventually(Duration::from_secs(5), "B stores A's post", || {
        has(&b, &p_id)
    })
    .await;
    eprintln!("honest post delivered to B in {:?}", t.elapsed());

    for (name, n) in [("A", &a), ("B", &b)] {
        for id in [tampered_id, oversized_id] {
            assert!(!has(n, &id).await, "{name} stored an attacker's event");
        }
        let r = n.store().reader();
        assert!(
            flood.iter().all(|e| !r.contains(&e.id()).unwrap()),
            "{name} stored part of the flood"
        );
        let foreign: Vec<_> = stored_authors(n)
            .into_iter()
            .filter(|k| *k != ia && *k != ib)
            .collect();
        assert!(foreign.is_empty(), "{name} stored events by {foreign:?}");
    }
    // B never heard any of it: A forwarded nothing it had not accepted.
    let sb = b.ingest().stats().snapshot();
    for code in [
        "sig_invalid",
        "malformed",
        "non_canonical",
        "too_large",
        "clock_skew",
        "rate_limited",
        "peer_banned",
        "not_relevant",
    ] {
        assert_eq!(sb.get(code), None, "B saw {code}: {sb:?}");
    }
    let a_on_b = b.gossip().peer_score(a.peer_id()).await.unwrap();
    assert!(a_on_b >= 0.0, "B penalised A: {a_on_b}");

    for n in [a, b] {
        let report = n.store().check_integrity().unwrap();
        assert!(report.is_ok(), "{report:?}");
        n.shutdown().await.unwrap();
    }
    for x in [m, f] {
        x.task.abort();
    }
    eprintln!("adversary test: {:?}", started.elapsed());
}
