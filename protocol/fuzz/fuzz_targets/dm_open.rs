//! Arbitrary bytes as a sealed direct message, and as a signed letter.
//!
//! Properties: `dm::open` and `SignedLetter::decode` never panic; a signed
//! letter that decodes re-encodes to exactly its input (no letter has two
//! accepted encodings), its letter passes the letter rules, and its
//! signature verifies.

#![no_main]

use kith_protocol::Keypair;
use kith_protocol::dm::{self, DmSecret, SignedLetter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let me = Keypair::from_seed(&[7; 32]).expect("seed").public();
    let key = DmSecret::from_bytes([9; 32]).expect("key");
    let _ = dm::open(data, &me, std::slice::from_ref(&key));
    if let Ok(signed) = SignedLetter::decode(data) {
        assert_eq!(signed.encode(), data, "accepted a non-canonical letter");
        assert_eq!(signed.letter.validate(), Ok(()));
        assert_eq!(SignedLetter::decode(&signed.encode()), Ok(signed));
    }
});
