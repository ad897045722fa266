// 6. Cross-language: echo throughput and sequential open rate between JS and
// the go-libp2p / rust-libp2p interop peers (built from test/interop), over
// each transport of the interop matrix (TCP+noise+yamux, TCP+TLS+yamux,
// WebSockets+noise+yamux, QUIC v1), all in one run, rounds interleaved. For
// each remote peer X and each transport:
//
//   JS -> X     libp2p-stream openStream vs raw dialProtocol, X listening
//   X -> X      two instances of X (`X dial ... bench-echo|bench-open` against
//               the same `X listen`), as context for what X does on its own
//   X -> JS     X dialing a JS node that serves echo with libp2p-stream's
//               accept, vs one that serves it with raw node.handle()
//
// Echo: one stream on /interop/echo/1.0.0, N bytes in 64 KiB writes while the
// echo is read, half-close, read to the end; MB/s of N over the transfer (the
// stream is open before the clock starts). Opens: on one established
// connection, sequential open + negotiate + write 1 byte + half-close + read
// the 1-byte echo to its end; opens/s. A side that fails (an interop problem
// between two stacks) is recorded in its row and left out of later rounds.
//
// The binaries live at ~/.cache/libp2p-stream/interop-bin/{go-peer,rust-peer}
// (see test/interop/README.md); a peer whose binary is missing is skipped, and
// so is QUIC when test/interop/quic has no @chainsafe/libp2p-quic (both
// installed by scripts/interop-build.sh), each with a row saying why. The JS
// nodes are built with the interop tests' transport options
// (dist/test/interop/fixtures/transports.js, from `npm run build`).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { stream } from '../../dist/src/index.js'
import { LISTEN, TRANSPORTS, transportOptions } from '../../dist/test/interop/fixtures/transports.js'
import { countBytes, echoBack, KiB, median, MiB, sendBytes, settle, summary } from '../lib/util.js'

export const name = 'cross-language'
export const title = 'Cross-language echo MB/s and sequential opens/s: JS <-> go-libp2p / rust-libp2p, and Go -> Go, Rust -> Rust (/interop/echo/1.0.0), over TCP+noise+yamux, TCP+TLS+yamux, WebSockets+noise+yamux and QUIC v1'

export const BIN_DIR = process.env.LIBP2P_STREAM_INTEROP_BIN ?? join(os.homedir(), '.cache', 'libp2p-stream', 'interop-bin')
export const PEERS = ['go-peer', 'rust-peer']
const ECHO = '/interop/echo/1.0.0'
const CHUNK = new Uint8Array(64 * KiB).fill(0x5a)
const ONE = new Uint8Array([1])
/** Labels of the transports, by their --transport name */
const TRANSPORT_LABELS = { tcp: 'TCP+noise+yamux', tls: 'TCP+TLS+yamux', ws: 'WS+noise+yamux', quic: 'QUIC-v1' }
/** --timeout of a `listen` peer, seconds: stdin closing ends it long before */
const LISTEN_TIMEOUT = 3600

/** A failed peer `dial` run, already described (with the logs that matter) */
class PeerDialError extends Error {}

/**
 * A failure, as one line: the error and the last thing the remote logged about it
 *
 * @param {unknown} err
 * @param {string} [remoteLog] - stderr of the remote peer process
 */
function describe (err, remoteLog = '') {
  const what = err instanceof Event ? `the stream got a '${err.type}' event` : (err?.message ?? String(err))
  const remoteSays = remoteLog.split('\n').filter(l => /error|fail|reset|closed \(/i.test(l)).slice(-1).join('').trim()
  return `${what}${remoteSays === '' ? '' : ` (remote: ${remoteSays})`}`
}

/**
 * Runs `<bin> ...args` with stdin kept open (the peers exit when it closes).
 * `ready` resolves with the first stdout line (peer id and addresses), `done`
 * with the exit code and the last stdout line, parsed.
 *
 * @param {string} bin
 * @param {string[]} args
 */
function startPeer (bin, args) {
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  const stderr = []
  child.stderr.setEncoding('utf8').on('data', d => {
    stderr.push(d)
    if (stderr.length > 50) { stderr.shift() }
  })
  const lines = []
  const ready = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', line => {
      lines.push(line)
      if (lines.length === 1) { resolve(JSON.parse(line)) }
    })
    child.once('error', reject)
    child.once('exit', code => { reject(new Error(`${bin} ${args[0]} exited with ${code}: ${stderr.join('')}`)) })
    setTimeout(() => { reject(new Error(`${bin} ${args[0]} printed nothing in 15 s: ${stderr.join('')}`)) }, 15_000).unref()
  })
  ready.catch(() => {})
  const done = new Promise((resolve, reject) => {
    child.once('error', reject)
    // 'close' comes after stdout has ended, so every line has been read
    child.once('close', code => {
      let last
      try { last = JSON.parse(lines.at(-1) ?? 'null') } catch { last = undefined }
      resolve({ code, result: lines.length > 1 ? last : undefined })
    })
  })
  const stop = async () => {
    child.stdin.end()
    const timer = setTimeout(() => { child.kill() }, 3_000)
    await done.catch(() => {})
    clearTimeout(timer)
  }
  return { ready, done, stop, stderr: () => stderr.join('') }
}

