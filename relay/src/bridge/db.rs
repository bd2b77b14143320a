//! The bridge's own database (`<data dir>/nostr-bridge`, sled): linked
//! keys, each person's relays and followed Nostr keys, the map between
//! Kith and Nostr ids, the outbox with per-relay delivery state, where
//! each inbound note was seen, and what Nostr keys said about themselves.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `keys` | Kith identity (32) | Nostr secret key (32) ‖ link proof (64) |
//! | `relays` | Kith identity | JSON list of the person's relay URLs |
//! | `follows` | Kith identity ‖ Nostr key (32) | empty |
//! | `map` | `k` ‖ Kith id digest / `n` ‖ Nostr id | the other id (32) |
//! | `outbox` | Nostr id | JSON [`Outgoing`] |
//! | `stats` | Kith identity ‖ relay URL | JSON [`Counters`] |
//! | `seen` | Nostr id | JSON list of relay URLs it came from |
//! | `names` | Nostr key | the name in its newest kind 0 |
//! | `links` | Nostr key | the Kith identity its kind 0 proves |
//! | `meta` | `watermark`, `bridged:` ‖ identity | u64 big-endian |

use std::collections::BTreeMap;
use std::path::Path;

use kith_node::bridge::BridgeError;
use kith_node::protocol::PublicKey as KithKey;
use serde::{Deserialize, Serialize};

fn storage(e: impl std::fmt::Display) -> BridgeError {
    BridgeError::Storage(e.to_string())
}

/// One relay's delivery of one outgoing note.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Delivery {
    /// Tries so far.
    pub(crate) attempts: u32,
    /// Not before (ms).
    pub(crate) next_at: u64,
    /// The last refusal or error.
    pub(crate) error: Option<String>,
}

impl Delivery {
    /// A first try, due at `now` (ms).
    pub(crate) fn due(now: u64) -> Delivery {
        Delivery {
            attempts: 0,
            next_at: now,
            error: None,
        }
    }
}

/// A signed Nostr event waiting for some relays to take it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Outgoing {
    /// The event's JSON.
    pub(crate) event: String,
    /// The Kith identity it was sent for (32 bytes, hex).
    pub(crate) person: String,
    /// Relays still to take it.
    pub(crate) relays: BTreeMap<String, Delivery>,
}

/// One person's deliveries to one relay.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Counters {
    pub(crate) sent: u64,
    pub(crate) failed: u64,
    pub(crate) last_error: Option<String>,
    pub(crate) last_sent_at: Option<u64>,
}

/// A linked Nostr secret key and the identity's link proof.
pub(crate) type LinkedSecret = ([u8; 32], [u8; 64]);

#[derive(Debug)]
pub(crate) struct BridgeDb {
    db: sled::Db,
    keys: sled::Tree,
    relays: sled::Tree,
    follows: sled::Tree,
    map: sled::Tree,
    outbox: sled::Tree,
    stats: sled::Tree,
    seen: sled::Tree,
    names: sled::Tree,
    links: sled::Tree,
    meta: sled::Tree,
}

const WATERMARK: &[u8] = b"watermark";

impl BridgeDb {
    pub(crate) fn open(dir: &Path) -> Result<BridgeDb, BridgeError> {
        let db = kith_node::storage::open_sled(sled::Config::new().cache_capacity(16 << 20), dir)
            .map_err(storage)?;
        let tree = |name: &str| db.open_tree(name).map_err(storage);
        Ok(BridgeDb {
            keys: tree("keys")?,
            relays: tree("relays")?,
            follows: tree("follows")?,
            map: tree("map")?,
            outbox: tree("outbox")?,
            stats: tree("stats")?,
            seen: tree("seen")?,
            names: tree("names")?,
            links: tree("links")?,
            meta: tree("meta")?,
            db,
        })
    }

    pub(crate) fn flush(&self) -> Result<(), BridgeError> {
        self.db.flush().map(|_| ()).map_err(storage)
    }

    // ---------------------------------------------------------------- keys

    /// The linked secret key and proof of an identity.
    pub(crate) fn key(&self, who: &KithKey) -> Result<Option<LinkedSecret>, BridgeError> {
        let Some(v) = self.keys.get(who.as_bytes()).map_err(storage)? else {
            return Ok(None);
        };
        if v.len() != 96 {
            return Err(BridgeError::Storage("a linked key row is damaged".into()));
        }
        let mut secret = [0u8; 32];
        let mut proof = [0u8; 64];
        secret.copy_from_slice(&v[..32]);
        proof.copy_from_slice(&v[32..]);
        Ok(Some((secret, proof)))
    }

    pub(crate) fn set_key(
        &self,
        who: &KithKey,
        secret: &[u8; 32],
        proof: &[u8; 64],
    ) -> Result<(), BridgeError> {
        let mut v = Vec::with_capacity(96);
        v.extend_from_slice(secret);
        v.extend_from_slice(proof);
        self.keys.insert(who.as_bytes(), v).map_err(storage)?;
        self.keys.flush().map_err(storage)?;
        Ok(())
    }

