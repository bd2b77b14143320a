//! The `/api/v1` handlers, each documented for the OpenAPI document.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use kith_node::ingest::Verdict;
use kith_node::protocol::kinds::{
    BlockList, Delegation, Follow, MuteList, Payload, Revocation, Unfollow,
};
use kith_node::protocol::{
    Event, EventId, Keypair, Kind, PublicKey, Rel, Signature, UnsignedEvent, Unverified,
};
use kith_node::storage::{Cursor, IngestOutcome, MAX_PAGE};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{AccountError, DelegateKey, MAX_SETTINGS};
use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::{ApiJson, Draft, EventPage, EventView, KeyPage};
use crate::server::AppState;
use crate::views::{self, Item, RawJson, Views};
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kith gateway API",
        description = "The HTTP API of a Kith node: hosted accounts, publishing (signed by the \
                       node or by the client's own key), reads, and live updates.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody))
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token from POST /api/v1/sessions or /api/v1/accounts, or \
                         the node's admin token (data dir, file admin.token).",
                    ))
                    .build(),
            ),
        );
    }
}

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(metrics))
        .routes(routes!(node_info))
        .routes(routes!(peers))
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(export_key))
        .routes(routes!(forget_key))
        .routes(routes!(my_delegations, create_delegation))
        .routes(routes!(revoke_delegation))
        .routes(routes!(submit_event))
        .routes(routes!(prepare_event))
        .routes(routes!(publish))
        .routes(routes!(get_event))
        .routes(routes!(get_identity))
        .routes(routes!(identity_delegations))
        .routes(routes!(put_profile))
        .routes(routes!(timeline))
        .routes(routes!(home))
        .routes(routes!(trending))
        .routes(routes!(search))
        .routes(routes!(thread))
        .routes(routes!(follow, unfollow))
        .routes(routes!(followers))
        .routes(routes!(following))
        .routes(routes!(blocks))
        .routes(routes!(block, unblock))
        .routes(routes!(mutes))
        .routes(routes!(mute, unmute))
}

// ---------------------------------------------------------------- helpers

/// Query string parameters, with errors in the API's shape.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> ApiResult<Self> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

pub(crate) fn parse_key(text: &str) -> ApiResult<PublicKey> {
    text.parse().map_err(|e: kith_node::protocol::KeyError| {
        ApiError::bad_request(e.code(), format!("`{text}` is not a Kith identity: {e}"))
            .with_details(serde_json::json!({ "field": "key" }))
    })
}

pub(crate) fn parse_id(text: &str) -> ApiResult<EventId> {
    text.parse().map_err(|e: kith_node::protocol::id::IdError| {
        ApiError::bad_request(e.code(), format!("`{text}` is not an event id: {e}"))
            .with_details(serde_json::json!({ "field": "id" }))
    })
}

pub(crate) fn parse_cursor(text: Option<&str>) -> ApiResult<Option<Cursor>> {
    text.map(|c| c.parse::<Cursor>())
        .transpose()
        .map_err(|_| ApiError::bad_request("bad_cursor", "the cursor is not valid"))
}

pub(crate) fn limit(l: Option<usize>) -> usize {
    l.unwrap_or(50).clamp(1, MAX_PAGE)
}

/// Runs store reads or password hashing on the blocking pool, at most
/// [`Inner::work`](crate::server::Inner) permits at a time. A request waits
/// for a permit in async code, where a client that gives up cancels it;
/// after [`WORK_QUEUE_WAIT`] it gets 503 `overloaded`. So past saturation
/// the node sheds load instead of queueing work nobody waits for.
pub(crate) async fn blocking<T: Send + 'static>(
    work: Arc<Semaphore>,
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let permit = tokio::time::timeout(WORK_QUEUE_WAIT, work.acquire_owned())
        .await
        .map_err(|_| ApiError::overloaded())?
        .map_err(|_| ApiError::overloaded())?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    })
    .await
    .map_err(ApiError::internal)?
}

/// Longest a request waits for a blocking-pool permit.
const WORK_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn account_error(e: AccountError) -> ApiError {
    match e {
        AccountError::UsernameTaken => {
            ApiError::new(StatusCode::CONFLICT, "username_taken", e.to_string())
        }
        AccountError::IdentityTaken => {
            ApiError::new(StatusCode::CONFLICT, "identity_taken", e.to_string())
        }
        AccountError::BadCredentials => {
            ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", e.to_string())
        }
        AccountError::BadUsername => ApiError::bad_request("invalid_username", e.to_string())
            .with_details(serde_json::json!({ "field": "username" })),
        AccountError::BadPassword => ApiError::bad_request("invalid_password", e.to_string())
            .with_details(serde_json::json!({ "field": "password" })),
        other => ApiError::internal(other),
    }
}

/// The outcome of a write.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WriteResult {
    /// The event as stored (or waiting).
    event: EventView,
    /// `stored`, `duplicate` or `pending` (waits for an event it references).
    outcome: String,
    /// Acceptance sequence, when stored.
    seq: Option<u64>,
}

pub(crate) fn write_response(event: &Event, verdict: &Verdict) -> Response {
    let (status, outcome, seq) = match verdict {
        Verdict::Store(IngestOutcome::Stored { seq }) => {
            (StatusCode::CREATED, "stored", Some(*seq))
        }
        Verdict::Store(IngestOutcome::Pending { .. }) => (StatusCode::ACCEPTED, "pending", None),
        _ => (StatusCode::OK, "duplicate", None),
    };
    (
        status,
        axum::Json(WriteResult {
            event: EventView::of(event),
            outcome: outcome.into(),
            seq,
        }),
    )
        .into_response()
}

/// Publishes a payload with references for the caller.
pub(crate) async fn publish_payload(
    state: &AppState,
    caller: &Caller,
    payload: Payload,
    refs: Vec<kith_node::protocol::Ref>,
) -> ApiResult<Response> {
    let (event, verdict) = publish_event(state, caller, payload, refs).await?;
    Ok(write_response(&event, &verdict))
}

/// Signs a payload with references for the caller, now, and ingests it;
/// a refusal is the error.
pub(crate) async fn publish_event(
    state: &AppState,
    caller: &Caller,
    payload: Payload,
    refs: Vec<kith_node::protocol::Ref>,
) -> ApiResult<(Event, Verdict)> {
    let kind = payload.kind();
    let now = kith_node::now_ms();
    caller
        .publish(
            state,
            |author, signer| {
                Ok(UnsignedEvent {
                    author,
                    signer,
                    created_at: now,
                    refs,
                    payload,
                })
            },
            kind,
        )
        .await
}

fn delegable_kinds() -> Vec<Kind> {
    Kind::ALL
        .iter()
        .copied()
        .filter(|k| k.delegable())
        .collect()
}

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

// ---------------------------------------------------------------- node

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "node",
    responses((status = 200, description = "The node is up", body = Object)))]
async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "node",
    responses((status = 200, description = "Metrics in the OpenMetrics text format", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    crate::metrics::render(&state).await
}

/// What this node is.
#[derive(Debug, Serialize, ToSchema)]
struct NodeInfo {
    /// Software version.
    version: String,
    /// libp2p peer id.
    peer_id: String,
    /// The node's own identity.
    #[schema(value_type = String)]
    identity: PublicKey,
    /// libp2p listen addresses.
    listen: Vec<String>,
    /// Hosted accounts.
    accounts: usize,
    /// Whether anyone may register.
    open_registration: bool,
}

/// The node's identity, addresses and policy.
#[utoipa::path(get, path = "/api/v1/node", tag = "node",
    responses((status = 200, body = NodeInfo), (status = "default", body = ErrorBody)))]
