#!/usr/bin/env node
// Kith interop client: nostr-tools (a Nostr library we did not write) against a
// Kith relay, to prove the relay speaks NIP-01 and friends the way the most
// used JavaScript client library expects.
//
//   node client.mjs <ws://host:port> <scenario>
//
// Scenarios: basic, replaceable, delete, expiration, count, auth, bad,
// negentropy (see each function below). Each is a sequence of checks; a check
// that passes prints one line "ok <scenario>: <what>" on stdout; the first that
// fails prints "FAILED <scenario>: <what was expected and what came>" on stderr
// and the process exits 1. Exit 0 only when every check passed. Every wait is
// bounded (WAIT_MS unless said otherwise) and its timeout names what was
// awaited. Scenarios are independent: fresh keys and unique tag values, so they
// may share one relay.
//
// Node.js 20 has no global WebSocket, so nostr-tools is given the `ws` package.
// Scenario `bad` and a few checks of COUNT/AUTH use a raw `ws` socket instead of
// nostr-tools, to send what nostr-tools never would.

import { randomBytes } from 'node:crypto'

import WebSocket from 'ws'
import { nip77 } from 'nostr-tools'
import { fetchRelayInformation } from 'nostr-tools/nip11'
import { encrypt as nip04Encrypt } from 'nostr-tools/nip04'
import { makeAuthEvent } from 'nostr-tools/nip42'
import { wrapEvent } from 'nostr-tools/nip59'
import { SimplePool, useWebSocketImplementation as usePoolWebSocket } from 'nostr-tools/pool'
import { finalizeEvent, generateSecretKey, getEventHash, getPublicKey } from 'nostr-tools/pure'
import {
  Relay,
  SendingOnClosedConnection,
  useWebSocketImplementation as useRelayWebSocket
} from 'nostr-tools/relay'

useRelayWebSocket(WebSocket)
usePoolWebSocket(WebSocket)

// stdout carries only the "ok" lines: nostr-tools logs with console.debug/warn.
console.log = console.info = console.debug = (...args) => console.error(...args)

/** Bound of every single wait (an OK, an EOSE, a live event, ...). */
const WAIT_MS = 5000
/** How long we listen to be confident that something does NOT arrive. */
const QUIET_MS = 1000
/** The whole scenario; the Rust test has its own, longer bound. */
const SCENARIO_MS = 80_000
/** How often, and after what pause, an OK false "rate-limited:" is retried. */
const RATE_LIMIT_RETRIES = 40
const RATE_LIMIT_PAUSE_MS = 250
/** Events published in a row by one key in the bulk part of `bad`. */
const BULK_PER_KEY = 40
/** What the brief says the relay refuses (NIP-11 max_message_length may raise it). */
const OVERSIZE_BYTES = 600 * 1024

class CheckFailed extends Error {}

let scenarioName = '?'

function fail (message) {
  throw new CheckFailed(message)
}

function pass (message) {
  process.stdout.write(`ok ${scenarioName}: ${message}\n`)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** `promise`, or a failure naming `what` after `ms`. */
function within (promise, ms, what) {
  let timer
  const limit = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

/** Polls `cond` until it holds, or fails naming `what` after `ms`. */
async function until (cond, ms, what) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) fail(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(10)
  }
}

const nowSec = () => Math.floor(Date.now() / 1000)
const unique = () => randomBytes(6).toString('hex')

function newKey () {
  const sk = generateSecretKey()
  return { sk, pk: getPublicKey(sk) }
}

// Event ids get a human name for the failure messages.
const names = new Map()

function named (name, event) {
  names.set(event.id, name)
  return event
}

function nameOf (id) {
  return names.get(id) ?? `${String(id).slice(0, 12)}…`
}

function list (ids) {
  return '[' + ids.map(nameOf).join(', ') + ']'
}

function sign (key, { kind = 1, created_at = nowSec(), tags = [], content = '' } = {}) {
  return finalizeEvent({ kind, created_at, tags, content }, key.sk)
}

/** The events' ids are exactly `want`'s, each once. */
function sameSet (got, want, what) {
  const ids = got.map((e) => e.id)
  const dup = ids.filter((id, i) => ids.indexOf(id) !== i)
  if (dup.length) fail(`${what}: the relay sent event(s) more than once: ${list(dup)}`)
  const wantIds = want.map((e) => (typeof e === 'string' ? e : e.id))
  const missing = wantIds.filter((id) => !ids.includes(id))
  const extra = ids.filter((id) => !wantIds.includes(id))
  if (missing.length || extra.length) {
    fail(`${what}: expected ${list(wantIds)}, got ${list(ids)} (missing ${list(missing)}, unexpected ${list(extra)})`)
  }
}

// ---------------------------------------------------------------------------
// nostr-tools connections

/** A nostr-tools `Relay` with its NOTICEs and every raw frame recorded. */
async function connect (url, who) {
  const relay = new Relay(url)
  // nostr-tools fakes an EOSE after 4.4 s by default; our own bounds decide.
  relay.baseEoseTimeout = 10 * 60_000
  relay.publishTimeout = WAIT_MS
  relay.notices = []
  relay.onnotice = (msg) => relay.notices.push(msg)
  try {
    await within(relay.connect(), WAIT_MS, `the WebSocket connection of ${who} to ${url}`)
  } catch (err) {
    if (err instanceof CheckFailed) throw err
    fail(`cannot open the WebSocket connection of ${who} to ${url}: ${err instanceof Error ? err.message : String(err)}`)
  }
  relay.frames = []
  relay.ws.addEventListener('message', (ev) => relay.frames.push(String(ev.data)))
  relay.who = who
  return relay
}

function noticesOf (relay) {
  return relay.notices.length ? ` (NOTICEs so far: ${JSON.stringify(relay.notices)})` : ''
}

/**
 * Publishes through nostr-tools: {ok, message} from the relay's OK. An OK
 * false "rate-limited: ..." is retried (bounded): rate limits are not what
 * these scenarios test.
 */
async function publish (relay, event, what) {
  for (let attempt = 1; ; attempt++) {
    const r = await publishOnce(relay, event, what)
    if (r.ok || !r.message.startsWith('rate-limited:') || attempt >= RATE_LIMIT_RETRIES) return r
    await sleep(RATE_LIMIT_PAUSE_MS)
  }
}

async function publishOnce (relay, event, what) {
  try {
    const message = await within(relay.publish(event), WAIT_MS + 1000, `the OK for ${what}`)
    return { ok: true, message: message ?? '' }
  } catch (err) {
    if (err instanceof CheckFailed) throw err
    const message = err instanceof Error ? err.message : String(err)
    if (err instanceof SendingOnClosedConnection || !relay.connected) {
      fail(`${what}: the connection of ${relay.who} is closed (${message})${noticesOf(relay)}`)
    }
    if (message === 'publish timed out') fail(`no OK from the relay within ${relay.publishTimeout} ms for ${what}${noticesOf(relay)}`)
    return { ok: false, message }
  }
}

async function publishOk (relay, event, what) {
  const r = await publish(relay, event, what)
  if (!r.ok) fail(`${what}: the relay refused it: OK false "${r.message}"`)
  return r
}

/**
 * One REQ through nostr-tools, until EOSE (then CLOSE) or CLOSED:
 * {events, closed: null | reason}. Events failing nostr-tools' signature
 * check or matching none of the filters fail the check.
 */
