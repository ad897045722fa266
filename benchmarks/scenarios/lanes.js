// Lanes: accept latency of a trusted peer's streams while another peer floods
// the protocol, with lanes (the trusted peer has a lane of its own, served
// first) and without (one backlog shared by everyone), each with and without
// the flood, in one run. The application takes one stream at a time; a public
// stream costs it 5 ms of work, a trusted one none.
import { createNode } from '../lib/nodes.js'
import { latencySummary, settle, sleep } from '../lib/util.js'

export const name = 'lanes'
export const title = 'Lanes: trusted peer accept latency while another peer floods the protocol (TCP+noise+yamux)'

const PROTOCOL = '/bench/lanes/1.0.0'
const WORK_MS = 5

/**
 * One configuration: returns the trusted peer's latencies and the counters
 *
 * @param {object} options - the configuration
 * @param {boolean} options.lanes - a trusted lane of its own, or one shared backlog
 * @param {boolean} options.flood - whether another peer floods meanwhile
 * @param {number} options.samples - trusted streams to time
 */
async function measure ({ lanes, flood, samples }) {
  const server = await createNode('tcp', true)
  const trusted = await createNode('tcp', false)
  const flooder = await createNode('tcp', false)
  const addr = server.getMultiaddrs()[0]
  const incoming = server.services.stream.newControl().accept(PROTOCOL, lanes
    ? {
        lanes: {
          trusted: { backlog: 16, priority: 1, match: ({ peer }) => peer.equals(trusted.peerId) },
          public: { backlog: 16 }
        }
      }
    : { backlog: 32 })

  const trustedArrival = { resolve: null }
  const serving = (async () => {
    for await (const { stream, peer } of incoming) {
      if (peer.equals(trusted.peerId)) {
        trustedArrival.resolve?.(performance.now())
        stream.abort(new Error('served'))
        continue
      }
      stream.abort(new Error('served'))
      await sleep(WORK_MS)
    }
  })()

  const flooding = { running: flood, attempts: 0 }
  const floodControl = flooder.services.stream.newControl()
  const floodDone = Promise.all(Array.from({ length: flood ? 32 : 0 }, async () => {
    while (flooding.running) {
      flooding.attempts++
      await floodControl.openStream(addr, PROTOCOL).then(() => {}, () => {})
    }
  }))

  // let the flood fill the backlog first
  await sleep(flood ? 1_000 : 100)

  const control = trusted.services.stream.newControl()
  const latency = []
  let lost = 0

  for (let i = 0; i < samples; i++) {
    const got = new Promise(resolve => { trustedArrival.resolve = resolve })
    const started = performance.now()
    let s
    try {
      s = await control.openStream(addr, PROTOCOL)
    } catch (err) {
      // reset as soon as it was negotiated: dropped (lost), or taken and
      // aborted by the loop above before the open returned (served)
      if (err?.name !== 'OpenStreamError') { throw err }
    }
    const at = await Promise.race([got, sleep(s == null ? 100 : 5_000).then(() => null)])
    if (at == null) {
      lost++
    } else {
      latency.push(at - started)
    }
    s?.abort(new Error('done'))
    await sleep(10)
  }

  flooding.running = false
  await floodDone
  const stats = incoming.stats()
  incoming.close()
  await serving
  await Promise.all([server.stop(), trusted.stop(), flooder.stop()])
  await settle()

  return { latency, lost, dropped: stats.dropped, floodAttempts: flooding.attempts }
}

export async function run ({ quick, log }) {
  const samples = quick ? 20 : 200
  const rows = []

  for (const flood of [false, true]) {
    for (const lanes of [true, false]) {
      const result = await measure({ lanes, flood, samples })
      const s = latencySummary(result.latency)
      const label = `${lanes ? 'with a trusted lane' : 'one shared backlog, no lanes'}, ${flood ? 'flood on the protocol' : 'no flood'}`
      log(`  ${label}: p50 ${s.p50.toFixed(2)} ms p99 ${s.p99.toFixed(2)} ms, trusted lost ${result.lost}, dropped ${result.dropped} of ${result.floodAttempts} flood attempts`)
      rows.push({
        scenario: name,
        figure: `trusted accept latency, ${label} (${samples} streams; trusted lost ${result.lost}; flood attempts dropped ${result.dropped}/${result.floodAttempts})`,
        transport: 'TCP+noise+yamux',
        unit: 'ms',
        unitLabel: 'ms p50 / p99',
        higherIsBetter: false,
        stream: s
      })
    }
  }

  return rows
}
