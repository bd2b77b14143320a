//! Known-answer tests of the event store: every read checked against what the
//! events imply, and the integrity check run at the end of each test.

use std::time::Duration;

use kith_protocol::kinds::{
    Condition, Content, Delegation, Delete, DeliveryOption, Follow, Listing, Order, PaymentMethod,
    Post, Price, Reaction, ReactionType, Reply, Repost, Review, Revocation, Story, TradeState,
    TradeUpdate, Unfollow,
};
use kith_protocol::{
    AuthError, Event, EventId, Keypair, Kind, Payload, PublicKey, Rel, UnsignedEvent,
};
use kith_storage::{Cursor, Dependency, Filter, IngestOutcome, SearchQuery, Store, StoreConfig};

const T0: u64 = 1_767_225_600_000;

fn key(n: u8) -> Keypair {
    Keypair::from_seed(&[n; 32]).unwrap()
}

fn open(dir: &std::path::Path) -> Store {
    let mut config = StoreConfig::new(dir);
    config.flush_interval = Duration::from_millis(1);
    config.expiry_interval = None;
    Store::open(config).unwrap()
}

fn sign(k: &Keypair, body: UnsignedEvent) -> Event {
    body.sign(k).unwrap()
}

fn post(k: &Keypair, t: u64, text: &str) -> Event {
    sign(
        k,
        UnsignedEvent::new(
            k.public(),
            t,
            Post {
                content: Content::text(text),
            },
        ),
    )
}

fn reply(k: &Keypair, t: u64, root: EventId, parent: EventId, text: &str) -> Event {
    sign(
        k,
        UnsignedEvent::new(
            k.public(),
            t,
            Reply {
                content: Content::text(text),
            },
        )
        .ref_event(Rel::Root, root)
        .ref_event(Rel::Parent, parent),
    )
}

fn react(k: &Keypair, t: u64, target: EventId, r: ReactionType) -> Event {
    sign(
        k,
        UnsignedEvent::new(k.public(), t, Reaction { reaction: r }).ref_event(Rel::Target, target),
    )
}

fn follow(k: &Keypair, t: u64, who: PublicKey, yes: bool) -> Event {
    let body = if yes {
        UnsignedEvent::new(k.public(), t, Follow {})
    } else {
        UnsignedEvent::new(k.public(), t, Unfollow {})
    };
    sign(k, body.ref_identity(Rel::Subject, who))
}

fn ingest(store: &Store, events: Vec<Event>) -> Vec<IngestOutcome> {
    store.ingest_blocking(events).unwrap()
}

fn stored(o: &IngestOutcome) -> bool {
    matches!(o, IngestOutcome::Stored { .. })
}

fn assert_integrity(store: &Store) {
    let report = store.check_integrity().unwrap();
    assert!(report.is_ok(), "integrity: {report:#?}");
}

#[test]
fn ingest_is_idempotent_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = key(1);
    let p = post(&a, T0, "hola #Kith");
    let out = ingest(&store, vec![p.clone(), p.clone()]);
    assert!(stored(&out[0]));
    assert_eq!(out[1], IngestOutcome::Duplicate);
    assert_eq!(
        ingest(&store, vec![p.clone()]),
        vec![IngestOutcome::Duplicate]
    );
    assert_eq!(store.get(&p.id()).unwrap().unwrap(), p);
    let page = store
        .query(
            &Filter {
                hashtags: vec!["kith".into()],
                limit: 10,
                ..Filter::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(page.events, vec![p]);
    assert_integrity(&store);
}

#[test]
fn events_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let a = key(1);
    let events: Vec<Event> = (0..50)
        .map(|i| post(&a, T0 + i, &format!("post {i}")))
        .collect();
    {
        let store = open(dir.path());
        ingest(&store, events.clone());
    }
    let store = open(dir.path());
    for e in &events {
        assert!(store.contains(&e.id()).unwrap());
    }
    assert_eq!(store.last_seq().unwrap(), 50);
    // Sequence numbers continue after a restart.
    let out = ingest(&store, vec![post(&a, T0 + 100, "after restart")]);
    assert_eq!(out, vec![IngestOutcome::Stored { seq: 51 }]);
    assert_integrity(&store);
}

#[test]
fn author_timeline_pages_are_stable_while_events_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = key(1);
    let events: Vec<Event> = (0..100)
        .map(|i| post(&a, T0 + i * 1000, &format!("p{i}")))
        .collect();
    ingest(&store, events.clone());
    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    let mut round = 0u64;
    loop {
        let page = store
            .author_timeline(&a.public(), false, cursor, 7)
            .unwrap();
        seen.extend(page.events.iter().map(Event::id));
        // New posts (newer than everything) and a deletion arrive between pages.
        ingest(
            &store,
            vec![post(&a, T0 + 1_000_000 + round, &format!("new {round}"))],
        );
        round += 1;
        match page.next {
            Some(c) => cursor = Some(c.to_string().parse().unwrap()),
            None => break,
        }
    }
    let expected: Vec<EventId> = events.iter().rev().map(Event::id).collect();
    assert_eq!(
        seen, expected,
        "every original post exactly once, newest first"
    );
    assert_integrity(&store);
}

