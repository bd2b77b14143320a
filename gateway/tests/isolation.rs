//! Accounts cannot act for or read each other; tokens mean what they say;
//! and the HTTP hardening: security headers, CORS, rate limits, the login
//! limit and the live connection's limits.

mod common;

use std::time::{Duration, Instant};

use common::*;
use kith_node::protocol::kinds::{Content, Post};
use kith_node::protocol::{Keypair, UnsignedEvent};
use serde_json::{Value, json};

/// How many events a timeline page lists.
async fn timeline_len(n: &TestNode, key: &str) -> usize {
    n.http
        .get(&format!("/api/v1/identities/{key}/timeline"), None)
        .await
        .expect(200)
        .body["items"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_account_cannot_act_for_another() {
    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let bob = h.register("bob").await;
    h.post_text(&bob.token, "bob's first").await;

    // --- Publishing as bob with ana's token.
    // Bob's own root key, exported by bob (so the event below is genuinely his).
    let secret = h
        .post(
            "/api/v1/me/key/export",
            Some(&bob.token),
            &json!({ "password": PASSWORD }),
        )
        .await
        .expect(200);
    assert_eq!(secret.body["identity"], bob.identity.as_str());
    let bob_root = Keypair::secret_from_text(secret.body["secret"].as_str().unwrap()).unwrap();
    assert_eq!(bob_root.public(), bob.key());
    // Ana cannot export bob's key, nor her own without her password.
    h.post("/api/v1/me/key/export", Some(&ana.token), &json!({}))
        .await
        .expect(400);
    let wrong = h
        .post(
            "/api/v1/me/key/export",
            Some(&ana.token),
            &json!({ "password": "not her password" }),
        )
        .await
        .expect(401);
    assert_eq!(wrong.code(), "bad_credentials");

    let seq = n.last_seq();
    let bob_count = timeline_len(&n, &bob.identity).await;
    let forged = UnsignedEvent::new(
        bob.key(),
        now(),
        Post {
            content: Content::text("ana speaking as bob"),
        },
    )
    .sign(&bob_root)
    .unwrap();
    let r = h.submit(&ana.token, &forged).await.expect(403);
    assert_eq!(r.code(), "not_your_identity", "{}", r.raw);
    assert_error_shape(&r);
    // The prepare/sign route takes the same path.
    let prepared = h
        .post(
            "/api/v1/events/prepare",
            Some(&ana.token),
            &json!({ "kind": "post", "payload": { "text": "hola" }, "signer": bob.identity }),
        )
        .await
        .expect(200);
    let body = base64_decode(prepared.body["body"].as_str().unwrap());
    let id: kith_node::protocol::EventId = prepared.body["id"].as_str().unwrap().parse().unwrap();
    let sig = bob_root.sign_id(&id);
    let r = h
        .post(
            "/api/v1/events",
            Some(&ana.token),
            &json!({ "body": b64(&body), "signature": hex::encode(sig.as_bytes()) }),
        )
        .await
        .expect(403);
    assert_eq!(
        r.code(),
        "delegation_missing",
        "bob's key cannot sign for ana: {}",
        r.raw
    );
    // There is no author field to set on a hosted publish.
    let r = h
        .post(
            "/api/v1/publish",
            Some(&ana.token),
            &json!({ "kind": "post", "payload": { "text": "x" }, "author": bob.identity }),
        )
        .await
        .expect(400);
    assert_eq!(r.code(), "invalid_field");
    assert_eq!(n.last_seq(), seq, "nothing was stored");
    assert_eq!(timeline_len(&n, &bob.identity).await, bob_count);
    let r = h
        .get(&format!("/api/v1/events/{}", forged.id()), None)
        .await
        .expect(404);
    assert_eq!(r.code(), "not_found");
    assert!(!n.has(&forged.id().to_string()));
    // Bob himself may submit it.
    h.submit(&bob.token, &forged).await.expect(201);
    assert_eq!(timeline_len(&n, &bob.identity).await, bob_count + 1);

    // --- Settings.
    h.put(
        "/api/v1/me/settings",
        Some(&bob.token),
        &json!({ "theme": "bob-secret-theme" }),
    )
    .await
    .expect(200);
    let ana_settings = h
        .get("/api/v1/me/settings", Some(&ana.token))
        .await
        .expect(200);
    assert_eq!(ana_settings.body, json!({}), "{}", ana_settings.raw);
    h.put(
        "/api/v1/me/settings",
        Some(&ana.token),
        &json!({ "lang": "es" }),
    )
    .await
    .expect(200);
    let ana_settings = h.get("/api/v1/me/settings", Some(&ana.token)).await;
    assert_eq!(ana_settings.body, json!({ "lang": "es" }));
    assert!(!ana_settings.raw.contains("bob-secret-theme"));
    let bob_settings = h.get("/api/v1/me/settings", Some(&bob.token)).await;
    assert_eq!(bob_settings.body, json!({ "theme": "bob-secret-theme" }));

    // --- Bob's gateway delegation.
    let bob_me = h.get("/api/v1/me", Some(&bob.token)).await.expect(200);
    let bob_delegation = bob_me.body["gateway_delegation"]["id"]
        .as_str()
        .expect("bob has a gateway delegation")
        .to_string();
    let seq = n.last_seq();
    let r = h
        .delete(
            &format!("/api/v1/me/delegations/{bob_delegation}"),
            Some(&ana.token),
        )
        .await
        .expect(403);
    assert_eq!(r.code(), "not_yours", "{}", r.raw);
    assert_error_shape(&r);
    assert_eq!(n.last_seq(), seq, "no revocation was stored");
    let ana_list = h
        .get("/api/v1/me/delegations", Some(&ana.token))
        .await
        .expect(200);
    assert!(!ana_list.raw.contains(&bob_delegation), "{}", ana_list.raw);
    let still = h.post_text(&bob.token, "still publishing").await;
    assert!(n.has(&still));
    let bob_me = h.get("/api/v1/me", Some(&bob.token)).await.expect(200);
    assert_eq!(
        bob_me.body["gateway_delegation"]["id"],
        bob_delegation.as_str()
    );
    assert_eq!(bob_me.body["gateway_delegation"]["revoked"], false);

    // --- Admin only.
    let r = h
        .get("/api/v1/node/peers", Some(&ana.token))
        .await
        .expect(403);
    assert_eq!(r.code(), "admin_only");
    assert_error_shape(&r);
    h.get("/api/v1/node/peers", Some(&n.admin_token()))
        .await
        .expect(200);

    // --- Sessions: ana logs out; bob stays logged in; ana's token is dead.
    h.delete("/api/v1/sessions/current", Some(&ana.token))
        .await
        .expect(204);
    h.get("/api/v1/me", Some(&bob.token)).await.expect(200);
    let r = h.get("/api/v1/me", Some(&ana.token)).await.expect(401);
    assert_eq!(r.code(), "unauthorized");
    let r = h
        .delete("/api/v1/sessions/current", Some(&ana.token))
        .await
        .expect(401);
    assert_error_shape(&r);
    let again = h
        .post(
            "/api/v1/sessions",
            None,
            &json!({ "username": "ANA", "password": PASSWORD }),
        )
        .await
        .expect(201);
    assert_eq!(again.body["identity"], ana.identity.as_str());
    let new_token = again.body["token"].as_str().unwrap();
    assert_ne!(new_token, ana.token);
    let me = h.get("/api/v1/me", Some(new_token)).await.expect(200);
    assert_eq!(me.body["username"], "ana");
    // Her settings came through.
    let s = h.get("/api/v1/me/settings", Some(new_token)).await;
    assert_eq!(s.body, json!({ "lang": "es" }));
    // The admin token is not a session to end.
    h.delete("/api/v1/sessions/current", Some(&n.admin_token()))
        .await
        .expect(403);

    // --- A dead or forged token on the live endpoint is refused before the upgrade.
    for bad in [ana.token.as_str(), "kst_forged", "kat_forged"] {
        let mut req =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                format!("ws://{}/api/v1/live", n.addr()),
            )
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {bad}").parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 401)
            }
            other => panic!(
                "a bad token opened a live connection: {:?}",
                other.map(|_| ())
            ),
        }
    }
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_secured_route_needs_a_valid_token() {
    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let post = h.post_text(&ana.token, "hola").await;
    let seq = n.last_seq();
    let doc = openapi_json();
    let ops = documented_operations(&doc);
    let secured: Vec<&Operation> = ops
        .iter()
        .filter(|o| {
            o.secured
                || o.path == "/api/v1/me"
                || o.path.starts_with("/api/v1/me/")
                || o.path.contains("sessions/")
        })
        .collect();
    assert!(secured.len() >= 20, "{secured:?}");
    let mut problems = Vec::new();
    for op in &secured {
        if !op.secured {
            problems.push(format!(
                "{} {} needs a session but the document declares no security",
                op.method, op.path
            ));
        }
        let path = fill_path(&op.path, &ana.identity, &post);
        let body = (op.method != "GET" && op.method != "DELETE").then(|| json!({}));
        for (label, token) in [
            ("no token", None),
            (
                "a forged session token",
                Some("kst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ),
            (
                "a forged admin token",
                Some("kat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ),
            ("garbage", Some("not a token at all")),
        ] {
            let r = h.send(&op.method, &path, token, body.as_ref()).await;
            if r.status.as_u16() != 401 || r.code() != "unauthorized" {
                problems.push(format!(
                    "{} {path} with {label}: {} {}",
                    op.method, r.status, r.raw
                ));
            } else if let Some(p) = error_shape_problem(&r.body) {
                problems.push(format!("{} {path}: {p}", op.method));
            }
        }
    }
    // The token must be a Bearer token; other schemes are not taken.
    let r = n
        .http
        .client
        .get(format!("{}/api/v1/me", n.url))
        .header("authorization", format!("Basic {}", ana.token))
        .send()
        .await
        .unwrap();
    if r.status().as_u16() != 401 {
        problems.push(format!("Basic auth with a session token: {}", r.status()));
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(n.last_seq(), seq, "unauthenticated requests stored nothing");
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_session_is_refused() {
    let mut n = TestNode::start(0, |_| {}).await;
    let ana = n.http.register("ana").await;
    // Open a session that ended yesterday, straight in the account database
    // (the gateway is stopped meanwhile; sled allows one opener).
    n.stop_gateway().await;
    let expired = {
        let deadline = Instant::now() + Duration::from_secs(10);
        let accounts = loop {
            match kith_gateway::accounts::Accounts::open(n.dir.path()) {
                Ok(a) => break a,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot open the account database: {e}"),
            }
        };
        let day = 24 * 60 * 60 * 1000;
        let (token, expires_at) = accounts.open_session("ana", now() - 2 * day, day).unwrap();
        assert!(expires_at < now());
        token.to_string()
    };
    n.restart_gateway().await;
    let r = n.http.get("/api/v1/me", Some(&expired)).await.expect(401);
    assert_eq!(r.code(), "unauthorized");
    assert_error_shape(&r);
    // Refused on optional-auth routes too: a client learns its session ended.
    let r = n
        .http
        .get(
            &format!("/api/v1/identities/{}", ana.identity),
            Some(&expired),
        )
        .await
        .expect(401);
    assert_eq!(r.code(), "unauthorized");
    // Sessions opened before the restart still work.
    n.http.get("/api/v1/me", Some(&ana.token)).await.expect(200);
    n.stop().await;
}

// ---------------------------------------------------------------- hardening

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn security_headers_and_cors() {
    let n = TestNode::start(0, |g| {
        g.cors_origins = vec!["https://app.example".into()];
    })
    .await;
    let h = &n.http;
    // Every kind of response carries the headers: success, 401, 404, the
    // document, a preflight.
    let mut responses = vec![
        ("GET /health", h.get("/health", None).await),
        ("GET /api/v1/me", h.get("/api/v1/me", None).await),
        ("GET /api/v1/nope", h.get("/api/v1/nope", None).await),
        (
            "GET /api/v1/openapi.json",
            h.get("/api/v1/openapi.json", None).await,
        ),
    ];
    let preflight = |origin: &'static str| {
        h.client
            .request(reqwest::Method::OPTIONS, format!("{}/api/v1/me", n.url))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("https://app.example").await.unwrap();
    let ok_headers = ok.headers().clone();
    let ok_status = ok.status();
    let evil = preflight("https://evil.example").await.unwrap();
    let evil_headers = evil.headers().clone();
    responses.push((
        "OPTIONS preflight",
        Resp {
            status: ok_status,
            headers: ok_headers.clone(),
            body: Value::Null,
            raw: String::new(),
        },
    ));
    for (what, r) in &responses {
        let hv = |name: &str| {
            r.headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        assert_eq!(hv("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(hv("x-frame-options"), "DENY", "{what}");
        let csp = hv("content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{what}: {csp}"
        );
        assert_eq!(hv("referrer-policy"), "no-referrer", "{what}");
    }
    assert_eq!(responses[0].1.status.as_u16(), 200);

    // CORS: the configured origin is allowed, with the bearer header.
    assert!(ok_status.is_success(), "{ok_status}");
    assert_eq!(
        ok_headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://app.example")
    );
    let allow_headers = ok_headers
        .get("access-control-allow-headers")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(allow_headers.contains("authorization"), "{allow_headers}");
    let allow_methods = ok_headers
        .get("access-control-allow-methods")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(allow_methods.contains("GET"), "{allow_methods}");
    // Another origin gets no allow-origin.
    assert!(
        evil_headers.get("access-control-allow-origin").is_none(),
        "{evil_headers:?}"
    );
    // The same on simple requests.
    for (origin, allowed) in [
        ("https://app.example", true),
        ("https://evil.example", false),
    ] {
        let r = h
            .client
            .get(format!("{}/health", n.url))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers().get("access-control-allow-origin").is_some(),
            allowed,
            "{origin}: {:?}",
            r.headers()
        );
    }
    n.stop().await;

    // With no origins configured, no cross-origin caller is allowed.
    let n = TestNode::start(0, |_| {}).await;
    let r = n
        .http
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/api/v1/me", n.url))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        r.headers()
    );
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limit_per_ip() {
    let n = TestNode::start(0, |g| {
        g.rate_per_ip = 1;
        g.burst_per_ip = 3;
    })
    .await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(n.http.get("/api/v1/node", None).await);
    }
    let statuses: Vec<u16> = got.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        &statuses[..3],
        &[200, 200, 200],
        "the burst passes: {statuses:?}"
    );
    let last = &got[4];
    assert_eq!(last.status.as_u16(), 429, "{statuses:?}");
    assert_eq!(last.code(), "rate_limited");
    assert_error_shape(last);
    let retry: u64 = last
        .headers
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert_eq!(last.headers.get("x-frame-options").unwrap(), "DENY");
    // After the wait, requests pass again.
    let again = Instant::now() + Duration::from_secs(retry.max(1) + 2);
    loop {
        let r = n.http.get("/api/v1/node", None).await;
        if r.status.as_u16() == 200 {
            break;
        }
        assert!(
            Instant::now() < again,
            "still limited after Retry-After: {}",
            r.raw
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    n.stop().await;
    // Retry-After is whole seconds, so a wait shorter than a second must
    // round up: 0 tells a client to retry at once, into the same 429.
    assert!(
        (1..=60).contains(&retry),
        "Retry-After: {retry} (message: {})",
        last.body["error"]["message"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_attempts_are_limited() {
    let n = TestNode::start(0, |g| g.auth_per_minute = 3).await;
    let h = &n.http;
    let ana = h.register("ana").await; // attempt 1
    let login = |password: &'static str| async move {
        h.post(
            "/api/v1/sessions",
            None,
            &json!({ "username": "ana", "password": password }),
        )
        .await
    };
    let r = login("wrong password 1").await.expect(401); // 2
    assert_eq!(r.code(), "bad_credentials");
    assert_error_shape(&r);
    login("wrong password 2").await.expect(401); // 3
    let r = login(PASSWORD).await; // 4: over the limit, even with the right password
    assert_eq!(r.status.as_u16(), 429, "{}", r.raw);
    assert_eq!(r.code(), "rate_limited");
    assert!(r.headers.get("retry-after").is_some());
    assert_error_shape(&r);
    let r = h
        .post(
            "/api/v1/accounts",
            None,
            &json!({ "username": "mallory", "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        r.status.as_u16(),
        429,
        "registration shares the limit: {}",
        r.raw
    );
    // Everything else goes on.
    h.get("/api/v1/me", Some(&ana.token)).await.expect(200);
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_connection_limits() {
    let n = TestNode::start(0, |g| {
        g.max_subscriptions = 2;
        g.max_connections = 2;
    })
    .await;
    let ana = n.http.register("ana").await;
    let post = n.http.post_text(&ana.token, "hola").await;

    // Anonymous: threads only.
    let mut anon = Live::connect(n.addr(), None).await;
    anon.send(json!({"op": "subscribe", "sub": "h", "stream": "home"}))
        .await;
    let m = anon.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(m["error"]["code"], "unauthorized");
    anon.subscribe(json!({"op": "subscribe", "sub": "t", "stream": "thread", "thread": post}))
        .await;
    // Garbage and bad ids are answered with errors, and the connection lives on.
    anon.send(json!({"op": "dance"})).await;
    let m = anon.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(m["error"]["code"], "invalid_message", "{m}");
    anon.send(json!({"op": "subscribe", "sub": "x", "stream": "thread", "thread": "nope"}))
        .await;
    let m = anon.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(m["type"], "error", "{m}");
    assert!(anon.drain_until_pong().await.is_empty());

    // At most two subscriptions per connection; re-subscribing a name is not a new one.
    let mut live = Live::connect_ready(n.addr(), &ana.token).await;
    live.subscribe(json!({"op": "subscribe", "sub": "a", "stream": "home"}))
        .await;
    live.subscribe(json!({"op": "subscribe", "sub": "b", "stream": "notifications"}))
        .await;
    live.subscribe(json!({"op": "subscribe", "sub": "a", "stream": "home"}))
        .await;
    live.send(json!({"op": "subscribe", "sub": "c", "stream": "thread", "thread": post}))
        .await;
    let m = live.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(m["sub"], "c");
    assert_eq!(m["error"]["code"], "too_many_subscriptions");
    // The existing ones still deliver.
    let p2 = n.http.post_text(&ana.token, "still live").await;
    live.wait_all(&[("a", &p2)], Duration::from_secs(10)).await;

    // At most two connections in all.
    let req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/api/v1/live", n.addr()),
    )
    .unwrap();
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 503)
        }
        other => panic!("a third connection opened: {:?}", other.map(|_| ())),
    }
    anon.close().await;
    eventually(Duration::from_secs(10), "a slot frees up", || async {
        let req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            format!("ws://{}/api/v1/live", n.addr()),
        )
        .unwrap();
        tokio_tungstenite::connect_async(req).await.is_ok()
    })
    .await;
    live.close().await;
    n.stop().await;
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
