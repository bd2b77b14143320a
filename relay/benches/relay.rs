//! Relay benchmark (loopback only): events/s accepted, REQ/s answered with
//! their latency, and idle connections held with the relay's resident memory.
//!
//! The relay runs in a child process (this binary re-executed with
//! `KITH_RELAY_BENCH_ROLE=relay`), so that its memory and CPU time can be read
//! from `/proc/<pid>` apart from the clients', which run here:
//!
//! 1. **sign** (not timed): `KITH_BENCH_EVENTS` kind-1 notes (default 20,000)
//!    by 100 keys, each with a `t`, a `p` and (most) an `e` tag.
//! 2. **references**: bare Schnorr verification (`Event::verify`: id and
//!    signature, what the relay checks) of the same events on one thread and
//!    on every core, each the best of three runs; and `RelayStore::insert`
//!    of them alone, on one thread, in this process (the storage share of
//!    the accept path). The target
//!    ratio is judged against every core, since the relay verifies on its
//!    connection tasks, which run on every core; the one-thread ratio is
//!    printed too (both are in the table).
//! 3. **accept, one connection**: the events published over one WebSocket,
//!    up to `KITH_BENCH_WINDOW` (default 64) EVENTs in flight before their
//!    OKs. Fresh store; the rate limits are raised out of the way.
//! 4. **REQ**: on that store, `KITH_BENCH_QUERIERS` clients (default 16), in
//!    a closed loop for `KITH_BENCH_REQ_SECS` (default 10), send REQs (by
//!    author limit 20; kind 1 and `#t` limit 20; 10 ids) and wait for EOSE.
//! 5. **accept, concurrent** (judged): a fresh relay, the events split over
//!    `KITH_BENCH_PUBLISHERS` connections (default 8) publishing at once.
//!    Events/s is the number accepted (OK true) over the wall time from the
//!    first send to the last OK; the target needs every event accepted.
//!    Then the same number of ephemeral events (kind 20001, never stored)
//!    the same way: what parsing, verifying and answering cost without the
//!    store, the ceiling any store leaves below.
//! 6. **idle**: a fresh relay; `KITH_BENCH_IDLE` connections (default 10,000;
//!    fewer if the open-file limit is lower) are opened 200 at a time, each
//!    reads its AUTH challenge and then stays quiet. The relay's `VmRSS` is
//!    read before and after. Then, with them still open, 2,000 events are
//!    published over one connection, to show what idle connections cost the
//!    accept path.
//!
//! Relay CPU time and context switches come from `/proc/<pid>`.
//!
//! ```text
//! cargo bench -p kith-relay --bench relay
//! KITH_BENCH_EVENTS=5000 KITH_BENCH_IDLE=2000 KITH_BENCH_REQ_SECS=3 cargo bench -p kith-relay --bench relay
//! ```
//!
//! Targets (from the issue): accepted events/s at least 0.5 × bare
//! verification; 10,000 idle connections under 500 MB. Every phase has a
//! time limit; the whole run takes about a minute on two cores.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use kith_relay::{Relay, RelayConfig};
use nostr::prelude::{Event, EventBuilder, FinalizeEvent, Keys, Kind, Tag, Timestamp};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const ROLE: &str = "KITH_RELAY_BENCH_ROLE";
const KEYS: usize = 100;
const HASHTAGS: usize = 10;
/// Events published while the idle connections are open.
const IDLE_PUBLISH: usize = 2_000;
const IDLE_TARGET: usize = 10_000;
const IDLE_RSS_TARGET_MB: f64 = 500.0;
const RATIO_TARGET: f64 = 0.5;
/// The ephemeral kind of the store-less reference run.
const EPHEMERAL_KIND: u16 = 20_001;
/// The whole run stops after this, whatever it is doing.
const WATCHDOG_SECS: u64 = 180;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bench_config() -> RelayConfig {
    RelayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        events_per_second_per_ip: 10_000_000,
        events_per_second_per_pubkey: 10_000_000,
        queries_per_second_per_ip: 10_000_000,
        ..Default::default()
    }
}

// ------------------------------------------------------------------ child

