//! Sealed direct messages: letters, their signatures, and the HPKE seal that
//! travels in a `direct_message` envelope. Spec: `specs/messages.md`.
//!
//! ```text
//! Letter --sign (sender's identity key)--> SignedLetter --pad + HPKE seal (recipient's
//!   DM key, fresh ephemeral key)--> ciphertext --in--> direct_message event
//!   (authored by a one-time key, `inbox` = the recipient's inbox hint)
//! ```
//!
//! Opening reverses it and checks, in order: the version byte, HPKE (which
//! binds the ciphertext to the inbox hint through its additional data), the
//! padding, the canonical encoding, the letter's rules, the signature, and
//! that the letter names the opener among its recipients (or as its sender).
//! Each failure is its own [`DmError`].

use std::fmt;

use base64::Engine as _;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::encoding::{DecodeError, FixedBytes, from_canonical, to_canonical};
use crate::identity::{Keypair, PublicKey, Signature};
use crate::kinds::DirectMessage;
use crate::kinds::message::{INBOX_HINT_BYTES, MAX_CIPHERTEXT_BYTES};
use crate::{Event, SignError, UnsignedEvent, check};

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::ChaCha20Poly1305;

/// HPKE `info`: binds every seal to this protocol and version.
pub const HPKE_INFO: &[u8] = b"kith/dm/v1";
/// What a letter's signature covers comes after this prefix.
pub const LETTER_CONTEXT: &[u8] = b"kith/letter/v1:";
/// Prefix of a group id's hash.
pub const GROUP_CONTEXT: &[u8] = b"kith/group/v1:";
/// Prefix of the inbox hint's hash.
pub const INBOX_CONTEXT: &[u8] = b"kith/inbox/v1";
/// First byte of every sealed message.
pub const SEAL_VERSION: u8 = 1;
/// Bytes a seal adds around the padded letter: version, encapsulated key, tag.
pub const SEAL_OVERHEAD: usize = 1 + 32 + 16;
/// Padded sizes. A sealed message is one of these plus [`SEAL_OVERHEAD`], so
/// relaying nodes learn a size bucket, not a length.
pub const BUCKETS: [usize; 5] = [512, 2048, 8192, 24576, MAX_CIPHERTEXT_BYTES - SEAL_OVERHEAD];
/// Longest text of a letter.
pub const MAX_TEXT_BYTES: usize = 8_000;
/// Most recipients of one letter, and most members of a group.
pub const MAX_MEMBERS: usize = 50;
/// Most attachments on one letter.
pub const MAX_ATTACHMENTS: usize = 10;
/// Most letters one receipt acknowledges.
pub const MAX_RECEIPT_IDS: usize = 100;
/// Longest reaction (an emoji sequence or a short word).
pub const MAX_REACTION_BYTES: usize = 32;
/// Longest group name and attachment file name.
pub const MAX_NAME_BYTES: usize = 100;

/// Why a letter could not be made, sealed or opened. Stable codes through
/// [`DmError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DmError {
    /// The sealed bytes do not start with a known version.
    #[error("unknown seal version {0}")]
    UnknownVersion(u8),
    /// Shorter than any seal, or longer than an envelope can carry.
    #[error("sealed message of {0} bytes is not a possible size")]
    BadLength(usize),
    /// No DM key of the opener opens it: not for this inbox, or tampered with.
    #[error("no key opens this message")]
    CannotOpen,
    /// The recipient's DM key is not a usable X25519 key.
    #[error("not a usable DM key")]
    BadKey,
    /// The padding is inconsistent.
    #[error("bad padding")]
    BadPadding,
    /// The letter is not canonical DAG-CBOR of the right shape.
    #[error("letter undecodable: {0}")]
    Decode(#[from] DecodeError),
    /// A field breaks the letter's rules.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The signature does not verify against `from`.
    #[error("the letter is not signed by its sender")]
    BadSignature,
    /// The letter does not name the opener: sealed to someone else and re-sealed.
    #[error("the letter is not addressed to this identity")]
    NotAddressed,
    /// Too large to seal into one envelope.
    #[error("letter of {0} bytes is too large to seal")]
    TooLarge(usize),
}

