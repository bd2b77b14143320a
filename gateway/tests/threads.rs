//! `GET /api/v1/threads/{id}` over real HTTP: the three sorts, trimming at
//! a depth with `hidden_replies`, a reply as the root of its subthread,
//! paging, per-type reaction counts with the viewer's own, and 400s for a
//! bad `sort` or `depth`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// Publishes a reply at a chosen time (so sibling order is known); its id.
async fn reply_at(h: &Http, token: &str, root: &str, parent: &str, at: u64, text: &str) -> String {
    let r = h
        .post(
            "/api/v1/publish",
            Some(token),
            &json!({
                "kind": "reply",
                "payload": { "text": text },
                "refs": [
                    { "rel": "root", "event": root },
                    { "rel": "parent", "event": parent },
                ],
                "created_at": at,
            }),
        )
        .await
        .expect(201);
    r.body["event"]["id"].as_str().unwrap().to_string()
}

/// Reacts to `target`.
async fn react(h: &Http, token: &str, target: &str, reaction: &str) {
    h.post(
        "/api/v1/publish",
        Some(token),
        &json!({
            "kind": "reaction",
            "payload": { "reaction": reaction },
            "refs": [{ "rel": "target", "event": target }],
        }),
    )
    .await
    .expect(201);
}

/// `(id, depth, hidden_replies)` of a thread page's replies.
fn shape(body: &Value) -> Vec<(String, u64, u64)> {
    body["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["event"]["id"].as_str().unwrap().to_string(),
                r["depth"].as_u64().unwrap(),
                r["hidden_replies"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn ids(body: &Value) -> Vec<String> {
    shape(body).into_iter().map(|s| s.0).collect()
}

/// Owned copies, to compare with [`ids`].
fn owned(ids: &[&String]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn threads_sort_trim_and_open_subthreads() {
    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let bob = h.register("bob").await;
    let cyd = h.register("cyd").await;
    let dee = h.register("dee").await;
    let root = h.post_text(&ana.token, "root").await;
    // Just after the accounts' delegations start, a millisecond apart.
    let t = now();
    let a = reply_at(h, &bob.token, &root, &root, t + 1, "A").await;
    let b = reply_at(h, &cyd.token, &root, &root, t + 2, "B").await;
    let c = reply_at(h, &dee.token, &root, &root, t + 3, "C").await;
    let a1 = reply_at(h, &ana.token, &root, &a, t + 4, "A1").await;
    let a2 = reply_at(h, &cyd.token, &root, &a, t + 5, "A2").await;
    let a1x = reply_at(h, &bob.token, &root, &a1, t + 6, "A1x").await;
    let c1 = reply_at(h, &bob.token, &root, &c, t + 7, "C1").await;
    // B: 2 reactions; A and C: 1 each, A with more direct replies.
    react(h, &ana.token, &b, "like").await;
    react(h, &dee.token, &b, "love").await;
    react(h, &bob.token, &c, "wow").await;
    react(h, &dee.token, &a, "like").await;

    let get = |query: String, token: Option<String>| async move {
        h.get(&format!("/api/v1/threads/{query}"), token.as_deref())
            .await
    };

    // Default: oldest first, listed to depth 8, with per-type counts and
    // the viewer's own reaction.
    let path = root.clone();
    let token = Some(ana.token.clone());
    eventually(Duration::from_secs(10), "B's two reactions", || {
        let (path, token) = (path.clone(), token.clone());
        async move {
            let r = get(path, token).await.expect(200);
            r.body["replies"][4]["event"]["stats"]["reactions"]["love"] == 1
        }
    })
    .await;
    let r = get(root.clone(), Some(ana.token.clone())).await.expect(200);
    assert_eq!(r.body["sort"], "oldest");
    assert_eq!(r.body["depth"], 8);
    assert_eq!(
        (r.body["total"].as_u64(), r.body["listed"].as_u64()),
        (Some(7), Some(7))
    );
    assert_eq!(r.body["root"]["id"], root.as_str());
    assert_eq!(ids(&r.body), owned(&[&a, &a1, &a1x, &a2, &b, &c, &c1]));
    let b_item = &r.body["replies"][4];
    assert_eq!(b_item["event"]["stats"]["reactions"]["like"], 1);
    assert_eq!(b_item["event"]["stats"]["mine"], "like");
    assert_eq!(r.body["replies"][0]["descendants"], 3);
    assert_eq!(r.body["replies"][0]["event"]["stats"]["replies"], 2);
    assert_eq!(r.body["root"]["stats"]["thread_replies"], 7);

    let r = get(format!("{root}?sort=newest"), None).await.expect(200);
    assert_eq!(r.body["sort"], "newest");
    assert_eq!(ids(&r.body), owned(&[&c, &c1, &b, &a, &a2, &a1, &a1x]));

    // Reactions, then direct replies (A1 has one, A2 none), then oldest.
    let r = get(format!("{root}?sort=reactions"), None)
        .await
        .expect(200);
    assert_eq!(ids(&r.body), owned(&[&b, &a, &a1, &a1x, &a2, &c, &c1]));

    // Trimmed at depth 1: each top reply stands for what is below it.
    let r = get(format!("{root}?sort=reactions&depth=1"), None)
        .await
        .expect(200);
    assert_eq!(r.body["depth"], 1);
    assert_eq!(
        shape(&r.body),
        vec![(b.clone(), 1, 0), (a.clone(), 1, 3), (c.clone(), 1, 1)]
    );
    assert_eq!(
        (r.body["total"].as_u64(), r.body["listed"].as_u64()),
        (Some(7), Some(3))
    );

    // "Continue this thread": A's subthread, depths counted from A.
    let r = get(format!("{a}?depth=1"), None).await.expect(200);
    assert_eq!(r.body["root"]["id"], a.as_str());
    assert_eq!(shape(&r.body), vec![(a1.clone(), 1, 1), (a2.clone(), 1, 0)]);
    assert_eq!(r.body["total"], 3);
    let r = get(a1.clone(), None).await.expect(200);
    assert_eq!(shape(&r.body), vec![(a1x.clone(), 1, 0)]);

    // Pages of the newest sort continue after the last reply read.
    let p1 = get(format!("{root}?sort=newest&limit=3"), None)
        .await
        .expect(200);
    assert_eq!(ids(&p1.body), owned(&[&c, &c1, &b]));
    let next = p1.body["next"].as_str().unwrap().to_string();
    let p2 = get(format!("{root}?sort=newest&limit=3&after={next}"), None)
        .await
        .expect(200);
    assert_eq!(ids(&p2.body), owned(&[&a, &a2, &a1]));
    let next = p2.body["next"].as_str().unwrap().to_string();
    let p3 = get(format!("{root}?sort=newest&limit=3&after={next}"), None)
        .await
        .expect(200);
    assert_eq!(ids(&p3.body), owned(&[&a1x]));
    assert_eq!(p3.body["next"], Value::Null);

    // Bad sort or depth: 400 with its own code and the field at fault.
    for (query, code, field) in [
        ("sort=best", "invalid_sort", "sort"),
        ("sort=", "invalid_sort", "sort"),
        ("depth=0", "invalid_depth", "depth"),
        ("depth=101", "invalid_depth", "depth"),
        ("depth=deep", "invalid_depth", "depth"),
        ("depth=-1", "invalid_depth", "depth"),
    ] {
        let r = get(format!("{root}?{query}"), None).await.expect(400);
        assert_error_shape(&r);
        assert_eq!(r.code(), code, "{query}: {}", r.raw);
        assert_eq!(r.body["error"]["details"]["field"], field, "{query}");
    }
    n.stop().await;
}
