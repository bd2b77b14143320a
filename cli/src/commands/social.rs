//! `kith react`, `kith repost` and `kith quote`: answers to an event that
//! are not replies, published through `POST /api/v1/publish` (the node signs
//! them for you, as it does posts).
//!
//! A reaction replaces your previous reaction to the same event. Taking a
//! reaction back (`kith react ID --remove`) is deleting its event: the
//! event's counts name your live reaction (`stats.mine_id`), and a `delete`
//! of it is published. The node keeps your newest remaining reaction
//! live, so an older one you never deleted shows again after that.

use clap::builder::NonEmptyStringValueParser;
use serde::Deserialize;
use serde_json::{Value, json};

use super::posts::my_identity;
use super::{Ctx, written};
use crate::client::parse;
use crate::display::{self, EventView, REACTIONS};

/// `kith react`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReactArgs {
    /// The event to react to (`bafyrei…`).
    #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    id: String,
    /// like 👍, love ❤️, haha 😆, wow 😮, sad 😢 or angry 😠. It replaces
    /// your previous reaction to the event.
    #[arg(
        value_name = "TYPE",
        value_parser = REACTIONS,
        required_unless_present = "remove",
        conflicts_with = "remove"
    )]
    reaction: Option<String>,
    /// Take back your reaction to the event (publishes a delete of it).
    #[arg(long)]
    remove: bool,
}

/// `kith react ID --remove` found no live reaction of yours to the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoLiveReaction {
    /// The event (`bafyrei…`).
    pub(crate) target: String,
}

impl std::fmt::Display for NoLiveReaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "you have no reaction to {} to remove", self.target)
    }
}

impl std::error::Error for NoLiveReaction {}

/// `kith repost`.
#[derive(Debug, clap::Args)]
pub(crate) struct RepostArgs {
    /// The event to repost (`bafyrei…`).
    #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    id: String,
}

/// `kith quote`.
#[derive(Debug, clap::Args)]
pub(crate) struct QuoteArgs {
    /// The event to quote (`bafyrei…`).
    #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    id: String,
    /// Your text. Its hashtags (`#kith`) are found and tagged.
    #[arg(value_name = "TEXT")]
    text: String,
}

/// A draft of `kind` pointing at `target`.
fn draft(kind: &str, payload: Value, target: &str) -> Value {
    json!({
        "kind": kind,
        "payload": payload,
        "refs": [{ "rel": "target", "event": target }],
    })
}

/// Publishes `draft`; prints the API's document with `--json`, else the
/// line `say` makes of the stored event (and a note when it waits for its
/// target).
async fn publish(
    ctx: &Ctx<'_>,
    draft: &Value,
    say: impl FnOnce(&EventView) -> String,
) -> anyhow::Result<()> {
    let result = ctx.client.publish(draft).await?;
    if ctx.json {
        return ctx.print_json(&result);
    }
    let (event, outcome) = written(&result)?;
    ctx.say(&say(&event))?;
    if outcome == "pending" {
        ctx.say(&ctx.msg("write-pending", &[]))?;
    }
    Ok(())
}

/// `kith react ID TYPE`, or `kith react ID --remove`.
pub(crate) async fn react(ctx: &Ctx<'_>, args: &ReactArgs) -> anyhow::Result<()> {
    let reaction = match (&args.reaction, args.remove) {
        (Some(reaction), false) => reaction,
        // clap requires exactly one of TYPE and --remove.
        _ => return unreact(ctx, &args.id).await,
    };
    let draft = draft("reaction", json!({ "reaction": reaction }), &args.id);
    publish(ctx, &draft, |event| {
        ctx.msg(
            "reaction-published",
            &[
                ("reaction", display::reaction_symbol(reaction)),
                ("target", &args.id),
                ("id", &event.id),
            ],
        )
    })
    .await
}

/// What the event's counts say about the caller's own reaction.
#[derive(Debug, Default, Deserialize)]
struct Mine {
    #[serde(default)]
    mine: Option<String>,
    #[serde(default)]
    mine_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WithStats {
    #[serde(default)]
    stats: Option<Mine>,
}

/// `kith react ID --remove`: deletes the caller's live reaction to `target`.
async fn unreact(ctx: &Ctx<'_>, target: &str) -> anyhow::Result<()> {
    // Without a token the node reads the event for nobody, and its counts
    // would say "no reaction"; asking who we are gets the node's 401 instead.
    if !ctx.client.endpoint().has_token() {
        my_identity(ctx).await?;
    }
    let event: WithStats = parse(&ctx.client.event(target).await?)?;
    let Mine { mine, mine_id } = event.stats.unwrap_or_default();
    let Some(reaction_id) = mine_id else {
        return Err(NoLiveReaction {
            target: target.to_string(),
        }
        .into());
    };
    let reaction = mine.unwrap_or_default();
    let draft = draft("delete", json!({}), &reaction_id);
    publish(ctx, &draft, |event| {
        ctx.msg(
            "reaction-removed",
            &[
                ("reaction", display::reaction_symbol(&reaction)),
                ("target", target),
                ("id", &event.id),
            ],
        )
    })
    .await
}

/// `kith repost ID`.
pub(crate) async fn repost(ctx: &Ctx<'_>, args: &RepostArgs) -> anyhow::Result<()> {
    let draft = draft("repost", json!({}), &args.id);
    publish(ctx, &draft, |event| {
        ctx.msg(
            "repost-published",
            &[("target", &args.id), ("id", &event.id)],
        )
    })
    .await
}

/// `kith quote ID TEXT`: the node tags the text's hashtags.
pub(crate) async fn quote(ctx: &Ctx<'_>, args: &QuoteArgs) -> anyhow::Result<()> {
    let draft = draft("quote", json!({ "text": args.text }), &args.id);
    publish(ctx, &draft, |event| {
        ctx.msg(
            "quote-published",
            &[("target", &args.id), ("id", &event.id)],
        )
    })
    .await
}

#[cfg(test)]
mod tests {
    use kith_node::protocol::kinds::ReactionType;

    use crate::display::REACTIONS;

    #[test]
    fn the_reaction_names_are_the_protocols() {
        let names: Vec<&str> = ReactionType::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names, REACTIONS);
    }
}
