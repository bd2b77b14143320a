//! Stories over HTTP: publishing, the tray (unseen first), marking a story
//! seen with an opt-in view receipt, who viewed (the author only), and
//! highlights. Every read checks expiry on the node's clock
//! ([`kith_node::now_ms`]), so an expired story is gone from the API at its
//! `expires_at`, before the store's next sweep.
//!
//! View receipts are off unless the person's settings say
//! `{"stories": {"receipts": true}}`; what they saw is remembered by the
//! gateway either way, for the tray's unseen-first order.

use axum::extract::{Path, State};
use axum::response::Response;
use kith_node::protocol::kinds::Story;
use kith_node::protocol::kinds::story::{MAX_HIGHLIGHT_NAME_BYTES, MAX_STORY_LIFETIME_MS};
use kith_node::protocol::{Event, PublicKey, Ref, Rel};
use kith_node::stories::{self, HighlightError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{blocking, parse_id, parse_key, publish_payload};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::{ApiJson, EventView};
use crate::server::AppState;
use crate::views::display_name;

const HOUR_MS: u64 = 3_600_000;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_story))
        .routes(routes!(tray))
        .routes(routes!(view_story))
        .routes(routes!(story_viewers))
        .routes(routes!(identity_stories))
        .routes(routes!(add_highlight))
        .routes(routes!(identity_highlights))
}

/// A story to publish: text alone for now, or text with a media descriptor
/// (`specs/kinds.md#media-descriptors`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewStory {
    /// The story's text, or the caption of its media.
    #[serde(default)]
    text: String,
    /// The image or video, as a media descriptor.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    media: Option<kith_node::protocol::media::MediaDescriptor>,
    /// Hours until it disappears, 1 to 24 (default 24).
    #[serde(default)]
    hours: Option<u64>,
    /// Identities mentioned (`kith1…`), at most 20.
    #[serde(default)]
    mentions: Vec<String>,
}

/// Publishes a story for the caller.
#[utoipa::path(post, path = "/api/v1/me/stories", tag = "stories", security(("bearer" = [])),
    request_body = NewStory,
    responses((status = 201, description = "Stored: `{event, outcome, seq}`"),
        (status = "default", body = ErrorBody)))]
async fn add_story(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewStory>,
) -> ApiResult<Response> {
    let hours = body.hours.unwrap_or(24);
    if !(1..=MAX_STORY_LIFETIME_MS / HOUR_MS).contains(&hours) {
        return Err(
            ApiError::bad_request("invalid_hours", "a story lasts 1 to 24 hours")
                .with_details(serde_json::json!({ "field": "hours" })),
        );
    }
    let mut refs = Vec::with_capacity(body.mentions.len());
    for m in &body.mentions {
        refs.push(Ref::identity(Rel::Mention, parse_key(m)?));
    }
    let now = kith_node::now_ms();
    let story = Story {
        text: body.text,
        media: body.media,
        expires_at: now + hours * HOUR_MS,
    };
    publish_payload(&state, &caller, story.into(), refs).await
}

/// One story in the tray.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TrayStory {
    event: EventView,
    /// Whether the caller has seen it.
    seen: bool,
}

/// One author in the tray.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TrayAuthor {
    /// `kith1…`.
    author: String,
    /// Profile name, or the start of the key.
    name: String,
    /// Stories not seen yet.
    unseen: usize,
    /// Creation time of the newest, ms.
    latest: u64,
    /// Live stories, oldest first (watching order).
    stories: Vec<TrayStory>,
}

/// The tray.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Tray {
    /// Authors with unseen stories first, then the newest first.
    tray: Vec<TrayAuthor>,
}

/// The stories tray: whom the caller follows (and the caller) with live
/// stories; authors with unseen stories first. Blocked and muted authors
/// never appear.
#[utoipa::path(get, path = "/api/v1/me/stories", tag = "stories", security(("bearer" = [])),
    responses((status = 200, body = Tray), (status = "default", body = ErrorBody)))]
async fn tray(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Tray>> {
    let me = caller.identity;
    blocking(state.work.clone(), move || {
        let reader = state.node.store().reader();
        let graph = state.views.graph(reader, me, reader.last_seq()?)?;
        let authors: Vec<PublicKey> = graph.visible.iter().copied().collect();
        let accounts = &state.accounts;
        let now = kith_node::now_ms();
        let entries = stories::tray(
            reader,
            &authors,
            |id| accounts.story_seen(&me, id).unwrap_or(false),
            now,
        )?;
        let tray = entries
            .into_iter()
            .map(|t| TrayAuthor {
                author: t.author.to_text(),
                name: display_name(reader, &t.author),
                unseen: t.unseen,
                latest: t.latest,
                stories: t
                    .stories
                    .iter()
                    .map(|(e, seen)| TrayStory {
                        event: EventView::of(e),
                        seen: *seen,
                    })
                    .collect(),
            })
            .collect();
        Ok(axum::Json(Tray { tray }))
    })
    .await
}

/// What viewing did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Viewed {
    /// Always true: the story is marked seen for the caller.
    seen: bool,
    /// Whether a view receipt went to the author now (receipts on, not the
    /// caller's own story, none sent before).
    receipt: bool,
}

