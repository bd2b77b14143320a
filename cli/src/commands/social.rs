//! `kith react`, `kith repost` and `kith quote`: answers to an event that
//! are not replies, published through `POST /api/v1/publish` (the node signs
//! them for you, as it does posts).
//!
//! A reaction replaces your previous reaction to the same event. Taking a
//! reaction back means deleting its event, and the API does not say which
//! event is your live reaction (only its type, `stats.mine`), so there is no
//! `--remove` yet.

use clap::builder::NonEmptyStringValueParser;
use serde_json::{Value, json};

use super::{Ctx, written};
use crate::display::{self, EventView, REACTIONS};

/// `kith react`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReactArgs {
    /// The event to react to (`bafyrei…`).
    #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    id: String,
    /// like 👍, love ❤️, haha 😆, wow 😮, sad 😢 or angry 😠. It replaces
    /// your previous reaction to the event.
    #[arg(value_name = "TYPE", value_parser = REACTIONS)]
    reaction: String,
}

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

/// `kith react ID TYPE`.
pub(crate) async fn react(ctx: &Ctx<'_>, args: &ReactArgs) -> anyhow::Result<()> {
    let draft = draft("reaction", json!({ "reaction": args.reaction }), &args.id);
    publish(ctx, &draft, |event| {
        ctx.msg(
            "reaction-published",
            &[
                ("reaction", display::reaction_symbol(&args.reaction)),
                ("target", &args.id),
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
