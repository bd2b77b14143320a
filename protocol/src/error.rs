//! Typed rejections with stable machine codes.
//!
//! Spec: `specs/events.md#error-codes`. The gateway and the relay pass [`EventError::code`]
//! and [`AuthError::code`] to clients unchanged, so a code, once published, never
//! changes meaning.

use crate::encoding::DecodeError;
use crate::id::EventId;
use crate::kinds::Kind;

/// Why an event was rejected by the stateless rules: decoding, canonical form,
/// size, schema, signature and clock. Anything that needs the store is an [`AuthError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The encoded envelope exceeds [`crate::MAX_EVENT_BYTES`].
    #[error("event is {size} bytes; the limit is {max}")]
    TooLarge {
        /// Size of the envelope in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not a well-formed envelope or body.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// Well formed, but not in canonical form.
    #[error("event is not canonically encoded")]
    NonCanonical,
    /// A kind this implementation does not know.
    #[error("unknown kind `{0}`")]
    UnknownKind(String),
    /// The signer's key is not a usable Ed25519 key (not a curve point, or of small order).
    #[error("the signer's key is not a usable Ed25519 public key")]
    KeyInvalid,
    /// The signature does not verify against the signer and the id.
    #[error("signature does not verify")]
    SigInvalid,
    /// The event is not the one that was asked for.
    #[error("expected event {expected}, got {found}")]
    IdMismatch {
        /// The id that was asked for.
        expected: EventId,
        /// The id of the bytes received.
        found: EventId,
    },
    /// `created_at` is too far in the future for now.
    #[error("created {ahead_ms} ms in the future; at most {max_ms} ms allowed")]
    ClockSkew {
        /// How far ahead of the local clock.
        ahead_ms: u64,
        /// The allowed skew.
        max_ms: u64,
    },
    /// `created_at` is outside the range of plausible millisecond timestamps.
    #[error("created_at {0} is not a millisecond timestamp between 2020 and 9999")]
    CreatedAtInvalid(u64),
    /// A text field is longer than its limit (in UTF-8 bytes).
    #[error("`{field}` is {len} bytes; at most {max} allowed")]
    TextTooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A list has more items than allowed.
    #[error("`{field}` has {len} items; at most {max} allowed")]
    TooManyItems {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A field breaks its kind's rules.
    #[error("`{field}`: {reason}")]
    FieldInvalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A hashtag that is not in normalised form.
    #[error("hashtag `{0}` is not normalised")]
    HashtagInvalid(String),
    /// A media descriptor that breaks the media rules.
    #[error("media `{field}`: {reason}")]
    MediaInvalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// References that do not fit the kind.
    #[error("refs: {0}")]
    RefsInvalid(String),
    /// An expiry outside the window its kind allows.
    #[error("expiry: {0}")]
    ExpiryInvalid(String),
    /// The signer differs from the author for a kind that cannot be delegated.
    #[error("kind `{0}` must be signed by its author's own key")]
    NotDelegable(Kind),
}

impl EventError {
    /// Stable machine code (see `specs/events.md#error-codes`).
    pub fn code(&self) -> &'static str {
        match self {
            EventError::TooLarge { .. } => "too_large",
            EventError::Malformed(_) => "malformed",
            EventError::NonCanonical => "non_canonical",
            EventError::UnknownKind(_) => "unknown_kind",
            EventError::KeyInvalid => "key_invalid",
            EventError::SigInvalid => "sig_invalid",
            EventError::IdMismatch { .. } => "id_mismatch",
            EventError::ClockSkew { .. } => "clock_skew",
            EventError::CreatedAtInvalid(_) => "created_at_invalid",
            EventError::TextTooLong { .. } => "text_too_long",
            EventError::TooManyItems { .. } => "too_many_items",
            EventError::FieldInvalid { .. } => "field_invalid",
            EventError::HashtagInvalid(_) => "hashtag_invalid",
            EventError::MediaInvalid { .. } => "media_invalid",
            EventError::RefsInvalid(_) => "refs_invalid",
            EventError::ExpiryInvalid(_) => "expiry_invalid",
            EventError::NotDelegable(_) => "not_delegable",
        }
    }

    pub(crate) fn field(field: &'static str, reason: impl Into<String>) -> Self {
        EventError::FieldInvalid {
            field,
            reason: reason.into(),
        }
    }
}