#[test]
fn deleting_between_pages_never_repeats_or_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = key(1);
    let events: Vec<Event> = (0..30)
        .map(|i| post(&a, T0 + i * 1000, &format!("p{i}")))
        .collect();
    ingest(&store, events.clone());
    let first = store.author_timeline(&a.public(), false, None, 10).unwrap();
    // Delete one item of the first page and one of the second.
    let del = |target: &Event, t| {
        sign(
            &a,
            UnsignedEvent::new(a.public(), t, Delete::default())
                .ref_event(Rel::Target, target.id()),
        )
    };
    let out = ingest(
        &store,
        vec![del(&events[25], T0 + 50_000), del(&events[15], T0 + 50_001)],
    );
    assert!(out.iter().all(stored));
    let second = store
        .author_timeline(&a.public(), false, first.next, 10)
        .unwrap();
    let ids: Vec<EventId> = second.events.iter().map(Event::id).collect();
    let expected: Vec<EventId> = events[..20]
        .iter()
        .rev()
        .filter(|e| e.id() != events[15].id())
        .take(10)
        .map(Event::id)
        .collect();
    assert_eq!(ids, expected);
    assert!(store.get(&events[15].id()).unwrap().is_none());
    assert_integrity(&store);
}

#[test]
fn reactions_one_live_per_person_with_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b, c) = (key(1), key(2), key(3));
    let p = post(&a, T0, "¿Qué opinan?");
    // b reacts twice (love replaces like), and the older arrives last.
    let like = react(&b, T0 + 10, p.id(), ReactionType::Like);
    let love = react(&b, T0 + 20, p.id(), ReactionType::Love);
    let wow = react(&c, T0 + 30, p.id(), ReactionType::Wow);
    ingest(&store, vec![p.clone(), love.clone(), wow]);
    ingest(&store, vec![like]);
    let stats = store.stats(&[p.id()], Some(&b.public())).unwrap();
    assert_eq!(stats[0].reactions, [0, 1, 0, 1, 0, 0]);
    assert_eq!(stats[0].mine, Some(ReactionType::Love));
    // Deleting the live reaction makes the older one live again.
    let del = sign(
        &b,
        UnsignedEvent::new(b.public(), T0 + 40, Delete::default())
            .ref_event(Rel::Target, love.id()),
    );
    ingest(&store, vec![del]);
    let stats = store.stats(&[p.id()], Some(&b.public())).unwrap();
    assert_eq!(stats[0].reactions, [1, 0, 0, 1, 0, 0]);
    assert_eq!(stats[0].mine, Some(ReactionType::Like));
    assert_integrity(&store);
}

/// `mine_id` names the viewer's live reaction event: the newest one, a
/// newer one when it replaces it, and none once it is deleted. Without a
/// viewer, or for someone who has not reacted, there is none.
#[test]
fn the_viewers_live_reaction_id_follows_replacement_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b, c) = (key(1), key(2), key(3));
    let p = post(&a, T0, "react to me");
    let like = react(&b, T0 + 10, p.id(), ReactionType::Like);
    ingest(&store, vec![p.clone(), like.clone()]);
    let mine = |who: Option<&PublicKey>| {
        let s = store.stats(&[p.id()], who).unwrap().remove(0);
        (s.mine, s.mine_id)
    };
    assert_eq!(
        mine(Some(&b.public())),
        (Some(ReactionType::Like), Some(like.id()))
    );
    assert_eq!(mine(Some(&c.public())), (None, None));
    assert_eq!(mine(None), (None, None));

    // A newer reaction replaces it.
    let haha = react(&b, T0 + 20, p.id(), ReactionType::Haha);
    ingest(&store, vec![haha.clone()]);
    assert_eq!(
        mine(Some(&b.public())),
        (Some(ReactionType::Haha), Some(haha.id()))
    );

    // Deleting both leaves no live reaction.
    let del = |target: &Event, t: u64| {
        sign(
            &b,
            UnsignedEvent::new(b.public(), t, Delete::default())
                .ref_event(Rel::Target, target.id()),
        )
    };
    ingest(&store, vec![del(&haha, T0 + 30)]);
    assert_eq!(
        mine(Some(&b.public())),
        (Some(ReactionType::Like), Some(like.id()))
    );
    ingest(&store, vec![del(&like, T0 + 40)]);
    assert_eq!(mine(Some(&b.public())), (None, None));
    let stats = store.stats(&[p.id()], Some(&b.public())).unwrap();
    assert_eq!(stats[0].reactions, [0; 6]);
    assert_integrity(&store);
}

#[test]
fn thread_shape_with_a_late_parent() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b) = (key(1), key(2));
    let root = post(&a, T0, "root");
    let r1 = reply(&b, T0 + 1, root.id(), root.id(), "r1");
    let r2 = reply(&a, T0 + 2, root.id(), r1.id(), "r2 answers r1");
    let r3 = reply(&b, T0 + 3, root.id(), root.id(), "r3");
    let r4 = reply(&b, T0 + 4, root.id(), r2.id(), "r4 answers r2");
    // r4 arrives before its parent r2: stored, shown as an orphan until r2 comes.
    ingest(
        &store,
        vec![root.clone(), r1.clone(), r3.clone(), r4.clone()],
    );
    let t = store.thread(&root.id(), None, 50).unwrap();
    let shape: Vec<(EventId, usize, bool)> = t
        .replies
        .iter()
        .map(|r| (r.event.id(), r.depth, r.orphan))
        .collect();
    assert_eq!(
        shape,
        vec![(r1.id(), 1, false), (r3.id(), 1, false), (r4.id(), 1, true)]
    );
    ingest(&store, vec![r2.clone()]);
    let t = store.thread(&root.id(), None, 50).unwrap();
    let shape: Vec<(EventId, usize)> = t.replies.iter().map(|r| (r.event.id(), r.depth)).collect();
    assert_eq!(
        shape,
        vec![(r1.id(), 1), (r2.id(), 2), (r4.id(), 3), (r3.id(), 1)]
    );
    assert_eq!(t.total, 4);
    // Paging through the thread.
    let p1 = store.thread(&root.id(), None, 2).unwrap();
    let p2 = store.thread(&root.id(), p1.next, 2).unwrap();
    assert_eq!(p1.replies.len() + p2.replies.len(), 4);
    assert_eq!(p2.replies[1].event.id(), r3.id());
    assert!(p2.next.is_none());
    let stats = store.stats(&[root.id(), r1.id()], None).unwrap();
    assert_eq!(
        (stats[0].replies, stats[0].thread_replies, stats[1].replies),
        (2, 4, 1)
    );
    assert_integrity(&store);
}

