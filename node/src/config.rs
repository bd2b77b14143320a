//! The node's configuration: defaults, then `<data dir>/kith.toml` (or the
//! file given with `--config`), then `KITH_*` environment variables, then
//! command-line flags (applied by the caller). Unknown keys in the file are
//! an error, so a typo does not silently fall back to a default.
//!
//! ```toml
//! [network]
//! listen = ["/ip4/0.0.0.0/tcp/4040", "/ip4/0.0.0.0/udp/4040/quic-v1"]
//! bootstrap = []          # "/ip4/…/tcp/…/p2p/12D3Koo…"
//! mdns = true
//! relay_server = false
//!
//! [gossip]
//! rate_per_sec = 200      # messages a peer may send us per second…
//! burst = 1000            # …with this much slack
//! ban_after = 5           # offences within ban_window_secs before a ban
//! ban_window_secs = 60
//! ban_secs = 600
//!
//! [sync]
//! interval_secs = 60      # periodic reconciliation with connected peers
//!
//! [store]
//! cache_mb = 256
//! flush_ms = 5
//!
//! [media]
//! image_max_mb = 20       # upload limits per class
//! audio_max_mb = 50
//! video_max_mb = 500
//! ffmpeg = "ffmpeg"       # video/audio processing; without it originals are kept as they are
//! ffprobe = "ffprobe"
//! pin_followed = false    # also keep the media of followed accounts…
//! followed_quota_mb = 2048 # …within this much disk
//!
//! [nostr]
//! enabled = true
//! relays = []             # outside Nostr relays for everyone (none by default)
//! media_base_url = ""     # where bridged notes link media (default: the gateway)
//!
//! [messages]
//! mailboxes = []          # identities hosted elsewhere whose sealed messages this node keeps
//! keep_days = 30          # how long envelopes kept for others are kept
//! quota_mb = 50           # per identity; over it, the oldest envelopes go first
//!
//! [log]
//! format = "human"        # or "json"
//! filter = "info"         # tracing env-filter syntax
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_ipfs::Multiaddr;
use serde::Deserialize;

/// Name of the config file inside the data directory.
pub const FILE: &str = "kith.toml";

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// An environment variable holds a value that does not parse.
    #[error("{var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
}

/// Network section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSection {
    /// Listen addresses.
    pub listen: Vec<Multiaddr>,
    /// Peers dialed at start.
    pub bootstrap: Vec<Multiaddr>,
    /// LAN discovery.
    pub mdns: bool,
    /// Serve as a circuit relay.
    pub relay_server: bool,
}

impl Default for NetworkSection {
    fn default() -> Self {
        let net = crate::net::NetConfig::default();
        NetworkSection {
            listen: net.listen,
            bootstrap: net.bootstrap,
            mdns: net.mdns,
            relay_server: net.relay_server,
        }
    }
}

/// Gossip section: per-peer limits and bans.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GossipSection {
    /// Messages per second a peer may send us.
    pub rate_per_sec: u32,
    /// Burst allowance.
    pub burst: u32,
    /// Offences within the window before a ban.
    pub ban_after: u32,
    /// The offence window.
    pub ban_window_secs: u64,
    /// How long a ban lasts.
    pub ban_secs: u64,
}

impl Default for GossipSection {
    fn default() -> Self {
        GossipSection {
            rate_per_sec: 200,
            burst: 1000,
            ban_after: 5,
            ban_window_secs: 60,
            ban_secs: 600,
        }
    }
}

/// Sync section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSection {
    /// Seconds between periodic reconciliations (0: only on connect).
    pub interval_secs: u64,
}

impl Default for SyncSection {
    fn default() -> Self {
        SyncSection { interval_secs: 60 }
    }
}

/// Store section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// sled page cache in MiB.
    pub cache_mb: u64,
    /// Group-commit interval in milliseconds (at most 100).
    pub flush_ms: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            cache_mb: 256,
            flush_ms: 5,
        }
    }
}

/// The Nostr relay's default port (the gateway's is 7417).
pub const DEFAULT_RELAY_PORT: u16 = 7418;

