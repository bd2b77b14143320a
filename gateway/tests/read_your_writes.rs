//! The gateway caches each viewer's follow graph and each event's rendered
//! view. Neither may ever show a stale page: a follow, unfollow, block,
//! mute or new post shows in the very next request, with no waiting, and a
//! page read through the cache is the page read without it.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::{Value, json};

/// The authors of the caller's home page.
async fn home_authors(n: &TestNode, token: &str) -> HashSet<String> {
    n.http
        .get("/api/v1/me/home?limit=200", Some(token))
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["author"].as_str().unwrap().to_string())
        .collect()
}

fn set(keys: &[&str]) -> HashSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

/// Replaceable lists are ordered by time: keep two changes of one list in
/// different milliseconds.
async fn tick() {
    let now = kith_node::now_ms();
    while kith_node::now_ms() <= now {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn home_follows_every_change_at_once() {
    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let bob = h.register("bob").await;
    let cy = h.register("cyd").await;
    h.post_text(&bob.token, "bob one").await;
    h.post_text(&cy.token, "cy one").await;
    let (a, b, c) = (
        ana.identity.as_str(),
        bob.identity.as_str(),
        cy.identity.as_str(),
    );

    // Nothing followed yet: an empty page, which also fills the cache.
    assert!(home_authors(&n, &ana.token).await.is_empty());
    assert!(home_authors(&n, &ana.token).await.is_empty());

    h.follow(&ana.token, b).await;
    assert_eq!(
        home_authors(&n, &ana.token).await,
        set(&[b]),
        "after a follow"
    );
    h.follow(&ana.token, c).await;
    assert_eq!(home_authors(&n, &ana.token).await, set(&[b, c]));

    // Her own posts are in her home.
    h.post_text(&ana.token, "ana one").await;
    assert_eq!(home_authors(&n, &ana.token).await, set(&[a, b, c]));

    // Blocking Bob, then muting Cyd: each hides them at once, and lifting
    // it shows them again at once.
    for (list, who, rest) in [("blocks", b, [a, c]), ("mutes", c, [a, b])] {
        let path = format!("/api/v1/me/{list}/{who}");
        h.put(&path, Some(&ana.token), &json!({})).await.expect(201);
        assert_eq!(
            home_authors(&n, &ana.token).await,
            set(&rest),
            "after PUT {list}"
        );
        tick().await;
        h.delete(&path, Some(&ana.token)).await.expect(201);
        assert_eq!(
            home_authors(&n, &ana.token).await,
            set(&[a, b, c]),
            "after DELETE {list}"
        );
    }

    h.delete(&format!("/api/v1/me/follows/{b}"), Some(&ana.token))
        .await
        .expect(201);
    assert_eq!(
        home_authors(&n, &ana.token).await,
        set(&[a, c]),
        "after an unfollow"
    );

    // A new post shows at once; one by someone she does not follow does not.
    let cy_two = h.post_text(&cy.token, "cy two").await;
    h.post_text(&bob.token, "bob two").await;
    let (ids, _) = h.home_ids(&ana.token).await;
    assert_eq!(ids.first(), Some(&cy_two));
    assert_eq!(home_authors(&n, &ana.token).await, set(&[a, c]));

    // Bob's graph is his own: Ana's changes did not touch it.
    h.follow(&bob.token, a).await;
    assert_eq!(home_authors(&n, &bob.token).await, set(&[a, b]));
    assert_eq!(home_authors(&n, &ana.token).await, set(&[a, c]));

    n.stop().await;
}

/// Reads each path twice (the second read comes from the caches) and the
/// second page of the first (home) through its cursor.
async fn read_pages(n: &TestNode, token: &str, paths: &[String]) -> Vec<Value> {
    let mut pages: Vec<Value> = Vec::new();
    for p in paths {
        n.http.get(p, Some(token)).await.expect(200);
        pages.push(n.http.get(p, Some(token)).await.expect(200).body);
    }
    let next = pages[0]["next"]
        .as_str()
        .expect("a next cursor")
        .to_string();
    let more = format!("/api/v1/me/home?limit=5&cursor={next}");
    pages.push(n.http.get(&more, Some(token)).await.expect(200).body);
    pages
}

/// Pages served from the caches equal pages served with them off, counts
/// included, and the caches were really used.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cached_pages_equal_uncached_pages() {
    let mut n = TestNode::start(0, |_| {}).await;
    let ana = n.http.register("ana").await;
    let bob = n.http.register("bob").await;
    n.http.follow(&ana.token, &bob.identity).await;
    let mut posts = Vec::new();
    for i in 0..12 {
        posts.push(n.http.post_text(&bob.token, &format!("post {i}")).await);
    }
    // Counts that differ per post, and one that is Ana's own reaction.
    for (i, p) in posts.iter().enumerate().take(4) {
        n.http.reply(&ana.token, p, p, &format!("reply {i}")).await;
    }
    n.http
        .post(
            "/api/v1/publish",
            Some(&ana.token),
            &json!({ "kind": "reaction", "payload": { "reaction": "love" },
                     "refs": [{ "rel": "target", "event": posts[5] }] }),
        )
        .await
        .expect(201);

    let paths = [
        "/api/v1/me/home?limit=5".to_string(),
        format!("/api/v1/identities/{}/timeline?limit=50", bob.identity),
        format!("/api/v1/identities/{}/timeline?replies=true", ana.identity),
    ];
    let cached = read_pages(&n, &ana.token, &paths).await;
    let metrics = n.http.get("/metrics", None).await.raw;
    for cache in ["events", "graphs"] {
        let hits: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("kith_cache_hits_total{{cache=\"{cache}\"}} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        assert!(hits > 0, "the {cache} cache was never hit:\n{metrics}");
    }
    assert_eq!(cached[0]["items"].as_array().unwrap().len(), 5);
    assert_eq!(
        cached[0]["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["stats"]["mine"] == "love")
            .count()
            + cached[3]["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["stats"]["mine"] == "love")
                .count(),
        1,
        "Ana's reaction shows on one post of her first two pages"
    );

    n.stop_gateway().await;
    n.gateway_config.cache_mib = 0;
    n.restart_gateway().await;
    let uncached = read_pages(&n, &ana.token, &paths).await;
    assert_eq!(cached, uncached);
    n.stop().await;
}
