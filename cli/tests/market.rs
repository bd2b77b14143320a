//! The marketplace end to end, with real `kith up` nodes on loopback and the
//! real `kith` binary (`specs/trades.md`, the marketplace API and CLI).
//!
//! - `full_trade_across_nodes`: Sara sells on node A, Bruno buys on node B.
//!   B finds the listing on the network; every step of the trade is taken on
//!   the node of the party who takes it and reaches the other node, so after
//!   each step both nodes agree on the trade. Stock goes down when Sara
//!   accepts. The delivery address reaches Sara (end-to-end encrypted) and
//!   appears in no public event or public view. Both review each other, the
//!   reviews and the reputation they make are the same on both nodes, and a
//!   second review is refused.
//! - `wrong_party_and_out_of_order_are_refused`: steps by the wrong party, out
//!   of order, or by someone who is no party, and reviews before the trade
//!   is completed, are refused with their codes, through the API and the CLI;
//!   so are events a third person signs herself and submits raw. Nothing
//!   of it is stored on either node.
//! - `race_for_the_last_unit`: two buyers order the last unit at once and
//!   the seller accepts both at once: exactly one trade is accepted, the
//!   other declined by the seller's node, the same on both nodes; the sold
//!   out listing leaves the default search.
//! - `search_with_filters`: words, category prefix, price range, currency,
//!   place, sort and limit select exactly the expected listings in the
//!   expected order; a withdrawn listing is never found; bad parameters are
//!   `400 bad_query`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use kith_node::protocol::kinds::{Review, TradeState, TradeUpdate};
use kith_node::protocol::{Event, EventId, Keypair, PublicKey, Rel, UnsignedEvent};
use serde_json::{Value, json};

// ---------------------------------------------------------------- helpers

