//! The marketplace over HTTP (`specs/gateway.md` § 14, `specs/trades.md`):
//! listings (search with filters, sell, edit, withdraw), trades (order, the
//! signed steps of the state machine, reviews), reputation, the category
//! tree, and the seller's node declining automatically what it cannot fill.
//!
//! Every step is an event signed for the caller and checked by the store
//! like any other, so this module only builds events and views: the rules
//! (who may take which step, stock on acceptance, one review per party) are
//! the protocol's and the store's, and their refusals come back as the
//! protocol's error codes.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kith_node::protocol::dm::{Body, Letter, Text};
use kith_node::protocol::kinds::Payload;
use kith_node::protocol::kinds::trade::{
    CATEGORIES, Condition, DeliveryOption, Listing, Location, Order, Party, PaymentMethod, Price,
    Review, TradeState, TradeUpdate,
};
use kith_node::protocol::media::MediaDescriptor;
use kith_node::protocol::{Event, EventId, Kind, PublicKey, Ref, Rel};
use kith_node::storage::{
    Cursor, ListingQuery, ListingSort, Reader, StoredEvent, TradeFilter, TradeRecord,
};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::TokenOwner;
use crate::api::{ApiQuery, blocking, parse_id, parse_key};
use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;
use crate::server::AppState;
use crate::views::display_name;

/// How long opening a listing this node lacks waits for a peer to send it.
const FETCH_WAIT: Duration = Duration::from_secs(5);
/// The note on an order the seller's node declines for lack of stock.
const SOLD_OUT: &str = "sold out";

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(categories))
        .routes(routes!(search_listings))
        .routes(routes!(get_listing))
        .routes(routes!(sell))
        .routes(routes!(edit_listing, withdraw_listing))
        .routes(routes!(place_order, my_trades))
        .routes(routes!(get_trade))
        .routes(routes!(take_step))
        .routes(routes!(review_trade))
        .routes(routes!(reputation))
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("bad_query", message)
}

// ------------------------------------------------------------------ views

/// An identity's reputation as a trading partner (`count`, `mean`): in
/// the marketplace's views and in the identity view.
pub(crate) fn reputation_json(reader: &Reader, key: &PublicKey) -> ApiResult<Value> {
    let r = reader.reputation(key)?;
    Ok(json!({ "count": r.count, "mean": r.mean }))
}

fn price_json(p: &Price) -> Value {
    json!({ "amount": p.amount, "currency": p.currency, "text": p.display() })
}

/// The original of a listing and its current version.
fn listing_versions(reader: &Reader, id: &EventId) -> ApiResult<Option<(Event, Event)>> {
    let Some(e) = reader.get(id)? else {
        return Ok(None);
    };
    if e.kind() != Kind::Listing {
        return Ok(None);
    }
    let original_id = e.event_ref(Rel::EditOf).unwrap_or(e.id());
    let original = if original_id == e.id() {
        e
    } else {
        match reader.get(&original_id)? {
            Some(o) => o,
            None => return Ok(None),
        }
    };
    let current = reader
        .latest(&original.author(), Kind::Listing, Some(&original_id))?
        .unwrap_or_else(|| original.clone());
    Ok(Some((original, current)))
}

fn listing_json(reader: &Reader, original: &Event, current: &Event) -> ApiResult<Value> {
    let Payload::Listing(l) = current.payload() else {
        return Err(ApiError::internal("a listing's version is not a listing"));
    };
    let seller = original.author();
    let mut v = json!({
        "id": original.id(),
        "version": current.id(),
        "seller": seller,
        "seller_name": display_name(reader, &seller),
        "title": l.title,
        "description": l.description,
        "category": l.category,
        "price": price_json(&l.price),
        "quantity": l.quantity,
        "available": reader.stock(&original.id())?,
        "condition": l.condition,
        "delivery": l.delivery,
        "payment": l.payment,
        "media": l.media,
        "withdrawn": l.withdrawn,
        "created_at": original.created_at(),
        "updated_at": current.created_at(),
        "reputation": reputation_json(reader, &seller)?,
    });
    if let Some(loc) = &l.location {
        v["location"] = json!(loc);
    }
    if let Some(t) = l.expires_at {
        v["expires_at"] = json!(t);
    }
    Ok(v)
}

