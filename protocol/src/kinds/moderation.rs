//! `report` and `label`. Spec: `specs/kinds.md#report`.

use serde::{Deserialize, Serialize};

use super::{KindPayload, Meta, target_xor_subject};
use crate::check;
use crate::error::EventError;
use crate::refs::{RefRule, Rel};

/// Why something is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum ReportReason {
    Spam,
    Harassment,
    Hate,
    Violence,
    Sexual,
    Illegal,
    Impersonation,
    Scam,
    Other,
}

const SUBJECT_REFS: &[RefRule] = &[
    RefRule::event(Rel::Target, 0, 1),
    RefRule::identity(Rel::Subject, 0, 1),
    RefRule::event(Rel::Community, 0, 1),
];

/// A report of a `target` event or a `subject` identity, to a community's
/// moderators or the node's operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Why.
    pub reason: ReportReason,
    /// Details.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

impl KindPayload for Report {
    const REFS: &'static [RefRule] = SUBJECT_REFS;

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        target_xor_subject(meta)?;
        check::text("text", &self.text, 2_000)
    }
}

/// Labels on a `target` event or a `subject` identity (`nsfw`, `spoiler`,
/// `bot`…), by anyone; whose labels count is each reader's or operator's choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// 1 to 10 labels of `a-z`, `0-9` and `-`, up to 64 bytes each.
    pub labels: Vec<String>,
    /// Withdraws these labels instead of applying them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub negate: bool,
}

impl KindPayload for Label {
    const REFS: &'static [RefRule] = SUBJECT_REFS;

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        target_xor_subject(meta)?;
        if self.labels.is_empty() {
            return Err(EventError::field("labels", "at least one label"));
        }
        check::count("labels", self.labels.len(), 10)?;
        for label in &self.labels {
            let ok = !label.is_empty()
                && label.len() <= 64
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(EventError::field(
                    "labels",
                    format!("`{label}` is not a label"),
                ));
            }
        }
        check::unique("labels", &self.labels)
    }
}
