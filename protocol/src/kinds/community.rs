//! Communities: `community`, `membership`, `role_grant`, `role_revoke`,
//! `moderation`, `calendar_event`, `rsvp`, `poll`, `vote`, `transfer`.
//! Spec: `specs/kinds.md#community`.
//!
//! A community is identified by the id of its founding `community` event; its
//! author is the owner. Who may do what is decided by
//! [`crate::auth::check_community_action`] from the roles the caller supplies.

use serde::{Deserialize, Serialize};

use super::{KindPayload, Meta, future_within, subject_not_author, target_xor_subject};
use crate::check;
use crate::error::EventError;
use crate::media::{MediaClass, MediaDescriptor};
use crate::refs::{RefRule, Rel};

/// Longest community name.
pub const MAX_COMMUNITY_NAME_BYTES: usize = 100;
/// Longest description.
pub const MAX_COMMUNITY_DESCRIPTION_BYTES: usize = 5_000;
/// Most rules.
pub const MAX_RULES: usize = 50;
/// Most poll options.
pub const MAX_POLL_OPTIONS: usize = 20;

/// Who may join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone may join.
    Open,
    /// Joining needs a `member` role granted by an admin or moderator.
    Closed,
}

/// A community. An edit is a new `community` by the owner with `edit_of` the founding event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Community {
    /// Name.
    pub name: String,
    /// What it is about.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// House rules, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<MediaDescriptor>,
    /// Who may join.
    pub visibility: Visibility,
    /// Code of the community currency, if it runs one (1 to 16 of `A-Z0-9`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl KindPayload for Community {
    const REFS: &'static [RefRule] = &[RefRule::event(Rel::EditOf, 0, 1)];

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        check::required_text("name", &self.name, MAX_COMMUNITY_NAME_BYTES)?;
        check::text(
            "description",
            &self.description,
            MAX_COMMUNITY_DESCRIPTION_BYTES,
        )?;
        check::count("rules", self.rules.len(), MAX_RULES)?;
        self.rules
            .iter()
            .try_for_each(|r| check::required_text("rules", r, 1_000))?;
        if let Some(avatar) = &self.avatar {
            avatar.validate("avatar")?;
            if avatar.class() != Some(MediaClass::Image) {
                return Err(EventError::MediaInvalid {
                    field: "avatar",
                    reason: "must be an image".into(),
                });
            }
        }
        if let Some(code) = &self.currency
            && (code.is_empty()
                || code.len() > 16
                || !code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
        {
            return Err(EventError::field(
                "currency",
                "1 to 16 characters of A-Z and 0-9",
            ));
        }
        Ok(())
    }
}

/// Joining or leaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum MembershipAction {
    Join,
    Leave,
}

/// The author joins or leaves the `community`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    /// Join or leave.
    pub action: MembershipAction,
}

impl KindPayload for Membership {
    const REFS: &'static [RefRule] = &[RefRule::event(Rel::Community, 1, 1)];

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        Ok(())
    }
}

/// Community roles, from least to most power. The owner (author of the
/// founding event) is above all of them and cannot be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Admitted to a closed community.
    Member,
    /// May moderate content and members.
    Moderator,
    /// May grant and revoke roles below admin.
    Admin,
}

impl Role {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }
}

/// Grants `role` in the `community` to the `subject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleGrant {
    /// The role.
    pub role: Role,
}

const ROLE_REFS: &[RefRule] = &[
    RefRule::event(Rel::Community, 1, 1),
    RefRule::identity(Rel::Subject, 1, 1),
];

impl KindPayload for RoleGrant {
    const REFS: &'static [RefRule] = ROLE_REFS;

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        subject_not_author(meta)
    }
}

/// Revokes `role` in the `community` from the `subject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRevoke {
    /// The role.
    pub role: Role,
}

impl KindPayload for RoleRevoke {
    const REFS: &'static [RefRule] = ROLE_REFS;

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        Ok(())
    }
}

/// What a moderator does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModAction {
    /// Hide the `target` event from the community.
    Remove,
    /// Undo a removal of the `target`.
    Restore,
    /// Pin the `target` to the top.
    Pin,
    /// Unpin the `target`.
    Unpin,
    /// Ban the `subject` from the community.
    Ban,
    /// Lift a ban of the `subject`.
    Unban,
}

impl ModAction {
    fn acts_on_identity(self) -> bool {
        matches!(self, ModAction::Ban | ModAction::Unban)
    }
}