/// The relay process: prints `URL <url>`, answers `STATS` with
/// `STATS <connections>`, and stops at `STOP` or when stdin closes.
fn relay_role() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let relay = Arc::new(Relay::start(dir.path(), bench_config()).await.unwrap());
        println!("URL {}", relay.url());
        std::io::stdout().flush().unwrap();
        let r = relay.clone();
        tokio::task::spawn_blocking(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                match line.as_deref().map(str::trim) {
                    Ok("STATS") => {
                        println!("STATS {}", r.connections());
                        std::io::stdout().flush().unwrap();
                    }
                    Ok("STOP") | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await
        .unwrap();
        if let Ok(relay) = Arc::try_unwrap(relay) {
            let _ = tokio::time::timeout(Duration::from_secs(5), relay.shutdown()).await;
        }
    });
    std::process::exit(0);
}

/// A relay running in a child process.
struct RelayChild {
    child: Child,
    stdin: ChildStdin,
    out: BufReader<ChildStdout>,
    url: String,
    pid: u32,
}

impl RelayChild {
    fn spawn() -> RelayChild {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(ROLE, "relay")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("URL ")
            .unwrap_or_else(|| panic!("relay child said {line:?}"))
            .to_string();
        let pid = child.id();
        RelayChild {
            child,
            stdin,
            out,
            url,
            pid,
        }
    }

