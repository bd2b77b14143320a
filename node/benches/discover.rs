//! Suggested people and creator analytics on the feed benchmark's store
//! (about 1,000,000 events: 2,000 authors following 20 others each, 700,000
//! tagged posts over 30 days, 260,000 reactions; the viewer follows 500).
//! Run `cargo bench -p kith-node --bench feed` once first to build it
//! under `target/kith-bench/feed-<posts>`; this bench only reads it.
//!
//! Measured on one thread, in a release build: `suggest::suggest` for the
//! viewer (500 follows sampled × up to 200 follows each, 5 hashtags × 200
//! posts), and `analytics::report` over 30 days for authors (about 350
//! posts each, with their reactions).
//!
//! ```text
//! cargo bench -p kith-node --bench discover
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use kith_node::analytics;
use kith_node::protocol::{Keypair, PublicKey};
use kith_node::storage::{Store, StoreConfig};
use kith_node::suggest::{self, Person};

/// The feed bench's keys.
fn key(i: usize) -> Keypair {
    let mut seed = [0x6bu8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Keypair::from_seed(&seed).expect("seed")
}

fn percentiles(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    format!("p50 {:.1} ms, p99 {:.1} ms", at(0.5), at(0.99))
}

fn main() -> anyhow::Result<()> {
    let posts: usize = std::env::var("KITH_BENCH_POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(700_000);
    let samples: usize = std::env::var("KITH_BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join(format!("kith-bench/feed-{posts}"));
    let Ok(now) = std::fs::read_to_string(dir.join("bench-now")) else {
        anyhow::bail!(
            "no store under {}: run `cargo bench -p kith-node --bench feed` first",
            dir.display()
        );
    };
    let now: u64 = now.trim().parse()?;
    let store = Store::open(StoreConfig::new(&dir))?;
    let reader = store.reader();
    let me = key(0).public();
    let mut follows: HashSet<PublicKey> = reader.follow_set(&me)?.into_iter().collect();
    follows.insert(me);
    let hidden = HashSet::new();
    let person = Person {
        me,
        follows: &follows,
        hidden: &hidden,
    };
    let limits = suggest::Limits::default();
    let found = suggest::suggest(reader, person, &limits, now, 20)?;
    eprintln!(
        "suggest: {} suggestions, best score {:.2}",
        found.len(),
        found.first().map_or(0.0, |s| s.score)
    );
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        std::hint::black_box(suggest::suggest(reader, person, &limits, now, 20)?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("suggest (500 follows): {}", percentiles(times));

    let stats_limits = analytics::Limits::default();
    let mut times = Vec::with_capacity(samples);
    let mut engagement = 0;
    for i in 0..samples {
        let who = key(1 + i % 1_999).public();
        let t = Instant::now();
        let r = analytics::report(reader, &who, 30, true, &stats_limits, now)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        engagement += r.totals.counts.reactions.total();
        std::hint::black_box(r);
    }
    println!(
        "stats (30 days, first read of each author, cold cache; {} reactions per author on average): {}",
        engagement / samples as u64,
        percentiles(times)
    );
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let who = key(1 + i % 1_999).public();
        let t = Instant::now();
        std::hint::black_box(analytics::report(
            reader,
            &who,
            365,
            true,
            &stats_limits,
            now,
        )?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("stats (365 days, warm): {}", percentiles(times));
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let who = key(1 + i % 1_999).public();
        let t = Instant::now();
        std::hint::black_box(analytics::report(
            reader,
            &who,
            30,
            true,
            &stats_limits,
            now,
        )?);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("stats (30 days, warm): {}", percentiles(times));
    Ok(())
}
