// 2. Open rate on an existing connection (open + 1-byte echo + close,
// sequential and 64 at a time) and first-open latency to a peer not yet
// connected (dial + noise + yamux + negotiation), libp2p-stream against raw
// js-libp2p, wall-clock and CPU time per open.
import { createPair } from '../lib/nodes.js'
import { blockCpu, interleave, latencySummary, roundsRow, settle, sleep, timed, whenClosed } from '../lib/util.js'

export const name = 'open-rate'
export const title = 'Stream open rate (open + 1-byte echo + close) and first-open latency (TCP+noise+yamux)'

const P_STREAM = '/bench/open/stream/1.0.0'
const P_RAW = '/bench/open/raw/1.0.0'
const CONCURRENCY = 64
// js-libp2p arms a timeout per negotiation (an `AbortSignal.timeout()`: both
// nodes' for raw js-libp2p, the acceptor's alone for libp2p-stream, whose
// opener clears its own timer), and each one costs CPU when it fires (about
// 6.6 µs here). With libp2p's default of 10 s they fire in some later round,
// of either side; so the nodes negotiate with a 1 s timeout and each round's
// CPU includes a wait until the timers it armed have fired.
const NEGOTIATION_TIMEOUT = 1_000
const TIMERS_FIRED = NEGOTIATION_TIMEOUT + 200
const ONE = new Uint8Array([0x5a])

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

export async function run ({ quick, log }) {
  const total = quick ? 300 : 1_000
  const rounds = quick ? 3 : 20
  const rows = []

  const pair = await createPair('tcp', {
    connectionManager: { inboundStreamProtocolNegotiationTimeout: NEGOTIATION_TIMEOUT, outboundStreamProtocolNegotiationTimeout: NEGOTIATION_TIMEOUT }
  })
  const peer = pair.server.peerId

  // both servers echo the byte and close
  const incoming = pair.serverControl.accept(P_STREAM, { backlog: 2 * CONCURRENCY })
  const serving = (async () => {
    for await (const { stream } of incoming) {
      echo(stream).catch(err => { stream.abort(err) })
    }
  })()
  await pair.server.handle(P_RAW, stream => {
    echo(stream).catch(err => { stream.abort(err) })
  }, { maxInboundStreams: 3 * CONCURRENCY })

  const open = {
    stream: async () => pair.clientControl.openStream(peer, P_STREAM),
    raw: async () => pair.client.dialProtocol(peer, P_RAW, { maxOutboundStreams: 1000 })
  }

  // one op: open (negotiated), send one byte, read it back, close our write
  // side, read to the end: the stream is then closed both ways
  const op = async side => {
    const s = await open[side]()
    s.send(ONE)
    const it = s[Symbol.asyncIterator]()
    const first = await it.next()
    if (first.done === true) { throw new Error('no echo') }
    await s.close()
    while ((await it.next()).done !== true) { /* drain to the remote's close */ }
    await whenClosed(s)
    if (s.status !== 'closed') { throw new Error(`stream ended ${s.status}`) }
  }

  // wall time of the opens; CPU of the opens and of the negotiation timers
  // they armed, which fire during the wait after them
  const batch = async (side, n, concurrency) => {
    let next = 0
    const cpu = process.cpuUsage()
    const { wall } = await timed(async () => Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++
        await op(side)
      }
    })))
    await sleep(TIMERS_FIRED)
    const used = process.cpuUsage(cpu)
    return { wall, cpu: used.user + used.system }
  }

  for (const concurrency of [1, CONCURRENCY]) {
    const measured = []
    const warm = quick ? 100 : 300
    await batch('stream', warm, concurrency)
    await batch('raw', warm, concurrency)
    for (let i = 0; i < rounds; i++) {
      const round = {}
      for (const side of interleave(i, 'stream', 'raw')) {
        await settle()
        round[side] = await batch(side, total, concurrency)
      }
      measured.push(round)
      const f = r => `${(total / (r.wall / 1e6)).toFixed(0)}/s, ${(r.cpu / total).toFixed(0)} µs CPU/open`
      log(`  ${concurrency === 1 ? 'sequential' : `${concurrency}-concurrent`} round ${i + 1}/${rounds}: stream ${f(round.stream)}; raw ${f(round.raw)}`)
    }
    rows.push(roundsRow({
      scenario: name,
      figure: `${total} open + 1-byte echo + close, ${concurrency === 1 ? 'sequential' : `${concurrency} concurrent`}, ${rounds} rounds`,
      transport: 'TCP+noise+yamux',
      unit: 'streams/s'
    }, measured, total, 'open'))
  }

  // first open to a peer we are not connected to: dial by multiaddr, upgrade,
  // negotiate; the connection is closed again after each sample
  const dials = quick ? 10 : 200
  const latency = { stream: [], raw: [] }
  const cpu = { stream: [], raw: [] }
  const first = {
    stream: async () => pair.clientControl.openStream(pair.addr, P_STREAM),
    raw: async () => pair.client.dialProtocol(pair.addr, P_RAW)
  }
  await pair.client.hangUp(peer)
  for (let i = -2; i < dials; i++) {
    for (const side of interleave(i, 'stream', 'raw')) {
      const { value: s, wall, cpu: used } = await timed(first[side])
      if (i >= 0) { latency[side].push(wall / 1000); cpu[side].push(used) } // the first two pairs warm up
      await s.close()
      await whenClosed(s)
      await pair.client.hangUp(peer)
    }
  }
  const ls = latencySummary(latency.stream)
  const lr = latencySummary(latency.raw)
  log(`  first open: stream p50 ${ls.p50.toFixed(2)} ms p99 ${ls.p99.toFixed(2)} ms, raw p50 ${lr.p50.toFixed(2)} ms p99 ${lr.p99.toFixed(2)} ms`)
  rows.push({
    scenario: name,
    figure: `first open to an unconnected peer (dial+upgrade+negotiate), ${dials} dials each`,
    transport: 'TCP+noise+yamux',
    unit: 'ms',
    unitLabel: 'ms p50 / p99',
    higherIsBetter: false,
    stream: ls,
    raw: lr,
    ratio: { p50: ls.p50 / lr.p50, p99: ls.p99 / lr.p99 },
    cpu: blockCpu(cpu.stream, cpu.raw, quick ? 5 : 20, 'dial')
  })

  incoming.close()
  await serving
  await pair.server.unhandle(P_RAW)
  await pair.close()
  return rows
}
