//! # kith-storage
//!
//! Persistence for a Kith node: the event store on sled with every index the
//! product reads from, derived state (counters, follow graph, trades,
//! communities, replaceable events), full-text search with tantivy, story
//! expiry and an integrity check.
//!
//! - **Atomic**: an event and all its indexes, counters and derived state are
//!   written in one sled batch; a reader sees all of it or none of it.
//! - **Durable before acknowledged**: one writer thread groups events (group
//!   commit), applies the group as one batch and fsyncs before answering.
//! - **Derived state is a function of the events**: [`Store::check_integrity`]
//!   replays every stored event through the same code over an empty state and
//!   compares.
//!
//! It supplies the state that [`kith_protocol::auth`] rules decide on; it
//! never decides validity itself.
//!
//! ```no_run
//! use kith_storage::{Store, StoreConfig, Filter};
//! # async fn demo(events: Vec<kith_protocol::Event>) -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::open(StoreConfig::new("/var/lib/kith"))?;
//! let outcomes = store.ingest(events).await?; // durable when this returns
//! let page = store.query(&Filter { kinds: vec![kith_protocol::Kind::Post], limit: 50, ..Filter::default() }, None)?;
//! println!("{} outcomes, {} posts", outcomes.len(), page.events.len());
//! # Ok(()) }
//! ```

// Library code returns errors; tests, benches and examples may unwrap.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod apply;
mod error;
mod integrity;
mod keys;
mod query;
mod search;
mod sled_open;
mod store;
mod tx;
mod writer;

pub use apply::{Dependency, IngestOutcome, StoredEvent, TradeRecord, expires_at};
pub use error::{OpenStoreError, StoreError};
pub use integrity::IntegrityReport;
pub use keys::{EventCounter, KeyCounter, prefix_end};
pub use kith_protocol as protocol;
pub use query::{
    Cursor, DelegationInfo, EventStats, Filter, IdPage, MAX_PAGE, Page, Reader, Reputation,
    ThreadItem, ThreadOptions, ThreadPage, ThreadSort, TradeFilter, TradePage, UnknownThreadSort,
    matches,
};
pub use search::{
    ListingHit, ListingQuery, ListingSort, Search, SearchHit, SearchQuery, text_analyzer,
};
pub use sled_open::{open_sled, remove_partial_snapshots};
pub use store::{SEARCH_DIR, STORE_DIR, Store, StoreConfig};
