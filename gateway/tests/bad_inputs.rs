//! A table of bad requests. Each names the status, `error.code` and (where
//! it applies) `details.field` it must get; every error body must be exactly
//! `{"error": {"code", "message", "details"}}`; and after each one the
//! store is unchanged (its acceptance sequence does not move, and the event
//! the request carried, if any, is not there).
//!
//! Protocol codes are expected with the HTTP status `specs/events.md`
//! (§ Error codes) gives them. Every case runs; the mismatches are reported
//! together.

mod common;

use common::*;
use kith_node::protocol::kinds::{Content, Delegation, Follow, Post, Revocation};
use kith_node::protocol::{Event, Keypair, Kind, Rel, UnsignedEvent, seal_unchecked};
use serde_json::{Value, json};

const MIN: u64 = 60 * 1000;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

#[derive(Clone, Copy, Debug)]
enum Who {
    Nobody,
    /// A hosted account (the node holds her keys).
    Ana,
    /// An account that keeps its own root key (the test holds it).
    Carol,
}

#[derive(Debug)]
enum Body {
    None,
    Json(Value),
    /// Content type (none when `None`) and bytes.
    Raw(Option<&'static str>, Vec<u8>),
}

#[derive(Debug)]
struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    who: Who,
    body: Body,
    status: u16,
    code: &'static str,
    /// `details.field`, when the case is about one field.
    field: Option<&'static str>,
    /// The event the request carries, which must not end up stored.
    event: Option<String>,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: impl Into<String>,
    who: Who,
    body: Body,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.into(),
        who,
        body,
        status,
        code,
        field: None,
        event: None,
    }
}

impl Case {
    fn field(mut self, f: &'static str) -> Case {
        self.field = Some(f);
        self
    }

    fn event(mut self, e: &Event) -> Case {
        self.event = Some(e.id().to_string());
        self
    }
}

fn envelope(e: &Event) -> Body {
    Body::Json(json!({ "envelope": b64(e.as_bytes()) }))
}

fn post_by(author: &Keypair, signer: &Keypair, at: u64, text: &str) -> Event {
    UnsignedEvent::new(
        author.public(),
        at,
        Post {
            content: Content::text(text),
        },
    )
    .signed_by(signer.public())
    .sign(signer)
    .unwrap()
}

