//! Live fan-out benchmark: 1,000 WebSocket subscribers to `home`, each
//! following the publishing identity, and a stream of posts published over
//! HTTP; every post must reach every subscriber.
//!
//! Three processes, so that the gateway's memory is measured alone:
//!
//! 1. **setup** (child, skipped when a cached directory is reused): starts a
//!    node and its gateway, registers the accounts over HTTP
//!    (`POST /api/v1/accounts`, argon2 and all), has each follow the node's
//!    identity (`PUT /api/v1/me/follows/{key}`), writes the session tokens to
//!    `<dir>/bench-accounts.json` and stops. Registration happens here so
//!    that the argon2 buffers it frees do not sit in the measured process's
//!    heap, where later allocations would reuse them unseen.
//! 2. **gateway** (this process): starts the node and the gateway on that
//!    directory and reads its own `VmRSS`/`RssAnon` when idle, when every
//!    subscriber is subscribed, and after the posts went out.
//! 3. **clients** (child): opens the connections (`Authorization` header on
//!    the upgrade, then `{"op":"subscribe","sub":"h","stream":"home"}`),
//!    reports when all are subscribed, waits for the go, then publishes
//!    `POST /api/v1/publish` with the admin token (the node's identity) at a
//!    fixed rate, and timestamps every event frame as it arrives. Latency is
//!    from the start of the publish request to receipt (both processes read
//!    the same wall clock), and also from the event's `created_at`.
//!
//! ```text
//! cargo bench -p kith-gateway --bench live_fanout
//! KITH_BENCH_CACHE=1 cargo bench -p kith-gateway --bench live_fanout     # keep/reuse the accounts under target/
//! KITH_BENCH_SUBSCRIBERS=200 KITH_BENCH_ACCOUNTS=50 cargo bench -p kith-gateway --bench live_fanout
//! KITH_BENCH_CLIENT_READ_BUF=4096 cargo bench -p kith-gateway --bench live_fanout   # smaller client read buffers
//! ```
//!
//! Bounded: connection and subscription timeouts, a fixed number of posts,
//! and at most 30 s of waiting for deliveries after the last publish.
//! Loopback only; the node has mdns off and no bootstrap peers.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

mod common;

use common::config;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use kith_node::node::{Node, StartOptions};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const ROLE: &str = "KITH_FANOUT_ROLE";
const DIR: &str = "KITH_FANOUT_DIR";
const URL: &str = "KITH_FANOUT_URL";
const ACCOUNTS_FILE: &str = "bench-accounts.json";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `VmRSS` and `RssAnon` of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

/// Soft and hard limits on open files.
fn nofile() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            (
                v.first().copied().unwrap_or(0),
                v.get(1).copied().unwrap_or(0),
            )
        })
        .unwrap_or((0, 0))
}

/// Raises the soft open-file limit to the hard one (with util-linux
/// `prlimit`, inherited by the children) when `need` is above it.
fn ensure_fds(need: u64) -> anyhow::Result<()> {
    let (soft, hard) = nofile();
    if soft >= need {
        return Ok(());
    }
    let _ = Command::new("prlimit")
        .arg("--pid")
        .arg(std::process::id().to_string())
        .arg(format!("--nofile={hard}:{hard}"))
        .status();
    let (soft, _) = nofile();
    anyhow::ensure!(
        soft >= need,
        "open-file limit {soft} is below the {need} this bench needs; raise it (ulimit -n {need})"
    );
    Ok(())
}

async fn start(dir: &Path) -> anyhow::Result<(Arc<Node>, kith_gateway::RunningGateway)> {
    let config = config();
    let node = Arc::new(
        Node::start(
            dir,
            &config,
            StartOptions {
                memory_blocks: true,
                sync_on_connect: false,
            },
        )
        .await?,
    );
    let gateway = kith_gateway::serve(node.clone(), &config.gateway).await?;
    Ok((node, gateway))
}

