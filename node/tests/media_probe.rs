//! `kith_node::media::probe` on real files made here: images with the
//! `image` crate (metadata added with `img-parts` and by hand), audio and
//! video with ffmpeg's test sources.
//!
//! The ffmpeg tests need `ffmpeg` and `ffprobe` on `PATH` (`tests/run`
//! installs them) and fail, rather than skip, without them.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use img_parts::jpeg::{Jpeg, JpegSegment, markers};
use img_parts::png::{Png, PngChunk};
use img_parts::riff::{RiffChunk, RiffContent};
use img_parts::webp::WebP;
use img_parts::{Bytes, ImageEXIF, ImageICC};
use kith_node::media::probe::{
    self, Ffmpeg, Limits, MediaClass, ProbeError, Sniffed, check_claimed, check_size, clean_image,
    image_renditions, sniff,
};

const GPS_SECRET: &[u8] = b"KITH-GPS-SECRET";

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/// A picture with some structure, so codecs have real work.
fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            ((x ^ y) & 0xFF) as u8,
        ])
    })
}

fn jpeg_of(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .unwrap();
    out
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn webp_of(image: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_with_encoder(WebPEncoder::new_lossless(&mut out))
        .unwrap();
    out
}

fn gif_of(frames: &[RgbaImage]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        for f in frames {
            encoder.encode_frame(image::Frame::new(f.clone())).unwrap();
        }
    }
    out
}

/// A minimal little-endian TIFF/EXIF block: IFD0 with the orientation and a
/// pointer to a GPS IFD holding a latitude and [`GPS_SECRET`] as the area
/// information.
fn exif_with_gps(orientation: u16) -> Vec<u8> {
    fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&value);
    }
    const GPS_IFD: u32 = 8 + 2 + 2 * 12 + 4; // 38
    const GPS_DATA: u32 = GPS_IFD + 2 + 3 * 12 + 4; // 80
    const AREA: u32 = GPS_DATA + 24; // 104
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    t.extend_from_slice(&2u16.to_le_bytes());
    let o = orientation.to_le_bytes();
    entry(&mut t, 0x0112, 3, 1, [o[0], o[1], 0, 0]);
    entry(&mut t, 0x8825, 4, 1, GPS_IFD.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len() as u32, GPS_IFD);
    t.extend_from_slice(&3u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, *b"N\0\0\0");
    entry(&mut t, 0x0002, 5, 3, GPS_DATA.to_le_bytes());
    entry(
        &mut t,
        0x001C,
        7,
        GPS_SECRET.len() as u32,
        AREA.to_le_bytes(),
    );
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len() as u32, GPS_DATA);
    for (num, den) in [(48u32, 1u32), (51, 1), (2959, 100)] {
        t.extend_from_slice(&num.to_le_bytes());
        t.extend_from_slice(&den.to_le_bytes());
    }
    t.extend_from_slice(GPS_SECRET);
    t
}

/// A JPEG carrying EXIF (orientation + GPS), XMP, a comment and data after
/// the end-of-image marker: what a phone might upload.
fn phone_jpeg(image: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut jpeg = Jpeg::from_bytes(Bytes::from(jpeg_of(image, 90))).unwrap();
    jpeg.set_exif(Some(Bytes::from(exif_with_gps(orientation))));
    let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>KITH-XMP-SECRET</x:xmpmeta>";
    let segments = jpeg.segments_mut();
    segments.insert(
        1,
        JpegSegment::new_with_contents(markers::APP1, Bytes::from_static(xmp)),
    );
    segments.insert(
        1,
        JpegSegment::new_with_contents(markers::COM, Bytes::from_static(b"KITH-COMMENT-SECRET")),
    );
    let mut bytes = jpeg.encoder().bytes().to_vec();
    bytes.extend_from_slice(b"KITH-TRAILER-SECRET");
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A PNG whose header claims `width`×`height` RGBA, with a few bytes of data.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    // zlib: a stored block of 16 zero bytes.
    let mut idat = vec![0x78, 0x01, 0x01, 16, 0, !16u8, 0xFF];
    idat.extend_from_slice(&[0; 16]);
    png_chunk(&mut out, b"IDAT", &idat);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

fn fake_icc() -> Vec<u8> {
    let mut icc = vec![0u8; 132];
    icc[..4].copy_from_slice(&132u32.to_be_bytes());
    icc[12..16].copy_from_slice(b"mntr");
    icc[16..20].copy_from_slice(b"RGB ");
    icc[20..24].copy_from_slice(b"XYZ ");
    icc[36..40].copy_from_slice(b"acsp");
    icc
}

fn sniffed(bytes: &[u8]) -> Sniffed {
    sniff(&bytes[..bytes.len().min(probe::SNIFF_LEN)]).unwrap()
}

fn decode(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).unwrap()
}

