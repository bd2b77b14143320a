//! `delete`: removal of one of the author's own events. Spec: `specs/kinds.md#delete`.
//!
//! Whether the target is the author's is a stateful rule: [`crate::auth::check_delete`].

use serde::{Deserialize, Serialize};

use super::{KindPayload, Meta};
use crate::check;
use crate::error::EventError;
use crate::refs::{RefRule, Rel};

/// Longest reason.
pub const MAX_REASON_BYTES: usize = 500;

/// Deletes the `target` event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delete {
    /// Why, for the author's own records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl KindPayload for Delete {
    const REFS: &'static [RefRule] = &[RefRule::event(Rel::Target, 1, 1)];

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        check::opt_text("reason", &self.reason, MAX_REASON_BYTES)
    }
}
