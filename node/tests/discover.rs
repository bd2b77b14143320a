//! Suggested people and creator analytics over a real store, with
//! hand-built fixtures whose expected results are worked out by hand.

use std::collections::{HashMap, HashSet};

use kith_node::analytics::{self, Limits as StatsLimits, Reactions};
use kith_node::feed::Lang;
use kith_node::protocol::kinds::{
    BlockList, Content, Follow, MuteList, Post, Profile, Quote, Reaction, ReactionType, Reply,
    Repost, Story, StoryView, Unfollow,
};
use kith_node::protocol::{Event, Keypair, Kind, PublicKey, Rel, UnsignedEvent};
use kith_node::storage::{IngestOutcome, Store, StoreConfig};
use kith_node::suggest::{self, Limits, Person, Reason, Suggestion};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
/// 2026-11-20T12:00:00Z.
const NOW: u64 = 1_795_176_000_000;
/// 2026-11-20T00:00:00Z.
const TODAY: u64 = NOW - 12 * HOUR;

fn key(n: u8) -> Keypair {
    Keypair::from_seed(&[n; 32]).expect("seed")
}

fn sign(k: &Keypair, e: UnsignedEvent) -> Event {
    e.sign(k).expect("signs")
}

fn post(k: &Keypair, at: u64, text: &str) -> Event {
    sign(
        k,
        UnsignedEvent::new(
            k.public(),
            at,
            Post {
                content: Content::text(text),
            },
        ),
    )
}

fn react(k: &Keypair, at: u64, target: &Event, reaction: ReactionType) -> Event {
    sign(
        k,
        UnsignedEvent::new(k.public(), at, Reaction { reaction })
            .ref_event(Rel::Target, target.id()),
    )
}

fn reply(k: &Keypair, at: u64, root: &Event, parent: &Event, text: &str) -> Event {
    sign(
        k,
        UnsignedEvent::new(
            k.public(),
            at,
            Reply {
                content: Content::text(text),
            },
        )
        .ref_event(Rel::Root, root.id())
        .ref_event(Rel::Parent, parent.id()),
    )
}

fn repost(k: &Keypair, at: u64, target: &Event) -> Event {
    sign(
        k,
        UnsignedEvent::new(k.public(), at, Repost {}).ref_event(Rel::Target, target.id()),
    )
}

fn quote(k: &Keypair, at: u64, target: &Event, text: &str) -> Event {
    sign(
        k,
        UnsignedEvent::new(
            k.public(),
            at,
            Quote {
                content: Content::text(text),
            },
        )
        .ref_event(Rel::Target, target.id()),
    )
}

fn follow(k: &Keypair, at: u64, whom: &Keypair) -> Event {
    sign(
        k,
        UnsignedEvent::new(k.public(), at, Follow {}).ref_identity(Rel::Subject, whom.public()),
    )
}

fn unfollow(k: &Keypair, at: u64, whom: &Keypair) -> Event {
    sign(
        k,
        UnsignedEvent::new(k.public(), at, Unfollow {}).ref_identity(Rel::Subject, whom.public()),
    )
}

fn profile(k: &Keypair, at: u64, name: &str) -> Event {
    sign(
        k,
        UnsignedEvent::new(
            k.public(),
            at,
            Profile {
                name: name.into(),
                bio: String::new(),
                avatar: None,
                banner: None,
                langs: Vec::new(),
                links: Vec::new(),
                nostr: None,
                dm_key: None,
            },
        ),
    )
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    (dir, store)
}

/// Stores events, dependencies first (whatever references an event comes
/// after it, since every fixture lists events in creation order per
/// thread).
fn ingest(store: &Store, events: Vec<Event>) {
    for o in store.ingest_blocking(events).unwrap() {
        assert!(matches!(o, IngestOutcome::Stored { .. }), "{o:?}");
    }
}

// ---------------------------------------------------------------- suggestions

