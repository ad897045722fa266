// The opening node for the memory scenario's per-node figure, in a process of
// its own so that the parent's heap holds the accepting node alone. Driven over
// IPC: { dial: multiaddr } connects, { open: protocol, n } opens n streams
// (32 at a time) and holds them, { abort: true } resets them all, { stop: true }
// exits. Each message is answered with { ok: true } or { error }.
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const node = await createLibp2p({
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()]
})
let peer
const held = []

process.on('message', (msg) => {
  (async () => {
    if (msg.dial != null) {
      const connection = await node.dial(multiaddr(msg.dial))
      peer = connection.remotePeer
    } else if (msg.open != null) {
      const open = async () => node.dialProtocol(peer, msg.open, { maxOutboundStreams: 10_000 })
      for (let i = 0; i < msg.n; i += 32) {
        held.push(...await Promise.all(Array.from({ length: Math.min(32, msg.n - i) }, open)))
      }
    } else if (msg.abort != null) {
      for (const s of held.splice(0)) { s.abort(new Error('benchmark done')) }
    } else if (msg.stop != null) {
      await node.stop()
      process.send({ ok: true }, () => process.exit(0))
      return
    }
    process.send({ ok: true })
  })().catch(err => { process.send({ error: err?.stack ?? String(err) }) })
})

process.send({ ready: true })
