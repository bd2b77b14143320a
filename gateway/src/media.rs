//! Media over HTTP: uploads (`POST /api/v1/media`, raw bytes or
//! multipart, streamed to disk, never held whole in memory), their
//! processing status (`GET /api/v1/media/{cid}`), the node's pins and
//! garbage collection (admin), and `/ipfs/<cid>[/<path>]`: files with their
//! type, byte ranges for seeking, ETags and immutable caching, every block
//! checked against its CID, and missing files fetched from peers in time.

use std::ops::Range;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use kith_node::media::{self, MediaError, MediaRecord};
use kith_node::protocol::media::MediaDescriptor;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::server::AppState;
use axum::Json as ApiJson;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(status))
        .routes(routes!(pins))
        .routes(routes!(gc))
        // GET routes answer HEAD too (axum), with the headers only.
        .routes(routes!(ipfs_file))
        .routes(routes!(ipfs_path))
        // Deeper paths (`/ipfs/<cid>/a/b/c.jpg`): the same handlers; OpenAPI
        // has no catch-all parameter to document them with.
        .route(
            "/ipfs/{cid}/{path}/{*rest}",
            axum::routing::get(ipfs_deep_path),
        )
}

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        let status = match &e {
            MediaError::Probe(p) => match p.code() {
                "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
                "unsupported_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "timeout" | "processing_failed" | "io" => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
            MediaError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            MediaError::Unavailable(_) => StatusCode::GATEWAY_TIMEOUT,
            MediaError::Corrupt(_) | MediaError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            MediaError::BadPath(_) | MediaError::IsDirectory(_) | MediaError::NotAFile(_) => {
                StatusCode::BAD_REQUEST
            }
            MediaError::NotFound(_) | MediaError::UnknownUpload(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// An upload as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MediaView {
    /// CID of the stored original.
    cid: String,
    /// `queued`, `processing`, `ready` or `failed`.
    status: String,
    /// Why processing failed (the original is still stored and usable).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The descriptor to put in a post, story, profile or listing. Final
    /// once `status` is `ready` (thumbnails and renditions are added by
    /// processing).
    #[schema(value_type = Object)]
    descriptor: MediaDescriptor,
    /// Thumbnails and renditions by name (`small`, `medium`, `large`,
    /// `poster`, `webp`, `480p`, `720p`).
    #[schema(value_type = Vec<Object>)]
    files: Vec<media::Derived>,
    /// EXIF/GPS/XMP metadata was found and removed before storing.
    metadata_removed: bool,
    /// Things to know: `ffmpeg_missing` (this node cannot read video or
    /// audio: no duration, poster or renditions).
    warnings: Vec<String>,
}

impl From<MediaRecord> for MediaView {
    fn from(r: MediaRecord) -> Self {
        let (status, error) = match &r.status {
            media::Status::Queued => ("queued", None),
            media::Status::Processing => ("processing", None),
            media::Status::Ready => ("ready", None),
            media::Status::Failed { code, message } => {
                ("failed", Some(format!("{code}: {message}")))
            }
        };
        MediaView {
            cid: r.cid.clone(),
            status: status.into(),
            error,
            descriptor: r.descriptor(),
            files: r.thumbs.iter().chain(&r.renditions).cloned().collect(),
            metadata_removed: r.metadata_removed,
            warnings: r.warnings,
        }
    }
}

/// Upload a picture, a clip or a sound: the request body is the file (any
/// `Content-Type`, or `multipart/form-data` with one file part). The type
/// is read from the bytes; limits per type (20 MB images, 50 MB audio,
/// 500 MB video by default). Images lose EXIF/GPS metadata before they are
/// stored. Processing (thumbnails, renditions, waveform) continues in the
/// background: poll `GET /api/v1/media/{cid}`.
#[utoipa::path(post, path = "/api/v1/media", tag = "media",
    security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = MediaView), (status = "default", body = ErrorBody)))]
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    request: Request,
) -> ApiResult<Response> {
    let media = state.node.media().clone();
    let largest = media.limits().largest();
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok());
    let file = media.upload_dir().join(format!(
        "upload-{:016x}",
        rand_core::RngCore::next_u64(&mut rand_core::OsRng)
    ));
    let written = match boundary {
        Some(b) => {
            let stream = request.into_body().into_data_stream();
            let mut form = multer::Multipart::new(stream, b);
            let mut found = None;
            while let Some(field) = form
                .next_field()
                .await
                .map_err(|e| ApiError::bad_request("bad_multipart", e.to_string()))?
            {
                if field.file_name().is_some() || field.name() == Some("file") {
                    found = Some(
                        write_upload(&file, field.map_err(std::io::Error::other), largest).await,
                    );
                    break;
                }
            }
            found.ok_or_else(|| {
                ApiError::bad_request("no_file", "the form has no file part (name it `file`)")
            })?
        }
        None => {
            let stream = request
                .into_body()
                .into_data_stream()
                .map_err(std::io::Error::other);
            write_upload(&file, stream, largest).await
        }
    };
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&file).await;
        return Err(e);
    }
    let record = media.add_file(&file, &caller.identity).await?;
    let mut response = (StatusCode::CREATED, ApiJson(MediaView::from(record))).into_response();
    if !media.has_ffmpeg() {
        response.headers_mut().insert(
            HeaderName::from_static("x-kith-warning"),
            HeaderValue::from_static("ffmpeg_missing"),
        );
    }
    Ok(response)
}

