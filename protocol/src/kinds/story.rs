//! `story`, `highlight` and `story_view`. Spec: `specs/kinds.md#story`.

use serde::{Deserialize, Serialize};

use super::{KindPayload, Meta, future_within};
use crate::check;
use crate::error::EventError;
use crate::media::MediaDescriptor;
use crate::refs::{RefRule, Rel};

/// A story lives at most this long after its creation.
pub const MAX_STORY_LIFETIME_MS: u64 = 24 * 60 * 60 * 1000;
/// Longest caption or text.
pub const MAX_STORY_TEXT_BYTES: usize = 2_200;
/// Longest highlight name.
pub const MAX_HIGHLIGHT_NAME_BYTES: usize = 100;
/// Most items in a highlight.
pub const MAX_HIGHLIGHT_ITEMS: usize = 100;

/// A story: media with a caption, or text alone, gone at `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Story {
    /// Caption, or the story itself when there is no media.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// The image or video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaDescriptor>,
    /// When it disappears: after `created_at`, at most 24 hours after it.
    pub expires_at: u64,
}

impl KindPayload for Story {
    const REFS: &'static [RefRule] = &[RefRule::identity(Rel::Mention, 0, 20)];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        check::text("text", &self.text, MAX_STORY_TEXT_BYTES)?;
        if let Some(m) = &self.media {
            m.validate("media")?;
        } else if self.text.trim().is_empty() {
            return Err(EventError::field("text", "a story needs media or text"));
        }
        future_within(
            "expires_at",
            self.expires_at,
            meta,
            Some(MAX_STORY_LIFETIME_MS),
        )
    }
}

/// A named, permanent collection of the author's stories. The newest
/// highlight with a name replaces older ones with the same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Highlight {
    /// Its name.
    pub name: String,
    /// The stories kept (their text and media, copied), in display order.
    pub items: Vec<HighlightItem>,
}

/// One story kept by a highlight: what it showed, which outlives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HighlightItem {
    /// The story's caption, or the story itself when there is no media.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// The story's image or video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaDescriptor>,
}

impl KindPayload for Highlight {
    const REFS: &'static [RefRule] = &[RefRule::event(Rel::Story, 0, MAX_HIGHLIGHT_ITEMS)];

    fn validate(&self, _meta: &Meta<'_>) -> Result<(), EventError> {
        check::required_text("name", &self.name, MAX_HIGHLIGHT_NAME_BYTES)?;
        if self.items.is_empty() {
            return Err(EventError::field(
                "items",
                "a highlight keeps at least one item",
            ));
        }
        check::count("items", self.items.len(), MAX_HIGHLIGHT_ITEMS)?;
        for item in &self.items {
            check::text("items.text", &item.text, MAX_STORY_TEXT_BYTES)?;
            match &item.media {
                Some(m) => m.validate("items.media")?,
                None if item.text.trim().is_empty() => {
                    return Err(EventError::field(
                        "items",
                        "a highlight item needs media or text",
                    ));
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// A view receipt: the author saw a story. Sent only by people who turned
/// receipts on; public like a reaction. It lives no longer than the story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoryView {
    /// The story's own `expires_at`: nodes drop the receipt then too.
    pub expires_at: u64,
}

impl KindPayload for StoryView {
    const REFS: &'static [RefRule] = &[RefRule::event(Rel::Story, 1, 1)];

    fn validate(&self, meta: &Meta<'_>) -> Result<(), EventError> {
        future_within(
            "expires_at",
            self.expires_at,
            meta,
            Some(MAX_STORY_LIFETIME_MS),
        )
    }
}
