//! # kith-gateway
//!
//! The HTTP surface of a Kith node: the JSON API under `/api/v1` (with its
//! OpenAPI document generated from this code), hosted accounts, bring-your-own-key
//! submission, live updates over WebSocket, `/health` and `/metrics`.
//!
//! ```text
//! client ──HTTP──▶ limits, CORS, headers ──▶ Caller (token) ──▶ handler
//!                                                          │
//!          reads: Store readers ◀──────────────────────────┤
//!          writes: sign (hosted) or verify (BYOK) ──▶ node ingest pipeline
//! ```
//!
//! Every write goes through the node's ingest pipeline, the same path as an
//! event from the network: the gateway never writes to the store itself.

// Library code returns errors; tests may unwrap.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod accounts;
mod api;
mod auth;
pub mod error;
pub mod json;
mod live;
mod metrics;
mod server;

/// Entry points for the fuzz targets (`gateway/fuzz`) and property tests:
/// every decoder of client input, fed arbitrary bytes. Not an API.
#[doc(hidden)]
pub mod fuzz {
    /// A draft as `/api/v1/publish` and `/api/v1/events/prepare` read it,
    /// built for a fixed author; returns the error code or the event's kind.
    pub fn draft(bytes: &[u8]) -> Result<String, String> {
        let key = kith_node::protocol::PublicKey::from_bytes_unchecked([7; 32]);
        let draft: crate::json::Draft = crate::json::parse_json(bytes).map_err(|e| e.code)?;
        draft
            .build(key, key, 1_767_225_600_000)
            .map(|e| e.kind().name().to_string())
            .map_err(|e| e.code)
    }

    /// A live-stream client message; returns whether it parsed.
    pub fn live_message(bytes: &[u8]) -> bool {
        crate::live::parse_client_message(bytes)
    }

    /// A BYOK submission body as `/api/v1/events` reads it, up to the
    /// envelope it names (then the protocol's own decoder, fuzzed there).
    pub fn submit(bytes: &[u8]) -> Result<usize, String> {
        crate::api::submission_bytes(bytes)
            .map(|b| b.len())
            .map_err(|e| e.code)
    }
}

pub use accounts::{ADMIN_TOKEN_FILE, read_admin_token};
pub use server::{RunningGateway, openapi, route_paths, serve};
