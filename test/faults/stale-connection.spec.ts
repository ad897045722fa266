import { expect } from 'aegir/chai'
import { pairPerTest } from '../fixtures/nodes.ts'
import { failOnUnhandledRejections } from './fixtures/guard.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { Connection } from '@libp2p/interface'

const PROTOCOL = '/test/faults/stale-connection/1.0.0'

/** What libp2p's connection holds and does not expose: its stream muxer */
interface WithMuxer { muxer?: { status: string, abort(err: Error): void } }

/**
 * Closes the connection's muxer the way a lost link does, and returns while
 * libp2p still lists the connection as open (its socket closes a moment later)
 */
function loseMuxer (connection: Connection): void {
  const { muxer } = connection as unknown as WithMuxer

  if (muxer == null) {
    throw new Error('this libp2p keeps the muxer elsewhere: the test needs updating')
  }

  muxer.abort(new Error('link lost'))
  expect(muxer.status).to.not.equal('open')
}

describe('fault: a connection whose muxer closed under an open', () => {
  failOnUnhandledRejections()

  let listener: Node
  let dialer: Node

  pairPerTest('tcp', pair => { ({ listener, dialer } = pair) })

  it('openStream by peer id dials once more and opens on the new connection', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const control = dialer.services.stream.newControl()

    await control.openStream(listener.peerId, PROTOCOL)
    const { value: accepted } = await incoming.next()
    expect(accepted?.stream.protocol).to.equal(PROTOCOL)
    const [stale] = dialer.getConnections(listener.peerId)
    expect(stale?.status).to.equal('open')

    loseMuxer(stale as Connection)
    // libp2p still lists it, as open
    expect(dialer.getConnections(listener.peerId)).to.include(stale)
    expect(stale?.status).to.equal('open')

    const second = await control.openStream(listener.peerId, PROTOCOL)
    const { value: next } = await incoming.next()

    expect(second.status).to.equal('open')
    expect(next?.connection.remotePeer.equals(dialer.peerId)).to.equal(true)
    expect(dialer.getConnections(listener.peerId).some(c => c !== stale && c.status === 'open')).to.equal(true)

    // and the stream works end to end
    second.send(new Uint8Array([7]))
    const it = next?.stream[Symbol.asyncIterator]()
    const got = await it?.next()
    expect(got?.value.subarray()).to.deep.equal(new Uint8Array([7]))
    incoming.close()
  })

  it('openStream on a given connection does not dial: it rejects with OpenStreamError, cause ConnectionClosedError', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const control = dialer.services.stream.newControl()
    await control.openStream(listener.peerId, PROTOCOL)
    const [connection] = dialer.getConnections(listener.peerId)

    loseMuxer(connection)

    const err = await control.openStream(listener.peerId, PROTOCOL, { connection }).then(() => undefined, (e: Error) => e)
    expect(err?.name).to.equal('OpenStreamError')
    expect((err?.cause as Error | undefined)?.name).to.equal('ConnectionClosedError')
    incoming.close()
  })
})
