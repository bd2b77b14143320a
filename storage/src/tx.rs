//! A batch of writes over a base (the sled tree, or nothing for a replay),
//! with reads that see the batch's own writes.
//!
//! The writer applies a whole group of events into one `Tx` and commits it as
//! one `sled::Batch`, which sled applies atomically and recovers atomically.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::error::StoreError;
use crate::keys::prefix_end;

/// Rows in key order.
pub(crate) type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// Where reads go when the batch has not written a key.
pub(crate) trait Base {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Rows with `start <= key < end`, at most `limit`, in key order.
    fn range(&self, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Rows, StoreError>;
}

impl Base for sled::Tree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sled::Tree::get(self, key)?.map(|v| v.to_vec()))
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Rows, StoreError> {
        let iter = match end {
            Some(end) => sled::Tree::range(self, start..end),
            None => sled::Tree::range(self, start..),
        };
        iter.take(limit)
            .map(|r| {
                r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(StoreError::from)
            })
            .collect()
    }
}

/// An empty base: a replay builds state from nothing.
#[derive(Debug)]
pub(crate) struct Empty;

impl Base for Empty {
    fn get(&self, _key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }

    fn range(&self, _start: &[u8], _end: Option<&[u8]>, _limit: usize) -> Result<Rows, StoreError> {
        Ok(Vec::new())
    }
}

/// Writes not yet committed: `None` is a removal.
pub(crate) struct Tx<'a> {
    base: &'a dyn Base,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(base: &'a dyn Base) -> Self {
        Tx {
            base,
            writes: BTreeMap::new(),
        }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    pub(crate) fn contains(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.get(key)?.is_some())
    }

    pub(crate) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    pub(crate) fn del(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Rows starting with `prefix`, the batch's writes merged over the base.
    pub(crate) fn scan(&self, prefix: &[u8]) -> Result<Rows, StoreError> {
        let end = prefix_end(prefix);
        self.scan_range(prefix, end.as_deref(), usize::MAX)
    }

    /// Rows with `start <= key < end`, at most `limit` of them, in key order,
    /// the batch's writes merged over the base.
    pub(crate) fn scan_range(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Rows, StoreError> {
        let upper = match end {
            Some(end) => Bound::Excluded(end.to_vec()),
            None => Bound::Unbounded,
        };
        let range = (Bound::Included(start.to_vec()), upper);
        // Removals in the batch can hide base rows, so read that many more.
        // Only removals inside the range count, and an unlimited scan needs none.
        let hidden = if limit == usize::MAX {
            0
        } else {
            self.writes
                .range::<Vec<u8>, _>(range.clone())
                .filter(|(_, v)| v.is_none())
                .count()
        };
        let mut rows: BTreeMap<Vec<u8>, Vec<u8>> = self
            .base
            .range(start, end, limit.saturating_add(hidden))?
            .into_iter()
            .collect();
        for (k, v) in self.writes.range::<Vec<u8>, _>(range) {
            match v {
                Some(v) => rows.insert(k.clone(), v.clone()),
                None => rows.remove(k),
            };
        }
        Ok(rows.into_iter().take(limit).collect())
    }

    /// Adds `delta` to a big-endian u64 counter; a counter that reaches zero is removed.
    pub(crate) fn add(&mut self, key: Vec<u8>, delta: i64) -> Result<(), StoreError> {
        let current = self
            .get(&key)?
            .and_then(|v| crate::keys::u64_at(&v, 0))
            .unwrap_or(0);
        let next = current.saturating_add_signed(delta);
        if next == 0 {
            self.del(key);
        } else {
            self.put(key, next.to_be_bytes().to_vec());
        }
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The writes, for committing.
    pub(crate) fn into_batch(self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        for (k, v) in self.writes {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        batch
    }

    /// The rows a replay produced (it writes over an empty base, so every
    /// `Some` is a row and every `None` a row that came and went).
    pub(crate) fn into_rows(self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.writes
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect()
    }
}
