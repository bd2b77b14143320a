// Automatically generated mod.rs
pub mod bitswap_pb;
