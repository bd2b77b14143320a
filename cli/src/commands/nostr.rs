//! `kith nostr …`: the Kith–Nostr bridge of the node (`specs/nostr.md`
//! § 10, `specs/gateway.md` § 12): link a Nostr key, choose relays, see
//! what was delivered where, read and answer Nostr notes. `kith follow
//! npub1…` (in `people.rs`) follows a Nostr key through the same routes.

use clap::Subcommand;
use clap::builder::NonEmptyStringValueParser;
use reqwest::Method;
use serde_json::{Value, json};

use super::Ctx;
use crate::display;

/// Bridge commands.
#[derive(Debug, Subcommand)]
pub(crate) enum NostrCommand {
    /// Your linked Nostr key, your relays with what each took, failed or
    /// still waits for, and the Nostr keys you follow.
    Status,
    /// Give your identity a linked Nostr key (made and kept by the node)
    /// and publish the profile that names it.
    Link,
    /// Your own outside relays (the node's are always used too).
    #[command(subcommand)]
    Relays(RelaysCommand),
    /// Show a Nostr note with its replies and reactions.
    Show {
        /// Note id (hex, `note1…` or `nevent1…`).
        #[arg(value_name = "NOTE", value_parser = NonEmptyStringValueParser::new())]
        note: String,
    },
    /// Reply to a Nostr note with your linked key.
    Reply {
        /// Note id (hex, `note1…` or `nevent1…`).
        #[arg(value_name = "NOTE", value_parser = NonEmptyStringValueParser::new())]
        note: String,
        /// The reply.
        #[arg(value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
        text: String,
    },
    /// React to a Nostr note (`+` by default, or an emoji).
    React {
        /// Note id (hex, `note1…` or `nevent1…`).
        #[arg(value_name = "NOTE", value_parser = NonEmptyStringValueParser::new())]
        note: String,
        /// The reaction.
        #[arg(value_name = "REACTION", default_value = "+")]
        reaction: String,
    },
    /// Nostr notes and reactions that mention or answer you.
    Mentions {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// Relay list commands.
#[derive(Debug, Subcommand)]
pub(crate) enum RelaysCommand {
    /// Add relays (`wss://…`).
    Add {
        /// Relay URLs.
        #[arg(value_name = "URL", required = true)]
        urls: Vec<String>,
    },
    /// Remove relays.
    Remove {
        /// Relay URLs.
        #[arg(value_name = "URL", required = true)]
        urls: Vec<String>,
    },
}

/// Whether a key given to `kith follow` is a Nostr key (`npub1…`, or 64
/// hex digits) rather than a Kith identity.
pub(crate) fn is_nostr_key(key: &str) -> bool {
    key.starts_with("npub1")
        || key.starts_with("nostr:npub1")
        || (key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `kith follow npub1…` / `kith unfollow npub1…`.
pub(crate) async fn follow(ctx: &Ctx<'_>, key: &str, on: bool) -> anyhow::Result<()> {
    let method = if on { Method::PUT } else { Method::DELETE };
    let result = ctx
        .client
        .call(
            method,
            &["api", "v1", "me", "nostr", "follows", key],
            &[],
            None,
        )
        .await?;
    if ctx.json {
        return ctx.print_json(&result);
    }
    let line = if on {
        "nostr-followed"
    } else {
        "nostr-unfollowed"
    };
    ctx.say(&ctx.msg(line, &[("key", &display::short(key))]))
}

pub(crate) async fn run(ctx: &Ctx<'_>, command: &NostrCommand) -> anyhow::Result<()> {
    match command {
        NostrCommand::Status => status(ctx).await,
        NostrCommand::Link => {
            let r = ctx
                .client
                .call(
                    Method::POST,
                    &["api", "v1", "me", "nostr", "link"],
                    &[],
                    None,
                )
                .await?;
            if ctx.json {
                return ctx.print_json(&r);
            }
            let npub = r
                .pointer("/nostr/npub")
                .and_then(Value::as_str)
                .unwrap_or("");
            ctx.say(&ctx.msg("nostr-linked", &[("npub", npub)]))
        }
        NostrCommand::Relays(c) => relays(ctx, c).await,
        NostrCommand::Show { note } => {
            let r = ctx
                .client
                .get(&["api", "v1", "nostr", "notes", note], &[])
                .await?;
            if ctx.json {
                return ctx.print_json(&r);
            }
            let t = r.get("thread").cloned().unwrap_or(Value::Null);
            if let Some(root) = t.get("root").filter(|v| !v.is_null()) {
                ctx.say(&display::nostr_note(ctx.m, root, ""))?;
                ctx.say("")?;
            }
            ctx.say(&display::nostr_note(ctx.m, &t["note"], ""))?;
            for (reaction, n) in items(&t, "reactions")
                .filter_map(|p| Some((p.get(0)?.as_str()?, p.get(1)?.as_u64()?)))
            {
                ctx.say(&format!("  {reaction} {n}"))?;
            }
            for reply in items(&t, "replies") {
                ctx.say("")?;
                ctx.say(&display::nostr_note(ctx.m, reply, "    "))?;
            }
            Ok(())
        }
        NostrCommand::Reply { note, text } => {
            answer(ctx, "reply", &json!({ "to": note, "text": text })).await
        }
        NostrCommand::React { note, reaction } => {
            answer(ctx, "react", &json!({ "to": note, "text": reaction })).await
        }
        NostrCommand::Mentions { limit } => {
            let r = ctx
                .client
                .get(
                    &["api", "v1", "me", "nostr", "mentions"],
                    &[("limit", limit.to_string())],
                )
                .await?;
            if ctx.json {
                return ctx.print_json(&r);
            }
            for item in items(&r, "items") {
                ctx.say(&display::nostr_note(ctx.m, &item["nostr"], ""))?;
                ctx.say("")?;
            }
            Ok(())
        }
    }
}

async fn answer(ctx: &Ctx<'_>, what: &str, body: &Value) -> anyhow::Result<()> {
    let r = ctx
        .client
        .call(
            Method::POST,
            &["api", "v1", "me", "nostr", what],
            &[],
            Some(body),
        )
        .await?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    let id = r.get("id").and_then(Value::as_str).unwrap_or("");
    ctx.say(&ctx.msg("nostr-sent", &[("id", id)]))
}

async fn status(ctx: &Ctx<'_>) -> anyhow::Result<()> {
    let r = ctx.client.get(&["api", "v1", "me", "nostr"], &[]).await?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    match r.pointer("/linked/npub").and_then(Value::as_str) {
        Some(npub) => ctx.say(&ctx.msg("nostr-status-linked", &[("npub", npub)]))?,
        None => ctx.say(&ctx.msg("nostr-status-unlinked", &[]))?,
    }
    let relays = r.get("relays").and_then(Value::as_array);
    if relays.is_none_or(|r| r.is_empty()) {
        ctx.say(&ctx.msg("nostr-status-no-relays", &[]))?;
    }
    for relay in relays.into_iter().flatten() {
        let n = |k: &str| relay.get(k).and_then(Value::as_u64).unwrap_or(0);
        let state = if relay.get("connected").and_then(Value::as_bool) == Some(true) {
            ctx.msg("nostr-connected", &[])
        } else {
            ctx.msg("nostr-disconnected", &[])
        };
        ctx.say(&ctx.msg(
            "nostr-status-relay",
            &[
                (
                    "url",
                    relay.get("url").and_then(Value::as_str).unwrap_or(""),
                ),
                ("state", &state),
                ("sent", &n("sent").to_string()),
                ("pending", &n("pending").to_string()),
                ("failed", &n("failed").to_string()),
            ],
        ))?;
        if let Some(e) = relay.get("last_error").and_then(Value::as_str) {
            ctx.say(&format!(
                "    {}",
                ctx.msg("nostr-status-error", &[("error", e)])
            ))?;
        }
    }
    for f in items(&r, "follows") {
        let npub = f.get("npub").and_then(Value::as_str).unwrap_or("");
        ctx.say(&ctx.msg("nostr-status-follow", &[("npub", npub)]))?;
    }
    Ok(())
}

async fn relays(ctx: &Ctx<'_>, command: &RelaysCommand) -> anyhow::Result<()> {
    let status = ctx.client.get(&["api", "v1", "me", "nostr"], &[]).await?;
    let mut mine: Vec<String> = items(&status, "relays")
        .filter(|r| r.get("source").and_then(Value::as_str) == Some("person"))
        .filter_map(|r| r.get("url").and_then(Value::as_str).map(str::to_owned))
        .collect();
    match command {
        RelaysCommand::Add { urls } => {
            for u in urls {
                if !mine.contains(u) {
                    mine.push(u.clone());
                }
            }
        }
        RelaysCommand::Remove { urls } => {
            // The node stores URLs in their normal form (`wss://host/`).
            let norm = |u: &str| u.trim_end_matches('/').to_ascii_lowercase();
            mine.retain(|m| !urls.iter().any(|u| norm(u) == norm(m)));
        }
    }
    let r = ctx
        .client
        .call(
            Method::PUT,
            &["api", "v1", "me", "nostr", "relays"],
            &[],
            Some(&json!({ "relays": mine })),
        )
        .await?;
    if ctx.json {
        return ctx.print_json(&r);
    }
    for url in items(&r, "relays").filter_map(Value::as_str) {
        ctx.say(url)?;
    }
    Ok(())
}

/// The elements of the array `key` of `v` (none if it is missing).
fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}
