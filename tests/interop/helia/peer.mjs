#!/usr/bin/env node
// Kith interop peer: a Helia IPFS node (code we did not write) that a Rust test
// drives to prove a Kith node exchanges UnixFS files with it over bitswap.
//
//   node peer.mjs
//
// Helia here is `@helia/utils`' Helia class (what `createHelia` from the
// `helia` package builds), given a minimal libp2p: TCP on 127.0.0.1, noise,
// yamux, identify, ping; block broker: bitswap only; content routing: none (the
// only providers are the peers we are connected to); in-memory blockstore and
// datastore. No bootstrap, no DNS, no delegated routing, no DHT, no mDNS, no
// relay, no gateways.
//
// Long-lived: it reads commands from stdin, one JSON object a line, and
// answers on stdout, one JSON object a line, each with an "event" field.
// Answers echo the command's "id" (if any). It exits when stdin closes or on
// {"cmd":"stop"}.
//
// Printed by itself:
//   {"event":"ready","peer_id":...,"listen":[<multiaddr with /p2p/>...]}
//   {"event":"connected","peer_id":...}      (libp2p peer:connect)
//   {"event":"disconnected","peer_id":...}   (libp2p peer:disconnect)
// Commands and their answers:
//   {"cmd":"dial","addr":<multiaddr with /p2p/>,"timeout_ms":n}
//     -> {"event":"dialed","peer_id":...,"protocols":[<remote's, from identify>]}
//   {"cmd":"add_file","path":...}            (unixfs.addBytes of the file)
//     -> {"event":"added","cid":...,"size":n,"sha256":hex}
//   {"cmd":"cat","cid":...,"timeout_ms":n}   (unixfs.cat, blocks over bitswap)
//     -> {"event":"cat","cid":...,"size":n,"sha256":hex}
//   {"cmd":"hang_up","peer_id":...}
//     -> {"event":"hung_up","peer_id":...}
//   {"cmd":"stop"} -> exit 0
// A command that fails answers {"event":"error","cmd":...,"message":...}.
// Fatal errors: text on stderr, exit 1. Set DEBUG=libp2p:*,helia:* for logs
// (on stderr).

import './polyfills.mjs'

import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bitswap } from '@helia/block-brokers'
import { unixfs } from '@helia/unixfs'
import { Helia } from '@helia/utils'
import { identify } from '@libp2p/identify'
import { setMaxListeners } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'

let helia = null
let finished = false

function emit (obj) {
  // Pipes are written synchronously on Linux, so nothing printed right
  // before process.exit() is lost.
  process.stdout.write(JSON.stringify(obj) + '\n')
}

async function shutdown (code) {
  if (finished) return
  finished = true
  const h = helia
  helia = null
  if (h != null) {
    await Promise.race([
      h.stop().catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, 2000).unref())
    ])
  }
  process.exit(code)
}

function fatal (err) {
  if (finished) return
  const msg = err instanceof Error ? (err.stack ?? err.message) : String(err)
  process.stderr.write(`peer.mjs: error: ${msg}\n`)
  void shutdown(1)
}

process.on('uncaughtException', fatal)
process.on('unhandledRejection', fatal)

// A content router that finds nobody: bitswap asks the peers it is connected
// to, and nothing else (Helia's default routers would query the DHT and
// public delegated-routing and gateway endpoints).
const noRouting = {
  async * findProviders () {}
}

function timeoutSignal (cmd, dflt) {
  const ms = cmd.timeout_ms ?? dflt
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`timeout_ms must be a positive integer, got ${JSON.stringify(ms)}`)
  const signal = AbortSignal.timeout(ms)
  // Helia adds a listener per block fetched; silence Node's leak warning.
  setMaxListeners(Infinity, signal)
  return signal
}

