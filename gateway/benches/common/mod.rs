//! What both gateway benchmarks share.

use kith_node::config::Config;

/// A node on loopback only (no mdns, no bootstrap, no periodic sync) with
/// its gateway on a free port and every limiter out of the way: the
/// limiters are not what is measured.
pub(crate) fn config() -> Config {
    let mut c = Config::default();
    c.network.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")];
    c.network.bootstrap = Vec::new();
    c.network.mdns = false;
    c.sync.interval_secs = 0;
    c.gateway.listen = "127.0.0.1:0".parse().expect("addr");
    c.gateway.rate_per_ip = 1_000_000;
    c.gateway.burst_per_ip = 1_000_000;
    c.gateway.rate_per_account = 1_000_000;
    c.gateway.burst_per_account = 1_000_000;
    c.gateway.auth_per_minute = 1_000_000;
    c.gateway.max_connections = 100_000;
    c
}
