//! The chats API (`specs/gateway.md` § 13) between two accounts hosted on
//! one node: conversations with unread counts, paging, reactions, edits,
//! deletions, read markers, groups, live letters over the WebSocket, and
//! typed errors that change nothing.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn chat(id: &str) -> String {
    format!("/api/v1/me/chats/{id}")
}

async fn page(n: &TestNode, token: &str, id: &str, query: &str) -> Value {
    n.http
        .get(&format!("{}{query}", chat(id)), Some(token))
        .await
        .expect(200)
        .body
}

fn texts(p: &Value) -> Vec<String> {
    p["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

async fn send(n: &TestNode, token: &str, to: &str, text: &str) -> String {
    let r = n
        .http
        .post(&chat(to), Some(token), &json!({ "text": text }))
        .await
        .expect(201);
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_chat_page_react_edit_delete_and_read() {
    let n = TestNode::start(0, |_| {}).await;
    let ana = n.http.register("ana").await;
    let bob = n.http.register("bob").await;
    // Bob's first visit publishes his DM key.
    let empty = n
        .http
        .get("/api/v1/me/chats", Some(&bob.token))
        .await
        .expect(200);
    assert_eq!(empty.body["conversations"], json!([]));
    n.http.follow(&bob.token, &ana.identity).await;

    // Bob listens for letters.
    let mut live = Live::connect_ready(n.addr(), &bob.token).await;
    live.subscribe(json!({"op": "subscribe", "sub": "c", "stream": "chats"}))
        .await;

    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(send(&n, &ana.token, &bob.identity, &format!("hola {i}")).await);
    }
    // Ana says she is typing; Bob sees it live (same node: handed over).
    let mut ana_live = Live::connect_ready(n.addr(), &ana.token).await;
    ana_live
        .send(json!({"op": "typing", "conversation": bob.identity}))
        .await;
    let mut seen = Vec::new();
    let typing = loop {
        let m = live
            .next(Duration::from_secs(10))
            .await
            .expect("a typing frame");
        if m["type"] == "typing" {
            break m;
        }
        seen.push(m);
    };
    assert_eq!(typing["from"], ana.identity.as_str());
    assert_eq!(typing["conversation"], ana.identity.as_str());
    assert_eq!(typing["sub"], "c");

    // The first letter arrives live, opened.
    let frame = match seen.into_iter().find(|m| m["type"] == "letter") {
        Some(m) => m,
        None => loop {
            let m = live
                .next(Duration::from_secs(10))
                .await
                .expect("a letter frame");
            if m["type"] == "letter" {
                break m;
            }
        },
    };
    assert_eq!(frame["sub"], "c");
    assert_eq!(frame["conversation"], ana.identity.as_str());
    assert_eq!(frame["letter"]["from"], ana.identity.as_str());
    assert_eq!(frame["letter"]["body"]["text"]["text"], "hola 0");

    let list = n
        .http
        .get("/api/v1/me/chats", Some(&bob.token))
        .await
        .expect(200);
    assert_eq!(list.body["unread"], 5, "{}", list.body);
    let c = &list.body["conversations"][0];
    assert_eq!(c["id"], ana.identity.as_str());
    assert_eq!(c["last"]["text"], "hola 4");

    // Pages of two, oldest first within a page, back to the beginning.
    let p1 = page(&n, &bob.token, &ana.identity, "?limit=2").await;
    assert_eq!(texts(&p1), ["hola 3", "hola 4"]);
    let before = p1["before"].as_str().unwrap().to_owned();
    let p2 = page(
        &n,
        &bob.token,
        &ana.identity,
        &format!("?limit=2&before={before}"),
    )
    .await;
    assert_eq!(texts(&p2), ["hola 1", "hola 2"]);
    let before = p2["before"].as_str().unwrap().to_owned();
    let p3 = page(
        &n,
        &bob.token,
        &ana.identity,
        &format!("?limit=2&before={before}"),
    )
    .await;
    assert_eq!(texts(&p3), ["hola 0"]);
    assert!(p3.get("before").is_none());
    let r = n
        .http
        .get(
            &format!("{}?before=nonsense", chat(&ana.identity)),
            Some(&bob.token),
        )
        .await
        .expect(400);
    assert_eq!(r.code(), "bad_cursor");

    // Bob reacts, Ana edits one and deletes another; Bob tries to edit Ana's.
    n.http
        .post(
            &format!("{}/react", chat(&ana.identity)),
            Some(&bob.token),
            &json!({"to": ids[1], "reaction": "❤️"}),
        )
        .await
        .expect(201);
    n.http
        .put(
            &format!("{}/messages/{}", chat(&bob.identity), ids[2]),
            Some(&ana.token),
            &json!({"text": "hola dos (editado)"}),
        )
        .await
        .expect(201);
    n.http
        .delete(
            &format!("{}/messages/{}", chat(&bob.identity), ids[3]),
            Some(&ana.token),
        )
        .await
        .expect(201);
    n.http
        .put(
            &format!("{}/messages/{}", chat(&ana.identity), ids[4]),
            Some(&bob.token),
            &json!({"text": "not mine to edit"}),
        )
        .await
        .expect(201);
    let all = page(&n, &bob.token, &ana.identity, "").await;
    let m = all["messages"].as_array().unwrap();
    assert_eq!(m.len(), 5);
    assert_eq!(m[1]["reactions"][&bob.identity], "❤️");
    assert_eq!(m[2]["text"], "hola dos (editado)");
    assert_eq!(m[2]["edited"], true);
    assert_eq!(m[3]["deleted"], true);
    assert_eq!(m[3]["text"], "");
    assert_eq!(m[4]["text"], "hola 4", "only its sender edits a message");
    // Ana sees the same conversation from her side.
    let hers = page(&n, &ana.token, &bob.identity, "").await;
    assert_eq!(texts(&hers), texts(&all));
    assert_eq!(hers["messages"][0]["mine"], true);

    // A file: encrypted by Ana's node, decrypted by Bob's (the same node here).
    let file = "lista de la compra: tomates, pan, aceite";
    let up = n
        .http
        .send_raw(
            "POST",
            &format!("{}/files?name=lista.txt", chat(&bob.identity)),
            Some(&ana.token),
            Some("text/plain"),
            file.as_bytes().to_vec(),
        )
        .await
        .expect(201);
    assert_eq!(up.body["size"], file.len());
    assert_eq!(up.body["mime"], "text/plain");
    let with_file = n
        .http
        .post(
            &chat(&bob.identity),
            Some(&ana.token),
            &json!({"text": "la lista", "attachments": [up.body]}),
        )
        .await
        .expect(201);
    let mid = with_file.body["id"].as_str().unwrap();
    let got = n
        .http
        .get(
            &format!("{}/messages/{mid}/files/0", chat(&ana.identity)),
            Some(&bob.token),
        )
        .await
        .expect(200);
    assert_eq!(got.raw, file);
    assert_eq!(got.headers["content-type"], "text/plain");
    n.http
        .get(
            &format!("{}/messages/{mid}/files/1", chat(&ana.identity)),
            Some(&bob.token),
        )
        .await
        .expect(404);
    let r = n
        .http
        .send_raw(
            "POST",
            &format!("{}/files", chat(&bob.identity)),
            Some(&ana.token),
            None,
            vec![],
        )
        .await
        .expect(400);
    assert_eq!(r.code(), "empty");

    // Reading marks it read; with a receipt, Ana learns it.
    n.http
        .post(
            &format!("{}/read", chat(&ana.identity)),
            Some(&bob.token),
            &json!({"receipt": true}),
        )
        .await
        .expect(200);
    let list = n
        .http
        .get("/api/v1/me/chats", Some(&bob.token))
        .await
        .expect(200);
    assert_eq!(list.body["unread"], 0);
    let hers = page(&n, &ana.token, &bob.identity, "").await;
    assert_eq!(hers["messages"][0]["read_by"], json!([bob.identity]));

    // Delivery receipts, opted in: a new letter is acknowledged once Bob's
    // client fetches the list, before he reads it.
    let off = n
        .http
        .get("/api/v1/me/chat-settings", Some(&bob.token))
        .await
        .expect(200);
    assert_eq!(
        off.body,
        json!({"delivery_receipts": false, "read_receipts": false})
    );
    n.http
        .put(
            "/api/v1/me/chat-settings",
            Some(&bob.token),
            &json!({"delivery_receipts": true}),
        )
        .await
        .expect(200);
    let late = send(&n, &ana.token, &bob.identity, "¿llegó?").await;
    n.http
        .get("/api/v1/me/chats", Some(&bob.token))
        .await
        .expect(200);
    let hers = page(&n, &ana.token, &bob.identity, "").await;
    let m = hers["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == late.as_str())
        .unwrap()
        .clone();
    assert_eq!(m["delivered_to"], json!([bob.identity]), "{m}");
    assert_eq!(m["read_by"], json!([]));
    let r = n
        .http
        .put(
            "/api/v1/me/chat-settings",
            Some(&bob.token),
            &json!({"delivery": true}),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_typed_errors_that_change_nothing() {
    let n = TestNode::start(0, |_| {}).await;
    let ana = n.http.register("ana").await;
    let bob = n.http.register("bob").await;
    let eve = n.http.register("eve").await;
    for a in [&bob, &eve] {
        n.http
            .get("/api/v1/me/chats", Some(&a.token))
            .await
            .expect(200);
    }
    let g = n
        .http
        .post(
            "/api/v1/me/groups",
            Some(&ana.token),
            &json!({"name": "Huerta", "members": [bob.identity, eve.identity]}),
        )
        .await
        .expect(201);
    let gid = g.body["conversation"].as_str().unwrap().to_owned();
    assert!(gid.starts_with("group:"), "{gid}");
    send(&n, &ana.token, &gid, "bienvenidos").await;
    send(&n, &eve.token, &gid, "gracias").await;
    // Eve is not an admin: she cannot remove Bob.
    let r = n
        .http
        .post(
            &format!("/api/v1/me/groups/{gid}"),
            Some(&eve.token),
            &json!({"remove": [bob.identity]}),
        )
        .await
        .expect(403);
    assert_eq!(r.code(), "not_allowed");
    n.http
        .post(
            &format!("/api/v1/me/groups/{gid}"),
            Some(&ana.token),
            &json!({"remove": [eve.identity]}),
        )
        .await
        .expect(201);
    send(&n, &ana.token, &gid, "solo nosotros").await;
    let bobs = page(&n, &bob.token, &gid, "").await;
    assert_eq!(texts(&bobs), ["bienvenidos", "gracias", "solo nosotros"]);
    let eves = page(&n, &eve.token, &gid, "").await;
    assert_eq!(texts(&eves), ["bienvenidos", "gracias"]);
    // Eve, removed, cannot write to it.
    let r = n
        .http
        .post(&chat(&gid), Some(&eve.token), &json!({"text": "¿hola?"}))
        .await
        .expect(403);
    assert_eq!(r.code(), "not_allowed");
    let list = n
        .http
        .get("/api/v1/me/chats", Some(&bob.token))
        .await
        .expect(200);
    let group = &list.body["conversations"][0]["group"];
    assert_eq!(group["name"], "Huerta");
    assert_eq!(group["members"].as_array().unwrap().len(), 2);

    // Typed errors, and nothing sent.
    let before = n
        .http
        .get("/api/v1/me/chats", Some(&bob.token))
        .await
        .expect(200)
        .body;
    for (path, body, status, code) in [
        (
            chat("nonsense"),
            json!({"text": "x"}),
            400,
            "bad_conversation",
        ),
        (chat(&ana.identity), json!({"text": ""}), 400, "dm_invalid"),
        (
            chat(&ana.identity),
            json!({"text": "x".repeat(8001)}),
            400,
            "dm_invalid",
        ),
        (
            chat(&bob.identity),
            json!({"text": "to myself"}),
            400,
            "bad_conversation",
        ),
        (
            chat(&ana.identity),
            json!({"text": "x", "reply_to": "zz"}),
            400,
            "bad_message_id",
        ),
        (
            chat(&format!("group:{}", "ab".repeat(32))),
            json!({"text": "x"}),
            404,
            "unknown_conversation",
        ),
        (
            format!("{}/react", chat(&ana.identity)),
            json!({"to": "1", "reaction": "+"}),
            400,
            "bad_message_id",
        ),
    ] {
        let r = n.http.post(&path, Some(&bob.token), &body).await;
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert_eq!(r.code(), code, "{path}");
        assert_error_shape(&r);
    }
    let r = n
        .http
        .post(&chat(&ana.identity), None, &json!({"text": "x"}))
        .await;
    assert_eq!(r.status, 401);
    let after = n
        .http
        .get("/api/v1/me/chats", Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_land_in_requests_blocked_people_vanish_and_reports_reveal_only_what_is_chosen() {
    let n = TestNode::start(0, |_| {}).await;
    let ana = n.http.register("ana").await;
    let bob = n.http.register("bob").await;
    let eve = n.http.register("eve").await;
    n.http
        .get("/api/v1/me/chats", Some(&bob.token))
        .await
        .expect(200);
    n.http.follow(&bob.token, &ana.identity).await;
    send(&n, &ana.token, &bob.identity, "hola, soy Ana").await;
    let spam = send(&n, &eve.token, &bob.identity, "compra criptomonedas ya").await;
    send(&n, &eve.token, &bob.identity, "mi número es 555-0199").await;

    let inbox = n
        .http
        .get("/api/v1/me/chats", Some(&bob.token))
        .await
        .expect(200);
    let ids: Vec<&str> = inbox.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ana.identity.as_str()]);
    assert_eq!(inbox.body["unread"], 1);
    assert_eq!(inbox.body["requests"], 1);
    let requests = n
        .http
        .get("/api/v1/me/chats?folder=requests", Some(&bob.token))
        .await
        .expect(200);
    assert_eq!(
        requests.body["conversations"][0]["id"],
        eve.identity.as_str()
    );
    assert_eq!(requests.body["conversations"][0]["request"], true);
    let r = n
        .http
        .get("/api/v1/me/chats?folder=spam", Some(&bob.token))
        .await
        .expect(400);
    assert_eq!(r.code(), "invalid_query");

    // Bob reports Eve, revealing one message, then blocks her.
    let r = n
        .http
        .post(
            &format!("{}/report", chat(&eve.identity)),
            Some(&bob.token),
            &json!({"reason": "scam", "messages": [spam], "note": "estafa"}),
        )
        .await
        .expect(201);
    let event = &r.body["event"];
    assert_eq!(event["kind"], "report");
    let text = event["payload"]["text"].as_str().unwrap();
    assert!(
        text.contains("estafa") && text.contains("compra criptomonedas ya"),
        "{text}"
    );
    assert!(
        !text.contains("555-0199"),
        "only the chosen message is revealed"
    );
    // Revealing someone else's message, or Bob's own, is refused.
    let r = n
        .http
        .post(
            &format!("{}/report", chat(&eve.identity)),
            Some(&bob.token),
            &json!({"reason": "scam", "messages": ["ab".repeat(32)]}),
        )
        .await
        .expect(400);
    assert_eq!(r.code(), "bad_message_id");
    n.http
        .put(
            &format!("/api/v1/me/blocks/{}", eve.identity),
            Some(&bob.token),
            &json!({}),
        )
        .await;
    let requests = n
        .http
        .get("/api/v1/me/chats?folder=requests", Some(&bob.token))
        .await
        .expect(200);
    assert_eq!(requests.body["conversations"], json!([]));
    send(&n, &eve.token, &bob.identity, "¿me bloqueaste?").await;
    let requests = n
        .http
        .get("/api/v1/me/chats?folder=requests", Some(&bob.token))
        .await
        .expect(200);
    assert_eq!(requests.body["conversations"], json!([]));
}
