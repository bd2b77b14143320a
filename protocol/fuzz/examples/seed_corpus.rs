//! Writes the seed corpora: real, signed envelopes of many kinds for the
//! `envelope` target, and key, key-file and id texts for `key_text`.
//!
//! ```text
//! cd protocol/fuzz
//! cargo run --example seed_corpus            # writes into ./corpus/
//! cargo run --example seed_corpus -- DIR     # writes into DIR/envelope and DIR/key_text
//! ```
//!
//! The output is deterministic: the same files, byte for byte, on every run.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use cid::Cid;
use kith_protocol::kinds::{
    BlockList, CalendarEvent, Community, Condition, Content, Delegation, Delete, DeliveryOption,
    DirectMessage, Follow, Highlight, HighlightItem, Kind, Label, Listing, Location, MuteList,
    PaymentMethod, Poll, PollMode, Post, Price, Profile, Quote, Reaction, ReactionType, Reply,
    Report, ReportReason, Repost, Revocation, Story, StoryView, Unfollow, Visibility, Vote,
};
use kith_protocol::media::MediaDescriptor;
use kith_protocol::{Event, Keypair, Payload, Rel, UnsignedEvent, seal_unchecked};
use multihash::Multihash;

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;
const HOUR: u64 = 3_600_000;

fn key(n: u8) -> Keypair {
    let mut seed = [0x5e; 32];
    seed[0] = n;
    Keypair::from_seed(&seed).expect("a seed gives a usable key")
}

fn cid(codec: u64, n: u8) -> Cid {
    let mh = Multihash::<64>::wrap(0x12, &[n; 32]).expect("32 bytes fit a multihash");
    Cid::new_v1(codec, mh)
}

fn image(n: u8) -> MediaDescriptor {
    MediaDescriptor {
        cid: cid(0x70, n),
        mime: "image/jpeg".into(),
        size: 482_113,
        width: Some(1600),
        height: Some(1200),
        duration_ms: None,
        thumbs: vec![cid(0x55, n ^ 0xff)],
        alt: Some("Luna en el parque 🐶".into()),
        renditions: vec![],
        waveform: None,
    }
}

fn clip(n: u8) -> MediaDescriptor {
    MediaDescriptor {
        cid: cid(0x70, n),
        mime: "video/mp4".into(),
        size: 9_000_000,
        width: Some(720),
        height: Some(1280),
        duration_ms: Some(15_000),
        thumbs: vec![],
        alt: None,
        renditions: vec![],
        waveform: None,
    }
}

fn voice(n: u8) -> MediaDescriptor {
    MediaDescriptor {
        cid: cid(0x55, n),
        mime: "audio/ogg".into(),
        size: 40_000,
        width: None,
        height: None,
        duration_ms: Some(8_500),
        thumbs: vec![],
        alt: None,
        renditions: vec![],
        waveform: None,
    }
}

struct Seeds {
    dir: PathBuf,
    n: usize,
}

impl Seeds {
    fn write(&mut self, name: &str, bytes: &[u8]) -> Result<(), Box<dyn Error>> {
        self.n += 1;
        fs::write(self.dir.join(format!("{:02}-{name}", self.n)), bytes)?;
        Ok(())
    }

    /// Signs with the author's own key and writes the envelope.
    fn event(&mut self, by: &Keypair, unsigned: UnsignedEvent) -> Result<Event, Box<dyn Error>> {
        let name = if unsigned.signer == unsigned.author {
            unsigned.kind().name().to_string()
        } else {
            format!("{}-delegated", unsigned.kind())
        };
        let event = unsigned.sign(by)?;
        // Every seed must be one the decoder accepts, signature included.
        Event::from_bytes(event.as_bytes())?;
        self.write(&name, event.as_bytes())?;
        Ok(event)
    }
}

fn ev(author: &Keypair, dt: u64, payload: impl Into<Payload>) -> UnsignedEvent {
    UnsignedEvent::new(author.public(), T0 + dt, payload)
}

