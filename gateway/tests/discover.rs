//! Suggested people and creator statistics over real HTTP: reasons in the
//! caller's language, hidden identities never suggested, per-day counts,
//! story views only for the identity itself, and typed errors.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suggestions_explain_and_skip_hidden_people() {
    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let bob = h.register("bob").await;
    let cyd = h.register("cyd").await;
    let dan = h.register("dan").await;
    h.put(
        "/api/v1/me/profile",
        Some(&bob.token),
        &json!({ "name": "Bob" }),
    )
    .await
    .expect(201);
    h.follow(&ana.token, &bob.identity).await;
    h.follow(&bob.token, &cyd.identity).await;
    h.follow(&bob.token, &dan.identity).await;
    h.put(
        &format!("/api/v1/me/blocks/{}", dan.identity),
        Some(&ana.token),
        &json!({}),
    )
    .await
    .expect(201);

    let get = |q: &'static str| {
        let token = ana.token.clone();
        async move {
            h.get(&format!("/api/v1/me/suggestions{q}"), Some(&token))
                .await
                .expect(200)
                .body
        }
    };
    // The graph cache follows the writes; wait until the block shows.
    eventually(Duration::from_secs(10), "only Cyd is suggested", || async {
        let page = get("?lang=en").await;
        let ids: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["identity"].as_str())
            .collect();
        ids == [cyd.identity.as_str()]
    })
    .await;
    let en = get("?lang=en").await;
    let item = &en["items"][0];
    assert_eq!(item["summary"][0], "Followed by Bob, whom you follow");
    assert_eq!(item["reasons"][0]["type"], "followed_by");
    assert_eq!(item["reasons"][0]["count"], 1);
    assert_eq!(item["reasons"][0]["followed_by"][0], bob.identity.as_str());
    assert_eq!(
        item["reasons"][0]["text"],
        "Followed by Bob, whom you follow"
    );
    assert_eq!(item["followers"], 1);
    assert!(item["name"].is_string());
    let es = get("?lang=es").await;
    assert_eq!(
        es["items"][0]["summary"][0],
        "Seguida por Bob, a quien sigues"
    );
    let raw: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/me/suggestions", n.url))
        .bearer_auth(&ana.token)
        .header("accept-language", "es-MX,es;q=0.9")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        raw["items"][0]["summary"][0],
        "Seguida por Bob, a quien sigues"
    );

    // A session is required.
    assert_eq!(
        h.get("/api/v1/me/suggestions", None)
            .await
            .expect(401)
            .code(),
        "unauthorized"
    );
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stats_count_today_and_keep_story_views_private() {
    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let bob = h.register("bob").await;
    h.follow(&ana.token, &bob.identity).await;
    let post = h.post_text(&bob.token, "hola #kith").await;
    h.post(
        "/api/v1/publish",
        Some(&ana.token),
        &json!({ "kind": "reaction", "payload": { "reaction": "love" },
                 "refs": [{ "rel": "target", "event": post }] }),
    )
    .await
    .expect(201);
    h.reply(&ana.token, &post, &post, "¡hola!").await;

    let today = |v: &Value| v["days"].as_array().unwrap().last().unwrap().clone();
    let mine = h
        .get("/api/v1/me/stats?days=7", Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(mine["days"].as_array().unwrap().len(), 7);
    let d = today(&mine);
    assert_eq!(d["posts"], 1);
    assert_eq!(d["reactions"]["love"], 1);
    assert_eq!(d["reactions"]["like"], 0);
    assert_eq!(d["replies"], 1);
    assert_eq!(d["new_followers"], 1);
    assert_eq!(d["story_views"], 0);
    assert_eq!(mine["totals"]["followers"], 1);
    assert_eq!(mine["totals"]["story_views"], 0);
    assert_eq!(mine["top_posts"][0]["id"], post.as_str());
    assert_eq!(mine["top_posts"][0]["engagement"], 2);
    assert_eq!(mine["identity"], bob.identity.as_str());

    // Anyone (even without a session) sees the same counts without story
    // views; Bob asking by key sees them.
    let path = format!("/api/v1/identities/{}/stats?days=7", bob.identity);
    for token in [Some(ana.token.as_str()), None] {
        let public = h.get(&path, token).await.expect(200).body;
        assert_eq!(today(&public)["reactions"]["love"], 1);
        assert!(today(&public).get("story_views").is_none(), "{public}");
        assert!(public["totals"].get("story_views").is_none());
    }
    let own = h.get(&path, Some(&bob.token)).await.expect(200).body;
    assert_eq!(today(&own)["story_views"], 0);
    // Default: 30 days.
    let default = h
        .get("/api/v1/me/stats", Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(default["days"].as_array().unwrap().len(), 30);

    // Bad input: 400 with a clear code.
    for (path, code) in [
        ("/api/v1/me/stats?days=0".to_string(), "invalid_days"),
        ("/api/v1/me/stats?days=366".to_string(), "invalid_days"),
        ("/api/v1/me/stats?days=week".to_string(), "invalid_query"),
        ("/api/v1/identities/kith1nope/stats".to_string(), ""),
    ] {
        let r = h.get(&path, Some(&bob.token)).await.expect(400);
        if !code.is_empty() {
            assert_eq!(r.code(), code, "{path}");
        }
    }
    let r = h
        .get("/api/v1/me/stats?days=0", Some(&bob.token))
        .await
        .expect(400);
    assert_eq!(r.body["error"]["details"]["field"], "days");
    n.stop().await;
}
