//! The ranked feed over a real store, with hand-built fixtures whose
//! expected order is worked out by hand from `specs/feed.md`.

use std::collections::HashSet;

use kith_node::feed::{
    self, Evidence, Feature, Lang, Limits, Ranked, Source, Viewer, Weights, diversify, inject,
};
use kith_node::protocol::kinds::{Content, Follow, Post, Reaction, ReactionType};
use kith_node::protocol::{Event, EventId, Keypair, PublicKey, Rel, UnsignedEvent};
use kith_node::storage::{IngestOutcome, Store, StoreConfig};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

fn key(n: u8) -> Keypair {
    Keypair::from_seed(&[n; 32]).expect("seed")
}

fn post(k: &Keypair, at: u64, text: &str) -> Event {
    UnsignedEvent::new(
        k.public(),
        at,
        Post {
            content: Content::text(text),
        },
    )
    .sign(k)
    .expect("signs")
}

fn react(k: &Keypair, at: u64, target: &Event) -> Event {
    UnsignedEvent::new(
        k.public(),
        at,
        Reaction {
            reaction: ReactionType::Love,
        },
    )
    .ref_event(Rel::Target, target.id())
    .sign(k)
    .expect("signs")
}

fn follow(k: &Keypair, at: u64, whom: &Keypair) -> Event {
    UnsignedEvent::new(k.public(), at, Follow {})
        .ref_identity(Rel::Subject, whom.public())
        .sign(k)
        .expect("signs")
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    now: u64,
    me: Keypair,
    visible: HashSet<PublicKey>,
    hidden: HashSet<PublicKey>,
    /// Ana's post tagged #adoption, Bruno's untagged post: same age.
    tagged: EventId,
    by_friend: EventId,
    spoiler: EventId,
    blocked_post: EventId,
    fof_post: EventId,
    newcomer_post: EventId,
    names: Vec<(PublicKey, &'static str)>,
}

/// - I follow Ana, Bruno, Carla and Félix; Félix is blocked.
/// - This week I reacted to 4 posts tagged #adoption by Dora (whom I do not
///   follow, posted 3 days ago) and to 3 older posts by Bruno.
/// - Ana and Bruno both posted 2 hours ago: Ana's is tagged #adoption.
/// - Carla posted 6 times in the last hour (freshest of all).
/// - Ana posted "big spoiler" an hour ago; I mute the word "spoiler".
/// - Ana and Bruno follow Gabo, whose post from 5 hours ago has a reaction.
/// - Nico, first seen yesterday, no followers, posted 3 hours ago.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let now = kith_node::now_ms();
    let me = key(1);
    let (ana, bruno, carla, dora, felix, gabo, nico, eva) = (
        key(2),
        key(3),
        key(4),
        key(5),
        key(6),
        key(7),
        key(8),
        key(9),
    );
    let mut events = Vec::new();
    let long_ago = now - 30 * DAY;
    for k in [&ana, &bruno, &carla, &felix] {
        events.push(follow(&me, long_ago, k));
    }
    events.push(follow(&ana, long_ago, &gabo));
    events.push(follow(&bruno, long_ago, &gabo));
    // Everyone but Nico has been around for a month.
    for k in [&ana, &bruno, &carla, &dora, &felix, &gabo, &eva] {
        events.push(post(k, long_ago, "hello"));
    }
    for i in 0..4 {
        let d = post(
            &dora,
            now - 3 * DAY + i * HOUR,
            &format!("#adoption day {i}"),
        );
        events.push(react(&me, now - 2 * DAY, &d));
        events.push(d);
    }
    for i in 0..3 {
        let b = post(&bruno, now - 4 * DAY + i * HOUR, &format!("older {i}"));
        events.push(react(&me, now - 3 * DAY, &b));
        events.push(b);
    }
    let tagged = post(&ana, now - 2 * HOUR, "kittens for #adoption");
    let by_friend = post(&bruno, now - 2 * HOUR, "a quiet afternoon");
    let spoiler = post(&ana, now - HOUR, "big SPOILER ahead");
    let blocked_post = post(&felix, now - 10 * 60_000, "you will not see this");
    let fof_post = post(&gabo, now - 5 * HOUR, "popular one");
    let newcomer_post = post(&nico, now - 3 * HOUR, "my first post");
    events.push(react(&eva, now - 4 * HOUR, &fof_post));
    for i in 0..6 {
        events.push(post(
            &carla,
            now - 50 * 60_000 + i * 60_000,
            &format!("carla {i}"),
        ));
    }
    // Nico appeared yesterday.
    events.push(post(&nico, now - DAY, "hi"));
    let ids = [
        tagged.id(),
        by_friend.id(),
        spoiler.id(),
        blocked_post.id(),
        fof_post.id(),
        newcomer_post.id(),
    ];
    events.extend([
        tagged,
        by_friend,
        spoiler,
        blocked_post,
        fof_post,
        newcomer_post,
    ]);
    // Dependencies first: posts before the reactions that point at them.
    events.sort_by_key(|e| (e.kind() == kith_node::protocol::Kind::Reaction) as u8);
    for o in store.ingest_blocking(events).unwrap() {
        assert!(matches!(o, IngestOutcome::Stored { .. }), "{o:?}");
    }
    let mut visible: HashSet<PublicKey> = store
        .follow_set(&me.public())
        .unwrap()
        .into_iter()
        .collect();
    visible.insert(me.public());
    let hidden: HashSet<PublicKey> = [felix.public()].into();
    visible.retain(|k| !hidden.contains(k));
    let names = vec![
        (ana.public(), "Ana"),
        (bruno.public(), "Bruno"),
        (carla.public(), "Carla"),
        (gabo.public(), "Gabo"),
        (nico.public(), "Nico"),
    ];
    Fixture {
        _dir: dir,
        store,
        now,
        me,
        visible,
        hidden,
        tagged: ids[0],
        by_friend: ids[1],
        spoiler: ids[2],
        blocked_post: ids[3],
        fof_post: ids[4],
        newcomer_post: ids[5],
        names,
    }
}

