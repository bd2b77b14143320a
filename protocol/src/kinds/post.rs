//! `post`, `reply`, `quote`, `repost` and `reaction`. Spec: `specs/kinds.md#post`.

use serde::{Deserialize, Serialize};

use super::{KindPayload, Meta};
use crate::check;
use crate::error::EventError;
use crate::hashtag;
use crate::media::{self, MediaDescriptor};
use crate::refs::{RefRule, Rel};

/// Longest text of a post, reply or quote.
pub const MAX_TEXT_BYTES: usize = 10_000;
/// Most hashtags.
pub const MAX_TAGS: usize = 30;
/// Most media descriptors.
pub const MAX_MEDIA: usize = 10;
/// Most mentioned identities.
pub const MAX_MENTIONS: usize = 50;

/// What posts, replies and quotes say.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Content {
    /// The text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Hashtags, normalised ([`crate::hashtag::normalize`]); usually those of the text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Attached media, in display order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaDescriptor>,
    /// Language of the text (BCP 47).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

impl Content {
    /// Text with its hashtags extracted.
    pub fn text(text: impl Into<String>) -> Self {
        let text = text.into();
        Content {
            tags: hashtag::extract(&text),
            text,
            ..Content::default()
        }
    }

    fn validate(&self) -> Result<(), EventError> {
        check::text("text", &self.text, MAX_TEXT_BYTES)?;
        if self.text.trim().is_empty() && self.media.is_empty() {
            return Err(EventError::field("text", "text or media is required"));
        }
        hashtag::check_tags("tags", &self.tags, MAX_TAGS)?;
        media::check_all("media", &self.media, MAX_MEDIA)?;
        if let Some(lang) = &self.lang {
            check::language("lang", lang)?;
        }
        Ok(())
    }
}

/// Defines a kind whose payload is [`Content`] (post, reply, quote): the
/// three differ only in the references they take.
macro_rules! content_kind {
    ($(#[$doc:meta])* $name:ident, refs: [$($rule:expr),* $(,)?]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name {
            /// What it says.
            pub content: Content,
        }

        impl KindPayload for $name {
            const REFS: &'static [RefRule] = &[$($rule),*];

            fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
                self.content.validate()
            }
        }
    };
}

content_kind!(
    /// A post.
    Post,
    refs: [
        RefRule::identity(Rel::Mention, 0, MAX_MENTIONS),
        RefRule::event(Rel::Community, 0, 1),
    ]
);

content_kind!(
    /// A reply: `root` is the thread's first post, `parent` the event answered
    /// (the same event when answering the root).
    Reply,
    refs: [
        RefRule::event(Rel::Root, 1, 1),
        RefRule::event(Rel::Parent, 1, 1),
        RefRule::identity(Rel::Mention, 0, MAX_MENTIONS),
        RefRule::event(Rel::Community, 0, 1),
    ]
);

content_kind!(
    /// A post that quotes the `target` event.
    Quote,
    refs: [
        RefRule::event(Rel::Target, 1, 1),
        RefRule::identity(Rel::Mention, 0, MAX_MENTIONS),
        RefRule::event(Rel::Community, 0, 1),
    ]
);

/// A repost of the `target` event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repost {}

impl KindPayload for Repost {
    const REFS: &'static [RefRule] = &[RefRule::event(Rel::Target, 1, 1)];

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        Ok(())
    }
}

/// The six reactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReactionType {
    /// 👍
    Like,
    /// ❤️
    Love,
    /// 😆
    Haha,
    /// 😮
    Wow,
    /// 😢
    Sad,
    /// 😠
    Angry,
}

impl ReactionType {
    /// All six, in display order.
    pub const ALL: [ReactionType; 6] = [
        ReactionType::Like,
        ReactionType::Love,
        ReactionType::Haha,
        ReactionType::Wow,
        ReactionType::Sad,
        ReactionType::Angry,
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            ReactionType::Like => "like",
            ReactionType::Love => "love",
            ReactionType::Haha => "haha",
            ReactionType::Wow => "wow",
            ReactionType::Sad => "sad",
            ReactionType::Angry => "angry",
        }
    }
}

/// A reaction to the `target` event. A person has at most one live reaction per
/// target: a newer reaction replaces the older one, and deleting it removes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reaction {
    /// Which reaction.
    pub reaction: ReactionType,
}

impl KindPayload for Reaction {
    const REFS: &'static [RefRule] = &[RefRule::event(Rel::Target, 1, 1)];

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        Ok(())
    }
}
