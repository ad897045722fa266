// 2. Open rate on an existing connection (open + accept + close, sequential
// and 64 at a time) and first-open latency to a peer not yet connected
// (dial + noise + yamux + negotiation), libp2p-stream against raw js-libp2p.
import { createPair } from '../lib/nodes.js'
import { interleave, latencySummary, median, serveEach, settle, summary, whenClosed } from '../lib/util.js'

export const name = 'open-rate'
export const title = 'Stream open rate (open + accept + close) and first-open latency (TCP+noise+yamux)'

const P_STREAM = '/bench/open/stream/1.0.0'
const P_RAW = '/bench/open/raw/1.0.0'
const CONCURRENCY = 64

export async function run ({ quick, log }) {
  const total = quick ? 500 : 5_000
  const rounds = quick ? 2 : 3
  const rows = []

  const pair = await createPair('tcp')
  const peer = pair.server.peerId

  // the acceptor closes every stream as soon as the application holds it
  const incoming = pair.serverControl.accept(P_STREAM, { backlog: 2 * CONCURRENCY })
  const serving = serveEach(incoming, async ({ stream }) => { await stream.close() })
  await pair.server.handle(P_RAW, stream => {
    stream.close().catch(err => { stream.abort(err) })
  }, { maxInboundStreams: 3 * CONCURRENCY })

  const open = {
    stream: async () => pair.clientControl.openStream(peer, P_STREAM),
    raw: async () => pair.client.dialProtocol(peer, P_RAW, { maxOutboundStreams: 1000 })
  }

  // one op: open (negotiated), close our write side, wait for the stream to be
  // fully closed, which needs the acceptor to have taken and closed it
  const op = async side => {
    const s = await open[side]()
    await s.close()
    await whenClosed(s)
    if (s.status !== 'closed') { throw new Error(`stream ended ${s.status}`) }
  }

  const batch = async (side, n, concurrency) => {
    let next = 0
    const cpu = process.cpuUsage()
    const started = performance.now()
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++
        await op(side)
      }
    }))
    const seconds = (performance.now() - started) / 1000
    const used = process.cpuUsage(cpu)
    // wall-clock streams/s, and streams per CPU-second of this process (both
    // nodes), which hardly moves when other work competes for the cores
    return { wall: n / seconds, cpu: n / ((used.user + used.system) / 1e6) }
  }

  for (const concurrency of [1, CONCURRENCY]) {
    const figures = { stream: [], raw: [] }
    const cpuFigures = { stream: [], raw: [] }
    const ratios = []
    const cpuRatios = []
    const warm = quick ? 100 : 300
    await batch('stream', warm, concurrency)
    await batch('raw', warm, concurrency)
    for (let i = 0; i < rounds; i++) {
      const round = {}
      for (const side of interleave(i, 'stream', 'raw')) {
        await settle()
        round[side] = await batch(side, total, concurrency)
        figures[side].push(round[side].wall)
        cpuFigures[side].push(round[side].cpu)
      }
      ratios.push(round.stream.wall / round.raw.wall)
      cpuRatios.push(round.stream.cpu / round.raw.cpu)
      log(`  ${concurrency === 1 ? 'sequential' : `${concurrency}-concurrent`} round ${i + 1}/${rounds}: stream ${round.stream.wall.toFixed(0)}/s (${round.stream.cpu.toFixed(0)}/CPU-s), raw ${round.raw.wall.toFixed(0)}/s (${round.raw.cpu.toFixed(0)}/CPU-s)`)
    }
    rows.push({
      scenario: name,
      figure: `${total} open+accept+close, ${concurrency === 1 ? 'sequential' : `${concurrency} concurrent`}`,
      transport: 'TCP+noise+yamux',
      unit: 'streams/s',
      higherIsBetter: true,
      stream: summary(figures.stream),
      raw: summary(figures.raw),
      ratio: { ...summary(ratios), ofMedians: median(figures.stream) / median(figures.raw) }
    }, {
      scenario: name,
      figure: `${total} open+accept+close, ${concurrency === 1 ? 'sequential' : `${concurrency} concurrent`}: CPU cost`,
      transport: 'TCP+noise+yamux',
      unit: 'streams/CPU-s',
      higherIsBetter: true,
      stream: summary(cpuFigures.stream),
      raw: summary(cpuFigures.raw),
      ratio: { ...summary(cpuRatios), ofMedians: median(cpuFigures.stream) / median(cpuFigures.raw) }
    })
  }

  // first open to a peer we are not connected to: dial by multiaddr, upgrade,
  // negotiate; the connection is closed again after each sample
  const dials = quick ? 10 : 200
  const latency = { stream: [], raw: [] }
  const first = {
    stream: async () => pair.clientControl.openStream(pair.addr, P_STREAM),
    raw: async () => pair.client.dialProtocol(pair.addr, P_RAW)
  }
  await pair.client.hangUp(peer)
  for (let i = -2; i < dials; i++) {
    for (const side of interleave(i, 'stream', 'raw')) {
      const started = performance.now()
      const s = await first[side]()
      const ms = performance.now() - started
      if (i >= 0) { latency[side].push(ms) } // the first two pairs warm up
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
    ratio: { p50: ls.p50 / lr.p50, p99: ls.p99 / lr.p99 }
  })

  incoming.close()
  await serving
  await pair.server.unhandle(P_RAW)
  await pair.close()
  return rows
}
