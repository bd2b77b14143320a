//! References from one event to other events and to identities.
//!
//! Spec: `specs/events.md#references`. References are kept out of the typed
//! payloads so that storage can index "everything that points at X" without
//! knowing every kind; each kind says which relations it needs
//! (see [`crate::kinds::Kind::ref_rules`]).

use serde::{Deserialize, Serialize};

use crate::error::EventError;
use crate::id::EventId;
use crate::identity::PublicKey;

/// The relation a reference expresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rel {
    /// The first post of a thread.
    Root,
    /// The event a reply answers.
    Parent,
    /// The event acted on (reacted to, reposted, quoted, deleted, voted on…).
    Target,
    /// An identity mentioned in text.
    Mention,
    /// The identity acted on (followed, granted a role, delegated to…).
    Subject,
    /// The community (its founding event) the event belongs to.
    Community,
    /// The listing an order is for.
    Listing,
    /// The order a trade event belongs to.
    Order,
    /// The previous event of a trade.
    Prev,
    /// A story kept by a highlight, or seen (`story_view`).
    Story,
    /// The original event this one edits.
    EditOf,
    /// The seller named by an order.
    Seller,
}

impl Rel {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Rel::Root => "root",
            Rel::Parent => "parent",
            Rel::Target => "target",
            Rel::Mention => "mention",
            Rel::Subject => "subject",
            Rel::Community => "community",
            Rel::Listing => "listing",
            Rel::Order => "order",
            Rel::Prev => "prev",
            Rel::Story => "story",
            Rel::EditOf => "edit_of",
            Rel::Seller => "seller",
        }
    }
}

/// What a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefTarget {
    /// Another event, by id.
    Event(EventId),
    /// An identity.
    Identity(PublicKey),
}

/// One reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RefRepr", into = "RefRepr")]
pub struct Ref {
    /// The relation.
    pub rel: Rel,
    /// What it points at.
    pub target: RefTarget,
}

impl Ref {
    /// A reference to an event.
    pub fn event(rel: Rel, id: EventId) -> Self {
        Ref {
            rel,
            target: RefTarget::Event(id),
        }
    }

    /// A reference to an identity.
    pub fn identity(rel: Rel, key: PublicKey) -> Self {
        Ref {
            rel,
            target: RefTarget::Identity(key),
        }
    }
}

/// Wire form: `{"rel": …, "event": <CID>}` or `{"rel": …, "key": <32 bytes>}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefRepr {
    rel: Rel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<EventId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<PublicKey>,
}

impl TryFrom<RefRepr> for Ref {
    type Error = &'static str;

    fn try_from(r: RefRepr) -> Result<Self, Self::Error> {
        let target = match (r.event, r.key) {
            (Some(id), None) => RefTarget::Event(id),
            (None, Some(key)) => RefTarget::Identity(key),
            _ => return Err("a reference has exactly one of `event` and `key`"),
        };
        Ok(Ref { rel: r.rel, target })
    }
}

impl From<Ref> for RefRepr {
    fn from(r: Ref) -> Self {
        let (event, key) = match r.target {
            RefTarget::Event(id) => (Some(id), None),
            RefTarget::Identity(key) => (None, Some(key)),
        };
        RefRepr {
            rel: r.rel,
            event,
            key,
        }
    }
}

/// What a relation must point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetType {
    /// An event id.
    Event,
    /// An identity.
    Identity,
}

/// How many references of one relation a kind takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefRule {
    /// The relation.
    pub rel: Rel,
    /// What it points at.
    pub target: TargetType,
    /// Fewest allowed.
    pub min: usize,
    /// Most allowed.
    pub max: usize,
}

impl RefRule {
    pub(crate) const fn event(rel: Rel, min: usize, max: usize) -> Self {
        RefRule {
            rel,
            target: TargetType::Event,
            min,
            max,
        }
    }

    pub(crate) const fn identity(rel: Rel, min: usize, max: usize) -> Self {
        RefRule {
            rel,
            target: TargetType::Identity,
            min,
            max,
        }
    }
}

/// Most references any event may carry.
pub const MAX_REFS: usize = 128;

/// Checks a list of references against a kind's rules: every relation allowed,
/// of the right target type, within its count, and no reference twice.
pub(crate) fn check_refs(refs: &[Ref], rules: &[RefRule]) -> Result<(), EventError> {
    if refs.len() > MAX_REFS {
        return Err(EventError::TooManyItems {
            field: "refs",
            len: refs.len(),
            max: MAX_REFS,
        });
    }
    for (i, r) in refs.iter().enumerate() {
        if refs[..i].contains(r) {
            return Err(EventError::RefsInvalid(format!(
                "`{}` reference repeated",
                r.rel.name()
            )));
        }
        let Some(rule) = rules.iter().find(|rule| rule.rel == r.rel) else {
            return Err(EventError::RefsInvalid(format!(
                "relation `{}` is not allowed for this kind",
                r.rel.name()
            )));
        };
        let type_ok = matches!(
            (rule.target, r.target),
            (TargetType::Event, RefTarget::Event(_))
                | (TargetType::Identity, RefTarget::Identity(_))
        );
        if !type_ok {
            return Err(EventError::RefsInvalid(format!(
                "`{}` must point at {}",
                r.rel.name(),
                match rule.target {
                    TargetType::Event => "an event",
                    TargetType::Identity => "an identity",
                }
            )));
        }
    }
    for rule in rules {
        let n = refs.iter().filter(|r| r.rel == rule.rel).count();
        if n < rule.min || n > rule.max {
            let wanted = if rule.min == rule.max {
                format!("exactly {}", rule.min)
            } else {
                format!("{} to {}", rule.min, rule.max)
            };
            return Err(EventError::RefsInvalid(format!(
                "`{}`: {wanted} expected, found {n}",
                rule.rel.name()
            )));
        }
    }
    Ok(())
}