/// A trade as the API shows it. `viewer` decides `role` and `next_steps`;
/// `details` (the buyer's delivery details, from the viewer's own
/// decrypted mail) are added by the caller for the parties.
fn trade_json(
    reader: &Reader,
    id: &EventId,
    t: &TradeRecord,
    viewer: Option<&PublicKey>,
    full: bool,
) -> ApiResult<Value> {
    let order = reader
        .get(id)?
        .ok_or_else(|| ApiError::internal("a trade's order is missing"))?;
    let Payload::Order(o) = order.payload() else {
        return Err(ApiError::internal("a trade's order is not an order"));
    };
    let versions = listing_versions(reader, &t.listing)?;
    let (title, price) = match versions.as_ref().map(|(_, c)| c.payload()) {
        Some(Payload::Listing(l)) => (l.title.clone(), Some(price_json(&l.price))),
        _ => (String::new(), None),
    };
    let role = viewer.and_then(|v| t.party(v));
    let next: Vec<&str> = match role {
        Some(by) => TradeState::ALL
            .iter()
            .filter(|to| t.state.transition(**to, by).is_ok())
            .map(|s| s.name())
            .collect(),
        None => Vec::new(),
    };
    let mut v = json!({
        "id": id,
        "listing": t.listing,
        "listing_title": title,
        "buyer": t.buyer,
        "buyer_name": display_name(reader, &t.buyer),
        "seller": t.seller,
        "seller_name": display_name(reader, &t.seller),
        "role": role.map(Party::name),
        "state": t.state.name(),
        "quantity": o.quantity,
        "delivery": o.delivery,
        "payment": o.payment,
        "price": price,
        "created_at": order.created_at(),
        "latest": t.latest,
        "next_steps": next,
    });
    let latest_at = if t.latest == *id {
        order.created_at()
    } else {
        reader.get(&t.latest)?.map_or(0, |e| e.created_at())
    };
    v["updated_at"] = json!(latest_at);
    if full {
        // The chain, from the latest step back to the order.
        let mut history = Vec::new();
        let mut at = t.latest;
        while at != *id && history.len() < 64 {
            let Some(step) = reader.get(&at)? else { break };
            if let Payload::TradeUpdate(u) = step.payload() {
                let by = t.party(&step.author()).map(Party::name);
                let mut h = json!({
                    "id": step.id(), "state": u.state.name(), "by": by, "at": step.created_at(),
                });
                if let Some(n) = &u.note {
                    h["note"] = json!(n);
                }
                if let Some(n) = &u.tracking {
                    h["tracking"] = json!(n);
                }
                history.push(h);
            }
            match step.event_ref(Rel::Prev) {
                Some(p) => at = p,
                None => break,
            }
        }
        history.push(json!({
            "id": id, "state": "ordered", "by": "buyer", "at": order.created_at(),
        }));
        history.reverse();
        v["history"] = json!(history);
        let mut reviews = Vec::new();
        for (at, rid, author) in
            reader.referrers_between(id, Rel::Order, Kind::Review, 0, u64::MAX)?
        {
            if let Some(e) = reader.get(&rid)?
                && let Payload::Review(r) = e.payload()
            {
                reviews.push(json!({
                    "id": rid, "author": author, "subject": e.identity_ref(Rel::Subject),
                    "rating": r.rating, "text": r.text, "at": at,
                }));
            }
        }
        v["reviews"] = json!(reviews);
    }
    Ok(v)
}

/// The delivery details the buyer sent for trade `id`, as `viewer` (a
/// party) can read them in their mail: the letters of the conversation
/// between the two parties that name the trade.
fn details(state: &AppState, viewer: &PublicKey, t: &TradeRecord, id: &EventId) -> Vec<Value> {
    let other = if *viewer == t.buyer {
        t.seller
    } else {
        t.buyer
    };
    let conv = kith_node::dm::Conversation::Peer(other);
    let Ok(page) = state.node.messenger().messages(viewer, &conv, None, 1_000) else {
        return Vec::new();
    };
    page.messages
        .into_iter()
        .filter(|m| m.order == Some(*id) && m.from == t.buyer && !m.deleted)
        .map(|m| json!({ "at": m.created_at, "text": m.text }))
        .collect()
}

/// A trade's view for `viewer`, with the details when they are a party.
fn trade_view(
    state: &AppState,
    id: &EventId,
    viewer: Option<&PublicKey>,
) -> ApiResult<Option<Value>> {
    let reader = state.node.store().reader();
    let Some(t) = reader.trade(id)? else {
        return Ok(None);
    };
    let mut v = trade_json(reader, id, &t, viewer, true)?;
    if let Some(me) = viewer
        && t.party(me).is_some()
    {
        v["details"] = json!(details(state, me, &t, id));
    }
    Ok(Some(v))
}

// ------------------------------------------------------------- categories

/// The category tree clients offer (`specs/trades.md` § Categories).
#[utoipa::path(get, path = "/api/v1/market/categories", tag = "market",
    responses((status = 200, description = "`{categories: [{path, en, es}]}`, parents first")))]
async fn categories() -> Response {
    let list: Vec<Value> = CATEGORIES
        .iter()
        .map(|c| json!({ "path": c.path, "en": c.en, "es": c.es }))
        .collect();
    axum::Json(json!({ "categories": list })).into_response()
}

// ---------------------------------------------------------------- listings

