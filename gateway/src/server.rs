//! The server: shared state, the router with its layers, and serving.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::response::Response;
use kith_node::config::GatewaySection;
use kith_node::node::Node;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::accounts::Accounts;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::views::{self, Views};

/// What every handler shares.
#[derive(Clone, Debug)]
pub(crate) struct AppState(pub(crate) Arc<Inner>);

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) node: Arc<Node>,
    pub(crate) accounts: Accounts,
    pub(crate) config: GatewaySection,
    pub(crate) metrics: Metrics,
    /// Open live connections, and a signal when one ends.
    pub(crate) live: Arc<LiveConnections>,
    /// Turns true when the gateway stops; live connections close on it.
    pub(crate) closing: tokio::sync::watch::Sender<bool>,
    /// Read caches.
    pub(crate) views: Arc<Views>,
    /// Ranked feeds kept for their later pages.
    pub(crate) feeds: crate::ranked::Snapshots,
    /// Permits for work on the blocking pool (store reads, password
    /// hashing): four per core.
    pub(crate) work: Arc<tokio::sync::Semaphore>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Open live connections. Each holds the state (and so the node) until
/// it ends; stopping the gateway waits for them.
#[derive(Debug, Default)]
pub(crate) struct LiveConnections {
    pub(crate) open: AtomicUsize,
    pub(crate) ended: tokio::sync::Notify,
}

/// A running gateway.
#[derive(Debug)]
pub struct RunningGateway {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    state: AppState,
    task: JoinHandle<()>,
    sweeper: JoinHandle<()>,
    follower: JoinHandle<()>,
    /// Declines orders the sellers hosted here cannot fill.
    market: JoinHandle<()>,
}

impl RunningGateway {
    /// The base URL (`http://host:port`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish and live connections
    /// close (up to 5 s each), and returns. After it, the gateway holds no
    /// reference to the node: `Arc::try_unwrap` on the caller's succeeds.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.state.closing.send_replace(true);
        // Live connections close on the signal; wait until each has
        // dropped its hold on the node (bounded).
        let live = self.state.live.clone();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let ended = live.ended.notified();
                if live.open.load(std::sync::atomic::Ordering::Acquire) == 0 {
                    break;
                }
                ended.await;
            }
        })
        .await;
        // An aborted task drops its future later, on a worker: await each
        // so that its hold on the state is gone when `stop` returns.
        for task in [&mut self.sweeper, &mut self.follower, &mut self.market] {
            task.abort();
            let _ = task.await;
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
            let _ = (&mut self.task).await;
        }
        // Work already handed to the blocking pool (a session lookup, a
        // store read) still holds the state until it returns: wait for it.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while Arc::strong_count(&self.state.0) > 1 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }
}

/// Starts the gateway for `node` on `config.listen`. Every account's
/// identity is hosted on the node before the first request is served.
pub async fn serve(node: Arc<Node>, config: &GatewaySection) -> anyhow::Result<RunningGateway> {
    let accounts = {
        let dir = node.data_dir().to_path_buf();
        tokio::task::spawn_blocking(move || Accounts::open(&dir)).await??
    };
    for identity in accounts.identities()? {
        node.host(identity)?;
    }
    let state = AppState(Arc::new(Inner {
        node,
        accounts,
        config: config.clone(),
        metrics: Metrics::default(),
        live: Arc::default(),
        closing: tokio::sync::watch::channel(false).0,
        views: Arc::new(Views::new(views::budget_bytes(config.cache_mib))),
        feeds: Default::default(),
        work: Arc::new(tokio::sync::Semaphore::new(
            4 * std::thread::available_parallelism().map_or(1, |n| n.get()),
        )),
    }));
    // The caches follow the store from before the first request.
    let follower = {
        let feed = state.node.store().subscribe();
        let now = state.node.store().reader().last_seq()?;
        let views = state.views.clone();
        tokio::spawn(async move { views.follow(feed, now).await })
    };
    let app = router(state.clone());
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    // Responses stream in pieces (a file's blocks, a page's JSON); with
    // Nagle's algorithm the last small piece would wait for the client's
    // delayed ACK (40 ms on Linux).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stop_rx.await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "gateway stopped");
        }
    });
    // Expired sessions are dropped hourly.
    let sweeper = tokio::spawn({
        let accounts = state.accounts.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every.tick().await;
                let accounts = accounts.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    accounts.purge_sessions(kith_node::now_ms())
                })
                .await;
            }
        }
    });
    let market = tokio::spawn(crate::market::decline_unfillable(state.clone()));
    tracing::info!(url = %format!("http://{addr}"), "gateway listening");
    Ok(RunningGateway {
        addr,
        stop: Some(stop_tx),
        state,
        task,
        sweeper,
        follower,
        market,
    })
}

/// Client IP: the socket peer, or the first forwarded address when the
/// node sits behind a trusted reverse proxy.
#[derive(Clone, Copy, Debug)]
struct ClientIp {
    trust_forwarded: bool,
}

impl ClientIp {
    fn of<T>(&self, req: &Request<T>) -> Option<IpAddr> {
        if self.trust_forwarded
            && let Some(ip) = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return Some(ip);
        }
        req.extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    }
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;
    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        self.of(req).ok_or(GovernorError::UnableToExtractKey)
    }
}

/// Rate-limit key per account: a digest of the bearer token (never the
/// token itself), or the client IP for anonymous requests.
#[derive(Clone, Copy, Debug)]
struct AccountKey {
    ip: ClientIp,
}

