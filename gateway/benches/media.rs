//! Media benchmark (issue: media), release build, everything on loopback.
//!
//! 1. **Add**: a 500 MB H.264 video (made by ffmpeg, lossless noise so it
//!    does not shrink) added the way an upload is (`Media::add_file`: type
//!    from the bytes, ffprobe, metadata removed by a stream copy, UnixFS
//!    chunking and hashing into the on-disk block store, pinned), and the
//!    same file added to the block store alone (`add_unixfs`); each as MB/s
//!    and as a ratio to writing the same bytes to a file (with `fsync`) in
//!    the same run.
//! 2. **Bitswap**: node B fetches a 100 MB file that only node A has, over
//!    libp2p on 127.0.0.1, reading it through the same path the gateway
//!    serves from (blocks verified against their CIDs, 16 in flight).
//!    Target: at least 50 MB/s.
//! 3. **Range**: `GET /ipfs/<cid>` with `Range: bytes=a-b` (256 KiB at
//!    random offsets, what a player asks for when seeking) on the cached
//!    video through the gateway's HTTP: p50/p99/max latency to the last
//!    byte, one request at a time.
//!
//! ```text
//! cargo bench -p kith-gateway --bench media
//! KITH_BENCH_VIDEO_MB=100 KITH_BENCH_FETCH_MB=50 cargo bench -p kith-gateway --bench media   # smaller
//! ```
//!
//! Needs ffmpeg (tests/run installs it). Each step is bounded; the whole run
//! takes about two minutes on 2 cores.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use kith_node::node::{Node, StartOptions};
use serde_json::json;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A video of about `mb` MB: lossless noise at 640×360, 25 fps (about
/// 9 MB per second of video).
fn make_video(path: &Path, mb: u64) {
    let seconds = (mb as f64 / 9.0).max(1.0);
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-nostdin", "-f", "lavfi", "-i"])
        .arg("nullsrc=s=640x360:r=25,geq=lum='random(1)*255':cb=128:cr=128")
        .args(["-t", &format!("{seconds:.2}")])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "0",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(path)
        .status()
        .expect("ffmpeg runs (tests/run installs it)");
    assert!(status.success(), "ffmpeg made the video");
}

/// splitmix64 bytes: incompressible and deterministic.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

async fn start(dir: &Path) -> Arc<Node> {
    let mut config = common::config();
    // The made video lands a little over or under the size asked for.
    config.media.video_max_mb = 1_000;
    Arc::new(
        Box::pin(Node::start(dir, &config, StartOptions::default()))
            .await
            .unwrap(),
    )
}

async fn add_unixfs(node: &Node, path: &Path) -> cid::Cid {
    let mut s = node.ipfs().add_unixfs(path.to_path_buf()).pin(true);
    while let Some(status) = s.next().await {
        match status {
            rust_ipfs::unixfs::UnixfsStatus::CompletedStatus { path, .. } => {
                return *path.root().cid().unwrap();
            }
            rust_ipfs::unixfs::UnixfsStatus::FailedStatus { error, .. } => panic!("{error}"),
            _ => {}
        }
    }
    panic!("add ended without a CID");
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let video_mb = env_u64("KITH_BENCH_VIDEO_MB", 500);
    let fetch_mb = env_u64("KITH_BENCH_FETCH_MB", 100);
    let samples = env_u64("KITH_BENCH_RANGES", 300) as usize;
    let work = tempfile::tempdir().unwrap();

    // 1. Add.
    eprintln!("[1/3] making a {video_mb} MB video with ffmpeg");
    let video = work.path().join("video.mp4");
    make_video(&video, video_mb);
    let bytes = std::fs::read(&video).unwrap();
    let size_mb = bytes.len() as f64 / 1e6;

    let dir_a = tempfile::tempdir().unwrap();
    let a = start(dir_a.path()).await;
    // The reference: the same bytes written to a file on the same disk.
    let t = Instant::now();
    {
        let mut f = std::fs::File::create(work.path().join("reference")).unwrap();
        f.write_all(&bytes).unwrap();
        f.sync_all().unwrap();
    }
    let disk_s = t.elapsed().as_secs_f64();
    std::fs::remove_file(work.path().join("reference")).unwrap();

    // The block store alone.
    let t = Instant::now();
    let raw_cid = add_unixfs(&a, &video).await;
    let raw_s = t.elapsed().as_secs_f64();

    // The whole upload path (the gateway streams the body to a file in the
    // upload folder first; that copy is the reference's cost, not timed here).
    let upload = a.media().upload_dir().join("bench-upload");
    std::fs::copy(&video, &upload).unwrap();
    let owner = a.identity().public();
    let t = Instant::now();
    let record = a.media().add_file(&upload, &owner).await.unwrap();
    let upload_s = t.elapsed().as_secs_f64();
    drop(bytes);
    eprintln!(
        "  disk write {:.0} MB/s; block store add {:.0} MB/s; upload path {:.0} MB/s",
        size_mb / disk_s,
        size_mb / raw_s,
        size_mb / upload_s
    );

    // 2. Bitswap between two nodes.
    eprintln!("[2/3] bitswap fetch of {fetch_mb} MB");
    let payload = noise((fetch_mb * 1_000_000) as usize, 7);
    let fetch_file = work.path().join("fetch.bin");
    std::fs::write(&fetch_file, &payload).unwrap();
    let fetch_cid = add_unixfs(&a, &fetch_file).await;
    let dir_b = tempfile::tempdir().unwrap();
    let b = start(dir_b.path()).await;
    let a_addr = a
        .listen_addrs()
        .iter()
        .find(|m| m.to_string().contains("/tcp/"))
        .unwrap()
        .clone();
    b.connect(a_addr).await.unwrap();
    let t = Instant::now();
    let file = b.media().open(fetch_cid, &[], None).await.unwrap();
    let mut got = Vec::with_capacity(payload.len());
    let mut stream = std::pin::pin!(b.media().read(&file, 0..file.size));
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    let fetch_s = t.elapsed().as_secs_f64();
    assert!(got == payload, "B read A's bytes exactly");
    let fetch_rate = payload.len() as f64 / 1e6 / fetch_s;
    eprintln!("  {fetch_rate:.1} MB/s ({fetch_s:.2} s)");

    // 3. Range requests through the gateway.
    eprintln!("[3/3] {samples} range requests of 256 KiB on the cached video");
    let gw = kith_gateway::serve(a.clone(), &common::config().gateway)
        .await
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}/ipfs/{}", gw.url(), record.cid);
    let total = record.size;
    let mut lat = Vec::with_capacity(samples);
    let mut seed = 0x5eed_u64;
    for i in 0..samples + 20 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let start = (seed >> 11) % (total - 262_144);
        let t = Instant::now();
        let r = client
            .get(&url)
            .header("range", format!("bytes={start}-{}", start + 262_143))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 206);
        let body = r.bytes().await.unwrap();
        assert_eq!(body.len(), 262_144);
        if i >= 20 {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    lat.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&lat, 50.0),
        percentile(&lat, 99.0),
        lat[lat.len() - 1],
    );
    eprintln!("  p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms");

    println!(
        "kith media: {cores} cores; {size_mb:.0} MB video\n  \
         add (block store):  {:.0} MB/s = {:.2}× disk write ({:.0} MB/s)\n  \
         add (upload path):  {:.0} MB/s = {:.2}× disk write (probe, metadata strip, chunk, hash, store, pin)\n  \
         bitswap {fetch_mb} MB A→B:  {fetch_rate:.1} MB/s  target ≥ 50 MB/s {}\n  \
         range 256 KiB:      p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms ({samples} requests)",
        size_mb / raw_s,
        disk_s / raw_s,
        size_mb / disk_s,
        size_mb / upload_s,
        disk_s / upload_s,
        if fetch_rate >= 50.0 { "ok" } else { "MISSED" },
    );
    println!(
        "{}",
        json!({
            "bench": "kith-gateway/media", "cores": cores, "video_mb": size_mb,
            "disk_write_mb_s": size_mb / disk_s,
            "add_block_store_mb_s": size_mb / raw_s, "add_block_store_ratio": disk_s / raw_s,
            "add_upload_mb_s": size_mb / upload_s, "add_upload_ratio": disk_s / upload_s,
            "bitswap_mb": fetch_mb, "bitswap_mb_s": fetch_rate, "bitswap_ok": fetch_rate >= 50.0,
            "range_ms": {"p50": p50, "p99": p99, "max": max, "samples": samples},
            "raw_cid": raw_cid.to_string(),
        })
    );
    gw.stop().await;
    drop(b);
}
