// 3. Accept latency: how long until the application holds an inbound stream.
// The opener is the same for both sides (raw dialProtocol), so only the
// accepting side differs: the accept loop getting the item against the raw
// handler being called.
import { createPair } from '../lib/nodes.js'
import { blockCpu, interleave, latencyRow, latencySummary, settle, timed, whenClosed } from '../lib/util.js'

export const name = 'accept-latency'
export const title = 'Accept latency: opener starts the open -> application holds the inbound stream (TCP+noise+yamux)'

const P_STREAM = '/bench/accept/stream/1.0.0'
const P_RAW = '/bench/accept/raw/1.0.0'

export async function run ({ quick, log }) {
  const samples = quick ? 200 : 3_000
  const pair = await createPair('tcp')
  const peer = pair.server.peerId
  let arrived = null // resolves with the time the application got the stream
  let handlerCalledAt = 0

  const incoming = pair.serverControl.accept(P_STREAM, { backlog: 16 })

  // Wrap the handler libp2p-stream registered, to also time the hop from
  // libp2p calling it to the loop below getting the item. The registrar is
  // internal to libp2p; `force` replaces the handler with the wrapper.
  const registrar = pair.server.components?.registrar
  let hop = null
  if (registrar?.getHandler != null) {
    const { handler, options } = registrar.getHandler(P_STREAM)
    await registrar.handle(P_STREAM, (stream, connection) => {
      handlerCalledAt = performance.now()
      handler(stream, connection)
    }, { ...options, force: true })
    hop = []
  }

  const serving = (async () => {
    for await (const { stream } of incoming) {
      const now = performance.now()
      hop?.push((now - handlerCalledAt) * 1000)
      arrived(now)
      stream.close().catch(err => { stream.abort(err) })
    }
  })()
  await pair.server.handle(P_RAW, stream => {
    arrived(performance.now())
    stream.close().catch(err => { stream.abort(err) })
  })

  const latency = { stream: [], raw: [] }
  const cpu = { stream: [], raw: [] }
  const measure = async (protocol) => {
    const got = new Promise(resolve => { arrived = resolve })
    const started = performance.now()
    const s = await pair.client.dialProtocol(peer, protocol)
    const at = await got
    await s.close()
    await whenClosed(s)
    return at - started
  }

  for (let i = -50; i < samples; i++) {
    if (i >= 0 && i % 500 === 0) { await settle() }
    for (const side of interleave(i, 'stream', 'raw')) {
      // CPU of the whole sample: open, accept, close on both nodes
      const { value: ms, cpu: used } = await timed(async () => measure(side === 'stream' ? P_STREAM : P_RAW))
      if (i >= 0) { latency[side].push(ms); cpu[side].push(used) }
    }
  }
  hop?.splice(0, 50)

  incoming.close()
  await serving
  await pair.server.unhandle(P_RAW)
  await pair.close()

  const s = latencySummary(latency.stream)
  const r = latencySummary(latency.raw)
  log(`  stream p50 ${s.p50.toFixed(3)} ms p99 ${s.p99.toFixed(3)} ms; raw p50 ${r.p50.toFixed(3)} ms p99 ${r.p99.toFixed(3)} ms`)
  const rows = [{
    ...latencyRow(name, `open start -> app holds stream, ${samples} opens each`, s, r),
    cpu: blockCpu(cpu.stream, cpu.raw, quick ? 50 : 250, 'open')
  }]
  if (hop != null) {
    const h = latencySummary(hop)
    log(`  libp2p handler call -> accept loop: p50 ${h.p50.toFixed(1)} µs p99 ${h.p99.toFixed(1)} µs`)
    rows.push({
      scenario: name,
      figure: 'libp2p calls the handler -> accept loop gets the item (raw: 0 by definition)',
      transport: 'TCP+noise+yamux',
      unit: 'µs',
      unitLabel: 'µs p50 / p99',
      higherIsBetter: false,
      stream: h
    })
  }
  return rows
}
