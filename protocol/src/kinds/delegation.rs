//! `delegation` and `revocation`. Spec: `specs/events.md#delegation`.
//!
//! A root identity signs a delegation naming another key (`subject`), the kinds
//! it may sign and an expiry. Events the delegate signs name the root as author.
//! Delegation is one level deep: a delegate can never delegate or revoke, so a
//! hosted gateway holding a delegated key can be cut off by its person at any time.

use serde::{Deserialize, Serialize};

use super::{Kind, KindPayload, Meta, future_within, subject_not_author};
use crate::check;
use crate::error::EventError;
use crate::refs::{RefRule, Rel};

/// Authorises the `subject` key to sign `kinds` for the author until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegation {
    /// The kinds the delegate may sign, each at most once.
    pub kinds: Vec<Kind>,
    /// End of the delegation, ms since the epoch.
    pub expires_at: u64,
}

impl KindPayload for Delegation {
    const REFS: &'static [RefRule] = &[RefRule::identity(Rel::Subject, 1, 1)];
    const DELEGABLE: bool = false;

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        if self.kinds.is_empty() {
            return Err(EventError::field("kinds", "name at least one kind"));
        }
        check::count("kinds", self.kinds.len(), Kind::ALL.len())?;
        check::unique("kinds", &self.kinds)?;
        if let Some(k) = self.kinds.iter().find(|k| !k.delegable()) {
            return Err(EventError::field(
                "kinds",
                format!("`{k}` cannot be delegated"),
            ));
        }
        subject_not_author(meta)?;
        future_within("expires_at", self.expires_at, meta, None)
    }
}

/// Withdraws the `target` delegation. Events its delegate signed with
/// `created_at` before `keep_before` stay valid; without `keep_before`, none do
/// (the key is treated as compromised).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// Keep the delegate's events created before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_before: Option<u64>,
}

impl KindPayload for Revocation {
    const REFS: &'static [RefRule] = &[RefRule::event(Rel::Target, 1, 1)];
    const DELEGABLE: bool = false;

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        if let Some(at) = self.keep_before {
            check::timestamp("keep_before", at)?;
            if at > meta.created_at {
                return Err(EventError::field(
                    "keep_before",
                    "cannot be after the revocation itself",
                ));
            }
        }
        Ok(())
    }
}
