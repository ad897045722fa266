/**
 * Attacks on what the node holds in memory, judged as memory: the accepting
 * node runs in a child process of its own and reports its heap and array
 * buffers after a full garbage collection (`process.memoryUsage()`), before
 * and after the attack; the package's own counters are checked beside it,
 * never instead. With default options each attack leaves the node holding at
 * most 16 MiB more (0.1.x held 43 MiB for 300,000 one-byte frames, and 114
 * MiB for 128 MiB sent to an echo that could not send it back).
 *
 * `benchmarks/scenarios/held-memory.js` runs the same attacks longer, until
 * the queue age, with raw js-libp2p beside.
 */
import { expect } from 'aegir/chai'
import { createNode } from '../fixtures/nodes.ts'
import { floodFrames, floodUnread, startVictim } from '../fixtures/victim.ts'
import type { IncomingStats } from '../../src/index.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { Held, Victim } from '../fixtures/victim.ts'

const PROTOCOL = '/test/attack/held/1.0.0'
const MiB = 1024 * 1024
const BOUND = 16 * MiB

function grown (before: Held, after: Held): number {
  return after.total - before.total
}

function mib (bytes: number): string {
  return (bytes / MiB).toFixed(2)
}

describe('attack: what a remote can make the node hold, as memory after GC', function () {
  this.timeout(90_000)

  let victim: Victim | undefined
  let attacker: Node

  beforeEach(async () => {
    attacker = await createNode('tcp', {}, undefined, [])
  })

  afterEach(async () => {
    await victim?.stop()
    victim = undefined
    await attacker.stop()
  })

  it('one-byte frames into 16 queued streams hold at most 16 MiB, and what the budget counts is what is held', async () => {
    victim = await startVictim({ side: 'stream', mode: 'queue', protocol: PROTOCOL })
    const before = await victim.held()

    const sent = await floodFrames(attacker, victim.addr, PROTOCOL, { streams: 16, writes: 400_000, size: 1, seconds: 20 })
    await new Promise(resolve => setTimeout(resolve, 500))
    const after = await victim.held()
    const stats = await victim.stats() as IncomingStats

    // eslint-disable-next-line no-console
    console.log('      %d one-byte frames in %s s: held %s MiB more (heap %s, array buffers %s); queuedBytes %s MiB, heldBytes %s MiB',
      sent.writes, sent.seconds.toFixed(1), mib(grown(before, after)), mib(after.heapUsed - before.heapUsed),
      mib(after.arrayBuffers - before.arrayBuffers), mib(stats.queuedBytes), mib(stats.heldBytes))

    // the attack happened: the frames reached the queued streams
    expect(stats.queued).to.equal(16)
    expect(stats.queuedBytes).to.be.greaterThan(100_000)
    expect(grown(before, after)).to.be.at.most(BOUND)
    expect(stats.heldBytes).to.be.at.most(8 * MiB)
    // the counted bytes are what the frames hold, not a fraction of it (0.1.x: 1/145)
    expect(grown(before, after)).to.be.at.most(stats.heldBytes + 4 * MiB)
  })

  it('64 streams writing 4 MiB each into a backlog hold at most 16 MiB', async () => {
    victim = await startVictim({ side: 'stream', mode: 'queue', protocol: PROTOCOL })
    const before = await victim.held()

    const sent = await floodFrames(attacker, victim.addr, PROTOCOL, { streams: 64, writes: 64, size: 4 * MiB, seconds: 20 })
    await new Promise(resolve => setTimeout(resolve, 1_000))
    const after = await victim.held()
    const stats = await victim.stats() as IncomingStats

    // eslint-disable-next-line no-console
    console.log('      %d streams, %s MiB written: held %s MiB more (array buffers %s); queued %d, dropped %d, heldBytes %s MiB',
      64, mib(sent.bytes), mib(grown(before, after)), mib(after.arrayBuffers - before.arrayBuffers),
      stats.queued, stats.dropped, mib(stats.heldBytes))

    expect(stats.arrived).to.equal(64)
    expect(stats.queued).to.be.greaterThan(0)
    expect(grown(before, after)).to.be.at.most(BOUND)
    expect(stats.heldBytes).to.be.at.most(8 * MiB)
  })

  it('a remote that never reads what an accepted stream echoes makes the node hold at most 16 MiB, and the stream stays open', async () => {
    victim = await startVictim({ side: 'stream', mode: 'echo', protocol: PROTOCOL })
    const before = await victim.held()

    const sent = await floodUnread(attacker, victim.addr, PROTOCOL, { total: 256 * MiB, seconds: 15 })
    await new Promise(resolve => setTimeout(resolve, 1_000))
    const after = await victim.held()

    // eslint-disable-next-line no-console
    console.log('      %s MiB offered in %s s to an echo nobody reads: held %s MiB more (array buffers %s)',
      mib(sent.bytes), sent.seconds.toFixed(1), mib(grown(before, after)), mib(after.arrayBuffers - before.arrayBuffers))

    expect(sent.bytes).to.be.greaterThan(32 * MiB)
    expect(grown(before, after)).to.be.at.most(BOUND)
    // held back, not reset: a reader that comes later would get it all
    expect(sent.stream.status).to.equal('open')
  })

  it('one-byte frames into an accepted stream that echoes them to a remote that never reads hold at most 16 MiB', async () => {
    victim = await startVictim({ side: 'stream', mode: 'echo', protocol: PROTOCOL })
    const before = await victim.held()

    const sent = await floodFrames(attacker, victim.addr, PROTOCOL, { streams: 1, writes: 400_000, size: 1, seconds: 10, unread: true })
    await new Promise(resolve => setTimeout(resolve, 500))
    const after = await victim.held()

    // eslint-disable-next-line no-console
    console.log('      %d one-byte frames in %s s to an echo nobody reads: held %s MiB more (array buffers %s)',
      sent.writes, sent.seconds.toFixed(1), mib(grown(before, after)), mib(after.arrayBuffers - before.arrayBuffers))

    expect(sent.writes).to.be.greaterThan(100_000)
    expect(grown(before, after)).to.be.at.most(BOUND)
  })

  it('a remote that reads its echo only after a pause gets every byte back, in order', async () => {
    victim = await startVictim({ side: 'stream', mode: 'echo', protocol: PROTOCOL })
    const total = 16 * MiB
    const stream = await attacker.dialProtocol(victim.addr, PROTOCOL)
    stream.pause()
    const sending = (async () => {
      for (let offset = 0; offset < total; offset += 64 * 1024) {
        const chunk = new Uint8Array(64 * 1024).fill((offset / (64 * 1024)) % 251)

        if (!stream.send(chunk)) {
          await stream.onDrain()
        }
      }

      await stream.close()
    })()

    // the echo pauses on its side while this one does not read
    await new Promise(resolve => setTimeout(resolve, 1_000))
    stream.resume()
    let received = 0
    let wrong = -1

    for await (const chunk of stream) {
      for (const byte of chunk.subarray()) {
        if (wrong === -1 && byte !== Math.floor(received / (64 * 1024)) % 251) {
          wrong = received
        }

        received++
      }
    }

    await sending
    expect(wrong).to.equal(-1)
    expect(received).to.equal(total)
  })
})
