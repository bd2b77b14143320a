//! The JSON shape of the files in `specs/vectors/` (see `specs/events.md`,
//! "Test vectors"). Shared by the generator (`examples/gen_vectors.rs`) and
//! the checker (`tests/vectors.rs`) so the two cannot drift apart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `valid/<kind>.json`: one event, with everything needed to rebuild it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidVector {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) author_seed: String,
    pub(crate) signer_seed: String,
    pub(crate) author: String,
    pub(crate) signer: String,
    pub(crate) body: Value,
    pub(crate) body_hex: String,
    pub(crate) id: String,
    pub(crate) id_hex: String,
    pub(crate) signature_hex: String,
    pub(crate) envelope_hex: String,
}

/// `invalid/<code>.json`: an envelope the stateless rules refuse, and the code.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InvalidVector {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) envelope_hex: String,
    pub(crate) error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) now_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expected_id: Option<String>,
}

/// `auth/<rule>.json`: an event, the state a rule is given, and its verdict.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthVector {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) rule: String,
    pub(crate) event_hex: String,
    pub(crate) inputs: BTreeMap<String, Value>,
    pub(crate) error: Option<String>,
    /// For allowed `check_trade_update` cases: the state the trade moves to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) new_state: Option<String>,
}

/// `text/keys.json`: a text form of a key, and what a parser makes of it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TextVector {
    pub(crate) name: String,
    pub(crate) description: String,
    /// `public_key` or `secret_key`.
    pub(crate) form: String,
    pub(crate) text: String,
    /// The key bytes the text stands for, when it is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bytes_hex: Option<String>,
    /// The `KeyError` code, or `null` when the text is accepted.
    pub(crate) error: Option<String>,
}