/// Marketplace search parameters (all optional).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// Words.
    q: Option<String>,
    /// A category path; its children match too.
    category: Option<String>,
    /// Lowest price, minor units.
    min_price: Option<String>,
    /// Highest price, minor units.
    max_price: Option<String>,
    /// ISO 4217 code.
    currency: Option<String>,
    /// A geohash prefix, 1 to 6 characters.
    near: Option<String>,
    /// `true` (default): only listings with units left.
    in_stock: Option<String>,
    /// Only this seller (`kith1…`).
    seller: Option<String>,
    /// `relevance`, `newest`, `price_asc`, `price_desc`.
    sort: Option<String>,
    /// 1 to 100 (default 20).
    limit: Option<String>,
}

fn parse_num<T: std::str::FromStr>(name: &str, v: Option<&str>) -> ApiResult<Option<T>> {
    v.map(|s| {
        s.parse::<T>()
            .map_err(|_| bad_query(format!("`{name}` must be a whole number, not `{s}`")))
    })
    .transpose()
}

impl SearchParams {
    fn query(&self) -> ApiResult<ListingQuery> {
        let limit: usize = parse_num("limit", self.limit.as_deref())?.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(bad_query("`limit` is 1 to 100"));
        }
        let sort = match self.sort.as_deref() {
            None | Some("relevance") => ListingSort::Relevance,
            Some("newest") => ListingSort::Newest,
            Some("price_asc") => ListingSort::PriceAsc,
            Some("price_desc") => ListingSort::PriceDesc,
            Some(other) => {
                return Err(bad_query(format!(
                    "`sort` is relevance, newest, price_asc or price_desc, not `{other}`"
                )));
            }
        };
        let in_stock = match self.in_stock.as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(bad_query(format!(
                    "`in_stock` is true or false, not `{other}`"
                )));
            }
        };
        if let Some(c) = &self.category {
            kith_node::protocol::kinds::trade::check_category(c)
                .map_err(|_| bad_query(format!("`{c}` is not a category path")))?;
        }
        if let Some(c) = &self.currency
            && (c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(bad_query(format!("`{c}` is not an ISO 4217 code")));
        }
        if let Some(g) = &self.near
            && (g.is_empty()
                || g.len() > 6
                || !g
                    .bytes()
                    .all(|b| b"0123456789bcdefghjkmnpqrstuvwxyz".contains(&b)))
        {
            return Err(bad_query(format!(
                "`near` is a geohash prefix of 1 to 6 characters, not `{g}`"
            )));
        }
        let seller = match &self.seller {
            Some(s) => Some(
                s.parse::<PublicKey>()
                    .map_err(|_| bad_query(format!("`{s}` is not a Kith identity")))?,
            ),
            None => None,
        };
        let min_price = parse_num("min_price", self.min_price.as_deref())?;
        let max_price = parse_num("max_price", self.max_price.as_deref())?;
        if let (Some(a), Some(b)) = (min_price, max_price)
            && a > b
        {
            return Err(bad_query("`min_price` is above `max_price`"));
        }
        Ok(ListingQuery {
            text: self.q.clone().unwrap_or_default(),
            category: self.category.clone(),
            min_price,
            max_price,
            currency: self.currency.clone(),
            near: self.near.clone(),
            in_stock,
            seller,
            sort,
            limit,
        })
    }
}

/// Searches the listings this node knows: words (typo-tolerant) and
/// filters; without words, newest first.
#[utoipa::path(get, path = "/api/v1/market/listings", tag = "market", params(SearchParams),
    responses((status = 200, description = "`{items: [listing]}`"),
        (status = "default", body = ErrorBody)))]
async fn search_listings(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> ApiResult<Response> {
    let query = params.query()?;
    let st = state.clone();
    let items = blocking(state.work.clone(), move || {
        let store = st.node.store();
        let hits = store
            .search_listings(&query, kith_node::now_ms())
            .map_err(|e| match e {
                kith_node::storage::StoreError::BadQuery(m) => bad_query(m),
                other => ApiError::from(other),
            })?;
        let reader = store.reader();
        let mut items = Vec::with_capacity(hits.len());
        for hit in hits {
            if let Some((original, current)) = listing_versions(reader, &hit.listing)? {
                items.push(listing_json(reader, &original, &current)?);
            }
        }
        Ok(items)
    })
    .await?;
    Ok(axum::Json(json!({ "items": items })).into_response())
}

async fn load_listing(state: &AppState, id: EventId) -> ApiResult<(Event, Event)> {
    let st = state.clone();
    let find = move || {
        let st = st.clone();
        async move {
            blocking(st.work.clone(), move || {
                listing_versions(st.node.store().reader(), &id)
            })
            .await
        }
    };
    if let Some(found) = find().await? {
        return Ok(found);
    }
    // Not here: ask the peers (the seller's node among them, if connected).
    if state.node.fetch_event(id, FETCH_WAIT).await
        && let Some(found) = find().await?
    {
        return Ok(found);
    }
    Err(ApiError::not_found("listing"))
}

/// One listing by its id (the original event's, or any version's), with
/// its current terms, stock and the seller's reputation. A listing this
/// node lacks is asked of its peers first.
#[utoipa::path(get, path = "/api/v1/market/listings/{id}", tag = "market",
    params(("id" = String, Path, description = "Listing id")),
    responses((status = 200, description = "The listing"), (status = "default", body = ErrorBody)))]
