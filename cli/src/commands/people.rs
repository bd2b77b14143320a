//! `kith id`, `profile set`, `follow`, `unfollow`, `block` and `unblock`.

use clap::Subcommand;
use kith_node::data_dir;
use kith_node::identity;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, written};
use crate::client::{ClientError, parse};
use crate::display::{self, IdentityView};

/// Profile commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ProfileCommand {
    /// Change some fields of your profile; the others keep their values.
    Set(ProfileSet),
}

/// The fields to change.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = true)]
pub(crate) struct ProfileSet {
    /// Display name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// A few words about you ("" removes them).
    #[arg(long, value_name = "TEXT")]
    bio: Option<String>,
    /// Languages you write in, most used first (repeatable or comma-separated;
    /// replaces the list). It is --langs because --lang chooses the language
    /// kith speaks.
    #[arg(long = "langs", value_name = "LANG", value_delimiter = ',')]
    langs: Vec<String>,
    /// A link to elsewhere (repeatable; replaces the list).
    #[arg(long = "link", value_name = "URL")]
    links: Vec<String>,
    /// Your picture: an image file, uploaded and processed first.
    #[arg(long, value_name = "FILE")]
    avatar: Option<std::path::PathBuf>,
    /// Your cover image: an image file, uploaded and processed first.
    #[arg(long, value_name = "FILE")]
    banner: Option<std::path::PathBuf>,
}

/// `kith id`: who the token speaks for, from the node. When no node answers
/// and none was named, or there is no token to ask with, the identity in
/// the data dir, as before there was a gateway.
pub(crate) async fn id(ctx: &Ctx<'_>) -> anyhow::Result<()> {
    let endpoint = ctx.client.endpoint();
    if endpoint.has_token() || endpoint.given {
        match ctx.client.me().await {
            Ok(me) => return show_me(ctx, &me).await,
            Err(ClientError::Unreachable { .. }) if !endpoint.given => {}
            Err(e) => return Err(e.into()),
        }
    }
    let dir = match ctx.data_dir {
        Some(dir) => dir.to_path_buf(),
        None => data_dir::resolve(None)?,
    };
    let (key, created) = identity::load_or_create(&dir)?;
    let public = key.public().to_string();
    if ctx.json {
        return ctx.print_json(&json!({
            "identity": public,
            "data_dir": dir,
            "created": created,
        }));
    }
    ctx.say(&public)
}

#[derive(Deserialize)]
struct Me {
    username: Option<String>,
    identity: String,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    root_key_held: bool,
}

async fn show_me(ctx: &Ctx<'_>, value: &Value) -> anyhow::Result<()> {
    if ctx.json {
        return ctx.print_json(value);
    }
    let me: Me = parse(value)?;
    // The identity first and alone on its line, for scripts.
    let mut lines = vec![me.identity.clone()];
    let view: IdentityView = parse(&ctx.client.identity(&me.identity).await?)?;
    if let Some(name) = view.profile_payload().get("name").and_then(Value::as_str) {
        lines.push(ctx.msg("profile-name", &[("name", name)]));
    }
    match &me.username {
        Some(user) => lines.push(ctx.msg("id-account", &[("username", user)])),
        None if me.admin => lines.push(ctx.msg("id-admin", &[])),
        None => {}
    }
    if me.root_key_held {
        lines.push(ctx.msg("id-root-held", &[]));
    }
    let url = ctx.client.endpoint().url.as_str().trim_end_matches('/');
    lines.push(ctx.msg("id-node", &[("url", url)]));
    ctx.say(&lines.join("\n"))
}

/// `kith profile set`: the current profile with the given fields changed.
pub(crate) async fn profile_set(ctx: &Ctx<'_>, args: &ProfileSet) -> anyhow::Result<()> {
    let me = super::posts::my_identity(ctx).await?;
    let current: IdentityView = parse(&ctx.client.identity(&me).await?)?;
    let mut payload = current.profile_payload();
    let Some(fields) = payload.as_object_mut() else {
        return Err(ClientError::BadResponse {
            status: reqwest::StatusCode::OK,
            cause: "the profile is not an object".into(),
        }
        .into());
    };
    if let Some(name) = &args.name {
        fields.insert("name".into(), json!(name));
    }
    match args.bio.as_deref() {
        Some("") => {
            fields.remove("bio");
        }
        Some(bio) => {
            fields.insert("bio".into(), json!(bio));
        }
        None => {}
    }
    if !args.langs.is_empty() {
        fields.insert("langs".into(), json!(args.langs));
    }
    if !args.links.is_empty() {
        fields.insert("links".into(), json!(args.links));
    }
    for (field, file) in [("avatar", &args.avatar), ("banner", &args.banner)] {
        if let Some(file) = file {
            let view = super::media::upload(ctx, file, true).await?;
            fields.insert(field.into(), view["descriptor"].clone());
        }
    }
    let result = ctx.client.put_profile(&payload).await?;
    if ctx.json {
        return ctx.print_json(&result);
    }
    let (event, _) = written(&result)?;
    ctx.say(&ctx.msg("profile-updated", &[("id", &event.id)]))
}

/// `kith follow` / `kith unfollow`.
pub(crate) async fn follow(ctx: &Ctx<'_>, key: &str, follow: bool) -> anyhow::Result<()> {
    let result = ctx.client.follow(key, follow).await?;
    let line = if follow { "followed" } else { "unfollowed" };
    confirm(ctx, &result, line, key)
}

/// `kith block` / `kith unblock`.
pub(crate) async fn block(ctx: &Ctx<'_>, key: &str, block: bool) -> anyhow::Result<()> {
    let result = ctx.client.block(key, block).await?;
    let line = if block { "blocked" } else { "unblocked" };
    confirm(ctx, &result, line, key)
}

fn confirm(ctx: &Ctx<'_>, result: &Value, line: &str, key: &str) -> anyhow::Result<()> {
    if ctx.json {
        return ctx.print_json(result);
    }
    let (event, _) = written(result)?;
    ctx.say(&ctx.msg(line, &[("key", &display::short(key)), ("id", &event.id)]))
}
