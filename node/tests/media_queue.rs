//! The media processing queue survives a stop: a video whose processing
//! was cut short by the node stopping is processed when it starts again,
//! and its original and poster are read from the on-disk block store.
//!
//! To stop the node in the middle of processing on purpose, the first run
//! uses an `ffmpeg` wrapper that hangs when asked for a poster (and is
//! real ffmpeg otherwise); the second run uses real ffmpeg. Needs ffmpeg.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use common::eventually;
use futures::StreamExt;
use kith_node::media::Status;
use kith_node::node::{Node, StartOptions};

async fn start(dir: &std::path::Path, ffmpeg: &std::path::Path) -> Node {
    let mut config = common::config(0);
    config.media.ffmpeg = ffmpeg.to_path_buf();
    Node::start(
        dir,
        &config,
        StartOptions {
            memory_blocks: false,
            ..Default::default()
        },
    )
    .await
    .expect("node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processing_resumes_after_a_stop() {
    let tools = tempfile::tempdir().unwrap();
    let hanging = tools.path().join("ffmpeg");
    std::fs::write(
        &hanging,
        "#!/bin/sh\ncase \"$*\" in *poster.jpg*) exec sleep 600 ;; esac\nexec ffmpeg \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&hanging, std::fs::Permissions::from_mode(0o755)).unwrap();
    let clip = tools.path().join("clip.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=10",
        ])
        .args(["-t", "2", "-pix_fmt", "yuv420p"])
        .arg(&clip)
        .status()
        .expect("ffmpeg runs (tests/run installs it)");
    assert!(made.success());

    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), &hanging).await;
    let upload = node.media().upload_dir().join("upload-test");
    std::fs::copy(&clip, &upload).unwrap();
    let owner = node.identity().public();
    let record = node.media().add_file(&upload, &owner).await.unwrap();
    let cid = record.cid.clone();
    eventually(Duration::from_secs(30), "processing starts", || {
        let status = node.media().record(&cid).unwrap().unwrap().status;
        async move { status == Status::Processing }
    })
    .await;
    node.shutdown().await.unwrap();

    // Started again with a working ffmpeg: the job left in the queue runs.
    let node = start(dir.path(), std::path::Path::new("ffmpeg")).await;
    eventually(Duration::from_secs(60), "processing ends", || {
        let status = node.media().record(&cid).unwrap().unwrap().status;
        async move { status != Status::Processing && status != Status::Queued }
    })
    .await;
    let record = node.media().record(&cid).unwrap().unwrap();
    assert_eq!(record.status, Status::Ready, "{record:?}");
    let poster = record
        .thumbs
        .iter()
        .find(|t| t.name == "poster")
        .expect("a poster");
    // The poster and the original are in the block store, whole.
    for (cid, size) in [(&poster.cid, poster.size), (&record.cid, record.size)] {
        let file = node
            .media()
            .open(cid.parse().unwrap(), &[], None)
            .await
            .unwrap();
        let mut read = 0u64;
        let mut bytes = std::pin::pin!(node.media().read(&file, 0..file.size));
        while let Some(chunk) = bytes.next().await {
            read += chunk.unwrap().len() as u64;
        }
        assert_eq!(read, size, "{cid}");
    }
    node.shutdown().await.unwrap();
}
