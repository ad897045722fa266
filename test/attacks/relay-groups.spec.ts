/**
 * Attack: relay ids are free network groups. js-libp2p's circuit relay
 * transport accepts a STOP from any connected peer, and a relay that sets no
 * limits gives a connection libp2p does not count as limited, so
 * `runOnLimitedConnection: false` lets it in. 40 "relays" on one IP, each
 * bringing a new peer through a STOP with no limits, flood one `accept`
 * while an honest peer from another network uses it. Grouping a relayed
 * connection by its relay's peer id (0.1.x) gave the flood 40 groups, and
 * the honest peer 4 or 5 of 40 streams (3 runs). Bound: a relayed connection counts in the
 * network group of the relay's own address, so the 40 relays are one group
 * and the honest peer keeps ≥ 95 % with default options.
 *
 * Each relay is a real `@libp2p/circuit-relay-v2` server that, as an
 * attacker's relay would, relays to the victim without the victim having
 * reserved a slot (its reservation store is told the victim reserved one),
 * setting no limits. The flood comes through the relays' connections from
 * 127.0.0.1; the honest peer dials directly over ::1.
 */
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { openOrDropped } from '../fixtures/drops.ts'
import { createNode, eventually } from '../fixtures/nodes.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const PROTOCOL = '/test/attack/relay-groups/1.0.0'
const RELAYS = 40
const FLOOD_OPENS = 6_000
const HONEST_OPENS = 40
/** How long the flood may run at most, whatever happens */
const FLOOD_TIME = 60_000

/** A relay with the reservation store of a real circuit-relay-v2 server */
type RelayNode = Node & { services: { relay: { reservationStore: { reserve(peer: unknown, addr: Multiaddr): unknown } } } }

describe('attack: relay ids as free network groups', function () {
  this.timeout(180_000)

  let victim: Node
  let honest: Node
  let relays: RelayNode[]
  let sources: Node[]

  before(async () => {
    victim = await createNode('tcp', {}, undefined, ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'], {}, {
      transports: [circuitRelayTransport()],
      services: { identify: identify() }
    })
    honest = await createNode('tcp', {}, undefined, [])
    relays = []
    sources = []

    // a few at a time: each is a whole libp2p node
    for (let i = 0; i < RELAYS; i += 10) {
      relays.push(...await Promise.all(Array.from({ length: 10 }, async () => createNode('tcp', {}, undefined, ['/ip4/127.0.0.1/tcp/0'], {}, {
        services: { identify: identify(), relay: circuitRelayServer({ reservations: { applyDefaultLimit: false } }) }
      }) as Promise<RelayNode>)))
      sources.push(...await Promise.all(Array.from({ length: 10 }, async () => createNode('tcp', {}, undefined, [], {}, {
        transports: [circuitRelayTransport()],
        services: { identify: identify() }
      }))))
    }
  })

  after(async () => {
    await Promise.all([victim, honest, ...relays, ...sources].map(async node => node.stop()))
  })

  it(`keeps an honest peer from another network at ≥ 95 % accepted while ${RELAYS} relay ids on one IP bring a flood through STOPs with no limits, with default options`, async () => {
    const v4 = victim.getMultiaddrs().find(ma => ma.toString().startsWith('/ip4/127.0.0.1/'))
    const v6 = victim.getMultiaddrs().find(ma => ma.toString().startsWith('/ip6/::1/'))
    expect(v4, 'an IPv4 loopback address').to.exist()
    expect(v6, 'an IPv6 loopback address').to.exist()

    // each relay connects to the victim and relays to it as if it had
    // reserved; one at a time, as the victim answers a STOP from a relay it
    // has no reservation on by trying to reserve one there first
    const relayed: Connection[] = []

    for (const [i, relay] of relays.entries()) {
      await relay.dial(multiaddr(v4!.toString()))
      relay.services.relay.reservationStore.reserve(victim.peerId, multiaddr(v4!.toString()))
      const through = multiaddr(`${relay.getMultiaddrs()[0].toString()}/p2p-circuit/p2p/${victim.peerId.toString()}`)
      relayed.push(await sources[i].dial(through, { signal: AbortSignal.timeout(10_000) }))
    }

    // what the victim sees: relayed connections with no limits, over 40 relay ids from one IP
    const relayedIn = (): Connection[] => victim.getConnections().filter(c => c.remoteAddr.toString().includes('/p2p-circuit'))
    await eventually(() => relayedIn().length === RELAYS, `${RELAYS} relayed connections at the victim`)
    const inbound = relayedIn()
    expect(inbound.every(c => c.limits == null), 'no limits on any').to.be.true()
    expect(new Set(inbound.map(c => c.remoteAddr.getComponents().find(p => p.name === 'p2p')?.value)).size, 'relay ids').to.equal(RELAYS)
    expect(inbound.every(c => c.remoteAddr.toString().startsWith('/ip4/127.0.0.1/')), 'all relays on 127.0.0.1').to.be.true()

    let honestDropped = 0
    const incoming = victim.services.stream.newControl().accept(PROTOCOL, {
      onDrop: ({ peer }) => { if (peer.equals(honest.peerId)) { honestDropped++ } }
    })
    const acceptedHonest = new Set<string>()
    let acceptedRelayed = 0
    const flooding = { on: true }
    const deadline = Date.now() + FLOOD_TIME

    // an application that falls behind: one stream every 5 ms
    const consumer = (async () => {
      for await (const { stream, peer, connection } of incoming) {
        if (peer.equals(honest.peerId)) {
          acceptedHonest.add(stream.id)
        } else if (connection.remoteAddr.toString().includes('/p2p-circuit')) {
          acceptedRelayed++
        }
        stream.abort(new Error('served'))
        await new Promise(resolve => setTimeout(resolve, 5))
      }
    })()

    let opened = 0
    const flood = Promise.all(sources.map(async (source, i) => {
      const control = source.services.stream.newControl()
      const target = victim.peerId

      while (flooding.on && opened < FLOOD_OPENS && Date.now() < deadline) {
        opened++
        await openOrDropped(async () => control.openStream(target, PROTOCOL, { connection: relayed[i] })).catch(() => {})
      }
    }))

    // let the flood fill the backlog first
    await new Promise(resolve => setTimeout(resolve, 500))

    const control = honest.services.stream.newControl()
    const target = multiaddr(v6!.toString())

    for (let i = 0; i < HONEST_OPENS; i++) {
      await openOrDropped(async () => control.openStream(target, PROTOCOL))
      await new Promise(resolve => setTimeout(resolve, 50))
    }

    // the honest streams still queued are served (or dropped) before the end
    await eventually(() => acceptedHonest.size + honestDropped === HONEST_OPENS, 'every honest stream accepted or dropped', 10_000)
    flooding.on = false
    await flood
    incoming.close()
    await consumer

    const stats = incoming.stats()
    const honestAccepted = acceptedHonest.size

    expect(acceptedRelayed, 'relayed streams were accepted: the flood came through the relays').to.be.greaterThan(0)
    expect(stats.dropped, 'the flood overflowed the backlog').to.be.greaterThan(500)
    expect(honestAccepted / HONEST_OPENS, `${honestAccepted} of ${HONEST_OPENS} honest streams accepted`).to.be.at.least(0.95)
  })
})
