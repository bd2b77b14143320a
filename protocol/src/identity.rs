//! Identities: Ed25519 public keys, key pairs, signatures and their text forms.
//!
//! Spec: `specs/events.md`, sections "Identities" and "Key files".

use std::fmt;
use std::str::FromStr;

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

/// Human-readable part of a public key's text form (`kith1…`).
pub const PUBLIC_KEY_HRP: &str = "kith";
/// Human-readable part of a secret key's text form (`kithsecret1…`).
pub const SECRET_KEY_HRP: &str = "kithsecret";
/// First line of a key file.
pub const KEY_FILE_HEADER: &str = "# kith secret key v1";

/// Why a key, in bytes or in text, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not valid bech32m (bad checksum, mixed case, bad characters).
    #[error("not a valid bech32m string: {0}")]
    Encoding(String),
    /// The text is bech32m but carries another prefix.
    #[error("expected prefix `{expected}`, found `{found}`")]
    WrongPrefix {
        /// The prefix this key type uses.
        expected: &'static str,
        /// The prefix found.
        found: String,
    },
    /// The payload does not have the length of a key.
    #[error("expected {expected} bytes, found {found}")]
    Length {
        /// Required length.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// The bytes are not a point on the curve, or a point of small order.
    #[error("not a usable Ed25519 public key")]
    InvalidPoint,
    /// A key file that does not follow the documented format.
    #[error("malformed key file: {0}")]
    KeyFile(&'static str),
}

impl KeyError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Encoding(_) | KeyError::WrongPrefix { .. } | KeyError::Length { .. } => {
                "key_malformed"
            }
            KeyError::InvalidPoint => "key_invalid",
            KeyError::KeyFile(_) => "key_file_malformed",
        }
    }
}

/// An identity: the 32 bytes of an Ed25519 public key.
///
/// Values made by [`PublicKey::from_bytes`] and parsing are usable keys (a
/// curve point not of small order); values decoded from events are taken as
/// they are, because the protocol checks usability only where a signature
/// depends on it: the signer, at verification ([`PublicKey::is_usable`]).
///
/// Text form: bech32m with prefix `kith`, e.g. `kith1…` (see `specs/events.md#identities`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Length in bytes.
    pub const LEN: usize = 32;

    /// Accepts 32 bytes if they are a usable Ed25519 public key.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidPoint)?;
        if key.is_weak() {
            return Err(KeyError::InvalidPoint);
        }
        Ok(PublicKey(bytes))
    }

    /// Wraps 32 bytes without checking that they are a usable key.
    ///
    /// Events name identities (mentions, follows, lists) by their 32 bytes and
    /// the protocol checks a key's usability only where a signature depends on
    /// it (the signer, at verification). Use this for bytes out of a decoded
    /// event or the node's own store; use [`PublicKey::from_bytes`] for input.
    pub fn from_bytes_unchecked(bytes: [u8; 32]) -> Self {
        PublicKey(bytes)
    }

    /// Whether the bytes are a usable Ed25519 public key: they decompress to
    /// a curve point, and that point is not of small order.
    pub fn is_usable(&self) -> bool {
        VerifyingKey::from_bytes(&self.0).is_ok_and(|k| !k.is_weak())
    }

    /// Accepts a slice of 32 bytes if they are a usable Ed25519 public key.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Length {
            expected: 32,
            found: bytes.len(),
        })?;
        Self::from_bytes(arr)
    }

    /// The raw key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The bech32m text form.
    pub fn to_text(&self) -> String {
        encode_bech32m(PUBLIC_KEY_HRP, &self.0)
    }

    /// A short form for logs: the first 12 characters after the prefix.
    pub fn short(&self) -> String {
        let text = self.to_text();
        text[..PUBLIC_KEY_HRP.len() + 1 + 12].to_string()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.short())
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = decode_bech32m(PUBLIC_KEY_HRP, s.trim())?;
        Self::from_slice(&bytes)
    }
}

/// In DAG-CBOR (the wire) a key is its 32 bytes; in human-readable formats
/// (the gateway's JSON) it is its text form, `kith1…`.
impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_text())
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text =
                <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
            return text.parse().map_err(serde::de::Error::custom);
        }
        let bytes = deserializer.deserialize_bytes(crate::encoding::FixedBytes::<32>)?;
        Ok(PublicKey(bytes))
    }
}

/// What a Nostr key link's Kith signature covers comes after this prefix,
/// which no event id (32 bytes) can equal.
pub const NOSTR_LINK_CONTEXT: &[u8] = b"kith/nostr-link/v1:";

