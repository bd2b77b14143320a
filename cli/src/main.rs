//! `kith`: run a Kith node and drive it from the terminal.
//!
//! The binary is thin: it parses arguments and calls the library crates.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kith_node::{data_dir, identity};

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
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`kith id | head -c1`) is not an error worth a message.
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("kith: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let dir = data_dir::resolve(cli.data_dir.as_deref())?;
    let (key, created) = identity::load_or_create(&dir)?;
    let mut out = std::io::stdout().lock();
    let public = key.public().to_string();
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
    match cli.command {
        Command::Init if created => {
            writeln!(out, "created identity {public}\ndata dir {}", dir.display())?
        }
        Command::Init => writeln!(
            out,
            "identity {public} already exists\ndata dir {}",
            dir.display()
        )?,
        Command::Id => writeln!(out, "{public}")?,
        Command::Up => {
            writeln!(
                out,
                "identity {public}{}",
                if created { " (new)" } else { "" }
            )?;
            writeln!(out, "data dir {}", dir.display())?;
            writeln!(
                out,
                "networking, storage and the gateway are not implemented yet; nothing is running"
            )?;
        }
    }
    Ok(())
}
