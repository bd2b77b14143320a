//! `kith media …`: upload a file with a progress bar and wait for its
//! processing; show an upload's status; the node's pins and garbage
//! collection (operator). `kith post --media FILE` uploads through here.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::Value;

use super::Ctx;

/// How long processing (a long video's renditions) may take before the CLI
/// stops waiting; the upload itself is kept and keeps processing.
const PROCESSING_WAIT: Duration = Duration::from_secs(30 * 60);

/// Media commands.
#[derive(Debug, Subcommand)]
pub(crate) enum MediaCommand {
    /// Upload a picture, clip or sound (its type is read from its bytes;
    /// pictures lose their EXIF/GPS metadata) and wait for its thumbnails
    /// and renditions.
    Add {
        /// The file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Return as soon as the file is stored, before processing ends.
        #[arg(long)]
        no_wait: bool,
    },
    /// An upload's processing status and descriptor.
    Status {
        /// The upload's CID.
        #[arg(value_name = "CID")]
        cid: String,
    },
    /// What the node pins: its people's uploads, then followed accounts'
    /// media (operator).
    Pins,
    /// Remove every block no pin holds (operator).
    Gc,
}

/// `kith media …`.
pub(crate) async fn run(ctx: &Ctx<'_>, command: &MediaCommand) -> anyhow::Result<()> {
    match command {
        MediaCommand::Add { file, no_wait } => {
            let view = upload(ctx, file, !no_wait).await?;
            if ctx.json {
                return ctx.print_json(&view);
            }
            say_view(ctx, &view)
        }
        MediaCommand::Status { cid } => {
            let view = ctx.client.get(&["api", "v1", "media", cid], &[]).await?;
            if ctx.json {
                return ctx.print_json(&view);
            }
            say_view(ctx, &view)
        }
        MediaCommand::Pins => {
            let list = ctx
                .client
                .get(&["api", "v1", "admin", "media", "pins"], &[])
                .await?;
            if ctx.json {
                return ctx.print_json(&list);
            }
            let pins = list["pins"].as_array().cloned().unwrap_or_default();
            for p in &pins {
                let reason = ctx.msg(
                    if p["reason"] == "followed" {
                        "media-pin-followed"
                    } else {
                        "media-pin-own"
                    },
                    &[],
                );
                ctx.say(&format!(
                    "{}  {:>12}  {}",
                    p["cid"].as_str().unwrap_or(""),
                    human_size(p["size"].as_u64().unwrap_or(0)),
                    reason
                ))?;
            }
            let n = pins.len().to_string();
            ctx.say(&ctx.msg("media-pins-total", &[("count", &n)]))
        }
        MediaCommand::Gc => {
            let r = ctx
                .client
                .call(
                    Method::POST,
                    &["api", "v1", "admin", "media", "gc"],
                    &[],
                    None,
                )
                .await?;
            if ctx.json {
                return ctx.print_json(&r);
            }
            let (blocks, unpinned) = (
                r["blocks"].as_u64().unwrap_or(0).to_string(),
                r["unpinned"].as_u64().unwrap_or(0).to_string(),
            );
            ctx.say(&ctx.msg(
                "media-gc-done",
                &[("blocks", &blocks), ("unpinned", &unpinned)],
            ))
        }
    }
}

fn say_view(ctx: &Ctx<'_>, view: &Value) -> anyhow::Result<()> {
    let d = &view["descriptor"];
    let mut line = format!(
        "{}  {}  {}",
        view["cid"].as_str().unwrap_or(""),
        d["mime"].as_str().unwrap_or(""),
        human_size(d["size"].as_u64().unwrap_or(0)),
    );
    if let (Some(w), Some(h)) = (d["width"].as_u64(), d["height"].as_u64()) {
        line.push_str(&format!("  {w}×{h}"));
    }
    if let Some(ms) = d["duration_ms"].as_u64() {
        line.push_str(&format!("  {}:{:02}", ms / 60_000, (ms / 1000) % 60));
    }
    line.push_str(&format!("  [{}]", view["status"].as_str().unwrap_or("")));
    ctx.say(&line)?;
    if view["metadata_removed"] == true {
        ctx.say(&ctx.msg("media-metadata-removed", &[]))?;
    }
    if let Some(e) = view["error"].as_str() {
        ctx.say(&ctx.msg("media-processing-failed", &[("error", e)]))?;
    }
    for w in view["warnings"].as_array().into_iter().flatten() {
        if w == "ffmpeg_missing" {
            ctx.say(&ctx.msg("media-ffmpeg-missing", &[]))?;
        }
    }
    Ok(())
}

fn human_size(n: u64) -> String {
    match n {
        n if n >= 1_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} kB", n as f64 / 1e3),
        n => format!("{n} B"),
    }
}

/// Uploads `file` (a progress bar on a terminal) and, with `wait`, polls
/// until processing ends; the API's view of the upload.
pub(crate) async fn upload(ctx: &Ctx<'_>, file: &Path, wait: bool) -> anyhow::Result<Value> {
    let size = tokio::fs::metadata(file)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
        .len();
    let bar = if ctx.json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        bar
    };
    let progress = bar.clone();
    let mut view = ctx.client.upload(file, move |n| progress.inc(n)).await?;
    bar.finish_and_clear();
    if !wait {
        return Ok(view);
    }
    let spinner = if ctx.json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let s = ProgressBar::new_spinner();
        s.enable_steady_tick(Duration::from_millis(100));
        s.set_message(ctx.msg("media-processing", &[]));
        s
    };
    let started = std::time::Instant::now();
    while matches!(view["status"].as_str(), Some("queued" | "processing"))
        && started.elapsed() < PROCESSING_WAIT
    {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cid = view["cid"].as_str().unwrap_or_default().to_string();
        view = ctx.client.get(&["api", "v1", "media", &cid], &[]).await?;
    }
    spinner.finish_and_clear();
    Ok(view)
}
