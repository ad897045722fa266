import { expect } from 'aegir/chai'
import { openOrDropped, opened, wasReset } from './fixtures/drops.ts'
import { clusterPerTest } from './fixtures/nodes.ts'
import { eventually, nextWithin } from './fixtures/wait.ts'
import type { Opened } from './fixtures/drops.ts'
import type { Node } from './fixtures/nodes.ts'
import type { IncomingStream } from '../src/index.ts'

const PROTOCOL = '/test/fair/1.0.0'

describe('fairness between peers', () => {
  let listener: Node
  let flooder: Node
  let other: Node

  // TCP: over the memory transport a flood runs as one long chain of
  // microtasks in this process and starves the consumer's timers. The bound
  // on the open rate would refuse most of a flood before it reaches the
  // backlog (test/attacks/stream-churn.spec.ts); these are tests of the
  // backlog, so it is off
  clusterPerTest('tcp', 2, cluster => { ({ listener, dialers: [flooder, other] } = cluster) }, { maxInboundStreamRate: Infinity })

  async function open (node: Node): Promise<Opened> {
    return openOrDropped(async () => node.services.stream.newControl().openStream(listener.peerId, PROTOCOL))
  }

  it('a full backlog makes room for a peer holding fewer slots by evicting the heaviest peer\'s newest stream', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 4 })
    const flood: Opened[] = []

    for (let i = 0; i < 4; i++) {
      flood.push(await open(flooder))
    }

    await eventually(() => incoming.queued === 4, 'one peer may fill an idle backlog')
    const polite = await open(other)
    await eventually(() => wasReset(flood[3]), 'the flooder\'s newest stream is evicted')
    expect(incoming.queued).to.equal(4)
    expect(incoming.dropped).to.equal(1)

    const order: string[] = []
    for (let i = 0; i < 4; i++) {
      const { value } = await nextWithin(incoming)
      order.push(value!.peer.equals(other.peerId) ? 'other' : 'flooder')
    }
    expect(order).to.deep.equal(['flooder', 'flooder', 'flooder', 'other'])
    expect(opened(polite).status).to.equal('open')
    incoming.close()
  })

  it('maxPerPeer bounds the backlog slots one peer may hold', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 8, maxPerPeer: 2 })
    const flood = await Promise.all(Array.from({ length: 5 }, async () => open(flooder)))
    await eventually(() => incoming.queued + incoming.dropped === 5, 'all handled')
    expect(incoming.queued).to.equal(2)
    await eventually(() => flood.filter(wasReset).length === 3, 'three reset')

    await open(other)
    await open(other)
    await eventually(() => incoming.queued === 4, 'the other peer still gets its slots')
    incoming.close()
  })

  it('maxInboundStreams counts the streams the application holds, not only the queued ones', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 10, maxInboundStreams: 3 })
    const held: IncomingStream[] = []
    const loop = (async () => {
      for await (const item of incoming) { held.push(item) }
    })()

    for (let i = 0; i < 3; i++) {
      await open(flooder)
    }
    await eventually(() => held.length === 3, 'three accepted and held')

    const over = await open(flooder)
    await eventually(() => wasReset(over), 'the fourth is reset')
    expect(incoming.dropped).to.equal(1)

    // another peer has its own allowance
    await open(other)
    await eventually(() => held.length === 4, 'the other peer is not affected')

    // once the application lets one go, the peer may open another
    await held[0].stream.close()
    held[0].stream.abort(new Error('done'))
    await open(flooder)
    await eventually(() => held.length === 5, 'a freed allowance is usable again')
    incoming.close()
    await loop
  })

  it('a peer flooding 10,000 streams cannot starve another peer whose streams keep being accepted', async function () {
    this.timeout(120_000)
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 16 })
    const accepted = { flooder: 0, other: 0 }
    const flood = { running: true }

    // the application takes one stream every 10 ms
    const consumer = (async () => {
      for await (const { stream, peer } of incoming) {
        accepted[peer.equals(other.peerId) ? 'other' : 'flooder']++
        stream.abort(new Error('served'))
        await new Promise(resolve => setTimeout(resolve, 10))
      }
    })()

    const flooded = (async () => {
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < 10_000) {
          next++
          // a dropped stream still opened: the reset comes after negotiation
          await open(flooder)
        }
      }
      await Promise.all(Array.from({ length: 64 }, worker))
      flood.running = false
    })()

    // meanwhile the other peer opens a stream every 20 ms, one at a time
    let sent = 0
    while (flood.running) {
      await open(other)
      const expected = ++sent
      // a dropped stream would never be accepted
      await eventually(() => accepted.other === expected, `stream ${expected} of the other peer accepted`, 10_000)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    await flooded

    expect(sent).to.be.greaterThan(10)
    expect(accepted.other).to.equal(sent)
    expect(incoming.dropped).to.be.greaterThan(9_000)
    expect(accepted.flooder + incoming.dropped + incoming.queued).to.equal(10_000)
    incoming.close()
    await consumer
  })
})
