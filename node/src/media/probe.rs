//! What the node knows about media bytes, before and apart from IPFS: the
//! type, the size limits, metadata removal, thumbnails, and ffmpeg.
//!
//! # Policy
//!
//! **The type comes from the bytes.** [`sniff`] reads the magic numbers of
//! the first bytes (the `infer` crate) and accepts only an allow-list:
//! JPEG, PNG, GIF and WebP images; MP3, Ogg (Vorbis and Opus), WAV, FLAC and
//! M4A audio; MP4, WebM and QuickTime video. What a client claims (a file
//! name, a `Content-Type`) decides nothing; [`check_claimed`] only reports a
//! disagreement. Everything else (archives, documents, programs, HTML, SVG,
//! HEIC…) is refused by name, so the refusal says what the file really is.
//!
//! **Privacy by default.** Phones write where and when a picture was taken
//! (EXIF GPS tags), the device, its serial number, and sometimes a preview
//! of the uncropped picture into every photo. A post must not publish the
//! author's home address without them knowing, and IPFS content cannot be
//! taken back once peers have it, so [`clean_image`] removes all of it
//! *before* the bytes are stored: EXIF (with GPS), XMP, IPTC, comments,
//! vendor segments, embedded previews and anything after the end of the
//! image. Only what changes how the picture looks is kept: the ICC colour
//! profile, the JFIF/Adobe colour headers and (for animations) the
//! animation chunks.
//!
//! **Lossless.** Metadata is removed by rewriting the container (the
//! `img-parts` crate for JPEG, PNG and WebP; a small block walker for GIF),
//! never by decoding and re-encoding, so the picture keeps every bit of its
//! quality and the bytes of the picture itself are the author's, unchanged.
//! The one exception is an EXIF orientation other than 1: it lives in the
//! EXIF block that is removed, so the picture is turned as the camera meant
//! and re-encoded once (JPEG quality 90; PNG and WebP losslessly), or it
//! would show sideways.
//!
//! **Bombs are refused before they cost memory.** The header is read first
//! and an image over [`MAX_SIDE`] pixels on a side or [`MAX_PIXELS`] in all
//! is refused before any pixel buffer exists; the full decode that proves
//! the file is whole runs with allocation limits; animations are bounded in
//! frames times pixels.
//!
//! **ffmpeg is untrusted territory.** Audio and video are probed and
//! transcoded by the `ffmpeg`/`ffprobe` programs as subprocesses ([`Ffmpeg`]):
//! stdin closed, only the `file` protocol and the demuxers of the accepted
//! containers allowed for input (so a playlist cannot make ffmpeg read
//! other files or the network), every run bounded in time and killed when
//! it overruns or its caller goes away, every output bounded in size.
//!
//! Everything here is synchronous and CPU-bound except [`Ffmpeg`]; callers
//! run [`clean_image`] and [`image_renditions`] inside `spawn_blocking`.

use std::ffi::OsString;
use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError, ImageFormat,
    ImageReader,
};
use img_parts::Bytes;
use img_parts::jpeg::{Jpeg, JpegSegment, markers};
use img_parts::png::Png;
use img_parts::riff::RiffContent;
use img_parts::webp::WebP;
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

pub use crate::protocol::media::MediaClass;

/// Largest width or height of an image, in pixels.
pub const MAX_SIDE: u32 = crate::protocol::media::MAX_DIMENSION;
/// Most pixels in an image (100 megapixels).
pub const MAX_PIXELS: u64 = 100_000_000;
/// How many first bytes [`sniff`] wants when the file has them.
pub const SNIFF_LEN: usize = 8 * 1024;
/// Longest side of the `small`, `medium` and `large` thumbnails.
pub const THUMB_SIZES: [(&str, u32); 3] = [("small", 160), ("medium", 480), ("large", 1080)];
/// Most bytes a decoder may allocate for one image: a 100-megapixel RGBA
/// picture with room to spare. 16-bit images that large are refused.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
/// Most pixels decoded over all frames of an animation (frames × canvas).
const MAX_ANIMATION_PIXELS: u64 = 1_000_000_000;
/// JPEG quality of an image re-encoded to apply its orientation.
const ORIENTED_JPEG_QUALITY: u8 = 90;
/// JPEG quality of a thumbnail, when JPEG is the smaller encoding.
const THUMB_JPEG_QUALITY: u8 = 80;

/// The type of a file, from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// One of the allowed MIME types, e.g. `image/jpeg`, `audio/wav`.
    pub mime: &'static str,
    /// Image, audio or video.
    pub class: MediaClass,
}

/// Largest upload per class, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Images (default 20 MB).
    pub image: u64,
    /// Audio (default 50 MB).
    pub audio: u64,
    /// Video (default 500 MB).
    pub video: u64,
}

impl Default for Limits {
    fn default() -> Self {
        const MB: u64 = 1_000_000;
        Limits {
            image: 20 * MB,
            audio: 50 * MB,
            video: 500 * MB,
        }
    }
}

impl Limits {
    /// The limit for `class`.
    pub fn of(&self, class: MediaClass) -> u64 {
        match class {
            MediaClass::Image => self.image,
            MediaClass::Audio => self.audio,
            MediaClass::Video => self.video,
        }
    }

    /// The largest of the three: what an upload may be before its type is known.
    pub fn largest(&self) -> u64 {
        self.image.max(self.audio).max(self.video)
    }
}

/// Why media bytes were refused or could not be processed. Each has a stable
/// [`ProbeError::code`] and an English message meant for the uploader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The bytes are of a type Kith does not take (or of no known type).
    #[error(
        "files of type {detected} are not accepted; Kith takes JPEG, PNG, GIF and WebP images, \
         MP3, Ogg, WAV, FLAC and M4A audio, and MP4, WebM and QuickTime video"
    )]
    Unsupported {
        /// What the bytes are (a MIME type), or `unknown`.
        detected: &'static str,
    },
    /// The client named a type the bytes are not ([`check_claimed`]).
    #[error("the file was sent as {claimed} but its bytes are {actual}")]
    Mismatch {
        /// The type the client named.
        claimed: String,
        /// The type of the bytes.
        actual: &'static str,
    },
    /// Over the size limit of its class.
    #[error("this {} is {size} bytes; the most accepted is {limit} bytes", class_name(*.class))]
    TooLarge {
        /// The class of the file.
        class: MediaClass,
        /// Its size.
        size: u64,
        /// The limit for its class.
        limit: u64,
    },
    /// Damaged, cut short, or not what its header says.
    #[error("the file is damaged or incomplete: {reason}")]
    Corrupt {
        /// What is wrong, for people.
        reason: String,
    },
    /// An image too large in pixels (a decompression bomb, or just too big).
    #[error(
        "the image is {width}×{height} pixels; at most {MAX_SIDE} on a side and {} megapixels \
         in all are accepted",
        MAX_PIXELS / 1_000_000
    )]
    TooManyPixels {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
    },
    /// An animation with more frames than its size allows.
    #[error("the animation has more than {frames} frames, too many for its size")]
    TooManyFrames {
        /// The most frames allowed at this size.
        frames: u64,
    },
    /// A poster was asked of a file without a video stream.
    #[error("the file has no video stream")]
    NoVideo,
    /// ffmpeg or ffprobe ran and failed.
    #[error("{program} could not process the file: {message}")]
    Ffmpeg {
        /// `ffmpeg` or `ffprobe`.
        program: &'static str,
        /// Its exit code, if it exited.
        status: Option<i32>,
        /// The last line it wrote to stderr.
        message: String,
    },
    /// ffmpeg or ffprobe could not be started.
    #[error("could not run {program}: {source}")]
    Spawn {
        /// `ffmpeg` or `ffprobe`.
        program: &'static str,
        /// Why.
        source: io::Error,
    },
    /// ffmpeg or ffprobe ran out of time and was stopped.
    #[error("{program} took longer than {} s and was stopped", .after.as_secs())]
    Timeout {
        /// `ffmpeg` or `ffprobe`.
        program: &'static str,
        /// The time it had.
        after: Duration,
    },
    /// A processed file (a rendition, a poster) grew past its size bound.
    #[error("the processed file would be larger than {limit} bytes")]
    OutputTooLarge {
        /// The bound.
        limit: u64,
    },
    /// Encoding a thumbnail or rendition failed.
    #[error("encoding the {what} failed: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("reading or writing the file failed: {0}")]
    Io(#[from] io::Error),
}

