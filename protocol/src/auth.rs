//! Authorisation rules that need state, as pure functions over what the caller
//! passes in. Storage supplies the data (the delegation in force, the target of
//! a delete, a trade's state, community roles); these functions decide.
//!
//! Spec: `specs/events.md#authorisation` and `specs/trades.md`.

use crate::error::AuthError;
use crate::event::Event;
use crate::id::EventId;
use crate::identity::PublicKey;
use crate::kinds::trade::Party;
use crate::kinds::{
    Community, Kind, MembershipAction, ModAction, Moderation, Payload, Poll, Role, TradeState,
    Visibility,
};
use crate::refs::Rel;

fn require_kind(event: &Event, expected: Kind) -> Result<(), AuthError> {
    if event.kind() != expected {
        return Err(AuthError::WrongTargetKind {
            expected,
            found: event.kind(),
        });
    }
    Ok(())
}

fn require_ref(event: &Event, rel: Rel, id: EventId, what: &'static str) -> Result<(), AuthError> {
    if event.event_ref(rel) != Some(id) {
        return Err(AuthError::StateMismatch(what));
    }
    Ok(())
}

/// Checks that `event`'s signer may sign for its author.
///
/// When signer and author differ, `delegation` must be the author's delegation
/// to the signer, and `revocations` every revocation of it the caller knows.
/// A delegation covers events created from its own `created_at` up to (not
/// including) its `expires_at`.
pub fn check_signer(
    event: &Event,
    delegation: Option<&Event>,
    revocations: &[&Event],
) -> Result<(), AuthError> {
    if event.signer() == event.author() {
        return Ok(());
    }
    let delegation = delegation.ok_or(AuthError::DelegationMissing)?;
    require_kind(delegation, Kind::Delegation)?;
    let Payload::Delegation(grant) = delegation.payload() else {
        return Err(AuthError::DelegationMissing);
    };
    if delegation.author() != event.author()
        || delegation.identity_ref(Rel::Subject) != Some(event.signer())
    {
        return Err(AuthError::DelegationMismatch);
    }
    if !grant.kinds.contains(&event.kind()) {
        return Err(AuthError::DelegationKind(event.kind()));
    }
    if event.created_at() < delegation.created_at() || event.created_at() >= grant.expires_at {
        return Err(AuthError::DelegationExpired);
    }
    for revocation in revocations {
        require_kind(revocation, Kind::Revocation)?;
        if revocation.author() != event.author()
            || revocation.event_ref(Rel::Target) != Some(delegation.id())
        {
            return Err(AuthError::StateMismatch("revocation of another delegation"));
        }
        let Payload::Revocation(r) = revocation.payload() else {
            continue;
        };
        match r.keep_before {
            Some(t) if event.created_at() < t => {}
            _ => return Err(AuthError::DelegationRevoked),
        }
    }
    Ok(())
}

/// Checks a `delete`: only the author of an event may delete it, and only
/// kinds that are not permanent records ([`Kind::deletable`]).
pub fn check_delete(delete: &Event, target: &Event) -> Result<(), AuthError> {
    require_kind(delete, Kind::Delete)?;
    require_ref(
        delete,
        Rel::Target,
        target.id(),
        "target is not the deleted event",
    )?;
    if !target.kind().deletable() {
        return Err(AuthError::NotDeletable(target.kind()));
    }
    if target.author() != delete.author() {
        return Err(AuthError::NotAuthor);
    }
    Ok(())
}

/// Which kinds an event referenced with `rel` from an event of `kind` must be,
/// where the rules constrain it.
pub fn expected_ref_kinds(kind: Kind, rel: Rel) -> Option<&'static [Kind]> {
    const CONTENT: &[Kind] = &[Kind::Post, Kind::Reply, Kind::Quote];
    Some(match (kind, rel) {
        (Kind::Reply, Rel::Root) => &[Kind::Post, Kind::Quote],
        (Kind::Reply, Rel::Parent) | (Kind::Repost | Kind::Quote, Rel::Target) => CONTENT,
        (Kind::Rsvp, Rel::Target) => &[Kind::CalendarEvent],
        (Kind::Vote, Rel::Target) => &[Kind::Poll],
        (Kind::Revocation, Rel::Target) => &[Kind::Delegation],
        (Kind::Highlight | Kind::StoryView, Rel::Story) => &[Kind::Story],
        (Kind::Order, Rel::Listing) => &[Kind::Listing],
        (Kind::Listing, Rel::EditOf) => &[Kind::Listing],
        (Kind::Community, Rel::EditOf) => &[Kind::Community],
        (Kind::CalendarEvent, Rel::EditOf) => &[Kind::CalendarEvent],
        (Kind::TradeUpdate | Kind::Review, Rel::Order) => &[Kind::Order],
        (Kind::TradeUpdate, Rel::Prev) => &[Kind::Order, Kind::TradeUpdate],
        (_, Rel::Community) => &[Kind::Community],
        _ => return None,
    })
}

