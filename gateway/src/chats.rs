//! End-to-end encrypted chats over HTTP (`specs/gateway.md` § 13,
//! `specs/messages.md`): the caller's conversations with unread counts, a
//! conversation's messages page by page, sending, reacting, editing,
//! deleting, marking read, and groups.
//!
//! Letters are signed with the caller's root identity key, so these routes
//! need it: the node's own identity, or an account whose root key the node
//! holds (409 `root_key_not_held` otherwise). The first use publishes the
//! caller's DM key in their profile.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kith_node::dm::{Conversation, MessageError};
use kith_node::protocol::dm::{
    Body, Edit, GroupChange, GroupId, Letter, LetterId, React, Receipt, Text, Unsend,
};
use kith_node::protocol::kinds::Profile;
use kith_node::protocol::{Keypair, Payload, PublicKey};
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
        .routes(routes!(list_chats))
        .routes(routes!(chat_messages, send_message))
        .routes(routes!(edit_message, delete_message))
        .routes(routes!(react))
        .routes(routes!(mark_read))
        .routes(routes!(report))
        .routes(routes!(upload_file))
        .routes(routes!(attachment))
        .routes(routes!(create_group))
        .routes(routes!(change_group))
        .routes(routes!(rotate_key))
        .routes(routes!(get_chat_settings, put_chat_settings))
}

impl From<MessageError> for ApiError {
    fn from(e: MessageError) -> Self {
        let status = match &e {
            MessageError::UnknownConversation => StatusCode::NOT_FOUND,
            MessageError::NoDmKey(_) => StatusCode::CONFLICT,
            MessageError::NotAllowed(_) => StatusCode::FORBIDDEN,
            MessageError::Store(_) | MessageError::Io(_) => return ApiError::internal(e),
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// The caller's root key, which signs letters (and links Nostr keys).
pub(crate) fn root_of(state: &AppState, caller: &Caller, what: &str) -> ApiResult<Keypair> {
    caller.root_key(state).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "root_key_not_held",
            format!("{what} needs the identity's root key, which this node does not hold"),
        )
    })
}

/// The caller's current profile, or a minimal one named by their key.
pub(crate) async fn current_profile(state: &AppState, me: PublicKey) -> ApiResult<Profile> {
    let st = state.clone();
    let current = blocking(state.work.clone(), move || {
        Ok(st.node.store().reader().profile(&me)?)
    })
    .await?;
    Ok(match current.as_ref().map(|e| e.payload()) {
        Some(Payload::Profile(p)) => p.clone(),
        _ => Profile {
            name: me.short(),
            ..Profile::default()
        },
    })
}

/// Makes sure the caller has a DM key and that their newest profile names
/// it; publishes the profile when it does not. Returns the root key.
pub(crate) async fn ready(state: &AppState, caller: &Caller) -> ApiResult<Keypair> {
    let root = root_of(state, caller, "sending and reading direct messages")?;
    let me = caller.identity;
    let st = state.clone();
    let key = blocking(state.work.clone(), move || {
        Ok(st.node.messenger().current_key(&me)?)
    })
    .await?;
    let mut profile = current_profile(state, me).await?;
    if profile.dm_key != Some(key) {
        profile.dm_key = Some(key);
        crate::api::publish_payload(state, caller, Payload::Profile(profile), vec![]).await?;
    }
    Ok(root)
}

/// With the caller's delivery receipts on, acknowledges the letters from
/// others that a client of theirs is about to see (a sealed receipt per
/// conversation). Best effort: a receipt that cannot be sent now is sent
/// on a later fetch.
async fn acknowledge(state: &AppState, caller: &Caller, root: &Keypair) {
    let me = caller.identity;
    let st = state.clone();
    let pending = blocking(state.work.clone(), move || {
        Ok(st.node.messenger().unacknowledged(&me)?)
    })
    .await
    .unwrap_or_default();
    for (conv, ids, upto) in pending {
        let Ok((to, group)) = addressees(state, me, conv).await else {
            continue;
        };
        let letter = Letter {
            from: me,
            to,
            group,
            created_at: kith_node::now_ms(),
            body: Body::Receipt(Receipt {
                of: ids,
                read: false,
            }),
        };
        if state.node.send_letter(root, letter).await.is_ok() {
            let _ = state.node.messenger().mark_delivered(&me, &conv, upto);
        }
    }
}

