// The server of the churn scenario, in a child process of its own (`node
// churn-server.js '<json>'`, driven over IPC): one libp2p node serving a
// 16-byte echo on one protocol, through libp2p-stream (a default `accept`
// served by `workers` loops, one stream at a time each) or through raw
// js-libp2p (`handle()` whose handler waits, first in first out, for one of
// `workers` slots). Answers `stats` (what it served, its CPU time, how late
// its event loop ran since the last `stats` in ms, the accept's stats) and
// `stop`.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { DEFAULT_MAX_INBOUND_STREAM_RATE } from '../../dist/src/index.js'
import { serveEchoWithWorkers } from '../lib/echo-server.js'
import { createNode } from '../lib/nodes.js'

const { side, protocol: PROTOCOL, workers = 4, rate } = JSON.parse(process.argv[2])
// raw js-libp2p has no bound on the open rate; libp2p-stream's default, or --churn-rate
const init = side === 'raw' ? { maxInboundStreamRate: Infinity } : { maxInboundStreamRate: rate == null ? DEFAULT_MAX_INBOUND_STREAM_RATE : Number(rate) }
const node = await createNode('tcp', true, undefined, undefined, init)
const served = { taken: 0, failed: {} }
const failed = err => { served.failed[err?.name ?? 'Error'] = (served.failed[err?.name ?? 'Error'] ?? 0) + 1 }
// how long the event loop was late, since the last `stats`
const delay = monitorEventLoopDelay({ resolution: 1 })
delay.enable()
const { incoming, loops } = await serveEchoWithWorkers({ node, side, protocol: PROTOCOL, workers, served, failed })

process.once('disconnect', () => { process.exit(0) })
process.on('message', msg => {
  (async () => {
    if (msg.cmd === 'stats') {
      const cpu = process.cpuUsage()
      const loopDelay = { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 }
      delay.reset()
      process.send({ id: msg.id, value: { served: { ...served, failed: { ...served.failed } }, cpu: cpu.user + cpu.system, loopDelay, accept: incoming?.stats(), service: node.services.stream.stats() } })
    } else if (msg.cmd === 'stop') {
      incoming?.close()
      await Promise.all(loops)
      await node.stop()
      process.send({ id: msg.id, value: true }, () => { process.exit(0) })
    }
  })().catch(err => { process.send({ id: msg.id, error: err?.stack ?? String(err) }) })
})
process.send({ ready: true, peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(ma => ma.toString()) })
