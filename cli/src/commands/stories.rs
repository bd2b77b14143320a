//! `kith story …` and `kith stories`: publish a story, the tray, mark one
//! seen (with a view receipt if you turned them on), who viewed yours, and
//! highlights.

use clap::Subcommand;
use clap::builder::NonEmptyStringValueParser;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, written};
use crate::client::parse;
use crate::display::{self, EventView};

/// Story commands.
#[derive(Debug, Subcommand)]
pub(crate) enum StoryCommand {
    /// Publish a story: text, a picture or clip (with `--text` as its
    /// caption), or both.
    Add {
        /// The story's text, or the caption of its media.
        #[arg(long, value_name = "TEXT", value_parser = NonEmptyStringValueParser::new(),
              required_unless_present = "media")]
        text: Option<String>,
        /// A picture or clip, uploaded and processed first.
        #[arg(long, value_name = "FILE")]
        media: Option<std::path::PathBuf>,
        /// Hours until it disappears (1 to 24).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=24))]
        hours: u64,
        /// Mention an identity (repeatable).
        #[arg(long = "mention", value_name = "KEY")]
        mentions: Vec<String>,
    },
    /// Mark a story seen (sends a view receipt only if you turned them on:
    /// `kith story receipts on`).
    View {
        /// The story's id.
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
    },
    /// Who viewed one of your stories.
    Viewers {
        /// The story's id.
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
    },
    /// Turn view receipts on or off (off unless you turn them on).
    Receipts {
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Keep some of your stories in a named highlight that outlives them.
    Highlight {
        /// The highlight's name (a new one with the same name replaces it).
        #[arg(value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
        name: String,
        /// Your stories to keep, in order.
        #[arg(value_name = "ID", required = true)]
        stories: Vec<String>,
    },
    /// List an identity's highlights (default: yours).
    Highlights {
        /// The identity (`kith1…`).
        #[arg(value_name = "KEY")]
        key: Option<String>,
    },
}

/// Runs a story command.
pub(crate) async fn story(ctx: &Ctx<'_>, command: &StoryCommand) -> anyhow::Result<()> {
    match command {
        StoryCommand::Add {
            text,
            media,
            hours,
            mentions,
        } => {
            let mut body = json!({
                "text": text.as_deref().unwrap_or_default(),
                "hours": hours,
                "mentions": mentions,
            });
            if let Some(file) = media {
                let view = super::media::upload(ctx, file, true).await?;
                body["media"] = view["descriptor"].clone();
            }
            let result = post(ctx, &["api", "v1", "me", "stories"], &body).await?;
            if ctx.json {
                return ctx.print_json(&result);
            }
            let (event, _) = written(&result)?;
            let hours = hours.to_string();
            ctx.say(&ctx.msg("story-published", &[("id", &event.id), ("hours", &hours)]))
        }
        StoryCommand::View { id } => {
            let result = post(ctx, &["api", "v1", "stories", id, "view"], &json!({})).await?;
            if ctx.json {
                return ctx.print_json(&result);
            }
            let receipt = result.get("receipt").and_then(Value::as_bool) == Some(true);
            ctx.say(&ctx.msg(
                if receipt {
                    "story-seen-receipt"
                } else {
                    "story-seen"
                },
                &[],
            ))
        }
        StoryCommand::Viewers { id } => {
            let result = ctx
                .client
                .get(&["api", "v1", "stories", id, "viewers"], &[])
                .await?;
            if ctx.json {
                return ctx.print_json(&result);
            }
            #[derive(Deserialize)]
            struct Viewer {
                key: String,
                name: String,
                at: u64,
            }
            #[derive(Deserialize)]
            struct Viewers {
                viewers: Vec<Viewer>,
            }
            let v: Viewers = parse(&result)?;
            let count = v.viewers.len().to_string();
            ctx.say(&ctx.msg("story-viewers", &[("count", &count)]))?;
            for viewer in &v.viewers {
                let (short, when) = (display::short(&viewer.key), display::time(viewer.at));
                ctx.say(&format!("  {} ({short}) · {when}", viewer.name))?;
            }
            Ok(())
        }
        StoryCommand::Receipts { state } => {
            let on = state == "on";
            let mut settings = ctx
                .client
                .get(&["api", "v1", "me", "settings"], &[])
                .await?;
            if !settings.is_object() {
                settings = json!({});
            }
            settings["stories"]["receipts"] = json!(on);
            let result = ctx
                .client
                .call(
                    Method::PUT,
                    &["api", "v1", "me", "settings"],
                    &[],
                    Some(&settings),
                )
                .await?;
            if ctx.json {
                return ctx.print_json(&result);
            }
            ctx.say(&ctx.msg(
                if on {
                    "story-receipts-on"
                } else {
                    "story-receipts-off"
                },
                &[],
            ))
        }
        StoryCommand::Highlight { name, stories } => {
            let body = json!({ "name": name, "stories": stories });
            let result = post(ctx, &["api", "v1", "me", "highlights"], &body).await?;
            if ctx.json {
                return ctx.print_json(&result);
            }
            let (event, _) = written(&result)?;
            ctx.say(&ctx.msg("highlight-published", &[("name", name), ("id", &event.id)]))
        }
        StoryCommand::Highlights { key } => {
            let key = match key {
                Some(k) => k.clone(),
                None => my_key(ctx).await?,
            };
            let result = ctx
                .client
                .get(&["api", "v1", "identities", &key, "highlights"], &[])
                .await?;
            if ctx.json {
                return ctx.print_json(&result);
            }
            let list: EventList = parse(&result)?;
            if list.events.is_empty() {
                return ctx.say(&ctx.msg("highlights-none", &[]));
            }
            for e in &list.events {
                let name = e.payload.get("name").and_then(Value::as_str).unwrap_or("");
                let items = e
                    .payload
                    .get("items")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice);
                let count = items.len().to_string();
                ctx.say(&ctx.msg("highlight-line", &[("name", name), ("count", &count)]))?;
                for item in items {
                    if let Some(text) = item.get("text").and_then(Value::as_str) {
                        ctx.say(&format!("  · {text}"))?;
                    }
                }
            }
            Ok(())
        }
    }
}