async fn node_info(State(state): State<AppState>) -> axum::Json<NodeInfo> {
    let node = &state.node;
    axum::Json(NodeInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        peer_id: node.peer_id().to_string(),
        identity: node.identity().public(),
        listen: node
            .listen_addrs()
            .iter()
            .map(ToString::to_string)
            .collect(),
        accounts: state.accounts.count(),
        open_registration: state.config.open_registration,
    })
}

/// Connected peers.
#[derive(Debug, Serialize, ToSchema)]
struct Peers {
    /// Peer ids with an open connection.
    peers: Vec<String>,
}

/// Peers with an open connection (admin only).
#[utoipa::path(get, path = "/api/v1/node/peers", tag = "node", security(("bearer" = [])),
    responses((status = 200, body = Peers), (status = "default", body = ErrorBody)))]
async fn peers(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Peers>> {
    if !caller.is_admin() {
        return Err(ApiError::forbidden(
            "admin_only",
            "only the node's admin may list peers",
        ));
    }
    let peers = state.node.connected_peers().await;
    Ok(axum::Json(Peers {
        peers: peers.iter().map(ToString::to_string).collect(),
    }))
}

// ---------------------------------------------------------------- accounts

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Register {
    /// 3 to 32 characters: a-z, 0-9, _ (case-insensitive).
    username: String,
    /// 8 to 1024 characters.
    password: String,
    /// Bring your own key: a profile event signed by your root key, base64
    /// of its envelope. The node then holds no key of yours and you sign
    /// everything yourself. Without it the node creates your identity.
    #[serde(default)]
    profile: Option<String>,
}

/// A session.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionInfo {
    /// Bearer token (shown once).
    token: String,
    /// Expiry, ms.
    expires_at: u64,
    /// The account.
    username: String,
    /// Its identity.
    #[schema(value_type = String)]
    identity: PublicKey,
}

/// Register an account. Without `profile` the node creates the person's
/// root identity and a delegated key for the gateway, and publishes the
/// delegation; with `profile` the person keeps their own key.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = Register,
    responses((status = 201, body = SessionInfo), (status = "default", body = ErrorBody)))]
pub(crate) async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<Register>,
) -> ApiResult<Response> {
    if !state.config.open_registration {
        return Err(ApiError::forbidden(
            "registration_closed",
            "this node does not take new accounts",
        ));
    }
    let now = kith_node::now_ms();
    // Bring your own key: the signed profile proves the key is theirs.
    let (identity, root, profile) = match &req.profile {
        Some(b64) => {
            let bytes = B64.decode(b64.as_bytes()).map_err(|e| {
                ApiError::bad_request("invalid_field", format!("`profile`: not base64: {e}"))
                    .with_details(serde_json::json!({ "field": "profile" }))
            })?;
            let event = Event::from_bytes(&bytes).map_err(|e| ApiError::event(&e))?;
            if event.kind() != Kind::Profile || event.signer() != event.author() {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    "`profile` must be a profile event signed by its author's root key",
                )
                .with_details(serde_json::json!({ "field": "profile" })));
            }
            event
                .check_clock(now, kith_node::protocol::DEFAULT_MAX_FUTURE_SKEW_MS)
                .map_err(|e| ApiError::event(&e))?;
            (event.author(), None, Some(event))
        }
        None => {
            let root = Keypair::generate(&mut rand_core::OsRng);
            (root.public(), Some(root), None)
        }
    };
    let account = {
        let (accounts, name, pass) = (state.accounts.clone(), req.username, req.password);
        let root_seed = root.as_ref().map(|k| k.seed());
        blocking(state.work.clone(), move || {
            let root = root_seed.and_then(|s| Keypair::from_seed(&s).ok());
            accounts
                .register(&name, &pass, identity, root.as_ref(), now)
                .map_err(account_error)
        })
        .await?
    };
    let undo = |e: ApiError| {
        let _ = state.accounts.unregister(&account);
        e
    };
    state.node.host(identity).map_err(ApiError::internal)?;
    if let Some(profile) = &profile {
        crate::auth::ingest(&state, profile.as_bytes().to_vec())
            .await
            .map_err(undo)?;
    }
    if let Some(root) = &root {
        let delegate = Keypair::generate(&mut rand_core::OsRng);
        let expires_at = now + u64::from(state.config.delegation_days.max(1)) * DAY_MS;
        let event = UnsignedEvent::new(
            identity,
            now,
            Delegation {
                kinds: delegable_kinds(),
                expires_at,
            },
        )
        .ref_identity(Rel::Subject, delegate.public())
        .sign(root)
        .map_err(ApiError::internal)?;
        crate::auth::ingest(&state, event.as_bytes().to_vec())
            .await
            .map_err(undo)?;
        let key = DelegateKey {
            secret: delegate.secret_to_text().to_string(),
            delegation: event.id().to_string(),
            expires_at,
        };
        state
            .accounts
            .update(&account.username, |a| a.delegate = Some(key.clone()))
            .map_err(|e| undo(account_error(e)))?;
    }
    let (token, expires_at) = state
        .accounts
        .open_session(&account.username, now, session_ms(&state))
        .map_err(account_error)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(SessionInfo {
            token: token.to_string(),
            expires_at,
            username: account.username,
            identity,
        }),
    )
        .into_response())
}

fn session_ms(state: &AppState) -> u64 {
    u64::from(state.config.session_days.max(1)) * DAY_MS
}

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    /// Username.
    username: String,
    /// Password.
    password: String,
}

/// Log in: opens a session.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "accounts", request_body = Login,
    responses((status = 201, body = SessionInfo), (status = "default", body = ErrorBody)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<Login>,
) -> ApiResult<Response> {
    let accounts = state.accounts.clone();
    let lifetime = session_ms(&state);
    let (account, token, expires_at) = blocking(state.work.clone(), move || {
        let account = accounts
            .check_login(&req.username, &req.password)
            .map_err(account_error)?;
        let (token, expires_at) = accounts
            .open_session(&account.username, kith_node::now_ms(), lifetime)
            .map_err(account_error)?;
        Ok((account, token, expires_at))
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(SessionInfo {
            token: token.to_string(),
            expires_at,
            username: account.username,
            identity: account.identity,
        }),
    )
        .into_response())
}

/// Log out: ends the session whose token is sent.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 204, description = "Session ended"), (status = "default", body = ErrorBody)))]
async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    if caller.is_admin() {
        return Err(ApiError::forbidden(
            "not_an_account",
            "the admin token is not a session; delete the file to rotate it",
        ));
    }
    state
        .accounts
        .close_session(&caller.token)
        .map_err(account_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A delegation as listed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DelegationView {
    /// The delegation event.
    #[schema(value_type = String)]
    id: EventId,
    /// The delegated key.
    #[schema(value_type = String)]
    signer: PublicKey,
    /// Made at, ms.
    created_at: u64,
    /// Ends at, ms.
    expires_at: u64,
    /// Withdrawn by a revocation.
    revoked: bool,
    /// This is the gateway's own delegated key for the account.
    gateway: bool,
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
struct Me {
    /// Username (null for the admin).
    username: Option<String>,
    /// Identity.
    #[schema(value_type = String)]
    identity: PublicKey,
    /// The admin token speaks for the node.
    admin: bool,
    /// The node holds the root key (it can be exported, then forgotten).
    root_key_held: bool,
    /// The gateway's delegation, if one is in force.
    gateway_delegation: Option<DelegationView>,
}

fn delegation_views(state: &AppState, caller: &Caller) -> ApiResult<Vec<DelegationView>> {
    let gateway_id = caller
        .account
        .as_ref()
        .and_then(|a| a.delegate.as_ref())
        .map(|d| d.delegation.clone());
    Ok(state
        .node
        .store()
        .reader()
        .delegations(&caller.identity)?
        .into_iter()
        .map(|d| DelegationView {
            gateway: gateway_id.as_deref() == Some(d.id.to_string().as_str()),
            id: d.id,
            signer: d.signer,
            created_at: d.created_at,
            expires_at: d.expires_at,
            revoked: d.revoked,
        })
        .collect())
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = "default", body = ErrorBody)))]
async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Me>> {
    let now = kith_node::now_ms();
    let gateway_delegation = delegation_views(&state, &caller)?
        .into_iter()
        .find(|d| d.gateway && !d.revoked && d.expires_at > now);
    Ok(axum::Json(Me {
        username: caller.account.as_ref().map(|a| a.username.clone()),
        identity: caller.identity,
        admin: caller.is_admin(),
        root_key_held: caller.root_key(&state).is_some(),
        gateway_delegation,
    }))
}

