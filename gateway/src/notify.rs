//! `/api/v1/me/notifications`: the caller's notification groups, read
//! marks and per-type settings, from the node's notification service
//! (`kith_node::notify`). Live delivery is the `notifications` stream of
//! `/api/v1/live`.
//!
//! Settings are kept by the notification service beside the notifications
//! (in `<data dir>/notify/`), not in the account settings document: the
//! node's own identity (the admin token) has notifications too, and the
//! live stream reads them on every push.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use kith_node::notify::{self, GroupId, ListQuery, NotificationType, NotifyError};
use serde::{Deserialize, Serialize};
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
        .routes(routes!(notifications))
        .routes(routes!(read_notifications))
        .routes(routes!(notification_settings, set_notification_settings))
}

impl From<NotifyError> for ApiError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::BadCursor => {
                ApiError::bad_request("bad_cursor", "the cursor is not valid")
                    .with_details(serde_json::json!({ "field": "cursor" }))
            }
            other => ApiError::internal(other),
        }
    }
}

/// Which notifications.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NotificationsQuery {
    /// Only unread groups.
    unread: Option<bool>,
    /// Groups per page (1 to 100, default 20).
    limit: Option<usize>,
    /// A previous page's `next`.
    cursor: Option<String>,
}

/// One person in a group.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActorView {
    /// Their identity (`kith1…`).
    #[schema(value_type = String)]
    identity: kith_node::protocol::PublicKey,
    /// Their profile name, when the node has their profile.
    name: Option<String>,
}

/// A notification group: one type about one event (follows: one day).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GroupView {
    /// Its id, to mark it read.
    id: String,
    /// `mention`, `reply`, `reaction`, `repost`, `quote`, `follow`,
    /// `story_view`, `order` (someone ordered from the person), `trade` (the
    /// other party took a step; the target is the trade) or `review`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    ty: NotificationType,
    /// The caller's event it is about (the mentioning event for mentions;
    /// null for follows).
    #[schema(value_type = Option<String>)]
    target: Option<kith_node::protocol::EventId>,
    /// The newest actors (up to 3), newest first.
    actors: Vec<ActorView>,
    /// Distinct actors in the group.
    actor_count: u64,
    /// Reactions only: the count of each of the six types.
    #[schema(value_type = Option<Object>)]
    reactions: Option<BTreeMap<String, u64>>,
    /// `created_at` of the newest activity, ms.
    latest_at: u64,
    /// The newest event that contributed.
    #[schema(value_type = Option<String>)]
    latest_event: Option<kith_node::protocol::EventId>,
    /// Read by the caller (new activity makes it unread again).
    read: bool,
    /// Acceptance sequence of the event that last changed it.
    seq: u64,
}

impl From<notify::Group> for GroupView {
    fn from(g: notify::Group) -> Self {
        GroupView {
            id: g.id,
            ty: g.ty,
            target: g.target,
            actors: g
                .actors
                .into_iter()
                .map(|a| ActorView {
                    identity: a.identity,
                    name: a.name,
                })
                .collect(),
            actor_count: g.actor_count,
            reactions: g.reactions,
            latest_at: g.latest_at,
            latest_event: g.latest_event,
            read: g.read,
            seq: g.seq,
        }
    }
}

/// The JSON of a group, as the live stream sends it.
pub(crate) fn group_json(g: notify::Group) -> serde_json::Value {
    serde_json::to_value(GroupView::from(g)).unwrap_or(serde_json::Value::Null)
}

/// A page of notification groups.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NotificationsPage {
    /// Newest activity first.
    groups: Vec<GroupView>,
    /// Unread groups of the types that are on (all pages).
    unread_count: u64,
    /// Pass as `cursor` for the next page.
    next: Option<String>,
    /// Acceptance sequence applied when read: subscribe to the live
    /// `notifications` stream with it as `after_seq`.
    seq: u64,
}

/// The caller's notifications, grouped: replies, mentions, reactions
/// (with a count per type), reposts, quotes, new followers (per day) and
/// story views, newest activity first. Types turned off in the settings are
/// left out; so is anything by authors the caller blocks or mutes.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "notifications",
    security(("bearer" = [])), params(NotificationsQuery),
    responses((status = 200, body = NotificationsPage), (status = "default", body = ErrorBody)))]
