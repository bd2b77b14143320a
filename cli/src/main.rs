//! `kith`: run a Kith node and drive it from the terminal.
//!
//! The binary is thin: it parses arguments and calls the library crates.
//! What it prints for people comes from the catalogs in `locales/` (see
//! [`i18n`]); `--json` output is for programs and is the same in every language.

mod i18n;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kith_node::data_dir::{self, DataDirError};
use kith_node::identity::{self, IdentityError};

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
    /// Start the node. Today: load or create the identity and print it;
    /// networking, storage and the gateway arrive with the node milestone.
    Up,
    /// Print this node's identity.
    Id,
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
    let (key, created) = identity::load_or_create(&dir)?;
    let mut out = std::io::stdout().lock();
    let public = key.public().to_string();
    let path = dir.display().to_string();
    if cli.json {
        let value = serde_json::json!({
            "identity": public,
            "data_dir": dir,
            "created": created,
            "running": false,
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
        Command::Up => {
            let line = if created { "identity-new" } else { "identity" };
            writeln!(out, "{}", m.get(line, &id))?;
            writeln!(out, "{}", m.get("data-dir", &[("path", &path)]))?;
            writeln!(out, "{}", m.get("up-not-running", &[]))?;
        }
    }
    Ok(())
}
