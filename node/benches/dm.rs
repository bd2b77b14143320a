//! Delivery latency of direct messages between two real nodes on loopback:
//! from the sender's `send_letter` (seal for the recipient and the sender's
//! own mailbox, store, publish on the mailbox topic) until the recipient's
//! node has stored the envelope and opened the letter. Letters are sent one
//! at a time; p50, p99 and max over the run.
//!
//! ```text
//! cargo bench -p kith-node --bench dm
//! KITH_BENCH_LETTERS=1000 cargo bench -p kith-node --bench dm
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use kith_node::config::Config;
use kith_node::node::{Node, StartOptions};
use kith_node::protocol::dm::{self, Body, Letter, Text};
use kith_node::protocol::kinds::Profile;
use kith_node::protocol::{Keypair, Payload, UnsignedEvent};
use serde_json::json;

fn config() -> Config {
    let mut c = Config::default();
    c.network.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")];
    c.network.mdns = false;
    c.sync.interval_secs = 0;
    c
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("KITH_BENCH_LETTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (da, db) = (tempfile::tempdir()?, tempfile::tempdir()?);
        let options = StartOptions {
            memory_blocks: true,
            sync_on_connect: true,
        };
        let a = Node::start(da.path(), &config(), options.clone()).await?;
        let b = Node::start(db.path(), &config(), options).await?;
        let (ana, bob) = (a.identity().public(), b.identity().public());
        for (node, name) in [(&a, "Ana"), (&b, "Bob")] {
            let id = node.identity().public();
            let key = node.messenger().current_key(&id)?;
            let profile = Profile {
                name: name.into(),
                dm_key: Some(key),
                ..Profile::default()
            };
            node.publish(UnsignedEvent::new(id, kith_node::now_ms(), profile))
                .await?;
        }
        let addr = b
            .listen_addrs()
            .iter()
            .find(|a| a.to_string().contains("/tcp/"))
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no tcp listener"))?;
        a.connect(addr).await?;
        // Wait until A knows B is on B's mailbox topic.
        let topic = kith_node::topics::mailbox_topic(&dm::inbox_hint(&bob));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !a.gossip().topic_peers(&topic).await.contains(&b.peer_id()) {
            anyhow::ensure!(
                Instant::now() < deadline,
                "B never joined its mailbox topic"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sender = Keypair::from_seed(&a.identity().seed())?;
        let hint = dm::inbox_hint(&bob).to_vec();
        let mut stored = b.store().subscribe();
        let mut latencies = Vec::with_capacity(n);
        for i in 0..n + 20 {
            let letter = Letter {
                from: ana,
                to: vec![bob],
                group: None,
                created_at: kith_node::now_ms(),
                body: Body::Text(Text {
                    text: format!("mensaje {i}: ¿nos vemos mañana en la huerta?"),
                    ..Text::default()
                }),
            };
            let start = Instant::now();
            let signed = a.send_letter(&sender, letter).await?;
            loop {
                let s = tokio::time::timeout(Duration::from_secs(10), stored.recv()).await??;
                if let Payload::DirectMessage(env) = s.event.payload()
                    && env.inbox == hint
                    && b.messenger().try_open(&bob, &env.ciphertext)?.id() == signed.id()
                {
                    break;
                }
            }
            // The first 20 warm the connection and the caches.
            if i >= 20 {
                latencies.push(start.elapsed());
            }
        }
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let report = json!({
            "bench": "dm_delivery",
            "cores": cores,
            "letters": n,
            "p50_ms": ms(percentile(&latencies, 0.50)),
            "p99_ms": ms(percentile(&latencies, 0.99)),
            "max_ms": ms(*latencies.last().unwrap_or(&Duration::ZERO)),
        });
        println!("{report}");
        a.shutdown().await?;
        b.shutdown().await?;
        Ok(())
    })
}