struct People {
    me: Keypair,
    ana: Keypair,
    bruno: Keypair,
    carla: Keypair,
    dani: Keypair,
    eli: Keypair,
    felix: Keypair,
    gabo: Keypair,
    hugo: Keypair,
    ines: Keypair,
    juan: Keypair,
    mia: Keypair,
    dora: Keypair,
    kim: Keypair,
}

/// - I follow Ana, Luis (bruno), Carla, Dani and Eli (all with profiles);
///   I block Félix and mute Mía.
/// - Gabo is followed by all five, Hugo by Ana and Luis, Juan by Carla,
///   Inés by Dani (Luis followed her and unfollowed). Félix (blocked) by
///   Ana, Luis and Carla, Mía (muted) by Eli; Ana also follows me and Luis.
/// - This week I reacted to two #adopcion posts by Dora. Juan, Kim, Félix
///   and I recently posted with #adopcion; Dora's tagged posts are recent.
fn suggestion_fixture() -> (tempfile::TempDir, Store, People) {
    let (dir, store) = open();
    let p = People {
        me: key(1),
        ana: key(2),
        bruno: key(3),
        carla: key(4),
        dora: key(5),
        felix: key(6),
        gabo: key(7),
        hugo: key(8),
        ines: key(9),
        juan: key(10),
        mia: key(11),
        kim: key(12),
        dani: key(13),
        eli: key(14),
    };
    let old = NOW - 60 * DAY;
    let mut ev = Vec::new();
    for (k, name) in [
        (&p.ana, "Ana"),
        (&p.bruno, "Luis"),
        (&p.carla, "Carla"),
        (&p.dani, "Dani"),
        (&p.eli, "Eli"),
    ] {
        ev.push(profile(k, old, name));
        ev.push(follow(&p.me, old, k));
        ev.push(follow(k, old, &p.gabo));
    }
    ev.push(follow(&p.me, old, &p.felix));
    for (k, whom) in [
        (&p.ana, &p.hugo),
        (&p.bruno, &p.hugo),
        (&p.carla, &p.juan),
        (&p.dani, &p.ines),
        (&p.bruno, &p.ines),
        (&p.ana, &p.felix),
        (&p.bruno, &p.felix),
        (&p.carla, &p.felix),
        (&p.eli, &p.mia),
        (&p.ana, &p.me),
        (&p.ana, &p.bruno),
    ] {
        ev.push(follow(k, old, whom));
    }
    ev.push(unfollow(&p.bruno, old + HOUR, &p.ines));
    ev.push(sign(
        &p.me,
        UnsignedEvent::new(
            p.me.public(),
            old,
            BlockList {
                keys: vec![p.felix.public()],
            },
        ),
    ));
    ev.push(sign(
        &p.me,
        UnsignedEvent::new(
            p.me.public(),
            old,
            MuteList {
                keys: vec![p.mia.public()],
                words: Vec::new(),
            },
        ),
    ));
    for i in 0..2 {
        let d = post(&p.dora, NOW - 3 * DAY + i * HOUR, &format!("#adopcion {i}"));
        ev.push(react(&p.me, NOW - 2 * DAY, &d, ReactionType::Like));
        ev.push(d);
    }
    for k in [&p.juan, &p.kim, &p.felix, &p.mia, &p.me] {
        ev.push(post(k, NOW - DAY, "#adopcion hoy"));
    }
    // An old tagged post does not make its author a candidate.
    ev.push(post(&p.hugo, NOW - 30 * DAY, "#adopcion hace tiempo"));
    ev.sort_by_key(|e| (e.kind() == Kind::Reaction) as u8);
    ingest(&store, ev);
    (dir, store, p)
}

fn run(store: &Store, p: &People, limits: &Limits, limit: usize) -> Vec<Suggestion> {
    let reader = store.reader();
    let mut follows: HashSet<PublicKey> = reader
        .follow_set(&p.me.public())
        .unwrap()
        .into_iter()
        .collect();
    follows.insert(p.me.public());
    let mut hidden: HashSet<PublicKey> = reader
        .blocked(&p.me.public())
        .unwrap()
        .into_iter()
        .collect();
    hidden.extend(reader.muted(&p.me.public()).unwrap());
    suggest::suggest(
        reader,
        Person {
            me: p.me.public(),
            follows: &follows,
            hidden: &hidden,
        },
        limits,
        NOW,
        limit,
    )
    .unwrap()
}