/// The caller's settings (a JSON object of at most 16 KiB).
#[utoipa::path(get, path = "/api/v1/me/settings", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn get_settings(caller: Caller) -> ApiResult<axum::Json<serde_json::Value>> {
    Ok(axum::Json(caller.account()?.settings.clone()))
}

/// Replaces the caller's settings.
#[utoipa::path(put, path = "/api/v1/me/settings", tag = "accounts", security(("bearer" = [])),
    request_body = Object,
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(settings): ApiJson<serde_json::Value>,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let account = caller.account()?;
    if !settings.is_object() {
        return Err(
            ApiError::bad_request("invalid_field", "settings must be a JSON object")
                .with_details(serde_json::json!({ "field": "" })),
        );
    }
    let size = serde_json::to_vec(&settings).map_or(usize::MAX, |v| v.len());
    if size > MAX_SETTINGS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "settings_too_large",
            format!("settings are at most {MAX_SETTINGS} bytes"),
        ));
    }
    let updated = state
        .accounts
        .update(&account.username, |a| a.settings = settings.clone())
        .map_err(account_error)?;
    Ok(axum::Json(updated.settings))
}

/// A password, to confirm a sensitive step.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Confirm {
    /// The account's password (not needed with the admin token).
    #[serde(default)]
    password: Option<String>,
}

/// A secret key.
#[derive(Debug, Serialize, ToSchema)]
struct SecretKey {
    /// `kithsecret1…`: keep it safe; anyone with it is you.
    secret: String,
    /// The identity it belongs to.
    #[schema(value_type = String)]
    identity: PublicKey,
}

async fn confirm_password(state: &AppState, caller: &Caller, confirm: Confirm) -> ApiResult<()> {
    if caller.is_admin() {
        return Ok(());
    }
    let username = caller.account()?.username.clone();
    let password = confirm.password.ok_or_else(|| {
        ApiError::bad_request("invalid_field", "`password` is required")
            .with_details(serde_json::json!({ "field": "password" }))
    })?;
    let accounts = state.accounts.clone();
    blocking(state.work.clone(), move || {
        accounts
            .check_login(&username, &password)
            .map(|_| ())
            .map_err(account_error)
    })
    .await
}

/// Download the root key (password required for accounts).
#[utoipa::path(post, path = "/api/v1/me/key/export", tag = "keys", security(("bearer" = [])),
    request_body = Confirm,
    responses((status = 200, body = SecretKey), (status = "default", body = ErrorBody)))]
async fn export_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(confirm): ApiJson<Confirm>,
) -> ApiResult<axum::Json<SecretKey>> {
    confirm_password(&state, &caller, confirm).await?;
    let root = caller.root_key(&state).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "root_key_not_held",
            "this node no longer holds your root key",
        )
    })?;
    tracing::info!(identity = %caller.identity.short(), "root key exported");
    Ok(axum::Json(SecretKey {
        secret: root.secret_to_text().to_string(),
        identity: caller.identity,
    }))
}

/// Make the node forget the root key (after exporting it). The gateway
/// keeps signing with its delegated key until that is revoked.
#[utoipa::path(post, path = "/api/v1/me/key/forget", tag = "keys", security(("bearer" = [])),
    request_body = Confirm,
    responses((status = 204, description = "Forgotten"), (status = "default", body = ErrorBody)))]
async fn forget_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(confirm): ApiJson<Confirm>,
) -> ApiResult<StatusCode> {
    let username = caller.account()?.username.clone();
    confirm_password(&state, &caller, confirm).await?;
    state
        .accounts
        .update(&username, |a| a.root_secret = None)
        .map_err(account_error)?;
    tracing::info!(identity = %caller.identity.short(), "root key forgotten");
    Ok(StatusCode::NO_CONTENT)
}

/// Delegations made by the caller.
#[derive(Debug, Serialize, ToSchema)]
struct DelegationList {
    items: Vec<DelegationView>,
}

/// The caller's delegations.
#[utoipa::path(get, path = "/api/v1/me/delegations", tag = "keys", security(("bearer" = [])),
    responses((status = 200, body = DelegationList), (status = "default", body = ErrorBody)))]
async fn my_delegations(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<DelegationList>> {
    Ok(axum::Json(DelegationList {
        items: delegation_views(&state, &caller)?,
    }))
}

/// A new delegation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewDelegation {
    /// The key to authorise (`kith1…`).
    #[schema(value_type = String)]
    signer: PublicKey,
    /// Kinds it may sign; every delegable kind when absent.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    kinds: Option<Vec<Kind>>,
    /// Days it lasts (default 365).
    #[serde(default)]
    days: Option<u32>,
}

/// Authorise another key (a phone, another app) to sign for the caller.
/// Signed with the root key, which the node must hold.
#[utoipa::path(post, path = "/api/v1/me/delegations", tag = "keys", security(("bearer" = [])),
    request_body = NewDelegation,
    responses((status = 201, body = WriteResult), (status = "default", body = ErrorBody)))]
async fn create_delegation(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<NewDelegation>,
) -> ApiResult<Response> {
    let now = kith_node::now_ms();
    let days = u64::from(req.days.unwrap_or(365).clamp(1, 3650));
    publish_payload(
        &state,
        &caller,
        Payload::Delegation(Delegation {
            kinds: req.kinds.unwrap_or_else(delegable_kinds),
            expires_at: now + days * DAY_MS,
        }),
        vec![kith_node::protocol::Ref::identity(Rel::Subject, req.signer)],
    )
    .await
}

/// How to revoke.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RevokeQuery {
    /// The key was compromised: invalidate everything it ever signed
    /// (default: keep what it signed before now).
    #[serde(default)]
    compromised: bool,
}

/// Revoke one of the caller's delegations (the gateway's own included).
#[utoipa::path(delete, path = "/api/v1/me/delegations/{id}", tag = "keys",
    security(("bearer" = [])), params(("id" = String, Path), RevokeQuery),
    responses((status = 201, body = WriteResult), (status = "default", body = ErrorBody)))]
async fn revoke_delegation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<RevokeQuery>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let reader = state.node.store().reader();
    let mine = reader
        .delegations(&caller.identity)?
        .into_iter()
        .find(|d| d.id == id);
    if mine.is_none() {
        return Err(match reader.get(&id)? {
            Some(e) if e.kind() == Kind::Delegation => {
                ApiError::forbidden("not_yours", "that delegation was made by someone else")
            }
            _ => ApiError::not_found("delegation"),
        });
    }
    let now = kith_node::now_ms();
    let response = publish_payload(
        &state,
        &caller,
        Payload::Revocation(Revocation {
            keep_before: (!q.compromised).then_some(now),
        }),
        vec![kith_node::protocol::Ref::event(Rel::Target, id)],
    )
    .await?;
    if let Some(account) = &caller.account
        && account
            .delegate
            .as_ref()
            .is_some_and(|d| d.delegation == id.to_string())
    {
        state
            .accounts
            .update(&account.username, |a| a.delegate = None)
            .map_err(account_error)?;
    }
    Ok(response)
}

