//! `kith notifications` against a real node (`kith up`, another process):
//! `--json` prints the API document, people get one line per group in
//! their language, `--read-all` and `--unread`.

mod common;

use common::*;
use serde_json::json;

#[test]
fn notifications_in_json_and_for_people() {
    let node = Node::start();
    // Nothing yet.
    assert_eq!(
        node.ok_in("C", &["notifications"]).trim(),
        "no notifications"
    );
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
    let en = node.ok_in("C", &["notifications"]);
    let lines: Vec<&str> = en.lines().collect();
    assert_eq!(lines[0], "1 unread", "{en}");
    assert!(
        lines[1].starts_with("● Ana reacted to your post · love 1 · "),
        "{en}"
    );
    let es = node.ok_in("es_ES.UTF-8", &["notifications"]);
    assert!(es.starts_with("1 sin leer\n"), "{es}");
    assert!(
        es.contains("● Ana reaccionó a tu publicación · love 1 · "),
        "{es}"
    );

    // Read everything: nothing unread is left.
    let read = node.json(&["notifications", "--read-all"]);
    assert_eq!(read, json!({ "unread_count": 0 }));
    assert_eq!(
        node.ok_in("C", &["notifications", "--unread"]).trim(),
        "no notifications"
    );
    let all = node.ok_in("C", &["notifications"]);
    assert!(all.starts_with("nothing unread\n  Ana reacted"), "{all}");
    assert_eq!(
        node.ok_in("es", &["notifications", "--read-all"]).trim(),
        "todas las notificaciones marcadas como leídas (0 sin leer)"
    );
}
