//! Sealing and opening direct messages (`specs/messages.md`): sign + pad +
//! HPKE seal, and HPKE open + unpad + decode + verify, per message, for a
//! short text (the 512-byte bucket) and a long one (the 8192-byte bucket).
//! For reference in the same run: one Ed25519 signature and one event
//! verification, which a seal and an open each contain.
//!
//! Run with `cargo bench -p kith-protocol --bench dm`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use kith_protocol::dm::{self, Body, DmSecret, Letter, Text};
use kith_protocol::kinds::{Content, Post};
use kith_protocol::{Event, Keypair, UnsignedEvent};
use rand_core::OsRng;

const T0: u64 = 1_767_225_600_000;

fn letter(from: &Keypair, to: &Keypair, text: &str) -> Letter {
    Letter {
        from: from.public(),
        to: vec![to.public()],
        group: None,
        created_at: T0,
        body: Body::Text(Text {
            text: text.into(),
            ..Text::default()
        }),
    }
}

fn bench(c: &mut Criterion) {
    let (ana, bob) = (Keypair::generate(&mut OsRng), Keypair::generate(&mut OsRng));
    let key = DmSecret::generate(&mut OsRng);
    let public = key.public();
    let mut g = c.benchmark_group("dm");
    g.measurement_time(Duration::from_secs(5));
    for (name, text) in [
        (
            "short",
            "¿Nos vemos mañana en la huerta a las 7?".to_owned(),
        ),
        ("long", "palabra ".repeat(700)),
    ] {
        let l = letter(&ana, &bob, &text);
        g.bench_function(format!("seal_{name}"), |b| {
            b.iter(|| {
                let signed = black_box(l.clone()).sign(&ana).expect("valid");
                signed
                    .seal(&bob.public(), &public, &mut OsRng)
                    .expect("seal")
            })
        });
        let sealed = l
            .clone()
            .sign(&ana)
            .expect("valid")
            .seal(&bob.public(), &public, &mut OsRng)
            .expect("seal");
        g.bench_function(format!("open_{name}"), |b| {
            b.iter(|| {
                dm::open(
                    black_box(&sealed),
                    &bob.public(),
                    std::slice::from_ref(&key),
                )
                .expect("opens")
            })
        });
    }
    let post = UnsignedEvent::new(
        ana.public(),
        T0,
        Post {
            content: Content::text("hola"),
        },
    );
    g.bench_function("reference_event_sign", |b| {
        b.iter(|| black_box(post.clone()).sign(&ana).expect("sign"))
    });
    let signed = post.sign(&ana).expect("sign");
    g.bench_function("reference_event_verify", |b| {
        b.iter(|| Event::from_bytes(black_box(signed.as_bytes())).expect("valid"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
