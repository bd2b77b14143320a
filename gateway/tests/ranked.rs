//! The ranked home feed over real HTTP: explanations in the caller's
//! language, weights from the query and the account's settings, paging
//! from a snapshot, and typed errors for bad weights and cursors.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

async fn ranked(n: &TestNode, token: &str, query: &str) -> Value {
    n.http
        .get(&format!("/api/v1/me/home?mode=ranked{query}"), Some(token))
        .await
        .expect(200)
        .body
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ranked_home_explains_pages_and_takes_weights() {
    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let bob = h.register("bob").await;
    let cyd = h.register("cyd").await;
    h.put(
        "/api/v1/me/profile",
        Some(&bob.token),
        &json!({ "name": "Bob" }),
    )
    .await
    .expect(201);
    h.follow(&ana.token, &bob.identity).await;
    h.follow(&ana.token, &cyd.identity).await;
    // Ana reacted to two of Cyd's #adoption posts this week.
    for i in 0..2 {
        let p = h.post_text(&cyd.token, &format!("#adoption {i}")).await;
        h.post(
            "/api/v1/publish",
            Some(&ana.token),
            &json!({ "kind": "reaction", "payload": { "reaction": "like" },
                     "refs": [{ "rel": "target", "event": p }] }),
        )
        .await
        .expect(201);
    }
    let tagged = h.post_text(&bob.token, "kittens for #adoption").await;
    let plain = h.post_text(&cyd.token, "a quiet afternoon").await;

    let page = ranked(&n, &ana.token, "&lang=en").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    for item in items {
        let why = &item["why"];
        assert!(why["score"].as_f64().unwrap() > 0.0, "{item}");
        assert!(!why["reasons"].as_array().unwrap().is_empty());
        assert!(!why["summary"].as_array().unwrap().is_empty());
        assert!(item["stats"].is_object());
    }
    // Bob's tagged post: its hashtag reason, in words, with his name.
    let bobs = items.iter().find(|i| i["id"] == tagged.as_str()).unwrap();
    let summary: Vec<&str> = bobs["why"]["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(summary[0], "You follow Bob");
    assert!(
        summary.contains(&"You reacted to 2 posts tagged #adoption this week"),
        "{summary:?}"
    );
    assert_eq!(bobs["why"]["reasons"][0]["feature"], "hashtags");
    assert_eq!(bobs["why"]["reasons"][0]["evidence"]["tag"], "adoption");

    // Spanish, from the query or from Accept-Language.
    let es = ranked(&n, &ana.token, "&lang=es").await;
    let es_bob = es["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == tagged.as_str())
        .unwrap();
    assert_eq!(es_bob["why"]["summary"][0], "Sigues a Bob");
    let raw = reqwest::Client::new()
        .get(format!("{}/api/v1/me/home?mode=ranked", n.url))
        .bearer_auth(&ana.token)
        .header("accept-language", "es-MX,es;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(raw.contains("Sigues a Bob"), "{raw}");

    // Weights: by default Bob's tagged post scores above Cyd's plain one
    // (hashtag 2/4 × 0.4 against author 2/5 × 0.3); all on author affinity
    // (whom Ana engaged with) turns that round.
    let score = |page: &Value, id: &str| -> f64 {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .and_then(|i| i["why"]["score"].as_f64())
            .unwrap()
    };
    assert!(score(&page, &tagged) > score(&page, &plain));
    let tuned = ranked(&n, &ana.token, "&w_hashtags=0&w_author=5").await;
    assert!(score(&tuned, &plain) > score(&tuned, &tagged));
    assert!((score(&tuned, &plain) - score(&page, &plain) - (5.0 - 0.3) * 0.4).abs() < 1e-6);
    let after = ids(&tuned);
    assert_ne!(after[0], tagged);
    // The same through the account's settings.
    h.put(
        "/api/v1/me/settings",
        Some(&ana.token),
        &json!({ "feed": { "mode": "ranked", "weights": { "hashtags": 0, "author": 5 } } }),
    )
    .await
    .expect(200);
    let from_settings = h.get("/api/v1/me/home", Some(&ana.token)).await.expect(200);
    assert_eq!(
        ids(&from_settings.body),
        after,
        "settings give mode and weights"
    );
    let chrono = h
        .get("/api/v1/me/home?mode=chronological", Some(&ana.token))
        .await
        .expect(200);
    assert!(chrono.body["items"][0].get("why").is_none());

    // Paging: one item per page, every item once, from one snapshot.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("&limit=1&cursor={c}"),
            None => "&limit=1".to_string(),
        };
        let p = ranked(&n, &ana.token, &q).await;
        seen.extend(ids(&p));
        match p["next"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(seen.len() <= 4, "paging does not end");
    }
    assert_eq!(seen, after);

    // Typed errors.
    for (q, code, field) in [
        ("&w_author=11", "invalid_weight", Some("w_author")),
        ("&w_media=-1", "invalid_weight", Some("w_media")),
        ("&cursor=nope", "bad_cursor", None),
        ("&cursor=rzz.1", "bad_cursor", None),
    ] {
        let r = h
            .get(&format!("/api/v1/me/home?mode=ranked{q}"), Some(&ana.token))
            .await
            .expect(400);
        assert_error_shape(&r);
        assert_eq!(r.code(), code, "{q}");
        if let Some(f) = field {
            assert_eq!(r.body["error"]["details"]["field"], f);
        }
    }
    let r = h
        .get("/api/v1/me/home?mode=sideways", Some(&ana.token))
        .await
        .expect(400);
    assert_error_shape(&r);
    n.stop().await;
}

/// Trending hashtags: one account repeating a tag counts once; the window
/// and limit are checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn trending_counts_people_not_posts() {
    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let spammer = h.register("spammer").await;
    for i in 0..30 {
        h.post_text(&spammer.token, &format!("#deals number {i}"))
            .await;
    }
    for name in ["ana", "bob", "cyd"] {
        let a = h.register(name).await;
        h.post_text(&a.token, "so much #rain today").await;
    }
    let t = h.get("/api/v1/trending?window=1h", None).await.expect(200);
    assert_eq!(t.body["window"], "1h");
    let items = t.body["items"].as_array().unwrap();
    assert_eq!(items[0]["tag"], "rain");
    assert_eq!(items[0]["authors"], 3);
    assert_eq!(items[1]["tag"], "deals");
    assert_eq!(
        (items[1]["authors"].as_u64(), items[1]["uses"].as_u64()),
        (Some(1), Some(3))
    );
    let one = h.get("/api/v1/trending?limit=1", None).await.expect(200);
    assert_eq!(one.body["window"], "24h");
    assert_eq!(one.body["items"].as_array().unwrap().len(), 1);
    let r = h.get("/api/v1/trending?window=1w", None).await.expect(400);
    assert_error_shape(&r);
    n.stop().await;
}

/// Search: typo-tolerant posts with counts, people by profile, hashtags,
/// a language filter, blocked authors left out, and typed errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_finds_posts_people_and_hashtags() {
    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let bob = h.register("bob").await;
    let es = h
        .post(
            "/api/v1/publish",
            Some(&bob.token),
            &json!({ "kind": "post", "payload": { "text": "Perritos en adopción en Córdoba #Adopción", "tags": ["adopción"], "lang": "es" } }),
        )
        .await
        .expect(201)
        .body["event"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.post_text(&bob.token, "Rust gossip protocols").await;
    h.put(
        "/api/v1/me/profile",
        Some(&ana.token),
        &json!({ "name": "Ana Gómez", "bio": "rescata perritos" }),
    )
    .await
    .expect(201);
    let search = |q: &str| format!("/api/v1/search?{q}");
    // The index commits within a second.
    eventually(
        Duration::from_secs(10),
        "the post to be searchable",
        || async {
            !h.get(&search("q=adopcion"), None).await.body["posts"]
                .as_array()
                .is_none_or(Vec::is_empty)
        },
    )
    .await;
    let found = h.get(&search("q=adopcion"), None).await.expect(200).body;
    assert_eq!(found["posts"][0]["id"], es.as_str(), "{found}");
    assert!(found["posts"][0]["stats"].is_object());
    assert_eq!(found["hashtags"][0]["tag"], "adopción");
    let typo = h.get(&search("q=gosip"), None).await.expect(200).body;
    assert_eq!(typo["posts"][0]["payload"]["text"], "Rust gossip protocols");
    let people = h.get(&search("q=gomez"), None).await.expect(200).body;
    assert_eq!(people["people"][0]["name"], "Ana Gómez");
    assert_eq!(people["people"][0]["identity"], ana.identity.as_str());
    let en = h
        .get(&search("q=adopcion&lang=en"), None)
        .await
        .expect(200)
        .body;
    assert!(en["posts"].as_array().unwrap().is_empty());
    // Ana blocks Bob: his posts leave her results, not anyone else's.
    h.put(
        &format!("/api/v1/me/blocks/{}", bob.identity),
        Some(&ana.token),
        &json!({}),
    )
    .await
    .expect(201);
    let mine = h
        .get(&search("q=adopcion"), Some(&ana.token))
        .await
        .expect(200)
        .body;
    assert!(mine["posts"].as_array().unwrap().is_empty());
    let anyone = h.get(&search("q=adopcion"), None).await.expect(200).body;
    assert_eq!(anyone["posts"].as_array().unwrap().len(), 1);
    for bad in ["q=", "q=%20%20", "limit=5"] {
        let r = h.get(&search(bad), None).await.expect(400);
        assert_error_shape(&r);
    }
    n.stop().await;
}
