//! The event: body, id, signature, envelope; signing, decoding and verification.
//!
//! Spec: `specs/events.md`. The life of bytes from the network:
//!
//! ```text
//! bytes --Unverified::decode--> Unverified --verify / verify_batch--> Event
//!         size, envelope shape,             Ed25519 (ZIP 215 rules)
//!         canonical body, schema, id
//! ```
//!
//! An [`Event`] value has passed every stateless rule, signature included.
//! The clock ([`Event::check_clock`]) and the stateful rules in [`crate::auth`]
//! are the caller's next steps.

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};

use crate::encoding::{FixedBytes, classify, to_canonical};
use crate::error::EventError;
use crate::id::EventId;
use crate::identity::{Keypair, PublicKey, Signature};
use crate::kinds::{Kind, Meta, Payload, PayloadSeed};
use crate::refs::{Ref, RefTarget, Rel, check_refs};
use crate::{MAX_EVENT_BYTES, check};

/// The envelope is the canonical DAG-CBOR map `{"sig": <64 bytes>, "body": <body>}`.
/// Canonical key order puts `sig` first, so every envelope starts with these
/// 7 bytes, then the signature, then [`BODY_KEY`], then the body.
const SIG_HEADER: [u8; 7] = [0xa2, 0x63, b's', b'i', b'g', 0x58, 0x40];
const BODY_KEY: [u8; 5] = [0x64, b'b', b'o', b'd', b'y'];
/// Bytes before the body in an envelope.
pub const ENVELOPE_HEADER_LEN: usize = SIG_HEADER.len() + Signature::LEN + BODY_KEY.len();

/// An event before signing: what the author says, and who signs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedEvent {
    /// The identity the event speaks for.
    pub author: PublicKey,
    /// The key that signs: the author, or a key the author delegated to.
    pub signer: PublicKey,
    /// Creation time in milliseconds since the Unix epoch.
    pub created_at: u64,
    /// References to other events and identities.
    pub refs: Vec<Ref>,
    /// The kind's payload.
    pub payload: Payload,
}

impl UnsignedEvent {
    /// An event by `author`, signed by the author's own key.
    pub fn new(author: PublicKey, created_at: u64, payload: impl Into<Payload>) -> Self {
        UnsignedEvent {
            author,
            signer: author,
            created_at,
            refs: Vec::new(),
            payload: payload.into(),
        }
    }

    /// Sets a delegated signer.
    pub fn signed_by(mut self, signer: PublicKey) -> Self {
        self.signer = signer;
        self
    }

    /// Adds a reference to an event.
    pub fn ref_event(mut self, rel: Rel, id: EventId) -> Self {
        self.refs.push(Ref::event(rel, id));
        self
    }

    /// Adds a reference to an identity.
    pub fn ref_identity(mut self, rel: Rel, key: PublicKey) -> Self {
        self.refs.push(Ref::identity(rel, key));
        self
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.payload.kind()
    }

    /// What payload rules see of the body.
    pub fn meta(&self) -> Meta<'_> {
        Meta {
            author: &self.author,
            signer: &self.signer,
            created_at: self.created_at,
            refs: &self.refs,
        }
    }

    /// Checks every stateless rule except the clock and the size limit.
    pub fn validate(&self) -> Result<(), EventError> {
        check::timestamp("created_at", self.created_at)
            .map_err(|_| EventError::CreatedAtInvalid(self.created_at))?;
        let kind = self.kind();
        if self.signer != self.author && !kind.delegable() {
            return Err(EventError::NotDelegable(kind));
        }
        check_refs(&self.refs, kind.ref_rules())?;
        self.payload.validate(&self.meta())
    }

    /// The canonical encoding of the body.
    pub fn encode(&self) -> Vec<u8> {
        to_canonical(self)
    }

    /// The id this body has.
    pub fn id(&self) -> EventId {
        EventId::of_body(&self.encode())
    }

    /// Validates, encodes and signs.
    pub fn sign(self, key: &Keypair) -> Result<Event, SignError> {
        if key.public() != self.signer {
            return Err(SignError::WrongKey);
        }
        self.validate()?;
        let body = self.encode();
        let size = ENVELOPE_HEADER_LEN + body.len();
        if size > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge {
                size,
                max: MAX_EVENT_BYTES,
            }
            .into());
        }
        let bytes = seal_unchecked(&body, key);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&bytes[SIG_HEADER.len()..SIG_HEADER.len() + Signature::LEN]);
        Ok(Event(Inner {
            id: EventId::of_body(&body),
            body: self,
            sig: Signature(sig),
            bytes,
        }))
    }
}

