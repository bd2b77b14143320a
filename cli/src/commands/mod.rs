//! The commands that drive a running node through its gateway's HTTP API:
//! one file per area (`posts.rs`, `people.rs`, `keys.rs`, `node.rs`), each
//! with its arguments (clap) next to what it does.
//!
//! Every command prints the API's JSON document with `--json` (one
//! document, nothing else on stdout), and otherwise a few lines for people
//! from the message catalogs. Progress goes to stderr, and only to a terminal.

mod chats;
mod discover;
mod keys;
mod market;
mod media;
mod node;
mod nostr;
mod notify;
mod people;
mod posts;
mod social;
mod stories;

use std::io::Write;
use std::path::Path;

use clap::Subcommand;
use clap::builder::NonEmptyStringValueParser;
use reqwest::Url;
use serde_json::Value;

use crate::client::{Client, Endpoint};
use crate::i18n::Messages;

pub(crate) use keys::KeyCommand;
pub(crate) use people::ProfileCommand;
pub(crate) use posts::{PostArgs, ThreadArgs, TimelineArgs};
pub(crate) use social::NoLiveReaction;

/// The commands that talk to a node.
#[derive(Debug, Subcommand)]
pub(crate) enum Remote {
    /// Print who you are on the node (with the admin token: this node's
    /// identity). Without a running node, prints the identity in the data dir.
    Id,
    /// Change your profile.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Publish a post, or a reply with --reply-to.
    Post(PostArgs),
    /// Show one event, or an identity's profile when given a `kith1…` key.
    Show {
        /// Event id (`bafyrei…`) or identity (`kith1…`).
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
    },
    /// List an author's posts, newest first (default: your own).
    Timeline(TimelineArgs),
    /// List your home feed: newest first, or ranked with --ranked.
    Home(posts::HomeArgs),
    /// Show a thread: its first post and its replies in reading order.
    Thread(ThreadArgs),
    /// React to an event: like, love, haha, wow, sad or angry; or take
    /// your reaction back with --remove.
    React(social::ReactArgs),
    /// Repost an event.
    Repost(social::RepostArgs),
    /// Quote an event with your own text.
    Quote(social::QuoteArgs),
    /// Follow an identity, or a Nostr key (`npub1…`) through the bridge.
    Follow(KeyArg),
    /// Stop following an identity or a Nostr key.
    Unfollow(KeyArg),
    /// Block an identity: its posts leave your home timeline.
    Block(KeyArg),
    /// Unblock an identity.
    Unblock(KeyArg),
    /// List the peers the node is connected to (admin token only).
    Peers,
    /// Search posts, people and hashtags (typo-tolerant).
    Search {
        /// What to look for.
        #[arg(value_name = "QUERY", value_parser = NonEmptyStringValueParser::new())]
        query: String,
        /// Only posts in this language (`es`, `en`…).
        #[arg(long, value_name = "LANG")]
        lang: Option<String>,
        /// Most posts and most people (1 to 100).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
    },
    /// Trending hashtags on the node: most distinct authors first.
    Trending {
        /// `1h` or `24h`.
        #[arg(long, default_value = "24h", value_parser = ["1h", "24h"])]
        window: String,
        /// How many (1 to 100).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
    },
    /// Your notifications, grouped ("Ana and 3 others reacted to your post").
    Notifications(notify::NotificationsArgs),
    /// Upload pictures, clips and sounds; the node's pins and garbage
    /// collection.
    #[command(subcommand)]
    Media(media::MediaCommand),
    /// Publish a story, mark one seen, see who viewed yours, highlights.
    #[command(subcommand)]
    Story(stories::StoryCommand),
    /// The stories tray (whom you follow, unseen first), or one person's.
    Stories {
        /// Only this identity's live stories (`kith1…`).
        #[arg(value_name = "KEY")]
        key: Option<String>,
    },
    /// People you may want to follow, and why.
    Suggest(discover::SuggestArgs),
    /// Creator statistics per day: posts, reactions, replies, reposts,
    /// followers (yours, or an identity's with KEY).
    Stats(discover::StatsArgs),
    /// Export your key; make, list and revoke delegated keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The bridge to Nostr: link a key, choose relays, see deliveries,
    /// read and answer Nostr notes.
    #[command(subcommand)]
    Nostr(nostr::NostrCommand),
    /// Send an end-to-end encrypted message to a person (`kith1…`) or a
    /// group (`group:…`).
    Dm {
        /// The person or group.
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        to: String,
        /// The message.
        #[arg(value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
        text: String,
    },
    /// Your conversations, with unread counts.
    Chats,
    /// A conversation's newest messages (marks it read).
    Chat {
        /// The person (`kith1…`) or group (`group:…`).
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// At most this many messages.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Create a group, add or remove members.
    #[command(subcommand)]
    Group(chats::GroupCommand),
    /// The marketplace: list, search and show listings; sell, edit and
    /// withdraw your own; the category tree.
    #[command(subcommand)]
    Market(market::MarketCommand),
    /// Trades: order from a listing, take each step (accept, pay, ship…),
    /// review the other party, see your trades.
    #[command(subcommand)]
    Trade(market::TradeCommand),
}

/// An identity to act on.
#[derive(Debug, clap::Args)]
pub(crate) struct KeyArg {
    /// The identity (`kith1…`), or for follow and unfollow also a Nostr
    /// key (`npub1…`). The node checks it.
    #[arg(value_name = "KEY", value_parser = NonEmptyStringValueParser::new())]
    key: String,
}

/// What the global options say.
#[derive(Debug)]
pub(crate) struct Settings<'a> {
    /// `--json`.
    pub(crate) json: bool,
    /// `--node` / `KITH_NODE`.
    pub(crate) node: Option<&'a Url>,
    /// `--token` / `KITH_TOKEN`.
    pub(crate) token: Option<&'a str>,
    /// `--data-dir`, `KITH_DATA_DIR`, or the platform's, if there is one.
    pub(crate) data_dir: Option<&'a Path>,
}

