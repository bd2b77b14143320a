//! The driver: starts node processes, runs the workload, prints the report.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Nodes to start.
    #[arg(long, default_value_t = 20)]
    nodes: usize,
    /// Identities each identity follows.
    #[arg(long, default_value_t = 5)]
    follows: usize,
    /// Connections each node dials.
    #[arg(long, default_value_t = 4)]
    degree: usize,
    /// Posts per node.
    #[arg(long, default_value_t = 10)]
    posts: u64,
    /// Milliseconds between one node's posts.
    #[arg(long, default_value_t = 200)]
    interval_ms: u64,
    /// Seconds to let discovery and meshes form before posting. The
    /// default outlasts the node's quick start-up discovery rounds (every
    /// 3 s for the first 30 s), so the figures are for a running network.
    #[arg(long, default_value_t = 30)]
    settle_secs: u64,
    /// Random seed for the topology and follow graph.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PartitionArgs {
    /// Nodes to start (split in two halves).
    #[arg(long, default_value_t = 10)]
    nodes: usize,
    /// Posts per node while partitioned.
    #[arg(long, default_value_t = 5)]
    posts: u64,
    /// Seconds to let meshes form before the split.
    #[arg(long, default_value_t = 8)]
    settle_secs: u64,
    /// Most seconds to wait for agreement after healing.
    #[arg(long, default_value_t = 60)]
    heal_limit_secs: u64,
}

/// xorshift64*: a tiny deterministic generator for topologies.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }

    fn pick(&mut self, n: usize, k: usize, not: usize) -> Vec<usize> {
        let mut out = BTreeSet::new();
        while out.len() < k.min(n.saturating_sub(1)) {
            let j = self.below(n);
            if j != not {
                out.insert(j);
            }
        }
        out.into_iter().collect()
    }
}

struct Proc {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    pid: u32,
    peer_id: String,
    identity: String,
    addr: String,
}

impl Proc {
    async fn spawn(dir: &Path) -> anyhow::Result<Proc> {
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .arg("node")
            .arg("--dir")
            .arg(dir)
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let started: Value = serde_json::from_str(
            &tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await??
                .ok_or_else(|| anyhow::anyhow!("node exited before starting"))?,
        )?;
        let s = |k: &str| started[k].as_str().unwrap_or_default().to_owned();
        Ok(Proc {
            pid: started["pid"].as_u64().unwrap_or(0) as u32,
            peer_id: s("peer_id"),
            identity: s("identity"),
            addr: started["listen"][0].as_str().unwrap_or_default().to_owned(),
            child,
            stdin,
            lines,
        })
    }