impl DmError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DmError::UnknownVersion(_) => "dm_unknown_version",
            DmError::BadLength(_) => "dm_bad_length",
            DmError::CannotOpen => "dm_cannot_open",
            DmError::BadKey => "dm_bad_key",
            DmError::BadPadding => "dm_bad_padding",
            DmError::Decode(_) => "dm_undecodable",
            DmError::Invalid { .. } => "dm_invalid",
            DmError::BadSignature => "dm_bad_signature",
            DmError::NotAddressed => "dm_not_addressed",
            DmError::TooLarge(_) => "dm_too_large",
        }
    }

    fn field(field: &'static str, reason: impl Into<String>) -> Self {
        DmError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

impl From<crate::EventError> for DmError {
    fn from(e: crate::EventError) -> Self {
        use crate::EventError as E;
        match e {
            E::FieldInvalid { field, reason } => DmError::Invalid { field, reason },
            E::TextTooLong { field, .. } | E::TooManyItems { field, .. } => {
                DmError::field(field, e.to_string())
            }
            other => DmError::field("letter", other.to_string()),
        }
    }
}

/// The inbox hint of an identity: `sha256("kith/inbox/v1" ‖ key)`. It is what
/// relaying nodes see of a message's recipient.
pub fn inbox_hint(identity: &PublicKey) -> [u8; INBOX_HINT_BYTES] {
    let mut h = Sha256::new();
    h.update(INBOX_CONTEXT);
    h.update(identity.as_bytes());
    h.finalize().into()
}

macro_rules! bytes32 {
    ($(#[$doc:meta])* $name:ident) => {
        bytes32!($(#[$doc])* $name, |v: &$name| v.to_hex(), |s: &str| $name::from_hex(s), "64 hex digits");
    };
    ($(#[$doc:meta])* $name:ident, $to_text:expr, $from_text:expr, $expected:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The lowercase hex form.
            pub fn to_hex(&self) -> String {
                self.0.iter().map(|b| format!("{b:02x}")).collect()
            }

            /// Parses the hex form.
            pub fn from_hex(s: &str) -> Option<Self> {
                let s = s.trim();
                if s.len() != 64 || !s.is_ascii() {
                    return None;
                }
                let mut out = [0u8; 32];
                for (i, o) in out.iter_mut().enumerate() {
                    *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
                }
                Some($name(out))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({}…)", stringify!($name), &self.to_hex()[..12])
            }
        }

        /// 32 bytes on the wire; text in human-readable formats.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&($to_text)(self))
                } else {
                    s.serialize_bytes(&self.0)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    return ($from_text)(&text)
                        .ok_or_else(|| serde::de::Error::custom(concat!("expected ", $expected)));
                }
                d.deserialize_bytes(FixedBytes::<32>).map($name)
            }
        }
    };
}

bytes32! {
    /// A letter's id: `sha256` of its canonical encoding (signature excluded).
    LetterId
}
bytes32! {
    /// A group's id: derived from its creator and a random salt
    /// ([`GroupId::derive`]), so only the creator can create it.
    GroupId
}
impl GroupId {
    /// The id of the group `creator` creates with `salt`.
    pub fn derive(creator: &PublicKey, salt: &GroupId) -> GroupId {
        let mut h = Sha256::new();
        h.update(GROUP_CONTEXT);
        h.update(creator.as_bytes());
        h.update(salt.0);
        GroupId(h.finalize().into())
    }
}

bytes32! {
    /// A DM public key: an X25519 public key, published in the profile's
    /// `dm_key`. Standard base64 in JSON, like every byte string of a payload.
    DmPublic,
    |v: &DmPublic| base64::engine::general_purpose::STANDARD.encode(v.0),
    |s: &str| base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(DmPublic),
    "32 bytes in base64"
}

/// A DM secret key (X25519), zeroized on drop.
pub struct DmSecret(Zeroizing<[u8; 32]>);

impl fmt::Debug for DmSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DmSecret(public {})", self.public())
    }
}

