//! HTTP load benchmark: the home timeline under load, next to `/health`.
//!
//! A store of 100,000 posts by 2,000 authors; the node's own identity and a
//! hosted account (`bench`, made through the API, its follows published
//! through the API) follow 500 of them (every fourth author, so a quarter of
//! the posts are in their home timelines). The gateway serves it on loopback
//! with its rate limits raised out of the way, and `wrk` drives
//! `GET /api/v1/me/home?limit=50` (the account's session token) and
//! `GET /health`:
//!
//! 1. closed loop: `wrk -t2 -c64`, as fast as the server answers;
//! 2. paced: `wrk -t2 -c100` with a 50 ms think time per connection (a Lua
//!    `delay()`), about 2,000 requests/s offered; plain wrk, so latency is
//!    measured from each send (no coordinated-omission correction);
//! 3. fixed rate, open loop: an in-process generator (reqwest, its own
//!    one-thread runtime) starts one request every 0.5 ms whatever the
//!    answers do, and measures latency from each request's scheduled start,
//!    so a stall counts for every request it delays (wrk2-style).
//!
//! The target (p99 under 20 ms at 2,000 requests/s) is judged on pass 3,
//! both on a quiet store and while new posts by followed authors arrive
//! through the ingest pipeline (`KITH_BENCH_ARRIVALS` per second, default
//! 100), which makes each new event a render-cache miss. Last, the gateway
//! is restarted with its caches off (`cache_mib = 0`) and home is measured
//! again, closed loop and at the target rate, to show what they save.
//! Pass 3 also runs home at the rates in `KITH_BENCH_SWEEP` (default
//! 1000,1500; lower rates before the target rate), and between passes the
//! bench waits until the server is idle again, so work left queued by an
//! overloaded pass does not weigh on the next. Before the load, the handler's
//! stages (follow set, timeline walk, event reads, counts, JSON) are timed
//! one by one on one thread through the same public calls, and every pass
//! reports the gateway process's CPU time per request (`/proc/self/stat`,
//! the in-process generator's thread taken out).
//!
//! ```text
//! cargo bench -p kith-gateway --bench http_load
//! KITH_BENCH_CACHE=1 cargo bench -p kith-gateway --bench http_load   # keep/reuse the store under target/
//! KITH_BENCH_POSTS=20000 KITH_BENCH_SECS=5 cargo bench -p kith-gateway --bench http_load
//! ```
//!
//! Needs `wrk` on the PATH (Debian: `apt-get install -y wrk`); exits with a
//! message and status 2 without it. Everything is on 127.0.0.1, the node has
//! mdns off and no bootstrap peers, and every pass has a fixed duration.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

mod common;

use common::config;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kith_node::node::{Node, StartOptions};
use kith_node::protocol::kinds::{Content, Follow, Post};
use kith_node::protocol::{Event, Keypair, Rel, UnsignedEvent};
use kith_node::storage::{IngestOutcome, Store, StoreConfig};
use serde_json::{Value, json};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// splitmix64: a fixed, seedable spread of authors over posts.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn author_key(i: usize) -> Keypair {
    let mut seed = [0x4bu8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Keypair::from_seed(&seed).expect("seed")
}

#[derive(Debug, Clone, Copy)]
struct Shape {
    posts: usize,
    authors: usize,
    follows: usize,
}

const WORDS: [&str; 16] = [
    "morning", "market", "bread", "river", "train", "garden", "music", "rain", "coffee", "bicycle",
    "library", "harbour", "festival", "lunch", "story", "evening",
];

fn post_text(j: usize) -> String {
    let r = mix(j as u64 ^ 0x5eed);
    let n = 8 + (r % 24) as usize;
    let mut s = format!("post {j}:");
    for w in 0..n {
        s.push(' ');
        s.push_str(WORDS[((r >> (w % 60)) as usize + w) % WORDS.len()]);
    }
    if r.is_multiple_of(3) {
        s.push_str(" #kith");
    }
    s
}

