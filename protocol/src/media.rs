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
/// Most renditions per descriptor.
pub const MAX_RENDITIONS: usize = 4;
/// Most waveform slices.
pub const MAX_WAVEFORM: usize = 256;

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
    /// Other encodings of the same media for playback or display (a video's
    /// H.264 480p and 720p files, an image's WebP), smallest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renditions: Vec<Rendition>,
    /// Audio only: the loudness outline to draw, one byte (0–255) per
    /// equal slice of the sound, 1 to 256 slices.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::encoding::byte_buf::option"
    )]
    pub waveform: Option<Vec<u8>>,
}

/// Another encoding of a media object (spec: `specs/kinds.md#media-descriptors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rendition {
    /// CID of the file.
    #[serde(with = "crate::encoding::cid_text")]
    pub cid: Cid,
    /// MIME type, of the same class as the descriptor's.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Width in pixels (images and video, with `height`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels (images and video, with `width`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
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
        class_of(&self.mime)
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
        check_dims(class, self.width, self.height).map_err(bad)?;
        match (class, self.duration_ms) {
            (MediaClass::Image, Some(_)) => return Err(bad("images have no duration")),
            (_, Some(d)) if d == 0 || d > MAX_DURATION_MS => {
                return Err(bad("duration must be between 1 ms and 24 hours"));
            }
            _ => {}
        }
        if self.thumbs.len() > MAX_THUMBS {
            return Err(bad("at most 4 thumbnails"));
        }
        if self.renditions.len() > MAX_RENDITIONS {
            return Err(bad("at most 4 renditions"));
        }
        for r in &self.renditions {
            check_mime(&r.mime).map_err(bad)?;
            if class_of(&r.mime) != Some(class) {
                return Err(bad("a rendition has the class of the media it renders"));
            }
            if r.size == 0 || r.size > MAX_MEDIA_BYTES {
                return Err(bad("size must be between 1 byte and 4 GiB"));
            }
            check_dims(class, r.width, r.height).map_err(bad)?;
        }
        match (&self.waveform, class) {
            (Some(_), MediaClass::Image | MediaClass::Video) => {
                return Err(bad("only audio has a waveform"));
            }
            (Some(w), MediaClass::Audio) if w.is_empty() || w.len() > MAX_WAVEFORM => {
                return Err(bad("a waveform has 1 to 256 slices"));
            }
            _ => {}
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

/// The class a MIME type names, if it is one Kith carries.
pub fn class_of(mime: &str) -> Option<MediaClass> {
    match mime.split_once('/')?.0 {
        "image" => Some(MediaClass::Image),
        "video" => Some(MediaClass::Video),
        "audio" => Some(MediaClass::Audio),
        _ => None,
    }
}

/// Images have both dimensions; video both or neither (a node that could
/// not read the file does not know them); audio neither.
fn check_dims(
    class: MediaClass,
    width: Option<u32>,
    height: Option<u32>,
) -> Result<(), &'static str> {
    match (class, width, height) {
        (MediaClass::Audio, None, None) | (MediaClass::Video, None, None) => Ok(()),
        (MediaClass::Audio, _, _) => Err("audio has no width or height"),
        (_, Some(w), Some(h)) if w == 0 || h == 0 || w > MAX_DIMENSION || h > MAX_DIMENSION => {
            Err("width and height must be between 1 and 16384")
        }
        (_, Some(_), Some(_)) => Ok(()),
        (MediaClass::Image, _, _) => Err("images need width and height"),
        (MediaClass::Video, _, _) => Err("video has both width and height or neither"),
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