impl Fixture {
    fn rank(&self, weights: &Weights) -> Vec<Ranked> {
        let muted = ["spoiler".to_string()];
        feed::rank(
            self.store.reader(),
            Viewer {
                me: self.me.public(),
                visible: &self.visible,
                hidden: &self.hidden,
                muted_words: &muted,
            },
            weights,
            &Limits::default(),
            self.now,
        )
        .unwrap()
    }

    fn place(items: &[Ranked], id: EventId) -> usize {
        items
            .iter()
            .position(|r| r.id == id)
            .unwrap_or_else(|| panic!("{id} is not in the feed"))
    }

    fn name(&self, k: &PublicKey) -> String {
        self.names
            .iter()
            .find(|(p, _)| p == k)
            .map_or_else(|| "someone".to_string(), |(_, n)| n.to_string())
    }
}

#[test]
fn weights_order_the_feed_as_predicted() {
    let f = fixture();
    let items = f.rank(&Weights::default());
    // Defaults: Ana's #adoption post has hashtag affinity 4/(4+2) = 0.667
    // (× 0.4 = 0.267); Bruno's has author affinity 3/(3+3) = 0.5 (× 0.3 =
    // 0.15) and no more engagement than he usually gets. Same age.
    assert!(Fixture::place(&items, f.tagged) < Fixture::place(&items, f.by_friend));
    let tagged = &items[Fixture::place(&items, f.tagged)];
    let by_friend = &items[Fixture::place(&items, f.by_friend)];
    assert!((tagged.score - by_friend.score - (0.4 * 4.0 / 6.0 - 0.3 * 0.5)).abs() < 1e-9);

    // Raise the author weight to 0.9: Bruno's scores 0.45 and passes.
    let mut w = Weights::default();
    w.set("author", 0.9).unwrap();
    let items = f.rank(&w);
    assert!(Fixture::place(&items, f.by_friend) < Fixture::place(&items, f.tagged));

    // Zero every weight but freshness: newest first (among the followed).
    let only_fresh = Weights {
        hashtags: 0.0,
        author: 0.0,
        engagement: 0.0,
        freshness: 1.0,
        media: 0.0,
    };
    let items = f.rank(&only_fresh);
    let followed: Vec<&Ranked> = items
        .iter()
        .filter(|r| r.source == Source::Following)
        .collect();
    for pair in followed.windows(2) {
        // Diversification may swap neighbours by one author, never more.
        if pair[0].author != pair[1].author {
            continue;
        }
        assert!(pair[0].created_at >= pair[1].created_at);
    }
    assert!(w.set("author", 11.0).is_err() && w.set("nope", 1.0).is_err());
}

#[test]
fn hidden_authors_and_muted_words_never_appear() {
    let f = fixture();
    for w in [
        Weights::default(),
        Weights {
            freshness: 5.0,
            ..Weights::default()
        },
    ] {
        let items = f.rank(&w);
        assert!(
            items.iter().all(|r| r.id != f.spoiler),
            "a muted word passed"
        );
        assert!(
            items.iter().all(|r| r.id != f.blocked_post),
            "a blocked author passed"
        );
        assert!(items.iter().all(|r| !f.hidden.contains(&r.author)));
    }
}

