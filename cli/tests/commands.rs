//! The real `kith` binary driving a real node (`kith up`, another process)
//! through its gateway, as a person or a script would.

mod common;

use common::*;

use kith_node::protocol::{EventId, Keypair};
use serde_json::{Value, json};

/// Post, show, reply, thread, timeline and home, in text and `--json`;
/// `kith up` writes gateway.url while it runs and removes it when it stops.
#[test]
fn posts_replies_threads_and_timelines_through_the_gateway() {
    let mut node = Node::start();
    let url_file = node.dir().join("gateway.url");
    assert_eq!(
        std::fs::read_to_string(&url_file).unwrap().trim(),
        node.url,
        "kith up says where its gateway is"
    );
    let me = node.json(&["id"]);
    assert_eq!(me["identity"], node.identity.as_str());
    assert_eq!(me["admin"], true);

    let first = node.json(&["post", "¡Hola #Kith!", "--hashtag", "#Adopción"]);
    assert_eq!(first["outcome"], "stored");
    assert_eq!(first["event"]["kind"], "post");
    assert_eq!(
        first["event"]["payload"]["tags"],
        json!(["kith", "adopción"])
    );
    let root = first["event"]["id"].as_str().unwrap().to_string();
    let text = node.ok(&["post", "second post"]);
    assert!(text.starts_with("published bafy"), "{text}");
    let second = text.trim().rsplit(' ').next().unwrap().to_string();

    let shown = node.ok(&["show", &root]);
    assert!(
        shown.starts_with(&format!("{} · ", short(&node.identity))),
        "{shown}"
    );
    assert!(shown.contains("¡Hola #Kith!\n#adopción\n"), "{shown}");
    assert!(
        shown.contains("0 replies · 0 reactions · 0 reposts"),
        "{shown}"
    );
    assert!(shown.contains(&format!("id {root}")), "{shown}");
    assert_eq!(node.json(&["show", &root])["id"], root.as_str());

    // A reply to the first post, then a reply to that reply: both in the
    // first post's thread.
    let r1 = node.json(&["post", "una respuesta", "--reply-to", &root]);
    assert_eq!(r1["event"]["kind"], "reply");
    assert_eq!(
        r1["event"]["refs"],
        json!([{"rel": "root", "event": root}, {"rel": "parent", "event": root}])
    );
    let r1 = r1["event"]["id"].as_str().unwrap().to_string();
    let r2 = node.ok(&["post", "and a reply to it", "--reply-to", &r1]);
    assert!(r2.starts_with("reply published bafy"), "{r2}");
    let r2 = r2.trim().rsplit(' ').next().unwrap().to_string();
    let r2_event = node.json(&["show", &r2]);
    assert_eq!(
        r2_event["refs"],
        json!([{"rel": "root", "event": root}, {"rel": "parent", "event": r1}])
    );

    let thread = node.json(&["thread", &root]);
    assert_eq!(thread["root"]["id"], root.as_str());
    let replies: Vec<(&str, u64)> = thread["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["event"]["id"].as_str().unwrap(),
                r["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(replies, vec![(r1.as_str(), 1), (r2.as_str(), 2)]);
    // From a reply, the whole thread, in reading order and indented.
    let text = node.ok(&["thread", &r2]);
    let (a, b, c) = (
        text.find("¡Hola #Kith!").unwrap(),
        text.find("    una respuesta").unwrap(),
        text.find("        and a reply to it").unwrap(),
    );
    assert!(a < b && b < c, "{text}");
    assert!(text.contains(&format!("↳ in reply to {root}")), "{text}");
    assert!(text.contains("2 replies in this thread"), "{text}");

    // Timelines: posts only unless replies are asked for.
    assert_eq!(
        ids(&node.json(&["timeline"])),
        vec![second.clone(), root.clone()]
    );
    let with_replies = node.json(&["timeline", &node.identity, "--replies"]);
    assert_eq!(
        ids(&with_replies),
        vec![r2.clone(), r1.clone(), second.clone(), root.clone()]
    );
    let text = node.ok(&["timeline"]);
    assert!(
        text.contains("second post") && !text.contains("una respuesta"),
        "{text}"
    );

    // Home, one page at a time, then every page.
    let page = node.json(&["home", "--limit", "1"]);
    assert_eq!(ids(&page), vec![second.clone()]);
    let cursor = page["next"].as_str().unwrap().to_string();
    let text = node.ok(&["home", "--limit", "1"]);
    assert!(text.contains(&format!("more: --cursor {cursor}")), "{text}");
    assert_eq!(
        ids(&node.json(&["home", "--limit", "1", "--cursor", &cursor])),
        vec![root.clone()]
    );
    let all = node.json(&["home", "--all", "--limit", "1"]);
    assert_eq!(ids(&all), vec![second.clone(), root.clone()]);
    assert_eq!(all["next"], Value::Null);
    // Walking every page: all four, and no progress output when stderr is
    // not a terminal.
    let out = node.kith(&["timeline", "--replies", "--all", "--limit", "1"]);
    let text = ok(&out, &["timeline --all"]);
    for id in [&root, &second, &r1, &r2] {
        assert!(text.contains(&format!("id {id}")), "{text}");
    }
    assert!(!text.contains("more: --cursor"), "{text}");
    assert_eq!(stderr(&out), "");

    let rest = node.stop();
    assert_eq!(
        rest.last().map(String::as_str),
        Some(r#"{"event":"stopped"}"#)
    );
    assert!(!url_file.exists(), "gateway.url is removed on a clean stop");
}

/// A second account, registered over HTTP, posts with its own session
/// token; following it brings its posts home, blocking hides them.
#[test]
fn following_and_blocking_a_second_account() {
    let node = Node::start();
    let (bob_token, bob) = register(&node.url, "bob");
    let bob_post = node.json(&["--token", &bob_token, "post", "bob here"]);
    assert_eq!(bob_post["event"]["author"], bob.as_str());
    let bob_post = bob_post["event"]["id"].as_str().unwrap().to_string();
    node.ok(&["post", "mine"]);
    assert!(!ids(&node.json(&["home"])).contains(&bob_post));

    let followed = node.json(&["follow", &bob]);
    assert_eq!(followed["event"]["kind"], "follow");
    assert_eq!(
        followed["event"]["refs"],
        json!([{"rel": "subject", "key": bob}])
    );
    assert!(ids(&node.json(&["home"])).contains(&bob_post));
    let home = node.ok(&["home"]);
    assert!(
        home.contains(&format!("{} · ", short(&bob))) && home.contains("bob here"),
        "{home}"
    );
    let seen = node.json(&["show", &bob]);
    assert_eq!(seen["followed_by_me"], true);
    assert_eq!(seen["followers"], 1);

    let text = node.ok(&["block", &bob]);
    assert_eq!(text.trim(), format!("blocked {}", short(&bob)));
    assert!(!ids(&node.json(&["home"])).contains(&bob_post));
    let unblocked = node.json(&["unblock", &bob]);
    assert_eq!(unblocked["event"]["kind"], "block_list");
    assert_eq!(
        unblocked["event"]["payload"],
        json!({}),
        "an empty block list"
    );
    assert!(ids(&node.json(&["home"])).contains(&bob_post));

    let out = node.kith_in("es_ES.UTF-8", &["unfollow", &bob]);
    assert_eq!(
        ok(&out, &["unfollow"]).trim(),
        format!("dejaste de seguir a {}", short(&bob))
    );
    assert!(!ids(&node.json(&["home"])).contains(&bob_post));
    assert_eq!(node.json(&["show", &bob])["followed_by_me"], false);

    // Bob's session speaks for bob, and only the admin may list peers.
    assert_eq!(
        node.json(&["--token", &bob_token, "id"])["identity"],
        bob.as_str()
    );
    let out = node.kith(&["--token", &bob_token, "peers"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        stderr(&out),
        "kith: only the node's admin may list peers (admin_only)\n"
    );
}

/// `kith home --ranked`: every item says why it is there, in the reader's
/// language; weights are checked before anything is sent. `kith trending`.
#[test]
fn ranked_home_explains_itself() {
    let node = Node::start();
    let (bob_token, bob) = register(&node.url, "bob");
    let bob_post = node.json(&["--token", &bob_token, "post", "#kith hola"]);
    let bob_post = bob_post["event"]["id"].as_str().unwrap().to_string();
    node.ok(&["follow", &bob]);

    let page = node.json(&["home", "--ranked"]);
    assert!(ids(&page).contains(&bob_post));
    for item in page["items"].as_array().unwrap() {
        assert!(
            !item["why"]["summary"].as_array().unwrap().is_empty(),
            "{item}"
        );
    }
    let text = node.ok(&["home", "--ranked", "--explain"]);
    assert!(text.contains("  · You follow kith1"), "{text}");
    assert!(text.contains("  · Posted"), "{text}");
    let plain = node.ok(&["home", "--ranked"]);
    assert!(!plain.contains("  · "), "no explanations without --explain");
    let es = node.kith_in("es_ES.UTF-8", &["home", "--ranked", "--explain"]);
    let es = ok(&es, &["home"]);
    assert!(es.contains("  · Sigues a "), "{es}");
    let tuned = node.json(&[
        "home", "--ranked", "--weight", "author=2", "--weight", "media=0",
    ]);
    assert!(ids(&tuned).contains(&bob_post));
    assert!(tuned["items"][0]["why"]["reasons"][0]["weight"].is_number());

    // Trending: Bob's #kith.
    let trending = node.ok(&["trending", "--window", "1h"]);
    assert!(trending.starts_with("#kith · 1 person"), "{trending}");
    let es = node.kith_in("es_ES.UTF-8", &["trending"]);
    assert!(ok(&es, &["trending"]).starts_with("#kith · 1 persona"));
    assert_eq!(
        node.json(&["trending", "--limit", "1"])["items"][0]["tag"],
        "kith"
    );

    // Search: Bob's post by its hashtag (the index commits within a
    // second).
    eventually("the search index has Bob's post", || {
        node.ok(&["search", "kith"]).contains("#kith hola")
    });
    let found = node.ok(&["search", "kith"]);
    assert!(found.starts_with("#kith · 1 post"), "{found}");
    assert_eq!(
        node.json(&["search", "hola"])["posts"][0]["id"],
        bob_post.as_str()
    );
    let none = node.kith_in("es_ES.UTF-8", &["search", "zzzzzzzz"]);
    assert_eq!(ok(&none, &["search"]).trim(), "no se encontró nada");

    for bad in [
        vec!["search", ""],
        vec!["trending", "--window", "1w"],
        vec!["home", "--ranked", "--weight", "author=11"],
        vec!["home", "--ranked", "--weight", "looks=1"],
        vec!["home", "--explain"],
    ] {
        let out = node.kith(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
}

/// Profile, identity, key export, delegations and peers.
#[test]
fn profile_keys_and_peers() {
    let node = Node::start();
    let text = node.ok(&[
        "profile",
        "set",
        "--name",
        "Ana",
        "--bio",
        "Cocinera en Rosario",
        "--langs",
        "es,pt-BR",
        "--link",
        "https://ana.example",
    ]);
    assert!(text.starts_with("profile updated bafy"), "{text}");
    // Setting one field keeps the others.
    let updated = node.json(&["profile", "set", "--bio", "Cocinera"]);
    assert_eq!(updated["event"]["kind"], "profile");
    let me = node.json(&["show", &node.identity]);
    assert_eq!(
        me["profile"]["payload"],
        json!({"name": "Ana", "bio": "Cocinera", "langs": ["es", "pt-BR"],
               "links": ["https://ana.example"]})
    );
    let id = node.ok(&["id"]);
    let lines: Vec<&str> = id.lines().collect();
    assert_eq!(lines[0], node.identity, "{id}");
    assert!(lines.contains(&"name: Ana"), "{id}");
    assert!(id.contains(&format!("node {}", node.url)), "{id}");
    let shown = ok(
        &node.kith_in("es", &["show", &node.identity]),
        &["show (es)"],
    );
    assert!(shown.starts_with("nombre: Ana\n"), "{shown}");
    assert!(
        shown.contains("Cocinera\nidiomas: es, pt-BR\nenlaces: https://ana.example\n"),
        "{shown}"
    );
    assert!(shown.contains("0 seguidores · sigue a 0"), "{shown}");
    let out = node.kith(&["profile", "set"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "nothing to set is a usage error"
    );

    // The admin exports the node's root key without a password; only the
    // secret goes to stdout.
    let out = node.kith(&["key", "export"]);
    let secret = ok(&out, &["key export"]);
    assert!(secret.starts_with("kithsecret1"), "{secret}");
    assert_eq!(secret.lines().count(), 1);
    assert!(stderr(&out).contains("keep it safe"), "{}", stderr(&out));
    let key = Keypair::secret_from_text(secret.trim()).unwrap();
    assert_eq!(key.public().to_string(), node.identity);
    let exported = node.json(&["key", "export"]);
    assert_eq!(exported["secret"], secret.trim());

    // Delegate to another key, list, revoke.
    let phone = Keypair::from_seed(&[9; 32]).unwrap().public().to_string();
    let made = node.json(&[
        "key",
        "delegate",
        &phone,
        "--kinds",
        "post,reply",
        "--days",
        "3",
    ]);
    assert_eq!(made["event"]["kind"], "delegation");
    assert_eq!(made["event"]["payload"]["kinds"], json!(["post", "reply"]));
    assert_eq!(
        made["event"]["refs"],
        json!([{"rel": "subject", "key": phone}])
    );
    let delegation = made["event"]["id"].as_str().unwrap().to_string();
    let list = node.json(&["key", "list"]);
    assert_eq!(list["items"][0]["id"], delegation.as_str());
    assert_eq!(list["items"][0]["signer"], phone.as_str());
    assert_eq!(list["items"][0]["revoked"], false);
    let text = node.ok(&["key", "list"]);
    assert!(
        text.starts_with(&format!("{delegation} · key {}", short(&phone))),
        "{text}"
    );
    let text = node.ok(&["key", "revoke", &delegation, "--compromised"]);
    assert!(
        text.starts_with(&format!("revoked delegation {delegation}")),
        "{text}"
    );
    assert_eq!(node.json(&["key", "list"])["items"][0]["revoked"], true);
    let text = node.ok(&["key", "list"]);
    assert!(text.trim_end().ends_with("· revoked"), "{text}");
    let revoked = node.json(&["key", "delegate", &phone]);
    let out = node.kith(&["key", "revoke", revoked["event"]["id"].as_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Peers: a node on its own has none.
    assert_eq!(node.json(&["peers"]), json!({ "peers": [] }));
    assert_eq!(node.ok(&["peers"]), "no peers connected\n");
    let out = node.kith_in("es_AR.UTF-8", &["peers"]);
    assert_eq!(ok(&out, &["peers (es)"]), "ningún par conectado\n");
}

/// Each failure has its exit status and one line on stderr, and nothing on
/// stdout, in text and in `--json` mode alike.
#[test]
fn exit_statuses_say_what_went_wrong() {
    let node = Node::start();
    let failing = |args: &[&str], code: i32| -> String {
        for json in [false, true] {
            let mut all: Vec<&str> = if json { vec!["--json"] } else { vec![] };
            all.extend_from_slice(args);
            let out = node.kith(&all);
            assert_eq!(out.status.code(), Some(code), "{all:?}: {}", stderr(&out));
            assert_eq!(stdout(&out), "", "{all:?}");
            if code != 2 {
                let err = stderr(&out);
                assert!(
                    err.starts_with("kith: ") && err.lines().count() == 1,
                    "{err}"
                );
            }
        }
        stderr(&node.kith(args))
    };

    // 3: nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let nowhere = format!("http://127.0.0.1:{port}");
    let err = failing(&["--node", &nowhere, "home"], 3);
    assert!(
        err.starts_with(&format!("kith: cannot reach the node at {nowhere}: ")),
        "{err}"
    );
    // A node named on the command line is not replaced by the identity file.
    failing(&["--node", &nowhere, "id"], 3);
    let es = node.kith_in("es", &["--node", &nowhere, "peers"]);
    assert!(
        stderr(&es).starts_with("kith: no se puede contactar con el nodo en"),
        "{}",
        stderr(&es)
    );

    // 4: a token the node does not know.
    let err = failing(&["--token", "kat_not-the-admin", "home"], 4);
    assert_eq!(
        err,
        "kith: a valid session or admin token is required (unauthorized)\n"
    );
    let err = failing(&["--token", "kst_nobody", "show", &node.identity], 4);
    assert!(err.ends_with("(unauthorized)\n"), "{err}");

    // 5: a well-formed id of an event this node never saw.
    let unknown = EventId::of_body(b"an event nobody published").to_string();
    let err = failing(&["show", &unknown], 5);
    assert_eq!(err, "kith: event not found (not_found)\n");
    failing(&["thread", &unknown], 5);
    failing(&["post", "hola", "--reply-to", &unknown], 5);
    failing(&["key", "revoke", &unknown], 5);

    // 6: the CLI passes keys and ids as given and the node refuses malformed
    // ones with a 400 and its own code.
    let err = failing(&["follow", "not-a-key"], 6);
    assert!(
        err.starts_with("kith: `not-a-key` is not a Kith identity")
            && err.ends_with("(key_malformed)\n"),
        "{err}"
    );
    let err = failing(&["show", "bafy-not-an-id"], 6);
    assert!(err.ends_with("(id_malformed)\n"), "{err}");
    let err = failing(
        &["key", "delegate", &node.identity, "--kinds", "nonsense"],
        6,
    );
    assert!(err.ends_with("(invalid_field)\n"), "{err}");
    let err = failing(&["home", "--cursor", "zzz"], 6);
    assert_eq!(err, "kith: the cursor is not valid (bad_cursor)\n");
    // Nothing was published by the refused commands.
    assert_eq!(
        ids(&node.json(&["timeline", "--replies"])),
        Vec::<String>::new()
    );

    // 2: usage errors are caught before any request.
    failing(&["post"], 2);
    failing(&["timeline", "--limit", "0"], 2);
    let err = failing(&["post", "hola", "--hashtag", "2024"], 2);
    assert!(err.contains("--hashtag"), "{err}");
    failing(&["--node", "not a url", "home"], 2);

    // Without a running node and without --node, `kith id` still reads
    // the identity file, as it did before there was a gateway.
    let mut node = node;
    node.stop();
    assert!(!node.dir().join("gateway.url").exists());
    if std::net::TcpStream::connect("127.0.0.1:7417").is_ok() {
        eprintln!("something listens on 127.0.0.1:7417; skipping the fallback check");
        return;
    }
    assert_eq!(node.ok(&["id"]).trim(), node.identity);
    let local = node.json(&["id"]);
    assert_eq!(local["identity"], node.identity.as_str());
    assert_eq!(local["created"], false);
    failing_without_node(&node, &["home"], 3);
}

fn failing_without_node(node: &Node, args: &[&str], code: i32) {
    let out = node.kith(args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
}

/// `kith suggest` and `kith stats`: people followed by those you follow,
/// with why in your language; per-day statistics with a chart, and the
/// API document with --json.
#[test]
fn suggest_and_stats() {
    let node = Node::start();
    let (bob_token, bob) = register(&node.url, "bob");
    let (_, cyd) = register(&node.url, "cyd");
    node.ok(&["follow", &bob]);
    node.ok(&["--token", &bob_token, "follow", &cyd]);

    let page = node.json(&["suggest", "--limit", "5"]);
    assert_eq!(page["items"][0]["identity"], cyd.as_str());
    let text = node.ok(&["suggest"]);
    assert!(text.contains(&cyd), "{text}");
    assert!(text.contains("  · Followed by "), "{text}");
    let es = node.kith_in("es_ES.UTF-8", &["suggest"]);
    assert!(ok(&es, &["suggest"]).contains("  · Seguida por "));

    node.json(&["--token", &bob_token, "post", "#kith hola"]);
    let mine = node.json(&["--token", &bob_token, "stats", "--days", "3"]);
    assert_eq!(mine["days"].as_array().unwrap().len(), 3);
    assert_eq!(mine["totals"]["posts"], 1);
    assert_eq!(mine["totals"]["followers"], 1);
    assert_eq!(mine["totals"]["story_views"], 0);
    let text = node.ok(&["--token", &bob_token, "stats", "--days", "3"]);
    assert!(
        text.starts_with("last 3 days: 1 post · 0 reactions"),
        "{text}"
    );
    assert!(
        text.contains("1 follower (+1 / −0 in the period)"),
        "{text}"
    );
    let es = node.kith_in(
        "es_ES.UTF-8",
        &["--token", &bob_token, "stats", "--days", "3"],
    );
    assert!(ok(&es, &["stats"]).starts_with("últimos 3 días: 1 publicación"));
    // Someone else's: no story views.
    let theirs = node.json(&["stats", &bob]);
    assert_eq!(theirs["days"].as_array().unwrap().len(), 30);
    assert!(theirs["totals"].get("story_views").is_none());
    let out = node.kith(&["stats", "--days", "0"]);
    assert_eq!(out.status.code(), Some(2));
}
