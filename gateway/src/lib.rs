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
mod chats;
mod discover;
pub mod error;
pub mod json;
mod live;
mod market;
mod media;
mod metrics;
mod nostr;
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

    /// An upload's bytes as `POST /api/v1/media` checks them before
    /// storing: the type from the first bytes, the size limit, and for
    /// images the bounded decode and the metadata removal. Returns the
    /// error code or the MIME type.
    pub fn media(bytes: &[u8]) -> Result<String, String> {
        use kith_node::media::probe;
        let sniffed = probe::sniff(bytes).map_err(|e| e.code().to_string())?;
        probe::check_size(sniffed.class, bytes.len() as u64, &probe::Limits::default())
            .map_err(|e| e.code().to_string())?;
        if sniffed.class == kith_node::protocol::media::MediaClass::Image {
            let clean = probe::clean_image(bytes, &sniffed).map_err(|e| e.code().to_string())?;
            // What was stored decodes again, with the same dimensions.
            let again =
                probe::clean_image(&clean.bytes, &sniffed).map_err(|e| e.code().to_string())?;
            assert_eq!((again.width, again.height), (clean.width, clean.height));
        }
        Ok(sniffed.mime.to_string())
    }

    /// A `Range` header value and a path inside a directory, as
    /// `/ipfs/<cid>/<path>` reads them, for a file of `size` bytes.
    pub fn ipfs_request(range: &str, path: &str, size: u64) {
        let mut headers = axum::http::HeaderMap::new();
        if let Ok(v) = axum::http::HeaderValue::from_str(range) {
            headers.insert(axum::http::header::RANGE, v);
        }
        if let Ok(Some(r)) = crate::media::range(&headers, size) {
            assert!(r.start < r.end && r.end <= size, "{r:?} of {size}");
        }
        if let Ok(segments) = kith_node::media::check_path(path) {
            assert!(
                segments
                    .iter()
                    .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('/'))
            );
        }
    }

    /// Marketplace input (`specs/gateway.md` § 14): the bytes as each JSON
    /// body the market routes read, and as a search or trade-list query
    /// string; returns how many took it, and the refusals' codes.
    pub fn market(bytes: &[u8]) -> (usize, Vec<String>) {
        crate::market::fuzz_input(bytes)
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
    /// The files of `gateway/<dir>`, sorted: a mutation test's seeds.
    fn seeds(dir: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        seeds.sort();
        assert!(seeds.len() >= 5);
        seeds
    }

    /// xorshift64: the same mutations on every run.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// A refusal's code is snake_case.
    fn code_ok(c: &str) -> bool {
        !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    }

    /// A stable-toolchain stand-in for the libFuzzer target, run on every
    /// test run: the seeds of `gateway/fuzz/seeds`, mutated many times
    /// (bit flips, byte insertions and deletions, splices, truncation),
    /// through every client-input decoder. No panic, and every refusal
    /// carries a snake_case code.
    #[test]
    fn client_decoders_survive_mutated_input() {
        let seeds = seeds("fuzz/seeds");
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let (mut accepted, mut refused, mut market_accepted) = (0, 0, 0);
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
            let (took, codes) = crate::fuzz::market(&input);
            market_accepted += took;
            assert!(codes.iter().all(|c| code_ok(c)), "{codes:?}");
        }
        assert!(
            market_accepted > 1_000,
            "{market_accepted} market inputs got through"
        );
        // The mutations must reach both outcomes, or the test proves nothing.
        assert!(
            accepted > 100 && refused > 1_000,
            "{accepted} accepted, {refused} refused"
        );
    }

    /// The same for uploads and file requests (`gateway/fuzz` target
    /// `media`): small JPEG, PNG, GIF, WebP and WAV files, mutated, through
    /// the upload checks and image cleaning, and as Range/path texts.
    #[test]
    fn media_decoders_survive_mutated_input() {
        let seeds = seeds("fuzz/seeds-media");
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let (mut accepted, mut refused) = (0, 0);
        for round in 0..3_000 {
            let mut input = seeds[round % seeds.len()].clone();
            for _ in 0..=(next() % 3) {
                let n = input.len().max(1) as u64;
                let at = (next() % n) as usize;
                match next() % 4 {
                    0 if !input.is_empty() => {
                        let i = at.min(input.len() - 1);
                        input[i] ^= 1 << (next() % 8);
                    }
                    1 if !input.is_empty() => {
                        // A header field (a dimension, a length) set to extremes.
                        let i = at.min(input.len() - 1);
                        input[i] = [0x00, 0xff, 0x7f, 0x80][(next() % 4) as usize];
                    }
                    2 if !input.is_empty() => {
                        input.remove(at.min(input.len() - 1));
                    }
                    _ => input.truncate(at.max(1)),
                }
            }
            match crate::fuzz::media(&input) {
                Ok(_) => accepted += 1,
                Err(code) => {
                    assert!(code_ok(&code), "{code}");
                    refused += 1;
                }
            }
            let text = String::from_utf8_lossy(&input);
            let (range, path) = text.split_once('\n').unwrap_or((&text, ""));
            crate::fuzz::ipfs_request(range, path, input.len() as u64 * 1_000);
        }
        for (range, path) in [("bytes=0-0", "a/b"), ("bytes=-5", "../x"), ("bytes=9-", "")] {
            crate::fuzz::ipfs_request(range, path, 10);
        }
        assert!(
            accepted > 100 && refused > 300,
            "{accepted} accepted, {refused} refused"
        );
    }
}