/// Wraps any bytes as an event body in an envelope signed by `key`, without
/// checking them. For tools and tests that build invalid events on purpose
/// (test vectors, fuzz seeds); decoders judge the result like any other bytes.
pub fn seal_unchecked(body: &[u8], key: &Keypair) -> Vec<u8> {
    let id = EventId::of_body(body);
    assemble(body, &key.sign_raw(&id.to_bytes()))
}

/// Assembles an envelope from a body and a signature made elsewhere (a
/// client that holds its own key signs the id of a body the gateway
/// prepared). Nothing is checked here: decode the result like any bytes.
pub fn assemble(body: &[u8], sig: &Signature) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(ENVELOPE_HEADER_LEN + body.len());
    bytes.extend_from_slice(&SIG_HEADER);
    bytes.extend_from_slice(sig.as_bytes());
    bytes.extend_from_slice(&BODY_KEY);
    bytes.extend_from_slice(body);
    bytes
}

/// Why [`UnsignedEvent::sign`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key is not the event's signer.
    #[error("the key does not match the event's signer")]
    WrongKey,
    /// The event breaks a rule.
    #[error(transparent)]
    Invalid(#[from] EventError),
}

impl Serialize for UnsignedEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Body", if self.refs.is_empty() { 5 } else { 6 })?;
        m.serialize_field("kind", &self.kind())?;
        if !self.refs.is_empty() {
            m.serialize_field("refs", &self.refs)?;
        }
        m.serialize_field("author", &self.author)?;
        m.serialize_field("signer", &self.signer)?;
        m.serialize_field("payload", &self.payload)?;
        m.serialize_field("created_at", &self.created_at)?;
        m.end()
    }
}

/// A decoded body, or the name of a kind this implementation does not know.
struct DecodedBody(Result<UnsignedEvent, String>);

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum BodyField {
    Kind,
    Refs,
    Author,
    Signer,
    Payload,
    CreatedAt,
}

impl<'de> Deserialize<'de> for DecodedBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = DecodedBody;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event body map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DecodedBody, A::Error> {
        use serde::de::Error;
        let mut kind: Option<Result<Kind, String>> = None;
        let mut refs: Option<Vec<Ref>> = None;
        let mut author = None;
        let mut signer = None;
        let mut payload = None;
        let mut created_at = None;
        while let Some(field) = map.next_key::<BodyField>()? {
            match field {
                BodyField::Kind => {
                    let name: String = map.next_value()?;
                    kind = Some(Kind::from_name(&name).ok_or(name));
                }
                BodyField::Refs => refs = Some(map.next_value()?),
                BodyField::Author => author = Some(map.next_value()?),
                BodyField::Signer => signer = Some(map.next_value()?),
                BodyField::CreatedAt => created_at = Some(map.next_value()?),
                // Canonical key order puts `kind` before `payload`, so the kind
                // is known when its payload is read.
                BodyField::Payload => match &kind {
                    Some(Ok(k)) => payload = Some(map.next_value_seed(PayloadSeed(*k))?),
                    Some(Err(_)) => {
                        map.next_value::<IgnoredAny>()?;
                    }
                    None => return Err(A::Error::custom("`kind` must come before `payload`")),
                },
            }
        }
        match kind {
            None => Err(A::Error::missing_field("kind")),
            Some(Err(unknown)) => Ok(DecodedBody(Err(unknown))),
            Some(Ok(_)) => Ok(DecodedBody(Ok(UnsignedEvent {
                author: author.ok_or_else(|| A::Error::missing_field("author"))?,
                signer: signer.ok_or_else(|| A::Error::missing_field("signer"))?,
                created_at: created_at.ok_or_else(|| A::Error::missing_field("created_at"))?,
                refs: refs.unwrap_or_default(),
                payload: payload.ok_or_else(|| A::Error::missing_field("payload"))?,
            }))),
        }
    }
}

/// Decodes a body from its canonical encoding and checks the stateless rules.
pub fn decode_body(bytes: &[u8]) -> Result<UnsignedEvent, EventError> {
    let DecodedBody(body) =
        serde_ipld_dagcbor::from_slice(bytes).map_err(|e| EventError::from(classify(e)))?;
    let body = body.map_err(EventError::UnknownKind)?;
    if to_canonical(&body) != bytes {
        return Err(EventError::NonCanonical);
    }
    body.validate()?;
    Ok(body)
}

