//! Following someone new brings what they said before, from connected
//! peers, without waiting for a periodic sync.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_follow_syncs_the_followed_authors_past_events() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // No periodic sync, no sync on connect: only the catch-up can bring it.
    let a = start_quiet(da.path()).await;
    let b = start_quiet(db.path()).await;
    let ib = b.identity().public();
    let (old, _) = b
        .publish(post(ib, now(), "dicho antes de que me siguieras"))
        .await
        .unwrap();
    a.connect(tcp_addr(&b)).await.unwrap();
    let pb = b.peer_id();
    eventually(Duration::from_secs(5), "A and B connected", || async {
        a.connected_peers().await.contains(&pb)
    })
    .await;
    assert!(!has(&a, &old.id()).await, "nothing brought it yet");

    a.publish(follow(a.identity().public(), now(), ib))
        .await
        .unwrap();
    let id = old.id();
    eventually(
        Duration::from_secs(10),
        "A caught up on B's earlier post",
        || async { has(&a, &id).await },
    )
    .await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