fn nostr_link_message(nostr_key: &[u8; 32]) -> Vec<u8> {
    let mut m = NOSTR_LINK_CONTEXT.to_vec();
    m.extend_from_slice(nostr_key);
    m
}

impl PublicKey {
    /// Whether `sig` is this identity's signature vouching for `nostr_key`
    /// (see [`Keypair::sign_nostr_link`]).
    pub fn verifies_nostr_link(&self, nostr_key: &[u8; 32], sig: &Signature) -> bool {
        self.verifies_raw(&nostr_link_message(nostr_key), sig)
    }

    /// Whether `sig` is this key's signature over `message` (ZIP 215 rules,
    /// as for events). Callers domain-separate their messages.
    pub(crate) fn verifies_raw(&self, message: &[u8], sig: &Signature) -> bool {
        ed25519_consensus::VerificationKey::try_from(self.0)
            .and_then(|vk| vk.verify(&ed25519_consensus::Signature::from(sig.0), message))
            .is_ok()
    }
}

/// An Ed25519 signature (64 bytes) over an event id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub(crate) [u8; 64]);

impl Signature {
    /// Length in bytes.
    pub const LEN: usize = 64;

    /// Wraps 64 bytes. Whether they verify is decided by [`crate::Event`] verification.
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        Signature(bytes)
    }

    /// The raw signature.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// A secret key with its public key. The secret is zeroized on drop.
///
/// Text form: bech32m with prefix `kithsecret` over the 32-byte seed.
pub struct Keypair {
    signing: SigningKey,
    public: PublicKey,
}