/**
 * A js-libp2p node with the libp2p-stream service over `transport`, listening
 * on loopback when `listen` is true
 *
 * @param {string} transport - tcp, tls, ws or quic
 * @param {boolean} listen
 */
async function createNode (transport, listen) {
  return createLibp2p({
    addresses: { listen: listen ? [LISTEN[transport]] : [] },
    ...await transportOptions(transport),
    connectionManager: {
      // the peers dial the same host many times in a row on purpose
      inboundConnectionThreshold: 1_000_000,
      maxIncomingPendingConnections: 1_000
    },
    // as in lib/nodes.js: the open-rate check in place, at a rate never reached
    services: { stream: stream({ maxInboundStreamRate: 1e9 }) }
  })
}

/**
 * Starts `<bin> listen` over `transport` and resolves with its addresses and a stop()
 *
 * @param {string} bin
 * @param {string} transport
 */
async function listen (bin, transport) {
  const peer = startPeer(bin, ['listen', '--transport', transport, '--timeout', String(LISTEN_TIMEOUT)])
  try {
    return { ...await peer.ready, stop: peer.stop, stderr: peer.stderr }
  } catch (err) {
    await peer.stop()
    throw err
  }
}

/**
 * One `<bin> dial <addr> <case> ...` run; resolves with its result line, throws when it failed
 *
 * @param {string} bin
 * @param {string} addr
 * @param {string} benchCase - bench-echo or bench-open
 * @param {string[]} args - including --timeout: a hang ends there, as a failure
 * @param {() => string} [remoteLog] - stderr of the listening side, for the failure message
 */
