//! The node role: one `kith_node::Node` driven by JSON lines on stdin.
//!
//! Commands (one JSON object per line, answered by one line on stdout):
//! `connect {addr}`, `follow {who}`, `post {count, interval_ms}`,
//! `block {peers}`, `unblock {peers, addrs}`, `report`, `digest`, `quit`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kith_node::config::Config;
use kith_node::net::behaviour::PeerId;
use kith_node::node::{Node, StartOptions};
use kith_node::protocol::kinds::{Content, Follow, Post};
use kith_node::protocol::{PublicKey, Rel, UnsignedEvent};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Debug, clap::Args)]
pub(crate) struct NodeArgs {
    /// Data directory.
    #[arg(long)]
    dir: PathBuf,
    /// Seconds between periodic syncs.
    #[arg(long, default_value_t = 5)]
    sync_secs: u64,
}

fn say(v: Value) -> String {
    format!("{v}\n")
}

pub(crate) async fn node(args: NodeArgs) -> anyhow::Result<()> {
    let mut config = Config::default();
    config.network.listen = vec!["/ip4/127.0.0.1/tcp/0".parse()?];
    config.network.mdns = false;
    config.sync.interval_secs = args.sync_secs;
    let node = Arc::new(
        Node::start(
            &args.dir,
            &config,
            StartOptions {
                memory_blocks: true,
                ..StartOptions::default()
            },
        )
        .await?,
    );
    let me = node.identity().public();

    // When each event by someone else was stored here.
    let received: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let lagged = Arc::new(std::sync::atomic::AtomicU64::new(0));
    {
        let mut sub = node.store().subscribe();
        let (received, lagged) = (received.clone(), lagged.clone());
        tokio::spawn(async move {
            loop {
                match sub.recv().await {
                    Ok(stored) => {
                        if stored.event.author() != me {
                            received
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .insert(
                                    hex::encode(stored.event.id().digest()),
                                    kith_node::now_ms(),
                                );
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        lagged.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
        });
    }
    let mut published: Vec<(String, u64)> = Vec::new();
    let mut out = tokio::io::stdout();
    out.write_all(
        say(json!({
            "event": "started",
            "peer_id": node.peer_id().to_string(),
            "identity": me.to_string(),
            "listen": node.listen_addrs().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "pid": std::process::id(),
        }))
        .as_bytes(),
    )
    .await?;
    out.flush().await?;

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let cmd: Value = serde_json::from_str(&line)?;
        let reply = match cmd["cmd"].as_str().unwrap_or("") {
            "connect" => {
                let addr = cmd["addr"].as_str().unwrap_or_default().parse()?;
                match node.connect(addr).await {
                    Ok(_) => json!({"ok": true}),
                    Err(e) => json!({"ok": false, "error": e.to_string()}),
                }
            }
            "follow" => {
                let who: PublicKey = cmd["who"].as_str().unwrap_or_default().parse()?;
                let e = UnsignedEvent::new(me, kith_node::now_ms(), Follow {})
                    .ref_identity(Rel::Subject, who);
                node.publish(e).await?;
                json!({"ok": true})
            }
            "post" => {
                let count = cmd["count"].as_u64().unwrap_or(1);
                let interval = Duration::from_millis(cmd["interval_ms"].as_u64().unwrap_or(100));
                for i in 0..count {
                    let t = kith_node::now_ms();
                    let text = format!("testnet post {i} from {}", &me.to_string()[..12]);
                    let (e, _) = node
                        .publish(UnsignedEvent::new(
                            me,
                            t,
                            Post {
                                content: Content::text(text),
                            },
                        ))
                        .await?;
                    published.push((hex::encode(e.id().digest()), t));
                    tokio::time::sleep(interval).await;
                }
                json!({"ok": true, "published": count})
            }
            "block" | "unblock" => {
                let block = cmd["cmd"] == "block";
                for p in cmd["peers"].as_array().into_iter().flatten() {
                    let peer: PeerId = p.as_str().unwrap_or_default().parse()?;
                    if block {
                        node.block_peer(peer).await;
                    } else {
                        node.unblock_peer(peer);
                    }
                }
                for a in cmd["addrs"].as_array().into_iter().flatten() {
                    let _ = node.connect(a.as_str().unwrap_or_default().parse()?).await;
                }
                json!({"ok": true})
            }
            "report" => {
                let received = received
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                json!({
                    "published": published,
                    "received": received,
                    "lagged": lagged.load(std::sync::atomic::Ordering::Relaxed),
                    "stats": node.ingest().stats().snapshot(),
                    "connected": node.ipfs().connected().await.map(|c| c.len()).unwrap_or(0),
                })
            }
            "digest" => {
                // Every stored event id, so the driver can compare nodes.
                let mut ids = Vec::new();
                let mut after = 0;
                loop {
                    let page = node.store().reader().log_after(after, 4096)?;
                    let Some(last) = page.last() else { break };
                    after = last.seq;
                    ids.extend(page.iter().map(|s| hex::encode(s.event.id().digest())));
                }
                ids.sort();
                json!({"count": ids.len(), "ids": ids})
            }
            "quit" => break,
            other => json!({"ok": false, "error": format!("unknown command {other}")}),
        };
        out.write_all(say(reply).as_bytes()).await?;
        out.flush().await?;
    }
    let node = Arc::try_unwrap(node).map_err(|_| anyhow::anyhow!("node still in use"))?;
    node.shutdown().await?;
    out.write_all(say(json!({"event": "stopped"})).as_bytes())
        .await?;
    out.flush().await?;
    Ok(())
}
