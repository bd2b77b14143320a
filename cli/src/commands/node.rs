//! `kith peers`.

use serde::Deserialize;

use super::Ctx;
use crate::client::parse;

#[derive(Deserialize)]
struct Peers {
    peers: Vec<String>,
}

/// `kith peers`: the peer ids with an open connection, one a line.
pub(crate) async fn peers(ctx: &Ctx<'_>) -> anyhow::Result<()> {
    let value = ctx.client.peers().await?;
    if ctx.json {
        return ctx.print_json(&value);
    }
    let peers: Peers = parse(&value)?;
    if peers.peers.is_empty() {
        return ctx.say(&ctx.msg("peers-none", &[]));
    }
    ctx.say(&peers.peers.join("\n"))
}
