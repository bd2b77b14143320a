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
mod discover;
pub mod error;
pub mod json;
mod live;
mod media;
mod metrics;
mod notify;
mod ranked;
mod server;
mod stories;
mod views;

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

#[cfg(test)]
mod tests {
    /// A stable-toolchain stand-in for the libFuzzer target, run on every
    /// test run: the seeds of `gateway/fuzz/seeds`, mutated many times
    /// (bit flips, byte insertions and deletions, splices, truncation),
    /// through every client-input decoder. No panic, and every refusal
    /// carries a snake_case code.
    #[test]
    fn client_decoders_survive_mutated_input() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        seeds.sort();
        assert!(seeds.len() >= 5);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let code_ok =
            |c: &str| !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        let (mut accepted, mut refused) = (0, 0);
        for round in 0..20_000 {
            let mut input = seeds[round % seeds.len()].clone();
            for _ in 0..=(next() % 4) {
                let n = input.len().max(1) as u64;
                let at = (next() % n) as usize;
                match next() % 5 {
                    0 if !input.is_empty() => {
                        let i = at.min(input.len() - 1);
                        input[i] ^= 1 << (next() % 8);
                    }
                    1 => input.insert(
                        at.min(input.len()),
                        b"{}[]\",:0aZ\\\xff"[(next() % 12) as usize],
                    ),
                    2 if !input.is_empty() => {
                        input.remove(at.min(input.len() - 1));
                    }
                    3 => {
                        let other = &seeds[(next() as usize) % seeds.len()];
                        let from = (next() as usize) % other.len().max(1);
                        let i = at.min(input.len());
                        input.splice(i..i, other[from..].iter().copied());
                    }
                    _ => input.truncate(at),
                }
            }
            match crate::fuzz::draft(&input) {
                Ok(_) => accepted += 1,
                Err(code) => {
                    assert!(code_ok(&code), "{code}");
                    refused += 1;
                }
            }
            if let Err(code) = crate::fuzz::submit(&input) {
                assert!(code_ok(&code), "{code}");
            }
            let _ = crate::fuzz::live_message(&input);
        }
        // The mutations must reach both outcomes, or the test proves nothing.
        assert!(
            accepted > 100 && refused > 1_000,
            "{accepted} accepted, {refused} refused"
        );
    }
}