/// The follows' order in the person's sample (as the module documents it).
fn sample_sorted(me: &PublicKey, keys: &mut [PublicKey]) {
    use sha2::{Digest, Sha256};
    keys.sort_by_cached_key(|k| {
        let mut h = Sha256::new();
        h.update(me.as_bytes());
        h.update(k.as_bytes());
        <[u8; 32]>::from(h.finalize())
    });
}

#[test]
fn suggestions_rank_friends_of_friends_then_shared_hashtags() {
    let (_dir, store, p) = suggestion_fixture();
    let got = run(&store, &p, &Limits::default(), 20);
    let reader = store.reader();
    let name = |k: &PublicKey| suggest::display_name(reader, k);

    // Gabo 5, Hugo 2, Juan 1 + 2/(2+2), Inés 1, then Dora and Kim with
    // 0.5 each (smaller key first). Never me, whom I follow, Félix
    // (blocked) or Mía (muted); not Hugo's old post either.
    let (first, second) = if p.dora.public() < p.kim.public() {
        (p.dora.public(), p.kim.public())
    } else {
        (p.kim.public(), p.dora.public())
    };
    let order: Vec<PublicKey> = got.iter().map(|s| s.identity).collect();
    assert_eq!(
        order,
        vec![
            p.gabo.public(),
            p.hugo.public(),
            p.juan.public(),
            p.ines.public(),
            first,
            second
        ]
    );
    let scores: Vec<f64> = got.iter().map(|s| s.score).collect();
    assert_eq!(scores, vec![5.0, 2.0, 1.5, 1.0, 0.5, 0.5]);

    // Gabo: the first two of my follows in sample order, and 3 others.
    let mut five = [
        p.ana.public(),
        p.bruno.public(),
        p.carla.public(),
        p.dani.public(),
        p.eli.public(),
    ];
    sample_sorted(&p.me.public(), &mut five);
    assert_eq!(
        got[0].reasons,
        vec![Reason::FollowedBy {
            followed_by: five[..2].to_vec(),
            count: 5
        }]
    );
    assert_eq!(
        got[0].explain(Lang::En, &name),
        vec![format!(
            "Followed by {}, {} and 3 others you follow",
            name(&five[0]),
            name(&five[1])
        )]
    );
    assert_eq!(
        got[0].explain(Lang::Es, &name),
        vec![format!(
            "Seguida por {}, {} y 3 más a quienes sigues",
            name(&five[0]),
            name(&five[1])
        )]
    );

    // Hugo: two, both named.
    let mut two = [p.ana.public(), p.bruno.public()];
    sample_sorted(&p.me.public(), &mut two);
    assert_eq!(
        got[1].explain(Lang::En, &name),
        vec![format!(
            "Followed by {} and {}, whom you follow",
            name(&two[0]),
            name(&two[1])
        )]
    );
    assert_eq!(
        got[1].explain(Lang::Es, &name),
        vec![format!(
            "Seguida por {} y {}, a quienes sigues",
            name(&two[0]),
            name(&two[1])
        )]
    );

    // Juan: a shared follow, then the hashtag.
    assert_eq!(
        got[2].explain(Lang::En, &name),
        vec![
            "Followed by Carla, whom you follow".to_string(),
            "Posts about #adopcion, which you react to".to_string(),
        ]
    );
    assert_eq!(
        got[2].explain(Lang::Es, &name),
        vec![
            "Seguida por Carla, a quien sigues".to_string(),
            "Publica sobre #adopcion, a lo que reaccionas".to_string(),
        ]
    );
    assert_eq!(
        got[2].reasons[1],
        Reason::Hashtags {
            tags: vec!["adopcion".into()],
            posts: 1,
            action: kith_node::feed::Action::Reacted,
        }
    );

    // Dora: her two tagged posts, and the hashtag reason alone.
    let dora = got.iter().find(|s| s.identity == p.dora.public()).unwrap();
    assert_eq!(
        dora.reasons,
        vec![Reason::Hashtags {
            tags: vec!["adopcion".into()],
            posts: 2,
            action: kith_node::feed::Action::Reacted,
        }]
    );
}

