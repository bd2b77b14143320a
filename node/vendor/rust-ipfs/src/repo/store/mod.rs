pub mod arc;
pub mod blockstore;
pub mod datastore;
pub(crate) mod default_impl;
pub mod either;
