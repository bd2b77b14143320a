//! Linked keys: a Kith identity and a Nostr key that vouch for each other
//! (`specs/nostr.md` § Linked keys).
//!
//! - Kith half: the identity's `profile` event names the Nostr key (its
//!   `nostr` field), signed by the Kith key like any event.
//! - Nostr half: a kind 0 (metadata) event by the Nostr key carries a NIP-39
//!   tag `["i", "kith:<kith1… identity>", "<proof>"]`, where the proof is the
//!   hex of the identity's Ed25519 signature over
//!   `kith/nostr-link/v1:` ‖ the Nostr key's 32 bytes. The Nostr signature
//!   covers the tag, so this one event shows that both keys agreed.

use kith_node::protocol::{Keypair, PublicKey as KithKey, Signature};
use nostr::prelude::{Event, Kind, PublicKey, Tag};

/// The NIP-39 platform name of Kith identities.
pub const PLATFORM: &str = "kith";

/// The NIP-39 tag a linked Nostr key's metadata events carry.
pub fn identity_tag(kith: &Keypair, nostr_key: &PublicKey) -> Tag {
    let proof = kith.sign_nostr_link(&nostr_key.to_bytes());
    Tag::parse([
        "i".to_owned(),
        format!("{PLATFORM}:{}", kith.public().to_text()),
        hex::encode(proof.as_bytes()),
    ])
    .expect("an i tag has a name and values")
}

/// The Kith identity a Nostr event proves its author is linked to: a kind 0
/// event whose `i` tag names a Kith identity with a valid proof for the
/// event's author. The event's own signature is the caller's to check
/// (every event the relay or the bridge takes in is verified first).
pub fn linked_identity(event: &Event) -> Option<KithKey> {
    if event.kind != Kind::Metadata {
        return None;
    }
    event.tags.iter().find_map(|tag| {
        let [name, identity, proof] = tag.as_slice() else {
            return None;
        };
        if name != "i" {
            return None;
        }
        let kith: KithKey = identity.strip_prefix("kith:")?.parse().ok()?;
        let sig: [u8; 64] = hex::decode(proof).ok()?.try_into().ok()?;
        kith.verifies_nostr_link(&event.pubkey.to_bytes(), &Signature::from_bytes(sig))
            .then_some(kith)
    })
}

/// Whether a Kith profile and a Nostr metadata event are the two halves of
/// one link: the profile names the event's author, and the event proves its
/// author is linked to the profile's author.
pub fn confirms(profile_author: &KithKey, profile_nostr: Option<&[u8]>, event: &Event) -> bool {
    profile_nostr == Some(event.pubkey.to_bytes().as_slice())
        && linked_identity(event).as_ref() == Some(profile_author)
}
