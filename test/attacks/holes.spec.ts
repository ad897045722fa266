/**
 * Smaller holes found by an adversarial review of 0.1.0, each closed: a
 * stream moved twice was yielded twice, `move()` ignored `maxPerPeer` and
 * counted a moved stream as accepted again, a changed protocol list kept its
 * protocol registered, and a `next()` its caller gave up on took a stream
 * that was never yielded nor reset.
 */
import { expect } from 'aegir/chai'
import { eventually, pairPerTest } from '../fixtures/nodes.ts'
import type { IncomingStream } from '../../src/index.ts'
import type { Node } from '../fixtures/nodes.ts'

const PROTOCOL = '/test/attack/holes/1.0.0'

describe('attack: small holes', () => {
  let listener: Node
  let dialer: Node

  pairPerTest('memory', pair => { ({ listener, dialer } = pair) })

  async function openTwo (): Promise<void> {
    const opener = dialer.services.stream.newControl()
    await opener.openStream(listener.peerId, PROTOCOL)
    await opener.openStream(listener.peerId, PROTOCOL)
  }

  it('a stream moved again before it was yielded leaves its former lane and is yielded once', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, {
      lanes: { a: { match: () => false }, b: { match: () => false }, rest: {} }
    })
    await openTwo()
    const { value: item } = await incoming.lane('rest')[Symbol.asyncIterator]().next()

    incoming.move(item!, 'a')
    incoming.move(item!, 'b')

    const stats = incoming.stats()
    expect(stats.lanes.a.queued).to.equal(0)
    expect(stats.lanes.b.queued).to.equal(1)
    expect(stats.moved).to.equal(2)
    expect(stats.accepted).to.equal(1)

    const { value: again } = await incoming.lane('b')[Symbol.asyncIterator]().next()
    expect(again?.stream).to.equal(item!.stream)
    // moves are not accepts
    expect(incoming.stats().accepted).to.equal(1)
    expect(incoming.stats().requeued).to.equal(0)
    incoming.close()
  })

  it('move() respects the target lane\'s maxPerPeer', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, {
      lanes: { verified: { backlog: 4, maxPerPeer: 1, match: () => false }, rest: {} }
    })
    await openTwo()
    const rest = incoming.lane('rest')[Symbol.asyncIterator]()
    const items: IncomingStream[] = [(await rest.next()).value!, (await rest.next()).value!]

    incoming.move(items[0], 'verified')
    expect(() => { incoming.move(items[1], 'verified') }).to.throw().with.property('reason', 'peer-limit')
    expect(items[1].stream.status).to.equal('open')
    incoming.close()
  })

  it('changing the protocol list given to accept() does not stop close() from deregistering', async () => {
    const protocols = [PROTOCOL, '/test/attack/holes/2.0.0']
    const incoming = listener.services.stream.newControl().accept(protocols)
    protocols.length = 0

    incoming.close()
    expect(listener.getProtocols()).to.not.include(PROTOCOL)
    expect(listener.getProtocols()).to.not.include('/test/attack/holes/2.0.0')
  })

  it('a next() given up through its signal takes no stream: the next reader gets it', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const controller = new AbortController()
    const waiting = incoming.next({ signal: controller.signal })
    controller.abort(new Error('gave up'))
    await expect(waiting).to.eventually.be.rejected.with.property('message', 'gave up')

    await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
    await eventually(() => incoming.queued === 1, 'the stream waits for a reader')

    const { value } = await incoming.next()
    expect(value?.protocol).to.equal(PROTOCOL)
    expect(incoming.stats().accepted).to.equal(1)
    incoming.close()
  })
})
