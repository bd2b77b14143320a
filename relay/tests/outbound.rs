//! Kith events and their Nostr counterparts (`kith_relay::outbound`).

use std::collections::HashMap;

use kith_node::protocol::kinds::{
    Content, Delete, Follow, Listing, Post, Price, Profile, Reaction, ReactionType, Reply, Story,
    StoryView,
};
use kith_node::protocol::{
    Event, EventId as KithId, Keypair, Payload, PublicKey as KithKey, Rel, UnsignedEvent,
};
use kith_relay::link;
use kith_relay::outbound::{Lookup, Skip, major_units, to_nostr};
use nostr::prelude::{EventId, Keys, Kind, PublicKey};

#[derive(Default)]
struct Map {
    ids: HashMap<KithId, EventId>,
    authors: HashMap<KithId, PublicKey>,
    keys: HashMap<KithKey, PublicKey>,
    follows: Vec<PublicKey>,
}

impl Lookup for Map {
    fn nostr_id(&self, kith: &KithId) -> Option<EventId> {
        self.ids.get(kith).copied()
    }
    fn nostr_key(&self, kith: &KithKey) -> Option<PublicKey> {
        self.keys.get(kith).copied()
    }
    fn nostr_author(&self, event: &KithId) -> Option<PublicKey> {
        self.authors.get(event).copied()
    }
    fn media_url(&self, cid: &str) -> String {
        format!("https://node.example/ipfs/{cid}")
    }
    fn follows(&self, _: &KithKey) -> Vec<PublicKey> {
        self.follows.clone()
    }
}

const T: u64 = 1_767_225_600_123; // ms

fn kith(n: u8) -> Keypair {
    Keypair::from_seed(&[n; 32]).unwrap()
}

fn sign(u: UnsignedEvent, k: &Keypair) -> Event {
    u.sign(k).unwrap()
}

/// The signed event and its tags, less the `["kith", <id>]` tag every
/// converted event ends with (checked here to be there, once, last).
fn tags(b: nostr::prelude::EventBuilder, keys: &Keys) -> (nostr::prelude::Event, Vec<Vec<String>>) {
    use nostr::prelude::FinalizeEvent;
    let e = b.finalize(keys).unwrap();
    let mut t: Vec<Vec<String>> = e.tags.iter().map(|t| t.as_slice().to_vec()).collect();
    let kith = t.pop().expect("a kith tag");
    assert_eq!(kith[0], "kith", "{t:?}");
    assert!(kith[1].parse::<KithId>().is_ok(), "{kith:?}");
    assert!(!t.iter().any(|x| x[0] == "kith"), "one kith tag: {t:?}");
    (e, t)
}

fn media() -> kith_node::protocol::media::MediaDescriptor {
    serde_json::from_value(serde_json::json!({
        "cid": "bafkreiehxpuhtr5f6v4eu4byjo2j7kkrhjvd7psmfu4imnpdzb3bdqb7vy",
        "mime": "image/jpeg", "size": 20480, "width": 400, "height": 300, "alt": "a cat"
    }))
    .unwrap()
}

#[test]
fn a_post_becomes_a_note_with_hashtags_media_and_mentions() {
    let (ana, ben) = (kith(1), kith(2));
    let ben_nostr = Keys::generate().public_key();
    let map = Map {
        keys: HashMap::from([(ben.public(), ben_nostr)]),
        ..Map::default()
    };
    let mut content = Content::text("Hola @ben");
    content.tags = vec!["huerta".into()];
    content.media = vec![media()];
    let post = sign(
        UnsignedEvent::new(ana.public(), T, Post { content })
            .ref_identity(Rel::Mention, ben.public()),
        &ana,
    );
    let (e, t) = tags(to_nostr(&post, &map, None).unwrap(), &Keys::generate());
    // The last tag names the Kith original (nostr.md § 10.2).
    let last = e.tags.iter().last().unwrap().as_slice().to_vec();
    assert_eq!(last, vec!["kith".to_owned(), post.id().to_string()]);
    assert_eq!(e.kind, Kind::TextNote);
    assert_eq!(e.created_at.as_secs(), T / 1000);
    let cid = "bafkreiehxpuhtr5f6v4eu4byjo2j7kkrhjvd7psmfu4imnpdzb3bdqb7vy";
    assert_eq!(
        e.content,
        format!("Hola @ben\nhttps://node.example/ipfs/{cid}")
    );
    assert!(t.contains(&vec!["t".into(), "huerta".into()]), "{t:?}");
    assert!(t.contains(&vec!["p".into(), ben_nostr.to_hex()]), "{t:?}");
    let imeta = t.iter().find(|x| x[0] == "imeta").unwrap();
    for part in [
        format!("url https://node.example/ipfs/{cid}"),
        "m image/jpeg".into(),
        format!("cid {cid}"),
        "dim 400x300".into(),
        "alt a cat".into(),
    ] {
        assert!(imeta.contains(&part), "{imeta:?} lacks {part}");
    }
}

