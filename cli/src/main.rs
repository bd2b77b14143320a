//! `kith`: run a Kith node and drive it from the terminal.
//!
//! The binary is thin: it parses arguments and calls the library crates.
//! `kith init` and `kith up` work on the data directory and run the node;
//! every other command talks to a running node through its gateway's HTTP
//! API ([`client`], [`commands`]), so the same commands drive a node on this
//! machine (found through `<data dir>/gateway.url` and its admin token) or
//! one hosted elsewhere (`--node URL --token TOKEN`). What it prints for
//! people comes from the catalogs in `locales/` (see [`i18n`]); `--json`
//! output is the API's JSON, for programs, the same in every language.
//!
//! Exit statuses (also in `kith --help`):
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other error (files, configuration, an answer that is not the API's) |
//! | 2 | usage: unknown command, missing or malformed argument (clap) |
//! | 3 | cannot reach the node (nothing listens there, unknown host, timeout) |
//! | 4 | unauthorised or forbidden (401, 403): no token, a bad one, or not allowed |
//! | 5 | not found (404): no such event, thread, delegation…, or no reaction of yours to remove |
//! | 6 | refused by the node (any other 4xx): malformed key or id, invalid field… |
//! | 7 | the node failed (5xx) |

mod client;
mod commands;
mod display;
mod i18n;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use kith_node::config::{Config, ConfigError, LogFormat};
use kith_node::data_dir::{self, DataDirError};
use kith_node::identity::{self, IdentityError};
use kith_node::node::{Node, StartOptions};
use reqwest::Url;

use crate::client::{ClientError, Exit, GatewayUrlFile};
use crate::i18n::Messages;

/// The exit statuses, as `kith --help` shows them.
const EXIT_STATUSES: &str = "\
Exit status:
  0  success
  1  any other error
  2  usage: unknown command, missing or malformed argument
  3  cannot reach the node
  4  unauthorised or forbidden by the node (HTTP 401, 403)
  5  not found on the node (HTTP 404), or no reaction of yours to remove
  6  refused by the node (any other HTTP 4xx)
  7  the node failed (HTTP 5xx)";

/// Kith: decentralized social node software.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None, after_long_help = EXIT_STATUSES)]
struct Cli {
    /// Data directory (default: $KITH_DATA_DIR, then the platform data directory).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Language of messages: en or es (default: $KITH_LANG, then $LC_ALL, $LC_MESSAGES, $LANG).
    #[arg(long, global = true, value_name = "LANG")]
    lang: Option<String>,
    /// The node's gateway (default: the URL `kith up` writes in <data dir>/gateway.url,
    /// else http://127.0.0.1:7417).
    #[arg(long, global = true, env = "KITH_NODE", value_name = "URL",
        value_parser = client::parse_node_url)]
    node: Option<Url>,
    /// Bearer token: a session token, or the admin token (default: the data
    /// dir's admin.token, sent only to that node or to one on this machine).
    #[arg(
        long,
        global = true,
        env = "KITH_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the data directory and this node's identity, without starting.
    Init,
    /// Start the node and run until Ctrl-C or SIGTERM.
    Up(UpArgs),
    #[command(flatten)]
    Remote(commands::Remote),
}

#[derive(Debug, clap::Args)]
struct UpArgs {
    /// Config file (default: <data dir>/kith.toml if it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen address (repeatable); replaces the configured ones.
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<String>,
    /// Peer to dial at start (repeatable), ending in /p2p/<peer id>.
    #[arg(long, value_name = "MULTIADDR")]
    bootstrap: Vec<String>,
    /// Do not discover peers on the local network.
    #[arg(long)]
    no_mdns: bool,
    /// Log format: human or json.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Gateway address, host:port (default 127.0.0.1:7417; port 0 picks one).
    #[arg(long, value_name = "ADDR")]
    gateway: Option<String>,
    /// Do not serve the HTTP gateway.
    #[arg(long)]
    no_gateway: bool,
    /// Nostr relay address, host:port (default 127.0.0.1:7418; port 0 picks one).
    #[arg(long, value_name = "ADDR")]
    relay: Option<String>,
    /// Do not serve the Nostr relay.
    #[arg(long)]
    no_relay: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let messages = Messages::new(i18n::detect(cli.lang.as_deref()));
    match run(&cli, &messages) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`kith id | head -c1`) is not an error worth a message.
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("kith: {}", describe(&e, &messages));
            let exit = if e.downcast_ref::<commands::NoLiveReaction>().is_some() {
                // Nothing of yours to delete there: not found, as a 404 would be.
                Exit::NotFound
            } else {
                e.chain()
                    .find_map(|c| c.downcast_ref::<ClientError>())
                    .map_or(Exit::Other, ClientError::exit)
            };
            ExitCode::from(exit as u8)
        }
    }
}

