//! Checks every normative test vector in `specs/vectors/`.
//!
//! This test only reads the vectors; it never writes them. When the wire
//! format changes on purpose, regenerate them with
//!
//! ```text
//! cargo run -p kith-protocol --example gen_vectors
//! ```
//!
//! and review the diff as the format change it is.
//!
//! Directories: `valid/` (events to accept, byte for byte), `invalid/`
//! (envelopes to refuse, with the code), `auth/` (the stateful rules) and
//! `text/` (text forms of keys).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use ipld_core::ipld::Ipld;
use kith_protocol::auth::{self, CommunityState, Standing};
use kith_protocol::kinds::{Role, TradeState};
use kith_protocol::{
    AuthError, DEFAULT_MAX_FUTURE_SKEW_MS, Event, EventError, EventId, KeyError, Keypair, Kind,
    Payload, PublicKey, Rel, Unverified,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every `EventError` code. Cross-checked against `src/error.rs` below.
const EVENT_ERROR_CODES: &[&str] = &[
    "too_large",
    "malformed",
    "non_canonical",
    "unknown_kind",
    "key_invalid",
    "sig_invalid",
    "id_mismatch",
    "clock_skew",
    "created_at_invalid",
    "text_too_long",
    "too_many_items",
    "field_invalid",
    "hashtag_invalid",
    "media_invalid",
    "refs_invalid",
    "expiry_invalid",
    "not_delegable",
];

/// Every `AuthError` code. Cross-checked against `src/error.rs` below.
const AUTH_ERROR_CODES: &[&str] = &[
    "delegation_missing",
    "delegation_mismatch",
    "delegation_kind",
    "delegation_expired",
    "delegation_revoked",
    "not_deletable",
    "not_original",
    "not_author",
    "not_trade_party",
    "trade_transition",
    "trade_stale",
    "listing_unavailable",
    "review_without_trade",
    "review_exists",
    "community_role",
    "no_currency",
    "wrong_target_kind",
    "vote_invalid",
    "state_mismatch",
];

/// Bytes of an envelope before the body: map header, `sig`, the signature, `body`.
const ENVELOPE_HEADER_LEN: usize = kith_protocol::event::ENVELOPE_HEADER_LEN;

mod common {
    pub(crate) mod vector_format;
}
use common::vector_format::{AuthVector, InvalidVector, TextVector, ValidVector};

/// The inputs of an auth vector; which are present depends on the rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inputs {
    delegation_hex: Option<String>,
    revocations_hex: Option<Vec<String>>,
    target_hex: Option<String>,
    listing_hex: Option<String>,
    available: Option<u32>,
    order_hex: Option<String>,
    state: Option<TradeState>,
    reviewed: Option<bool>,
    latest: Option<String>,
    poll_hex: Option<String>,
    community_hex: Option<String>,
    settings_hex: Option<String>,
    actor: Option<StandingJson>,
    subject: Option<StandingJson>,
    rel: Option<Rel>,
    referenced_hex: Option<String>,
    original_hex: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct StandingJson {
    banned: bool,
    joined: bool,
    role: Option<Role>,
}

impl From<StandingJson> for Standing {
    fn from(s: StandingJson) -> Self {
        Standing {
            joined: s.joined,
            role: s.role,
            banned: s.banned,
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/vectors")
}

/// The vector files of a directory, by file stem, in name order.
fn files(dir: &str) -> BTreeMap<String, PathBuf> {
    let dir = root().join(dir);
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            out.insert(stem, path);
        }
    }
    assert!(!out.is_empty(), "no vectors in {}", dir.display());
    out
}

/// Reads a vector file, and checks it is exactly what the generator writes
/// (pretty JSON, stable key order, trailing newline), so hand edits show.
fn load<T: DeserializeOwned + Serialize>(path: &Path) -> Vec<T> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let vectors: Vec<T> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!vectors.is_empty(), "{}: empty", path.display());
    let mut again = serde_json::to_string_pretty(&vectors).unwrap();
    again.push('\n');
    assert!(
        again == text,
        "{} is not in the generator's format; regenerate with \
         `cargo run -p kith-protocol --example gen_vectors`",
        path.display()
    );
    vectors
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex: {e}"))
}

