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

#[derive(serde::Deserialize)]
struct TrendingTag {
    tag: String,
    authors: u64,
    previous_authors: u64,
}

#[derive(serde::Deserialize)]
struct TrendingView {
    items: Vec<TrendingTag>,
}

/// `kith trending`.
pub(crate) async fn trending(ctx: &Ctx<'_>, window: &str, limit: u32) -> anyhow::Result<()> {
    let value = ctx.client.trending(window, limit).await?;
    if ctx.json {
        return ctx.print_json(&value);
    }
    let view: TrendingView = parse(&value)?;
    if view.items.is_empty() {
        return ctx.say(&ctx.msg("trending-none", &[]));
    }
    let lines: Vec<String> = view
        .items
        .iter()
        .map(|t| {
            ctx.m.get_n(
                "trending-line",
                &[("tag", &t.tag)],
                &[("authors", t.authors), ("previous", t.previous_authors)],
            )
        })
        .collect();
    ctx.say(&lines.join("\n"))
}