    fn connections(&mut self) -> usize {
        writeln!(self.stdin, "STATS").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        line.trim()
            .strip_prefix("STATS ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("relay child said {line:?}"))
    }

    fn stop(mut self) {
        let _ = writeln!(self.stdin, "STOP");
        let _ = self.stdin.flush();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(8) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayChild {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ------------------------------------------------------------------ /proc

/// `VmRSS` and `RssAnon` of a process, in KiB.
fn rss_kib(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

/// User + system CPU seconds of a process (all threads), at 100 ticks/s.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(0))
        .collect();
    // After the command: state is field 3, utime 14, stime 15.
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

/// Context switches (voluntary and not) of all a process's live threads.
fn ctx_switches(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .map(|t| {
            std::fs::read_to_string(t.path().join("status"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
                .sum::<u64>()
        })
        .sum()
}

fn soft_nofile() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3).and_then(|w| w.parse().ok()))
        .unwrap_or(1024)
}

/// The 1-minute load average (other work on the machine skews the figures).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------- clients

fn client_config() -> WebSocketConfig {
    // Small read buffers: 10,000 clients at the 128 KiB default would be
    // 1.3 GB on the client side for nothing.
    WebSocketConfig::default().read_buffer_size(4096)
}

async fn connect(url: &str) -> Result<Ws, String> {
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(client_config()), true)
            .await
            .map_err(|e| e.to_string())?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.as_str().starts_with("[\"AUTH\"") => Ok(ws),
        other => Err(format!("expected AUTH, got {other:?}")),
    }
}

#[derive(Default)]
struct Published {
    accepted: usize,
    refused: usize,
    first_refusal: Option<String>,
    error: Option<String>,
    last_ok: Option<Instant>,
}

/// Sends `msgs` on `ws` keeping at most `window` without their OK.
async fn publish(ws: Ws, msgs: Vec<String>, window: usize) -> Published {
    let total = msgs.len();
    let (mut sink, mut stream) = ws.split();
    let permits = Arc::new(tokio::sync::Semaphore::new(window));
    let p = permits.clone();
    let writer = tokio::spawn(async move {
        for m in msgs {
            match p.try_acquire() {
                Ok(permit) => permit.forget(),
                Err(_) => {
                    sink.flush().await?;
                    p.acquire().await.unwrap().forget();
                }
            }
            sink.feed(Message::text(m)).await?;
        }
        sink.flush().await?;
        // Keep the sink (and so the connection) until the reader is done.
        std::future::pending::<()>().await;
        Ok::<_, tokio_tungstenite::tungstenite::Error>(())
    });
    let mut r = Published::default();
    while r.accepted + r.refused < total {
        match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
            Err(_) => {
                r.error = Some("no OK within 30 s".into());
                break;
            }
            Ok(Some(Ok(Message::Text(t)))) => {
                let t = t.as_str();
                if t.starts_with("[\"OK\"") {
                    permits.add_permits(1);
                    r.last_ok = Some(Instant::now());
                    if t.contains(",true,") {
                        r.accepted += 1;
                    } else {
                        r.refused += 1;
                        r.first_refusal.get_or_insert_with(|| t.to_string());
                    }
                } else if t.starts_with("[\"NOTICE\"") {
                    r.error.get_or_insert_with(|| t.to_string());
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => {
                r.error.get_or_insert_with(|| e.to_string());
                break;
            }
            Ok(None) => {
                r.error.get_or_insert_with(|| "connection closed".into());
                break;
            }
        }
    }
    writer.abort();
    r
}

struct AcceptRun {
    accepted: usize,
    refused: usize,
    secs: f64,
    relay_cpu: f64,
    client_cpu: f64,
    relay_ctx: u64,
    errors: Vec<String>,
}

impl AcceptRun {
    fn rate(&self) -> f64 {
        self.accepted as f64 / self.secs
    }

    fn cpu_line(&self) -> String {
        let per = |x: f64| x * 1e6 / self.accepted.max(1) as f64;
        format!(
            "relay {:.0} µs/event ({:.2} cores, {:.1} context switches/event), clients {:.0} µs/event",
            per(self.relay_cpu),
            self.relay_cpu / self.secs,
            self.relay_ctx as f64 / self.accepted.max(1) as f64,
            per(self.client_cpu)
        )
    }
}

/// Publishes `msgs` over `conns` connections at once.
async fn accept_run(relay: &RelayChild, msgs: &[String], conns: usize, window: usize) -> AcceptRun {
    let mut wss = Vec::new();
    for _ in 0..conns {
        wss.push(connect(&relay.url).await.unwrap());
    }
    let mut parts: Vec<Vec<String>> = vec![Vec::new(); conns];
    for (i, m) in msgs.iter().enumerate() {
        parts[i % conns].push(m.clone());
    }
    let pid = relay.pid.to_string();
    let (cpu0, me0, ctx0) = (cpu_secs(&pid), cpu_secs("self"), ctx_switches(&pid));
    let t0 = Instant::now();
    let tasks: Vec<_> = wss
        .into_iter()
        .zip(parts)
        .map(|(ws, part)| tokio::spawn(publish(ws, part, window)))
        .collect();
    let mut run = AcceptRun {
        accepted: 0,
        refused: 0,
        secs: 0.0,
        relay_cpu: 0.0,
        client_cpu: 0.0,
        relay_ctx: 0,
        errors: Vec::new(),
    };
    let mut last = t0;
    for t in tasks {
        let p = t.await.unwrap();
        run.accepted += p.accepted;
        run.refused += p.refused;
        if let Some(l) = p.last_ok {
            last = last.max(l);
        }
        if let Some(e) = p.error {
            run.errors.push(e);
        }
        if let Some(e) = p.first_refusal {
            run.errors.push(format!("refused: {e}"));
        }
    }
    run.secs = (last - t0).as_secs_f64();
    run.relay_cpu = cpu_secs(&pid) - cpu0;
    run.client_cpu = cpu_secs("self") - me0;
    run.relay_ctx = ctx_switches(&pid).saturating_sub(ctx0);
    run
}

struct ReqRun {
    reqs: usize,
    secs: f64,
    lat_ms: Vec<f64>,
    events: usize,
    short: usize,
    relay_cpu: f64,
    errors: Vec<String>,
}

/// One querier: REQ, wait for EOSE, again, until `until`.
async fn querier(
    mut ws: Ws,
    seed: u64,
    until: Instant,
    authors: Arc<Vec<String>>,
    ids: Arc<Vec<String>>,
) -> (Vec<f64>, usize, usize, Option<String>) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let (mut lat, mut events, mut short) = (Vec::new(), 0, 0);
    let mut i = seed as usize;
    while Instant::now() < until {
        let (req, want) = match i % 3 {
            0 => (
                format!(
                    r#"["REQ","q",{{"authors":["{}"],"limit":20}}]"#,
                    authors[rnd(authors.len())]
                ),
                20,
            ),
            1 => (
                format!(
                    r##"["REQ","q",{{"kinds":[1],"#t":["bench{}"],"limit":20}}]"##,
                    rnd(HASHTAGS)
                ),
                20,
            ),
            _ => {
                let pick: Vec<String> = (0..10)
                    .map(|_| format!("\"{}\"", ids[rnd(ids.len())]))
                    .collect();
                (format!(r#"["REQ","q",{{"ids":[{}]}}]"#, pick.join(",")), 10)
            }
        };
        i += 1;
        let t = Instant::now();
        if let Err(e) = ws.send(Message::text(req)).await {
            return (lat, events, short, Some(e.to_string()));
        }
        let mut got = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Text(m)))) => {
                    let m = m.as_str();
                    if m.starts_with("[\"EVENT\"") {
                        got += 1;
                    } else if m.starts_with("[\"EOSE\"") {
                        break;
                    } else {
                        return (lat, events, short, Some(m.to_string()));
                    }
                }
                Ok(Some(Ok(_))) => {}
                other => return (lat, events, short, Some(format!("{other:?}"))),
            }
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        events += got;
        // Ids may repeat within one REQ, so fewer than 10 can be right.
        if got < want && want == 20 {
            short += 1;
        }
    }
    (lat, events, short, None)
}

