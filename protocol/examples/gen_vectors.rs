//! Generates the normative test vectors in `specs/vectors/`.
//!
//! ```text
//! cargo run -p kith-protocol --example gen_vectors
//! ```
//!
//! Everything is derived from fixed inputs (seeds `[n; 32]`, timestamps around
//! 2026-01-01T00:00:00Z, media CIDs hashed from fixed labels) and Ed25519 is
//! deterministic, so two runs write byte-identical files. `tests/vectors.rs`
//! reads and checks the files and never writes them: a change to the wire
//! format makes that test fail until the vectors are generated again with the
//! command above (and the change is reviewed as the format change it is).
//!
//! Layout (described in `specs/events.md`):
//! - `valid/<kind>.json`: valid events, one file per kind.
//! - `invalid/<error code>.json` and `invalid/kinds.json`: envelopes the
//!   stateless rules reject, with the error code they must be rejected with.
//! - `auth/<rule>.json`: the stateful rules of `kith_protocol::auth`, with
//!   their inputs and the expected outcome.
//! - `text/keys.json`: text forms of public and secret keys, accepted or refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use cid::Cid;
use ed25519_dalek::Signer as _;
use ipld_core::ipld::Ipld;
use kith_protocol::auth::{self, CommunityState, Standing};
use kith_protocol::encoding::to_canonical;
use kith_protocol::kinds::{
    BlockList, CalendarEvent, Community, Condition, Content, Delegation, Delete, DeliveryOption,
    DirectMessage, Follow, Highlight, HighlightItem, Label, Listing, Location, Membership,
    MembershipAction, ModAction, Moderation, MuteList, Order, PaymentMethod, Poll, PollMode, Post,
    Price, Profile, Quote, Reaction, ReactionType, Reply, Report, ReportReason, Repost, Review,
    Revocation, Role, RoleGrant, RoleRevoke, Rsvp, RsvpStatus, Story, StoryView, TradeState,
    TradeUpdate, Transfer, Unfollow, Visibility, Vote,
};
use kith_protocol::media::{MediaDescriptor, Rendition};
use kith_protocol::{
    DEFAULT_MAX_FUTURE_SKEW_MS, Event, EventError, EventId, KeyError, Keypair, Kind, Payload,
    PublicKey, Rel, UnsignedEvent, Unverified, seal_unchecked,
};
use multihash::Multihash;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// 2026-01-01T00:00:00Z in ms.
const T0: u64 = 1_767_225_600_000;
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

// The cast. Each identity is the key pair of the seed `[n; 32]`.
/// Ana: writes in Spanish, volunteers at an animal shelter, founds a community garden.
const ANA: u8 = 1;
/// Ben: writes in English.
const BEN: u8 = 2;
/// Ana's phone: a key Ana delegates to.
const ANA_PHONE: u8 = 3;
/// Carla: sells on the marketplace.
const CARLA: u8 = 4;
/// Dani: buys from Carla.
const DANI: u8 = 5;
/// A one-time key that authors a direct message.
const ONE_TIME: u8 = 6;
/// Eli: moderator of Ana's community.
const ELI: u8 = 7;
/// Fran: a spammer.
const FRAN: u8 = 8;
/// Gabi: admin of Ana's community.
const GABI: u8 = 9;
/// Ana's laptop: a key Ana never delegated to.
const ANA_LAPTOP: u8 = 10;

fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

/// The encoding of the identity point (y = 1, `01 00…00`): of small order,
/// so no usable key, and nobody's identity.
const IDENTITY_POINT: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 1;
    b
};

/// A point of order 2 (y = −1, `ec ff…ff 7f`).
const ORDER_TWO_POINT: [u8; 32] = {
    let mut b = [0xffu8; 32];
    b[0] = 0xec;
    b[31] = 0x7f;
    b
};

/// A point of order 8 (`26e8958f…fc05`).
const ORDER_EIGHT_POINT: [u8; 32] = [
    0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
    0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
];

/// y = p + 3 (`f0 ff…ff 7f`): a non-canonical encoding (y ≥ p) of a point of
/// large order, which decompresses with y reduced modulo p, so a usable key.
const NON_CANONICAL_POINT: [u8; 32] = {
    let mut b = [0xffu8; 32];
    b[0] = 0xf0;
    b[31] = 0x7f;
    b
};

/// 32 bytes as an identity, without checking them (as events carry them).
fn raw_key(bytes: [u8; 32]) -> PublicKey {
    PublicKey::from_bytes_unchecked(bytes)
}

/// The first `y` (little-endian, from 2 up) that is no curve point at all.
fn not_on_curve() -> [u8; 32] {
    (2u8..)
        .map(|y| {
            let mut b = [0u8; 32];
            b[0] = y;
            b
        })
        .find(|b| ed25519_dalek::VerifyingKey::from_bytes(b).is_err())
        .expect("some small y is not on the curve")
}

fn key(n: u8) -> Keypair {
    Keypair::from_seed(&seed(n)).expect("fixed seeds give usable keys")
}

fn pk(n: u8) -> PublicKey {
    key(n).public()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// `len` deterministic bytes derived from `label`.
fn filler(label: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block = sha256(label.as_bytes());
    while out.len() < len {
        out.extend_from_slice(&block);
        block = sha256(&block);
    }
    out.truncate(len);
    out
}

/// A CIDv1 of the SHA2-256 of `label`, with the given codec (0x55 raw, 0x70 dag-pb).
fn media_cid(codec: u64, label: &str) -> Cid {
    let mh = Multihash::<64>::wrap(0x12, &sha256(label.as_bytes())).expect("32-byte digest");
    Cid::new_v1(codec, mh)
}

fn image(label: &str, mime: &str, (w, h): (u32, u32), size: u64, alt: &str) -> MediaDescriptor {
    MediaDescriptor {
        cid: media_cid(0x55, label),
        mime: mime.into(),
        size,
        width: Some(w),
        height: Some(h),
        duration_ms: None,
        thumbs: vec![media_cid(0x55, &format!("{label}#thumb-320"))],
        alt: Some(alt.into()),
        renditions: vec![],
        waveform: None,
    }
}

fn video(
    label: &str,
    (w, h): (u32, u32),
    size: u64,
    duration_ms: u64,
    alt: &str,
) -> MediaDescriptor {
    MediaDescriptor {
        cid: media_cid(0x70, label),
        mime: "video/mp4".into(),
        size,
        width: Some(w),
        height: Some(h),
        duration_ms: Some(duration_ms),
        thumbs: vec![
            media_cid(0x55, &format!("{label}#thumb-160")),
            media_cid(0x55, &format!("{label}#thumb-480")),
        ],
        alt: Some(alt.into()),
        renditions: vec![Rendition {
            cid: media_cid(0x70, &format!("{label}#480p")),
            mime: "video/mp4".into(),
            size: size / 4,
            width: Some(w * 480 / h),
            height: Some(480),
        }],
        waveform: None,
    }
}

fn audio(label: &str, size: u64, duration_ms: u64) -> MediaDescriptor {
    MediaDescriptor {
        cid: media_cid(0x55, label),
        mime: "audio/ogg".into(),
        size,
        width: None,
        height: None,
        duration_ms: Some(duration_ms),
        thumbs: vec![],
        alt: None,
        renditions: vec![],
        waveform: Some((0..64u32).map(|i| ((i * 37) % 256) as u8).collect()),
    }
}

fn post(text: &str, lang: &str) -> Post {
    let mut content = Content::text(text);
    content.lang = Some(lang.into());
    Post { content }
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

// ---------------------------------------------------------------------------
// A minimal CBOR writer, for encodings the protocol's own encoder never produces.

/// A CBOR item written exactly as described: map entries in the given order,
/// integers and lengths in the width asked for.
#[derive(Debug, Clone)]
enum C {
    U(u64),
    /// The negative integer `-1 - n`.
    Neg(u64),
    /// An unsigned integer with its argument forced to 1, 2, 4 or 8 bytes.
    Wide(u64, u8),
    Text(String),
    /// A text string whose length is forced to 1, 2, 4 or 8 bytes.
    TextWide(String, u8),
    Bytes(Vec<u8>),
    Array(Vec<C>),
    Map(Vec<(String, C)>),
    /// An indefinite-length map.
    IndefMap(Vec<(String, C)>),
    /// An indefinite-length text string made of these chunks.
    IndefText(Vec<String>),
    Tag(u64, Box<C>),
    Bool(bool),
    Null,
    F64(f64),
    /// Bytes copied as they are.
    Raw(Vec<u8>),
}

fn head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let width = match arg {
        0..24 => 0,
        24..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    };
    head_wide(out, major, arg, width);
}

fn head_wide(out: &mut Vec<u8>, major: u8, arg: u64, width: u8) {
    let m = major << 5;
    match width {
        0 => out.push(m | u8::try_from(arg).expect("small argument")),
        1 => {
            out.push(m | 24);
            out.push(u8::try_from(arg).expect("1-byte argument"));
        }
        2 => {
            out.push(m | 25);
            out.extend_from_slice(&u16::try_from(arg).expect("2-byte argument").to_be_bytes());
        }
        4 => {
            out.push(m | 26);
            out.extend_from_slice(&u32::try_from(arg).expect("4-byte argument").to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&arg.to_be_bytes());
        }
    }
}

impl C {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            C::U(n) => head(out, 0, *n),
            C::Neg(n) => head(out, 1, *n),
            C::Wide(n, w) => head_wide(out, 0, *n, *w),
            C::Bytes(b) => {
                head(out, 2, b.len() as u64);
                out.extend_from_slice(b);
            }
            C::Text(s) => {
                head(out, 3, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            C::TextWide(s, w) => {
                head_wide(out, 3, s.len() as u64, *w);
                out.extend_from_slice(s.as_bytes());
            }
            C::Array(items) => {
                head(out, 4, items.len() as u64);
                items.iter().for_each(|i| i.write(out));
            }
            C::Map(entries) => {
                head(out, 5, entries.len() as u64);
                for (k, v) in entries {
                    C::Text(k.clone()).write(out);
                    v.write(out);
                }
            }
            C::IndefMap(entries) => {
                out.push(0xbf);
                for (k, v) in entries {
                    C::Text(k.clone()).write(out);
                    v.write(out);
                }
                out.push(0xff);
            }
            C::IndefText(chunks) => {
                out.push(0x7f);
                chunks.iter().for_each(|c| C::Text(c.clone()).write(out));
                out.push(0xff);
            }
            C::Tag(t, v) => {
                head(out, 6, *t);
                v.write(out);
            }
            C::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
            C::Null => out.push(0xf6),
            C::F64(f) => {
                out.push(0xfb);
                out.extend_from_slice(&f.to_be_bytes());
            }
            C::Raw(b) => out.extend_from_slice(b),
        }
    }

    /// The canonical form of an IPLD value.
    fn from_ipld(v: &Ipld) -> C {
        match v {
            Ipld::Null => C::Null,
            Ipld::Bool(b) => C::Bool(*b),
            Ipld::Integer(i) if *i >= 0 => C::U(u64::try_from(*i).expect("u64")),
            Ipld::Integer(i) => C::Neg(u64::try_from(-1 - *i).expect("u64")),
            Ipld::Float(f) => C::F64(*f),
            Ipld::String(s) => C::Text(s.clone()),
            Ipld::Bytes(b) => C::Bytes(b.clone()),
            Ipld::List(items) => C::Array(items.iter().map(C::from_ipld).collect()),
            Ipld::Map(m) => {
                let mut entries: Vec<(String, C)> = m
                    .iter()
                    .map(|(k, v)| (k.clone(), C::from_ipld(v)))
                    .collect();
                sort_canonical(&mut entries);
                C::Map(entries)
            }
            Ipld::Link(cid) => {
                let mut b = vec![0u8];
                b.extend_from_slice(&cid.to_bytes());
                C::Tag(42, Box::new(C::Bytes(b)))
            }
        }
    }

    /// The canonical body of an event, as an editable tree.
    fn body(ev: &UnsignedEvent) -> C {
        let bytes = to_canonical(ev);
        let ipld: Ipld = serde_ipld_dagcbor::from_slice(&bytes).expect("a body is DAG-CBOR");
        let c = C::from_ipld(&ipld);
        assert_eq!(
            c.encode(),
            bytes,
            "the CBOR writer reproduces canonical bodies"
        );
        c
    }

    fn entries(&mut self) -> &mut Vec<(String, C)> {
        match self {
            C::Map(e) | C::IndefMap(e) => e,
            other => panic!("not a map: {other:?}"),
        }
    }

    fn get(&mut self, key: &str) -> &mut C {
        self.entries()
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no key `{key}`"))
    }

    /// Replaces a key's value, or inserts it in canonical position.
    fn set(&mut self, key: &str, value: C) -> &mut C {
        let entries = self.entries();
        if let Some((_, v)) = entries.iter_mut().find(|(k, _)| k == key) {
            *v = value;
        } else {
            entries.push((key.into(), value));
            sort_canonical(entries);
        }
        self
    }

    fn remove(&mut self, key: &str) -> C {
        let entries = self.entries();
        let i = entries
            .iter()
            .position(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no key `{key}`"));
        entries.remove(i).1
    }
}

fn sort_canonical(entries: &mut [(String, C)]) {
    entries.sort_by(|(a, _), (b, _)| (a.len(), a.as_bytes()).cmp(&(b.len(), b.as_bytes())));
}

/// An envelope laid out by hand from a signature and body bytes.
fn envelope(sig: &[u8], body: &[u8]) -> Vec<u8> {
    C::Map(vec![
        ("sig".into(), C::Bytes(sig.to_vec())),
        ("body".into(), C::Raw(body.to_vec())),
    ])
    .encode()
}

/// Raw Ed25519 over any message, for signatures over the wrong thing.
fn raw_sign(signer: u8, message: &[u8]) -> [u8; 64] {
    ed25519_dalek::SigningKey::from_bytes(&seed(signer))
        .sign(message)
        .to_bytes()
}

/// The envelope of any body bytes, signed by `signer` the protocol's way.
fn seal(body: &[u8], signer: u8) -> Vec<u8> {
    seal_unchecked(body, &key(signer))
}

fn seal_c(body: &C, signer: u8) -> Vec<u8> {
    seal(&body.encode(), signer)
}

/// Signs an event the protocol's way; panics if it is not valid.
fn sign(ev: UnsignedEvent, signer: u8) -> Event {
    ev.sign(&key(signer))
        .unwrap_or_else(|e| panic!("a valid event: {e}"))
}

// ---------------------------------------------------------------------------
// Vector files.

#[path = "../tests/common/vector_format.rs"]
mod vector_format;
use vector_format::{AuthVector, InvalidVector, TextVector, ValidVector};

/// Where someone stands in a community, as written in auth vectors.
#[derive(Serialize)]
struct StandingJson {
    banned: bool,
    joined: bool,
    role: Option<String>,
}

fn standing_json(s: Standing) -> Value {
    serde_json::to_value(StandingJson {
        banned: s.banned,
        joined: s.joined,
        role: s.role.map(|r| r.name().to_string()),
    })
    .expect("plain JSON")
}

/// The state an auth rule is called with.
enum Case<'a> {
    Signer {
        delegation: Option<&'a Event>,
        revocations: Vec<&'a Event>,
    },
    Delete {
        target: &'a Event,
    },
    Order {
        listing: &'a Event,
        available: u32,
    },
    TradeUpdate {
        order: &'a Event,
        state: TradeState,
        latest: EventId,
    },
    Review {
        order: &'a Event,
        state: TradeState,
        /// The reviewer already reviewed this trade.
        reviewed: bool,
    },
    Vote {
        poll: &'a Event,
    },
    Community {
        community: &'a Event,
        settings: Option<&'a Event>,
        actor: Standing,
        subject: Standing,
    },
    RefKind {
        rel: Rel,
        referenced: &'a Event,
    },
    Edit {
        original: &'a Event,
    },
}

fn env_hex(e: &Event) -> Value {
    Value::String(hex(e.as_bytes()))
}

impl Case<'_> {
    fn rule(&self) -> &'static str {
        match self {
            Case::Signer { .. } => "check_signer",
            Case::Delete { .. } => "check_delete",
            Case::Order { .. } => "check_order",
            Case::TradeUpdate { .. } => "check_trade_update",
            Case::Review { .. } => "check_review",
            Case::Vote { .. } => "check_vote",
            Case::Community { .. } => "check_community_action",
            Case::RefKind { .. } => "check_ref_kind",
            Case::Edit { .. } => "check_edit",
        }
    }

    /// Runs the rule; on success, the new state for trade updates.
    fn run(&self, event: &Event) -> Result<Option<TradeState>, kith_protocol::AuthError> {
        match self {
            Case::Signer {
                delegation,
                revocations,
            } => auth::check_signer(event, *delegation, revocations).map(|()| None),
            Case::Delete { target } => auth::check_delete(event, target).map(|()| None),
            Case::Order { listing, available } => {
                auth::check_order(event, listing, *available).map(|()| None)
            }
            Case::TradeUpdate {
                order,
                state,
                latest,
            } => auth::check_trade_update(event, order, *state, *latest).map(Some),
            Case::Review {
                order,
                state,
                reviewed,
            } => auth::check_review(event, order, *state, *reviewed).map(|()| None),
            Case::Vote { poll } => auth::check_vote(event, poll).map(|()| None),
            Case::Community {
                community,
                settings,
                actor,
                subject,
            } => {
                let settings_event = settings.unwrap_or(community);
                let Payload::Community(settings) = settings_event.payload() else {
                    panic!("settings must be a community event");
                };
                let state = CommunityState {
                    id: community.id(),
                    owner: community.author(),
                    settings,
                };
                auth::check_community_action(event, &state, *actor, *subject).map(|()| None)
            }
            Case::RefKind { rel, referenced } => {
                auth::check_ref_kind(event, *rel, referenced).map(|()| None)
            }
            Case::Edit { original } => auth::check_edit(event, original).map(|()| None),
        }
    }

    fn inputs(&self) -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        match self {
            Case::Signer {
                delegation,
                revocations,
            } => {
                if let Some(d) = delegation {
                    put("delegation_hex", env_hex(d));
                }
                put(
                    "revocations_hex",
                    Value::Array(revocations.iter().map(|r| env_hex(r)).collect()),
                );
            }
            Case::Delete { target } => put("target_hex", env_hex(target)),
            Case::Order { listing, available } => {
                put("listing_hex", env_hex(listing));
                put("available", Value::from(*available));
            }
            Case::TradeUpdate {
                order,
                state,
                latest,
            } => {
                put("order_hex", env_hex(order));
                put("state", Value::from(state.name()));
                put("latest", Value::from(latest.to_string()));
            }
            Case::Review {
                order,
                state,
                reviewed,
            } => {
                put("order_hex", env_hex(order));
                put("state", Value::from(state.name()));
                if *reviewed {
                    put("reviewed", Value::from(true));
                }
            }
            Case::Vote { poll } => put("poll_hex", env_hex(poll)),
            Case::Community {
                community,
                settings,
                actor,
                subject,
            } => {
                put("community_hex", env_hex(community));
                if let Some(s) = settings {
                    put("settings_hex", env_hex(s));
                }
                put("actor", standing_json(*actor));
                put("subject", standing_json(*subject));
            }
            Case::RefKind { rel, referenced } => {
                put("rel", Value::from(rel.name()));
                put("referenced_hex", env_hex(referenced));
            }
            Case::Edit { original } => put("original_hex", env_hex(original)),
        }
        m
    }
}

fn judge(
    bytes: &[u8],
    expected_id: Option<EventId>,
    now_ms: Option<u64>,
) -> Result<(), EventError> {
    let mut u = Unverified::decode(bytes)?;
    if let Some(id) = expected_id {
        u = u.expect_id(id)?;
    }
    let e = u.verify()?;
    if let Some(now) = now_ms {
        e.check_clock(now, DEFAULT_MAX_FUTURE_SKEW_MS)?;
    }
    Ok(())
}

#[derive(Default)]
struct Gen {
    valid: BTreeMap<&'static str, Vec<ValidVector>>,
    invalid: BTreeMap<&'static str, Vec<InvalidVector>>,
    auth: BTreeMap<&'static str, Vec<AuthVector>>,
    text: BTreeMap<&'static str, Vec<TextVector>>,
    names: BTreeSet<String>,
    /// Vectors whose outcome differs from what the generator expected.
    surprises: Vec<String>,
}

impl Gen {
    fn name(&mut self, name: &str) -> String {
        assert!(
            self.names.insert(name.to_string()),
            "vector name `{name}` used twice"
        );
        name.to_string()
    }

    /// Signs `ev` with `signer` and records it as a valid vector of its kind.
    fn valid(&mut self, name: &str, description: &str, signer: u8, ev: UnsignedEvent) -> Event {
        let author = (1..=u8::MAX)
            .find(|&n| pk(n) == ev.author)
            .expect("authors are cast members");
        let event = sign(ev, signer);
        let round = Event::from_bytes(event.as_bytes()).expect("a valid event decodes");
        assert_eq!(round, event);
        let dag_json = serde_ipld_dagjson::to_vec(
            &serde_ipld_dagcbor::from_slice::<Ipld>(event.body_bytes()).expect("bodies are IPLD"),
        )
        .expect("bodies encode as DAG-JSON");
        let body: Value = serde_json::from_slice(&dag_json).expect("DAG-JSON is JSON");
        let name = self.name(name);
        self.valid
            .entry(event.kind().name())
            .or_default()
            .push(ValidVector {
                name,
                description: description.into(),
                author_seed: hex(&seed(author)),
                signer_seed: hex(&seed(signer)),
                author: event.author().to_text(),
                signer: event.signer().to_text(),
                body,
                body_hex: hex(event.body_bytes()),
                id: event.id().to_string(),
                id_hex: hex(&event.id().to_bytes()),
                signature_hex: hex(event.signature().as_bytes()),
                envelope_hex: hex(event.as_bytes()),
            });
        event
    }