fn seed(s: &str) -> [u8; 32] {
    unhex(s).try_into().expect("a seed is 32 bytes")
}

fn event(hex: &str) -> Event {
    Event::from_bytes(&unhex(hex)).unwrap_or_else(|e| panic!("an input event must be valid: {e}"))
}

fn all_valid() -> Vec<(String, ValidVector)> {
    files("valid")
        .into_iter()
        .flat_map(|(kind, path)| {
            load::<ValidVector>(&path)
                .into_iter()
                .map(move |v| (kind.clone(), v))
        })
        .collect()
}

fn all_invalid() -> Vec<(String, InvalidVector)> {
    files("invalid")
        .into_iter()
        .flat_map(|(file, path)| {
            load::<InvalidVector>(&path)
                .into_iter()
                .map(move |v| (file.clone(), v))
        })
        .collect()
}

fn all_text() -> Vec<(String, TextVector)> {
    files("text")
        .into_iter()
        .flat_map(|(file, path)| {
            load::<TextVector>(&path)
                .into_iter()
                .map(move |v| (file.clone(), v))
        })
        .collect()
}

fn all_auth() -> Vec<(String, AuthVector)> {
    files("auth")
        .into_iter()
        .flat_map(|(rule, path)| {
            load::<AuthVector>(&path)
                .into_iter()
                .map(move |v| (rule.clone(), v))
        })
        .collect()
}

#[test]
fn valid_vectors_decode_verify_and_reencode() {
    for (file, v) in all_valid() {
        let ctx = format!("valid/{file}.json `{}`", v.name);
        let bytes = unhex(&v.envelope_hex);
        let event = Event::from_bytes(&bytes).unwrap_or_else(|e| panic!("{ctx}: rejected: {e}"));
        assert_eq!(event.kind().name(), file, "{ctx}: file of the wrong kind");

        // Id, signature and body bytes.
        assert_eq!(event.id().to_string(), v.id, "{ctx}: id");
        assert_eq!(
            event.id().to_bytes().to_vec(),
            unhex(&v.id_hex),
            "{ctx}: id_hex"
        );
        assert_eq!(
            v.id.parse::<EventId>().unwrap(),
            event.id(),
            "{ctx}: id text"
        );
        assert_eq!(
            EventId::from_bytes(&unhex(&v.id_hex)).unwrap(),
            event.id(),
            "{ctx}: id bytes"
        );
        assert_eq!(
            event.signature().as_bytes().to_vec(),
            unhex(&v.signature_hex),
            "{ctx}: signature"
        );
        assert_eq!(event.body_bytes(), unhex(&v.body_hex), "{ctx}: body_hex");
        assert_eq!(
            EventId::of_body(&unhex(&v.body_hex)),
            event.id(),
            "{ctx}: id is the hash of body_hex"
        );

        // Keys.
        let author = Keypair::from_seed(&seed(&v.author_seed)).unwrap();
        let signer = Keypair::from_seed(&seed(&v.signer_seed)).unwrap();
        assert_eq!(author.public().to_text(), v.author, "{ctx}: author text");
        assert_eq!(signer.public().to_text(), v.signer, "{ctx}: signer text");
        assert_eq!(event.author(), author.public(), "{ctx}: author");
        assert_eq!(event.signer(), signer.public(), "{ctx}: signer");
        assert_eq!(v.author.parse().ok(), Some(author.public()), "{ctx}");

        // Ed25519 is deterministic: signing the decoded body again gives the same envelope.
        let again = event
            .body()
            .clone()
            .sign(&signer)
            .unwrap_or_else(|e| panic!("{ctx}: re-signing: {e}"));
        assert_eq!(
            again.as_bytes(),
            &bytes[..],
            "{ctx}: re-signed envelope differs"
        );

        // The readable DAG-JSON body is the body: encoding the decoded body
        // gives it, and it converts back to the exact DAG-CBOR bytes.
        // Through the IPLD data model: the body's own serde form is the JSON
        // API's (keys and ids as text), not DAG-JSON.
        let body_ipld: Ipld = serde_ipld_dagcbor::from_slice(event.body_bytes()).unwrap();
        let dag_json = serde_ipld_dagjson::to_vec(&body_ipld).unwrap();
        let from_event: Value = serde_json::from_slice(&dag_json).unwrap();
        assert_eq!(from_event, v.body, "{ctx}: DAG-JSON body");
        let ipld: Ipld = serde_ipld_dagjson::from_slice(&serde_json::to_vec(&v.body).unwrap())
            .unwrap_or_else(|e| panic!("{ctx}: body is not DAG-JSON: {e}"));
        assert_eq!(
            serde_ipld_dagcbor::to_vec(&ipld).unwrap(),
            unhex(&v.body_hex),
            "{ctx}: DAG-JSON body does not convert to body_hex"
        );
    }
}