#[test]
fn no_two_consecutive_items_by_one_author_and_a_newcomer_every_tenth() {
    let f = fixture();
    let items = f.rank(&Weights {
        freshness: 3.0,
        ..Weights::default()
    });
    // Carla's six fresh posts would otherwise fill the top.
    for pair in items.windows(2) {
        let carla_twice = pair[0].author == pair[1].author;
        // Only allowed when nothing else is left (the tail).
        if carla_twice {
            let rest = &items[items.iter().position(|r| r.id == pair[1].id).unwrap()..];
            assert!(
                rest.iter().all(|r| r.author == pair[0].author),
                "two consecutive items by one author while others remained"
            );
        }
    }
    assert!(items.len() >= 10, "{} items", items.len());
    let tenth = &items[9];
    assert_eq!(
        tenth.id, f.newcomer_post,
        "the tenth item is the newcomer's"
    );
    assert!(matches!(tenth.source, Source::Newcomer { .. }));
    // Gabo is followed by two people I follow and his post was reacted to.
    let gabo = &items[Fixture::place(&items, f.fof_post)];
    assert!(
        matches!(&gabo.source, Source::FriendsOfFriends { count: 2, followed_by } if followed_by.len() == 2),
        "{:?}",
        gabo.source
    );
}

#[test]
fn every_item_is_explained_by_its_real_features() {
    let f = fixture();
    let items = f.rank(&Weights::default());
    let reader = f.store.reader();
    for r in &items {
        assert!(!r.reasons.is_empty(), "{} has no reasons", r.id);
        let sum: f64 = r.reasons.iter().map(|x| x.contribution).sum();
        assert!(
            (sum - r.score).abs() < 1e-9,
            "the reasons add up to the score"
        );
        let e = reader.get(&r.id).unwrap().unwrap();
        for reason in &r.reasons {
            assert!(reason.contribution > 0.0);
            match &reason.evidence {
                Evidence::Hashtag { tag, count, .. } => {
                    assert_eq!(reason.feature, Feature::Hashtags);
                    assert!(e.payload().tags().contains(tag), "{tag} is not on {}", r.id);
                    assert!(*count > 0);
                }
                Evidence::Author { author, count } => {
                    assert_eq!(*author, e.author());
                    assert!(*count > 0);
                }
                Evidence::Freshness { age_ms } => {
                    assert_eq!(*age_ms, f.now - e.created_at())
                }
                Evidence::Engagement { ratio, .. } => assert!(*ratio > 1.0),
                Evidence::Media { .. } => unreachable!("no media in the fixture"),
            }
        }
        let name = |k: &PublicKey| f.name(k);
        for lang in [Lang::En, Lang::Es] {
            let words = r.explain(lang, &name);
            assert_eq!(words.len(), r.reasons.len() + 1);
            assert!(words.iter().all(|w| !w.is_empty()));
        }
    }
    // The words a person reads.
    let tagged = &items[Fixture::place(&items, f.tagged)];
    let name = |k: &PublicKey| f.name(k);
    let en = tagged.explain(Lang::En, &name);
    assert_eq!(en[0], "You follow Ana");
    assert_eq!(en[1], "You reacted to 4 posts tagged #adoption this week");
    let es = tagged.explain(Lang::Es, &name);
    assert_eq!(
        es[1],
        "Reaccionaste a 4 publicaciones con #adoption esta semana"
    );
    let by_friend = &items[Fixture::place(&items, f.by_friend)];
    assert!(
        by_friend
            .explain(Lang::En, &name)
            .contains(&"You interacted with Bruno 3 times this week".to_string())
    );
    let gabo = &items[Fixture::place(&items, f.fof_post)];
    assert_eq!(
        gabo.explain(Lang::En, &name)[0],
        "Popular with people you follow: Ana and 1 other follow Gabo".replace(
            "Ana",
            &f.name(match &gabo.source {
                Source::FriendsOfFriends { followed_by, .. } => &followed_by[0],
                _ => unreachable!(),
            })
        )
    );
    assert_eq!(Lang::from_tag("es-MX,en;q=0.5"), Lang::Es);
    assert_eq!(Lang::from_tag("fr, en"), Lang::En);
}

fn item(author: u8, score: f64) -> Ranked {
    Ranked {
        id: EventId::from_digest([score.to_bits() as u8 ^ author; 32]),
        author: key(author).public(),
        created_at: 0,
        score,
        source: Source::Following,
        reasons: Vec::new(),
    }
}

