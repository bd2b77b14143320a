//! Writes `specs/vectors/messages/{valid,invalid}.json`: sealed direct
//! messages with every input needed to reproduce them byte for byte
//! (`specs/messages.md` § Test vectors). Checked by `tests/dm_vectors.rs`.
//!
//! ```text
//! cargo run -p kith-protocol --example gen_dm_vectors
//! ```

use std::path::PathBuf;

use hpke::{Deserializable, OpModeS, Serializable};
use kith_protocol::Keypair;
use kith_protocol::dm::{
    self, Body, DmSecret, GroupChange, GroupId, Letter, Receipt, SignedLetter, Text,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[path = "../tests/common/vector_rng.rs"]
mod vector_rng;
use vector_rng::VectorRng;

fn seed(label: &str) -> [u8; 32] {
    Sha256::digest(format!("kith dm vector {label}").as_bytes()).into()
}

fn person(label: &str) -> (Keypair, DmSecret) {
    let key = Keypair::from_seed(&seed(label)).expect("seed");
    let dm = DmSecret::generate(&mut VectorRng::new(&format!("dm key {label}")));
    (key, dm)
}

const T: u64 = 1_767_225_600_000;

/// Seals `padded` by hand, as `specs/messages.md` describes, so invalid
/// vectors can break one step at a time.
fn raw_seal(padded: &[u8], recipient: &Keypair, key: &DmSecret, label: &str) -> Vec<u8> {
    type Kem = hpke::kem::X25519HkdfSha256;
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&key.public().0).expect("key");
    let (enc, ct) =
        hpke::single_shot_seal::<hpke::aead::ChaCha20Poly1305, hpke::kdf::HkdfSha256, Kem, _>(
            &OpModeS::Base,
            &pk,
            dm::HPKE_INFO,
            padded,
            &dm::inbox_hint(&recipient.public()),
            &mut VectorRng::new(label),
        )
        .expect("seal");
    let mut out = vec![dm::SEAL_VERSION];
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ct);
    out
}

fn pad(bytes: &[u8], size: usize) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out.resize(size, 0);
    out
}

