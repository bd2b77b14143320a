//! `profile`: a person's public profile. Spec: `specs/kinds.md#profile`.

use serde::{Deserialize, Serialize};

use super::{KindPayload, Meta};
use crate::check;
use crate::error::EventError;
use crate::media::{MediaClass, MediaDescriptor};
use crate::refs::RefRule;

/// Longest display name.
pub const MAX_NAME_BYTES: usize = 100;
/// Longest bio.
pub const MAX_BIO_BYTES: usize = 1_000;
/// Most languages and most links.
pub const MAX_LANGS: usize = 10;
/// Most links.
pub const MAX_LINKS: usize = 10;
/// Length of a linked Nostr key (BIP-340 x-only public key).
pub const NOSTR_KEY_BYTES: usize = 32;

/// A profile. The newest profile of an author replaces the older ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Display name.
    pub name: String,
    /// A few words about the person.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bio: String,
    /// Avatar image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<MediaDescriptor>,
    /// Cover image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<MediaDescriptor>,
    /// Languages the person writes in (BCP 47), most used first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub langs: Vec<String>,
    /// Links to elsewhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// The person's linked Nostr key: a BIP-340 x-only public key (32
    /// bytes). This is the Kith half of the link; the Nostr half is a Nostr
    /// profile by that key naming this identity (`specs/nostr.md`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::encoding::byte_buf::option"
    )]
    pub nostr: Option<Vec<u8>>,
    /// The person's current DM key (X25519), to which others seal direct
    /// messages (`specs/messages.md`). Bound to the identity by the
    /// profile's signature; a new profile with a new key rotates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_key: Option<crate::dm::DmPublic>,
}

impl KindPayload for Profile {
    const REFS: &'static [RefRule] = &[];

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        check::required_text("name", &self.name, MAX_NAME_BYTES)?;
        check::text("bio", &self.bio, MAX_BIO_BYTES)?;
        for (field, image) in [("avatar", &self.avatar), ("banner", &self.banner)] {
            if let Some(image) = image {
                image.validate(field)?;
                if image.class() != Some(MediaClass::Image) {
                    return Err(EventError::MediaInvalid {
                        field,
                        reason: "must be an image".into(),
                    });
                }
            }
        }
        check::count("langs", self.langs.len(), MAX_LANGS)?;
        self.langs
            .iter()
            .try_for_each(|l| check::language("langs", l))?;
        check::unique("langs", &self.langs)?;
        check::count("links", self.links.len(), MAX_LINKS)?;
        self.links.iter().try_for_each(|l| check::url("links", l))?;
        check::unique("links", &self.links)?;
        match &self.nostr {
            Some(key) if key.len() != NOSTR_KEY_BYTES => Err(EventError::FieldInvalid {
                field: "nostr",
                reason: format!("a Nostr key is {NOSTR_KEY_BYTES} bytes, not {}", key.len()),
            }),
            _ => Ok(()),
        }
    }
}
