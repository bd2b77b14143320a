//! `specs/vectors/messages/`: every valid vector opens to its letter and is
//! reproduced byte for byte from its inputs; every invalid one is refused
//! with its code.

#[path = "common/vector_rng.rs"]
mod vector_rng;

use kith_protocol::Keypair;
use kith_protocol::dm::{self, DmSecret, SignedLetter};
use serde_json::Value;
use vector_rng::VectorRng;

fn load(file: &str) -> Vec<Value> {
    let path = format!(
        "{}/../specs/vectors/messages/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn bytes(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(v[field].as_str().unwrap()).unwrap()
}

fn key(v: &Value, field: &str) -> Keypair {
    Keypair::from_seed(&bytes(v, field).try_into().unwrap()).unwrap()
}

fn secret(v: &Value) -> DmSecret {
    DmSecret::from_bytes(bytes(v, "dm_secret").try_into().unwrap()).unwrap()
}

#[test]
fn valid_vectors_open_and_reproduce() {
    let all = load("valid.json");
    assert!(all.len() >= 5);
    for v in all {
        let name = v["name"].as_str().unwrap();
        let me = key(&v, "recipient_seed");
        let k = secret(&v);
        assert_eq!(k.public().to_hex(), v["dm_public"], "{name}");
        assert_eq!(
            hex::encode(dm::inbox_hint(&me.public())),
            v["inbox"],
            "{name}"
        );
        let sealed = bytes(&v, "sealed");
        let opened =
            dm::open(&sealed, &me.public(), &[k]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hex::encode(opened.letter.encode()), v["letter"], "{name}");
        assert_eq!(opened.id().to_hex(), v["letter_id"], "{name}");
        assert_eq!(hex::encode(opened.encode()), v["signed"], "{name}");
        assert_eq!(SignedLetter::decode(&bytes(&v, "signed")).unwrap(), opened);
        // Byte for byte: the same letter, key and randomness seal the same.
        let sender = key(&v, "sender_seed");
        let again = opened
            .letter
            .clone()
            .sign(&sender)
            .unwrap()
            .seal(
                &me.public(),
                &secret(&v).public(),
                &mut VectorRng::new(v["rng"].as_str().unwrap()),
            )
            .unwrap();
        assert_eq!(again, sealed, "{name}");
    }
}

#[test]
fn invalid_vectors_are_refused_with_their_code() {
    let all = load("invalid.json");
    assert!(all.len() >= 10);
    for v in all {
        let name = v["name"].as_str().unwrap();
        let me = key(&v, "recipient_seed");
        let err = dm::open(&bytes(&v, "sealed"), &me.public(), &[secret(&v)]).expect_err(name);
        assert_eq!(err.code(), v["code"], "{name}: {err}");
    }
}
