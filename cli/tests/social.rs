//! `kith react`, `kith repost`, `kith quote` and `kith thread` with
//! `--sort`, `--depth` and `--from-here`: the real binary driving a real
//! node (`kith up`, another process) through its gateway.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_kith");
/// Longest wait for a node to start or stop.
const PATIENCE: Duration = Duration::from_secs(90);

/// A `kith` command with the environment cleared of anything that would
/// change what it does, in the language `lang`.
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

/// A node run by `kith up` in its own data dir; stopped with SIGTERM when
/// dropped, killed if it does not stop.
struct Node {
    dir: tempfile::TempDir,
    child: Child,
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
        let node = Node { dir, child };
        let first: String = lines.recv_timeout(PATIENCE).expect("the node starts");
        let started: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(started["event"], "started", "{first}");
        node
    }

    fn kith_in(&self, lang: &str, args: &[&str]) -> Output {
        kith_cmd(self.dir.path(), lang).args(args).output().unwrap()
    }

    /// Runs `kith ARGS` in English, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_in("C", args)
    }

    fn ok_in(&self, lang: &str, args: &[&str]) -> String {
        let out = self.kith_in(lang, args);
        assert!(
            out.status.success(),
            "kith {args:?}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `kith --json ARGS`: exactly one JSON document on stdout.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    /// The id of the event a `--json` write published.
    fn publish(&self, args: &[&str]) -> String {
        let written = self.json(args);
        assert_eq!(written["outcome"], "stored", "{args:?}: {written}");
        written["event"]["id"].as_str().unwrap().to_string()
    }

    fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
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
}

/// Reactions with their symbols and the viewer's own, reposts and quotes,
/// and a thread sorted, trimmed with "… N more replies", and continued
/// from a reply.
#[test]
fn react_repost_quote_and_trimmed_threads() {
    let node = Node::start();
    let root = node.publish(&["post", "root post"]);
    let r1 = node.publish(&["post", "first answer", "--reply-to", &root]);
    let r2 = node.publish(&["post", "second level", "--reply-to", &r1]);
    let r3 = node.publish(&["post", "third level", "--reply-to", &r2]);
    let r4 = node.publish(&["post", "another answer", "--reply-to", &root]);

    // React: the API's document with --json, a line for people without.
    let reacted = node.json(&["react", &root, "love"]);
    assert_eq!(reacted["event"]["kind"], "reaction");
    assert_eq!(reacted["event"]["payload"], json!({ "reaction": "love" }));
    assert_eq!(
        reacted["event"]["refs"],
        json!([{ "rel": "target", "event": root }])
    );
    let text = node.ok(&["react", &r4, "like"]);
    assert!(
        text.starts_with(&format!("reacted 👍 to {r4}: bafy")),
        "{text}"
    );
    let text = node.ok_in("es", &["react", &r4, "wow"]);
    assert!(
        text.starts_with(&format!("reaccionaste con 😮 a {r4}: bafy")),
        "{text}"
    );

    // Per-type counts and the viewer's reaction, in show and timelines.
    let shown = node.ok(&["show", &root]);
    assert!(shown.contains("\n❤️ 1\n"), "{shown}");
    assert!(shown.contains("\nyou reacted ❤️\n"), "{shown}");
    let timeline = node.ok(&["timeline"]);
    assert!(
        timeline.contains("❤️ 1") && timeline.contains("you reacted ❤️"),
        "{timeline}"
    );

    // Repost and quote.
    let repost = node.json(&["repost", &root]);
    assert_eq!(repost["event"]["kind"], "repost");
    assert_eq!(
        repost["event"]["refs"],
        json!([{ "rel": "target", "event": root }])
    );
    let text = node.ok(&["repost", &r4]);
    assert!(text.starts_with(&format!("reposted {r4}: bafy")), "{text}");
    let quote = node.json(&["quote", &root, "well said #kith"]);
    assert_eq!(quote["event"]["kind"], "quote");
    assert_eq!(quote["event"]["payload"]["tags"], json!(["kith"]));
    let text = node.ok(&["quote", &root, "again"]);
    assert!(
        text.starts_with(&format!("quote of {root} published bafy")),
        "{text}"
    );

    // A thread sorted by reactions (r4 has one, r1 none) and trimmed at
    // depth 1: the API's document as is with --json.
    let view = node.json(&["thread", &root, "--sort", "reactions", "--depth", "1"]);
    assert_eq!(
        (view["sort"].as_str(), view["depth"].as_u64()),
        (Some("reactions"), Some(1))
    );
    let shape: Vec<(&str, u64)> = view["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["event"]["id"].as_str().unwrap(),
                r["hidden_replies"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(shape, vec![(r4.as_str(), 0), (r1.as_str(), 2)]);

    // For people: indented, with where to read the rest.
    let text = node.ok(&["thread", &root, "--depth", "2"]);
    assert!(text.contains("    first answer"), "{text}");
    assert!(text.contains("        second level"), "{text}");
    assert!(
        text.contains(&format!(
            "            … 1 more reply: kith thread {r2} --from-here"
        )),
        "{text}"
    );
    assert!(!text.contains("third level"), "{text}");
    assert!(text.contains("4 replies in this thread"), "{text}");
    let es = node.ok_in("es", &["thread", &root, "--depth", "1"]);
    assert!(
        es.contains(&format!("… 2 respuestas más: kith thread {r1} --from-here")),
        "{es}"
    );

    // From a reply without --from-here: the whole thread; with it, what
    // is below the reply, depths counted from it.
    let whole = node.json(&["thread", &r2]);
    assert_eq!(whole["root"]["id"], root.as_str());
    let below = node.json(&["thread", &r2, "--from-here"]);
    assert_eq!(below["root"]["id"], r2.as_str());
    assert_eq!(below["replies"][0]["event"]["id"], r3.as_str());
    assert_eq!(below["replies"][0]["depth"], 1);
    let text = node.ok(&["thread", &r2, "--from-here"]);
    assert!(
        text.contains("    third level") && !text.contains("root post"),
        "{text}"
    );

    // Usage errors before any request.
    for args in [
        vec!["react", root.as_str(), "meh"],
        vec!["react", root.as_str()],
        vec!["thread", root.as_str(), "--sort", "best"],
        vec!["thread", root.as_str(), "--depth", "0"],
        vec!["quote", root.as_str()],
    ] {
        let out = node.kith_in("C", &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