async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<NotificationsQuery>,
) -> ApiResult<axum::Json<NotificationsPage>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=notify::MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be 1 to {}", notify::MAX_PAGE),
        )
        .with_details(serde_json::json!({ "field": "limit" })));
    }
    let query = ListQuery {
        unread_only: q.unread.unwrap_or(false),
        limit,
        cursor: q.cursor,
    };
    let me = caller.identity;
    blocking(state.work.clone(), move || {
        let page = state.node.notifications().list(&me, &query)?;
        Ok(axum::Json(NotificationsPage {
            groups: page.groups.into_iter().map(GroupView::from).collect(),
            unread_count: page.unread_count,
            next: page.next,
            seq: page.seq,
        }))
    })
    .await
}

/// What to mark read: one group, or everything.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadRequest {
    /// A group's `id`.
    group: Option<String>,
    /// `true`: every group, as it stands now.
    all: Option<bool>,
}

/// After marking.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadResult {
    /// Unread groups left (of the types that are on).
    unread_count: u64,
}

/// Mark one group read (`{"group": "<id>"}`) or every group up to now
/// (`{"all": true}`). Activity after this makes a group unread again.
#[utoipa::path(post, path = "/api/v1/me/notifications/read", tag = "notifications",
    security(("bearer" = [])), request_body = ReadRequest,
    responses((status = 200, body = ReadResult), (status = "default", body = ErrorBody)))]
async fn read_notifications(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ReadRequest>,
) -> ApiResult<axum::Json<ReadResult>> {
    enum Mark {
        One(GroupId),
        All,
    }
    let mark = match (body.group, body.all) {
        (Some(g), None) => Mark::One(g.parse().map_err(|()| {
            ApiError::bad_request(
                "invalid_group",
                format!("`{g}` is not a notification group id"),
            )
            .with_details(serde_json::json!({ "field": "group" }))
        })?),
        (None, Some(true)) => Mark::All,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "send either `group` (an id) or `all` (true)",
            )
            .with_details(serde_json::json!({ "field": "" })));
        }
    };
    let me = caller.identity;
    blocking(state.work.clone(), move || {
        let n = state.node.notifications();
        match mark {
            Mark::One(g) => {
                if !n.mark_read(&me, &g)? {
                    return Err(ApiError::not_found("notification group"));
                }
            }
            Mark::All => {
                n.mark_all_read(&me)?;
            }
        }
        Ok(axum::Json(ReadResult {
            unread_count: n.unread_count(&me)?,
        }))
    })
    .await
}

/// Per-type switches: `{"mention": true, "reaction": false, …}`, every type named.
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
pub(crate) struct SettingsView(BTreeMap<&'static str, bool>);

fn settings_view(s: BTreeMap<NotificationType, bool>) -> SettingsView {
    SettingsView(s.into_iter().map(|(t, on)| (t.name(), on)).collect())
}

/// Which notification types are on. Types that are off are neither
/// listed nor pushed live (they are still recorded, so turning one back on
/// shows what came meanwhile).
#[utoipa::path(get, path = "/api/v1/me/notifications/settings", tag = "notifications",
    security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = "default", body = ErrorBody)))]
async fn notification_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<SettingsView>> {
    let me = caller.identity;
    blocking(state.work.clone(), move || {
        Ok(axum::Json(settings_view(
            state.node.notifications().settings(&me)?,
        )))
    })
    .await
}

/// Turn notification types on or off: `{"reaction": false}`; types not
/// named keep their setting. An unknown type refuses the whole request.
#[utoipa::path(put, path = "/api/v1/me/notifications/settings", tag = "notifications",
    security(("bearer" = [])), request_body(content = Object),
    responses((status = 200, body = SettingsView), (status = "default", body = ErrorBody)))]
async fn set_notification_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<BTreeMap<String, bool>>,
) -> ApiResult<axum::Json<SettingsView>> {
    let mut changes = Vec::with_capacity(body.len());
    for (name, on) in &body {
        let Some(t) = NotificationType::from_name(name) else {
            let known: Vec<&str> = NotificationType::ALL.iter().map(|t| t.name()).collect();
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_type",
                format!("`{name}` is not a notification type"),
            )
            .with_details(serde_json::json!({ "field": name, "known": known })));
        };
        changes.push((t, *on));
    }
    let me = caller.identity;
    blocking(state.work.clone(), move || {
        Ok(axum::Json(settings_view(
            state.node.notifications().set_settings(&me, &changes)?,
        )))
    })
    .await
}
