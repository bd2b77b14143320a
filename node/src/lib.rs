//! # kith-node
//!
//! The running node. It will own the ingest pipeline (the one place where an
//! event becomes accepted), the network actor on rust-ipfs/libp2p (gossip,
//! sync, fetch, bitswap), and the domain services (feeds, notifications,
//! trades, communities, messages, video).
//!
//! Today it owns the node's data directory and its identity key file.
//!
//! ```no_run
//! use kith_node::{data_dir, identity};
//!
//! let dir = data_dir::resolve(None)?;
//! let (key, created) = identity::load_or_create(&dir)?;
//! println!("{} (new: {created})", key.public());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Library code returns errors; tests, benches and examples may unwrap.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod data_dir;
pub mod identity;

pub use kith_protocol as protocol;