/// Batch verification agrees with single verification on every vector that
/// decodes: valid ones pass, the `key_invalid` and `sig_invalid` ones are the
/// culprits, each with its own code.
#[test]
fn batch_verification_agrees() {
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    for (_, v) in all_valid() {
        batch.push(Unverified::decode(&unhex(&v.envelope_hex)).unwrap());
        expected.push(None);
    }
    for (_, v) in all_invalid() {
        if v.error == "sig_invalid" || v.error == "key_invalid" {
            batch.push(Unverified::decode(&unhex(&v.envelope_hex)).unwrap());
            expected.push(Some(v.error.clone()));
        }
    }
    assert!(expected.iter().any(|e| e.as_deref() == Some("key_invalid")));
    let singles: Vec<_> = batch.iter().cloned().map(Unverified::verify).collect();
    let results = kith_protocol::verify_batch(batch);
    assert_eq!(results.len(), expected.len());
    for ((result, single), code) in results.iter().zip(&singles).zip(&expected) {
        let found = result.as_ref().err().map(EventError::code);
        assert_eq!(found, code.as_deref(), "{result:?}");
        assert_eq!(
            single.as_ref().err().map(EventError::code),
            found,
            "single and batch verification disagree"
        );
    }
}

/// What the stateless pipeline says about a vector: the first failure's code.
fn judge(v: &InvalidVector) -> Result<(), EventError> {
    let mut u = Unverified::decode(&unhex(&v.envelope_hex))?;
    if let Some(id) = &v.expected_id {
        u = u.expect_id(id.parse().expect("expected_id is an event id"))?;
    }
    let event = u.verify()?;
    if let Some(now) = v.now_ms {
        event.check_clock(now, DEFAULT_MAX_FUTURE_SKEW_MS)?;
    }
    Ok(())
}

#[test]
fn invalid_vectors_are_rejected_with_their_code() {
    for (file, v) in all_invalid() {
        let ctx = format!("invalid/{file}.json `{}`", v.name);
        match judge(&v) {
            Ok(()) => panic!("{ctx}: accepted, expected {}", v.error),
            Err(e) => assert_eq!(e.code(), v.error, "{ctx}: {e}"),
        }
        if file != "kinds" {
            assert_eq!(file, v.error, "{ctx}: file named after another code");
        }
    }
}

#[test]
fn kind_vectors_name_their_kind() {
    let path = root().join("invalid/kinds.json");
    for v in load::<InvalidVector>(&path) {
        let (prefix, _) = v.name.split_once('-').expect("`<kind>-<what>`");
        let kind = Kind::from_name(prefix)
            .unwrap_or_else(|| panic!("`{}` does not start with a kind name", v.name));
        // The body really is of that kind.
        let bytes = unhex(&v.envelope_hex);
        let body: Ipld = serde_ipld_dagcbor::from_slice(&bytes[ENVELOPE_HEADER_LEN..])
            .unwrap_or_else(|e| panic!("`{}`: body is not DAG-CBOR: {e}", v.name));
        let Ipld::Map(body) = body else {
            panic!("`{}`: body is not a map", v.name)
        };
        assert_eq!(
            body.get("kind"),
            Some(&Ipld::String(kind.name().into())),
            "`{}`",
            v.name
        );
    }
}

