//! Bad input against a real relay over a real socket: each is refused or cut
//! off with its message, nothing invalid is stored, and the relay keeps
//! serving everyone else.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use kith_relay::{Relay, RelayConfig};
use nostr::prelude::{EventBuilder, FinalizeEvent, Keys, Kind, Tag};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn start(tweak: impl FnOnce(&mut RelayConfig)) -> (tempfile::TempDir, Relay) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = RelayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    tweak(&mut c);
    let relay = Relay::start(dir.path(), c).await.unwrap();
    (dir, relay)
}

async fn connect(relay: &Relay) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.url()).await.unwrap();
    let hello = next(&mut ws).await;
    assert_eq!(hello[0], "AUTH", "{hello}");
    ws
}

/// The next JSON message, within 5 s.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("the connection is open")
            .expect("a frame");
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

fn note(keys: &Keys, text: &str) -> nostr::prelude::Event {
    EventBuilder::new(Kind::TextNote, text)
        .tag(Tag::hashtag("bad-input"))
        .finalize(keys)
        .unwrap()
}

/// A REQ still answers with EOSE: the connection is usable.
async fn still_serves(ws: &mut Ws) {
    send(ws, json!(["REQ", "alive", {"kinds": [1], "limit": 1}])).await;
    loop {
        let m = next(ws).await;
        if m[0] == "EOSE" {
            assert_eq!(m[1], "alive");
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_forged_and_oversized_messages_are_refused() {
    let (_d, relay) = start(|c| {
        c.max_message_bytes = 8 * 1024;
        c.max_event_bytes = 4 * 1024;
    })
    .await;
    let mut ws = connect(&relay).await;
    let keys = Keys::generate();

    for bad in ["not json", "{}", "[]", "[42]", "[\"WHAT\"]", "[\"EVENT\"]"] {
        ws.send(Message::text(bad)).await.unwrap();
        let m = next(&mut ws).await;
        assert_eq!(m[0], "NOTICE", "{bad}: {m}");
        assert!(m[1].as_str().unwrap().starts_with("invalid:"), "{bad}: {m}");
    }
    still_serves(&mut ws).await;

    // Wrong id: the content changed after signing.
    let good = note(&keys, "original");
    let mut wrong_id = serde_json::to_value(&good).unwrap();
    wrong_id["content"] = "changed".into();
    send(&mut ws, json!(["EVENT", wrong_id])).await;
    let m = next(&mut ws).await;
    assert_eq!(
        (m[0].as_str(), m[2].as_bool()),
        (Some("OK"), Some(false)),
        "{m}"
    );
    assert!(m[3].as_str().unwrap().starts_with("invalid:"), "{m}");

    // Bad signature: one hex digit of it flipped.
    let mut bad_sig = serde_json::to_value(&good).unwrap();
    let mut sig = bad_sig["sig"].as_str().unwrap().to_owned();
    let flipped = if sig.ends_with('0') { '1' } else { '0' };
    sig.pop();
    sig.push(flipped);
    bad_sig["sig"] = sig.into();
    send(&mut ws, json!(["EVENT", bad_sig])).await;
    let m = next(&mut ws).await;
    assert_eq!(m[2], false, "{m}");
    assert!(m[3].as_str().unwrap().starts_with("invalid:"), "{m}");

    // Wrong types in an event, and an event that is too large.
    send(&mut ws, json!(["EVENT", {"id": 5, "kind": "one"}])).await;
    let m = next(&mut ws).await;
    assert_eq!(
        (m[0].as_str(), m[2].as_bool()),
        (Some("OK"), Some(false)),
        "{m}"
    );
    let big = note(&keys, &"x".repeat(5 * 1024));
    send(&mut ws, json!(["EVENT", big])).await;
    let m = next(&mut ws).await;
    assert_eq!(m[2], false, "{m}");
    assert!(m[3].as_str().unwrap().contains("larger than"), "{m}");

    // Bad filters and subscription ids.
    send(&mut ws, json!(["REQ", "s1", {"kinds": "one"}])).await;
    let m = next(&mut ws).await;
    assert_eq!(
        (m[0].as_str(), m[1].as_str()),
        (Some("CLOSED"), Some("s1")),
        "{m}"
    );
    assert!(m[2].as_str().unwrap().starts_with("invalid:"), "{m}");
    send(&mut ws, json!(["REQ", "x".repeat(65), {}])).await;
    assert_eq!(next(&mut ws).await[0], "CLOSED");
    send(&mut ws, json!(["REQ", "nofilter"])).await;
    assert_eq!(next(&mut ws).await[0], "CLOSED");

    for e in [&good, &big] {
        assert!(
            !relay.store().contains(&e.id).unwrap(),
            "nothing invalid stored"
        );
    }
    still_serves(&mut ws).await;

    // A message over the size limit closes that connection, with a notice.
    ws.send(Message::text("x".repeat(9 * 1024))).await.unwrap();
    let mut closed = false;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        match m {
            Ok(Message::Close(_)) | Err(_) => {
                closed = true;
                break;
            }
            Ok(_) => {}
        }
    }
    let closed = closed || ws.next().await.is_none();
    assert!(closed, "the connection was closed");

    // Everyone else is still served.
    let mut other = connect(&relay).await;
    send(&mut other, json!(["EVENT", good])).await;
    let m = next(&mut other).await;
    assert_eq!(m[2], true, "{m}");
    assert!(relay.store().contains(&good.id).unwrap());
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_asking_for_everything_are_bounded() {
    let (_d, relay) = start(|c| {
        c.max_limit = 10;
        c.max_scan = 25;
    })
    .await;
    let mut ws = connect(&relay).await;
    let keys = Keys::generate();
    for i in 0..40 {
        send(&mut ws, json!(["EVENT", note(&keys, &format!("n{i}"))])).await;
        assert_eq!(next(&mut ws).await[2], true);
    }
    send(&mut ws, json!(["REQ", "all", {}, {"limit": 1_000_000}])).await;
    let mut n = 0;
    loop {
        let m = next(&mut ws).await;
        if m[0] == "EOSE" {
            break;
        }
        assert_eq!(m[0], "EVENT");
        n += 1;
    }
    assert_eq!(n, 10, "cut to max_limit");
    send(&mut ws, json!(["COUNT", "c", {"kinds": [1]}])).await;
    let m = next(&mut ws).await;
    assert_eq!(m[0], "COUNT", "{m}");
    assert_eq!(m[2]["count"], 25, "{m}");
    assert_eq!(m[2]["approximate"], true, "the scan budget ran out: {m}");
    relay.shutdown().await;
}

/// A client that subscribes to everything and never reads is cut off once
/// the live buffer passes it; a reading client gets every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_cut_off() {
    let (_d, relay) = start(|c| {
        c.live_buffer = 64;
        c.max_event_bytes = 128 * 1024;
        c.events_per_second_per_ip = 100_000;
        c.events_per_second_per_pubkey = 100_000;
    })
    .await;
    let mut sleeper = connect(&relay).await;
    send(&mut sleeper, json!(["REQ", "all", {}])).await;
    assert_eq!(next(&mut sleeper).await[0], "EOSE");
    let mut reader = connect(&relay).await;
    send(&mut reader, json!(["REQ", "all", {}])).await;
    assert_eq!(next(&mut reader).await[0], "EOSE");
    assert_eq!(relay.connections(), 2);

    let keys = Keys::generate();
    let mut publisher = connect(&relay).await;
    // 60 MB in all: more than the kernel's socket buffers on both ends can
    // hold for the sleeper, so the relay's writes to it block.
    let padding = "p".repeat(100 * 1024);
    let total = 600;
    let mut seen = 0;
    for i in 0..total {
        send(
            &mut publisher,
            json!(["EVENT", note(&keys, &format!("{i} {padding}"))]),
        )
        .await;
        assert_eq!(next(&mut publisher).await[2], true);
        // The reader keeps up.
        while seen <= i {
            let m = next(&mut reader).await;
            if m[0] == "EVENT" {
                seen += 1;
            }
        }
    }
    assert_eq!(seen, total);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while relay.connections() > 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sleeping client was not cut off ({} connections)",
            relay.connections()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    still_serves(&mut reader).await;
    drop(sleeper);
    relay.shutdown().await;
}

/// An event published just before a REQ on the same connection is sent once:
/// in the stored answer, not again as live (the broadcast of an event the
/// answer already held can arrive after EOSE).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_in_the_stored_answer_is_not_sent_again_live() {
    let (_d, relay) = start(|c| {
        c.events_per_second_per_ip = 100_000;
        c.events_per_second_per_pubkey = 100_000;
        c.queries_per_second_per_ip = 100_000;
    })
    .await;
    let mut ws = connect(&relay).await;
    let keys = Keys::generate();
    let mut previous: Option<String> = None;
    for i in 0..300 {
        let e = note(&keys, &format!("race {i}"));
        send(&mut ws, json!(["EVENT", e])).await;
        // Any frame but our OK is a duplicate from the previous round.
        let m = next(&mut ws).await;
        assert_eq!(m[0], "OK", "round {i}: after {previous:?}: {m}");
        let sub = format!("r{i}");
        send(&mut ws, json!(["REQ", sub, {"ids": [e.id.to_hex()]}])).await;
        let mut got = 0;
        loop {
            let m = next(&mut ws).await;
            if m[0] == "EOSE" {
                break;
            }
            assert_eq!(m[1], sub.as_str(), "round {i}: {m}");
            got += 1;
        }
        assert_eq!(got, 1, "round {i}");
        send(&mut ws, json!(["CLOSE", sub])).await;
        previous = Some(sub);
    }
    relay.shutdown().await;
}

/// A connection without subscriptions does not receive live events, so
/// connections that only publish (here four, pipelining) or idle are never cut
/// off as slow readers however much the others publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_subscriptions_are_not_cut_off() {
    let (_d, relay) = start(|c| {
        c.live_buffer = 16;
        c.events_per_second_per_ip = 100_000;
        c.events_per_second_per_pubkey = 100_000;
    })
    .await;
    let mut idle = connect(&relay).await;
    let mut publishers = Vec::new();
    for p in 0..4 {
        let mut ws = connect(&relay).await;
        publishers.push(tokio::spawn(async move {
            let keys = Keys::generate();
            for i in 0..300 {
                send(
                    &mut ws,
                    json!(["EVENT", note(&keys, &format!("{p} busy {i}"))]),
                )
                .await;
            }
            let mut ok = 0;
            while ok < 300 {
                let m = next(&mut ws).await;
                assert_eq!(
                    (m[0].as_str(), m[2].as_bool()),
                    (Some("OK"), Some(true)),
                    "{m}"
                );
                ok += 1;
            }
            ws
        }));
    }
    let mut open = Vec::new();
    for p in publishers {
        open.push(p.await.expect("every publisher got all its OKs"));
    }
    assert_eq!(relay.connections(), 5, "nobody was cut off");
    still_serves(&mut idle).await;
    relay.shutdown().await;
}