/// Runs ffmpeg with `args` (each split at spaces) to write `out`; panics
/// (fails the test) without ffmpeg.
fn make(args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args.iter().flat_map(|a| a.split_whitespace()))
        .arg(out)
        .status()
        .expect("ffmpeg is needed for these tests (tests/run installs it)");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

async fn ffmpeg() -> Ffmpeg {
    Ffmpeg::detect_on_path()
        .await
        .expect("ffmpeg and ffprobe are needed for these tests (tests/run installs them)")
}

fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// A 3 s 1280×720 H.264 + AAC clip.
fn clip(dir: &Path) -> PathBuf {
    let out = path(dir, "clip.mp4");
    make(
        &[
            "-f lavfi -i testsrc=size=1280x720:rate=25:duration=3 -f lavfi",
            "-i sine=frequency=440:duration=3 -c:v libx264 -preset ultrafast",
            "-pix_fmt yuv420p -c:a aac -shortest",
        ],
        &out,
    );
    out
}

// ---------------------------------------------------------------------------
// Type and size
// ---------------------------------------------------------------------------

#[test]
fn sniff_accepts_each_allowed_image_type() {
    let img = DynamicImage::ImageRgb8(picture(32, 16));
    let rgba = RgbaImage::from_pixel(8, 8, Rgba([1, 2, 3, 255]));
    for (bytes, mime) in [
        (jpeg_of(&picture(32, 16), 80), "image/jpeg"),
        (encode(&img, ImageFormat::Png), "image/png"),
        (gif_of(&[rgba]), "image/gif"),
        (webp_of(&img), "image/webp"),
    ] {
        let found = sniff(&bytes).unwrap();
        assert_eq!(found.mime, mime);
        assert_eq!(found.class, MediaClass::Image);
    }
}

#[test]
fn sniff_accepts_each_allowed_audio_and_video_type() {
    let dir = tempfile::tempdir().unwrap();
    let tone = "-f lavfi -i sine=frequency=440:duration=0.3";
    let picture = "-f lavfi -i testsrc=size=64x64:rate=10:duration=0.3";
    let cases = [
        ("a.mp3", "-c:a libmp3lame", "audio/mpeg", MediaClass::Audio),
        ("a.ogg", "-c:a libvorbis", "audio/ogg", MediaClass::Audio),
        (
            "a.opus",
            "-c:a libopus -f ogg",
            "audio/ogg",
            MediaClass::Audio,
        ),
        ("a.wav", "-c:a pcm_s16le", "audio/wav", MediaClass::Audio),
        ("a.flac", "-c:a flac", "audio/flac", MediaClass::Audio),
        ("a.m4a", "-c:a aac", "audio/mp4", MediaClass::Audio),
        (
            "v.mp4",
            "-c:v libx264 -preset ultrafast",
            "video/mp4",
            MediaClass::Video,
        ),
        (
            "v.webm",
            "-c:v libvpx -deadline realtime",
            "video/webm",
            MediaClass::Video,
        ),
        (
            "v.mov",
            "-c:v libx264 -preset ultrafast",
            "video/quicktime",
            MediaClass::Video,
        ),
    ];
    for (name, codec, mime, class) in cases {
        let out = path(dir.path(), name);
        let source = if class == MediaClass::Audio {
            tone
        } else {
            picture
        };
        make(&[source, codec], &out);
        let bytes = std::fs::read(&out).unwrap();
        let found = sniffed(&bytes);
        assert_eq!((found.mime, found.class), (mime, class), "{name}");
    }
}

#[test]
fn sniff_accepts_mp3_without_id3_tag() {
    // MPEG-2 Layer III frame header (FF F3), which infer does not know.
    let mut frame = vec![0xFF, 0xF3, 0x64, 0xC4];
    frame.resize(512, 0);
    assert_eq!(sniff(&frame).unwrap().mime, "audio/mpeg");
}