    fn invalid(
        &mut self,
        file: &'static str,
        name: &str,
        description: &str,
        envelope: Vec<u8>,
        error: &str,
    ) {
        self.invalid_with(file, name, description, envelope, error, None, None);
    }

    #[allow(clippy::too_many_arguments)]
    fn invalid_with(
        &mut self,
        file: &'static str,
        name: &str,
        description: &str,
        envelope: Vec<u8>,
        error: &str,
        now_ms: Option<u64>,
        expected_id: Option<EventId>,
    ) {
        let found = match judge(&envelope, expected_id, now_ms) {
            Ok(()) => "(accepted)".to_string(),
            Err(e) => e.code().to_string(),
        };
        let why = judge(&envelope, expected_id, now_ms)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        if std::env::var_os("KITH_VECTORS_VERBOSE").is_some() {
            eprintln!("{file}/{name}: {found}: {why}");
        }
        if found != error {
            self.surprises.push(format!(
                "{file}/{name}: expected {error}, got {found} ({why})"
            ));
        }
        let name = self.name(name);
        self.invalid.entry(file).or_default().push(InvalidVector {
            name,
            description: description.into(),
            envelope_hex: hex(&envelope),
            error: error.into(),
            now_ms,
            expected_id: expected_id.map(|id| id.to_string()),
        });
    }

    /// A per-kind invalid vector: an event that breaks its kind's own rule.
    fn kind_rule(&mut self, name: &str, description: &str, ev: &UnsignedEvent, error: &str) {
        let kind = ev.kind().name();
        assert!(
            name.starts_with(&format!("{kind}-")),
            "`{name}` names its kind"
        );
        let signer = (1..=u8::MAX)
            .find(|&n| pk(n) == ev.signer)
            .expect("signers are cast members");
        let bytes = seal(&to_canonical(ev), signer);
        self.invalid("kinds", name, description, bytes, error);
    }

    fn auth(
        &mut self,
        name: &str,
        description: &str,
        event: &Event,
        case: Case<'_>,
        error: Option<&str>,
    ) {
        let rule = case.rule();
        let outcome = case.run(event);
        let found = match &outcome {
            Ok(_) => None,
            Err(e) => Some(e.code()),
        };
        if found != error {
            self.surprises.push(format!(
                "auth/{rule}/{name}: expected {error:?}, got {outcome:?}"
            ));
        }
        let new_state = match (&case, outcome) {
            (Case::TradeUpdate { .. }, Ok(Some(s))) => Some(s.name().to_string()),
            _ => None,
        };
        let name = self.name(name);
        self.auth.entry(rule).or_default().push(AuthVector {
            name,
            description: description.into(),
            rule: rule.into(),
            event_hex: hex(event.as_bytes()),
            inputs: case.inputs(),
            error: error.map(String::from),
            new_state,
        });
    }

    /// A key text form and the outcome its parser must give: the key bytes
    /// (public key or secret seed), or the error code.
    fn text(
        &mut self,
        name: &str,
        description: &str,
        form: &'static str,
        text: &str,
        expected: Result<[u8; 32], &str>,
    ) {
        let outcome: Result<[u8; 32], KeyError> = match form {
            "public_key" => text.parse::<PublicKey>().map(|k| *k.as_bytes()),
            "secret_key" => Keypair::secret_from_text(text).map(|k| *k.seed()),
            other => panic!("unknown key form `{other}`"),
        };
        let found = outcome.as_ref().map_err(KeyError::code).copied();
        if found != expected {
            self.surprises.push(format!(
                "text/keys/{name}: expected {expected:?}, got {outcome:?}"
            ));
        }
        let name = self.name(name);
        self.text.entry("keys").or_default().push(TextVector {
            name,
            description: description.into(),
            form: form.into(),
            text: text.into(),
            bytes_hex: expected.ok().map(|b| hex(&b)),
            error: expected.err().map(String::from),
        });
    }

    fn write(&self, root: &Path) {
        for dir in ["valid", "invalid", "auth", "text"] {
            let dir = root.join(dir);
            fs::create_dir_all(&dir).expect("create vector directory");
            for entry in fs::read_dir(&dir).expect("read vector directory") {
                let path = entry.expect("directory entry").path();
                if path.extension().is_some_and(|e| e == "json") {
                    fs::remove_file(&path).expect("remove old vector file");
                }
            }
        }
        let put = |path: PathBuf, value: &dyn erased::Json| {
            let mut text = value.pretty();
            text.push('\n');
            fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        };
        for (kind, v) in &self.valid {
            put(root.join("valid").join(format!("{kind}.json")), v);
        }
        for (file, v) in &self.invalid {
            put(root.join("invalid").join(format!("{file}.json")), v);
        }
        for (rule, v) in &self.auth {
            put(root.join("auth").join(format!("{rule}.json")), v);
        }
        for (file, v) in &self.text {
            put(root.join("text").join(format!("{file}.json")), v);
        }
    }
}

/// Pretty JSON for the three vector types without generic closures.
mod erased {
    pub(crate) trait Json {
        fn pretty(&self) -> String;
    }

    impl<T: serde::Serialize> Json for Vec<T> {
        fn pretty(&self) -> String {
            serde_json::to_string_pretty(self).expect("vectors serialise")
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/vectors");
    let mut g = Gen::default();
    let world = valid_vectors(&mut g);
    encoding_vectors(&mut g, &world);
    rule_vectors(&mut g, &world);
    kind_vectors(&mut g, &world);
    auth_vectors(&mut g, &world);
    text_vectors(&mut g);

    for kind in Kind::ALL {
        assert!(
            g.valid.contains_key(kind.name()),
            "no valid vector for `{kind}`"
        );
    }
    if !g.surprises.is_empty() {
        for s in &g.surprises {
            eprintln!("surprise: {s}");
        }
        panic!("{} vectors do not behave as expected", g.surprises.len());
    }
    g.write(&root);
    let total = |v: Vec<usize>| v.into_iter().sum::<usize>();
    eprintln!(
        "wrote {} valid, {} invalid, {} auth and {} text vectors to {}",
        total(g.valid.values().map(Vec::len).collect()),
        total(g.invalid.values().map(Vec::len).collect()),
        total(g.auth.values().map(Vec::len).collect()),
        total(g.text.values().map(Vec::len).collect()),
        root.display()
    );
}

// ---------------------------------------------------------------------------
// Valid events: a small world the other vectors refer to.

/// Events the invalid and auth vectors build on.
struct World {
    ana_post: Event,
    ben_post: Event,
    delegation: Event,
    delegated_post: Event,
    revocation_keep: Event,
    reply: Event,
    reaction: Event,
    delete: Event,
    story: Event,
    bike: Event,
    jam: Event,
    jam_withdrawn: Event,
    jam_order: Event,
    community: Event,
    community_edit: Event,
    book_club: Event,
    calendar: Event,
    poll: Event,
    proposal: Event,
    fran_spam: Event,
}

fn valid_vectors(g: &mut Gen) -> World {
    let ana = pk(ANA);
    let ben = pk(BEN);

    // profile
    g.valid(
        "profile-full",
        "A complete profile: bio with emoji, WebP avatar and JPEG banner with alt text, two languages, two links.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 - 2 * DAY,
            Profile {
                name: "Ana García".into(),
                bio: "Jardinera urbana y voluntaria en el refugio de animales de Lavapiés. ¡Adoptá, no compres! 🐾".into(),
                avatar: Some(image(
                    "ana/avatar.webp",
                    "image/webp",
                    (512, 512),
                    48_213,
                    "Ana sonriendo con un gato en brazos",
                )),
                banner: Some(image(
                    "ana/banner.jpg",
                    "image/jpeg",
                    (1500, 500),
                    211_877,
                    "Bancales de la huerta comunitaria al atardecer",
                )),
                langs: vec!["es".into(), "en".into()],
                links: vec![
                    "https://ana.example.org".into(),
                    "https://refugio-lavapies.example.org/voluntarias".into(),
                ],
                nostr: None,
                dm_key: None,
            },
        ),
    );
    g.valid(
        "profile-minimal",
        "The smallest profile: a display name and nothing else.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 - 2 * DAY,
            Profile {
                name: "Ben".into(),
                ..Profile::default()
            },
        ),
    );

    g.valid(
        "profile-http-link",
        "Carla's profile with a plain-http link of one character after the scheme, `http://a`: valid, like `https://a`.",
        CARLA,
        UnsignedEvent::new(
            pk(CARLA),
            T0 - 2 * DAY,
            Profile {
                name: "Carla".into(),
                links: vec!["https://carla.example/tienda".into(), "http://a".into()],
                ..Profile::default()
            },
        ),
    );

    g.valid(
        "profile-nostr-link",
        "Ben's profile naming his linked Nostr key (the BIP-340 public key of secret key 3, from BIP-340's test vectors): the Kith half of the link in `specs/nostr.md`.",
        BEN,
        UnsignedEvent::new(
            pk(BEN),
            T0 - DAY,
            Profile {
                name: "Ben".into(),
                nostr: Some(
                    hex::decode("f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9")
                        .expect("hex"),
                ),
                ..Profile::default()
            },
        ),
    );

    // delegation, first: the delegated post needs it.
    let delegation = g.valid(
        "delegation-phone",
        "Ana lets her phone's key sign posts, replies, reactions, reposts and stories for 90 days.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 - DAY,
            Delegation {
                kinds: vec![
                    Kind::Post,
                    Kind::Reply,
                    Kind::Reaction,
                    Kind::Repost,
                    Kind::Story,
                ],
                expires_at: T0 + 90 * DAY,
            },
        )
        .ref_identity(Rel::Subject, pk(ANA_PHONE)),
    );

    // post
    let shelter_text = "¡Llegaron tres cachorros al refugio! 🐶 Buscan familia responsable. \
                        Pasad el sábado por la mañana o escribidme. Gracias a Ben por las fotos. \
                        #Adopción #Perros #Lavapiés";
    let ana_post = g.valid(
        "post-hashtags-media",
        "A Spanish post with accented hashtags (#Adopción is stored as `adopción`), two photos with thumbnails and alt text, a language tag and a mention.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0,
            Post {
                content: Content {
                    media: vec![
                        image(
                            "refugio/cachorros-1.jpg",
                            "image/jpeg",
                            (1600, 1200),
                            389_201,
                            "Tres cachorros marrones durmiendo en una manta azul",
                        ),
                        image(
                            "refugio/cachorros-2.jpg",
                            "image/jpeg",
                            (1200, 1600),
                            402_118,
                            "Una cachorra mirando a la cámara",
                        ),
                    ],
                    lang: Some("es".into()),
                    ..Content::text(shelter_text)
                },
            },
        )
        .ref_identity(Rel::Mention, ben),
    );
    let ben_post = g.valid(
        "post-english",
        "A short English post with two hashtags, one of them capitalised in the text (#Lisboa is stored as `lisboa`).",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 5 * MINUTE,
            post(
                "Morning coffee by the river before work. Lisbon never gets old. #coffee #Lisboa",
                "en",
            ),
        ),
    );
    g.valid(
        "post-text-only",
        "The smallest post: text and nothing else (no tags, media, language or references).",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 6 * MINUTE,
            Post {
                content: Content {
                    text: "hello, world".into(),
                    ..Content::default()
                },
            },
        ),
    );
    g.valid(
        "post-multilingual-hashtags",
        "Hashtags in several scripts: `#日本語`, `#Ñandú`, `#São_Paulo` and `#ΑΘΗΝΑ` normalise to NFC lower case; `#2026` (digits only) is not a hashtag.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 7 * MINUTE,
            post(
                "Fotos del viaje: #日本語 clases, un #Ñandú en el zoo, #São_Paulo y #ΑΘΗΝΑ. Año #2026.",
                "es",
            ),
        ),
    );
    let delegated_post = g.valid(
        "post-delegated",
        "A post authored by Ana and signed by her phone's delegated key (see delegation-phone).",
        ANA_PHONE,
        UnsignedEvent::new(
            ana,
            T0 + 2 * HOUR,
            post(
                "Publicado desde el móvil 📱: ¡las tomateras ya tienen flores! #Huerta",
                "es",
            ),
        )
        .signed_by(pk(ANA_PHONE)),
    );
    g.valid(
        "post-video-only",
        "A post with a video (dag-pb CID, duration, two thumbnails, a 480p rendition) and no text.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 3 * HOUR,
            Post {
                content: Content {
                    media: vec![video(
                        "refugio/cachorros-jugando.mp4",
                        (1080, 1920),
                        8_421_337,
                        15_300,
                        "Los cachorros jugando con una pelota en el patio del refugio",
                    )],
                    ..Content::default()
                },
            },
        ),
    );
    g.valid(
        "post-video-unprocessed",
        "A post with a video its node could not read (no ffmpeg): no duration, dimensions or thumbnails.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 3 * HOUR + 1,
            Post {
                content: Content {
                    media: vec![MediaDescriptor {
                        cid: media_cid(0x70, "refugio/sin-procesar.webm"),
                        mime: "video/webm".into(),
                        size: 1_234_567,
                        width: None,
                        height: None,
                        duration_ms: None,
                        thumbs: vec![],
                        alt: None,
                        renditions: vec![],
                        waveform: None,
                    }],
                    ..Content::default()
                },
            },
        ),
    );
    g.valid(
        "post-voice-note",
        "A post with an audio clip (no width or height, a duration, a 64-slice waveform) and a caption.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 3 * HOUR,
            Post {
                content: Content {
                    media: vec![audio("ben/fado.ogg", 734_002, 94_500)],
                    ..post("Fado in Alfama last night 🎶", "en").content
                },
            },
        ),
    );

    g.valid(
        "post-mention-small-order-key",
        "A post that mentions 32 bytes that are no usable key: the identity point (01 00…00), of small order. Only the signer's key is checked; identities anywhere else in a body are 32 bytes, so the post is valid.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 3 * HOUR + MINUTE,
            post("Mentioning a key that nobody can hold.", "en"),
        )
        .ref_identity(Rel::Mention, raw_key(IDENTITY_POINT)),
    );

    // reply
    let reply = g.valid(
        "reply-to-root",
        "Ben answers Ana's post: root and parent are both the post.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 10 * MINUTE,
            Reply {
                content: post(
                    "They're adorable! Sharing with my neighbours. #adopción",
                    "en",
                )
                .content,
            },
        )
        .ref_event(Rel::Root, ana_post.id())
        .ref_event(Rel::Parent, ana_post.id()),
    );
    g.valid(
        "reply-nested-with-mention",
        "Ana answers Ben's reply: root is her post, parent is the reply, and she mentions Ben.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 12 * MINUTE,
            Reply {
                content: post(
                    "¡Gracias, Ben! Si alguien de tu barrio se anima, que me escriba.",
                    "es",
                )
                .content,
            },
        )
        .ref_event(Rel::Root, ana_post.id())
        .ref_event(Rel::Parent, reply.id())
        .ref_identity(Rel::Mention, ben),
    );

    // reaction, repost, quote
    let reaction = g.valid(
        "reaction-love",
        "Ben reacts to Ana's post with `love`.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 11 * MINUTE,
            Reaction {
                reaction: ReactionType::Love,
            },
        )
        .ref_event(Rel::Target, ana_post.id()),
    );
    g.valid(
        "reaction-delegated",
        "Ana's phone reacts `haha` to Ben's post on Ana's behalf.",
        ANA_PHONE,
        UnsignedEvent::new(
            ana,
            T0 + 20 * MINUTE,
            Reaction {
                reaction: ReactionType::Haha,
            },
        )
        .signed_by(pk(ANA_PHONE))
        .ref_event(Rel::Target, ben_post.id()),
    );
    g.valid(
        "repost",
        "Ben reposts Ana's post. The payload is an empty map.",
        BEN,
        UnsignedEvent::new(ben, T0 + 13 * MINUTE, Repost {}).ref_event(Rel::Target, ana_post.id()),
    );
    g.valid(
        "quote-with-mention",
        "Ben quotes Ana's post with a comment and mentions her.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 14 * MINUTE,
            Quote {
                content: post("If you're in Madrid and want a dog, talk to Ana 👇", "en").content,
            },
        )
        .ref_event(Rel::Target, ana_post.id())
        .ref_identity(Rel::Mention, ana),
    );

    // delete
    let typo = sign(
        UnsignedEvent::new(ana, T0 + 30 * MINUTE, post("Mañna riego a las 9", "es")),
        ANA,
    );
    let delete = g.valid(
        "delete-with-reason",
        "Ana deletes one of her posts, giving a reason.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 31 * MINUTE,
            Delete {
                reason: Some("Error de tipeo".into()),
            },
        )
        .ref_event(Rel::Target, typo.id()),
    );
    g.valid(
        "delete-bare",
        "Ben deletes his reaction, without a reason.",
        BEN,
        UnsignedEvent::new(ben, T0 + 40 * MINUTE, Delete::default())
            .ref_event(Rel::Target, reaction.id()),
    );

    // follow, unfollow, block_list, mute_list
    g.valid(
        "follow",
        "Ben follows Ana.",
        BEN,
        UnsignedEvent::new(ben, T0 + 15 * MINUTE, Follow {}).ref_identity(Rel::Subject, ana),
    );
    g.valid(
        "unfollow",
        "Ben stops following Fran.",
        BEN,
        UnsignedEvent::new(ben, T0 + 16 * MINUTE, Unfollow {}).ref_identity(Rel::Subject, pk(FRAN)),
    );
    g.valid(
        "block_list-two-keys",
        "Ana's whole block list: two identities.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + HOUR,
            BlockList {
                keys: vec![pk(FRAN), pk(ANA_LAPTOP)],
            },
        ),
    );
    g.valid(
        "block_list-empty",
        "An empty block list (unblocks everyone): the payload is an empty map.",
        BEN,
        UnsignedEvent::new(ben, T0 + HOUR, BlockList::default()),
    );
    g.valid(
        "mute_list-keys-and-words",
        "Ana mutes one identity and two words.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + HOUR,
            MuteList {
                keys: vec![pk(FRAN)],
                words: vec!["spoiler".into(), "elecciones".into()],
            },
        ),
    );

    // story, highlight
    let story_photo = image(
        "ana/stories/atardecer.jpg",
        "image/jpeg",
        (1080, 1920),
        512_004,
        "Atardecer naranja sobre los bancales",
    );
    let story = g.valid(
        "story-exactly-24h",
        "A photo story that expires exactly 24 hours after its creation, the longest allowed.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 4 * HOUR,
            Story {
                text: "Atardecer en la huerta 🌅".into(),
                media: Some(story_photo.clone()),
                expires_at: T0 + 4 * HOUR + DAY,
            },
        ),
    );
    g.valid(
        "story-text-with-mention",
        "A text-only story that mentions Ana, expiring after 6 hours.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 5 * HOUR,
            Story {
                text: "Lunch with Ana tomorrow, finally!".into(),
                media: None,
                expires_at: T0 + 11 * HOUR,
            },
        )
        .ref_identity(Rel::Mention, ana),
    );
    g.valid(
        "highlight",
        "Ana keeps one of her stories, its caption and photo, in a highlight.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 6 * HOUR,
            Highlight {
                name: "Huerta 2026".into(),
                items: vec![HighlightItem {
                    text: "Atardecer en la huerta 🌅".into(),
                    media: Some(story_photo),
                }],
            },
        )
        .ref_event(Rel::Story, story.id()),
    );
    g.valid(
        "highlight-text-story",
        "A highlight keeping a text-only story.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 6 * HOUR,
            Highlight {
                name: "Plans".into(),
                items: vec![HighlightItem {
                    text: "Lunch with Ana tomorrow, finally!".into(),
                    media: None,
                }],
            },
        ),
    );
    g.valid(
        "story_view",
        "Ben saw Ana's photo story; the receipt expires with the story.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 5 * HOUR,
            StoryView {
                expires_at: T0 + 4 * HOUR + DAY,
            },
        )
        .ref_event(Rel::Story, story.id()),
    );

    // direct_message
    g.valid(
        "direct_message",
        "A sealed message: a one-time key authors it; inbox hint and ciphertext are opaque bytes.",
        ONE_TIME,
        UnsignedEvent::new(
            pk(ONE_TIME),
            T0 + 7 * HOUR,
            DirectMessage {
                inbox: sha256(b"kith test vector inbox: ben").to_vec(),
                ciphertext: filler("kith test vector ciphertext", 120),
            },
        ),
    );

    // listing, order, trade_update, review
    let carla = pk(CARLA);
    let dani = pk(DANI);
    let bike = g.valid(
        "listing-bike",
        "Carla sells a used bicycle: price in euro cents, pickup only, cash or transfer, one photo, a location with a geohash, and an expiry.",
        CARLA,
        UnsignedEvent::new(
            carla,
            T0 + DAY,
            Listing {
                title: "Bicicleta de paseo, rodado 28".into(),
                description: "Cuadro de aluminio, 7 cambios, cesta delantera. Revisada en diciembre.".into(),
                category: "sports/bicycles".into(),
                price: Price {
                    amount: 15_000,
                    currency: "EUR".into(),
                },
                quantity: 1,
                condition: Condition::Good,
                location: Some(Location {
                    text: "Malasaña, Madrid".into(),
                    geohash: "ezjmgu".into(),
                }),
                delivery: vec![DeliveryOption::Pickup],
                payment: vec![PaymentMethod::CashOnPickup, PaymentMethod::BankTransfer],
                media: vec![image(
                    "carla/bici.jpg",
                    "image/jpeg",
                    (1600, 1200),
                    301_552,
                    "Bicicleta verde con cesta apoyada en una pared",
                )],
                expires_at: Some(T0 + 31 * DAY),
                withdrawn: false,
            },
        ),
    );
    let jam_listing = Listing {
        title: "Mermelada casera de higo (250 g)".into(),
        description: String::new(),
        category: "food/preserves".into(),
        price: Price {
            amount: 450,
            currency: "EUR".into(),
        },
        quantity: 12,
        condition: Condition::New,
        location: None,
        delivery: vec![DeliveryOption::Pickup, DeliveryOption::Shipping],
        payment: vec![PaymentMethod::BankTransfer, PaymentMethod::PaymentLink],
        media: vec![],
        expires_at: None,
        withdrawn: false,
    };
    let jam = g.valid(
        "listing-minimal-stock",
        "A listing with only the required fields: 12 jars, pickup or shipping, transfer or payment link.",
        CARLA,
        UnsignedEvent::new(carla, T0 + DAY, jam_listing.clone()),
    );
    let jam_withdrawn = g.valid(
        "listing-withdrawn-edit",
        "Carla withdraws the jam listing: an edit (`edit_of` the original) with `withdrawn: true`.",
        CARLA,
        UnsignedEvent::new(
            carla,
            T0 + 20 * DAY,
            Listing {
                withdrawn: true,
                ..jam_listing
            },
        )
        .ref_event(Rel::EditOf, jam.id()),
    );
    let jam_order = g.valid(
        "order-shipping",
        "Dani orders two jars from Carla, shipped, paid by bank transfer.",
        DANI,
        UnsignedEvent::new(
            dani,
            T0 + 2 * DAY,
            Order {
                quantity: 2,
                delivery: DeliveryOption::Shipping,
                payment: PaymentMethod::BankTransfer,
            },
        )
        .ref_event(Rel::Listing, jam.id())
        .ref_identity(Rel::Seller, carla),
    );
    let accepted = g.valid(
        "trade_update-accepted",
        "Carla accepts Dani's order, with a note; `prev` is the order itself.",
        CARLA,
        UnsignedEvent::new(
            carla,
            T0 + 2 * DAY + HOUR,
            TradeUpdate {
                state: TradeState::Accepted,
                note: Some("¡Gracias! Te lo envío el lunes.".into()),
                tracking: None,
            },
        )
        .ref_event(Rel::Order, jam_order.id())
        .ref_event(Rel::Prev, jam_order.id()),
    );
    g.valid(
        "trade_update-shipped-tracking",
        "Carla marks the trade shipped, with a tracking reference (only `shipped` steps carry one).",
        CARLA,
        UnsignedEvent::new(
            carla,
            T0 + 4 * DAY,
            TradeUpdate {
                state: TradeState::Shipped,
                note: None,
                tracking: Some("PK4Q2X0957ES".into()),
            },
        )
        .ref_event(Rel::Order, jam_order.id())
        .ref_event(Rel::Prev, accepted.id()),
    );
    g.valid(
        "review-five-stars",
        "Dani reviews Carla after the trade: five stars and a comment.",
        DANI,
        UnsignedEvent::new(
            dani,
            T0 + 7 * DAY,
            Review {
                rating: 5,
                text: "Mermelada riquísima y envío rapidísimo. ¡Repetiré!".into(),
            },
        )
        .ref_event(Rel::Order, jam_order.id())
        .ref_identity(Rel::Subject, carla),
    );

    // community and its kinds
    let community = g.valid(
        "community-open-with-currency",
        "Ana founds an open community with rules, an avatar and a community currency.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 - 10 * DAY,
            Community {
                name: "Huerta Comunitaria Lavapiés".into(),
                description: "Cultivamos juntas en el solar de la calle del Ave María. Todo el mundo es bienvenido.".into(),
                rules: vec![
                    "Respeto ante todo.".into(),
                    "Nada de spam ni publicidad.".into(),
                    "Las herramientas se devuelven limpias.".into(),
                ],
                avatar: Some(image(
                    "huerta/logo.png",
                    "image/png",
                    (400, 400),
                    20_480,
                    "Una lechuga dibujada dentro de un círculo verde",
                )),
                visibility: Visibility::Open,
                currency: Some("HUERTA".into()),
            },
        ),
    );
    let community_edit = g.valid(
        "community-edit",
        "Ana edits her community: a new `community` event with `edit_of` the founding event.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 3 * DAY,
            Community {
                name: "Huerta Comunitaria Lavapiés".into(),
                description: "Cultivamos juntas. Riego los domingos a las 9.".into(),
                rules: vec![
                    "Respeto ante todo.".into(),
                    "Nada de spam ni publicidad.".into(),
                ],
                avatar: None,
                visibility: Visibility::Open,
                currency: Some("HUERTA".into()),
            },
        )
        .ref_event(Rel::EditOf, community.id()),
    );
    let book_club = g.valid(
        "community-closed",
        "Ben founds a closed community without a currency.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 - 5 * DAY,
            Community {
                name: "Lisbon Book Club".into(),
                description: String::new(),
                rules: vec![],
                avatar: None,
                visibility: Visibility::Closed,
                currency: None,
            },
        ),
    );
    g.valid(
        "post-in-community",
        "Ana posts into her community.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 8 * HOUR,
            post(
                "Recordatorio: este domingo regamos a las 9. Traed guantes 🧤 #HuertaLavapiés",
                "es",
            ),
        )
        .ref_event(Rel::Community, community.id()),
    );
    g.valid(
        "membership-join",
        "Ben joins Ana's community.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 - 9 * DAY,
            Membership {
                action: MembershipAction::Join,
            },
        )
        .ref_event(Rel::Community, community.id()),
    );
    g.valid(
        "membership-leave",
        "Fran leaves Ana's community.",
        FRAN,
        UnsignedEvent::new(
            pk(FRAN),
            T0 + 9 * HOUR,
            Membership {
                action: MembershipAction::Leave,
            },
        )
        .ref_event(Rel::Community, community.id()),
    );
    g.valid(
        "role_grant-moderator",
        "Ana makes Eli a moderator of her community.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 - 8 * DAY,
            RoleGrant {
                role: Role::Moderator,
            },
        )
        .ref_event(Rel::Community, community.id())
        .ref_identity(Rel::Subject, pk(ELI)),
    );
    g.valid(
        "role_revoke-moderator",
        "Ana takes the moderator role back from Eli.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 30 * DAY,
            RoleRevoke {
                role: Role::Moderator,
            },
        )
        .ref_event(Rel::Community, community.id())
        .ref_identity(Rel::Subject, pk(ELI)),
    );
    let fran_spam = sign(
        UnsignedEvent::new(
            pk(FRAN),
            T0 + 8 * HOUR,
            post(
                "Compra seguidores baratos 👉 https://spam.example.com",
                "es",
            ),
        )
        .ref_event(Rel::Community, community.id()),
        FRAN,
    );
    g.valid(
        "moderation-remove",
        "Eli removes a spam post from the community, with a reason shown to members.",
        ELI,
        UnsignedEvent::new(
            pk(ELI),
            T0 + 8 * HOUR + 5 * MINUTE,
            Moderation {
                action: ModAction::Remove,
                reason: Some("Spam (norma 2)".into()),
            },
        )
        .ref_event(Rel::Community, community.id())
        .ref_event(Rel::Target, fran_spam.id()),
    );
    g.valid(
        "moderation-ban",
        "Eli bans Fran from the community: a ban takes a `subject`, not a `target`.",
        ELI,
        UnsignedEvent::new(
            pk(ELI),
            T0 + 8 * HOUR + 6 * MINUTE,
            Moderation {
                action: ModAction::Ban,
                reason: None,
            },
        )
        .ref_event(Rel::Community, community.id())
        .ref_identity(Rel::Subject, pk(FRAN)),
    );
    let calendar = g.valid(
        "calendar_event-in-community",
        "A calendar event in the community, with an end, a place and a link.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + DAY,
            CalendarEvent {
                title: "Jornada de siembra de primavera".into(),
                description:
                    "Sembramos tomates, pimientos y albahaca. Hay semillas para todo el mundo."
                        .into(),
                starts_at: T0 + 7 * DAY + 10 * HOUR,
                ends_at: Some(T0 + 7 * DAY + 13 * HOUR),
                location: Some("Huerta de Lavapiés, calle del Ave María 2, Madrid".into()),
                url: Some("https://huerta-lavapies.example.org/siembra".into()),
            },
        )
        .ref_event(Rel::Community, community.id()),
    );
    g.valid(
        "rsvp-going",
        "Ben is going to the planting day.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 2 * DAY,
            Rsvp {
                status: RsvpStatus::Going,
            },
        )
        .ref_event(Rel::Target, calendar.id()),
    );
    let poll = g.valid(
        "poll-multiple",
        "A poll in the community that takes several choices and closes in a week.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + DAY,
            Poll {
                mode: PollMode::Poll,
                question: "¿Qué plantamos en primavera?".into(),
                options: vec!["Tomates".into(), "Lechugas".into(), "Pimientos".into()],
                closes_at: T0 + 8 * DAY,
                multiple: true,
            },
        )
        .ref_event(Rel::Community, community.id()),
    );
    let proposal = g.valid(
        "poll-proposal",
        "A governance proposal, one choice per vote, outside any community.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + DAY,
            Poll {
                mode: PollMode::Proposal,
                question: "Buy a shared compost bin for the street (about €120)?".into(),
                options: vec!["Yes".into(), "No".into(), "Abstain".into()],
                closes_at: T0 + 15 * DAY,
                multiple: false,
            },
        ),
    );
    g.valid(
        "vote-two-choices",
        "Ben picks options 0 and 2 of the multiple-choice poll (ascending, no repeats).",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 2 * DAY,
            Vote {
                choices: vec![0, 2],
            },
        )
        .ref_event(Rel::Target, poll.id()),
    );
    g.valid(
        "transfer-with-memo",
        "Ben sends 250 units of the community currency to Eli.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 3 * DAY,
            Transfer {
                amount: 250,
                memo: Some("Semillas de tomate 🍅".into()),
            },
        )
        .ref_event(Rel::Community, community.id())
        .ref_identity(Rel::Subject, pk(ELI)),
    );

    // report, label
    g.valid(
        "report-event-in-community",
        "Ben reports a spam post to the community's moderators.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 8 * HOUR + MINUTE,
            Report {
                reason: ReportReason::Spam,
                text: "Same link posted in every thread.".into(),
            },
        )
        .ref_event(Rel::Target, fran_spam.id())
        .ref_event(Rel::Community, community.id()),
    );
    g.valid(
        "report-identity",
        "Ana reports an identity for impersonation, without details.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 9 * HOUR,
            Report {
                reason: ReportReason::Impersonation,
                text: String::new(),
            },
        )
        .ref_identity(Rel::Subject, pk(ANA_LAPTOP)),
    );
    g.valid(
        "label-event",
        "Ana labels a post `spoiler`.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 9 * HOUR,
            Label {
                labels: vec!["spoiler".into()],
                negate: false,
            },
        )
        .ref_event(Rel::Target, ben_post.id()),
    );
    g.valid(
        "label-identity-negate",
        "Ben withdraws the `bot` and `automated` labels he had put on an identity.",
        BEN,
        UnsignedEvent::new(
            ben,
            T0 + 9 * HOUR,
            Label {
                labels: vec!["bot".into(), "automated".into()],
                negate: true,
            },
        )
        .ref_identity(Rel::Subject, pk(FRAN)),
    );

    // revocation
    let revocation_keep = g.valid(
        "revocation-keep-before",
        "Ana revokes her phone's delegation 30 days in, keeping what it signed before then.",
        ANA,
        UnsignedEvent::new(
            ana,
            T0 + 30 * DAY,
            Revocation {
                keep_before: Some(T0 + 30 * DAY),
            },
        )
        .ref_event(Rel::Target, delegation.id()),
    );
    g.valid(
        "revocation-compromised",
        "Ana revokes the delegation without `keep_before`: nothing the key signed stays valid.",
        ANA,
        UnsignedEvent::new(ana, T0 + 31 * DAY, Revocation::default())
            .ref_event(Rel::Target, delegation.id()),
    );

    World {
        ana_post,
        ben_post,
        delegation,
        delegated_post,
        revocation_keep,
        reply,
        reaction,
        delete,
        story,
        bike,
        jam,
        jam_withdrawn,
        jam_order,
        community,
        community_edit,
        book_club,
        calendar,
        poll,
        proposal,
        fran_spam,
    }
}

