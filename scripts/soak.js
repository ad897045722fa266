/**
 * Soak test: three peers (separate libp2p nodes, TCP + noise + yamux) churn
 * open/echo/close against one listener for `--duration` seconds, while memory
 * (after a forced GC) and active handles are sampled every `--interval`
 * seconds.
 *
 * Usage (after `npm run build`):
 * node scripts/soak.js [--duration 600] [--interval 10] [--max-slope 1]
 *
 * Prints the samples as a table, then the least-squares slope of heapUsed over
 * the second half of the run, and exits non-zero if that slope is above
 * `--max-slope` MB/min or if any error or unhandled rejection occurred.
 *
 * Why 1 MB/min: the churn runs thousands of streams a minute (printed as
 * "streams/min"), so retaining even a few hundred bytes per stream shows up
 * well above it, while the heap after a full GC of a steady process varies by
 * much less than that over the second half of a run once warmed up. Memory
 * from the first half (JIT, pools, peer store filling) is deliberately left out.
 */
import { parseArgs } from 'node:util'
import { collectGarbage } from '../dist/test/fixtures/gc.js'
import { createNode } from '../dist/test/fixtures/nodes.js'
import { readAll, serveEcho } from '../dist/test/fixtures/streams.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    interval: { type: 'string', default: '10' },
    'max-slope': { type: 'string', default: '1' },
    peers: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' }
  }
})

const DURATION = Number(values.duration) * 1000
const INTERVAL = Number(values.interval) * 1000
const MAX_SLOPE = Number(values['max-slope'])
const PEERS = Number(values.peers)
const CONCURRENCY = Number(values.concurrency)
const ECHO = '/soak/echo/1.0.0'
const MB = 1024 * 1024

const errors = []
process.on('unhandledRejection', reason => { errors.push(`unhandled rejection: ${reason?.stack ?? reason}`) })
process.on('uncaughtException', err => { errors.push(`uncaught exception: ${err?.stack ?? err}`) })

const listener = await createNode('tcp')
const incoming = listener.services.stream.newControl().accept(ECHO, { backlog: 64 })
const serving = serveEcho(incoming, err => { errors.push(`server stream: ${err.stack ?? err}`) })

const peers = await Promise.all(Array.from({ length: PEERS }, async () => createNode('tcp', {}, undefined, [])))
const target = listener.getMultiaddrs()[0]
let running = true
const isRunning = () => running
let cycles = 0
let reconnects = 0

/**
 * What the workers of one peer share: the streams they have in flight, and a
 * gate closed while the peer hangs up, so a hang-up never cuts a stream short
 * (js-libp2p closes the streams of a hung-up connection gracefully, so a cut
 * stream would look like a short echo rather than an error).
 */
function peerState () {
  return { inFlight: 0, gate: undefined, streams: 0 }
}

/**
 * Closes the gates of `states` (those not already closed) and resolves once
 * no stream of theirs is in flight, with a function that opens them again.
 *
 * @param {Array<ReturnType<typeof peerState>>} states - the peers to pause
 */
async function pause (states) {
  const closed = states.filter(state => state.gate == null).map(state => {
    const { promise, resolve } = Promise.withResolvers()
    state.gate = promise
    return () => {
      state.gate = undefined
      resolve()
    }
  })

  while (states.some(state => state.inFlight > 0)) {
    await new Promise(resolve => setTimeout(resolve, 1))
  }

  return () => { closed.forEach(open => { open() }) }
}

/**
 * One peer's worker: open, echo a random payload, check it, close.
 *
 * @param {import('../dist/test/fixtures/nodes.js').Node} node - the peer
 * @param {ReturnType<typeof peerState>} state - shared by the peer's workers
 * @param {number} index - the worker's number within the peer; worker 0 hangs up
 */
async function worker (node, state, index) {
  const control = node.services.stream.newControl()
  let n = 0

  while (isRunning()) {
    // re-check after waking: the gate may have closed again meanwhile
    while (state.gate != null) {
      await state.gate
    }

    if (!isRunning()) {
      break
    }

    const seed = n
    const size = 1 + Math.floor(Math.random() * 32 * 1024)
    const payload = new Uint8Array(size).map((_, i) => (i * 31 + seed) & 0xff)
    state.inFlight++

    try {
      const s = await control.openStream(target, ECHO, { signal: AbortSignal.timeout(30_000) })
      const reading = readAll(s)
      s.send(payload)
      await s.close()
      const echoed = await reading

      if (Buffer.compare(echoed, payload) !== 0) {
        throw new Error(`echo of ${size} bytes came back as ${echoed.byteLength} different bytes`)
      }

      cycles++
      n++
      state.streams++
    } catch (err) {
      errors.push(`peer worker ${index}: ${err.stack ?? err}`)
    } finally {
      state.inFlight--
    }

    // churn connections too: every 500 streams of a peer, it hangs up once its
    // streams in flight are done, and the next open dials again
    if (index === 0 && state.streams >= 500) {
      state.streams = 0
      const reopen = await pause([state])
      await node.hangUp(listener.peerId)
      reconnects++
      reopen()
    }
  }
}