/// Marks a story seen; with receipts turned on in the caller's settings
/// (`stories.receipts`), also sends the author a view receipt (once).
#[utoipa::path(post, path = "/api/v1/stories/{id}/view", tag = "stories",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Viewed), (status = "default", body = ErrorBody)))]
async fn view_story(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Viewed>> {
    let id = parse_id(&id)?;
    let me = caller.identity;
    let receipts = caller.account.as_ref().is_some_and(|a| {
        a.settings
            .pointer("/stories/receipts")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    });
    let st = state.clone();
    let (story, send) = blocking(state.work.clone(), move || {
        let reader = st.node.store().reader();
        let now = kith_node::now_ms();
        let story = stories::live_story(reader, &id, now)?.ok_or_else(not_live)?;
        let expires_at = stories::expires_at(&story).unwrap_or(now);
        st.accounts
            .mark_story_seen(&me, &id, expires_at, now)
            .map_err(ApiError::internal)?;
        let send = receipts && story.author() != me && !stories::has_viewed(reader, &me, &id, now)?;
        Ok((story, send))
    })
    .await?;
    if send {
        let now = kith_node::now_ms();
        let receipt = stories::receipt(me, &story, now).ok_or_else(not_live)?;
        publish_payload(&state, &caller, receipt.payload, receipt.refs).await?;
    }
    Ok(axum::Json(Viewed {
        seen: true,
        receipt: send,
    }))
}

fn not_live() -> ApiError {
    ApiError::not_found("story")
}

/// One viewer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Viewer {
    /// `kith1…`.
    key: String,
    /// Profile name, or the start of the key.
    name: String,
    /// When they first viewed, ms.
    at: u64,
}

/// Who viewed a story.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Viewers {
    /// Distinct viewers who sent receipts, earliest first.
    viewers: Vec<Viewer>,
    /// How many.
    count: usize,
}

/// Who viewed one of the caller's stories (from the receipts of viewers who
/// turned them on). Only the story's author may ask.
#[utoipa::path(get, path = "/api/v1/stories/{id}/viewers", tag = "stories",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Viewers), (status = "default", body = ErrorBody)))]
async fn story_viewers(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Viewers>> {
    let id = parse_id(&id)?;
    let me = caller.identity;
    blocking(state.work.clone(), move || {
        let reader = state.node.store().reader();
        let now = kith_node::now_ms();
        let story = stories::live_story(reader, &id, now)?.ok_or_else(not_live)?;
        if story.author() != me {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "not_author",
                "only a story's author sees who viewed it",
            ));
        }
        let viewers: Vec<Viewer> = stories::viewers(reader, &id, now)?
            .into_iter()
            .map(|(k, at)| Viewer {
                key: k.to_text(),
                name: display_name(reader, &k),
                at,
            })
            .collect();
        Ok(axum::Json(Viewers {
            count: viewers.len(),
            viewers,
        }))
    })
    .await
}

/// A list of events.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventList {
    /// The events.
    events: Vec<EventView>,
}

/// An identity's live stories, oldest first.
#[utoipa::path(get, path = "/api/v1/identities/{key}/stories", tag = "stories",
    params(("key" = String, Path)),
    responses((status = 200, body = EventList), (status = "default", body = ErrorBody)))]
async fn identity_stories(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<axum::Json<EventList>> {
    let key = parse_key(&key)?;
    blocking(state.work.clone(), move || {
        let reader = state.node.store().reader();
        let mut events = reader.active_stories(&[key], kith_node::now_ms())?;
        events.reverse();
        Ok(axum::Json(list(&events)))
    })
    .await
}

fn list(events: &[Event]) -> EventList {
    EventList {
        events: events.iter().map(EventView::of).collect(),
    }
}

/// A highlight to make from the caller's stories.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewHighlight {
    /// Its name; a newer highlight with the same name replaces the older.
    name: String,
    /// The caller's stories to keep (still on the node), in display order.
    stories: Vec<String>,
}

/// Keeps some of the caller's stories in a named highlight that outlives
/// them (their text and media are copied into it).
#[utoipa::path(post, path = "/api/v1/me/highlights", tag = "stories", security(("bearer" = [])),
    request_body = NewHighlight,
    responses((status = 201, description = "Stored: `{event, outcome, seq}`"),
        (status = "default", body = ErrorBody)))]
async fn add_highlight(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewHighlight>,
) -> ApiResult<Response> {
    if body.name.trim().is_empty() || body.name.len() > MAX_HIGHLIGHT_NAME_BYTES {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("a highlight's name is 1 to {MAX_HIGHLIGHT_NAME_BYTES} bytes"),
        )
        .with_details(serde_json::json!({ "field": "name" })));
    }
    let ids = body
        .stories
        .iter()
        .map(|s| parse_id(s))
        .collect::<ApiResult<Vec<_>>>()?;
    let me = caller.identity;
    let st = state.clone();
    let unsigned = blocking(state.work.clone(), move || {
        let reader = st.node.store().reader();
        stories::highlight(reader, me, &body.name, &ids, kith_node::now_ms()).map_err(|e| {
            let code = match &e {
                HighlightError::Missing(_) => "story_not_found",
                HighlightError::NotAStory(_) => "not_a_story",
                HighlightError::NotYours(_) => "not_author",
                HighlightError::Count => "invalid_stories",
                HighlightError::Store(_) => return ApiError::internal(e),
            };
            ApiError::bad_request(code, e.to_string())
                .with_details(serde_json::json!({ "field": "stories" }))
        })
    })
    .await?;
    publish_payload(&state, &caller, unsigned.payload, unsigned.refs).await
}

/// An identity's highlights: the newest per name, newest first.
#[utoipa::path(get, path = "/api/v1/identities/{key}/highlights", tag = "stories",
    params(("key" = String, Path)),
    responses((status = 200, body = EventList), (status = "default", body = ErrorBody)))]
async fn identity_highlights(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<axum::Json<EventList>> {
    let key = parse_key(&key)?;
    blocking(state.work.clone(), move || {
        let reader = state.node.store().reader();
        Ok(axum::Json(list(&stories::highlights(reader, &key)?)))
    })
    .await
}
