import { expect } from 'aegir/chai'
import { createCluster } from './fixtures/nodes.ts'
import { echo } from './fixtures/streams.ts'
import type { Cluster, Node } from './fixtures/nodes.ts'
import type { AcceptOptions, IncomingStats } from '../src/index.ts'
import type { PeerId, Stream } from '@libp2p/interface'

const PROTOCOL = '/test/scale/1.0.0'
const CLIENTS = 100
const EXCHANGES = 5
const PAYLOAD = 16
const WORKERS = 4
/** Every client must be done by then; a bound, not a speed requirement */
const DEADLINE_MS = 60_000

/** What one client saw */
interface ClientRecord {
  done: number
  /** Opens or exchanges the server reset (its backlog was full, or it evicted) */
  reset: number
  /** Echoes that came back other than sent */
  corrupt: number
  /** Any other failure, by error name */
  other: string[]
}

/** One open, 16-byte echo and close; true when the echo came back intact */
async function exchange (node: Node, server: PeerId, signal: AbortSignal): Promise<boolean> {
  const stream: Stream = await node.services.stream.newControl().openStream(server, PROTOCOL, { signal })

  try {
    const payload = crypto.getRandomValues(new Uint8Array(PAYLOAD))
    stream.send(payload)
    await stream.close({ signal })
    const chunks: Uint8Array[] = []

    for await (const chunk of stream) {
      chunks.push(chunk.subarray())
    }

    return Buffer.compare(Buffer.concat(chunks), payload) === 0
  } catch (err: any) {
    stream.abort(err)
    throw err
  }
}

/** `EXCHANGES` echoes, each retried after 0–20 ms when the server resets it */
async function client (node: Node, server: PeerId, signal: AbortSignal): Promise<ClientRecord> {
  const rec: ClientRecord = { done: 0, reset: 0, corrupt: 0, other: [] }

  while (rec.done < EXCHANGES && !signal.aborted) {
    try {
      if (await exchange(node, server, signal)) {
        rec.done++
      } else {
        rec.corrupt++
      }
    } catch (err: any) {
      // a drop by the server shows as RemoteResetError with the drop's code,
      // from the open or from the stream, whichever the reset reached first
      if (err?.name === 'RemoteResetError') {
        rec.reset++
      } else {
        rec.other.push(err?.name ?? String(err))
      }

      await new Promise(resolve => setTimeout(resolve, Math.random() * 20))
    }
  }

  return rec
}

/**
 * 100 client nodes each run 5 echoes against one node's `accept` served by 4
 * workers, all at once; what is checked does not depend on the machine's speed.
 */
async function swarm (options: AcceptOptions): Promise<{ records: ClientRecord[], stats: IncomingStats, taken: number }> {
  const cluster: Cluster = await createCluster('memory', CLIENTS)
  const incoming = cluster.listener.services.stream.newControl().accept(PROTOCOL, options)
  let taken = 0
  const workers = Array.from({ length: WORKERS }, async () => {
    for (;;) {
      const next = await incoming.next()

      if (next.done === true) {
        return
      }

      taken++
      await echo(next.value.stream).catch((err: Error) => { next.value.stream.abort(err) })
    }
  })

  try {
    // every client connected first, so that their opens arrive together
    await Promise.all(cluster.dialers.map(async node => node.dial(cluster.listener.peerId)))
    const signal = AbortSignal.timeout(DEADLINE_MS)
    const records = await Promise.all(cluster.dialers.map(async node => client(node, cluster.listener.peerId, signal)))
    const stats = incoming.stats()

    return { records, stats, taken }
  } finally {
    incoming.close()
    await Promise.all(workers)
    await cluster.stop()
  }
}

describe(`scale: ${CLIENTS} peers at once`, function () {
  this.timeout(DEADLINE_MS + 60_000)

  for (const [label, options] of [
    ['default options', {}],
    ['a backlog of 32 (the 0.1.x default, which resets some)', { backlog: 32 }],
    ['a backlog of 1024', { backlog: 1024 }]
  ] as Array<[string, AcceptOptions]>) {
    it(`with ${label}, every client is served, every echo comes back intact, and every stream that arrived is accepted or dropped and counted`, async () => {
      const { records, stats, taken } = await swarm(options)

      const failed = records.map((r, i) => ({ i, ...r })).filter(r => r.done !== EXCHANGES || r.corrupt > 0 || r.other.length > 0)
      expect(failed, 'clients not fully served, or that saw a corrupt echo or an error other than a reset').to.deep.equal([])

      // the identity holds, and nothing waits or went missing at the end
      expect(stats.arrived).to.equal(stats.accepted + stats.dropped + stats.gone + stats.queued)
      expect(stats.queued).to.equal(0)
      expect(stats.gone, 'honest clients give up on no stream').to.equal(0)
      // each exchange that came back was one stream accepted, and each
      // accepted stream was one exchange
      expect(stats.accepted).to.equal(CLIENTS * EXCHANGES)
      expect(taken).to.equal(stats.accepted)
      // every stream the server reset reached its opener as a reset: no drop is silent
      expect(records.reduce((sum, r) => sum + r.reset, 0)).to.equal(stats.dropped)
      expect(Object.values(stats.dropReasons).reduce((a, b) => a + b, 0)).to.equal(stats.dropped)

      if (options.backlog === 32) {
        // 100 streams at once into 32 slots and 4 workers: the resets were real
        expect(stats.dropped).to.be.greaterThan(0)
      }
    })
  }
})