impl ProbeError {
    /// A short stable code for APIs: `unsupported_type`, `type_mismatch`,
    /// `too_large`, `corrupt`, `too_many_pixels`, `too_many_frames`,
    /// `no_video`, `processing_failed`, `timeout` or `io`.
    pub fn code(&self) -> &'static str {
        match self {
            ProbeError::Unsupported { .. } => "unsupported_type",
            ProbeError::Mismatch { .. } => "type_mismatch",
            ProbeError::TooLarge { .. } | ProbeError::OutputTooLarge { .. } => "too_large",
            ProbeError::Corrupt { .. } => "corrupt",
            ProbeError::TooManyPixels { .. } => "too_many_pixels",
            ProbeError::TooManyFrames { .. } => "too_many_frames",
            ProbeError::NoVideo => "no_video",
            ProbeError::Ffmpeg { .. } | ProbeError::Spawn { .. } | ProbeError::Encode { .. } => {
                "processing_failed"
            }
            ProbeError::Timeout { .. } => "timeout",
            ProbeError::Io(_) => "io",
        }
    }

    /// A [`ProbeError::Corrupt`] with `reason`.
    pub fn corrupt(reason: impl Into<String>) -> ProbeError {
        ProbeError::Corrupt {
            reason: reason.into(),
        }
    }
}

fn class_name(class: MediaClass) -> &'static str {
    match class {
        MediaClass::Image => "image",
        MediaClass::Audio => "audio file",
        MediaClass::Video => "video",
    }
}

// ---------------------------------------------------------------------------
// Type and size
// ---------------------------------------------------------------------------

/// The type of a file from its first bytes (give [`SNIFF_LEN`] bytes when
/// the file has them), if it is one Kith accepts.
///
/// Names are normalised: `audio/x-wav` is `audio/wav`, `audio/x-flac` is
/// `audio/flac`, M4A is `audio/mp4`, Ogg Opus is `audio/ogg`, M4V is
/// `video/mp4`. The class comes from the container: an MP4 or WebM holding
/// only audio is `video` here (magic numbers cannot tell; WebM audio has no
/// signature of its own), and ffprobe says what streams it has.
pub fn sniff(head: &[u8]) -> Result<Sniffed, ProbeError> {
    let detected = infer::get(head)
        .map(|t| t.mime_type())
        .or_else(|| is_mpeg_audio_frame(head).then_some("audio/mpeg"));
    let Some(detected) = detected else {
        return Err(ProbeError::Unsupported {
            detected: "unknown",
        });
    };
    let (mime, class) = match detected {
        "image/jpeg" => ("image/jpeg", MediaClass::Image),
        "image/png" => ("image/png", MediaClass::Image),
        "image/gif" => ("image/gif", MediaClass::Image),
        "image/webp" => ("image/webp", MediaClass::Image),
        "audio/mpeg" => ("audio/mpeg", MediaClass::Audio),
        "audio/ogg" | "audio/opus" => ("audio/ogg", MediaClass::Audio),
        "audio/x-wav" => ("audio/wav", MediaClass::Audio),
        "audio/x-flac" => ("audio/flac", MediaClass::Audio),
        "audio/m4a" => ("audio/mp4", MediaClass::Audio),
        "video/mp4" | "video/x-m4v" => ("video/mp4", MediaClass::Video),
        "video/webm" => ("video/webm", MediaClass::Video),
        "video/quicktime" => ("video/quicktime", MediaClass::Video),
        other => return Err(ProbeError::Unsupported { detected: other }),
    };
    Ok(Sniffed { mime, class })
}

/// An MPEG audio Layer III frame header without an ID3 tag in front (infer
/// knows only the `FF FB` form).
fn is_mpeg_audio_frame(head: &[u8]) -> bool {
    match head {
        [0xFF, b1, b2, ..] => {
            let sync = b1 & 0xE0 == 0xE0;
            let version_ok = (b1 >> 3) & 0b11 != 0b01;
            let layer3 = (b1 >> 1) & 0b11 == 0b01;
            let bitrate_ok = b2 >> 4 != 0b1111;
            let rate_ok = (b2 >> 2) & 0b11 != 0b11;
            sync && version_ok && layer3 && bitrate_ok && rate_ok
        }
        _ => false,
    }
}

/// Compares the type a client named (a `Content-Type`) with the type of the
/// bytes. Nothing named, `application/octet-stream`, or a common alias of
/// the same type (`image/jpg`, `audio/mp3`, `audio/x-m4a`…) agrees; any
/// other name is a [`ProbeError::Mismatch`] that states the real type. The
/// bytes decide either way; this is for callers that want to tell the
/// uploader.
pub fn check_claimed(claimed: &str, sniffed: &Sniffed) -> Result<(), ProbeError> {
    let name = claimed
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let name = match name.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        "audio/mp3" | "audio/mpeg3" | "audio/x-mp3" => "audio/mpeg",
        "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "audio/wav",
        "audio/x-flac" => "audio/flac",
        "audio/x-m4a" | "audio/m4a" => "audio/mp4",
        "audio/opus" | "application/ogg" => "audio/ogg",
        "video/x-m4v" => "video/mp4",
        other => other,
    };
    // An audio-only MP4 or WebM is sniffed as video (see `sniff`).
    let container_alias = matches!(
        (name, sniffed.mime),
        ("audio/mp4", "video/mp4") | ("audio/webm", "video/webm")
    );
    if name.is_empty()
        || name == "application/octet-stream"
        || name == sniffed.mime
        || container_alias
    {
        Ok(())
    } else {
        Err(ProbeError::Mismatch {
            claimed: name.to_string(),
            actual: sniffed.mime,
        })
    }
}