async fn stop(node: Arc<Node>, gateway: kith_gateway::RunningGateway) -> anyhow::Result<()> {
    gateway.stop().await;
    match Arc::try_unwrap(node) {
        Ok(node) => node.shutdown().await?,
        Err(_) => eprintln!("      (node still shared at the end; not shut down cleanly)"),
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ------------------------------------------------------------------ setup

fn setup_role(dir: &Path, accounts: usize) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let t0 = Instant::now();
        let (node, gateway) = start(dir).await?;
        let base = gateway.url();
        let me = node.identity().public().to_string();
        let client = reqwest::Client::new();
        let done = Arc::new(AtomicU64::new(0));
        let results: Vec<anyhow::Result<String>> = futures::stream::iter(0..accounts)
            .map(|i| {
                let (client, base, me, done) =
                    (client.clone(), base.clone(), me.clone(), done.clone());
                async move {
                    let r: Value = client
                        .post(format!("{base}/api/v1/accounts"))
                        .json(&json!({"username": format!("fan{i:05}"), "password": format!("password-{i:05}")}))
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await?;
                    let token = r["token"]
                        .as_str()
                        .ok_or_else(|| anyhow::anyhow!("no token in {r}"))?
                        .to_string();
                    client
                        .put(format!("{base}/api/v1/me/follows/{me}"))
                        .bearer_auth(&token)
                        .send()
                        .await?
                        .error_for_status()?;
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n % 100 == 0 {
                        eprintln!("      {n} accounts registered and following");
                    }
                    anyhow::Ok(token)
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        let tokens: Vec<String> = results.into_iter().collect::<anyhow::Result<_>>()?;
        std::fs::write(
            dir.join(ACCOUNTS_FILE),
            serde_json::to_vec(&json!({ "tokens": tokens }))?,
        )?;
        eprintln!(
            "      {} accounts in {:.1} s",
            tokens.len(),
            t0.elapsed().as_secs_f64()
        );
        stop(node, gateway).await
    })
}

// ---------------------------------------------------------------- clients

/// One subscriber's connection, up to subscribed.
async fn subscribe(
    url: &str,
    token: &str,
) -> anyhow::Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
> {
    let ws_url = url.replacen("http://", "ws://", 1);
    let mut req = format!("{ws_url}/api/v1/live").into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    // KITH_BENCH_CLIENT_READ_BUF sets the clients' tungstenite read buffer
    // (default 128 KiB, zero-filled on every read), to compare its share of
    // the memory per connection.
    let config = std::env::var("KITH_BENCH_CLIENT_READ_BUF")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|n| {
            tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(n)
        });
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, config, true).await?;
    let expect = |ws_msg: Option<Result<Message, _>>, ty: &str| -> anyhow::Result<()> {
        match ws_msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                anyhow::ensure!(v["type"] == ty, "expected {ty}, got {v}");
                Ok(())
            }
            other => anyhow::bail!("expected {ty}, got {other:?}"),
        }
    };
    expect(ws.next().await, "ready")?;
    ws.send(Message::text(
        r#"{"op":"subscribe","sub":"h","stream":"home"}"#,
    ))
    .await?;
    expect(ws.next().await, "subscribed")?;
    Ok(ws)
}

