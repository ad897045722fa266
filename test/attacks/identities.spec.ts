/**
 * Attack: peer ids cost nothing. 200 ids from one network flood one public
 * `accept` while an honest peer from another network uses it. With fairness
 * by peer id alone (0.1.0) the honest peer's success fell to 61–69 %. Bound:
 * slots are shared by network group (IPv4 /24, IPv6 /48, a relayed
 * connection by its relay's address), so the honest peer keeps ≥ 95 % with
 * default options. Loopback gives the two
 * networks: the flood comes over 127.0.0.1, the honest peer over ::1.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { openOrDropped } from '../fixtures/drops.ts'
import { createNode, eventually } from '../fixtures/nodes.ts'
import type { Node } from '../fixtures/nodes.ts'

const PROTOCOL = '/test/attack/identities/1.0.0'
const IDENTITIES = 200
const FLOOD_OPENS = 6_000
const HONEST_OPENS = 40

describe('attack: free identities from one network', function () {
  this.timeout(120_000)

  let listener: Node
  let flooders: Node[]
  let honest: Node

  before(async () => {
    listener = await createNode('tcp', {}, undefined, ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'])
    honest = await createNode('tcp', {}, undefined, [])
    flooders = []

    // a few at a time: each is a whole libp2p node
    for (let i = 0; i < IDENTITIES; i += 20) {
      flooders.push(...await Promise.all(Array.from({ length: 20 }, async () => createNode('tcp', {}, undefined, []))))
    }
  })

  after(async () => {
    await Promise.all([listener, honest, ...flooders].map(async node => node.stop()))
  })

  it(`keeps an honest peer from another network at ≥ 95 % accepted while ${IDENTITIES} peer ids from one network flood, with default options`, async () => {
    const v4 = listener.getMultiaddrs().find(ma => ma.toString().startsWith('/ip4/127.0.0.1/'))
    const v6 = listener.getMultiaddrs().find(ma => ma.toString().startsWith('/ip6/::1/'))
    expect(v4, 'an IPv4 loopback address').to.exist()
    expect(v6, 'an IPv6 loopback address').to.exist()

    let honestDropped = 0
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, {
      onDrop: ({ peer }) => { if (peer.equals(honest.peerId)) { honestDropped++ } }
    })
    const acceptedHonest = new Set<string>()
    const flooding = { on: true }

    // an application that falls behind: one stream every 5 ms
    const consumer = (async () => {
      for await (const { stream, peer } of incoming) {
        if (peer.equals(honest.peerId)) {
          acceptedHonest.add(stream.id)
        }
        stream.abort(new Error('served'))
        await new Promise(resolve => setTimeout(resolve, 5))
      }
    })()

    let opened = 0
    const flood = Promise.all(flooders.map(async node => {
      const control = node.services.stream.newControl()
      const target = multiaddr(v4!.toString())

      while (flooding.on && opened < FLOOD_OPENS) {
        opened++
        await openOrDropped(async () => control.openStream(target, PROTOCOL)).catch(() => {})
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

    expect(stats.dropped, 'the flood overflowed the backlog').to.be.greaterThan(1000)
    expect(honestAccepted / HONEST_OPENS, `${honestAccepted} of ${HONEST_OPENS} honest streams accepted`).to.be.at.least(0.95)
  })
})
