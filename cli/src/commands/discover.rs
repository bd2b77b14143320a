//! `kith suggest` (people to follow, with why) and `kith stats` (creator
//! statistics per day, with a bar chart of the engagement received).

use clap::builder::NonEmptyStringValueParser;
use serde::Deserialize;

use super::Ctx;
use crate::client::parse;

/// `kith suggest`.
#[derive(Debug, clap::Args)]
pub(crate) struct SuggestArgs {
    /// How many people (1 to 100).
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    limit: u32,
}

/// `kith stats`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatsArgs {
    /// UTC days ending today (1 to 365).
    #[arg(long, value_name = "N", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    days: u32,
    /// Whose statistics (`kith1…`; default: yours, with story views).
    #[arg(value_name = "KEY", value_parser = NonEmptyStringValueParser::new())]
    key: Option<String>,
}

#[derive(Deserialize)]
struct Suggestion {
    identity: String,
    name: String,
    #[serde(default)]
    followers: u64,
    #[serde(default)]
    summary: Vec<String>,
}

#[derive(Deserialize)]
struct Suggestions {
    items: Vec<Suggestion>,
}

/// `kith suggest`: one person a line, then why, indented.
pub(crate) async fn suggest(ctx: &Ctx<'_>, args: &SuggestArgs) -> anyhow::Result<()> {
    let value = ctx.client.suggestions(args.limit, ctx.m.code()).await?;
    if ctx.json {
        return ctx.print_json(&value);
    }
    let found: Suggestions = parse(&value)?;
    if found.items.is_empty() {
        return ctx.say(&ctx.msg("suggest-none", &[]));
    }
    let mut lines = Vec::new();
    for s in &found.items {
        lines.push(ctx.m.get_n(
            "suggest-line",
            &[("name", &s.name), ("key", &s.identity)],
            &[("followers", s.followers)],
        ));
        lines.extend(s.summary.iter().map(|r| format!("  · {r}")));
    }
    ctx.say(&lines.join("\n"))
}

#[derive(Deserialize, Default)]
struct Reactions {
    like: u64,
    love: u64,
    haha: u64,
    wow: u64,
    sad: u64,
    angry: u64,
}

impl Reactions {
    fn total(&self) -> u64 {
        self.like + self.love + self.haha + self.wow + self.sad + self.angry
    }
}

#[derive(Deserialize)]
struct Counts {
    #[serde(default)]
    date: String,
    posts: u64,
    reactions: Reactions,
    replies: u64,
    reposts: u64,
    quotes: u64,
    new_followers: u64,
    lost_followers: u64,
    story_views: Option<u64>,
    #[serde(default)]
    followers: u64,
}

impl Counts {
    fn engagement(&self) -> u64 {
        self.reactions.total() + self.replies + self.reposts + self.quotes
    }
}

#[derive(Deserialize)]
struct TopPost {
    id: String,
    text: String,
    engagement: u64,
}

#[derive(Deserialize)]
struct Report {
    days: Vec<Counts>,
    totals: Counts,
    top_posts: Vec<TopPost>,
}

/// Widest bar of the chart, in cells.
const BAR: u64 = 30;

/// A bar of `n` out of `max`, in eighths of a cell.
fn bar(n: u64, max: u64) -> String {
    const PARTS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    if n == 0 || max == 0 {
        return String::new();
    }
    let eighths = n.min(max).saturating_mul(BAR * 8).div_ceil(max).max(1);
    let mut s = "█".repeat((eighths / 8) as usize);
    if let Some(part) = (eighths % 8).checked_sub(1) {
        s.extend(PARTS.get(part as usize));
    }
    s
}

/// `kith stats`: the period's totals, a bar chart of the engagement
/// received per day, and the top posts.
pub(crate) async fn stats(ctx: &Ctx<'_>, args: &StatsArgs) -> anyhow::Result<()> {
    let value = ctx.client.stats(args.key.as_deref(), args.days).await?;
    if ctx.json {
        return ctx.print_json(&value);
    }
    let r: Report = parse(&value)?;
    let t = &r.totals;
    let mut lines = vec![ctx.m.get_n(
        "stats-totals",
        &[],
        &[
            ("days", r.days.len() as u64),
            ("posts", t.posts),
            ("reactions", t.reactions.total()),
            ("replies", t.replies),
            ("reposts", t.reposts + t.quotes),
        ],
    )];
    lines.push(ctx.m.get_n(
        "stats-followers",
        &[],
        &[
            ("followers", t.followers),
            ("gained", t.new_followers),
            ("lost", t.lost_followers),
        ],
    ));
    if let Some(views) = t.story_views {
        lines.push(ctx.m.get_n("stats-story-views", &[], &[("views", views)]));
    }
    let max = r.days.iter().map(Counts::engagement).max().unwrap_or(0);
    lines.push(String::new());
    if max == 0 {
        lines.push(ctx.msg("stats-quiet", &[]));
    } else {
        lines.push(ctx.msg("stats-chart", &[]));
        for d in &r.days {
            let n = d.engagement();
            lines.push(format!("{} {:>5} {}", d.date, n, bar(n, max)));
        }
    }
    if !r.top_posts.is_empty() {
        lines.push(String::new());
        lines.push(ctx.msg("stats-top", &[]));
        for p in &r.top_posts {
            let text: String = p.text.replace('\n', " ").chars().take(60).collect();
            lines.push(ctx.m.get_n(
                "stats-top-line",
                &[("text", &text), ("id", &p.id)],
                &[("engagement", p.engagement)],
            ));
        }
    }
    ctx.say(&lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn bars_scale_to_the_widest() {
        assert_eq!(bar(0, 10), "");
        assert_eq!(bar(10, 10), "█".repeat(30));
        assert_eq!(bar(5, 10), "█".repeat(15));
        // Anything above zero shows.
        assert_eq!(bar(1, 1_000_000), "▏");
    }
}
