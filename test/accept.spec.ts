import { expect } from 'aegir/chai'
import { openOrDropped, opened, wasReset } from './fixtures/drops.ts'
import { bytes, pairPerTest, eventually, readAll } from './fixtures/nodes.ts'
import { TRANSPORTS } from './fixtures/transports.ts'
import type { Opened } from './fixtures/drops.ts'
import type { Node } from './fixtures/nodes.ts'
import type { Stream } from '@libp2p/interface'

const PROTOCOL = '/test/accept/1.0.0'

/** The listener's side of the inbound streams on its connection from `dialer` */
function inboundStreams (listener: Node, dialer: Node): Stream[] {
  return listener.getConnections(dialer.peerId).flatMap(c => c.streams).filter(s => s.direction === 'inbound' && s.protocol === PROTOCOL)
}

for (const transport of TRANSPORTS) {
  describe(`accept (${transport})`, () => {
    let listener: Node
    let dialer: Node
    pairPerTest(transport, pair => { ({ listener, dialer } = pair) })

    it('queues streams until iterated and yields them in arrival order', async () => {
      const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 8 })
      const opener = dialer.services.stream.newControl()

      for (let i = 0; i < 5; i++) {
        const s = await opener.openStream(listener.peerId, PROTOCOL)
        s.send(Uint8Array.of(i))
        await s.close()
        await eventually(() => incoming.queued === i + 1, `stream ${i} queued`)
      }

      const order: number[] = []

      for await (const { stream, peer, protocol, connection } of incoming) {
        expect(peer.equals(dialer.peerId)).to.be.true()
        expect(connection.remotePeer.equals(dialer.peerId)).to.be.true()
        expect(protocol).to.equal(PROTOCOL)
        order.push(...(await readAll(stream)))
        await stream.close()

        if (order.length === 5) {
          break
        }
      }

      expect(order).to.deep.equal([0, 1, 2, 3, 4])
      expect(incoming.accepted).to.equal(5)
      expect(incoming.dropped).to.equal(0)
    })

    it('resets streams beyond the backlog so the opener sees a reset, and counts them', async () => {
      const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 2 })
      const opener = dialer.services.stream.newControl()
      const streams: Opened[] = []

      const target = listener.peerId

      for (let i = 0; i < 5; i++) {
        const s = await openOrDropped(async () => opener.openStream(target, PROTOCOL))
        streams.push(s)
        await eventually(() => incoming.queued + incoming.dropped === i + 1, `stream ${i} handled`)
      }

      expect(incoming.queued).to.equal(2)
      expect(incoming.dropped).to.equal(3)

      await eventually(() => streams.slice(2).every(wasReset), 'dropped streams reset at the opener')
      expect(streams.slice(0, 2).map(s => opened(s).status)).to.deep.equal(['open', 'open'])

      // the two queued streams are still yielded, in order
      const first = await incoming[Symbol.asyncIterator]().next()
      expect(first.done).to.be.false()
      expect(first.value?.stream.id).to.equal(inboundStreams(listener, dialer)[0].id)
      incoming.close()
    })

    it('queues more streams from one connection than libp2p\'s default cap of 32 when the backlog allows', async () => {
      const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 100 })
      const opener = dialer.services.stream.newControl()
      const streams = await Promise.all(Array.from({ length: 100 }, async () => opener.openStream(listener.peerId, PROTOCOL)))

      await eventually(() => incoming.queued === 100, '100 streams queued')
      expect(incoming.dropped).to.equal(0)
      expect(streams.every(s => s.status === 'open')).to.be.true()
      incoming.close()
    })

    it('a queued stream loses nothing: bytes and the half-close sent while it waited are all read', async () => {
      const incoming = listener.services.stream.newControl().accept(PROTOCOL)
      const opener = dialer.services.stream.newControl()
      const payload = bytes(200 * 1024)

      const withData = await opener.openStream(listener.peerId, PROTOCOL)
      withData.send(payload)
      await withData.close()

      const empty = await opener.openStream(listener.peerId, PROTOCOL)
      await empty.close()

      // both half-closes have reached the listener before anyone reads
      await eventually(() => incoming.queued === 2 && inboundStreams(listener, dialer).every(s => s.remoteWriteStatus === 'closed'), 'half-closes arrive while queued')

      const iterator = incoming[Symbol.asyncIterator]()
      const a = await iterator.next()
      const b = await iterator.next()

      expect(await readAll(a.value!.stream)).to.equalBytes(payload)
      expect(await readAll(b.value!.stream)).to.have.lengthOf(0)
      incoming.close()
    })

    it('hands a stream straight to a waiting reader, even with a backlog of 0', async () => {
      const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 0 })
      const opener = dialer.services.stream.newControl()
      const iterator = incoming[Symbol.asyncIterator]()
      const next = iterator.next()

      const s = await opener.openStream(listener.peerId, PROTOCOL)
      const { value } = await next
      expect(value?.stream.direction).to.equal('inbound')

      // nobody waiting now: the next stream has nowhere to go
      const extra = await openOrDropped(async () => opener.openStream(listener.peerId, PROTOCOL))
      await eventually(() => wasReset(extra), 'stream with no reader and no backlog is reset')
      expect(incoming.dropped).to.equal(1)
      expect(s.status).to.equal('open')
      incoming.close()
    })

    it('never yields queued streams that were reset or whose connection closed, and frees their slots', async () => {
      const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 2 })
      const opener = dialer.services.stream.newControl()

      const reset = await opener.openStream(listener.peerId, PROTOCOL)
      const kept = await opener.openStream(listener.peerId, PROTOCOL)
      kept.send(Uint8Array.of(42))
      await eventually(() => incoming.queued === 2, 'two queued')

      reset.abort(new Error('changed my mind'))
      await eventually(() => incoming.queued === 1, 'reset stream leaves the backlog')

      // its slot is free again: this one is queued, not dropped
      const third = await opener.openStream(listener.peerId, PROTOCOL)
      third.send(Uint8Array.of(43))
      await eventually(() => incoming.queued === 2, 'freed slot reused')
      expect(incoming.dropped).to.equal(0)

      const iterator = incoming[Symbol.asyncIterator]()
      const first = await iterator.next()
      expect((await first.value!.stream[Symbol.asyncIterator]().next()).value?.subarray()).to.equalBytes(Uint8Array.of(42))

      // the connection goes away with the third stream still queued
      await dialer.hangUp(listener.peerId)
      await eventually(() => incoming.queued === 0, 'stream on a closed connection leaves the backlog')
      expect(incoming.dropped).to.equal(0)
      incoming.close()
    })
  })
}
