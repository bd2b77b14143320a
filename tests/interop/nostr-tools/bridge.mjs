#!/usr/bin/env node
// A Nostr-only person for the Kith–Nostr bridge tests, written with
// nostr-tools (a library we did not write): publishes notes to a relay and
// reads events back, checking each signature with nostr-tools itself.
//
//   node bridge.mjs key                                  -> {"secret": hex, "pubkey": hex, "npub": …}
//   node bridge.mjs publish <ws-url> <secret-hex> <kind> <content> [tags-json]
//                                                        -> the signed event (JSON) once the relay said OK
//   node bridge.mjs send <ws-url> <event-json>          -> the event, once the relay said OK
//   node bridge.mjs dm <ws-url> <secret-hex> <recipient-hex> <text>
//                                                        -> a NIP-17 private message (kind 14 rumor,
//                                                           NIP-59 gift wrap for the recipient), sent;
//                                                           {"wrap": the kind 1059 event}
//   node bridge.mjs dms <ws-url> <secret-hex> [min-count] [timeout-ms]
//                                                        -> the NIP-17 messages gift-wrapped for the
//                                                           key, unwrapped: [{"from", "content", "tags"}]
//   node bridge.mjs query <ws-url> <filter-json> [min-count] [timeout-ms]
//                                                        -> a JSON array of the events, once at least
//                                                           min-count (default 0) matched; each has
//                                                           "verified": true|false
//
// Exit 1 with the reason on stderr when the relay refuses, or the wait runs out.

import WebSocket from 'ws'
import { nip19 } from 'nostr-tools'
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import * as nip17 from 'nostr-tools/nip17'

useWebSocketImplementation(WebSocket)
console.log = console.info = console.debug = (...args) => console.error(...args)

const hex = (bytes) => Buffer.from(bytes).toString('hex')
const unhex = (s) => Uint8Array.from(Buffer.from(s, 'hex'))
const out = (v) => process.stdout.write(JSON.stringify(v) + '\n')
const fail = (why) => {
  process.stderr.write(`FAILED: ${why}\n`)
  process.exit(1)
}

async function connect (url) {
  const relay = await Relay.connect(url)
  return relay
}

/** Events matching `filter` after EOSE. */
async function fetchOnce (relay, filter) {
  return await new Promise((resolve, reject) => {
    const events = []
    const timer = setTimeout(() => reject(new Error('no EOSE in 5 s')), 5000)
    const sub = relay.subscribe([filter], {
      onevent (e) { events.push(e) },
      oneose () {
        clearTimeout(timer)
        sub.close()
        resolve(events)
      }
    })
  })
}

const [cmd, ...args] = process.argv.slice(2)
try {
  if (cmd === 'key') {
    const sk = generateSecretKey()
    const pk = getPublicKey(sk)
    out({ secret: hex(sk), pubkey: pk, npub: nip19.npubEncode(pk) })
  } else if (cmd === 'publish') {
    const [url, secret, kind, content, tags] = args
    const event = finalizeEvent({
      kind: Number(kind),
      created_at: Math.floor(Date.now() / 1000),
      tags: tags ? JSON.parse(tags) : [],
      content
    }, unhex(secret))
    const relay = await connect(url)
    await relay.publish(event)
    relay.close()
    out(event)
  } else if (cmd === 'send') {
    const [url, json] = args
    const event = JSON.parse(json)
    const relay = await connect(url)
    await relay.publish(event)
    relay.close()
    out(event)
  } else if (cmd === 'dm') {
    const [url, secret, recipient, text] = args
    const wrap = nip17.wrapEvent(unhex(secret), { publicKey: recipient, relayUrl: url }, text)
    const relay = await connect(url)
    await relay.publish(wrap)
    relay.close()
    out({ wrap })
  } else if (cmd === 'dms') {
    const [url, secret, min, timeout] = args
    const me = getPublicKey(unhex(secret))
    const want = Number(min ?? 0)
    const deadline = Date.now() + Number(timeout ?? 20000)
    const relay = await connect(url)
    // Gift wraps are served only to their recipient once authenticated
    // (NIP-42); a relay that sends no challenge serves them as they are.
    for (let i = 0; i < 20 && !relay.challenge; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    if (relay.challenge) {
      await relay.auth(async (template) => finalizeEvent(template, unhex(secret)))
    }
    for (;;) {
      const wraps = await fetchOnce(relay, { kinds: [1059], '#p': [me] })
      const rumors = []
      for (const w of wraps) {
        if (!verifyEvent(w)) fail(`a gift wrap with a bad signature: ${w.id}`)
        const r = nip17.unwrapEvent(w, unhex(secret))
        rumors.push({ from: r.pubkey, content: r.content, tags: r.tags, kind: r.kind })
      }
      if (rumors.length >= want) {
        relay.close()
        out(rumors)
        break
      }
      if (Date.now() > deadline) {
        relay.close()
        fail(`${rumors.length} of ${want} private messages for ${me} on ${url}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
  } else if (cmd === 'query') {
    const [url, filter, min, timeout] = args
    const want = Number(min ?? 0)
    const deadline = Date.now() + Number(timeout ?? 20000)
    const relay = await connect(url)
    for (;;) {
      const events = await fetchOnce(relay, JSON.parse(filter))
      if (events.length >= want) {
        relay.close()
        out(events.map((e) => ({ ...e, verified: verifyEvent(e) })))
        break
      }
      if (Date.now() > deadline) {
        relay.close()
        fail(`${events.length} of ${want} events matching ${filter} on ${url}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
  } else {
    fail(`unknown command ${cmd}`)
  }
  process.exit(0)
} catch (e) {
  fail(e?.message ?? String(e))
}