/// Checks that `referenced`, pointed at by `event` with `rel`, is of a kind the rules allow.
pub fn check_ref_kind(event: &Event, rel: Rel, referenced: &Event) -> Result<(), AuthError> {
    let points_at = event
        .refs()
        .iter()
        .any(|r| r.rel == rel && r.target == crate::RefTarget::Event(referenced.id()));
    if !points_at {
        return Err(AuthError::StateMismatch("not the referenced event"));
    }
    match expected_ref_kinds(event.kind(), rel) {
        Some(kinds) if !kinds.contains(&referenced.kind()) => Err(AuthError::WrongTargetKind {
            expected: kinds[0],
            found: referenced.kind(),
        }),
        _ => Ok(()),
    }
}

/// The party `who` plays in the trade opened by `order`, if any.
pub fn trade_party(order: &Event, who: &PublicKey) -> Option<Party> {
    if &order.author() == who {
        Some(Party::Buyer)
    } else if order.identity_ref(Rel::Seller).as_ref() == Some(who) {
        Some(Party::Seller)
    } else {
        None
    }
}

/// Checks that `edit` may edit `original`: same kind, same author, and
/// `edit_of` names the original (listings, communities, calendar events).
pub fn check_edit(edit: &Event, original: &Event) -> Result<(), AuthError> {
    require_ref(edit, Rel::EditOf, original.id(), "edit of another event")?;
    require_kind(original, edit.kind())?;
    if original.event_ref(Rel::EditOf).is_some() {
        return Err(AuthError::NotOriginal);
    }
    if original.author() != edit.author() {
        return Err(AuthError::NotAuthor);
    }
    Ok(())
}

/// Checks an order against its listing as it stands: `listing` is the newest
/// version (the original or its newest edit by the seller) of the listing the
/// order names, and `available` the units the seller's node has left (fewer
/// than the listing's quantity once other orders were accepted).
///
/// The order must name the listing's original event (the listing's id; an
/// order naming an edit is `not_original`, whatever edits a node has seen),
/// name the seller, come before the listing expires, ask for no more than is
/// available, and choose a delivery option and payment method the listing
/// offers; a withdrawn listing takes no orders.
pub fn check_order(order: &Event, listing: &Event, available: u32) -> Result<(), AuthError> {
    require_kind(order, Kind::Order)?;
    require_kind(listing, Kind::Listing)?;
    let original = listing.event_ref(Rel::EditOf).unwrap_or(listing.id());
    match order.event_ref(Rel::Listing) {
        Some(named) if named == original => {}
        Some(named) if named == listing.id() => return Err(AuthError::NotOriginal),
        _ => return Err(AuthError::StateMismatch("listing is not the ordered one")),
    }
    let (Payload::Order(o), Payload::Listing(l)) = (order.payload(), listing.payload()) else {
        return Err(AuthError::StateMismatch("order or listing payload"));
    };
    if order.identity_ref(Rel::Seller) != Some(listing.author()) {
        return Err(AuthError::NotTradeParty);
    }
    let expired = l.expires_at.is_some_and(|t| order.created_at() >= t);
    if l.withdrawn || expired || o.quantity > available.min(l.quantity) {
        return Err(AuthError::ListingUnavailable);
    }
    if !l.delivery.contains(&o.delivery) || !l.payment.contains(&o.payment) {
        return Err(AuthError::ListingUnavailable);
    }
    Ok(())
}

/// Checks a `trade_update` against the trade's order, its current state and
/// its latest event; returns the new state.
pub fn check_trade_update(
    update: &Event,
    order: &Event,
    current: TradeState,
    latest: EventId,
) -> Result<TradeState, AuthError> {
    require_kind(update, Kind::TradeUpdate)?;
    require_kind(order, Kind::Order)?;
    require_ref(
        update,
        Rel::Order,
        order.id(),
        "update belongs to another trade",
    )?;
    let Payload::TradeUpdate(step) = update.payload() else {
        return Err(AuthError::StateMismatch("update payload"));
    };
    let party = trade_party(order, &update.author()).ok_or(AuthError::NotTradeParty)?;
    if update.event_ref(Rel::Prev) != Some(latest) {
        return Err(AuthError::TradeStale);
    }
    current.transition(step.state, party)
}

/// Checks a `review`: the trade it names is completed, reviewer and
/// subject are its two parties, and the reviewer has not reviewed this
/// trade before (`reviewed`: whether the node holds a review of this trade
/// by the same author).
pub fn check_review(
    review: &Event,
    order: &Event,
    state: TradeState,
    reviewed: bool,
) -> Result<(), AuthError> {
    require_kind(review, Kind::Review)?;
    require_kind(order, Kind::Order)?;
    require_ref(review, Rel::Order, order.id(), "review of another trade")?;
    if state != TradeState::Completed {
        return Err(AuthError::ReviewWithoutTrade);
    }
    let reviewer = trade_party(order, &review.author());
    let subject = review
        .identity_ref(Rel::Subject)
        .and_then(|s| trade_party(order, &s));
    match (reviewer, subject) {
        (Some(a), Some(b)) if a != b && reviewed => Err(AuthError::ReviewExists),
        (Some(a), Some(b)) if a != b => Ok(()),
        _ => Err(AuthError::ReviewWithoutTrade),
    }
}

