import { StreamResetError } from '@libp2p/interface'
import { expect } from 'aegir/chai'
import { DROP_RESET_CODES, LIBP2P_RESET_CODES, OpenStreamError, RemoteResetError } from '../src/index.ts'
import { eventually, pairPerTest } from './fixtures/nodes.ts'
import type { Node } from './fixtures/nodes.ts'
import type { Stream } from '@libp2p/interface'

const PROTOCOL = '/test/reset-codes/1.0.0'

/** What an opener ran into: where (`open`, `read`, `send`) and the error */
interface Failure { where: 'open' | 'read' | 'send', err: Error }

/** Opens a stream and reads it to the end; the error and where it came, or undefined for a clean end */
async function openAndRead (open: () => Promise<Stream>): Promise<Failure | undefined> {
  let stream: Stream

  try {
    stream = await open()
  } catch (err: any) {
    return { where: 'open', err }
  }

  try {
    for await (const chunk of stream) { void chunk }
  } catch (err: any) {
    return { where: 'read', err }
  }

  return undefined
}

/** Writes a yamux WindowUpdate frame with RST and `code` as its Length on `stream`, as go-libp2p's `ResetWithError` does */
function resetWithCodeAsGoDoes (stream: Stream, code: number): void {
  const yamux = stream as any
  yamux.sendFrame({ type: 1, flag: 8, streamID: yamux.streamId, length: code })
}

describe('reset codes on the wire (yamux)', () => {
  let listener: Node
  let dialer: Node

  pairPerTest('tcp', pair => { ({ listener, dialer } = pair) })

  it('an open dropped for a full backlog fails with RemoteResetError code 0x1002 (RESOURCE_LIMIT_EXCEEDED), from openStream or from the first read alike', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 1 })
    const opener = dialer.services.stream.newControl()

    try {
      const failures: Failure[] = []
      const target = listener.peerId

      // one is queued and its read waits; the other seven are dropped
      for (let i = 0; i < 8; i++) {
        void openAndRead(async () => opener.openStream(target, PROTOCOL)).then(failure => {
          if (failure != null) { failures.push(failure) }
        })
      }

      await eventually(() => failures.length === 7, 'seven opens failed', 10_000)
      expect(incoming.stats().dropReasons['backlog-full']).to.equal(7)

      for (const { where, err } of failures) {
        expect(err, `${where}: ${err.message}`).to.be.an.instanceOf(RemoteResetError)
        expect(err).to.be.an.instanceOf(StreamResetError)
        expect(err).to.have.property('name', 'RemoteResetError')
        expect(err).to.include({ code: 0x1002, codeName: 'RESOURCE_LIMIT_EXCEEDED' })
        expect((err as RemoteResetError).reason).to.be.undefined()
      }
    } finally {
      incoming.close()
    }
  })

  it('a stream that expired in the backlog after openStream resolved: read and send() throw RemoteResetError with its own code and reason "expired"', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { maxQueueAge: 100 })

    try {
      const stream = await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
      await eventually(() => stream.status === 'reset', 'expired and reset', 5_000)

      const read = await openAndRead(async () => stream)
      expect(read?.where).to.equal('read')
      expect(read?.err).to.be.an.instanceOf(RemoteResetError)
      expect(read?.err).to.include({ code: DROP_RESET_CODES.expired, reason: 'expired' })
      expect(read?.err.message).to.include('expired')

      const sent = (() => { try { stream.send(Uint8Array.of(1)); return undefined } catch (err: any) { return err } })()
      expect(sent).to.be.an.instanceOf(RemoteResetError)
      expect(sent).to.include({ code: DROP_RESET_CODES.expired, reason: 'expired' })
    } finally {
      incoming.close()
    }
  })

  it('a reader waiting when a queued stream is reset for maxQueuedBytes gets RemoteResetError code 0x1002', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { maxQueuedBytes: 64 * 1024 })

    try {
      const stream = await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
      const reading = openAndRead(async () => stream)
      stream.send(new Uint8Array(200 * 1024))

      const failure = await reading
      expect(incoming.stats().dropReasons['bytes-limit']).to.equal(1)
      expect(failure?.where).to.equal('read')
      expect(failure?.err).to.be.an.instanceOf(RemoteResetError)
      expect(failure?.err).to.include({ code: LIBP2P_RESET_CODES.RESOURCE_LIMIT_EXCEEDED })
    } finally {
      incoming.close()
    }
  })

  it('a stream still queued when the accept ends is reset with code "closed", read by the opener', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const stream = await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
    await eventually(() => incoming.queued === 1, 'queued')
    const reading = openAndRead(async () => stream)

    incoming.close()

    const failure = await reading
    expect(failure?.err).to.be.an.instanceOf(RemoteResetError)
    expect(failure?.err).to.include({ code: DROP_RESET_CODES.closed, reason: 'closed' })
  })

  it('an accepted stream whose opener resets it with a code (as go-libp2p\'s ResetWithError) fails its reader with that code', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)

    try {
      // a raw js-libp2p opener writing the frame go-libp2p writes
      const raw = await dialer.dialProtocol(listener.getMultiaddrs(), PROTOCOL)
      raw.send(Uint8Array.of(1))
      const { value } = await incoming.next()
      const reading = openAndRead(async () => value!.stream)

      resetWithCodeAsGoDoes(raw, LIBP2P_RESET_CODES.RATE_LIMITED)

      const failure = await reading
      expect(failure?.err).to.be.an.instanceOf(RemoteResetError)
      expect(failure?.err).to.include({ code: 0x1003, codeName: 'RATE_LIMITED' })
      expect((failure?.err as RemoteResetError).reason).to.be.undefined()
    } finally {
      incoming.close()
    }
  })

  it('a raw js-libp2p opener whose stream is dropped sees a plain reset: the code changes nothing for it', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 0 })

    try {
      const stream = await dialer.dialProtocol(listener.getMultiaddrs(), PROTOCOL)
      const failure = await openAndRead(async () => stream)

      expect(incoming.stats().dropReasons['backlog-full']).to.equal(1)
      expect(stream.status).to.equal('reset')
      // raw js-libp2p: a reader iterating at the reset gets StreamResetError, a later one a clean end
      expect(failure?.err.name ?? 'clean end').to.be.oneOf(['StreamResetError', 'clean end'])
    } finally {
      incoming.close()
    }
  })

  it('a reset without a code is what it was: OpenStreamError caused by StreamResetError, or StreamResetError on a read', async () => {
    // a raw listener that resets every stream as soon as it is negotiated
    await listener.handle(PROTOCOL, (stream) => { stream.abort(new Error('no')) })

    const failure = await openAndRead(async () => dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL))

    expect(failure?.err).to.not.be.an.instanceOf(RemoteResetError)

    if (failure?.where === 'open') {
      expect(failure.err).to.be.an.instanceOf(OpenStreamError)
      expect(failure.err.cause).to.have.property('name', 'StreamResetError')
    } else {
      expect(failure?.err).to.have.property('name', 'StreamResetError')
    }
  })
})
