//! One client connection: parses its messages, answers them, and forwards
//! live events to its subscriptions.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures::{FutureExt, SinkExt, StreamExt};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use negentropy::{Id, Negentropy, NegentropyStorageVector};
use nostr::prelude::{Event, Filter, Kind, MatchEventOptions, PublicKey, Timestamp};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::Shared;
use crate::config::PRIVATE_KINDS;
use crate::store::{Inserted, Prepared, QueryLimits};

/// A client that does not take a message within this time is cut off.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// EVENTs one connection may have in flight before the relay stops reading
/// from it.
const MAX_INFLIGHT: usize = 64;

/// Negentropy frame size limit for the relay's answers (NIP-77 allows any).
const NEG_FRAME: u64 = 60_000;

/// Rate limiters shared by every connection.
#[derive(Debug)]
pub(crate) struct Limiters {
    events_ip: DefaultKeyedRateLimiter<IpAddr>,
    events_key: DefaultKeyedRateLimiter<PublicKey>,
    queries_ip: DefaultKeyedRateLimiter<IpAddr>,
}

fn quota(per_second: u32) -> Quota {
    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(per_second.max(1).saturating_mul(4)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

impl Limiters {
    pub(crate) fn new(c: &crate::RelayConfig) -> Self {
        Self {
            events_ip: RateLimiter::keyed(quota(c.events_per_second_per_ip)),
            events_key: RateLimiter::keyed(quota(c.events_per_second_per_pubkey)),
            queries_ip: RateLimiter::keyed(quota(c.queries_per_second_per_ip)),
        }
    }

    /// Forgets keys whose buckets are full again (bounded memory).
    pub(crate) fn forget_idle(&self) {
        self.events_ip.retain_recent();
        self.events_key.retain_recent();
        self.queries_ip.retain_recent();
    }
}

/// An open subscription.
struct Sub {
    filters: Vec<Filter>,
    /// Events its stored answer held. An event stored just before the query
    /// may still be on its way through the live channel; it is not sent
    /// twice. Kept only for [`ANSWERED_WINDOW`] after the answer.
    answered: HashSet<nostr::prelude::EventId>,
    answered_at: Instant,
}

/// How long after a REQ's answer live events are checked against it: far
/// longer than an accepted event takes to reach every connection.
const ANSWERED_WINDOW: Duration = Duration::from_secs(10);

struct Conn {
    shared: Arc<Shared>,
    ip: IpAddr,
    challenge: String,
    authed: HashSet<PublicKey>,
    subs: HashMap<String, Sub>,
    negs: HashMap<String, Negentropy<'static, NegentropyStorageVector>>,
    /// A live receiver taken before a REQ's query ran, so nothing accepted
    /// meanwhile is missed; kept if the connection had none.
    new_live: Option<broadcast::Receiver<Arc<Event>>>,
    /// EVENTs handed over by the last message, for the connection to run.
    work: Vec<futures::future::BoxFuture<'static, Vec<String>>>,
}

/// Serves one WebSocket until the client leaves, misbehaves past what the
/// policy allows, or the relay stops.
pub(crate) async fn run(shared: Arc<Shared>, socket: WebSocket, ip: IpAddr) {
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let _gone = Gone(shared.clone());
    let (mut tx, mut rx) = socket.split();
    // Live events are received only while a subscription is open: a
    // connection that only publishes, or sits idle, is not woken (nor cut off
    // as a slow reader) by every event the relay accepts.
    let mut live: Option<broadcast::Receiver<Arc<Event>>> = None;
    let mut conn = Conn {
        shared,
        ip,
        challenge: hex::encode(rand_core::RngCore::next_u64(&mut rand_core::OsRng).to_be_bytes()),
        authed: HashSet::new(),
        subs: HashMap::new(),
        negs: HashMap::new(),
        new_live: None,
        work: Vec::new(),
    };
    // EVENTs on their way through the store (or refused after verification); their OKs go out in arrival order.
    let mut inflight = futures::stream::FuturesOrdered::new();
    let hello = serde_json::json!(["AUTH", conn.challenge]).to_string();
    if send(&mut tx, vec![hello]).await.is_err() {
        return;
    }
    loop {
        let out = tokio::select! {
            Some(out) = inflight.next(), if !inflight.is_empty() => out,
            msg = rx.next(), if inflight.len() < MAX_INFLIGHT => match msg {
                Some(Ok(Message::Text(t))) => conn.handle(t.as_str()).await,
                Some(Ok(Message::Binary(_))) => {
                    vec![notice("invalid: messages are JSON text, not binary")]
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(e)) => {
                    // Too large, or broken: say why if the socket still takes it.
                    let _ = send(&mut tx, vec![notice(&format!("error: {e}"))]).await;
                    break;
                }
            },
            event = async {
                match live.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => match event {
                Ok(e) => conn.live(&e),
                Err(RecvError::Lagged(_)) => {
                    let _ = send(&mut tx, vec![notice(
                        "error: too slow reading live events; connection closed",
                    )]).await;
                    break;
                }
                Err(RecvError::Closed) => break,
            },
        };
        if conn.subs.is_empty() {
            live = None;
        } else if let Some(rx) = conn.new_live.take()
            && live.is_none()
        {
            live = Some(rx);
        }
        conn.new_live = None;
        for work in conn.work.drain(..) {
            inflight.push_back(work);
        }
        // The writer answers a whole batch at once: every OK already due
        // goes out with this one, in one write.
        let mut out = out;
        while let Some(Some(more)) = inflight.next().now_or_never() {
            out.extend(more);
        }
        if !out.is_empty() && send(&mut tx, out).await.is_err() {
            break;
        }
    }
    // A client that stopped reading would hold a close frame forever.
    let _ = tokio::time::timeout(Duration::from_secs(1), tx.close()).await;
}

/// Decrements the connection count when the connection ends, however it ends.
struct Gone(Arc<Shared>);

impl Drop for Gone {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn send(
    tx: &mut futures::stream::SplitSink<WebSocket, Message>,
    out: Vec<String>,
) -> Result<(), ()> {
    let all = async {
        for m in out {
            tx.feed(Message::Text(Utf8Bytes::from(m))).await?;
        }
        tx.flush().await
    };
    match tokio::time::timeout(SEND_TIMEOUT, all).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

fn notice(msg: &str) -> String {
    serde_json::json!(["NOTICE", msg]).to_string()
}

fn ok(id: &str, accepted: bool, msg: &str) -> String {
    serde_json::json!(["OK", id, accepted, msg]).to_string()
}

fn closed(sub: &str, msg: &str) -> String {
    serde_json::json!(["CLOSED", sub, msg]).to_string()
}

fn event_msg(sub: &str, e: &Event) -> String {
    format!("[\"EVENT\",{},{}]", Value::from(sub), e.as_json())
}

/// `["EVENT", event]` parsed in one pass, straight into the event; `None`
/// for any other message, or one this cannot take (the general path then
/// parses it again and says what is wrong).
fn parse_event_msg(text: &str) -> Option<Event> {
    let rest = text.trim_start().strip_prefix('[')?;
    if !rest.trim_start().starts_with("\"EVENT\"") {
        return None;
    }
    serde_json::from_str::<(serde::de::IgnoredAny, Event)>(text)
        .ok()
        .map(|(_, e)| e)
}

/// Work an EVENT leaves: its answer now, or a future that stores it (or
/// holds its refusal) and then answers, in arrival order.
enum Work {
    Now(Vec<String>),
    Later(futures::future::BoxFuture<'static, Vec<String>>),
}

/// The OK for an event, and its live delivery when accepted.
fn answer(
    shared: &Shared,
    id: &str,
    event: Arc<Event>,
    result: Result<Inserted, &'static str>,
) -> Vec<String> {
    match result {
        Ok(Inserted::Stored) => {
            let _ = shared.live.send(event);
            vec![ok(id, true, "")]
        }
        Ok(Inserted::Duplicate) => vec![ok(id, true, "duplicate: already have this event")],
        Ok(Inserted::Outdated) => vec![ok(
            id,
            false,
            "invalid: a newer version of this replaceable event is stored",
        )],
        Ok(Inserted::Deleted) => vec![ok(id, false, "blocked: its author deleted it")],
        Ok(Inserted::Expired) => vec![ok(id, false, "invalid: event has expired")],
        Err(why) => vec![ok(id, false, why)],
    }
}

/// Whether `e` may be shown to a connection authenticated as `authed`.
fn visible(e: &Event, authed: &HashSet<PublicKey>) -> bool {
    if !PRIVATE_KINDS.contains(&e.kind.as_u16()) {
        return true;
    }
    authed.contains(&e.pubkey) || e.tags.public_keys().any(|p| authed.contains(&p))
}

/// Whether a filter asks only for private kinds.
fn asks_private(f: &Filter) -> bool {
    f.kinds
        .as_ref()
        .is_some_and(|k| !k.is_empty() && k.iter().all(|k| PRIVATE_KINDS.contains(&k.as_u16())))
}

impl Conn {
    fn limits(&self) -> QueryLimits {
        QueryLimits {
            max_limit: self.shared.config.max_limit,
            max_scan: self.shared.config.max_scan,
        }
    }

    async fn handle(&mut self, text: &str) -> Vec<String> {
        // The common case, `["EVENT", {...}]`, is parsed once, straight into
        // an event; anything else (or an event that does not parse) takes the
        // general path below, which words the errors.
        if let Some(event) = parse_event_msg(text) {
            return match self.on_parsed_event(event) {
                Work::Now(out) => out,
                Work::Later(work) => {
                    self.work.push(work);
                    Vec::new()
                }
            };
        }
        let msg: Vec<Value> = match serde_json::from_str(text) {
            Ok(Value::Array(a)) if !a.is_empty() => a,
            Ok(_) => return vec![notice("invalid: a message is a non-empty JSON array")],
            Err(e) => return vec![notice(&format!("invalid: not JSON: {e}"))],
        };
        let verb = msg[0].as_str().unwrap_or_default().to_owned();
        match verb.as_str() {
            "EVENT" => match self.on_event(msg) {
                Work::Now(out) => out,
                Work::Later(work) => {
                    self.work.push(work);
                    Vec::new()
                }
            },
            "REQ" => self.on_req(msg).await,
            "COUNT" => self.on_count(msg).await,
            "CLOSE" => {
                if let Some(sub) = msg.get(1).and_then(Value::as_str) {
                    self.subs.remove(sub);
                }
                Vec::new()
            }
            "AUTH" => self.on_auth(msg),
            "NEG-OPEN" => self.on_neg_open(msg).await,
            "NEG-MSG" => self.on_neg_msg(msg),
            "NEG-CLOSE" => {
                if let Some(sub) = msg.get(1).and_then(Value::as_str) {
                    self.negs.remove(sub);
                }
                Vec::new()
            }
            _ => vec![notice(&format!(
                "invalid: unknown message type {:?}",
                msg[0]
            ))],
        }
    }

    /// Checks an event against the policy; `Err` is the OK message.
    fn admit(&self, e: &Event, size: usize) -> Result<(), String> {
        let c = &self.shared.config;
        let p = &self.shared.policy;
        if size > c.max_event_bytes {
            return Err(format!(
                "invalid: event is larger than {} bytes",
                c.max_event_bytes
            ));
        }
        if e.kind == Kind::Authentication {
            return Err("invalid: authentication events go in AUTH messages".into());
        }
        if p.denied_pubkeys.contains(&e.pubkey)
            || (!p.allowed_pubkeys.is_empty() && !p.allowed_pubkeys.contains(&e.pubkey))
        {
            return Err("blocked: this relay does not accept events from this key".into());
        }
        let k = e.kind.as_u16();
        if c.denied_kinds.contains(&k)
            || (!c.allowed_kinds.is_empty() && !c.allowed_kinds.contains(&k))
        {
            return Err(format!("blocked: this relay does not accept kind {k}"));
        }
        let now = Timestamp::now().as_secs();
        if e.created_at.as_secs() > now + c.max_future_secs {
            return Err("invalid: created_at is too far in the future".into());
        }
        if e.is_expired_at(Timestamp::from_secs(now)) {
            return Err("invalid: event has expired".into());
        }
        if c.min_pow > 0 && !e.id.check_pow(c.min_pow) {
            return Err(format!("pow: difficulty {} is required", c.min_pow));
        }
        Ok(())
    }

    /// An EVENT that did not take the one-parse path of [`parse_event_msg`]:
    /// parses it with the errors worded, then as [`Conn::on_parsed_event`].
    fn on_event(&self, msg: Vec<Value>) -> Work {
        let Some(raw) = msg.into_iter().nth(1) else {
            return Work::Now(vec![notice("invalid: EVENT needs an event")]);
        };
        let id_hint = raw
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let event: Event = match serde_json::from_value(raw) {
            Ok(e) => e,
            Err(e) => {
                return Work::Now(vec![ok(
                    &id_hint,
                    false,
                    &format!("invalid: malformed event: {e}"),
                )]);
            }
        };
        self.on_parsed_event(event)
    }

    /// The rest of [`Conn::on_event`], once the event has parsed: the policy,
    /// the rate limits, then verification here, on the connection's own
    /// task (connections run on every core, so the relay verifies on all of
    /// them without a hand-over per event); storing is left to the returned
    /// future, which the connection runs beside others.
    fn on_parsed_event(&self, event: Event) -> Work {
        let id = event.id.to_hex();
        // Its JSON as the relay stores it: what its size is judged by.
        let json = event.as_json();
        let event = Arc::new(event);
        if let Err(why) = self.admit(&event, json.len()) {
            return Work::Now(vec![ok(&id, false, &why)]);
        }
        let limiters = &self.shared.limiters;
        if limiters.events_ip.check_key(&self.ip).is_err()
            || limiters.events_key.check_key(&event.pubkey).is_err()
        {
            return Work::Now(vec![ok(&id, false, "rate-limited: slow down")]);
        }
        let checked = if !event.verify_id() {
            Err("invalid: event id does not match its content")
        } else if !event.verify_signature() {
            Err("invalid: bad signature")
        } else {
            Ok(())
        };
        let shared = self.shared.clone();
        Work::Later(Box::pin(async move {
            // The store's writer writes whatever events are waiting in one
            // batch; the OK waits for that batch.
            let result = match checked {
                Err(why) => Err(why),
                Ok(()) if event.kind.is_ephemeral() => Ok(Inserted::Stored),
                Ok(()) => {
                    // Its index keys, made here rather than on the writer,
                    // and only for an event that is to be stored.
                    let prepared = Prepared::with_json(event.clone(), json);
                    let (reply, answer) = tokio::sync::oneshot::channel();
                    if shared.writer.send((prepared, reply)).await.is_err() {
                        return vec![ok(&id, false, "error: the relay is stopping")];
                    }
                    let r = answer
                        .await
                        .unwrap_or_else(|_| Err("the writer stopped".into()));
                    r.map_err(|e| {
                        tracing::warn!(error = %e, "nostr store write failed");
                        "error: could not store the event"
                    })
                }
            };
            answer(&shared, &id, event, result)
        }))
    }

    /// Parses `[verb, sub, filter...]`; `Err` is the CLOSED message.
    fn filters(&self, msg: Vec<Value>) -> Result<(String, Vec<Filter>), Vec<String>> {
        let c = &self.shared.config;
        let mut it = msg.into_iter().skip(1);
        let Some(Value::String(sub)) = it.next() else {
            return Err(vec![notice(
                "invalid: a subscription id (string) is required",
            )]);
        };
        if sub.is_empty() || sub.len() > c.max_subid_length {
            return Err(vec![closed(
                &sub,
                &format!(
                    "invalid: subscription ids are 1 to {} characters",
                    c.max_subid_length
                ),
            )]);
        }
        let raw: Vec<Value> = it.collect();
        if raw.is_empty() {
            return Err(vec![closed(
                &sub,
                "invalid: at least one filter is required",
            )]);
        }
        if raw.len() > c.max_filters {
            return Err(vec![closed(
                &sub,
                &format!("invalid: at most {} filters", c.max_filters),
            )]);
        }
        let mut filters = Vec::with_capacity(raw.len());
        for f in raw {
            match serde_json::from_value::<Filter>(f) {
                Ok(f) => filters.push(f),
                Err(e) => return Err(vec![closed(&sub, &format!("invalid: bad filter: {e}"))]),
            }
        }
        if self.shared.limiters.queries_ip.check_key(&self.ip).is_err() {
            return Err(vec![closed(&sub, "rate-limited: slow down")]);
        }
        if self.authed.is_empty() && filters.iter().any(asks_private) {
            return Err(vec![closed(
                &sub,
                "auth-required: direct messages are served only to their authors and recipients",
            )]);
        }
        Ok((sub, filters))
    }

    async fn on_req(&mut self, msg: Vec<Value>) -> Vec<String> {
        let (sub, filters) = match self.filters(msg) {
            Ok(x) => x,
            Err(out) => return out,
        };
        if !self.subs.contains_key(&sub) && self.subs.len() >= self.shared.config.max_subscriptions
        {
            return vec![closed(
                &sub,
                &format!(
                    "blocked: at most {} subscriptions per connection",
                    self.shared.config.max_subscriptions
                ),
            )];
        }
        if self.new_live.is_none() {
            self.new_live = Some(self.shared.live.subscribe());
        }
        let (shared, limits, authed, f) = (
            self.shared.clone(),
            self.limits(),
            self.authed.clone(),
            filters.clone(),
        );
        let found = tokio::task::spawn_blocking(move || {
            shared
                .store
                .query(&f, limits, Timestamp::now(), &|e| visible(e, &authed))
        })
        .await;
        let events = match found {
            Ok(Ok(q)) => q.events,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "nostr query failed");
                return vec![closed(&sub, "error: could not read the store")];
            }
            Err(_) => return vec![closed(&sub, "error: internal error")],
        };
        let mut out: Vec<String> = events.iter().map(|e| event_msg(&sub, e)).collect();
        out.push(serde_json::json!(["EOSE", sub]).to_string());
        let answered = events.iter().map(|e| e.id).collect();
        self.subs.insert(
            sub,
            Sub {
                filters,
                answered,
                answered_at: Instant::now(),
            },
        );
        out
    }

    async fn on_count(&mut self, msg: Vec<Value>) -> Vec<String> {
        let (sub, filters) = match self.filters(msg) {
            Ok(x) => x,
            Err(out) => return out,
        };
        let (shared, limits, authed) = (self.shared.clone(), self.limits(), self.authed.clone());
        let found = tokio::task::spawn_blocking(move || {
            shared
                .store
                .count(&filters, limits, Timestamp::now(), &|e| visible(e, &authed))
        })
        .await;
        match found {
            Ok(Ok(q)) => {
                let mut body = serde_json::json!({ "count": q.events.len() });
                if q.truncated {
                    body["approximate"] = true.into();
                }
                vec![serde_json::json!(["COUNT", sub, body]).to_string()]
            }
            _ => vec![closed(&sub, "error: could not count")],
        }
    }

    fn on_auth(&mut self, msg: Vec<Value>) -> Vec<String> {
        let Some(raw) = msg.into_iter().nth(1) else {
            return vec![notice("invalid: AUTH needs an event")];
        };
        let id_hint = raw
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let e: Event = match serde_json::from_value(raw) {
            Ok(e) => e,
            Err(e) => {
                return vec![ok(
                    &id_hint,
                    false,
                    &format!("invalid: malformed event: {e}"),
                )];
            }
        };
        let id = e.id.to_hex();
        let tag = |name: &str| {
            e.tags
                .iter()
                .find(|t| t.as_slice().first().is_some_and(|k| k == name))
                .and_then(|t| t.content().map(str::to_owned))
        };
        let now = Timestamp::now().as_secs();
        let why = if e.kind != Kind::Authentication {
            Some("invalid: AUTH takes a kind 22242 event")
        } else if tag("challenge").as_deref() != Some(self.challenge.as_str()) {
            Some("invalid: wrong challenge")
        } else if !tag("relay")
            .is_some_and(|r| self.shared.auth_hosts.contains(&crate::authority(&r)))
        {
            Some("invalid: the relay tag does not name this relay")
        } else if e.created_at.as_secs().abs_diff(now) > 600 {
            Some("invalid: created_at is more than 10 minutes away")
        } else if e.verify().is_err() {
            Some("invalid: bad id or signature")
        } else {
            None
        };
        match why {
            Some(w) => vec![ok(&id, false, w)],
            None => {
                self.authed.insert(e.pubkey);
                vec![ok(&id, true, "")]
            }
        }
    }

    async fn on_neg_open(&mut self, msg: Vec<Value>) -> Vec<String> {
        let neg_err = |sub: &str, m: &str| serde_json::json!(["NEG-ERR", sub, m]).to_string();
        let mut it = msg.into_iter().skip(1);
        let (Some(Value::String(sub)), Some(filter), Some(Value::String(initial))) =
            (it.next(), it.next(), it.next())
        else {
            return vec![notice(
                "invalid: NEG-OPEN takes a subscription id, a filter and a message",
            )];
        };
        let Ok(query) = hex::decode(&initial) else {
            return vec![neg_err(&sub, "invalid: the message is not hex")];
        };
        let filter: Filter = match serde_json::from_value(filter) {
            Ok(f) => f,
            Err(e) => return vec![neg_err(&sub, &format!("invalid: bad filter: {e}"))],
        };
        if self.authed.is_empty() && asks_private(&filter) {
            return vec![neg_err(&sub, "auth-required: direct messages need AUTH")];
        }
        if self.negs.len() >= self.shared.config.max_subscriptions && !self.negs.contains_key(&sub)
        {
            return vec![neg_err(&sub, "blocked: too many negentropy sessions")];
        }
        let max = self.shared.config.max_negentropy_items;
        let limits = QueryLimits {
            max_limit: max + 1,
            max_scan: max.saturating_mul(2).max(max + 1),
        };
        let (shared, authed) = (self.shared.clone(), self.authed.clone());
        let mut filter = filter;
        filter.limit = None;
        let built = tokio::task::spawn_blocking(move || {
            let q = shared
                .store
                .query(&[filter], limits, Timestamp::now(), &|e| {
                    visible(e, &authed)
                })
                .map_err(|e| e.to_string())?;
            if q.truncated || q.events.len() > max {
                return Err(format!(
                    "blocked: more than {max} events match; narrow the filter"
                ));
            }
            let mut set = NegentropyStorageVector::with_capacity(q.events.len());
            for e in &q.events {
                set.insert(e.created_at.as_secs(), Id::from_byte_array(e.id.to_bytes()))
                    .map_err(|e| e.to_string())?;
            }
            set.seal().map_err(|e| e.to_string())?;
            let mut neg = Negentropy::owned(set, NEG_FRAME).map_err(|e| e.to_string())?;
            let reply = neg.reconcile(&query).map_err(|e| format!("invalid: {e}"))?;
            Ok((neg, reply))
        })
        .await;
        match built {
            Ok(Ok((neg, reply))) => {
                self.negs.insert(sub.clone(), neg);
                vec![serde_json::json!(["NEG-MSG", sub, hex::encode(reply)]).to_string()]
            }
            Ok(Err(m)) => vec![neg_err(&sub, &m)],
            Err(_) => vec![neg_err(&sub, "error: internal error")],
        }
    }

    fn on_neg_msg(&mut self, msg: Vec<Value>) -> Vec<String> {
        let neg_err = |sub: &str, m: &str| serde_json::json!(["NEG-ERR", sub, m]).to_string();
        let (Some(Value::String(sub)), Some(Value::String(m))) = (msg.get(1), msg.get(2)) else {
            return vec![notice(
                "invalid: NEG-MSG takes a subscription id and a message",
            )];
        };
        let Some(neg) = self.negs.get_mut(sub) else {
            return vec![neg_err(sub, "closed: no such negentropy session")];
        };
        let Ok(query) = hex::decode(m) else {
            return vec![neg_err(sub, "invalid: the message is not hex")];
        };
        match neg.reconcile(&query) {
            Ok(reply) => vec![serde_json::json!(["NEG-MSG", sub, hex::encode(reply)]).to_string()],
            Err(e) => {
                let out = neg_err(sub, &format!("invalid: {e}"));
                self.negs.remove(&sub.clone());
                vec![out]
            }
        }
    }

    /// Live delivery of a newly accepted event to the matching subscriptions.
    fn live(&mut self, e: &Event) -> Vec<String> {
        if self.subs.is_empty() || !visible(e, &self.authed) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (id, sub) in &mut self.subs {
            if !sub.answered.is_empty() && sub.answered_at.elapsed() > ANSWERED_WINDOW {
                sub.answered = HashSet::new();
            }
            if sub.answered.contains(&e.id) {
                continue;
            }
            if sub
                .filters
                .iter()
                .any(|f| f.match_event(e, MatchEventOptions::new()))
            {
                out.push(event_msg(id, e));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nostr::prelude::{EventBuilder, FinalizeEvent, Keys, Tag};

    /// xorshift64: the same mutations on every run.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Client messages of every verb, valid, to mutate.
    fn seeds() -> Vec<Vec<u8>> {
        let keys = Keys::generate();
        let note = EventBuilder::new(Kind::TextNote, "hola \"mundo\" \\ ñ")
            .tags([Tag::hashtag("kith"), Tag::public_key(keys.public_key())])
            .finalize(&keys)
            .unwrap();
        let meta = EventBuilder::new(Kind::Metadata, r#"{"name":"Ana"}"#)
            .finalize(&keys)
            .unwrap();
        let auth = EventBuilder::new(Kind::Authentication, "")
            .tags([
                Tag::parse(["relay", "ws://127.0.0.1:1"]).unwrap(),
                Tag::parse(["challenge", "00"]).unwrap(),
            ])
            .finalize(&keys)
            .unwrap();
        let id = note.id.to_hex();
        let pk = keys.public_key().to_hex();
        [
            serde_json::json!(["EVENT", note]).to_string(),
            serde_json::json!(["EVENT", meta]).to_string(),
            serde_json::json!(["REQ", "s", {"authors": [pk], "kinds": [1], "#t": ["kith"], "since": 1, "until": 9_999_999_999u64, "limit": 5}, {"ids": [id]}]).to_string(),
            serde_json::json!(["REQ", "d", {"kinds": [4], "#p": [pk]}]).to_string(),
            serde_json::json!(["COUNT", "c", {"kinds": [1]}, {"search": "hola"}]).to_string(),
            serde_json::json!(["CLOSE", "s"]).to_string(),
            serde_json::json!(["AUTH", auth]).to_string(),
            serde_json::json!(["NEG-OPEN", "n", {"kinds": [1]}, "6100000200"]).to_string(),
            serde_json::json!(["NEG-MSG", "n", "6100000200"]).to_string(),
            serde_json::json!(["NEG-CLOSE", "n"]).to_string(),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect()
    }

    /// A stable-toolchain fuzz of everything a client sends: valid messages
    /// of every verb, mutated (bit flips, insertions, deletions, splices,
    /// truncation), through a real connection's handler on a real relay. No
    /// panic; every answer is a JSON array with a known verb; only events
    /// that verify are stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn client_messages_survive_mutated_input() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::RelayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            events_per_second_per_ip: 1_000_000,
            events_per_second_per_pubkey: 1_000_000,
            queries_per_second_per_ip: 1_000_000,
            ..Default::default()
        };
        let relay = crate::Relay::start(dir.path(), config).await.unwrap();
        let mut conn = Conn {
            shared: relay.shared.clone(),
            ip: IpAddr::from([127, 0, 0, 1]),
            challenge: "00".into(),
            authed: HashSet::new(),
            subs: HashMap::new(),
            negs: HashMap::new(),
            new_live: None,
            work: Vec::new(),
        };
        let seeds = seeds();
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut verbs: HashMap<String, usize> = HashMap::new();
        for round in 0..6_000 {
            let mut input = seeds[round % seeds.len()].clone();
            if round >= seeds.len() {
                for _ in 0..=(next() % 3) {
                    let n = input.len().max(1) as u64;
                    let at = (next() % n) as usize;
                    match next() % 5 {
                        0 if !input.is_empty() => {
                            let i = at.min(input.len() - 1);
                            input[i] ^= 1 << (next() % 8);
                        }
                        1 => input.insert(
                            at.min(input.len()),
                            b"{}[]\",:0aZ\\-"[(next() % 12) as usize],
                        ),
                        2 if !input.is_empty() => {
                            input.remove(at.min(input.len() - 1));
                        }
                        3 => {
                            let other = &seeds[(next() as usize) % seeds.len()];
                            let from = (next() as usize) % other.len().max(1);
                            let i = at.min(input.len());
                            input.splice(i..i, other[from..].iter().copied());
                        }
                        _ => input.truncate(at),
                    }
                }
            }
            let text = String::from_utf8_lossy(&input).into_owned();
            let mut out = conn.handle(&text).await;
            for work in conn.work.drain(..) {
                out.extend(work.await);
            }
            for line in out {
                let v: Value = serde_json::from_str(&line).expect("answers are JSON");
                let verb = v[0].as_str().expect("answers start with a verb").to_owned();
                assert!(
                    [
                        "OK", "NOTICE", "CLOSED", "EVENT", "EOSE", "COUNT", "NEG-MSG", "NEG-ERR"
                    ]
                    .contains(&verb.as_str()),
                    "{line}"
                );
                *verbs.entry(verb).or_default() += 1;
            }
        }
        eprintln!("answers by verb: {verbs:?}");
        // The mutations must reach refusals and acceptances alike.
        for verb in ["OK", "NOTICE", "CLOSED", "EOSE", "COUNT"] {
            assert!(verbs.get(verb).copied().unwrap_or(0) > 10, "{verbs:?}");
        }
        let all = relay
            .store()
            .query(
                &[Filter::new()],
                crate::QueryLimits {
                    max_limit: 10_000,
                    max_scan: 100_000,
                },
                Timestamp::now(),
                &|_| true,
            )
            .unwrap();
        assert!(!all.events.is_empty());
        for e in &all.events {
            assert!(
                e.verify().is_ok(),
                "stored an event that does not verify: {e:?}"
            );
        }
        relay.shutdown().await;
    }
}
