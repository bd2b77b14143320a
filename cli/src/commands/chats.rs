//! `kith dm`, `kith chats`, `kith chat`, `kith group`: end-to-end encrypted
//! direct messages (`specs/messages.md`, `specs/gateway.md` § 13).

use clap::Subcommand;
use clap::builder::NonEmptyStringValueParser;
use reqwest::Method;
use serde_json::{Value, json};

use super::Ctx;
use crate::display;

/// Group commands.
#[derive(Debug, Subcommand)]
pub(crate) enum GroupCommand {
    /// Create a group with you as its admin.
    Create {
        /// Its name.
        #[arg(value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
        name: String,
        /// The other members (`kith1…`).
        #[arg(value_name = "KEY", required = true)]
        members: Vec<String>,
    },
    /// Add members (admins only).
    Add {
        /// The group (`group:…`).
        #[arg(value_name = "GROUP")]
        group: String,
        /// New members (`kith1…`).
        #[arg(value_name = "KEY", required = true)]
        members: Vec<String>,
    },
    /// Remove members (admins only): they read nothing sent after.
    Remove {
        /// The group (`group:…`).
        #[arg(value_name = "GROUP")]
        group: String,
        /// Members to remove (`kith1…`).
        #[arg(value_name = "KEY", required = true)]
        members: Vec<String>,
    },
}

fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `kith dm ID TEXT`: sends a message to a person or a group.
pub(crate) async fn dm(ctx: &Ctx<'_>, to: &str, message: &str) -> anyhow::Result<()> {
    let r = ctx
        .client
        .call(
            Method::POST,
            &["api", "v1", "me", "chats", to],
            &[],
            Some(&json!({ "text": message })),
        )
        .await?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    ctx.say(&ctx.msg("dm-sent", &[("id", &display::short(text(&r, "id")))]))
}

/// `kith chats`: the conversations, with unread counts.
pub(crate) async fn chats(ctx: &Ctx<'_>) -> anyhow::Result<()> {
    let r = ctx.client.get(&["api", "v1", "me", "chats"], &[]).await?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    let mut any = false;
    for c in items(&r, "conversations") {
        any = true;
        let name = match c.get("group") {
            Some(g) => format!("{} ({})", text(g, "name"), text(c, "id")),
            None => text(c, "id").to_string(),
        };
        let last = c.get("last").map_or(String::new(), |m| {
            format!("{}: {}", display::short(text(m, "from")), text(m, "text"))
        });
        let unread = c
            .get("unread")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .to_string();
        ctx.say(&ctx.msg(
            "chat-line",
            &[("name", &name), ("unread", &unread), ("last", &last)],
        ))?;
    }
    if !any {
        ctx.say(&ctx.msg("chats-none", &[]))?;
    }
    Ok(())
}

/// `kith chat ID`: a conversation's newest messages, then marks it read.
pub(crate) async fn chat(ctx: &Ctx<'_>, id: &str, limit: u32) -> anyhow::Result<()> {
    let r = ctx
        .client
        .get(
            &["api", "v1", "me", "chats", id],
            &[("limit", limit.to_string())],
        )
        .await?;
    ctx.client
        .call(
            Method::POST,
            &["api", "v1", "me", "chats", id, "read"],
            &[],
            Some(&json!({})),
        )
        .await?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    for m in items(&r, "messages") {
        let who = if m.get("mine").and_then(Value::as_bool) == Some(true) {
            ctx.msg("chat-you", &[])
        } else {
            display::short(text(m, "from"))
        };
        let time = display::time(m.get("created_at").and_then(Value::as_u64).unwrap_or(0));
        let body = if m.get("deleted").and_then(Value::as_bool) == Some(true) {
            ctx.msg("chat-deleted", &[])
        } else if m.get("edited").and_then(Value::as_bool) == Some(true) {
            format!("{} {}", text(m, "text"), ctx.msg("chat-edited", &[]))
        } else {
            text(m, "text").to_string()
        };
        ctx.say(&format!("[{time}] {who}: {body}"))?;
        let reactions: Vec<&str> = m
            .get("reactions")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(_, r)| r.as_str())
            .collect();
        if !reactions.is_empty() {
            ctx.say(&format!("    {}", reactions.join(" ")))?;
        }
    }
    Ok(())
}

/// `kith group …`.
pub(crate) async fn group(ctx: &Ctx<'_>, command: &GroupCommand) -> anyhow::Result<()> {
    let r = match command {
        GroupCommand::Create { name, members } => {
            ctx.client
                .call(
                    Method::POST,
                    &["api", "v1", "me", "groups"],
                    &[],
                    Some(&json!({ "name": name, "members": members })),
                )
                .await?
        }
        GroupCommand::Add { group, members } | GroupCommand::Remove { group, members } => {
            let field = if matches!(command, GroupCommand::Add { .. }) {
                "add"
            } else {
                "remove"
            };
            ctx.client
                .call(
                    Method::POST,
                    &["api", "v1", "me", "groups", group],
                    &[],
                    Some(&json!({ field: members })),
                )
                .await?
        }
    };
    if ctx.json {
        return ctx.print_json(&r);
    }
    ctx.say(&ctx.msg("group-done", &[("id", text(&r, "conversation"))]))
}
