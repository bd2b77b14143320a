//! Event ids: the CIDv1 (codec dag-cbor, multihash sha2-256) of an event body's
//! canonical encoding, so every event id is also a real IPFS CID.
//!
//! Spec: `specs/events.md#event-id`.

use std::fmt;
use std::str::FromStr;

use cid::Cid;
use multihash::Multihash;
use sha2::{Digest, Sha256};

/// Multicodec code of DAG-CBOR.
pub const DAG_CBOR: u64 = 0x71;
/// Multihash code of SHA2-256.
pub const SHA2_256: u64 = 0x12;
/// Length of an id in binary CID form: version, codec, hash code, digest length, digest.
pub const ID_BYTES_LEN: usize = 36;

/// Why text or a CID is not an event id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Not a CID at all.
    #[error("not a CID: {0}")]
    NotACid(String),
    /// A CID, but not CIDv1 + dag-cbor + sha2-256 with a 32-byte digest.
    #[error("a CID, but not a Kith event id (CIDv1, dag-cbor, sha2-256)")]
    WrongCidType,
}

impl IdError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        "id_malformed"
    }
}

/// The id of an event. Display/FromStr use the CID's base32 text form (`bafyrei…`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId([u8; 32]);

impl EventId {
    /// The id of the event whose canonical body encoding is `body`.
    pub fn of_body(body: &[u8]) -> Self {
        EventId(Sha256::digest(body).into())
    }

    /// An id from the SHA2-256 digest of a body.
    pub fn from_digest(digest: [u8; 32]) -> Self {
        EventId(digest)
    }

    /// The SHA2-256 digest of the body.
    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// The binary CID: what signatures are computed over.
    pub fn to_bytes(&self) -> [u8; ID_BYTES_LEN] {
        let mut out = [0u8; ID_BYTES_LEN];
        out[..4].copy_from_slice(&[0x01, DAG_CBOR as u8, SHA2_256 as u8, 0x20]);
        out[4..].copy_from_slice(&self.0);
        out
    }

    /// The id as a [`Cid`].
    pub fn to_cid(&self) -> Cid {
        let mh =
            Multihash::<64>::wrap(SHA2_256, &self.0).expect("32 bytes fit a 64-byte multihash");
        Cid::new_v1(DAG_CBOR, mh)
    }

    /// Accepts a CID that is a Kith event id.
    pub fn from_cid(cid: &Cid) -> Result<Self, IdError> {
        let mh = cid.hash();
        if cid.version() != cid::Version::V1
            || cid.codec() != DAG_CBOR
            || mh.code() != SHA2_256
            || mh.size() != 32
        {
            return Err(IdError::WrongCidType);
        }
        let digest: [u8; 32] = mh.digest().try_into().map_err(|_| IdError::WrongCidType)?;
        Ok(EventId(digest))
    }

    /// Accepts the 36-byte binary CID form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
        let cid = Cid::try_from(bytes).map_err(|e| IdError::NotACid(e.to_string()))?;
        Self::from_cid(&cid)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_cid(), f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl FromStr for EventId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let cid = Cid::from_str(s.trim()).map_err(|e| IdError::NotACid(e.to_string()))?;
        // Only the canonical text form (lower-case base32) names an id, so that
        // an id has one spelling in URLs and logs.
        let id = Self::from_cid(&cid)?;
        if id.to_string() != s.trim() {
            return Err(IdError::NotACid("not the base32 text form".into()));
        }
        Ok(id)
    }
}

/// In DAG-CBOR (the wire) an id is a CID link; in human-readable formats
/// (the gateway's JSON) it is the CID's text form, `bafyrei…`.
impl serde::Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            self.to_cid().serialize(serializer)
        }
    }
}

impl<'de> serde::Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text =
                <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
            return text.parse().map_err(serde::de::Error::custom);
        }
        let cid = Cid::deserialize(deserializer)?;
        EventId::from_cid(&cid).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_binary_forms_round_trip() {
        let id = EventId::of_body(b"hello");
        let text = id.to_string();
        assert!(text.starts_with("bafyrei"), "{text}");
        assert_eq!(text.parse::<EventId>().unwrap(), id);
        assert_eq!(EventId::from_bytes(&id.to_bytes()).unwrap(), id);
        assert_eq!(id.to_cid().to_bytes(), id.to_bytes().to_vec());
    }

    #[test]
    fn other_cid_types_are_not_event_ids() {
        // A raw-codec CID of the same digest.
        let mh = Multihash::<64>::wrap(SHA2_256, &[7u8; 32]).unwrap();
        let raw = Cid::new_v1(0x55, mh);
        assert_eq!(EventId::from_cid(&raw).unwrap_err(), IdError::WrongCidType);
        let v0 = Cid::new_v0(mh).unwrap();
        assert_eq!(EventId::from_cid(&v0).unwrap_err(), IdError::WrongCidType);
        assert!(v0.to_string().parse::<EventId>().is_err());
        assert!("bafy-not-a-cid".parse::<EventId>().is_err());
    }
}
