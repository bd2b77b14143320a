//! The operator's relay policy (`[relay]` in `kith.toml`) and the NIP-11
//! document that announces it.

use std::collections::HashSet;
use std::net::SocketAddr;

use nostr::prelude::PublicKey;
use serde::{Deserialize, Serialize};

/// The default relay port (the gateway's is 7417).
pub const DEFAULT_PORT: u16 = 7418;

/// Kinds only their authenticated authors and recipients may read (NIP-42):
/// NIP-04 direct messages, NIP-59 gift wraps and NIP-17 chat messages.
pub const PRIVATE_KINDS: [u16; 3] = [4, 1059, 14];

/// Relay settings. Every limit has a default an operator can change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Where to listen (default `127.0.0.1:7418`).
    pub listen: SocketAddr,
    /// NIP-11 `name`.
    pub name: String,
    /// NIP-11 `description`.
    pub description: String,
    /// NIP-11 `contact` (empty: none).
    pub contact: String,
    /// Largest WebSocket message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Largest event (its JSON), in bytes.
    pub max_event_bytes: usize,
    /// Open subscriptions per connection.
    pub max_subscriptions: usize,
    /// Filters in one REQ or COUNT.
    pub max_filters: usize,
    /// Most events one filter returns.
    pub max_limit: usize,
    /// Most index entries one REQ or COUNT reads: the bound on what a filter
    /// asking for the whole database costs.
    pub max_scan: usize,
    /// Longest subscription id.
    pub max_subid_length: usize,
    /// Most events one negentropy session (NIP-77) reconciles.
    pub max_negentropy_items: usize,
    /// WebSocket connections at once.
    pub max_connections: usize,
    /// Events accepted per second from one IP address (bursts up to 4×).
    pub events_per_second_per_ip: u32,
    /// Events accepted per second from one author (bursts up to 4×).
    pub events_per_second_per_pubkey: u32,
    /// REQ and COUNT messages per second from one IP address (bursts up to 4×).
    pub queries_per_second_per_ip: u32,
    /// Only these authors may publish (hex keys; empty: anyone).
    pub allowed_pubkeys: Vec<String>,
    /// These authors may not publish (hex keys).
    pub denied_pubkeys: Vec<String>,
    /// Only these kinds are accepted (empty: any).
    pub allowed_kinds: Vec<u16>,
    /// These kinds are refused.
    pub denied_kinds: Vec<u16>,
    /// NIP-13 proof of work: leading zero bits an event id needs (0: none).
    pub min_pow: u8,
    /// How far in the future an event's `created_at` may be, in seconds.
    pub max_future_secs: u64,
    /// Bytes of outgoing messages one connection may have waiting; past it
    /// the connection is a slow consumer and is closed.
    pub max_connection_buffer_bytes: usize,
    /// Events kept for live subscribers that have not read them yet; a
    /// connection that falls further behind is closed.
    pub live_buffer: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            name: "Kith relay".into(),
            description: "A Nostr relay run by a Kith node.".into(),
            contact: String::new(),
            max_message_bytes: 256 * 1024,
            max_event_bytes: 128 * 1024,
            max_subscriptions: 32,
            max_filters: 16,
            max_limit: 500,
            max_scan: 50_000,
            max_subid_length: 64,
            max_negentropy_items: 500_000,
            max_connections: 20_000,
            events_per_second_per_ip: 200,
            events_per_second_per_pubkey: 50,
            queries_per_second_per_ip: 200,
            allowed_pubkeys: Vec::new(),
            denied_pubkeys: Vec::new(),
            allowed_kinds: Vec::new(),
            denied_kinds: Vec::new(),
            min_pow: 0,
            max_future_secs: 900,
            max_connection_buffer_bytes: 4 * 1024 * 1024,
            live_buffer: 8192,
        }
    }
}

/// The parsed form of the config's lists.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    pub(crate) allowed_pubkeys: HashSet<PublicKey>,
    pub(crate) denied_pubkeys: HashSet<PublicKey>,
}

fn keys(list: &[String], what: &str) -> Result<HashSet<PublicKey>, String> {
    list.iter()
        .map(|k| {
            PublicKey::parse(k).map_err(|e| format!("{what}: {k:?} is not a Nostr public key: {e}"))
        })
        .collect()
}

impl RelayConfig {
    pub(crate) fn policy(&self) -> Result<Policy, String> {
        if self.max_message_bytes < 1024 || self.max_event_bytes > self.max_message_bytes {
            return Err(
                "max_message_bytes must be at least 1024 and at least max_event_bytes".into(),
            );
        }
        if self.max_limit == 0 || self.max_scan < self.max_limit {
            return Err("max_limit must be positive and max_scan at least max_limit".into());
        }
        Ok(Policy {
            allowed_pubkeys: keys(&self.allowed_pubkeys, "allowed_pubkeys")?,
            denied_pubkeys: keys(&self.denied_pubkeys, "denied_pubkeys")?,
        })
    }
}

/// The NIP-11 relay information document.
pub(crate) fn information(c: &RelayConfig) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "name": c.name,
        "description": c.description,
        "software": "https://kith.social/kith",
        "version": env!("CARGO_PKG_VERSION"),
        "supported_nips": [1, 9, 11, 40, 42, 45, 77],
        "limitation": {
            "max_message_length": c.max_message_bytes,
            "max_content_length": c.max_event_bytes,
            "max_subscriptions": c.max_subscriptions,
            "max_filters": c.max_filters,
            "max_limit": c.max_limit,
            "default_limit": c.max_limit,
            "max_subid_length": c.max_subid_length,
            "min_pow_difficulty": c.min_pow,
            "auth_required": false,
            "payment_required": false,
            "restricted_writes": !c.allowed_pubkeys.is_empty() || !c.allowed_kinds.is_empty(),
            "created_at_upper_limit": c.max_future_secs,
        },
    });
    if !c.contact.is_empty() {
        doc["contact"] = c.contact.clone().into();
    }
    doc
}
