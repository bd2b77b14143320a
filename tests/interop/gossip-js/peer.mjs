#!/usr/bin/env node
// Kith interop peer: a js-libp2p gossipsub node (code we did not write) that a
// Rust test spawns to prove a Kith node interoperates with it.
//
//   node peer.mjs --dial <multiaddr-with-/p2p/> --topic <t> [--expect <n>]
//                 [--publish-hex <hex>] [--timeout-ms <ms>]
//   node peer.mjs --listen-only --topic <t> [--expect <n>] [--publish-hex <hex>]
//                 [--timeout-ms <ms>]
//
// Other options:
//   --ready-wait-ms <ms>  how long, after the dial, to wait for the remote's
//                         subscription before printing `ready` anyway
//                         (default 5000, never past the timeout)
//   --linger-ms <ms>      after publishing, stay up this long before exiting so
//                         the frame is flushed (default 500)
//
// stdout carries only JSON lines, one object each, with an "event" field:
//   {"event":"ready","mode":"dial"|"listen","peer_id":...,"listen":[...],
//    "remote":<peer id or null>,"remote_subscribed":true|false}
//   {"event":"peer_subscribed","peer_id":...,"topic":...}
//        (a peer subscribed to the topic after `ready` was printed)
//   {"event":"message","topic":...,"data_hex":...,"msg_id_hex":...,
//    "from":<propagation source>,"author":<signer peer id or null>}
//   {"event":"published","topic":...,"data_hex":...,"msg_id_hex":...,
//    "recipients":[...]}
//   {"event":"timeout"}                                   -> exit 2
// Exit 0 once `--expect` messages (default 1) arrived and, with --publish-hex,
// the message was published. Any error: text on stderr, exit 1.
//
// Only 127.0.0.1 is used: no bootstrap, no discovery, no DNS, no relay.

import './polyfills.mjs'

import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'

import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const USAGE = 'usage: node peer.mjs (--dial <multiaddr/p2p/..> | --listen-only) --topic <t> ' +
  '[--expect <n>] [--publish-hex <hex>] [--timeout-ms <ms>] [--ready-wait-ms <ms>] [--linger-ms <ms>]'

let finished = false
let node = null

function emit (obj) {
  // Pipes and files are written synchronously on Linux, so a line printed
  // right before process.exit() is not lost.
  process.stdout.write(JSON.stringify(obj) + '\n')
}

async function shutdown (code) {
  if (finished) return
  finished = true
  const n = node
  node = null
  if (n != null) {
    await Promise.race([
      n.stop().catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, 2000).unref())
    ])
  }
  process.exit(code)
}

class UsageError extends Error {}

function fail (err) {
  if (finished) return
  const msg = err instanceof UsageError
    ? err.message
    : err instanceof Error ? (err.stack ?? err.message) : String(err)
  process.stderr.write(`peer.mjs: error: ${msg}\n`)
  void shutdown(1)
}

process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)