#[test]
fn follow_graph_newest_wins_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b, c) = (key(1), key(2), key(3));
    let f1 = follow(&a, T0, b.public(), true);
    let u1 = follow(&a, T0 + 10, b.public(), false);
    let f2 = follow(&a, T0 + 20, b.public(), true);
    // Arrive out of order: the newest (a follow) decides.
    ingest(
        &store,
        vec![
            f2,
            u1,
            f1,
            follow(&c, T0, b.public(), true),
            follow(&a, T0, c.public(), true),
        ],
    );
    assert!(store.follows(&a.public(), &b.public()).unwrap());
    assert_eq!(store.follow_counts(&b.public()).unwrap(), (2, 0));
    assert_eq!(store.follow_counts(&a.public()).unwrap(), (0, 2));
    let mut following = store.following(&a.public(), None, 10).unwrap();
    following.sort();
    let mut expected = vec![b.public(), c.public()];
    expected.sort();
    assert_eq!(following, expected);
    ingest(&store, vec![follow(&a, T0 + 30, b.public(), false)]);
    assert!(!store.follows(&a.public(), &b.public()).unwrap());
    assert_eq!(store.follow_counts(&b.public()).unwrap(), (1, 0));
    assert_eq!(
        store.followers(&b.public(), None, 10).unwrap(),
        vec![c.public()]
    );
    assert_integrity(&store);
}

#[test]
fn deletes_before_and_after_their_target() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b) = (key(1), key(2));
    let p = post(&a, T0, "to be deleted");
    let del = sign(
        &a,
        UnsignedEvent::new(a.public(), T0 + 5, Delete::default()).ref_event(Rel::Target, p.id()),
    );
    // Delete first: the post is refused when it arrives, the tombstone stays.
    assert!(stored(&ingest(&store, vec![del.clone()])[0]));
    assert_eq!(
        ingest(&store, vec![p.clone()]),
        vec![IngestOutcome::Deleted]
    );
    assert_eq!(store.tombstone(&p.id()).unwrap(), Some(del.id()));
    // A delete by someone else of a stored post is rejected.
    let q = post(&a, T0 + 1, "not yours");
    let bad = sign(
        &b,
        UnsignedEvent::new(b.public(), T0 + 6, Delete::default()).ref_event(Rel::Target, q.id()),
    );
    ingest(&store, vec![q.clone()]);
    assert_eq!(
        ingest(&store, vec![bad]),
        vec![IngestOutcome::Rejected(AuthError::NotAuthor)]
    );
    assert!(store.contains(&q.id()).unwrap());
    // A delete by someone else that arrives first is voided when the target comes.
    let r = post(&a, T0 + 2, "early bogus delete");
    let bogus = sign(
        &b,
        UnsignedEvent::new(b.public(), T0 + 7, Delete::default()).ref_event(Rel::Target, r.id()),
    );
    ingest(&store, vec![bogus.clone()]);
    assert!(stored(&ingest(&store, vec![r.clone()])[0]));
    assert!(!store.contains(&bogus.id()).unwrap());
    assert_eq!(store.tombstone(&r.id()).unwrap(), None);
    assert_integrity(&store);
}

#[test]
fn delegated_events_wait_for_their_delegation_and_revocation_voids_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (root, device) = (key(1), key(9));
    let delegation = sign(
        &root,
        UnsignedEvent::new(
            root.public(),
            T0,
            Delegation {
                kinds: vec![Kind::Post],
                expires_at: T0 + 86_400_000,
            },
        )
        .ref_identity(Rel::Subject, device.public()),
    );
    let by_device = |t: u64, text: &str| {
        UnsignedEvent::new(
            root.public(),
            t,
            Post {
                content: Content::text(text),
            },
        )
        .signed_by(device.public())
        .sign(&device)
        .unwrap()
    };
    let early = by_device(T0 + 10, "from my phone");
    let out = ingest(&store, vec![early.clone()]);
    assert_eq!(
        out,
        vec![IngestOutcome::Pending {
            waiting_for: Dependency::Delegation {
                author: root.public(),
                signer: device.public()
            }
        }]
    );
    assert!(store.is_pending(&early.id()).unwrap());
    ingest(&store, vec![delegation.clone()]);
    assert!(
        store.contains(&early.id()).unwrap(),
        "released when the delegation arrived"
    );
    assert!(!store.is_pending(&early.id()).unwrap());
    let later = by_device(T0 + 20_000, "later");
    assert!(stored(&ingest(&store, vec![later.clone()])[0]));
    // Revoke, keeping what was signed before T0 + 15_000.
    let revoke = sign(
        &root,
        UnsignedEvent::new(
            root.public(),
            T0 + 30_000,
            Revocation {
                keep_before: Some(T0 + 15_000),
            },
        )
        .ref_event(Rel::Target, delegation.id()),
    );
    ingest(&store, vec![revoke]);
    assert!(store.contains(&early.id()).unwrap());
    assert!(!store.contains(&later.id()).unwrap());
    let info = store.delegations(&root.public()).unwrap();
    assert_eq!(info.len(), 1);
    assert!(info[0].revoked);
    assert_eq!(
        ingest(&store, vec![by_device(T0 + 40_000, "after revocation")]),
        vec![IngestOutcome::Rejected(AuthError::DelegationRevoked)]
    );
    assert_integrity(&store);
}