/// Refuses a file over the limit of its class.
pub fn check_size(class: MediaClass, size: u64, limits: &Limits) -> Result<(), ProbeError> {
    let limit = limits.of(class);
    if size > limit {
        return Err(ProbeError::TooLarge { class, size, limit });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Images: checking and cleaning
// ---------------------------------------------------------------------------

/// An image ready to be stored: metadata removed, orientation applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanImage {
    /// The file, same type as the upload.
    pub bytes: Vec<u8>,
    /// Width in pixels, as displayed.
    pub width: u32,
    /// Height in pixels, as displayed.
    pub height: u32,
    /// Whether anything was removed or the picture was turned (the bytes
    /// differ from the upload).
    pub stripped: bool,
}

/// Checks an uploaded image and removes its metadata; run before the bytes
/// are stored (CPU-bound: call it inside `spawn_blocking`).
///
/// 1. The header gives the size; over [`MAX_SIDE`] on a side or
///    [`MAX_PIXELS`] in all is [`ProbeError::TooManyPixels`], before any
///    pixel buffer is allocated.
/// 2. The container is walked (this is also where metadata goes, step 4)
///    and its frames counted: an animation (GIF, animated WebP, APNG) whose
///    frames × pixels exceed a gigapixel is [`ProbeError::TooManyFrames`],
///    without decoding any. A container cut short is [`ProbeError::Corrupt`].
/// 3. The picture (an animation's first frame) is decoded once, with
///    allocation limits, so a truncated or damaged file is
///    [`ProbeError::Corrupt`]. Later frames of an animation are checked in
///    structure only: decoding them all costs seconds of CPU per upload
///    (the image crate composes each on a full canvas) for little gain, as
///    viewers show what decodes.
/// 4. Metadata is removed without re-encoding (see the module docs): JPEG
///    keeps its JFIF header (without thumbnail), ICC profile, Adobe colour
///    segment and image data, and loses every other APPn and comment
///    segment, wherever it is, and anything after the end-of-image marker;
///    PNG keeps the chunks that define the picture and its colours
///    (including APNG's) and loses text, EXIF, time and private chunks;
///    WebP keeps image, alpha, animation and ICC chunks and loses EXIF, XMP
///    and unknown chunks; GIF loses comments and application blocks other
///    than looping and ICC.
/// 5. An EXIF orientation other than 1 (in JPEG, PNG or still WebP) is
///    applied to the pixels and the picture re-encoded: JPEG at quality 90,
///    PNG and WebP losslessly, with the ICC profile. An animation is not
///    turned (its EXIF is only removed).
///
/// The dimensions returned are those after orientation.
pub fn clean_image(bytes: &[u8], sniffed: &Sniffed) -> Result<CleanImage, ProbeError> {
    let format = image_format(sniffed)?;
    let header = read_header(bytes, format)?;
    let (width, height) = (header.width, header.height);
    // Removing metadata needs only the container; walking it also counts
    // the frames, so an animation bomb is refused before any decoding.
    let stripped = match format {
        ImageFormat::Jpeg => strip_jpeg(bytes)?,
        ImageFormat::Png => strip_png(bytes)?,
        ImageFormat::WebP => strip_webp(bytes)?,
        _ => strip_gif(bytes)?,
    };
    check_frames(stripped.frames, width, height)?;
    let image = decode_full(bytes, format, width, height)?;

    let still = stripped.frames <= 1;
    if header.orientation != Orientation::NoTransforms && still && format != ImageFormat::Gif {
        let mut image = image;
        image.apply_orientation(header.orientation);
        let bytes = encode_like(&image, format, header.icc.as_deref())?;
        return Ok(CleanImage {
            bytes,
            width: image.width(),
            height: image.height(),
            stripped: true,
        });
    }
    Ok(CleanImage {
        bytes: stripped.bytes,
        width,
        height,
        stripped: stripped.changed,
    })
}

fn image_format(sniffed: &Sniffed) -> Result<ImageFormat, ProbeError> {
    match sniffed.mime {
        "image/jpeg" => Ok(ImageFormat::Jpeg),
        "image/png" => Ok(ImageFormat::Png),
        "image/gif" => Ok(ImageFormat::Gif),
        "image/webp" => Ok(ImageFormat::WebP),
        other => Err(ProbeError::Unsupported { detected: other }),
    }
}

struct Header {
    width: u32,
    height: u32,
    orientation: Orientation,
    icc: Option<Vec<u8>>,
}

fn check_pixels(width: u32, height: u32) -> Result<(), ProbeError> {
    if width == 0 || height == 0 {
        return Err(ProbeError::corrupt("the image has no pixels"));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ProbeError::TooManyPixels { width, height });
    }
    Ok(())
}

fn decode_limits(side: Option<u32>) -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_image_width = side;
    limits.max_image_height = side;
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

fn image_error(e: ImageError, size: Option<(u32, u32)>) -> ProbeError {
    match (e, size) {
        (ImageError::Limits(_), Some((width, height))) => {
            ProbeError::TooManyPixels { width, height }
        }
        (ImageError::IoError(e), _) if e.kind() == io::ErrorKind::UnexpectedEof => {
            ProbeError::corrupt("the file ends too early")
        }
        (e, _) => ProbeError::corrupt(e.to_string()),
    }
}

/// Reads the header only: dimensions (checked), orientation, ICC profile.
fn read_header(bytes: &[u8], format: ImageFormat) -> Result<Header, ProbeError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // No side limits here, so that the refusal can name the size.
    reader.limits(decode_limits(None));
    let mut decoder = reader.into_decoder().map_err(|e| image_error(e, None))?;
    let (width, height) = decoder.dimensions();
    check_pixels(width, height)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    Ok(Header {
        width,
        height,
        orientation,
        icc,
    })
}

/// Decodes the (first) picture with allocation limits.
fn decode_full(
    bytes: &[u8],
    format: ImageFormat,
    width: u32,
    height: u32,
) -> Result<DynamicImage, ProbeError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decode_limits(Some(MAX_SIDE)));
    reader
        .decode()
        .map_err(|e| image_error(e, Some((width, height))))
}

/// Refuses an animation whose frames × canvas pixels exceed
/// [`MAX_ANIMATION_PIXELS`]: what every viewer would have to decode.
fn check_frames(frames: u64, width: u32, height: u32) -> Result<(), ProbeError> {
    let most = (MAX_ANIMATION_PIXELS / (u64::from(width) * u64::from(height)).max(1)).max(1);
    if frames > most {
        return Err(ProbeError::TooManyFrames { frames: most });
    }
    Ok(())
}

/// A container with its metadata removed.
struct Stripped {
    /// The rewritten file (the upload itself when nothing was removed).
    bytes: Vec<u8>,
    /// Whether anything was removed.
    changed: bool,
    /// Frames, from the structure (1 for a still image).
    frames: u64,
}

impl Stripped {
    fn unchanged(bytes: &[u8], frames: u64) -> Stripped {
        Stripped {
            bytes: bytes.to_vec(),
            changed: false,
            frames,
        }
    }
}

/// JPEG: keeps JFIF (without its thumbnail), ICC and Adobe segments and
/// the image data; drops every other APPn and COM segment, including those
/// between progressive scans, and everything after EOI (where phones put
/// MPF preview images with their own EXIF).
fn strip_jpeg(bytes: &[u8]) -> Result<Stripped, ProbeError> {
    let mut jpeg = Jpeg::from_bytes(Bytes::copy_from_slice(bytes))
        .map_err(|e| ProbeError::corrupt(format!("bad JPEG structure: {e}")))?;
    let mut changed = false;
    let segments = std::mem::take(jpeg.segments_mut());
    let mut kept = Vec::with_capacity(segments.len());
    let mut found_eoi = false;
    for segment in segments {
        if segment.has_entropy() {
            // The scan segment holds the rest of the file (see img-parts'
            // `Jpeg`): the original bytes from after its header to the end.
            let entropy_len = segment.len_with_entropy() - segment.len();
            let Some(tail) = bytes.get(bytes.len().saturating_sub(entropy_len)..) else {
                return Err(ProbeError::corrupt("bad JPEG structure"));
            };
            let walked = walk_jpeg_tail(tail)?;
            changed |= walked.dropped;
            found_eoi = walked.found_eoi;
            kept.push(JpegSegment::new_with_entropy(
                segment.marker(),
                segment.contents().clone(),
                Bytes::from(walked.bytes),
            ));
            continue;
        }
        match keep_jpeg_segment(&segment) {
            Keep::Yes => kept.push(segment),
            Keep::Rewritten(s) => {
                changed = true;
                kept.push(s);
            }
            Keep::No => changed = true,
        }
    }
    if !found_eoi {
        return Err(ProbeError::corrupt(
            "the JPEG ends without its end-of-image marker",
        ));
    }
    if !changed {
        return Ok(Stripped::unchanged(bytes, 1));
    }
    *jpeg.segments_mut() = kept;
    Ok(Stripped {
        bytes: jpeg.encoder().bytes().to_vec(),
        changed: true,
        frames: 1,
    })
}

enum Keep {
    Yes,
    Rewritten(JpegSegment),
    No,
}