async function query (relay, filters, what) {
  const r = await within(
    new Promise((resolve) => {
      const events = []
      const invalid = []
      let done = false
      const sub = relay.subscribe(filters, {
        onevent: (e) => events.push(e),
        oninvalidevent: (e) => invalid.push(e),
        oneose: () => {
          if (done) return
          done = true
          resolve({ events, invalid, closed: null })
          sub.close()
        },
        onclose: (reason) => {
          if (done) return
          done = true
          resolve({ events, invalid, closed: String(reason) })
        }
      })
    }),
    WAIT_MS,
    `EOSE of ${what} (REQ ${JSON.stringify(filters)})${noticesOf(relay)}`
  )
  if (!relay.connected) fail(`${what}: the connection of ${relay.who} closed during the REQ${noticesOf(relay)}`)
  if (r.invalid.length) {
    fail(`${what}: the relay sent ${r.invalid.length} event(s) that fail the signature check or match none of the filters, e.g. ${JSON.stringify(r.invalid[0])}`)
  }
  return r
}

/** A REQ that must end in EOSE with exactly `want`. */
async function expectQuery (relay, filters, want, what) {
  const r = await query(relay, filters, what)
  if (r.closed !== null) fail(`${what}: the relay ended the REQ with CLOSED "${r.closed}" instead of EOSE`)
  sameSet(r.events, want, what)
  return r.events
}

/** A subscription kept open: {events, closed, sub, ready (resolves at EOSE)}. */
function openSub (relay, filters, what) {
  const s = { events: [], invalid: [], eose: false, closed: null }
  let eosed
  const eose = new Promise((resolve) => { eosed = resolve })
  s.sub = relay.subscribe(filters, {
    onevent: (e) => s.events.push(e),
    oninvalidevent: (e) => s.invalid.push(e),
    oneose: () => { s.eose = true; eosed() },
    onclose: (reason) => { if (s.closed === null) s.closed = String(reason); eosed() }
  })
  s.ready = within(eose, WAIT_MS, `EOSE of ${what}${noticesOf(relay)}`).then(() => {
    if (!s.eose) fail(`${what}: the relay answered CLOSED "${s.closed}" instead of EOSE`)
    if (s.invalid.length) fail(`${what}: the relay sent an event that fails verification or matches no filter: ${JSON.stringify(s.invalid[0])}`)
  })
  return s
}

/** Waits for the relay to have handled everything sent before on `relay`. */
async function barrier (relay, what) {
  await expectQuery(relay, [{ ids: ['0'.repeat(64)] }], [], `a round trip on ${relay.who} (${what})`)
}

/** Waits for the AUTH challenge the relay sends on connect. */
async function challengeOf (relay) {
  await until(() => relay.challenge, WAIT_MS, `the ["AUTH", <challenge>] message the relay sends on connect (to ${relay.who})`)
  return relay.challenge
}

/** NIP-42 through nostr-tools' `relay.auth` (kind 22242 from nip42.makeAuthEvent). */
async function authAs (relay, key, who) {
  await challengeOf(relay)
  try {
    await within(relay.auth(async (template) => finalizeEvent(template, key.sk)), WAIT_MS + 1000, `the OK answering ${who}'s AUTH`)
  } catch (err) {
    if (err instanceof CheckFailed) throw err
    fail(`the relay refused ${who}'s AUTH (relay tag "${relay.url}"): ${err instanceof Error ? err.message : String(err)}`)
  }
}

/** Sends ["AUTH", event] ourselves; {ok, message} from the OK frame. */
async function sendAuthFrame (relay, event, what) {
  const from = relay.frames.length
  relay.send(JSON.stringify(['AUTH', event]))
  let answer
  await until(() => {
    for (const f of relay.frames.slice(from)) {
      let v
      try { v = JSON.parse(f) } catch { continue }
      if (v[0] === 'OK' && v[1] === event.id) { answer = v; return true }
    }
    return false
  }, WAIT_MS, `the OK answering ${what}${noticesOf(relay)}`)
  return { ok: answer[2] === true, message: String(answer[3] ?? '') }
}

async function nip11 (url) {
  const httpUrl = url.replace(/^ws/, 'http')
  const res = await within(
    fetch(httpUrl, { headers: { Accept: 'application/nostr+json' } }).catch((err) =>
      fail(`NIP-11: GET ${httpUrl} failed: ${err.message}${err.cause ? ` (${err.cause.message ?? err.cause})` : ''}`)
    ),
    WAIT_MS,
    `the NIP-11 document at ${httpUrl}`
  )
  const text = await within(res.text(), WAIT_MS, `the body of the NIP-11 document at ${httpUrl}`)
  if (res.status !== 200) fail(`NIP-11: GET ${httpUrl} with Accept: application/nostr+json answered HTTP ${res.status}: ${text.slice(0, 200)}`)
  let doc
  try { doc = JSON.parse(text) } catch { fail(`NIP-11: the document is not JSON: ${text.slice(0, 200)}`) }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) fail(`NIP-11: the document is not a JSON object: ${text.slice(0, 200)}`)
  return { doc, res }
}

// ---------------------------------------------------------------------------
// Raw WebSocket (for what nostr-tools would never send)

class Raw {
  static async open (url, who) {
    const r = new Raw()
    r.who = who
    r.frames = []
    r.closeInfo = null
    r.ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 })
    r.ws.on('message', (data) => {
      const s = data.toString()
      let v
      try { v = JSON.parse(s) } catch { v = { unparsable: s } }
      r.frames.push(v)
    })
    r.ws.on('close', (code, reason) => { r.closeInfo = { code, reason: reason.toString() } })
    r.ws.on('error', (err) => { r.error = err })
    await within(
      new Promise((resolve, reject) => {
        r.ws.once('open', resolve)
        r.ws.once('error', reject)
      }),
      WAIT_MS,
      `the raw WebSocket connection (${who}) to ${url}`
    )
    return r
  }

  send (v) {
    if (this.ws.readyState !== WebSocket.OPEN) fail(`cannot send on ${this.who}: the connection is closed ${JSON.stringify(this.closeInfo)}`)
    this.ws.send(typeof v === 'string' ? v : JSON.stringify(v))
  }

  mark () {
    return this.frames.length
  }

  summary (from) {
    const fs = this.frames.slice(from).map((f) => JSON.stringify(f).slice(0, 160))
    return fs.length ? `; received meanwhile: ${fs.join(' | ')}` : '; nothing received meanwhile'
  }

  /**
   * The first frame from index `from` on that satisfies `pred`: {frame, index}
   * or, with closeOk, {closed} when the relay closes the connection first.
   */
  async waitFor (pred, what, { from = this.mark(), ms = WAIT_MS, closeOk = false } = {}) {
    const end = Date.now() + ms
    for (;;) {
      for (let i = from; i < this.frames.length; i++) {
        if (pred(this.frames[i])) return { frame: this.frames[i], index: i }
      }
      if (this.closeInfo) {
        if (closeOk) return { closed: this.closeInfo }
        fail(`${this.who}: the relay closed the connection (code ${this.closeInfo.code} "${this.closeInfo.reason}") while we waited for ${what}${this.summary(from)}`)
      }
      if (Date.now() > end) fail(`${this.who}: timed out after ${ms} ms waiting for ${what}${this.summary(from)}`)
      await sleep(10)
    }
  }

  /** EVENT -> {ok, message} of its OK ("rate-limited:" retried, bounded). */
  async publish (event, what) {
    for (let attempt = 1; ; attempt++) {
      const from = this.mark()
      this.send(['EVENT', event])
      const { frame } = await this.waitFor((f) => f[0] === 'OK' && f[1] === event.id, `the OK for ${what}`, { from })
      const r = { ok: frame[2] === true, message: String(frame[3] ?? '') }
      if (r.ok || !r.message.startsWith('rate-limited:') || attempt >= RATE_LIMIT_RETRIES) return r
      await sleep(RATE_LIMIT_PAUSE_MS)
    }
  }

  /** Publishes many events, pipelined; each must get OK true in the end. */
  async publishAll (events, what, ms = 30_000) {
    const end = Date.now() + ms
    let pending = events
    while (pending.length) {
      const from = this.mark()
      for (const ev of pending) this.send(['EVENT', ev])
      const limited = []
      for (const ev of pending) {
        const { frame } = await this.waitFor((f) => f[0] === 'OK' && f[1] === ev.id, `the OK for one of ${what}`, { from, ms: Math.max(1000, end - Date.now()) })
        if (frame[2] === true) continue
        if (String(frame[3] ?? '').startsWith('rate-limited:')) limited.push(ev)
        else fail(`${what}: an event was refused: ${JSON.stringify(frame)}`)
      }
      if (limited.length && Date.now() > end) fail(`${what}: still rate-limited after ${ms} ms (${limited.length} events left)`)
      pending = limited
      if (pending.length) await sleep(RATE_LIMIT_PAUSE_MS)
    }
  }

  /** REQ (then CLOSE) -> {events, closed: null | reason}. */
  async query (subId, filters, what, { ms = WAIT_MS } = {}) {
    const from = this.mark()
    this.send(['REQ', subId, ...filters])
    const { frame, index } = await this.waitFor(
      (f) => (f[0] === 'EOSE' || f[0] === 'CLOSED') && f[1] === subId,
      `EOSE of ${what}`,
      { from, ms }
    )
    const events = this.frames.slice(from, index).filter((f) => f[0] === 'EVENT' && f[1] === subId).map((f) => f[2])
    if (frame[0] === 'CLOSED') return { events, closed: String(frame[2] ?? '') }
    this.send(['CLOSE', subId])
    return { events, closed: null }
  }

  close () {
    try { this.ws.close() } catch {}
  }
}

