//! The JSON forms: events as clients read them, drafts as clients write
//! them, and a JSON body extractor whose errors name the field at fault.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use bytes::Bytes;
use kith_node::protocol::kinds::{self, Payload, ReactionType};
use kith_node::protocol::{Event, EventId, Kind, PublicKey, Ref, UnsignedEvent};
use kith_node::storage::EventStats;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// An event as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    /// Content id (`bafyrei…`).
    #[schema(value_type = String)]
    pub id: EventId,
    /// Kind name (`post`, `reply`, `follow`…).
    #[schema(value_type = String)]
    pub kind: Kind,
    /// The identity the event speaks for (`kith1…`).
    #[schema(value_type = String)]
    pub author: PublicKey,
    /// The key that signed it: the author or a delegate.
    #[schema(value_type = String)]
    pub signer: PublicKey,
    /// Milliseconds since the Unix epoch.
    pub created_at: u64,
    /// References: `{"rel", "event"}` or `{"rel", "key"}`.
    #[schema(value_type = Vec<Object>)]
    pub refs: Vec<Ref>,
    /// The kind's payload (see `specs/kinds.md`).
    #[schema(value_type = Object)]
    pub payload: Payload,
    /// Ed25519 signature over the id, hex.
    pub sig: String,
    /// Counts and the viewer's reaction, where the listing provides them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<StatsView>,
}

impl EventView {
    /// The view of a verified event.
    pub fn of(e: &Event) -> Self {
        EventView {
            id: e.id(),
            kind: e.kind(),
            author: e.author(),
            signer: e.signer(),
            created_at: e.created_at(),
            refs: e.refs().to_vec(),
            payload: e.payload().clone(),
            sig: hex::encode(e.signature().as_bytes()),
            stats: None,
        }
    }

    /// With counts.
    pub fn with_stats(mut self, s: &EventStats) -> Self {
        self.stats = Some(StatsView::of(s));
        self
    }
}

/// Counts for one event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatsView {
    /// Live reactions per type (`like`, `love`…).
    #[schema(value_type = Object)]
    pub reactions: serde_json::Map<String, serde_json::Value>,
    /// Direct replies.
    pub replies: u64,
    /// Reposts.
    pub reposts: u64,
    /// Quotes.
    pub quotes: u64,
    /// Replies anywhere in the thread (roots).
    pub thread_replies: u64,
    /// The viewer's reaction, if any.
    pub mine: Option<String>,
    /// The id of the viewer's reaction event, if any: a `delete` of it takes
    /// the reaction back.
    #[schema(value_type = Option<String>)]
    pub mine_id: Option<EventId>,
}

impl StatsView {
    fn of(s: &EventStats) -> Self {
        let name = |t: ReactionType| {
            serde_json::to_value(t)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        StatsView {
            reactions: ReactionType::ALL
                .iter()
                .zip(s.reactions)
                .map(|(t, n)| (name(*t), n.into()))
                .collect(),
            replies: s.replies,
            reposts: s.reposts,
            quotes: s.quotes,
            thread_replies: s.thread_replies,
            mine: s.mine.map(name),
            mine_id: s.mine_id,
        }
    }
}

/// An event a client wants made: the kind, its payload and references.
/// Author and signer come from who is asking.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    /// Kind name.
    #[schema(value_type = String, example = "post")]
    pub kind: String,
    /// The payload, as `specs/kinds.md` describes it for the kind.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// References.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub refs: serde_json::Value,
    /// Creation time in ms; the node's clock when absent.
    #[serde(default)]
    pub created_at: Option<u64>,
}

impl Draft {
    /// The kind it names.
    pub fn kind(&self) -> Result<Kind, ApiError> {
        Kind::from_name(&self.kind).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_kind",
                format!("unknown kind `{}`", self.kind),
            )
            .with_details(serde_json::json!({ "field": "kind" }))
        })
    }

    /// Builds the unsigned event for `author`, signed by `signer`.
    pub fn build(
        &self,
        author: PublicKey,
        signer: PublicKey,
        now_ms: u64,
    ) -> Result<UnsignedEvent, ApiError> {
        let kind = self.kind()?;
        let payload = {
            let mut track = serde_path_to_error::Track::new();
            let de = serde_path_to_error::Deserializer::new(&self.payload, &mut track);
            Payload::deserialize_kind(kind, de).map_err(|e| {
                let path = track.path().to_string();
                invalid_field(
                    &format!("payload.{path}").replace("payload..", "payload."),
                    e,
                )
            })?
        };
        let mut payload = payload;
        // Hashtags default to those of the text, as the CLI and clients expect.
        if let Payload::Post(kinds::Post { content })
        | Payload::Reply(kinds::Reply { content })
        | Payload::Quote(kinds::Quote { content }) = &mut payload
            && content.tags.is_empty()
        {
            content.tags = kith_node::protocol::hashtag::extract(&content.text);
        }
        let refs: Vec<Ref> = if self.refs.is_null() {
            Vec::new()
        } else {
            serde_path_to_error::deserialize(&self.refs).map_err(|e| {
                let path = e.path().to_string();
                invalid_field(&format!("refs{}", prefix_index(&path)), e.into_inner())
            })?
        };
        let event = UnsignedEvent {
            author,
            signer,
            created_at: self.created_at.unwrap_or(now_ms),
            refs,
            payload,
        };
        event.validate().map_err(|e| ApiError::event(&e))?;
        Ok(event)
    }
}

