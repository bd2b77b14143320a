//! Media descriptors: how an event points at an image, a clip or a voice note in IPFS.
//!
//! Spec: `specs/kinds.md#media-descriptors`.

use cid::Cid;
use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::EventError;

/// Largest media object an event may describe (4 GiB). Nodes apply smaller
/// per-type limits when they accept uploads.
pub const MAX_MEDIA_BYTES: u64 = 4 << 30;
/// Largest width or height in pixels.
pub const MAX_DIMENSION: u32 = 16_384;
/// Longest duration (24 hours).
pub const MAX_DURATION_MS: u64 = 24 * 60 * 60 * 1000;
/// Most thumbnails per descriptor.
pub const MAX_THUMBS: usize = 4;
/// Longest alternative text.
pub const MAX_ALT_BYTES: usize = 1_500;

/// A piece of media stored in IPFS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaDescriptor {
    /// CID of the file (UnixFS root or raw block).
    #[serde(with = "crate::encoding::cid_text")]
    pub cid: Cid,
    /// MIME type, `image/…`, `video/…` or `audio/…`, lower case, no parameters.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Width in pixels (images and video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels (images and video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Duration in milliseconds (audio and video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Thumbnails, smallest first.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "crate::encoding::cid_text::list"
    )]
    pub thumbs: Vec<Cid>,
    /// Alternative text for people who cannot see the media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

/// The broad class of a media object, from its MIME type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaClass {
    /// `image/*`
    Image,
    /// `video/*`
    Video,
    /// `audio/*`
    Audio,
}

impl MediaDescriptor {
    /// The class named by the MIME type, if it is one Kith carries.
    pub fn class(&self) -> Option<MediaClass> {
        match self.mime.split_once('/')?.0 {
            "image" => Some(MediaClass::Image),
            "video" => Some(MediaClass::Video),
            "audio" => Some(MediaClass::Audio),
            _ => None,
        }
    }

    /// Checks the descriptor's own rules.
    pub fn validate(&self, field: &'static str) -> Result<(), EventError> {
        let bad = |reason: &str| EventError::MediaInvalid {
            field,
            reason: reason.to_string(),
        };
        check_mime(&self.mime).map_err(bad)?;
        let class = self
            .class()
            .ok_or_else(|| bad("only image, video and audio are allowed"))?;
        if self.size == 0 || self.size > MAX_MEDIA_BYTES {
            return Err(bad("size must be between 1 byte and 4 GiB"));
        }
        let has_dims = self.width.is_some() || self.height.is_some();
        match class {
            MediaClass::Image | MediaClass::Video => {
                let (Some(w), Some(h)) = (self.width, self.height) else {
                    return Err(bad("images and video need width and height"));
                };
                if w == 0 || h == 0 || w > MAX_DIMENSION || h > MAX_DIMENSION {
                    return Err(bad("width and height must be between 1 and 16384"));
                }
            }
            MediaClass::Audio if has_dims => return Err(bad("audio has no width or height")),
            MediaClass::Audio => {}
        }
        match (class, self.duration_ms) {
            (MediaClass::Image, Some(_)) => return Err(bad("images have no duration")),
            (MediaClass::Video | MediaClass::Audio, None) => {
                return Err(bad("audio and video need a duration"));
            }
            (_, Some(d)) if d == 0 || d > MAX_DURATION_MS => {
                return Err(bad("duration must be between 1 ms and 24 hours"));
            }
            _ => {}
        }
        if self.thumbs.len() > MAX_THUMBS {
            return Err(bad("at most 4 thumbnails"));
        }
        if let Some(alt) = &self.alt {
            if alt.trim().is_empty() {
                return Err(bad("alt text, when present, must not be blank"));
            }
            if alt.len() > MAX_ALT_BYTES || alt.contains('\0') {
                return Err(bad("alt text is at most 1500 bytes, without NUL"));
            }
        }
        Ok(())
    }
}

fn check_mime(mime: &str) -> Result<(), &'static str> {
    let Some((top, sub)) = mime.split_once('/') else {
        return Err("mime must be type/subtype");
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
    };
    if !token(top) || !token(sub) {
        return Err("mime must be lower-case type/subtype without parameters");
    }
    Ok(())
}

/// Checks a list of media descriptors.
pub(crate) fn check_all(
    field: &'static str,
    media: &[MediaDescriptor],
    max: usize,
) -> Result<(), EventError> {
    check::count(field, media.len(), max)?;
    media.iter().try_for_each(|m| m.validate(field))
}