fn main() {
    let (ana, ana_dm) = person("ana");
    let (bob, bob_dm) = person("bob");
    let (carol, carol_dm) = person("carol");
    let text = |s: &str| {
        Body::Text(Text {
            text: s.into(),
            ..Text::default()
        })
    };
    let letters: Vec<(&str, &str, Letter, &Keypair, &DmSecret)> = vec![
        (
            "text",
            "a one-to-one text letter from Ana, sealed to Bob",
            Letter {
                from: ana.public(),
                to: vec![bob.public()],
                group: None,
                created_at: T,
                body: text("¿Vienes mañana a la huerta?"),
            },
            &bob,
            &bob_dm,
        ),
        (
            "own-copy",
            "the copy of Ana's letter sealed to her own mailbox",
            Letter {
                from: ana.public(),
                to: vec![bob.public()],
                group: None,
                created_at: T + 1,
                body: text("copy kept in the sender's own mailbox"),
            },
            &ana,
            &ana_dm,
        ),
        (
            "group-create",
            "Ana creates a group (salt, members, admins), sealed to Carol",
            Letter {
                from: ana.public(),
                to: vec![bob.public(), carol.public()],
                group: Some(GroupId::derive(&ana.public(), &GroupId([7; 32]))),
                created_at: T + 2,
                body: Body::Group(GroupChange {
                    salt: Some(GroupId([7; 32])),
                    name: "Huerta".into(),
                    members: vec![ana.public(), bob.public(), carol.public()],
                    admins: vec![ana.public()],
                }),
            },
            &carol,
            &carol_dm,
        ),
        (
            "receipt",
            "Bob's read receipt to Ana",
            Letter {
                from: bob.public(),
                to: vec![ana.public()],
                group: None,
                created_at: T + 3,
                body: Body::Receipt(Receipt {
                    of: vec![dm::LetterId([1; 32])],
                    read: true,
                }),
            },
            &ana,
            &ana_dm,
        ),
        (
            "long-text",
            "a 3000-byte text, padded to the 8192-byte bucket",
            Letter {
                from: bob.public(),
                to: vec![ana.public()],
                group: None,
                created_at: T + 4,
                body: text(&"ñ".repeat(1500)),
            },
            &ana,
            &ana_dm,
        ),
        (
            "order-details",
            "a buyer's delivery details for an order, sent to the seller (the text names the trade with `order`)",
            Letter {
                from: bob.public(),
                to: vec![ana.public()],
                group: None,
                created_at: T + 5,
                body: Body::Text(Text {
                    text: "Calle Mayor 1, 28013 Madrid".into(),
                    order: Some(kith_protocol::EventId::from_digest([9; 32])),
                    ..Text::default()
                }),
            },
            &ana,
            &ana_dm,
        ),
    ];
    let mut valid = Vec::new();
    for (name, description, letter, recipient, key) in letters {
        let signer = [&ana, &bob]
            .into_iter()
            .find(|k| k.public() == letter.from)
            .expect("sender");
        let signed = letter.clone().sign(signer).expect("valid letter");
        let sealed = signed
            .seal(
                &recipient.public(),
                &key.public(),
                &mut VectorRng::new(name),
            )
            .expect("seal");
        valid.push(json!({
            "name": name,
            "description": description,
            "sender_seed": hex::encode(signer.seed().as_ref()),
            "recipient_seed": hex::encode(recipient.seed().as_ref()),
            "dm_secret": hex::encode(key.to_bytes().as_ref()),
            "dm_public": key.public().to_hex(),
            "inbox": hex::encode(dm::inbox_hint(&recipient.public())),
            "letter": hex::encode(letter.encode()),
            "letter_id": signed.id().to_hex(),
            "signed": hex::encode(signed.encode()),
            "rng": name,
            "sealed": hex::encode(&sealed),
        }));
    }

    let base = Letter {
        from: ana.public(),
        to: vec![bob.public()],
        group: None,
        created_at: T,
        body: text("hola"),
    };
    let signed = base.clone().sign(&ana).expect("valid");
    let good = signed
        .seal(&bob.public(), &bob_dm.public(), &mut VectorRng::new("base"))
        .expect("seal");
    let mut invalid: Vec<(&str, Vec<u8>, &Keypair, &DmSecret, &str)> = Vec::new();
    let mut v2 = good.clone();
    v2[0] = 2;
    invalid.push(("unknown-version", v2, &bob, &bob_dm, "dm_unknown_version"));
    invalid.push((
        "truncated",
        good[..good.len() - 1].to_vec(),
        &bob,
        &bob_dm,
        "dm_bad_length",
    ));
    let mut tampered = good.clone();
    tampered[60] ^= 0x01;
    invalid.push(("tampered", tampered, &bob, &bob_dm, "dm_cannot_open"));
    invalid.push((
        "other-inbox",
        good.clone(),
        &carol,
        &bob_dm,
        "dm_cannot_open",
    ));
    invalid.push(("wrong-key", good.clone(), &bob, &carol_dm, "dm_cannot_open"));
    // Carol signs a letter that says it is from Ana.
    let forged = SignedLetter {
        letter: base.clone(),
        sig: Letter {
            from: carol.public(),
            ..base.clone()
        }
        .sign(&carol)
        .expect("valid")
        .sig,
    };
    invalid.push((
        "forged-sender",
        raw_seal(&pad(&forged.encode(), 512), &bob, &bob_dm, "forged"),
        &bob,
        &bob_dm,
        "dm_bad_signature",
    ));
    // Bob re-seals Ana's letter to Carol, whom it does not name.
    invalid.push((
        "not-addressed",
        raw_seal(&pad(&signed.encode(), 512), &carol, &carol_dm, "resealed"),
        &carol,
        &carol_dm,
        "dm_not_addressed",
    ));
    let mut bad_pad = pad(&signed.encode(), 512);
    bad_pad[511] = 1;
    invalid.push((
        "padding-not-zero",
        raw_seal(&bad_pad, &bob, &bob_dm, "pad"),
        &bob,
        &bob_dm,
        "dm_bad_padding",
    ));
    let mut noncanonical = signed.encode();
    noncanonical.push(0);
    invalid.push((
        "trailing-byte",
        raw_seal(&pad(&noncanonical, 512), &bob, &bob_dm, "trailing"),
        &bob,
        &bob_dm,
        "dm_undecodable",
    ));
    let blank = SignedLetter {
        letter: Letter {
            body: text(" "),
            ..base.clone()
        },
        sig: signed.sig,
    };
    invalid.push((
        "blank-text",
        raw_seal(&pad(&blank.encode(), 512), &bob, &bob_dm, "blank"),
        &bob,
        &bob_dm,
        "dm_invalid",
    ));
    let invalid: Vec<Value> = invalid
        .into_iter()
        .map(|(name, sealed, recipient, key, code)| {
            json!({
                "name": name,
                "description": format!("refused with {code}: {}", name.replace('-', " ")),
                "recipient_seed": hex::encode(recipient.seed().as_ref()),
                "dm_secret": hex::encode(key.to_bytes().as_ref()),
                "sealed": hex::encode(sealed),
                "code": code,
            })
        })
        .collect();

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs/vectors/messages");
    std::fs::create_dir_all(&dir).expect("dir");
    for (file, v) in [("valid.json", valid), ("invalid.json", invalid)] {
        let text = serde_json::to_string_pretty(&v).expect("json") + "\n";
        std::fs::write(dir.join(file), text).expect("write");
    }
}