impl DmSecret {
    /// A fresh random key.
    pub fn generate<R: CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        let mut ikm = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(ikm.as_mut());
        let (sk, _) = Kem::derive_keypair(ikm.as_ref());
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&sk.to_bytes());
        DmSecret(bytes)
    }

    /// The key with these secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, DmError> {
        <Kem as hpke::Kem>::PrivateKey::from_bytes(&bytes).map_err(|_| DmError::BadKey)?;
        Ok(DmSecret(Zeroizing::new(bytes)))
    }

    /// The secret bytes.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.0.clone()
    }

    fn hpke(&self) -> <Kem as hpke::Kem>::PrivateKey {
        // The bytes were checked when the key was made.
        <Kem as hpke::Kem>::PrivateKey::from_bytes(self.0.as_ref())
            .unwrap_or_else(|_| unreachable!("checked at construction"))
    }

    /// The public key.
    pub fn public(&self) -> DmPublic {
        let pk = Kem::sk_to_pk(&self.hpke());
        let mut out = [0u8; 32];
        out.copy_from_slice(&pk.to_bytes());
        DmPublic(out)
    }
}

/// An encrypted attachment: the file is encrypted with ChaCha20-Poly1305
/// under `key` (a fresh random key per file, nonce zero) before it is added
/// to IPFS as `cid`; `size` and `mime` describe the plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// The encrypted file's CID.
    #[serde(with = "crate::encoding::cid_text")]
    pub cid: cid::Cid,
    /// The key that decrypts it.
    #[serde(with = "crate::encoding::byte_buf")]
    pub key: Vec<u8>,
    /// The plaintext's media type.
    pub mime: String,
    /// The plaintext's size in bytes.
    pub size: u64,
    /// A file name to offer when saving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A message with text, and possibly a reply reference and attachments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// The text (absent when empty: attachments only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// The letter this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<LetterId>,
    /// Encrypted files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The trade this message is about (an order's id): how a buyer sends
    /// delivery details to the seller without putting them in the public
    /// order (`specs/trades.md` § Delivery details).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<crate::EventId>,
}

/// A reaction to a letter; an empty `reaction` takes the sender's reaction back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct React {
    /// The letter reacted to.
    pub to: LetterId,
    /// The reaction (absent when empty: the reaction is taken back).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reaction: String,
}

/// A new text for one of the sender's own letters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// The letter edited (the sender's own).
    pub of: LetterId,
    /// Its new text.
    pub text: String,
}

/// Deletion of one of the sender's own letters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsend {
    /// The letter deleted (the sender's own).
    pub of: LetterId,
}

/// Delivery or read receipt for letters of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The letters acknowledged.
    pub of: Vec<LetterId>,
    /// Read (true) or only delivered (false, absent on the wire).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read: bool,
}

/// A group's complete new state, set by an admin: who is in it, who runs it,
/// what it is called. The change that carries the salt the group's id derives
/// from creates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupChange {
    /// Only in the change that creates the group: 32 random bytes with
    /// `group id = sha256("kith/group/v1:" ‖ creator ‖ salt)`, so that only
    /// its creator can create a group with that id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<GroupId>,
    /// The group's name.
    pub name: String,
    /// Every member after the change, the admins included.
    pub members: Vec<PublicKey>,
    /// The admins after the change.
    pub admins: Vec<PublicKey>,
}

/// What a letter says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// A message.
    Text(Text),
    /// A reaction to a message.
    React(React),
    /// An edit of one's own message.
    Edit(Edit),
    /// Deletion of one's own message.
    Unsend(Unsend),
    /// A delivery or read receipt.
    Receipt(Receipt),
    /// A group's new membership.
    Group(GroupChange),
    /// The sender is typing. Never stored: sealed like any letter but sent
    /// on the recipient's typing topic, and shown only while fresh
    /// ([`TYPING_FRESH_MS`]).
    Typing(Typing),
}

/// A typing indicator's body: nothing but the fact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Typing {}

/// How long a typing indicator counts, either side of its `created_at`.
pub const TYPING_FRESH_MS: u64 = 15_000;

/// The plaintext of a message, before signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Letter {
    /// The sender's identity.
    pub from: PublicKey,
    /// Every recipient (never the sender): the one peer of a conversation,
    /// or a group's other members at sending time.
    pub to: Vec<PublicKey>,
    /// The group this letter belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupId>,
    /// Sending time, ms since the epoch: the conversation's order.
    pub created_at: u64,
    /// What it says.
    pub body: Body,
}

