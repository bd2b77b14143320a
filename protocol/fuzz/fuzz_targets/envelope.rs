//! Arbitrary bytes as a received envelope.
//!
//! Properties: decoding and verification never panic; an accepted envelope's
//! body is exactly the canonical encoding of what was decoded (so no event has
//! two accepted encodings); the id is the hash of those body bytes; and batch
//! and single verification agree.

#![no_main]

use kith_protocol::event::ENVELOPE_HEADER_LEN;
use kith_protocol::{Event, EventId, Unverified, verify_batch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(unverified) = Unverified::decode(data) else {
        return;
    };
    let body_bytes = &data[ENVELOPE_HEADER_LEN..];

    // Canonical round trip: re-encoding what was decoded gives back the input.
    let body = unverified.body();
    assert_eq!(
        body.encode(),
        body_bytes,
        "accepted a non-canonical body encoding"
    );
    let id = EventId::of_body(body_bytes);
    assert_eq!(unverified.id(), id);
    assert_eq!(body.id(), id);
    // Decoding already ran every stateless rule.
    assert_eq!(body.validate(), Ok(()));

    // Batch (two copies, so the batch equation is used) and single verification agree.
    let batch = verify_batch(vec![unverified.clone(), unverified.clone()]);
    let single = unverified.verify();
    for result in &batch {
        assert_eq!(
            result.is_ok(),
            single.is_ok(),
            "batch and single verification disagree"
        );
    }
    assert_eq!(Event::from_bytes(data).is_ok(), single.is_ok());

    if let Ok(event) = single {
        assert_eq!(event.as_bytes(), data);
        assert_eq!(event.body_bytes(), body_bytes);
        assert_eq!(event.id(), id);
    }
});