/// The envelope's shape for error reporting when the fixed header does not match.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read only to tell "non-canonical" from "malformed"
struct EnvelopeShape {
    #[serde(deserialize_with = "sig_bytes")]
    sig: [u8; 64],
    body: IgnoredAny,
}

fn sig_bytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
    d.deserialize_bytes(FixedBytes::<64>)
}

#[derive(Clone, PartialEq, Eq)]
struct Inner {
    id: EventId,
    body: UnsignedEvent,
    sig: Signature,
    bytes: Vec<u8>,
}

/// A decoded envelope whose signature has not been checked yet.
#[derive(Clone, PartialEq, Eq)]
pub struct Unverified(Inner);

impl Unverified {
    /// Decodes an envelope: size, envelope shape, canonical body, stateless
    /// rules and id. The signature is checked by [`Unverified::verify`] or
    /// [`verify_batch`].
    pub fn decode(bytes: &[u8]) -> Result<Unverified, EventError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge {
                size: bytes.len(),
                max: MAX_EVENT_BYTES,
            });
        }
        let header_ok = bytes.len() > ENVELOPE_HEADER_LEN
            && bytes[..SIG_HEADER.len()] == SIG_HEADER
            && bytes[SIG_HEADER.len() + Signature::LEN..ENVELOPE_HEADER_LEN] == BODY_KEY;
        if !header_ok {
            return Err(
                match serde_ipld_dagcbor::from_slice::<EnvelopeShape>(bytes).map_err(classify) {
                    Ok(_) | Err(crate::encoding::DecodeError::NonCanonical) => {
                        EventError::NonCanonical
                    }
                    Err(crate::encoding::DecodeError::Malformed(m)) => {
                        EventError::Malformed(format!("envelope: {m}"))
                    }
                },
            );
        }
        let body_bytes = &bytes[ENVELOPE_HEADER_LEN..];
        let body = decode_body(body_bytes)?;
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&bytes[SIG_HEADER.len()..SIG_HEADER.len() + Signature::LEN]);
        Ok(Unverified(Inner {
            id: EventId::of_body(body_bytes),
            body,
            sig: Signature(sig),
            bytes: bytes.to_vec(),
        }))
    }

    /// The id.
    pub fn id(&self) -> EventId {
        self.0.id
    }

    /// The body.
    pub fn body(&self) -> &UnsignedEvent {
        &self.0.body
    }

    /// Refuses the event unless it is the one asked for (fetch by id).
    pub fn expect_id(self, expected: EventId) -> Result<Self, EventError> {
        if self.0.id != expected {
            return Err(EventError::IdMismatch {
                expected,
                found: self.0.id,
            });
        }
        Ok(self)
    }

    /// Checks the signature.
    pub fn verify(self) -> Result<Event, EventError> {
        if !self.0.body.signer.is_usable() {
            return Err(EventError::KeyInvalid);
        }
        let vk = ed25519_consensus::VerificationKey::try_from(*self.0.body.signer.as_bytes())
            .map_err(|_| EventError::SigInvalid)?;
        vk.verify(
            &ed25519_consensus::Signature::from(self.0.sig.0),
            &self.0.id.to_bytes(),
        )
        .map_err(|_| EventError::SigInvalid)?;
        Ok(Event(self.0))
    }

    fn batch_item(&self) -> ed25519_consensus::batch::Item {
        let vk = ed25519_consensus::VerificationKeyBytes::from(*self.0.body.signer.as_bytes());
        let sig = ed25519_consensus::Signature::from(self.0.sig.0);
        (vk, sig, &self.0.id.to_bytes()).into()
    }
}

impl fmt::Debug for Unverified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unverified")
            .field("id", &self.0.id)
            .field("kind", &self.0.body.kind())
            .finish_non_exhaustive()
    }
}

