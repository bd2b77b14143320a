//! Kith's Nostr surface: a NIP-01 relay backed by its own store in the node's
//! data directory (`store`), and the bridge to outside relays (`bridge`).
//!
//! Supported: NIP-01 (EVENT, REQ with several filters, CLOSE, EOSE, OK with
//! machine-readable prefixes, NOTICE, CLOSED; replaceable, addressable and
//! ephemeral events), NIP-09 deletion, NIP-11 information document, NIP-40
//! expiration, NIP-42 authentication (direct-message kinds are served only to
//! their authenticated authors and recipients), NIP-45 COUNT, NIP-50 search
//! (tantivy) and NIP-77 negentropy sync. `specs/nostr.md` is the normative text.
//!
//! [`bridge`] connects the node to outside relays: people's Kith events go
//! out as Nostr events signed by their linked keys, and the Nostr keys they
//! follow come in.

pub mod bridge;
pub mod config;
mod conn;
pub mod link;
pub mod outbound;
mod search;
pub mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use nostr::prelude::{Event, Timestamp};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

pub use config::RelayConfig;
pub use store::{Inserted, Prepared, QueryLimits, RelayStore, StoreError};

/// The folder of the relay's database inside the node's data directory.
pub const RELAY_DIR: &str = "relay";

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The store would not open.
    #[error("relay store: {0}")]
    Store(#[from] StoreError),
    /// The address could not be bound.
    #[error("relay address {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is not usable.
    #[error("relay config: {0}")]
    Config(String),
}

/// State shared by every connection.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<RelayStore>,
    /// The store's writer thread (see [`writer`]).
    pub(crate) writer: mpsc::Sender<WriteJob>,
    pub(crate) config: RelayConfig,
    pub(crate) policy: config::Policy,
    /// Every accepted event (stored or ephemeral), for live subscriptions.
    pub(crate) live: broadcast::Sender<Arc<Event>>,
    pub(crate) connections: AtomicUsize,
    pub(crate) url: String,
    pub(crate) limiters: conn::Limiters,
    /// `host:port` forms a NIP-42 event's `relay` tag may name.
    pub(crate) auth_hosts: Vec<String>,
}

/// A running relay.
#[derive(Debug)]
pub struct Relay {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    purger: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Opens the store in `data_dir/relay` and serves on `config.listen`.
    pub async fn start(data_dir: &Path, config: RelayConfig) -> Result<Relay, RelayError> {
        let store = Arc::new(RelayStore::open(&data_dir.join(RELAY_DIR))?);
        Relay::start_with_store(store, config).await
    }

    /// Serves `store` (opened by the caller, who may share it with the
    /// bridge) on `config.listen`.
    pub async fn start_with_store(
        store: Arc<RelayStore>,
        config: RelayConfig,
    ) -> Result<Relay, RelayError> {
        let policy = config::policy(&config).map_err(RelayError::Config)?;
        let (writer, jobs) = mpsc::channel(WRITE_QUEUE);
        let writer_store = store.clone();
        std::thread::Builder::new()
            .name("kith-relay-writer".into())
            .spawn(move || write_loop(&writer_store, jobs))
            .map_err(|e| RelayError::Store(StoreError::Search(e.to_string())))?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| RelayError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| RelayError::Bind {
            addr: config.listen,
            source,
        })?;
        let (live, _) = broadcast::channel(config.live_buffer.max(16));
        let shared = Arc::new(Shared {
            store,
            writer,
            policy,
            live,
            connections: AtomicUsize::new(0),
            url: format!("ws://{addr}"),
            limiters: conn::Limiters::new(&config),
            auth_hosts: auth_hosts(addr, &config.public_url),
            config,
        });
        let (stop, stopped) = watch::channel(false);
        let app = Router::new()
            .route("/", axum::routing::get(root))
            .with_state(shared.clone());
        // Nostr messages are small: with Nagle's algorithm each answer would
        // wait for the client's delayed ACK (40 ms on Linux).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let mut stopped_server = stopped.clone();
        let server = tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped_server.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "relay server stopped");
            }
        });
        let purger = tokio::spawn(purge_loop(shared.clone(), stopped));
        tracing::info!(url = %shared.url, "nostr relay listening");
        Ok(Relay {
            shared,
            addr,
            stop,
            server,
            purger,
        })
    }

    /// The relay's WebSocket URL (`ws://127.0.0.1:7418`).
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The relay's store (for the bridge and for tests).
    pub fn store(&self) -> &RelayStore {
        &self.shared.store
    }

    /// Open WebSocket connections.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes every connection and flushes the store.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        self.purger.abort();
        let _ = self.purger.await;
        if let Err(e) = self.shared.store.flush() {
            tracing::warn!(error = %e, "relay store flush failed");
        }
    }
}

