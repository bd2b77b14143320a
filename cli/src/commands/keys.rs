//! `kith key export`, `delegate`, `revoke` and `list`.

use clap::Subcommand;
use clap::builder::NonEmptyStringValueParser;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, written};
use crate::client::parse;
use crate::display::{self, DelegationView};

/// Key commands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Print your root secret key (`kithsecret1…`). Anyone who has it is you.
    Export(ExportArgs),
    /// Let another key (a phone, another app) sign for you.
    Delegate(DelegateArgs),
    /// Withdraw a delegation.
    Revoke(RevokeArgs),
    /// List your delegations.
    List,
}

/// How to confirm an export.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// Read the account's password from the first line of standard input
    /// (hosted accounts; the admin token needs none).
    #[arg(long)]
    password_stdin: bool,
}

/// What to delegate.
#[derive(Debug, clap::Args)]
pub(crate) struct DelegateArgs {
    /// The key to authorise (`kith1…`).
    #[arg(value_name = "KEY", value_parser = NonEmptyStringValueParser::new())]
    key: String,
    /// Kinds it may sign, comma-separated (default: every kind that can be delegated).
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    kinds: Vec<String>,
    /// Days it lasts, 1 to 3650 (default 365).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: Option<u32>,
}

/// What to revoke.
#[derive(Debug, clap::Args)]
pub(crate) struct RevokeArgs {
    /// The delegation's id (from `kith key list`).
    #[arg(value_name = "DELEGATION_ID", value_parser = NonEmptyStringValueParser::new())]
    id: String,
    /// The key was compromised: void everything it ever signed, not only
    /// what it signs from now on.
    #[arg(long)]
    compromised: bool,
}

/// `kith key export`.
pub(crate) async fn export(ctx: &Ctx<'_>, args: &ExportArgs) -> anyhow::Result<()> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Some(line.trim_end_matches(['\n', '\r']).to_string())
    } else {
        None
    };
    let value = ctx.client.export_key(password.as_deref()).await?;
    if ctx.json {
        return ctx.print_json(&value);
    }
    #[derive(Deserialize)]
    struct Secret {
        secret: String,
    }
    let secret: Secret = parse(&value)?;
    // Only the secret on stdout, so it can go straight into a file.
    eprintln!("{}", ctx.msg("key-export-warning", &[]));
    ctx.say(&secret.secret)
}

/// `kith key delegate`.
pub(crate) async fn delegate(ctx: &Ctx<'_>, args: &DelegateArgs) -> anyhow::Result<()> {
    let mut request = json!({ "signer": args.key });
    if !args.kinds.is_empty() {
        request["kinds"] = json!(args.kinds);
    }
    if let Some(days) = args.days {
        request["days"] = json!(days);
    }
    let result = ctx.client.delegate(&request).await?;
    if ctx.json {
        return ctx.print_json(&result);
    }
    let (event, _) = written(&result)?;
    let until = event
        .payload
        .get("expires_at")
        .and_then(Value::as_u64)
        .map(display::time)
        .unwrap_or_default();
    ctx.say(&ctx.msg(
        "key-delegated",
        &[
            ("signer", &display::short(&args.key)),
            ("until", &until),
            ("id", &event.id),
        ],
    ))
}

/// `kith key revoke`.
pub(crate) async fn revoke(ctx: &Ctx<'_>, args: &RevokeArgs) -> anyhow::Result<()> {
    let result = ctx.client.revoke(&args.id, args.compromised).await?;
    if ctx.json {
        return ctx.print_json(&result);
    }
    written(&result)?;
    let line = if args.compromised {
        "key-revoked-compromised"
    } else {
        "key-revoked"
    };
    ctx.say(&ctx.msg(line, &[("id", &args.id)]))
}

/// `kith key list`.
pub(crate) async fn list(ctx: &Ctx<'_>) -> anyhow::Result<()> {
    let value = ctx.client.delegations().await?;
    if ctx.json {
        return ctx.print_json(&value);
    }
    #[derive(Deserialize)]
    struct List {
        items: Vec<DelegationView>,
    }
    let list: List = parse(&value)?;
    if list.items.is_empty() {
        return ctx.say(&ctx.msg("key-none", &[]));
    }
    let lines: Vec<String> = list
        .items
        .iter()
        .map(|d| display::delegation(ctx.m, d))
        .collect();
    ctx.say(&lines.join("\n"))
}