impl KeyExtractor for AccountKey {
    type Key = [u8; 16];
    fn extract<T>(&self, req: &Request<T>) -> Result<[u8; 16], GovernorError> {
        use sha2::{Digest, Sha256};
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let mut out = [0u8; 16];
        match token {
            Some(t) => out.copy_from_slice(&Sha256::digest(t.as_bytes())[..16]),
            None => {
                let ip = self.ip.of(req).ok_or(GovernorError::UnableToExtractKey)?;
                out.copy_from_slice(&Sha256::digest(ip.to_string().as_bytes())[..16]);
            }
        }
        Ok(out)
    }
}

fn limited(e: GovernorError) -> Response {
    use axum::response::IntoResponse;
    match e {
        GovernorError::TooManyRequests { wait_time, .. } => {
            // The governor rounds down to whole seconds; never say "retry in 0 s".
            let wait_time = wait_time.max(1);
            let mut r = ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; retry in {wait_time} s"),
            )
            .with_details(serde_json::json!({ "retry_after_secs": wait_time }))
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&wait_time.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        GovernorError::UnableToExtractKey => {
            ApiError::bad_request("no_client_address", "cannot tell who is asking").into_response()
        }
        GovernorError::Other { msg, .. } => {
            ApiError::internal(msg.unwrap_or_default()).into_response()
        }
    }
}

/// Per-second rate and burst for a governor.
fn quota(per_sec: u32, burst: u32) -> (Duration, u32) {
    let per_sec = per_sec.max(1);
    (
        Duration::from_nanos(1_000_000_000 / u64::from(per_sec)),
        burst.max(1),
    )
}

/// The documented API with its router.
fn api_router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, mut doc) = documented().split_for_parts();
    describe_responses(&mut doc);
    (router.with_state(state), doc)
}

/// Every documented route, with the API's description.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::api::ApiDoc::openapi())
        .merge(crate::api::routes())
        .merge(crate::live::routes())
        .merge(crate::stories::routes())
        .merge(crate::notify::routes())
        .merge(crate::discover::routes())
        .merge(crate::nostr::routes())
        .merge(crate::chats::routes())
        .merge(crate::market::routes())
        .merge(crate::media::routes())
}

/// Every response object needs a description; the handlers' annotations
/// name the body type, so the description is the status's meaning.
fn describe_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            for (status, response) in op.responses.responses.iter_mut() {
                if let RefOr::T(r) = response
                    && r.description.is_empty()
                {
                    r.description = match status.as_str() {
                        "default" => {
                            "An error: `{\"error\": {\"code\", \"message\", \"details\"}}`".into()
                        }
                        code => code
                            .parse::<u16>()
                            .ok()
                            .and_then(|c| axum::http::StatusCode::from_u16(c).ok())
                            .and_then(|c| c.canonical_reason())
                            .unwrap_or("Response")
                            .to_string(),
                    };
                }
            }
        }
    }
}

/// The OpenAPI 3 document, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = documented().split_for_parts();
    describe_responses(&mut doc);
    doc
}

/// Every path the router serves, as the OpenAPI document names it.
pub fn route_paths() -> Vec<String> {
    openapi().paths.paths.keys().cloned().collect()
}

fn router(state: AppState) -> Router {
    let config = &state.config;
    let ip = ClientIp {
        trust_forwarded: config.trust_forwarded,
    };
    let (period, burst) = quota(config.rate_per_ip, config.burst_per_ip);
    let per_ip = GovernorConfigBuilder::default()
        .period(period)
        .burst_size(burst)
        .key_extractor(ip)
        .finish();
    let (period, burst) = quota(config.rate_per_account, config.burst_per_account);
    let per_account = GovernorConfigBuilder::default()
        .period(period)
        .burst_size(burst)
        .key_extractor(AccountKey { ip })
        .finish();
    let auth_limiter = Arc::new(governor::RateLimiter::keyed(
        governor::Quota::per_minute(
            std::num::NonZeroU32::MIN.saturating_add(config.auth_per_minute.saturating_sub(1)),
        )
        .allow_burst(
            std::num::NonZeroU32::MIN.saturating_add(config.auth_per_minute.clamp(1, 10) - 1),
        ),
    ));

    let (api, doc) = api_router(state.clone());
    let doc = Arc::new(doc);
    let mut api = api.route(
        "/api/v1/openapi.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    );
    // Credential guessing gets its own, much lower limit per client IP.
    let auth_wait = (60 / u64::from(config.auth_per_minute.max(1))).max(1);
    api = api.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let limiter = auth_limiter.clone();
            async move {
                let guarded = req.method() == Method::POST
                    && matches!(req.uri().path(), "/api/v1/accounts" | "/api/v1/sessions");
                if guarded
                    && let Some(addr) = ip.of(&req)
                    && limiter.check_key(&addr).is_err()
                {
                    return limited(GovernorError::TooManyRequests {
                        wait_time: auth_wait,
                        headers: None,
                    });
                }
                next.run(req).await
            }
        },
    ));
    if let Some(c) = per_account {
        api = api.layer(tower_governor::GovernorLayer::new(c).error_handler(limited));
    }
    if let Some(c) = per_ip {
        api = api.layer(tower_governor::GovernorLayer::new(c).error_handler(limited));
    }

    let cors = cors_layer(&config.cors_origins);
    let api = api
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(config.body_limit_kb.max(1) * 1024))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .layer(cors);
    security_headers(api)
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(list))
    }
}

fn security_headers(router: Router) -> Router {
    let set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    router
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set(header::X_FRAME_OPTIONS, "DENY"))
        .layer(set(header::REFERRER_POLICY, "no-referrer"))
        .layer(set(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .layer(set(header::CACHE_CONTROL, "no-store"))
        .layer(set(
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-site",
        ))
}
