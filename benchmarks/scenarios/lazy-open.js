// Lazy opens (`negotiateFully: false`): the first write carries the
// multistream-select header and protocol, so an open + 1-byte echo costs one
// round trip where js-libp2p's dialProtocol costs two. Measured over a link
// with real round-trip time (a delay proxy on loopback, 25 ms each way), and
// for CPU per open on plain loopback; libp2p-stream's full open beside it.
import { multiaddr } from '@multiformats/multiaddr'
import { delayProxy } from '../../dist/test/fixtures/delay-proxy.js'
import { createPair } from '../lib/nodes.js'
import { interleave, latencyRow, latencySummary, roundsRow, settle, sleep, timed, whenClosed } from '../lib/util.js'

export const name = 'lazy-open'
export const title = 'Lazy open (negotiateFully: false): open + 1-byte echo + close over a 50 ms RTT link, and CPU per open on loopback (TCP+noise+yamux)'

const P_STREAM = '/bench/lazy/stream/1.0.0'
const P_RAW = '/bench/lazy/raw/1.0.0'
const DELAY_MS = 25
const ONE = new Uint8Array([0x5a])
// as in open-rate: libp2p arms a negotiation timeout per stream that costs CPU
// when it fires, so the nodes negotiate with a 1 s timeout and each CPU round
// waits until the timers it armed have fired
const NEGOTIATION_TIMEOUT = 1_000
const TIMERS_FIRED = NEGOTIATION_TIMEOUT + 200

async function echo (stream) {
  for await (const chunk of stream) {
    stream.send(chunk)
  }
  await stream.close()
}

export async function run ({ quick, log }) {
  const rows = []
  const pair = await createPair('tcp', {
    connect: false,
    connectionManager: { inboundStreamProtocolNegotiationTimeout: NEGOTIATION_TIMEOUT, outboundStreamProtocolNegotiationTimeout: NEGOTIATION_TIMEOUT }
  })
  const peer = pair.server.peerId

  const incoming = pair.serverControl.accept(P_STREAM, { backlog: 64 })
  const serving = (async () => {
    for await (const { stream } of incoming) {
      echo(stream).catch(err => { stream.abort(err) })
    }
  })()
  await pair.server.handle(P_RAW, stream => {
    echo(stream).catch(err => { stream.abort(err) })
  }, { maxInboundStreams: 256 })

  const open = {
    lazy: async () => pair.clientControl.openStream(peer, P_STREAM, { negotiateFully: false }),
    full: async () => pair.clientControl.openStream(peer, P_STREAM),
    raw: async () => pair.client.dialProtocol(peer, P_RAW)
  }

  // open, send one byte, read it back, close our end; `toEnd` also reads to
  // the remote's close, so the stream is gone both ways before the next op
  const op = async (side, toEnd) => {
    const s = await open[side]().catch(err => { throw new Error(`${side} open failed: ${err.message}`, { cause: err }) })
    s.send(ONE)
    const it = s[Symbol.asyncIterator]()
    if ((await it.next()).done === true) { throw new Error('no echo') }
    await s.close()
    if (toEnd) {
      while ((await it.next()).done !== true) { /* to the remote's close */ }
      await whenClosed(s)
    }
  }

  // 1. over a link with real round-trip time
  const port = Number(pair.addr.toString().split('/tcp/')[1].split('/')[0])
  const proxy = await delayProxy(port, DELAY_MS)
  await pair.client.dial(multiaddr(`${proxy.address}/p2p/${peer}`))
  // the first negotiation on a connection is a full one
  await op('full', true)

  const samples = quick ? 10 : 60
  const latency = { lazy: [], full: [], raw: [] }
  const ORDERS = [['lazy', 'raw', 'full'], ['raw', 'full', 'lazy'], ['full', 'lazy', 'raw']]
  for (let i = -2; i < samples; i++) {
    // the warm-up rounds (i < 0) take the last order
    const order = ORDERS[i % 3] ?? ORDERS[2]
    for (const side of order) {
      const { wall } = await timed(async () => op(side, false))
      if (i >= 0) { latency[side].push(wall / 1000) }
    }
  }
  const l = latencySummary(latency.lazy)
  const f = latencySummary(latency.full)
  const r = latencySummary(latency.raw)
  log(`  ${2 * DELAY_MS} ms RTT: lazy p50 ${l.p50.toFixed(1)} ms, full ${f.p50.toFixed(1)} ms, raw ${r.p50.toFixed(1)} ms`)
  const rttRow = (s, label) => latencyRow(name, `open + 1-byte echo + close (our end), ${2 * DELAY_MS} ms RTT delay proxy, ${samples} each: ${label}`, s, r)
  rows.push(rttRow(l, 'lazy openStream vs dialProtocol'), rttRow(f, 'full openStream vs dialProtocol'))
  await pair.client.hangUp(peer)
  await proxy.close()

  // 2. CPU per open on plain loopback, whole process (both nodes)
  await pair.client.dial(pair.addr)
  await op('full', true)
  const total = quick ? 300 : 1_000
  const rounds = quick ? 3 : 10
  const batch = async (side, n) => {
    const cpu = process.cpuUsage()
    const { wall } = await timed(async () => {
      for (let i = 0; i < n; i++) { await op(side, true) }
    })
    await sleep(TIMERS_FIRED)
    const used = process.cpuUsage(cpu)
    return { wall, cpu: used.user + used.system }
  }
  for (const side of ['lazy', 'full', 'raw']) { await batch(side, quick ? 100 : 300) }
  const measured = { lazy: [], full: [] }
  for (let i = 0; i < rounds; i++) {
    for (const against of ['lazy', 'full']) {
      const round = {}
      for (const side of interleave(i, against, 'raw')) {
        await settle()
        round[side === 'raw' ? 'raw' : 'stream'] = await batch(side, total)
      }
      measured[against].push(round)
      const fmt = x => `${(total / (x.wall / 1e6)).toFixed(0)}/s, ${(x.cpu / total).toFixed(0)} µs CPU/open`
      log(`  loopback round ${i + 1}/${rounds}: ${against} ${fmt(round.stream)}; raw ${fmt(round.raw)}`)
    }
  }
  for (const against of ['lazy', 'full']) {
    rows.push(roundsRow({
      scenario: name,
      figure: `${total} open + 1-byte echo + close (both ends), sequential, loopback, ${rounds} rounds: ${against} openStream vs dialProtocol`,
      transport: 'TCP+noise+yamux',
      unit: 'streams/s'
    }, measured[against], total, 'open'))
  }

  // 3. what deciding "lazy when the peer store lists the protocol" (go-libp2p's
  // rule) would add to every open: one peer store read
  const reads = quick ? 500 : 5_000
  const readCpu = []
  for (let i = 0; i < 5; i++) {
    const { cpu } = await timed(async () => {
      for (let j = 0; j < reads; j++) { await pair.client.peerStore.get(peer) }
    })
    readCpu.push(cpu / reads)
  }
  readCpu.sort((a, b) => a - b)
  log(`  peerStore.get: ${readCpu[2].toFixed(1)} µs CPU per read`)
  rows.push({
    scenario: name,
    figure: `peerStore.get(peer) per open, the cost of go-libp2p's "lazy when the peer store lists it" rule (${reads} reads x 5)`,
    transport: '-',
    unit: 'µs',
    unitLabel: 'µs CPU per read',
    higherIsBetter: false,
    stream: { median: readCpu[2], min: readCpu[0], max: readCpu[4], n: 5 }
  })

  incoming.close()
  await serving
  await pair.server.unhandle(P_RAW)
  await pair.close()
  return rows
}