fn keep_jpeg_segment(segment: &JpegSegment) -> Keep {
    let contents = segment.contents();
    match segment.marker() {
        markers::APP0 if contents.starts_with(b"JFIF\0") && contents.len() >= 14 => {
            // The JFIF header may carry an uncompressed thumbnail.
            if contents.len() == 14 && contents[12] == 0 && contents[13] == 0 {
                Keep::Yes
            } else {
                let mut header = contents[..14].to_vec();
                header[12] = 0;
                header[13] = 0;
                Keep::Rewritten(JpegSegment::new_with_contents(
                    markers::APP0,
                    Bytes::from(header),
                ))
            }
        }
        markers::APP2 if contents.starts_with(b"ICC_PROFILE\0") => Keep::Yes,
        markers::APP14 if contents.starts_with(b"Adobe") => Keep::Yes,
        markers::APP0..=markers::APP15 | markers::COM => Keep::No,
        _ => Keep::Yes,
    }
}

struct WalkedTail {
    bytes: Vec<u8>,
    dropped: bool,
    found_eoi: bool,
}

/// Walks JPEG data after the first scan header: entropy-coded data, restart
/// markers, and the segments of later scans. Copies all of it up to and
/// including EOI, except APPn and COM segments; drops what follows EOI.
fn walk_jpeg_tail(tail: &[u8]) -> Result<WalkedTail, ProbeError> {
    let mut out = Vec::with_capacity(tail.len());
    let mut dropped = false;
    let mut copied = 0;
    let mut i = 0;
    while i + 1 < tail.len() {
        if tail[i] != 0xFF {
            i += 1;
            continue;
        }
        let marker = tail[i + 1];
        match marker {
            // Stuffed byte, restart marker, fill byte: still scan data.
            0x00 | markers::RST0..=markers::RST7 | 0xFF => i += 1,
            markers::EOI => {
                out.extend_from_slice(&tail[copied..i + 2]);
                let after = &tail[i + 2..];
                dropped |= !after.is_empty();
                return Ok(WalkedTail {
                    bytes: out,
                    dropped,
                    found_eoi: true,
                });
            }
            // TEM, reserved markers and a stray SOI carry no length.
            0x01..=0xBF | markers::SOI => i += 2,
            _ => {
                let Some(len) = tail.get(i + 2..i + 4) else {
                    return Err(ProbeError::corrupt("a JPEG segment is cut short"));
                };
                let end = i + 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
                if end > tail.len() {
                    return Err(ProbeError::corrupt("a JPEG segment is cut short"));
                }
                if matches!(marker, markers::APP0..=markers::APP15 | markers::COM) {
                    out.extend_from_slice(&tail[copied..i]);
                    copied = end;
                    dropped = true;
                }
                i = end;
            }
        }
    }
    out.extend_from_slice(&tail[copied..]);
    Ok(WalkedTail {
        bytes: out,
        dropped,
        found_eoi: false,
    })
}

/// PNG chunks that define the picture, its colours or its animation.
const PNG_KEEP: [&[u8; 4]; 20] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
    b"cICP", b"mDCV", b"cLLI", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
];

/// PNG: keeps [`PNG_KEEP`]; drops text (`tEXt`, `zTXt`, `iTXt`, where XMP
/// lives), `eXIf`, `tIME`, private chunks, and anything after `IEND`.
fn strip_png(bytes: &[u8]) -> Result<Stripped, ProbeError> {
    let mut png = Png::from_bytes(Bytes::copy_from_slice(bytes))
        .map_err(|e| ProbeError::corrupt(format!("bad PNG structure: {e}")))?;
    if png.chunks().last().map(|c| c.kind()) != Some(*b"IEND") {
        return Err(ProbeError::corrupt("the PNG ends without its IEND chunk"));
    }
    // APNG: one fcTL per frame (the default image may be one of them).
    let frames = png.chunks_by_type(*b"fcTL").count().max(1) as u64;
    let before = png.chunks().len();
    png.chunks_mut()
        .retain(|chunk| PNG_KEEP.iter().any(|k| **k == chunk.kind()));
    let changed = png.chunks().len() != before || png.len() != bytes.len();
    if !changed {
        return Ok(Stripped::unchanged(bytes, frames));
    }
    Ok(Stripped {
        bytes: png.encoder().bytes().to_vec(),
        changed: true,
        frames,
    })
}

/// WebP chunks that define the picture, its colours or its animation.
const WEBP_KEEP: [&[u8; 4]; 7] = [
    b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];
/// VP8X flag bits for EXIF and XMP.
const VP8X_EXIF: u8 = 0b0000_1000;
const VP8X_XMP: u8 = 0b0000_0100;

/// WebP: keeps [`WEBP_KEEP`]; drops `EXIF`, `XMP ` and unknown chunks, and
/// clears their flags in `VP8X`.
fn strip_webp(bytes: &[u8]) -> Result<Stripped, ProbeError> {
    let mut webp = WebP::from_bytes(Bytes::copy_from_slice(bytes))
        .map_err(|e| ProbeError::corrupt(format!("bad WebP structure: {e}")))?;
    let frames = webp.chunks_by_id(*b"ANMF").count().max(1) as u64;
    let before = webp.chunks().len();
    webp.chunks_mut()
        .retain(|chunk| WEBP_KEEP.iter().any(|k| **k == chunk.id()));
    let mut changed = webp.chunks().len() != before;
    for chunk in webp.chunks_mut() {
        if chunk.id() != *b"VP8X" {
            continue;
        }
        if let RiffContent::Data(data) = chunk.content_mut()
            && let Some(&flags) = data.first()
            && flags & (VP8X_EXIF | VP8X_XMP) != 0
        {
            let mut fixed = data.to_vec();
            fixed[0] = flags & !(VP8X_EXIF | VP8X_XMP);
            *data = Bytes::from(fixed);
            changed = true;
        }
    }
    let encoded_len = usize::try_from(webp.len()).unwrap_or(usize::MAX);
    changed |= encoded_len != bytes.len();
    if !changed {
        return Ok(Stripped::unchanged(bytes, frames));
    }
    Ok(Stripped {
        bytes: webp.encoder().bytes().to_vec(),
        changed: true,
        frames,
    })
}

/// GIF application extensions kept: looping and ICC profiles.
const GIF_KEEP_APPS: [&[u8; 11]; 3] = [b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012"];

/// GIF: has no EXIF, but may carry comments and XMP in extension blocks.
/// Drops comment extensions, application extensions other than
/// [`GIF_KEEP_APPS`], and anything after the trailer.
fn strip_gif(bytes: &[u8]) -> Result<Stripped, ProbeError> {
    let cut = || ProbeError::corrupt("the GIF is cut short");
    let screen = bytes.get(..13).ok_or_else(cut)?;
    if !screen.starts_with(b"GIF87a") && !screen.starts_with(b"GIF89a") {
        return Err(ProbeError::corrupt("bad GIF signature"));
    }
    let mut pos = 13 + color_table_len(screen[10]);
    if pos > bytes.len() {
        return Err(cut());
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..pos]);
    let mut changed = false;
    let mut frames = 0u64;
    loop {
        match bytes.get(pos) {
            Some(0x3B) => {
                out.push(0x3B);
                changed |= pos + 1 != bytes.len();
                break;
            }
            // Some encoders omit the trailer; add it.
            None => {
                out.push(0x3B);
                changed = true;
                break;
            }
            Some(0x21) => {
                let label = *bytes.get(pos + 1).ok_or_else(cut)?;
                let end = skip_sub_blocks(bytes, pos + 2).ok_or_else(cut)?;
                let keep = match label {
                    0xFE => false,
                    0xFF => {
                        let app = bytes.get(pos + 3..pos + 14).ok_or_else(cut)?;
                        bytes[pos + 2] == 11 && GIF_KEEP_APPS.iter().any(|k| k.as_slice() == app)
                    }
                    _ => true,
                };
                if keep {
                    out.extend_from_slice(&bytes[pos..end]);
                } else {
                    changed = true;
                }
                pos = end;
            }
            Some(0x2C) => {
                let descriptor = bytes.get(pos..pos + 10).ok_or_else(cut)?;
                let data = pos + 10 + color_table_len(descriptor[9]) + 1;
                let end = skip_sub_blocks(bytes, data).ok_or_else(cut)?;
                out.extend_from_slice(&bytes[pos..end]);
                frames += 1;
                pos = end;
            }
            Some(other) => {
                return Err(ProbeError::corrupt(format!(
                    "unknown GIF block 0x{other:02x}"
                )));
            }
        }
    }
    if frames == 0 {
        return Err(ProbeError::corrupt("the GIF has no image"));
    }
    if !changed {
        return Ok(Stripped::unchanged(bytes, frames));
    }
    Ok(Stripped {
        bytes: out,
        changed: true,
        frames,
    })
}