// ---------------------------------------------------------------------------
// Scenarios

/** NIP-11, publishing, REQ filters (alone and together), live events, CLOSE. */
async function basic (url) {
  const { doc, res } = await nip11(url)
  for (const field of ['name', 'software']) {
    if (typeof doc[field] !== 'string' || doc[field] === '') fail(`NIP-11: "${field}" missing or not a non-empty string: ${JSON.stringify(doc[field])}`)
  }
  if (!Array.isArray(doc.supported_nips)) fail(`NIP-11: "supported_nips" is not an array: ${JSON.stringify(doc.supported_nips)}`)
  const missingNips = [1, 9, 11, 40, 42, 45].filter((n) => !doc.supported_nips.includes(n))
  if (missingNips.length) fail(`NIP-11: supported_nips ${JSON.stringify(doc.supported_nips)} lacks ${JSON.stringify(missingNips)} (numbers, not strings)`)
  pass(`NIP-11 document: name "${doc.name}", software "${doc.software}", supported_nips ${JSON.stringify(doc.supported_nips)}`)
  if (!res.headers.get('access-control-allow-origin')) fail('NIP-11: no Access-Control-Allow-Origin header (NIP-11: relays MUST accept CORS requests)')
  pass('NIP-11 answer carries Access-Control-Allow-Origin')
  const info = await within(fetchRelayInformation(url), WAIT_MS, 'nostr-tools fetchRelayInformation')
  if (info.name !== doc.name) fail(`nostr-tools fetchRelayInformation read name ${JSON.stringify(info.name)}, not ${JSON.stringify(doc.name)}`)
  pass('nostr-tools nip11.fetchRelayInformation reads the same document')

  const T = `kith-${unique()}`
  const k1 = newKey()
  const k2 = newKey()
  const now = nowSec()
  const a1 = named('a1', sign(k1, { created_at: now - 50, tags: [['t', T]], content: 'a1' }))
  const a2 = named('a2', sign(k1, { created_at: now - 40, tags: [['p', k2.pk]], content: 'a2' }))
  const a3 = named('a3', sign(k1, { created_at: now - 30, tags: [['t', `other-${T}`]], content: 'a3' }))
  const b0 = named('b0', sign(k2, { created_at: now - 60, content: 'b0' }))
  const b1 = named('b1', sign(k2, { created_at: now - 45, tags: [['t', T], ['p', k1.pk]], content: 'b1' }))
  const b2 = named('b2', sign(k2, { created_at: now - 35, tags: [['p', k1.pk]], content: 'b2' }))
  const b3 = named('b3', sign(k2, { created_at: now - 20, content: 'b3' }))
  const b4 = named('b4', sign(k2, { created_at: now - 10, content: 'b4' }))
  const all = [a1, a2, a3, b0, b1, b2, b3, b4]

  const w = await connect(url, 'the writer connection')
  for (const ev of all) await publishOk(w, ev, `publishing ${nameOf(ev.id)}`)
  pass(`published ${all.length} kind-1 events from two keys (OK true for each)`)
  const again = await publish(w, a1, 'publishing a1 a second time')
  if (!again.ok && !again.message.startsWith('duplicate:')) fail(`publishing a1 again: OK false "${again.message}" (expected OK true, or false with a "duplicate:" prefix)`)
  pass(`publishing a duplicate answers OK ${again.ok} "${again.message}"`)

  const r = await connect(url, 'the reader connection')
  await expectQuery(r, [{ authors: [k1.pk] }], [a1, a2, a3], 'REQ {authors:[k1]}')
  pass('REQ {authors:[k1]} returns exactly a1, a2, a3')
  await expectQuery(r, [{ kinds: [1], '#t': [T] }], [a1, b1], 'REQ {kinds:[1], #t:[T]}')
  pass('REQ {kinds:[1], #t} returns exactly a1, b1')
  await expectQuery(r, [{ kinds: [1], '#p': [k1.pk] }], [b1, b2], 'REQ {kinds:[1], #p:[k1]}')
  pass('REQ {kinds:[1], #p} returns exactly b1, b2')
  await expectQuery(r, [{ '#t': [T, `other-${T}`] }], [a1, a3, b1], 'REQ {#t:[T, other-T]}')
  pass('REQ with two #t values returns the events with either (a1, a3, b1)')
  await expectQuery(r, [{ ids: [b2.id, b0.id] }], [b0, b2], 'REQ {ids:[b2, b0]}')
  pass('REQ {ids} returns exactly those events')
  await expectQuery(r, [{ authors: [k2.pk], since: now - 40, until: now - 15 }], [b2, b3], 'REQ {authors:[k2], since, until}')
  pass('REQ {since, until} returns exactly the events inside the window (bounds inclusive)')
  await expectQuery(r, [{ authors: [k2.pk], since: now - 35, until: now - 35 }], [b2], 'REQ {authors:[k2], since = until = created_at of b2}')
  pass('REQ {since, until} bounds are inclusive')
  const limited = await expectQuery(r, [{ authors: [k2.pk], limit: 2 }], [b4, b3], 'REQ {authors:[k2], limit:2}')
  if (limited[0].id !== b4.id) fail(`REQ {limit:2}: expected newest first [b4, b3], got ${list(limited.map((e) => e.id))}`)
  pass('REQ {limit:2} returns the 2 newest, newest first')

  const union = [
    { authors: [k1.pk] },
    { kinds: [1], '#t': [T] },
    { ids: [b2.id] },
    { authors: [k2.pk], since: now - 40, until: now - 15 },
    { authors: [k2.pk], limit: 2 }
  ]
  await expectQuery(r, union, [a1, a2, a3, b1, b2, b3, b4], 'one REQ with five filters')
  pass('one REQ with five filters returns their union (a1 a2 a3 b1 b2 b3 b4, not b0), each event once')

  const pool = new SimplePool()
  try {
    const viaPool = await within(pool.querySync([url], { authors: [k2.pk] }, { maxWait: WAIT_MS }), WAIT_MS + 1000, 'SimplePool.querySync')
    sameSet(viaPool, [b0, b1, b2, b3, b4], 'SimplePool.querySync {authors:[k2]}')
    pass('SimplePool.querySync returns the same events')
    const p = named('p1', sign(k2, { tags: [['t', `pool-${T}`]], content: 'via pool' }))
    const [published] = pool.publish([url], p)
    await within(published, WAIT_MS + 1000, 'SimplePool.publish').catch((err) => {
      if (err instanceof CheckFailed) throw err
      fail(`SimplePool.publish was refused: ${err instanceof Error ? err.message : String(err)}`)
    })
    await expectQuery(r, [{ '#t': [`pool-${T}`] }], [p], 'REQ for the event published through SimplePool')
    pass('SimplePool.publish stores the event')
  } finally {
    pool.destroy()
  }

  // Live events after EOSE.
  const match = openSub(r, [{ kinds: [1], '#t': [T] }], 'the matching live subscription')
  const other = openSub(r, [{ kinds: [1], '#t': [T] }], 'a second matching live subscription')
  const none = openSub(r, [{ kinds: [1], '#t': [`none-${T}`] }], 'the non-matching live subscription')
  await Promise.all([match.ready, other.ready, none.ready])
  sameSet(match.events, [a1, b1], 'the stored events before EOSE of the matching live subscription')
  sameSet(none.events, [], 'the stored events before EOSE of the non-matching live subscription')
  const a4 = named('a4', sign(k1, { tags: [['t', T]], content: 'a4 live' }))
  await publishOk(w, a4, 'publishing a4 while subscriptions are open')
  await until(() => match.events.some((e) => e.id === a4.id), WAIT_MS, 'a4 to arrive live on the matching subscription')
  await sleep(QUIET_MS)
  if (match.invalid.length || none.invalid.length) fail('a live event failed verification or matched no filter')
  sameSet(match.events, [a1, b1, a4], 'the matching live subscription after a4')
  sameSet(none.events, [], 'the non-matching live subscription after a4')
  pass('an event published after EOSE arrives live once on the matching subscription, not on the non-matching one')

  match.sub.close()
  await barrier(r, 'after CLOSE')
  const a5 = named('a5', sign(k1, { tags: [['t', T]], content: 'a5 after close' }))
  await publishOk(w, a5, 'publishing a5 after CLOSE')
  await until(() => other.events.some((e) => e.id === a5.id), WAIT_MS, 'a5 to arrive live on the subscription that stayed open')
  await sleep(QUIET_MS)
  const leaked = r.frames.filter((f) => {
    try {
      const v = JSON.parse(f)
      return v[0] === 'EVENT' && v[1] === match.sub.id
    } catch { return false }
  }).map((f) => JSON.parse(f)[2].id)
  if (leaked.includes(a5.id)) fail(`CLOSE: the relay still sent a5 on the closed subscription "${match.sub.id}"`)
  pass('after CLOSE the subscription receives nothing (a5 went only to the one still open)')
}

