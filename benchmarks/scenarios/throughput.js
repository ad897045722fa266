// 1. Throughput of one stream: accept/openStream against handle/dialProtocol,
// one way and echo, over TCP and the memory transport, rounds interleaved.
import { createPair, TRANSPORTS, transportLabel } from '../lib/nodes.js'
import { countBytes, echoBack, interleave, KiB, MiB, sendBytes, serveEach, settle, summary, median } from '../lib/util.js'

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

    const serve = async ({ stream, protocol }) => {
      if (protocol.includes('/echo/')) {
        await echoBack(stream)
      } else {
        await countBytes(stream)
        await stream.close()
      }
    }
    const serveRaw = stream => { serve({ stream, protocol: stream.protocol }).catch(err => { stream.abort(err) }) }

    const incoming = pair.serverControl.accept([ONEWAY_S, ECHO_S], { backlog: 4 })
    const serving = serveEach(incoming, serve)
    await pair.server.handle(ONEWAY_R, serveRaw)
    await pair.server.handle(ECHO_R, serveRaw)

    const sides = {
      stream: async protocol => pair.clientControl.openStream(peer, protocol),
      raw: async protocol => pair.client.dialProtocol(peer, protocol)
    }

    // one transfer: open, send `size` bytes, close the write side; done when
    // the remote has read everything and closed (one way) or everything came
    // back (echo). Returns MB/s of payload in one direction.
    const transfer = async (side, mode, size) => {
      const protocol = PROTOCOLS[side][mode]
      const s = await sides[side](protocol)
      const cpu = process.cpuUsage()
      const started = performance.now()
      const [queued, received] = await Promise.all([
        sendBytes(s, size, CHUNK).then(async peak => { await s.close(); return peak }),
        countBytes(s)
      ])
      const seconds = (performance.now() - started) / 1000
      const used = process.cpuUsage(cpu)
      if (mode === 'echo' && received !== size) {
        throw new Error(`echo returned ${received} of ${size} bytes`)
      }
      // wall-clock MB/s, and MB per CPU-second of this process (both nodes):
      // the second hardly moves when other work competes for the cores
      return { wall: size / 1e6 / seconds, cpu: size / 1e6 / ((used.user + used.system) / 1e6), queued }
    }

    for (const mode of ['oneway', 'echo']) {
      const figures = { stream: [], raw: [] }
      const cpuFigures = { stream: [], raw: [] }
      const ratios = []
      const cpuRatios = []
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
          figures[side].push(round[side].wall)
          cpuFigures[side].push(round[side].cpu)
          queued[side].push(round[side].queued)
        }
        ratios.push(round.stream.wall / round.raw.wall)
        cpuRatios.push(round.stream.cpu / round.raw.cpu)
        log(`  ${transport} ${mode} round ${i + 1}/${rounds}: stream ${round.stream.wall.toFixed(1)} MB/s (${round.stream.cpu.toFixed(1)} MB/CPU-s), raw ${round.raw.wall.toFixed(1)} MB/s (${round.raw.cpu.toFixed(1)} MB/CPU-s)`)
      }

      rows.push({
        scenario: name,
        figure: `${mode === 'echo' ? 'echo (each way)' : 'one way'}, ${bytes / MiB} MiB`,
        transport: transportLabel(transport),
        unit: 'MB/s',
        higherIsBetter: true,
        stream: summary(figures.stream),
        raw: summary(figures.raw),
        ratio: { ...summary(ratios), ofMedians: median(figures.stream) / median(figures.raw) }
      }, {
        scenario: name,
        figure: `${mode === 'echo' ? 'echo' : 'one way'}, ${bytes / MiB} MiB: CPU cost`,
        transport: transportLabel(transport),
        unit: 'MB/CPU-s',
        higherIsBetter: true,
        stream: summary(cpuFigures.stream),
        raw: summary(cpuFigures.raw),
        ratio: { ...summary(cpuRatios), ofMedians: median(cpuFigures.stream) / median(cpuFigures.raw) }
      }, {
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
