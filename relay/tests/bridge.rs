//! The bridge's delivery to an outside relay, in one process on loopback: a
//! real Kith node, the bridge with its own relay store, and as the outside
//! relay a second Kith relay that is down at first. Notes wait in the
//! outbox with the error in the status, and go out once the relay is up;
//! the outbox survives a restart of the bridge.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kith_node::bridge::NostrBridge;
use kith_node::config::{Config, NostrSection};
use kith_node::node::{Node, StartOptions};
use kith_node::protocol::UnsignedEvent;
use kith_node::protocol::kinds::{Content, Post};
use kith_relay::bridge::Bridge;
use kith_relay::{QueryLimits, Relay, RelayConfig, RelayStore};
use nostr::prelude::{Filter, Kind, PublicKey, Timestamp};

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn node_config() -> Config {
    let mut c = Config::default();
    c.network.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    c.network.mdns = false;
    c
}

/// A free loopback port (bound, then let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn outside_config(port: u16) -> RelayConfig {
    RelayConfig {
        listen: ([127, 0, 0, 1], port).into(),
        ..RelayConfig::default()
    }
}

fn posts_by(store: &RelayStore, author: PublicKey) -> Vec<nostr::prelude::Event> {
    store
        .query(
            &[Filter::new().author(author).kind(Kind::TextNote)],
            QueryLimits {
                max_limit: 100,
                max_scan: 10_000,
            },
            Timestamp::now(),
            &|_| true,
        )
        .unwrap()
        .events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_wait_for_a_relay_that_is_down_and_go_out_when_it_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let outside_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}");
    let node = Arc::new(
        Node::start(dir.path(), &node_config(), StartOptions::default())
            .await
            .unwrap(),
    );
    let me = node.identity();
    let nostr_config = NostrSection {
        relays: vec![url.clone()],
        retry_secs: 1,
        ..NostrSection::default()
    };
    let store = Arc::new(RelayStore::open(&dir.path().join("relay")).unwrap());
    let bridge = Bridge::start(
        node.store().clone(),
        store.clone(),
        dir.path(),
        nostr_config.clone(),
        Some("http://127.0.0.1:7417"),
    )
    .unwrap();
    let linked = bridge.link(me).unwrap();
    let linked_key = PublicKey::from_hex(&linked.hex).unwrap();

    // Two posts while the outside relay is down.
    for text in ["uno", "dos"] {
        let post = UnsignedEvent::new(
            me.public(),
            kith_node::now_ms(),
            Post {
                content: Content::text(text),
            },
        );
        node.publish(post).await.unwrap();
    }
    // Bridged (signed, in the local relay store), waiting, with the error.
    eventually("both posts bridged and waiting", || {
        let s = bridge.status(&me.public()).unwrap();
        s.bridged == 2
            && s.relays.len() == 1
            && s.relays[0].pending == 2
            && s.relays[0].last_error.is_some()
            && s.relays[0].sent == 0
    })
    .await;
    assert_eq!(posts_by(&store, linked_key).len(), 2);
    let status = bridge.status(&me.public()).unwrap();
    assert_eq!(status.relays[0].source, "node");
    assert!(!status.relays[0].connected);

    // The bridge restarts: the outbox is on disk.
    bridge.shutdown().await;
    drop(bridge);
    let bridge = Bridge::start(
        node.store().clone(),
        store.clone(),
        dir.path(),
        nostr_config,
        None,
    )
    .unwrap();
    assert_eq!(bridge.status(&me.public()).unwrap().relays[0].pending, 2);

    // The relay comes up: both notes arrive, once each, signed by the linked key.
    let outside = Relay::start(outside_dir.path(), outside_config(port))
        .await
        .unwrap();
    eventually("the relay took both notes", || {
        let s = bridge.status(&me.public()).unwrap();
        s.relays[0].sent == 2 && s.relays[0].pending == 0
    })
    .await;
    let there = posts_by(outside.store(), linked_key);
    assert_eq!(there.len(), 2);
    for e in &there {
        e.verify().unwrap();
        assert!(
            e.tags.iter().any(|t| t.as_slice()[0] == "kith"),
            "{:?}",
            e.tags
        );
    }
    let s = bridge.status(&me.public()).unwrap();
    assert!(s.relays[0].last_sent_at.is_some());
    assert_eq!(s.relays[0].failed, 0);

    bridge.shutdown().await;
    drop(bridge);
    outside.shutdown().await;
    let node = Arc::try_unwrap(node).unwrap();
    node.shutdown().await.unwrap();
}

/// Bad input to the bridge's own API is refused with a typed error and
/// changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_keys_relays_and_notes_are_refused() {
    use kith_node::bridge::BridgeError;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &node_config(), StartOptions::default())
        .await
        .unwrap();
    let me = node.identity();
    let store = Arc::new(RelayStore::open(&dir.path().join("relay")).unwrap());
    let bridge = Bridge::start(
        node.store().clone(),
        store,
        dir.path(),
        NostrSection {
            max_relays_per_person: 2,
            ..NostrSection::default()
        },
        None,
    )
    .unwrap();
    let who = me.public();
    assert!(matches!(
        bridge.follow(&who, "npub1notakey"),
        Err(BridgeError::BadKey(_))
    ));
    assert!(matches!(
        bridge.set_relays(&who, &["http://example.org".into()]),
        Err(BridgeError::BadRelay(_))
    ));
    assert!(matches!(
        bridge.set_relays(
            &who,
            &[
                "ws://127.0.0.1:1".into(),
                "ws://127.0.0.1:2".into(),
                "ws://127.0.0.1:3".into()
            ]
        ),
        Err(BridgeError::TooMany(_))
    ));
    // Not linked yet: no reply, no reaction.
    assert!(matches!(
        bridge.reply(&who, &"00".repeat(32), "hola"),
        Err(BridgeError::NotLinked)
    ));
    bridge.link(me).unwrap();
    assert!(matches!(
        bridge.reply(&who, &"00".repeat(32), "hola"),
        Err(BridgeError::UnknownNote(_))
    ));
    assert!(matches!(
        bridge.reply(&who, "note1nonsense", "hola"),
        Err(BridgeError::BadNote(_))
    ));
    assert!(matches!(
        bridge.reply(&who, &"00".repeat(32), "   "),
        Err(BridgeError::BadText(_))
    ));
    let status = bridge.status(&who).unwrap();
    assert!(status.relays.is_empty() && status.follows.is_empty());
    // Linking again keeps the same key.
    let first = status.linked.unwrap();
    assert_eq!(bridge.link(me).unwrap(), first);
    bridge.shutdown().await;
    drop(bridge);
    node.shutdown().await.unwrap();
}

/// A bridge stopped before its tasks ever ran still stops: they see the
/// stop when they start (a current-thread runtime runs none of them before
/// the test yields).
#[tokio::test(flavor = "current_thread")]
async fn a_bridge_stopped_at_once_stops() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), &node_config(), StartOptions::default())
        .await
        .unwrap();
    let store = Arc::new(RelayStore::open(&dir.path().join("relay")).unwrap());
    let bridge = Bridge::start(
        node.store().clone(),
        store,
        dir.path(),
        NostrSection::default(),
        None,
    )
    .unwrap();
    tokio::time::timeout(Duration::from_secs(20), bridge.shutdown())
        .await
        .expect("the bridge's tasks never saw the stop");
    drop(bridge);
    node.shutdown().await.unwrap();
}