/** Replaceable (0, 3, 10002), addressable (30023) and ephemeral (20001) kinds. */
async function replaceable (url) {
  const k = newKey()
  const now = nowSec()
  const w = await connect(url, 'the writer connection')
  const r = await connect(url, 'the reader connection')

  const p1 = named('profile-old', sign(k, { kind: 0, created_at: now - 100, content: JSON.stringify({ name: 'old' }) }))
  const p2 = named('profile-new', sign(k, { kind: 0, created_at: now - 50, content: JSON.stringify({ name: 'new' }) }))
  await publishOk(w, p1, 'publishing kind 0 (older)')
  await publishOk(w, p2, 'publishing kind 0 (newer)')
  await expectQuery(r, [{ kinds: [0], authors: [k.pk] }], [p2], 'REQ kind 0 after two versions')
  pass('kind 0 published twice: REQ returns only the newer')
  const p0 = named('profile-older-late', sign(k, { kind: 0, created_at: now - 200, content: JSON.stringify({ name: 'oldest' }) }))
  const late = await publish(w, p0, 'publishing an even older kind 0 after the newer')
  await expectQuery(r, [{ kinds: [0], authors: [k.pk] }], [p2], 'REQ kind 0 after an older version arrived late')
  await expectQuery(r, [{ ids: [p1.id, p0.id] }], [], 'REQ by id for the replaced kind 0 versions')
  pass(`an older kind 0 published late (OK ${late.ok} "${late.message}") does not replace the newer; replaced versions are gone by id too`)

  // NIP-01: same created_at -> the lowest id is retained, in either order.
  for (const order of ['higher id first', 'lower id first']) {
    const kt = newKey()
    const t = now - 20
    const c = [
      sign(kt, { kind: 3, created_at: t, tags: [['p', k.pk]], content: 'x' }),
      sign(kt, { kind: 3, created_at: t, tags: [['p', k.pk]], content: 'y' })
    ].sort((x, y) => (x.id < y.id ? -1 : 1))
    named('contacts-lower-id', c[0])
    named('contacts-higher-id', c[1])
    const sequence = order === 'higher id first' ? [c[1], c[0]] : [c[0], c[1]]
    for (const ev of sequence) await publish(w, ev, `publishing kind 3 ${nameOf(ev.id)} (${order})`)
    await expectQuery(r, [{ kinds: [3], authors: [kt.pk] }], [c[0]], `REQ kind 3 with two versions of the same created_at (${order})`)
  }
  pass('two kind 3 versions with the same created_at: the lower id is kept, whichever came first')

  const l1 = named('relays-old', sign(k, { kind: 10002, created_at: now - 90, tags: [['r', 'wss://a.example']] }))
  const l2 = named('relays-new', sign(k, { kind: 10002, created_at: now - 80, tags: [['r', 'wss://b.example']] }))
  await publishOk(w, l1, 'publishing kind 10002 (older)')
  await publishOk(w, l2, 'publishing kind 10002 (newer)')
  await expectQuery(r, [{ kinds: [10002], authors: [k.pk] }], [l2], 'REQ kind 10002 after two versions')
  pass('kind 10002 (replaceable range 10000-19999) keeps only the newer')

  const da1 = named('article-a-old', sign(k, { kind: 30023, created_at: now - 100, tags: [['d', 'a']], content: 'a v1' }))
  const da2 = named('article-a-new', sign(k, { kind: 30023, created_at: now - 50, tags: [['d', 'a']], content: 'a v2' }))
  const db = named('article-b', sign(k, { kind: 30023, created_at: now - 80, tags: [['d', 'b']], content: 'b' }))
  for (const ev of [da1, db, da2]) await publishOk(w, ev, `publishing ${nameOf(ev.id)}`)
  await expectQuery(r, [{ kinds: [30023], authors: [k.pk] }], [da2, db], 'REQ kind 30023 by author')
  await expectQuery(r, [{ kinds: [30023], authors: [k.pk], '#d': ['a'] }], [da2], 'REQ kind 30023 #d:[a]')
  pass('kind 30023: d=a twice and d=b once -> 2 events, the newer for d=a')
  const other = newKey()
  const dOther = named('article-a-other-author', sign(other, { kind: 30023, created_at: now - 10, tags: [['d', 'a']], content: 'other author' }))
  await publishOk(w, dOther, 'publishing kind 30023 d=a by another key')
  await expectQuery(r, [{ kinds: [30023], authors: [k.pk], '#d': ['a'] }], [da2], 'REQ kind 30023 #d:[a] of the first author')
  pass('the same d tag from another key does not replace the first author\'s event')

  const live = openSub(r, [{ kinds: [20001], authors: [k.pk] }], 'the subscription for kind 20001')
  await live.ready
  sameSet(live.events, [], 'stored kind 20001 events before EOSE')
  const eph = named('ephemeral', sign(k, { kind: 20001, content: 'ephemeral' }))
  await publishOk(w, eph, 'publishing ephemeral kind 20001')
  await until(() => live.events.some((e) => e.id === eph.id), WAIT_MS, 'the ephemeral event to arrive live')
  pass('ephemeral kind 20001 is delivered live to an open subscription')
  live.sub.close()
  const r2 = await connect(url, 'a new reader connection')
  await expectQuery(r2, [{ kinds: [20001], authors: [k.pk] }], [], 'REQ kind 20001 after it was published')
  await expectQuery(r2, [{ ids: [eph.id] }], [], 'REQ by id for the ephemeral event')
  pass('the ephemeral event is never returned by a later REQ')
}