fn conversation(id: &str) -> ApiResult<Conversation> {
    Conversation::parse(id).ok_or_else(|| {
        ApiError::bad_request(
            "bad_conversation",
            "a conversation is a kith1… key or group:<64 hex digits>",
        )
    })
}

/// Whether a conversation id names a Nostr key (`npub1…` or 64 hex
/// digits): a NIP-17 conversation through the bridge.
fn is_nostr(id: &str) -> bool {
    let id = id.trim().trim_start_matches("nostr:");
    id.starts_with("npub1") || (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The caller's NIP-17 messages, by the peer's hex key.
async fn nostr_dms(state: &AppState, me: PublicKey) -> ApiResult<Vec<kith_node::bridge::NostrDm>> {
    let Some(b) = state.node.bridge().cloned() else {
        return Ok(Vec::new());
    };
    blocking(state.work.clone(), move || Ok(b.dms(&me)?)).await
}

/// One NIP-17 message as a chat message (`"origin": "nostr"`).
fn nostr_message(m: &kith_node::bridge::NostrDm) -> serde_json::Value {
    serde_json::json!({
        "id": m.id,
        "from": m.from.npub,
        "created_at": m.created_at,
        "text": m.content,
        "mine": m.mine,
        "edited": false,
        "deleted": false,
        "reactions": {},
        "read_by": [],
        "origin": "nostr",
    })
}

/// The caller's NIP-17 conversations, as the list shows them.
async fn nostr_conversations(state: &AppState, me: PublicKey) -> ApiResult<Vec<serde_json::Value>> {
    let dms = nostr_dms(state, me).await?;
    let mut by_peer: std::collections::BTreeMap<String, Vec<&kith_node::bridge::NostrDm>> =
        std::collections::BTreeMap::new();
    for m in &dms {
        by_peer.entry(m.peer.npub.clone()).or_default().push(m);
    }
    let mut out = Vec::new();
    for (npub, msgs) in by_peer {
        let read = state.node.messenger().read_marker(&me, &npub);
        let unread = msgs
            .iter()
            .filter(|m| !m.mine && m.created_at > read)
            .count();
        let last = msgs.last().copied();
        out.push(serde_json::json!({
            "id": npub,
            "nostr": msgs[0].peer,
            "origin": "nostr",
            "last": last.map(nostr_message),
            "unread": unread,
            "request": false,
            "updated_at": last.map_or(0, |m| m.created_at),
        }));
    }
    Ok(out)
}

fn letter_id(id: &str) -> ApiResult<LetterId> {
    LetterId::from_hex(id)
        .ok_or_else(|| ApiError::bad_request("bad_message_id", "a message id is 64 hex digits"))
}

/// Who a letter in `conv` goes to, and its group.
pub(crate) async fn addressees(
    state: &AppState,
    me: PublicKey,
    conv: Conversation,
) -> ApiResult<(Vec<PublicKey>, Option<GroupId>)> {
    match conv {
        Conversation::Peer(k) if k == me => Err(ApiError::bad_request(
            "bad_conversation",
            "a conversation with yourself is not a conversation",
        )),
        Conversation::Peer(k) => Ok((vec![k], None)),
        Conversation::Group(g) => {
            let st = state.clone();
            let group = blocking(state.work.clone(), move || {
                Ok(st.node.messenger().group(&me, &g)?)
            })
            .await?
            .ok_or_else(|| ApiError::from(MessageError::UnknownConversation))?;
            if !group.members.contains(&me) {
                return Err(MessageError::NotAllowed("not a member of this group").into());
            }
            Ok((
                group.members.into_iter().filter(|m| *m != me).collect(),
                Some(g),
            ))
        }
    }
}

async fn send(
    state: &AppState,
    caller: &Caller,
    conv: Conversation,
    body: Body,
) -> ApiResult<Response> {
    let root = ready(state, caller).await?;
    let me = caller.identity;
    let (to, group) = addressees(state, me, conv).await?;
    let letter = Letter {
        from: me,
        to,
        group,
        created_at: kith_node::now_ms(),
        body,
    };
    let signed = state.node.send_letter(&root, letter).await?;
    let out = serde_json::json!({
        "id": signed.id(),
        "conversation": conv.to_text(),
        "created_at": signed.letter.created_at,
    });
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
}

/// Which conversations to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `inbox` (default): conversations with people the caller follows or
    /// has answered, and groups; `requests`: the others.
    folder: Option<String>,
}

/// The caller's conversations, the most recent first, each with its newest
/// message and how many messages from others are unread. People the caller
/// blocks are left out.
#[utoipa::path(get, path = "/api/v1/me/chats", tag = "chats", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn list_chats(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let requests = match q.folder.as_deref() {
        None | Some("inbox") => false,
        Some("requests") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("folder is inbox or requests, not {other}"),
            ));
        }
    };
    let root = ready(&state, &caller).await?;
    acknowledge(&state, &caller, &root).await;
    let me = caller.identity;
    let st = state.clone();
    let (all, unopened) = blocking(state.work.clone(), move || {
        let m = st.node.messenger();
        Ok((m.conversations(&me)?, m.unopened(&me)))
    })
    .await?;
    let waiting = all.iter().filter(|c| c.request).count();
    let mut list: Vec<serde_json::Value> = all
        .into_iter()
        .filter(|c| c.request == requests)
        .map(|c| serde_json::to_value(c).unwrap_or_default())
        .collect();
    if !requests {
        list.extend(nostr_conversations(&state, me).await?);
        list.sort_by(|a, b| {
            b["updated_at"]
                .as_u64()
                .cmp(&a["updated_at"].as_u64())
                .then_with(|| a["id"].as_str().cmp(&b["id"].as_str()))
        });
    }
    let unread: u64 = list.iter().filter_map(|c| c["unread"].as_u64()).sum();
    Ok(axum::Json(serde_json::json!({
        "conversations": list,
        "unread": unread,
        "requests": waiting,
        "unopened": unopened,
    }))
    .into_response())
}