async fn get_listing(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let (original, current) = load_listing(&state, id).await?;
    let st = state.clone();
    let v = blocking(state.work.clone(), move || {
        listing_json(st.node.store().reader(), &original, &current)
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// A listing to publish, or (for an edit) the fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListingBody {
    title: Option<String>,
    description: Option<String>,
    category: Option<String>,
    #[schema(value_type = Option<Object>)]
    price: Option<Price>,
    quantity: Option<u32>,
    #[schema(value_type = Option<String>)]
    condition: Option<Condition>,
    #[schema(value_type = Option<Object>)]
    location: Option<Location>,
    #[schema(value_type = Option<Vec<String>>)]
    delivery: Option<Vec<DeliveryOption>>,
    #[schema(value_type = Option<Vec<String>>)]
    payment: Option<Vec<PaymentMethod>>,
    #[schema(value_type = Option<Vec<Object>>)]
    media: Option<Vec<MediaDescriptor>>,
    expires_at: Option<u64>,
}

fn missing(field: &str) -> ApiError {
    ApiError::bad_request("field_invalid", format!("`{field}` is required"))
        .with_details(json!({ "field": field }))
}

impl ListingBody {
    /// The body applied over `base` (an edit), or as a whole new listing.
    fn apply(self, base: Option<Listing>) -> ApiResult<Listing> {
        let new = base.is_none();
        let b = base.unwrap_or(Listing {
            title: String::new(),
            description: String::new(),
            category: String::new(),
            price: Price {
                amount: 0,
                currency: String::new(),
            },
            quantity: 1,
            condition: Condition::Good,
            location: None,
            delivery: vec![DeliveryOption::Pickup],
            payment: vec![PaymentMethod::CashOnPickup],
            media: Vec::new(),
            expires_at: None,
            withdrawn: false,
        });
        if new {
            if self.title.is_none() {
                return Err(missing("title"));
            }
            if self.category.is_none() {
                return Err(missing("category"));
            }
            if self.price.is_none() {
                return Err(missing("price"));
            }
        }
        Ok(Listing {
            title: self.title.unwrap_or(b.title),
            description: self.description.unwrap_or(b.description),
            category: self.category.unwrap_or(b.category),
            price: self.price.unwrap_or(b.price),
            quantity: self.quantity.unwrap_or(b.quantity),
            condition: self.condition.unwrap_or(b.condition),
            location: self.location.or(b.location),
            delivery: self.delivery.unwrap_or(b.delivery),
            payment: self.payment.unwrap_or(b.payment),
            media: self.media.unwrap_or(b.media),
            expires_at: self.expires_at.or(b.expires_at),
            withdrawn: false,
        })
    }
}

/// Publishes a payload for the caller, refusing what the store refuses.
async fn publish(
    state: &AppState,
    caller: &Caller,
    payload: Payload,
    refs: Vec<Ref>,
) -> ApiResult<Event> {
    Ok(crate::api::publish_event(state, caller, payload, refs)
        .await?
        .0)
}

/// Lets buyers reach the seller privately: makes sure the caller has a DM
/// key in their profile (best effort; needs the root key).
async fn ensure_dm_key(state: &AppState, caller: &Caller) {
    if caller.root_key(state).is_some()
        && let Err(e) = crate::chats::ready(state, caller).await
    {
        tracing::debug!(error = ?e, "no DM key published for a seller");
    }
}

async fn listing_reply(state: &AppState, id: EventId, status: StatusCode) -> ApiResult<Response> {
    let (original, current) = load_listing(state, id).await?;
    let st = state.clone();
    let v = blocking(state.work.clone(), move || {
        listing_json(st.node.store().reader(), &original, &current)
    })
    .await?;
    Ok((status, axum::Json(json!({ "listing": v }))).into_response())
}

/// Puts something up for sale.
#[utoipa::path(post, path = "/api/v1/me/listings", tag = "market", security(("bearer" = [])),
    request_body = ListingBody,
    responses((status = 201, description = "`{listing}`"), (status = "default", body = ErrorBody)))]
async fn sell(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ListingBody>,
) -> ApiResult<Response> {
    let listing = body.apply(None)?;
    ensure_dm_key(&state, &caller).await;
    let event = publish(&state, &caller, Payload::Listing(listing), vec![]).await?;
    listing_reply(&state, event.id(), StatusCode::CREATED).await
}

