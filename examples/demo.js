/* eslint-disable no-console -- the demo reports to the terminal */
// Two libp2p nodes in one process speak a small custom protocol through
// libp2p-stream: one accepts, the other opens streams, and a summary is printed.
//
// Run with `npm start` (it builds the package first).
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import * as lp from 'it-length-prefixed'
import { createLibp2p } from 'libp2p'
import { stream } from '../dist/src/index.js'

const PROTOCOL = '/demo/shout/1.0.0'

async function createNode () {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { stream: stream() }
  })
}

const server = await createNode()
const client = await createNode()
const started = performance.now()

// inbound: each stream sends length-prefixed words and gets them back in capitals
const incoming = server.services.stream.newControl().accept(PROTOCOL, { backlog: 16 })
const serving = (async () => {
  for await (const { stream, peer } of incoming) {
    void (async () => {
      for await (const message of lp.decode(stream)) {
        const word = new TextDecoder().decode(message.subarray())
        stream.send(lp.encode.single(new TextEncoder().encode(word.toUpperCase())))
      }
      await stream.close()
    })().catch(err => {
      console.error('stream from %s failed: %s', peer, err.message)
      stream.abort(err)
    })
  }
})()

// outbound: ten clones of one control open a stream each, concurrently
const control = client.services.stream.newControl()
const words = ['libp2p', 'stream', 'accept', 'open', 'backlog']
const replies = await Promise.all(Array.from({ length: 10 }, async () => {
  const s = await control.clone().openStream(server.getMultiaddrs()[0], PROTOCOL, {
    signal: AbortSignal.timeout(5_000)
  })

  for (const word of words) {
    s.send(lp.encode.single(new TextEncoder().encode(word)))
  }
  await s.close()

  const answers = []
  for await (const message of lp.decode(s)) {
    answers.push(new TextDecoder().decode(message.subarray()))
  }
  return answers
}))

// a protocol nobody accepts fails with a typed error
const missing = await control.openStream(server.peerId, '/demo/missing/1.0.0').catch(err => err)

incoming.close()
await serving

console.log('libp2p-stream demo')
console.log('  streams opened and accepted: %d (dropped: %d)', incoming.accepted, incoming.dropped)
console.log('  messages answered:           %d', replies.flat().length)
console.log('  sample reply:                %s', replies[0].join(' '))
console.log('  unaccepted protocol:         %s', missing.name)
console.log('  after close(), registered:   %s', server.getProtocols().includes(PROTOCOL))
console.log('  took %d ms', Math.round(performance.now() - started))

await Promise.all([server.stop(), client.stop()])

const ok = incoming.accepted === 10 && replies.flat().length === 50 && missing.name === 'UnsupportedProtocolError'
process.exitCode = ok ? 0 : 1
