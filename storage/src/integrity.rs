//! The integrity check: every index, counter and piece of derived state must
//! be exactly what replaying the stored events, in acceptance order, through
//! the same apply code over an empty store produces.

use std::collections::BTreeMap;

use kith_protocol::Event;

use crate::apply::Applier;
use crate::error::StoreError;
use crate::keys::{self, u64_at};
use crate::store::Store;
use crate::tx::{Empty, Tx};

/// What [`Store::check_integrity`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Events in the store.
    pub events: u64,
    /// Derived rows the events call for that the store lacks (table and key in hex).
    pub missing: Vec<String>,
    /// Derived rows the store has that no event explains.
    pub unexpected: Vec<String>,
    /// Rows present in both with different values.
    pub differing: Vec<String>,
    /// Events without a log entry, log entries without an event, or events
    /// that a replay would not accept.
    pub log: Vec<String>,
}

impl IntegrityReport {
    /// Whether nothing was found.
    pub fn is_ok(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.differing.is_empty()
            && self.log.is_empty()
    }
}

fn show(key: &[u8]) -> String {
    let mut s = format!("{}:", key[0] as char);
    for b in &key[1..] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl Store {
    /// Walks the store and checks that every index and counter agrees with
    /// the events. Reads a consistent picture only while nothing is written:
    /// meant for tests, maintenance and small stores (the replay is held in memory).
    pub fn check_integrity(&self) -> Result<IntegrityReport, StoreError> {
        self.flush_blocking()?;
        let tree = &self.reader().tree;
        let mut report = IntegrityReport::default();
        let mut log: Vec<(u64, Event)> = Vec::new();
        for row in tree.scan_prefix([keys::LOG]) {
            let (k, v) = row?;
            let seq = u64_at(&k, 1).ok_or(StoreError::corrupt(keys::LOG))?;
            let id = keys::id_at(&v, 0).ok_or(StoreError::corrupt(keys::LOG))?;
            match self.get_with_seq(&id)? {
                Some(s) if s.seq == seq => log.push((seq, s.event)),
                Some(s) => report
                    .log
                    .push(format!("log {seq} names {id}, stored with seq {}", s.seq)),
                None => report
                    .log
                    .push(format!("log {seq} names {id}, which is not stored")),
            }
        }
        for row in tree.scan_prefix([keys::EVENT]) {
            let (k, _) = row?;
            report.events += 1;
            let id = keys::id_at(&k, 1).ok_or(StoreError::corrupt(keys::EVENT))?;
            if !log.iter().any(|(_, e)| e.id() == id) {
                report.log.push(format!("event {id} has no log entry"));
            }
        }
        let empty = Empty;
        let mut tx = Tx::new(&empty);
        {
            let mut applier = Applier::new(&mut tx, 1, None, u64::MAX)?;
            for (seq, event) in log {
                let id = event.id();
                match applier.ingest(event)? {
                    crate::IngestOutcome::Stored { .. } => {}
                    other => report
                        .log
                        .push(format!("event {id} (seq {seq}) replays as {other:?}")),
                }
            }
            applier.finish();
        }
        let replayed = tx.into_rows();
        for &table in keys::DERIVED {
            let expected: BTreeMap<&Vec<u8>, &Vec<u8>> =
                replayed.range(vec![table]..vec![table + 1]).collect();
            let mut actual = BTreeMap::new();
            for row in tree.scan_prefix([table]) {
                let (k, v) = row?;
                actual.insert(k.to_vec(), v.to_vec());
            }
            for (k, v) in &expected {
                match actual.get(*k) {
                    None => report.missing.push(show(k)),
                    Some(a) if a != *v => report.differing.push(show(k)),
                    Some(_) => {}
                }
            }
            for k in actual.keys() {
                if !expected.contains_key(k) {
                    report.unexpected.push(show(k));
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use kith_protocol::kinds::{Content, Post, Reaction, ReactionType};
    use kith_protocol::{Keypair, Rel, UnsignedEvent};

    use crate::keys::{self, EventCounter, Key};
    use crate::{Store, StoreConfig};

    /// The check must see each kind of damage: a wrong counter, a lost index
    /// row, a row no event explains, and an event missing from the log.
    #[test]
    fn integrity_check_finds_damage() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = StoreConfig::new(dir.path());
        config.search = false;
        let store = Store::open(config).unwrap();
        let k = Keypair::from_seed(&[7; 32]).unwrap();
        let post = UnsignedEvent::new(
            k.public(),
            1_767_225_600_000,
            Post {
                content: Content::text("#hola"),
            },
        )
        .sign(&k)
        .unwrap();
        let like = UnsignedEvent::new(
            k.public(),
            1_767_225_600_001,
            Reaction {
                reaction: ReactionType::Like,
            },
        )
        .ref_event(Rel::Target, post.id())
        .sign(&k)
        .unwrap();
        store.ingest_blocking(vec![post.clone(), like]).unwrap();
        assert!(store.check_integrity().unwrap().is_ok());
        let tree = &store.reader().tree;

        let counter = Key::new(keys::COUNT)
            .id(&post.id())
            .u8(EventCounter::Reaction as u8)
            .build();
        tree.insert(&counter, 5u64.to_be_bytes().to_vec()).unwrap();
        let r = store.check_integrity().unwrap();
        assert_eq!(r.differing.len(), 1, "{r:?}");

        tree.insert(&counter, 1u64.to_be_bytes().to_vec()).unwrap();
        let tag = Key::new(keys::HASHTAG)
            .bytes(b"hola")
            .u8(0)
            .at(post.created_at(), &post.id())
            .build();
        let author = tree.remove(&tag).unwrap().unwrap();
        let r = store.check_integrity().unwrap();
        assert_eq!(r.missing.len(), 1, "{r:?}");

        tree.insert(&tag, author).unwrap();
        let stray = Key::new(keys::HASHTAG)
            .bytes(b"ghost")
            .u8(0)
            .at(1, &post.id())
            .build();
        tree.insert(&stray, k.public().as_bytes().to_vec()).unwrap();
        let r = store.check_integrity().unwrap();
        assert_eq!(r.unexpected.len(), 1, "{r:?}");

        tree.remove(&stray).unwrap();
        tree.remove(Key::new(keys::LOG).u64(1).build()).unwrap();
        let r = store.check_integrity().unwrap();
        assert!(!r.log.is_empty(), "{r:?}");
    }
}