/** NIP-09 deletion by e tag and by a tag; only the author may delete. */
async function deletion (url) {
  const alice = newKey()
  const mallory = newKey()
  const T = `kith-${unique()}`
  const now = nowSec()
  const w = await connect(url, 'the writer connection')
  const r = await connect(url, 'the reader connection')

  const t1 = named('target', sign(alice, { created_at: now - 100, tags: [['t', T]], content: 'to be deleted' }))
  const t2 = named('kept', sign(alice, { created_at: now - 90, tags: [['t', T]], content: 'stays' }))
  await publishOk(w, t1, 'publishing the target note')
  await publishOk(w, t2, 'publishing the note that stays')
  await expectQuery(r, [{ '#t': [T] }], [t1, t2], 'REQ before deletion')

  const del = named('deletion-e', sign(alice, { kind: 5, created_at: now - 80, tags: [['e', t1.id], ['k', '1']], content: 'oops' }))
  await publishOk(w, del, 'publishing the kind 5 deletion by the author')
  await expectQuery(r, [{ ids: [t1.id] }], [], 'REQ by id for the deleted note')
  await expectQuery(r, [{ '#t': [T] }], [t2], 'REQ #t after deletion')
  pass('kind 5 with an e tag by the author: the target is no longer returned')
  await expectQuery(r, [{ kinds: [5], authors: [alice.pk] }], [del], 'REQ for the deletion request itself')
  pass('the deletion request itself is stored and returned')
  const re = await publish(w, t1, 'republishing the deleted note')
  if (re.ok) fail(`republishing the deleted note: OK true "${re.message}" (expected OK false)`)
  await expectQuery(r, [{ ids: [t1.id] }], [], 'REQ by id for the deleted note after it was republished')
  pass(`republishing the deleted note is refused (OK false "${re.message}") and it stays gone`)

  const mdel = named('deletion-by-other', sign(mallory, { kind: 5, created_at: now - 70, tags: [['e', t2.id]], content: '' }))
  const m = await publish(w, mdel, 'publishing a kind 5 by another key for Alice\'s note')
  await expectQuery(r, [{ ids: [t2.id] }], [t2], 'REQ for the note another key tried to delete')
  pass(`a kind 5 by a different key (OK ${m.ok}) does not delete`)

  const dArt = `art-${T}`
  const dKeep = `keep-${T}`
  const art = named('article', sign(alice, { kind: 30023, created_at: now - 100, tags: [['d', dArt]], content: 'article' }))
  const keep = named('article-kept', sign(alice, { kind: 30023, created_at: now - 100, tags: [['d', dKeep]], content: 'other article' }))
  await publishOk(w, art, 'publishing a kind 30023')
  await publishOk(w, keep, 'publishing a second kind 30023')
  const mdelA = named('a-deletion-by-other', sign(mallory, { kind: 5, created_at: now - 70, tags: [['a', `30023:${alice.pk}:${dKeep}`]] }))
  const ma = await publish(w, mdelA, 'publishing an a-tag kind 5 by another key')
  await expectQuery(r, [{ kinds: [30023], authors: [alice.pk] }], [art, keep], 'REQ kind 30023 after another key\'s a-tag deletion')
  pass(`an a-tag deletion by a different key (OK ${ma.ok}) does not delete`)
  const adel = named('deletion-a', sign(alice, { kind: 5, created_at: now - 60, tags: [['a', `30023:${alice.pk}:${dArt}`], ['k', '30023']] }))
  await publishOk(w, adel, 'publishing the a-tag kind 5 by the author')
  await expectQuery(r, [{ kinds: [30023], authors: [alice.pk] }], [keep], 'REQ kind 30023 after the a-tag deletion')
  pass('kind 5 with an a tag (30023:<pubkey>:<d>) deletes that coordinate only')
  const older = named('article-older-than-deletion', sign(alice, { kind: 30023, created_at: now - 65, tags: [['d', dArt]], content: 'older' }))
  const o = await publish(w, older, 'publishing a version of the deleted coordinate older than the deletion')
  await expectQuery(r, [{ kinds: [30023], authors: [alice.pk], '#d': [dArt] }], [], 'REQ for the deleted coordinate after an older version')
  pass(`a version older than the a-tag deletion stays deleted (OK ${o.ok} "${o.message}")`)
  const newer = named('article-newer-than-deletion', sign(alice, { kind: 30023, created_at: now - 30, tags: [['d', dArt]], content: 'v2' }))
  await publishOk(w, newer, 'publishing a version of the deleted coordinate newer than the deletion')
  await expectQuery(r, [{ kinds: [30023], authors: [alice.pk], '#d': [dArt] }], [newer], 'REQ for the coordinate after a newer version')
  pass('a version newer than the a-tag deletion is accepted and returned (NIP-09: up to the deletion\'s created_at)')
}

/** NIP-40 expiration. */
async function expiration (url) {
  const k = newKey()
  const T = `kith-${unique()}`
  const now = nowSec()
  const w = await connect(url, 'the writer connection')
  const r = await connect(url, 'the reader connection')

  const past = named('expired', sign(k, { created_at: now - 20, tags: [['expiration', String(now - 10)], ['t', T]], content: 'already expired' }))
  const p = await publish(w, past, 'publishing an event whose expiration is in the past')
  if (p.ok) fail(`an already expired event was accepted: OK true "${p.message}" (expected OK false "invalid: ...")`)
  if (!p.message.startsWith('invalid:')) fail(`an already expired event: OK false "${p.message}" lacks the "invalid:" prefix`)
  await expectQuery(r, [{ ids: [past.id] }], [], 'REQ by id for the refused expired event')
  pass(`an event with expiration in the past is refused: OK false "${p.message}"`)

  const exp = nowSec() + 3
  const soon = named('expires-soon', sign(k, { tags: [['expiration', String(exp)], ['t', T]], content: 'expires soon' }))
  const far = named('expires-later', sign(k, { tags: [['expiration', String(exp + 3600)], ['t', T]], content: 'expires in an hour' }))
  await publishOk(w, soon, 'publishing an event expiring in ~3 s')
  await publishOk(w, far, 'publishing an event expiring in an hour')
  if (nowSec() >= exp) fail('too slow: the event expired before we could query it (publishing took over 2 s)')
  await expectQuery(r, [{ '#t': [T] }], [soon, far], 'REQ before the expiration')
  pass('an event expiring in ~3 s is returned before it expires')
  await sleep(Math.max(0, (exp + 1) * 1000 - Date.now()) + 200)
  await expectQuery(r, [{ '#t': [T] }], [far], 'REQ after the expiration')
  await expectQuery(r, [{ ids: [soon.id] }], [], 'REQ by id after the expiration')
  pass('after its expiration the event is no longer returned (the unexpired one still is)')
}