/// Each invalid vector breaks one rule only: unless the fault is the
/// signature itself or the signer's key, the envelope carries a good
/// signature by the signer its body names, over the id of its body bytes.
/// (Checked wherever the envelope has the canonical header and the body
/// decodes as DAG-CBOR and names a signer.)
#[test]
fn invalid_vectors_are_otherwise_well_signed() {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    let mut checked = 0;
    let all = all_invalid();
    for (file, v) in &all {
        let bytes = unhex(&v.envelope_hex);
        let header_ok = bytes.len() > ENVELOPE_HEADER_LEN
            && bytes[..7] == [0xa2, 0x63, b's', b'i', b'g', 0x58, 0x40]
            && bytes[71..ENVELOPE_HEADER_LEN] == [0x64, b'b', b'o', b'd', b'y'];
        if v.error == "sig_invalid" || v.error == "key_invalid" || !header_ok {
            continue;
        }
        let body = &bytes[ENVELOPE_HEADER_LEN..];
        let Ok(Ipld::Map(map)) = serde_ipld_dagcbor::from_slice::<Ipld>(body) else {
            continue;
        };
        let Some(Ipld::Bytes(signer)) = map.get("signer") else {
            continue;
        };
        let Ok(key) = VerifyingKey::try_from(signer.as_slice()) else {
            continue;
        };
        let sig = Signature::from_slice(&bytes[7..71]).unwrap();
        let id = EventId::of_body(body).to_bytes();
        key.verify(&id, &sig)
            .unwrap_or_else(|e| panic!("invalid/{file}.json `{}`: signature: {e}", v.name));
        checked += 1;
    }
    assert!(
        checked * 10 >= all.len() * 7,
        "only {checked} of {} checked",
        all.len()
    );
}

fn inputs(v: &AuthVector) -> Inputs {
    let map: serde_json::Map<String, Value> = v.inputs.clone().into_iter().collect();
    serde_json::from_value(Value::Object(map))
        .unwrap_or_else(|e| panic!("auth `{}`: inputs: {e}", v.name))
}

/// Runs the rule a vector names; on success, the new state for trade updates.
fn run_rule(v: &AuthVector) -> Result<Option<TradeState>, AuthError> {
    let ev = event(&v.event_hex);
    let i = inputs(v);
    let need = |what: &str| -> ! { panic!("auth `{}`: input `{what}` missing", v.name) };
    match v.rule.as_str() {
        "check_signer" => {
            let delegation = i.delegation_hex.as_deref().map(event);
            let revocations: Vec<Event> = i
                .revocations_hex
                .unwrap_or_default()
                .iter()
                .map(|h| event(h))
                .collect();
            let revocations: Vec<&Event> = revocations.iter().collect();
            auth::check_signer(&ev, delegation.as_ref(), &revocations).map(|()| None)
        }
        "check_delete" => {
            let target = event(&i.target_hex.unwrap_or_else(|| need("target_hex")));
            auth::check_delete(&ev, &target).map(|()| None)
        }
        "check_order" => {
            let listing = event(&i.listing_hex.unwrap_or_else(|| need("listing_hex")));
            let available = i.available.unwrap_or_else(|| need("available"));
            auth::check_order(&ev, &listing, available).map(|()| None)
        }
        "check_trade_update" => {
            let order = event(&i.order_hex.unwrap_or_else(|| need("order_hex")));
            let state = i.state.unwrap_or_else(|| need("state"));
            let latest: EventId = i
                .latest
                .unwrap_or_else(|| need("latest"))
                .parse()
                .expect("latest is an event id");
            auth::check_trade_update(&ev, &order, state, latest).map(Some)
        }
        "check_review" => {
            let order = event(&i.order_hex.unwrap_or_else(|| need("order_hex")));
            let state = i.state.unwrap_or_else(|| need("state"));
            let reviewed = i.reviewed.unwrap_or(false);
            auth::check_review(&ev, &order, state, reviewed).map(|()| None)
        }
        "check_vote" => {
            let poll = event(&i.poll_hex.unwrap_or_else(|| need("poll_hex")));
            auth::check_vote(&ev, &poll).map(|()| None)
        }
        "check_community_action" => {
            let community = event(&i.community_hex.unwrap_or_else(|| need("community_hex")));
            let settings_event = i.settings_hex.as_deref().map(event);
            let settings = match settings_event.as_ref().unwrap_or(&community).payload() {
                Payload::Community(c) => c.clone(),
                _ => panic!("auth `{}`: settings are not a community", v.name),
            };
            let state = CommunityState {
                id: community.id(),
                owner: community.author(),
                settings: &settings,
            };
            let actor = i.actor.unwrap_or_else(|| need("actor")).into();
            let subject = i.subject.unwrap_or_else(|| need("subject")).into();
            auth::check_community_action(&ev, &state, actor, subject).map(|()| None)
        }
        "check_ref_kind" => {
            let rel = i.rel.unwrap_or_else(|| need("rel"));
            let referenced = event(&i.referenced_hex.unwrap_or_else(|| need("referenced_hex")));
            auth::check_ref_kind(&ev, rel, &referenced).map(|()| None)
        }
        "check_edit" => {
            let original = event(&i.original_hex.unwrap_or_else(|| need("original_hex")));
            auth::check_edit(&ev, &original).map(|()| None)
        }
        other => panic!("auth `{}`: unknown rule `{other}`", v.name),
    }
}

