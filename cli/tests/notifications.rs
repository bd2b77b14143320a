//! `kith notifications` against a real node (`kith up`, another process):
//! `--json` prints the API document, people get one line per group in
//! their language, `--read-all` and `--unread`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_kith");
/// Longest wait for the node to start or stop, or for a notification.
const PATIENCE: Duration = Duration::from_secs(90);

fn kith_cmd(dir: &Path, lang: &str) -> Command {
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

/// `kith up` in a temporary data dir; stopped with SIGTERM when dropped.
struct Node {
    dir: tempfile::TempDir,
    child: Child,
    url: String,
}

impl Node {
    fn start() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let mut child = kith_cmd(dir.path(), "C")
            .args([
                "up",
                "--no-mdns",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
                "--gateway",
                "127.0.0.1:0",
                "--json",
            ])
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
        let first = lines.recv_timeout(PATIENCE).expect("the node starts");
        let started: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(started["event"], "started", "{first}");
        Node {
            url: started["gateway"].as_str().unwrap().to_string(),
            dir,
            child,
        }
    }

    fn run(&self, lang: &str, args: &[&str]) -> String {
        let out = kith_cmd(self.dir.path(), lang).args(args).output().unwrap();
        ok(&out, args)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.run("C", &all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(out: &Output, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "kith {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Calls the HTTP API as an account; the response body.
fn call(method: &str, url: &str, token: Option<&str>, body: &Value) -> Value {
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
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn notifications_in_json_and_for_people() {
    let node = Node::start();
    // Nothing yet.
    assert_eq!(node.run("C", &["notifications"]).trim(), "no notifications");
    // The node's identity (the CLI's admin token) posts; Ana, hosted on the
    // same node, reacts to it.
    let post = node.json(&["post", "hola desde la terminal"]);
    let post = post["event"]["id"].as_str().unwrap().to_string();
    let session = call(
        "POST",
        &format!("{}/api/v1/accounts", node.url),
        None,
        &json!({ "username": "ana", "password": "correct horse battery" }),
    );
    let token = session["token"].as_str().unwrap();
    call(
        "PUT",
        &format!("{}/api/v1/me/profile", node.url),
        Some(token),
        &json!({ "name": "Ana" }),
    );
    call(
        "POST",
        &format!("{}/api/v1/publish", node.url),
        Some(token),
        &json!({ "kind": "reaction", "payload": { "reaction": "love" },
                 "refs": [{ "rel": "target", "event": post }] }),
    );

    // --json: the API document.
    eventually("the reaction is listed", || {
        node.json(&["notifications"])["groups"]
            .as_array()
            .is_some_and(|g| !g.is_empty())
    });
    let page = node.json(&["notifications", "--unread", "--limit", "5"]);
    assert_eq!(page["unread_count"], 1, "{page}");
    let g = &page["groups"][0];
    assert_eq!(g["type"], "reaction");
    assert_eq!(g["target"], post.as_str());
    assert_eq!(g["actors"][0]["name"], "Ana");
    assert_eq!(g["reactions"]["love"], 1);

    // For people, in English and in Spanish.
    let en = node.run("C", &["notifications"]);
    let lines: Vec<&str> = en.lines().collect();
    assert_eq!(lines[0], "1 unread", "{en}");
    assert!(
        lines[1].starts_with("● Ana reacted to your post · love 1 · "),
        "{en}"
    );
    let es = node.run("es_ES.UTF-8", &["notifications"]);
    assert!(es.starts_with("1 sin leer\n"), "{es}");
    assert!(
        es.contains("● Ana reaccionó a tu publicación · love 1 · "),
        "{es}"
    );

    // Read everything: nothing unread is left.
    let read = node.json(&["notifications", "--read-all"]);
    assert_eq!(read, json!({ "unread_count": 0 }));
    assert_eq!(
        node.run("C", &["notifications", "--unread"]).trim(),
        "no notifications"
    );
    let all = node.run("C", &["notifications"]);
    assert!(all.starts_with("nothing unread\n  Ana reacted"), "{all}");
    assert_eq!(
        node.run("es", &["notifications", "--read-all"]).trim(),
        "todas las notificaciones marcadas como leídas (0 sin leer)"
    );
}