async function run (fs, cmd) {
  switch (cmd.cmd) {
    case 'dial': {
      const addr = multiaddr(cmd.addr)
      const remote = addr.getPeerId()
      if (remote == null) throw new Error(`dial address must end in /p2p/<peer id>: ${cmd.addr}`)
      const signal = timeoutSignal(cmd, 20000)
      const libp2p = helia.libp2p
      // Wait for identify as Helia's bitswap does before it uses a peer: the
      // remote's protocols decide whether bitswap talks to it.
      const identified = new Promise((resolve, reject) => {
        const onIdentify = (evt) => {
          if (evt.detail.peerId.toString() !== remote) return
          libp2p.removeEventListener('peer:identify', onIdentify)
          resolve(evt.detail.protocols)
        }
        libp2p.addEventListener('peer:identify', onIdentify)
        signal.addEventListener('abort', () => {
          libp2p.removeEventListener('peer:identify', onIdentify)
          reject(new Error(`no identify from ${remote} before the timeout`))
        }, { once: true })
      })
      await libp2p.dial(addr, { signal })
      const protocols = await identified
      return { event: 'dialed', peer_id: remote, protocols }
    }
    case 'add_file': {
      const bytes = new Uint8Array(await readFile(cmd.path))
      const cid = await fs.addBytes(bytes)
      return { event: 'added', cid: cid.toString(), size: bytes.byteLength, sha256: sha256(bytes) }
    }
    case 'cat': {
      const cid = CID.parse(cmd.cid)
      const signal = timeoutSignal(cmd, 30000)
      const hash = createHash('sha256')
      let size = 0
      for await (const chunk of fs.cat(cid, { signal })) {
        hash.update(chunk)
        size += chunk.byteLength
      }
      return { event: 'cat', cid: cid.toString(), size, sha256: hash.digest('hex') }
    }
    case 'hang_up': {
      const peer = helia.libp2p.getPeers().find((p) => p.toString() === cmd.peer_id)
      if (peer == null) throw new Error(`not connected to ${cmd.peer_id}`)
      await helia.libp2p.hangUp(peer)
      return { event: 'hung_up', peer_id: cmd.peer_id }
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd.cmd)}`)
  }
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex')

// Helia races its block brokers and reports an AggregateError ("All promises
// were rejected"); name the causes.
function describe (err) {
  if (!(err instanceof Error)) return String(err)
  const causes = Array.isArray(err.errors) ? err.errors.map(describe) : []
  const name = err.name != null && err.name !== 'Error' ? `${err.name}: ` : ''
  return causes.length > 0 ? `${name}${err.message} (${causes.join('; ')})` : `${name}${err.message}`
}

async function main () {
  const datastore = new MemoryDatastore()
  const libp2p = await createLibp2p({
    datastore,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [],
    services: {
      identify: identify(),
      // Helia's default libp2p config has it too. Without it, rust-libp2p's
      // ping handler marks us as not speaking ping and then stops answering
      // our connection monitor's pings, which closes the connection.
      ping: ping()
    }
  })
  helia = new Helia({
    libp2p,
    datastore,
    blockstore: new MemoryBlockstore(),
    blockBrokers: [bitswap()],
    routers: [noRouting]
  })
  await helia.start()
  const fs = unixfs(helia)

  libp2p.addEventListener('peer:connect', (evt) => emit({ event: 'connected', peer_id: evt.detail.toString() }))
  libp2p.addEventListener('peer:disconnect', (evt) => emit({ event: 'disconnected', peer_id: evt.detail.toString() }))

  const selfId = libp2p.peerId.toString()
  const listen = libp2p.getMultiaddrs().map((ma) => {
    const s = ma.toString()
    return s.includes('/p2p/') ? s : `${s}/p2p/${selfId}`
  })
  emit({ event: 'ready', peer_id: selfId, listen })

  // Commands run concurrently; each answers when it is done.
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
  lines.on('line', (line) => {
    if (line.trim() === '' || finished) return
    let cmd
    try {
      cmd = JSON.parse(line)
    } catch (err) {
      emit({ event: 'error', cmd: null, message: `not JSON: ${err.message}` })
      return
    }
    if (cmd.cmd === 'stop') {
      void shutdown(0)
      return
    }
    run(fs, cmd).then(
      (answer) => emit({ ...answer, id: cmd.id ?? null }),
      (err) => emit({ event: 'error', id: cmd.id ?? null, cmd: cmd.cmd ?? null, message: describe(err) })
    )
  })
  lines.on('close', () => { void shutdown(0) })
}

main().catch(fatal)