    async fn call(&mut self, cmd: Value) -> anyhow::Result<Value> {
        self.stdin.write_all(format!("{cmd}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        let line = tokio::time::timeout(Duration::from_secs(120), self.lines.next_line())
            .await??
            .ok_or_else(|| anyhow::anyhow!("node {} exited", self.peer_id))?;
        Ok(serde_json::from_str(&line)?)
    }

    /// (CPU seconds, peak RSS MiB, current RSS MiB) from /proc.
    fn usage(&self) -> (f64, f64, f64) {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // After the ")": state is field 0, utime 11, stime 12; 100 ticks/s.
        let cpu = (ticks(11) + ticks(12)) / 100.0;
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let kib = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (cpu, kib("VmHWM:"), kib("VmRSS:"))
    }

    async fn quit(mut self) {
        let _ = self.stdin.write_all(b"{\"cmd\":\"quit\"}\n").await;
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

async fn start(n: usize, base: &Path) -> anyhow::Result<Vec<Proc>> {
    let mut starting = Vec::new();
    for i in 0..n {
        let dir = base.join(format!("node-{i:02}"));
        starting.push(tokio::spawn(async move { Proc::spawn(&dir).await }));
    }
    let mut procs = Vec::new();
    for s in starting {
        procs.push(s.await??);
    }
    Ok(procs)
}

/// Sends one command to every node at once and collects the answers.
async fn all(
    procs: &mut [Proc],
    cmd: impl Fn(usize) -> Option<Value>,
) -> anyhow::Result<Vec<Value>> {
    let futures = procs.iter_mut().enumerate().map(|(i, p)| {
        let c = cmd(i);
        async move {
            match c {
                Some(c) => p.call(c).await,
                None => Ok(Value::Null),
            }
        }
    });
    futures_join(futures).await
}

async fn futures_join<F: std::future::Future<Output = anyhow::Result<Value>>>(
    futures: impl Iterator<Item = F>,
) -> anyhow::Result<Vec<Value>> {
    let mut set = Vec::new();
    for f in futures {
        set.push(f);
    }
    let mut out = Vec::with_capacity(set.len());
    // The node processes do the work; awaiting in order is enough, as every
    // command was written before the first answer is awaited by `join_all`.
    for r in join_all(set).await {
        out.push(r?);
    }
    Ok(out)
}

async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn gossip_received(report: &Value) -> u64 {
    report["stats"]["gossip_received"].as_u64().unwrap_or(0)
}

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let base = tempfile::tempdir()?;
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    let wall = Instant::now();
    eprintln!("starting {} nodes…", args.nodes);
    let mut procs = start(args.nodes, base.path()).await?;
    let mut rng = Rng(args.seed.max(1));
    let n = procs.len();

    // Follow graph.
    let follows: Vec<Vec<usize>> = (0..n).map(|i| rng.pick(n, args.follows, i)).collect();
    let identities: Vec<String> = procs.iter().map(|p| p.identity.clone()).collect();
    for k in 0..args.follows.min(n - 1) {
        all(&mut procs, |i| {
            Some(json!({"cmd": "follow", "who": identities[follows[i][k]]}))
        })
        .await?;
    }
    // Topology: a chain for connectivity plus random links.
    let addrs: Vec<String> = procs.iter().map(|p| p.addr.clone()).collect();
    let links: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            let mut l = rng.pick(n, args.degree.saturating_sub(1), i);
            if i > 0 && !l.contains(&(i - 1)) {
                l.push(i - 1);
            }
            l
        })
        .collect();
    for k in 0..links.iter().map(Vec::len).max().unwrap_or(0) {
        all(&mut procs, |i| {
            links[i]
                .get(k)
                .map(|&j| json!({"cmd": "connect", "addr": addrs[j]}))
        })
        .await?;
    }
    eprintln!("settling {} s (discovery, meshes)…", args.settle_secs);
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;

    let before = all(&mut procs, |_| Some(json!({"cmd": "report"}))).await?;
    let usage_before: Vec<(f64, f64, f64)> = procs.iter().map(Proc::usage).collect();
    eprintln!("posting {} × {} events…", n, args.posts);
    let post_start = Instant::now();
    all(&mut procs, |_| {
        Some(json!({"cmd": "post", "count": args.posts, "interval_ms": args.interval_ms}))
    })
    .await?;
    let post_secs = post_start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = all(&mut procs, |_| Some(json!({"cmd": "report"}))).await?;
    let usage_after: Vec<(f64, f64, f64)> = procs.iter().map(Proc::usage).collect();

    // Delivery: every post by j should be stored by every follower of j.
    let mut latencies = Vec::new();
    let (mut expected, mut delivered) = (0u64, 0u64);
    for (j, report) in after.iter().enumerate() {
        for p in report["published"].as_array().into_iter().flatten() {
            let (id, t) = (p[0].as_str().unwrap_or(""), p[1].as_u64().unwrap_or(0));
            for (i, f) in follows.iter().enumerate() {
                if !f.contains(&j) {
                    continue;
                }
                expected += 1;
                if let Some(at) = after[i]["received"][id].as_u64() {
                    delivered += 1;
                    latencies.push(at.saturating_sub(t));
                }
            }
        }
    }
    latencies.sort_unstable();
    let published: u64 = after
        .iter()
        .map(|r| r["published"].as_array().map_or(0, Vec::len) as u64)
        .sum();
    let received: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| gossip_received(a) - gossip_received(b))
        .sum();
    let lagged: u64 = after
        .iter()
        .map(|r| r["lagged"].as_u64().unwrap_or(0))
        .sum();
    let cpu: Vec<f64> = usage_after
        .iter()
        .zip(&usage_before)
        .map(|(a, b)| a.0 - b.0)
        .collect();
    let hwm: Vec<f64> = usage_after.iter().map(|u| u.1).collect();
    let rss: Vec<f64> = usage_after.iter().map(|u| u.2).collect();
    let idle_rss: Vec<f64> = usage_before.iter().map(|u| u.2).collect();
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let ratio = delivered as f64 / expected.max(1) as f64;