#[test]
fn diversify_moves_as_little_as_possible() {
    let authors = |v: &[Ranked]| -> Vec<PublicKey> { v.iter().map(|r| r.author).collect() };
    let (a, b, c) = (key(1).public(), key(2).public(), key(3).public());
    // a a a b c → a b a c a
    let out = diversify(vec![
        item(1, 0.9),
        item(1, 0.8),
        item(1, 0.7),
        item(2, 0.6),
        item(3, 0.5),
    ]);
    assert_eq!(authors(&out), vec![a, b, a, c, a]);
    // Only one author left at the end: kept, in order.
    let out = diversify(vec![item(1, 0.9), item(1, 0.8), item(2, 0.1)]);
    assert_eq!(authors(&out), vec![a, b, a]);
    assert!(diversify(Vec::new()).is_empty());
}

#[test]
fn inject_puts_a_newcomer_at_every_tenth_place() {
    let main: Vec<Ranked> = (0..25)
        .map(|i| item(i % 2 + 1, 1.0 - f64::from(i) * 0.01))
        .collect();
    let newcomers = vec![item(9, 0.2), item(10, 0.1), item(11, 0.05)];
    let nk: Vec<PublicKey> = newcomers.iter().map(|r| r.author).collect();
    let out = inject(main, newcomers);
    assert_eq!(
        out.len(),
        25 + 2,
        "places 10 and 20 (the third would be place 30)"
    );
    assert_eq!(out[9].author, nk[0]);
    assert_eq!(out[19].author, nk[1]);
    assert!(
        out.iter()
            .enumerate()
            .all(|(i, r)| (i + 1) % 10 == 0 || !nk.contains(&r.author))
    );
}

/// Posts in communities the person joined are candidates, explained by the
/// community; a community the person left brings nothing.
#[test]
fn joined_communities_bring_their_posts() {
    use kith_node::protocol::kinds::{Community, Membership, MembershipAction, Visibility};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let now = kith_node::now_ms();
    let (me, owner, xime, yago) = (key(1), key(2), key(3), key(4));
    let community = |name: &str, at: u64| {
        UnsignedEvent::new(
            owner.public(),
            at,
            Community {
                name: name.into(),
                description: String::new(),
                rules: Vec::new(),
                avatar: None,
                visibility: Visibility::Open,
                currency: None,
            },
        )
        .sign(&owner)
        .unwrap()
    };
    let membership = |c: &Event, action: MembershipAction, at: u64| {
        UnsignedEvent::new(me.public(), at, Membership { action })
            .ref_event(Rel::Community, c.id())
            .sign(&me)
            .unwrap()
    };
    let in_community = |k: &Keypair, c: &Event, at: u64, text: &str| {
        UnsignedEvent::new(
            k.public(),
            at,
            Post {
                content: Content::text(text),
            },
        )
        .ref_event(Rel::Community, c.id())
        .sign(k)
        .unwrap()
    };
    let huerta = community("Huerta Norte", now - 10 * DAY);
    let left = community("Old club", now - 10 * DAY);
    let kept = in_community(&xime, &huerta, now - HOUR, "semillas para compartir");
    let gone = in_community(&yago, &left, now - HOUR, "nobody here");
    let events = vec![
        huerta.clone(),
        left.clone(),
        membership(&huerta, MembershipAction::Join, now - 5 * DAY),
        membership(&left, MembershipAction::Join, now - 5 * DAY),
        membership(&left, MembershipAction::Leave, now - 2 * DAY),
        kept.clone(),
        gone.clone(),
    ];
    for o in store.ingest_blocking(events).unwrap() {
        assert!(matches!(o, IngestOutcome::Stored { .. }), "{o:?}");
    }
    let reader = store.reader();
    assert_eq!(
        feed::joined_communities(reader, &me.public(), 50).unwrap(),
        vec![huerta.id()]
    );
    let visible: HashSet<PublicKey> = [me.public()].into();
    let hidden = HashSet::new();
    let ranked = feed::rank(
        reader,
        Viewer {
            me: me.public(),
            visible: &visible,
            hidden: &hidden,
            muted_words: &[],
        },
        &Weights::default(),
        &Limits::default(),
        now,
    )
    .unwrap();
    let item = ranked
        .iter()
        .find(|r| r.id == kept.id())
        .expect("the community post");
    assert_eq!(
        item.source,
        Source::Community {
            community: huerta.id(),
            name: "Huerta Norte".into()
        }
    );
    assert_eq!(
        item.source
            .explain(Lang::Es, &xime.public(), &|_| "Xime".to_string()),
        "Publicado por Xime en Huerta Norte, una comunidad a la que te uniste"
    );
    assert!(ranked.iter().all(|r| r.id != gone.id()), "a left community");
}
