//! `kith market …` and `kith trade …`: the marketplace (`specs/trades.md`).
//! Listings: list, search, show, sell, edit, withdraw, the category tree.
//! Trades: order, every step of the state machine, reviews, show and list.
//!
//! Prices are typed in major units (`12.50`) and travel in the currency's
//! minor units (`1250`): [`parse_price`] turns one into the other with the
//! currency's exponent ([`minor_units`]), [`format_price`] shows an amount
//! the way `specs/trades.md` § Prices writes it (`12.50 EUR`, `1500 JPY`).

use std::path::PathBuf;

use clap::Subcommand;
use clap::builder::NonEmptyStringValueParser;
use kith_node::protocol::kinds::trade::{CATEGORIES, minor_units};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Ctx;
use crate::client::parse;
use crate::display;
use crate::i18n::Messages;

/// The condition of an item, by its wire names.
const CONDITIONS: [&str; 5] = ["new", "like_new", "good", "fair", "for_parts"];
/// How an item reaches the buyer.
const DELIVERY: [&str; 2] = ["pickup", "shipping"];
/// How the buyer pays.
const PAYMENT: [&str; 4] = ["cash_on_pickup", "bank_transfer", "payment_link", "other"];
/// Search orders.
const SORTS: [&str; 4] = ["relevance", "newest", "price_asc", "price_desc"];
/// Trade states, in the order of the state machine.
const STATES: [&str; 11] = [
    "ordered",
    "accepted",
    "declined",
    "paid",
    "payment_confirmed",
    "shipped",
    "delivered",
    "completed",
    "cancelled",
    "disputed",
    "resolved",
];
/// The `kith trade` command of each step, with the state it moves to.
const STEPS: [(&str, &str); 10] = [
    ("accept", "accepted"),
    ("decline", "declined"),
    ("pay", "paid"),
    ("confirm", "payment_confirmed"),
    ("ship", "shipped"),
    ("deliver", "delivered"),
    ("complete", "completed"),
    ("cancel", "cancelled"),
    ("dispute", "disputed"),
    ("resolve", "resolved"),
];

/// Marketplace commands: listings.
#[derive(Debug, Subcommand)]
pub(crate) enum MarketCommand {
    /// List listings on sale, newest first (everyone's, or one seller's).
    List {
        /// Only your own listings.
        #[arg(long, conflicts_with = "seller")]
        mine: bool,
        /// Only this seller's listings (`kith1…`).
        #[arg(long, value_name = "KEY", value_parser = NonEmptyStringValueParser::new())]
        seller: Option<String>,
        /// Only this category and those under it (`home` includes
        /// `home/furniture`).
        #[arg(long, value_name = "PATH", value_parser = NonEmptyStringValueParser::new())]
        category: Option<String>,
        /// Include sold-out listings.
        #[arg(long)]
        all: bool,
        /// At most this many (1 to 100).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
    },
    /// Search listings by words, with filters (most relevant first).
    Search(SearchArgs),
    /// A listing in full: price, stock, seller and their reputation.
    Show {
        /// The listing's id.
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
    },
    /// Put an item up for sale.
    Sell(SellArgs),
    /// Change one of your listings: only the fields given change.
    Edit {
        /// The listing's id.
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
        #[command(flatten)]
        changes: EditArgs,
    },
    /// Take one of your listings off sale.
    Withdraw {
        /// The listing's id.
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
    },
    /// The category tree, with names in your language.
    Categories,
}

/// `kith market search`.
#[derive(Debug, clap::Args)]
pub(crate) struct SearchArgs {
    /// Words to look for.
    #[arg(value_name = "WORDS", required = true)]
    words: Vec<String>,
    /// Only this category and those under it.
    #[arg(long, value_name = "PATH", value_parser = NonEmptyStringValueParser::new())]
    category: Option<String>,
    /// Lowest price, in the currency's units (`12.50`); needs --currency.
    #[arg(long, value_name = "PRICE", requires = "currency")]
    min: Option<String>,
    /// Highest price, in the currency's units (`30`); needs --currency.
    #[arg(long, value_name = "PRICE", requires = "currency")]
    max: Option<String>,
    /// Only prices in this currency (ISO 4217: EUR, MXN, ARS…).
    #[arg(long, value_name = "CODE", value_parser = parse_currency)]
    currency: Option<String>,
    /// Only near a place: a geohash prefix, 1 to 6 characters.
    #[arg(long, value_name = "GEOHASH", value_parser = NonEmptyStringValueParser::new())]
    near: Option<String>,
    /// Include sold-out listings.
    #[arg(long)]
    all: bool,
    /// Order: relevance (default), newest, price_asc or price_desc.
    #[arg(long, value_name = "ORDER", value_parser = SORTS)]
    sort: Option<String>,
    /// At most this many (1 to 100).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    limit: u32,
}

/// `kith market sell`.
#[derive(Debug, clap::Args)]
pub(crate) struct SellArgs {
    /// The title.
    #[arg(long, value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
    title: String,
    /// Price per unit, in the currency's units (`12.50`, `1500`).
    #[arg(long, value_name = "PRICE", allow_negative_numbers = true)]
    price: String,
    /// The currency (ISO 4217: EUR, MXN, ARS…).
    #[arg(long, value_name = "CODE", value_parser = parse_currency)]
    currency: String,
    /// Category path, such as `home/furniture` (`kith market categories`
    /// lists them).
    #[arg(long, value_name = "PATH", value_parser = NonEmptyStringValueParser::new())]
    category: String,
    /// Units for sale.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    quantity: u32,
    /// new, like_new, good, fair or for_parts.
    #[arg(long, value_name = "CONDITION", default_value = "good", value_parser = CONDITIONS)]
    condition: String,
    /// Delivery options, comma-separated: pickup, shipping.
    #[arg(long, value_name = "OPTIONS", value_delimiter = ',', default_value = "pickup",
          value_parser = DELIVERY)]
    delivery: Vec<String>,
    /// Payment methods, comma-separated: cash_on_pickup, bank_transfer,
    /// payment_link, other.
    #[arg(long, value_name = "METHODS", value_delimiter = ',', default_value = "cash_on_pickup",
          value_parser = PAYMENT)]
    payment: Vec<String>,
    #[command(flatten)]
    more: ListingMore,
}

/// `kith market edit ID`: every field optional.
#[derive(Debug, clap::Args)]
pub(crate) struct EditArgs {
    /// New title.
    #[arg(long, value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
    title: Option<String>,
    /// New price per unit, in the currency's units; without --currency, in
    /// the listing's currency.
    #[arg(long, value_name = "PRICE", allow_negative_numbers = true)]
    price: Option<String>,
    /// New currency (with --price).
    #[arg(long, value_name = "CODE", requires = "price", value_parser = parse_currency)]
    currency: Option<String>,
    /// New category path.
    #[arg(long, value_name = "PATH", value_parser = NonEmptyStringValueParser::new())]
    category: Option<String>,
    /// Units for sale (0: sold out).
    #[arg(long, value_name = "N")]
    quantity: Option<u32>,
    /// new, like_new, good, fair or for_parts.
    #[arg(long, value_name = "CONDITION", value_parser = CONDITIONS)]
    condition: Option<String>,
    /// Delivery options, comma-separated: pickup, shipping.
    #[arg(long, value_name = "OPTIONS", value_delimiter = ',', value_parser = DELIVERY)]
    delivery: Vec<String>,
    /// Payment methods, comma-separated: cash_on_pickup, bank_transfer,
    /// payment_link, other.
    #[arg(long, value_name = "METHODS", value_delimiter = ',', value_parser = PAYMENT)]
    payment: Vec<String>,
    #[command(flatten)]
    more: ListingMore,
}