/// Nostr relay section (`[relay]`): where it listens and the operator's
/// policy. Every limit has a default an operator can change.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelaySection {
    /// Serve the relay at all (`kith up --no-relay` turns it off).
    pub enabled: bool,
    /// Where to listen (default `127.0.0.1:7418`).
    pub listen: std::net::SocketAddr,
    /// The URL clients reach this relay at, when it is not the listen
    /// address (behind a reverse proxy: `wss://relay.example.org`). NIP-42
    /// authentication accepts events naming the listen address or this URL.
    pub public_url: String,
    /// NIP-11 `name`.
    pub name: String,
    /// NIP-11 `description`.
    pub description: String,
    /// NIP-11 `contact` (empty: none).
    pub contact: String,
    /// Largest WebSocket message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Largest event (its JSON), in bytes.
    pub max_event_bytes: usize,
    /// Open subscriptions per connection.
    pub max_subscriptions: usize,
    /// Filters in one REQ or COUNT.
    pub max_filters: usize,
    /// Most events one filter returns.
    pub max_limit: usize,
    /// Most index entries one REQ or COUNT reads: the bound on what a filter
    /// asking for the whole database costs.
    pub max_scan: usize,
    /// Longest subscription id.
    pub max_subid_length: usize,
    /// Most events one negentropy session (NIP-77) reconciles.
    pub max_negentropy_items: usize,
    /// WebSocket connections at once.
    pub max_connections: usize,
    /// Events accepted per second from one IP address (bursts up to 4×).
    pub events_per_second_per_ip: u32,
    /// Events accepted per second from one author (bursts up to 4×).
    pub events_per_second_per_pubkey: u32,
    /// REQ and COUNT messages per second from one IP address (bursts up to 4×).
    pub queries_per_second_per_ip: u32,
    /// Only these authors may publish (hex keys; empty: anyone).
    pub allowed_pubkeys: Vec<String>,
    /// These authors may not publish (hex keys).
    pub denied_pubkeys: Vec<String>,
    /// Only these kinds are accepted (empty: any).
    pub allowed_kinds: Vec<u16>,
    /// These kinds are refused.
    pub denied_kinds: Vec<u16>,
    /// NIP-13 proof of work: leading zero bits an event id needs (0: none).
    pub min_pow: u8,
    /// How far in the future an event's `created_at` may be, in seconds.
    pub max_future_secs: u64,
    /// Bytes of outgoing messages one connection may have waiting; past it
    /// the connection is a slow consumer and is closed.
    pub max_connection_buffer_bytes: usize,
    /// Events kept for live subscribers that have not read them yet; a
    /// connection that falls further behind is closed.
    pub live_buffer: usize,
}

impl Default for RelaySection {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], DEFAULT_RELAY_PORT)),
            public_url: String::new(),
            name: "Kith relay".into(),
            description: "A Nostr relay run by a Kith node.".into(),
            contact: String::new(),
            max_message_bytes: 256 * 1024,
            max_event_bytes: 128 * 1024,
            max_subscriptions: 32,
            max_filters: 16,
            max_limit: 500,
            max_scan: 50_000,
            max_subid_length: 64,
            max_negentropy_items: 500_000,
            max_connections: 20_000,
            events_per_second_per_ip: 200,
            events_per_second_per_pubkey: 50,
            queries_per_second_per_ip: 200,
            allowed_pubkeys: Vec::new(),
            denied_pubkeys: Vec::new(),
            allowed_kinds: Vec::new(),
            denied_kinds: Vec::new(),
            min_pow: 0,
            max_future_secs: 900,
            max_connection_buffer_bytes: 4 * 1024 * 1024,
            live_buffer: 8192,
        }
    }
}

/// The Kith–Nostr bridge (`[nostr]`): which outside relays the node
/// publishes its people's linked Nostr keys to and reads followed Nostr
/// keys from. Empty by default: the node contacts no public relay unless
/// its operator or a person names one.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NostrSection {
    /// Run the bridge at all.
    pub enabled: bool,
    /// Relays (`wss://…`) used for every person, besides each person's own.
    pub relays: Vec<String>,
    /// Base URL of media in bridged notes (`https://kith.example.org`);
    /// empty: the gateway's own URL. A note names `<base>/ipfs/<cid>`.
    pub media_base_url: String,
    /// Most relays one person may configure.
    pub max_relays_per_person: usize,
    /// Most Nostr keys one person may follow.
    pub max_follows_per_person: usize,
    /// Seconds between tries to send a note a relay did not take, doubling
    /// up to an hour.
    pub retry_secs: u64,
    /// Give up on a relay for one note after this many tries.
    pub max_attempts: u32,
}

impl Default for NostrSection {
    fn default() -> Self {
        Self {
            enabled: true,
            relays: Vec::new(),
            media_base_url: String::new(),
            max_relays_per_person: 16,
            max_follows_per_person: 5000,
            retry_secs: 5,
            max_attempts: 12,
        }
    }
}

/// Direct messages (`[messages]`, `specs/messages.md` § Delivery).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessagesSection {
    /// Identities (`kith1…`) hosted on other nodes whose mailboxes this node
    /// keeps: it holds their sealed envelopes (ciphertext only) until their
    /// own node comes online and syncs them.
    pub mailboxes: Vec<String>,
    /// Days an envelope kept for someone this node does not host (an
    /// operator-kept mailbox, or a copy of one sent to others) is kept.
    pub keep_days: u64,
    /// Most envelope bytes kept per identity; the oldest go first.
    pub quota_mb: u64,
}