/**
 * Memory and handles after a full GC, taken while the churn is paused so that
 * payloads in flight do not count.
 *
 * @param {number} elapsed - ms since the start
 */
async function sample (elapsed) {
  const resume = await pause(states)
  collectGarbage()
  collectGarbage()
  const memory = process.memoryUsage()
  const resources = process.getActiveResourcesInfo()
  const count = type => resources.filter(r => r === type).length

  const result = {
    t: Math.round(elapsed / 1000),
    cycles,
    heapUsed: memory.heapUsed,
    rss: memory.rss,
    external: memory.external,
    handles: resources.length,
    timeouts: count('Timeout'),
    sockets: count('TCPSocketWrap'),
    streams: listener.getConnections().reduce((sum, c) => sum + c.streams.length, 0),
    connections: listener.getConnections().length
  }

  resume()
  return result
}

/**
 * Least-squares slope of y over x.
 *
 * @param {Array<{ x: number, y: number }>} points - the samples
 */
function slope (points) {
  const n = points.length
  const mx = points.reduce((s, p) => s + p.x, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0)
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0)
  return sxx === 0 ? 0 : sxy / sxx
}

const start = Date.now()
const states = peers.map(() => peerState())
const samples = [await sample(0)]
const workers = peers.flatMap((node, p) => {
  const state = states[p]
  return Array.from({ length: CONCURRENCY }, (_, i) => worker(node, state, i).catch(err => { errors.push(`worker ${p}/${i}: ${err.stack ?? err}`) }))
})

const mb = bytes => (bytes / MB).toFixed(2)
const header = ['t (s)', 'cycles', 'heapUsed MB', 'rss MB', 'external MB', 'handles', 'Timeout', 'TCP sockets', 'streams', 'conns']
const row = s => [s.t, s.cycles, mb(s.heapUsed), mb(s.rss), mb(s.external), s.handles, s.timeouts, s.sockets, s.streams, s.connections]
const print = cells => { process.stdout.write(cells.map(c => String(c).padStart(12)).join('') + '\n') }

process.stdout.write(`soak: ${PEERS} peers x ${CONCURRENCY} concurrent echo loops against one listener for ${DURATION / 1000} s, sampling every ${INTERVAL / 1000} s\n`)
print(header)
print(row(samples[0]))

while (Date.now() - start < DURATION) {
  await new Promise(resolve => setTimeout(resolve, Math.min(INTERVAL, DURATION - (Date.now() - start))))
  const s = await sample(Date.now() - start)
  samples.push(s)
  print(row(s))
}

running = false
await Promise.all(workers)
incoming.close()
await serving
await Promise.all([...peers, listener].map(async node => node.stop()))

const secondHalf = samples.filter(s => s.t * 1000 >= DURATION / 2)
const perMinute = slope(secondHalf.map(s => ({ x: s.t / 60, y: s.heapUsed / MB })))
const rate = cycles / (DURATION / 60_000)

process.stdout.write(`\n${cycles} echo cycles (${Math.round(rate)} streams/min), ${reconnects} hang-ups\n`)
process.stdout.write(`heapUsed slope over the second half (${secondHalf.length} samples): ${perMinute.toFixed(3)} MB/min (limit ${MAX_SLOPE} MB/min)\n`)

let ok = true

if (secondHalf.length < 3) {
  process.stdout.write('FAIL: fewer than 3 samples in the second half: lengthen --duration or shorten --interval\n')
  ok = false
}

if (perMinute > MAX_SLOPE) {
  process.stdout.write(`FAIL: heapUsed grows by ${perMinute.toFixed(3)} MB/min\n`)
  ok = false
}

if (errors.length > 0) {
  process.stdout.write(`FAIL: ${errors.length} error(s), the first:\n${errors.slice(0, 5).join('\n')}\n`)
  ok = false
}

process.stdout.write(ok ? 'PASS\n' : '')
process.exit(ok ? 0 : 1)