/// Paging through a conversation.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// The `before` of the previous page.
    before: Option<String>,
    /// Messages per page (1 to 200, default 50).
    limit: Option<usize>,
}

/// A conversation's messages, oldest first: the newest page, or the one
/// before `before`.
#[utoipa::path(get, path = "/api/v1/me/chats/{id}", tag = "chats", security(("bearer" = [])),
    params(("id" = String, Path, description = "kith1… or group:<hex>"), PageQuery),
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn chat_messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Response> {
    let root = ready(&state, &caller).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    if is_nostr(&id) {
        return nostr_page(&state, &caller, &id, q.before.as_deref(), limit).await;
    }
    let conv = conversation(&id)?;
    acknowledge(&state, &caller, &root).await;
    let me = caller.identity;
    let st = state.clone();
    let page = blocking(state.work.clone(), move || {
        Ok(st
            .node
            .messenger()
            .messages(&me, &conv, q.before.as_deref(), limit)?)
    })
    .await?;
    Ok(axum::Json(page).into_response())
}

/// A page of a NIP-17 conversation, oldest first; `before` is the
/// `created_at.id` of the first message of a newer page.
async fn nostr_page(
    state: &AppState,
    caller: &Caller,
    id: &str,
    before: Option<&str>,
    limit: usize,
) -> ApiResult<Response> {
    crate::nostr::bridge(state)?;
    let peer = id.trim().trim_start_matches("nostr:").to_owned();
    let all: Vec<_> = nostr_dms(state, caller.identity)
        .await?
        .into_iter()
        .filter(|m| m.peer.npub == peer || m.peer.hex == peer)
        .collect();
    let cursor = before.and_then(|c| {
        let (t, i) = c.split_once('.')?;
        Some((t.parse::<u64>().ok()?, i.to_owned()))
    });
    let end = match &cursor {
        Some((t, i)) => all.partition_point(|m| (m.created_at, &m.id) < (*t, i)),
        None => all.len(),
    };
    let start = end.saturating_sub(limit);
    let page = &all[start..end];
    let mut body = serde_json::json!({
        "messages": page.iter().map(nostr_message).collect::<Vec<_>>(),
        "origin": "nostr",
    });
    if start > 0
        && let Some(first) = page.first()
    {
        body["before"] = serde_json::Value::from(format!("{}.{}", first.created_at, first.id));
    }
    Ok(axum::Json(body).into_response())
}

/// A new message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewMessage {
    /// The text (at most 8000 bytes).
    text: String,
    /// The message it answers (id).
    reply_to: Option<String>,
    /// Encrypted files, as `POST /api/v1/me/chats/{id}/files` returned them.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    attachments: Vec<kith_node::protocol::dm::Attachment>,
}