/// The password `common::register` gives accounts.
const PASSWORD: &str = "correct horse battery";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// One HTTP call, whatever its status: (status, JSON body, `Null` when empty).
async fn send(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = client.request(method.parse().unwrap(), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let response = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

fn http(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    block(async { send(&client(), method, url, token, body).await })
}

/// The node's admin token: it speaks for the node's own identity.
fn admin(node: &Node) -> String {
    kith_gateway::read_admin_token(node.dir())
        .unwrap()
        .as_str()
        .to_owned()
}

/// Polls every 100 ms until `probe` gives `Ok`; panics after [`PATIENCE`]
/// with what the last probe saw.
fn settle<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => assert!(
                start.elapsed() < PATIENCE,
                "timed out waiting for: {what}; last seen: {last}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until both nodes are connected to each other.
fn linked(a: &Node, b: &Node) {
    let peers = |n: &Node| n.json(&["peers"])["peers"].as_array().map_or(0, Vec::len);
    eventually("the two nodes are connected", || {
        peers(a) > 0 && peers(b) > 0
    });
}

/// Asserts an API error: status and `error.code`.
#[track_caller]
fn refused(got: &(u16, Value), status: u16, code: &str) {
    assert_eq!(
        (got.0, got.1["error"]["code"].as_str()),
        (status, Some(code)),
        "{}",
        got.1
    );
}

/// Runs `kith ARGS`, which must fail and name `code` on stderr.
#[track_caller]
fn refused_cli(node: &Node, args: &[&str], code: &str) {
    let out = node.kith(args);
    assert!(
        !out.status.success(),
        "kith {args:?} succeeded: {}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains(code),
        "kith {args:?}: {}",
        stderr(&out)
    );
}

/// `GET /api/v1/trades/{id}` on `node` (as `token`'s owner, or anonymously);
/// `Err` with what came back unless 200.
fn trade_at(node: &Node, id: &str, token: Option<&str>) -> Result<Value, String> {
    let (status, body) = http(
        "GET",
        &format!("{}/api/v1/trades/{id}", node.url),
        token,
        None,
    );
    if status == 200 {
        Ok(body)
    } else {
        Err(format!("{status} {body}"))
    }
}

/// The ids of a trade's history.
fn history_ids(trade: &Value) -> Vec<Value> {
    trade["history"]
        .as_array()
        .map(|h| h.iter().map(|s| s["id"].clone()).collect())
        .unwrap_or_default()
}

/// The steps of a trade's history after the order: (state, by).
fn steps(trade: &Value) -> Vec<(String, String)> {
    trade["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] != "ordered")
        .map(|s| {
            (
                s["state"].as_str().unwrap().to_owned(),
                s["by"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A TradeView's `next_steps`, sorted.
fn next_steps(trade: &Value) -> Vec<String> {
    let mut v: Vec<String> = trade["next_steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no next_steps: {trade}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// A TradeView's reviews as (author, subject, rating), sorted.
fn reviews(trade: &Value) -> Vec<(String, String, u64)> {
    let mut v: Vec<_> = trade["reviews"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| {
                    (
                        r["author"].as_str().unwrap().to_owned(),
                        r["subject"].as_str().unwrap().to_owned(),
                        r["rating"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The texts of a TradeView's `details` (parties only).
fn details(trade: &Value) -> Vec<String> {
    trade["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|d| d["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until every node shows trade `id` in `state`, with the same latest
/// event and the same history; their public views (no token).
fn agreed(nodes: &[&Node], id: &str, state: &str) -> Vec<Value> {
    settle(&format!("every node shows trade {id} {state}"), || {
        let views = nodes
            .iter()
            .map(|n| trade_at(n, id, None))
            .collect::<Result<Vec<_>, _>>()?;
        let same = views.iter().all(|v| {
            v["state"] == state
                && v["latest"] == views[0]["latest"]
                && history_ids(v) == history_ids(&views[0])
        });
        if same {
            Ok(views)
        } else {
            let seen: Vec<String> = views
                .iter()
                .map(|v| format!("{} latest {} {:?}", v["state"], v["latest"], steps(v)))
                .collect();
            Err(seen.join(" | "))
        }
    })
}

/// Waits until `node` has listing `id` (asking its peers); its ListingView.
fn listing_at(node: &Node, id: &str) -> Value {
    settle(&format!("{} has listing {id}", node.url), || {
        let (status, body) = http(
            "GET",
            &format!("{}/api/v1/market/listings/{id}", node.url),
            None,
            None,
        );
        if status == 200 {
            Ok(body)
        } else {
            Err(format!("{status} {body}"))
        }
    })
}

/// `GET /api/v1/market/listings?{query}`.
fn search(node: &Node, query: &str) -> (u16, Value) {
    http(
        "GET",
        &format!("{}/api/v1/market/listings?{query}", node.url),
        None,
        None,
    )
}

/// The ids a search finds, in order; the search must succeed.
#[track_caller]
fn found(node: &Node, query: &str) -> Vec<String> {
    let (status, body) = search(node, query);
    assert_eq!(status, 200, "{query}: {body}");
    ids(&body)
}

/// `{"count","mean"}` of an identity's reputation on `node`.
fn reputation(node: &Node, key: &str) -> (u64, Option<f64>) {
    let (status, body) = http(
        "GET",
        &format!("{}/api/v1/identities/{key}/reputation", node.url),
        None,
        None,
    );
    assert_eq!(status, 200, "{body}");
    (body["count"].as_u64().unwrap(), body["mean"].as_f64())
}

/// The raw text of an event as the node serves it to anyone.
fn public_event(node: &Node, id: &str) -> (u16, String) {
    let (status, body) = http(
        "GET",
        &format!("{}/api/v1/events/{id}", node.url),
        None,
        None,
    );
    (status, body.to_string())
}

/// Standard base64 with padding (what `/api/v1/events` takes).
fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(chunk[0]) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Submits an event its author signed, as that author (`token`).
fn submit(node: &Node, token: &str, event: &Event) -> (u16, Value) {
    http(
        "POST",
        &format!("{}/api/v1/events", node.url),
        Some(token),
        Some(&json!({ "envelope": b64(event.as_bytes()) })),
    )
}

/// A step of trade `id` through the API.
fn step(node: &Node, token: &str, id: &str, body: &Value) -> (u16, Value) {
    http(
        "POST",
        &format!("{}/api/v1/me/trades/{id}/steps", node.url),
        Some(token),
        Some(body),
    )
}

/// A review of trade `id` through the API.
fn review(node: &Node, token: &str, id: &str, body: &Value) -> (u16, Value) {
    http(
        "POST",
        &format!("{}/api/v1/me/trades/{id}/review", node.url),
        Some(token),
        Some(body),
    )
}

/// Publishes a listing through the API; its id.
fn sell(node: &Node, token: &str, body: &Value) -> String {
    let (status, got) = http(
        "POST",
        &format!("{}/api/v1/me/listings", node.url),
        Some(token),
        Some(body),
    );
    assert_eq!(status, 201, "{got}");
    got["listing"]["id"].as_str().unwrap().to_owned()
}

/// Waits until the clock has moved past the last event's millisecond, so
/// the next one is strictly newer.
fn tick() {
    let t = kith_node::now_ms();
    eventually("the clock moves on", || kith_node::now_ms() > t);
}

// ---------------------------------------------------------------- tests

/// Sara (node A) sells a chair, Bruno (node B) buys one with shipping and
/// bank transfer; every step crosses the network; the address stays
/// private; both review each other.
#[test]
fn full_trade_across_nodes() {
    let a = Node::start();
    let b = Node::start_with(&["--bootstrap", &a.addr]);
    linked(&a, &b);
    let (sara, bruno) = (a.identity.clone(), b.identity.clone());
    let bruno_token = admin(&b);
    let sara_token = admin(&a);
    // Both have used their chats once, so each has a DM key others can
    // write to (the delivery details travel as a sealed letter).
    a.json(&["chats"]);
    b.json(&["chats"]);

    // Sara lists two chairs.
    let sold = a.json(&[
        "market",
        "sell",
        "--title",
        "Silla de madera",
        "--description",
        "Silla de roble macizo, muy cómoda",
        "--price",
        "12.50",
        "--currency",
        "EUR",
        "--category",
        "home/furniture",
        "--quantity",
        "2",
        "--condition",
        "good",
        "--delivery",
        "pickup,shipping",
        "--payment",
        "cash_on_pickup,bank_transfer",
        "--location",
        "Madrid centro",
        "--geohash",
        "ezjmgt",
    ]);
    let l = &sold["listing"];
    let listing = l["id"].as_str().unwrap().to_owned();
    assert_eq!(l["seller"], sara.as_str(), "{l}");
    assert_eq!(l["title"], "Silla de madera");
    assert_eq!(l["category"], "home/furniture");
    assert_eq!(
        l["price"],
        json!({ "amount": 1250, "currency": "EUR", "text": "12.50 EUR" })
    );
    assert_eq!(
        (l["quantity"].as_u64(), l["available"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(l["condition"], "good");
    assert_eq!(l["delivery"], json!(["pickup", "shipping"]));
    assert_eq!(l["payment"], json!(["cash_on_pickup", "bank_transfer"]));
    assert_eq!(l["withdrawn"], false);
    assert_eq!(l["reputation"], json!({ "count": 0, "mean": null }));

    // Bruno's node finds it on the network.
    let shown = settle("B fetches Sara's listing from A", || {
        let out = b.kith(&["--json", "market", "show", &listing]);
        if out.status.success() {
            Ok(serde_json::from_slice::<Value>(&out.stdout).unwrap())
        } else {
            Err(stderr(&out))
        }
    });
    assert_eq!(shown["id"], listing.as_str(), "{shown}");
    assert_eq!(shown["title"], "Silla de madera");
    assert_eq!(shown["seller"], sara.as_str());
    assert_eq!(shown["price"]["amount"], 1250);

    // Bruno orders one, to be shipped, paid by transfer, with his address.
    let address = "Calle Mayor 1, Madrid";
    let ordered = b.json(&[
        "trade",
        "order",
        &listing,
        "--quantity",
        "1",
        "--delivery",
        "shipping",
        "--payment",
        "bank_transfer",
        "--details",
        address,
    ]);
    let t = &ordered["trade"];
    let id = t["id"].as_str().unwrap().to_owned();
    assert_eq!(t["state"], "ordered", "{t}");
    assert_eq!(t["role"], "buyer");
    assert_eq!(t["buyer"], bruno.as_str());
    assert_eq!(t["seller"], sara.as_str());
    assert_eq!(t["listing"], listing.as_str());
    assert_eq!(t["listing_title"], "Silla de madera");
    assert_eq!(t["quantity"], 1);
    assert_eq!(t["delivery"], "shipping");
    assert_eq!(t["payment"], "bank_transfer");
    assert_eq!(t["price"]["amount"], 1250);
    assert_eq!(next_steps(t), ["cancelled"]);

    // The order reaches Sara's node.
    agreed(&[&a, &b], &id, "ordered");
    let mine = a.json(&["trade", "show", &id]);
    assert_eq!(mine["role"], "seller", "{mine}");
    assert_eq!(next_steps(&mine), ["accepted", "cancelled", "declined"]);

    // The address reaches Sara, for her eyes only.
    settle("the delivery details reach Sara's node", || {
        let view = a.json(&["trade", "show", &id]);
        if details(&view).iter().any(|d| d.contains(address)) {
            Ok(())
        } else {
            Err(view.to_string())
        }
    });
    let with_token = trade_at(&a, &id, Some(&sara_token)).unwrap();
    assert!(
        details(&with_token).iter().any(|d| d.contains(address)),
        "{with_token}"
    );
    for node in [&a, &b] {
        let public = trade_at(node, &id, None).unwrap();
        assert_eq!(public["role"], Value::Null, "{public}");
        assert!(
            public
                .get("details")
                .is_none_or(|d| d.is_null() || d == &json!([])),
            "{public}"
        );
        assert!(!public.to_string().contains("Calle Mayor"), "{public}");
        let (status, order) = public_event(node, &id);
        assert_eq!(status, 200, "{order}");
        assert!(order.contains("\"order\""), "{order}");
        assert!(!order.contains("Calle Mayor"), "{order}");
    }

    // Sara accepts on A: one unit is reserved there.
    let got = a.json(&["trade", "accept", &id]);
    assert_eq!(got["trade"]["state"], "accepted", "{got}");
    let stock = listing_at(&a, &listing);
    assert_eq!(
        (stock["quantity"].as_u64(), stock["available"].as_u64()),
        (Some(2), Some(1)),
        "{stock}"
    );
    agreed(&[&a, &b], &id, "accepted");

    // Bruno pays on B.
    let got = b.json(&["trade", "pay", &id, "--note", "Transferencia hecha"]);
    assert_eq!(got["trade"]["state"], "paid", "{got}");
    agreed(&[&a, &b], &id, "paid");

    // Sara confirms the payment on A.
    let got = a.json(&["trade", "confirm", &id]);
    assert_eq!(got["trade"]["state"], "payment_confirmed", "{got}");
    agreed(&[&a, &b], &id, "payment_confirmed");

    // Sara ships with tracking on A.
    let tracking = "ES0012345678";
    let got = a.json(&[
        "trade",
        "ship",
        &id,
        "--tracking",
        tracking,
        "--note",
        "Enviado por Correos",
    ]);
    assert_eq!(got["trade"]["state"], "shipped", "{got}");
    for view in agreed(&[&a, &b], &id, "shipped") {
        let last = view["history"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["state"], "shipped", "{view}");
        assert_eq!(last["tracking"], tracking, "{view}");
        assert_eq!(last["note"], "Enviado por Correos", "{view}");
    }

    // Bruno receives it and completes the trade on B.
    let got = b.json(&["trade", "deliver", &id]);
    assert_eq!(got["trade"]["state"], "delivered", "{got}");
    agreed(&[&a, &b], &id, "delivered");
    let got = b.json(&["trade", "complete", &id]);
    assert_eq!(got["trade"]["state"], "completed", "{got}");
    let done = agreed(&[&a, &b], &id, "completed");

    let want: Vec<(String, String)> = [
        ("accepted", "seller"),
        ("paid", "buyer"),
        ("payment_confirmed", "seller"),
        ("shipped", "seller"),
        ("delivered", "buyer"),
        ("completed", "buyer"),
    ]
    .iter()
    .map(|(s, by)| (s.to_string(), by.to_string()))
    .collect();
    for view in &done {
        assert_eq!(steps(view), want, "{view}");
    }

    // No event of the trade, on either node, holds the address.
    let mut events = history_ids(&done[0]);
    events.push(json!(id));
    for node in [&a, &b] {
        for event in &events {
            let event = event.as_str().unwrap();
            let (status, text) = public_event(node, event);
            assert_eq!(status, 200, "{event}: {text}");
            assert!(!text.contains("Calle Mayor"), "{text}");
        }
    }

    // Both review each other.
    let got = b.json(&[
        "trade",
        "review",
        &id,
        "--rating",
        "5",
        "--text",
        "Todo perfecto, muy amable",
    ]);
    assert!(
        reviews(&got["trade"]).contains(&(bruno.clone(), sara.clone(), 5)),
        "{got}"
    );
    let got = a.json(&[
        "trade",
        "review",
        &id,
        "--rating",
        "4",
        "--text",
        "Pago puntual, gracias",
    ]);
    assert!(
        reviews(&got["trade"]).contains(&(sara.clone(), bruno.clone(), 4)),
        "{got}"
    );
    let mut both = vec![
        (bruno.clone(), sara.clone(), 5),
        (sara.clone(), bruno.clone(), 4),
    ];
    both.sort();
    for node in [&a, &b] {
        settle("both reviews show on both nodes", || {
            let view = trade_at(node, &id, None)?;
            if reviews(&view) == both {
                Ok(())
            } else {
                Err(format!("{}: {:?}", node.url, reviews(&view)))
            }
        });
    }
    for view in agreed(&[&a, &b], &id, "completed") {
        let texts: Vec<&str> = view["reviews"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["text"].as_str())
            .collect();
        assert!(texts.contains(&"Todo perfecto, muy amable"), "{view}");
        assert!(texts.contains(&"Pago puntual, gracias"), "{view}");
    }

    // Reputation: Sara 5 from one review, Bruno 4 from one, on both nodes.
    for node in [&a, &b] {
        settle("the reputations count the reviews", || {
            let got = (reputation(node, &sara), reputation(node, &bruno));
            if got == ((1, Some(5.0)), (1, Some(4.0))) {
                Ok(())
            } else {
                Err(format!("{}: {got:?}", node.url))
            }
        });
    }
    let seen_from_b = listing_at(&b, &listing);
    assert_eq!(
        (
            seen_from_b["reputation"]["count"].as_u64(),
            seen_from_b["reputation"]["mean"].as_f64()
        ),
        (Some(1), Some(5.0)),
        "{seen_from_b}"
    );

    // One review per party and trade.
    refused(
        &review(
            &b,
            &bruno_token,
            &id,
            &json!({ "rating": 1, "text": "otra vez" }),
        ),
        409,
        "review_exists",
    );
    refused_cli(
        &b,
        &["trade", "review", &id, "--rating", "2"],
        "review_exists",
    );
    refused(
        &review(&a, &sara_token, &id, &json!({ "rating": 3 })),
        409,
        "review_exists",
    );
    for node in [&a, &b] {
        assert_eq!(reviews(&trade_at(node, &id, None).unwrap()), both);
    }
    assert_eq!(reputation(&b, &sara), (1, Some(5.0)));
}

/// Steps by the wrong party, out of order, by a third person, reviews
/// before completion and events Carla signs herself are all refused, and
/// none of them changes the trade on either node.
#[test]
fn wrong_party_and_out_of_order_are_refused() {
    let a = Node::start();
    let b = Node::start_with(&["--bootstrap", &a.addr]);
    linked(&a, &b);
    let sara_token = admin(&a);
    let bruno_token = admin(&b);
    // Carla has an account on Bruno's node; she is no party to the trade.
    let (carla_token, carla) = register(&b.url, "carla");
    a.json(&["chats"]);
    b.json(&["chats"]);

    let listing = sell(
        &a,
        &sara_token,
        &json!({
            "title": "Lámpara de pie",
            "category": "home/decor",
            "price": { "amount": 3000, "currency": "EUR" },
            "quantity": 3,
            "condition": "like_new",
            "delivery": ["pickup"],
            "payment": ["cash_on_pickup"],
        }),
    );
    listing_at(&b, &listing);
    let phone = "Tel. 600 123 456";
    let (status, got) = http(
        "POST",
        &format!("{}/api/v1/me/trades", b.url),
        Some(&bruno_token),
        Some(&json!({
            "listing": listing,
            "delivery": "pickup",
            "payment": "cash_on_pickup",
            "details": phone,
        })),
    );
    assert_eq!(status, 201, "{got}");
    let id = got["trade"]["id"].as_str().unwrap().to_owned();
    assert_eq!(got["trade"]["quantity"], 1, "quantity defaults to 1: {got}");
    let before = agreed(&[&a, &b], &id, "ordered");
    let latest = before[0]["latest"].clone();
    assert_eq!(latest, json!(id), "the order is the latest event");

    // The wrong party, or out of order: 409 trade_transition.
    let accepted = json!({ "state": "accepted" });
    refused(
        &step(&b, &bruno_token, &id, &accepted),
        409,
        "trade_transition",
    );
    refused_cli(&b, &["trade", "accept", &id], "trade_transition");
    refused(
        &step(&a, &sara_token, &id, &json!({ "state": "paid" })),
        409,
        "trade_transition",
    );
    refused_cli(&a, &["trade", "pay", &id], "trade_transition");
    refused(
        &step(&a, &sara_token, &id, &json!({ "state": "shipped" })),
        409,
        "trade_transition",
    );
    refused_cli(
        &a,
        &["trade", "ship", &id, "--tracking", "ES1"],
        "trade_transition",
    );
    refused(
        &step(&b, &bruno_token, &id, &json!({ "state": "completed" })),
        409,
        "trade_transition",
    );

    // Someone who is no party: 403 not_trade_party, whatever the step.
    for state in ["accepted", "declined", "paid", "cancelled", "completed"] {
        refused(
            &step(&b, &carla_token, &id, &json!({ "state": state })),
            403,
            "not_trade_party",
        );
    }
    refused_cli(
        &b,
        &["--token", &carla_token, "trade", "cancel", &id],
        "not_trade_party",
    );
    // Carla may look at the trade, but not at Bruno's details.
    let seen = trade_at(&b, &id, Some(&carla_token)).unwrap();
    assert_eq!(seen["role"], Value::Null, "{seen}");
    assert!(details(&seen).is_empty(), "{seen}");
    assert!(!seen.to_string().contains("600 123 456"), "{seen}");

    // No review before the trade is completed. (The contract gives 409,
    // specs/gateway.md § 14 and the protocol's table 403: the code is what
    // this test holds to.)
    for (node, token) in [(&b, &bruno_token), (&a, &sara_token)] {
        let got = review(node, token, &id, &json!({ "rating": 5 }));
        assert_eq!(got.1["error"]["code"], "review_without_trade", "{}", got.1);
        assert!([403, 409].contains(&got.0), "{got:?}");
    }
    refused_cli(
        &b,
        &["trade", "review", &id, "--rating", "5"],
        "review_without_trade",
    );

    // Carla signs events herself with her own root key and submits them
    // raw: a review of Sara and an acceptance. Both are refused and stored
    // nowhere.
    let exported = call(
        "POST",
        &format!("{}/api/v1/me/key/export", b.url),
        Some(&carla_token),
        &json!({ "password": PASSWORD }),
    );
    let key = Keypair::secret_from_text(exported["secret"].as_str().unwrap()).unwrap();
    assert_eq!(key.public().to_string(), carla);
    let order: EventId = id.parse().unwrap();
    let sara_key: PublicKey = a.identity.parse().unwrap();
    let forged_review = UnsignedEvent::new(
        key.public(),
        kith_node::now_ms(),
        Review {
            rating: 1,
            text: "Nunca me lo envió".into(),
        },
    )
    .ref_event(Rel::Order, order)
    .ref_identity(Rel::Subject, sara_key)
    .sign(&key)
    .unwrap();
    let got = submit(&b, &carla_token, &forged_review);
    assert_eq!(got.1["error"]["code"], "review_without_trade", "{}", got.1);
    assert!([403, 409].contains(&got.0), "{got:?}");
    let forged_step = UnsignedEvent::new(
        key.public(),
        kith_node::now_ms(),
        TradeUpdate {
            state: TradeState::Accepted,
            note: None,
            tracking: None,
        },
    )
    .ref_event(Rel::Order, order)
    .ref_event(Rel::Prev, order)
    .sign(&key)
    .unwrap();
    refused(
        &submit(&b, &carla_token, &forged_step),
        403,
        "not_trade_party",
    );
    for forged in [&forged_review, &forged_step] {
        for node in [&a, &b] {
            let (status, text) = public_event(node, &forged.id().to_string());
            assert_eq!(status, 404, "{text}");
        }
    }

    // Nothing changed: still ordered everywhere, no step, no review.
    for node in [&a, &b] {
        let view = trade_at(node, &id, None).unwrap();
        assert_eq!(view["state"], "ordered", "{view}");
        assert_eq!(view["latest"], latest, "{view}");
        assert!(steps(&view).is_empty(), "{view}");
        assert!(reviews(&view).is_empty(), "{view}");
    }
    // The right step still works, and the history holds it alone: none of
    // the refused steps slipped into either node.
    let got = step(&a, &sara_token, &id, &accepted);
    assert_eq!(got.0, 201, "{}", got.1);
    assert_eq!(got.1["trade"]["state"], "accepted");
    for view in agreed(&[&a, &b], &id, "accepted") {
        assert_eq!(
            steps(&view),
            [("accepted".to_owned(), "seller".to_owned())],
            "{view}"
        );
        assert!(reviews(&view).is_empty(), "{view}");
    }
    // And now an acceptance again is out of order.
    refused(
        &step(&a, &sara_token, &id, &accepted),
        409,
        "trade_transition",
    );
}

/// One chair left, two buyers at once, two acceptances at once: exactly one
/// trade is accepted, the other declined by Sara's node, on both nodes.
#[test]
fn race_for_the_last_unit() {
    let a = Node::start();
    let b = Node::start_with(&["--bootstrap", &a.addr]);
    linked(&a, &b);
    let sara = a.identity.clone();
    let sara_token = admin(&a);
    let bruno_token = admin(&b);
    // The second buyer, Dora, has an account on node B.
    let (dora_token, dora) = register(&b.url, "dora");

    let sold = a.json(&[
        "market",
        "sell",
        "--title",
        "Bicicleta de paseo",
        "--price",
        "80",
        "--currency",
        "EUR",
        "--category",
        "sports/bikes",
        "--quantity",
        "1",
        "--delivery",
        "pickup",
        "--payment",
        "cash_on_pickup",
    ]);
    let listing = sold["listing"]["id"].as_str().unwrap().to_owned();
    assert_eq!(sold["listing"]["price"]["amount"], 8000, "{sold}");
    assert_eq!(sold["listing"]["available"], 1, "{sold}");
    listing_at(&b, &listing);

    // Both order at the same moment.
    let order = json!({ "listing": listing, "delivery": "pickup", "payment": "cash_on_pickup" });
    let url = format!("{}/api/v1/me/trades", b.url);
    let (bruno_order, dora_order) = block(async {
        let c = client();
        let both = tokio::join!(
            send(&c, "POST", &url, Some(&bruno_token), Some(&order)),
            send(&c, "POST", &url, Some(&dora_token), Some(&order))
        );
        both
    });
    assert_eq!(bruno_order.0, 201, "{}", bruno_order.1);
    assert_eq!(dora_order.0, 201, "{}", dora_order.1);
    let t1 = bruno_order.1["trade"]["id"].as_str().unwrap().to_owned();
    let t2 = dora_order.1["trade"]["id"].as_str().unwrap().to_owned();
    assert_ne!(t1, t2);
    assert_eq!(bruno_order.1["trade"]["buyer"], b.identity.as_str());
    assert_eq!(dora_order.1["trade"]["buyer"], dora.as_str());
    agreed(&[&a, &b], &t1, "ordered");
    agreed(&[&a, &b], &t2, "ordered");

    // Sara accepts both at the same moment.
    let accept = json!({ "state": "accepted" });
    let u1 = format!("{}/api/v1/me/trades/{t1}/steps", a.url);
    let u2 = format!("{}/api/v1/me/trades/{t2}/steps", a.url);
    let (r1, r2) = block(async {
        let c = client();
        let both = tokio::join!(
            send(&c, "POST", &u1, Some(&sara_token), Some(&accept)),
            send(&c, "POST", &u2, Some(&sara_token), Some(&accept))
        );
        both
    });
    let (winner, loser, refusal) = match (r1.0, r2.0) {
        (201, 201) => panic!("both accepted: {} {}", r1.1, r2.1),
        (201, _) => (t1.clone(), t2.clone(), r2),
        (_, 201) => (t2.clone(), t1.clone(), r1),
        _ => panic!("neither accepted: {r1:?} {r2:?}"),
    };
    // The other one was refused: for want of stock (and then declined), or
    // because Sara's node had already declined it.
    assert_eq!(refusal.0, 409, "{}", refusal.1);
    let code = refusal.1["error"]["code"].as_str().unwrap_or_default();
    assert!(
        ["listing_unavailable", "trade_transition", "trade_stale"].contains(&code),
        "{}",
        refusal.1
    );
    if code == "listing_unavailable" {
        assert_eq!(
            refusal.1["error"]["details"]["declined"], true,
            "{}",
            refusal.1
        );
    }

    // Both nodes agree: one accepted, the other declined by the seller.
    agreed(&[&a, &b], &winner, "accepted");
    for view in agreed(&[&a, &b], &loser, "declined") {
        assert_eq!(
            steps(&view),
            [("declined".to_owned(), "seller".to_owned())],
            "{view}"
        );
    }

    // Sold out: nothing left on A, and the default search leaves it out.
    let stock = listing_at(&a, &listing);
    assert_eq!(
        (stock["quantity"].as_u64(), stock["available"].as_u64()),
        (Some(1), Some(0)),
        "{stock}"
    );
    settle("the sold-out listing leaves the default search", || {
        let in_stock = found(&a, &format!("seller={sara}"));
        let all = found(&a, &format!("seller={sara}&in_stock=false"));
        let words = found(&a, "q=bicicleta");
        if !in_stock.contains(&listing) && !words.contains(&listing) && all.contains(&listing) {
            Ok(())
        } else {
            Err(format!("in stock {in_stock:?}, q {words:?}, all {all:?}"))
        }
    });
    assert_eq!(
        found(&a, &format!("seller={sara}&in_stock=false")),
        std::slice::from_ref(&listing)
    );

    // Sara's trades: both; open ones: the accepted one.
    let (status, mine) = http(
        "GET",
        &format!("{}/api/v1/me/trades?role=seller", a.url),
        Some(&sara_token),
        None,
    );
    assert_eq!(status, 200, "{mine}");
    let mut all = ids(&mine);
    all.sort();
    let mut want = vec![t1.clone(), t2.clone()];
    want.sort();
    assert_eq!(all, want, "{mine}");
    let (status, open) = http(
        "GET",
        &format!("{}/api/v1/me/trades?role=seller&open=true", a.url),
        Some(&sara_token),
        None,
    );
    assert_eq!(status, 200, "{open}");
    assert_eq!(ids(&open), std::slice::from_ref(&winner), "{open}");

    // Each buyer sees their own trade, in its final state, on B.
    let dora_state = if winner == t2 { "accepted" } else { "declined" };
    settle("Dora's list shows her trade", || {
        let (status, page) = http(
            "GET",
            &format!("{}/api/v1/me/trades?role=buyer", b.url),
            Some(&dora_token),
            None,
        );
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if status == 200
            && items.len() == 1
            && items[0]["id"] == t2.as_str()
            && items[0]["state"] == dora_state
        {
            Ok(())
        } else {
            Err(format!("{status} {page}"))
        }
    });
    let bruno_state = if winner == t1 { "accepted" } else { "declined" };
    let listed = b.json(&["trade", "list", "--role", "buyer"]);
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["id"], t1.as_str(), "{listed}");
    assert_eq!(items[0]["state"], bruno_state, "{listed}");
}

/// Listings of several categories, prices, currencies and places on one
/// node; searches pick exactly the expected ones in the expected order.
#[test]
fn search_with_filters() {
    let a = Node::start();
    let sara = a.identity.clone();
    let token = admin(&a);

    let body = |title: &str,
                description: &str,
                category: &str,
                amount: u64,
                currency: &str,
                geohash: &str| {
        json!({
            "title": title,
            "description": description,
            "category": category,
            "price": { "amount": amount, "currency": currency },
            "quantity": 1,
            "condition": "good",
            "location": { "geohash": geohash },
            "delivery": ["pickup"],
            "payment": ["cash_on_pickup"],
        })
    };
    // Oldest to newest.
    let chair = sell(
        &a,
        &token,
        &body(
            "Silla de madera",
            "Silla de roble para el comedor",
            "home/furniture",
            1250,
            "EUR",
            "ezjmgt",
        ),
    );
    tick();
    let table = sell(
        &a,
        &token,
        &body(
            "Mesa de comedor",
            "Mesa extensible de pino",
            "home/furniture",
            4000,
            "EUR",
            "ezjmun",
        ),
    );
    tick();
    let lamp = sell(
        &a,
        &token,
        &body(
            "Lámpara de pie",
            "Lámpara de salón con pantalla de tela",
            "home/decor",
            2500,
            "EUR",
            "ezjq2b",
        ),
    );
    tick();
    // Through the CLI: 150 EUR is 15000 cents.
    let bike = a.json(&[
        "market",
        "sell",
        "--title",
        "Bicicleta de montaña",
        "--description",
        "Bicicleta con 21 marchas",
        "--price",
        "150",
        "--currency",
        "EUR",
        "--category",
        "sports/bikes",
        "--geohash",
        "sp3e9b",
        "--delivery",
        "pickup",
        "--payment",
        "cash_on_pickup",
    ]);
    assert_eq!(bike["listing"]["price"]["amount"], 15000, "{bike}");
    let bike = bike["listing"]["id"].as_str().unwrap().to_owned();
    tick();
    let gaming = sell(
        &a,
        &token,
        &body(
            "Silla gamer",
            "Silla ergonómica con reposabrazos",
            "electronics/computers",
            9900,
            "USD",
            "dhwfz3",
        ),
    );
    tick();
    // Through the CLI: the yen has no minor unit, 3000 JPY is 3000.
    let kettle = a.json(&[
        "market",
        "sell",
        "--title",
        "Tetera de hierro",
        "--description",
        "Tetera japonesa fundida",
        "--price",
        "3000",
        "--currency",
        "JPY",
        "--category",
        "home/kitchen",
        "--condition",
        "like_new",
        "--location",
        "Tokio",
        "--geohash",
        "xn76",
    ]);
    assert_eq!(
        kettle["listing"]["price"],
        json!({ "amount": 3000, "currency": "JPY", "text": "3000 JPY" }),
        "{kettle}"
    );
    let kettle = kettle["listing"]["id"].as_str().unwrap().to_owned();
    tick();
    // A folding chair, withdrawn: never found.
    let folding = sell(
        &a,
        &token,
        &body(
            "Silla plegable",
            "Silla plegable de camping",
            "home/furniture",
            800,
            "EUR",
            "ezjmgt",
        ),
    );
    let withdrawn = a.json(&["market", "withdraw", &folding]);
    assert_eq!(withdrawn["listing"]["withdrawn"], true, "{withdrawn}");
    assert_eq!(listing_at(&a, &folding)["withdrawn"], true);

    // Wait until search has indexed everything, the withdrawal included.
    let newest = vec![
        kettle.clone(),
        gaming.clone(),
        bike.clone(),
        lamp.clone(),
        table.clone(),
        chair.clone(),
    ];
    settle("search indexes the listings", || {
        let all = found(&a, "");
        let words = found(&a, "q=silla");
        let folding_words = found(&a, "q=plegable");
        let mut sorted = words.clone();
        sorted.sort();
        let mut want = vec![chair.clone(), gaming.clone()];
        want.sort();
        if all == newest && sorted == want && folding_words.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "all {all:?}, silla {words:?}, plegable {folding_words:?}"
            ))
        }
    });

    // Each filter, alone and together.
    let cases: Vec<(String, Vec<&String>)> = vec![
        ("sort=newest".into(), newest.iter().collect()),
        ("limit=2".into(), vec![&kettle, &gaming]),
        (format!("seller={sara}"), newest.iter().collect()),
        ("q=madera".into(), vec![&chair]),
        ("q=silla&sort=price_asc".into(), vec![&chair, &gaming]),
        ("q=silla&sort=price_desc".into(), vec![&gaming, &chair]),
        ("q=comedor&sort=price_asc".into(), vec![&chair, &table]),
        ("q=silla&category=home".into(), vec![&chair]),
        ("q=silla&currency=USD".into(), vec![&gaming]),
        ("category=home".into(), vec![&kettle, &lamp, &table, &chair]),
        ("category=home/furniture".into(), vec![&table, &chair]),
        ("category=sports".into(), vec![&bike]),
        ("category=garden".into(), vec![]),
        (
            "currency=EUR&sort=price_asc".into(),
            vec![&chair, &lamp, &table, &bike],
        ),
        (
            "currency=EUR&sort=price_desc".into(),
            vec![&bike, &table, &lamp, &chair],
        ),
        ("currency=USD".into(), vec![&gaming]),
        ("currency=JPY".into(), vec![&kettle]),
        (
            "min_price=2000&max_price=5000&currency=EUR&sort=price_asc".into(),
            vec![&lamp, &table],
        ),
        // Without a currency the range applies to amounts in any currency.
        (
            "min_price=2000&max_price=5000".into(),
            vec![&kettle, &lamp, &table],
        ),
        ("min_price=10000".into(), vec![&bike]),
        // The folding chair (800) is withdrawn.
        ("max_price=1000".into(), vec![]),
        ("near=ezjm".into(), vec![&table, &chair]),
        ("near=ezj".into(), vec![&lamp, &table, &chair]),
        ("near=sp3e".into(), vec![&bike]),
        ("near=xn76".into(), vec![&kettle]),
        (
            "near=ezjm&category=home/furniture&sort=price_desc".into(),
            vec![&table, &chair],
        ),
        ("q=silla&near=ezjm".into(), vec![&chair]),
    ];
    for (query, want) in &cases {
        let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(&found(&a, query), &want, "{query}");
    }
    // A search by another seller finds nothing here.
    let other = Keypair::from_seed(&[7; 32]).unwrap().public().to_string();
    assert!(found(&a, &format!("seller={other}")).is_empty());

    // The CLI: major units on the command line, the API's JSON out.
    let got = a.json(&["market", "search", "silla", "--sort", "price_asc"]);
    assert_eq!(ids(&got), [chair.clone(), gaming.clone()], "{got}");
    let got = a.json(&[
        "market",
        "search",
        "comedor",
        "--min",
        "20",
        "--max",
        "50",
        "--currency",
        "EUR",
    ]);
    assert_eq!(ids(&got), std::slice::from_ref(&table), "{got}");
    let got = a.json(&["market", "search", "tetera", "--near", "xn7"]);
    assert_eq!(ids(&got), std::slice::from_ref(&kettle), "{got}");
    let got = a.json(&["market", "list", "--category", "home/furniture"]);
    assert_eq!(ids(&got), [table.clone(), chair.clone()], "{got}");

    // The category tree, in both languages.
    let (status, tree) = http(
        "GET",
        &format!("{}/api/v1/market/categories", a.url),
        None,
        None,
    );
    assert_eq!(status, 200, "{tree}");
    assert!(
        tree["categories"]
            .as_array()
            .unwrap()
            .contains(&json!({ "path": "home/furniture", "en": "Furniture", "es": "Muebles" })),
        "{tree}"
    );

    // Bad parameters: 400 bad_query.
    for query in [
        "min_price=abc",
        "max_price=-5",
        "sort=cheap",
        "near=toolong77",
        "limit=0",
        "limit=101",
        "in_stock=perhaps",
        "seller=kith1nope",
    ] {
        refused(&search(&a, query), 400, "bad_query");
    }
}

/// The next JSON frame of a live connection within `wait`, or `None`.
async fn frame(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    wait: Duration,
) -> Option<Value> {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await.ok()?? {
            Ok(tokio_tungstenite::tungstenite::Message::Text(t)) => {
                return Some(serde_json::from_str(t.as_str()).unwrap());
            }
            Ok(tokio_tungstenite::tungstenite::Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Both parties' clients hear every order, step and review of their trade
/// live (stream `trades`), their own included, and the other party's
/// appear in their notifications.
#[test]
fn live_frames_and_notifications_reach_both_parties() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let a = Node::start();
    let b = Node::start_with(&["--bootstrap", &a.addr]);
    linked(&a, &b);
    let (sara_token, bruno_token) = (admin(&a), admin(&b));
    let listing = sell(
        &a,
        &sara_token,
        &json!({
            "title": "Lámpara de pie", "category": "home/decor",
            "price": {"amount": 2500, "currency": "EUR"}, "quantity": 1, "condition": "like_new",
            "delivery": ["pickup"], "payment": ["cash_on_pickup"]
        }),
    );
    listing_at(&b, &listing);
    block(async {
        let mut socks = Vec::new();
        for (node, token) in [(&a, &sara_token), (&b, &bruno_token)] {
            let mut req = format!("{}/api/v1/live", node.url.replace("http://", "ws://"))
                .into_client_request()
                .unwrap();
            req.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
            assert_eq!(
                frame(&mut ws, Duration::from_secs(10)).await.unwrap()["type"],
                "ready"
            );
            ws.send(tokio_tungstenite::tungstenite::Message::Text(
                json!({"op": "subscribe", "sub": "t", "stream": "trades"})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
            let ok = frame(&mut ws, Duration::from_secs(10)).await.unwrap();
            assert_eq!(ok["type"], "subscribed", "{ok}");
            socks.push(ws);
        }
        let c = client();
        let (status, ordered) = send(
            &c,
            "POST",
            &format!("{}/api/v1/me/trades", b.url),
            Some(&bruno_token),
            Some(&json!({ "listing": listing, "delivery": "pickup", "payment": "cash_on_pickup" })),
        )
        .await;
        assert_eq!(status, 201, "{ordered}");
        let id = ordered["trade"]["id"].as_str().unwrap().to_owned();
        let steps = [
            (&a, &sara_token, "accepted"),
            (&a, &sara_token, "payment_confirmed"),
            (&b, &bruno_token, "delivered"),
        ];
        let mut want = vec![("order".to_owned(), "ordered".to_owned())];
        for (node, token, state) in steps {
            // Each step once both sides heard the one before.
            for ws in socks.iter_mut() {
                let (kind, at) = want.last().unwrap().clone();
                loop {
                    let f = frame(ws, Duration::from_secs(20))
                        .await
                        .unwrap_or_else(|| panic!("no live `{kind}` frame for {at}"));
                    assert_eq!(f["type"], "trade", "{f}");
                    assert_eq!(f["trade"]["id"], id.as_str(), "{f}");
                    if f["kind"] == kind.as_str() && f["trade"]["state"] == at.as_str() {
                        break;
                    }
                }
            }
            let (status, got) = send(
                &c,
                "POST",
                &format!("{}/api/v1/me/trades/{id}/steps", node.url),
                Some(token),
                Some(&json!({ "state": state })),
            )
            .await;
            assert_eq!(status, 201, "{got}");
            want.push(("trade_update".to_owned(), state.to_owned()));
        }
        for ws in socks.iter_mut() {
            loop {
                let f = frame(ws, Duration::from_secs(20))
                    .await
                    .expect("the last step live on both sides");
                if f["trade"]["state"] == "delivered" {
                    break;
                }
            }
        }
        // Notifications: Sara about the order and Bruno's step; Bruno about
        // Sara's steps. Nobody about their own.
        for (node, token, types) in [
            (&a, &sara_token, vec!["order", "trade"]),
            (&b, &bruno_token, vec!["trade"]),
        ] {
            let url = format!("{}/api/v1/me/notifications", node.url);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                let (_, got) = send(&c, "GET", &url, Some(token), None).await;
                let mut seen: Vec<String> = got["groups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|g| g["target"] == id.as_str())
                    .map(|g| g["type"].as_str().unwrap().to_owned())
                    .collect();
                seen.sort();
                seen.dedup();
                if seen == types {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "notifications on {}: {seen:?}, want {types:?}: {got}",
                    node.url
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
}
