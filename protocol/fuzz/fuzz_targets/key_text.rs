//! Arbitrary text as a public key, a secret key, a key file and an event id.
//!
//! Properties: no parser panics, and whatever parses prints back to text that
//! parses to the same value.

#![no_main]

use kith_protocol::{EventId, Keypair, PublicKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(key) = text.parse::<PublicKey>() {
        let shown = key.to_string();
        assert_eq!(shown, key.to_text());
        assert_eq!(shown.parse::<PublicKey>(), Ok(key), "{shown}");
        assert_eq!(PublicKey::from_bytes(*key.as_bytes()), Ok(key));
        assert!(shown.starts_with(&key.short()));
    }

    if let Ok(pair) = Keypair::secret_from_text(text) {
        let again =
            Keypair::secret_from_text(&pair.secret_to_text()).expect("a printed secret parses");
        assert_eq!(again.public(), pair.public());
    }

    if let Ok(pair) = Keypair::from_key_file(text) {
        let again = Keypair::from_key_file(&pair.to_key_file()).expect("a written key file parses");
        assert_eq!(again.public(), pair.public());
    }

    if let Ok(id) = text.parse::<EventId>() {
        let shown = id.to_string();
        assert_eq!(shown, text.trim(), "only the canonical spelling parses");
        assert_eq!(shown.parse::<EventId>(), Ok(id));
        assert_eq!(EventId::from_bytes(&id.to_bytes()), Ok(id));
    }
});