/// A moderation action in the `community` on a `target` event or a `subject` identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moderation {
    /// The action.
    pub action: ModAction,
    /// Why, shown to members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl KindPayload for Moderation {
    const REFS: &'static [RefRule] = &[
        RefRule::event(Rel::Community, 1, 1),
        RefRule::event(Rel::Target, 0, 1),
        RefRule::identity(Rel::Subject, 0, 1),
    ];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        target_xor_subject(meta)?;
        if self.action.acts_on_identity() != meta.has(Rel::Subject) {
            return Err(EventError::RefsInvalid(
                "ban and unban take a `subject`; remove, restore, pin and unpin take a `target`"
                    .into(),
            ));
        }
        subject_not_author(meta)?;
        check::opt_text("reason", &self.reason, 1_000)
    }
}

/// A calendar event, optionally in a `community`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarEvent {
    /// Title.
    pub title: String,
    /// Details.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Start, ms since the epoch.
    pub starts_at: u64,
    /// End, after the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<u64>,
    /// Where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Link for online events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl KindPayload for CalendarEvent {
    const REFS: &'static [RefRule] = &[
        RefRule::event(Rel::Community, 0, 1),
        RefRule::event(Rel::EditOf, 0, 1),
    ];

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        check::required_text("title", &self.title, 200)?;
        check::text(
            "description",
            &self.description,
            MAX_COMMUNITY_DESCRIPTION_BYTES,
        )?;
        check::timestamp("starts_at", self.starts_at)?;
        if let Some(end) = self.ends_at {
            check::timestamp("ends_at", end)?;
            if end <= self.starts_at {
                return Err(EventError::field("ends_at", "must be after starts_at"));
            }
        }
        check::opt_text("location", &self.location, 300)?;
        if let Some(url) = &self.url {
            check::url("url", url)?;
        }
        Ok(())
    }
}

/// An answer to a calendar event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum RsvpStatus {
    Going,
    Maybe,
    NotGoing,
}

/// The author's answer to the `target` calendar event; the newest counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rsvp {
    /// The answer.
    pub status: RsvpStatus,
}

impl KindPayload for Rsvp {
    const REFS: &'static [RefRule] = &[RefRule::event(Rel::Target, 1, 1)];

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        Ok(())
    }
}

/// Poll or proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollMode {
    /// A question with options.
    Poll,
    /// A governance proposal: options are usually yes / no / abstain.
    Proposal,
}

/// A poll or proposal, optionally in a `community`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// Poll or proposal.
    pub mode: PollMode,
    /// The question or the proposal's text.
    pub question: String,
    /// The options, 2 to 20.
    pub options: Vec<String>,
    /// Votes after this time do not count.
    pub closes_at: u64,
    /// Whether a vote may pick more than one option.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multiple: bool,
}

impl KindPayload for Poll {
    const REFS: &'static [RefRule] = &[RefRule::event(Rel::Community, 0, 1)];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        check::required_text("question", &self.question, 5_000)?;
        if self.options.len() < 2 {
            return Err(EventError::field("options", "at least two options"));
        }
        check::count("options", self.options.len(), MAX_POLL_OPTIONS)?;
        self.options
            .iter()
            .try_for_each(|o| check::required_text("options", o, 200))?;
        check::unique("options", &self.options)?;
        future_within("closes_at", self.closes_at, meta, None)
    }
}

/// The author's vote on the `target` poll; the newest vote before closing counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// Indexes of the chosen options, ascending, no repeats.
    pub choices: Vec<u8>,
}

impl KindPayload for Vote {
    const REFS: &'static [RefRule] = &[RefRule::event(Rel::Target, 1, 1)];

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        if self.choices.is_empty() {
            return Err(EventError::field("choices", "choose at least one option"));
        }
        check::count("choices", self.choices.len(), MAX_POLL_OPTIONS)?;
        if !self.choices.windows(2).all(|w| w[0] < w[1]) {
            return Err(EventError::field("choices", "ascending, without repeats"));
        }
        if self
            .choices
            .iter()
            .any(|&c| usize::from(c) >= MAX_POLL_OPTIONS)
        {
            return Err(EventError::field(
                "choices",
                "an option index is out of range",
            ));
        }
        Ok(())
    }
}

/// A transfer of community currency to the `subject`, in the `community`'s currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// Amount in the currency's smallest unit.
    pub amount: u64,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

impl KindPayload for Transfer {
    const REFS: &'static [RefRule] = &[
        RefRule::event(Rel::Community, 1, 1),
        RefRule::identity(Rel::Subject, 1, 1),
    ];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        if self.amount == 0 {
            return Err(EventError::field("amount", "must be at least 1"));
        }
        check::opt_text("memo", &self.memo, 500)?;
        subject_not_author(meta)
    }
}
