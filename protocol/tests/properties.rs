//! Property tests: round trips, id stability, tamper evidence, batch verification.

use cid::Cid;
use kith_protocol::kinds::{Content, Follow, Post, Reaction, ReactionType, Reply};
use kith_protocol::media::MediaDescriptor;
use kith_protocol::{
    Event, EventError, EventId, Keypair, PublicKey, Rel, UnsignedEvent, Unverified, hashtag,
    verify_batch,
};
use multihash::Multihash;
use proptest::prelude::*;

const T0: u64 = 1_767_225_600_000;

fn key(n: u64) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    seed[31] = 0x4b;
    Keypair::from_seed(&seed).unwrap()
}

fn image(n: u8) -> MediaDescriptor {
    let mh = Multihash::<64>::wrap(0x12, &[n; 32]).unwrap();
    MediaDescriptor {
        cid: Cid::new_v1(0x55, mh),
        mime: "image/webp".into(),
        size: 1000 + u64::from(n),
        width: Some(800),
        height: Some(600),
        duration_ms: None,
        thumbs: vec![Cid::new_v1(
            0x55,
            Multihash::<64>::wrap(0x12, &[n ^ 1; 32]).unwrap(),
        )],
        alt: Some("una foto".into()),
        renditions: vec![],
        waveform: None,
    }
}

/// Text people write: letters with accents, emoji, hashtags, punctuation.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9 ]{1,12}",
            Just("¡Hola! ".to_string()),
            Just("#Adopción ".to_string()),
            Just("#rust ".to_string()),
            Just("ñandú ".to_string()),
            Just("😀 ".to_string()),
            Just("日本語 ".to_string()),
            "#[a-zA-Z_]{1,10} ",
        ],
        1..20,
    )
    .prop_map(|parts| parts.concat())
    .prop_filter("non-empty", |t| !t.trim().is_empty())
}

