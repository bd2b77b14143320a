//! Storage errors.

use std::path::PathBuf;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenStoreError {
    /// sled refused to open the directory.
    #[error("cannot open the event store at {path}")]
    Backend {
        /// The store directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: sled::Error,
    },
    /// The search index could not be opened or created.
    #[error("cannot open the search index at {path}")]
    Search {
        /// The index directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: tantivy::TantivyError,
    },
    /// Reading the store's metadata failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A failure while reading or writing an open store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// sled failed (I/O error, corruption it detected).
    #[error("storage backend failed")]
    Backend(#[from] sled::Error),
    /// A record that does not decode: the store was written by something else.
    #[error("corrupt record in table `{table}`")]
    Corrupt {
        /// The table's prefix, as a character.
        table: char,
    },
    /// Another write in the same commit group failed, so the group was not written.
    #[error("the commit group failed: {0}")]
    GroupFailed(String),
    /// The writer has stopped (the store is closing or closed).
    #[error("the store is closed")]
    Closed,
    /// The search index failed.
    #[error("search index failed")]
    Search(#[from] tantivy::TantivyError),
    /// A search query that cannot be parsed.
    #[error("bad search query: {0}")]
    BadQuery(String),
    /// A pagination cursor that this store did not issue.
    #[error("bad cursor")]
    BadCursor,
}

impl StoreError {
    pub(crate) fn corrupt(table: u8) -> Self {
        StoreError::Corrupt {
            table: table as char,
        }
    }
}
