//! # kith-storage
//!
//! Persistence for a Kith node. It will own (see `ARCHITECTURE.md`):
//!
//! - the event store on sled, in the node's data directory, with every index the
//!   product needs (author, kind, reference target, hashtag, mention, follow
//!   graph, block and mute lists, delegations in force, story expiry,
//!   tombstones, trade states, community roles, counters);
//! - atomic application of an accepted event with all its derived state, through
//!   one writer task with group commit;
//! - queries with stable cursor pagination, and full-text search with tantivy.
//!
//! It supplies the state that [`kith_protocol::auth`] rules decide on; it never
//! decides validity itself. Nothing is implemented yet: this crate is the place
//! the storage milestone fills.

// Library code returns errors; tests, benches and examples may unwrap.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub use kith_protocol as protocol;