fn color_table_len(packed: u8) -> usize {
    if packed & 0x80 == 0 {
        0
    } else {
        3 << ((packed & 0x07) + 1)
    }
}

/// The position after a chain of GIF data sub-blocks starting at `pos`.
fn skip_sub_blocks(bytes: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = usize::from(*bytes.get(pos)?);
        pos += 1;
        if len == 0 {
            return Some(pos);
        }
        pos += len;
        if pos > bytes.len() {
            return None;
        }
    }
}

// ---------------------------------------------------------------------------
// Images: encoding and renditions
// ---------------------------------------------------------------------------

/// A picture made from an image: a thumbnail or a rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// `small`, `medium`, `large` (thumbnails) or `webp` (full size).
    pub name: &'static str,
    /// `image/webp` or `image/jpeg`.
    pub mime: &'static str,
    /// The encoded file.
    pub bytes: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Thumbnails and renditions of a cleaned image (the bytes
/// [`clean_image`] returned). CPU-bound: call it inside `spawn_blocking`.
///
/// - Thumbnails `small`, `medium` and `large` fit the picture in 160, 480
///   and 1080 pixels on the long side ([`THUMB_SIZES`]). None is upscaled:
///   a size the picture already fits is skipped, except `small`, which is
///   always made (at the picture's own size when it is smaller).
/// - Each thumbnail is WebP. The image crate's WebP encoder is lossless
///   only, which suits drawings and screenshots but makes photos big, so a
///   thumbnail without transparency is also encoded as JPEG (quality 80) and
///   the smaller of the two is kept; `mime` says which.
/// - `webp`, a full-size lossless WebP, is made for PNG sources only and
///   kept only when smaller than the PNG. For JPEG sources a lossless WebP
///   of a lossy photo is always larger than the JPEG; a WebP source already
///   is one; a GIF's animation would be lost.
/// - An animation's thumbnails show its first frame.
///
/// Returned smallest first, `webp` last. Thumbnails carry the source's ICC
/// profile when it is an RGB one.
pub fn image_renditions(clean: &[u8]) -> Result<Vec<Rendition>, ProbeError> {
    let sniffed = sniff(clean)?;
    let format = image_format(&sniffed)?;
    let header = read_header(clean, format)?;
    let image = decode_full(clean, format, header.width, header.height)?;
    let icc = header
        .icc
        .as_deref()
        .filter(|icc| icc_space(icc) == Some(*b"RGB "));

    let (image, alpha) = to_rgb_or_rgba(image);
    let mut out = Vec::new();

    if format == ImageFormat::Png {
        let bytes = encode_webp(&image, icc)?;
        if bytes.len() < clean.len() {
            out.push(Rendition {
                name: "webp",
                mime: "image/webp",
                bytes,
                width: image.width(),
                height: image.height(),
            });
        }
    }

    // Largest first, each from the one before: a 100-megapixel source is
    // read once, not three times.
    let mut current = image;
    for (name, side) in THUMB_SIZES.iter().rev() {
        let longest = current.width().max(current.height());
        if longest > *side {
            current = downscale(&current, *side);
        } else if *name != "small" {
            continue;
        }
        let (bytes, mime) = encode_thumb(&current, alpha, icc)?;
        out.push(Rendition {
            name,
            mime,
            bytes,
            width: current.width(),
            height: current.height(),
        });
    }
    out.reverse();
    Ok(out)
}

/// RGB8, or RGBA8 when some pixel is not opaque. Whether it has alpha.
fn to_rgb_or_rgba(image: DynamicImage) -> (DynamicImage, bool) {
    if !image.color().has_alpha() {
        return (DynamicImage::ImageRgb8(image.into_rgb8()), false);
    }
    let rgba = image.into_rgba8();
    if rgba.pixels().any(|p| p.0[3] != u8::MAX) {
        (DynamicImage::ImageRgba8(rgba), true)
    } else {
        (
            DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).into_rgb8()),
            false,
        )
    }
}

/// Fits `image` in `side` pixels on its long side: a fast box filter down
/// to twice the size, then Lanczos for a sharp result.
fn downscale(image: &DynamicImage, side: u32) -> DynamicImage {
    let longest = image.width().max(image.height());
    if longest > side.saturating_mul(2) {
        let near = image.thumbnail(side * 2, side * 2);
        near.resize(side, side, FilterType::Lanczos3)
    } else {
        image.resize(side, side, FilterType::Lanczos3)
    }
}

fn encode_thumb(
    image: &DynamicImage,
    alpha: bool,
    icc: Option<&[u8]>,
) -> Result<(Vec<u8>, &'static str), ProbeError> {
    let webp = encode_webp(image, icc)?;
    if !alpha {
        let jpeg = encode_jpeg(image, THUMB_JPEG_QUALITY, icc)?;
        if jpeg.len() < webp.len() {
            return Ok((jpeg, "image/jpeg"));
        }
    }
    Ok((webp, "image/webp"))
}

/// The colour space an ICC profile describes (header bytes 16..20).
fn icc_space(icc: &[u8]) -> Option<[u8; 4]> {
    icc.get(16..20)?.try_into().ok()
}

fn attach_icc(encoder: &mut impl ImageEncoder, icc: Option<&[u8]>) {
    if let Some(icc) = icc
        && encoder.set_icc_profile(icc.to_vec()).is_err()
    {
        tracing::debug!("encoder does not take an ICC profile; written without");
    }
}

fn encode_error(what: &'static str) -> impl Fn(ImageError) -> ProbeError {
    move |e| ProbeError::Encode {
        what,
        reason: e.to_string(),
    }
}

/// JPEG, greyscale or RGB; `icc` is attached when it matches.
fn encode_jpeg(
    image: &DynamicImage,
    quality: u8,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, ProbeError> {
    let grey = !image.color().has_color();
    let want = if grey { *b"GRAY" } else { *b"RGB " };
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, quality);
    attach_icc(&mut encoder, icc.filter(|icc| icc_space(icc) == Some(want)));
    let (w, h) = (image.width(), image.height());
    if grey {
        let luma = image.to_luma8();
        encoder.write_image(luma.as_raw(), w, h, ExtendedColorType::L8)
    } else {
        let rgb = image.to_rgb8();
        encoder.write_image(rgb.as_raw(), w, h, ExtendedColorType::Rgb8)
    }
    .map_err(encode_error("JPEG"))?;
    Ok(out)
}

/// Lossless WebP (8-bit; alpha kept).
fn encode_webp(image: &DynamicImage, icc: Option<&[u8]>) -> Result<Vec<u8>, ProbeError> {
    let image = match image {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => std::borrow::Cow::Borrowed(image),
        other if other.color().has_alpha() => {
            std::borrow::Cow::Owned(DynamicImage::ImageRgba8(other.to_rgba8()))
        }
        other => std::borrow::Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    };
    let mut out = Vec::new();
    let mut encoder = WebPEncoder::new_lossless(&mut out);
    attach_icc(&mut encoder, icc);
    image
        .write_with_encoder(encoder)
        .map_err(encode_error("WebP"))?;
    Ok(out)
}

