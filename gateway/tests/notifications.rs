//! Notifications over real HTTP and WebSocket against real nodes: replies,
//! reactions, reposts, quotes, mentions and follows group per target and
//! type; a changed reaction does not count twice and a deleted one is taken
//! back; read marks, per-type settings, blocked authors; live delivery,
//! on one node and from a second node over loopback libp2p; an unfollow
//! takes back the follow; events stored while the node was down are
//! notified after it starts again.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// Longest wait for the notification service (or the network) to catch up.
const PATIENCE: Duration = Duration::from_secs(30);

/// Publishes a draft for the account; returns the event id.
async fn publish(h: &Http, token: &str, draft: Value) -> String {
    let r = h.post("/api/v1/publish", Some(token), &draft).await;
    assert!(
        r.status.as_u16() == 201 || r.status.as_u16() == 202,
        "{draft}: {} {}",
        r.status,
        r.raw
    );
    r.body["event"]["id"].as_str().unwrap().to_string()
}

async fn react(h: &Http, token: &str, target: &str, reaction: &str) -> String {
    publish(
        h,
        token,
        json!({ "kind": "reaction", "payload": { "reaction": reaction },
                "refs": [{ "rel": "target", "event": target }] }),
    )
    .await
}

/// The first page of the caller's notifications (`query` without `?`).
async fn notes(h: &Http, token: &str, query: &str) -> Value {
    h.get(&format!("/api/v1/me/notifications?{query}"), Some(token))
        .await
        .expect(200)
        .body
}

/// The group of `ty` about `target` (`None`: any target) on a page.
fn group(page: &Value, ty: &str, target: Option<&str>) -> Option<Value> {
    page["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["type"] == ty && target.is_none_or(|t| g["target"] == t))
        .cloned()
}

/// Collects live frames until one satisfies `hit`; returns them all, that
/// one last.
async fn wait_frame(live: &mut Live, hit: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Some(m) = live.next(left).await else {
            panic!("no such frame within {PATIENCE:?}; saw {seen:#?}");
        };
        let done = hit(&m);
        seen.push(m);
        if done {
            return seen;
        }
    }
}

