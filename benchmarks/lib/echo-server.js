// The two sides of a server that echoes one protocol with a fixed number of
// workers, as the swarm and churn scenarios compare them: libp2p-stream's
// `accept` served by `workers` loops, one stream at a time each, or raw
// js-libp2p `handle()` whose handler waits, first in first out and without a
// bound, for one of `workers` slots.
import { echoBack } from './util.js'

/**
 * Serves `protocol` on `node` with `side`'s way; counts in `served` the
 * streams taken (`taken`) and the longest wait line (`maxWaiting`), and tells
 * `failed` of each echo that failed.
 *
 * @param {object} config
 * @param {import('../../dist/test/fixtures/nodes.js').Node} config.node
 * @param {'stream' | 'raw'} config.side
 * @param {string} config.protocol
 * @param {number} config.workers - streams served at once
 * @param {object} [config.accept] - options of `accept` (stream side)
 * @param {{ taken: number, maxWaiting?: number }} config.served
 * @param {(err: Error) => void} config.failed
 * @returns {Promise<{ incoming?: import('../../dist/src/index.js').IncomingStreams, loops: Array<Promise<void>> }>}
 */
export async function serveEchoWithWorkers ({ node, side, protocol, workers, accept = {}, served, failed }) {
  if (side === 'stream') {
    const incoming = node.services.stream.newControl().accept(protocol, accept)
    const loops = Array.from({ length: workers }, async () => {
      for await (const { stream } of incoming) {
        served.taken++
        await echoBack(stream).catch(err => { failed(err); stream.abort(err) })
      }
    })

    return { incoming, loops }
  }

  if (side !== 'raw') {
    throw new Error(`side must be stream or raw, got ${side}`)
  }

  let free = workers
  const waiting = []
  await node.handle(protocol, async stream => {
    if (free > 0) {
      free--
    } else {
      await new Promise(resolve => {
        waiting.push(resolve)
        served.maxWaiting = Math.max(served.maxWaiting ?? 0, waiting.length)
      })
    }
    served.taken++
    try {
      await echoBack(stream)
    } catch (err) {
      failed(err)
      stream.abort(err)
    } finally {
      const next = waiting.shift()
      if (next == null) { free++ } else { next() }
    }
  }, { maxInboundStreams: 1024 })

  return { loops: [] }
}