#[test]
fn sniff_refuses_other_types_by_their_real_name() {
    let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00rest of a zip".to_vec();
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n".to_vec();
    let html = b"<!DOCTYPE html><html><body>hi</body></html>".to_vec();
    let mut elf =
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00".to_vec();
    elf.resize(64, 0);
    for (bytes, detected) in [
        (zip, "application/zip"),
        (pdf, "application/pdf"),
        (html, "text/html"),
        (elf, "application/x-executable"),
    ] {
        let err = sniff(&bytes).unwrap_err();
        assert_eq!(err.code(), "unsupported_type");
        assert!(
            matches!(err, ProbeError::Unsupported { detected: d } if d == detected),
            "{err:?}"
        );
        assert!(err.to_string().contains(detected), "{err}");
    }
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    assert_eq!(sniff(svg).unwrap_err().code(), "unsupported_type");
    assert_eq!(sniff(b"").unwrap_err().code(), "unsupported_type");
    assert!(matches!(
        sniff(b"just some text").unwrap_err(),
        ProbeError::Unsupported {
            detected: "unknown"
        }
    ));
}

#[test]
fn a_png_sent_as_anything_else_is_a_png() {
    let png = encode(&DynamicImage::ImageRgb8(picture(16, 16)), ImageFormat::Png);
    let found = sniff(&png).unwrap();
    assert_eq!(found.mime, "image/png");
    for claimed in ["image/jpeg", "application/pdf", "video/mp4", "text/html"] {
        let err = check_claimed(claimed, &found).unwrap_err();
        assert_eq!(err.code(), "type_mismatch");
        match &err {
            ProbeError::Mismatch { claimed: c, actual } => {
                assert_eq!(c, claimed);
                assert_eq!(*actual, "image/png");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("image/png"), "{err}");
    }
    for agreeing in [
        "image/png",
        "IMAGE/PNG; charset=binary",
        "",
        "application/octet-stream",
    ] {
        check_claimed(agreeing, &found).unwrap();
    }
    let jpeg = sniff(&jpeg_of(&picture(8, 8), 80)).unwrap();
    check_claimed("image/jpg", &jpeg).unwrap();
}

#[test]
fn size_limits_per_class() {
    let limits = Limits::default();
    assert_eq!(
        (limits.image, limits.audio, limits.video),
        (20_000_000, 50_000_000, 500_000_000)
    );
    assert_eq!(limits.of(MediaClass::Audio), 50_000_000);
    assert_eq!(limits.largest(), 500_000_000);
    check_size(MediaClass::Image, 20_000_000, &limits).unwrap();
    let err = check_size(MediaClass::Image, 20_000_001, &limits).unwrap_err();
    assert_eq!(err.code(), "too_large");
    assert!(matches!(
        err,
        ProbeError::TooLarge {
            class: MediaClass::Image,
            size: 20_000_001,
            limit: 20_000_000
        }
    ));
    check_size(MediaClass::Video, 400_000_000, &limits).unwrap();
    let small = Limits {
        image: 10,
        audio: 10,
        video: 10,
    };
    assert_eq!(
        check_size(MediaClass::Video, 11, &small)
            .unwrap_err()
            .code(),
        "too_large"
    );
}

// ---------------------------------------------------------------------------
// Image checks
// ---------------------------------------------------------------------------

#[test]
fn truncated_jpeg_and_png_are_corrupt() {
    let jpeg = jpeg_of(&picture(256, 256), 95);
    let cut = &jpeg[..jpeg.len() / 2];
    let err = clean_image(cut, &sniffed(cut)).unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err:?}");

    let png = encode(
        &DynamicImage::ImageRgb8(picture(256, 256)),
        ImageFormat::Png,
    );
    let cut = &png[..png.len() / 2];
    let err = clean_image(cut, &sniffed(cut)).unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err:?}");

    // Only the last bytes missing (IEND): still refused.
    let cut = &png[..png.len() - 12];
    let err = clean_image(cut, &sniffed(cut)).unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err:?}");
}

#[test]
fn png_header_claiming_ten_gigapixels_is_refused_before_decoding() {
    let bomb = png_claiming(100_000, 100_000);
    assert!(bomb.len() < 100);
    let started = std::time::Instant::now();
    let err = clean_image(&bomb, &sniffed(&bomb)).unwrap_err();
    assert!(
        matches!(
            err,
            ProbeError::TooManyPixels {
                width: 100_000,
                height: 100_000
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "too_many_pixels");
    // Refused from the header: no 40 GB buffer, no decoding.
    assert!(started.elapsed() < Duration::from_secs(2));
    let err = image_renditions(&bomb).unwrap_err();
    assert_eq!(err.code(), "too_many_pixels");

    // One side too long, few pixels: refused too.
    let long = png_claiming(20_000, 10);
    assert!(matches!(
        clean_image(&long, &sniffed(&long)).unwrap_err(),
        ProbeError::TooManyPixels {
            width: 20_000,
            height: 10
        }
    ));
}

/// A GIF of `frames` one-pixel frames on a `width`×`height` canvas: a few
/// bytes on disk, `frames` full canvases to decode.
fn gif_many_frames(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&width.to_le_bytes());
    gif.extend_from_slice(&height.to_le_bytes());
    gif.extend_from_slice(&[0x80, 0, 0]);
    gif.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    for _ in 0..frames {
        gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]);
        gif.extend_from_slice(&[0x02, 0x02, 0x44, 0x01, 0x00]);
    }
    gif.push(0x3B);
    gif
}

