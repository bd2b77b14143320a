//! The client side of a node's gateway: where the node is, which token to
//! send, one method per API route the commands use, and what each failure
//! means for the exit status.
//!
//! Every method returns the API's JSON document as it came (so `--json`
//! prints exactly what the node said); the commands read the fields they
//! show from it with [`parse`].

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The file in the data dir where `kith up` writes its gateway's URL while
/// it runs.
pub(crate) const GATEWAY_URL_FILE: &str = "gateway.url";

/// How long to wait for a connection to the node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for one answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The exit statuses of `kith`, as `kith --help` documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Exit {
    /// Any other error.
    Other = 1,
    /// Cannot reach the node (refused, unknown host, timed out).
    Unreachable = 3,
    /// The node says 401 or 403.
    Unauthorized = 4,
    /// The node says 404.
    NotFound = 5,
    /// The node refused the request (any other 4xx).
    Refused = 6,
    /// The node failed (5xx).
    NodeError = 7,
}

impl Exit {
    /// The status for an HTTP error status.
    pub(crate) fn for_status(status: StatusCode) -> Exit {
        match status.as_u16() {
            401 | 403 => Exit::Unauthorized,
            404 => Exit::NotFound,
            400..=499 => Exit::Refused,
            500..=599 => Exit::NodeError,
            _ => Exit::Other,
        }
    }
}

/// Why a request to the node failed.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// No answer: nothing listens there, the host is unknown, or it timed out.
    Unreachable {
        /// The node's base URL.
        url: String,
        /// The innermost cause, for people.
        cause: String,
    },
    /// The node answered with the API's error document.
    Api {
        /// HTTP status.
        status: StatusCode,
        /// Stable machine code (`not_found`, `key_malformed`…).
        code: String,
        /// The node's sentence.
        message: String,
    },
    /// The node answered something that is not the API's JSON.
    BadResponse {
        /// HTTP status.
        status: StatusCode,
        /// What was wrong with it.
        cause: String,
    },
}

