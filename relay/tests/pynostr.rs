//! Interoperability with a second Nostr client we did not write, in another
//! language: `pynostr` (Python, from PyPI), driven by
//! `tests/interop/pynostr/client.py` through pynostr's own `RelayManager`
//! (tornado WebSockets), against a Kith relay on loopback.
//!
//! One test per scenario, each with its own relay and data directory:
//! `publish` (kind-1 notes with tags and a kind-0 profile from a fresh key,
//! each answered OK true, then read back with REQ filters by author, by kind
//! and tag, by `#e`/`#p`, by ids, with a limit and several filters in one REQ:
//! exactly the expected events, newest first, with the published content and
//! valid ids and signatures) and `forged` (a tampered content with the old id,
//! and with a recomputed id but the old signature, are both refused with OK
//! false and never served). The client prints one `ok <scenario>: ...` line per
//! passed check and `FAILED: <scenario>: ...` for the first failed one.
//!
//! The Python packages are installed (pinned with hashes) into
//! `tests/interop/pynostr/.venv` by `tests/interop/pynostr/install.sh` (which
//! `tests/run` calls); these tests talk only to 127.0.0.1.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use kith_relay::{Relay, RelayConfig};
use nostr::prelude::EventId;
use sha2::{Digest, Sha256};
use tokio::process::Command;
use tokio::time::timeout;

/// One scenario must finish within this (the client bounds each round trip
/// to a few seconds and the whole scenario to 50 s).
const SCENARIO_LIMIT: Duration = Duration::from_secs(60);
/// The relay must stop within this.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/pynostr")
}

/// The venv's Python, after checking that the venv was installed from the
/// current requirements.txt (the tests themselves stay off the network).
fn require_install() -> (PathBuf, PathBuf) {
    let dir = client_dir();
    let reqs = std::fs::read(dir.join("requirements.txt")).expect("requirements.txt is checked in");
    let want = hex::encode(Sha256::digest(&reqs));
    let python = dir.join(".venv/bin/python");
    match std::fs::read_to_string(dir.join(".venv/.kith-requirements-sha")) {
        Ok(have) if have.trim() == want && python.exists() => (dir, python),
        Ok(have) if have.trim() == want => panic!(
            "tests/interop/pynostr/.venv has no bin/python: \
             remove it and run tests/interop/pynostr/install.sh"
        ),
        Ok(_) => panic!(
            "tests/interop/pynostr/.venv was installed from another \
             requirements.txt: run tests/interop/pynostr/install.sh"
        ),
        Err(_) => panic!(
            "tests/interop/pynostr/.venv is missing: \
             run tests/interop/pynostr/install.sh"
        ),
    }
}

/// The hex ids after `ids:` on the client's `stored <scenario> ids: ...` line.
fn reported_ids(out: &str, what: &str) -> Vec<EventId> {
    let prefix = format!("{what}: ");
    out.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|ids| {
            ids.split_whitespace()
                .map(|id| EventId::from_hex(id).expect("the client prints hex event ids"))
                .collect()
        })
        .unwrap_or_default()
}

/// Starts a relay on a fresh data directory, runs `client.py <url> <scenario>`
/// with the venv's Python and fails with the client's verdict and output
/// unless every check passed. Then checks, on the relay's own store, that the
/// events the client says were accepted are stored and the refused ones not.
async fn run_scenario(scenario: &str) {
    let (dir, python) = require_install();
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

    let child = Command::new(&python)
        .arg("-X")
        .arg("utf8")
        .arg(dir.join("client.py"))
        .arg(&url)
        .arg(scenario)
        .current_dir(&dir)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (run tests/interop/pynostr/install.sh)",
                python.display()
            )
        });
    let (status, out, err) = common::run_client(child, SCENARIO_LIMIT, "pynostr client").await;

    // What the relay's store holds, before it shuts down.
    let stored = reported_ids(&out, &format!("stored {scenario} ids"));
    let refused = reported_ids(&out, &format!("refused {scenario} ids"));
    let missing: Vec<_> = stored
        .iter()
        .filter(|id| !relay.store().contains(id).unwrap_or(false))
        .map(EventId::to_hex)
        .collect();
    let kept: Vec<_> = refused
        .iter()
        .filter(|id| relay.store().contains(id).unwrap_or(true))
        .map(EventId::to_hex)
        .collect();
    let stopped = timeout(SHUTDOWN_LIMIT, relay.shutdown()).await.is_ok();

    let verdict = err
        .lines()
        .chain(out.lines())
        .find(|l| l.starts_with("FAILED:"))
        .unwrap_or("(no FAILED line: see stderr)");
    match status {
        None => panic!(
            "pynostr scenario `{scenario}` against {url} did not finish within \
             {SCENARIO_LIMIT:?}; the last check that passed is the last ok line\n\
             --- client stdout (passed checks) ---\n{out}--- client stderr ---\n{err}"
        ),
        Some(status) if !status.success() => panic!(
            "pynostr scenario `{scenario}` against {url} failed ({status}):\n{verdict}\n\
             --- client stdout (passed checks) ---\n{out}--- client stderr ---\n{err}"
        ),
        Some(_) => {
            assert!(
                out.lines()
                    .any(|l| l == format!("ok {scenario}: all checks passed")),
                "pynostr scenario `{scenario}` exited 0 without its closing line:\n{out}{err}"
            );
            eprint!("{out}");
        }
    }
    assert!(
        !stored.is_empty() || !refused.is_empty(),
        "pynostr scenario `{scenario}` printed no `stored`/`refused` ids line:\n{out}"
    );
    assert!(
        missing.is_empty(),
        "pynostr scenario `{scenario}`: events answered OK true are not in the relay's \
         store: {missing:?}"
    );
    assert!(
        kept.is_empty(),
        "pynostr scenario `{scenario}`: events answered OK false are in the relay's \
         store: {kept:?}"
    );
    assert!(
        stopped,
        "the relay did not shut down within {SHUTDOWN_LIMIT:?} after scenario `{scenario}`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pynostr_publish_notes_and_profile_then_req_filters() {
    run_scenario("publish").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pynostr_tampered_events_are_refused() {
    run_scenario("forged").await;
}