async fn req_run(
    relay: &RelayChild,
    conns: usize,
    secs: f64,
    authors: Arc<Vec<String>>,
    ids: Arc<Vec<String>>,
) -> ReqRun {
    let mut wss = Vec::new();
    for _ in 0..conns {
        wss.push(connect(&relay.url).await.unwrap());
    }
    let pid = relay.pid.to_string();
    let cpu0 = cpu_secs(&pid);
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = wss
        .into_iter()
        .enumerate()
        .map(|(i, ws)| {
            tokio::spawn(querier(
                ws,
                i as u64 + 1,
                until,
                authors.clone(),
                ids.clone(),
            ))
        })
        .collect();
    let mut run = ReqRun {
        reqs: 0,
        secs: 0.0,
        lat_ms: Vec::new(),
        events: 0,
        short: 0,
        relay_cpu: 0.0,
        errors: Vec::new(),
    };
    for t in tasks {
        let (lat, events, short, err) = t.await.unwrap();
        run.reqs += lat.len();
        run.lat_ms.extend(lat);
        run.events += events;
        run.short += short;
        if let Some(e) = err {
            run.errors.push(e);
        }
    }
    run.secs = t0.elapsed().as_secs_f64();
    run.relay_cpu = cpu_secs(&pid) - cpu0;
    run.lat_ms.sort_by(|a, b| a.total_cmp(b));
    run
}

// ------------------------------------------------------------------- main