#[test]
fn auth_vectors_give_their_outcome() {
    for (file, v) in all_auth() {
        let ctx = format!("auth/{file}.json `{}`", v.name);
        assert_eq!(file, v.rule, "{ctx}: file named after another rule");
        let outcome = run_rule(&v);
        let code = outcome.as_ref().err().map(AuthError::code);
        assert_eq!(code, v.error.as_deref(), "{ctx}: {outcome:?}");
        let new_state = outcome.ok().flatten().map(|s| s.name().to_string());
        assert_eq!(new_state, v.new_state, "{ctx}: new state");
    }
}

/// What a parser makes of a key's text form: the bytes, or the error code.
fn parse_key_text(v: &TextVector) -> Result<[u8; 32], KeyError> {
    match v.form.as_str() {
        "public_key" => v.text.parse::<PublicKey>().map(|k| *k.as_bytes()),
        "secret_key" => Keypair::secret_from_text(&v.text).map(|k| *k.seed()),
        other => panic!("text `{}`: unknown form `{other}`", v.name),
    }
}

#[test]
fn text_vectors_parse_as_expected() {
    let all = all_text();
    for (file, v) in &all {
        let ctx = format!("text/{file}.json `{}`", v.name);
        assert_eq!(file, "keys", "{ctx}: unknown text vector file");
        let outcome = parse_key_text(v);
        match (&outcome, &v.error, &v.bytes_hex) {
            (Ok(bytes), None, Some(expected)) => {
                assert_eq!(hex::encode(bytes), *expected, "{ctx}: bytes");
                // Accepted text is the one spelling of those bytes, up to
                // case and surrounding white space.
                let again = match v.form.as_str() {
                    "public_key" => PublicKey::from_bytes(*bytes).unwrap().to_text(),
                    _ => Keypair::from_seed(bytes)
                        .unwrap()
                        .secret_to_text()
                        .to_string(),
                };
                assert_eq!(again, v.text.trim().to_lowercase(), "{ctx}: spelling");
            }
            (Err(e), Some(code), None) => assert_eq!(e.code(), code, "{ctx}: {e}"),
            _ => panic!("{ctx}: got {outcome:?}, expected {:?}", v.error),
        }
    }
    for code in [None, Some("key_malformed"), Some("key_invalid")] {
        assert!(
            all.iter().any(|(_, v)| v.error.as_deref() == code),
            "no text vector with outcome {code:?}"
        );
    }
}

#[test]
fn vector_names_are_unique() {
    let mut names = BTreeSet::new();
    let all = all_valid()
        .into_iter()
        .map(|(_, v)| v.name)
        .chain(all_invalid().into_iter().map(|(_, v)| v.name))
        .chain(all_auth().into_iter().map(|(_, v)| v.name))
        .chain(all_text().into_iter().map(|(_, v)| v.name));
    for name in all {
        assert!(
            names.insert(name.clone()),
            "vector name `{name}` used twice"
        );
    }
}

