//! `kith post`, `show`, `timeline`, `home` and `thread`.

use std::io::IsTerminal;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use indicatif::{ProgressBar, ProgressStyle};
use kith_node::protocol::hashtag;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, written};
use crate::client::{ClientError, PageQuery, parse};
use crate::display::{self, EventView, IdentityView};

/// Items per page when walking every page.
const ALL_PAGE: u32 = 200;

/// What to publish.
#[derive(Debug, clap::Args)]
pub(crate) struct PostArgs {
    /// The text. Its hashtags (`#kith`) are found and tagged.
    #[arg(value_name = "TEXT")]
    text: String,
    /// Reply to this event (a post, a reply or a quote).
    #[arg(long, value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    reply_to: Option<String>,
    /// Tag with a hashtag the text does not show (repeatable).
    #[arg(long = "hashtag", value_name = "TAG", value_parser = parse_hashtag)]
    hashtags: Vec<String>,
    /// Attach a picture, clip or sound (repeatable, up to 10): uploaded,
    /// processed, then posted with its thumbnails and renditions.
    #[arg(long = "media", value_name = "FILE")]
    media: Vec<std::path::PathBuf>,
}

/// A hashtag in its normalised form, or why it cannot be one.
fn parse_hashtag(text: &str) -> Result<String, String> {
    hashtag::normalize(text).ok_or_else(|| {
        "not a hashtag: 1 to 64 letters, digits, marks or _, and not only digits".to_string()
    })
}

/// Paging of a listing.
#[derive(Debug, clap::Args)]
pub(crate) struct PageArgs {
    /// Items per page, 1 to 500 (default: 50; 200 with --all).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    limit: Option<u32>,
    /// Continue from a previous page (its `next`).
    #[arg(long, value_name = "CURSOR")]
    cursor: Option<String>,
    /// Walk every page to the end (with --json: one document with every item).
    #[arg(long)]
    all: bool,
}

/// `kith home`.
#[derive(Debug, clap::Args)]
pub(crate) struct HomeArgs {
    #[command(flatten)]
    page: PageArgs,
    /// Ranked by your weights instead of newest first.
    #[arg(long)]
    ranked: bool,
    /// With --ranked: say under each item why it is there.
    #[arg(long, requires = "ranked")]
    explain: bool,
    /// With --ranked: a feature's weight, 0 to 10 (hashtags, author,
    /// engagement, freshness, media), e.g. `--weight author=0.9`.
    #[arg(long, value_name = "FEATURE=W", requires = "ranked", value_parser = parse_weight)]
    weight: Vec<(String, f64)>,
}

fn parse_weight(s: &str) -> Result<(String, f64), String> {
    const FEATURES: [&str; 5] = ["hashtags", "author", "engagement", "freshness", "media"];
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected FEATURE=W, e.g. author=0.9, not {s}"))?;
    let name = name.trim();
    if !FEATURES.contains(&name) {
        return Err(format!(
            "unknown feature {name}; one of {}",
            FEATURES.join(", ")
        ));
    }
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value} is not a number"))?;
    if !(0.0..=10.0).contains(&value) {
        return Err(format!("{value} is outside 0 to 10"));
    }
    Ok((name.to_string(), value))
}

/// Whose timeline.
#[derive(Debug, clap::Args)]
pub(crate) struct TimelineArgs {
    /// The author (`kith1…`); default: you.
    #[arg(value_name = "AUTHOR", value_parser = NonEmptyStringValueParser::new())]
    author: Option<String>,
    /// Include replies.
    #[arg(long)]
    replies: bool,
    #[command(flatten)]
    page: PageArgs,
}

/// Which thread.
#[derive(Debug, clap::Args)]
pub(crate) struct ThreadArgs {
    /// Any event of the thread: its first post or a reply in it.
    #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    id: String,
    /// Replies per page, 1 to 500 (default 50).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=500))]
    limit: Option<u32>,
    /// Continue after this reply (a previous page's `next`, read with the
    /// same --sort and --depth).
    #[arg(long, value_name = "ID")]
    after: Option<String>,
    /// Order of replies among siblings: oldest (default), newest, or
    /// reactions (most reacted first).
    #[arg(long, value_name = "SORT", value_parser = ["oldest", "newest", "reactions"])]
    sort: Option<String>,
    /// List replies down to this depth, 1 to 100 (default: the node's, 8);
    /// deeper ones are counted under the last reply shown.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    depth: Option<u32>,
    /// Given a reply, show only the replies below it, with it on top (how
    /// to read the "more replies" of a trimmed thread).
    #[arg(long)]
    from_here: bool,
}