/// Streams `body` into `file`, refusing it once it passes `limit` bytes.
async fn write_upload<S, B>(file: &std::path::Path, body: S, limit: u64) -> ApiResult<u64>
where
    S: futures::Stream<Item = Result<B, std::io::Error>>,
    B: AsRef<[u8]>,
{
    let mut out = tokio::fs::File::create(file)
        .await
        .map_err(ApiError::internal)?;
    let mut body = std::pin::pin!(body);
    let mut total = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request("upload_interrupted", e.to_string()))?;
        total += chunk.as_ref().len() as u64;
        if total > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("uploads are at most {limit} bytes on this node"),
            ));
        }
        out.write_all(chunk.as_ref())
            .await
            .map_err(ApiError::internal)?;
    }
    if total == 0 {
        return Err(ApiError::bad_request("empty", "the upload is empty"));
    }
    out.flush().await.map_err(ApiError::internal)?;
    Ok(total)
}

/// An upload's processing status and descriptor.
#[utoipa::path(get, path = "/api/v1/media/{cid}", tag = "media",
    params(("cid" = String, Path)),
    responses((status = 200, body = MediaView), (status = "default", body = ErrorBody)))]
async fn status(
    State(state): State<AppState>,
    Path(cid): Path<String>,
) -> ApiResult<ApiJson<MediaView>> {
    let cid = parse_cid(&cid)?;
    let record = state
        .node
        .media()
        .record(&cid.to_string())?
        .ok_or_else(|| ApiError::from(MediaError::UnknownUpload(cid.to_string())))?;
    Ok(ApiJson(record.into()))
}

/// What the node pins.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PinList {
    /// Own uploads first, then followed accounts' media, newest first.
    #[schema(value_type = Vec<Object>)]
    pins: Vec<media::Pin>,
}

/// The node's pins (admin).
#[utoipa::path(get, path = "/api/v1/admin/media/pins", tag = "media",
    security(("bearer" = [])),
    responses((status = 200, body = PinList), (status = "default", body = ErrorBody)))]
async fn pins(State(state): State<AppState>, caller: Caller) -> ApiResult<ApiJson<PinList>> {
    admin(&caller)?;
    Ok(ApiJson(PinList {
        pins: state.node.media().pins()?,
    }))
}

/// What a collection removed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GcView {
    /// Blocks removed.
    blocks: usize,
    /// Followed accounts' pins dropped to fit the quota first.
    unpinned: usize,
}

/// Remove every block no pin holds (admin).
#[utoipa::path(post, path = "/api/v1/admin/media/gc", tag = "media",
    security(("bearer" = [])),
    responses((status = 200, body = GcView), (status = "default", body = ErrorBody)))]
async fn gc(State(state): State<AppState>, caller: Caller) -> ApiResult<ApiJson<GcView>> {
    admin(&caller)?;
    let r = state.node.media().gc().await?;
    Ok(ApiJson(GcView {
        blocks: r.blocks,
        unpinned: r.unpinned,
    }))
}

fn admin(caller: &Caller) -> ApiResult<()> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "admin_only",
            "only the node's operator can do that",
        ))
    }
}

fn parse_cid(text: &str) -> ApiResult<cid::Cid> {
    text.parse::<cid::Cid>().map_err(|e| {
        ApiError::bad_request(
            "bad_cid",
            format!(
                "`{}` is not a CID: {e}",
                text.chars().take(100).collect::<String>()
            ),
        )
        .with_details(serde_json::json!({ "field": "cid" }))
    })
}

/// A file in IPFS, with `Range` support (`HEAD`: its headers only).
#[utoipa::path(get, path = "/ipfs/{cid}", tag = "media",
    params(("cid" = String, Path)),
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 206, description = "a byte range"), (status = "default", body = ErrorBody)))]
async fn ipfs_file(
    State(state): State<AppState>,
    Path(cid): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve(&state, &cid, "", &headers, &method).await
}