impl Default for MessagesSection {
    fn default() -> Self {
        Self {
            mailboxes: Vec::new(),
            keep_days: 30,
            quota_mb: 50,
        }
    }
}

impl MessagesSection {
    /// `keep_days` in milliseconds.
    pub fn keep_ms(&self) -> u64 {
        self.keep_days.saturating_mul(24 * 60 * 60 * 1000)
    }

    /// The mailbox identities, parsed.
    pub fn mailbox_keys(&self) -> Result<Vec<kith_protocol::PublicKey>, ConfigError> {
        self.mailboxes
            .iter()
            .map(|k| {
                k.parse().map_err(|e| ConfigError::Parse {
                    path: PathBuf::from(FILE),
                    message: format!("[messages] mailboxes: {k}: {e}"),
                })
            })
            .collect()
    }
}

/// The gateway's default port; the default address is loopback only.
pub const DEFAULT_GATEWAY_PORT: u16 = 7417;

/// Gateway section: the HTTP API that clients and the CLI use.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySection {
    /// Serve the gateway at all.
    pub enabled: bool,
    /// Socket address (`host:port`); port 0 picks a free one.
    pub listen: std::net::SocketAddr,
    /// Origins allowed by CORS (`*` for any; empty: same origin only).
    pub cors_origins: Vec<String>,
    /// Anyone may register an account.
    pub open_registration: bool,
    /// Requests per second per client IP.
    pub rate_per_ip: u32,
    /// Burst per client IP.
    pub burst_per_ip: u32,
    /// Requests per second per account (session or admin token).
    pub rate_per_account: u32,
    /// Burst per account.
    pub burst_per_account: u32,
    /// Register and log-in attempts per minute per client IP.
    pub auth_per_minute: u32,
    /// Take the client IP from `X-Forwarded-For`/`Forwarded` (only behind a
    /// reverse proxy that sets them).
    pub trust_forwarded: bool,
    /// Days a session lasts.
    pub session_days: u32,
    /// Days the gateway's delegated key is valid for.
    pub delegation_days: u32,
    /// Largest request body in KiB.
    pub body_limit_kb: usize,
    /// Live subscriptions per WebSocket connection.
    pub max_subscriptions: usize,
    /// Open WebSocket connections in all.
    pub max_connections: usize,
    /// Memory for read caches (rendered events, viewers' follow graphs), MiB;
    /// 0 turns them off.
    pub cache_mib: usize,
}

impl Default for GatewaySection {
    fn default() -> Self {
        GatewaySection {
            enabled: true,
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], DEFAULT_GATEWAY_PORT)),
            cors_origins: Vec::new(),
            open_registration: true,
            rate_per_ip: 100,
            burst_per_ip: 400,
            rate_per_account: 50,
            burst_per_account: 200,
            auth_per_minute: 20,
            trust_forwarded: false,
            session_days: 30,
            delegation_days: 365,
            body_limit_kb: 256,
            max_subscriptions: 16,
            max_connections: 10_000,
            cache_mib: 64,
        }
    }
}

/// Media section: what uploads may be, how they are processed, what is
/// pinned.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSection {
    /// Largest image upload, MB (10^6 bytes).
    pub image_max_mb: u64,
    /// Largest audio upload, MB.
    pub audio_max_mb: u64,
    /// Largest video upload, MB.
    pub video_max_mb: u64,
    /// The ffmpeg program (a name on `PATH` or a path).
    pub ffmpeg: PathBuf,
    /// The ffprobe program.
    pub ffprobe: PathBuf,
    /// Longest one processing step (a video rendition) may run, seconds.
    pub process_timeout_secs: u64,
    /// Uploads waiting for processing before new ones are refused.
    pub queue: usize,
    /// Also keep (pin) the media of accounts this node's people follow.
    pub pin_followed: bool,
    /// Disk the media of followed accounts may use, MB; the oldest pins go
    /// first beyond it.
    pub followed_quota_mb: u64,
    /// How long fetching a missing file from peers may take, seconds.
    pub fetch_timeout_secs: u64,
}

