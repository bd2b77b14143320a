//! `direct_message`: the public envelope of an end-to-end encrypted message.
//! Spec: `specs/kinds.md#direct-message`; the sealing inside is `specs/messages.md`.

use serde::{Deserialize, Serialize};

use super::{KindPayload, Meta};
use crate::encoding::byte_buf;
use crate::error::EventError;
use crate::refs::RefRule;

/// Largest ciphertext. Attachments travel through IPFS, encrypted, not here.
pub const MAX_CIPHERTEXT_BYTES: usize = 48 * 1024;
/// Length of the recipient inbox hint.
pub const INBOX_HINT_BYTES: usize = 32;

/// An opaque, sealed message. The author is a fresh one-time key, so the
/// envelope names neither sender nor content; `inbox` tells the recipient's
/// node which inbox it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectMessage {
    /// Recipient inbox hint.
    #[serde(with = "byte_buf")]
    pub inbox: Vec<u8>,
    /// The sealed message.
    #[serde(with = "byte_buf")]
    pub ciphertext: Vec<u8>,
}

impl KindPayload for DirectMessage {
    const REFS: &'static [RefRule] = &[];
    const DELEGABLE: bool = false;

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        if self.inbox.len() != INBOX_HINT_BYTES {
            return Err(EventError::field("inbox", "must be 32 bytes"));
        }
        if self.ciphertext.is_empty() {
            return Err(EventError::field("ciphertext", "must not be empty"));
        }
        if self.ciphertext.len() > MAX_CIPHERTEXT_BYTES {
            return Err(EventError::field("ciphertext", "at most 49152 bytes"));
        }
        Ok(())
    }
}
