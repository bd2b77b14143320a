//! Canonical DAG-CBOR: the one byte form of every Kith value.
//!
//! Spec: `specs/events.md#canonical-encoding`. Encoding goes through
//! `serde_ipld_dagcbor`, which writes definite lengths, shortest integer forms and
//! map keys in DAG-CBOR order (length first, then bytes). Decoding is strict the
//! simple way: a value is accepted only if encoding it again gives back exactly
//! the bytes it came from. That closes every door to a second encoding of the
//! same event (non-minimal integers, unsorted keys, explicit nulls or empty lists
//! where the canonical form omits them, indefinite lengths, trailing bytes).

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::{DeserializeOwned, Visitor};

/// Why bytes were not accepted as a canonical value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not DAG-CBOR, or not of the expected shape. The message names the field when it can.
    #[error("malformed: {0}")]
    Malformed(String),
    /// Valid DAG-CBOR of the right shape, but not in its one canonical form.
    #[error("not canonically encoded")]
    NonCanonical,
}

/// Encodes a value as canonical DAG-CBOR.
pub fn to_canonical<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Kith's types contain no floats and only string map keys, the two things
    // DAG-CBOR cannot encode, so encoding cannot fail short of allocation failure.
    serde_ipld_dagcbor::to_vec(value).expect("Kith values are always encodable as DAG-CBOR")
}

/// Sorts a decoder error: encodings DAG-CBOR forbids for values it could
/// otherwise represent (non-minimal integers and lengths, unsorted map keys,
/// indefinite lengths) are non-canonical; everything else is malformed.
pub(crate) fn classify(
    e: serde_ipld_dagcbor::DecodeError<std::convert::Infallible>,
) -> DecodeError {
    use serde_ipld_dagcbor::DecodeError as E;
    match e {
        E::NonMinimal { .. } | E::UnorderedKey | E::IndefiniteSize => DecodeError::NonCanonical,
        other => DecodeError::Malformed(other.to_string()),
    }
}

/// Decodes a value and checks that `bytes` is its canonical encoding.
pub fn from_canonical<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let value: T = serde_ipld_dagcbor::from_slice(bytes).map_err(classify)?;
    if to_canonical(&value) != bytes {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

/// Serde visitor for a byte string of exactly `N` bytes.
pub(crate) struct FixedBytes<const N: usize>;

impl<'de, const N: usize> Visitor<'de> for FixedBytes<N> {
    type Value = [u8; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a byte string of {N} bytes")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        v.try_into().map_err(|_| E::invalid_length(v.len(), &self))
    }
}

/// Serde helpers for `Vec<u8>` fields written as CBOR byte strings.
/// In human-readable formats (the gateway's JSON) they are standard base64.
pub(crate) mod byte_buf {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    pub(crate) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&STANDARD.encode(v))
        } else {
            s.serialize_bytes(v)
        }
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        if d.is_human_readable() {
            let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
            return STANDARD
                .decode(text.as_bytes())
                .map_err(|e| serde::de::Error::custom(format!("not base64: {e}")));
        }
        struct V(PhantomData<Vec<u8>>);
        impl Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(V(PhantomData))
    }

    /// The same for `Option<Vec<u8>>` fields (absent when `None`).
    pub(crate) mod option {
        pub(crate) fn serialize<S: serde::Serializer>(
            v: &Option<Vec<u8>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(bytes) => super::serialize(bytes, s),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Vec<u8>>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }
}

/// Serde helpers for CIDs: a CBOR link on the wire, the CID's text form in
/// human-readable formats (the gateway's JSON).
pub(crate) mod cid_text {
    use cid::Cid;
    use serde::{Deserialize, Serialize};

    pub(crate) fn serialize<S: serde::Serializer>(v: &Cid, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(v)
        } else {
            v.serialize(s)
        }
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Cid, D::Error> {
        if d.is_human_readable() {
            let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
            return Cid::try_from(text.as_ref())
                .map_err(|e| serde::de::Error::custom(format!("not a CID: {e}")));
        }
        Cid::deserialize(d)
    }

    /// The same for a list of CIDs.
    pub(crate) mod list {
        use super::*;

        #[derive(Serialize, Deserialize)]
        #[serde(transparent)]
        struct Item(#[serde(with = "super")] Cid);

        pub(crate) fn serialize<S: serde::Serializer>(v: &[Cid], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|c| Item(*c)))
        }

        pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<Cid>, D::Error> {
            Ok(Vec::<Item>::deserialize(d)?
                .into_iter()
                .map(|i| i.0)
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        n: u64,
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        list: Vec<u32>,
    }

    #[test]
    fn keys_are_sorted_by_length_then_bytes() {
        let bytes = to_canonical(&Sample {
            n: 1,
            text: "a".into(),
            list: vec![],
        });
        // {"n": 1, "text": "a"}: "n" (1 byte) sorts before "text" (4 bytes).
        assert_eq!(hex(&bytes), "a2616e01647465787461 61".replace(' ', ""));
    }

    #[test]
    fn non_minimal_integers_are_rejected() {
        // {"n": 1 encoded as a one-byte-argument uint (0x18 0x01), "text": "a"}
        let bytes = [
            0xa2, 0x61, b'n', 0x18, 0x01, 0x64, b't', b'e', b'x', b't', 0x61, b'a',
        ];
        assert_eq!(
            from_canonical::<Sample>(&bytes).unwrap_err(),
            DecodeError::NonCanonical
        );
    }

    #[test]
    fn unsorted_keys_are_rejected() {
        let bytes = [
            0xa2, 0x64, b't', b'e', b'x', b't', 0x61, b'a', 0x61, b'n', 0x01,
        ];
        assert_eq!(
            from_canonical::<Sample>(&bytes).unwrap_err(),
            DecodeError::NonCanonical
        );
    }

    #[test]
    fn explicit_empty_lists_are_rejected() {
        let mut map = BTreeMap::new();
        map.insert("n", serde_json::json!(1));
        let bytes = [
            0xa3, 0x61, b'n', 0x01, 0x64, b'l', b'i', b's', b't', 0x80, 0x64, b't', b'e', b'x',
            b't', 0x61, b'a',
        ];
        let _ = map;
        assert!(from_canonical::<Sample>(&bytes).is_err());
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = to_canonical(&Sample {
            n: 1,
            text: "a".into(),
            list: vec![],
        });
        bytes.push(0);
        assert!(matches!(
            from_canonical::<Sample>(&bytes),
            Err(DecodeError::Malformed(_))
        ));
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