/// A file inside a directory in IPFS.
#[utoipa::path(get, path = "/ipfs/{cid}/{path}", tag = "media",
    params(("cid" = String, Path), ("path" = String, Path)),
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 206, description = "a byte range"), (status = "default", body = ErrorBody)))]
async fn ipfs_path(
    State(state): State<AppState>,
    Path((cid, path)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve(&state, &cid, &path, &headers, &method).await
}

async fn ipfs_deep_path(
    State(state): State<AppState>,
    Path((cid, path, rest)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve(&state, &cid, &format!("{path}/{rest}"), &headers, &method).await
}

/// The one byte range asked for, if any: `None` for none (or several,
/// which are answered whole), `Err` when it cannot be satisfied.
pub(crate) fn range(headers: &HeaderMap, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let r = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (Some(start), Some(end)) if start <= end => start..end.saturating_add(1).min(size),
        (Some(start), None) if b.is_empty() => start..size,
        (None, Some(n)) if a.is_empty() && n > 0 => size.saturating_sub(n)..size,
        _ => return Ok(None),
    };
    if r.start >= size {
        return Err(());
    }
    Ok(Some(r))
}

async fn serve(
    state: &AppState,
    cid: &str,
    path: &str,
    headers: &HeaderMap,
    method: &Method,
) -> ApiResult<Response> {
    let root = parse_cid(cid)?;
    let segments = media::check_path(path)?;
    let service = state.node.media();
    let file = service.open(root, &segments, None).await?;
    let etag = format!("\"{}\"", file.cid);
    let mut out = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
        .header("cross-origin-resource-policy", "cross-origin")
        .header(
            "x-ipfs-path",
            format!(
                "/ipfs/{root}{}{path}",
                if path.is_empty() { "" } else { "/" }
            ),
        );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return out
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .map_err(ApiError::internal);
    }
    let mime = match service.record(&file.cid.to_string())? {
        Some(r) => r.mime,
        None => sniff_served(service, &file).await,
    };
    if !is_media(&mime) {
        out = out.header(header::CONTENT_DISPOSITION, "attachment");
    }
    out = out.header(header::CONTENT_TYPE, mime).header(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox",
    );
    let (status, range) = match range(headers, file.size) {
        Ok(Some(r)) => {
            out = out.header(
                header::CONTENT_RANGE,
                format!(
                    "bytes {}-{}/{}",
                    r.start,
                    r.end.saturating_sub(1),
                    file.size
                ),
            );
            (StatusCode::PARTIAL_CONTENT, r)
        }
        Ok(None) => (StatusCode::OK, 0..file.size),
        Err(()) => {
            return out
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{}", file.size))
                .body(Body::empty())
                .map_err(ApiError::internal);
        }
    };
    out = out
        .status(status)
        .header(header::CONTENT_LENGTH, range.end - range.start);
    if method == Method::HEAD {
        return out.body(Body::empty()).map_err(ApiError::internal);
    }
    let stream = service.read(&file, range).map_err(std::io::Error::other);
    out.body(Body::from_stream(stream))
        .map_err(ApiError::internal)
}

/// The type of a file the node has no upload record for: from its first
/// bytes, `application/octet-stream` when it is not a media type Kith
/// knows (then it is served as a download, never rendered).
async fn sniff_served(
    service: &kith_node::media::Media,
    file: &kith_node::media::OpenFile,
) -> String {
    let mut head = Vec::new();
    let mut bytes = std::pin::pin!(service.read(file, 0..8192.min(file.size)));
    while let Some(Ok(chunk)) = bytes.next().await {
        head.extend_from_slice(&chunk);
    }
    kith_node::media::probe::sniff(&head)
        .map(|s| s.mime.to_string())
        .unwrap_or_else(|_| "application/octet-stream".into())
}

fn is_media(mime: &str) -> bool {
    ["image/", "video/", "audio/"]
        .iter()
        .any(|p| mime.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn ranges() {
        assert_eq!(range(&HeaderMap::new(), 100), Ok(None));
        assert_eq!(range(&h("bytes=0-9"), 100), Ok(Some(0..10)));
        assert_eq!(range(&h("bytes=90-"), 100), Ok(Some(90..100)));
        assert_eq!(range(&h("bytes=-10"), 100), Ok(Some(90..100)));
        assert_eq!(range(&h("bytes=50-500"), 100), Ok(Some(50..100)));
        assert_eq!(range(&h("bytes=100-"), 100), Err(()));
        assert_eq!(range(&h("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(range(&h("bytes=9-2"), 100), Ok(None));
        assert_eq!(range(&h("items=0-1"), 100), Ok(None));
    }
}