/// Delegations an identity has made.
#[utoipa::path(get, path = "/api/v1/identities/{key}/delegations", tag = "keys",
    params(("key" = String, Path)),
    responses((status = 200, body = DelegationList), (status = "default", body = ErrorBody)))]
async fn identity_delegations(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<axum::Json<DelegationList>> {
    let key = parse_key(&key)?;
    let items = state
        .node
        .store()
        .reader()
        .delegations(&key)?
        .into_iter()
        .map(|d| DelegationView {
            id: d.id,
            signer: d.signer,
            created_at: d.created_at,
            expires_at: d.expires_at,
            revoked: d.revoked,
            gateway: false,
        })
        .collect();
    Ok(axum::Json(DelegationList { items }))
}

// ---------------------------------------------------------------- events

/// A signed event from a client that holds its own key: either the
/// envelope, or a prepared body and the signature of its id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Submit {
    /// base64 of the whole envelope.
    #[serde(default)]
    envelope: Option<String>,
    /// base64 of the canonical body (from /api/v1/events/prepare).
    #[serde(default)]
    body: Option<String>,
    /// hex of the Ed25519 signature over the id's 36 bytes.
    #[serde(default)]
    signature: Option<String>,
}

fn b64_field(field: &str, text: &str) -> ApiResult<Vec<u8>> {
    B64.decode(text.as_bytes()).map_err(|e| {
        ApiError::bad_request("invalid_field", format!("`{field}`: not base64: {e}"))
            .with_details(serde_json::json!({ "field": field }))
    })
}

/// Submit an event signed by the client's own key (or a key it delegated
/// to). The node checks everything and ingests it like any event; the
/// author must be the caller.
#[utoipa::path(post, path = "/api/v1/events", tag = "events", security(("bearer" = [])),
    request_body = Submit,
    responses((status = 201, body = WriteResult), (status = 202, body = WriteResult),
        (status = 200, body = WriteResult), (status = "default", body = ErrorBody)))]
async fn submit_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<Submit>,
) -> ApiResult<Response> {
    let bytes = envelope_of(&req)?;
    let decoded = Unverified::decode(&bytes).map_err(|e| ApiError::event(&e))?;
    submit_checked(&state, &caller, bytes, decoded).await
}

/// The envelope a submission names.
fn envelope_of(req: &Submit) -> ApiResult<Vec<u8>> {
    match (&req.envelope, &req.body, &req.signature) {
        (Some(env), None, None) => b64_field("envelope", env),
        (None, Some(body), Some(sig)) => {
            let body = b64_field("body", body)?;
            let sig: [u8; 64] = hex::decode(sig)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_field", "`signature`: 64 bytes in hex")
                        .with_details(serde_json::json!({ "field": "signature" }))
                })?;
            Ok(kith_node::protocol::assemble(
                &body,
                &Signature::from_bytes(sig),
            ))
        }
        _ => Err(ApiError::bad_request(
            "invalid_field",
            "send either `envelope`, or `body` and `signature`",
        )),
    }
}

/// The submission JSON of `/api/v1/events` to envelope bytes (fuzz entry).
pub(crate) fn submission_bytes(json: &[u8]) -> ApiResult<Vec<u8>> {
    envelope_of(&crate::json::parse_json::<Submit>(json)?)
}

/// Checks who may submit a decoded envelope, verifies it and ingests it.
async fn submit_checked(
    state: &AppState,
    caller: &Caller,
    bytes: Vec<u8>,
    decoded: Unverified,
) -> ApiResult<Response> {
    let body = decoded.body();
    if body.author != caller.identity {
        return Err(ApiError::forbidden(
            "not_your_identity",
            "you may only submit events authored by your own identity",
        ));
    }
    // A delegate's event is only taken when the delegation is known, so an
    // unknown key cannot park events in the node's waiting room.
    if body.signer != body.author
        && !state
            .node
            .store()
            .reader()
            .delegations(&body.author)?
            .iter()
            .any(|d| d.signer == body.signer)
    {
        return Err(ApiError::auth(
            &kith_node::protocol::AuthError::DelegationMissing,
        ));
    }
    let event = decoded.verify().map_err(|e| ApiError::event(&e))?;
    let verdict = crate::auth::ingest(state, bytes).await?;
    Ok(write_response(&event, &verdict))
}

/// A draft to sign yourself.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Prepare {
    /// Kind name.
    kind: String,
    /// The payload, as `specs/kinds.md` describes it for the kind.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    /// References.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    refs: serde_json::Value,
    /// Creation time in ms; the node's clock when absent.
    #[serde(default)]
    created_at: Option<u64>,
    /// The key that will sign (a delegate); the author's own when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    signer: Option<PublicKey>,
}

/// A body ready to sign.
#[derive(Debug, Serialize, ToSchema)]
struct Prepared {
    /// The id it will have.
    #[schema(value_type = String)]
    id: EventId,
    /// base64 of the canonical body.
    body: String,
    /// base64 of the 36 bytes to sign with Ed25519 (the binary id).
    signing_input: String,
    /// The body as JSON, to show the person what they sign.
    event: serde_json::Value,
}

/// Prepare an event for the caller to sign with their own key; then POST
/// `body` and `signature` to /api/v1/events.
#[utoipa::path(post, path = "/api/v1/events/prepare", tag = "events", security(("bearer" = [])),
    request_body = Prepare,
    responses((status = 200, body = Prepared), (status = "default", body = ErrorBody)))]
async fn prepare_event(
    caller: Caller,
    ApiJson(req): ApiJson<Prepare>,
) -> ApiResult<axum::Json<Prepared>> {
    let signer = req.signer.unwrap_or(caller.identity);
    let draft = Draft {
        kind: req.kind,
        payload: req.payload,
        refs: req.refs,
        created_at: req.created_at,
    };
    let unsigned = draft.build(caller.identity, signer, kith_node::now_ms())?;
    let body = unsigned.encode();
    let id = EventId::of_body(&body);
    Ok(axum::Json(Prepared {
        id,
        body: B64.encode(&body),
        signing_input: B64.encode(id.to_bytes()),
        event: serde_json::to_value(&unsigned).map_err(ApiError::internal)?,
    }))
}

/// Publish an event signed by the node for the caller (hosted accounts
/// and the admin): the gateway's delegated key for delegable kinds, the
/// root key (if held) for the rest.
#[utoipa::path(post, path = "/api/v1/publish", tag = "events", security(("bearer" = [])),
    request_body = Draft,
    responses((status = 201, body = WriteResult), (status = 202, body = WriteResult),
        (status = "default", body = ErrorBody)))]
async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(draft): ApiJson<Draft>,
) -> ApiResult<Response> {
    let kind = draft.kind()?;
    let now = kith_node::now_ms();
    let (event, verdict) = caller
        .publish(
            &state,
            |author, signer| draft.build(author, signer, now),
            kind,
        )
        .await?;
    Ok(write_response(&event, &verdict))
}

