import { expect } from 'aegir/chai'
import { openOrDropped, opened, wasReset } from './fixtures/drops.ts'
import { clusterPerTest } from './fixtures/nodes.ts'
import { firstChunk, readAll } from './fixtures/streams.ts'
import { eventually, nextWithin } from './fixtures/wait.ts'
import type { Opened } from './fixtures/drops.ts'
import type { Node } from './fixtures/nodes.ts'
import type { IncomingStream } from '../src/index.ts'
import type { PeerId } from '@libp2p/interface'

const PROTOCOL = '/test/lanes/1.0.0'

describe('lanes', () => {
  let listener: Node
  let trusted: Node
  let stranger: Node

  // the bound on the open rate would refuse most of a flood before it reaches
  // a lane (test/attacks/stream-churn.spec.ts); these are tests of lanes, so it is off
  clusterPerTest('tcp', 2, cluster => { ({ listener, dialers: [trusted, stranger] } = cluster) }, { maxInboundStreamRate: Infinity })

  async function open (node: Node): Promise<Opened> {
    return openOrDropped(async () => node.services.stream.newControl().openStream(listener.peerId, PROTOCOL))
  }

  /** An allow-list lane for `allowed`, and the public for everyone else */
  function allowList (allowed: PeerId, publicBacklog = 16): { trusted: { backlog: number, match(input: { peer: PeerId }): boolean, priority: number }, public: { backlog: number } } {
    return {
      trusted: { backlog: 8, match: ({ peer }) => peer.equals(allowed), priority: 1 },
      public: { backlog: publicBacklog }
    }
  }

  it('routes each stream to the first lane whose match takes it, the rest to the default lane', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { lanes: allowList(trusted.peerId) })
    await open(stranger)
    await open(trusted)
    await eventually(() => incoming.queued === 2, 'both queued')

    expect(incoming.stats().lanes.trusted.queued).to.equal(1)
    expect(incoming.stats().lanes.public.queued).to.equal(1)

    // priority: the trusted stream comes first although it arrived second
    const first = await nextWithin(incoming)
    const second = await nextWithin(incoming)
    expect([first.value?.lane, second.value?.lane]).to.deep.equal(['trusted', 'public'])
    expect(first.value?.peer.equals(trusted.peerId)).to.be.true()
    incoming.close()
  })

  it('a trusted peer keeps being accepted while another floods the default lane with 10,000 streams', async function () {
    this.timeout(120_000)
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { lanes: allowList(trusted.peerId) })
    const accepted = { trusted: 0, public: 0 }

    // one worker per lane, each at its own pace: the public one is slow
    const trustedWorker = (async () => {
      for await (const { stream } of incoming.lane('trusted')) {
        accepted.trusted++
        stream.abort(new Error('served'))
      }
    })()
    const publicWorker = (async () => {
      for await (const { stream } of incoming.lane('public')) {
        accepted.public++
        stream.abort(new Error('served'))
        await new Promise(resolve => setTimeout(resolve, 10))
      }
    })()

    const flood = { running: true }
    const flooded = (async () => {
      let next = 0
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < 10_000) {
          next++
          await open(stranger)
        }
      }))
      flood.running = false
    })()

    let sent = 0
    while (flood.running) {
      await open(trusted)
      const expected = ++sent
      await eventually(() => accepted.trusted === expected, `trusted stream ${expected} accepted`, 10_000)
    }
    await flooded

    const stats = incoming.stats()
    expect(sent).to.be.greaterThan(10)
    expect(stats.lanes.trusted.accepted).to.equal(sent)
    expect(stats.lanes.trusted.dropped).to.equal(0)
    expect(stats.lanes.public.dropped).to.be.greaterThan(9_000)
    expect(stats.lanes.public.accepted + stats.lanes.public.dropped + stats.lanes.public.queued).to.equal(10_000)

    incoming.close()
    await Promise.all([trustedWorker, publicWorker])
  })

  it('serves lanes of higher priority first, over 1,000 streams', async function () {
    this.timeout(60_000)
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, {
      lanes: {
        high: { backlog: 500, match: ({ peer }) => peer.equals(trusted.peerId), priority: 2 },
        low: { backlog: 500 }
      }
    })

    await Promise.all(Array.from({ length: 500 }, async () => Promise.all([open(trusted), open(stranger)])))
    await eventually(() => incoming.queued === 1000, 'all 1,000 queued')

    const lanes: string[] = []
    for await (const { lane, stream } of incoming) {
      lanes.push(lane)
      stream.abort(new Error('done'))
      if (lanes.length === 1000) { break }
    }

    expect(lanes.slice(0, 500).every(lane => lane === 'high')).to.be.true()
    expect(lanes.slice(500).every(lane => lane === 'low')).to.be.true()
  })

  it('shares equal-priority lanes by weight, over 1,000 streams', async function () {
    this.timeout(60_000)
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, {
      lanes: {
        heavy: { backlog: 600, match: ({ peer }) => peer.equals(trusted.peerId), weight: 3 },
        light: { backlog: 600 }
      }
    })

    await Promise.all(Array.from({ length: 500 }, async () => Promise.all([open(trusted), open(stranger)])))
    await eventually(() => incoming.queued === 1000, 'all 1,000 queued')

    // while both lanes have streams, 3 of every 4 yielded come from the heavy lane
    const first400: string[] = []
    for await (const { lane, stream } of incoming) {
      first400.push(lane)
      stream.abort(new Error('done'))
      if (first400.length === 400) { break }
    }

    expect(first400.filter(lane => lane === 'heavy')).to.have.lengthOf(300)
    for (let i = 0; i < 400; i += 4) {
      expect(first400.slice(i, i + 4).filter(lane => lane === 'heavy'), `window ${i}`).to.have.lengthOf(3)
    }
  })

  it('move() hands a stream to another lane after a handshake, subject to that lane\'s backlog', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, {
      lanes: {
        verified: { backlog: 1, match: () => false, priority: 1 },
        unverified: { backlog: 8 }
      }
    })

    const a = opened(await open(stranger))
    const b = opened(await open(stranger))
    a.send(new TextEncoder().encode('password'))
    b.send(new TextEncoder().encode('password'))
    await eventually(() => incoming.queued === 2, 'both queued')

    const handshake = incoming.lane('unverified')
    const verified = incoming.lane('verified')
    const items: IncomingStream[] = []

    for (let i = 0; i < 2; i++) {
      const { value } = await nextWithin(handshake)
      const hello = await firstChunk(value!.stream)
      expect(new TextDecoder().decode(hello)).to.equal('password')
      items.push(value!)
    }

    // the application's own context goes with the stream
    items[0].context = { session: 'alice' }
    incoming.move(items[0], 'verified')
    expect(incoming.stats().lanes.verified).to.include({ queued: 1, moved: 1 })
    // a moved stream waiting is requeued, not queued: the handle's counter is stats()'s
    expect([incoming.queued, incoming.stats().queued, incoming.stats().requeued]).to.deep.equal([0, 0, 1])

    // the verified lane holds one: the second move is refused and the stream stays with us
    expect(() => { incoming.move(items[1], 'verified') }).to.throw().with.property('reason', 'lane-full')
    expect(items[1].stream.status).to.equal('open')

    const { value: moved } = await nextWithin(verified)
    expect(moved?.lane).to.equal('verified')
    expect(moved?.stream.id).to.equal(items[0].stream.id)
    expect(moved?.context).to.deep.equal({ session: 'alice' })

    // the moved stream still reads to its end
    await a.close()
    expect(await readAll(moved!.stream)).to.have.lengthOf(0)
    incoming.close()
  })

  it('closing the handle ends every lane\'s iteration and deregisters once', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { lanes: allowList(trusted.peerId) })
    const workers = (['trusted', 'public'] as const).map(async name => {
      for await (const { stream } of incoming.lane(name)) { stream.abort(new Error('unexpected')) }
      return name
    })
    const all = (async () => {
      for await (const { stream } of incoming) { stream.abort(new Error('unexpected')) }
      return 'all'
    })()

    incoming.close()
    expect(await Promise.all([...workers, all])).to.deep.equal(['trusted', 'public', 'all'])
    expect(listener.getProtocols()).to.not.include(PROTOCOL)
    await expect(open(stranger)).to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')
  })

  it('a match that throws resets that one stream and the accept keeps serving', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, {
      lanes: {
        picky: { match: ({ peer }) => { if (peer.equals(stranger.peerId)) { throw new Error('cannot decide') } return false } },
        rest: {}
      }
    })

    const refused = await open(stranger)
    await eventually(() => wasReset(refused), 'stream reset')
    expect(incoming.dropped).to.equal(1)

    await open(trusted)
    const { value } = await nextWithin(incoming)
    expect(value?.lane).to.equal('rest')
    incoming.close()
  })

  const badLanes: Array<[string, unknown, string]> = [
    ['no default lane', { a: { match: () => true } }, 'default lane'],
    ['two default lanes', { a: {}, b: {} }, 'only one default lane'],
    ['no lanes at all', {}, 'at least one lane'],
    ['a negative lane backlog', { a: { backlog: -1 } }, 'lanes.a.backlog'],
    ['a zero weight', { a: { weight: 0 } }, 'lanes.a.weight'],
    ['a fractional priority', { a: { priority: 0.5 } }, 'lanes.a.priority'],
    ['a match that is not a function', { a: { match: 'yes' }, b: {} }, 'lanes.a.match'],
    ['a lane that is not an object', { a: 3 }, 'lanes.a']
  ]

  badLanes.forEach(([name, lanes, mentions]) => {
    it(`rejects ${name} with InvalidParametersError naming ${mentions}, registering nothing`, () => {
      expect(() => listener.services.stream.newControl().accept(PROTOCOL, { lanes: lanes as any }))
        .to.throw().that.satisfies((err: Error) => err.name === 'InvalidParametersError' && err.message.includes(mentions))
      expect(listener.getProtocols()).to.not.include(PROTOCOL)
    })
  })

  it('rejects a top-level backlog together with lanes, and an unknown lane name', () => {
    expect(() => listener.services.stream.newControl().accept(PROTOCOL, { backlog: 4, lanes: { a: {} } }))
      .to.throw().with.property('name', 'InvalidParametersError')

    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { lanes: { a: {} } })
    // @ts-expect-error -- 'b' is not a lane of this accept: TypeScript says so, JavaScript finds out at run time
    expect(() => incoming.lane('b')).to.throw().with.property('name', 'InvalidParametersError')
    incoming.close()
  })

  it('lane names are checked by TypeScript: a typo in lane() or move() does not compile, the simple case needs no names', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, {
      lanes: { priority: { match: () => false }, rest: {} }
    })
    const item: IncomingStream = { stream: {} as any, connection: {} as any, peer: trusted.peerId, protocol: PROTOCOL, lane: 'rest' }

    // @ts-expect-error -- 'priorty' is a typo of a lane name
    expect(() => incoming.lane('priorty')).to.throw().with.property('name', 'InvalidParametersError')
    // @ts-expect-error -- the same typo in move()
    expect(() => { incoming.move(item, 'priorty') }).to.throw().with.property('name', 'InvalidParametersError')
    expect(incoming.lane('priority')).to.have.property(Symbol.asyncIterator)
    const names: Array<keyof ReturnType<typeof incoming.stats>['lanes']> = ['priority', 'rest']
    expect(Object.keys(incoming.stats().lanes)).to.have.members(names)
    incoming.close()

    // without lanes there is one, 'default'
    const simple = listener.services.stream.newControl().accept(PROTOCOL)
    expect(simple.lane('default')).to.have.property(Symbol.asyncIterator)
    // @ts-expect-error -- an accept without lanes has only 'default'
    expect(() => simple.lane('other')).to.throw().with.property('name', 'InvalidParametersError')
    simple.close()
  })
})
