//! No secret reaches the node's logs: passwords, session and admin tokens,
//! root and delegated keys never appear in what the node logs, at the most
//! verbose level, while accounts register, log in, publish, export and
//! forget keys, and fail to log in.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::json;

/// Collects everything the tracing subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_logs() {
    let capture = Capture::default();
    tracing_subscriber::fmt()
        .with_env_filter("trace,sled=info,libp2p=debug,rust_ipfs=debug,connexa=debug")
        .with_writer(capture.clone())
        .with_ansi(false)
        .init();

    let n = TestNode::start(0, |_| {}).await;
    let password = "a very secret passphrase 81723";
    let reg = n
        .http
        .post(
            "/api/v1/accounts",
            None,
            &json!({"username": "ana", "password": password}),
        )
        .await
        .expect(201);
    let token = reg.body["token"].as_str().unwrap().to_string();
    let login = n
        .http
        .post(
            "/api/v1/sessions",
            None,
            &json!({"username": "ana", "password": password}),
        )
        .await
        .expect(201);
    let token2 = login.body["token"].as_str().unwrap().to_string();
    n.http
        .post(
            "/api/v1/sessions",
            None,
            &json!({"username": "ana", "password": "wrong but secret 555"}),
        )
        .await
        .expect(401);
    n.http
        .post(
            "/api/v1/publish",
            Some(&token),
            &json!({"kind": "post", "payload": {"text": "hola"}}),
        )
        .await
        .expect(201);
    let secret = n
        .http
        .post(
            "/api/v1/me/key/export",
            Some(&token2),
            &json!({"password": password}),
        )
        .await
        .expect(200);
    let secret = secret.body["secret"].as_str().unwrap().to_string();
    n.http
        .post(
            "/api/v1/me/key/forget",
            Some(&token2),
            &json!({"password": password}),
        )
        .await
        .expect(204);
    let admin = n.admin_token();
    n.http.get("/api/v1/me", Some(&admin)).await.expect(200);
    // A bad token, logged as a failure at most.
    n.http
        .get("/api/v1/me", Some("kst_not_a_real_one_991"))
        .await
        .expect(401);
    n.stop().await;

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("root key exported"),
        "the capture works and sees the gateway's own lines"
    );
    for (what, s) in [
        ("password", password),
        ("wrong password", "wrong but secret 555"),
        ("session token", token.as_str()),
        ("second session token", token2.as_str()),
        ("admin token", admin.as_str()),
        ("bad token", "kst_not_a_real_one_991"),
        ("root secret", secret.as_str()),
    ] {
        assert!(!logs.contains(s), "the {what} appears in the logs");
    }
}
