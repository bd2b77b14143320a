//! The operator's relay policy (`[relay]` in `kith.toml`) and the NIP-11
//! document that announces it.

use std::collections::HashSet;

use nostr::prelude::PublicKey;

/// Kinds only their authenticated authors and recipients may read (NIP-42):
/// NIP-04 direct messages, NIP-59 gift wraps and NIP-17 chat messages.
pub const PRIVATE_KINDS: [u16; 3] = [4, 1059, 14];

pub use kith_node::config::{DEFAULT_RELAY_PORT as DEFAULT_PORT, RelaySection as RelayConfig};

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

/// Checks the config and parses its key lists.
pub(crate) fn policy(c: &RelayConfig) -> Result<Policy, String> {
    if c.max_message_bytes < 1024 || c.max_event_bytes > c.max_message_bytes {
        return Err("max_message_bytes must be at least 1024 and at least max_event_bytes".into());
    }
    if c.max_limit == 0 || c.max_scan < c.max_limit {
        return Err("max_limit must be positive and max_scan at least max_limit".into());
    }
    Ok(Policy {
        allowed_pubkeys: keys(&c.allowed_pubkeys, "allowed_pubkeys")?,
        denied_pubkeys: keys(&c.denied_pubkeys, "denied_pubkeys")?,
    })
}

/// The NIP-11 relay information document.
pub(crate) fn information(c: &RelayConfig) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "name": c.name,
        "description": c.description,
        "software": "https://kith.social/kith",
        "version": env!("CARGO_PKG_VERSION"),
        "supported_nips": [1, 9, 11, 40, 42, 45, 50, 77],
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
