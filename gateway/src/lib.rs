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

pub use accounts::{ADMIN_TOKEN_FILE, read_admin_token};
pub use server::{RunningGateway, openapi, route_paths, serve};
