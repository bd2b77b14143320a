//! Helpers shared by the gateway's integration tests: real nodes on
//! loopback with their gateway in process, a small JSON client over real
//! HTTP, and a WebSocket client for `/api/v1/live`.

#![allow(dead_code, unreachable_pub, missing_debug_implementations)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures::{SinkExt, StreamExt};
use kith_gateway::RunningGateway;
use kith_node::config::{Config, GatewaySection};
use kith_node::node::{Node, StartOptions};
use kith_node::protocol::{Event, EventId, Keypair, PublicKey};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A password every test account uses.
pub const PASSWORD: &str = "correct horse battery";

/// A node config for tests: loopback TCP on a free port, no mdns, no
/// bootstrap, the gateway on a free loopback port, and auth limits loose
/// enough for a test that registers a handful of accounts.
pub fn config(sync_secs: u64) -> Config {
    let mut c = Config::default();
    c.network.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    c.network.mdns = false;
    c.network.bootstrap = Vec::new();
    c.sync.interval_secs = sync_secs;
    c.gateway.listen = "127.0.0.1:0".parse().unwrap();
    c.gateway.auth_per_minute = 600;
    // Files nobody on loopback has are given up on quickly.
    c.media.fetch_timeout_secs = 3;
    c
}

/// A node with its gateway, and the data dir they live in.
pub struct TestNode {
    pub node: Arc<Node>,
    pub gw: Option<RunningGateway>,
    pub url: String,
    pub http: Http,
    pub gateway_config: GatewaySection,
    pub dir: tempfile::TempDir,
}

impl TestNode {
    /// Starts a node (sync every `sync_secs`, 0 for on-connect only) and its
    /// gateway, with `tweak` applied to the gateway section.
    pub async fn start(sync_secs: u64, tweak: impl FnOnce(&mut GatewaySection)) -> TestNode {
        TestNode::start_with(sync_secs, |c| tweak(&mut c.gateway)).await
    }

    /// As [`TestNode::start`], with `tweak` applied to the whole config.
    pub async fn start_with(sync_secs: u64, tweak: impl FnOnce(&mut Config)) -> TestNode {
        TestNode::start_in(tempfile::tempdir().unwrap(), sync_secs, tweak).await
    }

    /// Starts a node and its gateway in `dir` (a new one, or the data dir
    /// of a node that was stopped).
    pub async fn start_in(
        dir: tempfile::TempDir,
        sync_secs: u64,
        tweak: impl FnOnce(&mut Config),
    ) -> TestNode {
        let mut config = config(sync_secs);
        tweak(&mut config);
        let node = Box::pin(Node::start(
            dir.path(),
            &config,
            StartOptions {
                memory_blocks: true,
                ..Default::default()
            },
        ))
        .await
        .expect("node starts");
        let node = Arc::new(node);
        let gw = kith_gateway::serve(node.clone(), &config.gateway)
            .await
            .expect("gateway starts");
        let url = gw.url();
        TestNode {
            node,
            http: Http::new(&url),
            gw: Some(gw),
            url,
            gateway_config: config.gateway,
            dir,
        }
    }

    /// The gateway's address (`host:port`).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.gw.as_ref().expect("gateway running").addr
    }

    /// The node's admin token.
    pub fn admin_token(&self) -> String {
        kith_gateway::read_admin_token(self.dir.path())
            .unwrap()
            .to_string()
    }

    /// The store's acceptance sequence.
    pub fn last_seq(&self) -> u64 {
        self.node.store().reader().last_seq().unwrap()
    }

    /// Whether the store holds `id`.
    pub fn has(&self, id: &str) -> bool {
        let id: EventId = id.parse().unwrap();
        self.node.store().reader().contains(&id).unwrap()
    }

    /// Stops the gateway (the node keeps running).
    pub async fn stop_gateway(&mut self) {
        if let Some(gw) = self.gw.take() {
            gw.stop().await;
        }
    }

    /// Starts the gateway again on a new port.
    pub async fn restart_gateway(&mut self) {
        self.stop_gateway().await;
        let mut config = self.gateway_config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        let gw = kith_gateway::serve(self.node.clone(), &config)
            .await
            .expect("gateway restarts");
        self.url = gw.url();
        self.http = Http::new(&self.url);
        self.gw = Some(gw);
    }

    /// Stops the gateway and the node.
    pub async fn stop(mut self) {
        self.stop_gateway().await;
        // A stopped gateway holds no reference to the node.
        let node = Arc::try_unwrap(self.node)
            .unwrap_or_else(|_| panic!("the node is still in use after the gateway stopped"));
        node.shutdown().await.unwrap();
    }

    /// The node's TCP listen address, with its `/p2p/` peer id.
    pub fn tcp_addr(&self) -> kith_node::net::behaviour::Multiaddr {
        self.node
            .listen_addrs()
            .iter()
            .find(|a| a.to_string().contains("/tcp/"))
            .expect("a tcp listener")
            .clone()
    }
}

