//! A local event the store parks (its dependency is missing) is published
//! by gossip once the dependency arrives and the store releases it.

mod common;

use std::time::Duration;

use common::*;
use kith_node::ingest::Verdict;
use kith_node::protocol::kinds::{Delegation, Revocation};
use kith_node::protocol::{Keypair, Kind, Rel, UnsignedEvent};
use kith_node::storage::IngestOutcome;
use kith_node::topics;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_local_event_is_published_when_released() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // No sync at all: only gossip can bring B the revocation.
    let a = start_quiet(da.path()).await;
    let b = start_quiet(db.path()).await;
    let ia = a.identity().public();
    b.publish(follow(b.identity().public(), now(), ia))
        .await
        .unwrap();
    b.connect(tcp_addr(&a)).await.unwrap();
    wait_topic_peer(&a, &topics::author_topic(&ia), b.peer_id()).await;

    // A delegation by A's identity, not yet stored anywhere…
    let (me, _) = kith_node::identity::load_or_create(da.path()).unwrap();
    let delegate = Keypair::generate(&mut rand_core::OsRng);
    let delegation = UnsignedEvent::new(
        ia,
        now(),
        Delegation {
            kinds: vec![Kind::Post],
            expires_at: now() + 86_400_000,
        },
    )
    .ref_identity(Rel::Subject, delegate.public())
    .sign(&me)
    .unwrap();
    // …so its revocation waits.
    let (revocation, verdict) = a
        .publish(
            UnsignedEvent::new(ia, now() + 1, Revocation { keep_before: None })
                .ref_event(Rel::Target, delegation.id()),
        )
        .await
        .unwrap();
    assert!(
        matches!(verdict, Verdict::Store(IngestOutcome::Pending { .. })),
        "{verdict:?}"
    );
    assert!(!has(&b, &revocation.id()).await);

    // The delegation arrives; the store releases the revocation, and the
    // node publishes it: B gets both by gossip.
    a.submit(delegation.as_bytes().to_vec()).await;
    let (d, r) = (delegation.id(), revocation.id());
    eventually(
        Duration::from_secs(10),
        "B has the released revocation",
        || async { has(&b, &d).await && has(&b, &r).await },
    )
    .await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
