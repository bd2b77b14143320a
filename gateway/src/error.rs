//! Every failure the API returns: `{"error": {"code", "message", "details"}}`
//! with a stable machine code and the HTTP status that fits it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kith_node::ingest::Verdict;
use kith_node::protocol::{AuthError, EventError};
use kith_node::storage::{IngestOutcome, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorInfo,
}

/// What went wrong: a stable code, a sentence, and details when there are any.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorInfo {
    /// Stable machine-readable code (`unauthorized`, `invalid_json`,
    /// `sig_invalid`, `delegation_revoked`…). Protocol codes are passed through
    /// as `specs/events.md` names them.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// Structured details (the JSON field at fault, limits…), or null.
    #[schema(value_type = Object, nullable)]
    pub details: serde_json::Value,
}

/// An API error: status, code, message, details.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: String,
    /// A sentence.
    pub message: String,
    /// Details (null when none).
    pub details: serde_json::Value,
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// 400 with the code given.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no valid credentials.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid session or admin token is required",
        )
    }

    /// 403 with the code given.
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 500, logged; the client learns nothing internal.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the node could not complete the request",
        )
    }

    /// A protocol decoding or validation error (stateless rules).
    pub fn event(e: &EventError) -> Self {
        Self::new(protocol_status(e.code()), e.code(), e.to_string())
    }

    /// A refusal by a stateful rule.
    pub fn auth(e: &AuthError) -> Self {
        Self::new(protocol_status(e.code()), e.code(), e.to_string())
    }

    /// A pipeline verdict that is not a success, as an error; `None` for
    /// stored, duplicate and pending events.
    pub fn from_verdict(v: &Verdict) -> Option<Self> {
        match v {
            Verdict::Store(IngestOutcome::Stored { .. })
            | Verdict::Store(IngestOutcome::Duplicate)
            | Verdict::Store(IngestOutcome::Pending { .. }) => None,
            Verdict::Store(IngestOutcome::Rejected(e)) => Some(Self::auth(e)),
            Verdict::Store(IngestOutcome::Deleted) => Some(Self::new(
                StatusCode::CONFLICT,
                "deleted",
                "its author deleted this event",
            )),
            Verdict::Store(IngestOutcome::Expired) => Some(Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "expired",
                "this event has expired",
            )),
            Verdict::Store(IngestOutcome::Overloaded) => Some(Self::overloaded()),
            Verdict::Store(_) => Some(Self::overloaded()),
            Verdict::NotRelevant => Some(Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_relevant",
                "nobody on this node keeps this event",
            )),
            Verdict::Refused(code) => Some(refused(code)),
        }
    }

    /// 503: the node is shedding load.
    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the node is busy; try again shortly",
        )
    }
}

/// The HTTP status of a protocol error code, as the tables of
/// `specs/events.md` § Error codes give it (with `specs/gateway.md` § 5).
pub fn protocol_status(code: &str) -> StatusCode {
    match code {
        "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "malformed" | "non_canonical" | "id_mismatch" | "key_invalid" | "sig_invalid"
        | "key_malformed" | "id_malformed" => StatusCode::BAD_REQUEST,
        "unknown_kind" | "clock_skew" | "created_at_invalid" | "text_too_long"
        | "too_many_items" | "field_invalid" | "hashtag_invalid" | "media_invalid"
        | "refs_invalid" | "expiry_invalid" | "not_delegable" | "wrong_target_kind"
        | "vote_invalid" | "not_original" | "state_mismatch" | "expired" | "not_relevant" => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        "delegation_missing"
        | "delegation_mismatch"
        | "delegation_kind"
        | "delegation_expired"
        | "delegation_revoked"
        | "not_deletable"
        | "not_author"
        | "not_trade_party"
        | "review_without_trade"
        | "community_role" => StatusCode::FORBIDDEN,
        "trade_transition"
        | "trade_stale"
        | "listing_unavailable"
        | "review_exists"
        | "no_currency"
        | "deleted" => StatusCode::CONFLICT,
        "store_error" => StatusCode::INTERNAL_SERVER_ERROR,
        "overloaded" | "shutting_down" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A pipeline refusal code as an error with the right status.
fn refused(code: &str) -> ApiError {
    let message = match code {
        "clock_skew" => "created_at is too far in the future for this node's clock".to_string(),
        "sig_invalid" => "the signature does not verify".to_string(),
        "key_invalid" => "the signer is not a usable Ed25519 public key".to_string(),
        other => format!("the event was refused: {other}"),
    };
    ApiError::new(protocol_status(code), code, message)
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadCursor => ApiError::bad_request("bad_cursor", "the cursor is not valid"),
            StoreError::BadQuery(m) => ApiError::bad_request("invalid_query", m),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorInfo {
                code: self.code,
                message: self.message,
                details: self.details,
            },
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // Shedding load: a second is enough for the queue to move.
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        r
    }
}