fn listing(seller: &Keypair, quantity: u32) -> Event {
    sign(
        seller,
        UnsignedEvent::new(
            seller.public(),
            T0,
            Listing {
                title: "Bicicleta".into(),
                description: "Rodado 26".into(),
                category: "sports/bikes".into(),
                price: Price {
                    amount: 15_000,
                    currency: "EUR".into(),
                },
                quantity,
                condition: Condition::Good,
                location: None,
                delivery: vec![DeliveryOption::Pickup],
                payment: vec![PaymentMethod::CashOnPickup],
                media: vec![],
                expires_at: None,
                withdrawn: false,
            },
        ),
    )
}

fn order(buyer: &Keypair, t: u64, listing: &Event) -> Event {
    sign(
        buyer,
        UnsignedEvent::new(
            buyer.public(),
            t,
            Order {
                quantity: 1,
                delivery: DeliveryOption::Pickup,
                payment: PaymentMethod::CashOnPickup,
            },
        )
        .ref_event(Rel::Listing, listing.id())
        .ref_identity(Rel::Seller, listing.author()),
    )
}

fn step(k: &Keypair, t: u64, order: &Event, prev: EventId, state: TradeState) -> Event {
    sign(
        k,
        UnsignedEvent::new(
            k.public(),
            t,
            TradeUpdate {
                state,
                note: None,
                tracking: None,
            },
        )
        .ref_event(Rel::Order, order.id())
        .ref_event(Rel::Prev, prev),
    )
}

#[test]
fn trade_runs_its_state_machine_and_reviews_wait_for_completion() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (seller, buyer) = (key(1), key(2));
    let l = listing(&seller, 3);
    let o = order(&buyer, T0 + 1, &l);
    let review = sign(
        &buyer,
        UnsignedEvent::new(
            buyer.public(),
            T0 + 100,
            Review {
                rating: 5,
                text: "¡Excelente!".into(),
            },
        )
        .ref_event(Rel::Order, o.id())
        .ref_identity(Rel::Subject, seller.public()),
    );
    ingest(&store, vec![l.clone(), o.clone()]);
    assert_eq!(
        ingest(&store, vec![review.clone()]),
        vec![IngestOutcome::Pending {
            waiting_for: Dependency::Event(o.id())
        }]
    );
    let accepted = step(&seller, T0 + 2, &o, o.id(), TradeState::Accepted);
    // The buyer cannot accept; the seller can.
    assert_eq!(
        ingest(
            &store,
            vec![step(&buyer, T0 + 2, &o, o.id(), TradeState::Accepted)]
        ),
        vec![IngestOutcome::Rejected(AuthError::TradeTransition {
            from: "ordered",
            to: "accepted",
            by: "buyer"
        })]
    );
    assert!(stored(&ingest(&store, vec![accepted.clone()])[0]));
    assert_eq!(store.stock(&l.id()).unwrap(), 2);
    let confirmed = step(
        &seller,
        T0 + 3,
        &o,
        accepted.id(),
        TradeState::PaymentConfirmed,
    );
    let delivered = step(&buyer, T0 + 4, &o, confirmed.id(), TradeState::Delivered);
    let completed = step(&buyer, T0 + 5, &o, delivered.id(), TradeState::Completed);
    // Out of order: `delivered` waits for `confirmed`.
    assert_eq!(
        ingest(&store, vec![delivered.clone()]),
        vec![IngestOutcome::Pending {
            waiting_for: Dependency::Event(confirmed.id())
        }]
    );
    ingest(&store, vec![confirmed, completed]);
    let trade = store.trade(&o.id()).unwrap().unwrap();
    assert_eq!(trade.state, TradeState::Completed);
    assert!(store.contains(&delivered.id()).unwrap());
    assert!(
        store.contains(&review.id()).unwrap(),
        "the review was released on completion"
    );
    assert_integrity(&store);
}