/// The operator's policy: denied and allowed keys and kinds, a proof-of-work
/// minimum, rate limits and the subscription cap, each refused with its
/// NIP-01 prefix and nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_policy_is_enforced_with_its_prefixes() {
    let (banned, friend) = (Keys::generate(), Keys::generate());
    let banned_hex = banned.public_key().to_hex();
    let (_d, relay) = start(move |c| {
        c.denied_pubkeys = vec![banned_hex];
        c.denied_kinds = vec![7];
        c.events_per_second_per_pubkey = 1;
        c.max_subscriptions = 2;
    })
    .await;
    let mut ws = connect(&relay).await;
    let refused = |m: &Value, prefix: &str| {
        assert_eq!(
            (m[0].as_str(), m[2].as_bool()),
            (Some("OK"), Some(false)),
            "{m}"
        );
        assert!(m[3].as_str().unwrap().starts_with(prefix), "{prefix}: {m}");
    };
    let by_banned = note(&banned, "let me in");
    send(&mut ws, json!(["EVENT", by_banned])).await;
    refused(&next(&mut ws).await, "blocked:");
    let reaction = EventBuilder::new(Kind::Reaction, "+")
        .finalize(&friend)
        .unwrap();
    send(&mut ws, json!(["EVENT", reaction])).await;
    refused(&next(&mut ws).await, "blocked:");

    // 1 event/s per key with bursts of 4: the fifth at once is refused.
    let mut oks = Vec::new();
    for i in 0..5 {
        send(
            &mut ws,
            json!(["EVENT", note(&friend, &format!("quick {i}"))]),
        )
        .await;
        oks.push(next(&mut ws).await);
    }
    assert!(oks[..4].iter().all(|m| m[2] == true), "{oks:?}");
    refused(&oks[4], "rate-limited:");

    for sub in ["a", "b"] {
        send(&mut ws, json!(["REQ", sub, {"kinds": [1]}])).await;
        while next(&mut ws).await[0] != "EOSE" {}
    }
    send(&mut ws, json!(["REQ", "c", {"kinds": [1]}])).await;
    let m = next(&mut ws).await;
    assert_eq!(m[0], "CLOSED", "{m}");
    assert!(m[2].as_str().unwrap().starts_with("blocked:"), "{m}");
    assert!(!relay.store().contains(&by_banned.id).unwrap());
    relay.shutdown().await;

    // A proof-of-work minimum, and an allow-list of keys.
    let friend_hex = friend.public_key().to_hex();
    let (_d, relay) = start(move |c| {
        c.min_pow = 40;
        c.allowed_pubkeys = vec![friend_hex];
    })
    .await;
    let mut ws = connect(&relay).await;
    send(
        &mut ws,
        json!(["EVENT", note(&Keys::generate(), "a stranger")]),
    )
    .await;
    refused(&next(&mut ws).await, "blocked:");
    send(&mut ws, json!(["EVENT", note(&friend, "no work done")])).await;
    refused(&next(&mut ws).await, "pow:");
    relay.shutdown().await;
}