/// The caller's listing `id` (original and current version), or 404/403.
async fn own_listing(state: &AppState, caller: &Caller, id: &str) -> ApiResult<(Event, Listing)> {
    let (original, current) = load_listing(state, parse_id(id)?).await?;
    if original.author() != caller.identity {
        return Err(ApiError::forbidden(
            "not_author",
            "only the seller may change a listing",
        ));
    }
    let Payload::Listing(l) = current.payload() else {
        return Err(ApiError::internal("a listing's version is not a listing"));
    };
    Ok((original, l.clone()))
}

/// Changes the caller's listing: the fields given replace the current ones.
#[utoipa::path(put, path = "/api/v1/me/listings/{id}", tag = "market", security(("bearer" = [])),
    params(("id" = String, Path, description = "Listing id")), request_body = ListingBody,
    responses((status = 200, description = "`{listing}`"), (status = "default", body = ErrorBody)))]
async fn edit_listing(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ListingBody>,
) -> ApiResult<Response> {
    let (original, current) = own_listing(&state, &caller, &id).await?;
    if current.withdrawn {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "listing_unavailable",
            "this listing was withdrawn",
        ));
    }
    let edited = body.apply(Some(current))?;
    publish(
        &state,
        &caller,
        Payload::Listing(edited),
        vec![Ref::event(Rel::EditOf, original.id())],
    )
    .await?;
    listing_reply(&state, original.id(), StatusCode::OK).await
}

/// Takes the caller's listing off sale.
#[utoipa::path(delete, path = "/api/v1/me/listings/{id}", tag = "market", security(("bearer" = [])),
    params(("id" = String, Path, description = "Listing id")),
    responses((status = 200, description = "`{listing}`"), (status = "default", body = ErrorBody)))]
async fn withdraw_listing(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (original, mut current) = own_listing(&state, &caller, &id).await?;
    if !current.withdrawn {
        current.withdrawn = true;
        publish(
            &state,
            &caller,
            Payload::Listing(current),
            vec![Ref::event(Rel::EditOf, original.id())],
        )
        .await?;
    }
    listing_reply(&state, original.id(), StatusCode::OK).await
}

// ------------------------------------------------------------------ trades

/// An order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrderBody {
    /// The listing's id.
    listing: String,
    /// Units (default 1).
    #[serde(default)]
    quantity: Option<u32>,
    /// `pickup` or `shipping`.
    #[schema(value_type = String)]
    delivery: DeliveryOption,
    /// `cash_on_pickup`, `bank_transfer`, `payment_link` or `other`.
    #[schema(value_type = String)]
    payment: PaymentMethod,
    /// Address, phone…: sent to the seller end-to-end encrypted, never public.
    #[serde(default)]
    details: Option<String>,
}

async fn trade_reply(
    state: &AppState,
    id: EventId,
    viewer: Option<PublicKey>,
    status: StatusCode,
    wrap: bool,
) -> ApiResult<Response> {
    let st = state.clone();
    let v = blocking(state.work.clone(), move || {
        trade_view(&st, &id, viewer.as_ref())
    })
    .await?
    .ok_or_else(|| ApiError::not_found("trade"))?;
    let body = if wrap { json!({ "trade": v }) } else { v };
    Ok((status, axum::Json(body)).into_response())
}

/// Orders from a listing. Delivery details go to the seller as an
/// end-to-end encrypted message naming the trade.
#[utoipa::path(post, path = "/api/v1/me/trades", tag = "market", security(("bearer" = [])),
    request_body = OrderBody,
    responses((status = 201, description = "`{trade}`"), (status = "default", body = ErrorBody)))]
async fn place_order(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<OrderBody>,
) -> ApiResult<Response> {
    let (original, current) = load_listing(&state, parse_id(&body.listing)?).await?;
    let seller = original.author();
    let details = body.details.filter(|d| !d.trim().is_empty());
    // Checked before anything is published: the details must be able to
    // reach the seller, or the order would wait without them.
    let root = match &details {
        Some(_) => {
            let root = crate::chats::ready(&state, &caller).await?;
            if !state.node.reachable_by_letter(seller).await {
                return Err(ApiError::from(kith_node::dm::MessageError::NoDmKey(seller)));
            }
            Some(root)
        }
        None => None,
    };
    let order = Order {
        quantity: body.quantity.unwrap_or(1),
        delivery: body.delivery,
        payment: body.payment,
    };
    // The node's own view of the stock: a listing it knows is sold out is
    // refused here instead of waiting for the seller's node to decline.
    let st = state.clone();
    let listing_id = original.id();
    let stock = blocking(state.work.clone(), move || {
        Ok(st.node.store().reader().stock(&listing_id)?)
    })
    .await?;
    if let Payload::Listing(l) = current.payload()
        && order.quantity > stock.min(l.quantity)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "listing_unavailable",
            format!("only {stock} left"),
        ));
    }
    let event = publish(
        &state,
        &caller,
        Payload::Order(order),
        vec![
            Ref::event(Rel::Listing, original.id()),
            Ref::identity(Rel::Seller, seller),
        ],
    )
    .await?;
    if let (Some(text), Some(root)) = (details, root) {
        let letter = Letter {
            from: caller.identity,
            to: vec![seller],
            group: None,
            created_at: kith_node::now_ms(),
            body: Body::Text(Text {
                text,
                order: Some(event.id()),
                ..Text::default()
            }),
        };
        state.node.send_letter(&root, letter).await?;
    }
    trade_reply(
        &state,
        event.id(),
        Some(caller.identity),
        StatusCode::CREATED,
        true,
    )
    .await
}

