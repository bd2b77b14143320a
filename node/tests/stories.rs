//! Stories on the node's clock, under tokio's paused time: the tray shows a
//! story until its `expires_at` and not a millisecond after; the expiry task
//! then sweeps it (and the view receipts, which expire with it) out of the
//! store, so it is gone from reads, the acceptance log and sync too.

use std::time::Duration;

use kith_node::protocol::kinds::{Content, Post, Story};
use kith_node::protocol::{Event, Keypair, Payload, UnsignedEvent};
use kith_node::storage::{IngestOutcome, Store, StoreConfig};
use kith_node::stories;

const MINUTE: u64 = 60_000;

fn key(n: u8) -> Keypair {
    Keypair::from_seed(&[n; 32]).expect("seed")
}

fn story(k: &Keypair, at: u64, text: &str, lasts: u64) -> Event {
    UnsignedEvent::new(
        k.public(),
        at,
        Story {
            text: text.into(),
            media: None,
            expires_at: at + lasts,
        },
    )
    .sign(k)
    .expect("signs")
}

fn open(dir: &std::path::Path, clock: fn() -> u64) -> Store {
    let mut config = StoreConfig::new(dir);
    // The node sweeps on its own clock (stories::run_expiry), not the store's thread.
    config.expiry_interval = None;
    config.search = false;
    config.clock = clock;
    Store::open(config).expect("store")
}

/// The wall clock alone. `kith_node::now_ms` carries the paused test's
/// advances to every thread of this process (its high-water mark), so a test
/// running beside it on real time must not read it: its stories would seem
/// a day old.
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn ingest(store: &Store, events: Vec<Event>) {
    for outcome in store.ingest(events).await.expect("ingest") {
        assert!(
            matches!(outcome, IngestOutcome::Stored { .. }),
            "{outcome:?}"
        );
    }
}

/// Waits (on tokio's clock, which paused time moves for us) for `check`.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting until {what}");
}

#[tokio::test(start_paused = true)]
async fn stories_expire_on_the_nodes_clock_with_their_receipts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), kith_node::now_ms);
    let (ana, ben, cat) = (key(1), key(2), key(3));
    let t0 = kith_node::now_ms();
    let short = story(&ana, t0, "una hora", 60 * MINUTE);
    let long = story(&ben, t0, "todo el día", 24 * 60 * MINUTE);
    let keeps = UnsignedEvent::new(
        ana.public(),
        t0,
        Post {
            content: Content::text("esto se queda"),
        },
    )
    .sign(&ana)
    .expect("signs");
    let receipt = stories::receipt(cat.public(), &short, t0 + 1)
        .expect("a story")
        .sign(&cat)
        .expect("signs");
    ingest(
        &store,
        vec![short.clone(), long.clone(), keeps.clone(), receipt.clone()],
    )
    .await;
    let sweeper = tokio::spawn(stories::run_expiry(store.clone(), Duration::from_secs(30)));
    let reader = store.reader();
    let authors = [ana.public(), ben.public()];
    let tray_authors = || {
        stories::tray(reader, &authors, |_| false, kith_node::now_ms())
            .expect("tray")
            .into_iter()
            .map(|t| t.author)
            .collect::<Vec<_>>()
    };
    assert_eq!(tray_authors().len(), 2);
    assert_eq!(
        stories::viewers(reader, &short.id(), kith_node::now_ms()).expect("viewers"),
        vec![(cat.public(), t0 + 1)]
    );

    // A minute before it ends, Ana's story is still there.
    tokio::time::advance(Duration::from_millis(59 * MINUTE)).await;
    assert_eq!(tray_authors().len(), 2);
    assert!(
        stories::live_story(reader, &short.id(), kith_node::now_ms())
            .expect("read")
            .is_some()
    );

    // At its expires_at it is gone from every read, before any sweep.
    let left = (t0 + 60 * MINUTE).saturating_sub(kith_node::now_ms());
    tokio::time::advance(Duration::from_millis(left)).await;
    assert!(kith_node::now_ms() >= t0 + 60 * MINUTE);
    assert_eq!(tray_authors(), vec![ben.public()]);
    assert!(
        stories::live_story(reader, &short.id(), kith_node::now_ms())
            .expect("read")
            .is_none()
    );
    assert!(stories::expired(&short, kith_node::now_ms()));
    assert!(
        stories::viewers(reader, &short.id(), kith_node::now_ms())
            .expect("viewers")
            .is_empty()
    );

    // The sweep (every 30 s on tokio's clock) removes it and its receipt.
    until("the sweep removes the story and its receipt", || {
        reader.get(&short.id()).expect("read").is_none()
            && reader.get(&receipt.id()).expect("read").is_none()
    })
    .await;
    let log = reader.log_after(0, 100).expect("log");
    let logged: Vec<_> = log.iter().map(|s| s.event.id()).collect();
    assert!(
        !logged.contains(&short.id()),
        "expired story still in the log"
    );
    assert!(
        !logged.contains(&receipt.id()),
        "expired receipt still in the log"
    );
    assert!(logged.contains(&long.id()) && logged.contains(&keeps.id()));
    assert!(
        reader.get(&keeps.id()).expect("read").is_some(),
        "a post does not expire"
    );

    // A day later Ben's story is gone as well; the post stays.
    tokio::time::advance(Duration::from_millis(24 * 60 * MINUTE)).await;
    until("the sweep removes the day-long story", || {
        reader.get(&long.id()).expect("read").is_none()
    })
    .await;
    assert!(tray_authors().is_empty());
    assert!(reader.get(&keeps.id()).expect("read").is_some());

    // An expired story that arrives late is refused, not stored.
    let late = story(&ana, t0, "tarde", 60 * MINUTE);
    assert_eq!(
        store.ingest(vec![late]).await.expect("ingest"),
        vec![IngestOutcome::Expired]
    );
    sweeper.abort();
}

#[test]
fn a_highlight_keeps_text_stories_and_refuses_others_stories() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path(), wall_ms);
        let (ana, ben) = (key(1), key(2));
        let t0 = wall_ms();
        let mine = story(&ana, t0, "primera", 60 * MINUTE);
        let theirs = story(&ben, t0, "ajena", 60 * MINUTE);
        ingest(&store, vec![mine.clone(), theirs.clone()]).await;
        let reader = store.reader();
        let h = stories::highlight(reader, ana.public(), "Viaje", &[mine.id()], t0 + 1)
            .expect("highlight");
        let Payload::Highlight(payload) = &h.payload else {
            panic!("not a highlight");
        };
        assert_eq!(payload.items.len(), 1);
        assert_eq!(payload.items[0].text, "primera");
        let signed = h.sign(&ana).expect("valid highlight");
        ingest(&store, vec![signed.clone()]).await;
        assert_eq!(
            stories::highlights(reader, &ana.public())
                .expect("highlights")
                .iter()
                .map(Event::id)
                .collect::<Vec<_>>(),
            vec![signed.id()]
        );
        assert!(matches!(
            stories::highlight(reader, ana.public(), "Viaje", &[theirs.id()], t0 + 2),
            Err(stories::HighlightError::NotYours(_))
        ));
        assert!(matches!(
            stories::highlight(reader, ana.public(), "Nada", &[], t0 + 2),
            Err(stories::HighlightError::Count)
        ));
    });
}