#[test]
fn suggestions_are_bounded_and_truncated() {
    let (_dir, store, p) = suggestion_fixture();
    // Only the first follow of the sample is read, and no hashtags.
    let limits = Limits {
        sampled_follows: 1,
        tags: 0,
        ..Limits::default()
    };
    let got = run(&store, &p, &limits, 20);
    let mut five = [
        p.ana.public(),
        p.bruno.public(),
        p.carla.public(),
        p.dani.public(),
        p.eli.public(),
    ];
    sample_sorted(&p.me.public(), &mut five);
    assert!(!got.is_empty());
    for s in &got {
        assert_eq!(
            s.reasons,
            vec![Reason::FollowedBy {
                followed_by: vec![five[0]],
                count: 1
            }]
        );
    }
    // The limit cuts the list.
    let two = run(&store, &p, &Limits::default(), 2);
    assert_eq!(
        two.iter().map(|s| s.identity).collect::<Vec<_>>(),
        vec![p.gabo.public(), p.hugo.public()]
    );
}

// ------------------------------------------------------------------ analytics

fn reactions(pairs: &[(ReactionType, u64)]) -> Reactions {
    let mut r = Reactions::default();
    for (t, n) in pairs {
        match t {
            ReactionType::Like => r.like = *n,
            ReactionType::Love => r.love = *n,
            ReactionType::Haha => r.haha = *n,
            ReactionType::Wow => r.wow = *n,
            ReactionType::Sad => r.sad = *n,
            ReactionType::Angry => r.angry = *n,
        }
    }
    r
}

