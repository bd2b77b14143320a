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

pub mod analytics;
pub mod bridge;
pub mod config;
pub mod data_dir;
pub mod dm;
pub mod feed;
pub mod identity;
pub mod ingest;
pub mod media;
pub mod net;
pub mod node;
pub mod notify;
pub mod stories;
pub mod suggest;
pub mod sync;
pub mod topics;
pub mod trending;

pub use kith_protocol as protocol;
pub use kith_storage as storage;

/// The node's clock: milliseconds since the Unix epoch (0 if the clock is
/// before it), never going backwards.
///
/// It is the wall clock, except that it also follows tokio's clock: under
/// tokio's paused time (`tokio::time::pause`/`advance`, in tests) it moves
/// as far as tokio's clock was advanced, so what depends on time (story
/// expiry, windows, sessions) can be tested without waiting.
pub fn now_ms() -> u64 {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static BASE: OnceLock<(u64, tokio::time::Instant)> = OnceLock::new();
    let wall = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    };
    let (base_ms, base_at) = *BASE.get_or_init(|| (wall(), tokio::time::Instant::now()));
    let followed = base_ms.saturating_add(
        tokio::time::Instant::now()
            .saturating_duration_since(base_at)
            .as_millis() as u64,
    );
    // Threads outside the runtime (the store's writer) read std's clock
    // through tokio's; the high-water mark carries paused time to them, and
    // keeps the clock from going backwards when the wall clock is set back.
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = wall().max(followed);
    LAST.fetch_max(now, Ordering::AcqRel).max(now)
}