fn envelopes(dir: &Path) -> Result<usize, Box<dyn Error>> {
    let mut s = Seeds {
        dir: dir.to_path_buf(),
        n: 0,
    };
    let (ana, beto, carla) = (key(1), key(2), key(3));

    s.event(
        &ana,
        ev(
            &ana,
            0,
            Profile {
                name: "Ana Pérez".into(),
                bio: "Fotografía, perros y #rust. Valparaíso 🇨🇱".into(),
                avatar: Some(image(1)),
                banner: None,
                langs: vec!["es".into(), "en".into()],
                links: vec!["https://example.org/ana".into()],
                nostr: None,
                dm_key: None,
            },
        ),
    )?;

    let mut content = Content::text(
        "¡Hola a todos! Hoy adoptamos a Luna, una perrita rescatada del refugio de \
         Valparaíso. Thanks to everyone who shared the post, you made this happen. \
         #Adopción #perros #rescue",
    );
    content.media = vec![image(2)];
    content.lang = Some("es".into());
    let post = s.event(
        &ana,
        ev(&ana, 1_000, Post { content })
            .ref_identity(Rel::Mention, beto.public())
            .ref_identity(Rel::Mention, carla.public()),
    )?;

    s.event(
        &beto,
        ev(
            &beto,
            1_500,
            Post {
                content: Content::text("hi"),
            },
        ),
    )?;

    let reply = s.event(
        &beto,
        ev(
            &beto,
            2_000,
            Reply {
                content: Content::text("¡Qué linda! Congrats 🎉 #perros"),
            },
        )
        .ref_event(Rel::Root, post.id())
        .ref_event(Rel::Parent, post.id()),
    )?;

    s.event(
        &carla,
        ev(
            &carla,
            3_000,
            Reaction {
                reaction: ReactionType::Love,
            },
        )
        .ref_event(Rel::Target, reply.id()),
    )?;

    s.event(
        &carla,
        ev(&carla, 3_500, Repost {}).ref_event(Rel::Target, post.id()),
    )?;

    s.event(
        &beto,
        ev(
            &beto,
            4_000,
            Quote {
                content: Content::text("This is how it's done 👇"),
            },
        )
        .ref_event(Rel::Target, post.id()),
    )?;

    s.event(
        &beto,
        ev(
            &beto,
            5_000,
            Delete {
                reason: Some("typo".into()),
            },
        )
        .ref_event(Rel::Target, reply.id()),
    )?;

    s.event(
        &carla,
        ev(&carla, 6_000, Follow {}).ref_identity(Rel::Subject, ana.public()),
    )?;
    s.event(
        &carla,
        ev(&carla, 7_000, Unfollow {}).ref_identity(Rel::Subject, beto.public()),
    )?;

    s.event(
        &ana,
        ev(
            &ana,
            8_000,
            BlockList {
                keys: vec![key(9).public(), key(10).public()],
            },
        ),
    )?;
    s.event(
        &ana,
        ev(
            &ana,
            9_000,
            MuteList {
                keys: vec![key(11).public()],
                words: vec!["spoiler".into(), "fútbol".into()],
            },
        ),
    )?;

    let story = s.event(
        &ana,
        ev(
            &ana,
            10_000,
            Story {
                text: "Paseo matinal".into(),
                media: Some(clip(3)),
                expires_at: T0 + 10_000 + 24 * HOUR,
            },
        )
        .ref_identity(Rel::Mention, beto.public()),
    )?;
    s.event(
        &ana,
        ev(
            &ana,
            11_000,
            Highlight {
                name: "Luna".into(),
                items: vec![
                    HighlightItem {
                        text: "Paseo matinal".into(),
                        media: Some(clip(3)),
                    },
                    HighlightItem {
                        text: String::new(),
                        media: Some(image(4)),
                    },
                ],
            },
        )
        .ref_event(Rel::Story, story.id()),
    )?;
    s.event(
        &beto,
        ev(
            &beto,
            11_500,
            StoryView {
                expires_at: T0 + 10_000 + 24 * HOUR,
            },
        )
        .ref_event(Rel::Story, story.id()),
    )?;

    s.event(
        &beto,
        ev(
            &beto,
            12_000,
            DirectMessage {
                inbox: vec![0xab; 32],
                ciphertext: (0..=255u8).collect(),
            },
        ),
    )?;

    let community = s.event(
        &carla,
        ev(
            &carla,
            13_000,
            Community {
                name: "Huerta comunitaria".into(),
                description: "Vecinos que cultivan juntos".into(),
                rules: vec!["Sé amable".into(), "No spam".into()],
                avatar: Some(image(5)),
                visibility: Visibility::Open,
                currency: Some("TOMATE".into()),
            },
        ),
    )?;

    s.event(
        &ana,
        ev(
            &ana,
            14_000,
            Listing {
                title: "Bicicleta de paseo".into(),
                description: "Poco uso, con canasto.".into(),
                category: "sports/bikes".into(),
                price: Price {
                    amount: 85_000,
                    currency: "CLP".into(),
                },
                quantity: 1,
                condition: Condition::LikeNew,
                location: Some(Location {
                    text: "Cerro Alegre".into(),
                    geohash: "66j".into(),
                }),
                delivery: vec![DeliveryOption::Pickup],
                payment: vec![PaymentMethod::CashOnPickup, PaymentMethod::BankTransfer],
                media: vec![image(6)],
                expires_at: Some(T0 + 30 * 24 * HOUR),
                withdrawn: false,
            },
        )
        .ref_event(Rel::Community, community.id()),
    )?;

    s.event(
        &carla,
        ev(
            &carla,
            15_000,
            CalendarEvent {
                title: "Minga de otoño".into(),
                description: "Traer guantes".into(),
                starts_at: T0 + 48 * HOUR,
                ends_at: Some(T0 + 51 * HOUR),
                location: Some("Plaza".into()),
                url: Some("https://example.org/minga".into()),
            },
        )
        .ref_event(Rel::Community, community.id()),
    )?;

    let poll = s.event(
        &carla,
        ev(
            &carla,
            16_000,
            Poll {
                mode: PollMode::Poll,
                question: "¿Qué sembramos?".into(),
                options: vec!["Tomates".into(), "Lechugas".into(), "Habas".into()],
                closes_at: T0 + 72 * HOUR,
                multiple: true,
            },
        )
        .ref_event(Rel::Community, community.id()),
    )?;
    s.event(
        &ana,
        ev(
            &ana,
            17_000,
            Vote {
                choices: vec![0, 2],
            },
        )
        .ref_event(Rel::Target, poll.id()),
    )?;

    s.event(
        &beto,
        ev(
            &beto,
            18_000,
            Report {
                reason: ReportReason::Spam,
                text: "bot".into(),
            },
        )
        .ref_identity(Rel::Subject, key(12).public()),
    )?;
    s.event(
        &carla,
        ev(
            &carla,
            19_000,
            Label {
                labels: vec!["nsfw".into(), "spoiler-2".into()],
                negate: true,
            },
        )
        .ref_event(Rel::Target, post.id()),
    )?;

    let phone = key(20);
    let delegation = s.event(
        &ana,
        ev(
            &ana,
            20_000,
            Delegation {
                kinds: vec![Kind::Post, Kind::Reaction],
                expires_at: T0 + 365 * 24 * HOUR,
            },
        )
        .ref_identity(Rel::Subject, phone.public()),
    )?;
    // A post by Ana signed by her delegated phone key.
    s.event(
        &phone,
        ev(
            &ana,
            21_000,
            Post {
                content: Content {
                    media: vec![voice(7)],
                    ..Content::default()
                },
            },
        )
        .signed_by(phone.public()),
    )?;
    s.event(
        &ana,
        ev(
            &ana,
            22_000,
            Revocation {
                keep_before: Some(T0 + 21_500),
            },
        )
        .ref_event(Rel::Target, delegation.id()),
    )?;

    // Near misses that decode but do not verify, or do not decode, so the
    // fuzzer starts next to each rejection path too.
    let mut bad_sig = post.as_bytes().to_vec();
    bad_sig[10] ^= 0x01;
    s.write("bad-signature", &bad_sig)?;
    let mut unknown = post.body_bytes().to_vec();
    let at = unknown
        .windows(4)
        .position(|w| w == b"post")
        .expect("the body names its kind");
    unknown[at..at + 4].copy_from_slice(b"pots");
    s.write("unknown-kind", &seal_unchecked(&unknown, &ana))?;
    let mut trailing = post.as_bytes().to_vec();
    trailing.push(0);
    s.write("trailing-byte", &trailing)?;

    Ok(s.n)
}

fn texts(dir: &Path) -> Result<usize, Box<dyn Error>> {
    let mut s = Seeds {
        dir: dir.to_path_buf(),
        n: 0,
    };
    let k = key(1);
    let public = k.public().to_text();
    s.write("public-key", public.as_bytes())?;
    s.write("public-key-upper", public.to_uppercase().as_bytes())?;
    s.write("secret-key", k.secret_to_text().as_bytes())?;
    s.write("key-file", k.to_key_file().as_bytes())?;
    let id = kith_protocol::EventId::of_body(b"seed");
    s.write("event-id", id.to_string().as_bytes())?;
    s.write("event-id-spaces", format!("  {id}\n").as_bytes())?;
    Ok(s.n)
}

fn main() -> Result<(), Box<dyn Error>> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    for (target, write) in [
        (
            "envelope",
            envelopes as fn(&Path) -> Result<usize, Box<dyn Error>>,
        ),
        ("key_text", texts),
    ] {
        let dir = root.join(target);
        fs::create_dir_all(&dir)?;
        let n = write(&dir)?;
        eprintln!("{n} seeds in {}", dir.display());
    }
    Ok(())
}