/// The creator C over 2026-11-18..20 (`D0`, `D1`, `D2`):
///
/// - posts p1 (D0 10:00), p2 (D1 09:00), a quote q1 (D2 08:00), and a
///   reply (D1); p0 is from 2026-11-01.
/// - f1 likes p1 (D0), f2 loves p1 (D0) then changes it to haha (D1),
///   f3 likes p0 (D1), f4 liked p0 before the period, C likes p2.
/// - f1 replies to p1 (D1), C answers f1 (D1), f2 replies to C's answer (D2).
/// - f3 reposts p2 (D2), f4 quotes p2 (D2).
/// - f1 follows (D0); f2 follows (D1) and unfollows (D2); f3 followed before
///   the period; f4 follows (D2).
#[test]
fn analytics_counts_each_day_exactly() {
    let (_dir, store) = open();
    let c = key(20);
    let (f1, f2, f3, f4) = (key(21), key(22), key(23), key(24));
    let d0 = TODAY - 2 * DAY;
    let d1 = TODAY - DAY;
    let d2 = TODAY;
    let x = post(&f1, NOW - 10 * DAY, "something to quote");
    let p0 = post(&c, NOW - 19 * DAY, "old but loved");
    let p1 = post(&c, d0 + 10 * HOUR, "first");
    let p2 = post(&c, d1 + 9 * HOUR, "second");
    let q1 = quote(&c, d2 + 8 * HOUR, &x, "quoting f1");
    let r1 = reply(&f1, d1 + 10 * HOUR, &p1, &p1, "nice");
    let answer = reply(&c, d1 + 11 * HOUR, &p1, &r1, "thanks");
    let r2 = reply(&f2, d2 + 7 * HOUR, &p1, &answer, "you're welcome");
    let events = vec![
        x.clone(),
        p0.clone(),
        p1.clone(),
        p2.clone(),
        q1,
        r1,
        answer,
        r2,
        react(&f1, d0 + 11 * HOUR, &p1, ReactionType::Like),
        react(&f2, d0 + 12 * HOUR, &p1, ReactionType::Love),
        react(&f2, d1 + 13 * HOUR, &p1, ReactionType::Haha),
        react(&f3, d1 + 14 * HOUR, &p0, ReactionType::Like),
        react(&f4, NOW - 10 * DAY, &p0, ReactionType::Wow),
        react(&c, d1 + 15 * HOUR, &p2, ReactionType::Love),
        repost(&f3, d2 + 9 * HOUR, &p2),
        quote(&f4, d2 + 10 * HOUR, &p2, "look"),
        follow(&f1, d0 + HOUR, &c),
        follow(&f2, d1 + HOUR, &c),
        unfollow(&f2, d2 + HOUR, &c),
        follow(&f3, NOW - 19 * DAY, &c),
        follow(&f4, d2 + 2 * HOUR, &c),
    ];
    ingest(&store, events);
    let reader = store.reader();
    let r = analytics::report(reader, &c.public(), 3, false, &StatsLimits::default(), NOW).unwrap();

    assert_eq!(r.since, d0);
    assert_eq!(r.until, TODAY + DAY);
    let dates: Vec<&str> = r.days.iter().map(|d| d.date.as_str()).collect();
    assert_eq!(dates, ["2026-11-18", "2026-11-19", "2026-11-20"]);
    let [a, b, t] = [&r.days[0].counts, &r.days[1].counts, &r.days[2].counts];
    // D0: p1; f1's like (f2's love became a haha the next day); f1 follows.
    assert_eq!(a.posts, 1);
    assert_eq!(a.reactions, reactions(&[(ReactionType::Like, 1)]));
    assert_eq!((a.replies, a.reposts, a.quotes), (0, 0, 0));
    assert_eq!((a.new_followers, a.lost_followers), (1, 0));
    // D1: p2 (the reply is not a post); f2's haha on p1 and f3's like on
    // the old p0, not C's own love; f1's reply, not C's; f2's follow no
    // longer stands.
    assert_eq!(b.posts, 1);
    assert_eq!(
        b.reactions,
        reactions(&[(ReactionType::Like, 1), (ReactionType::Haha, 1)])
    );
    assert_eq!((b.replies, b.reposts, b.quotes), (1, 0, 0));
    assert_eq!((b.new_followers, b.lost_followers), (0, 0));
    // D2: q1; f2's reply to C's answer; f3's repost; f4's quote; f4
    // follows, f2 leaves.
    assert_eq!(t.posts, 1);
    assert_eq!(t.reactions, Reactions::default());
    assert_eq!((t.replies, t.reposts, t.quotes), (1, 1, 1));
    assert_eq!((t.new_followers, t.lost_followers), (1, 1));
    // Story views are not in this report at all.
    assert!(r.days.iter().all(|d| d.counts.story_views.is_none()));

    let totals = &r.totals;
    assert_eq!(totals.counts.posts, 3);
    assert_eq!(
        totals.counts.reactions,
        reactions(&[(ReactionType::Like, 2), (ReactionType::Haha, 1)])
    );
    assert_eq!(
        (
            totals.counts.replies,
            totals.counts.reposts,
            totals.counts.quotes
        ),
        (2, 1, 1)
    );
    assert_eq!(totals.followers, 3);
    assert!(!r.truncated);

    // Top posts: p1 (like, haha, reply), p2 (repost, quote), then C's
    // answer (one reply, newer) before p0 (one like).
    let top: Vec<(String, u64)> = r
        .top_posts
        .iter()
        .map(|t| (t.text.clone(), t.engagement))
        .collect();
    assert_eq!(
        top,
        [
            ("first".to_string(), 3),
            ("second".to_string(), 2),
            ("thanks".to_string(), 1),
            ("old but loved".to_string(), 1),
        ]
    );
    assert_eq!(r.top_posts[0].id, p1.id());
    assert_eq!(r.top_posts[0].kind, "post");
    assert_eq!(r.top_posts[2].kind, "reply");
    assert_eq!(
        r.top_posts[0].reactions,
        reactions(&[(ReactionType::Like, 1), (ReactionType::Haha, 1)])
    );

    // The JSON shape charts read.
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["days"][0]["date"], "2026-11-18");
    assert_eq!(json["days"][1]["reactions"]["haha"], 1);
    assert_eq!(json["days"][2]["quotes"], 1);
    assert!(json["days"][0].get("story_views").is_none());
    assert_eq!(json["totals"]["followers"], 3);
    assert_eq!(json["totals"]["reactions"]["like"], 2);
    assert_eq!(json["top_posts"][0]["engagement"], 3);

    // A single day: today only.
    let one =
        analytics::report(reader, &c.public(), 1, false, &StatsLimits::default(), NOW).unwrap();
    assert_eq!(one.days.len(), 1);
    assert_eq!(one.days[0].counts, r.days[2].counts);
    // Over 30 days p0 counts as published (2026-11-01) and f3's follow too.
    let month =
        analytics::report(reader, &c.public(), 30, false, &StatsLimits::default(), NOW).unwrap();
    assert_eq!(month.days.len(), 30);
    assert_eq!(month.totals.counts.posts, 4);
    assert_eq!(month.totals.counts.new_followers, 3);
    // f4's wow (2026-11-10) on p0.
    assert_eq!(month.totals.counts.reactions.wow, 1);
}