fn encode_png(image: &DynamicImage, icc: Option<&[u8]>) -> Result<Vec<u8>, ProbeError> {
    let image = match image {
        DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_) => {
            std::borrow::Cow::Owned(DynamicImage::ImageRgba16(image.to_rgba16()))
        }
        other => std::borrow::Cow::Borrowed(other),
    };
    let mut out = Vec::new();
    let mut encoder = PngEncoder::new(&mut out);
    attach_icc(&mut encoder, icc);
    image
        .write_with_encoder(encoder)
        .map_err(encode_error("PNG"))?;
    Ok(out)
}

/// Re-encodes a turned picture in its own format.
fn encode_like(
    image: &DynamicImage,
    format: ImageFormat,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, ProbeError> {
    let space = icc.and_then(icc_space);
    match format {
        ImageFormat::Jpeg => encode_jpeg(image, ORIENTED_JPEG_QUALITY, icc),
        ImageFormat::Png => {
            let want = if image.color().has_color() {
                *b"RGB "
            } else {
                *b"GRAY"
            };
            encode_png(image, icc.filter(|_| space == Some(want)))
        }
        _ => {
            let want = if image.color().has_color() {
                *b"RGB "
            } else {
                *b"GRAY"
            };
            encode_webp(image, icc.filter(|_| space == Some(want)))
        }
    }
}

// ---------------------------------------------------------------------------
// ffmpeg
// ---------------------------------------------------------------------------

/// What ffprobe says about an audio or video file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// Duration in milliseconds, when known.
    pub duration_ms: Option<u64>,
    /// Width of the first video stream as displayed (rotation applied).
    pub width: Option<u32>,
    /// Height of the first video stream as displayed.
    pub height: Option<u32>,
    /// Whether there is a video stream (cover art does not count).
    pub has_video: bool,
    /// Whether there is an audio stream.
    pub has_audio: bool,
    /// Codec of the first video stream (`h264`, `vp9`…).
    pub video_codec: Option<String>,
    /// Codec of the first audio stream (`aac`, `opus`…).
    pub audio_codec: Option<String>,
}

/// A file ffmpeg wrote: a poster or a rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRendition {
    /// `poster`.
    pub name: &'static str,
    /// `image/jpeg`.
    pub mime: &'static str,
    /// Where it is.
    pub path: PathBuf,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size in bytes.
    pub size: u64,
}

/// ffmpeg and ffprobe, found on this machine.
///
/// Every run: stdin closed, `-nostdin -hide_banner -loglevel error`, input
/// opened only through the `file` protocol (`-protocol_whitelist file`; the
/// `pipe` protocol is only used for the waveform's output, which input
/// options do not govern) and only with the demuxers of the accepted
/// containers (`-format_whitelist`: no playlists, no image sequences, no
/// concat lists), the input named as `file:<path>` so no path is read as an
/// option or a URL, outputs bounded by `-fs`, the process killed when it
/// outlives its time bound or its caller. ffmpeg keeps its own choice of
/// threads.
#[derive(Debug, Clone)]
pub struct Ffmpeg {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
    version: String,
    timeout: Duration,
    quick_timeout: Duration,
    max_output: u64,
}

/// Time bound of renditions, waveforms and remuxing (10 minutes).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Time bound of probes and posters (30 seconds).
pub const DEFAULT_QUICK_TIMEOUT: Duration = Duration::from_secs(30);
/// Size bound of a rendition or remuxed file (1 GB).
pub const DEFAULT_MAX_OUTPUT: u64 = 1_000_000_000;
/// Size bound of a poster (20 MB).
const MAX_POSTER_BYTES: u64 = 20_000_000;
/// Most bytes of ffprobe's JSON read.
const MAX_PROBE_JSON: usize = 4 * 1024 * 1024;
/// Most bytes of a program's stderr kept for the error message.
const STDERR_TAIL: usize = 4 * 1024;
/// Most waveform buckets.
pub const MAX_WAVEFORM_BUCKETS: usize = 4096;
/// Sample rate of the waveform's decoding.
const WAVEFORM_RATE: u64 = 8_000;
/// Most PCM bytes decoded for a waveform: 24 hours at 8 kHz, 16-bit mono.
const MAX_WAVEFORM_PCM: u64 = WAVEFORM_RATE * 2 * 86_400;
/// The input demuxers allowed: those of the containers [`sniff`] accepts.
const DEMUXERS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mp3,ogg,wav,flac,aac";
/// Time bound of `-version`.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

impl Ffmpeg {
    /// Finds the programs (a bare name is looked up on `PATH`, e.g.
    /// `ffmpeg`/`ffprobe`) by running them with `-version`. `None` when
    /// either is missing or fails; the version found is logged.
    pub async fn detect(ffmpeg: &Path, ffprobe: &Path) -> Option<Ffmpeg> {
        let version = version_of(ffmpeg, "ffmpeg").await?;
        let probe_version = version_of(ffprobe, "ffprobe").await?;
        tracing::info!(
            ffmpeg = %ffmpeg.display(),
            %version,
            ffprobe = %probe_version,
            "ffmpeg found: audio and video get probed, posters, renditions and waveforms"
        );
        Some(Ffmpeg {
            ffmpeg: ffmpeg.to_path_buf(),
            ffprobe: ffprobe.to_path_buf(),
            version,
            timeout: DEFAULT_TIMEOUT,
            quick_timeout: DEFAULT_QUICK_TIMEOUT,
            max_output: DEFAULT_MAX_OUTPUT,
        })
    }

    /// [`Ffmpeg::detect`] with `ffmpeg` and `ffprobe` from `PATH`.
    pub async fn detect_on_path() -> Option<Ffmpeg> {
        Ffmpeg::detect(Path::new("ffmpeg"), Path::new("ffprobe")).await
    }

    /// Sets the time bound of renditions, waveforms and remuxing (default
    /// [`DEFAULT_TIMEOUT`]); the bound of probes and posters stays no longer.
    pub fn with_timeout(mut self, timeout: Duration) -> Ffmpeg {
        self.timeout = timeout;
        self.quick_timeout = self.quick_timeout.min(timeout);
        self
    }

    /// Sets the time bound of probes and posters (default [`DEFAULT_QUICK_TIMEOUT`]).
    pub fn with_quick_timeout(mut self, timeout: Duration) -> Ffmpeg {
        self.quick_timeout = timeout;
        self
    }

    /// Sets the size bound of renditions and remuxed files (default [`DEFAULT_MAX_OUTPUT`]).
    pub fn with_max_output(mut self, bytes: u64) -> Ffmpeg {
        self.max_output = bytes;
        self
    }

    /// The first line of `ffmpeg -version`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The time bound of renditions, waveforms and remuxing.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Streams, codecs, duration and displayed size of `file` (ffprobe).
    pub async fn probe(&self, file: &Path) -> Result<Probe, ProbeError> {
        let mut a = args(["-v", "error", "-hide_banner"]);
        a.extend(args([
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ]));
        a.extend(input_args(file));
        let mut json = Vec::new();
        run(&self.ffprobe, "ffprobe", &a, self.quick_timeout, |chunk| {
            if json.len() + chunk.len() > MAX_PROBE_JSON {
                return Err(ProbeError::Ffmpeg {
                    program: "ffprobe",
                    status: None,
                    message: "its report is too long".into(),
                });
            }
            json.extend_from_slice(chunk);
            Ok(())
        })
        .await?;
        parse_probe(&json)
    }