    println!(
        "kith testnet: {n} nodes, {cores} cores, follows {} each, degree {}, {} posts per node",
        args.follows, args.degree, args.posts
    );
    println!(
        "  delivery latency p50 / p95 / p99   {} / {} / {} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99)
    );
    println!(
        "  deliveries                         {delivered} of {expected} ({:.3}%)",
        ratio * 100.0
    );
    println!(
        "  amplification                      {:.2} gossip messages received per post",
        received as f64 / published.max(1) as f64
    );
    println!(
        "  CPU s per node during posting      mean {:.2}, max {:.2} (posting took {post_secs:.1} s)",
        mean(&cpu),
        max(&cpu)
    );
    println!(
        "  memory per node (RSS / peak MiB)   mean {:.1} / {:.1}, max {:.1} / {:.1}",
        mean(&rss),
        mean(&hwm),
        max(&rss),
        max(&hwm)
    );
    println!(
        "  idle memory per node (RSS MiB)     mean {:.1}, max {:.1} (after settling, before posting)",
        mean(&idle_rss),
        max(&idle_rss)
    );
    if lagged > 0 {
        println!("  (the report missed {lagged} storage notices: latency samples are incomplete)");
    }
    let report = json!({
        "testnet": "run", "nodes": n, "cores": cores, "follows": args.follows, "degree": args.degree,
        "posts_per_node": args.posts, "latency_ms": {"p50": percentile(&latencies, 0.5), "p95": percentile(&latencies, 0.95), "p99": percentile(&latencies, 0.99), "max": latencies.last().copied().unwrap_or(0)},
        "expected": expected, "delivered": delivered, "delivery_ratio": ratio,
        "published": published, "gossip_received": received, "amplification": received as f64 / published.max(1) as f64,
        "cpu_s": {"mean": mean(&cpu), "max": max(&cpu)}, "rss_mib": {"mean": mean(&rss), "max": max(&rss)}, "peak_rss_mib": {"mean": mean(&hwm), "max": max(&hwm)}, "idle_rss_mib": {"mean": mean(&idle_rss), "max": max(&idle_rss)},
        "wall_s": wall.elapsed().as_secs_f64(),
    });
    println!("{report}");
    for p in procs {
        p.quit().await;
    }
    Ok(())
}

async fn digests(procs: &mut [Proc]) -> anyhow::Result<Vec<BTreeSet<String>>> {
    Ok(all(procs, |_| Some(json!({"cmd": "digest"})))
        .await?
        .into_iter()
        .map(|d| {
            d["ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .collect())
}

pub(crate) async fn partition(args: PartitionArgs) -> anyhow::Result<()> {
    let base = tempfile::tempdir()?;
    let n = args.nodes.max(4);
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    eprintln!("starting {n} nodes…");
    let mut procs = start(n, base.path()).await?;
    let identities: Vec<String> = procs.iter().map(|p| p.identity.clone()).collect();
    let peers: Vec<String> = procs.iter().map(|p| p.peer_id.clone()).collect();
    let addrs: Vec<String> = procs.iter().map(|p| p.addr.clone()).collect();
    // Everyone follows everyone, so every node should end up with every event.
    for k in 1..n {
        all(&mut procs, |i| {
            Some(json!({"cmd": "follow", "who": identities[(i + k) % n]}))
        })
        .await?;
    }
    // A ring plus chords.
    for k in [1, n / 2] {
        all(&mut procs, |i| {
            Some(json!({"cmd": "connect", "addr": addrs[(i + k) % n]}))
        })
        .await?;
    }
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;

    let half = n / 2;
    let side = |i: usize| i < half;
    eprintln!("partition: {} | {} nodes", half, n - half);
    all(&mut procs, |i| {
        let other: Vec<&String> = (0..n)
            .filter(|&j| side(j) != side(i))
            .map(|j| &peers[j])
            .collect();
        Some(json!({"cmd": "block", "peers": other}))
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    all(&mut procs, |_| {
        Some(json!({"cmd": "post", "count": args.posts, "interval_ms": 100}))
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let split = digests(&mut procs).await?;
    let union: HashSet<&String> = split.iter().flatten().collect();
    let diverged = split.iter().filter(|d| d.len() < union.len()).count();
    eprintln!("during the partition {diverged} of {n} nodes lack events from the other side");

    eprintln!("healing…");
    let healed = Instant::now();
    all(&mut procs, |i| {
        let other: Vec<&String> = (0..n)
            .filter(|&j| side(j) != side(i))
            .map(|j| &peers[j])
            .collect();
        let across = if side(i) {
            &addrs[(i + half) % n]
        } else {
            &addrs[i - half]
        };
        Some(json!({"cmd": "unblock", "peers": other, "addrs": [across]}))
    })
    .await?;
    let mut agreed = None;
    let mut last = HashMap::new();
    while healed.elapsed() < Duration::from_secs(args.heal_limit_secs) {
        let d = digests(&mut procs).await?;
        if d.windows(2).all(|w| w[0] == w[1]) && d[0].len() >= union.len() {
            agreed = Some(healed.elapsed());
            break;
        }
        last = d.iter().enumerate().map(|(i, s)| (i, s.len())).collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let total = union.len();
    match agreed {
        Some(t) => println!(
            "kith testnet partition: {n} nodes, {cores} cores; {diverged} nodes diverged during the split; all {n} nodes agree on {total} events {:.2} s after healing",
            t.as_secs_f64()
        ),
        None => println!(
            "kith testnet partition: {n} nodes did NOT agree within {} s; counts {last:?}",
            args.heal_limit_secs
        ),
    }
    println!(
        "{}",
        json!({"testnet": "partition", "nodes": n, "cores": cores, "diverged": diverged, "events": total,
               "heal_s": agreed.map(|t| t.as_secs_f64()), "agreed": agreed.is_some()})
    );
    for p in procs {
        p.quit().await;
    }
    if agreed.is_none() {
        anyhow::bail!("nodes did not agree after healing");
    }
    Ok(())
}