#[test]
fn gif_with_too_many_frames_for_its_size_is_refused() {
    // 101 frames of a 10-megapixel canvas: over the budget of a gigapixel,
    // from a file of 2 KB.
    let bomb = gif_many_frames(4000, 2500, 101);
    assert!(bomb.len() < 2048);
    let err = clean_image(&bomb, &sniffed(&bomb)).unwrap_err();
    assert!(
        matches!(err, ProbeError::TooManyFrames { frames: 100 }),
        "{err:?}"
    );
    assert_eq!(err.code(), "too_many_frames");

    let fine = gif_many_frames(100, 100, 20);
    let clean = clean_image(&fine, &sniffed(&fine)).unwrap();
    assert_eq!((clean.width, clean.height), (100, 100));
    assert!(!clean.stripped);
}

#[test]
fn exif_gps_xmp_comments_and_trailer_are_removed_losslessly() {
    let original = picture(64, 32);
    let upload = phone_jpeg(&original, 1);
    assert!(contains(&upload, GPS_SECRET));
    let before = decode(&upload);

    let clean = clean_image(&upload, &sniffed(&upload)).unwrap();
    assert!(clean.stripped);
    assert_eq!((clean.width, clean.height), (64, 32));
    for secret in [
        GPS_SECRET,
        b"Exif\0\0".as_slice(),
        b"KITH-XMP-SECRET",
        b"ns.adobe.com/xap",
        b"KITH-COMMENT-SECRET",
        b"KITH-TRAILER-SECRET",
    ] {
        assert!(
            !contains(&clean.bytes, secret),
            "{:?} is still there",
            String::from_utf8_lossy(secret)
        );
    }
    let jpeg = Jpeg::from_bytes(Bytes::from(clean.bytes.clone())).unwrap();
    assert_eq!(jpeg.segments_by_marker(markers::APP1).count(), 0);
    assert_eq!(jpeg.segments_by_marker(markers::COM).count(), 0);
    assert!(jpeg.exif().is_none());
    assert!(clean.bytes.ends_with(&[0xFF, 0xD9]));

    // Lossless: the same pixels, not a re-encode.
    let after = decode(&clean.bytes);
    assert_eq!((after.width(), after.height()), (64, 32));
    assert_eq!(after.to_rgb8().as_raw(), before.to_rgb8().as_raw());
}

#[test]
fn icc_profile_is_kept_and_a_clean_jpeg_is_left_alone() {
    let mut jpeg = Jpeg::from_bytes(Bytes::from(jpeg_of(&picture(32, 32), 85))).unwrap();
    jpeg.set_icc_profile(Some(Bytes::from(fake_icc())));
    let bytes = jpeg.encoder().bytes().to_vec();
    let clean = clean_image(&bytes, &sniffed(&bytes)).unwrap();
    assert!(!clean.stripped);
    assert_eq!(clean.bytes, bytes);
    let kept = Jpeg::from_bytes(Bytes::from(clean.bytes)).unwrap();
    assert_eq!(kept.icc_profile().unwrap().to_vec(), fake_icc());
}

#[test]
fn exif_orientation_6_is_applied_and_dimensions_swap() {
    // Left half red, right half blue; orientation 6 means "turn 90° clockwise
    // to display", so the displayed picture is red on top, blue below.
    let stored = RgbImage::from_fn(40, 20, |x, _| {
        if x < 20 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    });
    let upload = phone_jpeg(&stored, 6);
    let clean = clean_image(&upload, &sniffed(&upload)).unwrap();
    assert!(clean.stripped);
    assert_eq!((clean.width, clean.height), (20, 40));
    assert!(!contains(&clean.bytes, GPS_SECRET));
    assert!(
        Jpeg::from_bytes(Bytes::from(clean.bytes.clone()))
            .unwrap()
            .exif()
            .is_none()
    );

    let shown = decode(&clean.bytes).to_rgb8();
    assert_eq!(shown.dimensions(), (20, 40));
    let top = shown.get_pixel(10, 5).0;
    let bottom = shown.get_pixel(10, 35).0;
    assert!(top[0] > 150 && top[2] < 100, "top {top:?}");
    assert!(bottom[2] > 150 && bottom[0] < 100, "bottom {bottom:?}");
}

