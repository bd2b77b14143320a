//! # kith-relay
//!
//! The Nostr surface of a Kith node. It will own a full relay for community
//! operators (NIP-01, 09, 11, 40, 42, 45, 50, 77) that stores Nostr events
//! through kith-storage, and the bridge that publishes Kith events as their
//! Nostr counterparts and imports the notes of followed Nostr keys.
//!
//! Every write goes through the node's ingest pipeline; nothing here writes to
//! storage directly. Nothing is implemented yet.

// Library code returns errors; tests, benches and examples may unwrap.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub use kith_node as node;
