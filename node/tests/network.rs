//! Three real nodes on loopback: gossip delivery, relevance, catch-up by
//! sync after downtime, and fetch of a missing parent.

mod common;

use std::time::Duration;

use common::*;
use kith_node::ingest::Verdict;
use kith_node::protocol::Keypair;
use kith_node::storage::IngestOutcome;
use kith_node::topics;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gossip_relevance_catch_up_and_fetch() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = start(dirs[0].path()).await;
    let b = start(dirs[1].path()).await;
    let c = start(dirs[2].path()).await;
    let (ia, ib, ic) = (
        a.identity().public(),
        b.identity().public(),
        c.identity().public(),
    );

    // B and C follow A's identity; nobody follows `x`, whose shard is A's.
    let t0 = now();
    for (n, me) in [(&b, ib), (&c, ic)] {
        let (_, v) = n.publish(follow(me, t0, ia)).await.unwrap();
        assert!(
            matches!(v, Verdict::Store(IngestOutcome::Stored { .. })),
            "{v:?}"
        );
    }
    let topic = topics::author_topic(&ia);
    let x = loop {
        let k = Keypair::generate(&mut rand_core::OsRng);
        if topics::author_topic(&k.public()) == topic {
            break k;
        }
    };

    b.connect(tcp_addr(&a)).await.unwrap();
    c.connect(tcp_addr(&a)).await.unwrap();
    c.connect(tcp_addr(&b)).await.unwrap();
    for peer in [b.peer_id(), c.peer_id()] {
        wait_topic_peer(&a, &topic, peer).await;
    }

    // 1. A post on A reaches B and C by gossip.
    let (p1, v) = a.publish(post(ia, now(), "hola a todos")).await.unwrap();
    assert!(matches!(v, Verdict::Store(IngestOutcome::Stored { .. })));
    let sent = std::time::Instant::now();
    let p1_id = p1.id();
    for n in [&b, &c] {
        eventually(Duration::from_secs(5), "post reaches B and C", || {
            has(n, &p1_id)
        })
        .await;
    }
    eprintln!("gossip delivery to both followers: {:?}", sent.elapsed());
    let stored = b.store().reader().get(&p1.id()).unwrap().unwrap();
    assert_eq!(stored.as_bytes(), p1.as_bytes(), "byte for byte");

    // 2. An unrelated author on the same topic: B hears it but does not store it.
    let unrelated = post_by(&x, now(), "nobody follows me");
    let v = a.submit(unrelated.as_bytes().to_vec()).await;
    assert!(
        matches!(v, Verdict::Store(IngestOutcome::Stored { .. })),
        "{v:?}"
    );
    eventually(
        Duration::from_secs(5),
        "B sees the unrelated post",
        || async { b.ingest().stats().get("not_relevant") >= 1 },
    )
    .await;
    assert!(
        !has(&b, &unrelated.id()).await,
        "B stored an unrelated author"
    );

    // 3. C goes down and misses 500 events; after a restart, sync alone
    //    brings them (gossip does not replay the past).
    let c_dir = c.data_dir().to_path_buf();
    c.shutdown().await.unwrap();
    let mut missed = Vec::new();
    for i in 0..500 {
        let (e, _) = a
            .publish(post(ia, now(), &format!("post {i} while C sleeps")))
            .await
            .unwrap();
        missed.push(e.id());
    }
    let c = start(&c_dir).await;
    assert!(!has(&c, &missed[0]).await);
    let before = std::time::Instant::now();
    c.connect(tcp_addr(&a)).await.unwrap();
    eventually(
        Duration::from_secs(20),
        "C catches up on 500 events",
        || async {
            let r = c.store().reader();
            missed.iter().all(|id| r.contains(id).unwrap_or(false))
        },
    )
    .await;
    eprintln!(
        "catch-up of 500 events after restart: {:?}",
        before.elapsed()
    );

    // 4. A reply from A to a post C never saw (by `y`, whom nobody follows):
    //    C stores the reply and fetches the parent from the peer that sent it.
    let y = Keypair::generate(&mut rand_core::OsRng);
    let parent = post_by(&y, now(), "a post C never saw");
    a.submit(parent.as_bytes().to_vec()).await;
    assert!(!has(&c, &parent.id()).await);
    wait_topic_peer(&a, &topic, c.peer_id()).await;
    let (r, _) = a
        .publish(reply(ia, now(), parent.id(), parent.id(), "answering y"))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !(has(&c, &parent.id()).await && has(&c, &r.id()).await) {
        assert!(
            std::time::Instant::now() < deadline,
            "C did not store both within 10 s: reply {}, parent {}; C's ingest {:?}; \
             A's score of C {:?}; A's ingest {:?}",
            has(&c, &r.id()).await,
            has(&c, &parent.id()).await,
            c.ingest().stats().snapshot(),
            a.gossip().peer_score(c.peer_id()).await,
            a.ingest().stats().snapshot(),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        c.ingest().stats().get("fetch_requested") >= 1,
        "C asked for the parent"
    );

    // 5. The DHT says which node hosts A's identity.
    eventually(
        Duration::from_secs(20),
        "B finds A's host in the DHT",
        || async { b.find_hosts(&ia).await.contains(&a.peer_id()) },
    )
    .await;

    for n in [a, b, c] {
        let report = n.store().check_integrity().unwrap();
        assert!(report.is_ok(), "{report:?}");
        n.shutdown().await.unwrap();
    }
}

/// A parent that no connected peer had is asked for again: C hears A's
/// reply, A does not hold the parent, and C finds it at B once it connects
/// to B (C follows only A, so its sync with B does not bring `y`'s post).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_parent_is_asked_for_again_when_a_peer_has_it() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = start(dirs[0].path()).await;
    let b = start(dirs[1].path()).await;
    let c = start(dirs[2].path()).await;
    let (ia, ic) = (a.identity().public(), c.identity().public());
    c.publish(follow(ic, now(), ia)).await.unwrap();

    let y = Keypair::generate(&mut rand_core::OsRng);
    let parent = post_by(&y, now(), "only B has this");
    let v = b.submit(parent.as_bytes().to_vec()).await;
    assert!(
        matches!(v, Verdict::Store(IngestOutcome::Stored { .. })),
        "{v:?}"
    );

    c.connect(tcp_addr(&a)).await.unwrap();
    wait_topic_peer(&a, &topics::author_topic(&ia), c.peer_id()).await;
    let (r, _) = a
        .publish(reply(ia, now(), parent.id(), parent.id(), "answering y"))
        .await
        .unwrap();
    let (reply_id, parent_id) = (r.id(), parent.id());
    eventually(Duration::from_secs(10), "C stores the reply", || {
        has(&c, &reply_id)
    })
    .await;
    eventually(
        Duration::from_secs(10),
        "C asked A for the parent",
        || async { c.ingest().stats().get("fetch_requested") >= 1 },
    )
    .await;
    assert!(!has(&c, &parent.id()).await, "nobody C knows has it yet");

    c.connect(tcp_addr(&b)).await.unwrap();
    eventually(
        Duration::from_secs(10),
        "C fetches the parent from B on a later attempt",
        || has(&c, &parent_id),
    )
    .await;

    for n in [a, b, c] {
        n.shutdown().await.unwrap();
    }
}