    /// A JPEG of one frame of `file`, at `min(1 s, duration / 2)`, fitted
    /// in 1080 pixels on the long side (never upscaled), written to
    /// `out_dir/poster.jpg`. `out_dir` is the caller's, one per job.
    pub async fn poster(&self, file: &Path, out_dir: &Path) -> Result<FileRendition, ProbeError> {
        let probe = self.probe(file).await?;
        if !probe.has_video {
            return Err(ProbeError::NoVideo);
        }
        let at_ms = probe.duration_ms.map_or(0, |d| (d / 2).min(1000));
        let out = out_dir.join("poster.jpg");
        let mut a = common_args();
        a.extend(args([
            "-ss",
            &format!("{}.{:03}", at_ms / 1000, at_ms % 1000),
        ]));
        a.extend(input_args(file));
        a.extend(args([
            "-map",
            "0:v:0",
            "-frames:v",
            "1",
            "-an",
            "-sn",
            "-dn",
        ]));
        a.extend(args(["-map_metadata", "-1", "-vf"]));
        a.push(
            "scale=w='min(1080,iw)':h='min(1080,ih)':force_original_aspect_ratio=decrease".into(),
        );
        a.extend(args(["-q:v", "3", "-fs", &MAX_POSTER_BYTES.to_string()]));
        a.extend(args(["-f", "mjpeg", "-y"]));
        a.push(file_url(&out));
        let result = self
            .render(&a, self.quick_timeout, &out, MAX_POSTER_BYTES)
            .await;
        let size = match result {
            Ok(size) => size,
            Err(e) => {
                let _ = tokio::fs::remove_file(&out).await;
                return Err(e);
            }
        };
        let bytes = tokio::fs::read(&out).await?;
        let (width, height) = ImageReader::with_format(Cursor::new(&bytes), ImageFormat::Jpeg)
            .into_dimensions()
            .map_err(|e| ProbeError::Ffmpeg {
                program: "ffmpeg",
                status: None,
                message: format!("the poster it wrote cannot be read: {e}"),
            })?;
        Ok(FileRendition {
            name: "poster",
            mime: "image/jpeg",
            path: out,
            width,
            height,
            size,
        })
    }

    /// An H.264/AAC MP4 of `file` whose short side is `height` pixels (480
    /// or 720; the short side, so a portrait clip gets the same quality as
    /// a landscape one), written to `out_dir/<height>p.mp4`: libx264
    /// `-preset veryfast -crf 23`, yuv420p, even dimensions, AAC 128 kb/s,
    /// `+faststart`, no metadata. `None` when the source is no larger (no
    /// upscaling) or has no video. Returns the file and its probe.
    pub async fn video_rendition(
        &self,
        file: &Path,
        height: u32,
        out_dir: &Path,
    ) -> Result<Option<(PathBuf, Probe)>, ProbeError> {
        let source = self.probe(file).await?;
        let (Some(w), Some(h)) = (source.width, source.height) else {
            return Ok(None);
        };
        if !source.has_video || w.min(h) <= height {
            return Ok(None);
        }
        let scale = if w >= h {
            format!("scale=-2:{height}")
        } else {
            format!("scale={height}:-2")
        };
        let out = out_dir.join(format!("{height}p.mp4"));
        let mut a = common_args();
        a.extend(input_args(file));
        a.extend(args(["-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn"]));
        a.extend(args([
            "-map_metadata",
            "-1",
            "-map_chapters",
            "-1",
            "-vf",
            &scale,
        ]));
        a.extend(args([
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
        ]));
        a.extend(args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k"]));
        a.extend(args(["-movflags", "+faststart"]));
        a.extend(args([
            "-fs",
            &self.max_output.to_string(),
            "-f",
            "mp4",
            "-y",
        ]));
        a.push(file_url(&out));
        if let Err(e) = self.render(&a, self.timeout, &out, self.max_output).await {
            let _ = tokio::fs::remove_file(&out).await;
            return Err(e);
        }
        let probe = self.probe(&out).await?;
        Ok(Some((out, probe)))
    }

    /// The loudness outline of `file`'s first audio stream: `buckets`
    /// values (at most [`MAX_WAVEFORM_BUCKETS`]), each the peak of its slice
    /// of time on an absolute scale (0 silence, 255 full scale), so quiet
    /// recordings look quiet. Decoded to 8 kHz mono 16-bit PCM through a
    /// pipe and folded as it arrives: memory does not grow with the length.
    pub async fn waveform(&self, file: &Path, buckets: usize) -> Result<Vec<u8>, ProbeError> {
        let buckets = buckets.min(MAX_WAVEFORM_BUCKETS);
        if buckets == 0 {
            return Ok(Vec::new());
        }
        let mut a = common_args();
        a.extend(input_args(file));
        a.extend(args(["-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1"]));
        a.extend(args([
            "-ar",
            &WAVEFORM_RATE.to_string(),
            "-c:a",
            "pcm_s16le",
        ]));
        a.extend(args([
            "-fs",
            &MAX_WAVEFORM_PCM.to_string(),
            "-f",
            "s16le",
            "pipe:1",
        ]));
        let mut peaks = Peaks::new(buckets);
        run(&self.ffmpeg, "ffmpeg", &a, self.timeout, |chunk| {
            peaks.push(chunk);
            Ok(())
        })
        .await?;
        Ok(peaks.finish(buckets))
    }

    /// A copy of an audio or video file without its metadata (titles,
    /// GPS location of phone videos, device names, chapters, cover art,
    /// data tracks): the audio and video streams are copied untouched into
    /// a new container of the same type, `out_dir/clean.<ext>`. Returns its
    /// path. The original upload can then be stored without metadata, as
    /// images are.
    pub async fn strip_metadata(
        &self,
        file: &Path,
        sniffed: &Sniffed,
        out_dir: &Path,
    ) -> Result<PathBuf, ProbeError> {
        let (muxer, ext, faststart) = match sniffed.mime {
            "video/mp4" => ("mp4", "mp4", true),
            "video/quicktime" => ("mov", "mov", true),
            "video/webm" => ("webm", "webm", false),
            "audio/mp4" => ("ipod", "m4a", true),
            "audio/mpeg" => ("mp3", "mp3", false),
            "audio/ogg" => ("ogg", "ogg", false),
            "audio/wav" => ("wav", "wav", false),
            "audio/flac" => ("flac", "flac", false),
            other => return Err(ProbeError::Unsupported { detected: other }),
        };
        let out = out_dir.join(format!("clean.{ext}"));
        let mut a = common_args();
        a.extend(input_args(file));
        if sniffed.class == MediaClass::Video {
            a.extend(args(["-map", "0:v?", "-map", "0:a?"]));
        } else {
            a.extend(args(["-map", "0:a", "-vn"]));
        }
        a.extend(args(["-c", "copy", "-sn", "-dn", "-map_chapters", "-1"]));
        // The stream tags (titles, handler names with device models) are
        // named too, whatever this ffmpeg version's defaults for them.
        a.extend(args(["-map_metadata", "-1", "-map_metadata:s", "-1"]));
        a.extend(args(["-fflags", "+bitexact"]));
        if faststart {
            a.extend(args(["-movflags", "+faststart"]));
        }
        a.extend(args([
            "-fs",
            &self.max_output.to_string(),
            "-f",
            muxer,
            "-y",
        ]));
        a.push(file_url(&out));
        if let Err(e) = self.render(&a, self.timeout, &out, self.max_output).await {
            let _ = tokio::fs::remove_file(&out).await;
            return Err(e);
        }
        Ok(out)
    }

    /// Runs ffmpeg writing `out`; its size, refused at `limit` (where `-fs`
    /// stops writing without failing).
    async fn render(
        &self,
        args: &[OsString],
        timeout: Duration,
        out: &Path,
        limit: u64,
    ) -> Result<u64, ProbeError> {
        run(&self.ffmpeg, "ffmpeg", args, timeout, |_| Ok(())).await?;
        let size = tokio::fs::metadata(out)
            .await
            .map_err(|_| ProbeError::Ffmpeg {
                program: "ffmpeg",
                status: Some(0),
                message: "it wrote no output".into(),
            })?
            .len();
        if size == 0 {
            return Err(ProbeError::Ffmpeg {
                program: "ffmpeg",
                status: Some(0),
                message: "it wrote an empty file".into(),
            });
        }
        if size >= limit {
            return Err(ProbeError::OutputTooLarge { limit });
        }
        Ok(size)
    }
}

fn args<const N: usize>(list: [&str; N]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

fn common_args() -> Vec<OsString> {
    args(["-nostdin", "-hide_banner", "-loglevel", "error"])
}

/// `file:<path>`: never read as an option, a protocol or a pattern.
fn file_url(path: &Path) -> OsString {
    let mut url = OsString::from("file:");
    url.push(path.as_os_str());
    url
}

fn input_args(file: &Path) -> Vec<OsString> {
    let mut a = args(["-protocol_whitelist", "file", "-format_whitelist", DEMUXERS]);
    a.push("-i".into());
    a.push(file_url(file));
    a
}

async fn version_of(program: &Path, name: &'static str) -> Option<String> {
    let mut out = Vec::new();
    let result = run(
        program,
        name,
        &args(["-version"]),
        VERSION_TIMEOUT,
        |chunk| {
            if out.len() < 64 * 1024 {
                out.extend_from_slice(chunk);
            }
            Ok(())
        },
    )
    .await;
    match result {
        Ok(()) => {
            let text = String::from_utf8_lossy(&out);
            Some(text.lines().next().unwrap_or_default().trim().to_string())
        }
        Err(e) => {
            tracing::debug!(program = %program.display(), error = %e, "not usable");
            None
        }
    }
}

/// Runs `program` with stdin closed, feeding its stdout to `on_stdout` as
/// it arrives, within `limit`; killed on timeout, on an error from
/// `on_stdout`, or when the future is dropped. A non-zero exit is
/// [`ProbeError::Ffmpeg`] with the last line of stderr.
async fn run<F>(
    program: &Path,
    name: &'static str,
    args: &[OsString],
    limit: Duration,
    mut on_stdout: F,
) -> Result<(), ProbeError>
where
    F: FnMut(&[u8]) -> Result<(), ProbeError>,
{
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ProbeError::Spawn {
            program: name,
            source,
        })?;
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(ProbeError::Spawn {
            program: name,
            source: io::Error::other("no pipes to the process"),
        });
    };
    let work = async {
        let read_out = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = stdout.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<(), ProbeError>(());
                }
                on_stdout(&buf[..n])?;
            }
        };
        let read_err = async {
            let mut tail = Vec::new();
            let mut buf = vec![0u8; 4096];
            loop {
                let n = stderr.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<Vec<u8>, ProbeError>(tail);
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
        };
        let ((), tail) = tokio::try_join!(read_out, read_err)?;
        let status = child.wait().await?;
        if status.success() {
            Ok(())
        } else {
            Err(ProbeError::Ffmpeg {
                program: name,
                status: status.code(),
                message: last_line(&tail),
            })
        }
    };
    let result = match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::Timeout {
            program: name,
            after: limit,
        }),
    };
    if result.is_err() {
        // Reap it now rather than leave it to kill_on_drop.
        let _ = child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    }
    result
}

fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("it exited without saying why");
    line.chars().take(300).collect()
}

#[derive(Deserialize)]
struct ProbeJson {
    #[serde(default)]
    streams: Vec<StreamJson>,
    #[serde(default)]
    format: Option<FormatJson>,
}

#[derive(Deserialize)]
struct StreamJson {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    duration: Option<String>,
    #[serde(default)]
    disposition: Option<DispositionJson>,
    #[serde(default)]
    tags: Option<TagsJson>,
    #[serde(default)]
    side_data_list: Vec<SideDataJson>,
}

#[derive(Deserialize)]
struct DispositionJson {
    #[serde(default)]
    attached_pic: i64,
}

#[derive(Deserialize)]
struct TagsJson {
    rotate: Option<String>,
}

#[derive(Deserialize)]
struct SideDataJson {
    rotation: Option<f64>,
}

#[derive(Deserialize)]
struct FormatJson {
    duration: Option<String>,
}

fn seconds_to_ms(s: &str) -> Option<u64> {
    let secs: f64 = s.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as u64)
}

fn parse_probe(json: &[u8]) -> Result<Probe, ProbeError> {
    let parsed: ProbeJson = serde_json::from_slice(json).map_err(|e| ProbeError::Ffmpeg {
        program: "ffprobe",
        status: Some(0),
        message: format!("its report cannot be read: {e}"),
    })?;
    let mut probe = Probe::default();
    let mut stream_ms = None;
    for s in &parsed.streams {
        let cover_art = s.disposition.as_ref().is_some_and(|d| d.attached_pic != 0);
        match s.codec_type.as_deref() {
            Some("video") if !cover_art => {
                if !probe.has_video {
                    probe.has_video = true;
                    probe.video_codec = s.codec_name.clone();
                    let rotation = s
                        .side_data_list
                        .iter()
                        .find_map(|d| d.rotation)
                        .or_else(|| s.tags.as_ref()?.rotate.as_deref()?.trim().parse().ok())
                        .unwrap_or(0.0);
                    let quarter_turns = ((rotation / 90.0).round() as i64).rem_euclid(4);
                    (probe.width, probe.height) = if quarter_turns % 2 == 1 {
                        (s.height, s.width)
                    } else {
                        (s.width, s.height)
                    };
                }
            }
            Some("audio") if !probe.has_audio => {
                probe.has_audio = true;
                probe.audio_codec = s.codec_name.clone();
            }
            _ => continue,
        }
        if let Some(ms) = s.duration.as_deref().and_then(seconds_to_ms) {
            stream_ms = Some(stream_ms.map_or(ms, |m: u64| m.max(ms)));
        }
    }
    probe.duration_ms = parsed
        .format
        .and_then(|f| f.duration)
        .as_deref()
        .and_then(seconds_to_ms)
        .or(stream_ms);
    Ok(probe)
}

/// Peaks of 16-bit samples over windows that double in length whenever
/// there are too many, so memory stays bounded for any duration.
struct Peaks {
    window: usize,
    in_window: usize,
    current: u16,
    peaks: Vec<u16>,
    cap: usize,
    odd_byte: Option<u8>,
}

impl Peaks {
    fn new(buckets: usize) -> Peaks {
        let cap = (buckets * 2).max(1024);
        Peaks {
            // 10 ms at 8 kHz.
            window: 80,
            in_window: 0,
            current: 0,
            peaks: Vec::with_capacity(cap),
            cap,
            odd_byte: None,
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        if let Some(low) = self.odd_byte.take()
            && let Some((&high, rest)) = bytes.split_first()
        {
            self.sample(i16::from_le_bytes([low, high]));
            bytes = rest;
        }
        let mut pairs = bytes.chunks_exact(2);
        for pair in &mut pairs {
            self.sample(i16::from_le_bytes([pair[0], pair[1]]));
        }
        self.odd_byte = pairs.remainder().first().copied();
    }

    fn sample(&mut self, s: i16) {
        self.current = self.current.max(s.unsigned_abs());
        self.in_window += 1;
        if self.in_window == self.window {
            self.close_window();
        }
    }

    fn close_window(&mut self) {
        self.peaks.push(self.current);
        self.current = 0;
        self.in_window = 0;
        if self.peaks.len() >= self.cap {
            let merged: Vec<u16> = self
                .peaks
                .chunks(2)
                .map(|pair| pair.iter().copied().max().unwrap_or(0))
                .collect();
            self.peaks = merged;
            self.window *= 2;
        }
    }

    fn finish(mut self, buckets: usize) -> Vec<u8> {
        if self.in_window > 0 {
            self.close_window();
        }
        let n = self.peaks.len();
        if n == 0 {
            return vec![0; buckets];
        }
        (0..buckets)
            .map(|b| {
                let start = b * n / buckets;
                let end = ((b + 1) * n / buckets).max(start + 1).min(n);
                let peak = self.peaks[start..end].iter().copied().max().unwrap_or(0);
                let scaled = (u32::from(peak) * 255 + 16_384) / 32_768;
                u8::try_from(scaled.min(255)).unwrap_or(u8::MAX)
            })
            .collect()
    }
}
