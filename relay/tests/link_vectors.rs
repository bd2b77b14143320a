//! Checks `specs/vectors/nostr/link.json` (written by
//! `cargo run -p kith-relay --example gen_nostr_vectors`).

use kith_node::protocol::Keypair;
use kith_relay::link;
use nostr::prelude::{Event, Keys};

#[test]
fn link_vectors_hold() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/vectors/nostr/link.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let nostr = Keys::parse(doc["nostr_secret_key"].as_str().unwrap()).unwrap();
    let ben = Keypair::from_seed(&[2; 32]).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 4);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let event: Event = serde_json::from_value(v["event"].clone()).unwrap();
        assert!(event.verify().is_ok(), "{name}: the Nostr signature holds");
        let want = v["linked_identity"].as_str();
        let got = link::linked_identity(&event).map(|k| k.to_text());
        assert_eq!(got.as_deref(), want, "{name}");
        if name == "link-ben" {
            // The Kith proof is deterministic: the reference reproduces it.
            let tag = link::identity_tag(&ben, &nostr.public_key());
            assert!(
                event.tags.iter().any(|t| t == &tag),
                "{name}: proof reproduced"
            );
            assert!(link::confirms(
                &ben.public(),
                Some(nostr.public_key().to_bytes().as_slice()),
                &event
            ));
            assert!(!link::confirms(&ben.public(), Some(&[0; 32]), &event));
        }
    }
}

/// The Kith half in the protocol's vectors names this Nostr key.
#[test]
fn the_kith_half_names_the_vector_key() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../specs/vectors/valid/profile.json");
    let text = std::fs::read_to_string(path).unwrap();
    let nostr =
        Keys::parse("0000000000000000000000000000000000000000000000000000000000000003").unwrap();
    assert!(text.contains("profile-nostr-link"));
    assert_eq!(
        nostr.public_key().to_hex(),
        "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
    );
}
