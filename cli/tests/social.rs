//! `kith react` (and `--remove`), `kith repost`, `kith quote` and `kith
//! thread` with `--sort`, `--depth` and `--from-here`: the real binary
//! driving a real node (`kith up`, another process) through its gateway.

mod common;

use common::*;
use serde_json::json;

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
        vec!["react", root.as_str(), "love", "--remove"],
        vec!["thread", root.as_str(), "--sort", "best"],
        vec!["thread", root.as_str(), "--depth", "0"],
        vec!["quote", root.as_str()],
    ] {
        let out = node.kith_in("C", &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

/// `kith react ID --remove` deletes your live reaction: the event's counts
/// name it (`mine_id`), the delete targets it, and afterwards the event
/// shows no reaction of yours. With nothing to remove it says so, in the
/// reader's language, and exits 5.
#[test]
fn react_remove_takes_your_reaction_back() {
    let node = Node::start();
    let post = node.publish(&["post", "react to me, then think again"]);

    let reacted = node.json(&["react", &post, "haha"]);
    let reaction = reacted["event"]["id"].as_str().unwrap().to_string();
    let shown = node.json(&["show", &post]);
    assert_eq!(shown["stats"]["mine"], "haha", "{shown}");
    assert_eq!(shown["stats"]["mine_id"], reaction.as_str(), "{shown}");

    // With --json: the API's document for the delete.
    let removed = node.json(&["react", &post, "--remove"]);
    assert_eq!(removed["event"]["kind"], "delete", "{removed}");
    assert_eq!(
        removed["event"]["refs"],
        json!([{ "rel": "target", "event": reaction }])
    );
    let shown = node.json(&["show", &post]);
    assert_eq!(shown["stats"]["mine"], json!(null), "{shown}");
    assert_eq!(shown["stats"]["mine_id"], json!(null), "{shown}");
    assert_eq!(shown["stats"]["reactions"]["haha"], 0, "{shown}");
    let text = node.ok(&["show", &post]);
    assert!(!text.contains("you reacted"), "{text}");

    // For people: a line naming what was taken back.
    node.publish(&["react", &post, "sad"]);
    let text = node.ok(&["react", &post, "--remove"]);
    assert!(
        text.starts_with(&format!("removed your reaction 😢 to {post}: bafy")),
        "{text}"
    );

    // Nothing left to remove: a clear line on stderr, exit 5, nothing published.
    let out = node.kith(&["react", &post, "--remove"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        format!("kith: you have no reaction to {post} to remove")
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let out = node.kith_in("es", &["react", &post, "--remove"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(
        stderr(&out).trim(),
        format!("kith: no tienes ninguna reacción a {post} que quitar")
    );
    let out = node.kith(&["--json", "react", &post, "--remove"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}
