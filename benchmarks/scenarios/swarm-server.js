// The server of the swarm scenario: one libp2p node serving a 16-byte echo on
// one protocol, either through libp2p-stream (`accept(protocol, options)`
// served by `workers` loops taking one stream at a time) or through raw
// js-libp2p (`handle()` whose handler waits, first in first out, for one of
// `workers` slots). Nothing else runs on it.
//
// Over TCP it runs in a child process of its own (`node --expose-gc
// swarm-server.js '<json>'`, driven over IPC), so that its memory is its own:
// `measure` answers `process.memoryUsage()` heap + array buffers after a full
// GC. The memory transport does not cross processes, so there the scenario
// calls `startServer` in its own process and takes no memory figure.
import { serveEchoWithWorkers } from '../lib/echo-server.js'
import { createNode } from '../lib/nodes.js'
import { settle } from '../lib/util.js'

export const PROTOCOL = '/bench/swarm/1.0.0'

/**
 * Starts the server node and registers its side
 *
 * @param {object} config
 * @param {'tcp' | 'memory'} config.transport
 * @param {'stream' | 'raw'} config.side
 * @param {object} [config.accept] - options of `accept` (stream side)
 * @param {number} [config.workers] - streams served at once
 */
export async function startServer ({ transport, side, accept = {}, workers = 4 }) {
  const node = await createNode(transport, true, { maxConnections: 10_000 })
  const served = { taken: 0, maxWaiting: 0, errors: {} }
  const failed = err => { served.errors[err?.name ?? 'Error'] = (served.errors[err?.name ?? 'Error'] ?? 0) + 1 }
  const { incoming, loops } = await serveEchoWithWorkers({ node, side, protocol: PROTOCOL, workers, accept, served, failed })

  return {
    peerId: node.peerId.toString(),
    addrs: node.getMultiaddrs().map(ma => ma.toString()),
    node,
    /** heap + array buffers after a full GC, and the connections open */
    async measure () {
      await settle()
      const m = process.memoryUsage()
      const connections = node.getConnections()
      // the /24s (or other addresses) the connections come from: proof the clients' source addresses took
      const groups = new Set(connections.map(c => c.remoteAddr.toString().split('/').slice(0, 3).join('/').replace(/\.\d+$/, '')))
      const cpu = process.cpuUsage()
      return { cpu: cpu.user + cpu.system, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, total: m.heapUsed + m.arrayBuffers, rss: m.rss, connections: connections.length, networkGroups: groups.size }
    },
    stats () {
      return { served, accept: incoming?.stats() }
    },
    async stop () {
      incoming?.close()
      await Promise.all(loops)
      await node.stop()
    }
  }
}

// as a child process: start, say where, then answer the parent's commands
if (process.send != null && process.argv[2] != null) {
  const server = await startServer(JSON.parse(process.argv[2]))
  const baseline = await server.measure()
  // the parent went away without stopping it
  process.once('disconnect', () => { process.exit(0) })
  process.on('message', async msg => {
    try {
      if (msg.cmd === 'measure') {
        process.send({ id: msg.id, value: await server.measure() })
      } else if (msg.cmd === 'stats') {
        process.send({ id: msg.id, value: server.stats() })
      } else if (msg.cmd === 'stop') {
        await server.stop()
        process.send({ id: msg.id, value: true })
        process.exit(0)
      }
    } catch (err) {
      process.send({ id: msg.id, error: err?.stack ?? String(err) })
    }
  })
  process.send({ ready: true, peerId: server.peerId, addrs: server.addrs, baseline })
}