#[test]
fn png_text_exif_and_time_chunks_are_removed_and_icc_kept() {
    let png_bytes = encode(&DynamicImage::ImageRgb8(picture(24, 24)), ImageFormat::Png);
    let mut png = Png::from_bytes(Bytes::from(png_bytes)).unwrap();
    png.set_icc_profile(Some(Bytes::from(fake_icc())));
    let extra = [
        (*b"tEXt", b"Comment\0KITH-TEXT-SECRET".to_vec()),
        (
            *b"iTXt",
            b"XML:com.adobe.xmp\0\0\0\0\0<x>KITH-XMP-SECRET</x>".to_vec(),
        ),
        (*b"eXIf", exif_with_gps(1)),
        (*b"tIME", vec![7, 232, 1, 2, 3, 4, 5]),
        (*b"prVt", b"KITH-PRIVATE-SECRET".to_vec()),
    ];
    for (kind, data) in extra {
        let at = png.chunks().len() - 1;
        png.chunks_mut()
            .insert(at, PngChunk::new(kind, Bytes::from(data)));
    }
    let upload = png.encoder().bytes().to_vec();
    assert!(contains(&upload, GPS_SECRET));

    let clean = clean_image(&upload, &sniffed(&upload)).unwrap();
    assert!(clean.stripped);
    for secret in [
        GPS_SECRET,
        b"KITH-TEXT-SECRET".as_slice(),
        b"KITH-XMP-SECRET",
        b"KITH-PRIVATE-SECRET",
        b"tIME",
    ] {
        assert!(!contains(&clean.bytes, secret));
    }
    let kept = Png::from_bytes(Bytes::from(clean.bytes.clone())).unwrap();
    assert_eq!(kept.icc_profile().unwrap().to_vec(), fake_icc());
    assert_eq!(
        decode(&clean.bytes).to_rgb8().as_raw(),
        decode(&upload).to_rgb8().as_raw()
    );
}

#[test]
fn webp_exif_and_xmp_chunks_are_removed_and_flags_cleared() {
    let source = webp_of(&DynamicImage::ImageRgb8(picture(24, 16)));
    let mut webp = WebP::from_bytes(Bytes::from(source)).unwrap();
    webp.set_exif(Some(Bytes::from(exif_with_gps(1))));
    webp.chunks_mut().push(RiffChunk::new(
        *b"XMP ",
        RiffContent::Data(Bytes::from_static(b"<x>KITH-XMP-SECRET</x>")),
    ));
    let upload = webp.encoder().bytes().to_vec();
    assert!(contains(&upload, GPS_SECRET));

    let clean = clean_image(&upload, &sniffed(&upload)).unwrap();
    assert!(clean.stripped);
    assert!(!contains(&clean.bytes, GPS_SECRET));
    assert!(!contains(&clean.bytes, b"KITH-XMP-SECRET"));
    let kept = WebP::from_bytes(Bytes::from(clean.bytes.clone())).unwrap();
    assert!(!kept.has_chunk(*b"EXIF") && !kept.has_chunk(*b"XMP "));
    if let Some(vp8x) = kept.chunk_by_id(*b"VP8X") {
        let flags = vp8x.content().data().unwrap()[0];
        assert_eq!(flags & 0b0000_1100, 0, "EXIF/XMP flags still set");
    }
    assert_eq!((clean.width, clean.height), (24, 16));
    assert_eq!(
        decode(&clean.bytes).to_rgb8().as_raw(),
        decode(&upload).to_rgb8().as_raw()
    );
}

