//! `kith-testnet`: many Kith nodes as separate processes on loopback.
//!
//! ```text
//! cargo run --release -p kith-testnet -- run --nodes 20        # workload + delivery report
//! cargo run --release -p kith-testnet -- partition --nodes 10  # split, post on both sides, heal
//! ```
//!
//! Each node is this same binary started as `kith-testnet node`: a real
//! `kith_node::Node` (its own data dir, store, libp2p host on 127.0.0.1)
//! that takes commands as JSON lines on stdin and answers on stdout. The
//! driver generates the topology and workload, collects what each node
//! stored and when, and prints the report. Everything runs on loopback,
//! is bounded in count and time, and is torn down at the end.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod driver;
mod role;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "Kith testnet: many nodes on loopback, one command")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start N nodes, let identities follow each other and post, report delivery.
    Run(driver::RunArgs),
    /// Split the nodes in two groups, post on both sides, heal, time convergence.
    Partition(driver::PartitionArgs),
    /// One node, driven over stdin/stdout (started by the driver).
    #[command(hide = true)]
    Node(role::NodeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Run(args) => driver::run(args).await,
            Command::Partition(args) => driver::partition(args).await,
            Command::Node(args) => role::node(args).await,
        }
    })
}
