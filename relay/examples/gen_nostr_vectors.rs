//! Writes `specs/vectors/nostr/link.json`, the test vectors of linked keys
//! (`specs/nostr.md` § Linked keys):
//!
//! ```text
//! cargo run -p kith-relay --example gen_nostr_vectors
//! ```
//!
//! The Kith keys are those of `protocol/examples/gen_vectors.rs` (seed
//! `[n; 32]`: Ana 1, Ben 2); the Nostr key is BIP-340 test vector 0's
//! (secret key 3). Nostr signatures take fresh auxiliary randomness, so a run
//! writes other (equally valid) `sig` values; everything else is reproduced
//! exactly, which `tests/link_vectors.rs` checks.

use kith_node::protocol::Keypair;
use kith_relay::link;
use nostr::prelude::{EventBuilder, FinalizeEvent, Keys, Kind, Tag, Timestamp};
use serde_json::json;

fn kith(n: u8) -> Keypair {
    Keypair::from_seed(&[n; 32]).expect("fixed seeds give usable keys")
}

#[allow(clippy::print_stdout)]
fn main() {
    let nostr = Keys::parse("0000000000000000000000000000000000000000000000000000000000000003")
        .expect("BIP-340 test key");
    let (ana, ben) = (kith(1), kith(2));
    let other = Keys::parse("0000000000000000000000000000000000000000000000000000000000000004")
        .expect("a second key");
    let at = Timestamp::from_secs(1_767_225_600); // 2026-01-01
    let meta = |keys: &Keys, kind: Kind, tag: Tag| {
        EventBuilder::new(kind, r#"{"name":"Ben"}"#)
            .tag(tag)
            .custom_created_at(at)
            .finalize(keys)
            .expect("signs")
    };
    let cases = [
        (
            "link-ben",
            "Ben's linked Nostr key publishes its metadata with Ben's proof: linked to Ben.",
            meta(
                &nostr,
                Kind::Metadata,
                link::identity_tag(&ben, &nostr.public_key()),
            ),
            Some(ben.public()),
        ),
        (
            "link-names-someone-else",
            "The i tag names Ana with Ben's proof: no link (the proof is not Ana's).",
            {
                let tag = link::identity_tag(&ben, &nostr.public_key());
                let mut parts = tag.as_slice().to_vec();
                parts[1] = format!("kith:{}", ana.public().to_text());
                meta(&nostr, Kind::Metadata, Tag::parse(parts).expect("tag"))
            },
            None,
        ),
        (
            "link-proof-for-another-key",
            "Ben's proof vouches for another Nostr key than the event's author: no link.",
            meta(
                &nostr,
                Kind::Metadata,
                link::identity_tag(&ben, &other.public_key()),
            ),
            None,
        ),
        (
            "link-not-metadata",
            "A valid tag and proof on a kind 1 note: links are read from kind 0 only.",
            meta(
                &nostr,
                Kind::TextNote,
                link::identity_tag(&ben, &nostr.public_key()),
            ),
            None,
        ),
    ];
    let vectors: Vec<_> = cases
        .iter()
        .map(|(name, description, event, linked)| {
            json!({
                "name": name,
                "description": description,
                "event": event,
                "linked_identity": linked.as_ref().map(|k| k.to_text()),
            })
        })
        .collect();
    let doc = json!({
        "description": "Nostr halves of linked keys. The Kith half of link-ben is the valid vector profile-nostr-link (valid/profile.json). `linked_identity` is the Kith identity the event proves its author linked to, or null.",
        "nostr_secret_key": "0000000000000000000000000000000000000000000000000000000000000003",
        "vectors": vectors,
    });
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/vectors/nostr/link.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&doc).expect("json") + "\n",
    )
    .expect("write");
    println!("wrote {} link vectors to {}", vectors.len(), path.display());
}
