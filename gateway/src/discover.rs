//! Discovery and creator analytics over HTTP: suggested people to follow
//! (`kith_node::suggest`) with their reasons in the caller's language, and
//! per-day creator statistics (`kith_node::analytics`).
//!
//! Statistics are public data (counts of public events) and anyone may ask
//! for any identity's, except story views: view receipts say who watched
//! whom, so they are only in the report an identity's own session asks
//! for (`/me/stats`, or `/identities/{key}/stats` with that identity's
//! token); everyone else gets the report without the `story_views` field.

use axum::extract::{Path, State};
use kith_node::analytics::{self, Day, Report, TopPost, Totals};
use kith_node::feed::Lang;
use kith_node::protocol::PublicKey;
use kith_node::suggest::{self, Person, Reason};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiQuery, blocking, parse_key};
use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::server::AppState;

/// Suggestions returned when no `limit` is given.
const DEFAULT_SUGGESTIONS: usize = 20;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(suggestions))
        .routes(routes!(my_stats))
        .routes(routes!(identity_stats))
}

// ------------------------------------------------------------ suggestions

/// Suggestion options.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SuggestQuery {
    /// How many (1 to 100, default 20).
    limit: Option<usize>,
    /// The language of the reasons (`en`, `es`); default: the account's
    /// `lang` setting, then `Accept-Language`.
    lang: Option<String>,
}

/// One reason, with its text.
#[derive(Debug, Serialize)]
struct ReasonView<'a> {
    #[serde(flatten)]
    reason: &'a Reason,
    /// The reason in words.
    text: String,
}

/// One suggested identity.
#[derive(Debug, Serialize, ToSchema)]
struct SuggestionView {
    /// `kith1…`.
    #[schema(value_type = String)]
    identity: PublicKey,
    /// Profile name, or the start of the key.
    name: String,
    /// Followers now.
    followers: u64,
    /// Shared follows plus hashtag affinity.
    score: f64,
    /// `{"type": "followed_by", "followed_by": [key…], "count", "text"}` or
    /// `{"type": "hashtags", "tags": [tag…], "posts", "action", "text"}`,
    /// strongest first.
    #[schema(value_type = Vec<Object>)]
    reasons: Vec<serde_json::Value>,
    /// Each reason in words.
    summary: Vec<String>,
}

/// Suggested people.
#[derive(Debug, Serialize, ToSchema)]
struct Suggestions {
    /// Best first.
    items: Vec<SuggestionView>,
}

/// People the caller may want to follow: followed by people they follow
/// (from a bounded, stable sample of the follow graph), and authors who
/// recently posted with hashtags the caller engages with. Never the caller,
/// whom they follow, block or mute. Each item says why, in words
/// (`lang`, the account's `lang` setting, or `Accept-Language`).
#[utoipa::path(get, path = "/api/v1/me/suggestions", tag = "discovery",
    security(("bearer" = [])), params(SuggestQuery),
    responses((status = 200, body = Suggestions), (status = "default", body = ErrorBody)))]