/// Writes the store straight through `Store` (no network, no pipeline):
/// `follows` follow events signed by the node's identity, then `posts`
/// posts by `authors` authors signed on every core, ingested in groups of
/// 8192. Waits for the search index to catch up before closing, so the node
/// does not index during the measurement.
fn populate(dir: &Path, shape: Shape) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let (me, _) = kith_node::identity::load_or_create(dir)?;
    let keys: Vec<Keypair> = (0..shape.authors).map(author_key).collect();
    let step = (shape.authors / shape.follows.max(1)).max(1);
    let followed: Vec<usize> = (0..shape.authors)
        .step_by(step)
        .take(shape.follows)
        .collect();
    let now = kith_node::now_ms();
    let span = 30 * 86_400_000u64;
    let base = now - span - 60_000;
    let spacing = span / shape.posts.max(1) as u64;

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = shape.posts.div_ceil(threads);
    let mut posts: Vec<Event> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let keys = &keys;
                s.spawn(move || {
                    let lo = t * chunk;
                    let hi = ((t + 1) * chunk).min(shape.posts);
                    (lo..hi)
                        .map(|j| {
                            let k = &keys[(mix(j as u64) % shape.authors as u64) as usize];
                            UnsignedEvent::new(
                                k.public(),
                                base + j as u64 * spacing,
                                Post {
                                    content: Content::text(post_text(j)),
                                },
                            )
                            .sign(k)
                            .expect("sign")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let signed = t0.elapsed();
    let mut events: Vec<Event> = followed
        .iter()
        .map(|&i| {
            UnsignedEvent::new(me.public(), base - 1000, Follow {})
                .ref_identity(Rel::Subject, keys[i].public())
                .sign(&me)
                .expect("sign")
        })
        .collect();
    events.append(&mut posts);

    let store = Store::open(StoreConfig::new(dir))?;
    let mut stored = 0usize;
    for group in events.chunks(8192) {
        for o in store.ingest_blocking(group.to_vec())? {
            if matches!(o, IngestOutcome::Stored { .. }) {
                stored += 1;
            }
        }
    }
    anyhow::ensure!(
        stored == events.len(),
        "stored {stored} of {} events",
        events.len()
    );
    let last = store.last_seq()?;
    if let Some(search) = store.search_index() {
        anyhow::ensure!(
            search.wait_indexed(last, Duration::from_secs(600)),
            "search index did not catch up"
        );
    }
    let follow_count = store.follow_set(&me.public())?.len();
    anyhow::ensure!(follow_count == followed.len(), "follow set {follow_count}");
    drop(store);
    eprintln!(
        "      {} events stored in {:.1} s (signing {:.1} s on {threads} threads)",
        events.len(),
        t0.elapsed().as_secs_f64(),
        signed.as_secs_f64()
    );
    Ok(())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

/// The data directory: a fresh temporary one, or with `KITH_BENCH_CACHE`
/// one under `target/kith-bench/` kept between runs (rebuilt if it was not
/// completed).
fn data_dir(shape: Shape) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    if env_flag("KITH_BENCH_CACHE") {
        let dir = target_dir().join("kith-bench").join(format!(
            "http_load-{}p-{}a-{}f",
            shape.posts, shape.authors, shape.follows
        ));
        let done = dir.join("populated");
        if done.exists() {
            eprintln!("[1/4] reusing the store in {}", dir.display());
        } else {
            eprintln!("[1/4] building the store in {} (kept)", dir.display());
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            populate(&dir, shape)?;
            std::fs::write(&done, b"ok\n")?;
        }
        Ok((dir, None))
    } else {
        let tmp = tempfile::tempdir()?;
        eprintln!("[1/4] building the store in a temporary directory");
        populate(tmp.path(), shape)?;
        Ok((tmp.path().to_path_buf(), Some(tmp)))
    }
}

const WRK_LUA: &str = r#"
local pace = tonumber(os.getenv("KITH_WRK_DELAY_MS") or "0")
if pace > 0 then
  delay = function() return pace end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,'
    .. '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,'
    .. '"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
"#;

/// One pass's figures.
#[derive(Debug, Clone, Default)]
struct Pass {
    requests: u64,
    secs: f64,
    rps: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    errors: u64,
    bytes_per_response: f64,
    /// CPU time of the gateway process (load generator excluded) per answered request, µs.
    server_cpu_us: f64,
    /// CPU time of the in-process load generator per request, µs (fixed-rate passes).
    client_cpu_us: Option<f64>,
}

impl Pass {
    fn json(&self) -> Value {
        json!({"requests": self.requests, "secs": round3(self.secs), "rps": round3(self.rps),
               "p50_ms": round3(self.p50_ms), "p90_ms": round3(self.p90_ms),
               "p99_ms": round3(self.p99_ms), "p999_ms": round3(self.p999_ms),
               "max_ms": round3(self.max_ms), "errors": self.errors,
               "bytes_per_response": self.bytes_per_response.round(),
               "server_cpu_us_per_request": self.server_cpu_us.round(),
               "generator_cpu_us_per_request": self.client_cpu_us.map(f64::round)})
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

struct Wrk {
    script: PathBuf,
}

impl Wrk {
    /// Runs `wrk -t{threads} -c{conns} -d{secs}s` against `url`, with the
    /// bearer token if any and a per-connection delay if `delay_ms > 0`.
    fn run(
        &self,
        url: &str,
        token: Option<&str>,
        threads: usize,
        conns: usize,
        secs: u64,
        delay_ms: u64,
    ) -> anyhow::Result<Pass> {
        let mut cmd = Command::new("wrk");
        cmd.arg(format!("-t{threads}"))
            .arg(format!("-c{conns}"))
            .arg(format!("-d{secs}s"))
            .arg("--timeout")
            .arg("5s")
            .arg("-s")
            .arg(&self.script)
            .env("KITH_WRK_DELAY_MS", delay_ms.to_string());
        if let Some(t) = token {
            cmd.arg("-H").arg(format!("Authorization: Bearer {t}"));
        }
        cmd.arg(url);
        let cpu0 = cpu_secs("/proc/self/stat");
        let out = cmd.output()?;
        let cpu = cpu_secs("/proc/self/stat") - cpu0;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("WRKJSON "))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "wrk gave no figures: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })?;
        let v: Value = serde_json::from_str(line)?;
        let u = |k: &str| v[k].as_u64().unwrap_or(0);
        let ms = |k: &str| v[k].as_f64().unwrap_or(0.0) / 1000.0;
        let requests = u("requests");
        let secs = u("duration_us") as f64 / 1e6;
        Ok(Pass {
            requests,
            secs,
            rps: requests as f64 / secs.max(1e-9),
            p50_ms: ms("p50_us"),
            p90_ms: ms("p90_us"),
            p99_ms: ms("p99_us"),
            p999_ms: ms("p999_us"),
            max_ms: ms("max_us"),
            errors: u("connect_errors")
                + u("read_errors")
                + u("write_errors")
                + u("status_errors")
                + u("timeouts"),
            bytes_per_response: u("bytes") as f64 / requests.max(1) as f64,
            server_cpu_us: cpu * 1e6 / requests.max(1) as f64,
            client_cpu_us: None,
        })
    }
}

/// CPU seconds (user + system) from a `/proc/.../stat` file.
fn cpu_secs(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ")".
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based), 12 and 13 here; USER_HZ is 100 on Linux.
    (tick(11) + tick(12)) / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

/// Open-loop fixed-rate pass: request `i` is due at `start + i / rate`
/// whether or not earlier ones have answered; latency runs from the due
/// time to the end of the body. Runs on its own single-threaded runtime in
/// its own OS thread, like an outside load generator would; its CPU time is
/// taken out of the process's to give the server's.
fn fixed_rate(url: &str, token: Option<&str>, rate: u64, secs: u64) -> anyhow::Result<Pass> {
    let (url, token) = (url.to_string(), token.map(str::to_string));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (proc0, mine0) = (
            cpu_secs("/proc/self/stat"),
            cpu_secs("/proc/thread-self/stat"),
        );
        rt.block_on(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(4096)
                .timeout(Duration::from_secs(5))
                .build()?;
            let n = rate * secs;
            let period = Duration::from_nanos(1_000_000_000 / rate.max(1));
            let start = tokio::time::Instant::now() + Duration::from_millis(50);
            let mut tasks = Vec::with_capacity(n as usize);
            for i in 0..n {
                let due = start + period * i as u32;
                tokio::time::sleep_until(due).await;
                let mut req = client.get(&url);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                tasks.push(tokio::spawn(async move {
                    let ok = match req.send().await {
                        Ok(r) => {
                            let status = r.status();
                            match r.bytes().await {
                                Ok(b) if status.is_success() => Some(b.len()),
                                _ => None,
                            }
                        }
                        Err(_) => None,
                    };
                    (due.elapsed().as_secs_f64() * 1000.0, ok)
                }));
            }
            let mut lat = Vec::with_capacity(tasks.len());
            let (mut errors, mut bytes) = (0u64, 0u64);
            for t in tasks {
                let (ms, ok) = t.await?;
                match ok {
                    Some(b) => {
                        lat.push(ms);
                        bytes += b as u64;
                    }
                    None => errors += 1,
                }
            }
            let secs = start.elapsed().as_secs_f64();
            let mine = cpu_secs("/proc/thread-self/stat") - mine0;
            let server_cpu = (cpu_secs("/proc/self/stat") - proc0) - mine;
            lat.sort_by(f64::total_cmp);
            anyhow::Ok(Pass {
                requests: n,
                secs,
                rps: lat.len() as f64 / secs,
                p50_ms: percentile(&lat, 50.0),
                p90_ms: percentile(&lat, 90.0),
                p99_ms: percentile(&lat, 99.0),
                p999_ms: percentile(&lat, 99.9),
                max_ms: lat.last().copied().unwrap_or(f64::NAN),
                errors,
                bytes_per_response: bytes as f64 / lat.len().max(1) as f64,
                server_cpu_us: server_cpu * 1e6 / lat.len().max(1) as f64,
                client_cpu_us: Some(mine * 1e6 / n.max(1) as f64),
            })
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("load generator panicked"))?
}

/// Where one home request's work would go without the gateway's caches,
/// stage by stage, on one thread through the public calls the handler makes
/// (`gateway/src/api.rs` `home`): mean µs per request over `n` runs. The
/// stages marked "cached" are paid only on a cache miss (the graph after a
/// follow, an event the first time it is shown).
fn breakdown(node: &Node, n: usize) -> anyhow::Result<Vec<(&'static str, f64)>> {
    use kith_gateway::json::{EventPage, EventView};
    let reader = node.store().reader();
    let me = node.identity().public();
    let mut t = [Duration::ZERO; 6];
    let mut bytes = 0usize;
    for _ in 0..n {
        let s = Instant::now();
        let mut follows: std::collections::HashSet<_> =
            reader.follow_set(&me)?.into_iter().collect();
        follows.insert(me);
        t[0] += s.elapsed();
        let s = Instant::now();
        let mut hide = reader.blocked(&me)?;
        hide.extend(reader.muted(&me)?);
        follows.retain(|k| !hide.contains(k));
        t[1] += s.elapsed();
        let s = Instant::now();
        let page = reader.home_ids(&follows, None, 50)?;
        t[2] += s.elapsed();
        let ids = page.ids;
        let s = Instant::now();
        let mut events = Vec::with_capacity(ids.len());
        for id in &ids {
            events.extend(reader.get(id)?);
        }
        t[3] += s.elapsed();
        let s = Instant::now();
        let stats = reader.stats(&ids, Some(&me))?;
        t[4] += s.elapsed();
        let s = Instant::now();
        let body = serde_json::to_vec(&EventPage {
            items: events
                .iter()
                .zip(&stats)
                .map(|(e, st)| EventView::of(e).with_stats(st))
                .collect(),
            next: page.next.map(|c| c.to_string()),
            seq: 0,
        })?;
        bytes += body.len();
        t[5] += s.elapsed();
    }
    std::hint::black_box(bytes);
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    Ok(vec![
        ("follow_set (500 follows; cached)", us(t[0])),
        ("blocked + muted (cached)", us(t[1])),
        ("home_ids (index walk)", us(t[2])),
        ("50 x get (cached as rendered JSON)", us(t[3])),
        ("stats (50 ids)", us(t[4])),
        ("EventView + JSON (50 items; cached)", us(t[5])),
    ])
}

/// Waits until the gateway process is idle again (under 5 % of a core over
/// half a second), at most 60 s: requests a client gave up on may still be
/// running in the server and would weigh on the next pass.
async fn drain() {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let c0 = cpu_secs("/proc/self/stat");
        tokio::time::sleep(Duration::from_millis(500)).await;
        if cpu_secs("/proc/self/stat") - c0 < 0.025 {
            return;
        }
    }
    eprintln!("      (the server was still busy after 60 s)");
}

/// The indexes of the authors the node's identity follows (as `populate`
/// chose them).
fn followed(shape: Shape) -> Vec<usize> {
    let step = (shape.authors / shape.follows.max(1)).max(1);
    (0..shape.authors)
        .step_by(step)
        .take(shape.follows)
        .collect()
}

/// A hosted account (`bench`) that follows the same authors as the node's
/// identity, made through the API the first time: its session token.
async fn hosted_account(
    client: &reqwest::Client,
    base: &str,
    node: &Node,
    shape: Shape,
) -> anyhow::Result<String> {
    let creds = json!({ "username": "bench", "password": "bench-password-1" });
    let r = client
        .post(format!("{base}/api/v1/accounts"))
        .json(&creds)
        .send()
        .await?;
    let session: Value = if r.status().is_success() {
        r.json().await?
    } else {
        client
            .post(format!("{base}/api/v1/sessions"))
            .json(&creds)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?
    };
    let token = session["token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no token in {session}"))?
        .to_string();
    let me: kith_node::protocol::PublicKey = session["identity"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no identity in {session}"))?
        .parse()?;
    let have = node.store().follow_set(&me)?;
    for i in followed(shape) {
        let whom = author_key(i).public();
        if !have.contains(&whom) {
            client
                .put(format!("{base}/api/v1/me/follows/{}", whom.to_text()))
                .bearer_auth(&token)
                .json(&json!({}))
                .send()
                .await?
                .error_for_status()?;
        }
    }
    anyhow::ensure!(
        node.store().follow_set(&me)?.len() == shape.follows,
        "the hosted account follows {} authors",
        node.store().follow_set(&me)?.len()
    );
    Ok(token)
}

/// New posts by followed authors, `rate` per second for `secs` seconds,
/// through the node's ingest pipeline: how many were stored.
async fn arrivals(node: Arc<Node>, shape: Shape, rate: u64, secs: u64) -> usize {
    let keys: Vec<Keypair> = followed(shape).into_iter().map(author_key).collect();
    let period = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let mut tick = tokio::time::interval(period);
    let mut stored = 0;
    for j in 0..(rate * secs) as usize {
        tick.tick().await;
        let k = &keys[j % keys.len()];
        let post = UnsignedEvent::new(
            k.public(),
            kith_node::now_ms(),
            Post {
                content: Content::text(format!("arriving {j}: {}", post_text(j))),
            },
        )
        .sign(k)
        .expect("sign");
        let verdict = node
            .ingest()
            .submit(post.as_bytes().to_vec(), kith_node::ingest::Origin::Local)
            .await;
        if matches!(
            verdict,
            kith_node::ingest::Verdict::Store(IngestOutcome::Stored { .. })
        ) {
            stored += 1;
        }
    }
    stored
}

fn wrk_present() -> bool {
    match Command::new("wrk").arg("-v").output() {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

fn main() -> anyhow::Result<()> {
    if !wrk_present() {
        eprintln!(
            "http_load: `wrk` is not installed (or not on PATH). Install it, e.g. \
             `apt-get install -y wrk` on Debian, and run the bench again."
        );
        std::process::exit(2);
    }
    let shape = Shape {
        posts: env_usize("KITH_BENCH_POSTS", 100_000),
        authors: env_usize("KITH_BENCH_AUTHORS", 2_000),
        follows: env_usize("KITH_BENCH_FOLLOWS", 500),
    };
    let secs = env_usize("KITH_BENCH_SECS", 10) as u64;
    let conns = env_usize("KITH_BENCH_CONNECTIONS", 64);
    let rate = env_usize("KITH_BENCH_RATE", 2_000) as u64;
    let wrk_threads = env_usize("KITH_BENCH_WRK_THREADS", 2);
    // Paced pass: `paced_conns` connections each waiting 50 ms after every
    // answer offer at most rate requests/s.
    let delay_ms = 50u64;
    let paced_conns = (rate * delay_ms / 1000).max(1) as usize;
    // Extra fixed-rate passes on home, to find the highest rate that meets
    // the target on this machine.
    let sweep: Vec<u64> = std::env::var("KITH_BENCH_SWEEP")
        .unwrap_or_else(|_| "1000,1500".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .filter(|&r| r > 0)
        .collect();
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());

    let (dir, _tmp) = data_dir(shape)?;
    let script_dir = tempfile::tempdir()?;
    let wrk = Wrk {
        script: script_dir.path().join("kith.lua"),
    };
    std::fs::write(&wrk.script, WRK_LUA)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        eprintln!("[2/4] starting the node and the gateway");
        let config = config();
        let node = Arc::new(
            Node::start(
                &dir,
                &config,
                StartOptions {
                    memory_blocks: true,
                    sync_on_connect: false,
                },
            )
            .await?,
        );
        let gateway = kith_gateway::serve(node.clone(), &config.gateway).await?;
        let base = gateway.url();
        let client = reqwest::Client::new();
        let token = hosted_account(&client, &base, &node, shape).await?;
        let home_url = format!("{base}/api/v1/me/home?limit=50");
        let health_url = format!("{base}/health");

        // Sanity: the page is full and only has followed authors.
        let page: Value = client
            .get(&home_url)
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let items = page["items"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(items == 50, "home page has {items} items, expected 50");
        let me = node.identity().public();
        let follows = node.store().follow_set(&me)?;
        eprintln!(
            "      home page: {items} items, the identity follows {} of {} authors, {} events stored",
            follows.len(),
            shape.authors,
            node.store().last_seq()?
        );
        // What the node costs doing nothing (background tasks), over 3 s.
        let c0 = cpu_secs("/proc/self/stat");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let idle_cores = (cpu_secs("/proc/self/stat") - c0) / 3.0;
        // One request at a time, for the unloaded cost.
        let mut solo = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let r = client.get(&home_url).bearer_auth(&token).send().await?;
            let _ = r.bytes().await?;
            solo.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        solo.sort_by(f64::total_cmp);
        let solo_p50 = percentile(&solo, 50.0);
        let mut solo_h = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let r = client.get(&health_url).send().await?;
            let _ = r.bytes().await?;
            solo_h.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        solo_h.sort_by(f64::total_cmp);
        let solo_h_p50 = percentile(&solo_h, 50.0);

        eprintln!("[3/4] wrk: warm-up, closed loop (-t{wrk_threads} -c{conns}), paced (-c{paced_conns}, {delay_ms} ms think time), {secs} s each");
        // The stages first, on a quiet server.
        let stages = {
            let node = node.clone();
            tokio::task::spawn_blocking(move || breakdown(&node, 300)).await??
        };
        let run = |url: String, tok: Option<String>, c: usize, d: u64, delay: u64| {
            let script = wrk.script.clone();
            tokio::task::spawn_blocking(move || {
                Wrk { script }.run(&url, tok.as_deref(), wrk_threads, c, d, delay)
            })
        };
        run(health_url.clone(), None, 8, 2, 0).await??;
        run(home_url.clone(), Some(token.clone()), 8, 2, 0).await??;
        drain().await;
        let health_closed = run(health_url.clone(), None, conns, secs, 0).await??;
        drain().await;
        let home_closed = run(home_url.clone(), Some(token.clone()), conns, secs, 0).await??;
        drain().await;
        let health_paced = run(health_url.clone(), None, paced_conns, secs, delay_ms).await??;
        drain().await;
        let home_paced =
            run(home_url.clone(), Some(token.clone()), paced_conns, secs, delay_ms).await??;
        drain().await;

        eprintln!("[4/4] fixed rate, open loop: {rate} requests/s for {secs} s each");
        let fixed = |url: String, tok: Option<String>, r: u64| {
            tokio::task::spawn_blocking(move || fixed_rate(&url, tok.as_deref(), r, secs))
        };
        let health_fixed = fixed(health_url.clone(), None, rate).await??;
        drain().await;
        // Lower rates first: an overloaded pass leaves work queued in the
        // server after its client gave up, which would burden the next one.
        let mut swept = Vec::new();
        for &r in sweep.iter().filter(|&&r| r < rate) {
            eprintln!("      home at {r} requests/s");
            let p = fixed(home_url.clone(), Some(token.clone()), r).await??;
            swept.push((r, p));
            drain().await;
        }
        eprintln!("      home at {rate} requests/s");
        let home_fixed = fixed(home_url.clone(), Some(token.clone()), rate).await??;
        drain().await;
        for &r in sweep.iter().filter(|&&r| r > rate) {
            eprintln!("      home at {r} requests/s");
            let p = fixed(home_url.clone(), Some(token.clone()), r).await??;
            swept.push((r, p));
            drain().await;
        }

        // New posts arriving while home is read: each new event is a miss
        // for the rendered-event cache, and the graph must stay current.
        let arrival_rate = env_usize("KITH_BENCH_ARRIVALS", 100) as u64;
        eprintln!("      home at {rate} requests/s while {arrival_rate} posts/s arrive");
        let arriving = tokio::spawn(arrivals(node.clone(), shape, arrival_rate, secs));
        let home_arrivals = fixed(home_url.clone(), Some(token.clone()), rate).await??;
        let arrived = arriving.await?;
        drain().await;

        // How often the caches answered, over every pass.
        let metrics = client.get(format!("{base}/metrics")).send().await?.text().await?;
        let figure = |name: &str, cache: &str| -> f64 {
            let prefix = format!("kith_cache_{name}_total{{cache=\"{cache}\"}} ");
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(f64::NAN)
        };
        let hit_ratio = |cache: &str| {
            let (h, m) = (figure("hits", cache), figure("misses", cache));
            h / (h + m)
        };
        let (event_hits, graph_hits) = (hit_ratio("events"), hit_ratio("graphs"));

        // The same with the caches off: what they save.
        gateway.stop().await;
        let mut uncached_config = config.gateway.clone();
        uncached_config.cache_mib = 0;
        let gateway = kith_gateway::serve(node.clone(), &uncached_config).await?;
        let base = gateway.url();
        let home_url = format!("{base}/api/v1/me/home?limit=50");
        eprintln!("      caches off: home closed loop, then at {rate} requests/s");
        run(home_url.clone(), Some(token.clone()), 8, 2, 0).await??;
        drain().await;
        let uncached_closed = run(home_url.clone(), Some(token.clone()), conns, secs, 0).await??;
        drain().await;
        let uncached_fixed = fixed(home_url.clone(), Some(token.clone()), rate).await??;
        drain().await;

        gateway.stop().await;
        match Arc::try_unwrap(node) {
            Ok(node) => node.shutdown().await?,
            Err(_) => eprintln!("      (node still shared at the end; not shut down cleanly)"),
        }

        let meets = |p: &Pass| p.p99_ms < 20.0 && p.errors == 0 && p.rps >= rate as f64 * 0.95;
        let ok = meets(&home_fixed) && meets(&home_arrivals);
        let mark = |ok: bool| if ok { "ok" } else { "MISSED" };
        let row = |name: &str, p: &Pass| {
            println!(
                "  {name:<34} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>8.0} {:>8.0}",
                p.rps, p.p50_ms, p.p99_ms, p.p999_ms, p.max_ms, p.errors, p.bytes_per_response,
                p.server_cpu_us
            );
        };
        println!(
            "kith gateway http_load: {} posts by {} authors, home follows {}, {cores} cores, {secs} s per pass",
            shape.posts, shape.authors, shape.follows
        );
        println!(
            "  {:<34} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>8} {:>8}",
            "pass", "req/s", "p50 ms", "p99 ms", "p99.9", "max ms", "errors", "resp B", "cpu us"
        );
        row(&format!("health  closed loop -c{conns}"), &health_closed);
        row(&format!("home    closed loop -c{conns}"), &home_closed);
        row(&format!("health  wrk paced -c{paced_conns}"), &health_paced);
        row(&format!("home    wrk paced -c{paced_conns}"), &home_paced);
        row(&format!("health  fixed {rate}/s open loop"), &health_fixed);
        row(&format!("home    fixed {rate}/s open loop"), &home_fixed);
        for (r, p) in &swept {
            row(&format!("home    fixed {r}/s open loop"), p);
        }
        row(&format!("home    fixed {rate}/s, {arrival_rate} posts/s in"), &home_arrivals);
        row(&format!("home    no caches, closed -c{conns}"), &uncached_closed);
        row(&format!("home    no caches, fixed {rate}/s"), &uncached_fixed);
        println!("  (resp B: wrk counts headers and body, the fixed-rate pass the body only; cpu us: gateway");
        println!("   process CPU per answered request, load generator excluded)");
        println!(
            "  load generator CPU per request (fixed rate): health {:.0} us, home {:.0} us",
            health_fixed.client_cpu_us.unwrap_or(f64::NAN),
            home_fixed.client_cpu_us.unwrap_or(f64::NAN)
        );
        println!("  unloaded, one at a time: home p50 {solo_p50:.2} ms, health p50 {solo_h_p50:.2} ms; idle node {:.1} % of a core", idle_cores * 100.0);
        println!("  home handler stages without caches, one thread, mean us per request:");
        let mut sum = 0.0;
        for (name, us) in &stages {
            println!("    {name:<34} {us:>8.1}");
            if !name.starts_with(' ') {
                sum += us;
            }
        }
        println!("    {:<34} {sum:>8.1}   (served: {:.0} us per request under load, closed loop)", "sum", home_closed.server_cpu_us);
        println!(
            "  cache hit ratio over the cached passes: rendered events {:.4}, graphs {:.4}; {arrived} of {} arriving posts stored",
            event_hits, graph_hits, arrival_rate * secs
        );
        println!(
            "  caches on/off: throughput {:.2}x (closed loop), p99 at {rate}/s {:.2} ms vs {:.2} ms",
            home_closed.rps / uncached_closed.rps,
            home_fixed.p99_ms,
            uncached_fixed.p99_ms
        );
        let thr_ratio = home_closed.rps / health_closed.rps;
        let p99_ratio_closed = home_closed.p99_ms / health_closed.p99_ms;
        let p99_ratio_fixed = home_fixed.p99_ms / health_fixed.p99_ms;
        println!(
            "  home/health: throughput {thr_ratio:.3} (closed loop), p99 {p99_ratio_closed:.2}x (closed loop), {p99_ratio_fixed:.2}x (fixed rate)"
        );
        println!(
            "  target: home p99 < 20 ms at {rate} req/s (fixed rate): {:.2} ms at {:.0} req/s, {:.2} ms at {:.0} req/s with posts arriving {}",
            home_fixed.p99_ms,
            home_fixed.rps,
            home_arrivals.p99_ms,
            home_arrivals.rps,
            mark(ok)
        );
        println!(
            "{}",
            json!({"bench": "kith-gateway/http_load", "cores": cores, "posts": shape.posts,
                   "authors": shape.authors, "follows": shape.follows, "secs_per_pass": secs,
                   "wrk_threads": wrk_threads, "closed_connections": conns,
                   "paced_connections": paced_conns, "paced_delay_ms": delay_ms, "rate": rate,
                   "health_closed": health_closed.json(), "home_closed": home_closed.json(),
                   "health_paced": health_paced.json(), "home_paced": home_paced.json(),
                   "health_fixed": health_fixed.json(), "home_fixed": home_fixed.json(),
                   "home_fixed_sweep": swept.iter().map(|(r, p)| json!({"rate": r, "pass": p.json()})).collect::<Vec<_>>(),
                   "home_stages_us": stages.iter().map(|(n, us)| json!({"stage": n.trim(), "us": round3(*us)})).collect::<Vec<_>>(),
                   "home_fixed_with_arrivals": home_arrivals.json(), "arrival_rate": arrival_rate, "arrived": arrived,
                   "home_closed_no_caches": uncached_closed.json(), "home_fixed_no_caches": uncached_fixed.json(),
                   "idle_cpu_cores": round3(idle_cores),
                   "cache_hit_ratio_events": round3(event_hits), "cache_hit_ratio_graphs": round3(graph_hits),
                   "unloaded_home_p50_ms": round3(solo_p50), "unloaded_health_p50_ms": round3(solo_h_p50),
                   "ratio_rps_home_health": round3(thr_ratio),
                   "ratio_p99_home_health_closed": round3(p99_ratio_closed),
                   "ratio_p99_home_health_fixed": round3(p99_ratio_fixed),
                   "target_p99_ms": 20, "ok": ok})
        );
        anyhow::Ok(())
    })
}