#[test]
fn gif_comments_are_removed() {
    let frames: Vec<RgbaImage> = (0..3u8)
        .map(|i| RgbaImage::from_pixel(10, 10, Rgba([i * 80, 10, 10, 255])))
        .collect();
    let gif = gif_of(&frames);
    // Insert a comment extension right after the screen descriptor and
    // global colour table (the encoder writes none: local tables per frame).
    let packed = gif[10];
    let table = if packed & 0x80 != 0 {
        3 << ((packed & 7) + 1)
    } else {
        0
    };
    let at = 13 + table;
    let secret = b"KITH-GIF-SECRET";
    let mut upload = gif[..at].to_vec();
    upload.extend_from_slice(&[0x21, 0xFE, secret.len() as u8]);
    upload.extend_from_slice(secret);
    upload.push(0);
    upload.extend_from_slice(&gif[at..]);
    assert!(contains(&upload, secret));

    let clean = clean_image(&upload, &sniffed(&upload)).unwrap();
    assert!(clean.stripped);
    assert!(!contains(&clean.bytes, secret));
    assert_eq!(clean.bytes, gif);
    let plain = clean_image(&gif, &sniffed(&gif)).unwrap();
    assert!(!plain.stripped);
}

// ---------------------------------------------------------------------------
// Renditions
// ---------------------------------------------------------------------------

#[test]
fn renditions_fit_each_size_without_upscaling() {
    let photo = jpeg_of(&picture(2000, 1000), 85);
    let made = image_renditions(&photo).unwrap();
    let sizes: Vec<(&str, u32, u32)> = made.iter().map(|r| (r.name, r.width, r.height)).collect();
    assert_eq!(
        sizes,
        [
            ("small", 160, 80),
            ("medium", 480, 240),
            ("large", 1080, 540)
        ]
    );
    for r in &made {
        assert!(r.mime == "image/webp" || r.mime == "image/jpeg");
        let format = if r.mime == "image/webp" {
            ImageFormat::WebP
        } else {
            ImageFormat::Jpeg
        };
        let back = image::load_from_memory_with_format(&r.bytes, format).unwrap();
        assert_eq!(
            (back.width(), back.height()),
            (r.width, r.height),
            "{}",
            r.name
        );
    }

    // Smaller than medium: only small. Smaller than small: small at its size.
    let mid = encode(
        &DynamicImage::ImageRgb8(picture(300, 200)),
        ImageFormat::Png,
    );
    let made = image_renditions(&mid).unwrap();
    let names: Vec<&str> = made.iter().map(|r| r.name).collect();
    assert_eq!(names, ["small", "webp"]);
    assert_eq!((made[0].width, made[0].height), (160, 107));
    assert_eq!((made[1].width, made[1].height), (300, 200));
    assert_eq!(made[1].mime, "image/webp");

    let tiny = jpeg_of(&picture(100, 50), 85);
    let made = image_renditions(&tiny).unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(
        (made[0].name, made[0].width, made[0].height),
        ("small", 100, 50)
    );
}

#[test]
fn transparent_thumbnails_stay_webp() {
    let rgba = RgbaImage::from_fn(600, 300, |x, _| Rgba([200, 10, 10, (x % 256) as u8]));
    let png = encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png);
    let made = image_renditions(&png).unwrap();
    let thumbs: Vec<_> = made.iter().filter(|r| r.name != "webp").collect();
    assert_eq!(thumbs.len(), 2);
    for r in thumbs {
        assert_eq!(r.mime, "image/webp");
        assert!(decode(&r.bytes).color().has_alpha());
    }
}

#[test]
fn gif_thumbnail_is_its_first_frame() {
    let frames = [
        RgbaImage::from_pixel(400, 200, Rgba([250, 0, 0, 255])),
        RgbaImage::from_pixel(400, 200, Rgba([0, 0, 250, 255])),
    ];
    let gif = gif_of(&frames);
    let made = image_renditions(&gif).unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(
        (made[0].name, made[0].width, made[0].height),
        ("small", 160, 80)
    );
    let p = decode(&made[0].bytes).to_rgb8().get_pixel(80, 40).0;
    assert!(p[0] > 200 && p[2] < 50, "{p:?}");
}

// ---------------------------------------------------------------------------
// ffmpeg
// ---------------------------------------------------------------------------

#[tokio::test]
async fn detect_finds_ffmpeg_and_not_a_missing_program() {
    let missing = Path::new("/nonexistent/kith/ffmpeg");
    assert!(
        Ffmpeg::detect(missing, Path::new("ffprobe"))
            .await
            .is_none()
    );
    assert!(Ffmpeg::detect(Path::new("ffmpeg"), missing).await.is_none());
    let found = ffmpeg().await;
    assert!(
        found.version().starts_with("ffmpeg version"),
        "{}",
        found.version()
    );
}