/// One event, with its counts.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", params(("id" = String, Path)),
    responses((status = 200, body = EventView), (status = "default", body = ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    viewer: MaybeCaller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<EventView>> {
    let id = parse_id(&id)?;
    let viewer = viewer.0.map(|c| c.identity);
    blocking(state.work.clone(), move || {
        let reader = state.node.store().reader();
        match reader.get(&id)? {
            Some(e) if kith_node::stories::expired(&e, kith_node::now_ms()) => Err(ApiError::new(
                StatusCode::GONE,
                "expired",
                "this story has expired",
            )),
            Some(e) => {
                let stats = reader.stats(&[id], viewer.as_ref())?;
                let mut view = EventView::of(&e);
                if let Some(s) = stats.first() {
                    view = view.with_stats(s);
                }
                Ok(axum::Json(view))
            }
            None if reader.tombstone(&id)?.is_some() => Err(ApiError::new(
                StatusCode::GONE,
                "deleted",
                "its author deleted this event",
            )),
            None => Err(ApiError::not_found("event")),
        }
    })
    .await
}

// ---------------------------------------------------------------- people

/// An identity with its profile and counts.
#[derive(Debug, Serialize, ToSchema)]
struct IdentityView {
    /// `kith1…`.
    #[schema(value_type = String)]
    identity: PublicKey,
    /// The newest profile event, if any.
    profile: Option<EventView>,
    /// Followers stored here.
    followers: u64,
    /// Following.
    following: u64,
    /// Whether the caller follows it.
    followed_by_me: Option<bool>,
    /// Hosted on this node.
    hosted: bool,
    /// As a trading partner: reviews received from completed trades
    /// (`count`) and their mean rating (`mean`, null without reviews).
    #[schema(value_type = Object)]
    reputation: serde_json::Value,
}

/// An identity's profile and counts.
#[utoipa::path(get, path = "/api/v1/identities/{key}", tag = "people",
    params(("key" = String, Path)),
    responses((status = 200, body = IdentityView), (status = "default", body = ErrorBody)))]
async fn get_identity(
    State(state): State<AppState>,
    viewer: MaybeCaller,
    Path(key): Path<String>,
) -> ApiResult<axum::Json<IdentityView>> {
    let key = parse_key(&key)?;
    let reader = state.node.store().reader();
    let (followers, following) = reader.follow_counts(&key)?;
    let followed_by_me = match &viewer.0 {
        Some(c) => Some(reader.follows(&c.identity, &key)?),
        None => None,
    };
    Ok(axum::Json(IdentityView {
        identity: key,
        profile: reader.profile(&key)?.as_ref().map(EventView::of),
        followers,
        following,
        followed_by_me,
        hosted: state.node.hosts(&key),
        reputation: crate::market::reputation_json(reader, &key)?,
    }))
}

/// Update the caller's profile: the body is the profile payload
/// (`name`, `bio`, `avatar`, `banner`, `langs`, `links`).
#[utoipa::path(put, path = "/api/v1/me/profile", tag = "people", security(("bearer" = [])),
    request_body = Object,
    responses((status = 201, body = WriteResult), (status = "default", body = ErrorBody)))]
async fn put_profile(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut body): ApiJson<serde_json::Value>,
) -> ApiResult<Response> {
    // A linked Nostr key and the DM key stay unless the body says otherwise
    // (`"nostr": null` ends the link).
    const KEPT: [&str; 2] = ["nostr", "dm_key"];
    if let Some(fields) = body.as_object_mut()
        && KEPT.iter().any(|k| !fields.contains_key(*k))
    {
        let me = caller.identity;
        let st = state.clone();
        let current = blocking(state.work.clone(), move || {
            Ok(st.node.store().reader().profile(&me)?)
        })
        .await?;
        if let Some(Payload::Profile(p)) = current.as_ref().map(|e| e.payload())
            && let Ok(old) = serde_json::to_value(p)
        {
            for k in KEPT {
                if !fields.contains_key(k)
                    && let Some(v) = old.get(k)
                {
                    fields.insert(k.into(), v.clone());
                }
            }
        }
    }
    if let Some(fields) = body.as_object_mut() {
        fields.retain(|k, v| !(KEPT.contains(&k.as_str()) && v.is_null()));
    }
    let draft = Draft {
        kind: Kind::Profile.name().into(),
        payload: body,
        refs: serde_json::Value::Null,
        created_at: None,
    };
    let now = kith_node::now_ms();
    let (event, verdict) = caller
        .publish(
            &state,
            |author, signer| {
                draft.build(author, signer, now).map_err(|mut e| {
                    // The payload is the whole body here.
                    if let Some(f) = e.details.get("field").and_then(|f| f.as_str()) {
                        let f = f.trim_start_matches("payload").trim_start_matches('.');
                        e.details = serde_json::json!({ "field": f });
                    }
                    e
                })
            },
            Kind::Profile,
        )
        .await?;
    Ok(write_response(&event, &verdict))
}

/// Paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// From a previous page's `next`.
    cursor: Option<String>,
    /// Items per page (1 to 500, default 50).
    limit: Option<usize>,
    /// Include replies (timelines).
    #[serde(default)]
    replies: bool,
}

fn page_of(
    views: &Views,
    reader: &kith_node::storage::Reader,
    page: kith_node::storage::Page,
    seq: u64,
    viewer: Option<&PublicKey>,
) -> ApiResult<RawJson> {
    let ids: Vec<EventId> = page.events.iter().map(Event::id).collect();
    let stats = reader.stats(&ids, viewer)?;
    let items: Vec<_> = page
        .events
        .iter()
        .zip(stats)
        .map(|(e, s)| Item::new(views.event(e), s))
        .collect();
    let next = page.next.map(|c| c.to_string());
    Ok(views::page_body(&items, next.as_deref(), seq))
}

/// An author's posts, quotes and reposts (and replies if asked), newest first.
#[utoipa::path(get, path = "/api/v1/identities/{key}/timeline", tag = "reads",
    params(("key" = String, Path), PageQuery),
    responses((status = 200, body = EventPage), (status = "default", body = ErrorBody)))]
async fn timeline(
    State(state): State<AppState>,
    viewer: MaybeCaller,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<RawJson> {
    let key = parse_key(&key)?;
    let cursor = parse_cursor(q.cursor.as_deref())?;
    let viewer = viewer.0.map(|c| c.identity);
    blocking(state.work.clone(), move || {
        let reader = state.node.store().reader();
        let seq = reader.last_seq()?;
        let page = reader.author_timeline(&key, q.replies, cursor, limit(q.limit))?;
        page_of(&state.views, reader, page, seq, viewer.as_ref())
    })
    .await
}

/// Home feed paging, mode and ranking weights.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HomeQuery {
    /// From a previous page's `next`.
    cursor: Option<String>,
    /// Items per page (1 to 500, default 50).
    limit: Option<usize>,
    /// `chronological` or `ranked`; default: the account's `feed.mode`
    /// setting, else chronological.
    #[param(inline)]
    mode: Option<FeedMode>,
    /// Ranked: hashtag affinity weight (0 to 10; default 0.4, or the
    /// account's `feed.weights.hashtags`).
    w_hashtags: Option<f64>,
    /// Ranked: author affinity weight (default 0.3).
    w_author: Option<f64>,
    /// Ranked: engagement weight (default 0.2).
    w_engagement: Option<f64>,
    /// Ranked: freshness weight (default 0.1).
    w_freshness: Option<f64>,
    /// Ranked: media type weight (default 0).
    w_media: Option<f64>,
    /// Ranked: the language of explanations (`en`, `es`); default: the
    /// account's `lang` setting, then `Accept-Language`.
    lang: Option<String>,
}

/// How the home feed is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FeedMode {
    /// Followed authors, newest first.
    Chronological,
    /// Ranked by the person's weights; each item has a `why`.
    Ranked,
}

