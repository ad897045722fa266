// 7. Anatomy of one open: the yamux frames each node sends (by type and
// flags) and the round trips, per open, per 1-byte echo and per close, for
// libp2p-stream and raw js-libp2p on the same connection. Counted by wrapping
// the two connections' muxers here (`muxer.sendFrame`); nothing in src/ is
// involved. A round trip is a flight of frames from the opener followed by a
// flight from the acceptor (consecutive frames from one node are one flight).
import { createPair } from '../lib/nodes.js'
import { sleep, whenClosed } from '../lib/util.js'

export const name = 'anatomy'
export const title = 'Anatomy of an open: yamux frames by type and round trips per open, per 1-byte echo and per close (TCP+noise+yamux)'

const P_STREAM = '/bench/anatomy/stream/1.0.0'
const P_RAW = '/bench/anatomy/raw/1.0.0'
const ONE = new Uint8Array([0x5a])
const TYPES = ['data', 'window update', 'ping', 'go away']
const FLAGS = [[1, 'SYN'], [2, 'ACK'], [4, 'FIN'], [8, 'RST']]
const PHASES = ['open', 'echo', 'close']

/**
 * Sends back what arrives, then closes
 *
 * @param stream
 */
async function echo (stream) {
  for await (const chunk of stream) {
    stream.send(chunk)
  }
  await stream.close()
}

/**
 * Records every frame `connection`'s muxer sends, as `side`, into `log.frames`
 *
 * @param connection
 * @param side
 * @param log
 */
function watch (connection, side, log) {
  const muxer = connection.muxer
  if (typeof muxer?.sendFrame !== 'function') {
    throw new Error(`the ${side} connection has no yamux muxer to watch (${connection.multiplexer})`)
  }
  const sendFrame = muxer.sendFrame
  // streams bind sendFrame when created, so this covers every later stream too
  muxer.sendFrame = function (header, data) {
    log.frames?.push({ side, type: header.type, flag: header.flag, length: header.length })
    return sendFrame.call(this, header, data)
  }
}

/**
 * "data SYN", "window update ACK|FIN", ...
 *
 * @param frame - a recorded frame
 */
function kind (frame) {
  const flags = FLAGS.filter(([bit]) => (frame.flag & bit) === bit).map(([, f]) => f).join('|')
  return `${TYPES[frame.type] ?? `type ${frame.type}`}${flags === '' ? '' : ` ${flags}`}`
}

/**
 * Opener flights followed by an acceptor flight
 *
 * @param frames - the frames of one phase, in the order they were sent
 */
function roundTrips (frames) {
  let trips = 0
  for (let i = 1; i < frames.length; i++) {
    if (frames[i - 1].side === 'opener' && frames[i].side === 'acceptor') { trips++ }
  }
  return trips
}

export async function run ({ quick, log: say }) {
  const ops = quick ? 20 : 200
  const pair = await createPair('tcp')
  const peer = pair.server.peerId
  const log = { frames: null }

  watch(pair.client.getConnections(peer)[0], 'opener', log)
  watch(pair.server.getConnections(pair.client.peerId)[0], 'acceptor', log)

  const incoming = pair.serverControl.accept(P_STREAM, { backlog: 16 })
  const serving = (async () => {
    for await (const { stream } of incoming) {
      echo(stream).catch(err => { stream.abort(err) })
    }
  })()
  await pair.server.handle(P_RAW, stream => {
    echo(stream).catch(err => { stream.abort(err) })
  })

  const open = {
    stream: async () => pair.clientControl.openStream(peer, P_STREAM),
    raw: async () => pair.client.dialProtocol(peer, P_RAW)
  }

  // frames of each phase of each op; a pause after each phase lets its last
  // frames (window updates, the acceptor's part of a close) land in it
  const phases = async (side) => {
    const out = {}
    const phase = async (name, fn) => {
      log.frames = []
      const value = await fn()
      await sleep(5)
      out[name] = log.frames
      log.frames = null
      return value
    }
    const s = await phase('open', open[side])
    const it = s[Symbol.asyncIterator]()
    await phase('echo', async () => {
      s.send(ONE)
      if ((await it.next()).done === true) { throw new Error('no echo') }
    })
    await phase('close', async () => {
      await s.close()
      while ((await it.next()).done !== true) { /* to the remote's close */ }
      await whenClosed(s)
    })
    return out
  }

  const results = {}
  for (const side of ['stream', 'raw']) {
    await phases(side) // warm-up
    const counts = Object.fromEntries(PHASES.map(p => [p, { frames: 0, trips: 0, bytes: 0, kinds: {} }]))
    for (let i = 0; i < ops; i++) {
      const op = await phases(side)
      for (const p of PHASES) {
        const c = counts[p]
        c.frames += op[p].length
        c.trips += roundTrips(op[p])
        for (const f of op[p]) {
          const k = `${f.side} ${kind(f)}`
          c.kinds[k] = (c.kinds[k] ?? 0) + 1
          c.bytes += 12 + (f.type === 0 ? f.length : 0)
        }
      }
    }
    results[side] = Object.fromEntries(PHASES.map(p => [p, {
      frames: counts[p].frames / ops,
      roundTrips: counts[p].trips / ops,
      bytes: counts[p].bytes / ops,
      kinds: Object.fromEntries(Object.entries(counts[p].kinds).sort().map(([k, v]) => [k, v / ops]))
    }]))
    for (const p of PHASES) {
      const r = results[side][p]
      say(`  ${side} ${p}: ${r.frames.toFixed(2)} frames, ${r.roundTrips.toFixed(2)} round trips, ${r.bytes.toFixed(0)} bytes: ${Object.entries(r.kinds).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`)
    }
  }

  incoming.close()
  await serving
  await pair.server.unhandle(P_RAW)
  await pair.close()

  const one = v => ({ median: v, min: v, max: v, n: 1 })
  const rows = []
  for (const p of [...PHASES, 'total']) {
    const get = (side, field, filter) => p === 'total'
      ? PHASES.reduce((t, q) => t + pick(results[side][q], field, filter), 0)
      : pick(results[side][p], field, filter)
    const row = (figure, field, filter) => {
      const stream = get('stream', field, filter)
      const raw = get('raw', field, filter)
      rows.push({ scenario: name, figure: `${p}: ${figure}`, transport: 'TCP+noise+yamux', unit: 'per op', higherIsBetter: false, stream: one(stream), raw: one(raw), ratio: raw === 0 ? undefined : { median: stream / raw, n: 1 } })
    }
    row('yamux frames, both nodes', 'frames')
    row('of which data frames', 'kinds', k => k.includes(' data'))
    row('of which window updates', 'kinds', k => k.includes(' window update'))
    row('round trips', 'roundTrips')
  }
  // by node, type and flags, per phase, in the JSON
  rows.find(r => r.figure === 'total: yamux frames, both nodes').breakdown = results
  return rows
}

/**
 * A figure of one phase: a field, or the sum of the frame kinds `filter` takes
 *
 * @param r - the counts of one phase
 * @param field - which figure
 * @param filter - which frame kinds to add up
 */
function pick (r, field, filter) {
  if (filter == null) { return r[field] }
  return Object.entries(r[field]).filter(([k]) => filter(k)).reduce((t, [, v]) => t + v, 0)
}