/// What `sell` and `edit` share.
#[derive(Debug, clap::Args)]
pub(crate) struct ListingMore {
    /// A longer description.
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    /// Where the item is, in words (neighbourhood, town).
    #[arg(long, value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
    location: Option<String>,
    /// Where the item is, as a coarse geohash (1 to 6 characters; 6 is
    /// about 1 km).
    #[arg(long, value_name = "GEOHASH", value_parser = NonEmptyStringValueParser::new())]
    geohash: Option<String>,
    /// A photo (repeatable, up to 10), uploaded and processed first; with
    /// `edit`, the photos given replace the listing's.
    #[arg(long = "photo", value_name = "FILE")]
    photos: Vec<PathBuf>,
}

/// Marketplace commands: trades.
#[derive(Debug, Subcommand)]
pub(crate) enum TradeCommand {
    /// Order from a listing; the seller then accepts or declines.
    Order {
        /// The listing's id.
        #[arg(value_name = "LISTING", value_parser = NonEmptyStringValueParser::new())]
        listing: String,
        /// Units to buy.
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u32).range(1..))]
        quantity: u32,
        /// pickup or shipping (one the listing offers).
        #[arg(long, value_name = "OPTION", value_parser = DELIVERY)]
        delivery: String,
        /// cash_on_pickup, bank_transfer, payment_link or other (one the
        /// listing accepts).
        #[arg(long, value_name = "METHOD", value_parser = PAYMENT)]
        payment: String,
        /// Address, phone, a time to meet…: sent to the seller only, end-to-end
        /// encrypted, never public.
        #[arg(long, value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
        details: Option<String>,
    },
    /// Seller: accept the order (reserves the units).
    Accept(StepArgs),
    /// Seller: decline the order.
    Decline(StepArgs),
    /// Buyer: say you have paid.
    Pay(StepArgs),
    /// Seller: confirm the payment arrived (`payment_confirmed`).
    Confirm(StepArgs),
    /// Seller: say you shipped the item.
    Ship(ShipArgs),
    /// Buyer: say you have the item (delivered or picked up).
    Deliver(StepArgs),
    /// Either party, once delivered: the trade is done.
    Complete(StepArgs),
    /// Either party, before shipping: call the trade off.
    Cancel(StepArgs),
    /// Either party, after payment: say something went wrong.
    Dispute(StepArgs),
    /// Either party: the dispute is settled.
    Resolve(StepArgs),
    /// Rate the other party of a completed trade (once).
    Review {
        /// The trade's id.
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// 1 to 5 stars.
        #[arg(long, value_name = "STARS", value_parser = clap::value_parser!(u8).range(1..=5))]
        rating: u8,
        /// A few words about the trade.
        #[arg(long, value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
        text: Option<String>,
    },
    /// A trade in full: state, parties, history, what you can do next.
    Show {
        /// The trade's id.
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
    },
    /// Your trades, newest first.
    List {
        /// Only those where you are the buyer, or the seller.
        #[arg(long, value_name = "ROLE", value_parser = ["buyer", "seller"])]
        role: Option<String>,
        /// Only trades in this state.
        #[arg(long, value_name = "STATE", value_parser = STATES)]
        state: Option<String>,
        /// Only trades still under way.
        #[arg(long)]
        open: bool,
        /// At most this many (1 to 100).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: Option<u32>,
        /// Continue from a previous page (its `next`).
        #[arg(long, value_name = "CURSOR")]
        before: Option<String>,
    },
}

/// A step on a trade.
#[derive(Debug, clap::Args)]
pub(crate) struct StepArgs {
    /// The trade's id (its order's id).
    #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    id: String,
    /// A note for the other party (public, like the step itself).
    #[arg(long, value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
    note: Option<String>,
}

/// `kith trade ship`.
#[derive(Debug, clap::Args)]
pub(crate) struct ShipArgs {
    #[command(flatten)]
    step: StepArgs,
    /// The carrier's tracking number or link.
    #[arg(long, value_name = "TRACKING", value_parser = NonEmptyStringValueParser::new())]
    tracking: Option<String>,
}

/// An ISO 4217 code, upper-cased (`eur` → `EUR`).
fn parse_currency(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_uppercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err("expected an ISO 4217 currency code such as EUR".to_string())
    }
}

/// Why a typed price is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PriceError {
    /// Not a decimal number written like `12.50` or `1500`.
    NotANumber,
    /// Below zero.
    Negative,
    /// More decimals than the currency's minor unit has.
    TooManyDecimals {
        /// The currency's exponent.
        max: u32,
    },
    /// The amount does not fit in 64 bits.
    TooLarge,
}

/// The whole and fractional digits of `12.50` (`("12", "50")`), `1500`
/// (`("1500", "")`); `None` for anything else (signs, exponents, spaces,
/// `.5`, `12.`, thousands separators).
fn decimal_digits(text: &str) -> Option<(&str, &str)> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match text.split_once('.') {
        Some((whole, fraction)) if digits(whole) && digits(fraction) => Some((whole, fraction)),
        None if digits(text) => Some((text, "")),
        _ => None,
    }
}

/// A price typed in major units (`12.50`) as an amount in minor units
/// (`1250` when `minor_units` is 2): fewer decimals than the currency has
/// are fine (`12.5` → 1250), more are refused, as are negative numbers,
/// anything that is not a plain decimal, and amounts over `u64::MAX`.
pub(crate) fn parse_price(text: &str, minor_units: u32) -> Result<u64, PriceError> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('-') {
        return Err(if decimal_digits(rest).is_some() {
            PriceError::Negative
        } else {
            PriceError::NotANumber
        });
    }
    let (whole, fraction) = decimal_digits(text).ok_or(PriceError::NotANumber)?;
    let decimals = u32::try_from(fraction.len()).unwrap_or(u32::MAX);
    if decimals > minor_units {
        return Err(PriceError::TooManyDecimals { max: minor_units });
    }
    let scale = 10u64.checked_pow(minor_units).ok_or(PriceError::TooLarge)?;
    // Only digits are left, so a failed parse is an overflow.
    let whole: u64 = whole.parse().map_err(|_| PriceError::TooLarge)?;
    let fraction: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| PriceError::TooLarge)?
    };
    // fraction < 10^decimals, so this is below `scale`.
    let fraction = fraction * 10u64.pow(minor_units - decimals);
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction))
        .ok_or(PriceError::TooLarge)
}

/// An amount in minor units as people read it: `12.50 EUR`, `0.05 EUR`,
/// `1500 JPY`, `1.234 KWD`, no thousands separators (`specs/trades.md` §
/// Prices).
pub(crate) fn format_price(amount: u64, currency: &str) -> String {
    kith_node::protocol::kinds::trade::Price {
        amount,
        currency: currency.into(),
    }
    .display()
}

