//! `kith`: run a Kith node and drive it from the terminal.
//!
//! The binary is thin: it parses arguments and calls the library crates.
//! What it prints for people comes from the catalogs in `locales/` (see
//! [`i18n`]); `--json` output is for programs and is the same in every language.

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

use crate::i18n::Messages;

/// Kith: decentralized social node software.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
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
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the data directory and this node's identity, without starting.
    Init,
    /// Start the node and run until Ctrl-C or SIGTERM.
    Up(UpArgs),
    /// Print this node's identity.
    Id,
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
            ExitCode::FAILURE
        }
    }
}

/// One line, in the reader's language, for the errors people can act on.
fn describe(e: &anyhow::Error, m: &Messages) -> String {
    if let Some(DataDirError::NoDefault) = e.downcast_ref::<DataDirError>() {
        return m.get("error-no-data-dir", &[]);
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
    let dir = data_dir::resolve(cli.data_dir.as_deref())?;
    if let Command::Up(args) = &cli.command {
        return up(cli, args, &dir, m);
    }
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
    match cli.command {
        Command::Init => {
            let line = if created {
                "identity-created"
            } else {
                "identity-exists"
            };
            writeln!(out, "{}", m.get(line, &id))?;
            writeln!(out, "{}", m.get("data-dir", &[("path", &path)]))?;
        }
        Command::Id => writeln!(out, "{public}")?,
        Command::Up(_) => {}
    }
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
            writeln!(out, "{}", m.get("up-running", &[]))?;
        }
        out.flush()?;
        drop(out);
        wait_for_signal().await?;
        if !cli.json {
            eprintln!("{}", m.get("up-stopping", &[]));
        }
        if let Some(g) = gateway {
            g.stop().await;
        }
        // Live WebSocket tasks may hold the node a moment longer.
        let mut node = node;
        let node = loop {
            match Arc::try_unwrap(node) {
                Ok(n) => break n,
                Err(shared) => {
                    node = shared;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        };
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

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
