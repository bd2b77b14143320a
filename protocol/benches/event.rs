//! Throughput of the event pipeline: encode, decode, id, sign, verify and
//! batch verification, in events per second.
//!
//! Run with `cargo bench -p kith-protocol --bench event`. The whole run takes a
//! about three minutes: 5 s measurement windows (10 s for the 1024-event group).

use std::hint::black_box;
use std::time::Duration;

use cid::Cid;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kith_protocol::kinds::{Content, Follow, Post, Reaction, ReactionType, Reply};
use kith_protocol::media::MediaDescriptor;
use kith_protocol::{Event, EventId, Keypair, Rel, UnsignedEvent, Unverified, verify_batch};
use multihash::Multihash;

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;
const MEASUREMENT: Duration = Duration::from_secs(5);
const WARM_UP: Duration = Duration::from_secs(1);

fn key(n: u64) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    seed[31] = 0xbe;
    Keypair::from_seed(&seed).expect("a seed gives a usable key")
}

fn cid(n: u8) -> Cid {
    let mh = Multihash::<64>::wrap(0x12, &[n; 32]).expect("32 bytes fit a multihash");
    Cid::new_v1(0x55, mh)
}

fn image(n: u8) -> MediaDescriptor {
    MediaDescriptor {
        cid: cid(n),
        mime: "image/jpeg".into(),
        size: 482_113,
        width: Some(1600),
        height: Some(1200),
        duration_ms: None,
        thumbs: vec![cid(n.wrapping_add(1))],
        alt: Some("Luna, una perrita blanca con una mancha marrón, en el parque".into()),
        renditions: vec![],
        waveform: None,
    }
}

/// A realistic post: about 200 characters of mixed Spanish and English text,
/// three hashtags, two mentions and one image.
fn realistic_post(author: &Keypair) -> UnsignedEvent {
    let text = "¡Hola a todos! Hoy adoptamos a Luna, una perrita rescatada del refugio \
                de Valparaíso. Thanks to everyone who shared the post last week, you \
                made this happen. ¡Gracias! 🐶 #Adopción #perros #rescue";
    let mut content = Content::text(text);
    assert_eq!(content.tags.len(), 3);
    content.media = vec![image(7)];
    content.lang = Some("es".into());
    UnsignedEvent::new(author.public(), T0 + 12_345, Post { content })
        .ref_identity(Rel::Mention, key(1001).public())
        .ref_identity(Rel::Mention, key(1002).public())
}

/// `n` distinct events by `n` distinct authors: posts, replies, reactions and
/// follows in turn.
fn mixed_events(n: usize) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::with_capacity(n);
    for i in 0..n {
        let k = key(10_000 + i as u64);
        let at = T0 + i as u64 * 1_000;
        // Every kind but the post points at an earlier event, and there is one by i = 0.
        let earlier = || events[i / 2].id();
        let unsigned = match i % 4 {
            0 => {
                let text = format!(
                    "Post {i}: hoy en el mercado de la plaza había fresas, paltas y \
                     pan amasado recién hecho. Lovely morning for a walk! #feria #{i}x"
                );
                let mut content = Content::text(text);
                content.lang = Some("es".into());
                UnsignedEvent::new(k.public(), at, Post { content })
                    .ref_identity(Rel::Mention, key(i as u64).public())
            }
            1 => {
                let text = format!("Reply {i}: totally agree, nos vemos el sábado. #kith");
                UnsignedEvent::new(
                    k.public(),
                    at,
                    Reply {
                        content: Content::text(text),
                    },
                )
                .ref_event(Rel::Root, events[0].id())
                .ref_event(Rel::Parent, earlier())
            }
            2 => UnsignedEvent::new(
                k.public(),
                at,
                Reaction {
                    reaction: ReactionType::ALL[i % ReactionType::ALL.len()],
                },
            )
            .ref_event(Rel::Target, earlier()),
            _ => UnsignedEvent::new(k.public(), at, Follow {})
                .ref_identity(Rel::Subject, key(10_000 + (i as u64 / 2)).public()),
        };
        events.push(unsigned.sign(&k).expect("benchmark events are valid"));
    }
    events
}

fn decoded(events: &[Event]) -> Vec<Unverified> {
    events
        .iter()
        .map(|e| Unverified::decode(e.as_bytes()).expect("signed events decode"))
        .collect()
}

fn single_event(c: &mut Criterion) {
    let k = key(1);
    let unsigned = realistic_post(&k);
    let event = unsigned.clone().sign(&k).expect("the post is valid");
    let envelope = event.as_bytes().to_vec();
    let body = event.body_bytes().to_vec();
    let unverified = Unverified::decode(&envelope).expect("the envelope decodes");

    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(MEASUREMENT);
    g.warm_up_time(WARM_UP);

    g.bench_function("encode", |b| b.iter(|| black_box(&unsigned).encode()));
    g.bench_function("decode", |b| {
        b.iter(|| Unverified::decode(black_box(&envelope)).expect("decodes"))
    });
    g.bench_function("id", |b| b.iter(|| EventId::of_body(black_box(&body))));
    g.bench_function("sign", |b| {
        b.iter_batched(
            || unsigned.clone(),
            |u| u.sign(&k).expect("signs"),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("decode_verify", |b| {
        b.iter(|| Event::from_bytes(black_box(&envelope)).expect("verifies"))
    });
    g.bench_function("verify", |b| {
        b.iter_batched(
            || unverified.clone(),
            |u| u.verify().expect("verifies"),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn many_events(c: &mut Criterion, n: usize, sample_size: usize, measurement: Duration) {
    let events = mixed_events(n);
    let unverified = decoded(&events);

    let mut g = c.benchmark_group(format!("verify_{n}"));
    g.throughput(Throughput::Elements(n as u64));
    g.measurement_time(measurement);
    g.warm_up_time(WARM_UP);
    g.sample_size(sample_size);

    g.bench_function("batch", |b| {
        b.iter_batched(
            || unverified.clone(),
            |batch| {
                let results = verify_batch(batch);
                assert!(results.iter().all(Result::is_ok));
                results
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("single", |b| {
        b.iter_batched(
            || unverified.clone(),
            |batch| {
                batch
                    .into_iter()
                    .map(|u| u.verify().expect("verifies"))
                    .collect::<Vec<_>>()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn verify_64(c: &mut Criterion) {
    many_events(c, 64, 50, MEASUREMENT);
}

fn verify_1024(c: &mut Criterion) {
    // One pass of 1024 single verifications takes about 50 ms: 20 samples need ~10 s.
    many_events(c, 1024, 20, 2 * MEASUREMENT);
}

criterion_group!(benches, single_event, verify_64, verify_1024);
criterion_main!(benches);