fn post_event() -> impl Strategy<Value = (u64, UnsignedEvent)> {
    (
        0u64..1000,
        text(),
        prop::collection::vec(0u64..1000, 0..4),
        0u8..3,
        0u64..1_000_000,
    )
        .prop_map(|(author, text, mentions, media, dt)| {
            let mut content = Content::text(text);
            content.media = (0..media).map(image).collect();
            content.lang = Some("es".into());
            let mut ev = UnsignedEvent::new(key(author).public(), T0 + dt, Post { content });
            let mut seen = Vec::new();
            for m in mentions {
                let k = key(m + 5000).public();
                if !seen.contains(&k) {
                    seen.push(k);
                    ev = ev.ref_identity(Rel::Mention, k);
                }
            }
            (author, ev)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn sign_encode_decode_round_trips((author, body) in post_event()) {
        let event = body.clone().sign(&key(author)).unwrap();
        let decoded = Event::from_bytes(event.as_bytes()).unwrap();
        prop_assert_eq!(decoded.body(), &body);
        prop_assert_eq!(decoded.id(), event.id());
        prop_assert_eq!(decoded.as_bytes(), event.as_bytes());
        // The id is the CID of the canonical body, however it is computed.
        prop_assert_eq!(event.id(), body.id());
        prop_assert_eq!(event.id(), EventId::of_body(event.body_bytes()));
        prop_assert_eq!(body.encode(), event.body_bytes().to_vec());
        prop_assert_eq!(event.id().to_string().parse::<EventId>().unwrap(), event.id());
    }

    #[test]
    fn any_bit_flip_fails_verification((author, body) in post_event(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let event = body.sign(&key(author)).unwrap();
        let mut bytes = event.as_bytes().to_vec();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        prop_assert!(Event::from_bytes(&bytes).is_err(), "flip at byte {} bit {} accepted", i, bit);
    }

    #[test]
    fn hashtags_extracted_are_normalised_and_normalising_is_idempotent(t in text(), raw in "\\PC{0,20}") {
        for tag in hashtag::extract(&t) {
            prop_assert_eq!(hashtag::normalize(&tag), Some(tag.clone()));
        }
        if let Some(n) = hashtag::normalize(&raw) {
            prop_assert_eq!(hashtag::normalize(&n), Some(n.clone()));
        }
    }

    #[test]
    fn public_key_text_round_trips(n in any::<u64>()) {
        let k = key(n).public();
        prop_assert_eq!(k.to_string().parse::<PublicKey>().unwrap(), k);
        let secret = key(n).secret_to_text();
        prop_assert_eq!(Keypair::secret_from_text(&secret).unwrap().public(), k);
    }

    #[test]
    fn batch_verification_finds_exactly_the_forgeries(bad in prop::collection::btree_set(0usize..40, 0..6)) {
        let events: Vec<Vec<u8>> = (0..40u64)
            .map(|i| {
                let mut bytes = signed_mix(i).as_bytes().to_vec();
                if bad.contains(&(i as usize)) {
                    // Corrupt the signature's R half: the body (and so the id) is intact.
                    bytes[10] ^= 0x20;
                }
                bytes
            })
            .collect();
        let decoded: Vec<Unverified> =
            events.iter().map(|b| Unverified::decode(b).unwrap()).collect();
        let results = verify_batch(decoded);
        for (i, r) in results.iter().enumerate() {
            if bad.contains(&i) {
                prop_assert_eq!(r.as_ref().unwrap_err(), &EventError::SigInvalid);
            } else {
                prop_assert!(r.is_ok(), "event {} rejected", i);
            }
        }
    }
}

/// A signed event of one of four kinds, different for each `i`.
fn signed_mix(i: u64) -> Event {
    let author = key(i);
    let target = UnsignedEvent::new(
        key(i + 100).public(),
        T0,
        Post {
            content: Content::text(format!("target {i}")),
        },
    )
    .id();
    let body = match i % 4 {
        0 => UnsignedEvent::new(
            author.public(),
            T0 + i,
            Post {
                content: Content::text(format!("post {i} #kith")),
            },
        ),
        1 => UnsignedEvent::new(
            author.public(),
            T0 + i,
            Reply {
                content: Content::text(format!("reply {i}")),
            },
        )
        .ref_event(Rel::Root, target)
        .ref_event(Rel::Parent, target),
        2 => UnsignedEvent::new(
            author.public(),
            T0 + i,
            Reaction {
                reaction: ReactionType::ALL[(i % 6) as usize],
            },
        )
        .ref_event(Rel::Target, target),
        _ => UnsignedEvent::new(author.public(), T0 + i, Follow {})
            .ref_identity(Rel::Subject, key(i + 1).public()),
    };
    body.sign(&author).unwrap()
}

#[test]
fn every_bit_flip_of_a_small_event_fails() {
    let event = signed_mix(2);
    let bytes = event.as_bytes();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut copy = bytes.to_vec();
            copy[i] ^= 1 << bit;
            assert!(
                Event::from_bytes(&copy).is_err(),
                "flip at byte {i} bit {bit} accepted"
            );
        }
    }
}

#[test]
fn batch_of_valid_events_verifies_and_keeps_order() {
    let events: Vec<Event> = (0..100).map(signed_mix).collect();
    let decoded = events
        .iter()
        .map(|e| Unverified::decode(e.as_bytes()).unwrap())
        .collect();
    let verified: Vec<Event> = verify_batch(decoded)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(verified, events);
}

#[test]
fn a_body_signed_by_the_wrong_key_is_refused() {
    let body = UnsignedEvent::new(
        key(1).public(),
        T0,
        Post {
            content: Content::text("hola"),
        },
    );
    let err = body.clone().sign(&key(2)).unwrap_err();
    assert_eq!(err, kith_protocol::SignError::WrongKey);
    // Sealing it anyway gives an event whose signature does not verify.
    let forged = kith_protocol::seal_unchecked(&body.encode(), &key(2));
    assert_eq!(
        Event::from_bytes(&forged).unwrap_err(),
        EventError::SigInvalid
    );
}

#[test]
fn clock_skew_is_measured_against_the_callers_clock() {
    let event = signed_mix(0);
    let created = event.created_at();
    assert!(event.check_clock(created, 0).is_ok());
    assert!(event.check_clock(created - 300_000, 300_000).is_ok());
    assert_eq!(
        event
            .check_clock(created - 300_001, 300_000)
            .unwrap_err()
            .code(),
        "clock_skew"
    );
}