#[test]
fn every_kind_has_valid_and_invalid_vectors() {
    let valid = files("valid");
    for kind in Kind::ALL {
        let path = valid
            .get(kind.name())
            .unwrap_or_else(|| panic!("no valid/{kind}.json"));
        assert!(!load::<ValidVector>(path).is_empty());
    }
    for name in valid.keys() {
        assert!(
            Kind::from_name(name).is_some(),
            "valid/{name}.json is not a kind"
        );
    }
    let kinds: BTreeSet<String> = load::<InvalidVector>(&root().join("invalid/kinds.json"))
        .into_iter()
        .map(|v| v.name.split_once('-').unwrap().0.to_string())
        .collect();
    for kind in Kind::ALL {
        assert!(
            kinds.contains(kind.name()),
            "no invalid/kinds.json vector for `{kind}`"
        );
    }
}

/// The codes `fn code` returns in the `impl` block for `ty` in `src/error.rs`.
fn codes_in_source(ty: &str) -> Vec<String> {
    let src = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/error.rs"))
        .expect("src/error.rs");
    let start = src
        .find(&format!("impl {ty} {{"))
        .unwrap_or_else(|| panic!("no `impl {ty}` in src/error.rs"));
    let rest = &src[start..];
    let body_start = rest.find("fn code(&self)").expect("fn code");
    let body = &rest[body_start..];
    let body = &body[..body.find("\n    }\n").expect("end of fn code")];
    body.split("=> \"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect()
}

#[test]
fn every_error_code_has_a_vector() {
    // The lists above are the ones in the source: a new code needs a vector.
    for (ty, list) in [
        ("EventError", EVENT_ERROR_CODES),
        ("AuthError", AUTH_ERROR_CODES),
    ] {
        let from_source: BTreeSet<String> = codes_in_source(ty).into_iter().collect();
        let listed: BTreeSet<String> = list.iter().map(|s| s.to_string()).collect();
        assert_eq!(from_source, listed, "{ty} codes in src/error.rs changed");
    }
    // A few constructed values, so the parse above cannot drift unnoticed.
    assert_eq!(EventError::NonCanonical.code(), "non_canonical");
    assert_eq!(
        EventError::NotDelegable(Kind::Delegation).code(),
        "not_delegable"
    );
    assert_eq!(AuthError::DelegationMissing.code(), "delegation_missing");
    assert_eq!(AuthError::StateMismatch("x").code(), "state_mismatch");

    let invalid: BTreeSet<String> = all_invalid().into_iter().map(|(_, v)| v.error).collect();
    for code in EVENT_ERROR_CODES {
        assert!(
            invalid.contains(*code),
            "no invalid vector with error `{code}`"
        );
    }
    for code in &invalid {
        assert!(
            EVENT_ERROR_CODES.contains(&code.as_str()),
            "unknown code `{code}`"
        );
    }
    let auth_vectors = all_auth();
    let auth: BTreeSet<String> = auth_vectors
        .iter()
        .filter_map(|(_, v)| v.error.clone())
        .collect();
    for code in AUTH_ERROR_CODES {
        assert!(auth.contains(*code), "no auth vector with error `{code}`");
    }
    for code in &auth {
        assert!(
            AUTH_ERROR_CODES.contains(&code.as_str()),
            "unknown code `{code}`"
        );
    }
    // Every rule has allowed and refused cases.
    let rules: BTreeSet<&str> = auth_vectors.iter().map(|(_, v)| v.rule.as_str()).collect();
    for rule in rules {
        let cases = || auth_vectors.iter().filter(|(_, v)| v.rule == rule);
        assert!(
            cases().any(|(_, v)| v.error.is_none()),
            "{rule}: no allowed case"
        );
        assert!(
            cases().any(|(_, v)| v.error.is_some()),
            "{rule}: no refused case"
        );
    }
}