/** NIP-45 COUNT, through nostr-tools and raw. */
async function count (url) {
  const k = newKey()
  const stranger = newKey()
  const T = `kith-${unique()}`
  const now = nowSec()
  const w = await connect(url, 'the writer connection')
  const notes = []
  for (let i = 0; i < 5; i++) notes.push(named(`note${i}`, sign(k, { created_at: now - 100 + i, tags: [['t', T]], content: `note ${i}` })))
  const reactions = []
  for (let i = 0; i < 3; i++) reactions.push(named(`reaction${i}`, sign(k, { kind: 7, created_at: now - 90 + i, tags: [['e', notes[0].id], ['p', k.pk], ['t', T]], content: '+' })))
  for (const ev of [...notes, ...reactions]) await publishOk(w, ev, `publishing ${nameOf(ev.id)}`)
  pass('published 5 kind-1 notes and 3 kind-7 reactions')

  const c = await connect(url, 'the counting connection')
  const cases = [
    [[{ authors: [k.pk] }], 8, 'all events of the author'],
    [[{ kinds: [1], authors: [k.pk] }], 5, 'the notes'],
    [[{ kinds: [7], '#e': [notes[0].id] }], 3, 'the reactions to note0'],
    [[{ authors: [k.pk], since: notes[2].created_at }], 6, 'since note2 (3 notes + 3 reactions)'],
    [[{ kinds: [1], authors: [k.pk] }, { kinds: [7], authors: [k.pk] }], 8, 'two disjoint filters'],
    [[{ authors: [k.pk] }, { '#t': [T] }], 8, 'two overlapping filters (each event counted once)'],
    [[{ authors: [stranger.pk] }], 0, 'a key with no events']
  ]
  for (const [filters, want, what] of cases) {
    let got
    try {
      got = await within(c.count(filters), WAIT_MS, `the COUNT answer for ${what}${noticesOf(c)}`)
    } catch (err) {
      if (err instanceof CheckFailed) throw err
      fail(`COUNT ${JSON.stringify(filters)} (${what}) was refused: ${err instanceof Error ? err.message : String(err)}`)
    }
    if (got !== want) fail(`COUNT ${JSON.stringify(filters)} (${what}): expected ${want}, got ${JSON.stringify(got)}`)
  }
  pass(`nostr-tools relay.count gives the right number for ${cases.length} filter sets (incl. overlapping filters and zero)`)

  const raw = await Raw.open(url, 'a raw connection')
  const from = raw.mark()
  raw.send(['COUNT', 'cnt-raw', { kinds: [1], authors: [k.pk] }])
  const { frame } = await raw.waitFor((f) => f[1] === 'cnt-raw', 'the answer to ["COUNT","cnt-raw",{kinds:[1],authors:[k]}]', { from })
  if (frame[0] !== 'COUNT' || frame.length !== 3 || typeof frame[2] !== 'object' || frame[2] === null) {
    fail(`raw COUNT: expected ["COUNT","cnt-raw",{"count":5}], got ${JSON.stringify(frame)}`)
  }
  if (frame[2].count !== 5) fail(`raw COUNT: expected count 5, got ${JSON.stringify(frame)}`)
  if (frame[2].approximate === true) fail(`raw COUNT: an exact count was expected for 5 events, got approximate: ${JSON.stringify(frame)}`)
  pass(`raw COUNT answers ${JSON.stringify(frame)}`)
  raw.close()
}

/** NIP-42: DMs (kind 4) and gift wraps (kind 1059) only to authenticated parties. */
async function auth (url) {
  const alice = newKey()
  const bob = newKey()
  const carol = newKey()
  const now = nowSec()

  const a = await connect(url, "Alice's connection")
  const dm = named('dm', sign(alice, { kind: 4, created_at: now - 10, tags: [['p', bob.pk]], content: nip04Encrypt(alice.sk, bob.pk, 'hi bob') }))
  const wrap = named('giftwrap', wrapEvent({ kind: 14, content: 'hi bob, sealed', tags: [['p', bob.pk]] }, alice.sk, bob.pk))
  let aliceAuthed = false
  for (const ev of [dm, wrap]) {
    let res = await publish(a, ev, `Alice publishing ${nameOf(ev.id)} to Bob`)
    if (!res.ok && res.message.startsWith('auth-required:') && !aliceAuthed) {
      await authAs(a, alice, 'Alice')
      aliceAuthed = true
      res = await publish(a, ev, `Alice publishing ${nameOf(ev.id)} to Bob after AUTH`)
    }
    if (!res.ok) fail(`Alice publishing ${nameOf(ev.id)} to Bob: OK false "${res.message}"`)
  }
  pass(`Alice published a kind 4 DM and a kind 1059 gift wrap to Bob${aliceAuthed ? ' (after AUTH, which the relay asked for)' : ''}`)

  const anon = await connect(url, 'an unauthenticated connection')
  const challenge = await challengeOf(anon)
  pass(`the relay sends ["AUTH", "${challenge}"] on connect`)
  const hidden = [dm.id, wrap.id]
  const anonFilters = [
    [{ kinds: [4], '#p': [bob.pk] }],
    [{ kinds: [1059], '#p': [bob.pk] }],
    [{ '#p': [bob.pk] }],
    [{ authors: [alice.pk] }],
    [{ ids: hidden }]
  ]
  for (const filters of anonFilters) {
    const res = await query(anon, filters, `unauthenticated REQ ${JSON.stringify(filters)}`)
    if (res.closed !== null && !res.closed.startsWith('auth-required:')) {
      fail(`unauthenticated REQ ${JSON.stringify(filters)}: CLOSED "${res.closed}" (expected EOSE, or CLOSED with an "auth-required:" prefix)`)
    }
    const leaked = res.events.filter((e) => hidden.includes(e.id))
    if (leaked.length) fail(`unauthenticated REQ ${JSON.stringify(filters)} returned ${list(leaked.map((e) => e.id))}`)
  }
  pass('unauthenticated REQs (by kind 4/1059 + #p, by #p, by author, by id) return no DM and no gift wrap')
  try {
    const n = await within(anon.count([{ kinds: [4], '#p': [bob.pk] }]), WAIT_MS, 'the answer to an unauthenticated COUNT of Bob\'s DMs')
    if (n !== 0) fail(`an unauthenticated COUNT of Bob's DMs answers ${n} (expected 0 or CLOSED "auth-required: ...")`)
  } catch (err) {
    if (err instanceof CheckFailed) throw err
  }
  pass('an unauthenticated COUNT of Bob\'s DMs reveals nothing')

  const b = await connect(url, "Bob's connection")
  await authAs(b, bob, 'Bob')
  pass('Bob authenticates with nostr-tools relay.auth (kind 22242, relay and challenge tags)')
  await expectQuery(b, [{ kinds: [4], '#p': [bob.pk] }], [dm], "Bob's authenticated REQ for his kind 4 DMs")
  await expectQuery(b, [{ kinds: [1059], '#p': [bob.pk] }], [wrap], "Bob's authenticated REQ for his gift wraps")
  pass('after AUTH, Bob gets the DM and the gift wrap addressed to him')

  const c = await connect(url, "Carol's connection")
  const cChallenge = await challengeOf(c)
  const badAuths = [
    ['a wrong challenge', makeAuthEvent(c.url, `not-${cChallenge}`)],
    ['another relay\'s URL', makeAuthEvent('wss://relay.example.invalid/', cChallenge)],
    ['a created_at one hour old', { ...makeAuthEvent(c.url, cChallenge), created_at: nowSec() - 3600 }]
  ]
  for (const [what, template] of badAuths) {
    const ev = finalizeEvent(template, carol.sk)
    const res = await sendAuthFrame(c, ev, `an AUTH with ${what}`)
    if (res.ok) fail(`an AUTH event with ${what} was accepted (OK true "${res.message}")`)
  }
  pass('AUTH events with a wrong challenge, another relay URL or an old created_at are refused (OK false)')
  await authAs(c, carol, 'Carol')
  for (const filters of [[{ kinds: [4], '#p': [bob.pk] }], [{ kinds: [1059], '#p': [bob.pk] }], [{ ids: hidden }]]) {
    const res = await query(c, filters, `Carol's authenticated REQ ${JSON.stringify(filters)}`)
    const leaked = res.events.filter((e) => hidden.includes(e.id))
    if (leaked.length) fail(`Carol (authenticated, neither author nor recipient) got ${list(leaked.map((e) => e.id))} for ${JSON.stringify(filters)}`)
  }
  pass('after AUTH as Carol (a third key), Bob\'s DM and gift wrap stay hidden')

  const a2 = await connect(url, "Alice's second connection")
  await authAs(a2, alice, 'Alice')
  await expectQuery(a2, [{ kinds: [4], '#p': [bob.pk] }], [dm], "Alice's authenticated REQ for the DM she sent")
  await expectQuery(a2, [{ kinds: [4], authors: [alice.pk] }], [dm], "Alice's authenticated REQ for her kind 4 by author")
  const own = await query(a2, [{ kinds: [1059], '#p': [bob.pk] }], "Alice's authenticated REQ for Bob's gift wraps")
  if (own.events.some((e) => e.id === wrap.id)) fail('Alice got Bob\'s gift wrap although it is signed by a random key and addressed to Bob')
  pass('after AUTH, Alice gets her own DM (author), but not the gift wrap (signed by a random key, for Bob)')

  // Live delivery follows the same rule.
  const liveAnon = openSub(anon, [{ kinds: [4], '#p': [bob.pk] }], 'an unauthenticated live subscription for Bob\'s DMs')
  liveAnon.ready.catch(() => {}) // CLOSED "auth-required: ..." is fine here
  await within(new Promise((resolve) => {
    const t = setInterval(() => { if (liveAnon.eose || liveAnon.closed !== null) { clearInterval(t); resolve() } }, 10)
  }), WAIT_MS, 'EOSE or CLOSED of the unauthenticated live subscription')
  const liveBob = openSub(b, [{ kinds: [4], '#p': [bob.pk] }], "Bob's live subscription for his DMs")
  await liveBob.ready
  const dm2 = named('dm2', sign(alice, { kind: 4, tags: [['p', bob.pk]], content: nip04Encrypt(alice.sk, bob.pk, 'again') }))
  await publishOk(a2, dm2, 'Alice publishing a second DM while subscriptions are open')
  await until(() => liveBob.events.some((e) => e.id === dm2.id), WAIT_MS, 'the second DM to reach Bob live')
  await sleep(QUIET_MS)
  if (liveAnon.events.some((e) => e.id === dm2.id)) fail('a DM published later was delivered live to an unauthenticated subscription')
  pass('a DM published later reaches Bob live and not the unauthenticated subscription')
}