/// The caller's home feed. Chronological: posts, quotes and reposts of whom
/// they follow (and their own), newest first. Ranked: the same and
/// friends-of-friends' popular and newcomers' posts, ordered by the
/// caller's weights, each item with `why` (its source, each feature's
/// contribution, and the reasons in words; `specs/feed.md`). Blocked and
/// muted authors never appear, nor (ranked) muted words.
#[utoipa::path(get, path = "/api/v1/me/home", tag = "reads", security(("bearer" = [])),
    params(HomeQuery),
    responses((status = 200, body = EventPage), (status = "default", body = ErrorBody)))]
async fn home(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<HomeQuery>,
) -> ApiResult<RawJson> {
    let settings = caller.account.as_ref().map(|a| &a.settings);
    let mode = q.mode.unwrap_or_else(|| {
        match settings
            .and_then(|s| s.pointer("/feed/mode"))
            .and_then(|v| v.as_str())
        {
            Some("ranked") => FeedMode::Ranked,
            _ => FeedMode::Chronological,
        }
    });
    let me = caller.identity;
    let limit = limit(q.limit);
    if mode == FeedMode::Ranked {
        let weights = crate::ranked::weights(
            settings,
            &[
                ("hashtags", q.w_hashtags),
                ("author", q.w_author),
                ("engagement", q.w_engagement),
                ("freshness", q.w_freshness),
                ("media", q.w_media),
            ],
        )?;
        let cursor = q
            .cursor
            .as_deref()
            .map(crate::ranked::parse_cursor)
            .transpose()?;
        let lang = crate::ranked::lang(
            q.lang.as_deref(),
            settings,
            headers
                .get(axum::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        return blocking(state.work.clone(), move || {
            let reader = state.node.store().reader();
            crate::ranked::page(&state, reader, me, weights, cursor, limit, lang)
        })
        .await;
    }
    let cursor = parse_cursor(q.cursor.as_deref())?;
    blocking(state.work.clone(), move || {
        let reader = state.node.store().reader();
        let seq = reader.last_seq()?;
        let graph = state.views.graph(reader, me, seq)?;
        let page = reader.home_ids(&graph.visible, cursor, limit)?;
        let mut views = Vec::with_capacity(page.ids.len());
        let mut ids = Vec::with_capacity(page.ids.len());
        let mut times = Vec::with_capacity(page.ids.len());
        for (id, at) in page.ids.iter().zip(&page.times) {
            // One removed since the walk is left out.
            if let Some(view) = state.views.event_by_id(reader, id)? {
                views.push(view);
                ids.push(*id);
                times.push(*at);
            }
        }
        let stats = reader.stats(&ids, Some(&me))?;
        let items: Vec<_> = views
            .into_iter()
            .zip(stats)
            .map(|(v, s)| Item::new(v, s))
            .collect();
        // Notes of followed Nostr keys (the bridge), merged by time.
        let nostr = match state.node.bridge() {
            Some(b) => b.home(
                &me,
                cursor.map(|c| (c.created_at, *c.id.digest())),
                page.next.map(|c| (c.created_at, *c.id.digest())),
                limit,
            )?,
            None => Vec::new(),
        };
        if nostr.is_empty() {
            let next = page.next.map(|c| c.to_string());
            return Ok(views::page_body(&items, next.as_deref(), seq));
        }
        let mut merged: Vec<((u64, [u8; 32]), views::Entry<'_>)> = items
            .iter()
            .zip(ids.iter().zip(&times))
            .map(|(item, (id, at))| ((*at, *id.digest()), views::Entry::Kith(item)))
            .collect();
        for n in &nostr {
            merged.push((
                n.position(),
                views::Entry::Raw(crate::nostr::note_item(n).to_string()),
            ));
        }
        merged.sort_by_key(|(position, _)| std::cmp::Reverse(*position));
        merged.truncate(limit);
        let next = (merged.len() == limit)
            .then(|| merged.last().map(|(p, _)| p))
            .flatten()
            .map(|(at, digest)| {
                Cursor {
                    created_at: *at,
                    id: EventId::from_digest(*digest),
                }
                .to_string()
            });
        let entries: Vec<views::Entry<'_>> = merged.into_iter().map(|(_, e)| e).collect();
        Ok(views::mixed_page_body(&entries, next.as_deref(), seq))
    })
    .await
}

/// A search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// Words (typo-tolerant; accents and case do not matter), 1 to 200
    /// characters.
    q: String,
    /// Only posts, replies and quotes in this language (BCP 47).
    lang: Option<String>,
    /// Most posts and most people (1 to 100, default 20 each).
    limit: Option<usize>,
}

/// One person found.
#[derive(Debug, Serialize, ToSchema)]
struct PersonHit {
    /// `kith1…`.
    #[schema(value_type = String)]
    identity: PublicKey,
    /// Profile name.
    name: String,
    /// Profile bio.
    bio: String,
}

/// One hashtag found.
#[derive(Debug, Serialize, ToSchema)]
struct TagHit {
    /// The hashtag, without `#`.
    tag: String,
    /// Matching posts that carry it.
    posts: u64,
}

/// Search results.
#[derive(Debug, Serialize, ToSchema)]
struct SearchResults {
    /// Posts, replies and quotes, best match first, with counts.
    #[schema(value_type = Vec<Object>)]
    posts: Vec<serde_json::Value>,
    /// People whose profile matches, best match first.
    people: Vec<PersonHit>,
    /// Hashtags of the matching posts that a query word names.
    hashtags: Vec<TagHit>,
}

/// Full-text search over posts (with typo tolerance and a language filter),
/// people (profile name and bio) and hashtags. Authors the caller blocks
/// or mutes are left out.
#[utoipa::path(get, path = "/api/v1/search", tag = "reads", params(SearchParams),
    responses((status = 200, body = SearchResults), (status = "default", body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    viewer: MaybeCaller,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> ApiResult<axum::Json<SearchResults>> {
    let text = q.q.trim().to_string();
    if text.is_empty() || text.chars().count() > 200 {
        return Err(
            ApiError::bad_request("invalid_query", "q must be 1 to 200 characters")
                .with_details(serde_json::json!({ "field": "q" })),
        );
    }
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let me = viewer.0.map(|c| c.identity);
    blocking(state.work.clone(), move || {
        let store = state.node.store();
        let reader = store.reader();
        let hidden = match me {
            Some(me) => {
                let seq = reader.last_seq()?;
                state.views.graph(reader, me, seq)?.hidden.clone()
            }
            None => Default::default(),
        };
        let query = |kinds: Vec<Kind>, lang: Option<String>| kith_node::storage::SearchQuery {
            text: text.clone(),
            kinds,
            lang,
            limit,
        };
        let words: Vec<String> = text
            .split_whitespace()
            .filter_map(|w| kith_node::protocol::hashtag::normalize(w.trim_start_matches('#')))
            .map(|w| fold(&w))
            .collect();
        let mut events = Vec::new();
        let mut tags: Vec<(String, u64)> = Vec::new();
        for hit in store.search(&query(
            vec![Kind::Post, Kind::Reply, Kind::Quote],
            q.lang.clone(),
        ))? {
            let Some(e) = reader.get(&hit.id)? else {
                continue;
            };
            if hidden.contains(&e.author()) {
                continue;
            }
            for t in e.payload().tags() {
                if words.iter().any(|w| *w == fold(t)) {
                    match tags.iter_mut().find(|(name, _)| name == t) {
                        Some((_, n)) => *n += 1,
                        None => tags.push((t.clone(), 1)),
                    }
                }
            }
            events.push(e);
        }
        let ids: Vec<EventId> = events.iter().map(Event::id).collect();
        let stats = reader.stats(&ids, me.as_ref())?;
        let posts = events
            .iter()
            .zip(&stats)
            .map(|(e, s)| serde_json::to_value(EventView::of(e).with_stats(s)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApiError::internal)?;
        let mut people = Vec::new();
        for hit in store.search(&query(vec![Kind::Profile], None))? {
            let Some(e) = reader.get(&hit.id)? else {
                continue;
            };
            if hidden.contains(&e.author()) {
                continue;
            }
            if let Payload::Profile(p) = e.payload() {
                people.push(PersonHit {
                    identity: e.author(),
                    name: p.name.clone(),
                    bio: p.bio.clone(),
                });
            }
        }
        tags.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(axum::Json(SearchResults {
            posts,
            people,
            hashtags: tags
                .into_iter()
                .map(|(tag, posts)| TagHit { tag, posts })
                .collect(),
        }))
    })
    .await
}

/// Lower case without the accents of Latin letters, as the search index
/// compares words (`Adopción` and `adopcion` match).
fn fold(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            other => other,
        })
        .collect()
}

/// Which trending window.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TrendingQuery {
    /// `1h` or `24h` (default).
    #[param(value_type = Option<String>)]
    window: Option<kith_node::trending::Window>,
    /// Tags (1 to 100, default 20).
    limit: Option<usize>,
}

/// Trending hashtags.
#[derive(Debug, Serialize, ToSchema)]
struct TrendingView {
    /// `1h` or `24h`.
    #[schema(value_type = String)]
    window: kith_node::trending::Window,
    /// Most distinct authors first.
    #[schema(value_type = Vec<Object>)]
    items: Vec<kith_node::trending::TrendingTag>,
}

/// Trending hashtags over the last hour or day, from what this node has
/// accepted: ranked by distinct authors (one author repeating a tag counts
/// once), then uses (at most 3 per author), with the previous window's
/// authors for comparison.
#[utoipa::path(get, path = "/api/v1/trending", tag = "reads", params(TrendingQuery),
    responses((status = 200, body = TrendingView), (status = "default", body = ErrorBody)))]
