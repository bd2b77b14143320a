//! Every event kind, each with its typed payload and its stateless rules.
//!
//! Spec: `specs/kinds.md`. The table in [`kinds!`] is the one list of kinds:
//! wire name, payload type, and (through [`KindPayload`]) which references the
//! kind takes and whether a delegated key may sign it.

use std::fmt;

use serde::de::DeserializeSeed;
use serde::{Deserialize, Serialize};

use crate::error::EventError;
use crate::identity::PublicKey;
use crate::refs::{Ref, RefRule, RefTarget, Rel};

pub mod community;
pub mod delegation;
pub mod delete;
pub mod graph;
pub mod message;
pub mod moderation;
pub mod post;
pub mod profile;
pub mod story;
pub mod trade;

pub use community::{
    CalendarEvent, Community, Membership, MembershipAction, ModAction, Moderation, Poll, PollMode,
    Role, RoleGrant, RoleRevoke, Rsvp, RsvpStatus, Transfer, Visibility, Vote,
};
pub use delegation::{Delegation, Revocation};
pub use delete::Delete;
pub use graph::{BlockList, Follow, MuteList, Unfollow};
pub use message::DirectMessage;
pub use moderation::{Label, Report, ReportReason};
pub use post::{Content, Post, Quote, Reaction, ReactionType, Reply, Repost};
pub use profile::Profile;
pub use story::{Highlight, HighlightItem, Story, StoryView};
pub use trade::{
    Condition, DeliveryOption, Listing, Location, Order, Party, PaymentMethod, Price, Review,
    TradeState, TradeUpdate,
};

/// What a payload's rules may look at besides the payload: the rest of the body.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    /// The identity the event speaks for.
    pub author: &'a PublicKey,
    /// The key that signed it.
    pub signer: &'a PublicKey,
    /// Creation time, ms since the Unix epoch.
    pub created_at: u64,
    /// The references.
    pub refs: &'a [Ref],
}

impl Meta<'_> {
    /// The identities referenced with `rel`.
    pub fn identities(&self, rel: Rel) -> impl Iterator<Item = PublicKey> + '_ {
        self.refs
            .iter()
            .filter(move |r| r.rel == rel)
            .filter_map(|r| match r.target {
                RefTarget::Identity(k) => Some(k),
                RefTarget::Event(_) => None,
            })
    }

    /// Whether any reference uses `rel`.
    pub fn has(&self, rel: Rel) -> bool {
        self.refs.iter().any(|r| r.rel == rel)
    }
}

/// The rules a payload type brings with it.
pub trait KindPayload {
    /// The references the kind takes.
    const REFS: &'static [RefRule];
    /// Whether a delegated key may sign the kind for its author.
    const DELEGABLE: bool = true;
    /// The payload's own rules, with the rest of the body for context.
    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError>;
}

macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal, )*) => {
        /// An event kind. The wire form is its name (`"post"`, `"trade_update"`…).
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Kind {
            $( $(#[$doc])* $variant, )*
        }

        impl Kind {
            /// Every kind, in specification order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The wire name.
            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => $name,)* }
            }

            /// The kind with this wire name.
            pub fn from_name(name: &str) -> Option<Kind> {
                match name { $($name => Some(Kind::$variant),)* _ => None }
            }

            /// The references this kind takes.
            pub fn ref_rules(self) -> &'static [RefRule] {
                match self { $(Kind::$variant => <$ty as KindPayload>::REFS,)* }
            }

            /// Whether a delegated key may sign this kind.
            pub fn delegable(self) -> bool {
                match self { $(Kind::$variant => <$ty as KindPayload>::DELEGABLE,)* }
            }
        }

        /// A typed payload: one variant per kind.
        // A profile (two media descriptors) is the largest variant, about
        // 600 bytes against 360. Payloads live inside decoded events and
        // are not moved around; boxing one kind would cost an allocation
        // on every decode of it for no gain.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum Payload {
            $( $(#[$doc])* $variant($ty), )*
        }

        impl Payload {
            /// The payload's kind.
            pub fn kind(&self) -> Kind {
                match self { $(Payload::$variant(_) => Kind::$variant,)* }
            }

            pub(crate) fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
                match self { $(Payload::$variant(p) => p.validate(meta),)* }
            }
        }

        impl Serialize for Payload {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self { $(Payload::$variant(p) => p.serialize(s),)* }
            }
        }

        /// Decodes the payload of a known kind.
        pub(crate) struct PayloadSeed(pub(crate) Kind);

        impl<'de> DeserializeSeed<'de> for PayloadSeed {
            type Value = Payload;

            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Payload, D::Error> {
                match self.0 { $(Kind::$variant => <$ty>::deserialize(d).map(Payload::$variant),)* }
            }
        }

        $(
            impl From<$ty> for Payload {
                fn from(p: $ty) -> Self { Payload::$variant(p) }
            }
        )*
    };
}