fn prefix_index(path: &str) -> String {
    if path == "." || path.is_empty() {
        String::new()
    } else if path.starts_with('[') {
        path.to_string()
    } else {
        format!(".{path}")
    }
}

fn invalid_field(field: &str, e: impl std::fmt::Display) -> ApiError {
    let field = field.trim_end_matches('.');
    ApiError::bad_request("invalid_field", format!("`{field}`: {e}"))
        .with_details(serde_json::json!({ "field": field }))
}

/// A JSON request body. Syntax errors and type mismatches are 400 with the
/// JSON path of the field at fault in `details.field`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.split(';').next().unwrap_or("").trim();
                v == "application/json" || v.ends_with("+json")
            });
        if !json_type {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| body_error(&e))?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON bytes into `T`, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request("invalid_json", format!("the body is not JSON: {inner}"))
                .with_details(serde_json::json!({
                    "line": inner.line(), "column": inner.column()
                }))
        } else {
            let field = if path == "." { String::new() } else { path };
            ApiError::bad_request(
                "invalid_field",
                if field.is_empty() {
                    format!("{inner}")
                } else {
                    format!("`{field}`: {inner}")
                },
            )
            .with_details(serde_json::json!({ "field": field }))
        }
    })
}

fn body_error(e: &BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is larger than this node accepts",
        )
    } else {
        ApiError::bad_request("bad_body", e.body_text())
    }
}

/// A page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Newest first.
    pub items: Vec<EventView>,
    /// Cursor for the next page, or null at the end.
    pub next: Option<String>,
    /// The store's acceptance sequence when the page was read: subscribe
    /// live with `after_seq` set to it and nothing is missed between the
    /// page and the stream.
    pub seq: u64,
}

/// A page of identities.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyPage {
    /// Identities (`kith1…`).
    #[schema(value_type = Vec<String>)]
    pub items: Vec<PublicKey>,
    /// Pass as `after` for the next page, or null at the end.
    #[schema(value_type = Option<String>)]
    pub next: Option<PublicKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_name_the_field_at_fault() {
        let key = kith_node::protocol::Keypair::generate(&mut rand_core::OsRng);
        let d: Draft = parse_json(br#"{"kind":"post","payload":{"text":5}}"#).unwrap();
        let e = d
            .build(key.public(), key.public(), 1_767_225_600_000)
            .unwrap_err();
        assert_eq!(e.code, "invalid_field");
        assert_eq!(e.details["field"], "payload.text", "{e:?}");

        let d: Draft = parse_json(br#"{"kind":"post","payload":{"text":"hola"},"refs":[{"rel":"parent","event":"nope"}]}"#).unwrap();
        let e = d
            .build(key.public(), key.public(), 1_767_225_600_000)
            .unwrap_err();
        assert_eq!(e.details["field"], "refs[0].event", "{e:?}");

        let e = parse_json::<Draft>(br#"{"kind":"post","payload":{},"extra":1}"#).unwrap_err();
        assert_eq!(e.code, "invalid_field");
        let e = parse_json::<Draft>(br#"{"kind":"post""#).unwrap_err();
        assert_eq!(e.code, "invalid_json");

        let d: Draft =
            parse_json(r#"{"kind":"post","payload":{"text":"¡Hola #kith!"}}"#.as_bytes()).unwrap();
        let ev = d
            .build(key.public(), key.public(), 1_767_225_600_000)
            .unwrap();
        let signed = ev.sign(&key).unwrap();
        let view = serde_json::to_value(EventView::of(&signed)).unwrap();
        assert_eq!(view["author"], key.public().to_text());
        assert_eq!(view["id"], signed.id().to_string());
        assert_eq!(view["payload"]["text"], "¡Hola #kith!");
    }
}
