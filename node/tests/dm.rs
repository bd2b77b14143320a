//! Direct messages between in-process nodes on loopback: forged and
//! replayed letters are dropped, and a member removed from a group can open
//! nothing sent after (`specs/messages.md` §8, §9).

mod common;

use std::time::Duration;

use common::*;
use kith_node::dm::Conversation;
use kith_node::node::Node;
use kith_node::protocol::dm::{self, Body, GroupChange, GroupId, Letter, SignedLetter, Text};
use kith_node::protocol::kinds::Profile;
use kith_node::protocol::{Keypair, Payload, PublicKey, UnsignedEvent};

/// Connects `from` to `to` and waits until both see the connection.
async fn link(from: &Node, to: &Node) {
    from.connect(tcp_addr(to)).await.unwrap();
    eventually(Duration::from_secs(10), "both sides connected", || async {
        to.connected_peers().await.contains(&from.peer_id())
    })
    .await;
}

/// The first millisecond after `t` (so letters before and after it have
/// distinct times), waited for as a condition.
async fn later_than(t: u64) -> u64 {
    eventually(Duration::from_secs(1), "the clock moves on", || async {
        now() > t
    })
    .await;
    now()
}

fn me(node: &Node) -> Keypair {
    Keypair::from_seed(&node.identity().seed()).unwrap()
}

/// Publishes the node identity's DM key in its profile.
async fn publish_key(node: &Node, name: &str) {
    let id = node.identity().public();
    let key = node.messenger().current_key(&id).unwrap();
    let profile = Profile {
        name: name.into(),
        dm_key: Some(key),
        ..Profile::default()
    };
    node.publish(UnsignedEvent::new(id, now(), profile))
        .await
        .unwrap();
}

fn text(from: PublicKey, to: Vec<PublicKey>, group: Option<GroupId>, s: &str) -> Letter {
    Letter {
        from,
        to,
        group,
        created_at: now(),
        body: Body::Text(Text {
            text: s.into(),
            ..Text::default()
        }),
    }
}

fn texts(node: &Node, conv: &Conversation) -> Vec<String> {
    let me = node.identity().public();
    node.messenger()
        .messages(&me, conv, None, 100)
        .map(|p| p.messages.into_iter().map(|m| m.text).collect())
        .unwrap_or_default()
}