#[test]
fn two_buyers_race_for_the_last_unit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (seller, b1, b2) = (key(1), key(2), key(3));
    let l = listing(&seller, 1);
    let (o1, o2) = (order(&b1, T0 + 1, &l), order(&b2, T0 + 1, &l));
    ingest(&store, vec![l.clone(), o1.clone(), o2.clone()]);
    let out = ingest(
        &store,
        vec![
            step(&seller, T0 + 2, &o1, o1.id(), TradeState::Accepted),
            step(&seller, T0 + 2, &o2, o2.id(), TradeState::Accepted),
        ],
    );
    assert!(stored(&out[0]));
    assert_eq!(
        out[1],
        IngestOutcome::Rejected(AuthError::ListingUnavailable)
    );
    assert_eq!(store.stock(&l.id()).unwrap(), 0);
    // Cancelling the accepted trade gives the unit back.
    let accepted = store.trade(&o1.id()).unwrap().unwrap().latest;
    ingest(
        &store,
        vec![step(&b1, T0 + 3, &o1, accepted, TradeState::Cancelled)],
    );
    assert_eq!(store.stock(&l.id()).unwrap(), 1);
    assert_integrity(&store);
}

#[test]
fn stories_expire_and_late_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = key(1);
    let now = kith_storage_now();
    let story = |t: u64, life: u64, text: &str| {
        sign(
            &a,
            UnsignedEvent::new(
                a.public(),
                t,
                Story {
                    text: text.into(),
                    media: None,
                    expires_at: t + life,
                },
            ),
        )
    };
    let live = story(now - 1000, 3_600_000, "live");
    let short = story(now - 1000, 60_000, "short");
    let dead = story(now - 7_200_000, 3_600_000, "already gone");
    let out = ingest(&store, vec![live.clone(), short.clone(), dead]);
    assert!(stored(&out[0]) && stored(&out[1]));
    assert_eq!(out[2], IngestOutcome::Expired);
    assert_eq!(store.active_stories(&[a.public()], now).unwrap().len(), 2);
    let removed = store.expire_blocking(now + 120_000).unwrap();
    assert_eq!(removed, 1);
    assert!(!store.contains(&short.id()).unwrap());
    assert_eq!(
        store.active_stories(&[a.public()], now + 120_000).unwrap(),
        vec![live]
    );
    assert_integrity(&store);
}

fn kith_storage_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn home_timeline_merges_followed_authors_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let keys: Vec<Keypair> = (1..=20).map(key).collect();
    let mut events = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        for j in 0..20u64 {
            events.push(post(k, T0 + j * 100 + i as u64, &format!("{i}-{j}")));
        }
    }
    // A repost and a reply by a followed author; only the repost shows.
    let repost = sign(
        &keys[0],
        UnsignedEvent::new(keys[0].public(), T0 + 5000, Repost {})
            .ref_event(Rel::Target, events[40].id()),
    );
    let r = reply(
        &keys[0],
        T0 + 5001,
        events[41].id(),
        events[41].id(),
        "a reply",
    );
    events.push(repost.clone());
    events.push(r);
    ingest(&store, events.clone());
    let follows: std::collections::HashSet<_> = [keys[0].public(), keys[3].public()].into();
    let mut expected: Vec<&Event> = events
        .iter()
        .filter(|e| follows.contains(&e.author()) && matches!(e.kind(), Kind::Post | Kind::Repost))
        .collect();
    expected.sort_by_key(|e| std::cmp::Reverse((e.created_at(), e.id())));
    let mut got = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.home_timeline(&follows, cursor, 6).unwrap();
        got.extend(page.events.iter().map(Event::id));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(got, expected.iter().map(|e| e.id()).collect::<Vec<_>>());
    assert_eq!(got[0], repost.id());
    assert_integrity(&store);
}

#[test]
fn search_is_typo_tolerant_and_forgets_deleted_posts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = key(1);
    let mut spanish = Content::text("Perritos en adopción en Córdoba #Adopción");
    spanish.lang = Some("es".into());
    let p1 = sign(
        &a,
        UnsignedEvent::new(a.public(), T0, Post { content: spanish }),
    );
    let p2 = post(&a, T0 + 1, "Rust gossip protocols for social networks");
    let p3 = post(&a, T0 + 2, "Nothing related here");
    let out = ingest(&store, vec![p1.clone(), p2.clone(), p3]);
    let last = match out[2] {
        IngestOutcome::Stored { seq } => seq,
        ref o => panic!("{o:?}"),
    };
    let search = store.search_index().unwrap();
    assert!(search.wait_indexed(last, Duration::from_secs(10)));
    let q = |text: &str| SearchQuery {
        text: text.into(),
        limit: 10,
        ..SearchQuery::default()
    };
    // A typo, missing accents, and a hashtag.
    assert_eq!(store.search(&q("adopcion")).unwrap()[0].id, p1.id());
    assert_eq!(
        store.search(&q("perritoss cordoba")).unwrap()[0].id,
        p1.id()
    );
    assert_eq!(store.search(&q("gosip")).unwrap()[0].id, p2.id());
    let es = SearchQuery {
        lang: Some("es".into()),
        ..q("adopción")
    };
    assert_eq!(store.search(&es).unwrap().len(), 1);
    let en = SearchQuery {
        lang: Some("en".into()),
        ..q("adopción")
    };
    assert!(store.search(&en).unwrap().is_empty());
    let del = sign(
        &a,
        UnsignedEvent::new(a.public(), T0 + 10, Delete::default()).ref_event(Rel::Target, p1.id()),
    );
    ingest(&store, vec![del]);
    assert!(store.search(&q("adopcion")).unwrap().is_empty());
    // A rebuild from the store gives the same answers.
    search.rebuild().unwrap();
    assert_eq!(store.search(&q("gossip")).unwrap()[0].id, p2.id());
    assert!(store.search(&q("adopcion")).unwrap().is_empty());
    assert_integrity(&store);
}

