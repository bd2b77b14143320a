//! The Kith–Nostr bridge over HTTP (`specs/gateway.md` § 12): a person's
//! linked Nostr key, their outside relays with delivery status, the Nostr
//! keys they follow, Nostr notes' threads, and replies and reactions to
//! them. The bridge is `kith_node::bridge::NostrBridge`, set on the node by
//! whoever runs it; without one these routes answer 503 `nostr_off`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kith_node::bridge::{BridgeError, NostrBridge};
use kith_node::protocol::Payload;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiQuery, blocking};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;
use crate::server::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(nostr_status))
        .routes(routes!(nostr_link))
        .routes(routes!(nostr_set_relays))
        .routes(routes!(nostr_follow))
        .routes(routes!(nostr_unfollow))
        .routes(routes!(nostr_note))
        .routes(routes!(nostr_reply))
        .routes(routes!(nostr_react))
        .routes(routes!(nostr_mentions))
}

impl From<BridgeError> for ApiError {
    fn from(e: BridgeError) -> Self {
        let status = match &e {
            BridgeError::NotLinked => StatusCode::CONFLICT,
            BridgeError::UnknownNote(_) => StatusCode::NOT_FOUND,
            BridgeError::Storage(_) => return ApiError::internal(e),
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// The node's bridge, or 503 when it runs none.
pub(crate) fn bridge(state: &AppState) -> ApiResult<Arc<dyn NostrBridge>> {
    state.node.bridge().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "nostr_off",
            "this node runs no Nostr bridge",
        )
    })
}

/// Runs `f` with the bridge on the blocking pool (every bridge call reads
/// or writes its database).
async fn with_bridge(
    state: &AppState,
    f: impl FnOnce(&dyn NostrBridge) -> ApiResult<Response> + Send + 'static,
) -> ApiResult<Response> {
    let b = bridge(state)?;
    blocking(state.work.clone(), move || f(b.as_ref())).await
}

fn json<T: serde::Serialize>(v: &T) -> Response {
    axum::Json(v).into_response()
}

/// The caller's linked Nostr key, every relay their notes go to (with how
/// many each took, how many wait for another try, how many failed, the
/// last error and whether the node is connected to it now), and the
/// Nostr keys they follow.
#[utoipa::path(get, path = "/api/v1/me/nostr", tag = "nostr", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn nostr_status(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    with_bridge(&state, move |b| Ok(json(&b.status(&caller.identity)?))).await
}