    /// Every identity with a linked key here.
    pub(crate) fn linked(&self) -> Result<Vec<KithKey>, BridgeError> {
        self.keys
            .iter()
            .keys()
            .filter_map(|k| match k {
                Ok(k) => KithKey::from_bytes(k.as_ref().try_into().ok()?)
                    .ok()
                    .map(Ok),
                Err(e) => Some(Err(storage(e))),
            })
            .collect()
    }

    // ---------------------------------------------------------------- relays

    pub(crate) fn relays(&self, who: &KithKey) -> Result<Vec<String>, BridgeError> {
        match self.relays.get(who.as_bytes()).map_err(storage)? {
            Some(v) => serde_json::from_slice(&v).map_err(storage),
            None => Ok(Vec::new()),
        }
    }

    pub(crate) fn set_relays(&self, who: &KithKey, relays: &[String]) -> Result<(), BridgeError> {
        let v = serde_json::to_vec(relays).map_err(storage)?;
        self.relays.insert(who.as_bytes(), v).map_err(storage)?;
        Ok(())
    }

    /// Every person's relays.
    pub(crate) fn all_relays(&self) -> Result<Vec<String>, BridgeError> {
        let mut out = Vec::new();
        for row in self.relays.iter().values() {
            let list: Vec<String> =
                serde_json::from_slice(&row.map_err(storage)?).map_err(storage)?;
            out.extend(list);
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- follows

    pub(crate) fn follows(&self, who: &KithKey) -> Result<Vec<[u8; 32]>, BridgeError> {
        self.follows
            .scan_prefix(who.as_bytes())
            .keys()
            .map(|k| {
                let k = k.map_err(storage)?;
                k.get(32..64)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| BridgeError::Storage("a follow row is damaged".into()))
            })
            .collect()
    }

    pub(crate) fn set_follow(
        &self,
        who: &KithKey,
        key: &[u8; 32],
        on: bool,
    ) -> Result<bool, BridgeError> {
        let mut row = who.as_bytes().to_vec();
        row.extend_from_slice(key);
        let before = if on {
            self.follows.insert(row, &[] as &[u8])
        } else {
            self.follows.remove(row)
        }
        .map_err(storage)?;
        Ok(before.is_some())
    }

    /// Every Nostr key anyone here follows.
    pub(crate) fn all_follows(&self) -> Result<Vec<[u8; 32]>, BridgeError> {
        let mut out: Vec<[u8; 32]> = Vec::new();
        for k in self.follows.iter().keys() {
            let k = k.map_err(storage)?;
            if let Some(key) = k.get(32..64).and_then(|s| s.try_into().ok()) {
                out.push(key);
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    // ---------------------------------------------------------------- ids

    pub(crate) fn nostr_of(&self, kith: &[u8; 32]) -> Result<Option<[u8; 32]>, BridgeError> {
        self.lookup(b'k', kith)
    }

    pub(crate) fn kith_of(&self, nostr: &[u8; 32]) -> Result<Option<[u8; 32]>, BridgeError> {
        self.lookup(b'n', nostr)
    }

    fn lookup(&self, side: u8, id: &[u8; 32]) -> Result<Option<[u8; 32]>, BridgeError> {
        let mut k = vec![side];
        k.extend_from_slice(id);
        Ok(self
            .map
            .get(k)
            .map_err(storage)?
            .and_then(|v| v.as_ref().try_into().ok()))
    }

    /// Records that a Kith event is the Nostr event `nostr`, both ways.
    pub(crate) fn map_ids(&self, kith: &[u8; 32], nostr: &[u8; 32]) -> Result<(), BridgeError> {
        let mut batch = sled::Batch::default();
        let mut k = vec![b'k'];
        k.extend_from_slice(kith);
        batch.insert(k, nostr.to_vec());
        let mut n = vec![b'n'];
        n.extend_from_slice(nostr);
        batch.insert(n, kith.to_vec());
        self.map.apply_batch(batch).map_err(storage)
    }

    // ---------------------------------------------------------------- outbox

    pub(crate) fn put_outgoing(&self, id: &[u8; 32], o: &Outgoing) -> Result<(), BridgeError> {
        let v = serde_json::to_vec(o).map_err(storage)?;
        self.outbox.insert(id, v).map_err(storage)?;
        Ok(())
    }

    pub(crate) fn drop_outgoing(&self, id: &[u8; 32]) -> Result<(), BridgeError> {
        self.outbox.remove(id).map_err(storage)?;
        Ok(())
    }

    pub(crate) fn outgoing_one(&self, id: &[u8; 32]) -> Result<Option<Outgoing>, BridgeError> {
        match self.outbox.get(id).map_err(storage)? {
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(storage),
            None => Ok(None),
        }
    }

    /// Every outgoing note, by id.
    pub(crate) fn outgoing(&self) -> Result<Vec<([u8; 32], Outgoing)>, BridgeError> {
        let mut out = Vec::new();
        for row in self.outbox.iter() {
            let (k, v) = row.map_err(storage)?;
            let Ok(id) = <[u8; 32]>::try_from(k.as_ref()) else {
                continue;
            };
            match serde_json::from_slice(&v) {
                Ok(o) => out.push((id, o)),
                Err(e) => tracing::warn!(error = %e, "dropping a damaged outbox row"),
            }
        }
        Ok(out)
    }

    /// How many of one person's outgoing notes wait for each relay (one
    /// read of the outbox for all of them).
    pub(crate) fn pending_by_relay(
        &self,
        person_hex: &str,
    ) -> Result<BTreeMap<String, u64>, BridgeError> {
        let mut out = BTreeMap::new();
        for (_, o) in self.outgoing()? {
            if o.person == person_hex {
                for url in o.relays.into_keys() {
                    *out.entry(url).or_default() += 1;
                }
            }
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- stats

    fn stats_key(who: &KithKey, url: &str) -> Vec<u8> {
        let mut k = who.as_bytes().to_vec();
        k.extend_from_slice(url.as_bytes());
        k
    }

    pub(crate) fn counters(&self, who: &KithKey, url: &str) -> Result<Counters, BridgeError> {
        match self.stats.get(Self::stats_key(who, url)).map_err(storage)? {
            Some(v) => serde_json::from_slice(&v).map_err(storage),
            None => Ok(Counters::default()),
        }
    }

    pub(crate) fn update_counters(
        &self,
        who: &KithKey,
        url: &str,
        change: impl Fn(&mut Counters),
    ) -> Result<(), BridgeError> {
        let mut c = self.counters(who, url)?;
        change(&mut c);
        let v = serde_json::to_vec(&c).map_err(storage)?;
        self.stats
            .insert(Self::stats_key(who, url), v)
            .map_err(storage)?;
        Ok(())
    }

    // ---------------------------------------------------------------- inbound

    /// Adds `relay` to where a note was seen; answers whether the note was
    /// seen before (from any relay).
    pub(crate) fn saw(&self, id: &[u8; 32], relay: &str) -> Result<bool, BridgeError> {
        let mut list: Vec<String> = match self.seen.get(id).map_err(storage)? {
            Some(v) => serde_json::from_slice(&v).map_err(storage)?,
            None => Vec::new(),
        };
        let before = !list.is_empty();
        if !list.iter().any(|r| r == relay) {
            list.push(relay.to_owned());
            let v = serde_json::to_vec(&list).map_err(storage)?;
            self.seen.insert(id, v).map_err(storage)?;
        }
        Ok(before)
    }

    pub(crate) fn seen_on(&self, id: &[u8; 32]) -> Result<Vec<String>, BridgeError> {
        match self.seen.get(id).map_err(storage)? {
            Some(v) => serde_json::from_slice(&v).map_err(storage),
            None => Ok(Vec::new()),
        }
    }

    pub(crate) fn set_name(&self, key: &[u8; 32], name: &str) -> Result<(), BridgeError> {
        self.names.insert(key, name.as_bytes()).map_err(storage)?;
        Ok(())
    }

    pub(crate) fn name(&self, key: &[u8; 32]) -> Result<Option<String>, BridgeError> {
        Ok(self
            .names
            .get(key)
            .map_err(storage)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub(crate) fn set_link(&self, key: &[u8; 32], kith: &KithKey) -> Result<(), BridgeError> {
        self.links.insert(key, kith.as_bytes()).map_err(storage)?;
        Ok(())
    }

    pub(crate) fn link(&self, key: &[u8; 32]) -> Result<Option<KithKey>, BridgeError> {
        Ok(self
            .links
            .get(key)
            .map_err(storage)?
            .and_then(|v| KithKey::from_bytes(v.as_ref().try_into().ok()?).ok()))
    }

    // ---------------------------------------------------------------- meta

    pub(crate) fn watermark(&self) -> Result<Option<u64>, BridgeError> {
        Ok(self
            .meta
            .get(WATERMARK)
            .map_err(storage)?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)))
    }

    pub(crate) fn set_watermark(&self, seq: u64) -> Result<(), BridgeError> {
        self.meta
            .insert(WATERMARK, &seq.to_be_bytes())
            .map_err(storage)?;
        Ok(())
    }

    fn bridged_key(who: &KithKey) -> Vec<u8> {
        let mut k = b"bridged:".to_vec();
        k.extend_from_slice(who.as_bytes());
        k
    }

    pub(crate) fn bridged(&self, who: &KithKey) -> Result<u64, BridgeError> {
        Ok(self
            .meta
            .get(Self::bridged_key(who))
            .map_err(storage)?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    pub(crate) fn count_bridged(&self, who: &KithKey) -> Result<(), BridgeError> {
        let n = self.bridged(who)? + 1;
        self.meta
            .insert(Self::bridged_key(who), &n.to_be_bytes())
            .map_err(storage)?;
        Ok(())
    }
}