/// A log that ends in events with nothing to index (reactions) is still
/// reported indexed: `wait_indexed` on its last sequence returns.
#[test]
fn search_progress_covers_events_with_nothing_to_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = key(1);
    let p = post(&a, T0, "something searchable");
    let first = match ingest(&store, vec![p.clone()])[0] {
        IngestOutcome::Stored { seq } => seq,
        ref o => panic!("{o:?}"),
    };
    let search = store.search_index().unwrap();
    // The post is committed: from here on only reactions arrive.
    assert!(search.wait_indexed(first, Duration::from_secs(10)));
    let mut last = 0;
    for (i, o) in ingest(
        &store,
        (0..20)
            .map(|i| react(&key(2 + i as u8), T0 + 1 + i, p.id(), ReactionType::Love))
            .collect(),
    )
    .iter()
    .enumerate()
    {
        match o {
            IngestOutcome::Stored { seq } => last = last.max(*seq),
            o => panic!("reaction {i}: {o:?}"),
        }
    }
    assert!(
        search.wait_indexed(last, Duration::from_secs(10)),
        "indexed up to {} of {last}",
        search.indexed_seq()
    );
}

#[test]
fn subscribers_see_every_stored_event_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut rx = store.subscribe();
    let a = key(1);
    let events: Vec<Event> = (0..10).map(|i| post(&a, T0 + i, &format!("{i}"))).collect();
    ingest(&store, events.clone());
    for e in &events {
        let s = rx.try_recv().unwrap();
        assert_eq!(s.event.id(), e.id());
    }
    assert!(matches!(
        store
            .get(&events[0].id())
            .unwrap()
            .map(|e| e.payload().clone()),
        Some(Payload::Post(_))
    ));
}

#[test]
fn references_to_the_wrong_kind_are_rejected_when_the_target_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b) = (key(1), key(2));
    let p = post(&a, T0, "a post");
    let like = react(&b, T0 + 1, p.id(), ReactionType::Like);
    ingest(&store, vec![p.clone(), like.clone()]);
    // A reply whose root is a reaction, and a repost of a reaction.
    let bad_reply = reply(&a, T0 + 2, like.id(), like.id(), "replying to a like?");
    let bad_repost = sign(
        &a,
        UnsignedEvent::new(a.public(), T0 + 3, Repost {}).ref_event(Rel::Target, like.id()),
    );
    let out = ingest(&store, vec![bad_reply, bad_repost]);
    assert_eq!(
        out,
        vec![
            IngestOutcome::Rejected(AuthError::WrongTargetKind {
                expected: Kind::Post,
                found: Kind::Reaction
            }),
            IngestOutcome::Rejected(AuthError::WrongTargetKind {
                expected: Kind::Post,
                found: Kind::Reaction
            }),
        ]
    );
    // The same reply to a target not yet known is stored (a late arrival).
    let unknown = post(&b, T0 + 4, "not here yet").id();
    assert!(stored(
        &ingest(&store, vec![reply(&a, T0 + 5, unknown, unknown, "early")])[0]
    ));
    assert_eq!(store.kind_of(&like.id()).unwrap(), Some(Kind::Reaction));
    assert_integrity(&store);
}

#[test]
fn pagination_under_concurrent_inserts_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = key(1);
    let base: Vec<Event> = (0..400)
        .map(|i| post(&a, T0 + i * 10, &format!("base {i} #tema")))
        .collect();
    ingest(&store, base.clone());
    // Posts to delete while paging, chosen across the whole range.
    let doomed: Vec<Event> = base.iter().step_by(37).cloned().collect();
    let writer = {
        let store = store.clone();
        let doomed = doomed.clone();
        std::thread::spawn(move || {
            let a = key(1);
            for i in 0..200u64 {
                // Newer posts, older posts (late arrivals below the cursor), deletes.
                let newer = post(&a, T0 + 1_000_000 + i, &format!("newer {i} #tema"));
                let older = post(&a, T0 + 5 + i * 20, &format!("late {i} #tema"));
                let mut batch = vec![newer, older];
                if let Some(d) = doomed.get(i as usize) {
                    batch.push(sign(
                        &a,
                        UnsignedEvent::new(a.public(), T0 + 2_000_000 + i, Delete::default())
                            .ref_event(Rel::Target, d.id()),
                    ));
                }
                store.ingest_blocking(batch).unwrap();
            }
        })
    };
    let filter = Filter {
        hashtags: vec!["tema".into()],
        limit: 9,
        ..Filter::default()
    };
    let mut seen: Vec<EventId> = Vec::new();
    let mut last: Option<Cursor> = None;
    let mut cursor = None;
    loop {
        let page = store.query(&filter, cursor).unwrap();
        for e in &page.events {
            let c = Cursor {
                created_at: e.created_at(),
                id: e.id(),
            };
            assert!(last.is_none_or(|l| c < l), "pages go strictly backwards");
            last = Some(c);
            seen.push(e.id());
        }
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    writer.join().unwrap();
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice");
    // Every base post that was never deleted was seen.
    for e in &base {
        if !doomed.iter().any(|d| d.id() == e.id()) {
            assert!(unique.contains(&e.id()), "base post {} missing", e.id());
        }
    }
    assert_integrity(&store);
}