function intOpt (values, name, dflt) {
  const v = values[name]
  if (v === undefined) return dflt
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}\n${USAGE}`)
  return Number(v)
}

function parseCli () {
  let values
  try {
    ({ values } = parseArgs({
      options: {
        dial: { type: 'string' },
        'listen-only': { type: 'boolean', default: false },
        topic: { type: 'string' },
        expect: { type: 'string' },
        'publish-hex': { type: 'string' },
        'timeout-ms': { type: 'string' },
        'ready-wait-ms': { type: 'string' },
        'linger-ms': { type: 'string' },
        help: { type: 'boolean', default: false }
      },
      strict: true,
      allowPositionals: false
    }))
  } catch (err) {
    throw new UsageError(`${err.message}\n${USAGE}`)
  }
  if (values.help) {
    process.stderr.write(USAGE + '\n')
    process.exit(0)
  }
  const listenOnly = values['listen-only']
  if (values.topic == null || values.topic === '') throw new UsageError(`--topic is required\n${USAGE}`)
  if (listenOnly === (values.dial != null)) throw new UsageError(`exactly one of --dial or --listen-only is required\n${USAGE}`)
  let dialAddr = null
  let remote = null
  if (!listenOnly) {
    try {
      dialAddr = multiaddr(values.dial)
    } catch (err) {
      throw new UsageError(`--dial is not a multiaddr: ${err.message}`)
    }
    remote = dialAddr.getPeerId()
    if (remote == null) throw new UsageError(`--dial address must end in /p2p/<peer id>: ${values.dial}`)
  }
  let publish = null
  if (values['publish-hex'] !== undefined) {
    const hex = values['publish-hex']
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new UsageError(`--publish-hex is not an even-length hex string: ${JSON.stringify(hex)}`)
    publish = Uint8Array.from(Buffer.from(hex, 'hex'))
  }
  return {
    listenOnly,
    dialAddr,
    remote,
    topic: values.topic,
    expect: intOpt(values, 'expect', 1),
    publish,
    timeoutMs: intOpt(values, 'timeout-ms', 20000),
    readyWaitMs: intOpt(values, 'ready-wait-ms', 5000),
    lingerMs: intOpt(values, 'linger-ms', 500)
  }
}

const hex = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('hex')

// Kith's message id: sha256(topic_utf8 || 0x00 || data), raw 32 bytes.
function kithMsgId (topic, data) {
  const digest = createHash('sha256')
    .update(Buffer.from(topic, 'utf8'))
    .update(Buffer.from([0]))
    .update(data)
    .digest()
  return new Uint8Array(digest)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function main () {
  const opts = parseCli()
  const deadline = Date.now() + opts.timeoutMs
  setTimeout(() => {
    if (finished) return
    emit({ event: 'timeout' })
    void shutdown(2)
  }, opts.timeoutMs)

  node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      // /ipfs/id/1.0.0 (gossipsub learns the remote's protocols from it) and
      // /ipfs/id/push/1.0.0, which rust-libp2p identify also speaks.
      identify: identify(),
      identifyPush: identifyPush(),
      pubsub: gossipsub({
        emitSelf: false,
        allowPublishToZeroTopicPeers: false,
        // Kith's settings on the Rust side: unsigned messages (Kith events
        // carry their own signatures), flood publish.
        globalSignaturePolicy: 'StrictNoSign',
        floodPublish: true,
        msgIdFn: (msg) => kithMsgId(msg.topic, msg.data)
      })
    }
  })
  const pubsub = node.services.pubsub
  const selfId = node.peerId.toString()
  const { topic } = opts

  let ready = false
  let received = 0
  let published = opts.publish == null
  const onSubscribed = [] // waiters: () => boolean (return true to remove)

  const isSubscriber = (id) => pubsub.getSubscribers(topic).some((p) => p.toString() === id)
  // A peer we can actually send to: it told us it is on the topic and our
  // outbound gossipsub stream to it is open (otherwise publish() would report
  // no recipients and keep the message id in its seen-cache).
  const canSendTo = (id) => isSubscriber(id) && pubsub.streamsOutbound.has(id)
  const targets = () => opts.remote != null
    ? (canSendTo(opts.remote) ? [opts.remote] : [])
    : pubsub.getSubscribers(topic).map((p) => p.toString()).filter(canSendTo)

  const checkDone = () => {
    if (!finished && ready && published && received >= opts.expect) {
      void shutdown(0)
    }
  }

  pubsub.addEventListener('subscription-change', (evt) => {
    const { peerId, subscriptions } = evt.detail
    for (const s of subscriptions) {
      if (s.topic === topic && s.subscribe && ready) {
        emit({ event: 'peer_subscribed', peer_id: peerId.toString(), topic })
      }
    }
  })

  pubsub.addEventListener('gossipsub:message', (evt) => {
    if (finished) return
    const { propagationSource, msg } = evt.detail
    if (msg.topic !== topic) return
    received++
    emit({
      event: 'message',
      topic: msg.topic,
      data_hex: hex(msg.data),
      msg_id_hex: hex(kithMsgId(msg.topic, msg.data)),
      from: propagationSource.toString(),
      author: msg.type === 'signed' ? msg.from.toString() : null
    })
    checkDone()
  })

  pubsub.subscribe(topic)

  const listen = node.getMultiaddrs().map((ma) => {
    const s = ma.toString()
    return s.includes('/p2p/') ? s : `${s}/p2p/${selfId}`
  })

  if (opts.listenOnly) {
    emit({ event: 'ready', mode: 'listen', peer_id: selfId, listen, remote: null, remote_subscribed: false })
    ready = true
  } else {
    await node.dial(opts.dialAddr, { signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) })
    const waitUntil = Math.min(deadline, Date.now() + opts.readyWaitMs)
    while (!isSubscriber(opts.remote) && Date.now() < waitUntil && !finished) {
      await sleep(25)
    }
    if (finished) return
    emit({
      event: 'ready',
      mode: 'dial',
      peer_id: selfId,
      listen,
      remote: opts.remote,
      remote_subscribed: isSubscriber(opts.remote)
    })
    ready = true
  }
  checkDone()

  if (opts.publish != null) {
    // Wait for a subscribed peer, then publish; retry while gossipsub still
    // says nobody on the topic can take it. The overall timeout ends this.
    for (;;) {
      if (finished) return
      if (targets().length === 0) {
        await sleep(25)
        continue
      }
      let res
      try {
        res = await pubsub.publish(topic, opts.publish)
      } catch (err) {
        if (String(err?.message).includes('NoPeersSubscribedToTopic')) {
          await sleep(100)
          continue
        }
        throw err
      }
      if (res.recipients.length === 0) {
        throw new Error('publish reached no recipient')
      }
      emit({
        event: 'published',
        topic,
        data_hex: hex(opts.publish),
        msg_id_hex: hex(kithMsgId(topic, opts.publish)),
        recipients: res.recipients.map((p) => p.toString())
      })
      break
    }
    // Give the muxer time to flush the frame before the node stops.
    await sleep(opts.lingerMs)
    published = true
    checkDone()
  }
}

main().catch(fail)