kinds! {
    /// A person's public profile (replaceable: the newest wins).
    Profile(Profile) = "profile",
    /// A post.
    Post(Post) = "post",
    /// A reply in a thread.
    Reply(Reply) = "reply",
    /// One of the six reactions to an event.
    Reaction(Reaction) = "reaction",
    /// A repost of another event.
    Repost(Repost) = "repost",
    /// A post quoting another event.
    Quote(Quote) = "quote",
    /// Deletion of one of the author's own events.
    Delete(Delete) = "delete",
    /// Follow an identity.
    Follow(Follow) = "follow",
    /// Stop following an identity.
    Unfollow(Unfollow) = "unfollow",
    /// The author's block list (replaceable).
    BlockList(BlockList) = "block_list",
    /// The author's mute list (replaceable).
    MuteList(MuteList) = "mute_list",
    /// A story that expires within 24 hours.
    Story(Story) = "story",
    /// A named, permanent collection of story media.
    Highlight(Highlight) = "highlight",
    /// An end-to-end encrypted direct message envelope.
    DirectMessage(DirectMessage) = "direct_message",
    /// A marketplace listing.
    Listing(Listing) = "listing",
    /// A buyer's order on a listing; its id is the trade's id.
    Order(Order) = "order",
    /// A step of a trade's state machine.
    TradeUpdate(TradeUpdate) = "trade_update",
    /// A review of the other party of a completed trade.
    Review(Review) = "review",
    /// The founding (or edit) of a community.
    Community(Community) = "community",
    /// Joining or leaving a community.
    Membership(Membership) = "membership",
    /// Granting a community role.
    RoleGrant(RoleGrant) = "role_grant",
    /// Revoking a community role.
    RoleRevoke(RoleRevoke) = "role_revoke",
    /// A moderation action in a community.
    Moderation(Moderation) = "moderation",
    /// A calendar event.
    CalendarEvent(CalendarEvent) = "calendar_event",
    /// An answer to a calendar event.
    Rsvp(Rsvp) = "rsvp",
    /// A poll or a proposal.
    Poll(Poll) = "poll",
    /// A vote on a poll or proposal.
    Vote(Vote) = "vote",
    /// A report of an event or identity to moderators.
    Report(Report) = "report",
    /// Labels attached to an event or identity.
    Label(Label) = "label",
    /// Authorises another key to sign some kinds for the author.
    Delegation(Delegation) = "delegation",
    /// Withdraws a delegation.
    Revocation(Revocation) = "revocation",
    /// A community-currency transfer.
    Transfer(Transfer) = "transfer",
    /// A receipt: the author viewed a story.
    StoryView(StoryView) = "story_view",
}

impl Payload {
    /// Reads the payload of a `kind` from any serde format. The wire decoder
    /// learns the kind from the body; the gateway's JSON names it beside
    /// the payload.
    pub fn deserialize_kind<'de, D: serde::Deserializer<'de>>(
        kind: Kind,
        d: D,
    ) -> Result<Payload, D::Error> {
        PayloadSeed(kind).deserialize(d)
    }