/// A response: status, headers and the body as JSON (`Null` when empty,
/// `{"_text": …}` when not JSON).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: String,
}

impl Resp {
    /// `error.code`, if the body is an error.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Panics unless the status is `want`.
    #[track_caller]
    pub fn expect(self, want: u16) -> Resp {
        assert_eq!(
            self.status.as_u16(),
            want,
            "expected {want}, got {}: {}",
            self.status,
            self.raw
        );
        self
    }
}

/// A JSON client for one gateway.
#[derive(Debug, Clone)]
pub struct Http {
    pub base: String,
    pub client: reqwest::Client,
}

impl Http {
    pub fn new(base: &str) -> Http {
        Http {
            base: base.to_string(),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// Sends a request; `body` as JSON when given.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        into_resp(req.send().await.expect("request reaches the gateway")).await
    }

    /// Sends raw bytes with the content type given (none when `None`).
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        into_resp(req.send().await.expect("request reaches the gateway")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.send("GET", path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.send("POST", path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.send("PUT", path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.send("DELETE", path, token, None).await
    }

    /// Registers a hosted account; returns its session.
    pub async fn register(&self, username: &str) -> Account {
        let r = self
            .post(
                "/api/v1/accounts",
                None,
                &json!({ "username": username, "password": PASSWORD }),
            )
            .await
            .expect(201);
        Account::of(&r.body)
    }

    /// Registers an account that keeps its own root key (`root`).
    pub async fn register_byok(&self, username: &str, root: &Keypair) -> Account {
        let profile = kith_node::protocol::UnsignedEvent::new(
            root.public(),
            now(),
            kith_node::protocol::kinds::Profile {
                name: username.to_string(),
                ..Default::default()
            },
        )
        .sign(root)
        .unwrap();
        let r = self
            .post(
                "/api/v1/accounts",
                None,
                &json!({
                    "username": username,
                    "password": PASSWORD,
                    "profile": b64(profile.as_bytes()),
                }),
            )
            .await
            .expect(201);
        Account::of(&r.body)
    }

    /// Publishes a post for the account; returns the event id.
    pub async fn post_text(&self, token: &str, text: &str) -> String {
        let r = self
            .post(
                "/api/v1/publish",
                Some(token),
                &json!({ "kind": "post", "payload": { "text": text } }),
            )
            .await
            .expect(201);
        assert_eq!(r.body["outcome"], "stored", "{}", r.raw);
        r.body["event"]["id"].as_str().unwrap().to_string()
    }

    /// Publishes a reply to `root`/`parent`; returns its id.
    pub async fn reply(&self, token: &str, root: &str, parent: &str, text: &str) -> String {
        let r = self
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
                }),
            )
            .await;
        assert!(
            r.status == StatusCode::CREATED || r.status == StatusCode::ACCEPTED,
            "reply: {} {}",
            r.status,
            r.raw
        );
        r.body["event"]["id"].as_str().unwrap().to_string()
    }

    /// Follows `whom`.
    pub async fn follow(&self, token: &str, whom: &str) {
        self.put(
            &format!("/api/v1/me/follows/{whom}"),
            Some(token),
            &json!({}),
        )
        .await
        .expect(201);
    }

    /// Submits a signed envelope (BYOK).
    pub async fn submit(&self, token: &str, event: &Event) -> Resp {
        self.post(
            "/api/v1/events",
            Some(token),
            &json!({ "envelope": b64(event.as_bytes()) }),
        )
        .await
    }

    /// The ids on the account's home timeline (first page).
    pub async fn home_ids(&self, token: &str) -> (Vec<String>, u64) {
        let r = self.get("/api/v1/me/home", Some(token)).await.expect(200);
        let ids = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        (ids, r.body["seq"].as_u64().expect("a page has a seq"))
    }
}

async fn into_resp(r: reqwest::Response) -> Resp {
    let status = r.status();
    let headers = r.headers().clone();
    let raw = r.text().await.unwrap_or_default();
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&raw).unwrap_or_else(|_| json!({ "_text": raw }))
    };
    Resp {
        status,
        headers,
        body,
        raw,
    }
}