async function peerDial (bin, addr, benchCase, args, remoteLog = () => '') {
  const peer = startPeer(bin, ['dial', addr, benchCase, ...args])
  const { code, result } = await peer.done
  if (code !== 0 || result?.ok !== true) {
    // the dialer's own last word on it (e.g. why its connection closed)
    const dialerSays = peer.stderr().split('\n').filter(l => /error|fail|reset|closed \(/i.test(l) && !/case .* failed/.test(l)).slice(-1).join('').trim()
    const error = `${benchCase} exited ${code}: ${result?.error ?? 'no result'}${dialerSays === '' ? '' : ` (dialer: ${dialerSays})`}`
    throw new PeerDialError(describe(new Error(error), remoteLog()))
  }
  return result
}

/**
 * The order of the sides in round `i`: rotated by one each round, so that no side always runs first
 *
 * @param {number} i
 * @param {string[]} sides
 */
function rotate (i, sides) {
  const k = i % sides.length
  return [...sides.slice(k), ...sides.slice(0, k)]
}

export async function run ({ quick, log }) {
  const options = {
    bytes: (quick ? 8 : 64) * MiB,
    opens: quick ? 200 : 2000,
    rounds: quick ? 2 : 3,
    // seconds a peer `dial` run may take: a stuck one fails its side
    dialTimeout: quick ? 20 : 60,
    log
  }
  const rows = []

  // QUIC needs @chainsafe/libp2p-quic from test/interop/quic: without it
  // (or its native binary) the QUIC rows say why instead
  let quicMissing
  try {
    await transportOptions('quic')
  } catch (err) {
    quicMissing = err.message
  }

  for (const peerName of PEERS) {
    const bin = join(BIN_DIR, peerName)
    if (!existsSync(bin)) {
      log(`  ${peerName}: skipped, no binary at ${bin}`)
      rows.push({ scenario: name, figure: `JS <-> ${peerName}`, skipped: `no binary at ${bin}` })
      continue
    }
    for (const transport of TRANSPORTS) {
      if (transport === 'quic' && quicMissing != null) {
        log(`  ${peerName} over ${TRANSPORT_LABELS[transport]}: skipped, ${quicMissing}`)
        rows.push({ scenario: name, figure: `JS <-> ${peerName}`, transport: TRANSPORT_LABELS[transport], skipped: quicMissing })
        continue
      }
      rows.push(...await measurePeer({ ...options, peerName, bin, transport }))
    }
  }

  return rows
}

// JS serves echo for a remote dialer: one node with libp2p-stream's accept,
// one with raw handle()
async function echoServers (transport) {
  const acceptNode = await createNode(transport, true)
  const handleNode = await createNode(transport, true)
  const incoming = acceptNode.services.stream.newControl().accept(ECHO, { backlog: 16 })
  const serving = (async () => {
    for await (const { stream } of incoming) {
      echoBack(stream).catch(err => { stream.abort(err) })
    }
  })()
  await handleNode.handle(ECHO, stream => {
    echoBack(stream).catch(err => { stream.abort(err) })
  })
  return {
    accept: acceptNode.getMultiaddrs()[0].toString(),
    handle: handleNode.getMultiaddrs()[0].toString(),
    async stop () {
      incoming.close()
      await serving
      await Promise.all([acceptNode.stop(), handleNode.stop()])
    }
  }
}

async function measurePeer (options) {
  const { peerName, bin, transport, bytes, opens, rounds, dialTimeout, log } = options
  const label = TRANSPORT_LABELS[transport]
  const short = peerName.replace(/-peer$/, '')
  const Short = short[0].toUpperCase() + short.slice(1)
  const rowsFor = message => [
    { scenario: name, figure: `JS <-> ${peerName}`, transport: label, failed: { stream: message, raw: message } }
  ]

  let remote
  let client
  let servers
  try {
    remote = await listen(bin, transport)
    client = await createNode(transport, false)
    servers = await echoServers(transport)
  } catch (err) {
    const message = describe(err, remote?.stderr())
    log(`  ${peerName} over ${label}: FAILED to start: ${message}`)
    await client?.stop()
    await servers?.stop()
    await remote?.stop()
    return rowsFor(message)
  }

  try {
    const addr = multiaddr(remote.addrs[0])
    const control = client.services.stream.newControl()
    const open = {
      jsStream: async () => control.openStream(addr, ECHO),
      jsRaw: async () => client.dialProtocol(addr, ECHO)
    }

    // JS opener: one echo transfer, MB/s
    const jsEcho = async (side, size) => {
      const s = await open[side]()
      const started = performance.now()
      const [, received] = await Promise.all([
        sendBytes(s, size, CHUNK).then(async () => s.close()),
        countBytes(s)
      ])
      const seconds = (performance.now() - started) / 1000
      if (received !== size) { throw new Error(`${peerName} echoed ${received} of ${size} bytes`) }
      return size / 1e6 / seconds
    }
    // JS opener: one 1-byte round trip on a new stream
    const jsOpenOnce = async side => {
      const s = await open[side]()
      s.send(ONE)
      const [, received] = await Promise.all([s.close(), countBytes(s)])
      if (received !== 1) { throw new Error(`${peerName} echoed ${received} of 1 byte`) }
    }
    // JS opener: n sequential round trips, opens/s
    const jsOpens = async (side, n) => {
      const started = performance.now()
      for (let i = 0; i < n; i++) {
        await jsOpenOnce(side)
      }
      return n / ((performance.now() - started) / 1000)
    }

    // a peer process dialing `to`: X -> X (the listener) or X -> JS
    const targets = { native: remote.addrs[0], toAccept: servers.accept, toHandle: servers.handle }
    const remoteLogs = { native: remote.stderr, toAccept: () => '', toHandle: () => '' }
    const timeout = ['--transport', transport, '--timeout', String(dialTimeout)]
    const peerEcho = async (side, size) => (await peerDial(bin, targets[side], 'bench-echo', ['--bytes', String(size), ...timeout], remoteLogs[side])).mbps
    const peerOpens = async (side, n) => (await peerDial(bin, targets[side], 'bench-open', ['--count', String(n), ...timeout], remoteLogs[side])).opensPerSec

    const measure = {
      echo: { jsStream: jsEcho, jsRaw: jsEcho, native: peerEcho, toAccept: peerEcho, toHandle: peerEcho },
      opens: { jsStream: jsOpens, jsRaw: jsOpens, native: peerOpens, toAccept: peerOpens, toHandle: peerOpens }
    }
    const sizes = { echo: bytes, opens }
    const units = { echo: 'MB/s', opens: 'opens/s' }
    const labels = {
      jsStream: `JS libp2p-stream -> ${Short}`,
      jsRaw: `JS raw -> ${Short}`,
      native: `${Short} -> ${Short}`,
      toAccept: `${Short} -> JS accept`,
      toHandle: `${Short} -> JS handle`
    }
    const SIDES = Object.keys(labels)

    // a failing side is recorded and left out of later rounds; the JS client
    // redials if the remote closed the connection
    const failures = { echo: {}, opens: {} }
    const attempt = async (metric, side, size) => {
      if (failures[metric][side] != null) { return undefined }
      try {
        return await measure[metric][side](side, size)
      } catch (err) {
        await new Promise(resolve => setTimeout(resolve, 200)) // let the remote log why
        // a peer dial names its own logs; a JS opener's remote is the listener
        failures[metric][side] = err instanceof PeerDialError ? err.message : describe(err, remote.stderr())
        log(`  ${labels[side]} ${metric} over ${label}: FAILED ${failures[metric][side]}`)
        return undefined
      }
    }

    // warm-up, not recorded: the JS client's connection and JIT (the peer
    // processes warm up inside each run)
    for (const side of ['jsStream', 'jsRaw']) {
      await attempt('echo', side, 2 * MiB)
      await attempt('opens', side, 50)
    }

    const perRound = { echo: [], opens: [] }
    for (let i = 0; i < rounds; i++) {
      for (const metric of ['echo', 'opens']) {
        const round = {}
        for (const side of rotate(i, SIDES)) {
          await settle()
          round[side] = await attempt(metric, side, sizes[metric])
        }
        perRound[metric].push(round)
        log(`  ${peerName} ${label} ${metric} round ${i + 1}/${rounds}: ${SIDES.map(s => `${labels[s]} ${round[s]?.toFixed(1) ?? 'failed'}`).join(', ')} ${units[metric]}`)
      }
    }

    // every figure a side got, by metric
    const figures = { echo: {}, opens: {} }
    for (const metric of ['echo', 'opens']) {
      for (const side of SIDES) {
        const got = perRound[metric].map(r => r[side]).filter(f => f != null)
        figures[metric][side] = got.length > 0 ? got : undefined
      }
    }
    const stat = (metric, side) => figures[metric][side] != null ? summary(figures[metric][side]) : undefined
    // median of per-round a/b, and the ratio of the medians
    const ratio = (metric, a, b) => {
      const rs = perRound[metric].filter(r => r[a] != null && r[b] != null).map(r => r[a] / r[b])
      if (rs.length === 0) { return undefined }
      return { ...summary(rs), ofMedians: median(figures[metric][a]) / median(figures[metric][b]) }
    }
    const what = {
      echo: `echo (each way) ${bytes / MiB} MiB`,
      opens: `${opens} sequential opens (open + 1-byte echo)`
    }
    const failed = (metric, stream, raw) => {
      const f = { stream: failures[metric][stream], raw: raw == null ? undefined : failures[metric][raw] }
      return f.stream != null || f.raw != null ? f : undefined
    }
    const rows = []
    for (const metric of ['echo', 'opens']) {
      const common = { scenario: name, transport: label, unit: units[metric], higherIsBetter: true, remotePeerId: remote.peerId }
      rows.push({
        ...common,
        figure: `JS -> ${Short} listener, ${what[metric]}: openStream | dialProtocol`,
        stream: stat(metric, 'jsStream'),
        raw: stat(metric, 'jsRaw'),
        failed: failed(metric, 'jsStream', 'jsRaw'),
        ratio: ratio(metric, 'jsStream', 'jsRaw')
      })
      rows.push({
        ...common,
        figure: `${Short} -> ${Short} (context), ${what[metric]}; ratio = JS openStream -> ${Short} / ${Short} -> ${Short}`,
        value: stat(metric, 'native'),
        failed: failures[metric].native != null ? { stream: failures[metric].native } : undefined,
        ratio: ratio(metric, 'jsStream', 'native')
      })
      rows.push({
        ...common,
        figure: `${Short} -> JS listener, ${what[metric]}: accept | handle`,
        stream: stat(metric, 'toAccept'),
        raw: stat(metric, 'toHandle'),
        failed: failed(metric, 'toAccept', 'toHandle'),
        ratio: ratio(metric, 'toAccept', 'toHandle')
      })
    }
    return rows
  } catch (err) {
    // an unexpected failure is recorded for that peer, not thrown: the other
    // peer can still be measured
    await new Promise(resolve => setTimeout(resolve, 200)) // let the remote log why
    const message = describe(err, remote.stderr())
    log(`  JS <-> ${peerName} over ${label}: FAILED ${message}`)
    return rowsFor(message)
  } finally {
    await client.stop()
    await servers.stop()
    await remote.stop()
  }
}