#[test]
fn community_roles_bans_and_closed_membership() {
    use kith_protocol::kinds::{Community, ModAction, Moderation, Role, RoleGrant, Visibility};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (owner, modr, member, outsider) = (key(1), key(2), key(3), key(4));
    let community = sign(
        &owner,
        UnsignedEvent::new(
            owner.public(),
            T0,
            Community {
                name: "Huerta comunitaria".into(),
                description: String::new(),
                rules: vec![],
                avatar: None,
                visibility: Visibility::Closed,
                currency: None,
            },
        ),
    );
    let c = community.id();
    let grant = |by: &Keypair, t: u64, to: PublicKey, role: Role| {
        sign(
            by,
            UnsignedEvent::new(by.public(), t, RoleGrant { role })
                .ref_event(Rel::Community, c)
                .ref_identity(Rel::Subject, to),
        )
    };
    let in_community = |k: &Keypair, t: u64, text: &str| {
        sign(
            k,
            UnsignedEvent::new(
                k.public(),
                t,
                Post {
                    content: Content::text(text),
                },
            )
            .ref_event(Rel::Community, c),
        )
    };
    // Everything arrives before the community itself: it all waits.
    let g1 = grant(&owner, T0 + 1, modr.public(), Role::Moderator);
    let out = ingest(&store, vec![g1.clone()]);
    assert_eq!(
        out,
        vec![IngestOutcome::Pending {
            waiting_for: Dependency::Event(c)
        }]
    );
    ingest(&store, vec![community.clone()]);
    assert!(store.contains(&g1.id()).unwrap());
    // A moderator admits a member; the member may post, an outsider may not.
    let g2 = grant(&modr, T0 + 2, member.public(), Role::Member);
    let p1 = in_community(&member, T0 + 3, "¡Hola huerta!");
    let p2 = in_community(&outsider, T0 + 3, "let me in");
    let out = ingest(&store, vec![g2, p1, p2]);
    assert!(stored(&out[0]) && stored(&out[1]));
    assert_eq!(
        out[2],
        IngestOutcome::Rejected(AuthError::CommunityRole { needed: "member" })
    );
    // A moderator cannot make admins.
    assert_eq!(
        ingest(
            &store,
            vec![grant(&modr, T0 + 4, outsider.public(), Role::Admin)]
        ),
        vec![IngestOutcome::Rejected(AuthError::CommunityRole {
            needed: "owner"
        })]
    );
    // The moderator bans the member, who can no longer post.
    let ban = sign(
        &modr,
        UnsignedEvent::new(
            modr.public(),
            T0 + 5,
            Moderation {
                action: ModAction::Ban,
                reason: Some("spam".into()),
            },
        )
        .ref_event(Rel::Community, c)
        .ref_identity(Rel::Subject, member.public()),
    );
    assert!(stored(&ingest(&store, vec![ban])[0]));
    assert_eq!(
        ingest(&store, vec![in_community(&member, T0 + 6, "still here?")]),
        vec![IngestOutcome::Rejected(AuthError::CommunityRole {
            needed: "member (banned)"
        })]
    );
    // Two grants with the same created_at: the greater id wins, whatever the order.
    let a = grant(&owner, T0 + 10, outsider.public(), Role::Member);
    let b = grant(&owner, T0 + 10, outsider.public(), Role::Moderator);
    let winner = if a.id() > b.id() {
        Role::Member
    } else {
        Role::Moderator
    };
    let other_dir = tempfile::tempdir().unwrap();
    let other = open(other_dir.path());
    ingest(&other, vec![community.clone()]);
    ingest(&store, vec![a.clone(), b.clone()]);
    ingest(&other, vec![b, a]);
    // The winner's power shows: only a moderator may ban.
    let probe = |s: &Store| {
        let ban = sign(
            &outsider,
            UnsignedEvent::new(
                outsider.public(),
                T0 + 20,
                Moderation {
                    action: ModAction::Ban,
                    reason: None,
                },
            )
            .ref_event(Rel::Community, c)
            .ref_identity(Rel::Subject, key(9).public()),
        );
        stored(&s.ingest_blocking(vec![ban]).unwrap()[0])
    };
    assert_eq!(probe(&store), winner == Role::Moderator);
    assert_eq!(probe(&other), winner == Role::Moderator);
    assert_integrity(&store);
    assert_integrity(&other);
}