#[tokio::test]
async fn probe_poster_rendition_of_a_clip() {
    let dir = tempfile::tempdir().unwrap();
    let clip = clip(dir.path());
    let ff = ffmpeg().await;

    let p = ff.probe(&clip).await.unwrap();
    assert!(p.has_video && p.has_audio);
    assert_eq!((p.width, p.height), (Some(1280), Some(720)));
    assert_eq!(p.video_codec.as_deref(), Some("h264"));
    assert_eq!(p.audio_codec.as_deref(), Some("aac"));
    let ms = p.duration_ms.unwrap();
    assert!((2900..=3200).contains(&ms), "{ms}");

    let out = tempfile::tempdir().unwrap();
    let poster = ff.poster(&clip, out.path()).await.unwrap();
    assert_eq!(poster.mime, "image/jpeg");
    assert_eq!(poster.width, 1080);
    assert!((607..=608).contains(&poster.height), "{}", poster.height);
    let bytes = std::fs::read(&poster.path).unwrap();
    assert_eq!(bytes.len() as u64, poster.size);
    assert_eq!(sniff(&bytes).unwrap().mime, "image/jpeg");
    let img = image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (poster.width, poster.height));

    let (file, r) = ff
        .video_rendition(&clip, 480, out.path())
        .await
        .unwrap()
        .unwrap();
    assert!(file.starts_with(out.path()));
    assert_eq!(r.height, Some(480));
    let w = r.width.unwrap();
    assert!(w % 2 == 0 && (852..=854).contains(&w), "{w}");
    assert_eq!(r.video_codec.as_deref(), Some("h264"));
    assert_eq!(r.audio_codec.as_deref(), Some("aac"));
    let ms = r.duration_ms.unwrap();
    assert!((2900..=3200).contains(&ms), "{ms}");
    let head = std::fs::read(&file).unwrap();
    assert_eq!(sniff(&head).unwrap().mime, "video/mp4");
    // +faststart: the index (moov) comes before the media data (mdat).
    let moov = head.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = head.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat);

    // 720 is not larger than the source's 720: no upscaled copy.
    assert!(
        ff.video_rendition(&clip, 720, out.path())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn portrait_clip_rendition_scales_the_short_side() {
    let dir = tempfile::tempdir().unwrap();
    let clip = path(dir.path(), "portrait.mp4");
    make(
        &[
            "-f lavfi -i testsrc=size=720x1280:rate=10:duration=1 -c:v libx264",
            "-preset ultrafast -pix_fmt yuv420p",
        ],
        &clip,
    );
    let ff = ffmpeg().await;
    let (_, r) = ff
        .video_rendition(&clip, 480, dir.path())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.width, Some(480));
    let h = r.height.unwrap();
    assert!(h % 2 == 0 && (852..=854).contains(&h), "{h}");
    assert!(!r.has_audio);
}

#[tokio::test]
async fn waveform_follows_loudness() {
    let dir = tempfile::tempdir().unwrap();
    let audio = path(dir.path(), "half.ogg");
    // One second of silence, then one second of a tone at half scale.
    make(
        &[
            "-f lavfi -i aevalsrc='if(lt(t,1),0,0.5*sin(2*PI*440*t))':s=44100:d=2",
            "-c:a libvorbis",
        ],
        &audio,
    );
    let ff = ffmpeg().await;
    let p = ff.probe(&audio).await.unwrap();
    assert!(p.has_audio && !p.has_video);

    let wave = ff.waveform(&audio, 64).await.unwrap();
    assert_eq!(wave.len(), 64);
    for (i, v) in wave.iter().enumerate() {
        if i < 28 {
            assert!(*v <= 3, "bucket {i} should be silent: {wave:?}");
        } else if i >= 36 {
            assert!(
                (115..=140).contains(v),
                "bucket {i} should be ~128: {wave:?}"
            );
        }
    }
    assert!(ff.waveform(&audio, 0).await.unwrap().is_empty());
    assert_eq!(
        ff.waveform(&audio, 1_000_000).await.unwrap().len(),
        probe::MAX_WAVEFORM_BUCKETS
    );
}

