// Two libp2p nodes in this process, each with the libp2p-stream service, so
// that both sides of every comparison (libp2p-stream and raw js-libp2p) run on
// the very same nodes and connection.
import { createNode as createTestNode } from '../../dist/test/fixtures/nodes.js'

const READY = '/bench/ready/1.0.0'

// The bound on how fast a connection opens streams (`maxInboundStreamRate`)
// is node-wide, so it would hold both sides of a comparison alike, and the
// benchmarks open streams faster than any honest peer on purpose. It stays
// installed, so each stream pays for the check, at a rate never reached;
// the churn scenario sets its own.
const OPEN_RATE_NEVER_REACHED = 1e9

export const TRANSPORTS = ['tcp', 'memory']

export function transportLabel (transport) {
  return transport === 'tcp' ? 'TCP+noise+yamux' : 'memory+noise+yamux'
}

/**
 * One node with the libp2p-stream service; `listen` gives it a listening address
 *
 * @param transport
 * @param listen
 * @param connectionManager - added to the connection manager's settings
 * @param tcpInit - given to the TCP transport, e.g. `{ dialOpts: { localAddress } }` to dial from that address
 * @param init - given to `stream()` (`maxInboundStreamRate` defaults to a rate never reached here)
 */
export async function createNode (transport, listen, connectionManager, tcpInit, init = {}) {
  // the tests' node (dist/test/fixtures/nodes.js), which allows many
  // connections a second from one host, as the benchmarks make
  return createTestNode(transport, { maxInboundStreamRate: OPEN_RATE_NEVER_REACHED, ...init }, undefined, listen ? undefined : [], connectionManager, { tcp: tcpInit })
}

/**
 * A listening `server` and a `client`, connected once (unless `connect` is
 * false). `close()` stops both.
 *
 * @param transport
 * @param root0
 * @param root0.connect
 * @param root0.connectionManager - added to both nodes' connection manager settings
 */
export async function createPair (transport, { connect = true, connectionManager } = {}) {
  const server = await createNode(transport, true, connectionManager)
  const client = await createNode(transport, false, connectionManager)
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