impl ClientError {
    /// The exit status this failure maps to.
    pub(crate) fn exit(&self) -> Exit {
        match self {
            ClientError::Unreachable { .. } => Exit::Unreachable,
            ClientError::Api { status, .. } => Exit::for_status(*status),
            ClientError::BadResponse { status, .. } if !status.is_success() => {
                Exit::for_status(*status)
            }
            ClientError::BadResponse { .. } => Exit::Other,
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable { url, cause } => {
                write!(f, "cannot reach the node at {url}: {cause}")
            }
            ClientError::Api { code, message, .. } => write!(f, "{message} ({code})"),
            ClientError::BadResponse { status, cause } => {
                write!(f, "unexpected answer from the node ({status}): {cause}")
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// Reads a field set from the API's JSON, or says the answer was not what
/// the API documents.
pub(crate) fn parse<T: DeserializeOwned>(value: &Value) -> Result<T, ClientError> {
    T::deserialize(value).map_err(|e| ClientError::BadResponse {
        status: StatusCode::OK,
        cause: e.to_string(),
    })
}

/// Which node to talk to and as whom.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// The gateway's base URL.
    pub(crate) url: Url,
    /// The URL was given (`--node` or `KITH_NODE`) rather than found.
    pub(crate) given: bool,
    /// Bearer token, if there is one to send.
    token: Option<String>,
}

impl Endpoint {
    /// The node: `node` (flag or `KITH_NODE`), else the URL `kith up` wrote in
    /// the data dir, else the default gateway address. The token: `token`
    /// (flag or `KITH_TOKEN`), else the data dir's admin token, which is only
    /// sent to the node of that data dir or to one on this machine (loopback),
    /// never to a remote host it was not made for.
    pub(crate) fn resolve(
        node: Option<&Url>,
        token: Option<&str>,
        dir: Option<&Path>,
    ) -> anyhow::Result<Endpoint> {
        let written = match dir {
            Some(dir) => read_gateway_url(dir),
            None => Ok(None),
        };
        // A node named on the command line does not depend on the file.
        let written = match node {
            Some(_) => written.unwrap_or(None),
            None => written?,
        };
        let url = match (node, &written) {
            (Some(url), _) => url.clone(),
            (None, Some(url)) => url.clone(),
            (None, None) => default_url(),
        };
        let token = match token {
            Some(t) => Some(t.trim().to_string()),
            None => match dir {
                Some(dir) if written.as_ref() == Some(&url) || is_loopback(&url) => {
                    admin_token(dir)?
                }
                _ => None,
            },
        };
        Ok(Endpoint {
            url,
            given: node.is_some(),
            token: token.filter(|t| !t.is_empty()),
        })
    }

    /// Whether a token will be sent.
    pub(crate) fn has_token(&self) -> bool {
        self.token.is_some()
    }
}

/// `http://127.0.0.1:7417`: where `kith up` serves its gateway by default.
fn default_url() -> Url {
    let port = kith_node::config::DEFAULT_GATEWAY_PORT;
    Url::parse(&format!("http://127.0.0.1:{port}")).expect("a valid URL")
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Parses a node URL: `http` or `https`, with a host. Used for `--node` and
/// for the `gateway.url` file.
pub(crate) fn parse_node_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() || !url.has_host() {
        return Err("expected an http:// or https:// URL".into());
    }
    Ok(url)
}

/// The URL in `<dir>/gateway.url`, if the file exists.
fn read_gateway_url(dir: &Path) -> anyhow::Result<Option<Url>> {
    let path = dir.join(GATEWAY_URL_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_node_url(&text)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(path.display().to_string())),
    }
}

/// The admin token of a data dir, if the node made one.
fn admin_token(dir: &Path) -> anyhow::Result<Option<String>> {
    match kith_gateway::read_admin_token(dir) {
        Ok(token) => Ok(Some(token.as_str().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(
            dir.join(kith_gateway::ADMIN_TOKEN_FILE)
                .display()
                .to_string(),
        )),
    }
}

/// Writes `<dir>/gateway.url` atomically (a temporary file renamed over it),
/// and removes it when dropped: the file exists exactly while the gateway
/// serves.
#[derive(Debug)]
pub(crate) struct GatewayUrlFile {
    path: std::path::PathBuf,
}

impl GatewayUrlFile {
    /// Writes the URL of a gateway listening on `addr`. A wildcard address
    /// (`0.0.0.0`, `::`) is written as loopback, which a client can dial.
    pub(crate) fn write(dir: &Path, addr: std::net::SocketAddr) -> std::io::Result<Self> {
        let mut addr = addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let path = dir.join(GATEWAY_URL_FILE);
        let tmp = dir.join(format!("{GATEWAY_URL_FILE}.tmp"));
        std::fs::write(&tmp, format!("http://{addr}\n"))?;
        std::fs::rename(&tmp, &path)?;
        Ok(GatewayUrlFile { path })
    }
}

impl Drop for GatewayUrlFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Paging of a listing.
#[derive(Debug, Clone, Default)]
pub(crate) struct PageQuery {
    /// A previous page's `next`.
    pub(crate) cursor: Option<String>,
    /// Items per page.
    pub(crate) limit: Option<u32>,
    /// Include replies (author timelines).
    pub(crate) replies: bool,
    /// More query parameters (the home feed's mode, weights, language).
    pub(crate) extra: Vec<(&'static str, String)>,
}

/// A client of one node's gateway.
#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    endpoint: Endpoint,
}

impl Client {
    /// A client for `endpoint`.
    pub(crate) fn new(endpoint: Endpoint) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // The token must never follow a redirect elsewhere; the gateway
            // does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("kith/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client { http, endpoint })
    }

    /// Where the node is.
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The URL of an API route, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.endpoint.url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let mut url = self.url(segments);
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.endpoint.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::BadResponse {
                status,
                cause: e.to_string(),
            });
        }
        Err(error_of(status, &bytes))
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        let cause = if e.is_timeout() {
            "timed out".to_string()
        } else {
            innermost(e)
        };
        ClientError::Unreachable {
            url: self.endpoint.url.as_str().trim_end_matches('/').to_string(),
            cause,
        }
    }

    /// `POST /api/v1/media`: streams `file` as the body, calling
    /// `progress` with each chunk's length as it is sent.
    pub(crate) async fn upload(
        &self,
        file: &std::path::Path,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> anyhow::Result<Value> {
        use futures::StreamExt as _;
        let opened = tokio::fs::File::open(file)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let stream =
            tokio_util::io::ReaderStream::with_capacity(opened, 256 * 1024).inspect(move |chunk| {
                if let Ok(c) = chunk {
                    progress(c.len() as u64);
                }
            });
        let mut request = self
            .http
            .post(self.url(&["api", "v1", "media"]))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            // A large video on a slow link takes longer than other requests.
            .timeout(Duration::from_secs(3600))
            .body(reqwest::Body::wrap_stream(stream));
        if let Some(token) = &self.endpoint.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        if status.is_success() {
            return Ok(
                serde_json::from_slice(&bytes).map_err(|e| ClientError::BadResponse {
                    status,
                    cause: e.to_string(),
                })?,
            );
        }
        Err(error_of(status, &bytes).into())
    }

    pub(crate) async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Value, ClientError> {
        self.call(Method::GET, segments, query, None).await
    }

    /// `GET /api/v1/me`: who the token speaks for.
    pub(crate) async fn me(&self) -> Result<Value, ClientError> {
        self.get(&["api", "v1", "me"], &[]).await
    }

    /// `GET /api/v1/identities/{key}`: a profile and its counts.
    pub(crate) async fn identity(&self, key: &str) -> Result<Value, ClientError> {
        self.get(&["api", "v1", "identities", key], &[]).await
    }

    /// `GET /api/v1/events/{id}`: one event with its counts.
    pub(crate) async fn event(&self, id: &str) -> Result<Value, ClientError> {
        self.get(&["api", "v1", "events", id], &[]).await
    }

    /// `POST /api/v1/publish`: the node signs and publishes a draft.
    pub(crate) async fn publish(&self, draft: &Value) -> Result<Value, ClientError> {
        self.call(Method::POST, &["api", "v1", "publish"], &[], Some(draft))
            .await
    }

    /// `PUT /api/v1/me/profile`: publishes a new profile.
    pub(crate) async fn put_profile(&self, payload: &Value) -> Result<Value, ClientError> {
        self.call(
            Method::PUT,
            &["api", "v1", "me", "profile"],
            &[],
            Some(payload),
        )
        .await
    }

    /// `GET /api/v1/identities/{key}/timeline`: an author's page.
    pub(crate) async fn timeline(&self, key: &str, page: &PageQuery) -> Result<Value, ClientError> {
        self.get(
            &["api", "v1", "identities", key, "timeline"],
            &page_query(page),
        )
        .await
    }

    /// `GET /api/v1/me/home`: the caller's home page.
    pub(crate) async fn home(&self, page: &PageQuery) -> Result<Value, ClientError> {
        self.get(&["api", "v1", "me", "home"], &page_query(page))
            .await
    }

    /// `GET /api/v1/search`.
    pub(crate) async fn search(
        &self,
        q: &str,
        lang: Option<&str>,
        limit: u32,
    ) -> Result<Value, ClientError> {
        let mut query = vec![("q", q.to_string()), ("limit", limit.to_string())];
        if let Some(l) = lang {
            query.push(("lang", l.to_string()));
        }
        self.get(&["api", "v1", "search"], &query).await
    }

    /// `GET /api/v1/trending`.
    pub(crate) async fn trending(&self, window: &str, limit: u32) -> Result<Value, ClientError> {
        self.get(
            &["api", "v1", "trending"],
            &[("window", window.to_string()), ("limit", limit.to_string())],
        )
        .await
    }

    /// `GET /api/v1/me/notifications`: the caller's notification groups.
    pub(crate) async fn notifications(
        &self,
        unread: bool,
        limit: u32,
    ) -> Result<Value, ClientError> {
        let mut query = vec![("limit", limit.to_string())];
        if unread {
            query.push(("unread", "true".to_string()));
        }
        self.get(&["api", "v1", "me", "notifications"], &query)
            .await
    }

    /// `POST /api/v1/me/notifications/read` with `{"all": true}`.
    pub(crate) async fn read_all_notifications(&self) -> Result<Value, ClientError> {
        self.call(
            Method::POST,
            &["api", "v1", "me", "notifications", "read"],
            &[],
            Some(&serde_json::json!({ "all": true })),
        )
        .await
    }

    /// `GET /api/v1/me/suggestions`: people to follow, with reasons in `lang`.
    pub(crate) async fn suggestions(&self, limit: u32, lang: &str) -> Result<Value, ClientError> {
        self.get(
            &["api", "v1", "me", "suggestions"],
            &[("limit", limit.to_string()), ("lang", lang.to_string())],
        )
        .await
    }

    /// `GET /api/v1/me/stats`, or `/api/v1/identities/{key}/stats` for `key`.
    pub(crate) async fn stats(&self, key: Option<&str>, days: u32) -> Result<Value, ClientError> {
        let query = [("days", days.to_string())];
        match key {
            Some(key) => {
                self.get(&["api", "v1", "identities", key, "stats"], &query)
                    .await
            }
            None => self.get(&["api", "v1", "me", "stats"], &query).await,
        }
    }

    /// `GET /api/v1/threads/{id}`: a thread in reading order; `extra`
    /// adds query parameters (`sort`, `depth`).
    pub(crate) async fn thread(
        &self,
        id: &str,
        after: Option<&str>,
        limit: Option<u32>,
        extra: &[(&str, String)],
    ) -> Result<Value, ClientError> {
        let mut query = extra.to_vec();
        if let Some(after) = after {
            query.push(("after", after.to_string()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        self.get(&["api", "v1", "threads", id], &query).await
    }

    /// `PUT` (or `DELETE`) `/api/v1/me/follows/{key}`.
    pub(crate) async fn follow(&self, key: &str, follow: bool) -> Result<Value, ClientError> {
        let method = if follow { Method::PUT } else { Method::DELETE };
        self.call(method, &["api", "v1", "me", "follows", key], &[], None)
            .await
    }

    /// `PUT` (or `DELETE`) `/api/v1/me/blocks/{key}`.
    pub(crate) async fn block(&self, key: &str, block: bool) -> Result<Value, ClientError> {
        let method = if block { Method::PUT } else { Method::DELETE };
        self.call(method, &["api", "v1", "me", "blocks", key], &[], None)
            .await
    }

    /// `GET /api/v1/node/peers` (admin only).
    pub(crate) async fn peers(&self) -> Result<Value, ClientError> {
        self.get(&["api", "v1", "node", "peers"], &[]).await
    }

    /// `POST /api/v1/me/key/export`: the root secret (password for accounts).
    pub(crate) async fn export_key(&self, password: Option<&str>) -> Result<Value, ClientError> {
        let body = match password {
            Some(p) => serde_json::json!({ "password": p }),
            None => serde_json::json!({}),
        };
        self.call(
            Method::POST,
            &["api", "v1", "me", "key", "export"],
            &[],
            Some(&body),
        )
        .await
    }

    /// `GET /api/v1/me/delegations`.
    pub(crate) async fn delegations(&self) -> Result<Value, ClientError> {
        self.get(&["api", "v1", "me", "delegations"], &[]).await
    }

    /// `POST /api/v1/me/delegations`: authorise another key.
    pub(crate) async fn delegate(&self, request: &Value) -> Result<Value, ClientError> {
        self.call(
            Method::POST,
            &["api", "v1", "me", "delegations"],
            &[],
            Some(request),
        )
        .await
    }

    /// `DELETE /api/v1/me/delegations/{id}`: revoke a delegation.
    pub(crate) async fn revoke(&self, id: &str, compromised: bool) -> Result<Value, ClientError> {
        let query = [("compromised", compromised.to_string())];
        self.call(
            Method::DELETE,
            &["api", "v1", "me", "delegations", id],
            &query,
            None,
        )
        .await
    }
}

fn page_query(page: &PageQuery) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if let Some(cursor) = &page.cursor {
        query.push(("cursor", cursor.clone()));
    }
    if let Some(limit) = page.limit {
        query.push(("limit", limit.to_string()));
    }
    if page.replies {
        query.push(("replies", "true".to_string()));
    }
    query.extend(page.extra.iter().cloned());
    query
}

/// The error document of a failed answer, or what we can say without one.
fn error_of(status: StatusCode, body: &[u8]) -> ClientError {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Info,
    }
    #[derive(serde::Deserialize)]
    struct Info {
        code: String,
        message: String,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(b) => ClientError::Api {
            status,
            code: b.error.code,
            message: b.error.message,
        },
        Err(_) => ClientError::BadResponse {
            status,
            cause: String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_string(),
        },
    }
}

/// The deepest cause of an error ("Connection refused (os error 111)"),
/// which says more than reqwest's "error sending request for url".
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_documented_exit_codes() {
        let exit = |s: u16| Exit::for_status(StatusCode::from_u16(s).unwrap()) as u8;
        assert_eq!(exit(401), 4);
        assert_eq!(exit(403), 4);
        assert_eq!(exit(404), 5);
        for s in [400, 409, 410, 413, 422, 429] {
            assert_eq!(exit(s), 6, "{s}");
        }
        for s in [500, 502, 503] {
            assert_eq!(exit(s), 7, "{s}");
        }
        let bad = ClientError::BadResponse {
            status: StatusCode::OK,
            cause: "not JSON".into(),
        };
        assert_eq!(bad.exit(), Exit::Other);
        let down = ClientError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            cause: "refused".into(),
        };
        assert_eq!(down.exit(), Exit::Unreachable);
    }

    #[test]
    fn error_documents_are_read_and_other_bodies_are_reported() {
        let e = error_of(
            StatusCode::NOT_FOUND,
            br#"{"error":{"code":"not_found","message":"event not found","details":null}}"#,
        );
        assert_eq!(e.to_string(), "event not found (not_found)");
        assert_eq!(e.exit(), Exit::NotFound);
        let e = error_of(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>");
        assert_eq!(e.exit(), Exit::NodeError);
        assert!(e.to_string().contains("bad gateway"), "{e}");
    }

    #[test]
    fn segments_are_encoded_and_prefixes_kept() {
        let endpoint = |url: &str| Endpoint {
            url: parse_node_url(url).unwrap(),
            given: true,
            token: None,
        };
        let c = Client::new(endpoint("http://127.0.0.1:7417")).unwrap();
        assert_eq!(
            c.url(&["api", "v1", "me", "follows", "a/b?c"]).as_str(),
            "http://127.0.0.1:7417/api/v1/me/follows/a%2Fb%3Fc"
        );
        let c = Client::new(endpoint("https://example.org/kith/")).unwrap();
        assert_eq!(
            c.url(&["api", "v1", "me"]).as_str(),
            "https://example.org/kith/api/v1/me"
        );
        assert!(parse_node_url("ftp://example.org").is_err());
        assert!(parse_node_url("127.0.0.1:7417").is_err());
    }

    #[test]
    fn the_admin_token_goes_only_to_its_own_node_or_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin.token"), "kat_secret\n").unwrap();
        let remote = parse_node_url("https://node.example").unwrap();
        let e = Endpoint::resolve(Some(&remote), None, Some(dir.path())).unwrap();
        assert!(!e.has_token(), "not sent to a host it was not made for");
        let local = parse_node_url("http://localhost:9000").unwrap();
        let e = Endpoint::resolve(Some(&local), None, Some(dir.path())).unwrap();
        assert_eq!(e.token.as_deref(), Some("kat_secret"));
        let e = Endpoint::resolve(Some(&remote), Some("kst_x"), Some(dir.path())).unwrap();
        assert_eq!(e.token.as_deref(), Some("kst_x"));

        // Without a flag, the URL `kith up` wrote, with its token.
        let _file = GatewayUrlFile::write(dir.path(), "0.0.0.0:4567".parse().unwrap()).unwrap();
        let e = Endpoint::resolve(None, None, Some(dir.path())).unwrap();
        assert_eq!(e.url.as_str(), "http://127.0.0.1:4567/");
        assert!(!e.given);
        assert!(e.has_token());
        drop(_file);
        assert!(!dir.path().join(GATEWAY_URL_FILE).exists());
        let e = Endpoint::resolve(None, None, Some(dir.path())).unwrap();
        assert_eq!(e.url.as_str(), "http://127.0.0.1:7417/");
    }
}