#[tokio::test]
async fn poster_of_audio_and_waveform_of_silent_video_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let audio = path(dir.path(), "a.m4a");
    make(&["-f lavfi -i sine=duration=0.5 -c:a aac"], &audio);
    let video = path(dir.path(), "v.mp4");
    make(
        &[
            "-f lavfi -i testsrc=size=64x64:rate=10:duration=0.5 -c:v libx264",
            "-preset ultrafast",
        ],
        &video,
    );
    let ff = ffmpeg().await;
    let err = ff.poster(&audio, dir.path()).await.unwrap_err();
    assert!(matches!(err, ProbeError::NoVideo), "{err:?}");
    let err = ff.waveform(&video, 16).await.unwrap_err();
    assert_eq!(err.code(), "processing_failed");
    assert!(
        matches!(
            err,
            ProbeError::Ffmpeg {
                program: "ffmpeg",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().is_empty());
}

#[tokio::test]
async fn garbage_is_a_processing_error_with_ffmpegs_reason() {
    let dir = tempfile::tempdir().unwrap();
    let junk = path(dir.path(), "junk.mp4");
    std::fs::write(
        &junk,
        b"\0\0\0\x18ftypisom this is not a real mp4 file at all",
    )
    .unwrap();
    let err = ffmpeg().await.probe(&junk).await.unwrap_err();
    assert_eq!(err.code(), "processing_failed");
    match err {
        ProbeError::Ffmpeg {
            program,
            status,
            message,
        } => {
            assert_eq!(program, "ffprobe");
            assert!(status.is_some_and(|c| c != 0));
            assert!(!message.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_playlist_cannot_make_ffmpeg_read_other_files() {
    // The classic ffmpeg upload attack: an HLS playlist (or concat list)
    // naming local files. Only the accepted containers' demuxers may open.
    let dir = tempfile::tempdir().unwrap();
    let clip = clip(dir.path());
    let playlist = path(dir.path(), "upload.mp4");
    std::fs::write(
        &playlist,
        format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:3,\n{}\n#EXT-X-ENDLIST\n",
            clip.display()
        ),
    )
    .unwrap();
    let ff = ffmpeg().await;
    let err = ff.probe(&playlist).await.unwrap_err();
    assert_eq!(err.code(), "processing_failed", "{err:?}");
    let err = ff.waveform(&playlist, 8).await.unwrap_err();
    assert_eq!(err.code(), "processing_failed", "{err:?}");
}

#[tokio::test]
async fn every_run_is_bounded_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let clip = clip(dir.path());
    let ff = ffmpeg().await.with_quick_timeout(Duration::from_millis(1));
    let err = ff.probe(&clip).await.unwrap_err();
    assert!(
        matches!(
            err,
            ProbeError::Timeout {
                program: "ffprobe",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "timeout");

    let ff = ffmpeg()
        .await
        .with_timeout(Duration::from_millis(100))
        .with_quick_timeout(Duration::from_secs(30));
    let err = ff
        .video_rendition(&clip, 480, dir.path())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "timeout");
    assert!(
        !path(dir.path(), "480p.mp4").exists(),
        "a partial output was left"
    );
}

#[tokio::test]
async fn strip_metadata_removes_tags_and_keeps_streams() {
    let dir = tempfile::tempdir().unwrap();
    let tagged = path(dir.path(), "tagged.mov");
    make(
        &[
            "-f lavfi -i testsrc=size=64x64:rate=10:duration=1",
            "-f lavfi -i sine=duration=1",
            "-c:v libx264 -preset ultrafast -c:a aac",
            "-metadata title=KITH-TITLE-SECRET",
            "-metadata location=+48.8584+002.2945/",
            "-metadata com.apple.quicktime.location.ISO6709=+48.8584+002.2945/",
            "-metadata:s:v:0 handler_name=KITH-HANDLER-SECRET",
            "-movflags use_metadata_tags",
        ],
        &tagged,
    );
    let bytes = std::fs::read(&tagged).unwrap();
    assert!(contains(&bytes, b"KITH-TITLE-SECRET"));
    assert!(contains(&bytes, b"48.8584"));
    assert!(contains(&bytes, b"KITH-HANDLER-SECRET"));

    let ff = ffmpeg().await;
    let found = sniffed(&bytes);
    assert_eq!(found.mime, "video/quicktime");
    let out = ff
        .strip_metadata(&tagged, &found, dir.path())
        .await
        .unwrap();
    let clean = std::fs::read(&out).unwrap();
    for secret in [
        b"KITH-TITLE-SECRET".as_slice(),
        b"KITH-HANDLER-SECRET",
        b"48.8584",
    ] {
        assert!(
            !contains(&clean, secret),
            "{:?} is still there",
            String::from_utf8_lossy(secret)
        );
    }
    assert_eq!(sniff(&clean).unwrap().mime, "video/quicktime");
    let p = ff.probe(&out).await.unwrap();
    assert!(p.has_video && p.has_audio);
    assert_eq!((p.width, p.height), (Some(64), Some(64)));
}