/// `kith post`: a post, or a reply whose `root` is the thread's first post
/// and whose `parent` is the event answered (specs/kinds.md, Reply).
pub(crate) async fn post(ctx: &Ctx<'_>, args: &PostArgs) -> anyhow::Result<()> {
    let mut tags = hashtag::extract(&args.text);
    for tag in &args.hashtags {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    let mut payload = json!({ "text": args.text });
    if !tags.is_empty() {
        payload["tags"] = json!(tags);
    }
    if !args.media.is_empty() {
        let mut descriptors = Vec::with_capacity(args.media.len());
        for file in &args.media {
            let view = super::media::upload(ctx, file, true).await?;
            descriptors.push(view["descriptor"].clone());
        }
        payload["media"] = Value::Array(descriptors);
    }
    let draft = match &args.reply_to {
        None => json!({ "kind": "post", "payload": payload }),
        Some(id) => {
            let parent: EventView = parse(&ctx.client.event(id).await?)?;
            // Answering a reply keeps its thread; anything else starts one.
            let root = match parent.kind.as_str() {
                "reply" => parent.ref_event("root").unwrap_or(&parent.id),
                _ => &parent.id,
            };
            json!({
                "kind": "reply",
                "payload": payload,
                "refs": [
                    { "rel": "root", "event": root },
                    { "rel": "parent", "event": parent.id },
                ],
            })
        }
    };
    let result = ctx.client.publish(&draft).await?;
    if ctx.json {
        return ctx.print_json(&result);
    }
    let (event, outcome) = written(&result)?;
    let line = if args.reply_to.is_some() {
        "reply-published"
    } else {
        "post-published"
    };
    ctx.say(&ctx.msg(line, &[("id", &event.id)]))?;
    if outcome == "pending" {
        ctx.say(&ctx.msg("write-pending", &[]))?;
    }
    Ok(())
}

/// `kith show`: an identity (`kith1…`) or an event.
pub(crate) async fn show(ctx: &Ctx<'_>, id: &str) -> anyhow::Result<()> {
    if id.starts_with("kith1") {
        let value = ctx.client.identity(id).await?;
        if ctx.json {
            return ctx.print_json(&value);
        }
        let view: IdentityView = parse(&value)?;
        return ctx.say(&display::identity(ctx.m, &view));
    }
    let value = ctx.client.event(id).await?;
    if ctx.json {
        return ctx.print_json(&value);
    }
    let event: EventView = parse(&value)?;
    ctx.say(&display::event(ctx.m, &event, ""))
}

/// The identity the token speaks for.
pub(super) async fn my_identity(ctx: &Ctx<'_>) -> Result<String, ClientError> {
    #[derive(Deserialize)]
    struct Me {
        identity: String,
    }
    let me: Me = parse(&ctx.client.me().await?)?;
    Ok(me.identity)
}

/// `kith timeline`.
pub(crate) async fn timeline(ctx: &Ctx<'_>, args: &TimelineArgs) -> anyhow::Result<()> {
    let author = match &args.author {
        Some(a) => a.clone(),
        None => my_identity(ctx).await?,
    };
    walk(ctx, &Listing::Timeline(author), &args.page, args.replies).await
}

/// `kith home`.
pub(crate) async fn home(ctx: &Ctx<'_>, args: &HomeArgs) -> anyhow::Result<()> {
    let listing = if args.ranked {
        let mut extra = vec![
            ("mode", "ranked".to_string()),
            ("lang", ctx.m.code().to_string()),
        ];
        for (name, w) in &args.weight {
            let key = match name.as_str() {
                "hashtags" => "w_hashtags",
                "author" => "w_author",
                "engagement" => "w_engagement",
                "freshness" => "w_freshness",
                _ => "w_media",
            };
            extra.push((key, w.to_string()));
        }
        Listing::Ranked {
            extra,
            explain: args.explain,
        }
    } else {
        Listing::Home
    };
    walk(ctx, &listing, &args.page, false).await
}

/// A listing read page by page.
enum Listing {
    Home,
    Ranked {
        extra: Vec<(&'static str, String)>,
        explain: bool,
    },
    Timeline(String),
}

impl Listing {
    async fn page(&self, ctx: &Ctx<'_>, q: &PageQuery) -> Result<Value, ClientError> {
        match self {
            Listing::Home => ctx.client.home(q).await,
            Listing::Ranked { extra, .. } => {
                let mut q = q.clone();
                q.extra.clone_from(extra);
                ctx.client.home(&q).await
            }
            Listing::Timeline(key) => ctx.client.timeline(key, q).await,
        }
    }
}

#[derive(Deserialize)]
struct Page {
    items: Vec<Value>,
    next: Option<String>,
    seq: u64,
}

/// A spinner on stderr for long work, only for people at a terminal.
fn spinner(ctx: &Ctx<'_>) -> ProgressBar {
    if ctx.json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Reads one page, or with `--all` every page, printing items as they come.
async fn walk(
    ctx: &Ctx<'_>,
    listing: &Listing,
    args: &PageArgs,
    replies: bool,
) -> anyhow::Result<()> {
    let mut query = PageQuery {
        cursor: args.cursor.clone(),
        limit: args.limit.or(args.all.then_some(ALL_PAGE)),
        replies,
        extra: Vec::new(),
    };
    let bar = if args.all {
        spinner(ctx)
    } else {
        ProgressBar::hidden()
    };
    let (mut items, mut first_seq, mut pages, mut count) = (Vec::new(), None, 0u64, 0u64);
    loop {
        let value = listing.page(ctx, &query).await?;
        if ctx.json && !args.all {
            return ctx.print_json(&value);
        }
        let page: Page = parse(&value)?;
        pages += 1;
        count += page.items.len() as u64;
        first_seq.get_or_insert(page.seq);
        if ctx.json {
            items.extend(page.items);
        } else {
            // Kith events, and Nostr notes from the bridge (`origin: nostr`).
            let events = page
                .items
                .iter()
                .map(|item| match item.get("origin").and_then(Value::as_str) {
                    Some("nostr") => Ok(None),
                    _ => parse::<EventView>(item).map(Some),
                })
                .collect::<Result<Vec<_>, _>>()?;
            bar.suspend(|| -> anyhow::Result<()> {
                for (e, item) in events.iter().zip(&page.items) {
                    match e {
                        Some(e) => ctx.say(&display::event(ctx.m, e, ""))?,
                        None => ctx.say(&display::nostr_note(ctx.m, &item["nostr"], ""))?,
                    }
                    if matches!(listing, Listing::Ranked { explain: true, .. }) {
                        for line in item
                            .pointer("/why/summary")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                        {
                            ctx.say(&format!("  · {line}"))?;
                        }
                    }
                    ctx.say("")?;
                }
                Ok(())
            })?;
        }
        bar.set_message(
            ctx.m
                .get_n("progress-pages", &[], &[("pages", pages), ("items", count)]),
        );
        match page.next {
            // A node that hands back the cursor it was given would loop forever.
            Some(next) if args.all && query.cursor.as_ref() != Some(&next) => {
                query.cursor = Some(next);
            }
            Some(next) if !args.all => {
                if count == 0 {
                    ctx.say(&ctx.msg("listing-empty", &[]))?;
                }
                return ctx.say(&ctx.msg("listing-more", &[("cursor", &next)]));
            }
            _ => break,
        }
    }
    bar.finish_and_clear();
    if ctx.json {
        return ctx.print_json(&json!({ "items": items, "next": null, "seq": first_seq }));
    }
    if count == 0 {
        ctx.say(&ctx.msg("listing-empty", &[]))?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct ThreadView {
    root: Option<EventView>,
    replies: Vec<ThreadItem>,
    total: u64,
    next: Option<String>,
}

#[derive(Deserialize)]
struct ThreadItem {
    event: EventView,
    depth: usize,
    /// Replies below it not listed (past the depth asked for).
    #[serde(default)]
    hidden_replies: u64,
}

/// Indentation stops growing past this depth.
const MAX_INDENT: usize = 8;

/// `kith thread`: from any event of the thread, its first post and
/// replies; with `--from-here`, a reply's own subthread.
pub(crate) async fn thread(ctx: &Ctx<'_>, args: &ThreadArgs) -> anyhow::Result<()> {
    // Given a reply, show its whole thread. An event this node lacks may
    // still be the root of replies it has; the thread call says.
    let root = if args.from_here {
        args.id.clone()
    } else {
        match ctx.client.event(&args.id).await {
            Ok(value) => {
                let event: EventView = parse(&value)?;
                match event.kind.as_str() {
                    "reply" => event.ref_event("root").unwrap_or(&event.id).to_string(),
                    _ => event.id,
                }
            }
            // Not here, or deleted: its replies may still be.
            Err(ClientError::Api { status, .. }) if matches!(status.as_u16(), 404 | 410) => {
                args.id.clone()
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut extra = Vec::new();
    if let Some(sort) = &args.sort {
        extra.push(("sort", sort.clone()));
    }
    if let Some(depth) = args.depth {
        extra.push(("depth", depth.to_string()));
    }
    let value = ctx
        .client
        .thread(&root, args.after.as_deref(), args.limit, &extra)
        .await?;
    if ctx.json {
        return ctx.print_json(&value);
    }
    let view: ThreadView = parse(&value)?;
    match &view.root {
        Some(root) => ctx.say(&display::event(ctx.m, root, ""))?,
        None => ctx.say(&ctx.msg("thread-root-missing", &[("id", &root)]))?,
    }
    for reply in &view.replies {
        let indent = "    ".repeat(reply.depth.min(MAX_INDENT));
        ctx.say("")?;
        ctx.say(&display::event(ctx.m, &reply.event, &indent))?;
        if reply.hidden_replies > 0 {
            let below = "    ".repeat((reply.depth + 1).min(MAX_INDENT));
            let line = ctx.m.get_n(
                "thread-hidden",
                &[("id", &reply.event.id)],
                &[("count", reply.hidden_replies)],
            );
            ctx.say(&format!("{below}{line}"))?;
        }
    }
    ctx.say("")?;
    ctx.say(&ctx.m.get_n("thread-total", &[], &[("count", view.total)]))?;
    if let Some(next) = &view.next {
        ctx.say(&ctx.msg("thread-more", &[("after", next)]))?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct PersonHit {
    identity: String,
    name: String,
}

#[derive(Deserialize)]
struct TagHit {
    tag: String,
    posts: u64,
}

#[derive(Deserialize)]
struct SearchResults {
    posts: Vec<EventView>,
    people: Vec<PersonHit>,
    hashtags: Vec<TagHit>,
}

/// `kith search`.
pub(crate) async fn search(
    ctx: &Ctx<'_>,
    query: &str,
    lang: Option<&str>,
    limit: u32,
) -> anyhow::Result<()> {
    let value = ctx.client.search(query, lang, limit).await?;
    if ctx.json {
        return ctx.print_json(&value);
    }
    let found: SearchResults = parse(&value)?;
    if found.posts.is_empty() && found.people.is_empty() && found.hashtags.is_empty() {
        return ctx.say(&ctx.msg("search-none", &[]));
    }
    for p in &found.people {
        ctx.say(&ctx.msg(
            "search-person",
            &[("name", &p.name), ("key", &display::short(&p.identity))],
        ))?;
    }
    for t in &found.hashtags {
        ctx.say(
            &ctx.m
                .get_n("search-tag", &[("tag", &t.tag)], &[("posts", t.posts)]),
        )?;
    }
    if !found.people.is_empty() || !found.hashtags.is_empty() {
        ctx.say("")?;
    }
    for e in &found.posts {
        ctx.say(&display::event(ctx.m, e, ""))?;
        ctx.say("")?;
    }
    Ok(())
}