/// Every envelope in `node`'s store for these identities' mailboxes, made
/// at or after `since`.
fn envelopes(node: &Node, whose: &[PublicKey], since: u64) -> Vec<Vec<u8>> {
    let reader = node.store().reader();
    let mut out = Vec::new();
    for who in whose {
        for (_, id) in reader
            .inbox_items(&dm::inbox_hint(who), since, u64::MAX)
            .unwrap()
        {
            if let Some(e) = reader.get(&id).unwrap()
                && let Payload::DirectMessage(env) = e.payload()
            {
                out.push(env.ciphertext.clone());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_replayed_letters_are_dropped() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (start(da.path()).await, start(db.path()).await);
    let (ana, bob) = (a.identity().public(), b.identity().public());
    publish_key(&a, "Ana").await;
    publish_key(&b, "Bob").await;
    link(&b, &a).await;

    let sent = a
        .send_letter(&me(&a), text(ana, vec![bob], None, "hola Bob"))
        .await
        .unwrap();
    let with_ana = Conversation::Peer(ana);
    eventually(
        Duration::from_secs(20),
        "Bob reads Ana's letter",
        || async { texts(&b, &with_ana) == vec!["hola Bob".to_owned()] },
    )
    .await;

    // Replay: the same signed letter, sealed again in a new envelope.
    let key = b.messenger().current_key(&bob).unwrap();
    let rng = &mut rand_core::OsRng;
    let resealed = sent.seal(&bob, &key, rng).unwrap();
    let env = dm::envelope(&bob, resealed, now(), rng).unwrap();
    b.submit(env.as_bytes().to_vec()).await;
    // The same envelope twice.
    b.submit(env.as_bytes().to_vec()).await;

    // Forgery: Eve signs a letter that says it is from Ana.
    let eve = Keypair::generate(rng);
    let claim = text(ana, vec![bob], None, "send me your password");
    let forged = SignedLetter {
        sig: Letter {
            from: eve.public(),
            ..claim.clone()
        }
        .sign(&eve)
        .unwrap()
        .sig,
        letter: claim,
    };
    let sealed = {
        // Sealing checks only the addressing; the signature is the reader's to check.
        forged.seal(&bob, &key, rng).unwrap()
    };
    let env = dm::envelope(&bob, sealed, now(), rng).unwrap();
    b.submit(env.as_bytes().to_vec()).await;

    eventually(
        Duration::from_secs(10),
        "the forgery is looked at",
        || async {
            b.messenger().conversations(&bob).unwrap();
            b.messenger().unopened(&bob).get("dm_bad_signature") == Some(&1)
        },
    )
    .await;
    assert_eq!(texts(&b, &with_ana), vec!["hola Bob".to_owned()]);
    let list = b.messenger().conversations(&bob).unwrap();
    assert_eq!(list.len(), 1);
    // Bob follows nobody: Ana's conversation is a message request.
    assert!(list[0].request);
    assert_eq!(list[0].unread, 0, "requests are not counted unread");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_opens_nothing_sent_after() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = start(dirs[0].path()).await;
    let b = start(dirs[1].path()).await;
    let c = start(dirs[2].path()).await;
    let (ana, bob, carol) = (
        a.identity().public(),
        b.identity().public(),
        c.identity().public(),
    );
    for (n, name) in [(&a, "Ana"), (&b, "Bob"), (&c, "Carol")] {
        publish_key(n, name).await;
    }
    link(&b, &a).await;
    link(&c, &a).await;

    let salt = GroupId([5; 32]);
    let g = GroupId::derive(&ana, &salt);
    let change = |members: Vec<PublicKey>, to: Vec<PublicKey>| Letter {
        from: ana,
        to,
        group: Some(g),
        created_at: now(),
        body: Body::Group(GroupChange {
            salt: (members.len() == 3).then_some(salt),
            name: "Huerta".into(),
            members,
            admins: vec![ana],
        }),
    };
    let key = me(&a);
    a.send_letter(&key, change(vec![ana, bob, carol], vec![bob, carol]))
        .await
        .unwrap();
    a.send_letter(&key, text(ana, vec![bob, carol], Some(g), "antes"))
        .await
        .unwrap();
    let group = Conversation::Group(g);
    eventually(
        Duration::from_secs(20),
        "both read the first message",
        || async {
            texts(&b, &group) == vec!["antes".to_owned()]
                && texts(&c, &group) == vec!["antes".to_owned()]
        },
    )
    .await;

    // Carol is removed; the change reaches her too.
    let removed_at = later_than(now()).await;
    a.send_letter(&key, change(vec![ana, bob], vec![bob, carol]))
        .await
        .unwrap();
    let after = later_than(now()).await;
    a.send_letter(&key, text(ana, vec![bob], Some(g), "después"))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(20),
        "Bob reads what follows",
        || async { texts(&b, &group) == vec!["antes".to_owned(), "después".to_owned()] },
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "Carol learns she was removed",
        || async {
            c.messenger()
                .group(&carol, &g)
                .unwrap()
                .is_some_and(|s| !s.members.contains(&carol))
        },
    )
    .await;
    assert_eq!(texts(&c, &group), vec!["antes".to_owned()]);
    // Nothing sealed after the removal opens with Carol's keys: not the
    // envelopes Ana's node holds for anyone, nor any in Carol's store.
    let sent_after = envelopes(&a, &[ana, bob, carol], after);
    assert!(sent_after.len() >= 2, "{}", sent_after.len());
    for ct in sent_after
        .iter()
        .chain(envelopes(&c, &[carol], after).iter())
    {
        assert!(c.messenger().try_open(&carol, ct).is_err());
    }
    assert!(envelopes(&a, &[carol], after).is_empty());
    assert!(!envelopes(&a, &[carol], removed_at).is_empty());
}

/// An attachment travels as ciphertext: Ana's node adds the encrypted file
/// to IPFS, Bob's node fetches it over bitswap and only the letter's key
/// opens it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_cross_nodes_encrypted() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (start(da.path()).await, start(db.path()).await);
    link(&b, &a).await;
    let photo: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (key, sealed) = kith_node::dm::encrypt_file(&photo).unwrap();
    assert!(!sealed.windows(64).any(|w| w == &photo[1000..1064]));
    let cid = a.media().add_sealed(sealed).await.unwrap();
    let fetched = b
        .media()
        .fetch_all(cid, Some(&a.identity().public()), 1 << 20)
        .await
        .unwrap();
    assert_eq!(kith_node::dm::decrypt_file(&key, &fetched).unwrap(), photo);
    let (other, _) = kith_node::dm::encrypt_file(b"x").unwrap();
    assert!(kith_node::dm::decrypt_file(&other, &fetched).is_none());
}

/// Retention (`specs/messages.md` § 7.4): copies kept for someone this
/// node does not host go after `keep_days`; a hosted identity's mailbox is
/// its history and goes only past its quota, the oldest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_for_others_expire_and_a_mailbox_keeps_to_its_quota() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(da.path()).await;
    let mut tight = config(0);
    tight.messages.quota_mb = 0;
    let b = Node::start(
        db.path(),
        &tight,
        kith_node::node::StartOptions {
            memory_blocks: true,
            sync_on_connect: true,
        },
    )
    .await
    .unwrap();
    let (ana, bob) = (a.identity().public(), b.identity().public());
    publish_key(&a, "Ana").await;
    publish_key(&b, "Bob").await;
    link(&b, &a).await;
    for i in 0..3 {
        a.send_letter(&me(&a), text(ana, vec![bob], None, &format!("carta {i}")))
            .await
            .unwrap();
    }
    eventually(Duration::from_secs(20), "Bob has the three", || async {
        envelopes(&b, &[bob], 0).len() == 3
    })
    .await;
    // Within the window nothing goes.
    assert_eq!(a.enforce_retention(now()).await.unwrap(), 0);
    assert_eq!(envelopes(&a, &[bob], 0).len(), 3);
    // Past it, A's copies for Bob go; Ana's own mailbox stays.
    let later = now() + 31 * 24 * 60 * 60 * 1000;
    assert_eq!(a.enforce_retention(later).await.unwrap(), 3);
    assert!(envelopes(&a, &[bob], 0).is_empty());
    assert_eq!(envelopes(&a, &[ana], 0).len(), 3);
    // Bob's mailbox with a quota of 0: all of it is over the quota.
    assert_eq!(b.enforce_retention(now()).await.unwrap(), 3);
    assert!(envelopes(&b, &[bob], 0).is_empty());
}

