//! The OpenAPI document the gateway serves is valid OpenAPI 3 according to
//! a validator we did not write (`@seriousme/openapi-schema-validator`, run
//! by `tests/interop/openapi/validate.mjs`), lists every route, and every
//! operation it lists is really served.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use serde_json::json;

fn validator_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/openapi")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_served_document_is_valid_openapi() {
    let n = TestNode::start(0, |_| {}).await;
    let r = n.http.get("/api/v1/openapi.json", None).await.expect(200);
    let doc = r.body;
    assert_eq!(
        doc,
        openapi_json(),
        "the served document is the one the crate generates"
    );
    let version = doc["openapi"].as_str().unwrap_or("");
    assert!(version.starts_with("3."), "OpenAPI 3: {version}");
    n.stop().await;

    let dir = validator_dir();
    let has_node = Command::new("node").arg("--version").output().is_ok();
    if !dir.join("node_modules").is_dir() || !has_node {
        assert!(
            !in_ci(),
            "the OpenAPI validator is not installed in {} (node on PATH: {has_node}); \
             tests/run installs it with tests/interop/openapi/install.sh",
            dir.display()
        );
        // Straight to stderr, past the test harness's capture, so the skip
        // shows in a normal `cargo test` run.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED: OpenAPI validation. The validator is not installed in\n\
             !!! {}\n\
             !!! (node on PATH: {has_node}). Run tests/interop/openapi/install.sh,\n\
             !!! or tests/run. Under CI=true this is a failure.\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
            dir.display()
        );
        return;
    }
    // Kept after the run (under target/tmp), to read when validation fails.
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kith-gateway-openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = Command::new("node")
        .arg(dir.join("validate.mjs"))
        .arg(&file)
        .current_dir(&dir)
        .output()
        .expect("node runs validate.mjs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the OpenAPI document ({}) is not valid:\n{stderr}\n{stdout}",
        file.display()
    );
    eprintln!("validator: {}", stdout.trim());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_is_documented_and_every_documented_operation_is_served() {
    let doc = openapi_json();
    let paths = doc["paths"].as_object().unwrap();
    let missing: Vec<String> = kith_gateway::route_paths()
        .into_iter()
        .filter(|p| !paths.contains_key(p))
        .collect();
    assert!(
        missing.is_empty(),
        "routes not in the document: {missing:?}"
    );
    for must in [
        "/health",
        "/api/v1/accounts",
        "/api/v1/sessions",
        "/api/v1/publish",
        "/api/v1/events",
        "/api/v1/events/prepare",
        "/api/v1/events/{id}",
        "/api/v1/me/home",
        "/api/v1/threads/{id}",
        "/api/v1/live",
    ] {
        assert!(paths.contains_key(must), "{must} is not documented");
    }

    let n = TestNode::start(0, |_| {}).await;
    let ana = n.http.register("ana").await;
    let post = n.http.post_text(&ana.token, "hola").await;
    let mut ops = documented_operations(&doc);
    assert!(ops.len() >= 30, "{} operations", ops.len());
    // Logging out last, so the session serves every other request.
    ops.sort_by_key(|o| o.path == "/api/v1/sessions/current" && o.method == "DELETE");
    let mut problems = Vec::new();
    for op in &ops {
        let path = fill_path(&op.path, &ana.identity, &post);
        let body = matches!(op.method.as_str(), "POST" | "PUT").then(|| json!({}));
        let r = n
            .http
            .send(&op.method, &path, Some(&ana.token), body.as_ref())
            .await;
        let unrouted = r.status.as_u16() == 405
            || (r.status.as_u16() == 404
                && r.code() == "not_found"
                && r.body["error"]["message"] == "route not found");
        if unrouted {
            problems.push(format!("{} {path}: {} {}", op.method, r.status, r.raw));
        }
    }
    assert!(
        problems.is_empty(),
        "documented but not served:\n{}",
        problems.join("\n")
    );
    // And the fallback really says so for a route that does not exist.
    let r = n.http.get("/api/v1/not-a-route", None).await.expect(404);
    assert_eq!(r.body["error"]["message"], "route not found");
    n.stop().await;
}