fn text_rule(field: &'static str, text: &str) -> Result<(), DmError> {
    check::text(field, text, MAX_TEXT_BYTES).map_err(DmError::from)
}

fn unique_keys(field: &'static str, keys: &[PublicKey]) -> Result<(), DmError> {
    check::unique(field, keys).map_err(DmError::from)
}

impl Letter {
    /// Checks the letter's rules (`specs/messages.md` § Letter rules).
    pub fn validate(&self) -> Result<(), DmError> {
        check::timestamp("created_at", self.created_at)?;
        if !self.from.is_usable() {
            return Err(DmError::field("from", "not a usable identity key"));
        }
        if self.to.is_empty() {
            return Err(DmError::field("to", "name at least one recipient"));
        }
        // A group change also reaches the members it removes.
        let most = match self.body {
            Body::Group(_) => 2 * (MAX_MEMBERS - 1),
            _ => MAX_MEMBERS - 1,
        };
        if self.to.len() > most {
            return Err(DmError::field("to", format!("at most {most} recipients")));
        }
        unique_keys("to", &self.to)?;
        if self.to.contains(&self.from) {
            return Err(DmError::field("to", "the sender is not a recipient"));
        }
        if self.group.is_none() && self.to.len() != 1 {
            return Err(DmError::field(
                "to",
                "a letter outside a group has exactly one recipient",
            ));
        }
        match &self.body {
            Body::Text(t) => {
                text_rule("text", &t.text)?;
                if t.text.trim().is_empty() && t.attachments.is_empty() {
                    return Err(DmError::field(
                        "text",
                        "must not be blank without attachments",
                    ));
                }
                if t.attachments.len() > MAX_ATTACHMENTS {
                    return Err(DmError::field(
                        "attachments",
                        format!("at most {MAX_ATTACHMENTS}"),
                    ));
                }
                for a in &t.attachments {
                    if a.key.len() != 32 {
                        return Err(DmError::field("attachments", "a file key is 32 bytes"));
                    }
                    if a.mime.is_empty() || a.mime.len() > 100 || !a.mime.contains('/') {
                        return Err(DmError::field("attachments", "mime must be type/subtype"));
                    }
                    if let Some(name) = &a.name {
                        check::required_text("name", name, MAX_NAME_BYTES)?;
                    }
                }
            }
            Body::React(r) => {
                check::text("reaction", &r.reaction, MAX_REACTION_BYTES)?;
            }
            Body::Edit(e) => {
                text_rule("text", &e.text)?;
                if e.text.trim().is_empty() {
                    return Err(DmError::field("text", "must not be blank"));
                }
            }
            Body::Unsend(_) | Body::Typing(_) => {}
            Body::Receipt(r) => {
                if r.of.is_empty() || r.of.len() > MAX_RECEIPT_IDS {
                    return Err(DmError::field(
                        "of",
                        format!("name 1 to {MAX_RECEIPT_IDS} letters"),
                    ));
                }
            }
            Body::Group(g) => {
                let Some(group) = self.group else {
                    return Err(DmError::field("group", "a group change names its group"));
                };
                if let Some(salt) = &g.salt
                    && GroupId::derive(&self.from, salt) != group
                {
                    return Err(DmError::field(
                        "salt",
                        "the group id is not derived from its creator and this salt",
                    ));
                }
                check::required_text("name", &g.name, MAX_NAME_BYTES)?;
                if g.members.len() < 2 || g.members.len() > MAX_MEMBERS {
                    return Err(DmError::field(
                        "members",
                        format!("a group has 2 to {MAX_MEMBERS} members"),
                    ));
                }
                unique_keys("members", &g.members)?;
                unique_keys("admins", &g.admins)?;
                if g.admins.is_empty() || g.admins.iter().any(|a| !g.members.contains(a)) {
                    return Err(DmError::field(
                        "admins",
                        "at least one admin, every admin a member",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        to_canonical(self)
    }

    /// The id: `sha256` of the canonical encoding.
    pub fn id(&self) -> LetterId {
        LetterId(Sha256::digest(self.encode()).into())
    }

    /// Validates and signs with the sender's identity key.
    pub fn sign(self, key: &Keypair) -> Result<SignedLetter, DmError> {
        if key.public() != self.from {
            return Err(DmError::field("from", "the signing key is not the sender"));
        }
        self.validate()?;
        let sig = key.sign_raw(&letter_message(&self.encode()));
        Ok(SignedLetter { letter: self, sig })
    }
}

fn letter_message(encoded: &[u8]) -> Vec<u8> {
    let mut m = LETTER_CONTEXT.to_vec();
    m.extend_from_slice(encoded);
    m
}

/// A letter with its sender's signature: what is padded and sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLetter {
    /// The letter.
    pub letter: Letter,
    /// The sender's Ed25519 signature over `"kith/letter/v1:" ‖ encode(letter)`.
    pub sig: Signature,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedWire {
    letter: Letter,
    #[serde(with = "sig_bytes")]
    sig: Signature,
}

mod sig_bytes {
    use super::*;
    pub(super) fn serialize<S: serde::Serializer>(v: &Signature, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v.as_bytes())
    }
    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Signature, D::Error> {
        d.deserialize_bytes(FixedBytes::<64>)
            .map(Signature::from_bytes)
    }
}

impl SignedLetter {
    /// The letter's id.
    pub fn id(&self) -> LetterId {
        self.letter.id()
    }

    /// The canonical encoding `{"sig": …, "letter": …}`.
    pub fn encode(&self) -> Vec<u8> {
        to_canonical(&SignedWire {
            letter: self.letter.clone(),
            sig: self.sig,
        })
    }

    /// Decodes, validates and verifies a signed letter.
    pub fn decode(bytes: &[u8]) -> Result<SignedLetter, DmError> {
        let wire: SignedWire = from_canonical(bytes)?;
        wire.letter.validate()?;
        if !wire
            .letter
            .from
            .verifies_raw(&letter_message(&wire.letter.encode()), &wire.sig)
        {
            return Err(DmError::BadSignature);
        }
        Ok(SignedLetter {
            letter: wire.letter,
            sig: wire.sig,
        })
    }

    /// Seals the letter for `recipient` (a recipient of the letter or its
    /// sender, for the sender's own copy) under their DM key.
    pub fn seal<R: CryptoRngCore + ?Sized>(
        &self,
        recipient: &PublicKey,
        key: &DmPublic,
        rng: &mut R,
    ) -> Result<Vec<u8>, DmError> {
        if *recipient != self.letter.from && !self.letter.to.contains(recipient) {
            return Err(DmError::NotAddressed);
        }
        let encoded = self.encode();
        let padded = pad(&encoded)?;
        let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&key.0).map_err(|_| DmError::BadKey)?;
        let mut rng = RngAdapter(rng);
        let (enc, ct) = hpke::single_shot_seal::<Aead, Kdf, Kem, _>(
            &OpModeS::Base,
            &pk,
            HPKE_INFO,
            &padded,
            &inbox_hint(recipient),
            &mut rng,
        )
        .map_err(|_| DmError::BadKey)?;
        let mut out = Vec::with_capacity(SEAL_OVERHEAD + padded.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&enc.to_bytes());
        out.extend_from_slice(&ct);
        Ok(out)
    }
}

/// `rand_core` 0.6 traits over a `?Sized` generator, which hpke wants by value.
struct RngAdapter<'a, R: ?Sized>(&'a mut R);

impl<R: CryptoRngCore + ?Sized> rand_core::RngCore for RngAdapter<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl<R: CryptoRngCore + ?Sized> rand_core::CryptoRng for RngAdapter<'_, R> {}

/// `u32` big-endian length ‖ bytes ‖ zeros, to the smallest bucket that fits.
fn pad(bytes: &[u8]) -> Result<Vec<u8>, DmError> {
    let need = 4 + bytes.len();
    let size = BUCKETS
        .iter()
        .copied()
        .find(|&b| b >= need)
        .ok_or(DmError::TooLarge(bytes.len()))?;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
    out.resize(size, 0);
    Ok(out)
}

fn unpad(padded: &[u8]) -> Result<&[u8], DmError> {
    if !BUCKETS.contains(&padded.len()) {
        return Err(DmError::BadPadding);
    }
    let (len, rest) = padded.split_at(4);
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len > rest.len() || rest[len..].iter().any(|&b| b != 0) {
        return Err(DmError::BadPadding);
    }
    Ok(&rest[..len])
}

/// Opens a sealed message found in `me`'s inbox with the first of `keys` (the
/// current DM key and the older ones kept) that opens it.
pub fn open(ciphertext: &[u8], me: &PublicKey, keys: &[DmSecret]) -> Result<SignedLetter, DmError> {
    let Some((&version, rest)) = ciphertext.split_first() else {
        return Err(DmError::BadLength(0));
    };
    if version != SEAL_VERSION {
        return Err(DmError::UnknownVersion(version));
    }
    if ciphertext.len() > MAX_CIPHERTEXT_BYTES
        || !BUCKETS
            .iter()
            .any(|b| b + SEAL_OVERHEAD == ciphertext.len())
    {
        return Err(DmError::BadLength(ciphertext.len()));
    }
    let (enc, ct) = rest.split_at(32);
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| DmError::CannotOpen)?;
    let aad = inbox_hint(me);
    let padded = keys
        .iter()
        .find_map(|k| {
            hpke::single_shot_open::<Aead, Kdf, Kem>(
                &OpModeR::Base,
                &k.hpke(),
                &enc,
                HPKE_INFO,
                ct,
                &aad,
            )
            .ok()
        })
        .map(Zeroizing::new)
        .ok_or(DmError::CannotOpen)?;
    let signed = SignedLetter::decode(unpad(&padded)?)?;
    if signed.letter.from != *me && !signed.letter.to.contains(me) {
        return Err(DmError::NotAddressed);
    }
    Ok(signed)
}

/// The `direct_message` event that carries `ciphertext` to `recipient`'s
/// inbox, signed by a fresh one-time key so it names no sender.
pub fn envelope<R: CryptoRngCore + ?Sized>(
    recipient: &PublicKey,
    ciphertext: Vec<u8>,
    created_at: u64,
    rng: &mut R,
) -> Result<Event, SignError> {
    let one_time = Keypair::generate(rng);
    UnsignedEvent::new(
        one_time.public(),
        created_at,
        DirectMessage {
            inbox: inbox_hint(recipient).to_vec(),
            ciphertext,
        },
    )
    .sign(&one_time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    const T: u64 = 1_767_225_600_000;

    fn text(from: &Keypair, to: &[PublicKey], s: &str) -> Letter {
        Letter {
            from: from.public(),
            to: to.to_vec(),
            group: None,
            created_at: T,
            body: Body::Text(Text {
                text: s.into(),
                ..Text::default()
            }),
        }
    }

    #[test]
    fn seal_and_open_round_trip_for_recipient_and_sender() {
        let (ana, bob) = (Keypair::generate(&mut OsRng), Keypair::generate(&mut OsRng));
        let (ka, kb) = (
            DmSecret::generate(&mut OsRng),
            DmSecret::generate(&mut OsRng),
        );
        let signed = text(&ana, &[bob.public()], "hola, ¿qué tal?")
            .sign(&ana)
            .unwrap();
        let ct = signed
            .seal(&bob.public(), &kb.public(), &mut OsRng)
            .unwrap();
        assert_eq!(ct.len(), BUCKETS[0] + SEAL_OVERHEAD);
        let opened = open(&ct, &bob.public(), &[DmSecret::generate(&mut OsRng), kb]).unwrap();
        assert_eq!(opened, signed);
        let own = signed
            .seal(&ana.public(), &ka.public(), &mut OsRng)
            .unwrap();
        assert_eq!(open(&own, &ana.public(), &[ka]).unwrap().id(), signed.id());
        // The plaintext appears nowhere in the seal.
        assert!(!ct.windows(4).any(|w| w == b"hola"));
    }

    #[test]
    fn wrong_inbox_wrong_key_tampering_and_forgery_are_refused() {
        let (ana, bob, eve) = (
            Keypair::generate(&mut OsRng),
            Keypair::generate(&mut OsRng),
            Keypair::generate(&mut OsRng),
        );
        let kb = DmSecret::generate(&mut OsRng);
        let signed = text(&ana, &[bob.public()], "secret").sign(&ana).unwrap();
        let ct = signed
            .seal(&bob.public(), &kb.public(), &mut OsRng)
            .unwrap();
        // Opened as someone else's inbox: the hint is the AAD, so it fails.
        assert_eq!(
            open(
                &ct,
                &eve.public(),
                &[DmSecret::from_bytes(*kb.to_bytes()).unwrap()]
            ),
            Err(DmError::CannotOpen)
        );
        assert_eq!(
            open(&ct, &bob.public(), &[DmSecret::generate(&mut OsRng)]),
            Err(DmError::CannotOpen)
        );
        let mut bad = ct.clone();
        bad[100] ^= 1;
        assert_eq!(
            open(
                &bad,
                &bob.public(),
                &[DmSecret::from_bytes(*kb.to_bytes()).unwrap()]
            ),
            Err(DmError::CannotOpen)
        );
        assert_eq!(
            open(&ct[..50], &bob.public(), &[]),
            Err(DmError::BadLength(50))
        );
        let mut v2 = ct.clone();
        v2[0] = 2;
        assert_eq!(
            open(&v2, &bob.public(), &[]),
            Err(DmError::UnknownVersion(2))
        );
        // Eve claims to be Ana: signed by Eve, `from` Ana.
        let forged = SignedLetter {
            letter: text(&ana, &[bob.public()], "send money"),
            sig: eve.sign_raw(&letter_message(
                &text(&ana, &[bob.public()], "send money").encode(),
            )),
        };
        let ct = forged
            .seal(&bob.public(), &kb.public(), &mut OsRng)
            .unwrap();
        assert_eq!(open(&ct, &bob.public(), &[kb]), Err(DmError::BadSignature));
    }

    #[test]
    fn a_letter_re_sealed_to_someone_it_does_not_name_is_refused() {
        let (ana, bob, carol) = (
            Keypair::generate(&mut OsRng),
            Keypair::generate(&mut OsRng),
            Keypair::generate(&mut OsRng),
        );
        let kc = DmSecret::generate(&mut OsRng);
        let signed = text(&ana, &[bob.public()], "only for Bob")
            .sign(&ana)
            .unwrap();
        assert_eq!(
            signed.seal(&carol.public(), &kc.public(), &mut OsRng),
            Err(DmError::NotAddressed)
        );
        // Bob, holding the signed letter, seals it to Carol by hand.
        let padded = pad(&signed.encode()).unwrap();
        let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&kc.public().0).unwrap();
        let (enc, ct) = hpke::single_shot_seal::<Aead, Kdf, Kem, _>(
            &OpModeS::Base,
            &pk,
            HPKE_INFO,
            &padded,
            &inbox_hint(&carol.public()),
            &mut OsRng,
        )
        .unwrap();
        let mut sealed = vec![SEAL_VERSION];
        sealed.extend_from_slice(&enc.to_bytes());
        sealed.extend_from_slice(&ct);
        assert_eq!(
            open(&sealed, &carol.public(), &[kc]),
            Err(DmError::NotAddressed)
        );
    }

    #[test]
    fn letter_rules() {
        let (ana, bob) = (Keypair::generate(&mut OsRng), Keypair::generate(&mut OsRng));
        let ok = text(&ana, &[bob.public()], "x");
        assert!(ok.validate().is_ok());
        let mut l = ok.clone();
        l.to = vec![];
        assert_eq!(l.validate().unwrap_err().code(), "dm_invalid");
        let mut l = ok.clone();
        l.to = vec![bob.public(), ana.public()];
        assert!(l.validate().is_err());
        let mut l = ok.clone();
        l.body = Body::Text(Text {
            text: "a".repeat(MAX_TEXT_BYTES + 1),
            ..Text::default()
        });
        assert!(l.validate().is_err());
        let mut l = ok.clone();
        l.body = Body::Text(Text::default());
        assert!(l.validate().is_err());
        let mut l = ok.clone();
        l.body = Body::Group(GroupChange {
            salt: None,
            name: "g".into(),
            members: vec![ana.public(), bob.public()],
            admins: vec![ana.public()],
        });
        assert!(l.validate().is_err(), "group change outside a group");
        l.group = Some(GroupId([7; 32]));
        assert!(l.validate().is_ok());
        // A creation's salt must derive the group id from its sender.
        let salt = GroupId([3; 32]);
        if let Body::Group(g) = &mut l.body {
            g.salt = Some(salt);
        }
        assert_eq!(l.validate().unwrap_err().code(), "dm_invalid");
        l.group = Some(GroupId::derive(&ana.public(), &salt));
        assert!(l.validate().is_ok());
        l.from = bob.public();
        l.to = vec![ana.public()];
        assert!(l.validate().is_err(), "someone else cannot create it");
        assert!(ok.clone().sign(&bob).is_err(), "signed by someone else");
        // Every bucket can be reached and the largest letter still seals.
        let big = Letter {
            body: Body::Text(Text {
                text: "é".repeat(MAX_TEXT_BYTES / 2),
                ..Text::default()
            }),
            ..ok
        };
        let kb = DmSecret::generate(&mut OsRng);
        let s = big.sign(&ana).unwrap();
        let ct = s.seal(&bob.public(), &kb.public(), &mut OsRng).unwrap();
        assert_eq!(ct.len(), BUCKETS[3] + SEAL_OVERHEAD);
        assert_eq!(open(&ct, &bob.public(), &[kb]).unwrap(), s);
    }

    #[test]
    fn the_envelope_names_the_inbox_and_not_the_sender() {
        let (ana, bob) = (Keypair::generate(&mut OsRng), Keypair::generate(&mut OsRng));
        let kb = DmSecret::generate(&mut OsRng);
        let s = text(&ana, &[bob.public()], "hi").sign(&ana).unwrap();
        let ct = s.seal(&bob.public(), &kb.public(), &mut OsRng).unwrap();
        let e = envelope(&bob.public(), ct, T, &mut OsRng).unwrap();
        assert_ne!(e.author(), ana.public());
        let bytes = e.as_bytes();
        assert!(!bytes.windows(32).any(|w| w == ana.public().as_bytes()));
        assert!(!bytes.windows(32).any(|w| w == bob.public().as_bytes()));
        match e.payload() {
            crate::Payload::DirectMessage(dm) => {
                assert_eq!(dm.inbox, inbox_hint(&bob.public()));
                assert_eq!(open(&dm.ciphertext, &bob.public(), &[kb]).unwrap(), s);
            }
            _ => panic!("not a direct message"),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any byte flipped in a valid seal makes it refused, never a panic
        /// and never a different letter.
        #[test]
        fn flipped_bytes_are_refused(at in 0usize..561, bit in 0u8..8) {
            let (ana, bob) = (Keypair::from_seed(&[1; 32]).unwrap(), Keypair::from_seed(&[2; 32]).unwrap());
            let kb = DmSecret::from_bytes([3; 32]).unwrap();
            let signed = text(&ana, &[bob.public()], "hola").sign(&ana).unwrap();
            let mut ct = signed.seal(&bob.public(), &kb.public(), &mut OsRng).unwrap();
            ct[at] ^= 1 << bit;
            proptest::prop_assert!(open(&ct, &bob.public(), &[kb]).is_err());
        }

        /// Arbitrary bytes, as a seal or as a signed letter, never panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..700)) {
            let me = Keypair::from_seed(&[1; 32]).unwrap().public();
            let k = DmSecret::from_bytes([3; 32]).unwrap();
            let _ = open(&bytes, &me, std::slice::from_ref(&k));
            if let Ok(s) = SignedLetter::decode(&bytes) {
                proptest::prop_assert_eq!(s.encode(), bytes);
            }
        }
    }

    #[test]
    fn opening_arbitrary_bytes_never_panics() {
        let me = Keypair::generate(&mut OsRng).public();
        let k = DmSecret::generate(&mut OsRng);
        for len in [0usize, 1, 33, 48, 49, 560, 561, 2097, 60_000] {
            for first in [0u8, 1, 2] {
                let mut b = vec![first; len];
                if let Some(x) = b.first_mut() {
                    *x = first;
                }
                assert!(open(&b, &me, std::slice::from_ref(&k)).is_err());
            }
        }
        for bytes in [&b""[..], b"\xa0", b"\xa2", &[0xff; 40]] {
            assert!(SignedLetter::decode(bytes).is_err());
        }
        assert!(unpad(&[0u8; 3]).is_err());
        let mut p = vec![0u8; 512];
        p[..4].copy_from_slice(&600u32.to_be_bytes());
        assert_eq!(unpad(&p), Err(DmError::BadPadding));
    }
}
