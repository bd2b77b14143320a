//! # kith-node
//!
//! The running node: the ingest pipeline (the one place where an event
//! becomes accepted), the network actor on rust-ipfs/libp2p (gossip with
//! validation and peer scoring, kademlia, bitswap, mdns), sync by set
//! reconciliation and fetch-by-id, and the daemon's configuration.
//!
//! ```no_run
//! use kith_node::{config::Config, node::{Node, StartOptions}};
//! use kith_node::protocol::{UnsignedEvent, kinds::{Content, Post}};
//! # async fn demo() -> anyhow::Result<()> {
//! let dir = std::path::Path::new("/var/lib/kith");
//! let node = Node::start(dir, &Config::load(dir, None)?, StartOptions::default()).await?;
//! let me = node.identity().public();
//! let (event, verdict) = node.publish(UnsignedEvent::new(me, 1_700_000_000_000, Post { content: Content::text("hola") })).await?;
//! println!("{} {verdict:?}", event.id());
//! node.shutdown().await?;
//! # Ok(()) }
//! ```

// Library code returns errors; tests, benches and examples may unwrap.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod config;
pub mod data_dir;
pub mod feed;
pub mod identity;
pub mod ingest;
pub mod net;
pub mod node;
pub mod sync;
pub mod topics;
pub mod trending;

pub use kith_protocol as protocol;
pub use kith_storage as storage;

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