/// Checks a vote against its poll: in time, options that exist, and one
/// option unless the poll allows several.
pub fn check_vote(vote: &Event, poll: &Event) -> Result<(), AuthError> {
    require_kind(vote, Kind::Vote)?;
    require_kind(poll, Kind::Poll)?;
    require_ref(vote, Rel::Target, poll.id(), "vote on another poll")?;
    let (
        Payload::Vote(v),
        Payload::Poll(Poll {
            options,
            closes_at,
            multiple,
            ..
        }),
    ) = (vote.payload(), poll.payload())
    else {
        return Err(AuthError::StateMismatch("vote or poll payload"));
    };
    if vote.created_at() > *closes_at {
        return Err(AuthError::VoteInvalid("the poll is closed"));
    }
    if v.choices.iter().any(|&c| usize::from(c) >= options.len()) {
        return Err(AuthError::VoteInvalid("no such option"));
    }
    if v.choices.len() > 1 && !multiple {
        return Err(AuthError::VoteInvalid("this poll takes one choice"));
    }
    Ok(())
}

/// What the caller knows of a community: its founding event's id, its owner
/// (the founding event's author) and its current settings.
#[derive(Debug, Clone, Copy)]
pub struct CommunityState<'a> {
    /// Id of the founding `community` event.
    pub id: EventId,
    /// Author of the founding event.
    pub owner: PublicKey,
    /// The current settings (the newest edit by the owner).
    pub settings: &'a Community,
}

/// Where a person stands in a community.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// Has joined (and not left).
    pub joined: bool,
    /// Highest role held, if any.
    pub role: Option<Role>,
    /// Banned by a moderator.
    pub banned: bool,
}

/// Checks an event that acts in a community: edits, roles, moderation,
/// transfers, and content posted into it.
///
/// `actor` is where the event's author stands; `subject` where the referenced
/// identity stands (for role changes and bans; default otherwise).
pub fn check_community_action(
    event: &Event,
    community: &CommunityState<'_>,
    actor: Standing,
    subject: Standing,
) -> Result<(), AuthError> {
    let is_owner = event.author() == community.owner;
    let rank = |s: Standing, owner: bool| {
        if owner {
            4
        } else {
            s.role.map_or(0, |r| r as u8 + 1)
        }
    };
    let actor_rank = rank(actor, is_owner);
    let need = |needed: &'static str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(AuthError::CommunityRole { needed })
        }
    };
    if event.kind() == Kind::Community {
        require_ref(
            event,
            Rel::EditOf,
            community.id,
            "edit of another community",
        )?;
        return need("owner", is_owner);
    }
    require_ref(
        event,
        Rel::Community,
        community.id,
        "event is not in this community",
    )?;
    // Leaving is always allowed, even to the banned.
    let leaving =
        matches!(event.payload(), Payload::Membership(m) if m.action == MembershipAction::Leave);
    if actor.banned && !is_owner && !leaving {
        return Err(AuthError::CommunityRole {
            needed: "member (banned)",
        });
    }
    let subject_key = event.identity_ref(Rel::Subject);
    let subject_is_owner = subject_key == Some(community.owner);
    let subject_rank = rank(subject, subject_is_owner);
    match event.payload() {
        Payload::Membership(_) => Ok(()),
        Payload::RoleGrant(g) => grant_or_revoke(g.role, actor_rank, subject_is_owner),
        Payload::RoleRevoke(r) => grant_or_revoke(r.role, actor_rank, subject_is_owner),
        Payload::Moderation(Moderation { action, .. }) => {
            need("moderator", actor_rank >= 2)?;
            if matches!(action, ModAction::Ban | ModAction::Unban) && subject_rank >= actor_rank {
                return Err(AuthError::CommunityRole {
                    needed: "a role above the subject's",
                });
            }
            Ok(())
        }
        Payload::Transfer(_) => {
            if community.settings.currency.is_none() {
                return Err(AuthError::NoCurrency);
            }
            need("member", actor.joined || actor_rank >= 1)
        }
        _ => match community.settings.visibility {
            Visibility::Open => Ok(()),
            Visibility::Closed => need("member", actor_rank >= 1),
        },
    }
}

/// Admins and the owner manage roles; moderators may admit members (`member`);
/// only the owner makes admins; nobody changes the owner's standing.
fn grant_or_revoke(role: Role, actor_rank: u8, subject_is_owner: bool) -> Result<(), AuthError> {
    if subject_is_owner {
        return Err(AuthError::CommunityRole {
            needed: "owner (the owner's standing is fixed)",
        });
    }
    let (needed, rank) = match role {
        Role::Member => ("moderator", 2),
        Role::Moderator => ("admin", 3),
        Role::Admin => ("owner", 4),
    };
    if actor_rank < rank {
        return Err(AuthError::CommunityRole { needed });
    }
    Ok(())
}