#[test]
fn replies_thread_with_nip10_markers_or_wait_for_their_parents() {
    let (ana, ben) = (kith(1), kith(2));
    let root = sign(
        UnsignedEvent::new(
            ana.public(),
            T,
            Post {
                content: Content::text("root"),
            },
        ),
        &ana,
    );
    let parent = sign(
        UnsignedEvent::new(
            ben.public(),
            T + 1,
            Reply {
                content: Content::text("parent"),
            },
        )
        .ref_event(Rel::Root, root.id())
        .ref_event(Rel::Parent, root.id()),
        &ben,
    );
    let reply = sign(
        UnsignedEvent::new(
            ana.public(),
            T + 2,
            Reply {
                content: Content::text("answer"),
            },
        )
        .ref_event(Rel::Root, root.id())
        .ref_event(Rel::Parent, parent.id()),
        &ana,
    );
    let (root_n, parent_n) = (
        EventId::from_slice(&[7; 32]).unwrap(),
        EventId::from_slice(&[1; 32]).unwrap(),
    );
    let ben_key = Keys::generate().public_key();
    let mut map = Map {
        ids: HashMap::from([(root.id(), root_n)]),
        ..Map::default()
    };
    assert_eq!(
        to_nostr(&reply, &map, None).unwrap_err(),
        Skip::TargetNotBridged
    );
    map.ids.insert(parent.id(), parent_n);
    map.authors.insert(parent.id(), ben_key);
    let (_, t) = tags(to_nostr(&reply, &map, None).unwrap(), &Keys::generate());
    assert!(
        t.contains(&vec!["e".into(), root_n.to_hex(), "".into(), "root".into()]),
        "{t:?}"
    );
    assert!(
        t.contains(&vec![
            "e".into(),
            parent_n.to_hex(),
            "".into(),
            "reply".into()
        ]),
        "{t:?}"
    );
    assert!(t.contains(&vec!["p".into(), ben_key.to_hex()]), "{t:?}");
    // A direct answer to the root carries only the root marker.
    let (_, t) = tags(to_nostr(&parent, &map, None).unwrap(), &Keys::generate());
    assert_eq!(t.iter().filter(|x| x[0] == "e").count(), 1, "{t:?}");
}

