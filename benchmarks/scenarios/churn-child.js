// The churner of the churn scenario, in a process of its own: `node
// churn-child.js '<json>'` dials the server from `localAddress` (a network
// group of its own on 127/8) and opens streams to `protocol`, `inflight` at a
// time, resetting each as soon as it is open, until told to stop, for
// `seconds` at most, or `max` opens. Answers `{ stop }` with its counts.
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const { addr, protocol, localAddress, inflight = 32, seconds = 60, max = 5_000_000 } = JSON.parse(process.argv[2])
const node = await createLibp2p({
  transports: [tcp({ dialOpts: { localAddress } })],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()]
})
const counts = { opened: 0, failed: {} }
const deadline = Date.now() + seconds * 1000
const state = { stopping: false }
const RESET = new Error('churn')

const connection = await node.dial(multiaddr(addr))
const loops = Array.from({ length: inflight }, async () => {
  while (!state.stopping && Date.now() < deadline && counts.opened < max) {
    try {
      const stream = await connection.newStream(protocol, { maxOutboundStreams: 10_000, signal: AbortSignal.timeout(5_000) })
      stream.abort(RESET)
      counts.opened++
    } catch (err) {
      counts.failed[err?.name ?? 'Error'] = (counts.failed[err?.name ?? 'Error'] ?? 0) + 1
      if (connection.status !== 'open') { return }
    }
  }
})

process.once('disconnect', () => { process.exit(0) })
process.on('message', msg => {
  if (msg.stop == null) { return }
  state.stopping = true
  ;(async () => {
    await Promise.all(loops)
    await node.stop()
    const cpu = process.cpuUsage()
    process.send({ ...counts, cpu: cpu.user + cpu.system, status: connection.status }, () => { process.exit(0) })
  })().catch(err => { process.send({ error: err?.stack ?? String(err) }) })
})
process.send({ ready: true })