/// A hand-built thread read in each sort, trimmed at a depth, and from a
/// reply as the root of the view, with every order and count known.
#[test]
fn thread_sorts_depth_trimming_and_subthreads() {
    use kith_storage::{ThreadOptions, ThreadPage, ThreadSort};

    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b, c, d) = (key(1), key(2), key(3), key(4));
    let root = post(&a, T0, "root");
    let ra = reply(&b, T0 + 1, root.id(), root.id(), "A");
    let rb = reply(&c, T0 + 2, root.id(), root.id(), "B");
    let rc = reply(&d, T0 + 3, root.id(), root.id(), "C");
    let a1 = reply(&a, T0 + 4, root.id(), ra.id(), "A1");
    let a2 = reply(&c, T0 + 5, root.id(), ra.id(), "A2");
    let a1x = reply(&b, T0 + 6, root.id(), a1.id(), "A1x");
    let a1xy = reply(&a, T0 + 7, root.id(), a1x.id(), "A1xy");
    let c1 = reply(&b, T0 + 8, root.id(), rc.id(), "C1");
    // B has 2 reactions; A and C 1 each (A has more direct replies); A2 1.
    let reactions = vec![
        react(&c, T0 + 20, rb.id(), ReactionType::Like),
        react(&d, T0 + 21, rb.id(), ReactionType::Love),
        react(&a, T0 + 22, rc.id(), ReactionType::Wow),
        react(&d, T0 + 23, ra.id(), ReactionType::Like),
        react(&b, T0 + 24, a2.id(), ReactionType::Haha),
    ];
    let mut all = vec![
        root.clone(),
        ra.clone(),
        rb.clone(),
        rc.clone(),
        a1.clone(),
        a2.clone(),
        a1x.clone(),
        a1xy.clone(),
        c1.clone(),
    ];
    all.extend(reactions);
    ingest(&store, all);

    let view = |id: EventId, sort: ThreadSort, depth: Option<usize>| -> ThreadPage {
        store
            .thread_view(
                &id,
                None,
                50,
                ThreadOptions {
                    sort,
                    max_depth: depth,
                },
            )
            .unwrap()
    };
    // (id, depth, hidden_replies) in reading order.
    let shape = |p: &ThreadPage| -> Vec<(EventId, usize, usize)> {
        p.replies
            .iter()
            .map(|r| (r.event.id(), r.depth, r.hidden_replies))
            .collect()
    };
    let (ra, rb, rc, a1, a2, a1x, a1xy, c1) = (
        ra.id(),
        rb.id(),
        rc.id(),
        a1.id(),
        a2.id(),
        a1x.id(),
        a1xy.id(),
        c1.id(),
    );

    let oldest = view(root.id(), ThreadSort::Oldest, None);
    assert_eq!(
        shape(&oldest),
        vec![
            (ra, 1, 0),
            (a1, 2, 0),
            (a1x, 3, 0),
            (a1xy, 4, 0),
            (a2, 2, 0),
            (rb, 1, 0),
            (rc, 1, 0),
            (c1, 2, 0),
        ]
    );
    assert_eq!((oldest.total, oldest.listed), (8, 8));
    assert_eq!(oldest.root.as_ref().map(Event::id), Some(root.id()));
    let first = &oldest.replies[0];
    assert_eq!((first.replies, first.descendants), (2, 4));
    // The default read is the oldest sort at every depth.
    assert_eq!(
        shape(&store.thread(&root.id(), None, 50).unwrap()),
        shape(&oldest)
    );

    let newest = view(root.id(), ThreadSort::Newest, None);
    assert_eq!(
        shape(&newest),
        vec![
            (rc, 1, 0),
            (c1, 2, 0),
            (rb, 1, 0),
            (ra, 1, 0),
            (a2, 2, 0),
            (a1, 2, 0),
            (a1x, 3, 0),
            (a1xy, 4, 0),
        ]
    );

    let ranked = view(root.id(), ThreadSort::Reactions, None);
    assert_eq!(
        shape(&ranked),
        vec![
            (rb, 1, 0),
            (ra, 1, 0),
            (a2, 2, 0),
            (a1, 2, 0),
            (a1x, 3, 0),
            (a1xy, 4, 0),
            (rc, 1, 0),
            (c1, 2, 0),
        ]
    );

    // Trimmed at depth 2: A1 stands for its 2 replies below.
    let trimmed = view(root.id(), ThreadSort::Oldest, Some(2));
    assert_eq!(
        shape(&trimmed),
        vec![
            (ra, 1, 0),
            (a1, 2, 2),
            (a2, 2, 0),
            (rb, 1, 0),
            (rc, 1, 0),
            (c1, 2, 0),
        ]
    );
    assert_eq!((trimmed.total, trimmed.listed), (8, 6));
    let top = view(root.id(), ThreadSort::Reactions, Some(1));
    assert_eq!(shape(&top), vec![(rb, 1, 0), (ra, 1, 4), (rc, 1, 1)]);

    // From a reply: its subthread, depths counted from it.
    let sub = view(ra, ThreadSort::Oldest, Some(1));
    assert_eq!(sub.root.as_ref().map(Event::id), Some(ra));
    assert_eq!(shape(&sub), vec![(a1, 1, 2), (a2, 1, 0)]);
    assert_eq!((sub.total, sub.listed), (4, 2));
    let deeper = view(a1, ThreadSort::Oldest, None);
    assert_eq!(shape(&deeper), vec![(a1x, 1, 0), (a1xy, 2, 0)]);
    let leaf = view(a1xy, ThreadSort::Oldest, None);
    assert_eq!((leaf.total, leaf.replies.len()), (0, 0));
    assert_eq!(leaf.root.as_ref().map(Event::id), Some(a1xy));

    // Pages under the newest sort continue after the last reply read, and
    // a reply arriving between pages does not shift them.
    let page = |after: Option<EventId>| {
        store
            .thread_view(
                &root.id(),
                after,
                3,
                ThreadOptions {
                    sort: ThreadSort::Newest,
                    max_depth: None,
                },
            )
            .unwrap()
    };
    let p1 = page(None);
    assert_eq!(
        shape(&p1).iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![rc, c1, rb]
    );
    let late = reply(&c, T0 + 9, root.id(), root.id(), "late");
    ingest(&store, vec![late]);
    let p2 = page(p1.next);
    assert_eq!(
        shape(&p2).iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![ra, a2, a1]
    );
    let p3 = page(p2.next);
    assert_eq!(
        shape(&p3).iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![a1x, a1xy]
    );
    assert_eq!(p3.next, None);
    assert_eq!(p3.total, 9);
    assert_integrity(&store);
}
