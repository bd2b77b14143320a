//! Helpers shared by the node's network tests: real nodes on loopback.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use kith_node::config::Config;
use kith_node::node::{Node, StartOptions};
use kith_node::protocol::kinds::{Content, Follow, Post, Reply};
use kith_node::protocol::{Event, EventId, Keypair, PublicKey, Rel, UnsignedEvent};

/// A config for a test node: loopback TCP on a free port, no mdns, sync
/// only when peers connect (unless `sync_secs` > 0).
pub fn config(sync_secs: u64) -> Config {
    let mut c = Config::default();
    c.network.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    c.network.mdns = false;
    c.sync.interval_secs = sync_secs;
    c
}

pub async fn start(dir: &Path) -> Node {
    start_with(dir, true).await
}

/// A node that does not sync by itself when a peer connects, so only what
/// a test asks for (or gossip) moves events.
pub async fn start_quiet(dir: &Path) -> Node {
    start_with(dir, false).await
}

async fn start_with(dir: &Path, sync_on_connect: bool) -> Node {
    // `RUST_LOG=kith_node=debug` shows what the nodes did (captured per test).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    Node::start(
        dir,
        &config(0),
        StartOptions {
            memory_blocks: true,
            sync_on_connect,
        },
    )
    .await
    .expect("node starts")
}

pub fn tcp_addr(node: &Node) -> kith_node::net::behaviour::Multiaddr {
    node.listen_addrs()
        .iter()
        .find(|a| a.to_string().contains("/tcp/"))
        .expect("a tcp listener")
        .clone()
}

/// Polls `check` every 20 ms until it is true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn now() -> u64 {
    kith_node::now_ms()
}

pub fn post_by(k: &Keypair, t: u64, text: &str) -> Event {
    UnsignedEvent::new(
        k.public(),
        t,
        Post {
            content: Content::text(text),
        },
    )
    .sign(k)
    .unwrap()
}

pub fn post(author: PublicKey, t: u64, text: &str) -> UnsignedEvent {
    UnsignedEvent::new(
        author,
        t,
        Post {
            content: Content::text(text),
        },
    )
}

pub fn reply(
    author: PublicKey,
    t: u64,
    root: EventId,
    parent: EventId,
    text: &str,
) -> UnsignedEvent {
    UnsignedEvent::new(
        author,
        t,
        Reply {
            content: Content::text(text),
        },
    )
    .ref_event(Rel::Root, root)
    .ref_event(Rel::Parent, parent)
}

pub fn follow(author: PublicKey, t: u64, whom: PublicKey) -> UnsignedEvent {
    UnsignedEvent::new(author, t, Follow {}).ref_identity(Rel::Subject, whom)
}

pub async fn has(node: &Node, id: &EventId) -> bool {
    node.store().reader().contains(id).unwrap_or(false)
}

/// Waits until `node` knows `peer` is on `topic` (so a publish reaches it).
pub async fn wait_topic_peer(node: &Node, topic: &str, peer: kith_node::net::behaviour::PeerId) {
    eventually(
        Duration::from_secs(10),
        "topic subscription seen",
        || async { node.gossip().topic_peers(topic).await.contains(&peer) },
    )
    .await;
}