async fn suggestions(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<SuggestQuery>,
) -> ApiResult<axum::Json<Suggestions>> {
    let lang = crate::ranked::lang(
        q.lang.as_deref(),
        caller.account.as_ref().map(|a| &a.settings),
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let limit = q
        .limit
        .unwrap_or(DEFAULT_SUGGESTIONS)
        .clamp(1, suggest::MAX_SUGGESTIONS);
    let me = caller.identity;
    blocking(state.work.clone(), move || {
        let reader = state.node.store().reader();
        let seq = reader.last_seq()?;
        let graph = state.views.graph(reader, me, seq)?;
        let found = suggest::suggest(
            reader,
            Person {
                me,
                follows: &graph.visible,
                hidden: &graph.hidden,
            },
            &suggest::Limits::default(),
            kith_node::now_ms(),
            limit,
        )?;
        let mut names = std::collections::HashMap::new();
        let mut name = |k: &PublicKey| -> String {
            names
                .entry(*k)
                .or_insert_with(|| suggest::display_name(reader, k))
                .clone()
        };
        let mut items = Vec::with_capacity(found.len());
        for s in found {
            items.push(view(reader, &s, lang, &mut name)?);
        }
        Ok(axum::Json(Suggestions { items }))
    })
    .await
}

fn view(
    reader: &kith_node::storage::Reader,
    s: &suggest::Suggestion,
    lang: Lang,
    name: &mut dyn FnMut(&PublicKey) -> String,
) -> ApiResult<SuggestionView> {
    // Names are read once each; `explain` wants a `Fn`.
    let mut known = std::collections::HashMap::new();
    for r in &s.reasons {
        if let Reason::FollowedBy { followed_by, .. } = r {
            for k in followed_by {
                known.insert(*k, name(k));
            }
        }
    }
    let lookup = |k: &PublicKey| {
        known
            .get(k)
            .cloned()
            .unwrap_or_else(|| suggest::short_key(k))
    };
    let reasons = s
        .reasons
        .iter()
        .map(|r| {
            serde_json::to_value(ReasonView {
                reason: r,
                text: r.explain(lang, &lookup),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    Ok(SuggestionView {
        identity: s.identity,
        name: name(&s.identity),
        followers: reader.follow_counts(&s.identity)?.0,
        score: s.score,
        reasons,
        summary: s.explain(lang, &lookup),
    })
}

// ------------------------------------------------------------------ stats

/// The period of a report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsQuery {
    /// UTC days ending today (1 to 365, default 30).
    days: Option<u64>,
}

/// A creator report: one entry per UTC day, oldest first.
#[derive(Debug, Serialize, ToSchema)]
struct StatsView {
    /// Whose.
    #[schema(value_type = String)]
    identity: PublicKey,
    /// The first day's start (ms).
    since: u64,
    /// The end of the last day (ms, exclusive).
    until: u64,
    /// `{"date": "2026-11-20", "posts", "reactions": {"like", "love", "haha",
    /// "wow", "sad", "angry"}, "replies", "reposts", "quotes",
    /// "new_followers", "lost_followers", "story_views"?}` for every day.
    #[schema(value_type = Vec<Object>)]
    days: Vec<Day>,
    /// The same fields summed over the period, and `followers` now.
    #[schema(value_type = Object)]
    totals: Totals,
    /// The posts with most engagement received in the period: `{"id",
    /// "kind", "created_at", "text", "reactions", "replies", "reposts",
    /// "quotes", "engagement"}`.
    #[schema(value_type = Vec<Object>)]
    top_posts: Vec<TopPost>,
    /// The identity has more content than is read for one report; older
    /// posts' engagement is not counted.
    truncated: bool,
}

impl From<Report> for StatsView {
    fn from(r: Report) -> Self {
        StatsView {
            identity: r.identity,
            since: r.since,
            until: r.until,
            days: r.days,
            totals: r.totals,
            top_posts: r.top_posts,
            truncated: r.truncated,
        }
    }
}

fn check_days(q: &StatsQuery) -> ApiResult<u32> {
    analytics::days(q.days).map_err(|e| {
        ApiError::bad_request("invalid_days", e.to_string()).with_details(
            serde_json::json!({ "field": "days", "min": 1, "max": analytics::MAX_DAYS }),
        )
    })
}

async fn stats(
    state: AppState,
    who: PublicKey,
    days: u32,
    story_views: bool,
) -> ApiResult<axum::Json<StatsView>> {
    blocking(state.work.clone(), move || {
        let reader = state.node.store().reader();
        let report = analytics::report(
            reader,
            &who,
            days,
            story_views,
            &analytics::Limits::default(),
            kith_node::now_ms(),
        )?;
        Ok(axum::Json(report.into()))
    })
    .await
}

/// The caller's creator statistics per UTC day: posts published,
/// reactions received by type, replies, reposts, quotes, followers gained
/// and lost, story views, and the period's top posts. Engagement by the
/// caller themself is not counted.
#[utoipa::path(get, path = "/api/v1/me/stats", tag = "discovery",
    security(("bearer" = [])), params(StatsQuery),
    responses((status = 200, body = StatsView), (status = "default", body = ErrorBody)))]
async fn my_stats(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<axum::Json<StatsView>> {
    let days = check_days(&q)?;
    stats(state, caller.identity, days, true).await
}

/// Any identity's creator statistics, as `/api/v1/me/stats` gives them,
/// without story views unless the caller is that identity.
#[utoipa::path(get, path = "/api/v1/identities/{key}/stats", tag = "discovery",
    params(("key" = String, Path), StatsQuery),
    responses((status = 200, body = StatsView), (status = "default", body = ErrorBody)))]
async fn identity_stats(
    State(state): State<AppState>,
    viewer: MaybeCaller,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<axum::Json<StatsView>> {
    let key = parse_key(&key)?;
    let days = check_days(&q)?;
    let own = viewer.0.is_some_and(|c| c.identity == key);
    stats(state, key, days, own).await
}
