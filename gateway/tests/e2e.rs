//! End to end over real HTTP and WebSocket: two people register, post,
//! follow each other, read their home timelines and get each other's new
//! posts live; a reply reaches the notifications and thread streams; a
//! client that reconnects with `after_seq` gets what it missed exactly once.
//!
//! Run twice: with both accounts on one node, and with each on its own node
//! (two nodes on loopback, so the other's events travel by gossip and sync).

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// How long an event may take to cross from one node to the other.
const CROSS: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_two_accounts() {
    let n = TestNode::start(0, |_| {}).await;
    scenario(&n, &n).await;
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_one_account_each() {
    // Periodic sync (1 s) brings what was posted before the follow, which
    // gossip never replays; gossip carries what is posted after.
    let a = TestNode::start(1, |_| {}).await;
    let b = TestNode::start(1, |_| {}).await;
    b.node.connect(a.tcp_addr()).await.expect("B dials A");
    scenario(&a, &b).await;
    // The gateway lists the peer to the admin.
    let peers = a
        .http
        .get("/api/v1/node/peers", Some(&a.admin_token()))
        .await
        .expect(200);
    assert!(
        peers.body["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == &Value::String(b.node.peer_id().to_string())),
        "{}",
        peers.raw
    );
    b.stop().await;
    a.stop().await;
}

/// Ana on `a`, bob on `b` (the same node or not).
async fn scenario(a: &TestNode, b: &TestNode) {
    // 1. Register; each posts.
    let ana = a.http.register("ana").await;
    let bob = b.http.register("bob").await;
    let me = a.http.get("/api/v1/me", Some(&ana.token)).await.expect(200);
    assert_eq!(me.body["username"], "ana");
    assert_eq!(me.body["identity"], ana.identity.as_str());
    assert_eq!(me.body["root_key_held"], true);
    assert!(
        me.body["gateway_delegation"]["id"].is_string(),
        "a hosted account gets a gateway delegation: {}",
        me.raw
    );

    let ana_p1 = a.http.post_text(&ana.token, "¡Hola! soy ana #kith").await;
    let bob_p1 = b.http.post_text(&bob.token, "hi, bob here").await;
    let ev = a
        .http
        .get(&format!("/api/v1/events/{ana_p1}"), None)
        .await
        .expect(200);
    assert_eq!(ev.body["author"], ana.identity.as_str());
    assert_ne!(
        ev.body["signer"],
        ana.identity.as_str(),
        "hosted posts are signed by the gateway's delegated key"
    );
    assert_eq!(ev.body["payload"]["text"], "¡Hola! soy ana #kith");
    assert_eq!(ev.body["payload"]["tags"], json!(["kith"]));

    // 2. Each follows the other.
    a.http.follow(&ana.token, &bob.identity).await;
    b.http.follow(&bob.token, &ana.identity).await;
    let following = a
        .http
        .get(
            &format!("/api/v1/identities/{}/following", ana.identity),
            None,
        )
        .await
        .expect(200);
    assert_eq!(following.body["items"], json!([bob.identity]));

    // 3. Each home timeline shows the other's post (across nodes once it
    //    has arrived) and their own, newest first.
    for (node, acct, own, other) in [(a, &ana, &ana_p1, &bob_p1), (b, &bob, &bob_p1, &ana_p1)] {
        eventually(
            CROSS,
            "the other's post is on the home timeline",
            || async { node.http.home_ids(&acct.token).await.0.contains(other) },
        )
        .await;
        let (ids, _) = node.http.home_ids(&acct.token).await;
        assert!(ids.contains(own), "own posts are on home: {ids:?}");
    }
    let home = a.http.get("/api/v1/me/home", Some(&ana.token)).await;
    let items = home.body["items"].as_array().unwrap();
    let times: Vec<u64> = items
        .iter()
        .map(|e| e["created_at"].as_u64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    assert!(items.iter().all(|e| e["stats"].is_object()), "{}", home.raw);

    // 4. Live: ana subscribes to home, notifications and her post's thread
    //    (token in the header); bob to home (token in a first message, as a
    //    browser does).
    let mut ana_live = Live::connect_ready(a.addr(), &ana.token).await;
    let (seq0, early) = ana_live
        .subscribe(json!({"op": "subscribe", "sub": "home", "stream": "home"}))
        .await;
    assert!(early.is_empty(), "{early:?}");
    assert!(seq0 > 0);
    ana_live
        .subscribe(json!({"op": "subscribe", "sub": "notes", "stream": "notifications"}))
        .await;
    ana_live
        .subscribe(
            json!({"op": "subscribe", "sub": "thread", "stream": "thread", "thread": ana_p1}),
        )
        .await;
    let mut bob_live = Live::connect(b.addr(), None).await;
    bob_live
        .send(json!({"op": "auth", "token": bob.token}))
        .await;
    let ready = bob_live.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(ready["type"], "ready", "{ready}");
    assert_eq!(ready["identity"], bob.identity.as_str());
    bob_live
        .subscribe(json!({"op": "subscribe", "sub": "home", "stream": "home"}))
        .await;

    // Each receives the other's new post.
    let bob_p2 = b.http.post_text(&bob.token, "bob, live").await;
    let seen = ana_live.wait_all(&[("home", &bob_p2)], CROSS).await;
    let frame = seen.last().unwrap();
    assert_eq!(frame["event"]["author"], bob.identity.as_str());
    assert_eq!(frame["event"]["kind"], "post");
    assert_eq!(frame["event"]["payload"]["text"], "bob, live");
    assert!(frame["seq"].as_u64().unwrap() > seq0, "{frame}");
    let ana_p2 = a.http.post_text(&ana.token, "ana, live").await;
    bob_live.wait_all(&[("home", &ana_p2)], CROSS).await;
    // Her own post is on her home stream too.
    ana_live.wait_all(&[("home", &ana_p2)], CROSS).await;

    // 5. A reply by bob to ana's first post: on her notifications and on
    //    the thread, and in the thread read over HTTP.
    let reply = b
        .http
        .reply(&bob.token, &ana_p1, &ana_p1, "nice post, ana")
        .await;
    let seen = ana_live
        .wait_all(&[("notes", &reply), ("thread", &reply)], CROSS)
        .await;
    assert!(
        !event_ids(&seen, "home").contains(&reply),
        "replies are not on home"
    );
    let thread = a
        .http
        .get(&format!("/api/v1/threads/{ana_p1}"), None)
        .await
        .expect(200);
    assert_eq!(thread.body["root"]["id"], ana_p1.as_str());
    assert_eq!(thread.body["total"], 1, "{}", thread.raw);
    assert_eq!(thread.body["replies"][0]["event"]["id"], reply.as_str());
    assert_eq!(thread.body["replies"][0]["depth"], 1);
    assert_eq!(thread.body["replies"][0]["parent"], ana_p1.as_str());
    // Unsubscribing stops the thread stream.
    ana_live
        .send(json!({"op": "unsubscribe", "sub": "thread"}))
        .await;
    let frames = ana_live.drain_until_pong().await;
    assert!(
        frames
            .iter()
            .any(|m| m["type"] == "unsubscribed" && m["sub"] == "thread"),
        "{frames:?}"
    );

    // 6. Resume: read a page, go away, bob posts twice, come back with the
    //    page's seq: both arrive, once each, then live goes on.
    let (_, page_seq) = a.http.home_ids(&ana.token).await;
    ana_live.close().await;
    let bob_p3 = b.http.post_text(&bob.token, "while ana was away (1)").await;
    let bob_p4 = b.http.post_text(&bob.token, "while ana was away (2)").await;
    eventually(CROSS, "both posts reach ana's node", || async {
        a.has(&bob_p3) && a.has(&bob_p4)
    })
    .await;
    let mut ana_live = Live::connect_ready(a.addr(), &ana.token).await;
    let (now_seq, before) = ana_live
        .subscribe(json!({
            "op": "subscribe", "sub": "home", "stream": "home", "after_seq": page_seq
        }))
        .await;
    assert!(before.is_empty(), "{before:?}");
    assert!(now_seq > page_seq);
    let mut frames = ana_live.drain_until_pong().await;
    let bob_p5 = b.http.post_text(&bob.token, "back live").await;
    frames.extend(ana_live.wait_all(&[("home", &bob_p5)], CROSS).await);
    frames.extend(ana_live.collect(Duration::from_millis(500)).await);
    let ids = event_ids(&frames, "home");
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an item came twice: {ids:?}");
    assert_eq!(
        unique,
        [&bob_p3, &bob_p4, &bob_p5].into_iter().collect(),
        "exactly what was missed, then live: {frames:#?}"
    );
    assert_eq!(ids.last(), Some(&bob_p5), "replay before live: {ids:?}");
    let seqs: Vec<u64> = frames
        .iter()
        .filter(|m| m["type"] == "event")
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert!(
        seqs.iter().all(|s| *s > page_seq) && seqs.windows(2).all(|w| w[0] < w[1]),
        "seqs after the page's, increasing: {seqs:?} (page {page_seq})"
    );
    ana_live.close().await;
    bob_live.close().await;
}
