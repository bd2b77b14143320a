#!/usr/bin/env node
// A Nostr-only person for the Kith–Nostr bridge tests, written with
// nostr-tools (a library we did not write): publishes notes to a relay and
// reads events back, checking each signature with nostr-tools itself.
//
//   node bridge.mjs key                                  -> {"secret": hex, "pubkey": hex, "npub": …}
//   node bridge.mjs publish <ws-url> <secret-hex> <kind> <content> [tags-json]
//                                                        -> the signed event (JSON) once the relay said OK
//   node bridge.mjs send <ws-url> <event-json>          -> the event, once the relay said OK
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