#[test]
fn analytics_days_are_checked() {
    assert_eq!(analytics::days(None), Ok(analytics::DEFAULT_DAYS));
    assert_eq!(analytics::days(Some(1)), Ok(1));
    assert_eq!(analytics::days(Some(365)), Ok(365));
    assert!(analytics::days(Some(0)).is_err());
    assert!(analytics::days(Some(366)).is_err());
    assert_eq!(analytics::date(0), "1970-01-01");
    assert_eq!(analytics::date(20_000), "2024-10-04");
    assert_eq!(analytics::date(NOW / DAY), "2026-11-20");
    assert_eq!(analytics::date(11_016), "2000-02-29");
}

/// Story views: each viewer once per story, never the author; only in
/// the identity's own report.
#[test]
fn analytics_counts_story_viewers_once() {
    let (_dir, store) = open();
    let c = key(30);
    let (v1, v2) = (key(31), key(32));
    let now = kith_node::now_ms();
    let expires_at = now + 20 * HOUR;
    let story = sign(
        &c,
        UnsignedEvent::new(
            c.public(),
            now - HOUR,
            Story {
                text: "hola".into(),
                media: None,
                expires_at,
            },
        ),
    );
    let view = |k: &Keypair, at: u64| {
        sign(
            k,
            UnsignedEvent::new(k.public(), at, StoryView { expires_at })
                .ref_event(Rel::Story, story.id()),
        )
    };
    let views = [
        (&v1, now - 30 * 60_000),
        (&v1, now - 20 * 60_000),
        (&v2, now - 10 * 60_000),
        (&c, now - 5 * 60_000),
    ];
    let mut events = vec![story.clone()];
    events.extend(views.iter().map(|(k, at)| view(k, *at)));
    ingest(&store, events);
    let reader = store.reader();
    let own =
        analytics::report(reader, &c.public(), 2, true, &StatsLimits::default(), now).unwrap();
    // v1 at its first view, v2; by date, in case midnight fell between.
    let mut want: HashMap<String, u64> = HashMap::new();
    for at in [now - 30 * 60_000, now - 10 * 60_000] {
        *want.entry(analytics::date(at / DAY)).or_default() += 1;
    }
    for d in &own.days {
        assert_eq!(
            d.counts.story_views,
            Some(want.get(&d.date).copied().unwrap_or(0)),
            "{}",
            d.date
        );
    }
    assert_eq!(own.totals.counts.story_views, Some(2));
    let public =
        analytics::report(reader, &c.public(), 2, false, &StatsLimits::default(), now).unwrap();
    assert_eq!(public.totals.counts.story_views, None);
}