/// Trade list parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct TradeParams {
    /// `buyer` or `seller`.
    role: Option<String>,
    /// Only trades in this state.
    state: Option<String>,
    /// `true`: only trades not finished.
    open: Option<String>,
    /// 1 to 100 (default 20).
    limit: Option<String>,
    /// The `next` of an earlier page.
    before: Option<String>,
}

fn parse_state(s: &str) -> ApiResult<TradeState> {
    serde_json::from_value(json!(s)).map_err(|_| bad_query(format!("`{s}` is not a trade state")))
}

/// The caller's trades, newest first.
#[utoipa::path(get, path = "/api/v1/me/trades", tag = "market", security(("bearer" = [])),
    params(TradeParams),
    responses((status = 200, description = "`{items, next}`"), (status = "default", body = ErrorBody)))]
async fn my_trades(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<TradeParams>,
) -> ApiResult<Response> {
    let role = match p.role.as_deref() {
        None => None,
        Some("buyer") => Some(Party::Buyer),
        Some("seller") => Some(Party::Seller),
        Some(other) => {
            return Err(bad_query(format!(
                "`role` is buyer or seller, not `{other}`"
            )));
        }
    };
    let filter = TradeFilter {
        role,
        state: p.state.as_deref().map(parse_state).transpose()?,
        open: match p.open.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(bad_query(format!("`open` is true or false, not `{other}`")));
            }
        },
    };
    let limit: usize = parse_num("limit", p.limit.as_deref())?.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(bad_query("`limit` is 1 to 100"));
    }
    let before = p
        .before
        .as_deref()
        .map(|c| c.parse::<Cursor>())
        .transpose()
        .map_err(|_| ApiError::bad_request("bad_cursor", "the cursor is not valid"))?;
    let me = caller.identity;
    let st = state.clone();
    let (items, next) = blocking(state.work.clone(), move || {
        let reader = st.node.store().reader();
        let (trades, next) = reader.trades_of(&me, &filter, before, limit)?;
        let mut items = Vec::with_capacity(trades.len());
        for (id, t) in trades {
            items.push(trade_json(reader, &id, &t, Some(&me), false)?);
        }
        Ok((items, next))
    })
    .await?;
    Ok(axum::Json(json!({ "items": items, "next": next.map(|c| c.to_string()) })).into_response())
}

/// One trade: its state, history and reviews; the parties also see the
/// delivery details and the steps they may take.
#[utoipa::path(get, path = "/api/v1/trades/{id}", tag = "market",
    params(("id" = String, Path, description = "Trade id (the order's)")),
    responses((status = 200, description = "The trade"), (status = "default", body = ErrorBody)))]
async fn get_trade(
    State(state): State<AppState>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let viewer = caller.0.map(|c| c.identity);
    trade_reply(&state, id, viewer, StatusCode::OK, false).await
}

/// A step of a trade.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepBody {
    /// The state to move to.
    state: String,
    /// A note to the other party.
    #[serde(default)]
    note: Option<String>,
    /// Tracking reference (only with `shipped`).
    #[serde(default)]
    tracking: Option<String>,
}

/// The caller's trade record, or 404.
async fn load_trade(state: &AppState, id: EventId) -> ApiResult<TradeRecord> {
    let st = state.clone();
    blocking(state.work.clone(), move || {
        Ok(st.node.store().reader().trade(&id)?)
    })
    .await?
    .ok_or_else(|| ApiError::not_found("trade"))
}

/// Signs and stores a `trade_update` for `signer` following the trade's
/// latest event.
async fn sign_step(
    state: &AppState,
    caller: &Caller,
    id: EventId,
    latest: EventId,
    step: TradeUpdate,
) -> ApiResult<Event> {
    publish(
        state,
        caller,
        Payload::TradeUpdate(step),
        vec![Ref::event(Rel::Order, id), Ref::event(Rel::Prev, latest)],
    )
    .await
}

/// Takes a step of a trade (accept, pay, ship…). Only the party the state
/// machine allows may take each step, and only from where the trade is.
#[utoipa::path(post, path = "/api/v1/me/trades/{id}/steps", tag = "market", security(("bearer" = [])),
    params(("id" = String, Path, description = "Trade id")), request_body = StepBody,
    responses((status = 201, description = "`{trade}`"), (status = "default", body = ErrorBody)))]
