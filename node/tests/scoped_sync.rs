//! Sync scoped by kinds and by community, between two real nodes.

mod common;

use std::time::Duration;

use common::*;
use kith_node::protocol::kinds::{Community, Visibility};
use kith_node::protocol::{Keypair, Kind, Rel, UnsignedEvent};
use kith_node::sync::Scope;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_selects_kinds_and_communities() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start_quiet(da.path()).await;
    let b = start_quiet(db.path()).await;
    let key = || Keypair::generate(&mut rand_core::OsRng);
    let (x, y, z, owner) = (key(), key(), key(), key());
    let t = now() - 60_000;

    let posts: Vec<_> = (0..3)
        .map(|i| post_by(&x, t + i, &format!("post {i}")))
        .collect();
    let replies: Vec<_> = (0..2)
        .map(|i| {
            reply(
                x.public(),
                t + 10 + i,
                posts[0].id(),
                posts[0].id(),
                "me again",
            )
            .sign(&x)
            .unwrap()
        })
        .collect();
    let community = UnsignedEvent::new(
        owner.public(),
        t + 20,
        Community {
            name: "Huerta".into(),
            description: String::new(),
            rules: vec![],
            avatar: None,
            visibility: Visibility::Open,
            currency: None,
        },
    )
    .sign(&owner)
    .unwrap();
    let inside = |k: &Keypair, dt: u64| {
        post(k.public(), t + dt, "in the garden")
            .ref_event(Rel::Community, community.id())
            .sign(k)
            .unwrap()
    };
    let (in_y, in_z) = (inside(&y, 30), inside(&z, 31));
    let outside = post_by(&y, t + 32, "elsewhere");
    let mut all = posts.clone();
    all.extend(replies.clone());
    all.extend([
        community.clone(),
        in_y.clone(),
        in_z.clone(),
        outside.clone(),
    ]);
    for o in a.store().ingest(all).await.unwrap() {
        assert!(
            matches!(o, kith_node::storage::IngestOutcome::Stored { .. }),
            "{o:?}"
        );
    }
    b.connect(tcp_addr(&a)).await.unwrap();

    // Only x's posts, not x's replies.
    let report = b
        .sync_scope(
            a.peer_id(),
            Scope {
                authors: vec![x.public()],
                kinds: vec![Kind::Post],
                until: u64::MAX,
                ..Scope::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(report.missing, 3);
    let ids: Vec<_> = posts.iter().map(|e| e.id()).collect();
    eventually(Duration::from_secs(10), "x's posts stored on B", || async {
        ids.iter()
            .all(|id| b.store().reader().contains(id).unwrap_or(false))
    })
    .await;
    for r in &replies {
        assert!(
            !has(&b, &r.id()).await,
            "a reply came with a posts-only scope"
        );
    }

    // Everything inside the community, by anyone; nothing outside it.
    let report = b
        .sync_scope(
            a.peer_id(),
            Scope {
                community: Some(community.id()),
                until: u64::MAX,
                ..Scope::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(report.missing, 2, "{report:?}");
    let (iy, iz) = (in_y.id(), in_z.id());
    eventually(
        Duration::from_secs(10),
        "the community's posts stored on B",
        || async { has(&b, &iy).await && has(&b, &iz).await },
    )
    .await;
    assert!(!has(&b, &outside.id()).await);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