impl From<DecodeError> for EventError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Malformed(m) => EventError::Malformed(m),
            DecodeError::NonCanonical => EventError::NonCanonical,
        }
    }
}

/// Why a valid event is not authorised given the state the caller supplied
/// (delegations, the target of a delete, a trade's state, community roles).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Signed by a key other than the author's, and no delegation was supplied.
    #[error("signer is not the author and no delegation authorises it")]
    DelegationMissing,
    /// The supplied delegation does not name this author and signer.
    #[error("the delegation does not authorise this signer for this author")]
    DelegationMismatch,
    /// The delegation does not cover this kind.
    #[error("the delegation does not cover kind `{0}`")]
    DelegationKind(Kind),
    /// The event was created outside the delegation's validity window
    /// (before the delegation, or at or after its expiry).
    #[error("the delegation was not in force when the event was created")]
    DelegationExpired,
    /// The delegation was revoked before the event was created.
    #[error("the delegation has been revoked")]
    DelegationRevoked,
    /// Events of this kind are permanent records and cannot be deleted.
    #[error("`{0}` events cannot be deleted")]
    NotDeletable(Kind),
    /// A reference that must name an original event names an edit of it
    /// (orders name the listing's original; edits point at the original).
    #[error("this reference must name the original event, not an edit")]
    NotOriginal,
    /// Only the author of an event may delete or edit it.
    #[error("only the author of an event may delete it")]
    NotAuthor,
    /// The signer is not a party to the trade.
    #[error("only the buyer or the seller may act on a trade")]
    NotTradeParty,
    /// The trade cannot move to that state from where it is, or not by this party.
    #[error("trade cannot go from `{from}` to `{to}` by the {by}")]
    TradeTransition {
        /// Current state.
        from: &'static str,
        /// Requested state.
        to: &'static str,
        /// Who asked.
        by: &'static str,
    },
    /// The update does not continue the trade's latest state.
    #[error("trade update does not reference the trade's latest event")]
    TradeStale,
    /// The listing is withdrawn or expired, lacks the stock, or does not offer
    /// the chosen options.
    #[error("the listing cannot take this order")]
    ListingUnavailable,
    /// Reviews need a completed trade between the two parties.
    #[error("a review needs a completed trade between reviewer and subject")]
    ReviewWithoutTrade,
    /// A party reviews a trade at most once.
    #[error("this trade already has a review by this party")]
    ReviewExists,
    /// The actor lacks the community role the action needs.
    #[error("this action needs the `{needed}` role in the community")]
    CommunityRole {
        /// The least role that would allow it.
        needed: &'static str,
    },
    /// A currency transfer in a community that runs no currency.
    #[error("this community runs no currency")]
    NoCurrency,
    /// The referenced event is not of the kind the rule needs.
    #[error("referenced event is a `{found}`, expected `{expected}`")]
    WrongTargetKind {
        /// Kind required.
        expected: Kind,
        /// Kind found.
        found: Kind,
    },
    /// A vote or RSVP after its poll or event closed, or with choices the poll does not have.
    #[error("vote: {0}")]
    VoteInvalid(&'static str),
    /// The state passed in does not belong to this event (caller error).
    #[error("state passed does not match the event: {0}")]
    StateMismatch(&'static str),
}

impl AuthError {
    /// Stable machine code (see `specs/events.md#error-codes`).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::DelegationMissing => "delegation_missing",
            AuthError::DelegationMismatch => "delegation_mismatch",
            AuthError::DelegationKind(_) => "delegation_kind",
            AuthError::DelegationExpired => "delegation_expired",
            AuthError::DelegationRevoked => "delegation_revoked",
            AuthError::NotDeletable(_) => "not_deletable",
            AuthError::NotOriginal => "not_original",
            AuthError::NotAuthor => "not_author",
            AuthError::NotTradeParty => "not_trade_party",
            AuthError::TradeTransition { .. } => "trade_transition",
            AuthError::TradeStale => "trade_stale",
            AuthError::ListingUnavailable => "listing_unavailable",
            AuthError::ReviewWithoutTrade => "review_without_trade",
            AuthError::ReviewExists => "review_exists",
            AuthError::CommunityRole { .. } => "community_role",
            AuthError::NoCurrency => "no_currency",
            AuthError::WrongTargetKind { .. } => "wrong_target_kind",
            AuthError::VoteInvalid(_) => "vote_invalid",
            AuthError::StateMismatch(_) => "state_mismatch",
        }
    }
}
