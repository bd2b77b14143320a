//! The Kith–Nostr bridge end to end, on loopback: two real `kith up` nodes,
//! each serving its own Nostr relay, and a Nostr-only person who uses
//! nostr-tools (npm, a library we did not write) and never runs Kith.
//!
//! Needs `node` and `tests/interop/nostr-tools/node_modules` (installed by
//! `tests/run`).

mod common;

use std::process::Command;

use common::{Node, eventually};
use serde_json::{Value, json};

/// Runs `node tests/interop/nostr-tools/bridge.mjs ARGS`; its JSON answer.
fn nostr_tools(args: &[&str]) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/interop/nostr-tools/bridge.mjs"
    );
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .output()
        .expect("node runs (tests/run installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "nostr-tools {args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

/// A Nostr-only person: (secret hex, public hex, npub).
fn nostr_person() -> (String, String, String) {
    let k = nostr_tools(&["key"]);
    let s = |f: &str| k[f].as_str().unwrap().to_owned();
    (s("secret"), s("pubkey"), s("npub"))
}

fn tag<'a>(event: &'a Value, name: &str) -> Vec<Vec<&'a str>> {
    event["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect::<Vec<_>>()
        })
        .filter(|t| t.first() == Some(&name))
        .collect()
}

fn nostr_items(home: &Value) -> Vec<&Value> {
    home["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["origin"] == "nostr")
        .collect()
}

/// Nora uses Nostr only and publishes to node B's relay. Ana, on node A,
/// links a Nostr key, adds B's relay and follows Nora: Nora's note shows
/// in Ana's home marked as Nostr, Ana's reply reaches B's relay as a NIP-10
/// reply signed by her linked key, and Ana's Kith post and profile go out
/// as Nostr events that prove the link.
#[test]
fn a_kith_person_and_a_nostr_only_person_talk_through_the_bridge() {
    let a = Node::start();
    let b = Node::start();
    assert!(b.relay.starts_with("ws://127.0.0.1:"), "{}", b.relay);
    let (nora_secret, nora_pub, nora_npub) = nostr_person();
    nostr_tools(&["publish", &b.relay, &nora_secret, "0", r#"{"name":"Nora"}"#]);
    let note = nostr_tools(&[
        "publish",
        &b.relay,
        &nora_secret,
        "1",
        "Hola desde Nostr #huerta",
        r#"[["t","huerta"]]"#,
    ]);
    let note_id = note["id"].as_str().unwrap().to_owned();

    // Ana links a key, uses B's relay, follows Nora.
    let linked = a.json(&["nostr", "link"]);
    let ana_hex = linked["nostr"]["hex"].as_str().unwrap().to_owned();
    assert_eq!(linked["profile_updated"], true, "{linked}");
    assert!(
        a.ok(&["nostr", "relays", "add", &b.relay])
            .contains("127.0.0.1")
    );
    let followed = a.ok(&["follow", &nora_npub]);
    assert!(followed.contains("Nostr"), "{followed}");

    // Nora's note reaches Ana's home, marked with its origin.
    eventually("Nora's note in Ana's home", || {
        nostr_items(&a.json(&["home"]))
            .iter()
            .any(|i| i["nostr"]["id"] == note_id.as_str())
    });
    let home = a.json(&["home"]);
    let item = nostr_items(&home)
        .into_iter()
        .find(|i| i["nostr"]["id"] == note_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["nostr"]["author"]["hex"], nora_pub.as_str());
    assert_eq!(item["nostr"]["content"], "Hola desde Nostr #huerta");
    assert_eq!(item["nostr"]["name"], "Nora", "{item}");
    let origin = item["nostr"]["relays"].as_array().unwrap();
    assert!(
        origin.iter().any(|r| r.as_str().unwrap().contains(
            b.relay
                .trim_start_matches("ws://")
                .split(':')
                .next_back()
                .unwrap()
        )),
        "{item}"
    );
    // People see it too, in both languages.
    let text = a.ok(&["home"]);
    assert!(
        text.contains("Hola desde Nostr") && text.contains("Nora"),
        "{text}"
    );
    let es = a.ok_in("es_ES.UTF-8", &["nostr", "status"]);
    assert!(es.contains("clave Nostr vinculada"), "{es}");

    // Ana replies; B's relay has it as a NIP-10 reply by her linked key.
    let reply = a.json(&["nostr", "reply", &note_id, "¡Hola Nora! Saludos desde Kith"]);
    let reply_id = reply["id"].as_str().unwrap().to_owned();
    let found = nostr_tools(&[
        "query",
        &b.relay,
        &json!({ "kinds": [1], "#e": [note_id] }).to_string(),
        "1",
    ]);
    let r = found
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == reply_id.as_str())
        .unwrap_or_else(|| panic!("the reply on B's relay: {found}"));
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["pubkey"], ana_hex.as_str());
    assert_eq!(r["content"], "¡Hola Nora! Saludos desde Kith");
    let e = tag(r, "e");
    assert!(
        e.iter()
            .any(|t| t.get(1) == Some(&note_id.as_str()) && t.get(3) == Some(&"root")),
        "{r}"
    );
    assert!(tag(r, "p").iter().any(|t| t[1] == nora_pub), "{r}");
    // The thread view on A shows the note with the reply.
    let thread = a.json(&["nostr", "show", &note_id]);
    assert_eq!(thread["thread"]["replies"][0]["id"], reply_id.as_str());

    // Ana's Kith post goes out as kind 1, naming its Kith original.
    let post = a.publish(&["post", "Un post de Kith para Nostr #kith"]);
    let found = nostr_tools(&[
        "query",
        &b.relay,
        &json!({ "kinds": [1], "authors": [ana_hex], "#t": ["kith"] }).to_string(),
        "1",
    ]);
    let p = &found[0];
    assert_eq!(p["verified"], true);
    assert_eq!(p["content"], "Un post de Kith para Nostr #kith");
    assert_eq!(tag(p, "kith")[0][1], post);
    // The post is in Ana's home once, as the Kith event: its Nostr copy
    // (which B's relay sends back to the bridge) is recognised.
    eventually("the bridge hears its own post come back", || {
        a.json(&["nostr", "status"])["inbound"]["recognised"]
            .as_u64()
            .unwrap()
            >= 1
    });
    let home = a.json(&["home"]);
    let copies = home["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["id"] == post.as_str() || i["nostr"]["id"] == p["id"])
        .count();
    assert_eq!(copies, 1, "{home}");

    // Her profile goes out as kind 0 with the NIP-39 proof of the link,
    // which the Kith side checks.
    let found = nostr_tools(&[
        "query",
        &b.relay,
        &json!({ "kinds": [0], "authors": [ana_hex] }).to_string(),
        "1",
    ]);
    let meta: nostr::prelude::Event = serde_json::from_value({
        let mut m = found[0].clone();
        m.as_object_mut().unwrap().remove("verified");
        m
    })
    .unwrap();
    meta.verify().unwrap();
    assert_eq!(
        kith_relay::link::linked_identity(&meta).map(|k| k.to_text()),
        Some(a.identity.clone())
    );
    // Her follows go out as kind 3 with Nora in it.
    let found = nostr_tools(&[
        "query",
        &b.relay,
        &json!({ "kinds": [3], "authors": [ana_hex] }).to_string(),
        "1",
    ]);
    assert!(
        tag(&found[0], "p").iter().any(|t| t[1] == nora_pub),
        "{found}"
    );

    // Nora answers Ana's post on Nostr: it is among Ana's mentions.
    let answer = nostr_tools(&[
        "publish",
        &b.relay,
        &nora_secret,
        "1",
        "¡Qué bien!",
        &json!([["e", p["id"], "", "root"], ["p", ana_hex]]).to_string(),
    ]);
    eventually("Nora's answer among Ana's mentions", || {
        a.json(&["nostr", "mentions"])["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["nostr"]["id"] == answer["id"])
    });

    // The status tells what B's relay took.
    eventually("B's relay counted as taking Ana's notes", || {
        let s = a.json(&["nostr", "status"]);
        let r = &s["relays"][0];
        r["connected"] == true && r["sent"].as_u64().unwrap() >= 4 && r["failed"] == 0
    });
    let status = a.ok(&["nostr", "status"]);
    assert!(status.contains("connected"), "{status}");
}

/// nostr-relay (PyPI), an independent relay implementation, run by
/// `tests/interop/nostr-relay/run.sh`; killed when dropped.
struct OutsideRelay {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl OutsideRelay {
    fn start() -> OutsideRelay {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/interop/nostr-relay/run.sh"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tests/interop/nostr-relay/run.sh (tests/run installs the relay)");
        let relay = OutsideRelay {
            child,
            url: format!("ws://127.0.0.1:{port}"),
            _dir: dir,
        };
        // It prints no ready line: wait for the port.
        eventually("nostr-relay accepts connections", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        relay
    }
}

impl Drop for OutsideRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// With two relays, one of them an implementation we did not write
/// (nostr-relay from PyPI): the same note from both shows once, naming both
/// relays, and Ana's post reaches both, each counted in her status.
#[test]
fn two_relays_one_of_them_independent_deliver_each_note_once() {
    let outside = OutsideRelay::start();
    let a = Node::start();
    let b = Node::start();
    let (nora_secret, nora_pub, nora_npub) = nostr_person();
    let note = nostr_tools(&[
        "publish",
        &outside.url,
        &nora_secret,
        "1",
        "Una nota en dos relés",
    ]);
    // The very same signed event on the second relay.
    nostr_tools(&["send", &b.relay, &note.to_string()]);
    let note_id = note["id"].as_str().unwrap().to_owned();

    let ana_hex = a.json(&["nostr", "link"])["nostr"]["hex"]
        .as_str()
        .unwrap()
        .to_owned();
    a.ok(&["nostr", "relays", "add", &outside.url, &b.relay]);
    a.ok(&["follow", &nora_npub]);
    eventually("Nora's note seen on both relays", || {
        let home = a.json(&["home"]);
        let copies: Vec<&Value> = nostr_items(&home)
            .into_iter()
            .filter(|i| i["nostr"]["id"] == note_id.as_str())
            .collect();
        assert!(copies.len() <= 1, "one note, one item: {home}");
        copies
            .first()
            .is_some_and(|c| c["nostr"]["relays"].as_array().unwrap().len() == 2)
    });
    let status = a.json(&["nostr", "status"]);
    assert!(
        status["inbound"]["duplicate"].as_u64().unwrap() >= 1,
        "{status}"
    );
    assert_eq!(status["follows"][0]["hex"], nora_pub.as_str());

    // Ana's post reaches both relays.
    let post = a.publish(&["post", "Hola a los dos relés"]);
    for relay in [&outside.url, &b.relay] {
        let found = nostr_tools(&[
            "query",
            relay,
            &json!({ "kinds": [1], "authors": [ana_hex] }).to_string(),
            "1",
        ]);
        let p = found
            .as_array()
            .unwrap()
            .iter()
            .find(|e| tag(e, "kith").first().is_some_and(|t| t[1] == post))
            .unwrap_or_else(|| panic!("Ana's post on {relay}: {found}"));
        assert_eq!(p["verified"], true);
    }
    eventually("both relays counted", || {
        let s = a.json(&["nostr", "status"]);
        s["relays"].as_array().unwrap().len() == 2
            && s["relays"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["sent"].as_u64().unwrap() >= 2 && r["pending"] == 0)
    });
    // Removing a relay leaves the other.
    let left = a.ok(&["nostr", "relays", "remove", &outside.url]);
    assert!(
        !left.contains(&outside.url) && left.contains("127.0.0.1"),
        "{left}"
    );
    // Unfollowing Nora takes her notes out of the home timeline.
    a.ok(&["unfollow", &nora_npub]);
    assert!(
        nostr_items(&a.json(&["home"])).is_empty(),
        "no Nostr notes after the unfollow"
    );
}

/// The id of a home item, Kith or Nostr.
fn item_id(item: &Value) -> String {
    let id = if item["origin"] == "nostr" {
        &item["nostr"]["id"]
    } else {
        &item["id"]
    };
    id.as_str().unwrap().to_owned()
}

/// Kith posts and Nostr notes interleaved: paging the home timeline two
/// items at a time gives exactly the one-page order, each item once.
#[test]
fn home_pages_through_kith_posts_and_nostr_notes_exactly() {
    let a = Node::start();
    let (secret, _, npub) = nostr_person();
    // The node's own relay serves as the outside relay here.
    a.ok(&["nostr", "relays", "add", &a.relay]);
    a.ok(&["follow", &npub]);
    let mut expected = std::collections::BTreeSet::new();
    for i in 0..3 {
        expected.insert(a.publish(&["post", &format!("kith {i}")]));
        let n = nostr_tools(&["publish", &a.relay, &secret, "1", &format!("nostr {i}")]);
        expected.insert(n["id"].as_str().unwrap().to_owned());
    }
    eventually("all six in the home timeline", || {
        a.json(&["home"])["items"].as_array().unwrap().len() == 6
    });
    let full: Vec<String> = a.json(&["home"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(item_id)
        .collect();
    assert_eq!(
        full.iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        expected
    );
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut args = vec!["home", "--limit", "2"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let page = a.json(&args);
        paged.extend(page["items"].as_array().unwrap().iter().map(item_id));
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, full, "pages of two give the same order, each once");
}

/// NIP-17 both ways: Nora (nostr-tools) gift-wraps a private message to
/// Ana's linked key on relay B; Ana reads it in her chats, answers with
/// `kith dm npub1…`, and Nora unwraps the answer from relay B. Relay B
/// serves the gift wraps only to their recipient after NIP-42 AUTH, and
/// Ana's node keeps only the wraps: the words are not in its data dir.
#[test]
fn private_messages_with_a_nostr_only_person_use_nip17_both_ways() {
    let a = Node::start();
    let b = Node::start();
    let (nora_secret, nora_pub, nora_npub) = nostr_person();
    let linked = a.json(&["nostr", "link"]);
    let ana_hex = linked["nostr"]["hex"].as_str().unwrap().to_owned();
    let ana_npub = linked["nostr"]["npub"].as_str().unwrap().to_owned();
    a.ok(&["nostr", "relays", "add", &b.relay]);

    let words = "Hola Ana, ¿me pasas la receta por privado?";
    nostr_tools(&["dm", &b.relay, &nora_secret, &ana_hex, words]);
    eventually("Nora's private message in Ana's chats", || {
        let list = a.json(&["chats"]);
        list["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == nora_npub.as_str() && c["unread"] == 1)
    });
    let chat = a.json(&["chat", &nora_npub]);
    let m = &chat["messages"][0];
    assert_eq!(m["text"], words, "{chat}");
    assert_eq!(m["from"], nora_npub.as_str());
    assert_eq!(m["origin"], "nostr");
    // Reading it marked it read.
    let list = a.json(&["chats"]);
    let c = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == nora_npub.as_str())
        .unwrap()
        .clone();
    assert_eq!(c["unread"], 0, "{c}");

    let answer = "Claro, te la mando esta noche";
    let sent = a.json(&["dm", &nora_npub, answer]);
    assert_eq!(sent["origin"], "nostr", "{sent}");
    // Nora unwraps it with nostr-tools from relay B (after AUTH).
    let got = nostr_tools(&["dms", &b.relay, &nora_secret, "1"]);
    let got = got.as_array().unwrap();
    let reply = got
        .iter()
        .find(|r| r["content"] == answer)
        .unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(reply["from"], ana_hex.as_str());
    assert_eq!(reply["kind"], 14);
    assert!(
        reply["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t[0] == "p" && t[1] == nora_pub.as_str())
    );
    // Both messages on Ana's side, in (time, id) order: Nostr times are
    // seconds, so two messages in one second are ordered by id.
    let chat = a.json(&["chat", &nora_npub]);
    let msgs = chat["messages"].as_array().unwrap();
    let mut texts: Vec<&str> = msgs.iter().map(|m| m["text"].as_str().unwrap()).collect();
    let keys: Vec<(u64, &str)> = msgs
        .iter()
        .map(|m| (m["created_at"].as_u64().unwrap(), m["id"].as_str().unwrap()))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
    texts.sort_unstable();
    let mut want = [words, answer];
    want.sort_unstable();
    assert_eq!(texts, want);
    assert!(!ana_npub.is_empty());
    // Only gift wraps are kept: the words are nowhere in Ana's data dir.
    for w in [words, answer] {
        let mut stack = vec![a.dir().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(bytes) = std::fs::read(&p) {
                    assert!(
                        !bytes.windows(w.len()).any(|x| x == w.as_bytes()),
                        "{} holds {w}",
                        p.display()
                    );
                }
            }
        }
    }
}