/// A session as the gateway returned it.
#[derive(Debug, Clone)]
pub struct Account {
    pub token: String,
    pub username: String,
    pub identity: String,
}

impl Account {
    fn of(body: &Value) -> Account {
        Account {
            token: body["token"].as_str().expect("a token").to_string(),
            username: body["username"].as_str().unwrap().to_string(),
            identity: body["identity"].as_str().unwrap().to_string(),
        }
    }

    pub fn key(&self) -> PublicKey {
        self.identity.parse().unwrap()
    }
}

pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub fn now() -> u64 {
    kith_node::now_ms()
}

/// Polls `check` every 50 ms until it is true; panics after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts that `body` is exactly `{"error": {"code", "message", "details"}}`
/// with a non-empty code and message; returns a description of what is
/// wrong instead of panicking when `soft`.
pub fn error_shape_problem(body: &Value) -> Option<String> {
    let Some(obj) = body.as_object() else {
        return Some(format!("the body is not a JSON object: {body}"));
    };
    if obj.len() != 1 || !obj.contains_key("error") {
        return Some(format!(
            "the body must have exactly one key, `error`: {body}"
        ));
    }
    let Some(err) = obj["error"].as_object() else {
        return Some(format!("`error` is not an object: {body}"));
    };
    let mut keys: Vec<&str> = err.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["code", "details", "message"] {
        return Some(format!(
            "`error` must have exactly code, message, details: {body}"
        ));
    }
    let code = err["code"].as_str().unwrap_or("");
    if code.is_empty()
        || !code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Some(format!("`code` must be lower_snake_case text: {body}"));
    }
    if err["message"].as_str().is_none_or(str::is_empty) {
        return Some(format!("`message` must be non-empty text: {body}"));
    }
    if !(err["details"].is_null() || err["details"].is_object()) {
        return Some(format!("`details` must be null or an object: {body}"));
    }
    None
}

#[track_caller]
pub fn assert_error_shape(r: &Resp) {
    if let Some(p) = error_shape_problem(&r.body) {
        panic!("{} {}: {p}", r.status, r.raw);
    }
}

// ---------------------------------------------------------------- WebSocket

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A live connection to `/api/v1/live`.
pub struct Live {
    ws: Ws,
}

impl Live {
    /// Connects with the token in the `Authorization` header (or none).
    pub async fn connect(addr: std::net::SocketAddr, token: Option<&str>) -> Live {
        let mut req = format!("ws://{addr}/api/v1/live")
            .into_client_request()
            .unwrap();
        if let Some(t) = token {
            req.headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        let (ws, resp) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(req),
        )
        .await
        .expect("websocket connects in time")
        .expect("websocket handshake");
        assert_eq!(resp.status().as_u16(), 101);
        Live { ws }
    }

    /// Connects with a token and waits for `ready`.
    pub async fn connect_ready(addr: std::net::SocketAddr, token: &str) -> Live {
        let mut live = Live::connect(addr, Some(token)).await;
        let m = live.next(Duration::from_secs(10)).await.expect("ready");
        assert_eq!(m["type"], "ready", "{m}");
        live
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("websocket send");
    }