/// Sends a message: sealed for every recipient and for the caller's own
/// mailbox, and published on their mailbox topics.
#[utoipa::path(post, path = "/api/v1/me/chats/{id}", tag = "chats", security(("bearer" = [])),
    params(("id" = String, Path, description = "kith1… or group:<hex>")),
    request_body = NewMessage,
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewMessage>,
) -> ApiResult<Response> {
    if is_nostr(&id) {
        if body.reply_to.is_some() || !body.attachments.is_empty() {
            return Err(ApiError::bad_request(
                "bad_conversation",
                "a Nostr conversation carries text only",
            ));
        }
        let b = crate::nostr::bridge(&state)?;
        let me = caller.identity;
        let to = id.clone();
        let sent = blocking(state.work.clone(), move || {
            Ok(b.send_dm(&me, &to, &body.text)?)
        })
        .await?;
        let out = serde_json::json!({
            "id": sent.id,
            "conversation": sent.peer.npub,
            "created_at": sent.created_at,
            "origin": "nostr",
        });
        return Ok((StatusCode::CREATED, axum::Json(out)).into_response());
    }
    let conv = conversation(&id)?;
    let reply_to = body.reply_to.as_deref().map(letter_id).transpose()?;
    let text = Body::Text(Text {
        text: body.text,
        reply_to,
        attachments: body.attachments,
        order: None,
    });
    send(&state, &caller, conv, text).await
}

/// New text for one of the caller's messages.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EditBody {
    /// The new text.
    text: String,
}

/// Edits one of the caller's own messages.
#[utoipa::path(put, path = "/api/v1/me/chats/{id}/messages/{message}", tag = "chats",
    security(("bearer" = [])),
    params(("id" = String, Path), ("message" = String, Path)),
    request_body = EditBody,
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn edit_message(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, message)): Path<(String, String)>,
    ApiJson(body): ApiJson<EditBody>,
) -> ApiResult<Response> {
    let conv = conversation(&id)?;
    let of = letter_id(&message)?;
    send(
        &state,
        &caller,
        conv,
        Body::Edit(Edit {
            of,
            text: body.text,
        }),
    )
    .await
}

/// Deletes one of the caller's own messages for everyone in the conversation.
#[utoipa::path(delete, path = "/api/v1/me/chats/{id}/messages/{message}", tag = "chats",
    security(("bearer" = [])),
    params(("id" = String, Path), ("message" = String, Path)),
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn delete_message(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, message)): Path<(String, String)>,
) -> ApiResult<Response> {
    let conv = conversation(&id)?;
    let of = letter_id(&message)?;
    send(&state, &caller, conv, Body::Unsend(Unsend { of })).await
}

/// A reaction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReactBody {
    /// The message reacted to.
    to: String,
    /// The reaction (an emoji); empty takes the caller's reaction back.
    reaction: String,
}

/// Reacts to a message of the conversation.
#[utoipa::path(post, path = "/api/v1/me/chats/{id}/react", tag = "chats",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = ReactBody,
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn react(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReactBody>,
) -> ApiResult<Response> {
    let conv = conversation(&id)?;
    let to = letter_id(&body.to)?;
    send(
        &state,
        &caller,
        conv,
        Body::React(React {
            to,
            reaction: body.reaction,
        }),
    )
    .await
}

/// Marking read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReadBody {
    /// Also send a read receipt to the others (off by default).
    #[serde(default)]
    receipt: bool,
}