/// Waits until `check` holds for the caller's first page; returns that page.
async fn wait_page(h: &Http, token: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    eventually(PATIENCE, what, || async {
        check(&notes(h, token, "limit=100").await)
    })
    .await;
    notes(h, token, "limit=100").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grouped_read_settings_and_blocks_on_one_node() {
    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let bob = h.register("bob").await;
    let cai = h.register("cai").await;
    let dee = h.register("dee").await;
    let eve = h.register("eve").await;
    h.put(
        "/api/v1/me/profile",
        Some(&bob.token),
        &json!({ "name": "Bob" }),
    )
    .await
    .expect(201);
    let post = h.post_text(&ana.token, "hola, soy ana").await;

    // Ana listens live from before anything happens.
    let mut live = Live::connect_ready(n.addr(), &ana.token).await;
    let (live_seq, early) = live
        .subscribe(json!({"op": "subscribe", "sub": "n", "stream": "notifications"}))
        .await;
    assert!(early.is_empty(), "{early:?}");

    // Two replies, two reactions, a repost, a quote, a mention, two follows.
    h.reply(&bob.token, &post, &post, "¡hola!").await;
    h.reply(&cai.token, &post, &post, "hi ana").await;
    react(h, &bob.token, &post, "like").await;
    let cai_love = react(h, &cai.token, &post, "love").await;
    publish(
        h,
        &dee.token,
        json!({ "kind": "repost", "payload": {}, "refs": [{ "rel": "target", "event": post }] }),
    )
    .await;
    let quote = publish(
        h,
        &dee.token,
        json!({ "kind": "quote", "payload": { "text": "look at this" },
                "refs": [{ "rel": "target", "event": post }] }),
    )
    .await;
    let mention = publish(
        h,
        &bob.token,
        json!({ "kind": "post", "payload": { "text": "hey @ana" },
                "refs": [{ "rel": "mention", "key": ana.identity }] }),
    )
    .await;
    h.follow(&bob.token, &ana.identity).await;
    h.follow(&cai.token, &ana.identity).await;
    // Her own reaction notifies nobody.
    react(h, &ana.token, &post, "wow").await;

    let page = wait_page(h, &ana.token, "six groups", |p| {
        p["groups"].as_array().unwrap().len() == 6
            && group(p, "follow", None).is_some_and(|g| g["actor_count"] == 2)
    })
    .await;
    let replies = group(&page, "reply", Some(&post)).expect("a reply group");
    assert_eq!(replies["actor_count"], 2, "{replies}");
    assert_eq!(
        replies["actors"][0]["identity"],
        cai.identity.as_str(),
        "newest first"
    );
    assert_eq!(
        replies["actors"][1]["name"], "Bob",
        "names come from profiles"
    );
    let reactions = group(&page, "reaction", Some(&post)).expect("a reaction group");
    assert_eq!(
        reactions["actor_count"], 2,
        "her own does not count: {reactions}"
    );
    assert_eq!(
        reactions["reactions"],
        json!({"like": 1, "love": 1, "haha": 0, "wow": 0, "sad": 0, "angry": 0})
    );
    assert_eq!(
        group(&page, "repost", Some(&post)).unwrap()["actor_count"],
        1
    );
    let q = group(&page, "quote", Some(&post)).unwrap();
    assert_eq!(q["latest_event"], quote.as_str());
    assert!(group(&page, "mention", Some(&mention)).is_some(), "{page}");
    assert!(group(&page, "follow", None).unwrap()["target"].is_null());
    assert_eq!(page["unread_count"], 6);
    assert!(
        page["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["read"] == false)
    );
    let times: Vec<u64> = page["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["latest_at"].as_u64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );

    // The same arrived live, as groups.
    let frames = wait_frame(&mut live, |m| {
        m["group"]["type"] == "follow" && m["group"]["actor_count"] == 2
    })
    .await;
    assert!(
        frames
            .iter()
            .all(|m| m["type"] == "notification" && m["sub"] == "n"),
        "{frames:?}"
    );
    assert!(frames.iter().all(|m| m["seq"].as_u64().unwrap() > live_seq));
    for ty in ["reply", "reaction", "repost", "quote", "mention", "follow"] {
        assert!(
            frames.iter().any(|m| m["group"]["type"] == ty),
            "no live {ty}: {frames:?}"
        );
    }

    // Bob changes his like to haha: still two people, counts move.
    react(h, &bob.token, &post, "haha").await;
    let page = wait_page(h, &ana.token, "the changed reaction", |p| {
        group(p, "reaction", None).is_some_and(|g| g["reactions"]["haha"] == 1)
    })
    .await;
    let reactions = group(&page, "reaction", None).unwrap();
    assert_eq!(
        reactions["actor_count"], 2,
        "not counted twice: {reactions}"
    );
    assert_eq!(reactions["reactions"]["like"], 0);
    assert_eq!(reactions["reactions"]["love"], 1);
    wait_frame(&mut live, |m| m["group"]["reactions"]["haha"] == 1).await;

    // Cai deletes her love: it leaves the counts.
    publish(
        h,
        &cai.token,
        json!({ "kind": "delete", "payload": {}, "refs": [{ "rel": "target", "event": cai_love }] }),
    )
    .await;
    let page = wait_page(h, &ana.token, "the deleted reaction", |p| {
        group(p, "reaction", None).is_some_and(|g| g["actor_count"] == 1)
    })
    .await;
    let reactions = group(&page, "reaction", None).unwrap();
    assert_eq!(reactions["reactions"]["love"], 0, "{reactions}");
    assert_eq!(reactions["actors"].as_array().unwrap().len(), 1);
    assert_eq!(reactions["actors"][0]["identity"], bob.identity.as_str());

    // Read one group: it leaves the unread list; new activity brings it back.
    let id = reactions["id"].as_str().unwrap().to_string();
    let r = h
        .post(
            "/api/v1/me/notifications/read",
            Some(&ana.token),
            &json!({ "group": id }),
        )
        .await
        .expect(200);
    assert_eq!(r.body["unread_count"], 5);
    let unread = notes(h, &ana.token, "unread=true&limit=100").await;
    assert!(group(&unread, "reaction", None).is_none(), "{unread}");
    assert_eq!(unread["groups"].as_array().unwrap().len(), 5);
    assert_eq!(
        group(&notes(h, &ana.token, "").await, "reaction", None).unwrap()["read"],
        true
    );
    react(h, &dee.token, &post, "sad").await;
    let page = wait_page(h, &ana.token, "the group unread again", |p| {
        group(p, "reaction", None).is_some_and(|g| g["read"] == false && g["actor_count"] == 2)
    })
    .await;
    assert_eq!(page["unread_count"], 6);

    // Read everything.
    let r = h
        .post(
            "/api/v1/me/notifications/read",
            Some(&ana.token),
            &json!({ "all": true }),
        )
        .await
        .expect(200);
    assert_eq!(r.body["unread_count"], 0);
    let unread = notes(h, &ana.token, "unread=true").await;
    assert_eq!(unread["groups"], json!([]));
    assert_eq!(unread["unread_count"], 0);

    // Paging: two at a time, no overlap, all six.
    let first = notes(h, &ana.token, "limit=2").await;
    let cursor = first["next"].as_str().expect("a next page").to_string();
    let second = notes(h, &ana.token, &format!("limit=2&cursor={cursor}")).await;
    let ids = |p: &Value| -> Vec<String> {
        p["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!((a.len(), b.len()), (2, 2));
    assert!(a.iter().all(|x| !b.contains(x)), "{a:?} {b:?}");

    // Settings: reactions off — not listed, not counted, not pushed.
    let s = h
        .get("/api/v1/me/notifications/settings", Some(&ana.token))
        .await
        .expect(200);
    assert_eq!(
        s.body,
        json!({"mention": true, "reply": true, "reaction": true, "repost": true,
               "quote": true, "follow": true, "story_view": true,
               "order": true, "trade": true, "review": true})
    );
    let s = h
        .put(
            "/api/v1/me/notifications/settings",
            Some(&ana.token),
            &json!({ "reaction": false }),
        )
        .await
        .expect(200);
    assert_eq!(s.body["reaction"], false);
    assert_eq!(s.body["reply"], true);
    react(h, &eve.token, &post, "angry").await;
    h.reply(&eve.token, &post, &post, "eve was here").await;
    let page = wait_page(h, &ana.token, "eve's reply", |p| {
        group(p, "reply", None).is_some_and(|g| g["actor_count"] == 3)
    })
    .await;
    assert!(
        group(&page, "reaction", None).is_none(),
        "reactions are off: {page}"
    );
    assert_eq!(page["unread_count"], 1, "only the reply group: {page}");
    let frames = wait_frame(&mut live, |m| {
        m["group"]["type"] == "reply" && m["group"]["actor_count"] == 3
    })
    .await;
    let by_eve = |m: &Value| m["group"]["actors"][0]["identity"] == eve.identity.as_str();
    assert!(
        !frames
            .iter()
            .any(|m| m["group"]["type"] == "reaction" && by_eve(m)),
        "reactions are off: {frames:?}"
    );
    // An unknown type changes nothing.
    let bad = h
        .put(
            "/api/v1/me/notifications/settings",
            Some(&ana.token),
            &json!({ "reply": false, "pokes": true }),
        )
        .await
        .expect(400);
    assert_eq!(bad.code(), "unknown_type");
    assert_error_shape(&bad);
    let s = h
        .get("/api/v1/me/notifications/settings", Some(&ana.token))
        .await
        .expect(200);
    assert_eq!(s.body["reply"], true, "nothing changed: {}", s.raw);
    h.put(
        "/api/v1/me/notifications/settings",
        Some(&ana.token),
        &json!({ "reaction": true }),
    )
    .await
    .expect(200);

    // Blocked and muted authors notify no more.
    h.put(
        &format!("/api/v1/me/blocks/{}", dee.identity),
        Some(&ana.token),
        &json!({}),
    )
    .await
    .expect(201);
    h.put(
        &format!("/api/v1/me/mutes/{}", cai.identity),
        Some(&ana.token),
        &json!({}),
    )
    .await
    .expect(201);
    let p2 = h.post_text(&ana.token, "second post").await;
    react(h, &dee.token, &p2, "like").await;
    react(h, &cai.token, &p2, "like").await;
    h.reply(&dee.token, &p2, &p2, "blocked reply").await;
    // Bob last: once his shows, the others were applied before it.
    react(h, &bob.token, &p2, "love").await;
    let page = wait_page(h, &ana.token, "bob's reaction to the second post", |p| {
        group(p, "reaction", Some(&p2)).is_some()
    })
    .await;
    let g = group(&page, "reaction", Some(&p2)).unwrap();
    assert_eq!(g["actor_count"], 1, "blocked and muted do not count: {g}");
    assert_eq!(g["actors"][0]["identity"], bob.identity.as_str());
    assert!(group(&page, "reply", Some(&p2)).is_none(), "{page}");

    // Bad input is refused and changes nothing.
    for (body, code) in [
        (json!({}), "invalid_field"),
        (json!({ "all": false }), "invalid_field"),
        (json!({ "group": "zz" }), "invalid_group"),
        (json!({ "group": id, "all": true }), "invalid_field"),
        (json!({ "groups": [] }), "invalid_field"),
    ] {
        let r = h
            .post("/api/v1/me/notifications/read", Some(&ana.token), &body)
            .await
            .expect(400);
        assert_eq!(r.code(), code, "{body}: {}", r.raw);
        assert_error_shape(&r);
    }
    let r = h
        .post(
            "/api/v1/me/notifications/read",
            Some(&ana.token),
            &json!({ "group": "00112233445566778899aabbccddeeff" }),
        )
        .await
        .expect(404);
    assert_error_shape(&r);
    for q in ["limit=0", "limit=101", "cursor=nope", "unread=maybe"] {
        let r = h
            .get(&format!("/api/v1/me/notifications?{q}"), Some(&ana.token))
            .await
            .expect(400);
        assert_error_shape(&r);
    }
    h.get("/api/v1/me/notifications", None).await.expect(401);
    assert_eq!(
        notes(h, &ana.token, "").await["unread_count"],
        3,
        "eve's reply and reaction, bob's reaction; bad requests changed nothing"
    );

    // Nobody else sees ana's notifications.
    let bobs = notes(h, &bob.token, "").await;
    assert!(
        bobs["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["target"] != post.as_str())
    );

    live.close().await;
    n.stop().await;
}

/// Ana on node A posts; cai, a stranger on node B who signs with her own
/// key, reacts; ana gets it live over A's gateway and in her list. (A
/// stranger's event signed by a gateway's delegated key waits on A for a
/// delegation A never fetches: see the report that came with this test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reaction_from_another_node_arrives_live() {
    use kith_node::protocol::kinds::{Reaction, ReactionType};
    use kith_node::protocol::{EventId, Keypair, Rel, UnsignedEvent};

    let a = TestNode::start(1, |_| {}).await;
    let b = TestNode::start(1, |_| {}).await;
    b.node.connect(a.tcp_addr()).await.expect("B dials A");
    let ana = a.http.register("ana").await;
    let bob = b.http.register("bob").await;
    let root = Keypair::generate(&mut rand_core::OsRng);
    let cai = b.http.register_byok("cai", &root).await;
    let post = a.http.post_text(&ana.token, "a post on node A").await;
    // Bob follows ana, so node B keeps her post and knows whose inbox a
    // reaction to it goes to.
    b.http.follow(&bob.token, &ana.identity).await;
    eventually(PATIENCE, "ana's post reaches node B", || async {
        b.has(&post)
    })
    .await;
    let mut live = Live::connect_ready(a.addr(), &ana.token).await;
    live.subscribe(json!({"op": "subscribe", "sub": "n", "stream": "notifications"}))
        .await;
    let target: EventId = post.parse().unwrap();
    let event = UnsignedEvent::new(
        root.public(),
        now(),
        Reaction {
            reaction: ReactionType::Love,
        },
    )
    .ref_event(Rel::Target, target)
    .sign(&root)
    .unwrap();
    let r = b.http.submit(&cai.token, &event).await;
    assert!(r.status.is_success(), "{}", r.raw);
    let reaction = event.id().to_string();

    // Live, over A's gateway.
    let frames = wait_frame(&mut live, |m| m["group"]["type"] == "reaction").await;
    let frame = frames.last().unwrap();
    let g = &frame["group"];
    assert_eq!(frame["sub"], "n");
    assert_eq!(g["target"], post.as_str());
    assert_eq!(g["latest_event"], reaction.as_str());
    assert_eq!(g["reactions"]["love"], 1);
    assert_eq!(g["actors"][0]["identity"], cai.identity.as_str());
    assert_eq!(g["read"], false);
    // And listed.
    let page = notes(&a.http, &ana.token, "").await;
    let listed = group(&page, "reaction", Some(&post)).expect("listed");
    assert_eq!(listed["id"], g["id"]);
    assert_eq!(listed["latest_event"], reaction.as_str());
    // The reaction, and bob's follow: signed on node B with his delegated
    // key, it reached A once A fetched his delegation.
    eventually(PATIENCE, "bob's delegated follow notifies ana", || async {
        let page = notes(&a.http, &ana.token, "").await;
        page["unread_count"] == 2 && group(&page, "follow", None).is_some()
    })
    .await;

    // Bob's reaction is signed by node B's gateway with his delegated key:
    // node A, which does not follow bob, fetches his delegation (a scoped
    // sync of his delegations) and then takes the reaction.
    let r = b
        .http
        .post(
            "/api/v1/publish",
            Some(&bob.token),
            &json!({"kind": "reaction", "payload": {"reaction": "like"},
                    "refs": [{"rel": "target", "event": post}]}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.raw);
    let frames = wait_frame(&mut live, |m| {
        m["group"]["type"] == "reaction" && m["group"]["reactions"]["like"] == 1
    })
    .await;
    let g = &frames.last().unwrap()["group"];
    assert_eq!(g["actor_count"], 2);
    assert_eq!(g["actors"][0]["identity"], bob.identity.as_str());

    live.close().await;
    b.stop().await;
    a.stop().await;
}

/// Everyone the follow groups on a page name, and how many people they
/// count (follows group per UTC day, so a test that crosses midnight sees
/// two groups).
fn followers(page: &Value) -> (u64, Vec<String>) {
    let mut count = 0;
    let mut who = Vec::new();
    for g in page["groups"].as_array().unwrap() {
        if g["type"] == "follow" {
            count += g["actor_count"].as_u64().unwrap();
            for a in g["actors"].as_array().unwrap() {
                who.push(a["identity"].as_str().unwrap().to_string());
            }
        }
    }
    (count, who)
}

/// B follows A, then unfollows: the follow leaves A's notifications. A
/// group that keeps other followers stays (and stays read); one left
/// empty goes. A follow that a newer, already stored unfollow undid
/// notifies nobody; following again after an unfollow does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unfollow_takes_back_the_follow_notification() {
    use kith_node::protocol::kinds::{Follow, Unfollow};
    use kith_node::protocol::{Keypair, Rel, UnsignedEvent};

    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let bob = h.register("bob").await;
    let cai = h.register("cai").await;
    let unfollow = |who: &Account| {
        let path = format!("/api/v1/me/follows/{}", ana.identity);
        let token = who.token.clone();
        async move { h.delete(&path, Some(&token)).await.expect(201) }
    };

    h.follow(&bob.token, &ana.identity).await;
    h.follow(&cai.token, &ana.identity).await;
    let page = wait_page(h, &ana.token, "bob's and cai's follows", |p| {
        followers(p).0 == 2
    })
    .await;
    assert_eq!(
        page["unread_count"].as_u64(),
        Some(page["groups"].as_array().unwrap().len() as u64)
    );
    h.post(
        "/api/v1/me/notifications/read",
        Some(&ana.token),
        &json!({ "all": true }),
    )
    .await
    .expect(200);

    // Cai unfollows: bob stays, the group stays read.
    unfollow(&cai).await;
    let page = wait_page(h, &ana.token, "cai's follow taken back", |p| {
        followers(p).0 == 1
    })
    .await;
    assert_eq!(followers(&page).1, vec![bob.identity.clone()], "{page}");
    assert_eq!(page["unread_count"], 0, "an unfollow is no news: {page}");
    assert!(
        page["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["read"] == true),
        "{page}"
    );

    // Bob unfollows too: nothing is left.
    unfollow(&bob).await;
    let page = wait_page(h, &ana.token, "bob's follow taken back", |p| {
        followers(p).0 == 0
    })
    .await;
    assert_eq!(page["groups"], json!([]), "the empty group goes: {page}");
    assert_eq!(page["unread_count"], 0);

    // Dee's unfollow is stored before her older follow arrives: the
    // follow was undone before it came and notifies nobody.
    let root = Keypair::generate(&mut rand_core::OsRng);
    let dee = h.register_byok("dee", &root).await;
    let t = now();
    for event in [
        UnsignedEvent::new(root.public(), t, Unfollow {}),
        UnsignedEvent::new(root.public(), t - 60_000, Follow {}),
    ] {
        let event = event
            .ref_identity(Rel::Subject, ana.key())
            .sign(&root)
            .unwrap();
        let r = h.submit(&dee.token, &event).await;
        assert!(r.status.is_success(), "{}", r.raw);
    }
    // Bob follows again, after dee's follow: when his shows, dee's was applied.
    h.follow(&bob.token, &ana.identity).await;
    let page = wait_page(h, &ana.token, "bob's new follow", |p| followers(p).0 >= 1).await;
    assert_eq!(
        followers(&page),
        (1, vec![bob.identity.clone()]),
        "dee's undone follow does not count: {page}"
    );
    assert_eq!(page["unread_count"], 1, "bob's new follow is news: {page}");

    n.stop().await;
}

/// Stops the gateway and the node, keeping the data dir.
async fn stop_keeping_dir(n: TestNode) -> tempfile::TempDir {
    let TestNode { node, gw, dir, .. } = n;
    if let Some(gw) = gw {
        gw.stop().await;
    }
    let node = Arc::try_unwrap(node)
        .unwrap_or_else(|_| panic!("the node is still in use after the gateway stopped"));
    node.shutdown().await.unwrap();
    dir
}

/// A reaction and a reply to ana's post reach the store while the node is
/// down (written straight into its store, so the notification service
/// never saw them go by): once the node is up again, they are among ana's
/// notifications. The service catches up from its watermark over the
/// acceptance log; listening for new events alone would miss them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_stored_while_down_are_notified_after_a_restart() {
    use kith_node::protocol::kinds::{Content, Reaction, ReactionType, Reply};
    use kith_node::protocol::{EventId, Keypair, Rel, UnsignedEvent};
    use kith_node::storage::{IngestOutcome, Store, StoreConfig};

    let n = TestNode::start(0, |_| {}).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let bob = h.register("bob").await;
    let post = h.post_text(&ana.token, "before the restart").await;
    // Bob's like is notified before the stop: the watermark is past the post.
    react(h, &bob.token, &post, "like").await;
    wait_page(h, &ana.token, "bob's like", |p| {
        group(p, "reaction", Some(&post)).is_some()
    })
    .await;
    let watermark = n.node.notifications().watermark();
    let dir = stop_keeping_dir(n).await;

    // While the node is down, a stranger's reaction and reply reach its store.
    let stranger = Keypair::generate(&mut rand_core::OsRng);
    let target: EventId = post.parse().unwrap();
    let t = now();
    let reaction = UnsignedEvent::new(
        stranger.public(),
        t,
        Reaction {
            reaction: ReactionType::Wow,
        },
    )
    .ref_event(Rel::Target, target)
    .sign(&stranger)
    .unwrap();
    let reply = UnsignedEvent::new(
        stranger.public(),
        t + 1,
        Reply {
            content: Content::text("written while the node was down"),
        },
    )
    .ref_event(Rel::Root, target)
    .ref_event(Rel::Parent, target)
    .sign(&stranger)
    .unwrap();
    let events = vec![reaction.clone(), reply.clone()];
    let store_dir = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let store = Store::open(StoreConfig::new(store_dir)).unwrap();
        let out = store.ingest_blocking(events).unwrap();
        assert!(
            out.iter()
                .all(|o| matches!(o, IngestOutcome::Stored { seq } if *seq > watermark)),
            "stored after the watermark ({watermark}): {out:?}"
        );
        // Dropping the last handle closes the store.
    })
    .await
    .unwrap();

    let n = TestNode::start_in(dir, 0, |_| {}).await;
    let h = &n.http;
    let page = wait_page(h, &ana.token, "the events stored while down", |p| {
        group(p, "reaction", Some(&post)).is_some_and(|g| g["actor_count"] == 2)
            && group(p, "reply", Some(&post)).is_some()
    })
    .await;
    let reactions = group(&page, "reaction", Some(&post)).unwrap();
    assert_eq!(reactions["reactions"]["wow"], 1, "{reactions}");
    assert_eq!(reactions["reactions"]["like"], 1, "{reactions}");
    assert_eq!(reactions["latest_event"], reaction.id().to_string());
    let replies = group(&page, "reply", Some(&post)).unwrap();
    assert_eq!(replies["latest_event"], reply.id().to_string());
    assert_eq!(
        replies["actors"][0]["identity"],
        stranger.public().to_string()
    );
    assert_eq!(
        group(&page, "reaction", Some(&post)).unwrap()["read"],
        false
    );

    n.stop().await;
}
