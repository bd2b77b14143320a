//! Arbitrary bytes as every JSON document a client sends the gateway: a
//! draft (`/api/v1/publish`, `/api/v1/events/prepare`), a submission
//! (`/api/v1/events`), a live-stream message (`/api/v1/live`), and the
//! marketplace's bodies and query strings (listings, orders, steps,
//! reviews, search).
//!
//! Properties: no decoder panics; a refused draft or submission always
//! carries one of the documented error codes (`specs/gateway.md` § Errors,
//! or a protocol code from `specs/events.md`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let code_ok = |c: &str| !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if let Err(code) = kith_gateway::fuzz::draft(data) {
        assert!(code_ok(&code), "{code}");
    }
    if let Err(code) = kith_gateway::fuzz::submit(data) {
        assert!(code_ok(&code), "{code}");
    }
    let _ = kith_gateway::fuzz::live_message(data);
    let (_, codes) = kith_gateway::fuzz::market(data);
    assert!(codes.iter().all(|c| code_ok(c)), "{codes:?}");
});