/** Malformed input, forged events, oversize messages and limits, over a raw socket. */
async function bad (url) {
  const { doc } = await nip11(url)
  const maxLimit = doc.limitation?.max_limit
  if (!Number.isInteger(maxLimit) || maxLimit <= 0) fail(`NIP-11: limitation.max_limit missing or not a positive integer: ${JSON.stringify(doc.limitation)}`)
  pass(`NIP-11 limitation.max_limit = ${maxLimit}`)
  const k = newKey()

  const raw = await Raw.open(url, 'the raw connection')
  const malformed = [
    'this is not json',
    '{"not":"an array"}',
    '["NOSUCHVERB","x"]',
    '["EVENT","not an event"]',
    '["REQ"]',
    '[]'
  ]
  for (const text of malformed) {
    const from = raw.mark()
    raw.send(text)
    await raw.waitFor(
      (f) => f[0] === 'NOTICE' || f[0] === 'CLOSED' || (f[0] === 'OK' && f[2] === false),
      `a NOTICE (or CLOSED / OK false) answering the malformed message ${text}`,
      { from }
    )
    const ping = await raw.query(`ping-${from}`, [{ ids: ['0'.repeat(64)] }], `a REQ after sending ${text}`)
    if (ping.closed !== null) fail(`after the malformed message ${text}, a plain REQ got CLOSED "${ping.closed}"`)
  }
  pass(`${malformed.length} malformed messages each get a NOTICE and the connection stays usable`)

  const base = sign(k, { content: 'will be tampered' })
  const wrongId = { ...base, content: 'tampered content' }
  const badSig = { ...sign(k, { content: 'bad signature' }) }
  badSig.sig = (badSig.sig[0] === '0' ? '1' : '0') + badSig.sig.slice(1)
  const other = newKey()
  const otherSigned = { kind: 1, created_at: nowSec(), tags: [], content: 'signed by another key', pubkey: k.pk }
  otherSigned.id = getEventHash(otherSigned)
  otherSigned.sig = finalizeEvent({ kind: 1, created_at: otherSigned.created_at, tags: [], content: 'x' }, other.sk).sig
  const forged = [['a wrong id', wrongId], ['a corrupted signature', badSig], ['a signature by another key', otherSigned]]
  for (const [what, ev] of forged) {
    const res = await raw.publish(ev, `an EVENT with ${what}`)
    if (res.ok) fail(`an EVENT with ${what} was accepted: OK true "${res.message}"`)
    if (!res.message.startsWith('invalid:')) fail(`an EVENT with ${what}: OK false "${res.message}" lacks the "invalid:" prefix`)
  }
  const forgedIds = forged.map(([, ev]) => ev.id)
  const stored = await raw.query('forged', [{ ids: forgedIds }, { authors: [k.pk] }], 'a REQ for the forged events')
  if (stored.events.length) fail(`forged events were stored: ${JSON.stringify(stored.events.map((e) => e.id))}`)
  pass('EVENTs with a wrong id, a corrupted signature or another key\'s signature: OK false "invalid: ...", nothing stored')

  // More events than max_limit (capped to keep the test short), from several
  // keys so that per-key rate limits do not slow this down, under one tag.
  const n = Math.min(maxLimit + 5, 1005)
  const bulkTag = `bulk-${unique()}`
  const many = []
  const t0 = nowSec() - 10 * n
  let bulkKey = newKey()
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % BULK_PER_KEY === 0) bulkKey = newKey()
    many.push(sign(bulkKey, { created_at: t0 + i, tags: [['t', bulkTag]], content: `bulk ${i}` }))
  }
  for (let i = 0; i < n; i += 50) await raw.publishAll(many.slice(i, i + 50), `bulk events ${i}..${Math.min(n, i + 50) - 1}`)
  pass(`published ${n} events tagged t=${bulkTag}`)
  const newestFirst = many.slice().reverse()
  const huge = await raw.query('huge', [{ '#t': [bulkTag], limit: 1_000_000 }], 'REQ {#t:[bulk], limit:1000000}', { ms: 15_000 })
  if (huge.closed !== null) fail(`REQ {limit:1000000}: CLOSED "${huge.closed}" (expected events up to max_limit, then EOSE)`)
  if (huge.events.length > maxLimit) fail(`REQ {limit:1000000} returned ${huge.events.length} events, over max_limit ${maxLimit}`)
  if (n > maxLimit) {
    if (huge.events.length !== maxLimit) fail(`REQ {limit:1000000} returned ${huge.events.length} of ${n} events, expected exactly max_limit ${maxLimit}`)
    const wantIds = newestFirst.slice(0, maxLimit).map((e) => e.id)
    const gotIds = huge.events.map((e) => e.id)
    if (gotIds.join() !== wantIds.join()) fail(`REQ {limit:1000000}: expected the ${maxLimit} newest, newest first; first got created_at ${huge.events.slice(0, 3).map((e) => e.created_at)}, last ${huge.events.slice(-2).map((e) => e.created_at)}`)
  }
  pass(`REQ {limit:1000000} returns ${huge.events.length} events (max_limit ${maxLimit}), the newest first`)
  const nolimit = await raw.query('nolimit', [{ '#t': [bulkTag] }], 'REQ {#t:[bulk]} without limit', { ms: 15_000 })
  if (nolimit.events.length > maxLimit) fail(`REQ without limit returned ${nolimit.events.length} events, over max_limit ${maxLimit}`)
  pass(`REQ without limit returns ${nolimit.events.length} events (at most max_limit)`)
  const from = raw.mark()
  raw.send(['REQ', 'zero-filters'])
  const { frame: zf, index: zi } = await raw.waitFor(
    (f) => ((f[0] === 'EOSE' || f[0] === 'CLOSED') && f[1] === 'zero-filters') || f[0] === 'NOTICE',
    'an answer (EOSE, CLOSED or NOTICE) to a REQ with zero filters',
    { from, ms: 15_000 }
  )
  const zeroEvents = raw.frames.slice(from, zi).filter((f) => f[0] === 'EVENT' && f[1] === 'zero-filters').length
  if (zeroEvents > maxLimit) fail(`a REQ with zero filters returned ${zeroEvents} events, over max_limit ${maxLimit}`)
  raw.send(['CLOSE', 'zero-filters'])
  pass(`a REQ with zero filters answers ${zf[0]} after ${zeroEvents} events`)

  const maxLen = doc.limitation?.max_message_length
  const size = Math.max(OVERSIZE_BYTES, Number.isInteger(maxLen) ? maxLen + 1024 : 0)
  const big = sign(k, { content: 'x'.repeat(size) })
  const rawBig = await Raw.open(url, 'the oversize connection')
  const bigFrom = rawBig.mark()
  rawBig.send(['EVENT', big])
  const bigAnswer = await rawBig.waitFor(
    (f) => f[0] === 'NOTICE' || (f[0] === 'OK' && f[1] === big.id),
    `an answer (NOTICE, OK false or closing the connection) to a ${Math.round(size / 1024)} KiB EVENT`,
    { from: bigFrom, closeOk: true }
  )
  if (bigAnswer.frame && bigAnswer.frame[0] === 'OK' && bigAnswer.frame[2] === true) fail(`a ${Math.round(size / 1024)} KiB EVENT was accepted: ${JSON.stringify(bigAnswer.frame)}`)
  const how = bigAnswer.closed ? `closed the connection (code ${bigAnswer.closed.code})` : `answered ${JSON.stringify(bigAnswer.frame).slice(0, 120)}`
  rawBig.close()
  const check = await connect(url, 'a checking connection')
  await expectQuery(check, [{ ids: [big.id] }], [], 'REQ by id for the oversize event')
  pass(`a ${Math.round(size / 1024)} KiB message is refused: the relay ${how}`)
  raw.close()

  const fresh = await connect(url, 'a fresh connection')
  const ev = named('after-abuse', sign(newKey(), { content: 'still fine' }))
  await publishOk(fresh, ev, 'publishing on a fresh connection after all that')
  await expectQuery(fresh, [{ ids: [ev.id] }], [ev], 'REQ on a fresh connection after all that')
  pass('a fresh connection still publishes and reads fine')
}

