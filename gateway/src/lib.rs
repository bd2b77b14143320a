//! # kith-gateway
//!
//! The HTTP surface of a Kith node. It will own the REST API under `/api/v1`
//! with its OpenAPI document, hosted accounts (argon2id passwords, sessions,
//! delegated keys), bring-your-own-key submission, WebSocket live updates,
//! `/ipfs/<cid>` media serving, `/metrics`, `/health` and the web client.
//!
//! Every write goes through the node's ingest pipeline. Nothing is implemented yet.

// Library code returns errors; tests, benches and examples may unwrap.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub use kith_node as node;
