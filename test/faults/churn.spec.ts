import { getEventListeners } from 'node:events'
import { expect } from 'aegir/chai'
import { pairPerTest } from '../fixtures/nodes.ts'
import { readAll, serveEcho } from '../fixtures/streams.ts'
import { eventually, nextWithin } from '../fixtures/wait.ts'
import { failOnUnhandledRejections } from './fixtures/guard.ts'
import type { IncomingStreams } from '../../src/index.ts'
import type { Node } from '../fixtures/nodes.ts'

const PROTOCOL = '/test/faults/churn/1.0.0'
const CYCLES = 1_000

/** Active timers in this process, as Node counts them */
function timers (): number {
  return process.getActiveResourcesInfo().filter(resource => resource === 'Timeout').length
}

/**
 * The number of active timers once it has stayed the same for a second:
 * libp2p sets short timers of its own after activity (queue debouncing and
 * the like) that are gone within about a second, while a timer this package
 * leaked (say a 10 s negotiation timeout) would still be counted.
 */
async function steadyTimers (): Promise<number> {
  let count = timers()
  let since = Date.now()

  while (Date.now() - since < 1_000) {
    await new Promise(resolve => setTimeout(resolve, 100))

    if (timers() !== count) {
      count = timers()
      since = Date.now()
    }
  }

  return count
}

function abortListeners (signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length
}

/** Protocols the tests registered (libp2p registers its own, e.g. identify) */
function ours (node: Node): string[] {
  return node.getProtocols().filter(p => p.startsWith('/test/'))
}

/** Ends an accept in one of the four ways an application can */
async function end (incoming: IncomingStreams, how: number, controller: AbortController): Promise<void> {
  switch (how % 4) {
    case 0:
      incoming.close()
      break
    case 1:
      controller.abort()
      break
    case 2:
      await incoming[Symbol.asyncIterator]().return?.()
      break
    default:
      await incoming[Symbol.asyncDispose]()
  }
}

describe(`churn: ${CYCLES} cycles leave nothing behind (memory transport)`, () => {
  failOnUnhandledRejections()

  let listener: Node
  let dialer: Node
  pairPerTest('memory', pair => { ({ listener, dialer } = pair) })

  /** Waits until every stream of the pair's connection has closed at both ends */
  async function settled (): Promise<void> {
    await eventually(() => [...listener.getConnections(), ...dialer.getConnections()].every(c => c.streams.length === 0), 'all streams closed')
    // let closed streams' last callbacks run
    await new Promise(resolve => setTimeout(resolve, 50))
  }

  it(`${CYCLES} accept/stream/close cycles: no handler, abort listener, stream listener or timer of ours remains`, async function () {
    this.timeout(120_000)
    const control = listener.services.stream.newControl()
    const opener = dialer.services.stream.newControl()
    const shared = new AbortController()
    const closeListeners = new Set<number>()

    async function cycle (i: number): Promise<void> {
      const perCycle = new AbortController()
      // one long-lived signal for most cycles, a fresh one for those ending by abort
      const signal = i % 4 === 1 ? perCycle.signal : shared.signal
      const incoming = control.accept(PROTOCOL, { signal })
      let next

      if (i % 2 === 0) {
        // the stream waits in the backlog, then is taken
        const opened = await opener.openStream(listener.peerId, PROTOCOL)
        await eventually(() => incoming.queued === 1, 'queued')
        next = nextWithin(incoming)
        await opened.close()
      } else {
        // a reader waits, and the stream goes straight to it
        next = nextWithin(incoming)
        const opened = await opener.openStream(listener.peerId, PROTOCOL)
        await opened.close()
      }

      const { value } = await next
      const stream = value!.stream
      closeListeners.add(stream.listenerCount('close'))
      await readAll(stream)
      await stream.close()
      await end(incoming, i, perCycle)
      expect(incoming.closed).to.be.true()
    }

    for (let i = 0; i < 8; i++) {
      await cycle(i)
    }

    await settled()
    const baseline = await steadyTimers()

    for (let i = 0; i < CYCLES; i++) {
      await cycle(i)
    }

    await settled()
    expect(ours(listener)).to.deep.equal([])
    expect(abortListeners(shared.signal)).to.equal(0)
    // a queued stream and one handed straight to a reader carry the same listeners
    expect([...closeListeners]).to.have.lengthOf(1)
    expect(await steadyTimers()).to.equal(baseline)
  })

  it(`${CYCLES} open/echo/close cycles: no abort listener, timer or stream of ours remains`, async function () {
    this.timeout(120_000)
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const serving = serveEcho(incoming)
    const opener = dialer.services.stream.newControl()
    const shared = new AbortController()

    async function cycle (i: number): Promise<void> {
      const s = await opener.openStream(listener.peerId, PROTOCOL, { signal: shared.signal })
      s.send(Uint8Array.of(i % 256))
      await s.close()
      expect(await readAll(s)).to.deep.equal(Uint8Array.of(i % 256))
    }

    for (let i = 0; i < 8; i++) {
      await cycle(i)
    }

    await settled()
    const baseline = await steadyTimers()

    for (let i = 0; i < CYCLES; i++) {
      await cycle(i)
    }

    await settled()
    expect(abortListeners(shared.signal)).to.equal(0)
    expect(await steadyTimers()).to.equal(baseline)
    expect(dialer.getConnections()).to.have.lengthOf(1)
    expect(incoming.accepted).to.equal(CYCLES + 8)

    incoming.close()
    await serving
    expect(ours(listener)).to.deep.equal([])
  })

  it(`${CYCLES} opens rejected with UnsupportedProtocolError: no abort listener, timer or stream remains`, async function () {
    this.timeout(120_000)
    const opener = dialer.services.stream.newControl()
    const shared = new AbortController()

    async function cycle (): Promise<void> {
      await expect(opener.openStream(listener.peerId, '/test/faults/churn/unsupported/1.0.0', { signal: shared.signal }))
        .to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')
    }

    for (let i = 0; i < 8; i++) {
      await cycle()
    }

    await settled()
    const baseline = await steadyTimers()

    for (let i = 0; i < CYCLES; i++) {
      await cycle()
    }

    await settled()
    expect(abortListeners(shared.signal)).to.equal(0)
    expect(await steadyTimers()).to.equal(baseline)
    expect(dialer.getConnections()).to.have.lengthOf(1)
  })
})