/// Marks everything in the conversation read; with `receipt`, also tells
/// the others (a sealed read receipt).
#[utoipa::path(post, path = "/api/v1/me/chats/{id}/read", tag = "chats",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = ReadBody,
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReadBody>,
) -> ApiResult<Response> {
    ready(&state, &caller).await?;
    let me = caller.identity;
    if is_nostr(&id) {
        let dms = nostr_dms(&state, me).await?;
        let peer = id.trim().trim_start_matches("nostr:").to_owned();
        let upto = dms
            .iter()
            .filter(|m| m.peer.npub == peer || m.peer.hex == peer)
            .map(|m| m.created_at)
            .max()
            .unwrap_or(0);
        let npub = dms
            .iter()
            .find(|m| m.peer.npub == peer || m.peer.hex == peer)
            .map_or(peer.clone(), |m| m.peer.npub.clone());
        let st = state.clone();
        blocking(state.work.clone(), move || {
            Ok(st.node.messenger().mark_read_named(&me, &npub, upto)?)
        })
        .await?;
        return Ok(axum::Json(serde_json::json!({ "read": true })).into_response());
    }
    let conv = conversation(&id)?;
    let st = state.clone();
    let unread_ids = blocking(state.work.clone(), move || {
        let m = st.node.messenger();
        let page = m.messages(&me, &conv, None, 100)?;
        let upto = page.messages.last().map_or(0, |x| x.created_at);
        m.mark_read(&me, &conv, upto)?;
        Ok(page
            .messages
            .iter()
            .filter(|x| !x.mine && !x.deleted && !x.read_by.contains(&me))
            .map(|x| x.id)
            .collect::<Vec<_>>())
    })
    .await?;
    let wants_receipt = body.receipt || state.node.messenger().settings(&me).read_receipts;
    if wants_receipt && !unread_ids.is_empty() {
        send(
            &state,
            &caller,
            conv,
            Body::Receipt(Receipt {
                of: unread_ids,
                read: true,
            }),
        )
        .await?;
    }
    Ok(axum::Json(serde_json::json!({ "read": true })).into_response())
}

/// Where an upload names its file.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FileQuery {
    /// A file name to offer when saving.
    name: Option<String>,
}

/// Encrypts a file for a message (the body is the file; `Content-Type` its
/// type) with a fresh key and adds the ciphertext to IPFS. The answer is
/// the attachment to put in a message's `attachments`: CID, key, type,
/// size, name. At most 25 MiB.
#[utoipa::path(post, path = "/api/v1/me/chats/{id}/files", tag = "chats",
    security(("bearer" = [])),
    params(("id" = String, Path), FileQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn upload_file(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<FileQuery>,
    request: axum::extract::Request,
) -> ApiResult<Response> {
    use futures::StreamExt as _;
    conversation(&id)?;
    root_of(&state, &caller, "sending files")?;
    let mime = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
        .filter(|v| v.contains('/') && v.len() <= 100)
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut body = request.into_body().into_data_stream();
    let mut plain = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request("upload_interrupted", e.to_string()))?;
        if plain.len() + chunk.len() > kith_node::dm::MAX_ATTACHMENT_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "an attachment is at most 25 MiB",
            ));
        }
        plain.extend_from_slice(&chunk);
    }
    if plain.is_empty() {
        return Err(ApiError::bad_request("empty", "the upload is empty"));
    }
    let size = plain.len() as u64;
    let (key, sealed) = kith_node::dm::encrypt_file(&plain)?;
    drop(plain);
    let cid = state.node.media().add_sealed(sealed).await?;
    let attachment = kith_node::protocol::dm::Attachment {
        cid,
        key: key.to_vec(),
        mime,
        size,
        name: q.name.filter(|n| !n.trim().is_empty()),
    };
    Ok((StatusCode::CREATED, axum::Json(attachment)).into_response())
}

/// An attachment of a message, decrypted by the caller's own node: fetched
/// from IPFS (here, or from the sender's node), checked against its key,
/// served with its type.
#[utoipa::path(get, path = "/api/v1/me/chats/{id}/messages/{message}/files/{n}", tag = "chats",
    security(("bearer" = [])),
    params(("id" = String, Path), ("message" = String, Path), ("n" = usize, Path)),
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"),
        (status = "default", body = ErrorBody)))]
async fn attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, message, n)): Path<(String, String, usize)>,
) -> ApiResult<Response> {
    let conv = conversation(&id)?;
    let wanted = letter_id(&message)?;
    let me = caller.identity;
    let st = state.clone();
    let page = blocking(state.work.clone(), move || {
        Ok(st.node.messenger().messages(&me, &conv, None, usize::MAX)?)
    })
    .await?;
    let m = page
        .messages
        .iter()
        .find(|m| m.id == wanted)
        .ok_or_else(|| ApiError::not_found("message"))?;
    let a = m
        .attachments
        .get(n)
        .ok_or_else(|| ApiError::not_found("attachment"))?;
    let sealed = state
        .node
        .media()
        .fetch_all(
            a.cid,
            Some(&m.from),
            kith_node::dm::MAX_ATTACHMENT_BYTES as u64 + 16,
        )
        .await?;
    let plain = kith_node::dm::decrypt_file(&a.key, &sealed).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "attachment_mismatch",
            "the file at this CID does not decrypt with the message's key",
        )
    })?;
    let mut response = plain.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&a.mime) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, v);
    }
    if let Some(name) = &a.name
        && let Ok(v) = axum::http::HeaderValue::from_str(&format!(
            "attachment; filename=\"{}\"",
            name.replace(['"', '\\', '\r', '\n'], "_")
        ))
    {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// What a report reveals.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    /// spam, harassment, hate, violence, sexual, illegal, impersonation, scam or other.
    reason: String,
    /// The messages (ids) the caller chooses to reveal, all by the person
    /// reported; none reveals only that there was a conversation.
    #[serde(default)]
    messages: Vec<String>,
    /// A note for the moderators.
    #[serde(default)]
    note: String,
}