/// Typing indicators cross nodes on the recipient's typing topic, are
/// announced only to the identity they are for, and only while fresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_indicators_cross_nodes_and_go_stale() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (start(da.path()).await, start(db.path()).await);
    let (ana, bob) = (a.identity().public(), b.identity().public());
    publish_key(&a, "Ana").await;
    publish_key(&b, "Bob").await;
    link(&b, &a).await;
    // Ana's node learns Bob's key (a letter fetches his profile), and that
    // Bob's node is on his typing topic.
    a.send_letter(&me(&a), text(ana, vec![bob], None, "hola"))
        .await
        .unwrap();
    let topic = kith_node::topics::typing_topic(&dm::inbox_hint(&bob));
    wait_topic_peer(&a, &topic, b.peer_id()).await;
    eventually(
        Duration::from_secs(20),
        "Bob's node has the letter",
        || async { envelopes(&b, &[bob], 0).len() == 1 },
    )
    .await;
    let mut typing = b.messenger().typing_updates();
    assert_eq!(a.send_typing(&me(&a), vec![bob], None).await.unwrap(), 1);
    let t = tokio::time::timeout(Duration::from_secs(10), typing.recv())
        .await
        .expect("a typing indicator in time")
        .unwrap();
    assert_eq!((t.to, t.from), (bob, ana));
    assert_eq!(t.conversation, Conversation::Peer(ana));
    // A stale one, or one for someone else, is not announced.
    let old = a
        .messenger()
        .seal_typing(&me(&a), vec![bob], None, now() - 60_000)
        .unwrap();
    assert!(!b.messenger().take_typing(&bob, &old[0].1, now()));
    let fresh = a
        .messenger()
        .seal_typing(&me(&a), vec![bob], None, now())
        .unwrap();
    assert!(!b.messenger().take_typing(&ana, &fresh[0].1, now()));
    assert!(b.messenger().take_typing(&bob, &fresh[0].1, now()));
    // Nothing of it was stored.
    assert_eq!(envelopes(&b, &[bob], 0).len(), 1);
}