// ---------------------------------------------------------------------------
// Invalid: decoding, canonical form, size, signature, id and clock.

fn encoding_vectors(g: &mut Gen, w: &World) {
    let ana = pk(ANA);
    let good = w.ben_post.clone();
    let good_body = good.body_bytes().to_vec();
    let good_sig = *good.signature().as_bytes();
    let body = || C::body(good.body());

    // too_large
    {
        let make = |len: usize| {
            let text: String = "Un texto muy, muy largo. "
                .chars()
                .cycle()
                .take(len)
                .collect();
            let ev = UnsignedEvent::new(
                ana,
                T0,
                Post {
                    content: Content {
                        text,
                        ..Content::default()
                    },
                },
            );
            seal(&to_canonical(&ev), ANA)
        };
        let base = make(60_000).len();
        let target = kith_protocol::MAX_EVENT_BYTES + 1;
        let bytes = make(60_000 + target - base);
        assert_eq!(bytes.len(), target);
        g.invalid(
            "too_large",
            "envelope-one-byte-over",
            "A signed post whose envelope is 65,537 bytes, one over the limit; the size is checked before anything else.",
            bytes,
            "too_large",
        );
    }

    // malformed: not an envelope
    g.invalid(
        "malformed",
        "empty-input",
        "Zero bytes.",
        vec![],
        "malformed",
    );
    g.invalid(
        "malformed",
        "not-cbor",
        "Text that is not CBOR at all.",
        b"{\"kind\":\"post\",\"text\":\"hola\"}".to_vec(),
        "malformed",
    );
    let mut truncated = good.as_bytes().to_vec();
    truncated.truncate(truncated.len() - 10);
    g.invalid(
        "malformed",
        "truncated-envelope",
        "A valid envelope with its last 10 bytes cut off.",
        truncated,
        "malformed",
    );
    g.invalid(
        "malformed",
        "truncated-in-signature",
        "An envelope cut in the middle of the signature.",
        good.as_bytes()[..40].to_vec(),
        "malformed",
    );
    g.invalid(
        "malformed",
        "envelope-is-array",
        "The envelope as a two-item array [sig, body] instead of a map.",
        C::Array(vec![C::Bytes(good_sig.to_vec()), C::Raw(good_body.clone())]).encode(),
        "malformed",
    );
    g.invalid(
        "malformed",
        "envelope-short-signature",
        "The envelope's `sig` is 63 bytes.",
        envelope(&good_sig[..63], &good_body),
        "malformed",
    );
    g.invalid(
        "malformed",
        "envelope-signature-as-array",
        "The envelope's `sig` is an array of 64 integers instead of a byte string.",
        C::Map(vec![
            (
                "sig".into(),
                C::Array(good_sig.iter().map(|&b| C::U(b.into())).collect()),
            ),
            ("body".into(), C::Raw(good_body.clone())),
        ])
        .encode(),
        "malformed",
    );
    g.invalid(
        "malformed",
        "envelope-unknown-key",
        "The envelope carries a third key, `id`.",
        C::Map(vec![
            ("id".into(), C::Text(good.id().to_string())),
            ("sig".into(), C::Bytes(good_sig.to_vec())),
            ("body".into(), C::Raw(good_body.clone())),
        ])
        .encode(),
        "malformed",
    );
    g.invalid(
        "malformed",
        "envelope-without-body",
        "The envelope has a `sig` and no `body`.",
        C::Map(vec![("sig".into(), C::Bytes(good_sig.to_vec()))]).encode(),
        "malformed",
    );
    g.invalid(
        "malformed",
        "body-as-byte-string",
        "The body is wrapped in a byte string instead of being embedded as a map.",
        envelope(&good_sig, &C::Bytes(good_body.clone()).encode()),
        "malformed",
    );

    // malformed: bodies (signed, so only the body is wrong)
    let mut b = body();
    b.set("kind", C::U(1));
    g.invalid(
        "malformed",
        "kind-is-integer",
        "`kind` is the integer 1 instead of a name.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.set("created_at", C::Text("2026-01-01T00:05:00Z".into()));
    g.invalid(
        "malformed",
        "created_at-is-text",
        "`created_at` is an RFC 3339 string instead of milliseconds.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.set("created_at", C::Neg(5));
    g.invalid(
        "malformed",
        "created_at-negative",
        "`created_at` is the negative integer -6.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.set("created_at", C::F64((T0 + 5 * MINUTE) as f64));
    g.invalid(
        "malformed",
        "created_at-float",
        "`created_at` is the right number as a 64-bit float.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.set("author", C::Bytes(pk(BEN).as_bytes()[..31].to_vec()));
    g.invalid(
        "malformed",
        "author-31-bytes",
        "`author` is 31 bytes.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.set("author", C::Text(pk(BEN).to_text()));
    g.invalid(
        "malformed",
        "author-as-text",
        "`author` is the `kith1…` text form instead of 32 bytes.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.set("kind", C::Bytes(b"post".to_vec()));
    g.invalid(
        "malformed",
        "kind-as-byte-string",
        "`kind` is the byte string `post` (44 706f7374) instead of the text string (64 706f7374): major types are checked exactly.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.get("payload")
        .set("text", C::Bytes(b"hello, world".to_vec()));
    g.invalid(
        "malformed",
        "text-as-byte-string",
        "A post's `text` as a byte string holding valid UTF-8.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.get("payload")
        .set("text", C::Raw(vec![0x64, b'h', 0xc3, 0x28, b'a']));
    g.invalid(
        "malformed",
        "text-invalid-utf8",
        "A post's `text` is a text string whose bytes are not UTF-8 (68 c3 28 61).",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    let mut payload = b.get("payload").encode();
    // {1: 1, …}: an integer key first, then the post's own keys (map of one more).
    payload[0] += 1;
    payload.splice(1..1, [0x01, 0x01]);
    b.set("payload", C::Raw(payload));
    g.invalid(
        "malformed",
        "payload-integer-key",
        "A post payload whose first key is the integer 1: map keys are text strings.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.set("title", C::Text("Buenos días".into()));
    g.invalid(
        "malformed",
        "body-unknown-field",
        "The body has an extra top-level field, `title`.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.get("payload").set("title", C::Text("Buenos días".into()));
    g.invalid(
        "malformed",
        "payload-unknown-field",
        "A post payload with a field posts do not have, `title`.",
        seal_c(&b, BEN),
        "malformed",
    );
    for field in ["created_at", "signer", "author", "payload", "kind"] {
        let mut b = body();
        b.remove(field);
        g.invalid(
            "malformed",
            &format!("body-missing-{}", field.replace('_', "-")),
            &format!("The body has no `{field}`."),
            seal_c(&b, BEN),
            "malformed",
        );
    }
    let mut b = body();
    b.get("payload").set("lang", C::U(7));
    g.invalid(
        "malformed",
        "payload-wrong-type",
        "A post's `lang` is an integer.",
        seal_c(&b, BEN),
        "malformed",
    );
    let reaction = w.reaction.body().clone();
    let mut b = C::body(&reaction);
    b.get("payload").set("reaction", C::Text("dislike".into()));
    g.invalid(
        "malformed",
        "reaction-unknown-value",
        "A reaction that is not one of the six, `dislike`.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = C::body(&reaction);
    b.set(
        "refs",
        C::Array(vec![C::Map(vec![
            ("rel".into(), C::Text("quote_of".into())),
            ("event".into(), link(w.ana_post.id().to_cid())),
        ])]),
    );
    g.invalid(
        "malformed",
        "ref-unknown-relation",
        "A reference with a relation that does not exist, `quote_of`.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = C::body(&reaction);
    b.set(
        "refs",
        C::Array(vec![C::Map(vec![
            ("key".into(), C::Bytes(ana.as_bytes().to_vec())),
            ("rel".into(), C::Text("target".into())),
            ("event".into(), link(w.ana_post.id().to_cid())),
        ])]),
    );
    g.invalid(
        "malformed",
        "ref-event-and-key",
        "A reference with both `event` and `key`.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = C::body(&reaction);
    b.set(
        "refs",
        C::Array(vec![C::Map(vec![
            ("rel".into(), C::Text("target".into())),
            ("event".into(), link(media_cid(0x55, "not an event"))),
        ])]),
    );
    g.invalid(
        "malformed",
        "ref-raw-cid",
        "A `target` reference whose CID has the raw codec, so it cannot be an event id.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = C::body(&reaction);
    b.set(
        "refs",
        C::Array(vec![C::Map(vec![
            ("rel".into(), C::Text("target".into())),
            ("event".into(), C::Text(w.ana_post.id().to_string())),
        ])]),
    );
    g.invalid(
        "malformed",
        "ref-cid-as-text",
        "A `target` reference whose event id is the `bafy…` text instead of a tag-42 link.",
        seal_c(&b, BEN),
        "malformed",
    );
    let cid_bytes = w.ana_post.id().to_bytes().to_vec();
    let mut b = C::body(&reaction);
    b.set(
        "refs",
        C::Array(vec![C::Map(vec![
            ("rel".into(), C::Text("target".into())),
            ("event".into(), C::Tag(42, Box::new(C::Bytes(cid_bytes)))),
        ])]),
    );
    g.invalid(
        "malformed",
        "ref-link-without-prefix",
        "A tag-42 link without the leading 0x00 byte DAG-CBOR requires.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut body_trailing = good_body.clone();
    body_trailing.push(0x00);
    g.invalid(
        "malformed",
        "body-trailing-byte",
        "A valid body followed by one more byte (0x00), signed as it is: the body is not one CBOR item.",
        seal(&body_trailing, BEN),
        "malformed",
    );
    let mut body_trailing = good_body.clone();
    body_trailing.extend_from_slice(&good_body);
    g.invalid(
        "malformed",
        "body-twice",
        "Two copies of a valid body back to back, signed as one.",
        seal(&body_trailing, BEN),
        "malformed",
    );
    let mut b = body();
    let payload = b.remove("payload");
    b.entries().insert(0, ("payload".into(), payload));
    g.invalid(
        "malformed",
        "payload-before-kind",
        "Body keys out of order with `payload` first. Rejected as malformed, not non_canonical: a decoder reads `kind` before it can read `payload`.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.set("created_at", C::Null);
    g.invalid(
        "malformed",
        "created_at-null",
        "A required field, `created_at`, given as null.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    b.get("payload").set("tags", C::Null);
    g.invalid(
        "malformed",
        "tags-null",
        "An omitted-when-empty list, a post's `tags`, given as null.",
        seal_c(&b, BEN),
        "malformed",
    );
    let mut b = body();
    let at = b.remove("created_at");
    b.set("created_at", C::Tag(1, Box::new(at)));
    g.invalid(
        "malformed",
        "created_at-tagged",
        "`created_at` wrapped in CBOR tag 1 (epoch time): no tag but 42 appears in Kith values.",
        seal_c(&b, BEN),
        "malformed",
    );
    let review_body = UnsignedEvent::new(
        pk(DANI),
        T0 + 7 * DAY,
        Review {
            rating: 5,
            text: String::new(),
        },
    )
    .ref_event(Rel::Order, w.jam_order.id())
    .ref_identity(Rel::Subject, pk(CARLA));
    let mut b = C::body(&review_body);
    b.get("payload").set("rating", C::U(256));
    g.invalid(
        "malformed",
        "rating-256",
        "A review rating of 256, out of range for the field (a uint8) before its own 1-to-5 rule applies.",
        seal_c(&b, DANI),
        "malformed",
    );
    let mut b = C::body(&review_body);
    b.get("payload").set("rating", C::Wide(5, 2));
    g.invalid(
        "malformed",
        "rating-5-two-byte-argument",
        "A review rating of 5 written with a two-byte argument (19 0005). Not non_canonical: a uint8 field takes at most a one-byte argument, so the head itself does not fit the field.",
        seal_c(&b, DANI),
        "malformed",
    );
    let order_body = w.jam_order.body().clone();
    let mut b = C::body(&order_body);
    b.get("payload").set("quantity", C::Wide(2, 8));
    g.invalid(
        "malformed",
        "quantity-eight-byte-argument",
        "An order's quantity 2 written with an eight-byte argument (1b 0000000000000002). Not non_canonical: a uint32 field takes at most a four-byte argument.",
        seal_c(&b, DANI),
        "malformed",
    );
    let mut b = C::body(&reaction);
    let mut wide_tag = vec![0xd9, 0x00, 0x2a];
    wide_tag
        .extend_from_slice(&C::Bytes([&[0u8][..], &w.ana_post.id().to_bytes()].concat()).encode());
    b.set(
        "refs",
        C::Array(vec![C::Map(vec![
            ("rel".into(), C::Text("target".into())),
            ("event".into(), C::Raw(wide_tag)),
        ])]),
    );
    g.invalid(
        "malformed",
        "cid-tag-two-byte-head",
        "A reaction whose `target` link has tag 42 written with a two-byte argument (d9 002a) instead of d8 2a. Not non_canonical: a link must start d8 2a, and anything else is not a link.",
        seal_c(&b, BEN),
        "malformed",
    );

    // non_canonical
    let mut b = body();
    let entries = b.entries();
    let a = entries
        .iter()
        .position(|(k, _)| k == "author")
        .expect("author");
    let s = entries
        .iter()
        .position(|(k, _)| k == "signer")
        .expect("signer");
    entries.swap(a, s);
    g.invalid(
        "non_canonical",
        "unsorted-body-keys",
        "`signer` before `author`: keys of the same length must be in byte order.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut b = body();
    b.entries().sort_by(|(x, _), (y, _)| x.cmp(y));
    g.invalid(
        "non_canonical",
        "keys-sorted-bytewise",
        "Body keys in plain byte order (author, created_at, kind, payload, signer), as DAG-JSON sorts them, instead of DAG-CBOR's length-first order.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut b = body();
    let created = b.remove("created_at");
    b.entries().insert(0, ("created_at".into(), created));
    g.invalid(
        "non_canonical",
        "longest-key-first",
        "`created_at` (the longest key) first.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let vote_body = {
        let poll = &w.poll;
        UnsignedEvent::new(pk(BEN), T0 + 2 * DAY, Vote { choices: vec![1] })
            .ref_event(Rel::Target, poll.id())
    };
    let mut b = C::body(&vote_body);
    b.get("payload")
        .set("choices", C::Array(vec![C::Wide(1, 1)]));
    g.invalid(
        "non_canonical",
        "non-minimal-integer",
        "A vote whose choice 1 is written with a one-byte argument (0x18 0x01) instead of 0x01.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut b = body();
    b.set("created_at", C::Wide(T0 + 5 * MINUTE, 8));
    let same = b.encode() == good_body;
    assert!(
        same,
        "created_at already takes 8 bytes; this shape is the canonical one"
    );
    let mut b = C::body(&order_body);
    b.get("payload").set("quantity", C::Wide(2, 4));
    g.invalid(
        "non_canonical",
        "non-minimal-integer-4-bytes",
        "An order whose quantity 2 is written with a four-byte argument.",
        seal_c(&b, DANI),
        "non_canonical",
    );
    let mut b = body();
    b.get("payload")
        .set("text", C::IndefText(vec!["hello, ".into(), "world".into()]));
    g.invalid(
        "non_canonical",
        "indefinite-length-text",
        "A post's text as an indefinite-length string of two chunks (0x7f … 0xff) that join to a valid text.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut b = body();
    b.set("kind", C::TextWide("post".into(), 1));
    g.invalid(
        "non_canonical",
        "non-minimal-string-length",
        "The kind name `post` with its length in a one-byte argument (0x78 0x04).",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut b = body();
    b.set("refs", C::Array(vec![]));
    g.invalid(
        "non_canonical",
        "explicit-empty-refs",
        "`refs: []`: an empty reference list is left out, not written.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut b = body();
    b.get("payload").set("media", C::Array(vec![]));
    g.invalid(
        "non_canonical",
        "explicit-empty-media",
        "A post with `media: []`.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut b = body();
    b.get("payload").set("lang", C::Null);
    g.invalid(
        "non_canonical",
        "explicit-null",
        "A post with `lang: null`: absent optional fields are left out.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let label_body = UnsignedEvent::new(
        ana,
        T0 + 9 * HOUR,
        Label {
            labels: vec!["spoiler".into()],
            negate: false,
        },
    )
    .ref_event(Rel::Target, w.ben_post.id());
    let mut b = C::body(&label_body);
    b.get("payload").set("negate", C::Bool(false));
    g.invalid(
        "non_canonical",
        "explicit-false",
        "A label with `negate: false`: false flags are left out.",
        seal_c(&b, ANA),
        "non_canonical",
    );
    let story_text_empty = {
        // A story with media and an explicit empty caption.
        let mut s = w.story.body().clone();
        if let Payload::Story(st) = &mut s.payload {
            st.text = String::new();
        }
        let mut c = C::body(&s);
        c.get("payload").set("text", C::Text(String::new()));
        c
    };
    g.invalid(
        "non_canonical",
        "explicit-empty-string",
        "A photo story with `text: \"\"`: empty text is left out.",
        seal_c(&story_text_empty, ANA),
        "non_canonical",
    );
    let mut b = body();
    let dup = ("created_at".to_string(), C::U(T0 + 5 * MINUTE));
    b.entries().push(dup);
    g.invalid(
        "non_canonical",
        "duplicate-key",
        "`created_at` twice with the same value.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut b = body();
    b.get("payload")
        .entries()
        .push(("text".into(), C::Text("hello, world".into())));
    g.invalid(
        "non_canonical",
        "payload-duplicate-key",
        "A post payload with `text` twice: a repeated key, in any map, is not canonical.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut b = body();
    let kind = b.get("kind").clone();
    b.entries().insert(1, ("kind".into(), kind));
    g.invalid(
        "non_canonical",
        "duplicate-kind-key",
        "The body's `kind` twice in a row, both `post`.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let b = match body() {
        C::Map(e) => C::IndefMap(e),
        _ => unreachable!(),
    };
    g.invalid(
        "non_canonical",
        "indefinite-length-map",
        "The body map with an indefinite length (bf … ff).",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut b = body();
    let tags = match b.get("payload").get("tags") {
        C::Array(items) => items.clone(),
        other => panic!("tags: {other:?}"),
    };
    let mut indef = vec![0x9f];
    tags.iter().for_each(|t| t.write(&mut indef));
    indef.push(0xff);
    b.get("payload").set("tags", C::Raw(indef));
    g.invalid(
        "non_canonical",
        "indefinite-length-array",
        "A post's `tags` as an indefinite-length array (9f … ff).",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut wide_map = body().encode();
    assert_eq!(wide_map[0], 0xa5);
    wide_map.splice(0..1, [0xb8, 0x05]);
    g.invalid(
        "non_canonical",
        "non-minimal-map-length",
        "The body map's length 5 written with a one-byte argument (b8 05) instead of a5.",
        seal(&wide_map, BEN),
        "non_canonical",
    );
    let mut b = C::body(&reaction);
    let mut wide_link = vec![0xd8, 0x2a, 0x59, 0x00, 0x25, 0x00];
    wide_link.extend_from_slice(&w.ana_post.id().to_bytes());
    b.set(
        "refs",
        C::Array(vec![C::Map(vec![
            ("rel".into(), C::Text("target".into())),
            ("event".into(), C::Raw(wide_link)),
        ])]),
    );
    g.invalid(
        "non_canonical",
        "non-minimal-cid-length",
        "A reaction whose `target` link holds its 37 bytes with a two-byte length (59 0025) instead of 58 25.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    let mut b = body();
    b.set("kind", C::Text("article".into()));
    let entries = b.entries();
    let a = entries
        .iter()
        .position(|(k, _)| k == "author")
        .expect("author");
    let s = entries
        .iter()
        .position(|(k, _)| k == "signer")
        .expect("signer");
    entries.swap(a, s);
    g.invalid(
        "non_canonical",
        "unknown-kind-unsorted-keys",
        "A body of the unknown kind `article` with `signer` before `author`: the decoder meets the unsorted keys before it can report the kind.",
        seal_c(&b, BEN),
        "non_canonical",
    );
    g.invalid(
        "non_canonical",
        "envelope-body-before-sig",
        "An envelope with `body` before `sig`; the canonical order is `sig` (3 bytes) then `body` (4 bytes).",
        C::Map(vec![
            ("body".into(), C::Raw(good_body.clone())),
            ("sig".into(), C::Bytes(good_sig.to_vec())),
        ])
        .encode(),
        "non_canonical",
    );
    let mut wide_sig = vec![0xa2, 0x63, b's', b'i', b'g', 0x59, 0x00, 0x40];
    wide_sig.extend_from_slice(&good_sig);
    wide_sig.extend_from_slice(&[0x64, b'b', b'o', b'd', b'y']);
    wide_sig.extend_from_slice(&good_body);
    g.invalid(
        "non_canonical",
        "envelope-non-minimal-signature-length",
        "An envelope whose 64-byte signature length is written in two bytes (0x59 0x00 0x40).",
        wide_sig,
        "non_canonical",
    );
    g.invalid(
        "non_canonical",
        "envelope-indefinite-length-map",
        "An envelope map of indefinite length (bf … ff) around a good signature and body.",
        C::IndefMap(vec![
            ("sig".into(), C::Bytes(good_sig.to_vec())),
            ("body".into(), C::Raw(good_body.clone())),
        ])
        .encode(),
        "non_canonical",
    );
    g.invalid(
        "non_canonical",
        "envelope-repeated-key",
        "An envelope with `sig` twice (the same signature), then `body`.",
        C::Map(vec![
            ("sig".into(), C::Bytes(good_sig.to_vec())),
            ("sig".into(), C::Bytes(good_sig.to_vec())),
            ("body".into(), C::Raw(good_body.clone())),
        ])
        .encode(),
        "non_canonical",
    );

    // unknown_kind
    let mut b = body();
    b.set("kind", C::Text("article".into()));
    g.invalid(
        "unknown_kind",
        "kind-article",
        "A post-shaped body whose kind, `article`, this protocol version does not know.",
        seal_c(&b, BEN),
        "unknown_kind",
    );
    let mut b = body();
    b.set("kind", C::Text("Post".into()));
    g.invalid(
        "unknown_kind",
        "kind-capitalised",
        "Kind names are case-sensitive: `Post` is not `post`.",
        seal_c(&b, BEN),
        "unknown_kind",
    );
    let mut b = body();
    b.set("kind", C::Text("poll_v2".into()));
    b.set("payload", C::Map(vec![("anything".into(), C::U(1))]));
    g.invalid(
        "unknown_kind",
        "kind-future-with-unknown-payload",
        "A future kind with a payload of its own: the kind is reported, the payload is not judged.",
        seal_c(&b, BEN),
        "unknown_kind",
    );
    let mut b = body();
    b.set("kind", C::Text("poll_v2".into()));
    b.set(
        "payload",
        C::IndefMap(vec![
            ("z".into(), C::F64(1.5)),
            ("y".into(), C::Neg(2)),
            ("x".into(), C::Tag(1, Box::new(C::Wide(7, 8)))),
            ("w".into(), C::Null),
        ]),
    );
    let mut b = body();
    b.set("kind", C::Text("article".into()));
    b.set("refs", C::Array(vec![]));
    g.invalid(
        "unknown_kind",
        "kind-unknown-with-explicit-empty-refs",
        "A body of the unknown kind `article` with `refs: []`. An empty list written out is caught by the re-encoding comparison, which comes after the kind check (compare unknown-kind-unsorted-keys in non_canonical.json).",
        seal_c(&b, BEN),
        "unknown_kind",
    );
    g.invalid(
        "unknown_kind",
        "kind-future-with-non-dag-cbor-payload",
        "A future kind whose payload is well-formed CBOR but not canonical DAG-CBOR (indefinite-length map, unsorted keys, a float, a negative integer, tag 1, a non-minimal integer, null): an unknown kind's payload is skipped unread.",
        seal_c(&b, BEN),
        "unknown_kind",
    );

    // sig_invalid
    let mut flipped = good.as_bytes().to_vec();
    flipped[10] ^= 0x01;
    g.invalid(
        "sig_invalid",
        "signature-bit-flipped",
        "A valid envelope with one bit of the signature flipped.",
        flipped,
        "sig_invalid",
    );
    g.invalid(
        "sig_invalid",
        "signature-zero",
        "A signature of 64 zero bytes.",
        envelope(&[0u8; 64], &good_body),
        "sig_invalid",
    );
    let mut tampered = good.body().clone();
    tampered.created_at += 1;
    g.invalid(
        "sig_invalid",
        "body-changed-after-signing",
        "Ben's post with `created_at` one millisecond later than what was signed (old signature kept).",
        envelope(&good_sig, &to_canonical(&tampered)),
        "sig_invalid",
    );
    g.invalid(
        "sig_invalid",
        "signed-by-author-not-signer",
        "The body names Ana's phone as signer but Ana's own key signed it.",
        seal(w.delegated_post.body_bytes(), ANA),
        "sig_invalid",
    );
    g.invalid(
        "sig_invalid",
        "signature-over-digest",
        "Signed over the 32-byte SHA-256 of the body instead of the 36-byte binary CID.",
        envelope(&raw_sign(BEN, &sha256(&good_body)), &good_body),
        "sig_invalid",
    );
    g.invalid(
        "sig_invalid",
        "signature-over-body",
        "Signed over the body bytes instead of the binary CID.",
        envelope(&raw_sign(BEN, &good_body), &good_body),
        "sig_invalid",
    );
    g.invalid(
        "sig_invalid",
        "signature-over-text-id",
        "Signed over the `bafy…` text of the id instead of the binary CID.",
        envelope(&raw_sign(BEN, good.id().to_string().as_bytes()), &good_body),
        "sig_invalid",
    );
    // S + ℓ: the same signature with a non-reduced scalar (malleability).
    const ELL: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut malleated = good_sig;
    let mut carry = 0u16;
    for (i, l) in ELL.iter().enumerate() {
        let sum = u16::from(malleated[32 + i]) + u16::from(*l) + carry;
        malleated[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    g.invalid(
        "sig_invalid",
        "signature-scalar-not-reduced",
        "A valid signature with ℓ added to its S half: the same equation holds, but S must be below ℓ (no malleable signatures).",
        envelope(&malleated, &good_body),
        "sig_invalid",
    );

    // A signer whose 32 bytes are a non-canonical encoding of a large-order point.
    assert!(PublicKey::from_bytes(NON_CANONICAL_POINT).is_ok());
    let mut odd_signer = good.body().clone();
    odd_signer.signer = raw_key(NON_CANONICAL_POINT);
    g.invalid(
        "sig_invalid",
        "signer-non-canonical-encoding",
        "The signer's bytes are f0 ff…ff 7f, the non-canonical encoding y = p + 3 of a point of large order: a usable key (y is reduced modulo p, as ZIP 215 does), so the signature is checked, and Ben's signature does not verify under it.",
        seal(&to_canonical(&odd_signer), BEN),
        "sig_invalid",
    );

    // key_invalid: the signer's key is no usable key; refused before the signature.
    let forged = UnsignedEvent::new(
        raw_key(IDENTITY_POINT),
        T0 + 5 * MINUTE,
        post("Anyone could have signed this.", "en"),
    );
    let forged_body = to_canonical(&forged);
    // R = the identity point, S = 0: [8]([S]B − R − [k]A) is the neutral element
    // for every message when A is the identity point.
    let mut trivial_sig = [0u8; 64];
    trivial_sig[0] = 1;
    let vk = ed25519_consensus::VerificationKey::try_from(IDENTITY_POINT).expect("decompresses");
    let forged_id = EventId::of_body(&forged_body).to_bytes();
    assert!(
        vk.verify(&ed25519_consensus::Signature::from(trivial_sig), &forged_id)
            .is_ok(),
        "ZIP 215 alone accepts the trivial signature for the identity point"
    );
    g.invalid(
        "key_invalid",
        "signer-identity-point-trivial-signature",
        "Author and signer are the identity point (01 00…00), of small order. The signature (R = 01 00…00, S = 0) satisfies the cofactored ZIP 215 equation for any message, so without the key check anyone could sign for this signer.",
        envelope(&trivial_sig, &forged_body),
        "key_invalid",
    );
    for (name, description, signer) in [
        (
            "signer-order-two-point",
            "Ana's post with a signer of order 2 (ec ff…ff 7f) and a zero signature: the signer's key is refused before the signature is looked at.",
            ORDER_TWO_POINT,
        ),
        (
            "signer-order-eight-point",
            "Ana's post with a signer of order 8 (26e8958f…fc05) and a zero signature.",
            ORDER_EIGHT_POINT,
        ),
        (
            "signer-not-on-curve",
            "Ana's post whose signer's bytes decompress to no curve point, with a zero signature.",
            not_on_curve(),
        ),
    ] {
        let decoded = ed25519_dalek::VerifyingKey::from_bytes(&signer);
        assert_eq!(
            decoded.map(|k| k.is_weak()).ok(),
            (name != "signer-not-on-curve").then_some(true),
            "{name}"
        );
        let ev = UnsignedEvent::new(ana, T0 + 5 * MINUTE, post("¿Quién firma esto?", "es"))
            .signed_by(raw_key(signer));
        g.invalid(
            "key_invalid",
            name,
            description,
            envelope(&[0u8; 64], &to_canonical(&ev)),
            "key_invalid",
        );
    }

    // id_mismatch
    g.invalid_with(
        "id_mismatch",
        "fetched-other-event",
        "Asked for Ana's post by id, received Ben's (valid) post.",
        good.as_bytes().to_vec(),
        "id_mismatch",
        None,
        Some(w.ana_post.id()),
    );
    g.invalid_with(
        "id_mismatch",
        "fetched-delete-instead-of-target",
        "Asked for the event a delete targets, received the delete itself.",
        w.delete.as_bytes().to_vec(),
        "id_mismatch",
        None,
        w.delete.event_ref(Rel::Target),
    );

    // clock_skew
    g.invalid_with(
        "clock_skew",
        "five-minutes-and-one-ms-ahead",
        "Ben's post arrives 5 minutes and 1 ms before its created_at; the default skew allows 5 minutes.",
        good.as_bytes().to_vec(),
        "clock_skew",
        Some(good.created_at() - DEFAULT_MAX_FUTURE_SKEW_MS - 1),
        None,
    );
    g.invalid_with(
        "clock_skew",
        "one-day-ahead",
        "Ana's post arrives a day before its created_at.",
        w.ana_post.as_bytes().to_vec(),
        "clock_skew",
        Some(w.ana_post.created_at() - DAY),
        None,
    );
}

/// A DAG-CBOR link (tag 42) to a CID.
fn link(cid: Cid) -> C {
    let mut b = vec![0u8];
    b.extend_from_slice(&cid.to_bytes());
    C::Tag(42, Box::new(C::Bytes(b)))
}

// ---------------------------------------------------------------------------
// Invalid: the stateless rules, one file per error code.

fn rule_vectors(g: &mut Gen, w: &World) {
    let ana = pk(ANA);
    let ben = pk(BEN);
    let signed = |ev: &UnsignedEvent, signer: u8| seal(&to_canonical(ev), signer);
    let text_post = |text: &str| {
        UnsignedEvent::new(
            ana,
            T0,
            Post {
                content: Content {
                    text: text.into(),
                    ..Content::default()
                },
            },
        )
    };
    let with_content = |content: Content| UnsignedEvent::new(ana, T0, Post { content });

    // created_at_invalid
    for (name, description, at) in [
        (
            "created_at-in-seconds",
            "created_at in seconds (1767225600) instead of milliseconds.",
            T0 / 1000,
        ),
        ("created_at-zero", "created_at 0.", 0),
        (
            "created_at-just-before-2020",
            "1 ms before the earliest valid timestamp, 2020-01-01T00:00:00Z.",
            kith_protocol::MIN_TIMESTAMP_MS - 1,
        ),
        (
            "created_at-year-10000",
            "1 ms after the latest valid timestamp, 9999-12-31T23:59:59.999Z.",
            kith_protocol::MAX_TIMESTAMP_MS + 1,
        ),
    ] {
        let mut ev = text_post("Hola");
        ev.created_at = at;
        g.invalid(
            "created_at_invalid",
            name,
            description,
            signed(&ev, ANA),
            "created_at_invalid",
        );
    }

    // text_too_long
    let long: String = "ñ".repeat(5_000) + "a";
    g.invalid(
        "text_too_long",
        "post-text-10001-bytes",
        "Post text of 10,001 UTF-8 bytes (5,000 `ñ` of 2 bytes and an `a`); the limit is 10,000 bytes, not characters.",
        signed(&text_post(&long), ANA),
        "text_too_long",
    );
    g.invalid(
        "text_too_long",
        "profile-name-101-bytes",
        "A display name of 101 bytes.",
        signed(
            &UnsignedEvent::new(
                ana,
                T0,
                Profile {
                    name: "A".repeat(101),
                    ..Profile::default()
                },
            ),
            ANA,
        ),
        "text_too_long",
    );
    g.invalid(
        "field_invalid",
        "direct-message-ciphertext-over-48k",
        "A direct message whose ciphertext is 49,153 bytes, one over 48 KiB (field_invalid: the ciphertext is bytes, not text).",
        signed(
            &UnsignedEvent::new(
                pk(ONE_TIME),
                T0,
                DirectMessage {
                    inbox: vec![7; 32],
                    ciphertext: filler("big ciphertext", 48 * 1024 + 1),
                },
            ),
            ONE_TIME,
        ),
        "field_invalid",
    );
    let mut media_alt = image("x.jpg", "image/jpeg", (10, 10), 100, "x");
    media_alt.alt = Some("a".repeat(1_501));
    g.invalid(
        "media_invalid",
        "media-alt-too-long",
        "Alt text of 1,501 bytes (the limit is 1,500): a fault of the media descriptor, so media_invalid, not text_too_long.",
        signed(
            &with_content(Content {
                media: vec![media_alt],
                ..Content::default()
            }),
            ANA,
        ),
        "media_invalid",
    );

    // too_many_items
    let tags: Vec<String> = (0..31).map(|i| format!("tag{i}")).collect();
    g.invalid(
        "too_many_items",
        "post-31-tags",
        "A post with 31 hashtags; at most 30.",
        signed(
            &with_content(Content {
                text: "Demasiadas etiquetas".into(),
                tags,
                ..Content::default()
            }),
            ANA,
        ),
        "too_many_items",
    );
    let media: Vec<MediaDescriptor> = (0..11)
        .map(|i| {
            image(
                &format!("m{i}.jpg"),
                "image/jpeg",
                (100, 100),
                1_000,
                "foto",
            )
        })
        .collect();
    g.invalid(
        "too_many_items",
        "post-11-media",
        "A post with 11 media descriptors; at most 10.",
        signed(
            &with_content(Content {
                media,
                ..Content::default()
            }),
            ANA,
        ),
        "too_many_items",
    );
    let mut thumbs = image("t.jpg", "image/jpeg", (100, 100), 1_000, "foto");
    thumbs.thumbs = (0..5)
        .map(|i| media_cid(0x55, &format!("thumb{i}")))
        .collect();
    g.invalid(
        "media_invalid",
        "media-5-thumbs",
        "A media descriptor with 5 thumbnails; at most 4 (media_invalid, not too_many_items).",
        signed(
            &with_content(Content {
                media: vec![thumbs],
                ..Content::default()
            }),
            ANA,
        ),
        "media_invalid",
    );
    let mut many_refs = text_post("Hola a todos");
    for n in 11..=139u8 {
        many_refs = many_refs.ref_identity(Rel::Mention, pk(n));
    }
    g.invalid(
        "too_many_items",
        "refs-129",
        "A post with 129 references; no event may carry more than 128.",
        signed(&many_refs, ANA),
        "too_many_items",
    );

    // field_invalid
    g.invalid(
        "field_invalid",
        "text-with-nul",
        "Post text containing a NUL character.",
        signed(&text_post("hola\0mundo"), ANA),
        "field_invalid",
    );
    g.invalid(
        "field_invalid",
        "post-whitespace-only",
        "A post whose text is only white space and that has no media.",
        signed(&text_post(" \n\t "), ANA),
        "field_invalid",
    );
    let mut ev = text_post("Hello");
    if let Payload::Post(p) = &mut ev.payload {
        p.content.lang = Some("EN".into());
    }
    g.invalid(
        "field_invalid",
        "lang-upper-case",
        "Language tag `EN`: the primary subtag is lower case (`en`).",
        signed(&ev, ANA),
        "field_invalid",
    );
    g.invalid(
        "field_invalid",
        "profile-link-not-http",
        "A profile link that is not an http(s) URL.",
        signed(
            &UnsignedEvent::new(
                ana,
                T0,
                Profile {
                    name: "Ana".into(),
                    links: vec!["javascript:alert(1)".into()],
                    ..Profile::default()
                },
            ),
            ANA,
        ),
        "field_invalid",
    );
    g.invalid(
        "field_invalid",
        "profile-link-scheme-only",
        "A profile link `http://` with nothing after the scheme.",
        signed(
            &UnsignedEvent::new(
                ana,
                T0,
                Profile {
                    name: "Ana".into(),
                    links: vec!["http://".into()],
                    ..Profile::default()
                },
            ),
            ANA,
        ),
        "field_invalid",
    );
    let mut alt_empty = image("y.jpg", "image/jpeg", (10, 10), 100, "x");
    alt_empty.alt = Some("  ".into());
    g.invalid(
        "media_invalid",
        "media-alt-blank",
        "Alt text that is only white space (leave `alt` out instead).",
        signed(
            &with_content(Content {
                media: vec![alt_empty],
                ..Content::default()
            }),
            ANA,
        ),
        "media_invalid",
    );

    g.invalid(
        "field_invalid",
        "optional-text-empty",
        "A delete whose optional `reason` is given as \"\": an optional text, when given, must not be blank.",
        signed(
            &UnsignedEvent::new(
                ana,
                T0 + DAY,
                Delete {
                    reason: Some(String::new()),
                },
            )
            .ref_event(Rel::Target, w.ana_post.id()),
            ANA,
        ),
        "field_invalid",
    );

    // hashtag_invalid
    for (name, description, tag) in [
        (
            "tag-not-lower-case",
            "Tag `Adopción`: stored tags are lower case (`adopción`).",
            "Adopción",
        ),
        (
            "tag-with-hash",
            "Tag `#rust`: stored without the `#`.",
            "#rust",
        ),
        (
            "tag-decomposed",
            "Tag `adopcio\u{301}n` in NFD (o + combining acute): stored tags are NFC.",
            "adopcio\u{301}n",
        ),
        (
            "tag-digits-only",
            "Tag `2026`: a tag is not only digits.",
            "2026",
        ),
        (
            "tag-with-space",
            "Tag `buenos días` with a space.",
            "buenos días",
        ),
        ("tag-empty", "An empty tag.", ""),
    ] {
        g.invalid(
            "hashtag_invalid",
            name,
            description,
            signed(
                &with_content(Content {
                    text: "Etiquetas".into(),
                    tags: vec![tag.into()],
                    ..Content::default()
                }),
                ANA,
            ),
            "hashtag_invalid",
        );
    }

    // media_invalid
    let base = image("z.jpg", "image/jpeg", (800, 600), 50_000, "una foto");
    let cases: Vec<(&str, &str, MediaDescriptor)> = vec![
        (
            "image-without-dimensions",
            "An image without width and height.",
            MediaDescriptor {
                width: None,
                height: None,
                ..base.clone()
            },
        ),
        (
            "mime-not-media",
            "MIME type `application/pdf`: only image, video and audio.",
            MediaDescriptor {
                mime: "application/pdf".into(),
                width: None,
                height: None,
                ..base.clone()
            },
        ),
        (
            "mime-with-parameters",
            "MIME type with a parameter, `image/jpeg; q=1`.",
            MediaDescriptor {
                mime: "image/jpeg; q=1".into(),
                ..base.clone()
            },
        ),
        (
            "mime-upper-case",
            "MIME type `Image/JPEG`: lower case only.",
            MediaDescriptor {
                mime: "Image/JPEG".into(),
                ..base.clone()
            },
        ),
        (
            "size-zero",
            "A media object of 0 bytes.",
            MediaDescriptor {
                size: 0,
                ..base.clone()
            },
        ),
        (
            "size-over-4gib",
            "A media object of 4 GiB + 1 byte.",
            MediaDescriptor {
                size: (4 << 30) + 1,
                ..base.clone()
            },
        ),
        (
            "image-too-wide",
            "An image 16,385 pixels wide (at most 16,384).",
            MediaDescriptor {
                width: Some(16_385),
                ..base.clone()
            },
        ),
        (
            "image-with-duration",
            "An image with a duration.",
            MediaDescriptor {
                duration_ms: Some(1_000),
                ..base.clone()
            },
        ),
        (
            "video-with-one-dimension",
            "A video with a width but no height.",
            MediaDescriptor {
                mime: "video/mp4".into(),
                height: None,
                ..base.clone()
            },
        ),
        (
            "image-with-waveform",
            "An image with a waveform: only audio has one.",
            MediaDescriptor {
                waveform: Some(vec![1, 2, 3]),
                ..base.clone()
            },
        ),
        (
            "audio-empty-waveform",
            "Audio with a waveform of no slices.",
            MediaDescriptor {
                mime: "audio/ogg".into(),
                width: None,
                height: None,
                waveform: Some(vec![]),
                ..base.clone()
            },
        ),
        (
            "rendition-other-class",
            "An image whose rendition is a video.",
            MediaDescriptor {
                renditions: vec![Rendition {
                    cid: media_cid(0x55, "z.mp4"),
                    mime: "video/mp4".into(),
                    size: 10,
                    width: Some(8),
                    height: Some(6),
                }],
                ..base.clone()
            },
        ),
        (
            "five-renditions",
            "An image with five renditions (at most four).",
            MediaDescriptor {
                renditions: (0..5)
                    .map(|i| Rendition {
                        cid: media_cid(0x55, &format!("z-{i}.webp")),
                        mime: "image/webp".into(),
                        size: 10,
                        width: Some(8),
                        height: Some(6),
                    })
                    .collect(),
                ..base.clone()
            },
        ),
        (
            "audio-with-dimensions",
            "Audio with width and height.",
            MediaDescriptor {
                mime: "audio/ogg".into(),
                duration_ms: Some(3_000),
                ..base.clone()
            },
        ),
    ];
    for (name, description, m) in cases {
        g.invalid(
            "media_invalid",
            name,
            description,
            signed(
                &with_content(Content {
                    media: vec![m],
                    ..Content::default()
                }),
                ANA,
            ),
            "media_invalid",
        );
    }
    g.invalid(
        "media_invalid",
        "profile-avatar-is-video",
        "A profile avatar that is a video: avatars are images.",
        signed(
            &UnsignedEvent::new(
                ana,
                T0,
                Profile {
                    name: "Ana".into(),
                    avatar: Some(video("v.mp4", (512, 512), 90_000, 3_000, "un vídeo")),
                    ..Profile::default()
                },
            ),
            ANA,
        ),
        "media_invalid",
    );

    // refs_invalid
    g.invalid(
        "refs_invalid",
        "ref-repeated",
        "The same mention twice.",
        signed(
            &text_post("Hola Ben")
                .ref_identity(Rel::Mention, ben)
                .ref_identity(Rel::Mention, ben),
            ANA,
        ),
        "refs_invalid",
    );
    g.invalid(
        "refs_invalid",
        "ref-relation-not-allowed",
        "A post with a `target` reference (posts take mentions and a community).",
        signed(
            &text_post("Mirad esto").ref_event(Rel::Target, w.ben_post.id()),
            ANA,
        ),
        "refs_invalid",
    );
    g.invalid(
        "refs_invalid",
        "mention-points-at-event",
        "A `mention` that points at an event instead of an identity.",
        signed(
            &text_post("Mirad esto").ref_event(Rel::Mention, w.ben_post.id()),
            ANA,
        ),
        "refs_invalid",
    );
    g.invalid(
        "refs_invalid",
        "community-points-at-identity",
        "A `community` reference that points at an identity.",
        signed(&text_post("Hola").ref_identity(Rel::Community, ben), ANA),
        "refs_invalid",
    );
    let mut mentions = text_post("Hola a todos");
    for n in 11..=61u8 {
        mentions = mentions.ref_identity(Rel::Mention, pk(n));
    }
    g.invalid(
        "refs_invalid",
        "post-51-mentions",
        "A post with 51 mentions: at most 50 (the 128-reference limit is not reached).",
        signed(&mentions, ANA),
        "refs_invalid",
    );
    g.invalid(
        "refs_invalid",
        "reply-two-parents",
        "A reply with two `parent` references.",
        signed(
            &UnsignedEvent::new(
                ben,
                T0,
                Reply {
                    content: Content::text("Sí"),
                },
            )
            .ref_event(Rel::Root, w.ana_post.id())
            .ref_event(Rel::Parent, w.ana_post.id())
            .ref_event(Rel::Parent, w.reply.id()),
            BEN,
        ),
        "refs_invalid",
    );

    // expiry_invalid
    let story = |expires_at: u64| {
        UnsignedEvent::new(
            ana,
            T0,
            Story {
                text: "Hoy en la huerta".into(),
                media: None,
                expires_at,
            },
        )
    };
    g.invalid(
        "expiry_invalid",
        "story-24h-and-1ms",
        "A story expiring 24 hours and 1 ms after its creation.",
        signed(&story(T0 + DAY + 1), ANA),
        "expiry_invalid",
    );
    g.invalid(
        "expiry_invalid",
        "story-expires-at-creation",
        "A story whose expires_at equals its created_at.",
        signed(&story(T0), ANA),
        "expiry_invalid",
    );
    g.invalid(
        "expiry_invalid",
        "delegation-already-expired",
        "A delegation that expires an hour before it is created.",
        signed(
            &UnsignedEvent::new(
                ana,
                T0,
                Delegation {
                    kinds: vec![Kind::Post],
                    expires_at: T0 - HOUR,
                },
            )
            .ref_identity(Rel::Subject, pk(ANA_PHONE)),
            ANA,
        ),
        "expiry_invalid",
    );
    g.invalid(
        "expiry_invalid",
        "listing-expired-at-creation",
        "A listing whose expires_at is before its created_at.",
        signed(
            &UnsignedEvent::new(
                pk(CARLA),
                T0,
                Listing {
                    expires_at: Some(T0 - DAY),
                    ..listing_payload(w)
                },
            ),
            CARLA,
        ),
        "expiry_invalid",
    );

    // not_delegable
    g.invalid(
        "not_delegable",
        "direct-message-delegated",
        "A direct message signed by a key other than its author's.",
        signed(
            &UnsignedEvent::new(
                pk(ONE_TIME),
                T0,
                DirectMessage {
                    inbox: vec![7; 32],
                    ciphertext: vec![1, 2, 3],
                },
            )
            .signed_by(pk(ANA_PHONE)),
            ANA_PHONE,
        ),
        "not_delegable",
    );
    g.invalid(
        "not_delegable",
        "delegation-signed-by-delegate",
        "Ana's phone tries to delegate to Ana's laptop: delegation is one level deep.",
        signed(
            &UnsignedEvent::new(
                ana,
                T0,
                Delegation {
                    kinds: vec![Kind::Post],
                    expires_at: T0 + DAY,
                },
            )
            .signed_by(pk(ANA_PHONE))
            .ref_identity(Rel::Subject, pk(ANA_LAPTOP)),
            ANA_PHONE,
        ),
        "not_delegable",
    );
    g.invalid(
        "not_delegable",
        "revocation-signed-by-delegate",
        "Ana's phone revokes its own delegation: only the author's own key revokes.",
        signed(
            &UnsignedEvent::new(ana, T0 + DAY, Revocation::default())
                .signed_by(pk(ANA_PHONE))
                .ref_event(Rel::Target, w.delegation.id()),
            ANA_PHONE,
        ),
        "not_delegable",
    );
}

fn listing_payload(w: &World) -> Listing {
    match w.bike.payload() {
        Payload::Listing(l) => l.clone(),
        _ => unreachable!(),
    }
}

// ---------------------------------------------------------------------------
// Invalid: one (or more) per kind, breaking that kind's own rules.

fn kind_vectors(g: &mut Gen, w: &World) {
    let ana = pk(ANA);
    let ben = pk(BEN);
    let carla = pk(CARLA);
    let dani = pk(DANI);
    let community = w.community.id();
    let t = T0 + DAY;

    g.kind_rule(
        "profile-empty-name",
        "A profile whose name is only white space.",
        &UnsignedEvent::new(
            ana,
            t,
            Profile {
                name: "   ".into(),
                ..Profile::default()
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "profile-nostr-key-31-bytes",
        "A profile whose linked Nostr key is 31 bytes: BIP-340 keys are 32.",
        &UnsignedEvent::new(
            ana,
            t,
            Profile {
                name: "Ana".into(),
                nostr: Some(vec![7; 31]),
                ..Profile::default()
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "profile-duplicate-language",
        "A profile listing `es` twice.",
        &UnsignedEvent::new(
            ana,
            t,
            Profile {
                name: "Ana".into(),
                langs: vec!["es".into(), "es".into()],
                ..Profile::default()
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "post-empty",
        "A post with neither text nor media.",
        &UnsignedEvent::new(ana, t, Post::default()),
        "field_invalid",
    );
    g.kind_rule(
        "reply-without-root",
        "A reply with a `parent` but no `root`.",
        &UnsignedEvent::new(
            ben,
            t,
            Reply {
                content: Content::text("¡Genial!"),
            },
        )
        .ref_event(Rel::Parent, w.ana_post.id()),
        "refs_invalid",
    );
    g.kind_rule(
        "reaction-without-target",
        "A reaction that reacts to nothing.",
        &UnsignedEvent::new(
            ben,
            t,
            Reaction {
                reaction: ReactionType::Like,
            },
        ),
        "refs_invalid",
    );
    g.kind_rule(
        "repost-of-identity",
        "A repost whose `target` is an identity.",
        &UnsignedEvent::new(ben, t, Repost {}).ref_identity(Rel::Target, ana),
        "refs_invalid",
    );
    g.kind_rule(
        "quote-without-target",
        "A quote that quotes nothing.",
        &UnsignedEvent::new(
            ben,
            t,
            Quote {
                content: Content::text("Mirad"),
            },
        ),
        "refs_invalid",
    );
    g.kind_rule(
        "delete-two-targets",
        "A delete of two events at once (one per delete).",
        &UnsignedEvent::new(ana, t, Delete::default())
            .ref_event(Rel::Target, w.ana_post.id())
            .ref_event(Rel::Target, w.story.id()),
        "refs_invalid",
    );
    g.kind_rule(
        "follow-self",
        "Ana follows herself.",
        &UnsignedEvent::new(ana, t, Follow {}).ref_identity(Rel::Subject, ana),
        "refs_invalid",
    );
    g.kind_rule(
        "unfollow-without-subject",
        "An unfollow that names nobody.",
        &UnsignedEvent::new(ana, t, Unfollow {}),
        "refs_invalid",
    );
    g.kind_rule(
        "block_list-contains-author",
        "A block list that blocks its own author.",
        &UnsignedEvent::new(
            ana,
            t,
            BlockList {
                keys: vec![pk(FRAN), ana],
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "block_list-duplicate-key",
        "A block list naming the same identity twice.",
        &UnsignedEvent::new(
            ana,
            t,
            BlockList {
                keys: vec![pk(FRAN), pk(FRAN)],
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "mute_list-blank-word",
        "A mute list with a blank word.",
        &UnsignedEvent::new(
            ana,
            t,
            MuteList {
                keys: vec![],
                words: vec!["spoiler".into(), " ".into()],
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "story-expires-25h",
        "A story that would live 25 hours.",
        &UnsignedEvent::new(
            ana,
            t,
            Story {
                text: "Mañana vuelvo".into(),
                media: None,
                expires_at: t + 25 * HOUR,
            },
        ),
        "expiry_invalid",
    );
    g.kind_rule(
        "story-empty",
        "A story with neither media nor text.",
        &UnsignedEvent::new(
            ana,
            t,
            Story {
                text: String::new(),
                media: None,
                expires_at: t + HOUR,
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "highlight-without-items",
        "A highlight that keeps nothing.",
        &UnsignedEvent::new(
            ana,
            t,
            Highlight {
                name: "Vacío".into(),
                items: vec![],
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "highlight-blank-item",
        "A highlight item with neither media nor text.",
        &UnsignedEvent::new(
            ana,
            t,
            Highlight {
                name: "Blank".into(),
                items: vec![HighlightItem {
                    text: "  ".into(),
                    media: None,
                }],
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "story_view-outlives-a-day",
        "A view receipt expiring 24 hours and 1 ms after its creation.",
        &UnsignedEvent::new(
            ben,
            t,
            StoryView {
                expires_at: t + DAY + 1,
            },
        )
        .ref_event(Rel::Story, w.story.id()),
        "expiry_invalid",
    );
    g.kind_rule(
        "direct_message-short-inbox",
        "A direct message whose inbox hint is 31 bytes (it is 32).",
        &UnsignedEvent::new(
            pk(ONE_TIME),
            t,
            DirectMessage {
                inbox: vec![7; 31],
                ciphertext: vec![1, 2, 3],
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "direct_message-empty-ciphertext",
        "A direct message with no ciphertext.",
        &UnsignedEvent::new(
            pk(ONE_TIME),
            t,
            DirectMessage {
                inbox: vec![7; 32],
                ciphertext: vec![],
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "listing-bad-currency",
        "A price in `euro` instead of the ISO 4217 code `EUR`.",
        &UnsignedEvent::new(
            carla,
            t,
            Listing {
                price: Price {
                    amount: 15_000,
                    currency: "euro".into(),
                },
                ..listing_payload(w)
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "listing-withdrawn-without-edit",
        "A new listing that is already withdrawn (only an edit withdraws).",
        &UnsignedEvent::new(
            carla,
            t,
            Listing {
                withdrawn: true,
                ..listing_payload(w)
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "listing-bad-category",
        "A category with upper case and spaces, `Home/Muebles Viejos`.",
        &UnsignedEvent::new(
            carla,
            t,
            Listing {
                category: "Home/Muebles Viejos".into(),
                ..listing_payload(w)
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "listing-no-delivery",
        "A listing that offers no delivery option (reported on `delivery`).",
        &UnsignedEvent::new(
            carla,
            t,
            Listing {
                delivery: vec![],
                ..listing_payload(w)
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "listing-no-payment",
        "A listing that accepts no payment method (reported on `payment`).",
        &UnsignedEvent::new(
            carla,
            t,
            Listing {
                payment: vec![],
                ..listing_payload(w)
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "order-quantity-zero",
        "An order of 0 units.",
        &UnsignedEvent::new(
            dani,
            t,
            Order {
                quantity: 0,
                delivery: DeliveryOption::Pickup,
                payment: PaymentMethod::CashOnPickup,
            },
        )
        .ref_event(Rel::Listing, w.bike.id())
        .ref_identity(Rel::Seller, carla),
        "field_invalid",
    );
    g.kind_rule(
        "order-from-self",
        "Carla orders from herself.",
        &UnsignedEvent::new(
            carla,
            t,
            Order {
                quantity: 1,
                delivery: DeliveryOption::Pickup,
                payment: PaymentMethod::CashOnPickup,
            },
        )
        .ref_event(Rel::Listing, w.bike.id())
        .ref_identity(Rel::Seller, carla),
        "refs_invalid",
    );
    g.kind_rule(
        "trade_update-state-ordered",
        "A trade update that moves to `ordered` (a trade starts with an order).",
        &UnsignedEvent::new(
            carla,
            t,
            TradeUpdate {
                state: TradeState::Ordered,
                note: None,
                tracking: None,
            },
        )
        .ref_event(Rel::Order, w.jam_order.id())
        .ref_event(Rel::Prev, w.jam_order.id()),
        "field_invalid",
    );
    g.kind_rule(
        "trade_update-tracking-not-shipped",
        "A tracking reference on an `accepted` step.",
        &UnsignedEvent::new(
            carla,
            t,
            TradeUpdate {
                state: TradeState::Accepted,
                note: None,
                tracking: Some("PK4Q2X0957ES".into()),
            },
        )
        .ref_event(Rel::Order, w.jam_order.id())
        .ref_event(Rel::Prev, w.jam_order.id()),
        "field_invalid",
    );
    g.kind_rule(
        "trade_update-without-prev",
        "A trade update without `prev`.",
        &UnsignedEvent::new(
            carla,
            t,
            TradeUpdate {
                state: TradeState::Accepted,
                note: None,
                tracking: None,
            },
        )
        .ref_event(Rel::Order, w.jam_order.id()),
        "refs_invalid",
    );
    g.kind_rule(
        "review-six-stars",
        "A rating of 6 (1 to 5).",
        &UnsignedEvent::new(
            dani,
            t,
            Review {
                rating: 6,
                text: String::new(),
            },
        )
        .ref_event(Rel::Order, w.jam_order.id())
        .ref_identity(Rel::Subject, carla),
        "field_invalid",
    );
    g.kind_rule(
        "review-zero-stars",
        "A rating of 0 (1 to 5).",
        &UnsignedEvent::new(
            dani,
            t,
            Review {
                rating: 0,
                text: "Nunca llegó".into(),
            },
        )
        .ref_event(Rel::Order, w.jam_order.id())
        .ref_identity(Rel::Subject, carla),
        "field_invalid",
    );
    g.kind_rule(
        "community-lowercase-currency",
        "A community currency code in lower case.",
        &UnsignedEvent::new(
            ana,
            t,
            Community {
                name: "Huerta".into(),
                description: String::new(),
                rules: vec![],
                avatar: None,
                visibility: Visibility::Open,
                currency: Some("huerta".into()),
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "membership-without-community",
        "Joining no community.",
        &UnsignedEvent::new(
            ben,
            t,
            Membership {
                action: MembershipAction::Join,
            },
        ),
        "refs_invalid",
    );
    g.kind_rule(
        "role_grant-to-self",
        "Granting a role to oneself.",
        &UnsignedEvent::new(ben, t, RoleGrant { role: Role::Admin })
            .ref_event(Rel::Community, community)
            .ref_identity(Rel::Subject, ben),
        "refs_invalid",
    );
    g.kind_rule(
        "role_revoke-without-subject",
        "Revoking a role from nobody.",
        &UnsignedEvent::new(
            ana,
            t,
            RoleRevoke {
                role: Role::Moderator,
            },
        )
        .ref_event(Rel::Community, community),
        "refs_invalid",
    );
    g.kind_rule(
        "moderation-ban-with-target",
        "A ban that names an event instead of an identity.",
        &UnsignedEvent::new(
            pk(ELI),
            t,
            Moderation {
                action: ModAction::Ban,
                reason: None,
            },
        )
        .ref_event(Rel::Community, community)
        .ref_event(Rel::Target, w.fran_spam.id()),
        "refs_invalid",
    );
    g.kind_rule(
        "moderation-remove-identity",
        "A removal that names an identity instead of an event.",
        &UnsignedEvent::new(
            pk(ELI),
            t,
            Moderation {
                action: ModAction::Remove,
                reason: None,
            },
        )
        .ref_event(Rel::Community, community)
        .ref_identity(Rel::Subject, pk(FRAN)),
        "refs_invalid",
    );
    g.kind_rule(
        "calendar_event-ends-before-start",
        "An event that ends an hour before it starts.",
        &UnsignedEvent::new(
            ana,
            t,
            CalendarEvent {
                title: "Siembra".into(),
                description: String::new(),
                starts_at: T0 + 7 * DAY,
                ends_at: Some(T0 + 7 * DAY - HOUR),
                location: None,
                url: None,
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "calendar_event-bad-url",
        "An online event whose link is not an http(s) URL.",
        &UnsignedEvent::new(
            ana,
            t,
            CalendarEvent {
                title: "Charla online".into(),
                description: String::new(),
                starts_at: T0 + 7 * DAY,
                ends_at: None,
                location: None,
                url: Some("ftp://huerta.example.org/charla".into()),
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "rsvp-target-is-identity",
        "An RSVP whose `target` is an identity.",
        &UnsignedEvent::new(
            ben,
            t,
            Rsvp {
                status: RsvpStatus::Maybe,
            },
        )
        .ref_identity(Rel::Target, ana),
        "refs_invalid",
    );
    g.kind_rule(
        "poll-one-option",
        "A poll with a single option.",
        &UnsignedEvent::new(
            ana,
            t,
            Poll {
                mode: PollMode::Poll,
                question: "¿Regamos el domingo?".into(),
                options: vec!["Sí".into()],
                closes_at: t + DAY,
                multiple: false,
            },
        ),
        "field_invalid",
    );
    g.kind_rule(
        "poll-closes-before-creation",
        "A poll that closes before it is created.",
        &UnsignedEvent::new(
            ana,
            t,
            Poll {
                mode: PollMode::Poll,
                question: "¿Regamos el domingo?".into(),
                options: vec!["Sí".into(), "No".into()],
                closes_at: t - DAY,
                multiple: false,
            },
        ),
        "expiry_invalid",
    );
    g.kind_rule(
        "vote-descending-choices",
        "Choices [2, 0]: they must be ascending.",
        &UnsignedEvent::new(
            ben,
            t,
            Vote {
                choices: vec![2, 0],
            },
        )
        .ref_event(Rel::Target, w.poll.id()),
        "field_invalid",
    );
    g.kind_rule(
        "vote-repeated-choice",
        "Choices [1, 1].",
        &UnsignedEvent::new(
            ben,
            t,
            Vote {
                choices: vec![1, 1],
            },
        )
        .ref_event(Rel::Target, w.poll.id()),
        "field_invalid",
    );
    g.kind_rule(
        "vote-empty",
        "A vote with no choice.",
        &UnsignedEvent::new(ben, t, Vote { choices: vec![] }).ref_event(Rel::Target, w.poll.id()),
        "field_invalid",
    );
    g.kind_rule(
        "report-target-and-subject",
        "A report of an event and an identity at once.",
        &UnsignedEvent::new(
            ben,
            t,
            Report {
                reason: ReportReason::Spam,
                text: String::new(),
            },
        )
        .ref_event(Rel::Target, w.fran_spam.id())
        .ref_identity(Rel::Subject, pk(FRAN)),
        "refs_invalid",
    );
    g.kind_rule(
        "label-upper-case",
        "A label `NSFW`: labels are `a-z`, `0-9` and `-`.",
        &UnsignedEvent::new(
            ana,
            t,
            Label {
                labels: vec!["NSFW".into()],
                negate: false,
            },
        )
        .ref_event(Rel::Target, w.ben_post.id()),
        "field_invalid",
    );
    g.kind_rule(
        "label-none",
        "A label event with no labels.",
        &UnsignedEvent::new(
            ana,
            t,
            Label {
                labels: vec![],
                negate: false,
            },
        )
        .ref_event(Rel::Target, w.ben_post.id()),
        "field_invalid",
    );
    g.kind_rule(
        "delegation-of-delegation",
        "A delegation that would let the delegate delegate.",
        &UnsignedEvent::new(
            ana,
            t,
            Delegation {
                kinds: vec![Kind::Post, Kind::Delegation],
                expires_at: t + DAY,
            },
        )
        .ref_identity(Rel::Subject, pk(ANA_PHONE)),
        "field_invalid",
    );
    g.kind_rule(
        "delegation-of-direct_message",
        "A delegation of `direct_message`, which only its author's own key may sign.",
        &UnsignedEvent::new(
            ana,
            t,
            Delegation {
                kinds: vec![Kind::DirectMessage],
                expires_at: t + DAY,
            },
        )
        .ref_identity(Rel::Subject, pk(ANA_PHONE)),
        "field_invalid",
    );
    g.kind_rule(
        "delegation-to-self",
        "Ana delegates to her own key.",
        &UnsignedEvent::new(
            ana,
            t,
            Delegation {
                kinds: vec![Kind::Post],
                expires_at: t + DAY,
            },
        )
        .ref_identity(Rel::Subject, ana),
        "refs_invalid",
    );
    g.kind_rule(
        "delegation-no-kinds",
        "A delegation of no kinds.",
        &UnsignedEvent::new(
            ana,
            t,
            Delegation {
                kinds: vec![],
                expires_at: t + DAY,
            },
        )
        .ref_identity(Rel::Subject, pk(ANA_PHONE)),
        "field_invalid",
    );
    g.kind_rule(
        "revocation-keep-before-after-itself",
        "A revocation keeping events created after the revocation itself.",
        &UnsignedEvent::new(
            ana,
            t,
            Revocation {
                keep_before: Some(t + 1),
            },
        )
        .ref_event(Rel::Target, w.delegation.id()),
        "field_invalid",
    );
    g.kind_rule(
        "transfer-zero-amount",
        "A transfer of 0 units.",
        &UnsignedEvent::new(
            ben,
            t,
            Transfer {
                amount: 0,
                memo: None,
            },
        )
        .ref_event(Rel::Community, community)
        .ref_identity(Rel::Subject, pk(ELI)),
        "field_invalid",
    );
    g.kind_rule(
        "transfer-to-self",
        "A transfer to oneself.",
        &UnsignedEvent::new(
            ben,
            t,
            Transfer {
                amount: 10,
                memo: None,
            },
        )
        .ref_event(Rel::Community, community)
        .ref_identity(Rel::Subject, ben),
        "refs_invalid",
    );
}

// ---------------------------------------------------------------------------
// Auth: the stateful rules.

fn auth_vectors(g: &mut Gen, w: &World) {
    let ana = pk(ANA);
    let ben = pk(BEN);
    let carla = pk(CARLA);
    let dani = pk(DANI);
    let phone = pk(ANA_PHONE);

    // check_signer
    let own = Case::Signer {
        delegation: None,
        revocations: vec![],
    };
    g.auth(
        "signer-own-key",
        "Signed by the author's own key: nothing else is needed.",
        &w.ana_post,
        own,
        None,
    );
    g.auth(
        "signer-delegated-in-window",
        "A post signed by Ana's phone, created inside the delegation's window.",
        &w.delegated_post,
        Case::Signer {
            delegation: Some(&w.delegation),
            revocations: vec![],
        },
        None,
    );
    g.auth(
        "signer-delegated-kept-by-revocation",
        "The delegation was later revoked with keep_before after the post: the post stays valid.",
        &w.delegated_post,
        Case::Signer {
            delegation: Some(&w.delegation),
            revocations: vec![&w.revocation_keep],
        },
        None,
    );
    g.auth(
        "signer-delegation-missing",
        "A delegated post checked without its delegation.",
        &w.delegated_post,
        Case::Signer {
            delegation: None,
            revocations: vec![],
        },
        Some("delegation_missing"),
    );
    let laptop_delegation = sign(
        UnsignedEvent::new(
            ana,
            T0 - DAY,
            Delegation {
                kinds: vec![Kind::Post],
                expires_at: T0 + 90 * DAY,
            },
        )
        .ref_identity(Rel::Subject, pk(ANA_LAPTOP)),
        ANA,
    );
    g.auth(
        "signer-delegation-other-key",
        "The delegation supplied is Ana's delegation to her laptop, not to the phone that signed.",
        &w.delegated_post,
        Case::Signer {
            delegation: Some(&laptop_delegation),
            revocations: vec![],
        },
        Some("delegation_mismatch"),
    );
    let ben_by_phone = sign(
        UnsignedEvent::new(ben, T0 + HOUR, post("Not really Ben", "en")).signed_by(phone),
        ANA_PHONE,
    );
    g.auth(
        "signer-delegation-other-author",
        "Ana's phone signs a post claiming Ben as author, with Ana's delegation.",
        &ben_by_phone,
        Case::Signer {
            delegation: Some(&w.delegation),
            revocations: vec![],
        },
        Some("delegation_mismatch"),
    );
    let phone_follow = sign(
        UnsignedEvent::new(ana, T0 + HOUR, Follow {})
            .signed_by(phone)
            .ref_identity(Rel::Subject, ben),
        ANA_PHONE,
    );
    g.auth(
        "signer-delegation-kind-not-covered",
        "Ana's phone signs a follow; the delegation covers post, reply, reaction, repost and story only.",
        &phone_follow,
        Case::Signer {
            delegation: Some(&w.delegation),
            revocations: vec![],
        },
        Some("delegation_kind"),
    );
    let phone_post_at = |at: u64, text: &str| {
        sign(
            UnsignedEvent::new(ana, at, post(text, "es")).signed_by(phone),
            ANA_PHONE,
        )
    };
    g.auth(
        "signer-delegation-expired",
        "A post the phone signed at the delegation's expires_at (the window excludes its end).",
        &phone_post_at(T0 + 90 * DAY, "Último día"),
        Case::Signer {
            delegation: Some(&w.delegation),
            revocations: vec![],
        },
        Some("delegation_expired"),
    );
    g.auth(
        "signer-delegation-not-yet",
        "A post the phone signed 1 ms before the delegation was created.",
        &phone_post_at(w.delegation.created_at() - 1, "Demasiado pronto"),
        Case::Signer {
            delegation: Some(&w.delegation),
            revocations: vec![],
        },
        Some("delegation_expired"),
    );
    g.auth(
        "signer-delegation-revoked-after-keep-before",
        "A post the phone signed after the revocation's keep_before.",
        &phone_post_at(T0 + 30 * DAY + MINUTE, "Después de revocar"),
        Case::Signer {
            delegation: Some(&w.delegation),
            revocations: vec![&w.revocation_keep],
        },
        Some("delegation_revoked"),
    );
    let compromised = sign(
        UnsignedEvent::new(ana, T0 + 31 * DAY, Revocation::default())
            .ref_event(Rel::Target, w.delegation.id()),
        ANA,
    );
    g.auth(
        "signer-delegation-revoked-compromised",
        "A revocation without keep_before voids even posts signed before it.",
        &w.delegated_post,
        Case::Signer {
            delegation: Some(&w.delegation),
            revocations: vec![&compromised],
        },
        Some("delegation_revoked"),
    );
    g.auth(
        "signer-delegation-not-a-delegation",
        "The event supplied as the delegation is a post.",
        &w.delegated_post,
        Case::Signer {
            delegation: Some(&w.ana_post),
            revocations: vec![],
        },
        Some("wrong_target_kind"),
    );
    let other_revocation = sign(
        UnsignedEvent::new(ana, T0 + 31 * DAY, Revocation::default())
            .ref_event(Rel::Target, laptop_delegation.id()),
        ANA,
    );
    g.auth(
        "signer-revocation-of-other-delegation",
        "The revocation supplied revokes another delegation: the caller passed the wrong state.",
        &w.delegated_post,
        Case::Signer {
            delegation: Some(&w.delegation),
            revocations: vec![&other_revocation],
        },
        Some("state_mismatch"),
    );

    let no_ones_post = sign(
        UnsignedEvent::new(
            raw_key(IDENTITY_POINT),
            T0 + HOUR,
            post("Who speaks here?", "en"),
        )
        .signed_by(ben),
        BEN,
    );
    g.auth(
        "signer-author-unusable-key",
        "Ben signs a post whose author is the identity point (01 00…00), which no one can hold: the event is valid (only the signer's key is checked), but no delegation from that author can exist, so it is never authorised.",
        &no_ones_post,
        Case::Signer {
            delegation: None,
            revocations: vec![],
        },
        Some("delegation_missing"),
    );

    // check_delete
    let typo = sign(
        UnsignedEvent::new(ana, T0 + 30 * MINUTE, post("Mañna riego a las 9", "es")),
        ANA,
    );
    assert_eq!(w.delete.event_ref(Rel::Target), Some(typo.id()));
    g.auth(
        "delete-own-event",
        "Ana deletes her own post.",
        &w.delete,
        Case::Delete { target: &typo },
        None,
    );
    let delete_bens = sign(
        UnsignedEvent::new(ana, T0 + HOUR, Delete::default())
            .ref_event(Rel::Target, w.ben_post.id()),
        ANA,
    );
    g.auth(
        "delete-someone-elses-event",
        "Ana tries to delete Ben's post.",
        &delete_bens,
        Case::Delete {
            target: &w.ben_post,
        },
        Some("not_author"),
    );
    let undelete = sign(
        UnsignedEvent::new(ana, T0 + HOUR, Delete::default()).ref_event(Rel::Target, w.delete.id()),
        ANA,
    );
    g.auth(
        "delete-of-delete",
        "Ana deletes her own delete: there is no undelete.",
        &undelete,
        Case::Delete { target: &w.delete },
        Some("not_deletable"),
    );
    let delete_listing = sign(
        UnsignedEvent::new(pk(CARLA), T0 + 3 * DAY, Delete::default())
            .ref_event(Rel::Target, w.bike.id()),
        CARLA,
    );
    g.auth(
        "delete-of-listing",
        "Carla deletes her own listing: listings are permanent records (withdraw them with an edit).",
        &delete_listing,
        Case::Delete { target: &w.bike },
        Some("not_deletable"),
    );
    g.auth(
        "delete-wrong-target-passed",
        "The caller passes an event other than the one the delete names.",
        &w.delete,
        Case::Delete {
            target: &w.ana_post,
        },
        Some("state_mismatch"),
    );
    g.auth(
        "delete-event-is-not-delete",
        "The event checked as a delete is a post.",
        &w.ana_post,
        Case::Delete {
            target: &w.ben_post,
        },
        Some("wrong_target_kind"),
    );

    // check_order
    g.auth(
        "order-in-stock",
        "Dani's order for 2 jars, shipped and paid by transfer, with 12 in stock.",
        &w.jam_order,
        Case::Order {
            listing: &w.jam,
            available: 12,
        },
        None,
    );
    g.auth(
        "order-exactly-available",
        "2 jars ordered, 2 left.",
        &w.jam_order,
        Case::Order {
            listing: &w.jam,
            available: 2,
        },
        None,
    );
    g.auth(
        "order-more-than-available",
        "2 jars ordered, 1 left after earlier orders.",
        &w.jam_order,
        Case::Order {
            listing: &w.jam,
            available: 1,
        },
        Some("listing_unavailable"),
    );
    let bike_order = |delivery, payment, seller: PublicKey, listing: &Event| {
        sign(
            UnsignedEvent::new(
                dani,
                T0 + 2 * DAY,
                Order {
                    quantity: 1,
                    delivery,
                    payment,
                },
            )
            .ref_event(Rel::Listing, listing.id())
            .ref_identity(Rel::Seller, seller),
            DANI,
        )
    };
    g.auth(
        "order-delivery-not-offered",
        "Shipping asked for a pickup-only bicycle.",
        &bike_order(
            DeliveryOption::Shipping,
            PaymentMethod::CashOnPickup,
            carla,
            &w.bike,
        ),
        Case::Order {
            listing: &w.bike,
            available: 1,
        },
        Some("listing_unavailable"),
    );
    g.auth(
        "order-payment-not-accepted",
        "Payment link for a listing that takes cash or transfer.",
        &bike_order(
            DeliveryOption::Pickup,
            PaymentMethod::PaymentLink,
            carla,
            &w.bike,
        ),
        Case::Order {
            listing: &w.bike,
            available: 1,
        },
        Some("listing_unavailable"),
    );
    g.auth(
        "order-on-withdrawn-listing",
        "An order that names the jam listing, whose newest version withdraws it.",
        &bike_order(
            DeliveryOption::Pickup,
            PaymentMethod::BankTransfer,
            carla,
            &w.jam,
        ),
        Case::Order {
            listing: &w.jam_withdrawn,
            available: 12,
        },
        Some("listing_unavailable"),
    );
    g.auth(
        "order-wrong-seller",
        "The order names Ben as seller of Carla's listing.",
        &bike_order(
            DeliveryOption::Pickup,
            PaymentMethod::CashOnPickup,
            ben,
            &w.bike,
        ),
        Case::Order {
            listing: &w.bike,
            available: 1,
        },
        Some("not_trade_party"),
    );
    g.auth(
        "order-other-listing-passed",
        "The caller passes the bicycle listing for an order of jam.",
        &w.jam_order,
        Case::Order {
            listing: &w.bike,
            available: 1,
        },
        Some("state_mismatch"),
    );
    g.auth(
        "order-listing-is-a-post",
        "An order whose `listing` reference names a post, checked against that post.",
        &bike_order(
            DeliveryOption::Pickup,
            PaymentMethod::CashOnPickup,
            ben,
            &w.ben_post,
        ),
        Case::Order {
            listing: &w.ben_post,
            available: 1,
        },
        Some("wrong_target_kind"),
    );

    // check_order against the newest version of the listing.
    let Payload::Listing(jam_listing) = w.jam.payload() else {
        unreachable!()
    };
    let jam_edit = sign(
        UnsignedEvent::new(
            carla,
            T0 + 10 * DAY,
            Listing {
                quantity: 6,
                delivery: vec![DeliveryOption::Shipping],
                payment: vec![PaymentMethod::BankTransfer],
                ..jam_listing.clone()
            },
        )
        .ref_event(Rel::EditOf, w.jam.id()),
        CARLA,
    );
    g.auth(
        "order-original-against-newest-edit",
        "Dani's order names the original jam listing; it is judged against the listing's newest version, an edit (6 jars, shipping and bank transfer only), which offers what the order asks.",
        &w.jam_order,
        Case::Order {
            listing: &jam_edit,
            available: 6,
        },
        None,
    );
    let jam_pickup = sign(
        UnsignedEvent::new(
            dani,
            T0 + 11 * DAY,
            Order {
                quantity: 1,
                delivery: DeliveryOption::Pickup,
                payment: PaymentMethod::BankTransfer,
            },
        )
        .ref_event(Rel::Listing, w.jam.id())
        .ref_identity(Rel::Seller, carla),
        DANI,
    );
    g.auth(
        "order-option-dropped-by-edit",
        "An order for pickup naming the original jam listing, whose newest edit offers shipping only: the original's options no longer count.",
        &jam_pickup,
        Case::Order {
            listing: &jam_edit,
            available: 6,
        },
        Some("listing_unavailable"),
    );
    g.auth(
        "order-original-newest-withdrawn",
        "Dani's order names the original jam listing, whose newest version is the withdrawn edit.",
        &w.jam_order,
        Case::Order {
            listing: &w.jam_withdrawn,
            available: 12,
        },
        Some("listing_unavailable"),
    );
    let edit_order = sign(
        UnsignedEvent::new(
            dani,
            T0 + 11 * DAY,
            Order {
                quantity: 6,
                delivery: DeliveryOption::Shipping,
                payment: PaymentMethod::BankTransfer,
            },
        )
        .ref_event(Rel::Listing, jam_edit.id())
        .ref_identity(Rel::Seller, carla),
        DANI,
    );
    g.auth(
        "order-names-newest-edit",
        "An order that names the listing's newest edit instead of the listing's original event. Orders name the original (the listing's id), so the verdict never depends on which edits a node has seen.",
        &edit_order,
        Case::Order {
            listing: &jam_edit,
            available: 6,
        },
        Some("not_original"),
    );
    g.auth(
        "order-names-superseded-edit",
        "The caller passes a listing version other than the one the order names (here a later edit, while the order names an earlier edit): a caller error, state_mismatch. A node first sees that the named listing is an edit and refuses with not_original.",
        &edit_order,
        Case::Order {
            listing: &w.jam_withdrawn,
            available: 6,
        },
        Some("state_mismatch"),
    );
    let Payload::Listing(bike_listing) = w.bike.payload() else {
        unreachable!()
    };
    let bike_expires = bike_listing
        .expires_at
        .expect("the bicycle listing expires");
    let bike_order_at = |at: u64| {
        sign(
            UnsignedEvent::new(
                dani,
                at,
                Order {
                    quantity: 1,
                    delivery: DeliveryOption::Pickup,
                    payment: PaymentMethod::CashOnPickup,
                },
            )
            .ref_event(Rel::Listing, w.bike.id())
            .ref_identity(Rel::Seller, carla),
            DANI,
        )
    };
    g.auth(
        "order-just-before-expiry",
        "An order for the bicycle created 1 ms before the listing's expires_at.",
        &bike_order_at(bike_expires - 1),
        Case::Order {
            listing: &w.bike,
            available: 1,
        },
        None,
    );
    g.auth(
        "order-at-expiry",
        "An order for the bicycle created exactly at the listing's expires_at: the listing has lapsed.",
        &bike_order_at(bike_expires),
        Case::Order {
            listing: &w.bike,
            available: 1,
        },
        Some("listing_unavailable"),
    );

    // check_edit
    fn edit(original: &Event) -> Case<'_> {
        Case::Edit { original }
    }
    g.auth(
        "edit-listing-by-its-author",
        "Carla's withdrawal of the jam listing: a listing, by the original's author, `edit_of` the original.",
        &w.jam_withdrawn,
        edit(&w.jam),
        None,
    );
    g.auth(
        "edit-community-by-owner",
        "Ana's edit of her community.",
        &w.community_edit,
        edit(&w.community),
        None,
    );
    let Payload::CalendarEvent(planting) = w.calendar.payload() else {
        unreachable!()
    };
    let calendar_edit = sign(
        UnsignedEvent::new(
            ana,
            T0 + 3 * DAY,
            CalendarEvent {
                starts_at: planting.starts_at + HOUR,
                ends_at: planting.ends_at.map(|t| t + HOUR),
                ..planting.clone()
            },
        )
        .ref_event(Rel::Community, w.community.id())
        .ref_event(Rel::EditOf, w.calendar.id()),
        ANA,
    );
    g.auth(
        "edit-calendar-event-by-its-author",
        "Ana moves the planting day an hour later.",
        &calendar_edit,
        edit(&w.calendar),
        None,
    );
    let dani_edit = sign(
        UnsignedEvent::new(
            dani,
            T0 + 3 * DAY,
            Listing {
                quantity: 0,
                ..jam_listing.clone()
            },
        )
        .ref_event(Rel::EditOf, w.jam.id()),
        DANI,
    );
    g.auth(
        "edit-listing-by-someone-else",
        "Dani publishes an `edit_of` Carla's jam listing that sets its stock to 0.",
        &dani_edit,
        edit(&w.jam),
        Some("not_author"),
    );
    let gabi_edit_of_community = sign(
        UnsignedEvent::new(
            pk(GABI),
            T0 + 3 * DAY,
            match w.community_edit.payload() {
                Payload::Community(c) => c.clone(),
                _ => unreachable!(),
            },
        )
        .ref_event(Rel::EditOf, w.community.id()),
        GABI,
    );
    g.auth(
        "edit-community-by-admin",
        "Gabi, an admin, edits Ana's community: only the owner edits (check_community_action says community_role for the same event).",
        &gabi_edit_of_community,
        edit(&w.community),
        Some("not_author"),
    );
    let edit_of_edit = sign(
        UnsignedEvent::new(
            carla,
            T0 + 12 * DAY,
            Listing {
                quantity: 4,
                delivery: vec![DeliveryOption::Shipping],
                payment: vec![PaymentMethod::BankTransfer],
                ..jam_listing.clone()
            },
        )
        .ref_event(Rel::EditOf, jam_edit.id()),
        CARLA,
    );
    g.auth(
        "edit-of-an-edit",
        "Carla's edit names her earlier edit instead of the original: edits always point at the original.",
        &edit_of_edit,
        edit(&jam_edit),
        Some("not_original"),
    );
    g.auth(
        "edit-other-original-passed",
        "The caller passes the bicycle listing as the original of an edit of the jam listing.",
        &w.jam_withdrawn,
        edit(&w.bike),
        Some("state_mismatch"),
    );
    g.auth(
        "edit-not-an-edit",
        "The original jam listing checked as an edit of itself: it has no `edit_of`.",
        &w.jam,
        edit(&w.jam),
        Some("state_mismatch"),
    );
    let calendar_over_listing = sign(
        UnsignedEvent::new(
            carla,
            T0 + 3 * DAY,
            CalendarEvent {
                title: "Recogida de bicicletas".into(),
                description: String::new(),
                starts_at: T0 + 5 * DAY,
                ends_at: None,
                location: None,
                url: None,
            },
        )
        .ref_event(Rel::EditOf, w.bike.id()),
        CARLA,
    );
    g.auth(
        "edit-of-another-kind",
        "A calendar event by Carla whose `edit_of` names her bicycle listing.",
        &calendar_over_listing,
        edit(&w.bike),
        Some("wrong_target_kind"),
    );

    // check_trade_update: a full trade with shipping, then the refusals.
    let order = &w.jam_order;
    let step = |by: u8, at: u64, state: TradeState, prev: EventId, tracking: Option<&str>| {
        sign(
            UnsignedEvent::new(
                pk(by),
                at,
                TradeUpdate {
                    state,
                    note: None,
                    tracking: tracking.map(String::from),
                },
            )
            .ref_event(Rel::Order, order.id())
            .ref_event(Rel::Prev, prev),
            by,
        )
    };
    let mut latest = order.id();
    let mut current = TradeState::Ordered;
    let mut at = order.created_at();
    let mut chain = Vec::new();
    for (by, state, tracking, description) in [
        (
            CARLA,
            TradeState::Accepted,
            None,
            "The seller accepts the order.",
        ),
        (DANI, TradeState::Paid, None, "The buyer says they paid."),
        (
            CARLA,
            TradeState::PaymentConfirmed,
            None,
            "The seller confirms the payment arrived.",
        ),
        (
            CARLA,
            TradeState::Shipped,
            Some("PK4Q2X0957ES"),
            "The seller ships, with tracking.",
        ),
        (
            DANI,
            TradeState::Delivered,
            None,
            "The buyer confirms delivery.",
        ),
        (
            DANI,
            TradeState::Completed,
            None,
            "The buyer completes the trade.",
        ),
    ] {
        at += HOUR;
        let update = step(by, at, state, latest, tracking);
        g.auth(
            &format!(
                "trade-{}-{}",
                current.name().replace('_', "-"),
                state.name().replace('_', "-")
            ),
            description,
            &update,
            Case::TradeUpdate {
                order,
                state: current,
                latest,
            },
            None,
        );
        chain.push((current, latest, update.clone()));
        latest = update.id();
        current = state;
    }
    let completed_at = at;
    // Seller completes from delivered too.
    let seller_complete = step(CARLA, at, TradeState::Completed, chain[4].2.id(), None);
    g.auth(
        "trade-delivered-completed-by-seller",
        "Either party may complete a delivered trade.",
        &seller_complete,
        Case::TradeUpdate {
            order,
            state: TradeState::Delivered,
            latest: chain[4].2.id(),
        },
        None,
    );
    let cancel = step(
        DANI,
        order.created_at() + MINUTE,
        TradeState::Cancelled,
        order.id(),
        None,
    );
    g.auth(
        "trade-ordered-cancelled-by-buyer",
        "The buyer cancels before the seller answers.",
        &cancel,
        Case::TradeUpdate {
            order,
            state: TradeState::Ordered,
            latest: order.id(),
        },
        None,
    );
    let paid_id = chain[2].1; // the `paid` step's id is the latest before payment_confirmed
    let dispute = step(
        DANI,
        order.created_at() + DAY,
        TradeState::Disputed,
        paid_id,
        None,
    );
    g.auth(
        "trade-paid-disputed",
        "The buyer disputes after paying.",
        &dispute,
        Case::TradeUpdate {
            order,
            state: TradeState::Paid,
            latest: paid_id,
        },
        None,
    );
    let resolve = step(
        CARLA,
        order.created_at() + 2 * DAY,
        TradeState::Resolved,
        dispute.id(),
        None,
    );
    g.auth(
        "trade-disputed-resolved",
        "The seller marks the dispute resolved.",
        &resolve,
        Case::TradeUpdate {
            order,
            state: TradeState::Disputed,
            latest: dispute.id(),
        },
        None,
    );
    let buyer_accepts = step(
        DANI,
        order.created_at() + MINUTE,
        TradeState::Accepted,
        order.id(),
        None,
    );
    g.auth(
        "trade-buyer-accepts",
        "The buyer tries to accept their own order.",
        &buyer_accepts,
        Case::TradeUpdate {
            order,
            state: TradeState::Ordered,
            latest: order.id(),
        },
        Some("trade_transition"),
    );
    let early_ship = step(
        CARLA,
        order.created_at() + 2 * HOUR,
        TradeState::Shipped,
        chain[0].2.id(),
        Some("PK4Q2X0957ES"),
    );
    g.auth(
        "trade-shipped-before-payment",
        "The seller ships an accepted trade before confirming payment.",
        &early_ship,
        Case::TradeUpdate {
            order,
            state: TradeState::Accepted,
            latest: chain[0].2.id(),
        },
        Some("trade_transition"),
    );
    let after_end = step(
        DANI,
        completed_at + HOUR,
        TradeState::Disputed,
        latest,
        None,
    );
    g.auth(
        "trade-dispute-after-completed",
        "A completed trade is final.",
        &after_end,
        Case::TradeUpdate {
            order,
            state: TradeState::Completed,
            latest,
        },
        Some("trade_transition"),
    );
    // `stale`: pays against the order while the latest step is the acceptance.
    let stale = step(
        DANI,
        order.created_at() + 2 * HOUR,
        TradeState::Paid,
        order.id(),
        None,
    );
    g.auth(
        "trade-stale-prev",
        "The buyer's `paid` step follows the order, but the latest step is the acceptance.",
        &stale,
        Case::TradeUpdate {
            order,
            state: TradeState::Accepted,
            latest: chain[0].2.id(),
        },
        Some("trade_stale"),
    );
    let outsider = step(
        BEN,
        order.created_at() + 2 * HOUR,
        TradeState::Cancelled,
        order.id(),
        None,
    );
    g.auth(
        "trade-outsider",
        "Ben, who is neither buyer nor seller, cancels the trade.",
        &outsider,
        Case::TradeUpdate {
            order,
            state: TradeState::Ordered,
            latest: order.id(),
        },
        Some("not_trade_party"),
    );
    let bike_order_ok = bike_order(
        DeliveryOption::Pickup,
        PaymentMethod::CashOnPickup,
        carla,
        &w.bike,
    );
    g.auth(
        "trade-other-order-passed",
        "The caller passes another order than the one the update belongs to.",
        &chain[0].2,
        Case::TradeUpdate {
            order: &bike_order_ok,
            state: TradeState::Ordered,
            latest: order.id(),
        },
        Some("state_mismatch"),
    );

    // check_review
    let review = |by: u8, subject: PublicKey, order: &Event| {
        sign(
            UnsignedEvent::new(
                pk(by),
                completed_at + DAY,
                Review {
                    rating: 5,
                    text: "Todo perfecto.".into(),
                },
            )
            .ref_event(Rel::Order, order.id())
            .ref_identity(Rel::Subject, subject),
            by,
        )
    };
    let buyer_review = review(DANI, carla, order);
    g.auth(
        "review-buyer-after-completion",
        "The buyer reviews the seller of a completed trade.",
        &buyer_review,
        Case::Review {
            order,
            state: TradeState::Completed,
            reviewed: false,
        },
        None,
    );
    g.auth(
        "review-seller-after-completion",
        "The seller reviews the buyer of a completed trade.",
        &review(CARLA, dani, order),
        Case::Review {
            order,
            state: TradeState::Completed,
            reviewed: false,
        },
        None,
    );
    g.auth(
        "review-twice",
        "The buyer reviews the seller of a completed trade a second time.",
        &buyer_review,
        Case::Review {
            order,
            state: TradeState::Completed,
            reviewed: true,
        },
        Some("review_exists"),
    );
    g.auth(
        "review-before-completion",
        "A review while the trade is only delivered.",
        &buyer_review,
        Case::Review {
            order,
            state: TradeState::Delivered,
            reviewed: false,
        },
        Some("review_without_trade"),
    );
    g.auth(
        "review-of-cancelled-trade",
        "A review of a cancelled trade.",
        &buyer_review,
        Case::Review {
            order,
            state: TradeState::Cancelled,
            reviewed: false,
        },
        Some("review_without_trade"),
    );
    g.auth(
        "review-by-outsider",
        "Ben reviews Carla for a trade he was not part of.",
        &review(BEN, carla, order),
        Case::Review {
            order,
            state: TradeState::Completed,
            reviewed: false,
        },
        Some("review_without_trade"),
    );
    g.auth(
        "review-of-outsider",
        "The buyer reviews Ben, who was not part of the trade.",
        &review(DANI, ben, order),
        Case::Review {
            order,
            state: TradeState::Completed,
            reviewed: false,
        },
        Some("review_without_trade"),
    );
    g.auth(
        "review-other-order-passed",
        "The caller passes another order than the one reviewed.",
        &buyer_review,
        Case::Review {
            order: &bike_order_ok,
            state: TradeState::Completed,
            reviewed: false,
        },
        Some("state_mismatch"),
    );

    // check_vote
    let vote = |by: u8, at: u64, choices: Vec<u8>, poll: &Event| {
        sign(
            UnsignedEvent::new(pk(by), at, Vote { choices }).ref_event(Rel::Target, poll.id()),
            by,
        )
    };
    g.auth(
        "vote-several-choices",
        "Two choices on a poll that allows several.",
        &vote(BEN, T0 + 2 * DAY, vec![0, 2], &w.poll),
        Case::Vote { poll: &w.poll },
        None,
    );
    let Payload::Poll(proposal) = w.proposal.payload() else {
        unreachable!()
    };
    g.auth(
        "vote-at-closing-time",
        "A vote created exactly at closes_at still counts.",
        &vote(ANA, proposal.closes_at, vec![0], &w.proposal),
        Case::Vote { poll: &w.proposal },
        None,
    );
    g.auth(
        "vote-after-close",
        "A vote 1 ms after the proposal closed.",
        &vote(ANA, proposal.closes_at + 1, vec![0], &w.proposal),
        Case::Vote { poll: &w.proposal },
        Some("vote_invalid"),
    );
    g.auth(
        "vote-no-such-option",
        "Choice 3 on a proposal with three options (0 to 2).",
        &vote(ANA, T0 + 2 * DAY, vec![3], &w.proposal),
        Case::Vote { poll: &w.proposal },
        Some("vote_invalid"),
    );
    g.auth(
        "vote-several-on-single-choice",
        "Two choices on a proposal that takes one.",
        &vote(ANA, T0 + 2 * DAY, vec![0, 1], &w.proposal),
        Case::Vote { poll: &w.proposal },
        Some("vote_invalid"),
    );
    let vote_on_post = vote(ANA, T0 + 2 * DAY, vec![0], &w.ben_post);
    g.auth(
        "vote-on-a-post",
        "A vote whose target is a post.",
        &vote_on_post,
        Case::Vote { poll: &w.ben_post },
        Some("wrong_target_kind"),
    );
    g.auth(
        "vote-other-poll-passed",
        "The caller passes another poll than the one voted on.",
        &vote(BEN, T0 + 2 * DAY, vec![0], &w.poll),
        Case::Vote { poll: &w.proposal },
        Some("state_mismatch"),
    );

    // check_community_action
    let community = &w.community;
    let none = Standing::default();
    let joined = Standing {
        joined: true,
        ..Standing::default()
    };
    let with_role = |role: Role| Standing {
        joined: true,
        role: Some(role),
        banned: false,
    };
    let in_community = |ev: UnsignedEvent, c: &Event| ev.ref_event(Rel::Community, c.id());
    let grant = |by: u8, role: Role, subject: u8| {
        sign(
            in_community(
                UnsignedEvent::new(pk(by), T0 + DAY, RoleGrant { role }),
                community,
            )
            .ref_identity(Rel::Subject, pk(subject)),
            by,
        )
    };
    let revoke = |by: u8, role: Role, subject: u8| {
        sign(
            in_community(
                UnsignedEvent::new(pk(by), T0 + DAY, RoleRevoke { role }),
                community,
            )
            .ref_identity(Rel::Subject, pk(subject)),
            by,
        )
    };
    let cc = |actor: Standing, subject: Standing| Case::Community {
        community,
        settings: None,
        actor,
        subject,
    };
    g.auth(
        "community-owner-grants-admin",
        "The owner makes Gabi an admin.",
        &grant(ANA, Role::Admin, GABI),
        cc(none, joined),
        None,
    );
    g.auth(
        "community-admin-grants-moderator",
        "Admin Gabi makes Eli a moderator.",
        &grant(GABI, Role::Moderator, ELI),
        cc(with_role(Role::Admin), joined),
        None,
    );
    g.auth(
        "community-moderator-admits-member",
        "Moderator Eli grants Ben the member role.",
        &grant(ELI, Role::Member, BEN),
        cc(with_role(Role::Moderator), none),
        None,
    );
    g.auth(
        "community-moderator-grants-admin",
        "Moderator Eli tries to make Ben an admin.",
        &grant(ELI, Role::Admin, BEN),
        cc(with_role(Role::Moderator), joined),
        Some("community_role"),
    );
    g.auth(
        "community-admin-grants-admin",
        "Admin Gabi tries to make Ben an admin: only the owner makes admins.",
        &grant(GABI, Role::Admin, BEN),
        cc(with_role(Role::Admin), joined),
        Some("community_role"),
    );
    g.auth(
        "community-admin-revokes-owner",
        "Admin Gabi tries to revoke a role from the owner: the owner's standing is fixed.",
        &revoke(GABI, Role::Admin, ANA),
        cc(with_role(Role::Admin), none),
        Some("community_role"),
    );
    g.auth(
        "community-owner-revokes-moderator",
        "The owner takes the moderator role from Eli.",
        &revoke(ANA, Role::Moderator, ELI),
        cc(none, with_role(Role::Moderator)),
        None,
    );
    let moderation = |by: u8, action: ModAction, subject: Option<u8>| {
        let ev = in_community(
            UnsignedEvent::new(
                pk(by),
                T0 + DAY,
                Moderation {
                    action,
                    reason: None,
                },
            ),
            community,
        );
        let ev = match subject {
            Some(s) => ev.ref_identity(Rel::Subject, pk(s)),
            None => ev.ref_event(Rel::Target, w.fran_spam.id()),
        };
        sign(ev, by)
    };
    g.auth(
        "community-moderator-removes-post",
        "Moderator Eli removes a post.",
        &moderation(ELI, ModAction::Remove, None),
        cc(with_role(Role::Moderator), none),
        None,
    );
    g.auth(
        "community-moderator-bans-member",
        "Moderator Eli bans Fran, a plain member.",
        &moderation(ELI, ModAction::Ban, Some(FRAN)),
        cc(with_role(Role::Moderator), joined),
        None,
    );
    g.auth(
        "community-member-removes-post",
        "Ben, a plain member, tries to remove a post.",
        &moderation(BEN, ModAction::Remove, None),
        cc(joined, none),
        Some("community_role"),
    );
    g.auth(
        "community-moderator-bans-admin",
        "Moderator Eli tries to ban admin Gabi: a ban needs a role above the subject's.",
        &moderation(ELI, ModAction::Ban, Some(GABI)),
        cc(with_role(Role::Moderator), with_role(Role::Admin)),
        Some("community_role"),
    );
    g.auth(
        "community-moderator-bans-moderator",
        "Moderator Eli tries to ban another moderator, Ben.",
        &moderation(ELI, ModAction::Ban, Some(BEN)),
        cc(with_role(Role::Moderator), with_role(Role::Moderator)),
        Some("community_role"),
    );
    let edit = &w.community_edit;
    g.auth(
        "community-owner-edits",
        "The owner edits the community.",
        edit,
        cc(none, none),
        None,
    );
    let gabi_edit = sign(
        UnsignedEvent::new(
            pk(GABI),
            T0 + 3 * DAY,
            match edit.payload() {
                Payload::Community(c) => c.clone(),
                _ => unreachable!(),
            },
        )
        .ref_event(Rel::EditOf, community.id()),
        GABI,
    );
    g.auth(
        "community-admin-edits",
        "Admin Gabi tries to edit the community: only the owner edits.",
        &gabi_edit,
        cc(with_role(Role::Admin), none),
        Some("community_role"),
    );
    let book_club = &w.book_club;
    let club_post = |by: u8| {
        sign(
            in_community(
                UnsignedEvent::new(pk(by), T0 + DAY, post("What are we reading next?", "en")),
                book_club,
            ),
            by,
        )
    };
    let club = |actor: Standing| Case::Community {
        community: book_club,
        settings: None,
        actor,
        subject: none,
    };
    g.auth(
        "community-closed-member-posts",
        "A member posts in a closed community.",
        &club_post(ANA),
        club(with_role(Role::Member)),
        None,
    );
    g.auth(
        "community-closed-owner-posts",
        "The owner posts in their closed community without any role.",
        &club_post(BEN),
        club(none),
        None,
    );
    g.auth(
        "community-closed-non-member-posts",
        "Someone who only joined, without the member role, posts in a closed community.",
        &club_post(ANA),
        club(joined),
        Some("community_role"),
    );
    let open_post = sign(
        in_community(
            UnsignedEvent::new(
                pk(DANI),
                T0 + DAY,
                post("¿Hay sitio para una persona más?", "es"),
            ),
            community,
        ),
        DANI,
    );
    g.auth(
        "community-open-anyone-posts",
        "Anyone may post in an open community, joined or not.",
        &open_post,
        cc(none, none),
        None,
    );
    g.auth(
        "community-banned-posts",
        "A banned member posts.",
        &open_post,
        cc(
            Standing {
                joined: true,
                role: None,
                banned: true,
            },
            none,
        ),
        Some("community_role"),
    );
    let join = sign(
        in_community(
            UnsignedEvent::new(
                pk(DANI),
                T0 + DAY,
                Membership {
                    action: MembershipAction::Join,
                },
            ),
            book_club,
        ),
        DANI,
    );
    g.auth(
        "community-join-closed",
        "Anyone may publish a join, even to a closed community (admission is the member role).",
        &join,
        club(none),
        None,
    );
    let transfer = |by: u8, c: &Event| {
        sign(
            in_community(
                UnsignedEvent::new(
                    pk(by),
                    T0 + 3 * DAY,
                    Transfer {
                        amount: 250,
                        memo: None,
                    },
                ),
                c,
            )
            .ref_identity(Rel::Subject, pk(ELI)),
            by,
        )
    };
    g.auth(
        "community-transfer-by-member",
        "A member who joined sends community currency; the settings are those of the newest edit.",
        &transfer(BEN, community),
        Case::Community {
            community,
            settings: Some(edit),
            actor: joined,
            subject: with_role(Role::Moderator),
        },
        None,
    );
    g.auth(
        "community-transfer-by-outsider",
        "Someone who never joined sends community currency.",
        &transfer(DANI, community),
        cc(none, none),
        Some("community_role"),
    );
    g.auth(
        "community-transfer-without-currency",
        "A transfer in a community that runs no currency.",
        &transfer(ANA, book_club),
        club(with_role(Role::Member)),
        Some("no_currency"),
    );
    let banned = Standing {
        joined: true,
        role: None,
        banned: true,
    };
    let membership = |by: u8, action: MembershipAction| {
        sign(
            in_community(
                UnsignedEvent::new(pk(by), T0 + 9 * HOUR, Membership { action }),
                community,
            ),
            by,
        )
    };
    g.auth(
        "community-banned-leaves",
        "Fran, banned, leaves the community: leaving is always allowed.",
        &membership(FRAN, MembershipAction::Leave),
        cc(banned, none),
        None,
    );
    g.auth(
        "community-banned-joins",
        "Fran, banned, publishes a join.",
        &membership(FRAN, MembershipAction::Join),
        cc(banned, none),
        Some("community_role"),
    );
    g.auth(
        "community-other-community-passed",
        "The caller passes another community than the one the event is in.",
        &open_post,
        club(none),
        Some("state_mismatch"),
    );

    // check_ref_kind
    fn rk(rel: Rel, referenced: &Event) -> Case<'_> {
        Case::RefKind { rel, referenced }
    }
    g.auth(
        "ref-reply-parent-is-post",
        "A reply's parent is a post.",
        &w.reply,
        rk(Rel::Parent, &w.ana_post),
        None,
    );
    let reply_to_reaction = sign(
        UnsignedEvent::new(
            ben,
            T0 + HOUR,
            Reply {
                content: Content::text("?"),
            },
        )
        .ref_event(Rel::Root, w.ana_post.id())
        .ref_event(Rel::Parent, w.reaction.id()),
        BEN,
    );
    g.auth(
        "ref-reply-parent-is-reaction",
        "A reply whose parent is a reaction.",
        &reply_to_reaction,
        rk(Rel::Parent, &w.reaction),
        Some("wrong_target_kind"),
    );
    let rsvp_post = sign(
        UnsignedEvent::new(
            ben,
            T0 + HOUR,
            Rsvp {
                status: RsvpStatus::Going,
            },
        )
        .ref_event(Rel::Target, w.ana_post.id()),
        BEN,
    );
    g.auth(
        "ref-rsvp-to-post",
        "An RSVP to a post instead of a calendar event.",
        &rsvp_post,
        rk(Rel::Target, &w.ana_post),
        Some("wrong_target_kind"),
    );
    let rsvp_ok = sign(
        UnsignedEvent::new(
            ben,
            T0 + 2 * DAY,
            Rsvp {
                status: RsvpStatus::NotGoing,
            },
        )
        .ref_event(Rel::Target, w.calendar.id()),
        BEN,
    );
    g.auth(
        "ref-rsvp-to-calendar-event",
        "An RSVP to a calendar event.",
        &rsvp_ok,
        rk(Rel::Target, &w.calendar),
        None,
    );
    let revoke_post = sign(
        UnsignedEvent::new(ana, T0 + HOUR, Revocation::default())
            .ref_event(Rel::Target, w.ana_post.id()),
        ANA,
    );
    g.auth(
        "ref-revocation-of-post",
        "A revocation whose target is a post.",
        &revoke_post,
        rk(Rel::Target, &w.ana_post),
        Some("wrong_target_kind"),
    );
    let order_on_post = sign(
        UnsignedEvent::new(
            dani,
            T0 + HOUR,
            Order {
                quantity: 1,
                delivery: DeliveryOption::Pickup,
                payment: PaymentMethod::Other,
            },
        )
        .ref_event(Rel::Listing, w.ben_post.id())
        .ref_identity(Rel::Seller, ben),
        DANI,
    );
    g.auth(
        "ref-order-listing-is-post",
        "An order whose listing is a post.",
        &order_on_post,
        rk(Rel::Listing, &w.ben_post),
        Some("wrong_target_kind"),
    );
    let highlight_post = sign(
        UnsignedEvent::new(
            ana,
            T0 + HOUR,
            Highlight {
                name: "Fotos".into(),
                items: vec![HighlightItem {
                    text: String::new(),
                    media: Some(image("h.jpg", "image/jpeg", (100, 100), 1_000, "foto")),
                }],
            },
        )
        .ref_event(Rel::Story, w.ana_post.id()),
        ANA,
    );
    let view_of_post = sign(
        UnsignedEvent::new(
            ben,
            T0 + HOUR,
            StoryView {
                expires_at: T0 + 2 * HOUR,
            },
        )
        .ref_event(Rel::Story, w.ana_post.id()),
        BEN,
    );
    g.auth(
        "ref-story_view-story-is-post",
        "A view receipt whose story is a post.",
        &view_of_post,
        rk(Rel::Story, &w.ana_post),
        Some("wrong_target_kind"),
    );
    g.auth(
        "ref-highlight-story-is-post",
        "A highlight whose story is a post.",
        &highlight_post,
        rk(Rel::Story, &w.ana_post),
        Some("wrong_target_kind"),
    );
    let second_story = sign(
        UnsignedEvent::new(
            ana,
            T0 + 5 * HOUR,
            Story {
                text: "Primeras flores del tomate".into(),
                media: None,
                expires_at: T0 + 10 * HOUR,
            },
        ),
        ANA,
    );
    let two_stories = |second: &Event| {
        sign(
            UnsignedEvent::new(
                ana,
                T0 + 6 * HOUR,
                Highlight {
                    name: "Huerta".into(),
                    items: vec![HighlightItem {
                        text: String::new(),
                        media: Some(image("h2.jpg", "image/jpeg", (100, 100), 1_000, "foto")),
                    }],
                },
            )
            .ref_event(Rel::Story, w.story.id())
            .ref_event(Rel::Story, second.id()),
            ANA,
        )
    };
    g.auth(
        "ref-highlight-second-story",
        "A highlight that keeps two stories, checked against its second `story` reference: any reference with the relation counts, not only the first.",
        &two_stories(&second_story),
        rk(Rel::Story, &second_story),
        None,
    );
    g.auth(
        "ref-highlight-second-story-is-post",
        "A highlight whose second `story` reference names a post.",
        &two_stories(&w.ben_post),
        rk(Rel::Story, &w.ben_post),
        Some("wrong_target_kind"),
    );
    let post_in_post = sign(
        UnsignedEvent::new(ana, T0 + HOUR, post("Hola", "es"))
            .ref_event(Rel::Community, w.ben_post.id()),
        ANA,
    );
    g.auth(
        "ref-community-is-post",
        "A post whose community is a post.",
        &post_in_post,
        rk(Rel::Community, &w.ben_post),
        Some("wrong_target_kind"),
    );
    g.auth(
        "ref-reaction-target-any-kind",
        "A reaction may target any kind (here a story): no rule constrains it.",
        &sign(
            UnsignedEvent::new(
                ben,
                T0 + 5 * HOUR,
                Reaction {
                    reaction: ReactionType::Wow,
                },
            )
            .ref_event(Rel::Target, w.story.id()),
            BEN,
        ),
        rk(Rel::Target, &w.story),
        None,
    );
    g.auth(
        "ref-not-the-referenced-event",
        "The caller passes an event the reply does not reference.",
        &w.reply,
        rk(Rel::Parent, &w.ben_post),
        Some("state_mismatch"),
    );
}

// ---------------------------------------------------------------------------
// Text forms of keys.

/// The bech32 alphabet.
const BECH32_CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
/// The checksum constant of bech32m (BIP-350).
const BECH32M_CONST: u32 = 0x2bc8_30a3;
/// The checksum constant of the original bech32 (BIP-173).
const BECH32_CONST: u32 = 1;

fn bech32_polymod(values: &[u8]) -> u32 {
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let mut chk = 1u32;
    for &v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Regroups bytes into 5-bit groups, most significant bit first; the unused
/// low bits of the last group are set to `padding`.
fn five_bit_groups(bytes: &[u8], padding: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        let spare = 5 - bits;
        assert!(
            u32::from(padding) < (1 << spare),
            "padding fits the spare bits"
        );
        out.push((((acc << spare) & 31) as u8) | padding);
    }
    out
}

/// A bech32-family string over 5-bit groups, with the given checksum constant.
fn bech32_string(hrp: &str, groups: &[u8], constant: u32) -> String {
    let mut values: Vec<u8> = hrp.bytes().map(|c| c >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|c| c & 31));
    values.extend_from_slice(groups);
    values.extend_from_slice(&[0; 6]);
    let pm = bech32_polymod(&values) ^ constant;
    let mut out = format!("{hrp}1");
    for &g in groups {
        out.push(BECH32_CHARSET[usize::from(g)] as char);
    }
    for i in 0..6 {
        out.push(BECH32_CHARSET[((pm >> (5 * (5 - i))) & 31) as usize] as char);
    }
    out
}

fn text_vectors(g: &mut Gen) {
    let ana = pk(ANA);
    let ana_bytes = *ana.as_bytes();
    let ana_text = ana.to_text();
    let bech32m =
        |hrp: &str, bytes: &[u8]| bech32_string(hrp, &five_bit_groups(bytes, 0), BECH32M_CONST);
    assert_eq!(
        bech32m("kith", &ana_bytes),
        ana_text,
        "the writer here is bech32m"
    );
    let pub_ok = |g: &mut Gen, name: &str, description: &str, text: &str, bytes: [u8; 32]| {
        g.text(name, description, "public_key", text, Ok(bytes));
    };
    let pub_err = |g: &mut Gen, name: &str, description: &str, text: &str, code: &str| {
        g.text(name, description, "public_key", text, Err(code));
    };

    // Accepted.
    pub_ok(
        g,
        "public-key-lower-case",
        "Ana's public key in its one canonical spelling: 63 characters, lower case.",
        &ana_text,
        ana_bytes,
    );
    pub_ok(
        g,
        "public-key-upper-case",
        "The same key in upper case (for QR codes): accepted, the same key.",
        &ana_text.to_uppercase(),
        ana_bytes,
    );
    pub_ok(
        g,
        "public-key-surrounding-white-space",
        "The key with a leading space and a trailing newline, which are ignored.",
        &format!(" {ana_text}\n"),
        ana_bytes,
    );
    pub_ok(
        g,
        "public-key-non-canonical-point",
        "The bytes f0 ff…ff 7f: y = p + 3, a non-canonical encoding of a point of large order. It decompresses (y is reduced modulo p), so it is a usable key, distinct from the canonical encoding of the same point.",
        &bech32m("kith", &NON_CANONICAL_POINT),
        NON_CANONICAL_POINT,
    );

    // `events.md` § Usable keys lists the non-canonical encodings (y = p + k,
    // either sign) that are usable keys; keep the list honest.
    let usable_k: BTreeSet<u8> = (0u8..19)
        .filter(|&k| {
            let usable = |top: u8| {
                let mut b = [0xffu8; 32];
                b[0] = 0xed + k;
                b[31] = top;
                PublicKey::from_bytes(b).is_ok()
            };
            let (plain, signed) = (usable(0x7f), usable(0xff));
            assert_eq!(plain, signed, "y = p + {k}: both signs alike");
            plain
        })
        .collect();
    assert_eq!(
        usable_k,
        BTreeSet::from([3, 4, 5, 6, 9, 10, 14, 15, 16, 18]),
        "usable non-canonical encodings"
    );

    // Refused: the text.
    let mut mixed = ana_text.clone();
    mixed.replace_range(10..11, &ana_text[10..11].to_uppercase());
    assert_ne!(mixed, ana_text);
    pub_err(
        g,
        "public-key-mixed-case",
        "Ana's key with one character in upper case: bech32 strings are all lower or all upper case.",
        &mixed,
        "key_malformed",
    );
    let mut typo: Vec<char> = ana_text.chars().collect();
    typo[20] = if typo[20] == 'q' { 'p' } else { 'q' };
    pub_err(
        g,
        "public-key-one-character-changed",
        "Ana's key with its 21st character changed: the checksum fails.",
        &typo.into_iter().collect::<String>(),
        "key_malformed",
    );
    pub_err(
        g,
        "public-key-bech32-checksum",
        "Ana's key bytes with a bech32 (BIP-173) checksum instead of a bech32m one.",
        &bech32_string("kith", &five_bit_groups(&ana_bytes, 0), BECH32_CONST),
        "key_malformed",
    );
    for (padding, name) in [
        (1u8, "public-key-padding-bit-set"),
        (8, "public-key-high-padding-bit-set"),
    ] {
        pub_err(
            g,
            name,
            &format!(
                "Ana's key bytes with the four padding bits of the last 5-bit group set to {padding:04b} and a correct bech32m checksum: the same bytes, but not the one spelling of the key."
            ),
            &bech32_string("kith", &five_bit_groups(&ana_bytes, padding), BECH32M_CONST),
            "key_malformed",
        );
    }
    pub_err(
        g,
        "public-key-wrong-prefix",
        "Ana's key bytes with the prefix `npub`.",
        &bech32m("npub", &ana_bytes),
        "key_malformed",
    );
    pub_err(
        g,
        "public-key-secret-prefix",
        "Ana's secret seed (`kithsecret1…`) where a public key is expected.",
        &key(ANA).secret_to_text(),
        "key_malformed",
    );
    pub_err(
        g,
        "public-key-31-bytes",
        "A valid bech32m string with prefix `kith` over 31 bytes.",
        &bech32m("kith", &ana_bytes[..31]),
        "key_malformed",
    );
    pub_err(
        g,
        "public-key-33-bytes",
        "A valid bech32m string with prefix `kith` over 33 bytes.",
        &bech32m("kith", &[&ana_bytes[..], &[0]].concat()),
        "key_malformed",
    );
    pub_err(
        g,
        "public-key-empty",
        "The empty string.",
        "",
        "key_malformed",
    );

    // Refused: the key.
    pub_err(
        g,
        "public-key-identity-point",
        "The text form of 01 00…00, the identity point (small order): well written, but no usable key.",
        &bech32m("kith", &IDENTITY_POINT),
        "key_invalid",
    );
    pub_err(
        g,
        "public-key-order-eight-point",
        "The text form of a point of order 8.",
        &bech32m("kith", &ORDER_EIGHT_POINT),
        "key_invalid",
    );
    let off_curve = not_on_curve();
    pub_err(
        g,
        "public-key-not-on-curve",
        &format!(
            "The text form of {}: 32 bytes that decompress to no curve point.",
            hex(&off_curve)
        ),
        &bech32m("kith", &off_curve),
        "key_invalid",
    );

    // Secret keys.
    let seed = seed(ANA);
    let secret_text = key(ANA).secret_to_text().to_string();
    assert_eq!(bech32m("kithsecret", &seed), secret_text);
    g.text(
        "secret-key",
        "The secret of the seed 01 × 32 (Ana's): 69 characters with prefix `kithsecret`.",
        "secret_key",
        &secret_text,
        Ok(seed),
    );
    g.text(
        "secret-key-upper-case",
        "The same secret in upper case.",
        "secret_key",
        &secret_text.to_uppercase(),
        Ok(seed),
    );
    g.text(
        "secret-key-public-prefix",
        "Ana's public key where a secret is expected.",
        "secret_key",
        &ana_text,
        Err("key_malformed"),
    );
    g.text(
        "secret-key-padding-bit-set",
        "The seed 01 × 32 with a padding bit set and a correct checksum.",
        "secret_key",
        &bech32_string("kithsecret", &five_bit_groups(&seed, 1), BECH32M_CONST),
        Err("key_malformed"),
    );
    g.text(
        "secret-key-16-bytes",
        "A valid bech32m string with prefix `kithsecret` over 16 bytes.",
        "secret_key",
        &bech32m("kithsecret", &seed[..16]),
        Err("key_malformed"),
    );
}