/// What every command works with.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    client: Client,
    m: &'a Messages,
    json: bool,
    data_dir: Option<&'a Path>,
}

impl Ctx<'_> {
    /// Prints an API document as one line of JSON.
    fn print_json(&self, value: &Value) -> anyhow::Result<()> {
        // Serialised first, so a closed pipe is an I/O error (quiet), not a
        // serialisation error.
        let text = serde_json::to_string(value)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()?;
        Ok(())
    }

    /// Prints lines for people.
    fn say(&self, text: &str) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()?;
        Ok(())
    }

    /// The message `id`.
    fn msg(&self, id: &str, args: &[(&str, &str)]) -> String {
        self.m.get(id, args)
    }
}

/// Runs one command against the node.
pub(crate) fn run(command: &Remote, settings: &Settings<'_>, m: &Messages) -> anyhow::Result<()> {
    let endpoint = Endpoint::resolve(settings.node, settings.token, settings.data_dir)?;
    let ctx = Ctx {
        client: Client::new(endpoint)?,
        m,
        json: settings.json,
        data_dir: settings.data_dir,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dispatch(&ctx, command))
}

async fn dispatch(ctx: &Ctx<'_>, command: &Remote) -> anyhow::Result<()> {
    match command {
        Remote::Id => people::id(ctx).await,
        Remote::Profile(ProfileCommand::Set(args)) => people::profile_set(ctx, args).await,
        Remote::Post(args) => posts::post(ctx, args).await,
        Remote::Show { id } => posts::show(ctx, id).await,
        Remote::Timeline(args) => posts::timeline(ctx, args).await,
        Remote::Home(args) => posts::home(ctx, args).await,
        Remote::Thread(args) => posts::thread(ctx, args).await,
        Remote::React(args) => social::react(ctx, args).await,
        Remote::Repost(args) => social::repost(ctx, args).await,
        Remote::Quote(args) => social::quote(ctx, args).await,
        Remote::Follow(k) if nostr::is_nostr_key(&k.key) => nostr::follow(ctx, &k.key, true).await,
        Remote::Unfollow(k) if nostr::is_nostr_key(&k.key) => {
            nostr::follow(ctx, &k.key, false).await
        }
        Remote::Follow(k) => people::follow(ctx, &k.key, true).await,
        Remote::Unfollow(k) => people::follow(ctx, &k.key, false).await,
        Remote::Block(k) => people::block(ctx, &k.key, true).await,
        Remote::Unblock(k) => people::block(ctx, &k.key, false).await,
        Remote::Peers => node::peers(ctx).await,
        Remote::Trending { window, limit } => node::trending(ctx, window, *limit).await,
        Remote::Search { query, lang, limit } => {
            posts::search(ctx, query, lang.as_deref(), *limit).await
        }
        Remote::Notifications(args) => notify::notifications(ctx, args).await,
        Remote::Media(command) => media::run(ctx, command).await,
        Remote::Story(command) => stories::story(ctx, command).await,
        Remote::Stories { key } => stories::stories(ctx, key.as_deref()).await,
        Remote::Key(KeyCommand::Export(args)) => keys::export(ctx, args).await,
        Remote::Key(KeyCommand::Delegate(args)) => keys::delegate(ctx, args).await,
        Remote::Key(KeyCommand::Revoke(args)) => keys::revoke(ctx, args).await,
        Remote::Key(KeyCommand::List) => keys::list(ctx).await,
        Remote::Suggest(args) => discover::suggest(ctx, args).await,
        Remote::Stats(args) => discover::stats(ctx, args).await,
        Remote::Nostr(command) => nostr::run(ctx, command).await,
        Remote::Dm { to, text } => chats::dm(ctx, to, text).await,
        Remote::Chats => chats::chats(ctx).await,
        Remote::Chat { id, limit } => chats::chat(ctx, id, *limit).await,
        Remote::Group(command) => chats::group(ctx, command).await,
        Remote::Market(command) => market::market(ctx, command).await,
        Remote::Trade(command) => market::trade(ctx, command).await,
    }
}

/// The `event` of a write's result (`{"event", "outcome", "seq"}`).
fn written(
    result: &Value,
) -> Result<(crate::display::EventView, String), crate::client::ClientError> {
    #[derive(serde::Deserialize)]
    struct WriteResult {
        event: crate::display::EventView,
        #[serde(default)]
        outcome: String,
    }
    let r: WriteResult = crate::client::parse(result)?;
    Ok((r.event, r.outcome))
}
