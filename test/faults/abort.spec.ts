import { getEventListeners } from 'node:events'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createNode } from '../fixtures/nodes.ts'
import { silentServer } from '../fixtures/silent-server.ts'
import { eventually } from '../fixtures/wait.ts'
import { connectedFrozenPeer } from './fixtures/frozen-peer.ts'
import { failOnUnhandledRejections } from './fixtures/guard.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { ChildPeer } from './fixtures/child-peer.ts'
import type { SilentServer } from '../fixtures/silent-server.ts'
import type { Connection } from '@libp2p/interface'

const PROTOCOL = '/test/faults/abort/1.0.0'

/** How long after the abort openStream may take to reject, in ms */
const PROMPTLY = 1_000

/** The abort listeners on `signal`: all of them were added by openStream */
function abortListeners (signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length
}

/** Streams still negotiating on `connection` */
function negotiating (connection: Connection): number {
  return connection.streams.filter(s => s.direction === 'outbound' && (s.protocol ?? '') === '').length
}

/**
 * Aborts `controller` once `started()` holds and checks that `open` rejects
 * with an AbortError promptly, that openStream listened on the signal while
 * it waited and that it no longer does.
 */
async function abortWhen (started: () => boolean, controller: AbortController, open: Promise<unknown>): Promise<void> {
  const outcome = open.then(() => undefined, (err: unknown) => err)
  await eventually(started, 'the phase to abort was reached')
  expect(abortListeners(controller.signal)).to.equal(1)

  const abortedAt = Date.now()
  controller.abort()
  const err = await outcome

  expect(err).to.have.property('name', 'AbortError')
  expect(Date.now() - abortedAt).to.be.below(PROMPTLY)
  expect(abortListeners(controller.signal)).to.equal(0)
}

describe('aborting openStream at every phase', () => {
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

  it('before the dial (signal already aborted): rejects with AbortError, dials nothing, adds no listener', async () => {
    const signal = AbortSignal.abort()
    server = await silentServer()

    await expect(node.services.stream.newControl().openStream(multiaddr(server.address), PROTOCOL, { signal }))
      .to.eventually.be.rejected.with.property('name', 'AbortError')

    expect(abortListeners(signal)).to.equal(0)
    expect(node.getDialQueue()).to.have.lengthOf(0)
    expect(node.getConnections()).to.have.lengthOf(0)
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(server.sockets.size).to.equal(0)
  })

  it(`during a dial to an address that never answers: rejects with AbortError within ${PROMPTLY} ms, leaving no pending dial, socket or listener`, async () => {
    server = await silentServer()
    const controller = new AbortController()
    const open = node.services.stream.newControl().openStream(multiaddr(server.address), PROTOCOL, { signal: controller.signal })

    await abortWhen(() => server?.sockets.size === 1, controller, open)

    expect(node.getDialQueue()).to.have.lengthOf(0)
    expect(node.getConnections()).to.have.lengthOf(0)
    await eventually(() => server?.sockets.size === 0, 'the dialled socket closed')
  })

  it(`during negotiation with a remote that never answers (frozen with SIGSTOP): rejects with AbortError within ${PROMPTLY} ms, leaving no stream, dial or listener`, async function () {
    this.timeout(20_000)
    const frozen = await connectedFrozenPeer(node)
    peer = frozen.peer
    const controller = new AbortController()
    const open = node.services.stream.newControl().openStream(frozen.connection.remotePeer, PROTOCOL, { signal: controller.signal })

    await abortWhen(() => negotiating(frozen.connection) === 1, controller, open)

    expect(node.getDialQueue()).to.have.lengthOf(0)
    await eventually(() => negotiating(frozen.connection) === 0, 'the half-negotiated stream is gone')
    expect(frozen.connection.status).to.equal('open')
  })

  it(`while waiting behind the connection's first negotiation: rejects with AbortError within ${PROMPTLY} ms and leaves the first one running`, async function () {
    this.timeout(20_000)
    const frozen = await connectedFrozenPeer(node)
    peer = frozen.peer
    const control = node.services.stream.newControl()
    const first = new AbortController()
    const leading = control.openStream(frozen.connection.remotePeer, PROTOCOL, { signal: first.signal }).catch((err: Error) => err)
    await eventually(() => negotiating(frozen.connection) === 1, 'the first negotiation started')

    const controller = new AbortController()
    const waiting = control.openStream(frozen.connection.remotePeer, PROTOCOL, { signal: controller.signal })

    // the second open waits for the first without creating a stream of its own
    await eventually(() => abortListeners(controller.signal) === 1, 'the second open started')
    await new Promise(resolve => setTimeout(resolve, 50))
    await abortWhen(() => negotiating(frozen.connection) === 1, controller, waiting)
    expect(negotiating(frozen.connection)).to.equal(1)

    first.abort()
    expect(await leading).to.have.property('name', 'AbortError')
    expect(abortListeners(first.signal)).to.equal(0)
  })

  it('after the stream is open: aborting the signal no longer touches it or adds listeners', async () => {
    const remote = await createNode('tcp')

    try {
      const incoming = remote.services.stream.newControl().accept(PROTOCOL)
      const controller = new AbortController()
      const s = await node.services.stream.newControl().openStream(remote.getMultiaddrs()[0], PROTOCOL, { signal: controller.signal })

      expect(abortListeners(controller.signal)).to.equal(0)
      controller.abort()
      expect(s.status).to.equal('open')
      incoming.close()
    } finally {
      await remote.stop()
    }
  })
})
