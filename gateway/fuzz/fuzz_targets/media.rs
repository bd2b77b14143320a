//! Arbitrary bytes as an upload (`POST /api/v1/media`: type sniffing, size
//! limits, bounded image decoding, metadata removal) and as the two texts
//! of a file request (`/ipfs/<cid>/<path>` with a `Range` header).
//!
//! Properties: nothing panics or allocates without bound (libFuzzer's
//! `-rss_limit_mb` catches a decoding bomb); a refusal has a stable
//! snake_case code; a cleaned image decodes again with the same
//! dimensions; a satisfiable range lies inside the file; an accepted path
//! names only children.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(code) = kith_gateway::fuzz::media(data) {
        assert!(!code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code}");
    }
    let text = String::from_utf8_lossy(data);
    let (range, path) = text.split_once('\n').unwrap_or((&text, ""));
    let size = data.len() as u64 * 1_000;
    kith_gateway::fuzz::ipfs_request(range, path, size);
});
