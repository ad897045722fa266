// Two libp2p nodes in this process, each with the libp2p-stream service, so
// that both sides of every comparison (libp2p-stream and raw js-libp2p) run on
// the very same nodes and connection.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { memory } from '@libp2p/memory'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { stream } from '../../dist/src/index.js'

let memoryAddress = 0
const READY = '/bench/ready/1.0.0'

export const TRANSPORTS = ['tcp', 'memory']

export function transportLabel (transport) {
  return transport === 'tcp' ? 'TCP+noise+yamux' : 'memory+noise+yamux'
}

/**
 * One node with the libp2p-stream service; `listen` gives it a listening address
 *
 * @param transport
 * @param listen
 */
export async function createNode (transport, listen) {
  return createLibp2p({
    addresses: {
      listen: listen
        ? [transport === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : `/memory/libp2p-stream-bench-${process.pid}-${memoryAddress++}`]
        : []
    },
    transports: [transport === 'tcp' ? tcp() : memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      // the benchmarks dial the same host many times in a row on purpose
      inboundConnectionThreshold: 1_000_000,
      maxIncomingPendingConnections: 1_000
    },
    services: { stream: stream() }
  })
}

/**
 * A listening `server` and a `client`, connected once (unless `connect` is
 * false). `close()` stops both.
 *
 * @param transport
 * @param root0
 * @param root0.connect
 */
export async function createPair (transport, { connect = true } = {}) {
  const server = await createNode(transport, true)
  const client = await createNode(transport, false)
  const addr = server.getMultiaddrs()[0]

  // a listener aborts a connection that gets more than 10 streams before it
  // has finished setting it up: one negotiated stream proves it has
  await server.handle(READY, stream => { stream.abort(new Error('ready')) })

  if (connect) {
    await client.dial(addr)
    const s = await client.dialProtocol(server.peerId, READY)
    s.abort(new Error('ready'))
  }

  return {
    server,
    client,
    addr,
    serverControl: server.services.stream.newControl(),
    clientControl: client.services.stream.newControl(),
    async close () {
      await Promise.all([client.stop(), server.stop()])
    }
  }
}