#[derive(Deserialize)]
struct EventList {
    events: Vec<EventView>,
}

async fn post(ctx: &Ctx<'_>, path: &[&str], body: &Value) -> anyhow::Result<Value> {
    Ok(ctx.client.call(Method::POST, path, &[], Some(body)).await?)
}

async fn my_key(ctx: &Ctx<'_>) -> anyhow::Result<String> {
    let me = ctx.client.me().await?;
    me.get("identity")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("the node did not say who you are"))
}

/// `kith stories [KEY]`: the tray (whom you follow, unseen first), or one
/// person's live stories.
pub(crate) async fn stories(ctx: &Ctx<'_>, key: Option<&str>) -> anyhow::Result<()> {
    if let Some(key) = key {
        let result = ctx
            .client
            .get(&["api", "v1", "identities", key, "stories"], &[])
            .await?;
        if ctx.json {
            return ctx.print_json(&result);
        }
        let list: EventList = parse(&result)?;
        if list.events.is_empty() {
            return ctx.say(&ctx.msg("stories-none", &[]));
        }
        for e in &list.events {
            ctx.say(&story_line(ctx, e, None))?;
        }
        return Ok(());
    }
    let result = ctx.client.get(&["api", "v1", "me", "stories"], &[]).await?;
    if ctx.json {
        return ctx.print_json(&result);
    }
    #[derive(Deserialize)]
    struct TrayStory {
        event: EventView,
        seen: bool,
    }
    #[derive(Deserialize)]
    struct TrayAuthor {
        author: String,
        name: String,
        unseen: usize,
        stories: Vec<TrayStory>,
    }
    #[derive(Deserialize)]
    struct Tray {
        tray: Vec<TrayAuthor>,
    }
    let tray: Tray = parse(&result)?;
    if tray.tray.is_empty() {
        return ctx.say(&ctx.msg("stories-none", &[]));
    }
    for a in &tray.tray {
        let (short, unseen) = (display::short(&a.author), a.unseen.to_string());
        ctx.say(&ctx.msg(
            "stories-author",
            &[("name", &a.name), ("key", &short), ("unseen", &unseen)],
        ))?;
        for s in &a.stories {
            ctx.say(&story_line(ctx, &s.event, Some(s.seen)))?;
        }
    }
    Ok(())
}

fn story_line(ctx: &Ctx<'_>, e: &EventView, seen: Option<bool>) -> String {
    let mark = match seen {
        Some(false) => "● ",
        _ => "  ",
    };
    let expires = e
        .payload
        .get("expires_at")
        .and_then(Value::as_u64)
        .map(display::time)
        .unwrap_or_default();
    let text = e.payload.get("text").and_then(Value::as_str).unwrap_or("");
    format!(
        "{mark}{text}\n    {}",
        ctx.msg("story-line", &[("id", &e.id), ("expires", &expires)])
    )
}