/// The event id in an event frame, found without parsing the whole frame
/// (the frame's keys are sorted: `"event":{"id":"…"` comes first).
fn event_id(text: &str) -> Option<&str> {
    if !text.contains(r#""type":"event""#) {
        return None;
    }
    let start = text.find(r#""id":""#)? + 6;
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

fn clients_role(dir: &Path, url: &str) -> anyhow::Result<()> {
    let subscribers = env_usize("KITH_BENCH_SUBSCRIBERS", 1_000);
    let posts = env_usize("KITH_BENCH_POSTS", 50);
    let rate = env_usize("KITH_BENCH_RATE", 10).max(1);
    let tokens: Vec<String> = {
        let v: Value = serde_json::from_slice(&std::fs::read(dir.join(ACCOUNTS_FILE))?)?;
        serde_json::from_value(v["tokens"].clone())?
    };
    anyhow::ensure!(!tokens.is_empty(), "no accounts");
    let admin = kith_gateway::read_admin_token(dir)?.to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let t0 = Instant::now();
        let (rss0, anon0) = rss_kib();
        let received = Arc::new(AtomicU64::new(0));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let opened: Vec<anyhow::Result<_>> = futures::stream::iter(0..subscribers)
            .map(|i| {
                let (url, token) = (url.to_string(), tokens[i % tokens.len()].clone());
                async move {
                    tokio::time::timeout(Duration::from_secs(30), subscribe(&url, &token))
                        .await
                        .map_err(|_| anyhow::anyhow!("subscription timed out"))?
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        let mut failures = Vec::new();
        let mut readers = Vec::new();
        for ws in opened {
            match ws {
                Err(e) => failures.push(e.to_string()),
                Ok(mut ws) => {
                    let (received, mut stop) = (received.clone(), stop_rx.clone());
                    readers.push(tokio::spawn(async move {
                        let mut got: Vec<(String, u64)> = Vec::with_capacity(posts);
                        let mut other = 0u64;
                        loop {
                            tokio::select! {
                                _ = stop.changed() => break,
                                m = ws.next() => match m {
                                    Some(Ok(Message::Text(t))) => {
                                        let at = now_us();
                                        match event_id(t.as_str()) {
                                            Some(id) => {
                                                got.push((id.to_string(), at));
                                                received.fetch_add(1, Ordering::Relaxed);
                                            }
                                            None => other += 1,
                                        }
                                    }
                                    Some(Ok(_)) => {}
                                    _ => break,
                                }
                            }
                        }
                        let _ = ws.close(None).await;
                        (got, other)
                    }));
                }
            }
        }
        let setup_s = t0.elapsed().as_secs_f64();
        let (rss1, anon1) = rss_kib();
        println!(
            "SUBSCRIBED {} {} {setup_s:.3}",
            readers.len(),
            failures.len()
        );
        std::io::stdout().flush()?;
        if !failures.is_empty() {
            eprintln!("      first failure: {}", failures[0]);
        }
        // Wait for the go (the gateway process reads its memory meanwhile).
        let go = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await??;
        anyhow::ensure!(go.trim() == "GO", "expected GO, got {go:?}");

        // Publish at a fixed rate, each publish in its own task.
        let client = reqwest::Client::new();
        let period = Duration::from_nanos(1_000_000_000 / rate as u64);
        let start = tokio::time::Instant::now() + Duration::from_millis(100);
        let mut pubs = Vec::with_capacity(posts);
        for k in 0..posts {
            tokio::time::sleep_until(start + period * k as u32).await;
            let (client, url, admin) = (client.clone(), url.to_string(), admin.clone());
            pubs.push(tokio::spawn(async move {
                let sent = now_us();
                let r: Value = client
                    .post(format!("{url}/api/v1/publish"))
                    .bearer_auth(&admin)
                    .json(&json!({"kind": "post", "payload": {"text": format!("live fan-out post {k} #kith")}}))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let answered = now_us();
                let id = r["event"]["id"].as_str().unwrap_or_default().to_string();
                let created = r["event"]["created_at"].as_u64().unwrap_or(0);
                anyhow::Ok((id, sent, created, answered))
            }));
        }
        let mut published = std::collections::HashMap::new();
        let mut publish_ms = Vec::new();
        let mut publish_errors = 0;
        for p in pubs {
            match p.await? {
                Ok((id, sent, created, answered)) => {
                    publish_ms.push((answered - sent) as f64 / 1000.0);
                    published.insert(id, (sent, created));
                }
                Err(e) => {
                    publish_errors += 1;
                    eprintln!("      publish failed: {e}");
                }
            }
        }
        let expected = (readers.len() * published.len()) as u64;
        let deadline = Instant::now() + Duration::from_secs(30);
        while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let waited_after_last_publish = start.elapsed().as_secs_f64();
        // Tell the gateway process (which reads its CPU and memory now, with
        // every connection still open), then close.
        println!("DELIVERED {}", received.load(Ordering::Relaxed));
        std::io::stdout().flush()?;
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await??;
        let _ = stop_tx.send(true);

        let (mut from_start, mut from_created) = (Vec::new(), Vec::new());
        let (mut unknown, mut other, mut duplicates, mut complete_subs) = (0u64, 0u64, 0u64, 0usize);
        for r in readers {
            let (got, o) = r.await?;
            other += o;
            let mut seen = std::collections::HashSet::new();
            for (id, at) in got {
                if !seen.insert(id.clone()) {
                    duplicates += 1;
                    continue;
                }
                match published.get(&id) {
                    Some(&(sent, created)) => {
                        from_start.push(at.saturating_sub(sent) as f64 / 1000.0);
                        from_created.push(at as f64 / 1000.0 - created as f64);
                    }
                    None => unknown += 1,
                }
            }
            if published.keys().all(|id| seen.contains(id)) {
                complete_subs += 1;
            }
        }
        from_start.sort_by(f64::total_cmp);
        from_created.sort_by(f64::total_cmp);
        publish_ms.sort_by(f64::total_cmp);
        let q = |v: &[f64]| {
            json!({"p50_ms": round3(percentile(v, 50.0)), "p95_ms": round3(percentile(v, 95.0)),
                   "p99_ms": round3(percentile(v, 99.0)), "max_ms": round3(v.last().copied().unwrap_or(f64::NAN))})
        };
        let result = json!({
            "subscribers": subscribers, "subscribed": subscribers - failures.len(), "failures": failures.len(),
            "accounts": tokens.len().min(subscribers), "posts": posts, "rate": rate,
            "published": published.len(), "publish_errors": publish_errors,
            "expected": expected, "delivered": from_start.len(), "duplicates": duplicates,
            "unknown": unknown, "other_frames": other, "complete_subscribers": complete_subs,
            "latency_from_publish_start": q(&from_start),
            "latency_from_created_at": q(&from_created),
            "publish_request": q(&publish_ms),
            "setup_s": round3(setup_s), "publish_phase_s": round3(waited_after_last_publish),
            "client_rss_kib": [rss0, rss1], "client_anon_kib": [anon0, anon1],
        });
        println!("RESULT {result}");
        std::io::stdout().flush()?;
        anyhow::Ok(())
    })
}

// ---------------------------------------------------------------- gateway

/// CPU seconds (user + system) of this process; USER_HZ is 100 on Linux.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

fn run_setup(dir: &Path, accounts: usize) -> anyhow::Result<()> {
    let status = Command::new(std::env::current_exe()?)
        .env(ROLE, "setup")
        .env(DIR, dir)
        .env("KITH_BENCH_ACCOUNTS", accounts.to_string())
        .stdin(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "setup failed: {status}");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let accounts_wanted = env_usize("KITH_BENCH_ACCOUNTS", 1_000);
    match std::env::var(ROLE).as_deref() {
        Ok("setup") => {
            return setup_role(Path::new(&std::env::var(DIR)?), accounts_wanted);
        }
        Ok("clients") => {
            return clients_role(Path::new(&std::env::var(DIR)?), &std::env::var(URL)?);
        }
        _ => {}
    }
    let subscribers = env_usize("KITH_BENCH_SUBSCRIBERS", 1_000);
    let posts = env_usize("KITH_BENCH_POSTS", 50);
    let rate = env_usize("KITH_BENCH_RATE", 10);
    let accounts = accounts_wanted.min(subscribers).max(1);
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    ensure_fds(subscribers as u64 + 512)?;

    let tmp;
    let dir = if env_flag("KITH_BENCH_CACHE") {
        let dir = target_dir()
            .join("kith-bench")
            .join(format!("live_fanout-{accounts}a"));
        if dir.join(ACCOUNTS_FILE).exists() {
            eprintln!("[1/3] reusing {} accounts in {}", accounts, dir.display());
        } else {
            eprintln!(
                "[1/3] registering {accounts} accounts in {} (kept)",
                dir.display()
            );
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            run_setup(&dir, accounts)?;
        }
        dir
    } else {
        tmp = tempfile::tempdir()?;
        eprintln!("[1/3] registering {accounts} accounts (setup process)");
        run_setup(tmp.path(), accounts)?;
        tmp.path().to_path_buf()
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        eprintln!("[2/3] starting the node and the gateway");
        let (node, gateway) = start(&dir).await?;
        let http = gateway.url();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (rss_idle, anon_idle) = rss_kib();

        eprintln!("[3/3] {subscribers} subscribers (client process), then {posts} posts at {rate}/s");
        let mut child = Command::new(std::env::current_exe()?)
            .env(ROLE, "clients")
            .env(DIR, &dir)
            .env(URL, &http)
            .env("KITH_BENCH_SUBSCRIBERS", subscribers.to_string())
            .env("KITH_BENCH_POSTS", posts.to_string())
            .env("KITH_BENCH_RATE", rate.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().expect("stdin");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let next_line = |mut lines: std::io::Lines<BufReader<std::process::ChildStdout>>| {
            tokio::task::spawn_blocking(move || {
                let line = lines.next().transpose();
                (line, lines)
            })
        };
        let (line, rest) = next_line(lines).await?;
        lines = rest;
        let line = line?.ok_or_else(|| anyhow::anyhow!("the client process ended early"))?;
        let sub: Vec<&str> = line
            .strip_prefix("SUBSCRIBED ")
            .ok_or_else(|| anyhow::anyhow!("unexpected line from clients: {line}"))?
            .split_whitespace()
            .collect();
        let subscribed: usize = sub.first().and_then(|s| s.parse().ok()).unwrap_or(0);
        let subscribe_s: f64 = sub.get(2).and_then(|s| s.parse().ok()).unwrap_or(f64::NAN);
        // Let the server settle, then read its memory with every subscriber in.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (rss_subs, anon_subs) = rss_kib();
        let cpu_go = cpu_secs();
        writeln!(stdin, "GO")?;
        stdin.flush()?;
        let (line, rest) = next_line(lines).await?;
        lines = rest;
        let line = line?.ok_or_else(|| anyhow::anyhow!("the client process ended early"))?;
        anyhow::ensure!(line.starts_with("DELIVERED "), "unexpected line from clients: {line}");
        let server_cpu = cpu_secs() - cpu_go;
        let (rss_after, anon_after) = rss_kib();
        writeln!(stdin, "CLOSE")?;
        stdin.flush()?;
        let (line, _) = next_line(lines).await?;
        let line = line?.ok_or_else(|| anyhow::anyhow!("the client process ended early"))?;
        let result: Value = serde_json::from_str(
            line.strip_prefix("RESULT ")
                .ok_or_else(|| anyhow::anyhow!("unexpected line from clients: {line}"))?,
        )?;
        let status = tokio::task::spawn_blocking(move || child.wait()).await??;
        anyhow::ensure!(status.success(), "client process: {status}");
        stop(node, gateway).await?;

        let per_conn = |a: u64, b: u64| (b as f64 - a as f64) / subscribed.max(1) as f64;
        let expected = result["expected"].as_u64().unwrap_or(0);
        let delivered = result["delivered"].as_u64().unwrap_or(0);
        let full = posts as u64 * subscribers as u64;
        let lat = &result["latency_from_publish_start"];
        let lc = &result["latency_from_created_at"];
        let pr = &result["publish_request"];
        let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
        let ok = delivered == full && expected == full;
        println!(
            "kith gateway live_fanout: {subscribers} subscribers ({accounts} accounts), {posts} posts at {rate}/s, {cores} cores"
        );
        println!("  subscribed                         {subscribed} of {subscribers} in {subscribe_s:.1} s");
        println!(
            "  deliveries                         {delivered} of {full} ({:.2} %) {}; duplicates {}, complete subscribers {}",
            100.0 * delivered as f64 / full.max(1) as f64,
            if ok { "ok" } else { "MISSED" },
            result["duplicates"], result["complete_subscribers"]
        );
        println!("  {:<34} {:>8} {:>8} {:>8} {:>8}", "latency (ms)", "p50", "p95", "p99", "max");
        for (name, v) in [("publish start -> receipt", lat), ("created_at -> receipt", lc), ("publish request (HTTP)", pr)] {
            println!(
                "  {name:<34} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                f(&v["p50_ms"]), f(&v["p95_ms"]), f(&v["p99_ms"]), f(&v["max_ms"])
            );
        }
        println!(
            "  gateway process RSS                idle {:.1} MiB, subscribed {:.1} MiB, after posts {:.1} MiB",
            rss_idle as f64 / 1024.0, rss_subs as f64 / 1024.0, rss_after as f64 / 1024.0
        );
        println!(
            "  per connection (server)            {:.1} KiB RSS ({:.1} KiB anon) subscribed; {:.1} KiB RSS after posts",
            per_conn(rss_idle, rss_subs), per_conn(anon_idle, anon_subs), per_conn(rss_idle, rss_after)
        );
        let phase = f(&result["publish_phase_s"]);
        println!(
            "  gateway CPU while publishing       {server_cpu:.2} s over {phase:.1} s ({:.0} % of a core), {:.1} us per delivery",
            100.0 * server_cpu / phase, server_cpu * 1e6 / delivered.max(1) as f64
        );
        let crss = &result["client_rss_kib"];
        println!(
            "  per connection (client process)    {:.1} KiB RSS (not counted above)",
            per_conn(crss[0].as_u64().unwrap_or(0), crss[1].as_u64().unwrap_or(0))
        );
        println!(
            "{}",
            json!({"bench": "kith-gateway/live_fanout", "cores": cores, "subscribers": subscribers,
                   "accounts": accounts, "subscribed": subscribed, "posts": posts, "rate": rate,
                   "expected": full, "delivered": delivered,
                   "delivered_ratio": round3(delivered as f64 / full.max(1) as f64),
                   "latency_from_publish_start": lat, "latency_from_created_at": lc,
                   "publish_request": pr, "subscribe_s": round3(subscribe_s),
                   "server_rss_kib": {"idle": rss_idle, "subscribed": rss_subs, "after": rss_after},
                   "server_anon_kib": {"idle": anon_idle, "subscribed": anon_subs, "after": anon_after},
                   "server_kib_per_connection": round3(per_conn(rss_idle, rss_subs)),
                   "server_anon_kib_per_connection": round3(per_conn(anon_idle, anon_subs)),
                   "server_kib_per_connection_after": round3(per_conn(rss_idle, rss_after)),
                   "server_cpu_s_publish_phase": round3(server_cpu),
                   "server_cpu_us_per_delivery": round3(server_cpu * 1e6 / delivered.max(1) as f64),
                   "client_rss_kib": crss, "ok": ok})
        );
        anyhow::Ok(())
    })
}