/// A typed price as an amount in `currency`, or a sentence in the reader's
/// language saying what is wrong with it.
fn amount(m: &Messages, text: &str, currency: &str) -> anyhow::Result<u64> {
    parse_price(text, minor_units(currency))
        .map_err(|e| anyhow::anyhow!(price_error(m, text.trim(), currency, e)))
}

fn price_error(m: &Messages, text: &str, currency: &str, e: PriceError) -> String {
    let args = [("price", text), ("currency", currency)];
    match e {
        PriceError::NotANumber => m.get("market-price-not-a-number", &args),
        PriceError::Negative => m.get("market-price-negative", &args),
        PriceError::TooManyDecimals { max } => {
            m.get_n("market-price-decimals", &args, &[("max", u64::from(max))])
        }
        PriceError::TooLarge => m.get("market-price-too-large", &args),
    }
}

// --- What the API answers (the fields shown) ---

#[derive(Debug, Deserialize)]
struct PriceView {
    amount: u64,
    currency: String,
}

impl PriceView {
    fn text(&self) -> String {
        format_price(self.amount, &self.currency)
    }
}

#[derive(Debug, Deserialize)]
struct ReputationView {
    #[serde(default)]
    count: u64,
    #[serde(default)]
    mean: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct LocationView {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    geohash: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListingView {
    id: String,
    #[serde(default)]
    version: Option<String>,
    seller: String,
    #[serde(default)]
    seller_name: Option<String>,
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    category: Option<String>,
    price: PriceView,
    #[serde(default)]
    quantity: u64,
    #[serde(default)]
    available: u64,
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    location: Option<LocationView>,
    #[serde(default)]
    delivery: Vec<String>,
    #[serde(default)]
    payment: Vec<String>,
    #[serde(default)]
    media: Vec<Value>,
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    withdrawn: bool,
    #[serde(default)]
    created_at: u64,
    #[serde(default)]
    updated_at: u64,
    #[serde(default)]
    reputation: Option<ReputationView>,
}

#[derive(Debug, Deserialize)]
struct StepView {
    state: String,
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    at: u64,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    tracking: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReviewView {
    author: String,
    #[serde(default)]
    rating: u64,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    at: u64,
}

#[derive(Debug, Deserialize)]
struct DetailView {
    #[serde(default)]
    at: u64,
    #[serde(default)]
    text: String,
}

#[derive(Debug, Deserialize)]
struct TradeView {
    id: String,
    #[serde(default)]
    listing: String,
    #[serde(default)]
    listing_title: Option<String>,
    buyer: String,
    #[serde(default)]
    buyer_name: Option<String>,
    seller: String,
    #[serde(default)]
    seller_name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    state: String,
    #[serde(default)]
    quantity: u64,
    #[serde(default)]
    delivery: Option<String>,
    #[serde(default)]
    payment: Option<String>,
    #[serde(default)]
    price: Option<PriceView>,
    #[serde(default)]
    created_at: u64,
    #[serde(default)]
    updated_at: u64,
    #[serde(default)]
    history: Vec<StepView>,
    #[serde(default)]
    next_steps: Vec<String>,
    #[serde(default)]
    reviews: Vec<ReviewView>,
    #[serde(default)]
    details: Vec<DetailView>,
}

impl TradeView {
    fn title(&self) -> &str {
        self.listing_title
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or(&self.listing)
    }

    /// Unit price × quantity.
    fn total(&self) -> Option<String> {
        self.price
            .as_ref()
            .map(|p| format_price(p.amount.saturating_mul(self.quantity), &p.currency))
    }
}

#[derive(Debug, Deserialize)]
struct ListingResult {
    listing: ListingView,
}

#[derive(Debug, Deserialize)]
struct TradeResult {
    trade: TradeView,
}

// --- How it looks to people ---

/// A value's label in the reader's language (`market-condition` and
/// `like_new` → "like new"), or the value itself when this version has no
/// label for it.
fn label(m: &Messages, group: &str, value: &str) -> String {
    let id = format!("{group}-{value}");
    let text = m.get(&id, &[]);
    if text == id { value.to_string() } else { text }
}

fn labels(m: &Messages, group: &str, values: &[String]) -> String {
    values
        .iter()
        .map(|v| label(m, group, v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Ana`, or the short key when the name is unknown.
fn name(name: Option<&str>, key: &str) -> String {
    match name.filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => display::short(key),
    }
}

/// `Ana (kith1abc…)`, or the short key when the name is unknown.
fn person(name: Option<&str>, key: &str) -> String {
    match name.filter(|n| !n.is_empty()) {
        Some(n) => format!("{n} ({})", display::short(key)),
        None => display::short(key),
    }
}

/// A category path with its name in the reader's language, when the tree
/// knows it: `home/furniture (Muebles)`.
fn category_label(m: &Messages, path: &str) -> String {
    match CATEGORIES.iter().find(|c| c.path == path) {
        Some(c) => {
            let name = if m.code() == "es" { c.es } else { c.en };
            format!("{path} ({name})")
        }
        None => path.to_string(),
    }
}

fn reputation(m: &Messages, r: Option<&ReputationView>) -> String {
    match r {
        Some(ReputationView {
            count,
            mean: Some(mean),
        }) if *count > 0 => {
            let mean = format!("{mean:.1}");
            m.get_n(
                "market-reputation",
                &[("mean", &mean)],
                &[("count", *count)],
            )
        }
        _ => m.get("market-reputation-none", &[]),
    }
}

/// One line per listing: title, price, stock, seller, id.
fn listing_line(m: &Messages, l: &ListingView) -> String {
    let price = l.price.text();
    let seller = name(l.seller_name.as_deref(), &l.seller);
    let mut line = m.get_n(
        "market-listing-line",
        &[
            ("title", &l.title),
            ("price", &price),
            ("seller", &seller),
            ("id", &l.id),
        ],
        &[("available", l.available)],
    );
    if l.withdrawn {
        line.push_str(" · ");
        line.push_str(&m.get("market-withdrawn-tag", &[]));
    }
    line
}

/// A listing in full.
fn listing_details(m: &Messages, l: &ListingView) -> Vec<String> {
    let mut lines = vec![l.title.clone()];
    let price = l.price.text();
    let condition = l
        .condition
        .as_deref()
        .map(|c| label(m, "market-condition", c))
        .unwrap_or_default();
    let category = l
        .category
        .as_deref()
        .map(|c| category_label(m, c))
        .unwrap_or_default();
    lines.push(m.get(
        "market-show-price",
        &[
            ("price", &price),
            ("condition", &condition),
            ("category", &category),
        ],
    ));
    lines.push(m.get_n(
        "market-show-stock",
        &[],
        &[("available", l.available), ("quantity", l.quantity)],
    ));
    let seller = person(l.seller_name.as_deref(), &l.seller);
    lines.push(m.get("market-show-seller", &[("seller", &seller)]));
    lines.push(reputation(m, l.reputation.as_ref()));
    if let Some(loc) = &l.location {
        let parts: Vec<&str> = [loc.text.as_deref(), loc.geohash.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        if !parts.is_empty() {
            let location = parts.join(" · ");
            lines.push(m.get("market-show-location", &[("location", &location)]));
        }
    }
    if !l.delivery.is_empty() {
        let options = labels(m, "market-delivery", &l.delivery);
        lines.push(m.get("market-show-delivery", &[("options", &options)]));
    }
    if !l.payment.is_empty() {
        let options = labels(m, "market-payment", &l.payment);
        lines.push(m.get("market-show-payment", &[("options", &options)]));
    }
    if !l.media.is_empty() {
        lines.push(m.get_n(
            "market-show-photos",
            &[],
            &[("count", l.media.len() as u64)],
        ));
    }
    if let Some(at) = l.expires_at {
        lines.push(m.get("market-show-expires", &[("time", &display::time(at))]));
    }
    if l.withdrawn {
        lines.push(m.get("market-show-withdrawn", &[]));
    }
    let (created, updated) = (display::time(l.created_at), display::time(l.updated_at));
    lines.push(m.get(
        "market-show-dates",
        &[("created", &created), ("updated", &updated)],
    ));
    if let Some(d) = l.description.as_deref().filter(|d| !d.is_empty()) {
        lines.push(String::new());
        lines.extend(d.lines().map(str::to_string));
        lines.push(String::new());
    }
    let version = l.version.as_deref().unwrap_or(&l.id);
    lines.push(m.get("market-show-id", &[("id", &l.id), ("version", version)]));
    if !l.withdrawn && l.available > 0 {
        let delivery = l.delivery.first().map_or("pickup", String::as_str);
        let payment = l.payment.first().map_or("cash_on_pickup", String::as_str);
        let command = format!(
            "kith trade order {} --delivery {delivery} --payment {payment}",
            l.id
        );
        lines.push(m.get("market-show-order", &[("command", &command)]));
    }
    lines
}

/// The other party's name as the caller sees a trade (both when the caller
/// is no party).
fn counterpart(m: &Messages, t: &TradeView) -> String {
    let buyer = name(t.buyer_name.as_deref(), &t.buyer);
    let seller = name(t.seller_name.as_deref(), &t.seller);
    match t.role.as_deref() {
        Some("buyer") => m.get("trade-with-seller", &[("name", &seller)]),
        Some("seller") => m.get("trade-with-buyer", &[("name", &buyer)]),
        _ => m.get("trade-between", &[("buyer", &buyer), ("seller", &seller)]),
    }
}

/// One line per trade: title, state, counterpart, last change, id.
fn trade_line(m: &Messages, t: &TradeView) -> String {
    let state = label(m, "trade-state", &t.state);
    let with = counterpart(m, t);
    let time = display::time(t.updated_at.max(t.created_at));
    m.get(
        "trade-line",
        &[
            ("title", t.title()),
            ("state", &state),
            ("with", &with),
            ("time", &time),
            ("id", &t.id),
        ],
    )
}

/// The `kith trade` command that moves a trade to `state`.
fn command_of(state: &str) -> Option<&'static str> {
    STEPS.iter().find(|(_, s)| *s == state).map(|(c, _)| *c)
}

/// What the caller can do now: the steps the node lists, and a review
/// once the trade is completed and the caller has not reviewed it.
fn next_steps(m: &Messages, t: &TradeView) -> Vec<String> {
    let mut lines = Vec::new();
    for state in &t.next_steps {
        let Some(command) = command_of(state) else {
            continue;
        };
        let command = format!("kith trade {command} {}", t.id);
        let action = label(m, "trade-action", state);
        lines.push(m.get(
            "trade-next-line",
            &[("command", &command), ("action", &action)],
        ));
    }
    let me = match t.role.as_deref() {
        Some("buyer") => Some(&t.buyer),
        Some("seller") => Some(&t.seller),
        _ => None,
    };
    if let Some(me) = me
        && t.state == "completed"
        && !t.reviews.iter().any(|r| &r.author == me)
    {
        let command = format!("kith trade review {} --rating 5", t.id);
        let action = m.get("trade-action-review", &[]);
        lines.push(m.get(
            "trade-next-line",
            &[("command", &command), ("action", &action)],
        ));
    }
    lines
}

/// A trade in full.
fn trade_details(m: &Messages, t: &TradeView) -> Vec<String> {
    let mut lines = Vec::new();
    let quantity = t.quantity.to_string();
    match (&t.price, t.total()) {
        (Some(p), Some(total)) => lines.push(m.get(
            "trade-show-title",
            &[
                ("title", t.title()),
                ("quantity", &quantity),
                ("price", &p.text()),
                ("total", &total),
            ],
        )),
        _ => lines.push(t.title().to_string()),
    }
    let state = label(m, "trade-state", &t.state);
    lines.push(m.get("trade-show-state", &[("state", &state)]));
    let buyer = person(t.buyer_name.as_deref(), &t.buyer);
    let seller = person(t.seller_name.as_deref(), &t.seller);
    lines.push(match t.role.as_deref() {
        Some("buyer") => m.get("trade-show-you-buy", &[("seller", &seller)]),
        Some("seller") => m.get("trade-show-you-sell", &[("buyer", &buyer)]),
        _ => m.get(
            "trade-show-parties",
            &[("buyer", &buyer), ("seller", &seller)],
        ),
    });
    let delivery = t
        .delivery
        .as_deref()
        .map(|d| label(m, "market-delivery", d))
        .unwrap_or_default();
    let payment = t
        .payment
        .as_deref()
        .map(|p| label(m, "market-payment", p))
        .unwrap_or_default();
    lines.push(m.get(
        "trade-show-terms",
        &[("delivery", &delivery), ("payment", &payment)],
    ));
    if !t.history.is_empty() {
        lines.push(m.get("trade-history", &[]));
        for s in &t.history {
            let (time, state) = (display::time(s.at), label(m, "trade-state", &s.state));
            let by =
                s.by.as_deref()
                    .map(|b| label(m, "trade-party", b))
                    .unwrap_or_default();
            lines.push(format!(
                "  {}",
                m.get(
                    "trade-history-line",
                    &[("time", &time), ("state", &state), ("by", &by)],
                )
            ));
            if let Some(note) = s.note.as_deref().filter(|n| !n.is_empty()) {
                lines.push(format!(
                    "    {}",
                    m.get("trade-history-note", &[("note", note)])
                ));
            }
            if let Some(tracking) = s.tracking.as_deref().filter(|n| !n.is_empty()) {
                lines.push(format!(
                    "    {}",
                    m.get("trade-history-tracking", &[("tracking", tracking)])
                ));
            }
        }
    }
    if !t.details.is_empty() {
        lines.push(m.get("trade-details", &[]));
        for d in &t.details {
            lines.push(format!("  {} · {}", display::time(d.at), d.text));
        }
    }
    if !t.reviews.is_empty() {
        lines.push(m.get("trade-reviews", &[]));
        for r in &t.reviews {
            let author = if r.author == t.buyer {
                person(t.buyer_name.as_deref(), &r.author)
            } else if r.author == t.seller {
                person(t.seller_name.as_deref(), &r.author)
            } else {
                display::short(&r.author)
            };
            let mut line = format!("  {} {author} · {}", stars(r.rating), display::time(r.at));
            if let Some(text) = r.text.as_deref().filter(|t| !t.is_empty()) {
                line.push_str(": ");
                line.push_str(text);
            }
            lines.push(line);
        }
    }
    let next = next_steps(m, t);
    if !next.is_empty() {
        lines.push(m.get("trade-next", &[]));
        lines.extend(next.into_iter().map(|l| format!("  {l}")));
    } else if t.role.is_some()
        && !matches!(
            t.state.as_str(),
            "declined" | "completed" | "cancelled" | "resolved"
        )
    {
        lines.push(m.get("trade-waiting", &[]));
    }
    let (created, updated) = (display::time(t.created_at), display::time(t.updated_at));
    lines.push(m.get(
        "trade-show-dates",
        &[("created", &created), ("updated", &updated)],
    ));
    lines.push(m.get("trade-show-id", &[("id", &t.id), ("listing", &t.listing)]));
    lines
}

/// `★★★★☆` for 4.
fn stars(rating: u64) -> String {
    let full = usize::try_from(rating.min(5)).unwrap_or(5);
    format!("{}{}", "★".repeat(full), "☆".repeat(5 - full))
}

// --- Running the commands ---

/// Uploads photos through `kith media`'s path (processing waited for), and
/// returns their descriptors for a listing's `media`.
async fn upload_photos(ctx: &Ctx<'_>, files: &[PathBuf]) -> anyhow::Result<Value> {
    let mut descriptors = Vec::with_capacity(files.len());
    for file in files {
        let view = super::media::upload(ctx, file, true).await?;
        descriptors.push(view["descriptor"].clone());
    }
    Ok(Value::Array(descriptors))
}

/// `{"text"?, "geohash"?}`, or `None` when neither is given.
fn location(text: Option<&str>, geohash: Option<&str>) -> Option<Value> {
    if text.is_none() && geohash.is_none() {
        return None;
    }
    let mut loc = Map::new();
    if let Some(t) = text {
        loc.insert("text".into(), json!(t));
    }
    if let Some(g) = geohash {
        loc.insert("geohash".into(), json!(g.to_ascii_lowercase()));
    }
    Some(Value::Object(loc))
}

/// `GET /api/v1/market/listings` with `query`: prints the listings.
async fn listings(ctx: &Ctx<'_>, query: &[(&str, String)]) -> anyhow::Result<()> {
    let value = ctx
        .client
        .get(&["api", "v1", "market", "listings"], query)
        .await?;
    if ctx.json {
        return ctx.print_json(&value);
    }
    #[derive(Deserialize)]
    struct Items {
        items: Vec<ListingView>,
    }
    let list: Items = parse(&value)?;
    if list.items.is_empty() {
        return ctx.say(&ctx.msg("market-none", &[]));
    }
    for l in &list.items {
        ctx.say(&listing_line(ctx.m, l))?;
    }
    Ok(())
}

/// Prints the `{"listing": ListingView}` of a write with the message `id`.
fn say_listing_written(ctx: &Ctx<'_>, result: &Value, id: &str) -> anyhow::Result<()> {
    if ctx.json {
        return ctx.print_json(result);
    }
    let r: ListingResult = parse(result)?;
    let price = r.listing.price.text();
    ctx.say(&ctx.msg(
        id,
        &[
            ("title", &r.listing.title),
            ("price", &price),
            ("id", &r.listing.id),
        ],
    ))
}

/// Runs a `kith market …` command.
pub(crate) async fn market(ctx: &Ctx<'_>, command: &MarketCommand) -> anyhow::Result<()> {
    match command {
        MarketCommand::List {
            mine,
            seller,
            category,
            all,
            limit,
        } => {
            let mut query = vec![("sort", "newest".to_string()), ("limit", limit.to_string())];
            let seller = if *mine {
                Some(super::posts::my_identity(ctx).await?)
            } else {
                seller.clone()
            };
            if let Some(s) = seller {
                query.push(("seller", s));
            }
            if let Some(c) = category {
                query.push(("category", c.clone()));
            }
            if *all {
                query.push(("in_stock", "false".to_string()));
            }
            listings(ctx, &query).await
        }
        MarketCommand::Search(args) => {
            let mut query = vec![
                ("q", args.words.join(" ")),
                ("limit", args.limit.to_string()),
            ];
            if let Some(c) = &args.category {
                query.push(("category", c.clone()));
            }
            if let Some(currency) = &args.currency {
                if let Some(min) = &args.min {
                    query.push(("min_price", amount(ctx.m, min, currency)?.to_string()));
                }
                if let Some(max) = &args.max {
                    query.push(("max_price", amount(ctx.m, max, currency)?.to_string()));
                }
                query.push(("currency", currency.clone()));
            }
            if let Some(near) = &args.near {
                query.push(("near", near.to_ascii_lowercase()));
            }
            if args.all {
                query.push(("in_stock", "false".to_string()));
            }
            if let Some(sort) = &args.sort {
                query.push(("sort", sort.clone()));
            }
            listings(ctx, &query).await
        }
        MarketCommand::Show { id } => {
            let value = ctx
                .client
                .get(&["api", "v1", "market", "listings", id], &[])
                .await?;
            if ctx.json {
                return ctx.print_json(&value);
            }
            let listing: ListingView = parse(&value)?;
            ctx.say(&listing_details(ctx.m, &listing).join("\n"))
        }
        MarketCommand::Sell(args) => {
            // Everything that can be refused here is checked before uploading.
            let price = amount(ctx.m, &args.price, &args.currency)?;
            let mut body = json!({
                "title": args.title,
                "category": args.category,
                "price": { "amount": price, "currency": args.currency },
                "quantity": args.quantity,
                "condition": args.condition,
                "delivery": args.delivery,
                "payment": args.payment,
            });
            if let Some(d) = &args.more.description {
                body["description"] = json!(d);
            }
            if let Some(loc) = location(args.more.location.as_deref(), args.more.geohash.as_deref())
            {
                body["location"] = loc;
            }
            if !args.more.photos.is_empty() {
                body["media"] = upload_photos(ctx, &args.more.photos).await?;
            }
            let result = ctx
                .client
                .call(
                    Method::POST,
                    &["api", "v1", "me", "listings"],
                    &[],
                    Some(&body),
                )
                .await?;
            say_listing_written(ctx, &result, "market-listed")
        }
        MarketCommand::Edit { id, changes } => edit(ctx, id, changes).await,
        MarketCommand::Withdraw { id } => {
            let result = ctx
                .client
                .call(
                    Method::DELETE,
                    &["api", "v1", "me", "listings", id],
                    &[],
                    None,
                )
                .await?;
            say_listing_written(ctx, &result, "market-withdrawn")
        }
        MarketCommand::Categories => {
            let value = ctx
                .client
                .get(&["api", "v1", "market", "categories"], &[])
                .await?;
            if ctx.json {
                return ctx.print_json(&value);
            }
            let lang = ctx.m.code();
            let categories = value
                .get("categories")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            if categories.is_empty() {
                return ctx.say(&ctx.msg("market-categories-none", &[]));
            }
            for c in categories {
                let path = c.get("path").and_then(Value::as_str).unwrap_or_default();
                let name = c
                    .get(lang)
                    .or_else(|| c.get("en"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let indent = "  ".repeat(path.matches('/').count());
                ctx.say(&format!("{indent}{path} · {name}"))?;
            }
            Ok(())
        }
    }
}

/// `kith market edit ID …`: a `PUT` with the fields given.
async fn edit(ctx: &Ctx<'_>, id: &str, changes: &EditArgs) -> anyhow::Result<()> {
    let more = &changes.more;
    // The current listing, when a change needs what it holds: a price
    // without its currency, half of a location.
    let needs_current = (changes.price.is_some() && changes.currency.is_none())
        || (more.location.is_some() != more.geohash.is_some());
    let current: Option<ListingView> = if needs_current {
        let value = ctx
            .client
            .get(&["api", "v1", "market", "listings", id], &[])
            .await?;
        Some(parse(&value)?)
    } else {
        None
    };
    let mut body = Map::new();
    if let Some(title) = &changes.title {
        body.insert("title".into(), json!(title));
    }
    if let Some(price) = &changes.price {
        let currency = match (&changes.currency, &current) {
            (Some(c), _) => c.clone(),
            (None, Some(l)) => l.price.currency.clone(),
            (None, None) => anyhow::bail!("the node did not say the listing's currency"),
        };
        let amount = amount(ctx.m, price, &currency)?;
        body.insert(
            "price".into(),
            json!({ "amount": amount, "currency": currency }),
        );
    }
    if let Some(category) = &changes.category {
        body.insert("category".into(), json!(category));
    }
    if let Some(quantity) = changes.quantity {
        body.insert("quantity".into(), json!(quantity));
    }
    if let Some(condition) = &changes.condition {
        body.insert("condition".into(), json!(condition));
    }
    if !changes.delivery.is_empty() {
        body.insert("delivery".into(), json!(changes.delivery));
    }
    if !changes.payment.is_empty() {
        body.insert("payment".into(), json!(changes.payment));
    }
    if let Some(d) = &more.description {
        body.insert("description".into(), json!(d));
    }
    // Half a location keeps the other half from the current listing.
    let kept = current.as_ref().and_then(|l| l.location.as_ref());
    let text = more.location.as_deref().or_else(|| {
        kept.and_then(|k| k.text.as_deref())
            .filter(|_| more.geohash.is_some())
    });
    let geohash = more.geohash.as_deref().or_else(|| {
        kept.and_then(|k| k.geohash.as_deref())
            .filter(|_| more.location.is_some())
    });
    let text = text.filter(|t| !t.is_empty());
    let geohash = geohash.filter(|g| !g.is_empty());
    if let Some(loc) = location(text, geohash) {
        body.insert("location".into(), loc);
    }
    if body.is_empty() && more.photos.is_empty() {
        anyhow::bail!("{}", ctx.msg("market-edit-nothing", &[]));
    }
    if !more.photos.is_empty() {
        body.insert("media".into(), upload_photos(ctx, &more.photos).await?);
    }
    let result = ctx
        .client
        .call(
            Method::PUT,
            &["api", "v1", "me", "listings", id],
            &[],
            Some(&Value::Object(body)),
        )
        .await?;
    say_listing_written(ctx, &result, "market-edited")
}

/// The state a step command moves to, its arguments and its tracking.
fn step_of(command: &TradeCommand) -> Option<(&'static str, &StepArgs, Option<&str>)> {
    let (state, args, tracking) = match command {
        TradeCommand::Accept(a) => ("accepted", a, None),
        TradeCommand::Decline(a) => ("declined", a, None),
        TradeCommand::Pay(a) => ("paid", a, None),
        TradeCommand::Confirm(a) => ("payment_confirmed", a, None),
        TradeCommand::Ship(s) => ("shipped", &s.step, s.tracking.as_deref()),
        TradeCommand::Deliver(a) => ("delivered", a, None),
        TradeCommand::Complete(a) => ("completed", a, None),
        TradeCommand::Cancel(a) => ("cancelled", a, None),
        TradeCommand::Dispute(a) => ("disputed", a, None),
        TradeCommand::Resolve(a) => ("resolved", a, None),
        TradeCommand::Order { .. }
        | TradeCommand::Review { .. }
        | TradeCommand::Show { .. }
        | TradeCommand::List { .. } => return None,
    };
    Some((state, args, tracking))
}

/// Prints a trade after a write: `message` (with `id`, `state`, `title`,
/// `quantity`, `total`), then what the caller can do next.
fn say_trade_written(ctx: &Ctx<'_>, result: &Value, message: &str) -> anyhow::Result<()> {
    if ctx.json {
        return ctx.print_json(result);
    }
    let TradeResult { trade } = parse(result)?;
    let state = label(ctx.m, "trade-state", &trade.state);
    let quantity = trade.quantity.to_string();
    let total = trade.total().unwrap_or_default();
    ctx.say(&ctx.msg(
        message,
        &[
            ("id", &trade.id),
            ("state", &state),
            ("title", trade.title()),
            ("quantity", &quantity),
            ("total", &total),
        ],
    ))?;
    let next = next_steps(ctx.m, &trade);
    if !next.is_empty() {
        ctx.say(&ctx.msg("trade-next", &[]))?;
        for line in &next {
            ctx.say(&format!("  {line}"))?;
        }
    }
    Ok(())
}

/// Runs a `kith trade …` command.
pub(crate) async fn trade(ctx: &Ctx<'_>, command: &TradeCommand) -> anyhow::Result<()> {
    if let Some((state, args, tracking)) = step_of(command) {
        let mut body = json!({ "state": state });
        if let Some(note) = &args.note {
            body["note"] = json!(note);
        }
        if let Some(tracking) = tracking {
            body["tracking"] = json!(tracking);
        }
        let result = ctx
            .client
            .call(
                Method::POST,
                &["api", "v1", "me", "trades", &args.id, "steps"],
                &[],
                Some(&body),
            )
            .await?;
        return say_trade_written(ctx, &result, "trade-now");
    }
    match command {
        TradeCommand::Order {
            listing,
            quantity,
            delivery,
            payment,
            details,
        } => {
            let mut body = json!({
                "listing": listing,
                "quantity": quantity,
                "delivery": delivery,
                "payment": payment,
            });
            if let Some(d) = details {
                body["details"] = json!(d);
            }
            let result = ctx
                .client
                .call(
                    Method::POST,
                    &["api", "v1", "me", "trades"],
                    &[],
                    Some(&body),
                )
                .await?;
            say_trade_written(ctx, &result, "trade-ordered")?;
            if details.is_some() && !ctx.json {
                ctx.say(&ctx.msg("trade-details-sent", &[]))?;
            }
            Ok(())
        }
        TradeCommand::Review { id, rating, text } => {
            let mut body = json!({ "rating": rating });
            if let Some(t) = text {
                body["text"] = json!(t);
            }
            let result = ctx
                .client
                .call(
                    Method::POST,
                    &["api", "v1", "me", "trades", id, "review"],
                    &[],
                    Some(&body),
                )
                .await?;
            if ctx.json {
                return ctx.print_json(&result);
            }
            let stars = stars(u64::from(*rating));
            ctx.say(&ctx.msg("trade-reviewed", &[("id", id), ("stars", &stars)]))
        }
        TradeCommand::Show { id } => {
            let value = ctx.client.get(&["api", "v1", "trades", id], &[]).await?;
            if ctx.json {
                return ctx.print_json(&value);
            }
            let trade: TradeView = parse(&value)?;
            ctx.say(&trade_details(ctx.m, &trade).join("\n"))
        }
        TradeCommand::List {
            role,
            state,
            open,
            limit,
            before,
        } => {
            let mut query = Vec::new();
            if let Some(r) = role {
                query.push(("role", r.clone()));
            }
            if let Some(s) = state {
                query.push(("state", s.clone()));
            }
            if *open {
                query.push(("open", "true".to_string()));
            }
            if let Some(l) = limit {
                query.push(("limit", l.to_string()));
            }
            if let Some(b) = before {
                query.push(("before", b.clone()));
            }
            let value = ctx
                .client
                .get(&["api", "v1", "me", "trades"], &query)
                .await?;
            if ctx.json {
                return ctx.print_json(&value);
            }
            #[derive(Deserialize)]
            struct Page {
                items: Vec<TradeView>,
                #[serde(default)]
                next: Option<String>,
            }
            let page: Page = parse(&value)?;
            if page.items.is_empty() {
                return ctx.say(&ctx.msg("trade-none", &[]));
            }
            for t in &page.items {
                ctx.say(&trade_line(ctx.m, t))?;
            }
            if let Some(next) = page.next.filter(|n| !n.is_empty()) {
                ctx.say(&ctx.msg("trade-more", &[("before", &next)]))?;
            }
            Ok(())
        }
        // The steps were handled above.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn prices_are_read_in_the_currencys_minor_units() {
        assert_eq!(parse_price("12.50", 2), Ok(1250));
        assert_eq!(parse_price("12.5", 2), Ok(1250));
        assert_eq!(parse_price("12", 2), Ok(1200));
        assert_eq!(parse_price(" 0.05 ", 2), Ok(5));
        assert_eq!(parse_price("0", 2), Ok(0));
        assert_eq!(parse_price("007.10", 2), Ok(710));
        assert_eq!(parse_price("1500", 0), Ok(1500));
        assert_eq!(parse_price("1.234", 3), Ok(1234));
        assert_eq!(parse_price("1.2", 3), Ok(1200));
        let max = u64::MAX.to_string();
        assert_eq!(parse_price(&max, 0), Ok(u64::MAX));
    }

    #[test]
    fn bad_prices_are_refused_with_the_reason() {
        use PriceError::*;
        for garbage in [
            "", " ", "abc", "12,50", "1,000.00", "12.", ".5", ".", "1.2.3", "+5", "1e3", "12 50",
            "12.5x", "٣", "--5", "-", "0x10", "NaN", "inf",
        ] {
            assert_eq!(parse_price(garbage, 2), Err(NotANumber), "{garbage:?}");
        }
        assert_eq!(parse_price("-5", 2), Err(Negative));
        assert_eq!(parse_price("-0.50", 2), Err(Negative));
        assert_eq!(parse_price("12.505", 2), Err(TooManyDecimals { max: 2 }));
        assert_eq!(parse_price("12.500", 2), Err(TooManyDecimals { max: 2 }));
        assert_eq!(parse_price("1500.5", 0), Err(TooManyDecimals { max: 0 }));
        assert_eq!(parse_price("1.2345", 3), Err(TooManyDecimals { max: 3 }));
        assert_eq!(parse_price("18446744073709551616", 0), Err(TooLarge));
        assert_eq!(parse_price("184467440737095516.15", 2), Ok(u64::MAX));
        assert_eq!(parse_price("184467440737095516.16", 2), Err(TooLarge));
        assert_eq!(parse_price("184467440737095517", 2), Err(TooLarge));
        assert_eq!(parse_price("99999999999999999999999999", 2), Err(TooLarge));
        assert_eq!(parse_price("1", 20), Err(TooLarge));
    }

    #[test]
    fn prices_are_shown_as_specs_trades_writes_them() {
        assert_eq!(format_price(1250, "EUR"), "12.50 EUR");
        assert_eq!(format_price(5, "EUR"), "0.05 EUR");
        assert_eq!(format_price(0, "EUR"), "0.00 EUR");
        assert_eq!(format_price(1500, "JPY"), "1500 JPY");
        assert_eq!(format_price(1234, "KWD"), "1.234 KWD");
        assert_eq!(format_price(100_000_000, "MXN"), "1000000.00 MXN");
        for (amount, currency) in [(1250, "EUR"), (7, "KWD"), (99, "CLP"), (u64::MAX, "USD")] {
            let text = format_price(amount, currency);
            let typed = text.split(' ').next().unwrap();
            assert_eq!(
                parse_price(typed, minor_units(currency)),
                Ok(amount),
                "{text}"
            );
        }
    }

    #[test]
    fn currencies_are_iso_codes() {
        assert_eq!(parse_currency("eur"), Ok("EUR".to_string()));
        assert_eq!(parse_currency(" MXN "), Ok("MXN".to_string()));
        assert!(parse_currency("EURO").is_err());
        assert!(parse_currency("E1R").is_err());
        assert!(parse_currency("").is_err());
    }

    #[derive(Debug, Parser)]
    struct Trade {
        #[command(subcommand)]
        command: TradeCommand,
    }

    #[derive(Debug, Parser)]
    struct Market {
        #[command(subcommand)]
        command: MarketCommand,
    }

    #[test]
    fn every_step_command_posts_its_state() {
        for (command, state) in STEPS {
            let t = Trade::try_parse_from(["trade", command, "bafyreiorder", "--note", "hola"])
                .unwrap_or_else(|e| panic!("{command}: {e}"));
            let (got, args, tracking) = step_of(&t.command).unwrap();
            assert_eq!(got, state, "{command}");
            assert_eq!(args.id, "bafyreiorder");
            assert_eq!(args.note.as_deref(), Some("hola"));
            assert_eq!(tracking, None);
            assert_eq!(command_of(state), Some(command));
            assert!(STATES.contains(&state));
        }
        let t = Trade::try_parse_from(["trade", "ship", "bafyreiorder", "--tracking", "ES123"])
            .unwrap();
        assert_eq!(
            step_of(&t.command).map(|(s, _, t)| (s, t)),
            Some(("shipped", Some("ES123")))
        );
        assert!(Trade::try_parse_from(["trade", "accept", "x", "--tracking", "1"]).is_err());
        let t = Trade::try_parse_from(["trade", "show", "x"]).unwrap();
        assert!(step_of(&t.command).is_none());
    }

    #[test]
    fn arguments_follow_the_contract() {
        let m = Market::try_parse_from([
            "market",
            "sell",
            "--title",
            "Mesa",
            "--price",
            "12.50",
            "--currency",
            "eur",
            "--category",
            "home/furniture",
            "--delivery",
            "pickup,shipping",
            "--photo",
            "a.jpg",
            "--photo",
            "b.jpg",
        ])
        .unwrap();
        let MarketCommand::Sell(args) = m.command else {
            panic!("sell");
        };
        assert_eq!(args.currency, "EUR");
        assert_eq!(args.quantity, 1);
        assert_eq!(args.condition, "good");
        assert_eq!(args.delivery, ["pickup", "shipping"]);
        assert_eq!(args.payment, ["cash_on_pickup"]);
        assert_eq!(args.more.photos.len(), 2);
        // A negative price reaches parse_price, which says why it is refused.
        let m = Market::try_parse_from([
            "market",
            "sell",
            "--title",
            "Mesa",
            "--price",
            "-3",
            "--currency",
            "EUR",
            "--category",
            "home",
        ])
        .unwrap();
        let MarketCommand::Sell(args) = m.command else {
            panic!("sell");
        };
        assert_eq!(parse_price(&args.price, 2), Err(PriceError::Negative));
        assert!(
            Market::try_parse_from(["market", "sell", "--title", "x", "--price", "1"]).is_err()
        );
        assert!(
            Market::try_parse_from(["market", "search", "mesa", "--min", "10"]).is_err(),
            "--min needs --currency"
        );
        assert!(Market::try_parse_from(["market", "search", "--currency", "EUR"]).is_err());
        assert!(
            Market::try_parse_from(["market", "edit", "x", "--currency", "EUR"]).is_err(),
            "--currency needs --price"
        );
        assert!(Market::try_parse_from(["market", "edit", "x", "--price", "3"]).is_ok());
        assert!(Market::try_parse_from(["market", "list", "--mine", "--seller", "k"]).is_err());
        assert!(
            Trade::try_parse_from(["trade", "order", "x", "--delivery", "pickup"]).is_err(),
            "--payment is required"
        );
        assert!(Trade::try_parse_from(["trade", "review", "x", "--rating", "6"]).is_err());
        assert!(Trade::try_parse_from(["trade", "list", "--state", "payment_confirmed"]).is_ok());
    }

    #[test]
    fn every_label_is_in_both_languages() {
        for lang in ["en", "es"] {
            let m = Messages::new(lang);
            let groups: [(&str, &[&str]); 5] = [
                ("market-condition", &CONDITIONS),
                ("market-delivery", &DELIVERY),
                ("market-payment", &PAYMENT),
                ("trade-state", &STATES),
                ("trade-party", &["buyer", "seller"]),
            ];
            for (group, values) in groups {
                for v in values {
                    let id = format!("{group}-{v}");
                    assert_ne!(m.get(&id, &[]), id, "{lang}: {id}");
                }
            }
            for (_, state) in STEPS {
                let id = format!("trade-action-{state}");
                assert_ne!(m.get(&id, &[]), id, "{lang}: {id}");
            }
        }
        // Unknown values show as they are.
        assert_eq!(
            label(&Messages::new("es"), "trade-state", "haggling"),
            "haggling"
        );
    }

    fn listing() -> ListingView {
        serde_json::from_value(json!({
            "id": "bafyreilisting", "version": "bafyreiedit",
            "seller": "kith1notakey", "seller_name": "Ana",
            "title": "Mesa de roble", "description": "Maciza.\nSin marcas.",
            "category": "home/furniture",
            "price": {"amount": 1250, "currency": "EUR", "text": "12.50 EUR"},
            "quantity": 2, "available": 0, "condition": "like_new",
            "location": {"text": "Gràcia", "geohash": "sp3e9"},
            "delivery": ["pickup", "shipping"], "payment": ["cash_on_pickup"],
            "media": [], "withdrawn": false,
            "created_at": 1_767_225_600_000u64, "updated_at": 1_767_225_600_000u64,
            "reputation": {"count": 3, "mean": 4.666}
        }))
        .unwrap()
    }

    #[test]
    fn listings_read_in_both_languages() {
        let l = listing();
        let en = listing_line(&Messages::new("en"), &l);
        assert!(
            en.contains("Mesa de roble") && en.contains("12.50 EUR"),
            "{en}"
        );
        assert!(en.contains("sold out") && en.contains("Ana"), "{en}");
        assert!(en.contains("bafyreilisting"), "{en}");
        let es = listing_line(&Messages::new("es"), &l);
        assert!(es.contains("agotado"), "{es}");
        let en = listing_details(&Messages::new("en"), &l).join("\n");
        assert!(
            en.contains("like new") && en.contains("home/furniture (Furniture)"),
            "{en}"
        );
        assert!(en.contains("4.7") && en.contains("3 reviews"), "{en}");
        assert!(
            en.contains("pickup, shipping") && en.contains("Sin marcas."),
            "{en}"
        );
        assert!(!en.contains("kith trade order"), "sold out: {en}");
        let es = listing_details(&Messages::new("es"), &l).join("\n");
        assert!(
            es.contains("como nuevo") && es.contains("(Muebles)"),
            "{es}"
        );
        assert!(es.contains("3 reseñas"), "{es}");
    }

    fn trade() -> TradeView {
        serde_json::from_value(json!({
            "id": "bafyreiorder", "listing": "bafyreilisting", "listing_title": "Mesa de roble",
            "buyer": "kith1buyer", "buyer_name": "Bea", "seller": "kith1seller", "seller_name": "Ana",
            "role": "buyer", "state": "completed", "quantity": 2,
            "delivery": "shipping", "payment": "bank_transfer",
            "price": {"amount": 1250, "currency": "EUR", "text": "12.50 EUR"},
            "created_at": 1_767_225_600_000u64, "updated_at": 1_767_225_600_000u64,
            "latest": "bafyreilast",
            "history": [
                {"id": "bafyreiorder", "state": "ordered", "by": "buyer", "at": 1_767_225_600_000u64},
                {"id": "bafyreiship", "state": "shipped", "by": "seller", "at": 1_767_225_600_000u64,
                 "tracking": "ES123"}
            ],
            "next_steps": [],
            "reviews": [{"id": "r", "author": "kith1seller", "subject": "kith1buyer", "rating": 5,
                         "text": "Puntual.", "at": 1_767_225_600_000u64}],
            "details": []
        }))
        .unwrap()
    }

    #[test]
    fn trades_say_state_counterpart_history_and_next_steps() {
        let t = trade();
        let en = trade_details(&Messages::new("en"), &t).join("\n");
        assert!(en.contains("25.00 EUR"), "total: {en}");
        assert!(en.contains("completed") && en.contains("Ana"), "{en}");
        assert!(en.contains("ES123") && en.contains("★★★★★"), "{en}");
        assert!(
            en.contains("kith trade review bafyreiorder --rating 5"),
            "the buyer has not reviewed yet: {en}"
        );
        let es = trade_line(&Messages::new("es"), &t);
        assert!(es.contains("completado") && es.contains("Ana"), "{es}");
        let mut open = trade();
        open.state = "ordered".into();
        open.role = Some("seller".into());
        open.next_steps = vec!["accepted".into(), "declined".into(), "cancelled".into()];
        let next = next_steps(&Messages::new("en"), &open).join("\n");
        assert!(next.contains("kith trade accept bafyreiorder"), "{next}");
        assert!(next.contains("kith trade decline bafyreiorder"), "{next}");
        assert!(next.contains("kith trade cancel bafyreiorder"), "{next}");
        assert!(!next.contains("review"), "{next}");
    }
}