    /// The next JSON frame, or `None` when `wait` passes (or the socket closes).
    pub async fn next(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let m = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match m {
                Ok(Message::Text(t)) => {
                    return Some(serde_json::from_str(t.as_str()).expect("frames are JSON"));
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Subscribes and waits for `subscribed`; returns the seq it reports.
    /// Frames that come before it are returned too (none expected).
    pub async fn subscribe(&mut self, msg: Value) -> (u64, Vec<Value>) {
        let sub = msg["sub"].clone();
        self.send(msg).await;
        let mut after = Vec::new();
        loop {
            let m = self
                .next(Duration::from_secs(10))
                .await
                .expect("an answer to subscribe");
            if m["type"] == "subscribed" && m["sub"] == sub {
                // Replayed items follow `subscribed` in the same batch.
                return (m["seq"].as_u64().unwrap(), after);
            }
            assert_ne!(m["type"], "error", "subscribe refused: {m}");
            after.push(m);
        }
    }

    /// Waits for an event frame on `sub` whose event id is `id`; returns
    /// every frame seen meanwhile, that one last.
    pub async fn wait_event(&mut self, sub: &str, id: &str, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(m) = self.next(left).await else {
                panic!("no event {id} on `{sub}` within {limit:?}; saw {seen:?}");
            };
            let hit = m["type"] == "event" && m["sub"] == sub && m["event"]["id"] == id;
            seen.push(m);
            if hit {
                return seen;
            }
        }
    }

    /// Waits until an event frame has come for every `(sub, id)` in
    /// `want`; returns every frame seen meanwhile.
    pub async fn wait_all(&mut self, want: &[(&str, &str)], limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        let mut seen: Vec<Value> = Vec::new();
        loop {
            let missing: Vec<_> = want
                .iter()
                .filter(|(sub, id)| {
                    !seen.iter().any(|m| {
                        // An event frame carries the event; a notification
                        // frame, the group whose latest event it is.
                        m["sub"] == *sub
                            && ((m["type"] == "event" && m["event"]["id"] == *id)
                                || (m["type"] == "notification"
                                    && m["group"]["latest_event"] == *id))
                    })
                })
                .collect();
            if missing.is_empty() {
                return seen;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(m) = self.next(left).await else {
                panic!("within {limit:?}, no event for {missing:?}; saw {seen:#?}");
            };
            seen.push(m);
        }
    }

    /// Sends a ping and returns every frame before the pong.
    pub async fn drain_until_pong(&mut self) -> Vec<Value> {
        self.send(json!({ "op": "ping" })).await;
        let mut seen = Vec::new();
        loop {
            let m = self
                .next(Duration::from_secs(10))
                .await
                .expect("a pong comes back");
            if m["type"] == "pong" {
                return seen;
            }
            seen.push(m);
        }
    }

    /// Every frame that arrives within `wait`.
    pub async fn collect(&mut self, wait: Duration) -> Vec<Value> {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        while let Some(m) = self
            .next(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            seen.push(m);
        }
        seen
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Event ids of the `event` frames on `sub`, in order.
pub fn event_ids(frames: &[Value], sub: &str) -> Vec<String> {
    frames
        .iter()
        .filter(|m| m["type"] == "event" && m["sub"] == sub)
        .map(|m| m["event"]["id"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------- OpenAPI

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Path template (`/api/v1/events/{id}`).
    pub path: String,
    /// Upper-case method.
    pub method: String,
    /// Whether it declares bearer security.
    pub secured: bool,
}

/// Every (path, method) the generated OpenAPI document lists.
pub fn documented_operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch", "options", "head"] {
            if let Some(op) = item.get(method) {
                let secured = op["security"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
                out.push(Operation {
                    path: path.clone(),
                    method: method.to_uppercase(),
                    secured,
                });
            }
        }
    }
    out
}

/// The document the crate generates, as JSON.
pub fn openapi_json() -> Value {
    serde_json::to_value(kith_gateway::openapi()).unwrap()
}

/// A path template with `{key}` and `{id}` replaced by real values.
pub fn fill_path(template: &str, key: &str, id: &str) -> String {
    let filled = template
        .replace("{key}", key)
        .replace("{id}", id)
        // A valid CID (of the bytes "hola") and a file name.
        .replace(
            "{cid}",
            "bafkreiayqdrpf5ykdrcmdr2jr5ahxkckcy3goscs6geejzjkeaqdu6iz5a",
        )
        .replace("{path}", "a.jpg")
        // A letter id (64 hex digits).
        .replace("{message}", &"ab".repeat(32))
        .replace("{n}", "0");
    assert!(
        !filled.contains('{'),
        "a path parameter the tests do not know: {template}"
    );
    filled
}
