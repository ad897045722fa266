// 1. Throughput of one stream: accept/openStream against handle/dialProtocol,
// one way and echo, over TCP and the memory transport, rounds interleaved.
import { createPair, TRANSPORTS, transportLabel } from '../lib/nodes.js'
import { countBytes, echoBack, interleave, KiB, MiB, roundsRow, sendBytes, settle, summary, timed } from '../lib/util.js'

export const name = 'throughput'
export const title = 'Throughput, one stream, 64 KiB send() chunks with onDrain() backpressure'

const CHUNK = new Uint8Array(64 * KiB).fill(0x5a)

export async function run ({ quick, log }) {
  const bytes = (quick ? 16 : 256) * MiB
  const rounds = quick ? 2 : 4
  const rows = []

  for (const transport of TRANSPORTS) {
    const pair = await createPair(transport)
    const peer = pair.server.peerId

    // libp2p-stream side: one accept for both modes; the negotiated protocol says which
    const ONEWAY_S = '/bench/throughput/oneway/stream/1.0.0'
    const ECHO_S = '/bench/throughput/echo/stream/1.0.0'
    const ONEWAY_R = '/bench/throughput/oneway/raw/1.0.0'
    const ECHO_R = '/bench/throughput/echo/raw/1.0.0'

    const PROTOCOLS = { stream: { oneway: ONEWAY_S, echo: ECHO_S }, raw: { oneway: ONEWAY_R, echo: ECHO_R } }

    const serve = (stream, protocol) => {
      const work = protocol.includes('/echo/')
        ? echoBack(stream)
        : countBytes(stream).then(async () => stream.close())
      work.catch(err => { stream.abort(err) })
    }

    const incoming = pair.serverControl.accept([ONEWAY_S, ECHO_S], { backlog: 4 })
    const serving = (async () => {
      for await (const { stream, protocol } of incoming) {
        serve(stream, protocol)
      }
    })()
    await pair.server.handle(ONEWAY_R, stream => { serve(stream, stream.protocol) })
    await pair.server.handle(ECHO_R, stream => { serve(stream, stream.protocol) })

    const sides = {
      stream: async protocol => pair.clientControl.openStream(peer, protocol),
      raw: async protocol => pair.client.dialProtocol(peer, protocol)
    }

    // one transfer: open, send `size` bytes, close the write side; done when
    // the remote has read everything and closed (one way) or everything came
    // back (echo). Returns wall and CPU µs (whole process, both nodes) and the
    // most bytes the writer had queued.
    const transfer = async (side, mode, size) => {
      const protocol = PROTOCOLS[side][mode]
      const s = await sides[side](protocol)
      const { value: [queued, received], wall, cpu } = await timed(async () => Promise.all([
        sendBytes(s, size, CHUNK).then(async peak => { await s.close(); return peak }),
        countBytes(s)
      ]))
      if (mode === 'echo' && received !== size) {
        throw new Error(`echo returned ${received} of ${size} bytes`)
      }
      return { wall, cpu, queued }
    }

    for (const mode of ['oneway', 'echo']) {
      const measured = []
      const queued = { stream: [], raw: [] }

      // warm-up, not recorded
      for (const side of ['stream', 'raw']) {
        await transfer(side, mode, (quick ? 2 : 8) * MiB)
      }

      for (let i = 0; i < rounds; i++) {
        const round = {}
        for (const side of interleave(i, 'stream', 'raw')) {
          await settle()
          round[side] = await transfer(side, mode, bytes)
          queued[side].push(round[side].queued)
        }
        measured.push(round)
        const f = r => `${(bytes / 1e6 / (r.wall / 1e6)).toFixed(1)} MB/s, ${(r.cpu / (bytes / 1e6)).toFixed(0)} µs CPU/MB`
        log(`  ${transport} ${mode} round ${i + 1}/${rounds}: stream ${f(round.stream)}; raw ${f(round.raw)}`)
      }

      rows.push(roundsRow({
        scenario: name,
        figure: `${mode === 'echo' ? 'echo (each way)' : 'one way'}, ${bytes / MiB} MiB, ${rounds} rounds`,
        transport: transportLabel(transport),
        unit: 'MB/s'
      }, measured, bytes / 1e6, 'MB'), {
        // what backpressure holds: js-libp2p's own onDrain() stops waiting
        // after the first drain, so a raw writer queues nearly everything
        scenario: name,
        figure: `${mode === 'echo' ? 'echo' : 'one way'}, ${bytes / MiB} MiB: most bytes the writer had queued`,
        transport: transportLabel(transport),
        unit: 'B',
        higherIsBetter: false,
        stream: summary(queued.stream),
        raw: summary(queued.raw)
      })
    }

    incoming.close()
    await serving
    await pair.server.unhandle([ONEWAY_R, ECHO_R])
    await pair.close()
  }

  return rows
}