/// Reports the other person of a conversation (for a group, the sender of
/// the messages revealed) to the node's operator: a `report` event naming
/// them, whose text holds the note and only the messages the caller chose
/// to reveal. Nothing else of the conversation leaves the caller's node.
#[utoipa::path(post, path = "/api/v1/me/chats/{id}/report", tag = "chats",
    security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body = ReportBody,
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReportBody>,
) -> ApiResult<Response> {
    let conv = conversation(&id)?;
    let reason: kith_node::protocol::kinds::ReportReason =
        serde_json::from_value(serde_json::Value::from(body.reason.as_str())).map_err(|_| {
            ApiError::bad_request("field_invalid", format!("unknown reason {}", body.reason))
        })?;
    let wanted = body
        .messages
        .iter()
        .map(|m| letter_id(m))
        .collect::<ApiResult<Vec<_>>>()?;
    let me = caller.identity;
    let st = state.clone();
    let shown = blocking(state.work.clone(), move || {
        Ok(st.node.messenger().messages(&me, &conv, None, usize::MAX)?)
    })
    .await?;
    let chosen: Vec<_> = wanted
        .iter()
        .map(|w| {
            shown
                .messages
                .iter()
                .find(|m| m.id == *w && !m.mine)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "bad_message_id",
                        format!("{w} is not a message of the other side of this conversation"),
                    )
                })
        })
        .collect::<ApiResult<_>>()?;
    let subject = match conv {
        Conversation::Peer(k) => k,
        Conversation::Group(_) => {
            let mut senders: Vec<PublicKey> = chosen.iter().map(|m| m.from).collect();
            senders.dedup();
            match senders.as_slice() {
                [one] => *one,
                _ => {
                    return Err(ApiError::bad_request(
                        "field_invalid",
                        "in a group, reveal messages of exactly one person",
                    ));
                }
            }
        }
    };
    let mut text = body.note.trim().to_owned();
    for m in &chosen {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&format!("[{} {}] {}", m.created_at, m.id, m.text));
    }
    crate::api::publish_payload(
        &state,
        &caller,
        Payload::Report(kith_node::protocol::kinds::Report { reason, text }),
        vec![kith_node::protocol::Ref::identity(
            kith_node::protocol::Rel::Subject,
            subject,
        )],
    )
    .await
}

/// A new group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    /// Its name.
    name: String,
    /// The other members (`kith1…`), at most 49.
    members: Vec<String>,
}

fn keys(list: &[String]) -> ApiResult<Vec<PublicKey>> {
    list.iter()
        .map(|k| {
            k.parse()
                .map_err(|_| ApiError::bad_request("bad_key", format!("not a kith1… key: {k}")))
        })
        .collect()
}

/// Creates a group with the caller as its admin.
#[utoipa::path(post, path = "/api/v1/me/groups", tag = "chats", security(("bearer" = [])),
    request_body = NewGroup,
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewGroup>,
) -> ApiResult<Response> {
    let root = ready(&state, &caller).await?;
    let me = caller.identity;
    let others = keys(&body.members)?;
    let mut salt = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
    let salt = GroupId(salt);
    let id = GroupId::derive(&me, &salt);
    let mut members = vec![me];
    members.extend(others.iter().copied().filter(|k| *k != me));
    let letter = Letter {
        from: me,
        to: members.iter().copied().filter(|k| *k != me).collect(),
        group: Some(id),
        created_at: kith_node::now_ms(),
        body: Body::Group(GroupChange {
            salt: Some(salt),
            name: body.name,
            members,
            admins: vec![me],
        }),
    };
    state.node.send_letter(&root, letter).await?;
    let conv = Conversation::Group(id);
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "conversation": conv.to_text() })),
    )
        .into_response())
}