fn delegation(root: &Keypair, to: &Keypair, at: u64, expires_at: u64) -> Event {
    UnsignedEvent::new(
        root.public(),
        at,
        Delegation {
            kinds: vec![Kind::Post],
            expires_at,
        },
    )
    .ref_identity(Rel::Subject, to.public())
    .sign(root)
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_requests_get_the_right_error_and_change_nothing() {
    let n = TestNode::start(0, |g| g.body_limit_kb = 64).await;
    let h = &n.http;
    let ana = h.register("ana").await;
    let carol_root = Keypair::generate(&mut rand_core::OsRng);
    let carol = h.register_byok("carol", &carol_root).await;
    let ana_post = h.post_text(&ana.token, "hola").await;
    let t = now();

    // Carol's delegations: one in force, one expired, one revoked.
    let d_ok = Keypair::generate(&mut rand_core::OsRng);
    let d_expired = Keypair::generate(&mut rand_core::OsRng);
    let d_revoked = Keypair::generate(&mut rand_core::OsRng);
    let d_unknown = Keypair::generate(&mut rand_core::OsRng);
    let ok_delegation = delegation(&carol_root, &d_ok, t - 10 * MIN, t + DAY);
    let expired_delegation = delegation(&carol_root, &d_expired, t - 2 * HOUR, t - HOUR);
    let revoked_delegation = delegation(&carol_root, &d_revoked, t - 10 * MIN, t + DAY);
    let revocation = UnsignedEvent::new(carol_root.public(), t - 5 * MIN, Revocation::default())
        .ref_event(Rel::Target, revoked_delegation.id())
        .sign(&carol_root)
        .unwrap();
    for e in [
        &ok_delegation,
        &expired_delegation,
        &revoked_delegation,
        &revocation,
    ] {
        h.submit(&carol.token, e).await.expect(201);
    }
    // The delegation in force works (so the refusals below are about what they say).
    let fine = post_by(&carol_root, &d_ok, now(), "signed by my phone");
    h.submit(&carol.token, &fine).await.expect(201);

    // Events the cases carry.
    let by_unknown = post_by(&carol_root, &d_unknown, now(), "who signed this?");
    let by_expired = post_by(&carol_root, &d_expired, now(), "too late");
    let by_revoked = post_by(&carol_root, &d_revoked, now(), "revoked");
    let follow_by_delegate = UnsignedEvent::new(carol_root.public(), now(), Follow {})
        .ref_identity(Rel::Subject, ana.key())
        .signed_by(d_ok.public())
        .sign(&d_ok)
        .unwrap();
    let delegated_delegation = {
        // A delegate granting a delegation in the root's name: not delegable.
        // `sign` refuses to make it, so seal the body by hand.
        let body = UnsignedEvent::new(
            carol_root.public(),
            now(),
            Delegation {
                kinds: vec![Kind::Post],
                expires_at: now() + DAY,
            },
        )
        .ref_identity(Rel::Subject, d_unknown.public())
        .signed_by(d_ok.public())
        .encode();
        seal_unchecked(&body, &d_ok)
    };
    let future = post_by(&carol_root, &carol_root, now() + HOUR, "from the future");
    let stranger = Keypair::generate(&mut rand_core::OsRng);
    let strangers = post_by(&stranger, &stranger, now(), "not carol's");
    let good = post_by(&carol_root, &carol_root, now(), "a good post");
    let mut bad_sig = good.as_bytes().to_vec();
    bad_sig[10] ^= 0x01; // inside the signature (after the 7-byte header)
    let mut truncated = good.as_bytes().to_vec();
    truncated.truncate(truncated.len() / 2);
    // A prepared body signed by the wrong key.
    let prepared = h
        .post(
            "/api/v1/events/prepare",
            Some(&carol.token),
            &json!({ "kind": "post", "payload": { "text": "prepared" } }),
        )
        .await
        .expect(200);
    let prepared_id: kith_node::protocol::EventId =
        prepared.body["id"].as_str().unwrap().parse().unwrap();
    let wrong_sig = stranger.sign_id(&prepared_id);

    let ana_key = ana.identity.clone();
    let not_a_delegation = ana_post.clone();
    let publish = |v: Value| Body::Json(v);
    let text = |s: &str| json!({ "kind": "post", "payload": { "text": s } });
    let big_text = "x".repeat(100 * 1024);

    use Who::*;
    let cases = vec![
        // --- JSON syntax and types.
        case(
            "malformed JSON",
            "POST",
            "/api/v1/publish",
            Ana,
            Body::Raw(Some("application/json"), br#"{"kind":"post","#.to_vec()),
            400,
            "invalid_json",
        ),
        case(
            "JSON that is not an object",
            "POST",
            "/api/v1/publish",
            Ana,
            Body::Raw(Some("application/json"), b"[1,2,3]".to_vec()),
            400,
            "invalid_field",
        ),
        case(
            "text is a number",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(json!({ "kind": "post", "payload": { "text": 5 } })),
            400,
            "invalid_field",
        )
        .field("payload.text"),
        case(
            "kind is a number",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(json!({ "kind": 5, "payload": { "text": "x" } })),
            400,
            "invalid_field",
        )
        .field("kind"),
        case(
            "a reference that is not an event id",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(json!({
                "kind": "reply", "payload": { "text": "x" },
                "refs": [{ "rel": "root", "event": ana_post }, { "rel": "parent", "event": "nope" }]
            })),
            400,
            "invalid_field",
        )
        .field("refs[1].event"),
        case(
            "created_at is text",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(json!({ "kind": "post", "payload": { "text": "x" }, "created_at": "today" })),
            400,
            "invalid_field",
        )
        .field("created_at"),
        case(
            "password is a number",
            "POST",
            "/api/v1/sessions",
            Nobody,
            publish(json!({ "username": "ana", "password": 12345678 })),
            400,
            "invalid_field",
        )
        .field("password"),
        // --- Unknown fields.
        case(
            "unknown field in a draft",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(json!({ "kind": "post", "payload": { "text": "x" }, "extra": 1 })),
            400,
            "invalid_field",
        )
        .field("extra"),
        case(
            "unknown field in a payload",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(json!({ "kind": "post", "payload": { "text": "x", "bogus": 1 } })),
            400,
            "invalid_field",
        )
        .field("payload.bogus"),
        case(
            "unknown field in a registration",
            "POST",
            "/api/v1/accounts",
            Nobody,
            publish(json!({ "username": "zed", "password": PASSWORD, "admin": true })),
            400,
            "invalid_field",
        )
        .field("admin"),
        case(
            "unknown field in a submission",
            "POST",
            "/api/v1/events",
            Carol,
            publish(json!({ "envelope": b64(good.as_bytes()), "author": ana_key })),
            400,
            "invalid_field",
        )
        .field("author")
        .event(&good),
        case(
            "unknown field in a prepare",
            "POST",
            "/api/v1/events/prepare",
            Carol,
            publish(json!({ "kind": "post", "payload": { "text": "x" }, "extra": 1 })),
            400,
            "invalid_field",
        )
        .field("extra"),
        // --- Size and content type.
        case(
            "body over the limit",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(text(&big_text)),
            413,
            "body_too_large",
        ),
        case(
            "text/plain",
            "POST",
            "/api/v1/publish",
            Ana,
            Body::Raw(Some("text/plain"), text("hola").to_string().into_bytes()),
            415,
            "unsupported_media_type",
        ),
        case(
            "no content type",
            "POST",
            "/api/v1/publish",
            Ana,
            Body::Raw(None, text("hola").to_string().into_bytes()),
            415,
            "unsupported_media_type",
        ),
        case(
            "settings that are not an object",
            "PUT",
            "/api/v1/me/settings",
            Ana,
            publish(json!([1, 2])),
            400,
            "invalid_field",
        ),
        case(
            "settings over 16 KiB",
            "PUT",
            "/api/v1/me/settings",
            Ana,
            publish(json!({ "blob": "y".repeat(17 * 1024) })),
            413,
            "settings_too_large",
        ),
        // --- Signatures and envelopes.
        case(
            "a flipped signature bit",
            "POST",
            "/api/v1/events",
            Carol,
            Body::Json(json!({ "envelope": b64(&bad_sig) })),
            400,
            "sig_invalid",
        )
        .event(&good),
        case(
            "a prepared body signed by the wrong key",
            "POST",
            "/api/v1/events",
            Carol,
            publish(json!({
                "body": prepared.body["body"], "signature": hex::encode(wrong_sig.as_bytes())
            })),
            400,
            "sig_invalid",
        ),
        case(
            "a signature that is not hex",
            "POST",
            "/api/v1/events",
            Carol,
            publish(json!({ "body": prepared.body["body"], "signature": "zz" })),
            400,
            "invalid_field",
        )
        .field("signature"),
        case(
            "an envelope that is not base64",
            "POST",
            "/api/v1/events",
            Carol,
            publish(json!({ "envelope": "!!! not base64 !!!" })),
            400,
            "invalid_field",
        )
        .field("envelope"),
        case(
            "an envelope of garbage",
            "POST",
            "/api/v1/events",
            Carol,
            publish(json!({ "envelope": b64(b"hello, this is not an event") })),
            400,
            "malformed",
        ),
        case(
            "a truncated envelope",
            "POST",
            "/api/v1/events",
            Carol,
            publish(json!({ "envelope": b64(&truncated) })),
            400,
            "malformed",
        )
        .event(&good),
        case(
            "both an envelope and a body",
            "POST",
            "/api/v1/events",
            Carol,
            publish(json!({
                "envelope": b64(good.as_bytes()), "body": prepared.body["body"], "signature": "00"
            })),
            400,
            "invalid_field",
        )
        .event(&good),
        case(
            "neither an envelope nor a body",
            "POST",
            "/api/v1/events",
            Carol,
            publish(json!({})),
            400,
            "invalid_field",
        ),
        // --- Delegation.
        case(
            "a delegate nobody authorised",
            "POST",
            "/api/v1/events",
            Carol,
            envelope(&by_unknown),
            403,
            "delegation_missing",
        )
        .event(&by_unknown),
        case(
            "an expired delegation",
            "POST",
            "/api/v1/events",
            Carol,
            envelope(&by_expired),
            403,
            "delegation_expired",
        )
        .event(&by_expired),
        case(
            "a revoked delegation",
            "POST",
            "/api/v1/events",
            Carol,
            envelope(&by_revoked),
            403,
            "delegation_revoked",
        )
        .event(&by_revoked),
        case(
            "a kind the delegation does not cover",
            "POST",
            "/api/v1/events",
            Carol,
            envelope(&follow_by_delegate),
            403,
            "delegation_kind",
        )
        .event(&follow_by_delegate),
        case(
            "a delegation signed by a delegate",
            "POST",
            "/api/v1/events",
            Carol,
            Body::Json(json!({ "envelope": b64(&delegated_delegation) })),
            422,
            "not_delegable",
        ),
        // --- Kinds and event rules.
        case(
            "an unknown kind",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(json!({ "kind": "telegram", "payload": {} })),
            422,
            "unknown_kind",
        )
        .field("kind"),
        case(
            "an unknown kind to prepare",
            "POST",
            "/api/v1/events/prepare",
            Carol,
            publish(json!({ "kind": "telegram", "payload": {} })),
            422,
            "unknown_kind",
        )
        .field("kind"),
        case(
            "a reply without its references",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(json!({ "kind": "reply", "payload": { "text": "to whom?" } })),
            422,
            "refs_invalid",
        ),
        case(
            "text over 10000 bytes",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(text(&"x".repeat(10_001))),
            422,
            "text_too_long",
        ),
        case(
            "created_at in seconds",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(json!({ "kind": "post", "payload": { "text": "x" }, "created_at": 1_700_000_000 })),
            422,
            "created_at_invalid",
        ),
        case(
            "created_at an hour ahead (hosted)",
            "POST",
            "/api/v1/publish",
            Ana,
            publish(json!({ "kind": "post", "payload": { "text": "x" }, "created_at": now() + HOUR })),
            422,
            "clock_skew",
        ),
        case(
            "created_at an hour ahead (own key)",
            "POST",
            "/api/v1/events",
            Carol,
            envelope(&future),
            422,
            "clock_skew",
        )
        .event(&future),
        case(
            "an event by someone else",
            "POST",
            "/api/v1/events",
            Carol,
            envelope(&strangers),
            403,
            "not_your_identity",
        )
        .event(&strangers),
        case(
            "hosted publishing without a key on the node",
            "POST",
            "/api/v1/publish",
            Carol,
            publish(text("the node holds no key of mine")),
            403,
            "signing_key_missing",
        ),
        // --- Paths and queries.
        case(
            "a bad cursor on a timeline",
            "GET",
            format!("/api/v1/identities/{ana_key}/timeline?cursor=zzz"),
            Nobody,
            Body::None,
            400,
            "bad_cursor",
        ),
        case(
            "a bad cursor on home",
            "GET",
            format!("/api/v1/me/home?cursor={}", "f".repeat(79)),
            Ana,
            Body::None,
            400,
            "bad_cursor",
        ),
        case(
            "a limit that is not a number",
            "GET",
            format!("/api/v1/identities/{ana_key}/timeline?limit=lots"),
            Nobody,
            Body::None,
            400,
            "invalid_query",
        ),
        case(
            "a bad identity in a path",
            "GET",
            "/api/v1/identities/kith1notakey",
            Nobody,
            Body::None,
            400,
            "key_malformed",
        )
        .field("key"),
        case(
            "a bad identity to follow",
            "PUT",
            "/api/v1/me/follows/bob",
            Ana,
            Body::Json(json!({})),
            400,
            "key_malformed",
        )
        .field("key"),
        case(
            "a bad event id in a path",
            "GET",
            "/api/v1/events/bafy-not-an-id",
            Nobody,
            Body::None,
            400,
            "id_malformed",
        )
        .field("id"),
        case(
            "a bad thread id",
            "GET",
            "/api/v1/threads/nope",
            Nobody,
            Body::None,
            400,
            "id_malformed",
        )
        .field("id"),
        case(
            "a bad delegation id",
            "DELETE",
            "/api/v1/me/delegations/nope",
            Ana,
            Body::None,
            400,
            "id_malformed",
        )
        .field("id"),
        case(
            "revoking something that is not a delegation",
            "DELETE",
            format!("/api/v1/me/delegations/{not_a_delegation}"),
            Ana,
            Body::None,
            404,
            "not_found",
        ),
        case(
            "an event that does not exist",
            "GET",
            format!("/api/v1/events/{}", good.id()),
            Nobody,
            Body::None,
            404,
            "not_found",
        ),
        case(
            "an unknown route",
            "GET",
            "/api/v1/nope",
            Nobody,
            Body::None,
            404,
            "not_found",
        ),
        case(
            "a method the route does not take",
            "PATCH",
            "/api/v1/me",
            Ana,
            Body::Json(json!({})),
            405,
            "method_not_allowed",
        ),
        case(
            "the live endpoint without an upgrade",
            "GET",
            "/api/v1/live",
            Nobody,
            Body::None,
            400,
            "websocket_required",
        ),
        // --- Accounts.
        case(
            "a username with bad characters",
            "POST",
            "/api/v1/accounts",
            Nobody,
            publish(json!({ "username": "a!", "password": PASSWORD })),
            400,
            "invalid_username",
        )
        .field("username"),
        case(
            "a short password",
            "POST",
            "/api/v1/accounts",
            Nobody,
            publish(json!({ "username": "dora", "password": "short" })),
            400,
            "invalid_password",
        )
        .field("password"),
        case(
            "a username that is taken",
            "POST",
            "/api/v1/accounts",
            Nobody,
            publish(json!({ "username": "ANA", "password": PASSWORD })),
            409,
            "username_taken",
        ),
        case(
            "a wrong password",
            "POST",
            "/api/v1/sessions",
            Nobody,
            publish(json!({ "username": "ana", "password": "wrong password" })),
            401,
            "bad_credentials",
        ),
        case(
            "a BYOK profile that is not base64",
            "POST",
            "/api/v1/accounts",
            Nobody,
            publish(json!({ "username": "erin", "password": PASSWORD, "profile": "%%%" })),
            400,
            "invalid_field",
        )
        .field("profile"),
        case(
            "a BYOK profile that is a post",
            "POST",
            "/api/v1/accounts",
            Nobody,
            publish(
                json!({ "username": "erin", "password": PASSWORD, "profile": b64(strangers.as_bytes()) }),
            ),
            400,
            "invalid_field",
        )
        .field("profile"),
    ];

    let seq = n.last_seq();
    let mut problems: Vec<String> = Vec::new();
    for c in &cases {
        let token = match c.who {
            Nobody => None,
            Ana => Some(ana.token.as_str()),
            Carol => Some(carol.token.as_str()),
        };
        let r = match &c.body {
            Body::None => h.send(c.method, &c.path, token, None).await,
            Body::Json(v) => h.send(c.method, &c.path, token, Some(v)).await,
            Body::Raw(ct, bytes) => {
                h.send_raw(c.method, &c.path, token, *ct, bytes.clone())
                    .await
            }
        };
        let mut wrong = Vec::new();
        if r.status.as_u16() != c.status {
            wrong.push(format!("status {} (want {})", r.status.as_u16(), c.status));
        }
        if r.code() != c.code {
            wrong.push(format!("code `{}` (want `{}`)", r.code(), c.code));
        }
        if let Some(f) = c.field
            && r.body["error"]["details"]["field"] != f
        {
            wrong.push(format!(
                "details.field {} (want `{f}`)",
                r.body["error"]["details"]["field"]
            ));
        }
        if let Some(p) = error_shape_problem(&r.body) {
            wrong.push(p);
        }
        let ct = r
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/json") {
            wrong.push(format!("content-type `{ct}`"));
        }
        let now_seq = n.last_seq();
        if now_seq != seq {
            wrong.push(format!("the store moved: seq {seq} -> {now_seq}"));
        }
        if let Some(id) = &c.event
            && n.has(id)
        {
            wrong.push(format!("event {id} was stored"));
        }
        if !wrong.is_empty() {
            problems.push(format!(
                "{} ({} {}): {}\n    body: {}",
                c.name,
                c.method,
                c.path.chars().take(80).collect::<String>(),
                wrong.join("; "),
                r.raw.chars().take(300).collect::<String>()
            ));
        }
    }
    // The store's derived state still matches its log.
    let report = n.node.store().check_integrity().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert!(
        problems.is_empty(),
        "{} of {} cases wrong:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
    n.stop().await;
}
