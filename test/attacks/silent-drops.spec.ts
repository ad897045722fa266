/**
 * Attack surface: drops that nobody hears of. 0.1.0 let `openStream` resolve
 * with a stream the remote had already reset, and a reader that came 50 ms
 * later saw a clean, empty end (20 of 20). Bound: a reset is an error for the
 * opener on every later read and write, every stream that arrives is counted
 * in exactly one of accepted, dropped, gone and queued, and each drop reaches
 * `onDrop`.
 */
import { StreamResetError } from '@libp2p/interface'
import { expect } from 'aegir/chai'
import { openOrDropped } from '../fixtures/drops.ts'
import { createNode, eventually, pairPerTest } from '../fixtures/nodes.ts'
import type { DroppedStream } from '../../src/index.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { Stream } from '@libp2p/interface'

const PROTOCOL = '/test/attack/drops/1.0.0'

/** How a stream's reader ends: 'clean' or the name of what it threw */
async function readEnd (stream: Stream): Promise<string> {
  try {
    let bytes = 0
    for await (const chunk of stream) {
      bytes += chunk.byteLength
    }
    return bytes === 0 ? 'clean' : `clean after ${bytes} bytes`
  } catch (err: any) {
    return err.name
  }
}

describe('attack: silent drops', () => {
  let listener: Node
  let dialer: Node

  pairPerTest('tcp', pair => { ({ listener, dialer } = pair) })

  it('every dropped open is the same error for the opener (RemoteResetError), never a clean end (20 of 20)', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 0 })
    const opener = dialer.services.stream.newControl()
    const target = listener.peerId
    const outcomes: string[] = []

    for (let i = 0; i < 20; i++) {
      const s = await openOrDropped(async () => opener.openStream(target, PROTOCOL))

      if (s instanceof Error) {
        outcomes.push(`open: ${s.name}`)
        continue
      }

      await new Promise(resolve => setTimeout(resolve, 50))
      outcomes.push(`read: ${await readEnd(s)}`)
    }

    // the same error whether the reset came before openStream returned or after
    expect(outcomes.filter(o => o.endsWith('RemoteResetError'))).to.have.lengthOf(20, outcomes.join(', '))
    expect(incoming.dropped).to.equal(20)
    incoming.close()
  })

  it('a stream the remote resets after openStream resolved throws StreamResetError on a late read and on send', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const s = await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
    const { value } = await incoming.next()
    value!.stream.abort(new Error('the server gives up'))

    await eventually(() => s.status === 'reset', 'reset arrives')
    await new Promise(resolve => setTimeout(resolve, 50))

    expect(await readEnd(s)).to.equal('StreamResetError')
    expect(() => s.send(new Uint8Array(1))).to.throw(StreamResetError)
    incoming.close()
  })

  it('a close() that the remote interrupts with a reset rejects with an Error, not an event object', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const s = await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
    await eventually(() => incoming.queued === 1, 'queued, so paused: the opener\'s writes wait for window')

    s.send(new Uint8Array(2 * 1024 * 1024))
    const closing = s.close()
    // the listener stops accepting: the queued stream is reset mid-close
    incoming.close()

    const err = await closing.then(() => undefined, (err: unknown) => err)
    expect(err).to.be.an.instanceOf(Error)
    expect((err as Error).message).to.be.a('string')
  })

  it('after a mixed flood, arrived = accepted + dropped + gone + queued, by reason, and onDrop heard every drop', async () => {
    const other = await createNode('tcp')
    await other.peerStore.merge(listener.peerId, { multiaddrs: listener.getMultiaddrs() })
    const heard: DroppedStream[] = []
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, {
      backlog: 4,
      maxQueueAge: 400,
      onDrop: drop => { heard.push(drop) }
    })
    const opener = dialer.services.stream.newControl()
    const target = listener.peerId
    const identity = (): boolean => {
      const s = incoming.stats()
      return s.arrived === s.accepted + s.dropped + s.gone + s.queued
    }

    try {
      // 10 from one peer: 4 queued, 6 over a full backlog
      const opened: Stream[] = []
      for (let i = 0; i < 10; i++) {
        const s = await openOrDropped(async () => opener.openStream(target, PROTOCOL))
        if (!(s instanceof Error)) { opened.push(s) }
      }
      await eventually(() => incoming.stats().arrived === 10, 'ten arrived')
      expect(identity()).to.be.true()

      // two accepted
      await incoming.next()
      await incoming.next()

      // the opener gives up on one of its queued streams
      opened.find(s => s.status === 'open' && s !== opened[0] && s !== opened[1])?.abort(new Error('giving up'))
      await eventually(() => incoming.stats().goneReasons['remote-reset'] === 1, 'a queued stream reset by its opener is gone')

      // another peer gets in (evicting none: there is room), then its connection goes
      await other.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
      await eventually(() => incoming.stats().arrived === 11, 'eleven arrived')
      await other.hangUp(listener.peerId)
      await eventually(() => incoming.stats().goneReasons['connection-closed'] === 1, 'a queued stream whose connection closed is gone')

      // the rest wait too long
      await eventually(() => incoming.stats().dropReasons.expired > 0 && incoming.stats().queued === 0, 'the rest expire', 5_000)

      const stats = incoming.stats()
      expect(stats.arrived).to.equal(11)
      expect(stats.accepted).to.equal(2)
      expect(stats.dropReasons['backlog-full']).to.equal(6)
      expect(stats.gone).to.equal(2)
      expect(stats.dropReasons.expired).to.equal(1)
      expect(stats.arrived).to.equal(stats.accepted + stats.dropped + stats.gone + stats.queued)
      expect(heard.map(d => d.reason).sort()).to.deep.equal([...Array(6).fill('backlog-full'), 'expired'])
      expect(heard.every(d => d.peer.equals(dialer.peerId) && d.protocol === PROTOCOL)).to.be.true()
    } finally {
      incoming.close()
      await other.stop()
    }
  })
})
