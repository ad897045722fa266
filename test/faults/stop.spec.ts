import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createNode, createPair } from '../fixtures/nodes.ts'
import { silentServer } from '../fixtures/silent-server.ts'
import { readAll } from '../fixtures/streams.ts'
import { eventually, nextWithin } from '../fixtures/wait.ts'
import { spawnPeer } from './fixtures/child-peer.ts'
import { connectedFrozenPeer } from './fixtures/frozen-peer.ts'
import { failOnUnhandledRejections } from './fixtures/guard.ts'
import { SINK } from './fixtures/protocols.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { ChildPeer } from './fixtures/child-peer.ts'
import type { SilentServer } from '../fixtures/silent-server.ts'
import type { Stream } from '@libp2p/interface'

const PROTOCOL = '/test/faults/stop/1.0.0'

/** How long stop() and what it ends may take, in ms */
const PROMPTLY = 2_000

/**
 * Stops `node` while `pending` is in flight; says how `pending` ended and how
 * long it and stop() took.
 */
async function stopDuring (node: Node, pending: Promise<unknown>): Promise<{ error?: any, settledIn: number, stoppedIn: number }> {
  const start = Date.now()
  let settledIn = 0
  const settled = pending.then(
    () => { settledIn = Date.now() - start; return undefined },
    (error: unknown) => { settledIn = Date.now() - start; return error }
  )

  await node.stop()
  const stoppedIn = Date.now() - start
  const error = await settled

  return { error, settledIn, stoppedIn }
}

describe('stop() of the local node', () => {
  failOnUnhandledRejections()

  let node: Node
  let server: SilentServer | undefined
  let peer: ChildPeer | undefined

  beforeEach(async () => {
    node = await createNode('tcp')
  })

  afterEach(async () => {
    await node.stop()
    await server?.close()
    await peer?.kill()
    server = undefined
    peer = undefined
  })

  it(`during a dial to a server that never speaks: openStream rejects with OpenStreamError and stop() resolves, both within ${PROMPTLY} ms`, async function () {
    this.timeout(10_000)
    server = await silentServer()
    const open = node.services.stream.newControl().openStream(multiaddr(server.address), PROTOCOL)
    await eventually(() => server?.sockets.size === 1, 'the dial connected')

    const { error, settledIn, stoppedIn } = await stopDuring(node, open)

    expect(error).to.have.property('name', 'OpenStreamError')
    expect(settledIn).to.be.below(PROMPTLY)
    expect(stoppedIn).to.be.below(PROMPTLY)
    expect(node.getDialQueue()).to.have.lengthOf(0)
    await eventually(() => server?.sockets.size === 0, 'the socket to the silent server closed', PROMPTLY)
  })

  it(`during negotiation with a frozen remote (SIGSTOP): openStream rejects with OpenStreamError and stop() resolves, both within ${PROMPTLY} ms`, async function () {
    this.timeout(20_000)
    const frozen = await connectedFrozenPeer(node)
    peer = frozen.peer
    const open = node.services.stream.newControl().openStream(frozen.connection.remotePeer, PROTOCOL)
    // the stream is created before negotiation starts
    await eventually(() => frozen.connection.streams.some(s => s.direction === 'outbound' && (s.protocol ?? '') === ''), 'negotiation started')

    const { error, settledIn, stoppedIn } = await stopDuring(node, open)

    expect(error).to.have.property('name', 'OpenStreamError')
    expect(settledIn).to.be.below(PROMPTLY)
    expect(stoppedIn).to.be.below(PROMPTLY)
    expect(node.getConnections()).to.have.lengthOf(0)
  })

  it(`while the application holds an accepted stream: the stream ends at both ends and stop() resolves within ${PROMPTLY} ms`, async function () {
    this.timeout(10_000)
    const { listener, dialer, stop } = await createPair('tcp')

    try {
      const incoming = listener.services.stream.newControl().accept(PROTOCOL)
      const opened = await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
      const { value } = await nextWithin(incoming)
      const held: Stream = value!.stream
      // the application is reading the stream it holds
      const reading = readAll(held)

      const { settledIn, stoppedIn } = await stopDuring(listener, reading)

      expect(settledIn).to.be.below(PROMPTLY)
      expect(stoppedIn).to.be.below(PROMPTLY)
      expect(held.status).to.not.equal('open')
      expect(incoming.closed).to.be.true()
      await eventually(() => opened.status !== 'open', 'the opener\'s stream ended', PROMPTLY)
    } finally {
      await stop()
    }
  })

  it(`while the application holds an accepted stream from a remote that froze (SIGSTOP): the stream ends and stop() resolves within ${PROMPTLY} ms`, async function () {
    this.timeout(20_000)
    const incoming = node.services.stream.newControl().accept(SINK)
    // the remote opens a stream to us and writes to it
    peer = await spawnPeer(['open', node.getMultiaddrs()[0].toString()])
    const { value } = await nextWithin(incoming)
    const held: Stream = value!.stream
    let received = 0
    const reading = (async () => {
      for await (const chunk of held) {
        received += chunk.byteLength
      }
    })()

    await eventually(() => received > 0, 'the remote is writing')
    peer.signal('SIGSTOP')

    const { settledIn, stoppedIn } = await stopDuring(node, reading)

    expect(settledIn).to.be.below(PROMPTLY)
    expect(stoppedIn).to.be.below(PROMPTLY)
    expect(held.status).to.not.equal('open')
    expect(incoming.closed).to.be.true()
  })
})