/// One line, in the reader's language, for the errors people can act on.
fn describe(e: &anyhow::Error, m: &Messages) -> String {
    if let Some(DataDirError::NoDefault) = e.downcast_ref::<DataDirError>() {
        return m.get("error-no-data-dir", &[]);
    }
    match e.downcast_ref::<ClientError>() {
        // The node's own sentence and code: `kith: <message> (<code>)`.
        Some(api @ ClientError::Api { .. }) => return api.to_string(),
        Some(ClientError::Unreachable { url, cause }) => {
            return m.get("error-unreachable", &[("url", url), ("cause", cause)]);
        }
        Some(ClientError::BadResponse { status, cause }) => {
            let status = status.to_string();
            return m.get(
                "error-bad-response",
                &[("status", &status), ("cause", cause)],
            );
        }
        None => {}
    }
    if let Some(commands::NoLiveReaction { target }) = e.downcast_ref() {
        return m.get("error-no-reaction", &[("target", target)]);
    }
    if let Some(c) = e.downcast_ref::<ConfigError>() {
        return m.get("error-config", &[("cause", &c.to_string())]);
    }
    match e.downcast_ref::<IdentityError>() {
        Some(IdentityError::Io { path, source }) => {
            let path = path.display().to_string();
            let cause = source.to_string();
            m.get("error-cannot-access", &[("path", &path), ("cause", &cause)])
        }
        Some(IdentityError::Invalid { path, source }) => {
            let path = path.display().to_string();
            let cause = source.to_string();
            m.get("error-bad-key", &[("path", &path), ("cause", &cause)])
        }
        _ => m.get("error-other", &[("error", &format!("{e:#}"))]),
    }
}

fn run(cli: &Cli, m: &Messages) -> anyhow::Result<()> {
    match &cli.command {
        Command::Init => init(cli, m),
        Command::Up(args) => up(cli, args, &data_dir::resolve(cli.data_dir.as_deref())?, m),
        Command::Remote(command) => {
            let dir = data_dir::resolve(cli.data_dir.as_deref()).ok();
            let settings = commands::Settings {
                json: cli.json,
                node: cli.node.as_ref(),
                token: cli.token.as_deref(),
                data_dir: dir.as_deref(),
            };
            commands::run(command, &settings, m)
        }
    }
}

fn init(cli: &Cli, m: &Messages) -> anyhow::Result<()> {
    let dir = data_dir::resolve(cli.data_dir.as_deref())?;
    let (key, created) = identity::load_or_create(&dir)?;
    let mut out = std::io::stdout().lock();
    let public = key.public().to_string();
    let path = dir.display().to_string();
    if cli.json {
        let value = serde_json::json!({
            "identity": public,
            "data_dir": dir,
            "created": created,
        });
        writeln!(out, "{value}")?;
        return Ok(());
    }
    let id = [("identity", public.as_str())];
    let line = if created {
        "identity-created"
    } else {
        "identity-exists"
    };
    writeln!(out, "{}", m.get(line, &id))?;
    writeln!(out, "{}", m.get("data-dir", &[("path", &path)]))?;
    Ok(())
}

