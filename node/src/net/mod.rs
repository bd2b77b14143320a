//! The network actor: one libp2p host (through rust-ipfs) for gossip,
//! kademlia, bitswap, identify, ping, mdns, autonat, relay and the Kith
//! stream protocols (sync, fetch).
//!
//! Nothing here contacts a public host: no bootstrap peers unless configured,
//! no DNS, no UPnP. Research notes on the rust-ipfs API this is built on:
//! `docs/research/rust-ipfs-0.16.md`.

pub mod behaviour;
pub mod frame;

use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use rust_ipfs::builder::IpfsBuilder;
use rust_ipfs::p2p::{IdentifyConfiguration, MultiaddrExt, RelayConfig};
use rust_ipfs::{DhtMode, Ipfs, Multiaddr, PeerId, Protocol};

pub use behaviour::{GossipConfig, GossipEvent, GossipHandle, Incoming, KithBehaviour};

/// Network settings.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Addresses to listen on (TCP and QUIC multiaddrs).
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start (with `/p2p/<id>`). Empty by default.
    pub bootstrap: Vec<Multiaddr>,
    /// Discover and dial peers on the local network.
    pub mdns: bool,
    /// Serve as a circuit relay for others.
    pub relay_server: bool,
    /// Gossip settings.
    pub gossip: GossipConfig,
    /// Close connections idle this long.
    pub idle_timeout: Duration,
    /// Most connections at once.
    pub max_connections: u32,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            listen: vec![
                "/ip4/0.0.0.0/tcp/4040".parse().expect("valid multiaddr"),
                "/ip4/0.0.0.0/udp/4040/quic-v1"
                    .parse()
                    .expect("valid multiaddr"),
            ],
            bootstrap: Vec::new(),
            mdns: true,
            relay_server: false,
            gossip: GossipConfig::default(),
            idle_timeout: Duration::from_secs(600),
            max_connections: 512,
        }
    }
}

/// A running host.
#[derive(Debug)]
pub struct Network {
    /// The rust-ipfs handle (blocks, DHT, streams, connections).
    pub ipfs: Ipfs,
    /// Our peer id.
    pub peer_id: PeerId,
    /// Where we listen, each with `/p2p/<peer id>`.
    pub listen: Vec<Multiaddr>,
    /// The gossip behaviour.
    pub gossip: GossipHandle,
    /// Messages and subscriptions from gossip.
    pub events: mpsc::Receiver<GossipEvent>,
}

/// Starts the host with the node's libp2p key (an Ed25519 seed).
///
/// `repo` is where IPFS blocks are kept; `None` keeps them in memory.
pub async fn start(
    seed: [u8; 32],
    repo: Option<&std::path::Path>,
    cfg: &NetConfig,
) -> anyhow::Result<Network> {
    let keypair = rust_ipfs::Keypair::ed25519_from_bytes(seed)?;
    let peer_id = keypair.public().to_peer_id();
    let (kith, gossip, events) = behaviour::build(&cfg.gossip)?;
    let (mdns_tx, mut mdns_rx) = futures::channel::mpsc::unbounded::<(PeerId, Multiaddr)>();
    let max = cfg.max_connections;
    let mut builder = IpfsBuilder::<KithBehaviour>::with_keypair(&keypair)?
        .enable_tcp()
        .enable_quic_with_config(|mut c| {
            c.max_idle_timeout = 30_000;
            c.keep_alive_interval = Duration::from_secs(5);
            c
        })
        .with_identify(IdentifyConfiguration {
            protocol_version: "/kith/1".into(),
            agent_version: format!("kith/{}", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        })
        .with_ping(Default::default())
        .with_kademlia()
        .with_bitswap()
        .with_streams()
        .with_relay(true)
        .with_autonat()
        .with_custom_behaviour(move |_| Ok(kith))
        .set_idle_connection_timeout(cfg.idle_timeout.as_secs())
        .set_connection_limits(move |l| {
            l.with_max_established(Some(max))
                .with_max_established_per_peer(Some(4))
                .with_max_pending_incoming(Some(64))
        })
        .swarm_events(move |_swarm, event| {
            if let rust_ipfs::swarm::SwarmEvent::Behaviour(
                connexa::behaviour::BehaviourEvent::Mdns(
                    connexa::prelude::mdns::Event::Discovered(list),
                ),
            ) = event
            {
                for (peer, addr) in list {
                    let _ = mdns_tx.unbounded_send((*peer, addr.clone()));
                }
            }
        });
    if cfg.relay_server {
        builder = builder.with_relay_server(RelayConfig::default());
    }
    if cfg.mdns {
        builder = builder.with_mdns();
    }
    if let Some(dir) = repo {
        builder = builder.set_path(dir);
    }
    let ipfs = builder.start().await?;
    ipfs.dht_mode(DhtMode::Server).await?;

    let mut listen = Vec::new();
    for addr in &cfg.listen {
        let id = ipfs.add_listening_address(addr.clone()).await?;
        listen.extend(ipfs.get_listening_address(id).await?);
    }
    let listen: Vec<Multiaddr> = listen
        .into_iter()
        .map(|a| a.with(Protocol::P2p(peer_id)))
        .collect();

    for addr in &cfg.bootstrap {
        if let Err(e) = connect(&ipfs, addr.clone()).await {
            tracing::warn!(%addr, error = %e, "bootstrap peer unreachable");
        }
    }

    // mDNS only reports peers; dialing them is ours to do.
    let dialer = ipfs.clone();
    tokio::spawn(async move {
        while let Some((peer, addr)) = mdns_rx.next().await {
            if peer == peer_id || dialer.is_connected(peer).await.unwrap_or(true) {
                continue;
            }
            let _ = dialer.add_peer((peer, addr.clone())).await;
            if let Err(e) = dialer.connect(addr.clone()).await {
                tracing::debug!(%peer, %addr, error = %e, "mdns peer unreachable");
            }
        }
    });

    Ok(Network {
        ipfs,
        peer_id,
        listen,
        gossip,
        events,
    })
}

/// Dials a peer by a `/p2p/`-terminated address and remembers the address.
pub async fn connect(ipfs: &Ipfs, addr: Multiaddr) -> anyhow::Result<PeerId> {
    let peer = addr
        .peer_id()
        .ok_or_else(|| anyhow::anyhow!("{addr} does not end in /p2p/<peer id>"))?;
    ipfs.add_peer((peer, addr.clone())).await?;
    if !ipfs.is_connected(peer).await? {
        ipfs.connect(addr).await?;
    }
    Ok(peer)
}