fn sign_events(n: usize, kind: Kind) -> (Vec<Event>, Vec<Keys>) {
    let keys: Vec<Keys> = (0..KEYS).map(|_| Keys::generate()).collect();
    let now = Timestamp::now().as_secs();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = n.div_ceil(cores);
    let events: Vec<Event> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cores)
            .map(|c| {
                let keys = &keys;
                s.spawn(move || {
                    let mut out = Vec::new();
                    let mut prev = None;
                    for i in (c * chunk)..((c + 1) * chunk).min(n) {
                        let k = &keys[i % KEYS];
                        let mut tags = vec![
                            Tag::hashtag(format!("bench{}", i % HASHTAGS)),
                            Tag::public_key(keys[(i * 7 + 3) % KEYS].public_key()),
                        ];
                        if let Some(p) = prev {
                            tags.push(Tag::event(p));
                        }
                        let e = EventBuilder::new(
                            kind,
                            format!(
                                "Relay bench note {i}: a short text of about the length of an ordinary post, with a #bench{} hashtag.",
                                i % HASHTAGS
                            ),
                        )
                        .tags(tags)
                        .custom_created_at(Timestamp::from_secs(now - ((i as u64 * 7919) % 86_400)))
                        .finalize(k)
                        .unwrap();
                        prev = Some(e.id);
                        out.push(e);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    (events, keys)
}

/// Events/s of `Event::verify` over `events` on `threads` threads.
fn verify_rate(events: &[Event], threads: usize) -> f64 {
    let chunk = events.len().div_ceil(threads);
    let t = Instant::now();
    std::thread::scope(|s| {
        for part in events.chunks(chunk) {
            s.spawn(move || {
                for e in part {
                    e.verify().unwrap();
                }
            });
        }
    });
    events.len() as f64 / t.elapsed().as_secs_f64()
}

/// Events/s of `RelayStore::insert` alone (verified events, one thread, a
/// fresh store in this process): the storage share of the accept path.
fn store_rate(events: &[Event]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = kith_relay::RelayStore::open(dir.path()).unwrap();
    let now = Timestamp::now();
    let t = Instant::now();
    for e in events {
        assert_eq!(store.insert(e, now).unwrap(), kith_relay::Inserted::Stored);
    }
    let rate = events.len() as f64 / t.elapsed().as_secs_f64();
    drop(store);
    rate
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "**no**" }
}

fn main() {
    if std::env::var(ROLE).as_deref() == Ok("relay") {
        relay_role();
        return;
    }
    let started = Instant::now();
    let load0 = loadavg();
    // Every phase has its own limit; this is the backstop. The relay
    // children stop when their stdin closes with this process.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(WATCHDOG_SECS));
        eprintln!("relay bench: still running after {WATCHDOG_SECS} s; giving up");
        std::process::exit(3);
    });
    let n = env_usize("KITH_BENCH_EVENTS", 20_000);
    let publishers = env_usize("KITH_BENCH_PUBLISHERS", 8).max(1);
    let window = env_usize("KITH_BENCH_WINDOW", 64).max(1);
    let queriers = env_usize("KITH_BENCH_QUERIERS", 16).max(1);
    let req_secs = env_usize("KITH_BENCH_REQ_SECS", 10) as f64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut idle = env_usize("KITH_BENCH_IDLE", IDLE_TARGET);
    let nofile = soft_nofile();
    // Both processes need one descriptor per connection, plus a margin.
    let room = nofile.saturating_sub(200) as usize;
    if idle > room {
        eprintln!(
            "open-file limit is {nofile}: opening {room} idle connections instead of {idle} (raise it with `ulimit -n {}`)",
            idle + 200
        );
        idle = room;
    }

    eprintln!("[1/6] signing {n} events by {KEYS} keys (not timed)");
    let (events, keys) = sign_events(n, Kind::TextNote);
    let msgs: Vec<String> = events
        .iter()
        .map(|e| format!("[\"EVENT\",{}]", e.as_json()))
        .collect();
    // The same notes as ephemeral events: verified and answered, never
    // stored (the relay's ceiling without its store).
    let ephemeral: Vec<String> = sign_events(n, Kind::from(EPHEMERAL_KIND))
        .0
        .iter()
        .map(|e| format!("[\"EVENT\",{}]", e.as_json()))
        .collect();
    let avg_bytes = msgs.iter().map(String::len).sum::<usize>() / n.max(1);

    eprintln!("[2/6] references: bare verification on 1 thread and {cores}; store inserts alone");
    verify_rate(&events[..n.min(2_000)], cores); // warm-up
    // The best of three: a reference slowed by a neighbour on the host
    // would flatter the ratios.
    let best = |threads| {
        (0..3)
            .map(|_| verify_rate(&events, threads))
            .fold(0.0, f64::max)
    };
    let verify_1 = best(1);
    let verify_all = best(cores);
    let store_only = store_rate(&events);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let accept = |relay: &RelayChild, msgs: &[String], conns: usize, limit: u64| {
        rt.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(limit),
                accept_run(relay, msgs, conns, window),
            )
            .await
        })
    };

    eprintln!("[3/6] accept: {n} events over 1 connection, window {window}");
    let relay = RelayChild::spawn();
    let single = accept(&relay, &msgs, 1, 60).expect("the 1-connection accept took over 60 s");

    eprintln!("[4/6] REQ: {queriers} connections for {req_secs} s on that store");
    let relay_rss_filled = rss_kib(&relay.pid.to_string()).0;
    let authors = Arc::new(keys.iter().map(|k| k.public_key().to_hex()).collect());
    let ids = Arc::new(events.iter().map(|e| e.id.to_hex()).collect());
    let req = rt.block_on(req_run(&relay, queriers, req_secs, authors, ids));
    relay.stop();
    let req_rate = req.reqs as f64 / req.secs;

    eprintln!(
        "[5/6] accept: {n} events over {publishers} connections at once, window {window}, fresh relay"
    );
    let relay = RelayChild::spawn();
    let multi =
        accept(&relay, &msgs, publishers, 60).expect("the concurrent accept took over 60 s");
    eprintln!(
        "      then {n} ephemeral events (kind {EPHEMERAL_KIND}: verified, not stored) the same way"
    );
    let unstored =
        accept(&relay, &ephemeral, publishers, 60).expect("the ephemeral accept took over 60 s");
    relay.stop();

    eprintln!("[6/6] idle: {idle} connections to a fresh relay, 200 at a time");
    let mut relay = RelayChild::spawn();
    let pid = relay.pid.to_string();
    std::thread::sleep(Duration::from_millis(500));
    let (rss0, anon0) = rss_kib(&pid);
    let (me0, _) = rss_kib("self");
    let url = relay.url.clone();
    let t_open = Instant::now();
    let opened: Vec<Result<Ws, String>> = rt.block_on(async {
        futures::stream::iter(0..idle)
            .map(|_| {
                let url = url.clone();
                async move {
                    tokio::time::timeout(Duration::from_secs(30), connect(&url))
                        .await
                        .map_err(|_| "timed out".to_string())?
                }
            })
            .buffer_unordered(200)
            .collect()
            .await
    });
    let open_secs = t_open.elapsed().as_secs_f64();
    let mut held = Vec::new();
    let mut open_errors = Vec::new();
    for o in opened {
        match o {
            Ok(ws) => held.push(ws),
            Err(e) => open_errors.push(e),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut relay_conns = relay.connections();
    while relay_conns < held.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        relay_conns = relay.connections();
    }
    std::thread::sleep(Duration::from_secs(1));
    let (rss1, anon1) = rss_kib(&pid);
    let (me1, _) = rss_kib("self");
    let held_count = held.len();
    let per_conn_kib = (rss1 as f64 - rss0 as f64) / held_count.max(1) as f64;
    let anon_per_conn_kib = (anon1 as f64 - anon0 as f64) / held_count.max(1) as f64;

    let m = IDLE_PUBLISH.min(n);
    eprintln!("      then {m} events over 1 connection while they stay open");
    let busy = accept(&relay, &msgs[..m], 1, 60);
    std::thread::sleep(Duration::from_millis(300));
    let conns_after_busy = relay.connections();
    drop(held);
    relay.stop();

    // ------------------------------------------------------------ report
    let accept_rate = multi.rate();
    let all_in = multi.accepted == n && multi.errors.is_empty();
    let ratio_all = accept_rate / verify_all;
    let ratio_1 = accept_rate / verify_1;
    let rss1_mb = rss1 as f64 / 1024.0;
    println!();
    println!(
        "## kith-relay bench ({cores} cores, {n} kind-1 events of ~{avg_bytes} B by {KEYS} keys, loopback, relay in a child process)"
    );
    println!();
    println!("| measure | value | target | met |");
    println!("|---|---|---|---|");
    println!("| bare verify (`Event::verify`), 1 thread | {verify_1:.0} events/s | | |");
    println!("| bare verify, {cores} threads | {verify_all:.0} events/s | | |");
    println!("| `RelayStore::insert` alone, 1 thread | {store_only:.0} events/s | | |");
    println!(
        "| accepted, 1 connection | {:.0} events/s ({}/{n} OK true in {:.2} s) | | |",
        single.rate(),
        single.accepted,
        single.secs
    );
    println!("| accept CPU, 1 connection | {} | | |", single.cpu_line());
    println!(
        "| accepted, {publishers} connections at once (judged) | {accept_rate:.0} events/s ({}/{n} OK true in {:.2} s) | all {n} | {} |",
        multi.accepted,
        multi.secs,
        yes(all_in)
    );
    println!(
        "| accept CPU, {publishers} connections | {} | | |",
        multi.cpu_line()
    );
    println!(
        "| ratio to bare verify, {cores} threads (judged) | {ratio_all:.2} | ≥ {RATIO_TARGET} | {} |",
        yes(ratio_all >= RATIO_TARGET && all_in)
    );
    println!(
        "| ratio to bare verify, 1 thread | {ratio_1:.2} (1 connection: {:.2} / {:.2}) | | |",
        single.rate() / verify_1,
        single.rate() / verify_all
    );
    println!(
        "| ceiling without the store: {n} ephemeral events, {publishers} connections | {:.0} events/s ({}/{n} OK true); {}; ratio {:.2} ({cores} threads) / {:.2} (1 thread) | | |",
        unstored.rate(),
        unstored.accepted,
        unstored.cpu_line(),
        unstored.rate() / verify_all,
        unstored.rate() / verify_1
    );
    println!(
        "| REQ answered ({queriers} conns, {req_secs:.0} s) | {req_rate:.0} REQ/s, {:.1} events/REQ | | |",
        req.events as f64 / req.reqs.max(1) as f64
    );
    println!(
        "| REQ latency p50 / p99 / max | {:.2} / {:.2} / {:.2} ms | | |",
        percentile(&req.lat_ms, 50.0),
        percentile(&req.lat_ms, 99.0),
        req.lat_ms.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "| REQ CPU | relay {:.0} µs/REQ ({:.2} cores) | | |",
        req.relay_cpu * 1e6 / req.reqs.max(1) as f64,
        req.relay_cpu / req.secs
    );
    println!(
        "| relay RSS with {n} events stored | {:.1} MB | | |",
        relay_rss_filled as f64 / 1024.0
    );
    println!(
        "| idle connections held | {held_count} opened in {open_secs:.1} s, relay counts {relay_conns} | {IDLE_TARGET} | {} |",
        yes(relay_conns >= IDLE_TARGET)
    );
    println!(
        "| relay RSS idle → with connections | {:.1} → {rss1_mb:.1} MB | < {IDLE_RSS_TARGET_MB} MB | {} |",
        rss0 as f64 / 1024.0,
        yes(rss1_mb < IDLE_RSS_TARGET_MB && relay_conns >= IDLE_TARGET)
    );
    println!(
        "| relay memory per connection | {per_conn_kib:.1} KiB RSS ({anon_per_conn_kib:.1} KiB anon) | | |"
    );
    println!(
        "| client process RSS growth | {:.1} MB | | |",
        (me1 as f64 - me0 as f64) / 1024.0
    );
    match &busy {
        Ok(b) => println!(
            "| accepted, 1 connection, {held_count} idle open | {:.0} events/s ({}/{m} in {:.2} s); {} | | |",
            b.rate(),
            b.accepted,
            b.secs,
            b.cpu_line()
        ),
        Err(_) => println!(
            "| accepted, 1 connection, {held_count} idle open | did not finish within 60 s | | |"
        ),
    }
    println!();
    let busy_errors = busy.as_ref().map(|b| b.errors.clone()).unwrap_or_default();
    for (what, errs) in [
        ("accept, 1 connection", &single.errors),
        ("accept, concurrent", &multi.errors),
        ("REQ", &req.errors),
        ("idle open", &open_errors),
        ("accept with idle open", &busy_errors),
    ] {
        if !errs.is_empty() {
            println!("{what}: {} errors, first: {}", errs.len(), errs[0]);
        }
    }
    if req.short > 0 {
        println!(
            "REQ: {} author/tag REQs returned fewer than 20 events",
            req.short
        );
    }
    if conns_after_busy < held_count {
        println!(
            "idle: {} connections were dropped while events were published",
            held_count - conns_after_busy
        );
    }
    println!(
        "(ratio judged against {cores}-thread verification: the relay verifies on its connection tasks, on every core; load average at start {load0}, at end {}; total bench time {:.0} s)",
        loadavg(),
        started.elapsed().as_secs_f64()
    );
}