/** NIP-77 negentropy sync through nostr-tools' nip77. */
async function negentropy (url) {
  const k = newKey()
  const now = nowSec()
  const w = await connect(url, 'the writer connection')
  const onRelay = []
  for (let i = 0; i < 50; i++) onRelay.push(named(`stored${i}`, sign(k, { created_at: now - 1000 + 3 * i, content: `stored ${i}` })))
  for (let i = 0; i < onRelay.length; i += 10) {
    await Promise.all(onRelay.slice(i, i + 10).map((ev) => publishOk(w, ev, `publishing ${nameOf(ev.id)}`)))
  }
  pass('published 50 kind-1 events')
  const clientOnly = []
  for (let i = 0; i < 5; i++) clientOnly.push(named(`clientonly${i}`, sign(k, { created_at: now - 1000 + 3 * (10 * i) + 1, content: `client only ${i}` })))
  const held = onRelay.filter((_, i) => i % 5 < 3)
  const lacking = onRelay.filter((_, i) => i % 5 >= 3)
  const filter = { kinds: [1], authors: [k.pk] }

  async function sync (events, what) {
    const storage = new nip77.NegentropyStorageVector()
    for (const ev of events) storage.insert(ev.created_at, ev.id)
    storage.seal()
    const conn = await connect(url, `the negentropy connection (${what})`)
    const have = []
    const need = []
    const outcome = await within(new Promise((resolve) => {
      const s = new nip77.NegentropySync(conn, storage, filter, {
        onhave: (id) => have.push(id),
        onneed: (id) => need.push(id),
        onclose: (reason) => resolve(reason ? `closed: ${reason}` : null)
      })
      const handle = s.subscription.oncustom
      s.subscription.oncustom = (data) => {
        if (data[0] === 'NEG-ERR') resolve(`NEG-ERR ${JSON.stringify(data[2])}`)
        else handle(data)
      }
      s.subscription.onclose = (reason) => {
        if (reason !== 'closed by caller') resolve(`CLOSED ${JSON.stringify(reason)}`)
      }
      s.start()
    }), 10_000, `the NIP-77 reconciliation (${what}: NEG-OPEN then NEG-MSG rounds) to finish${noticesOf(conn)}`)
    if (outcome !== null) fail(`NIP-77 sync (${what}) failed: ${outcome}${noticesOf(conn)}`)
    conn.close()
    return { have, need }
  }

  const first = await sync([...held, ...clientOnly], 'client holds 30 of the 50 plus 5 of its own')
  sameSet(first.need.map((id) => ({ id })), lacking, 'NIP-77 "need" ids (on the relay, not on the client)')
  sameSet(first.have.map((id) => ({ id })), clientOnly, 'NIP-77 "have" ids (on the client, not on the relay)')
  pass('NIP-77 sync: the client learns the 20 events it lacks and the 5 the relay lacks')

  const r = await connect(url, 'the reader connection')
  await expectQuery(r, [{ ids: first.need }], lacking, 'REQ for the ids negentropy said we need')
  for (const ev of clientOnly) await publishOk(w, ev, `publishing ${nameOf(ev.id)}`)
  const second = await sync([...onRelay, ...clientOnly], 'client and relay hold the same 55')
  if (second.have.length || second.need.length) fail(`NIP-77 sync of equal sets: expected nothing, got have ${list(second.have)} need ${list(second.need)}`)
  pass('after exchanging the differences, a second NIP-77 sync finds nothing to transfer')
}

// ---------------------------------------------------------------------------

const SCENARIOS = { basic, replaceable, delete: deletion, expiration, count, auth, bad, negentropy }

process.on('unhandledRejection', (err) => {
  // nostr-tools leaves some internal promises unobserved; report, don't crash.
  process.stderr.write(`warning: unhandled rejection: ${err instanceof Error ? err.stack : String(err)}\n`)
})

const [url, name] = process.argv.slice(2)
if (!url || !Object.hasOwn(SCENARIOS, name ?? '')) {
  process.stderr.write(`usage: node client.mjs <ws://host:port> <${Object.keys(SCENARIOS).join('|')}>\n`)
  process.exit(2)
}
scenarioName = name
setTimeout(() => {
  process.stderr.write(`FAILED ${name}: the scenario did not finish within ${SCENARIO_MS} ms\n`)
  process.exit(1)
}, SCENARIO_MS).unref()

try {
  await SCENARIOS[name](url)
  process.stdout.write(`ok ${name}: all checks passed\n`)
  process.exit(0)
} catch (err) {
  const message = err instanceof Error ? err.message : String(err)
  process.stderr.write(`FAILED ${name}: ${message}\n`)
  if (!(err instanceof CheckFailed) && err instanceof Error) process.stderr.write(`${err.stack}\n`)
  process.exit(1)
}
