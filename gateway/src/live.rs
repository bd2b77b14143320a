//! Live updates over WebSocket: a client subscribes to its home timeline,
//! its notifications and chosen threads, and receives each new item as the
//! store accepts it.
//!
//! Every item carries the store's acceptance sequence. A page read over
//! HTTP returns the sequence it was read at; subscribing with `after_seq`
//! replays from the acceptance log whatever came after, then goes live, so
//! nothing falls between a page and the stream, or between two connections.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use kith_node::protocol::{Event, EventId, Kind, PublicKey, Rel};
use kith_node::storage::{Reader, StoredEvent};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, ErrorBody};
use crate::server::AppState;
use crate::views::{self, Graph};

/// How often an open connection checks that its session still holds.
const SESSION_RECHECK: std::time::Duration = std::time::Duration::from_secs(30);
/// Largest client message.
const MAX_MESSAGE: usize = 64 * 1024;
/// Log entries read per replay step.
const REPLAY_STEP: usize = 512;
/// Most items replayed for one subscription before the client is told to
/// reload a page instead.
const MAX_REPLAY: usize = 10_000;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live))
}

/// Live updates (WebSocket). Authenticate with the `Authorization` header or,
/// from a browser, with a first message `{"op":"auth","token":"…"}`. Then:
///
/// - `{"op":"subscribe","sub":"h","stream":"home"}` (also `"notifications"`,
///   `"media"`, `"chats"`, `"trades"`, or `"thread"` with `"thread":"<id>"`), optionally with
///   `"after_seq":N` to replay what was accepted after a page's `seq`;
/// - `{"op":"unsubscribe","sub":"h"}`; `{"op":"ping"}`.
///
/// The server sends `{"type":"ready"}`, `{"type":"subscribed","sub","seq"}`,
/// `{"type":"event","sub","seq","event":{…}}` (home, thread),
/// `{"type":"notification","sub","seq","group":{…}}` (notifications: a
/// group as `GET /api/v1/me/notifications` lists it, each time new activity
/// changes it; `seq` and `after_seq` are that listing's),
/// `{"type":"media","sub","upload":{…}}` (media: each status change of the
/// caller's uploads, as `GET /api/v1/media/{cid}` shows them),
/// `{"type":"letter","sub","seq","conversation","id","letter":{…}}` (chats:
/// each new letter in the caller's mailbox, opened: messages, reactions,
/// edits, deletions, receipts and group changes),
/// `{"type":"trade","sub","seq","kind","event","trade":{…}}` (trades: each
/// order, step or review of a trade the caller is a party to, with the
/// trade as `GET /api/v1/me/trades` lists it),
/// `{"type":"typing","sub","conversation","from"}` (chats: someone is typing;
/// send `{"op":"typing","conversation":"…"}` to say the caller is, at most
/// every 3 s), `{"type":"unsubscribed"}`,
/// `{"type":"pong"}` and `{"type":"error","sub"?,"error":{"code","message"}}`.
#[utoipa::path(get, path = "/api/v1/live", tag = "live",
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = "default", body = ErrorBody)))]
async fn live(
    State(state): State<AppState>,
    caller: MaybeCaller,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            return ApiError::bad_request("websocket_required", e.body_text()).into_response();
        }
    };
    let slot = Slot(state.live.clone());
    if slot.0.open.fetch_add(1, Ordering::AcqRel) >= state.config.max_connections {
        return ApiError::overloaded().into_response();
    }
    // tungstenite zero-fills its read buffer on every read; the 128 KiB
    // default was most of a connection's memory and a sixth of fan-out CPU.
    ws.read_buffer_size(4 * 1024)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            // `run` owns the state, so the node is released before the
            // slot says the connection ended.
            run(socket, state, caller.0).await;
            drop(slot);
        })
}