async fn trending(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<TrendingQuery>,
) -> axum::Json<TrendingView> {
    let window = q.window.unwrap_or(kith_node::trending::Window::Day);
    let items = state.node.trending().top(
        window,
        kith_node::now_ms(),
        q.limit.unwrap_or(20).clamp(1, 100),
    );
    axum::Json(TrendingView { window, items })
}

/// Depth a thread is listed to when the query names none.
pub(crate) const DEFAULT_THREAD_DEPTH: usize = 8;
/// Deepest `depth` a thread query may ask for.
pub(crate) const MAX_THREAD_DEPTH: usize = 100;

/// Thread paging, order and depth.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ThreadQuery {
    /// Continue after this reply id (a previous page's `next`, read with
    /// the same `sort` and `depth`).
    after: Option<String>,
    /// Replies per page (1 to 500, default 50).
    limit: Option<usize>,
    /// Order of siblings at every level: `oldest` (default), `newest`, or
    /// `reactions` (most reactions first, then most direct replies, then
    /// oldest).
    #[param(value_type = Option<String>, example = "reactions")]
    sort: Option<String>,
    /// Deepest reply listed, counted from the root of the view (1 to 100,
    /// default 8). The listed reply at this depth counts the replies below
    /// it in `hidden_replies`; read them with the thread of that reply.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    depth: Option<String>,
}

impl ThreadQuery {
    /// The sort and depth asked for, or a 400 naming the parameter.
    fn options(&self) -> ApiResult<kith_node::storage::ThreadOptions> {
        use kith_node::storage::{ThreadOptions, ThreadSort};
        let sort = match self.sort.as_deref() {
            None => ThreadSort::default(),
            Some(text) => text.parse::<ThreadSort>().map_err(|e| {
                ApiError::bad_request("invalid_sort", e.to_string()).with_details(
                    serde_json::json!({
                        "field": "sort",
                        "allowed": ThreadSort::ALL.map(ThreadSort::name),
                    }),
                )
            })?,
        };
        let depth = match self.depth.as_deref() {
            None => DEFAULT_THREAD_DEPTH,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|d| (1..=MAX_THREAD_DEPTH).contains(d))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_depth",
                        format!(
                            "depth must be a whole number from 1 to {MAX_THREAD_DEPTH}, \
                             not `{text}`"
                        ),
                    )
                    .with_details(serde_json::json!({
                        "field": "depth", "min": 1, "max": MAX_THREAD_DEPTH,
                    }))
                })?,
        };
        Ok(ThreadOptions {
            sort,
            max_depth: Some(depth),
        })
    }
}

/// One reply in a thread.
#[derive(Debug, Serialize, ToSchema)]
struct ThreadItemView {
    event: EventView,
    /// 1 for replies to the root of the view.
    depth: usize,
    /// The event it answers.
    #[schema(value_type = String)]
    parent: EventId,
    /// Its parent has not arrived yet.
    orphan: bool,
    /// Replies anywhere below it in this thread.
    descendants: usize,
    /// Replies below it not listed because they are deeper than `depth`
    /// (non-zero only at the deepest level): show "continue this thread"
    /// and read `GET /api/v1/threads/{this reply's id}`.
    hidden_replies: usize,
}

/// A thread page.
#[derive(Debug, Serialize, ToSchema)]
struct ThreadView {
    /// The root of the view, if stored: the thread's first post, or the
    /// reply asked for.
    root: Option<EventView>,
    /// Replies in reading order (depth first, siblings in `sort` order).
    replies: Vec<ThreadItemView>,
    /// Replies below the root of the view, listed or not.
    total: usize,
    /// Replies listed over all pages (those within `depth`).
    listed: usize,
    /// The sort used: `oldest`, `newest` or `reactions`.
    sort: String,
    /// The deepest level listed.
    depth: usize,
    /// Pass as `after` for the next page.
    #[schema(value_type = Option<String>)]
    next: Option<EventId>,
    /// Acceptance sequence when read (for live resume).
    seq: u64,
}

/// A thread: the root and its replies in reading order, depth first,
/// siblings in the order asked for, listed down to `depth`. Given a reply's
/// id, the view is that reply's subthread: the reply is `root` and depths
/// count from it.
#[utoipa::path(get, path = "/api/v1/threads/{id}", tag = "reads",
    params(("id" = String, Path, description = "A thread's first post, or a reply for its subthread"),
        ThreadQuery),
    responses((status = 200, body = ThreadView), (status = "default", body = ErrorBody)))]
async fn thread(
    State(state): State<AppState>,
    viewer: MaybeCaller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ThreadQuery>,
) -> ApiResult<axum::Json<ThreadView>> {
    let root = parse_id(&id)?;
    let after = q.after.as_deref().map(parse_id).transpose()?;
    let options = q.options()?;
    let viewer = viewer.0.map(|c| c.identity);
    blocking(state.work.clone(), move || {
        let reader = state.node.store().reader();
        let seq = reader.last_seq()?;
        let page = reader.thread_view(&root, after, limit(q.limit), options)?;
        if page.root.is_none() && page.total == 0 {
            return Err(ApiError::not_found("thread"));
        }
        let mut ids: Vec<EventId> = page.replies.iter().map(|r| r.event.id()).collect();
        ids.push(root);
        let stats = reader.stats(&ids, viewer.as_ref())?;
        let root_view = match (&page.root, stats.last()) {
            (Some(e), Some(s)) => Some(EventView::of(e).with_stats(s)),
            (Some(e), None) => Some(EventView::of(e)),
            (None, _) => None,
        };
        Ok(axum::Json(ThreadView {
            root: root_view,
            replies: page
                .replies
                .iter()
                .zip(&stats)
                .map(|(r, s)| ThreadItemView {
                    event: EventView::of(&r.event).with_stats(s),
                    depth: r.depth,
                    parent: r.parent,
                    orphan: r.orphan,
                    descendants: r.descendants,
                    hidden_replies: r.hidden_replies,
                })
                .collect(),
            total: page.total,
            listed: page.listed,
            sort: page.sort.name().to_string(),
            depth: page.max_depth.unwrap_or(DEFAULT_THREAD_DEPTH),
            next: page.next,
            seq,
        }))
    })
    .await
}

