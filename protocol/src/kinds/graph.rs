//! The social graph: `follow`, `unfollow`, `block_list`, `mute_list`.
//! Spec: `specs/kinds.md#follow`.

use serde::{Deserialize, Serialize};

use super::{KindPayload, Meta, subject_not_author};
use crate::check;
use crate::error::EventError;
use crate::identity::PublicKey;
use crate::refs::{RefRule, Rel};

/// Most identities in a block or mute list (bounded by the event size limit).
pub const MAX_LIST_KEYS: usize = 1_500;
/// Most muted words.
pub const MAX_MUTED_WORDS: usize = 1_000;
/// Longest muted word or phrase.
pub const MAX_MUTED_WORD_BYTES: usize = 100;

/// Follow the `subject` identity. The newest of an author's follow and unfollow
/// events for a subject decides.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Follow {}

impl KindPayload for Follow {
    const REFS: &'static [RefRule] = &[RefRule::identity(Rel::Subject, 1, 1)];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        subject_not_author(meta)
    }
}

/// Stop following the `subject` identity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unfollow {}

impl KindPayload for Unfollow {
    const REFS: &'static [RefRule] = &[RefRule::identity(Rel::Subject, 1, 1)];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        subject_not_author(meta)
    }
}

fn check_keys(keys: &[PublicKey], meta: &Meta<'_>) -> Result<(), EventError> {
    check::count("keys", keys.len(), MAX_LIST_KEYS)?;
    check::unique("keys", keys)?;
    if keys.contains(meta.author) {
        return Err(EventError::field("keys", "cannot contain the author"));
    }
    Ok(())
}

/// The author's whole block list; the newest replaces the older ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockList {
    /// Blocked identities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<PublicKey>,
}

impl KindPayload for BlockList {
    const REFS: &'static [RefRule] = &[];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        check_keys(&self.keys, meta)
    }
}

/// The author's whole mute list; the newest replaces the older ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuteList {
    /// Muted identities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<PublicKey>,
    /// Muted words and phrases, matched case-insensitively.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<String>,
}

impl KindPayload for MuteList {
    const REFS: &'static [RefRule] = &[];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        check_keys(&self.keys, meta)?;
        check::count("words", self.words.len(), MAX_MUTED_WORDS)?;
        self.words
            .iter()
            .try_for_each(|w| check::required_text("words", w, MAX_MUTED_WORD_BYTES))?;
        check::unique("words", &self.words)
    }
}