impl Default for MediaSection {
    fn default() -> Self {
        MediaSection {
            image_max_mb: 20,
            audio_max_mb: 50,
            video_max_mb: 500,
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            process_timeout_secs: 600,
            queue: 64,
            pin_followed: false,
            followed_quota_mb: 2_048,
            fetch_timeout_secs: 60,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Human,
    /// One JSON object per line.
    Json,
}

/// Log section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// Output format.
    pub format: LogFormat,
    /// A tracing env-filter directive.
    pub filter: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: LogFormat::Human,
            filter: "info,connexa=warn,rust_ipfs=warn,libp2p_swarm=warn,libp2p_gossipsub=warn"
                .into(),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Networking.
    pub network: NetworkSection,
    /// Gossip limits.
    pub gossip: GossipSection,
    /// Sync.
    pub sync: SyncSection,
    /// Storage.
    pub store: StoreSection,
    /// The HTTP gateway.
    pub gateway: GatewaySection,
    /// The Nostr relay.
    pub relay: RelaySection,
    /// The bridge to outside Nostr relays.
    pub nostr: NostrSection,
    /// Direct messages.
    pub messages: MessagesSection,
    /// Media uploads, processing and pinning.
    pub media: MediaSection,
    /// Logging.
    pub log: LogSection,
}

impl Config {
    /// Parses TOML text (`path` is only used in error messages).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Loads `file`, or `<data_dir>/kith.toml` if it exists, or the defaults;
    /// then applies `KITH_*` variables from the process environment.
    pub fn load(data_dir: &Path, file: Option<&Path>) -> Result<Config, ConfigError> {
        let path = file.map_or_else(|| data_dir.join(FILE), Path::to_path_buf);
        let mut config = match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.is_none() => {
                Config::default()
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Applies environment overrides read through `var`:
    /// `KITH_LISTEN` and `KITH_BOOTSTRAP` (comma-separated multiaddrs),
    /// `KITH_MDNS` (true/false), `KITH_LOG_FORMAT` (human/json), `KITH_LOG` (filter),
    /// `KITH_SYNC_INTERVAL` (seconds), `KITH_GATEWAY` (gateway `host:port`).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn bad(var: &str, message: impl ToString) -> ConfigError {
            ConfigError::Env {
                var: var.into(),
                message: message.to_string(),
            }
        }
        let addrs = |name: &str, v: &str| -> Result<Vec<Multiaddr>, ConfigError> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(|e| bad(name, format!("{s}: {e}"))))
                .collect()
        };
        if let Some(v) = var("KITH_LISTEN") {
            self.network.listen = addrs("KITH_LISTEN", &v)?;
        }
        if let Some(v) = var("KITH_BOOTSTRAP") {
            self.network.bootstrap = addrs("KITH_BOOTSTRAP", &v)?;
        }
        if let Some(v) = var("KITH_MDNS") {
            self.network.mdns =
                parse_bool(&v).ok_or_else(|| bad("KITH_MDNS", "expected true or false"))?;
        }
        if let Some(v) = var("KITH_LOG_FORMAT") {
            self.log.format = match v.as_str() {
                "human" => LogFormat::Human,
                "json" => LogFormat::Json,
                _ => return Err(bad("KITH_LOG_FORMAT", "expected human or json")),
            };
        }
        if let Some(v) = var("KITH_LOG") {
            self.log.filter = v;
        }
        if let Some(v) = var("KITH_GATEWAY") {
            self.gateway.listen = v.parse().map_err(|e| bad("KITH_GATEWAY", e))?;
        }
        if let Some(v) = var("KITH_SYNC_INTERVAL") {
            self.sync.interval_secs = v.parse().map_err(|e| bad("KITH_SYNC_INTERVAL", e))?;
        }
        Ok(())
    }

    /// The group-commit interval, capped at the 100 ms the store promises.
    pub fn flush_interval(&self) -> Duration {
        Duration::from_millis(self.store.flush_ms.clamp(1, 100))
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_with_typed_errors() {
        let p = Path::new("kith.toml");
        let c = Config::parse(
            "[network]\nmdns = false\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n",
            p,
        )
        .unwrap();
        assert!(!c.network.mdns);
        assert_eq!(c.network.listen.len(), 1);
        assert!(
            c.network.bootstrap.is_empty(),
            "no bootstrap peers by default"
        );
        let e = Config::parse("[network]\nmnds = false\n", p).unwrap_err();
        assert!(e.to_string().contains("mnds"), "{e}");
        let e = Config::parse("[network]\nlisten = [\"nonsense\"]\n", p).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }));

        let mut c = Config::default();
        c.apply_env(|v| match v {
            "KITH_LISTEN" => Some("/ip4/127.0.0.1/tcp/1, /ip4/127.0.0.1/udp/1/quic-v1".into()),
            "KITH_MDNS" => Some("off".into()),
            "KITH_LOG_FORMAT" => Some("json".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.network.listen.len(), 2);
        assert!(!c.network.mdns);
        assert_eq!(c.log.format, LogFormat::Json);
        let e = c
            .apply_env(|v| (v == "KITH_MDNS").then(|| "maybe".into()))
            .unwrap_err();
        assert!(matches!(e, ConfigError::Env { ref var, .. } if var == "KITH_MDNS"));
    }
}