/// The `host:port` of a relay URL, lowercased, without scheme, path or
/// trailing slash (`wss://Relay.example.org/` → `relay.example.org:443`).
pub(crate) fn authority(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let (rest, port) = if let Some(r) = url.strip_prefix("wss://") {
        (r, "443")
    } else if let Some(r) = url.strip_prefix("ws://") {
        (r, "80")
    } else {
        (url.as_str(), "80")
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !host.ends_with(']');
    if has_port {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    }
}

fn auth_hosts(addr: SocketAddr, public_url: &str) -> Vec<String> {
    let mut hosts = vec![addr.to_string()];
    if addr.ip().is_loopback() {
        hosts.push(format!("localhost:{}", addr.port()));
    }
    if !public_url.is_empty() {
        hosts.push(authority(public_url));
    }
    hosts
}

/// An event for the writer, and where its verdict goes.
pub(crate) type WriteJob = (store::Prepared, oneshot::Sender<Result<Inserted, String>>);

/// Events waiting for the writer; past it, connections wait to hand theirs over.
const WRITE_QUEUE: usize = 4096;
/// Most events one write takes.
const WRITE_BATCH: usize = 256;

/// The store's one writer: takes every event waiting and writes them in one
/// atomic batch ([`RelayStore::insert_prepared`]), then answers each. Ends
/// when the relay's last sender is gone.
fn write_loop(store: &RelayStore, mut jobs: mpsc::Receiver<WriteJob>) {
    let mut events = Vec::with_capacity(WRITE_BATCH);
    let mut replies = Vec::with_capacity(WRITE_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        let mut next = Some(first);
        while let Some((event, reply)) = next.take() {
            events.push(event);
            replies.push(reply);
            if events.len() < WRITE_BATCH {
                next = jobs.try_recv().ok();
            }
        }
        match store.insert_prepared(std::mem::take(&mut events), Timestamp::now()) {
            Ok(verdicts) => {
                for (reply, v) in replies.drain(..).zip(verdicts) {
                    let _ = reply.send(Ok(v));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "writing nostr events failed");
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// Removes expired events every few seconds (NIP-40: they are never served
/// either way; this frees their space).
async fn purge_loop(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        shared.limiters.forget_idle();
        let s = shared.clone();
        let purged =
            tokio::task::spawn_blocking(move || s.store.purge_expired(Timestamp::now())).await;
        match purged {
            Ok(Ok(n)) if n > 0 => tracing::debug!(n, "purged expired nostr events"),
            Ok(Err(e)) => tracing::warn!(error = %e, "purging expired nostr events failed"),
            _ => {}
        }
    }
}

/// `GET /`: a WebSocket upgrade, the NIP-11 document for
/// `Accept: application/nostr+json`, else a line of text.
async fn root(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Ok(ws) = ws {
        if shared.connections.load(Ordering::Relaxed) >= shared.config.max_connections {
            return (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "too many connections",
            )
                .into_response();
        }
        let limit = shared.config.max_message_bytes;
        return ws
            .max_message_size(limit)
            .max_frame_size(limit)
            .read_buffer_size(4096)
            .write_buffer_size(0)
            .max_write_buffer_size(shared.config.max_connection_buffer_bytes.max(limit))
            .on_upgrade(move |socket| conn::run(shared, socket, peer.ip()))
            .into_response();
    }
    let wants_info = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/nostr+json"));
    let cors = [
        (
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ),
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("*"),
        ),
    ];
    if wants_info {
        let body = config::information(&shared.config);
        (
            cors,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/nostr+json"),
            )],
            body.to_string(),
        )
            .into_response()
    } else {
        (
            cors,
            "This is a Kith node's Nostr relay. Connect with a Nostr client over WebSocket.\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn relay_urls_reduce_to_their_authority() {
        use super::authority;
        assert_eq!(authority("ws://127.0.0.1:7418/"), "127.0.0.1:7418");
        assert_eq!(
            authority("wss://Relay.Example.org"),
            "relay.example.org:443"
        );
        assert_eq!(authority("ws://example.org/path?q"), "example.org:80");
        assert_eq!(authority("ws://[::1]:7418"), "[::1]:7418");
        assert_eq!(authority("ws://[::1]"), "[::1]:80");
    }
}