    /// Every media descriptor the payload carries (post media, story media,
    /// avatars, listing photos…), in field order.
    pub fn media(&self) -> Vec<&crate::media::MediaDescriptor> {
        match self {
            Payload::Post(Post { content })
            | Payload::Reply(Reply { content })
            | Payload::Quote(Quote { content }) => content.media.iter().collect(),
            Payload::Profile(p) => p.avatar.iter().chain(p.banner.iter()).collect(),
            Payload::Story(s) => s.media.iter().collect(),
            Payload::Highlight(h) => h.items.iter().filter_map(|i| i.media.as_ref()).collect(),
            Payload::Listing(l) => l.media.iter().collect(),
            Payload::Community(c) => c.avatar.iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The payload's hashtags (posts, replies and quotes).
    pub fn tags(&self) -> &[String] {
        match self {
            Payload::Post(Post { content })
            | Payload::Reply(Reply { content })
            | Payload::Quote(Quote { content }) => &content.tags,
            _ => &[],
        }
    }

    /// The payload's main text, for search and previews.
    pub fn text(&self) -> Option<&str> {
        match self {
            Payload::Post(Post { content })
            | Payload::Reply(Reply { content })
            | Payload::Quote(Quote { content }) => Some(&content.text),
            Payload::Story(s) => Some(&s.text),
            _ => None,
        }
    }
}

impl Kind {
    /// Whether a `delete` may remove events of this kind.
    ///
    /// Kinds that other events build on are permanent records: trades
    /// (listing, order, trade_update, review), delegations and revocations,
    /// communities and their roles, memberships, moderation, polls, votes and
    /// transfers. A listing is withdrawn, a delegation revoked, a follow undone
    /// by an unfollow, a block or mute list replaced by a newer one; a delete
    /// cannot be deleted.
    pub fn deletable(self) -> bool {
        matches!(
            self,
            Kind::Profile
                | Kind::Post
                | Kind::Reply
                | Kind::Reaction
                | Kind::Repost
                | Kind::Quote
                | Kind::Story
                | Kind::Highlight
                | Kind::StoryView
                | Kind::DirectMessage
                | Kind::CalendarEvent
                | Kind::Rsvp
                | Kind::Report
                | Kind::Label
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Kind {
    type Err = EventError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::from_name(s).ok_or_else(|| EventError::UnknownKind(s.to_string()))
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Kind::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown kind `{name}`")))
    }
}

/// Requires exactly one of `target` (an event) and `subject` (an identity).
pub(crate) fn target_xor_subject(meta: &Meta<'_>) -> Result<(), EventError> {
    if meta.has(Rel::Target) == meta.has(Rel::Subject) {
        return Err(EventError::RefsInvalid(
            "exactly one of `target` and `subject` is required".into(),
        ));
    }
    Ok(())
}

/// Requires that the `subject` identity is not the author.
pub(crate) fn subject_not_author(meta: &Meta<'_>) -> Result<(), EventError> {
    if meta.identities(Rel::Subject).any(|k| &k == meta.author) {
        return Err(EventError::RefsInvalid(
            "`subject` cannot be the author".into(),
        ));
    }
    Ok(())
}

/// Requires `at` to be after the event's creation and within `max_ms` of it.
pub(crate) fn future_within(
    field: &'static str,
    at: u64,
    meta: &Meta<'_>,
    max_ms: Option<u64>,
) -> Result<(), EventError> {
    crate::check::timestamp(field, at)?;
    if at <= meta.created_at {
        return Err(EventError::ExpiryInvalid(format!(
            "`{field}` must be after created_at"
        )));
    }
    if let Some(max) = max_ms
        && at - meta.created_at > max
    {
        return Err(EventError::ExpiryInvalid(format!(
            "`{field}` is at most {} hours after created_at",
            max / 3_600_000
        )));
    }
    Ok(())
}