/// The configuration: file, then `KITH_*` variables, then flags.
fn config(args: &UpArgs, dir: &Path) -> anyhow::Result<Config> {
    let mut config = Config::load(dir, args.config.as_deref())?;
    let addrs = |name: &str, given: &[String]| {
        given
            .iter()
            .map(|a| {
                a.parse().map_err(|_| ConfigError::Env {
                    var: name.into(),
                    message: format!("{a}: not a multiaddr"),
                })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    if !args.listen.is_empty() {
        config.network.listen = addrs("--listen", &args.listen)?;
    }
    if !args.bootstrap.is_empty() {
        config.network.bootstrap = addrs("--bootstrap", &args.bootstrap)?;
    }
    if args.no_mdns {
        config.network.mdns = false;
    }
    if let Some(g) = &args.gateway {
        config.gateway.listen = g.parse().map_err(|_| ConfigError::Env {
            var: "--gateway".into(),
            message: format!("{g}: expected host:port"),
        })?;
    }
    if args.no_gateway {
        config.gateway.enabled = false;
    }
    if let Some(r) = &args.relay {
        config.relay.listen = r.parse().map_err(|_| ConfigError::Env {
            var: "--relay".into(),
            message: format!("{r}: expected host:port"),
        })?;
    }
    if args.no_relay {
        config.relay.enabled = false;
    }
    match args.log_format.as_deref() {
        None => {}
        Some("human") => config.log.format = LogFormat::Human,
        Some("json") => config.log.format = LogFormat::Json,
        Some(other) => {
            return Err(ConfigError::Env {
                var: "--log-format".into(),
                message: format!("{other}: expected human or json"),
            }
            .into());
        }
    }
    Ok(config)
}

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn up(cli: &Cli, args: &UpArgs, dir: &Path, m: &Messages) -> anyhow::Result<()> {
    let config = config(args, dir)?;
    init_logs(&config);
    let (_, created) = identity::load_or_create(dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kith")
        .build()?;
    runtime.block_on(async {
        let node = Arc::new(Node::start(dir, &config, StartOptions::default()).await?);
        let gateway = if config.gateway.enabled {
            Some(kith_gateway::serve(node.clone(), &config.gateway).await?)
        } else {
            None
        };
        let gateway_url = gateway.as_ref().map(kith_gateway::RunningGateway::url);
        // One Nostr store, served by the relay and filled by the bridge.
        let nostr_store = if config.relay.enabled || config.nostr.enabled {
            Some(Arc::new(kith_relay::RelayStore::open(
                &dir.join(kith_relay::RELAY_DIR),
            )?))
        } else {
            None
        };
        let relay = match &nostr_store {
            Some(store) if config.relay.enabled => Some(
                kith_relay::Relay::start_with_store(store.clone(), config.relay.clone()).await?,
            ),
            _ => None,
        };
        let bridge = match &nostr_store {
            Some(store) if config.nostr.enabled => {
                let bridge = kith_relay::bridge::Bridge::start(
                    node.store().clone(),
                    store.clone(),
                    dir,
                    config.nostr.clone(),
                    gateway_url.as_deref(),
                )?;
                node.set_bridge(bridge.clone())?;
                Some(bridge)
            }
            _ => None,
        };
        let relay_url = relay.as_ref().map(kith_relay::Relay::url);
        // Where `kith` commands find this node; removed when it stops.
        let url_file = match &gateway {
            Some(g) => Some(GatewayUrlFile::write(dir, g.addr)?),
            None => None,
        };
        let stop = StopSignals::install()?;
        let mut out = std::io::stdout().lock();
        let public = node.identity().public().to_string();
        let listen: Vec<String> = node
            .listen_addrs()
            .iter()
            .map(ToString::to_string)
            .collect();
        if cli.json {
            let value = serde_json::json!({
                "event": "started",
                "identity": public,
                "created": created,
                "peer_id": node.peer_id().to_string(),
                "listen": listen,
                "gateway": gateway_url,
                "relay": relay_url,
                "data_dir": dir,
            });
            writeln!(out, "{value}")?;
        } else {
            let line = if created { "identity-new" } else { "identity" };
            writeln!(out, "{}", m.get(line, &[("identity", &public)]))?;
            writeln!(
                out,
                "{}",
                m.get("data-dir", &[("path", &dir.display().to_string())])
            )?;
            writeln!(
                out,
                "{}",
                m.get("up-peer-id", &[("peer", &node.peer_id().to_string())])
            )?;
            for a in &listen {
                writeln!(out, "{}", m.get("up-listening", &[("addr", a)]))?;
            }
            if let Some(url) = &gateway_url {
                writeln!(out, "{}", m.get("up-gateway", &[("url", url)]))?;
            }
            if let Some(url) = &relay_url {
                writeln!(out, "{}", m.get("up-relay", &[("url", url)]))?;
            }
            writeln!(out, "{}", m.get("up-running", &[]))?;
        }
        out.flush()?;
        drop(out);
        stop.wait().await?;
        if !cli.json {
            eprintln!("{}", m.get("up-stopping", &[]));
        }
        if let Some(g) = gateway {
            g.stop().await;
        }
        if let Some(b) = bridge {
            b.shutdown().await;
        }
        if let Some(r) = relay {
            r.shutdown().await;
        }
        drop(nostr_store);
        drop(url_file);
        // The stopped gateway holds no reference to the node any more.
        let node = Arc::try_unwrap(node)
            .map_err(|_| anyhow::anyhow!("the node is still in use after the gateway stopped"))?;
        node.shutdown().await?;
        let mut out = std::io::stdout().lock();
        if cli.json {
            writeln!(out, "{}", serde_json::json!({"event": "stopped"}))?;
        } else {
            writeln!(out, "{}", m.get("up-stopped", &[]))?;
        }
        Ok(())
    })
}

/// SIGTERM and SIGINT, caught from the moment this is made: made before
/// the node says it started, so a signal sent as soon as it reads that
/// stops it cleanly instead of killing it.
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    async fn wait(mut self) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.int.recv() => {}
            }
            Ok(())
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await
        }
    }
}
