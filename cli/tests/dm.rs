//! End-to-end encrypted direct messages between real `kith up` nodes on
//! loopback (`specs/messages.md`): Ana on node A, Bob on node B, and node R
//! in between, which keeps Bob's mailbox while his node is away.

mod common;

use std::path::Path;

use common::{Node, eventually};
use serde_json::Value;

/// Every file under `dir`, read whole.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p.display().to_string(), bytes));
            }
        }
    }
    out
}

/// The files under `dir` that contain `needle`.
fn holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle))
        .map(|(p, _)| p)
        .collect()
}

/// A counter of the node's ingest pipeline, from its `/metrics`.
fn ingested(node: &Node, outcome: &str) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = runtime.block_on(async {
        reqwest::get(format!("{}/metrics", node.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let prefix = format!("kith_ingest_events_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// A packet capture on loopback of the nodes' libp2p ports (not their
/// gateways: that is each person's own client talking to their own node).
struct Capture {
    child: std::process::Child,
    file: tempfile::NamedTempFile,
    filter: String,
}

impl Capture {
    fn start(nodes: &[&Node]) -> Capture {
        let file = tempfile::NamedTempFile::new().unwrap();
        let ports: Vec<String> = nodes
            .iter()
            .map(|n| format!("tcp port {}", port(&n.addr)))
            .collect();
        let filter = ports.join(" or ");
        let child = std::process::Command::new("tcpdump")
            .args([
                "-i",
                "lo",
                "--immediate-mode",
                "-U",
                "-s",
                "0",
                "-Z",
                "root",
                "-w",
            ])
            .arg(file.path())
            .arg(&filter)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("tcpdump runs (tests/run installs it)");
        let mut capture = Capture {
            child,
            file,
            filter,
        };
        // tcpdump says "listening on lo" once it captures.
        let mut err = std::io::BufReader::new(capture.child.stderr.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut err, &mut line).unwrap();
        assert!(line.contains("listening"), "tcpdump: {line}");
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        capture
    }

    /// Stops the capture; the bytes it wrote.
    fn stop(mut self) -> (String, Vec<u8>) {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        (
            self.filter.clone(),
            std::fs::read(self.file.path()).unwrap(),
        )
    }
}

fn port(addr: &str) -> &str {
    addr.split("/tcp/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn messages(node: &Node, with: &str) -> Vec<Value> {
    let page = node.json(&["chat", with]);
    page["messages"].as_array().cloned().unwrap_or_default()
}

fn texts(node: &Node, with: &str) -> Vec<String> {
    messages(node, with)
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn unread(node: &Node, with: &str) -> u64 {
    let list = node.json(&["chats"]);
    list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == with)
        .map_or(0, |c| c["unread"].as_u64().unwrap())
}

/// Ana and Bob write to each other in both directions through their own
/// nodes; R keeps Bob's mailbox. R holds the envelopes but neither the
/// words nor Ana's identity; no data directory holds the words. Then Bob's
/// node goes away, Ana writes five messages, and when Bob's node comes
/// back it gets all five, in order, once.
#[test]
fn two_people_on_two_nodes_talk_end_to_end_and_offline_mail_waits() {
    let bob = Node::start();
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!("[messages]\nmailboxes = [\"{}\"]\n", bob.identity),
    )
    .unwrap();
    let relay = Node::start_with(&[
        "--config",
        config.path().to_str().unwrap(),
        "--bootstrap",
        &bob.addr,
    ]);
    let ana = Node::start_with(&["--bootstrap", &relay.addr]);
    let (ana_id, bob_id) = (ana.identity.clone(), bob.identity.clone());

    let capture = Capture::start(&[&bob, &relay, &ana]);

    // Both publish their DM keys (the first use of the chats does it).
    assert_eq!(bob.json(&["chats"])["conversations"], Value::Array(vec![]));
    ana.json(&["chats"]);
    // Ana follows Bob (and so has his profile and key); Bob follows Ana.
    ana.ok(&["follow", &bob_id]);
    bob.ok(&["follow", &ana_id]);

    let secret = "Nos vemos en la plaza a las 7, trae el mapa azul";
    // Until Ana's node has Bob's profile, sending is refused with
    // `no_dm_key` and nothing is sent.
    let mut sent = String::new();
    eventually("Ana's node knows Bob's DM key and sends", || {
        let out = ana.kith(&["dm", &bob_id, secret]);
        sent = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() || err.contains("no_dm_key"), "{err}");
        out.status.success()
    });
    assert!(sent.contains("encrypted"), "{sent}");
    eventually("Bob gets Ana's message", || {
        texts(&bob, &ana_id) == vec![secret.to_owned()]
    });
    assert_eq!(unread(&bob, &ana_id), 0, "reading the chat marks it read");
    let reply = "Perfecto, allí estaré con el mapa";
    bob.ok(&["dm", &ana_id, reply]);
    eventually("Ana gets Bob's reply after her message", || {
        texts(&ana, &bob_id) == vec![secret.to_owned(), reply.to_owned()]
    });
    let m = messages(&ana, &bob_id);
    assert_eq!(m[0]["mine"], true);
    assert_eq!(m[1]["mine"], false);
    assert_eq!(m[1]["from"], bob_id.as_str());
    // Spanish output.
    let es = ana.ok_in("es_ES.UTF-8", &["chats"]);
    assert!(es.contains("sin leer"), "{es}");

    // No data directory holds the words; R does not hold Ana's identity.
    for node in [&ana, &bob, &relay] {
        for words in [secret, reply] {
            let found = holding(node.dir(), words.as_bytes());
            assert!(found.is_empty(), "plaintext on disk: {found:?}");
        }
    }
    let ana_key: kith_node::protocol::PublicKey = ana_id.parse().unwrap();
    for needle in [ana_key.as_bytes().as_slice(), ana_id.as_bytes()] {
        let found = holding(relay.dir(), needle);
        assert!(found.is_empty(), "Ana's identity at R: {found:?}");
    }

    // Nor does the traffic between the nodes (libp2p: Noise-encrypted, and
    // inside it only envelopes). The capture holds that traffic.
    let (filter, wire) = capture.stop();
    assert!(
        wire.len() > 10_000,
        "captured {} bytes of {filter}",
        wire.len()
    );
    for needle in [
        secret.as_bytes(),
        reply.as_bytes(),
        ana_key.as_bytes().as_slice(),
        ana_id.as_bytes(),
    ] {
        assert!(!contains(&wire, needle), "found on the wire");
    }

    // Bob's node goes away; Ana writes five messages.
    let mut bob = bob;
    bob.stop();
    let later: Vec<String> = (1..=5).map(|i| format!("mensaje {i} de 5")).collect();
    for text in &later {
        ana.ok(&["dm", &bob_id, text]);
    }
    let bob = bob.restart_with(&["--bootstrap", &relay.addr]);
    let mut want = vec![secret.to_owned(), reply.to_owned()];
    want.extend(later.iter().cloned());
    eventually("Bob's node syncs its mailbox on coming back", || {
        texts(&bob, &ana_id) == want
    });
    for words in &later {
        assert!(holding(relay.dir(), words.as_bytes()).is_empty());
    }
    // A group, from the CLI.
    let created = ana.json(&["group", "create", "Huerta", &bob_id]);
    let group = created["conversation"].as_str().unwrap().to_owned();
    assert!(group.starts_with("group:"), "{created}");
    ana.ok(&["dm", &group, "hola grupo"]);
    eventually("Bob reads the group", || {
        texts(&bob, &group) == vec!["hola grupo".to_owned()]
    });
    let listed = bob.ok(&["chats"]);
    assert!(listed.contains("Huerta"), "{listed}");

    // R stored what it carried for Bob (Ana's six letters, her two group
    // letters and Bob's own copy of his reply), as envelopes only.
    assert!(
        ingested(&relay, "stored") >= 7,
        "{}",
        ingested(&relay, "stored")
    );
}
