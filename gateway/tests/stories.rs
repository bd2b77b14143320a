//! Stories over real HTTP: the tray puts unseen authors first, view receipts
//! go out only when the viewer turned them on (and once), only the author
//! sees who viewed, highlights keep text stories, and bad input is refused
//! with a typed error that changes nothing.

mod common;

use common::*;
use serde_json::{Value, json};

async fn story(n: &TestNode, token: &str, text: &str) -> String {
    let r = n
        .http
        .post(
            "/api/v1/me/stories",
            Some(token),
            &json!({ "text": text, "hours": 2 }),
        )
        .await
        .expect(201);
    r.body["event"]["id"].as_str().unwrap().to_string()
}

fn tray_authors(tray: &Value) -> Vec<(String, u64)> {
    tray["tray"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["author"].as_str().unwrap().to_string(),
                a["unseen"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tray_receipts_viewers_and_highlights() {
    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let bob = h.register("bob").await;
    let cyd = h.register("cyd").await;
    h.follow(&cyd.token, &ana.identity).await;
    h.follow(&cyd.token, &bob.identity).await;

    // Ana's story is older than Bob's; both unseen: newest author first.
    let ana_story = story(&n, &ana.token, "Mañana en la huerta").await;
    let bob_story = story(&n, &bob.token, "Rehearsal tonight").await;
    let tray = h
        .get("/api/v1/me/stories", Some(&cyd.token))
        .await
        .expect(200)
        .body;
    assert_eq!(
        tray_authors(&tray),
        vec![(bob.identity.clone(), 1), (ana.identity.clone(), 1)]
    );

    // Cyd has receipts off (the default): seen, but no receipt.
    let v = h
        .post(
            &format!("/api/v1/stories/{bob_story}/view"),
            Some(&cyd.token),
            &json!({}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(v, json!({ "seen": true, "receipt": false }));
    // Seen authors go after unseen ones.
    let tray = h
        .get("/api/v1/me/stories", Some(&cyd.token))
        .await
        .expect(200)
        .body;
    assert_eq!(
        tray_authors(&tray),
        vec![(ana.identity.clone(), 1), (bob.identity.clone(), 0)]
    );
    let viewers = h
        .get(
            &format!("/api/v1/stories/{bob_story}/viewers"),
            Some(&bob.token),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(viewers["count"], 0, "no receipt without opting in");

    // With receipts on, viewing Ana's story sends one receipt, once.
    h.put(
        "/api/v1/me/settings",
        Some(&cyd.token),
        &json!({ "stories": { "receipts": true } }),
    )
    .await
    .expect(200);
    for want in [true, false] {
        let v = h
            .post(
                &format!("/api/v1/stories/{ana_story}/view"),
                Some(&cyd.token),
                &json!({}),
            )
            .await
            .expect(200)
            .body;
        assert_eq!(v["receipt"], want);
    }
    let viewers = h
        .get(
            &format!("/api/v1/stories/{ana_story}/viewers"),
            Some(&ana.token),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(viewers["count"], 1);
    assert_eq!(viewers["viewers"][0]["key"], cyd.identity.as_str());
    // Only the author may ask.
    let r = h
        .get(
            &format!("/api/v1/stories/{ana_story}/viewers"),
            Some(&cyd.token),
        )
        .await
        .expect(403);
    assert_eq!(r.code(), "not_author");
    // Viewing one's own story never sends a receipt.
    h.put(
        "/api/v1/me/settings",
        Some(&ana.token),
        &json!({ "stories": { "receipts": true } }),
    )
    .await
    .expect(200);
    let v = h
        .post(
            &format!("/api/v1/stories/{ana_story}/view"),
            Some(&ana.token),
            &json!({}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(v["receipt"], false);

    // A person's live stories, and a highlight that keeps a text story.
    let list = h
        .get(
            &format!("/api/v1/identities/{}/stories", ana.identity),
            None,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(list["events"][0]["id"], ana_story.as_str());
    let made = h
        .post(
            "/api/v1/me/highlights",
            Some(&ana.token),
            &json!({ "name": "Huerta", "stories": [ana_story] }),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(made["event"]["kind"], "highlight");
    let hl = h
        .get(
            &format!("/api/v1/identities/{}/highlights", ana.identity),
            None,
        )
        .await
        .expect(200)
        .body;
    assert_eq!(hl["events"][0]["payload"]["name"], "Huerta");
    assert_eq!(
        hl["events"][0]["payload"]["items"][0]["text"],
        "Mañana en la huerta"
    );

    // Typed refusals that change nothing.
    let before = n.last_seq();
    let r = h
        .post(
            "/api/v1/me/highlights",
            Some(&ana.token),
            &json!({ "name": "Ajena", "stories": [bob_story] }),
        )
        .await
        .expect(400);
    assert_eq!(r.code(), "not_author");
    assert_error_shape(&r);
    let r = h
        .post(
            "/api/v1/me/stories",
            Some(&ana.token),
            &json!({ "text": "demasiado", "hours": 25 }),
        )
        .await
        .expect(400);
    assert_eq!(r.code(), "invalid_hours");
    let r = h
        .post(
            "/api/v1/me/stories",
            Some(&ana.token),
            &json!({ "text": "  " }),
        )
        .await;
    assert!(r.status.is_client_error(), "blank story: {}", r.status);
    let r = h
        .post(
            "/api/v1/stories/bafyreinope/view",
            Some(&cyd.token),
            &json!({}),
        )
        .await
        .expect(400);
    assert_error_shape(&r);
    assert_eq!(n.last_seq(), before, "refusals stored nothing");
    n.stop().await;
}