#[test]
fn reactions_deletions_stories_follows_and_profiles() {
    let ana = kith(1);
    let post = sign(
        UnsignedEvent::new(
            ana.public(),
            T,
            Post {
                content: Content::text("x"),
            },
        ),
        &ana,
    );
    let post_n = EventId::from_slice(&[9; 32]).unwrap();
    let friend = Keys::generate().public_key();
    let map = Map {
        ids: HashMap::from([(post.id(), post_n)]),
        follows: vec![friend],
        ..Map::default()
    };
    let love = sign(
        UnsignedEvent::new(
            ana.public(),
            T + 5,
            Reaction {
                reaction: ReactionType::Love,
            },
        )
        .ref_event(Rel::Target, post.id()),
        &ana,
    );
    let (e, t) = tags(to_nostr(&love, &map, None).unwrap(), &Keys::generate());
    assert_eq!((e.kind, e.content.as_str()), (Kind::Reaction, "❤️"));
    assert_eq!(t[0], vec!["e".to_owned(), post_n.to_hex()]);

    let del = sign(
        UnsignedEvent::new(ana.public(), T + 6, Delete { reason: None })
            .ref_event(Rel::Target, post.id()),
        &ana,
    );
    let (e, t) = tags(to_nostr(&del, &map, None).unwrap(), &Keys::generate());
    assert_eq!(e.kind, Kind::EventDeletion);
    assert_eq!(t, vec![vec!["e".to_owned(), post_n.to_hex()]]);

    let story = sign(
        UnsignedEvent::new(
            ana.public(),
            T,
            Story {
                text: "hoy".into(),
                media: None,
                expires_at: T + 86_400_000,
            },
        ),
        &ana,
    );
    let (e, _) = tags(to_nostr(&story, &map, None).unwrap(), &Keys::generate());
    assert_eq!(
        e.tags.expiration().map(|x| x.as_secs()),
        Some((T + 86_400_000) / 1000)
    );

    let follow = sign(
        UnsignedEvent::new(ana.public(), T, Follow {}).ref_identity(Rel::Subject, kith(2).public()),
        &ana,
    );
    let (e, t) = tags(to_nostr(&follow, &map, None).unwrap(), &Keys::generate());
    assert_eq!(e.kind, Kind::ContactList);
    assert_eq!(t, vec![vec!["p".to_owned(), friend.to_hex()]]);

    let nostr = Keys::generate();
    let profile = sign(
        UnsignedEvent::new(
            ana.public(),
            T,
            Profile {
                name: "Ana".into(),
                bio: "Cocinera".into(),
                avatar: Some(media()),
                links: vec!["https://ana.example".into()],
                nostr: Some(nostr.public_key().to_bytes().to_vec()),
                ..Profile::default()
            },
        ),
        &ana,
    );
    let link = link::identity_tag(&ana, &nostr.public_key());
    let (e, _) = tags(to_nostr(&profile, &map, Some(link)).unwrap(), &nostr);
    let meta: serde_json::Value = serde_json::from_str(&e.content).unwrap();
    assert_eq!(meta["name"], "Ana");
    assert_eq!(meta["about"], "Cocinera");
    assert_eq!(meta["website"], "https://ana.example");
    assert!(
        meta["picture"]
            .as_str()
            .unwrap()
            .starts_with("https://node.example/ipfs/")
    );
    assert_eq!(
        link::linked_identity(&e),
        Some(ana.public()),
        "the profile carries the link"
    );

    let view = sign(
        UnsignedEvent::new(
            ana.public(),
            T,
            StoryView {
                expires_at: T + 1000,
            },
        )
        .ref_event(Rel::Story, story.id()),
        &ana,
    );
    assert!(matches!(to_nostr(&view, &map, None), Err(Skip::Kind(_))));
}

#[test]
fn listings_are_nip99_classifieds_with_major_unit_prices() {
    let ana = kith(1);
    let listing = sign(
        UnsignedEvent::new(
            ana.public(),
            T,
            Listing {
                title: "Bicicleta".into(),
                description: "Rodado 28".into(),
                category: "sports/bicycles".into(),
                price: Price {
                    amount: 15_000,
                    currency: "EUR".into(),
                },
                quantity: 1,
                media: vec![media()],
                ..serde_json::from_value(serde_json::json!({
                    "title": "t", "category": "c", "price": {"amount": 1, "currency": "EUR"},
                    "quantity": 1, "condition": "good",
                    "delivery": ["pickup"], "payment": ["cash_on_pickup"]
                }))
                .unwrap()
            },
        ),
        &ana,
    );
    let (e, t) = tags(
        to_nostr(&listing, &Map::default(), None).unwrap(),
        &Keys::generate(),
    );
    assert_eq!(e.kind.as_u16(), 30402);
    assert_eq!(e.content, "Rodado 28");
    for want in [
        vec!["d".to_owned(), listing.id().to_string()],
        vec!["title".into(), "Bicicleta".into()],
        vec!["price".into(), "150.00".into(), "EUR".into()],
        vec!["status".into(), "active".into()],
    ] {
        assert!(t.contains(&want), "{t:?} lacks {want:?}");
    }
    assert!(t.iter().any(|x| x[0] == "image"));
    // An edit is the same classified: it keeps the original's `d`.
    let Payload::Listing(mut sold) = listing.payload().clone() else {
        unreachable!()
    };
    sold.withdrawn = true;
    let edit = sign(
        UnsignedEvent::new(ana.public(), T + 1, sold).ref_event(Rel::EditOf, listing.id()),
        &ana,
    );
    let (_, t) = tags(
        to_nostr(&edit, &Map::default(), None).unwrap(),
        &Keys::generate(),
    );
    assert!(
        t.contains(&vec!["d".to_owned(), listing.id().to_string()]),
        "{t:?}"
    );
    assert!(
        t.contains(&vec!["status".to_owned(), "sold".into()]),
        "{t:?}"
    );
    assert_eq!(major_units(15_000, "JPY"), "15000");
    assert_eq!(major_units(1_234, "KWD"), "1.234");
    assert_eq!(major_units(5, "EUR"), "0.05");
}