/// A change of members.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct GroupEdit {
    /// Members to add (`kith1…`).
    #[serde(default)]
    add: Vec<String>,
    /// Members to remove (`kith1…`).
    #[serde(default)]
    remove: Vec<String>,
    /// A new name.
    name: Option<String>,
}

/// Adds or removes members (admins only). The change is sealed to the
/// members before and after it; later messages go only to the new members,
/// so a removed member reads nothing that follows.
#[utoipa::path(post, path = "/api/v1/me/groups/{id}", tag = "chats", security(("bearer" = [])),
    params(("id" = String, Path, description = "group:<hex> or the hex id")),
    request_body = GroupEdit,
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn change_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GroupEdit>,
) -> ApiResult<Response> {
    let root = ready(&state, &caller).await?;
    let me = caller.identity;
    let gid = match conversation(&id).or_else(|_| conversation(&format!("group:{id}")))? {
        Conversation::Group(g) => g,
        Conversation::Peer(_) => {
            return Err(ApiError::bad_request("bad_conversation", "not a group"));
        }
    };
    let (add, remove) = (keys(&body.add)?, keys(&body.remove)?);
    let st = state.clone();
    let current = blocking(state.work.clone(), move || {
        Ok(st.node.messenger().group(&me, &gid)?)
    })
    .await?
    .ok_or_else(|| ApiError::from(MessageError::UnknownConversation))?;
    let mut members: Vec<PublicKey> = current
        .members
        .iter()
        .copied()
        .filter(|m| !remove.contains(m))
        .collect();
    for a in add {
        if !members.contains(&a) {
            members.push(a);
        }
    }
    let admins: Vec<PublicKey> = current
        .admins
        .iter()
        .copied()
        .filter(|a| members.contains(a))
        .collect();
    // Everyone before and after hears of the change.
    let mut to: Vec<PublicKey> = current.members.clone();
    for m in &members {
        if !to.contains(m) {
            to.push(*m);
        }
    }
    to.retain(|k| *k != me);
    let letter = Letter {
        from: me,
        to,
        group: Some(gid),
        created_at: kith_node::now_ms(),
        body: Body::Group(GroupChange {
            salt: None,
            name: body.name.unwrap_or(current.name),
            members,
            admins,
        }),
    };
    state.node.send_letter(&root, letter).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "conversation": Conversation::Group(gid).to_text() })),
    )
        .into_response())
}

/// The caller's receipt settings: `delivery_receipts` (acknowledge each
/// letter once a client fetched it) and `read_receipts` (tell the others
/// when a conversation is read). Both off until the person turns them on.
#[utoipa::path(get, path = "/api/v1/me/chat-settings", tag = "chats",
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn get_chat_settings(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let s = state.node.messenger().settings(&caller.identity);
    Ok(axum::Json(s).into_response())
}

/// Replaces the caller's receipt settings.
#[utoipa::path(put, path = "/api/v1/me/chat-settings", tag = "chats",
    security(("bearer" = [])),
    request_body = Object,
    responses((status = 200, body = Object), (status = "default", body = ErrorBody)))]
async fn put_chat_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<kith_node::dm::ChatSettings>,
) -> ApiResult<Response> {
    let me = caller.identity;
    let st = state.clone();
    blocking(state.work.clone(), move || {
        Ok(st.node.messenger().set_settings(&me, &body)?)
    })
    .await?;
    Ok(axum::Json(body).into_response())
}

/// Makes a new DM key and publishes it in the caller's profile; the older
/// keys are kept, so older messages stay readable.
#[utoipa::path(post, path = "/api/v1/me/dm-key", tag = "chats", security(("bearer" = [])),
    responses((status = 201, body = Object), (status = "default", body = ErrorBody)))]
async fn rotate_key(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    root_of(&state, &caller, "rotating the DM key")?;
    let me = caller.identity;
    let st = state.clone();
    let key = blocking(state.work.clone(), move || {
        Ok(st.node.messenger().rotate_key(&me)?)
    })
    .await?;
    ready(&state, &caller).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "dm_key": key })),
    )
        .into_response())
}
