//! `kith notifications`: your notification groups ("Ana and 3 others
//! reacted to your post"), newest first, or mark them all read.

use serde::Deserialize;

use super::Ctx;
use crate::client::parse;
use crate::display;

/// `kith notifications`.
#[derive(Debug, clap::Args)]
pub(crate) struct NotificationsArgs {
    /// Only the unread ones.
    #[arg(long)]
    unread: bool,
    /// Mark everything read (up to now) instead of listing.
    #[arg(long, conflicts_with_all = ["unread", "limit"])]
    read_all: bool,
    /// How many groups (1 to 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    limit: Option<u32>,
}

#[derive(Deserialize)]
struct Actor {
    identity: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Group {
    #[serde(rename = "type")]
    ty: String,
    actors: Vec<Actor>,
    actor_count: u64,
    #[serde(default)]
    reactions: Option<std::collections::BTreeMap<String, u64>>,
    latest_at: u64,
    read: bool,
}

#[derive(Deserialize)]
struct Page {
    groups: Vec<Group>,
    unread_count: u64,
}

#[derive(Deserialize)]
struct ReadResult {
    unread_count: u64,
}

/// Reaction types in the order people see them.
const REACTIONS: [&str; 6] = ["like", "love", "haha", "wow", "sad", "angry"];

/// `kith notifications [--unread] [--read-all] [--limit N]`.
pub(crate) async fn notifications(ctx: &Ctx<'_>, args: &NotificationsArgs) -> anyhow::Result<()> {
    if args.read_all {
        let value = ctx.client.read_all_notifications().await?;
        if ctx.json {
            return ctx.print_json(&value);
        }
        let r: ReadResult = parse(&value)?;
        return ctx.say(
            &ctx.m
                .get_n("notify-read-all", &[], &[("count", r.unread_count)]),
        );
    }
    let value = ctx
        .client
        .notifications(args.unread, args.limit.unwrap_or(20))
        .await?;
    if ctx.json {
        return ctx.print_json(&value);
    }
    let page: Page = parse(&value)?;
    if page.groups.is_empty() {
        return ctx.say(&ctx.msg("notify-none", &[]));
    }
    let mut lines = vec![
        ctx.m
            .get_n("notify-unread", &[], &[("count", page.unread_count)]),
    ];
    for g in &page.groups {
        lines.push(line(ctx, g));
    }
    ctx.say(&lines.join("\n"))
}

/// One group: `● Ana and 3 others reacted to your post · like 2 · love 2 · <time>`.
fn line(ctx: &Ctx<'_>, g: &Group) -> String {
    let who = g.actors.first().map_or_else(String::new, |a| {
        a.name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| display::short(&a.identity))
    });
    let others = g.actor_count.saturating_sub(1);
    let id = format!("notify-{}", g.ty.replace('_', "-"));
    let mut text = ctx.m.get_n(&id, &[("who", &who)], &[("others", others)]);
    if text == id {
        // A type this version does not know yet.
        text = ctx.m.get_n(
            "notify-other",
            &[("who", &who), ("type", &g.ty)],
            &[("others", others)],
        );
    }
    let mut parts = vec![format!("{} {text}", if g.read { " " } else { "●" })];
    if let Some(counts) = &g.reactions {
        for r in REACTIONS {
            if let Some(n) = counts.get(r).filter(|n| **n > 0) {
                parts.push(format!("{r} {n}"));
            }
        }
    }
    parts.push(display::time(g.latest_at));
    parts.join(" · ")
}