async fn take_step(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StepBody>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let to = serde_json::from_value::<TradeState>(json!(body.state)).map_err(|_| {
        ApiError::bad_request(
            "field_invalid",
            format!("`{}` is not a trade state", body.state),
        )
        .with_details(json!({ "field": "state" }))
    })?;
    let trade = load_trade(&state, id).await?;
    let step = TradeUpdate {
        state: to,
        note: body.note.filter(|n| !n.is_empty()),
        tracking: body.tracking.filter(|n| !n.is_empty()),
    };
    let result = sign_step(&state, &caller, id, trade.latest, step).await;
    if let Err(e) = &result
        && e.code == "listing_unavailable"
        && to == TradeState::Accepted
    {
        // Nothing left for it: the seller's node declines it now (or has
        // just done so on its own, after the acceptance that took the stock).
        let declined = declined_for_stock(&state, &caller, id).await;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "listing_unavailable",
            "not enough left to accept this order; it was declined",
        )
        .with_details(json!({ "declined": declined })));
    }
    result?;
    trade_reply(&state, id, Some(caller.identity), StatusCode::CREATED, true).await
}

/// Makes sure trade `id` ends declined for lack of stock: declines it, or
/// sees that the node's own watcher ([`decline_unfillable`]) did; whether
/// it is declined.
async fn declined_for_stock(state: &AppState, caller: &Caller, id: EventId) -> bool {
    for _ in 0..20 {
        match load_trade(state, id).await {
            Ok(t) if t.state == TradeState::Declined => return true,
            Ok(t) if t.state != TradeState::Ordered => return false,
            Ok(_) => {
                if decline(state, caller, id).await.is_ok() {
                    return true;
                }
            }
            Err(_) => return false,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Declines trade `id` for `caller` (its seller), noting it sold out.
async fn decline(state: &AppState, caller: &Caller, id: EventId) -> ApiResult<Event> {
    let trade = load_trade(state, id).await?;
    sign_step(
        state,
        caller,
        id,
        trade.latest,
        TradeUpdate {
            state: TradeState::Declined,
            note: Some(SOLD_OUT.into()),
            tracking: None,
        },
    )
    .await
}

/// A review of the other party.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewBody {
    /// 1 to 5.
    rating: u8,
    /// What to say.
    #[serde(default)]
    text: String,
}

/// Reviews the other party of a completed trade (once).
#[utoipa::path(post, path = "/api/v1/me/trades/{id}/review", tag = "market", security(("bearer" = [])),
    params(("id" = String, Path, description = "Trade id")), request_body = ReviewBody,
    responses((status = 201, description = "`{trade}`"), (status = "default", body = ErrorBody)))]
async fn review_trade(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let trade = load_trade(&state, id).await?;
    let subject = match trade.party(&caller.identity) {
        Some(Party::Buyer) => trade.seller,
        Some(Party::Seller) => trade.buyer,
        None => {
            return Err(ApiError::auth(
                &kith_node::protocol::AuthError::ReviewWithoutTrade,
            ));
        }
    };
    // The store would keep an early review waiting for the completion; a
    // person asking now is told it is too early.
    if trade.state != TradeState::Completed {
        return Err(ApiError::auth(
            &kith_node::protocol::AuthError::ReviewWithoutTrade,
        ));
    }
    publish(
        &state,
        &caller,
        Payload::Review(Review {
            rating: body.rating,
            text: body.text,
        }),
        vec![
            Ref::event(Rel::Order, id),
            Ref::identity(Rel::Subject, subject),
        ],
    )
    .await?;
    trade_reply(&state, id, Some(caller.identity), StatusCode::CREATED, true).await
}

/// A person's reputation: reviews received from completed trades and their mean.
#[utoipa::path(get, path = "/api/v1/identities/{key}/reputation", tag = "market",
    params(("key" = String, Path, description = "`kith1…`")),
    responses((status = 200, description = "`{count, mean}`"), (status = "default", body = ErrorBody)))]
