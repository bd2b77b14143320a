//! Media end to end: two nodes on loopback. A's account uploads a 50 MB
//! video and a photo with GPS tags, posts them; B receives the post by
//! gossip, fetches the files from A over bitswap and serves them through its
//! own gateway, a Range in the middle of the video included; the bytes
//! match. Bad uploads are refused with clear errors and leave nothing
//! behind. Needs ffmpeg (tests/run installs it).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{TestNode, eventually};
use serde_json::{Value, json};

/// A JPEG made by ffmpeg, with an EXIF segment holding a GPS latitude
/// inserted after its start marker.
fn photo_with_gps(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("photo.jpg");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=640x480",
        "-frames:v",
        "1",
        path.to_str().unwrap(),
    ]);
    let jpeg = std::fs::read(&path).unwrap();
    // TIFF, little-endian: IFD0 with a GPS pointer; the GPS IFD with
    // GPSLatitudeRef = "N".
    let mut tiff = b"II\x2a\x00\x08\x00\x00\x00".to_vec();
    tiff.extend([1, 0, 0x25, 0x88, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0, 0, 0, 0]);
    tiff.extend([1, 0, 1, 0, 2, 0, 2, 0, 0, 0, b'N', 0, 0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let len = (app1.len() + 2) as u16;
    let mut out = jpeg[..2].to_vec();
    out.extend([0xff, 0xe1]);
    out.extend(len.to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-nostdin"])
        .args(args)
        .status()
        .expect("ffmpeg runs (tests/run installs it)");
    assert!(status.success(), "ffmpeg {args:?}");
}

/// About 50 MB of H.264 (lossless noise, so it does not compress) with AAC.
fn video(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("clip.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "nullsrc=s=640x360:r=25,geq=lum='random(1)*255':cb=128:cr=128",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        "5.6",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-qp",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        path.to_str().unwrap(),
    ]);
    std::fs::read(&path).unwrap()
}

async fn upload(n: &TestNode, token: &str, bytes: Vec<u8>) -> common::Resp {
    n.http
        .send_raw(
            "POST",
            "/api/v1/media",
            Some(token),
            Some("application/octet-stream"),
            bytes,
        )
        .await
}

/// Polls an upload until processing ends; its view.
async fn ready(n: &TestNode, cid: &str) -> Value {
    let mut last = Value::Null;
    eventually(Duration::from_secs(120), "processing ends", || {
        let http = n.http.clone();
        let cid = cid.to_string();
        async move {
            let r = http.get(&format!("/api/v1/media/{cid}"), None).await;
            r.body["status"] == "ready" || r.body["status"] == "failed"
        }
    })
    .await;
    let r = n
        .http
        .get(&format!("/api/v1/media/{cid}"), None)
        .await
        .expect(200);
    last.clone_from(&r.body);
    last
}

async fn bytes(
    client: &reqwest::Client,
    url: &str,
    range: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = client.get(url);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn media_crosses_nodes_and_serves_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let a = TestNode::start(1, |_| {}).await;
    let b = TestNode::start(1, |_| {}).await;
    b.node.connect(a.tcp_addr()).await.expect("B dials A");
    let ana = a.http.register("ana").await;
    let bob = b.http.register("bob").await;
    b.http.follow(&bob.token, &ana.identity).await;

    // Ana's client follows her uploads live.
    let mut live = common::Live::connect_ready(a.addr(), &ana.token).await;
    live.subscribe(json!({"op": "subscribe", "sub": "m", "stream": "media"}))
        .await;

    // The photo: stored without its EXIF/GPS segment, with thumbnails.
    let photo = photo_with_gps(dir.path());
    assert!(photo.windows(6).any(|w| w == b"Exif\0\0"));
    let r = upload(&a, &ana.token, photo.clone()).await.expect(201);
    assert_eq!(r.body["descriptor"]["mime"], "image/jpeg");
    assert_eq!(r.body["metadata_removed"], true, "{}", r.raw);
    let photo_cid = r.body["cid"].as_str().unwrap().to_string();
    let photo_view = ready(&a, &photo_cid).await;
    assert_eq!(photo_view["status"], "ready", "{photo_view}");
    assert_eq!(photo_view["descriptor"]["width"], 640);
    assert!(
        !photo_view["descriptor"]["thumbs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The live stream said so too.
    let mut states = Vec::new();
    while let Some(m) = live.next(Duration::from_secs(10)).await {
        if m["type"] == "media" && m["upload"]["cid"] == photo_cid.as_str() {
            states.push(m["upload"]["status"].as_str().unwrap().to_string());
            if m["upload"]["status"] == "ready" {
                break;
            }
        }
    }
    assert_eq!(
        states.last().map(String::as_str),
        Some("ready"),
        "{states:?}"
    );

    // The video: duration and size from ffprobe, a poster.
    let original = video(dir.path());
    assert!(original.len() > 45_000_000, "{} bytes", original.len());
    let r = upload(&a, &ana.token, original.clone()).await.expect(201);
    let clip_cid = r.body["cid"].as_str().unwrap().to_string();
    let clip_view = ready(&a, &clip_cid).await;
    assert_eq!(clip_view["status"], "ready", "{clip_view}");
    let d = &clip_view["descriptor"];
    assert_eq!(
        (
            d["mime"].as_str(),
            d["width"].as_u64(),
            d["height"].as_u64()
        ),
        (Some("video/mp4"), Some(640), Some(360))
    );
    assert!(
        d["duration_ms"].as_u64().unwrap().abs_diff(5_600) < 300,
        "{d}"
    );
    // Stored without its container metadata: the streams are the same,
    // the size within a few kB.
    assert!(
        d["size"].as_u64().unwrap().abs_diff(original.len() as u64) < 64_000,
        "{d}"
    );
    assert_eq!(clip_view["metadata_removed"], true);

    // Ana posts both; Bob's node receives the post by gossip.
    let post = a
        .http
        .post(
            "/api/v1/publish",
            Some(&ana.token),
            &json!({"kind": "post", "payload": {
                "text": "El refugio hoy 🐶",
                "media": [photo_view["descriptor"], clip_view["descriptor"]],
            }}),
        )
        .await
        .expect(201);
    let id = post.body["event"]["id"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(30), "B receives the post", || {
        let has = b.has(&id);
        async move { has }
    })
    .await;

    // Without the pin_followed policy B fetches the thumbnails ahead (not
    // the files): the feed shows them at once.
    let thumb: cid::Cid = photo_view["descriptor"]["thumbs"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    eventually(
        Duration::from_secs(30),
        "B fetches the photo's thumbnail",
        || {
            let ipfs = b.node.ipfs().clone();
            async move { ipfs.repo().contains(&thumb).await.unwrap() }
        },
    )
    .await;
    let photo_root: cid::Cid = photo_cid.parse().unwrap();
    assert!(!b.node.ipfs().repo().contains(&photo_root).await.unwrap());

    // B serves the files, fetched from A over bitswap.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    // What A stored: the upload without its container metadata.
    let (_, _, clip) = bytes(&client, &format!("{}/ipfs/{clip_cid}", a.url), None).await;
    assert_eq!(d["size"].as_u64(), Some(clip.len() as u64));
    let (status, headers, body) = bytes(
        &client,
        &format!("{}/ipfs/{clip_cid}", b.url),
        Some("bytes=20000000-20999999"),
    )
    .await;
    assert_eq!(status, 206);
    assert_eq!(body, clip[20_000_000..21_000_000]);
    assert_eq!(
        headers["content-range"].to_str().unwrap(),
        format!("bytes 20000000-20999999/{}", clip.len())
    );
    assert_eq!(headers["content-type"], "video/mp4");
    assert_eq!(headers["etag"].to_str().unwrap(), format!("\"{clip_cid}\""));
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let (status, _, whole) = bytes(&client, &format!("{}/ipfs/{clip_cid}", b.url), None).await;
    assert_eq!(status, 200);
    assert!(whole == clip, "B serves the whole video byte for byte");

    let (status, headers, served) =
        bytes(&client, &format!("{}/ipfs/{photo_cid}", b.url), None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert!(
        !served.windows(6).any(|w| w == b"Exif\0\0"),
        "EXIF stripped"
    );
    assert!(
        !served.windows(4).any(|w| w == b"II\x2a\x00"),
        "no TIFF block left"
    );
    let (_, _, from_a) = bytes(&client, &format!("{}/ipfs/{photo_cid}", a.url), None).await;
    assert_eq!(served, from_a);

    // Conditional and out-of-range requests.
    let r = client
        .get(format!("{}/ipfs/{photo_cid}", b.url))
        .header("if-none-match", format!("\"{photo_cid}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);
    let (status, headers, _) = bytes(
        &client,
        &format!("{}/ipfs/{photo_cid}", b.url),
        Some(&format!("bytes={}-", served.len())),
    )
    .await;
    assert_eq!(status, 416);
    assert_eq!(
        headers["content-range"].to_str().unwrap(),
        format!("bytes */{}", served.len())
    );

    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_uploads_are_refused_and_leave_nothing() {
    let n = TestNode::start(0, |_| {}).await;
    let ana = n.http.register("ana").await;
    let dir = tempfile::tempdir().unwrap();
    let photo = photo_with_gps(dir.path());

    // A zip claimed as a JPEG: the type is read from the bytes.
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend(vec![0u8; 4096]);
    let r = n
        .http
        .send_raw(
            "POST",
            "/api/v1/media",
            Some(&ana.token),
            Some("image/jpeg"),
            zip,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (415, "unsupported_type"),
        "{}",
        r.raw
    );

    // HTML is never accepted (it would be a script on the gateway's origin).
    let r = upload(
        &n,
        &ana.token,
        b"<!doctype html><script>alert(1)</script>".to_vec(),
    )
    .await;
    assert_eq!(r.status.as_u16(), 415, "{}", r.raw);

    // A truncated JPEG.
    let r = upload(&n, &ana.token, photo[..photo.len() / 2].to_vec()).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "corrupt"), "{}", r.raw);

    // A PNG whose header claims 100,000 × 100,000 pixels.
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    png.extend(100_000u32.to_be_bytes());
    png.extend(100_000u32.to_be_bytes());
    png.extend([8, 6, 0, 0, 0]);
    let crc = crc32(&png[12..]);
    png.extend(crc.to_be_bytes());
    // A bomb carries a little compressed data that would inflate to
    // 40 GB of pixels.
    let mut idat = b"IDAT".to_vec();
    idat.extend(b"\x78\x9c\x03\x00\x00\x00\x00\x01");
    png.extend(((idat.len() - 4) as u32).to_be_bytes());
    png.extend(&idat);
    png.extend(crc32(&idat).to_be_bytes());
    png.extend(b"\x00\x00\x00\x00IEND\xaeB`\x82");
    let r = upload(&n, &ana.token, png).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (422, "too_many_pixels"),
        "{}",
        r.raw
    );

    // An empty body, and no token.
    assert_eq!(
        upload(&n, &ana.token, Vec::new()).await.status.as_u16(),
        400
    );
    assert_eq!(upload(&n, "", photo.clone()).await.status.as_u16(), 401);

    // Path traversal in /ipfs/<cid>/<path>.
    let r = upload(&n, &ana.token, photo).await.expect(201);
    let cid = r.body["cid"].as_str().unwrap();
    for path in ["../../etc/passwd", "a/%2e%2e/b", "a//b"] {
        let r = n.http.get(&format!("/ipfs/{cid}/{path}"), None).await;
        assert!(
            [400, 404].contains(&r.status.as_u16()) && !r.code().is_empty(),
            "{path}: {} {}",
            r.status,
            r.raw
        );
    }
    let r = n.http.get("/ipfs/not-a-cid", None).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "bad_cid"));

    // Nothing half-stored: one upload record (the good photo), no files
    // left in the upload folder but the work file of queued processing.
    let pins = n
        .http
        .get("/api/v1/admin/media/pins", Some(&n.admin_token()))
        .await
        .expect(200);
    assert_eq!(
        pins.body["pins"].as_array().unwrap().len(),
        1,
        "{}",
        pins.raw
    );
    let leftovers: Vec<_> = std::fs::read_dir(n.dir.path().join("media/work"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("upload-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_over_the_limit_are_refused() {
    let n = TestNode::start_with(0, |c| c.media.image_max_mb = 1).await;
    let ana = n.http.register("ana").await;
    // 2 MB that start like a PNG: refused by size before any decoding.
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.resize(2_000_000, 0);
    let r = upload(&n, &ana.token, big).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (413, "too_large"),
        "{}",
        r.raw
    );
    let pins = n
        .http
        .get("/api/v1/admin/media/pins", Some(&n.admin_token()))
        .await
        .expect(200);
    assert!(pins.body["pins"].as_array().unwrap().is_empty());
    n.stop().await;
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG of noise (it does not compress: about 900 kB).
fn noise_png(dir: &std::path::Path, seed: u32) -> Vec<u8> {
    let path = dir.join(format!("noise-{seed}.png"));
    // Noise does not compress; the height tells the images apart.
    let filter = format!(
        "nullsrc=s=640x{},geq=r='random(1)*255':g='random(1)*255':b='random(1)*255'",
        940 + seed * 2
    );
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &filter,
        "-frames:v",
        "1",
        path.to_str().unwrap(),
    ]);
    std::fs::read(&path).unwrap()
}

async fn pins(n: &TestNode) -> Vec<Value> {
    n.http
        .get("/api/v1/admin/media/pins", Some(&n.admin_token()))
        .await
        .expect(200)
        .body["pins"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn followed_media_is_pinned_within_the_quota_and_gc_frees_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let a = TestNode::start(1, |_| {}).await;
    let b = TestNode::start_with(1, |c| {
        c.media.pin_followed = true;
        c.media.followed_quota_mb = 1;
    })
    .await;
    b.node.connect(a.tcp_addr()).await.expect("B dials A");
    let ana = a.http.register("ana").await;
    let bob = b.http.register("bob").await;
    b.http.follow(&bob.token, &ana.identity).await;

    let mut cids = Vec::new();
    for seed in [1, 2] {
        let r = upload(&a, &ana.token, noise_png(dir.path(), seed))
            .await
            .expect(201);
        let cid = r.body["cid"].as_str().unwrap().to_string();
        let view = ready(&a, &cid).await;
        a.http
            .post(
                "/api/v1/publish",
                Some(&ana.token),
                &json!({"kind": "post", "payload": {"text": "ruido", "media": [view["descriptor"]]}}),
            )
            .await
            .expect(201);
        // B fetches and pins it as the post arrives.
        eventually(Duration::from_secs(60), "B pins the followed media", || {
            let (b, cid) = (&b, cid.clone());
            async move {
                pins(b)
                    .await
                    .iter()
                    .any(|p| p["cid"] == cid.as_str() && p["reason"] == "followed")
            }
        })
        .await;
        cids.push(cid);
    }
    // Two files of about 0.9 MB do not fit 1 MB: the older pin went.
    let held: Vec<String> = pins(&b)
        .await
        .iter()
        .map(|p| p["cid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        held,
        vec![cids[1].clone()],
        "only the newer pin is kept: {:?}",
        pins(&b).await
    );

    // Garbage collection removes the unpinned file's blocks, not the pinned one's.
    let first: cid::Cid = cids[0].parse().unwrap();
    let second: cid::Cid = cids[1].parse().unwrap();
    assert!(b.node.ipfs().repo().contains(&first).await.unwrap());
    let r = b
        .http
        .post("/api/v1/admin/media/gc", Some(&b.admin_token()), &json!({}))
        .await
        .expect(200);
    assert!(r.body["blocks"].as_u64().unwrap() >= 1, "{}", r.raw);
    assert!(!b.node.ipfs().repo().contains(&first).await.unwrap());
    assert!(b.node.ipfs().repo().contains(&second).await.unwrap());
    // Only the operator collects.
    let r = b
        .http
        .post("/api/v1/admin/media/gc", Some(&bob.token), &json!({}))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "admin_only"));

    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cid_nobody_has_times_out_cleanly() {
    let n = TestNode::start_with(0, |c| c.media.fetch_timeout_secs = 2).await;
    // A valid CID of bytes no node has.
    let cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    let started = std::time::Instant::now();
    let r = n.http.get(&format!("/ipfs/{cid}"), None).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (504, "media_unavailable"),
        "{}",
        r.raw
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multipart_uploads_directories_and_head() {
    let n = TestNode::start(0, |_| {}).await;
    let ana = n.http.register("ana").await;
    let dir = tempfile::tempdir().unwrap();
    let photo = photo_with_gps(dir.path());

    // A browser form: multipart/form-data with the file in a part.
    let boundary = "kithBoundary7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nhola\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"foto.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend(&photo);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = n
        .http
        .send_raw(
            "POST",
            "/api/v1/media",
            Some(&ana.token),
            Some(&format!("multipart/form-data; boundary={boundary}")),
            body,
        )
        .await
        .expect(201);
    assert_eq!(r.body["descriptor"]["mime"], "image/jpeg");
    assert_eq!(r.body["metadata_removed"], true);
    let cid = r.body["cid"].as_str().unwrap().to_string();
    // A form without a file part.
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nhola\r\n--{boundary}--\r\n"
    );
    let r = n
        .http
        .send_raw(
            "POST",
            "/api/v1/media",
            Some(&ana.token),
            Some(&format!("multipart/form-data; boundary={boundary}")),
            body.into_bytes(),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "no_file"), "{}", r.raw);

    // A UnixFS directory holding a file: /ipfs/<dir>/<name>.
    let file = dir.path().join("nota.txt");
    std::fs::write(&file, "hola desde un directorio").unwrap();
    let mut added = n.node.ipfs().add_unixfs(file).wrap().pin(true);
    let mut root = None;
    {
        use futures::StreamExt;
        while let Some(s) = added.next().await {
            if let rust_ipfs::unixfs::UnixfsStatus::CompletedStatus { path, .. } = s {
                root = path.root().cid().copied();
            }
        }
    }
    let root = root.expect("a directory CID");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = client
        .get(format!("{}/ipfs/{root}/nota.txt", n.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Not a media type: served as a download, never rendered.
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.headers()["content-disposition"], "attachment");
    assert_eq!(r.text().await.unwrap(), "hola desde un directorio");
    let r = n.http.get(&format!("/ipfs/{root}/otra.txt"), None).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (404, "not_found"),
        "{}",
        r.raw
    );
    let r = n.http.get(&format!("/ipfs/{root}"), None).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "is_directory"),
        "{}",
        r.raw
    );

    // HEAD: the headers, no body.
    let r = client
        .head(format!("{}/ipfs/{cid}", n.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    let len: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(len > 0 && len < photo.len());
    assert!(r.bytes().await.unwrap().is_empty());
    n.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_ffmpeg_video_is_stored_as_it_came() {
    let n = TestNode::start_with(0, |c| {
        c.media.ffmpeg = "/nonexistent/ffmpeg".into();
        c.media.ffprobe = "/nonexistent/ffprobe".into();
    })
    .await;
    let ana = n.http.register("ana").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corto.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=10",
        "-t",
        "1",
        "-pix_fmt",
        "yuv420p",
        path.to_str().unwrap(),
    ]);
    let clip = std::fs::read(&path).unwrap();
    let r = upload(&n, &ana.token, clip.clone()).await.expect(201);
    assert_eq!(r.headers["x-kith-warning"], "ffmpeg_missing");
    assert_eq!(r.body["warnings"], json!(["ffmpeg_missing"]));
    assert_eq!(r.body["status"], "ready");
    let d = &r.body["descriptor"];
    assert_eq!(d["mime"], "video/mp4");
    assert_eq!(d["size"].as_u64(), Some(clip.len() as u64));
    assert!(
        d.get("duration_ms").is_none() && d.get("width").is_none(),
        "{d}"
    );
    // The descriptor is still a valid one to post.
    n.http
        .post(
            "/api/v1/publish",
            Some(&ana.token),
            &json!({"kind": "post", "payload": {"text": "sin ffmpeg", "media": [d]}}),
        )
        .await
        .expect(201);
    // Served as it came.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (status, _, body) = bytes(
        &client,
        &format!("{}/ipfs/{}", n.url, r.body["cid"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(body == clip);
    n.stop().await;
}
