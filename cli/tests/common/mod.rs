//! What the CLI tests share: a node run by the real `kith up` in its own
//! data dir, the `kith` binary run against it, and the HTTP calls a test
//! makes around it.

// Each test target uses a different part of this module.
#![allow(dead_code, unreachable_pub, missing_debug_implementations)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kith_node::protocol::PublicKey;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_kith");
/// Longest wait for a node to start or stop.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// A `kith` command with the environment cleared of anything that would
/// change what it does, in the language `lang`.
pub fn kith_cmd(dir: &Path, lang: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(dir)
        .env_remove("KITH_NODE")
        .env_remove("KITH_TOKEN")
        .env_remove("KITH_DATA_DIR")
        .env_remove("KITH_LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", lang);
    cmd
}

/// A node run by `kith up` in its own data dir; stopped with SIGTERM when
/// dropped, killed if it does not stop.
pub struct Node {
    dir: tempfile::TempDir,
    child: Child,
    lines: mpsc::Receiver<String>,
    /// The gateway's base URL.
    pub url: String,
    /// The node's identity (`kith1…`).
    pub identity: String,
    /// Its Nostr relay's URL (`ws://…`).
    pub relay: String,
    /// A libp2p address other nodes can dial (`…/p2p/<peer id>`).
    pub addr: String,
    extra: Vec<String>,
}

impl Node {
    pub fn start() -> Node {
        Node::start_with(&[])
    }

    /// A node started with extra `kith up` arguments (`--bootstrap …`,
    /// `--config …`).
    pub fn start_with(extra: &[&str]) -> Node {
        let extra = extra.iter().map(|s| s.to_string()).collect();
        Node::launch(tempfile::tempdir().unwrap(), extra)
    }

    /// Stops the node and starts it again on the same data directory, with
    /// `more` arguments besides the ones it had.
    pub fn restart_with(mut self, more: &[&str]) -> Node {
        self.stop();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let mut extra = std::mem::take(&mut self.extra);
        extra.extend(more.iter().map(|s| s.to_string()));
        Node::launch(dir, extra)
    }

    fn launch(dir: tempfile::TempDir, extra: Vec<String>) -> Node {
        let mut child = kith_cmd(dir.path(), "C")
            .args([
                "up",
                "--no-mdns",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
                "--gateway",
                "127.0.0.1:0",
                "--relay",
                "127.0.0.1:0",
                "--json",
            ])
            .args(&extra)
            .env("KITH_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut node = Node {
            dir,
            child,
            lines,
            url: String::new(),
            identity: String::new(),
            relay: String::new(),
            addr: String::new(),
            extra,
        };
        let first = node.lines.recv_timeout(PATIENCE).expect("the node starts");
        let started: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(started["event"], "started", "{first}");
        node.url = started["gateway"].as_str().unwrap().to_string();
        node.identity = started["identity"].as_str().unwrap().to_string();
        node.relay = started["relay"].as_str().unwrap_or_default().to_string();
        node.addr = format!(
            "{}/p2p/{}",
            started["listen"][0].as_str().unwrap_or_default(),
            started["peer_id"].as_str().unwrap_or_default()
        );
        node
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `kith ARGS` against this node (found through its data dir), in English.
    pub fn kith(&self, args: &[&str]) -> Output {
        self.kith_in("C", args)
    }

    pub fn kith_in(&self, lang: &str, args: &[&str]) -> Output {
        kith_cmd(self.dir(), lang).args(args).output().unwrap()
    }

    /// Runs `kith ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        ok(&self.kith(args), args)
    }

    /// Runs `kith --json ARGS`, which must succeed and print exactly one
    /// JSON document and nothing else.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.kith(&all);
        let text = ok(&out, &all);
        assert!(out.stderr.is_empty(), "{args:?}: {}", stderr(&out));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    /// SIGTERM, then the lines it printed until it stopped. The data dir
    /// stays until the value is dropped.
    pub fn stop(&mut self) -> Vec<String> {
        self.terminate();
        let status = self.wait();
        assert!(status.is_some_and(|s| s.success()), "{status:?}");
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            rest.push(line);
        }
        rest
    }

    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    pub fn wait(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
            if self.wait().is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

pub fn ok(out: &Output, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "kith {args:?}: {:?}\n{}",
        out.status,
        stderr(out)
    );
    stdout(out)
}

/// The short form people see for an identity.
pub fn short(key: &str) -> String {
    key.parse::<PublicKey>().unwrap().short()
}

/// A hosted account on the node, registered through the HTTP API:
/// (session token, identity).
pub fn register(url: &str, username: &str) -> (String, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{url}/api/v1/accounts"))
            .json(&json!({ "username": username, "password": "correct horse battery" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let session: Value = response.json().await.unwrap();
        (
            session["token"].as_str().unwrap().to_string(),
            session["identity"].as_str().unwrap().to_string(),
        )
    })
}

pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

impl Node {
    /// Runs `kith ARGS` in `lang`, which must succeed; its stdout.
    pub fn ok_in(&self, lang: &str, args: &[&str]) -> String {
        ok(&self.kith_in(lang, args), args)
    }

    /// The id of the event a `--json` write published.
    pub fn publish(&self, args: &[&str]) -> String {
        let written = self.json(args);
        assert_eq!(written["outcome"], "stored", "{args:?}: {written}");
        written["event"]["id"].as_str().unwrap().to_string()
    }
}

/// Calls the HTTP API (with a session token, if given); the response body.
pub fn call(method: &str, url: &str, token: Option<&str>, body: &Value) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), url)
            .json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let response = req.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.json().await.unwrap()
    })
}

/// Polls every 100 ms until `check` holds; panics after [`PATIENCE`].
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