/// Links a Nostr key to the caller's identity (a new one, or the one it
/// has): the node keeps the key, signs the NIP-39 proof with the root key
/// and publishes a profile that names the Nostr key. Needs the root key:
/// the node's own identity, or an account whose root key the node still
/// holds (409 `root_key_not_held` otherwise).
#[utoipa::path(post, path = "/api/v1/me/nostr/link", tag = "nostr", security(("bearer" = [])),
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn nostr_link(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let b = bridge(&state)?;
    let root = crate::chats::root_of(&state, &caller, "linking a Nostr key")?;
    let me = caller.identity;
    let key = blocking(state.work.clone(), move || Ok(b.link(&root)?)).await?;
    let nostr = hex::decode(&key.hex).map_err(ApiError::internal)?;
    let mut profile = crate::chats::current_profile(&state, me).await?;
    let written = if profile.nostr.as_deref() == Some(nostr.as_slice()) {
        None
    } else {
        profile.nostr = Some(nostr);
        let response =
            crate::api::publish_payload(&state, &caller, Payload::Profile(profile), vec![]).await?;
        Some(response)
    };
    let body = serde_json::json!({
        "nostr": key,
        "profile_updated": written.is_some(),
    });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// The caller's own relays.
#[derive(Debug, Deserialize, ToSchema)]
struct Relays {
    /// `ws://` or `wss://` URLs (at most the operator's limit, 16 by default).
    relays: Vec<String>,
}

/// Replaces the caller's own outside relays (the node's, from its config,
/// are always used too).
#[utoipa::path(put, path = "/api/v1/me/nostr/relays", tag = "nostr", security(("bearer" = [])),
    request_body = Relays,
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn nostr_set_relays(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Relays>,
) -> ApiResult<Response> {
    with_bridge(&state, move |b| {
        let relays = b.set_relays(&caller.identity, &body.relays)?;
        Ok(json(&serde_json::json!({ "relays": relays })))
    })
    .await
}

/// Follows a Nostr key (`npub1…` or hex): its notes come from the
/// caller's relays into their home timeline.
#[utoipa::path(put, path = "/api/v1/me/nostr/follows/{key}", tag = "nostr",
    security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn nostr_follow(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    with_bridge(&state, move |b| {
        let key = b.follow(&caller.identity, &key)?;
        Ok(json(&serde_json::json!({ "following": key })))
    })
    .await
}

/// Stops following a Nostr key.
#[utoipa::path(delete, path = "/api/v1/me/nostr/follows/{key}", tag = "nostr",
    security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn nostr_unfollow(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    with_bridge(&state, move |b| {
        let was = b.unfollow(&caller.identity, &key)?;
        Ok(json(&serde_json::json!({ "was_following": was })))
    })
    .await
}

/// A Nostr note held here, with its root, its replies (oldest first) and
/// its reactions; `origin` is `nostr`.
#[utoipa::path(get, path = "/api/v1/nostr/notes/{id}", tag = "nostr",
    params(("id" = String, Path, description = "hex id, `note1…` or `nevent1…`")),
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn nostr_note(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    with_bridge(&state, move |b| match b.thread(&id)? {
        Some(t) => Ok(json(&serde_json::json!({ "origin": "nostr", "thread": t }))),
        None => Err(ApiError::not_found("nostr note")),
    })
    .await
}

/// A reply or reaction to a Nostr note.
#[derive(Debug, Deserialize, ToSchema)]
struct Answer {
    /// The note (hex id, `note1…` or `nevent1…`).
    to: String,
    /// Reply text, or the reaction (`+`, or an emoji; default `+`).
    #[serde(default)]
    text: String,
}

/// Replies to a Nostr note with the caller's linked key (NIP-10 threading),
/// sent to their relays and to those the note came from.
#[utoipa::path(post, path = "/api/v1/me/nostr/reply", tag = "nostr", security(("bearer" = [])),
    request_body = Answer,
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn nostr_reply(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Answer>,
) -> ApiResult<Response> {
    with_bridge(&state, move |b| {
        created(b.reply(&caller.identity, &body.to, &body.text)?)
    })
    .await
}

fn created(note: kith_node::bridge::NostrNote) -> ApiResult<Response> {
    Ok((StatusCode::CREATED, axum::Json(note)).into_response())
}

/// Reacts to a Nostr note (NIP-25) with the caller's linked key.
#[utoipa::path(post, path = "/api/v1/me/nostr/react", tag = "nostr", security(("bearer" = [])),
    request_body = Answer,
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn nostr_react(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Answer>,
) -> ApiResult<Response> {
    with_bridge(&state, move |b| {
        created(b.react(&caller.identity, &body.to, &body.text)?)
    })
    .await
}

/// How many mentions.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MentionQuery {
    /// At most this many (1 to 500, default 50).
    limit: Option<usize>,
}

/// Nostr notes, reposts and reactions that tag the caller's linked key,
/// newest first, each with `origin: "nostr"`.
#[utoipa::path(get, path = "/api/v1/me/nostr/mentions", tag = "nostr", security(("bearer" = [])),
    params(MentionQuery),
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn nostr_mentions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<MentionQuery>,
) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    with_bridge(&state, move |b| {
        let items: Vec<serde_json::Value> = b
            .mentions(&caller.identity, limit)?
            .into_iter()
            .map(|n| note_item(&n))
            .collect();
        Ok(json(&serde_json::json!({ "items": items })))
    })
    .await
}

/// A Nostr note as a timeline item: `{"origin": "nostr", "nostr": {…}}`.
pub(crate) fn note_item(n: &kith_node::bridge::NostrNote) -> serde_json::Value {
    serde_json::json!({ "origin": "nostr", "nostr": n })
}