/// One counted live connection; it ends (and says so) when dropped, also
/// when the upgrade never happens.
struct Slot(std::sync::Arc<crate::server::LiveConnections>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.ended.notify_waiters();
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Auth {
        token: String,
    },
    Subscribe {
        sub: String,
        stream: StreamKind,
        #[serde(default)]
        thread: Option<String>,
        #[serde(default)]
        after_seq: Option<u64>,
    },
    Unsubscribe {
        sub: String,
    },
    /// The caller is typing in a conversation (`kith1…` or `group:…`).
    Typing {
        conversation: String,
    },
    Ping,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum StreamKind {
    Home,
    Notifications,
    Thread,
    Media,
    /// New letters in the caller's conversations, opened.
    Chats,
    /// Orders, steps and reviews of the caller's trades.
    Trades,
}

#[derive(Debug)]
struct Sub {
    stream: StreamKind,
    thread: Option<EventId>,
    /// Last sequence delivered (or replayed past).
    last: u64,
}

/// What a connection's home and notification filters need to know.
type Viewer = Arc<Graph>;

/// The viewer's graph: from the cache at the start, fresh from the store
/// when one of the viewer's own events changed it (the cache may not have
/// heard yet). An unreadable store shows an empty graph until it changes.
fn viewer(state: &AppState, reader: &Reader, me: PublicKey, fresh: bool) -> Viewer {
    let empty = || {
        Arc::new(Graph {
            me,
            visible: [me].into(),
            hidden: HashSet::new(),
        })
    };
    if fresh {
        return Graph::load(reader, me).map_or_else(|_| empty(), Arc::new);
    }
    reader
        .last_seq()
        .and_then(|seq| state.views.graph(reader, me, seq))
        .unwrap_or_else(|_| empty())
}

fn matches(sub: &Sub, viewer: Option<&Viewer>, e: &Event) -> bool {
    match sub.stream {
        StreamKind::Thread => {
            e.kind() == Kind::Reply
                && sub.thread.is_some_and(|t| {
                    e.event_ref(Rel::Root) == Some(t) || e.event_ref(Rel::Parent) == Some(t)
                })
        }
        StreamKind::Home => viewer.is_some_and(|v| {
            matches!(e.kind(), Kind::Post | Kind::Quote | Kind::Repost)
                && v.visible.contains(&e.author())
        }),
        // Notification groups come from the notification service
        // (`notification_frames`), not from raw events.
        StreamKind::Notifications | StreamKind::Media | StreamKind::Chats | StreamKind::Trades => {
            false
        }
    }
}

/// A notification group frame.
fn notification_frame(sub: &str, group: kith_node::notify::Group) -> Message {
    let seq = group.seq;
    frame(serde_json::json!({
        "type": "notification", "sub": sub, "seq": seq,
        "group": crate::notify::group_json(group),
    }))
}

/// Delivers groups changed for `me` to the connection's notification
/// subscriptions: each group once per change, after the subscription's
/// sequence, of the types `me` has on.
fn notification_frames(
    state: &AppState,
    me: PublicKey,
    groups: &[kith_node::notify::Group],
    subs: &mut HashMap<String, Sub>,
) -> Vec<Message> {
    let notifications = state.node.notifications();
    let mut out = Vec::new();
    for (name, sub) in subs.iter_mut() {
        if sub.stream != StreamKind::Notifications {
            continue;
        }
        let mut last = sub.last;
        for g in groups {
            if g.seq <= sub.last {
                continue;
            }
            last = last.max(g.seq);
            if notifications.enabled(&me, g.ty).unwrap_or(true) {
                out.push(notification_frame(name, g.clone()));
            }
        }
        sub.last = last;
    }
    out
}

/// Whether bytes parse as a client message (for the fuzz targets).
pub(crate) fn parse_client_message(bytes: &[u8]) -> bool {
    serde_json::from_slice::<ClientMessage>(bytes).is_ok()
}

fn frame(value: serde_json::Value) -> Message {
    Message::Text(Utf8Bytes::from(value.to_string()))
}

fn error_frame(sub: Option<&str>, code: &str, message: &str) -> Message {
    frame(serde_json::json!({
        "type": "error", "sub": sub, "error": { "code": code, "message": message }
    }))
}

fn event_frame(state: &AppState, sub: &str, s: &StoredEvent) -> Message {
    let view = state.views.event(&s.event);
    Message::Text(Utf8Bytes::from(views::event_frame(sub, s.seq, &view)))
}

async fn run(socket: WebSocket, state: AppState, mut caller: Option<Caller>) {
    let (mut tx, mut rx) = socket.split();
    // Subscribe to the store before anything is read, so nothing accepted
    // from now on can be missed.
    let mut feed = state.node.store().subscribe();
    let mut notes = state.node.notifications().subscribe();
    let mut uploads = state.node.media().updates();
    let mut typings = state.node.messenger().typing_updates();
    let mut last_typing: Option<std::time::Instant> = None;
    let reader = state.node.store().reader().clone();
    let mut viewer = caller
        .as_ref()
        .map(|c| viewer(&state, &reader, c.identity, false));
    let mut subs: HashMap<String, Sub> = HashMap::new();
    let mut closing = state.closing.subscribe();
    if *closing.borrow_and_update() {
        return;
    }
    if caller.is_some() && tx.send(ready(caller.as_ref())).await.is_err() {
        return;
    }
    // A session can end (logout, expiry) while its connection is open.
    let mut recheck = tokio::time::interval(SESSION_RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.tick().await;
    loop {
        tokio::select! {
            _ = closing.changed() => {
                let _ = tx.send(Message::Close(None)).await;
                return;
            }
            _ = recheck.tick() => {
                if let Some(c) = &caller
                    && Caller::resolve(&state, &c.token).await.is_err()
                {
                    let _ = tx
                        .send(error_frame(None, "unauthorized", "the session has ended"))
                        .await;
                    let _ = tx.send(Message::Close(None)).await;
                    return;
                }
            }
            incoming = rx.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                };
                let out = match serde_json::from_str::<ClientMessage>(text.as_str()) {
                    Err(e) => vec![error_frame(None, "invalid_message", &e.to_string())],
                    Ok(ClientMessage::Typing { conversation }) => {
                        typing(&state, caller.as_ref(), &conversation, &mut last_typing).await
                    }
                    Ok(msg) => handle(msg, &state, &reader, &mut caller, &mut viewer, &mut subs).await,
                };
                for m in out {
                    if tx.send(m).await.is_err() {
                        return;
                    }
                }
            }
            t = typings.recv() => {
                let t = match t {
                    Ok(t) => t,
                    // A missed typing indicator is stale anyway.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                if viewer.as_ref().map(|v| v.me) != Some(t.to) {
                    continue;
                }
                let blocked = state.node.store().reader().blocked(&t.to).unwrap_or_default();
                if blocked.contains(&t.from) {
                    continue;
                }
                for (name, _) in subs.iter().filter(|(_, s)| s.stream == StreamKind::Chats) {
                    let m = frame(serde_json::json!({
                        "type": "typing", "sub": name,
                        "conversation": t.conversation.to_text(), "from": t.from,
                    }));
                    if tx.send(m).await.is_err() {
                        return;
                    }
                }
            }
            update = uploads.recv() => {
                let record = match update {
                    Ok(u) => u.record,
                    // Missed updates: the client reads the status.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                let Some(me) = viewer.as_ref().map(|v| v.me.to_string()) else {
                    continue;
                };
                if !record.owners.contains(&me) {
                    continue;
                }
                let view = crate::media::MediaView::from(record);
                for (name, _) in subs.iter().filter(|(_, s)| s.stream == StreamKind::Media) {
                    let m = frame(serde_json::json!({
                        "type": "media", "sub": name, "upload": &view,
                    }));
                    if tx.send(m).await.is_err() {
                        return;
                    }
                }
            }
            note = notes.recv() => {
                let Some(me) = viewer.as_ref().map(|v| v.me) else {
                    continue;
                };
                let groups = match note {
                    Ok(u) if u.recipient == me => vec![u.group],
                    Ok(_) => continue,
                    // Too slow: read what changed from the service.
                    Err(RecvError::Lagged(_)) => {
                        let from = subs
                            .values()
                            .filter(|s| s.stream == StreamKind::Notifications)
                            .map(|s| s.last)
                            .min();
                        let Some(from) = from else { continue };
                        match state.node.notifications().changed_after(&me, from) {
                            Ok(g) => g,
                            Err(_) => return,
                        }
                    }
                    Err(RecvError::Closed) => return,
                };
                for m in notification_frames(&state, me, &groups, &mut subs) {
                    if tx.send(m).await.is_err() {
                        return;
                    }
                }
            }
            item = feed.recv() => {
                let items = match item {
                    Ok(s) => vec![s],
                    // Too slow for the broadcast: catch up from the log.
                    Err(RecvError::Lagged(_)) => {
                        let from = subs
                            .values()
                            .filter(|s| s.stream != StreamKind::Notifications)
                            .map(|s| s.last)
                            .min()
                            .unwrap_or(u64::MAX);
                        if from == u64::MAX {
                            continue;
                        }
                        match reader.log_after(from, REPLAY_STEP) {
                            Ok(v) => v,
                            Err(_) => return,
                        }
                    }
                    Err(RecvError::Closed) => return,
                };
                for s in items {
                    if let Some(v) = &viewer
                        && v.changed_by(&s.event)
                    {
                        viewer = Some(self::viewer(&state, &reader, v.me, true));
                    }
                    let mut out = Vec::new();
                    let letter = match (&viewer, s.event.payload()) {
                        (Some(v), kith_node::protocol::Payload::DirectMessage(env))
                            if subs.values().any(|x| x.stream == StreamKind::Chats) =>
                        {
                            letter_frame(&state, v.me, &s, env)
                        }
                        _ => None,
                    };
                    let trade = match &viewer {
                        Some(v) if subs.values().any(|x| x.stream == StreamKind::Trades) => {
                            crate::market::trade_frame(&reader, &v.me, &s)
                        }
                        _ => None,
                    };
                    for (name, sub) in subs.iter_mut() {
                        if sub.stream == StreamKind::Notifications || s.seq <= sub.last {
                            continue;
                        }
                        sub.last = s.seq;
                        if sub.stream == StreamKind::Chats || sub.stream == StreamKind::Trades {
                            let one = if sub.stream == StreamKind::Chats {
                                &letter
                            } else {
                                &trade
                            };
                            if let Some(l) = one {
                                let mut l = l.clone();
                                l["sub"] = serde_json::Value::from(name.as_str());
                                out.push(frame(l));
                            }
                        } else if matches(sub, viewer.as_ref(), &s.event) {
                            out.push(event_frame(&state, name, &s));
                        }
                    }
                    for m in out {
                        if tx.send(m).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Subscribes to notification groups: the sequence is the notification
/// service's (what `GET /api/v1/me/notifications` returns as `seq`); with
/// `after_seq`, the groups changed since are sent first.
fn subscribe_notifications(
    state: &AppState,
    me: PublicKey,
    sub: String,
    after_seq: Option<u64>,
    subs: &mut HashMap<String, Sub>,
) -> Vec<Message> {
    let notifications = state.node.notifications();
    let now = notifications.watermark();
    let mut out = vec![frame(serde_json::json!({
        "type": "subscribed", "sub": sub, "seq": now
    }))];
    let mut last = now;
    if let Some(after) = after_seq.filter(|a| *a < now) {
        match notifications.changed_after(&me, after) {
            Ok(groups) => {
                for g in groups {
                    last = last.max(g.seq);
                    out.push(notification_frame(&sub, g));
                }
            }
            Err(e) => return vec![error_frame(Some(&sub), "internal", &e.to_string())],
        }
    }
    subs.insert(
        sub,
        Sub {
            stream: StreamKind::Notifications,
            thread: None,
            last,
        },
    );
    out
}

/// The `letter` frame of an envelope in `me`'s mailbox, opened (without
/// `sub`); `None` for anyone else's, or one that does not open.
fn letter_frame(
    state: &AppState,
    me: PublicKey,
    s: &StoredEvent,
    env: &kith_node::protocol::kinds::DirectMessage,
) -> Option<serde_json::Value> {
    if env.inbox[..] != kith_node::protocol::dm::inbox_hint(&me)[..] {
        return None;
    }
    let signed = state.node.messenger().try_open(&me, &env.ciphertext).ok()?;
    // People the reader blocks are not shown, live or in the list.
    let blocked = state.node.store().reader().blocked(&me).ok()?;
    if blocked.contains(&signed.letter.from) {
        return None;
    }
    let conversation = kith_node::dm::Conversation::of(&signed.letter, &me);
    Some(serde_json::json!({
        "type": "letter",
        "seq": s.seq,
        "conversation": conversation.to_text(),
        "id": signed.id(),
        "letter": signed.letter,
    }))
}

/// Shortest time between two typing indicators of one connection.
const TYPING_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// `{"op":"typing"}`: seals a typing indicator for the conversation's
/// others. Quiet on success; an error frame when it cannot be sent.
async fn typing(
    state: &AppState,
    caller: Option<&Caller>,
    conversation: &str,
    last: &mut Option<std::time::Instant>,
) -> Vec<Message> {
    let Some(caller) = caller else {
        return vec![error_frame(None, "unauthorized", "typing needs a session")];
    };
    if last.is_some_and(|t| t.elapsed() < TYPING_EVERY) {
        return Vec::new();
    }
    *last = Some(std::time::Instant::now());
    let Some(root) = caller.root_key(state) else {
        return vec![error_frame(
            None,
            "root_key_not_held",
            "typing indicators are signed with the identity's root key",
        )];
    };
    let Some(conv) = kith_node::dm::Conversation::parse(conversation) else {
        return vec![error_frame(
            None,
            "bad_conversation",
            "a conversation is a kith1… key or group:<64 hex digits>",
        )];
    };
    let (to, group) = match crate::chats::addressees(state, caller.identity, conv).await {
        Ok(a) => a,
        Err(e) => return vec![error_frame(None, &e.code, &e.message)],
    };
    match state.node.send_typing(&root, to, group).await {
        Ok(_) => Vec::new(),
        Err(e) => vec![error_frame(None, e.code(), &e.to_string())],
    }
}

fn ready(caller: Option<&Caller>) -> Message {
    frame(serde_json::json!({
        "type": "ready", "identity": caller.map(|c| c.identity.to_text())
    }))
}

async fn handle(
    msg: ClientMessage,
    state: &AppState,
    reader: &Reader,
    caller: &mut Option<Caller>,
    viewer: &mut Option<Viewer>,
    subs: &mut HashMap<String, Sub>,
) -> Vec<Message> {
    match msg {
        ClientMessage::Ping => vec![frame(serde_json::json!({ "type": "pong" }))],
        // Answered in `run`, which keeps the connection's rate limit.
        ClientMessage::Typing { .. } => Vec::new(),
        ClientMessage::Auth { token } => match Caller::resolve(state, &token).await {
            Ok(c) => {
                *viewer = Some(self::viewer(state, reader, c.identity, false));
                *caller = Some(c);
                vec![ready(caller.as_ref())]
            }
            Err(e) => vec![error_frame(None, &e.code, &e.message)],
        },
        ClientMessage::Unsubscribe { sub } => {
            subs.remove(&sub);
            vec![frame(
                serde_json::json!({ "type": "unsubscribed", "sub": sub }),
            )]
        }
        ClientMessage::Subscribe {
            sub,
            stream,
            thread,
            after_seq,
        } => {
            if sub.is_empty() || sub.len() > 64 {
                return vec![error_frame(
                    None,
                    "invalid_message",
                    "`sub` is 1 to 64 characters",
                )];
            }
            if stream != StreamKind::Thread && caller.is_none() {
                return vec![error_frame(
                    Some(&sub),
                    "unauthorized",
                    "home and notifications need a session",
                )];
            }
            if !subs.contains_key(&sub) && subs.len() >= state.config.max_subscriptions {
                return vec![error_frame(
                    Some(&sub),
                    "too_many_subscriptions",
                    &format!(
                        "at most {} subscriptions per connection",
                        state.config.max_subscriptions
                    ),
                )];
            }
            let thread = match (stream, thread) {
                (StreamKind::Thread, Some(t)) => match t.parse::<EventId>() {
                    Ok(id) => Some(id),
                    Err(e) => {
                        return vec![error_frame(
                            Some(&sub),
                            e.code(),
                            "`thread` is not an event id",
                        )];
                    }
                },
                (StreamKind::Thread, None) => {
                    return vec![error_frame(
                        Some(&sub),
                        "invalid_message",
                        "`thread` is required",
                    )];
                }
                _ => None,
            };
            let now = match reader.last_seq() {
                Ok(s) => s,
                Err(e) => return vec![error_frame(Some(&sub), "internal", &e.to_string())],
            };
            if stream == StreamKind::Notifications
                && let Some(me) = viewer.as_ref().map(|v| v.me)
            {
                return subscribe_notifications(state, me, sub, after_seq, subs);
            }
            if stream == StreamKind::Chats || stream == StreamKind::Trades {
                // New letters or trade events from now on (GET
                // /api/v1/me/chats and /api/v1/me/trades have the rest).
                subs.insert(
                    sub.clone(),
                    Sub {
                        stream,
                        thread: None,
                        last: now,
                    },
                );
                return vec![frame(serde_json::json!({
                    "type": "subscribed", "sub": sub, "seq": now
                }))];
            }
            if stream == StreamKind::Media {
                // Status changes of the caller's uploads, from now on
                // (GET /api/v1/media/{cid} has the current one).
                subs.insert(
                    sub.clone(),
                    Sub {
                        stream,
                        thread: None,
                        last: u64::MAX,
                    },
                );
                return vec![frame(serde_json::json!({
                    "type": "subscribed", "sub": sub, "seq": now
                }))];
            }
            let mut s = Sub {
                stream,
                thread,
                last: after_seq.unwrap_or(now).min(now),
            };
            let mut out = vec![frame(serde_json::json!({
                "type": "subscribed", "sub": sub, "seq": now
            }))];
            // Replay what came after the client's page, up to now.
            let mut replayed = 0;
            while s.last < now {
                let Ok(batch) = reader.log_after(s.last, REPLAY_STEP) else {
                    break;
                };
                let mut done = batch.len() < REPLAY_STEP;
                for item in &batch {
                    if item.seq > now {
                        done = true;
                        break;
                    }
                    s.last = item.seq;
                    replayed += 1;
                    if matches(&s, viewer.as_ref(), &item.event) {
                        out.push(event_frame(state, &sub, item));
                    }
                }
                if replayed >= MAX_REPLAY {
                    out.push(error_frame(
                        Some(&sub),
                        "replay_truncated",
                        "too much to replay; reload a page and subscribe from its seq",
                    ));
                    s.last = now;
                }
                if done {
                    break;
                }
            }
            s.last = s.last.max(now);
            subs.insert(sub, s);
            out
        }
    }
}