/// Follow an identity.
#[utoipa::path(put, path = "/api/v1/me/follows/{key}", tag = "people",
    security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 201, body = WriteResult), (status = "default", body = ErrorBody)))]
async fn follow(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    let key = parse_key(&key)?;
    let refs = vec![kith_node::protocol::Ref::identity(Rel::Subject, key)];
    publish_payload(&state, &caller, Payload::Follow(Follow {}), refs).await
}

/// Stop following an identity.
#[utoipa::path(delete, path = "/api/v1/me/follows/{key}", tag = "people",
    security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 201, body = WriteResult), (status = "default", body = ErrorBody)))]
async fn unfollow(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    let key = parse_key(&key)?;
    let refs = vec![kith_node::protocol::Ref::identity(Rel::Subject, key)];
    publish_payload(&state, &caller, Payload::Unfollow(Unfollow {}), refs).await
}

/// Identity paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct KeyQuery {
    /// Continue after this identity (a previous page's `next`).
    after: Option<String>,
    /// Items per page (1 to 500, default 50).
    limit: Option<usize>,
}

fn key_page(items: Vec<PublicKey>, limit: usize) -> KeyPage {
    let next = (items.len() == limit)
        .then(|| items.last().copied())
        .flatten();
    KeyPage { items, next }
}

/// Who follows an identity (as far as this node knows).
#[utoipa::path(get, path = "/api/v1/identities/{key}/followers", tag = "people",
    params(("key" = String, Path), KeyQuery),
    responses((status = 200, body = KeyPage), (status = "default", body = ErrorBody)))]
async fn followers(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<KeyQuery>,
) -> ApiResult<axum::Json<KeyPage>> {
    let key = parse_key(&key)?;
    let after = q.after.as_deref().map(parse_key).transpose()?;
    let n = limit(q.limit);
    let items = state
        .node
        .store()
        .reader()
        .followers(&key, after.as_ref(), n)?;
    Ok(axum::Json(key_page(items, n)))
}

/// Whom an identity follows.
#[utoipa::path(get, path = "/api/v1/identities/{key}/following", tag = "people",
    params(("key" = String, Path), KeyQuery),
    responses((status = 200, body = KeyPage), (status = "default", body = ErrorBody)))]
async fn following(
    State(state): State<AppState>,
    Path(key): Path<String>,
    ApiQuery(q): ApiQuery<KeyQuery>,
) -> ApiResult<axum::Json<KeyPage>> {
    let key = parse_key(&key)?;
    let after = q.after.as_deref().map(parse_key).transpose()?;
    let n = limit(q.limit);
    let items = state
        .node
        .store()
        .reader()
        .following(&key, after.as_ref(), n)?;
    Ok(axum::Json(key_page(items, n)))
}

/// A block or mute list.
#[derive(Debug, Serialize, ToSchema)]
struct ListView {
    /// Identities on the list.
    #[schema(value_type = Vec<String>)]
    keys: Vec<PublicKey>,
    /// Muted words (mute list only).
    words: Vec<String>,
}

/// Which list.
#[derive(Clone, Copy)]
enum List {
    Block,
    Mute,
}

fn current_list(
    state: &AppState,
    me: &PublicKey,
    list: List,
) -> ApiResult<(Vec<PublicKey>, Vec<String>)> {
    let kind = match list {
        List::Block => Kind::BlockList,
        List::Mute => Kind::MuteList,
    };
    Ok(match state.node.store().reader().latest(me, kind, None)? {
        Some(e) => match e.payload() {
            Payload::BlockList(b) => (b.keys.clone(), Vec::new()),
            Payload::MuteList(m) => (m.keys.clone(), m.words.clone()),
            _ => (Vec::new(), Vec::new()),
        },
        None => (Vec::new(), Vec::new()),
    })
}

async fn change_list(
    state: &AppState,
    caller: &Caller,
    key: &str,
    list: List,
    add: bool,
) -> ApiResult<Response> {
    let key = parse_key(key)?;
    let (mut keys, words) = current_list(state, &caller.identity, list)?;
    keys.retain(|k| *k != key);
    if add {
        keys.push(key);
    }
    let payload = match list {
        List::Block => Payload::BlockList(BlockList { keys }),
        List::Mute => Payload::MuteList(MuteList { keys, words }),
    };
    publish_payload(state, caller, payload, Vec::new()).await
}

/// The caller's block list.
#[utoipa::path(get, path = "/api/v1/me/blocks", tag = "people", security(("bearer" = [])),
    responses((status = 200, body = ListView), (status = "default", body = ErrorBody)))]
async fn blocks(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<ListView>> {
    let (keys, words) = current_list(&state, &caller.identity, List::Block)?;
    Ok(axum::Json(ListView { keys, words }))
}

/// Block an identity (publishes the new block list).
#[utoipa::path(put, path = "/api/v1/me/blocks/{key}", tag = "people",
    security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 201, body = WriteResult), (status = "default", body = ErrorBody)))]
async fn block(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    change_list(&state, &caller, &key, List::Block, true).await
}

/// Unblock an identity.
#[utoipa::path(delete, path = "/api/v1/me/blocks/{key}", tag = "people",
    security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 201, body = WriteResult), (status = "default", body = ErrorBody)))]
async fn unblock(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    change_list(&state, &caller, &key, List::Block, false).await
}

/// The caller's mute list.
#[utoipa::path(get, path = "/api/v1/me/mutes", tag = "people", security(("bearer" = [])),
    responses((status = 200, body = ListView), (status = "default", body = ErrorBody)))]
async fn mutes(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<ListView>> {
    let (keys, words) = current_list(&state, &caller.identity, List::Mute)?;
    Ok(axum::Json(ListView { keys, words }))
}

/// Mute an identity.
#[utoipa::path(put, path = "/api/v1/me/mutes/{key}", tag = "people",
    security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 201, body = WriteResult), (status = "default", body = ErrorBody)))]
async fn mute(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    change_list(&state, &caller, &key, List::Mute, true).await
}

/// Unmute an identity.
#[utoipa::path(delete, path = "/api/v1/me/mutes/{key}", tag = "people",
    security(("bearer" = [])), params(("key" = String, Path)),
    responses((status = 201, body = WriteResult), (status = "default", body = ErrorBody)))]
async fn unmute(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    change_list(&state, &caller, &key, List::Mute, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With every permit taken, a request waits its bounded time and is
    /// told to come back; once a permit frees, work runs again.
    #[tokio::test]
    async fn a_full_work_queue_sheds_load() {
        let work = Arc::new(Semaphore::new(1));
        let held = work.clone().acquire_owned().await.unwrap();
        let e = blocking(work.clone(), || Ok(1)).await.unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "overloaded")
        );
        let r = e.into_response();
        assert_eq!(r.headers()[axum::http::header::RETRY_AFTER], "1");
        drop(held);
        assert_eq!(blocking(work, || Ok(2)).await.unwrap(), 2);
    }
}
