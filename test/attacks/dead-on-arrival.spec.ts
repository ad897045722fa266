/**
 * Attack: dead on arrival. libp2p answers the protocol negotiation, then
 * awaits `peerStore.merge()`, then calls the handler; a stream the remote
 * resets in that gap reaches the handler already reset. With a datastore
 * whose writes take 2 ms, 0.1.x queued such streams and later yielded them
 * as accepted: 32 of 32 backlog slots held by dead streams, at no cost to
 * the attacker. Bound: a stream that is not open when the handler runs is
 * never queued or yielded; it is counted as gone, with its reason.
 */
import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import { createNode, eventually } from '../fixtures/nodes.ts'
import { readAll } from '../fixtures/streams.ts'
import { nextWithin } from '../fixtures/wait.ts'
import type { IncomingStats } from '../../src/index.ts'
import type { Node } from '../fixtures/nodes.ts'

const PROTOCOL = '/test/attack/dead-on-arrival/1.0.0'
const DEAD = 40
const WRITE_DELAY = 2

/** A real in-memory datastore whose writes take `WRITE_DELAY` ms, as a disk's might */
class SlowDatastore extends MemoryDatastore {
  async put (...args: Parameters<MemoryDatastore['put']>): Promise<Awaited<ReturnType<MemoryDatastore['put']>>> {
    await new Promise(resolve => setTimeout(resolve, WRITE_DELAY))
    return super.put(...args)
  }
}

function identityHolds (s: IncomingStats): boolean {
  return s.arrived === s.accepted + s.dropped + s.gone + s.queued
}

describe('attack: streams reset before the handler runs (dead on arrival)', function () {
  this.timeout(60_000)

  let listener: Node
  let attacker: Node

  beforeEach(async () => {
    listener = await createNode('tcp', {}, undefined, undefined, {}, { datastore: new SlowDatastore() })
    attacker = await createNode('tcp', {}, undefined, [])
  })

  afterEach(async () => {
    await Promise.all([listener, attacker].map(async node => node.stop()))
  })

  it(`never queues or yields a stream reset before the handler ran: ${DEAD} of ${DEAD} counted as gone, and an honest stream after them is accepted`, async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const connection = await attacker.dial(listener.getMultiaddrs()[0])

    // each stream reset as soon as the negotiation's answer arrives, while
    // the listener still awaits its peer store
    for (let i = 0; i < DEAD; i++) {
      const stream = await connection.newStream(PROTOCOL)
      stream.abort(new Error('dead on arrival'))
    }

    await eventually(() => incoming.stats().arrived === DEAD, `${DEAD} streams arrived`, 10_000)
    // a queued stream that its remote reset leaves at once, so this is what stays
    await new Promise(resolve => setTimeout(resolve, 100))

    const stats = incoming.stats()
    expect(stats, JSON.stringify(stats)).to.deep.include({ arrived: DEAD, queued: 0, accepted: 0, dropped: 0, gone: DEAD })
    expect(stats.goneReasons).to.deep.equal({ 'remote-reset': DEAD, 'connection-closed': 0, error: 0 })
    expect(identityHolds(stats), 'arrived = accepted + dropped + gone + queued').to.be.true()

    // the honest stream is the next one yielded, open, with its bytes
    const honest = await attacker.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
    honest.send(new TextEncoder().encode('honest'))
    await honest.close()

    const next = await nextWithin(incoming)
    expect(next.done).to.be.false()
    const { stream } = next.value!
    expect(stream.status).to.equal('open')
    expect(new TextDecoder().decode(await readAll(stream))).to.equal('honest')

    const after = incoming.stats()
    expect(after).to.deep.include({ arrived: DEAD + 1, accepted: 1, queued: 0, gone: DEAD, dropped: 0 })
    expect(identityHolds(after)).to.be.true()
    incoming.close()
  })
})
