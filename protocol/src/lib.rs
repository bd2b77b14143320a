//! # kith-protocol
//!
//! The language every Kith node, relay and client speaks: identities, event
//! kinds, the canonical encoding, ids, signatures and the validation rules.
//! Pure: no I/O, no async runtime. The normative text is `specs/events.md` and
//! `specs/kinds.md`; the test vectors in `specs/vectors/` pin it down byte for byte.
//!
//! ```no_run
//! use kith_protocol::{Event, Keypair, UnsignedEvent, kinds::{Content, Post}};
//!
//! let key = Keypair::generate(&mut rand_core::OsRng);
//! let post = Post { content: Content::text("¡Hola, #kith!") };
//! let event = UnsignedEvent::new(key.public(), 1_767_225_600_000, post).sign(&key)?;
//!
//! // What travels: the envelope bytes. What comes back out: the same event.
//! let received = Event::from_bytes(event.as_bytes())?;
//! assert_eq!(received.id(), event.id());
//! println!("{} by {}", received.id(), received.author());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Library code returns errors; tests, benches and examples may unwrap.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod auth;
mod check;
pub mod dm;
pub mod encoding;
pub mod error;
pub mod event;
pub mod hashtag;
pub mod id;
pub mod identity;
pub mod kinds;
pub mod media;
pub mod refs;

pub use error::{AuthError, EventError};
pub use event::{
    Event, SignError, UnsignedEvent, Unverified, assemble, check_clock, seal_unchecked,
    verify_batch,
};
pub use id::EventId;
pub use identity::{KeyError, Keypair, NOSTR_LINK_CONTEXT, PublicKey, Signature};
pub use kinds::{Kind, Payload};
pub use refs::{Ref, RefTarget, Rel};

/// Largest envelope, in bytes. Larger events are invalid everywhere.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// How far in the future `created_at` may be, by default, when an event arrives.
pub const DEFAULT_MAX_FUTURE_SKEW_MS: u64 = 5 * 60 * 1000;
/// Earliest valid timestamp: 2020-01-01T00:00:00Z, in ms. Catches seconds sent as ms.
pub const MIN_TIMESTAMP_MS: u64 = 1_577_836_800_000;
/// Latest valid timestamp: 9999-12-31T23:59:59.999Z, in ms.
pub const MAX_TIMESTAMP_MS: u64 = 253_402_300_799_999;