async fn reputation(State(state): State<AppState>, Path(key): Path<String>) -> ApiResult<Response> {
    let key = parse_key(&key)?;
    let st = state.clone();
    let v = blocking(state.work.clone(), move || {
        reputation_json(st.node.store().reader(), &key)
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// The live frame for a stored order, step or review of a trade `me` is a
/// party to (`sub` is filled in by the connection).
pub(crate) fn trade_frame(reader: &Reader, me: &PublicKey, s: &StoredEvent) -> Option<Value> {
    let e = &s.event;
    let id = match e.kind() {
        Kind::Order => e.id(),
        Kind::TradeUpdate | Kind::Review => e.event_ref(Rel::Order)?,
        _ => return None,
    };
    let t = reader.trade(&id).ok()??;
    t.party(me)?;
    let trade = trade_json(reader, &id, &t, Some(me), false).ok()?;
    Some(json!({
        "type": "trade", "seq": s.seq, "kind": e.kind().name(), "event": e.id(), "trade": trade,
    }))
}

// ------------------------------------------------------- declining by itself

/// The seller's node declines what it cannot fill (`specs/trades.md`
/// § Stock): after an acceptance, every order on that listing still
/// `ordered` that asks for more than is left; and a new order that does.
/// Only for sellers whose key this node holds (the node's identity, or a
/// hosted account). Runs until the store closes.
pub(crate) async fn decline_unfillable(state: AppState) {
    let mut stored = state.node.store().subscribe();
    loop {
        let s: StoredEvent = match stored.recv().await {
            Ok(s) => s,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        let e = &s.event;
        // Only a seller this node speaks for is looked at any further.
        let seller = match e.payload() {
            Payload::Order(_) => e.identity_ref(Rel::Seller),
            Payload::TradeUpdate(u) if u.state == TradeState::Accepted => Some(e.author()),
            _ => None,
        };
        let Some(seller) = seller else { continue };
        let Some(caller) = seller_caller(&state, &seller) else {
            continue;
        };
        let listing = match e.payload() {
            Payload::Order(_) => e.event_ref(Rel::Listing),
            _ => e
                .event_ref(Rel::Order)
                .and_then(|o| state.node.store().reader().trade(&o).ok().flatten())
                .map(|t| t.listing),
        };
        let Some(listing) = listing else { continue };
        let st = state.clone();
        let unfillable = blocking(state.work.clone(), move || {
            let reader = st.node.store().reader();
            let stock = reader.stock(&listing)?;
            let filter = TradeFilter {
                state: Some(TradeState::Ordered),
                ..TradeFilter::default()
            };
            let mut out = Vec::new();
            let mut before = None;
            loop {
                let (page, next) = reader.trades_of(&seller, &filter, before, 100)?;
                out.extend(
                    page.into_iter()
                        .filter(|(_, t)| t.listing == listing && t.quantity > stock)
                        .map(|(id, _)| id),
                );
                match next {
                    Some(c) => before = Some(c),
                    None => break,
                }
            }
            Ok(out)
        })
        .await;
        for id in unfillable.unwrap_or_default() {
            match decline(&state, &caller, id).await {
                Ok(_) => {
                    tracing::info!(trade = %id, "declined an order that no longer fits the stock")
                }
                Err(err) => tracing::debug!(trade = %id, error = ?err, "could not decline"),
            }
        }
    }
}

/// Speaks for `seller` if this node holds a key that may sign trade steps
/// for them.
fn seller_caller(state: &AppState, seller: &PublicKey) -> Option<Caller> {
    let caller = if *seller == state.node.identity().public() {
        Caller {
            owner: TokenOwner::Admin,
            identity: *seller,
            account: None,
            token: String::new(),
        }
    } else {
        let name = state.accounts.by_identity(seller).ok()??;
        let account = state.accounts.get(&name).ok()??;
        Caller {
            owner: TokenOwner::Account(name),
            identity: *seller,
            account: Some(account),
            token: String::new(),
        }
    };
    caller.signing_key(state, Kind::TradeUpdate).ok()?;
    Some(caller)
}

/// Client input to the marketplace routes, for the fuzz targets: the bytes
/// as a listing body (applied as a new listing and as an edit), an order,
/// a step, a review, and as the query string of a search and of a trade
/// list. Returns how many of them took it, and the codes of the refusals.
pub(crate) fn fuzz_input(bytes: &[u8]) -> (usize, Vec<String>) {
    use crate::json::parse_json;
    let (mut took, mut codes) = (0, Vec::new());
    let mut note = |r: ApiResult<()>| match r {
        Ok(()) => took += 1,
        Err(e) => codes.push(e.code),
    };
    note(parse_json::<ListingBody>(bytes).and_then(|b| b.apply(None).map(drop)));
    note(parse_json::<ListingBody>(bytes).and_then(|b| {
        let base = ListingBody {
            title: Some("t".into()),
            category: Some("home".into()),
            price: Some(Price {
                amount: 1,
                currency: "EUR".into(),
            }),
            ..ListingBody::default()
        }
        .apply(None)?;
        b.apply(Some(base)).map(drop)
    }));
    note(parse_json::<OrderBody>(bytes).map(drop));
    note(parse_json::<StepBody>(bytes).and_then(|b| {
        serde_json::from_value::<TradeState>(json!(b.state))
            .map(drop)
            .map_err(|_| bad_query("state"))
    }));
    note(parse_json::<ReviewBody>(bytes).map(drop));
    let text = String::from_utf8_lossy(bytes);
    if let Ok(uri) = format!("/q?{text}").parse::<axum::http::Uri>() {
        match axum::extract::Query::<SearchParams>::try_from_uri(&uri) {
            Ok(q) => note(q.0.query().map(drop)),
            Err(_) => note(Err(ApiError::bad_request("invalid_query", "query"))),
        }
        if let Ok(q) = axum::extract::Query::<TradeParams>::try_from_uri(&uri) {
            note(q.0.state.as_deref().map(parse_state).transpose().map(drop));
        }
    }
    (took, codes)
}