/// Verifies many signatures at once.
///
/// One batch equation checks them all; if it fails, each is checked alone to
/// find the culprits. Batch and single verification follow the same rules
/// (ZIP 215, through `ed25519-consensus`), so no event is valid one way and
/// invalid the other. Results are in input order.
pub fn verify_batch(events: Vec<Unverified>) -> Vec<Result<Event, EventError>> {
    if events.len() < 2 {
        return events.into_iter().map(Unverified::verify).collect();
    }
    // Unusable signers are refused before the batch; the rest are batched.
    let usable: Vec<bool> = events.iter().map(|u| u.0.body.signer.is_usable()).collect();
    if usable.iter().any(|u| !u) {
        let mut results: Vec<Option<Result<Event, EventError>>> = Vec::with_capacity(events.len());
        let mut good = Vec::new();
        for (u, ok) in events.into_iter().zip(&usable) {
            if *ok {
                results.push(None);
                good.push(u);
            } else {
                results.push(Some(Err(EventError::KeyInvalid)));
            }
        }
        let mut verified = verify_batch(good).into_iter();
        return results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| verified.next().unwrap_or(Err(EventError::SigInvalid))))
            .collect();
    }
    let mut batch = ed25519_consensus::batch::Verifier::new();
    let items: Vec<_> = events.iter().map(Unverified::batch_item).collect();
    for item in &items {
        batch.queue(item.clone());
    }
    if batch.verify(rand_core::OsRng).is_ok() {
        return events.into_iter().map(|u| Ok(Event(u.0))).collect();
    }
    events
        .into_iter()
        .zip(items)
        .map(|(u, item)| match item.verify_single() {
            Ok(()) => Ok(Event(u.0)),
            Err(_) => Err(EventError::SigInvalid),
        })
        .collect()
}

/// A verified event: every stateless rule, signature included, holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Event(Inner);

impl Event {
    /// Decodes and verifies an envelope (no clock check).
    pub fn from_bytes(bytes: &[u8]) -> Result<Event, EventError> {
        Unverified::decode(bytes)?.verify()
    }

    /// Decodes an envelope that this node verified before and kept in its own
    /// store: the full decoding rules apply, the signature check is skipped.
    ///
    /// Only for bytes that never left the node's custody since they were
    /// verified; anything from outside goes through [`Event::from_bytes`] or
    /// [`verify_batch`].
    pub fn from_stored(bytes: &[u8]) -> Result<Event, EventError> {
        Ok(Event(Unverified::decode(bytes)?.0))
    }

    /// The id.
    pub fn id(&self) -> EventId {
        self.0.id
    }

    /// The body.
    pub fn body(&self) -> &UnsignedEvent {
        &self.0.body
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.0.body.kind()
    }

    /// The identity the event speaks for.
    pub fn author(&self) -> PublicKey {
        self.0.body.author
    }

    /// The key that signed it.
    pub fn signer(&self) -> PublicKey {
        self.0.body.signer
    }

    /// Creation time, ms since the epoch.
    pub fn created_at(&self) -> u64 {
        self.0.body.created_at
    }

    /// The references.
    pub fn refs(&self) -> &[Ref] {
        &self.0.body.refs
    }

    /// The payload.
    pub fn payload(&self) -> &Payload {
        &self.0.body.payload
    }

    /// The signature.
    pub fn signature(&self) -> Signature {
        self.0.sig
    }

    /// The envelope: what goes on the wire and into storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// The canonical body: the IPFS block whose CID is the id.
    pub fn body_bytes(&self) -> &[u8] {
        &self.0.bytes[ENVELOPE_HEADER_LEN..]
    }

    /// The first event referenced with `rel`.
    pub fn event_ref(&self, rel: Rel) -> Option<EventId> {
        self.refs()
            .iter()
            .find(|r| r.rel == rel)
            .and_then(|r| match r.target {
                RefTarget::Event(id) => Some(id),
                RefTarget::Identity(_) => None,
            })
    }

    /// The first identity referenced with `rel`.
    pub fn identity_ref(&self, rel: Rel) -> Option<PublicKey> {
        self.refs()
            .iter()
            .find(|r| r.rel == rel)
            .and_then(|r| match r.target {
                RefTarget::Identity(k) => Some(k),
                RefTarget::Event(_) => None,
            })
    }

    /// Refuses events created more than `max_skew_ms` after `now_ms`.
    pub fn check_clock(&self, now_ms: u64, max_skew_ms: u64) -> Result<(), EventError> {
        check_clock(self.created_at(), now_ms, max_skew_ms)
    }
}

/// Refuses a `created_at` more than `max_skew_ms` after `now_ms`.
pub fn check_clock(created_at: u64, now_ms: u64, max_skew_ms: u64) -> Result<(), EventError> {
    let ahead_ms = created_at.saturating_sub(now_ms);
    if ahead_ms > max_skew_ms {
        return Err(EventError::ClockSkew {
            ahead_ms,
            max_ms: max_skew_ms,
        });
    }
    Ok(())
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("id", &self.0.id)
            .field("kind", &self.kind())
            .field("author", &self.0.body.author)
            .field("created_at", &self.0.body.created_at)
            .finish_non_exhaustive()
    }
}

impl From<Event> for Unverified {
    fn from(e: Event) -> Self {
        Unverified(e.0)
    }
}

impl std::hash::Hash for Event {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}
