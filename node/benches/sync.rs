//! Sync benchmark: two real nodes on loopback holding 100,000 events with a
//! 1% difference reconcile (negentropy over /kith/sync/1, then fetch over
//! /kith/fetch/1, then verify and store), measured from the start of the
//! session until every missing event is stored.
//!
//! ```text
//! cargo bench -p kith-node --bench sync
//! KITH_BENCH_EVENTS=20000 cargo bench -p kith-node --bench sync
//! ```
//!
//! Targets (issue: node): under 2 s, and bytes on the wire under three times
//! the size of the missing events plus 64 KiB. Bytes are counted at the
//! application: every frame both ways on the sync stream and on the fetch
//! streams, length prefixes included (noise and yamux add 16 bytes per
//! encrypted frame and 12 per yamux frame on top).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use kith_node::config::Config;
use kith_node::node::{Node, StartOptions};
use kith_node::protocol::kinds::{Content, Follow, Post};
use kith_node::protocol::{Event, Keypair, Rel, UnsignedEvent};
use serde_json::json;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config() -> Config {
    let mut c = Config::default();
    c.network.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")];
    c.network.mdns = false;
    c.sync.interval_secs = 0;
    c
}

fn main() -> anyhow::Result<()> {
    let n = env_usize("KITH_BENCH_EVENTS", 100_000);
    let authors = env_usize("KITH_BENCH_AUTHORS", 100);
    let missing_every = 100; // 1%
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (da, db) = (tempfile::tempdir()?, tempfile::tempdir()?);
        // B does not sync by itself when A connects: the session is started
        // and timed here.
        let quiet = StartOptions {
            memory_blocks: true,
            sync_on_connect: false,
        };
        let a = Node::start(da.path(), &config(), quiet.clone()).await?;
        let b = Node::start(db.path(), &config(), quiet).await?;

        eprintln!("[1/3] signing {n} events by {authors} authors");
        let keys: Vec<Keypair> = (0..authors)
            .map(|_| Keypair::generate(&mut rand_core::OsRng))
            .collect();
        let base = kith_node::now_ms() - 30 * 86_400_000;
        let events: Vec<Event> = (0..n)
            .map(|i| {
                let k = &keys[i % authors];
                let text = format!("event {i}: some words about the day, #kith #sync {}", i * 7919 % 10007);
                UnsignedEvent::new(k.public(), base + i as u64 * 10, Post { content: Content::text(text) })
                    .sign(k)
                    .expect("sign")
            })
            .collect();

        eprintln!("[2/3] B follows the {authors} authors; A stores all, B all but 1%");
        let me = b.identity().public();
        for k in &keys {
            let follow = UnsignedEvent::new(me, kith_node::now_ms(), Follow {}).ref_identity(Rel::Subject, k.public());
            b.publish(follow).await?;
        }
        let (mut missing, mut for_b) = (Vec::new(), Vec::with_capacity(n));
        for (i, e) in events.iter().enumerate() {
            if i % missing_every == 37 {
                missing.push(e.clone());
            } else {
                for_b.push(e.clone());
            }
        }
        for chunk in events.chunks(8192) {
            a.store().ingest(chunk.to_vec()).await?;
        }
        for chunk in for_b.chunks(8192) {
            b.store().ingest(chunk.to_vec()).await?;
        }
        let missing_bytes: usize = missing.iter().map(|e| e.as_bytes().len()).sum();
        let all_there = |node: &Node| {
            missing
                .iter()
                .all(|e| node.store().reader().contains(&e.id()).unwrap_or(false))
        };

        eprintln!("[3/3] connecting, then one timed session");
        b.connect(a.listen_addrs()[0].clone()).await?;
        let start = Instant::now();
        let report = b.sync_with(a.peer_id()).await?;
        while !all_there(&b) && start.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let secs = start.elapsed().as_secs_f64();
        let complete = all_there(&b);
        let idle = b.sync_with(a.peer_id()).await?;

        let wire = report.sync_bytes + report.fetch_bytes;
        let budget = 3 * missing_bytes as u64 + 64 * 1024;
        let ok_time = complete && secs < 2.0;
        let ok_bytes = wire < budget;
        let mark = |ok: bool| if ok { "ok" } else { "MISSED" };
        println!("kith sync bench: {n} events, {} missing (1%), {cores} cores", missing.len());
        println!("  session until every missing event stored  {secs:.3} s   target < 2 s {}", mark(ok_time));
        println!("    reconciliation + fetch                  {:.3} s, {} rounds", report.elapsed.as_secs_f64(), report.rounds);
        println!("  missing events                            {} found, {} fetched, {missing_bytes} bytes", report.missing, report.fetched);
        println!("  bytes: sync {} + fetch {} = {wire}   target < {budget} (3x missing + 64 KiB) {}", report.sync_bytes, report.fetch_bytes, mark(ok_bytes));
        println!("  bytes / budget                            {:.3}", wire as f64 / budget as f64);
        println!("  bytes / missing event bytes               {:.3}", wire as f64 / missing_bytes.max(1) as f64);
        println!("  the same pair again (nothing to do)       {} rounds, {} bytes, {:.3} s", idle.rounds, idle.sync_bytes + idle.fetch_bytes, idle.elapsed.as_secs_f64());
        println!(
            "{}",
            json!({"bench": "kith-node/sync", "events": n, "missing": missing.len(), "cores": cores,
                   "session_s": secs, "complete": complete, "rounds": report.rounds,
                   "sync_bytes": report.sync_bytes, "fetch_bytes": report.fetch_bytes,
                   "missing_bytes": missing_bytes, "budget_bytes": budget,
                   "idle_rounds": idle.rounds, "idle_bytes": idle.sync_bytes + idle.fetch_bytes,
                   "ok": ok_time && ok_bytes})
        );
        a.shutdown().await?;
        b.shutdown().await?;
        anyhow::Ok(())
    })
}