impl Keypair {
    /// A fresh random key pair.
    pub fn generate<R: CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        loop {
            let signing = SigningKey::generate(rng);
            // A random key is of large order with overwhelming probability; the
            // loop makes the invariant unconditional.
            if let Ok(public) = PublicKey::from_bytes(signing.verifying_key().to_bytes()) {
                return Keypair { signing, public };
            }
        }
    }

    /// The key pair whose secret seed is `seed` (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, KeyError> {
        let signing = SigningKey::from_bytes(seed);
        let public = PublicKey::from_bytes(signing.verifying_key().to_bytes())?;
        Ok(Keypair { signing, public })
    }

    /// The public key, i.e. the identity.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The 32-byte secret seed.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    /// Signs an event id: what a client holding its own key does with the
    /// body a gateway prepared for it (then [`crate::assemble`]).
    pub fn sign_id(&self, id: &crate::EventId) -> Signature {
        self.sign_raw(&id.to_bytes())
    }

    /// Signs the Kith half of a Nostr key link's proof: this identity
    /// vouches for `nostr_key` (a BIP-340 x-only key). The only signature
    /// besides event ids, domain-separated from them by
    /// [`NOSTR_LINK_CONTEXT`] (`specs/nostr.md` § Linked keys).
    pub fn sign_nostr_link(&self, nostr_key: &[u8; 32]) -> Signature {
        self.sign_raw(&nostr_link_message(nostr_key))
    }

    /// Signs arbitrary bytes (the protocol only ever signs event ids).
    pub(crate) fn sign_raw(&self, message: &[u8]) -> Signature {
        Signature(self.signing.sign(message).to_bytes())
    }

    /// The secret's text form, `kithsecret1…`.
    pub fn secret_to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(encode_bech32m(SECRET_KEY_HRP, self.seed().as_ref()))
    }

    /// Parses the secret's text form.
    pub fn secret_from_text(text: &str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(decode_bech32m(SECRET_KEY_HRP, text.trim())?);
        let seed: Zeroizing<[u8; 32]> =
            Zeroizing::new(bytes.as_slice().try_into().map_err(|_| KeyError::Length {
                expected: 32,
                found: bytes.len(),
            })?);
        Self::from_seed(&seed)
    }

    /// The contents of a key file (see `specs/events.md#key-files`).
    pub fn to_key_file(&self) -> Zeroizing<String> {
        let secret = self.secret_to_text();
        Zeroizing::new(format!(
            "{KEY_FILE_HEADER}\n# public {}\n{}\n",
            self.public,
            secret.as_str()
        ))
    }

    /// Parses a key file. The `# public` line, when present, must match the secret.
    pub fn from_key_file(contents: &str) -> Result<Self, KeyError> {
        let mut lines = contents.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some(KEY_FILE_HEADER) {
            return Err(KeyError::KeyFile("missing `# kith secret key v1` header"));
        }
        let mut claimed_public = None;
        let mut keypair = None;
        for line in lines {
            if let Some(rest) = line.strip_prefix("# public ") {
                claimed_public = Some(rest.parse::<PublicKey>()?);
            } else if line.starts_with('#') {
                continue;
            } else if keypair.is_some() {
                return Err(KeyError::KeyFile("more than one secret key"));
            } else {
                keypair = Some(Self::secret_from_text(line)?);
            }
        }
        let keypair = keypair.ok_or(KeyError::KeyFile("no secret key line"))?;
        if claimed_public.is_some_and(|p| p != keypair.public) {
            return Err(KeyError::KeyFile(
                "the `# public` line does not match the secret",
            ));
        }
        Ok(keypair)
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

fn encode_bech32m(hrp: &str, data: &[u8]) -> String {
    let hrp = Hrp::parse(hrp).expect("the protocol's prefixes are valid bech32 prefixes");
    bech32::encode_lower::<Bech32m>(hrp, data)
        .expect("32-byte payloads are far below bech32's length limit")
}

fn decode_bech32m(expected: &'static str, text: &str) -> Result<Vec<u8>, KeyError> {
    let checked =
        CheckedHrpstring::new::<Bech32m>(text).map_err(|e| KeyError::Encoding(e.to_string()))?;
    let found = checked.hrp().to_lowercase();
    if found != expected {
        return Err(KeyError::WrongPrefix { expected, found });
    }
    let bytes: Vec<u8> = checked.byte_iter().collect();
    // The last 5-bit group can carry unused padding bits; only the spelling
    // with zero padding is accepted, so a key has exactly one text form.
    if encode_bech32m(expected, &bytes) != text.to_lowercase() {
        return Err(KeyError::Encoding("non-zero padding bits".into()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair(n: u8) -> Keypair {
        Keypair::from_seed(&[n; 32]).unwrap()
    }

    #[test]
    fn public_key_text_round_trips() {
        let k = keypair(1).public();
        let text = k.to_text();
        assert!(text.starts_with("kith1"));
        assert_eq!(text.parse::<PublicKey>().unwrap(), k);
        assert_eq!(text.to_uppercase().parse::<PublicKey>().unwrap(), k);
    }

    #[test]
    fn mistyped_public_keys_are_rejected() {
        let text = keypair(1).public().to_text();
        // Change one character after the prefix; the checksum must catch it.
        for i in 5..text.len() {
            let mut chars: Vec<char> = text.chars().collect();
            chars[i] = if chars[i] == 'q' { 'p' } else { 'q' };
            let typo: String = chars.into_iter().collect();
            assert!(typo.parse::<PublicKey>().is_err(), "typo at {i} accepted");
        }
        // Swap two adjacent characters.
        let mut chars: Vec<char> = text.chars().collect();
        let j = (6..chars.len() - 1)
            .find(|&j| chars[j] != chars[j + 1])
            .unwrap();
        chars.swap(j, j + 1);
        let swapped: String = chars.into_iter().collect();
        assert!(swapped.parse::<PublicKey>().is_err());
        // Mixed case is not bech32.
        let mut mixed = text.clone();
        mixed.replace_range(5..6, &text[5..6].to_uppercase());
        if mixed != text {
            assert!(mixed.parse::<PublicKey>().is_err());
        }
    }

    #[test]
    fn secret_text_is_not_a_public_key() {
        let kp = keypair(2);
        let secret = kp.secret_to_text();
        let err = secret.parse::<PublicKey>().unwrap_err();
        assert!(matches!(err, KeyError::WrongPrefix { .. }), "{err:?}");
    }

    #[test]
    fn small_order_points_are_not_identities() {
        // The identity point (y = 1) and a point of order 2 (y = -1).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            PublicKey::from_bytes(identity).unwrap_err(),
            KeyError::InvalidPoint
        );
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        assert_eq!(
            PublicKey::from_bytes(minus_one).unwrap_err(),
            KeyError::InvalidPoint
        );
    }

    #[test]
    fn key_file_round_trips_and_checks_its_public_line() {
        let kp = keypair(3);
        let file = kp.to_key_file();
        let back = Keypair::from_key_file(&file).unwrap();
        assert_eq!(back.public(), kp.public());

        let other = keypair(4).public();
        let tampered = file.replace(&kp.public().to_text(), &other.to_text());
        assert!(matches!(
            Keypair::from_key_file(&tampered),
            Err(KeyError::KeyFile(_))
        ));
        assert!(Keypair::from_key_file("kithsecret1abc").is_err());
        assert!(Keypair::from_key_file("").is_err());
    }
}
