//! Interoperability with a Nostr client we did not write: `nostr-tools` (the
//! most used JavaScript Nostr library), driven by
//! `tests/interop/nostr-tools/client.mjs`, against a Kith relay on loopback.
//!
//! One test per scenario, each with its own relay and data directory:
//! `basic` (NIP-11, publish, REQ filters alone and together, live events,
//! CLOSE), `replaceable` (kinds 0/3/10002/30023 and ephemeral 20001),
//! `delete` (NIP-09 by `e` and `a` tags), `expiration` (NIP-40), `count`
//! (NIP-45), `auth` (NIP-42 and private kinds 4/1059), `bad` (malformed,
//! forged and oversize input; `max_limit`) and `negentropy` (NIP-77 with
//! nostr-tools' `nip77`). The client prints one `ok <scenario>: ...` line per
//! passed check and `FAILED <scenario>: ...` for the first failed one.
//!
//! The npm packages are installed by `tests/interop/nostr-tools/install.sh`
//! (which `tests/run` calls); these tests talk only to 127.0.0.1.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use kith_relay::{Relay, RelayConfig};
use sha2::{Digest, Sha256};
use tokio::process::Command;
use tokio::time::timeout;

/// One scenario must finish within this (the client bounds each wait to a
/// few seconds and the whole scenario to 80 s).
const SCENARIO_LIMIT: Duration = Duration::from_secs(90);
/// The relay must stop within this.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/nostr-tools")
}

/// Fails with the command to run when the pinned npm packages are not
/// installed (the tests themselves stay off the network).
fn require_install() -> PathBuf {
    let dir = client_dir();
    let lock =
        std::fs::read(dir.join("package-lock.json")).expect("package-lock.json is checked in");
    let want = hex::encode(Sha256::digest(&lock));
    match std::fs::read_to_string(dir.join("node_modules/.kith-lock-sha")) {
        Ok(have) if have.trim() == want => dir,
        Ok(_) => panic!(
            "tests/interop/nostr-tools/node_modules was installed from another \
             package-lock.json: run tests/interop/nostr-tools/install.sh"
        ),
        Err(_) => panic!(
            "tests/interop/nostr-tools/node_modules is missing: \
             run tests/interop/nostr-tools/install.sh"
        ),
    }
}

/// Starts a relay on a fresh data directory, runs `client.mjs <url> <scenario>`
/// and fails with the client's verdict and output unless every check passed.
async fn run_scenario(scenario: &str) {
    let dir = require_install();
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let relay = Relay::start(
        data_dir.path(),
        RelayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        },
    )
    .await
    .expect("the relay starts");
    let url = relay.url();

    let child = Command::new("node")
        .arg(dir.join("client.mjs"))
        .arg(&url)
        .arg(scenario)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` (install Node.js >= 20): {e}"));
    let (status, out, err) = common::run_client(child, SCENARIO_LIMIT, "nostr-tools client").await;
    let stopped = timeout(SHUTDOWN_LIMIT, relay.shutdown()).await.is_ok();

    let verdict = err
        .lines()
        .find(|l| l.starts_with("FAILED "))
        .unwrap_or("(no FAILED line: see stderr)");
    match status {
        None => panic!(
            "nostr-tools scenario `{scenario}` against {url} did not finish within \
             {SCENARIO_LIMIT:?}; the last check that passed is the last ok line\n\
             --- client stdout (passed checks) ---\n{out}--- client stderr ---\n{err}"
        ),
        Some(status) if !status.success() => panic!(
            "nostr-tools scenario `{scenario}` against {url} failed ({status}):\n{verdict}\n\
             --- client stdout (passed checks) ---\n{out}--- client stderr ---\n{err}"
        ),
        Some(_) => {
            assert!(
                out.lines()
                    .any(|l| l == format!("ok {scenario}: all checks passed")),
                "nostr-tools scenario `{scenario}` exited 0 without its closing line:\n{out}{err}"
            );
            eprint!("{out}");
        }
    }
    assert!(
        stopped,
        "the relay did not shut down within {SHUTDOWN_LIMIT:?} after scenario `{scenario}`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nostr_tools_basic_nip11_publish_req_live_and_close() {
    run_scenario("basic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nostr_tools_replaceable_addressable_and_ephemeral_kinds() {
    run_scenario("replaceable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nostr_tools_nip09_deletion() {
    run_scenario("delete").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nostr_tools_nip40_expiration() {
    run_scenario("expiration").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nostr_tools_nip45_count() {
    run_scenario("count").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nostr_tools_nip42_auth_and_private_kinds() {
    run_scenario("auth").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nostr_tools_bad_input_and_limits() {
    run_scenario("bad").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nostr_tools_nip77_negentropy() {
    run_scenario("negentropy").await;
}
