/**
 * Attack: stream churn. A peer opens streams and resets each as soon as it is
 * open, as fast as it can. Each one costs the listener libp2p's work before
 * any handler (a negotiation, a peer store merge, a logger), on raw
 * js-libp2p alike; measured, an honest peer's p99 grew tenfold
 * (`benchmarks/scenarios/churn.js`). Bound: each connection may open
 * `maxInboundStreamRate` streams a second, the connections of one network
 * group four times that together (two seconds' worth at once after a quiet
 * spell), node-wide and on any protocol; a stream over it is
 * reset before it is negotiated, with code 0x1003 (`RATE_LIMITED`), which the
 * opener gets as a `RemoteResetError`. Loopback gives the networks: the
 * churner dials from 127.0.1.1, the honest peer from 127.0.2.1.
 */
import { expect } from 'aegir/chai'
import { BURST_SECONDS, GROUP_RATES } from '../../src/inbound/open-rate.ts'
import { LIBP2P_RESET_CODES, RemoteResetError } from '../../src/index.ts'
import { createNode } from '../fixtures/nodes.ts'
import { echo, readAll, serveEach } from '../fixtures/streams.ts'
import type { Control, StreamInit } from '../../src/index.ts'
import type { Node, NodeExtras } from '../fixtures/nodes.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

const PROTOCOL = '/test/attack/churn/1.0.0'
const RAW_PROTOCOL = '/test/attack/churn-raw/1.0.0'
const RATE = 200
const BURST = BURST_SECONDS * RATE
const CHURN_MS = 2_000
const CHURN_MAX = 20_000
const IN_FLIGHT = 16

/** A node's TCP transport dialing from `localAddress` (Node's `net.connect` option, which the TCP transport passes on but does not type) */
function dialingFrom (localAddress: string): NodeExtras {
  return { tcp: { dialOpts: { localAddress } } } as unknown as NodeExtras
}

interface Churn {
  negotiated: number
  refused: number
  /** Failures other than the listener's refusal, by error name and code */
  other: Record<string, number>
  elapsed: number
}

/** `IN_FLIGHT` loops of open-then-reset through `open`, for `CHURN_MS` or `CHURN_MAX` opens */
async function churn (open: () => Promise<{ abort(err: Error): void }>): Promise<Churn> {
  const result: Churn = { negotiated: 0, refused: 0, other: {}, elapsed: 0 }
  const started = performance.now()
  const deadline = started + CHURN_MS
  let tries = 0

  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (performance.now() < deadline && tries++ < CHURN_MAX) {
      try {
        const stream = await open()
        stream.abort(new Error('churn'))
        result.negotiated++
      } catch (err: any) {
        if (err instanceof RemoteResetError && err.code === LIBP2P_RESET_CODES.RATE_LIMITED) {
          result.refused++
        } else {
          const key = `${err?.name} ${err?.code ?? ''}`
          result.other[key] = (result.other[key] ?? 0) + 1
        }
      }
    }
  }))

  result.elapsed = performance.now() - started
  return result
}

interface Exchanges {
  done: number
  failed: string[]
}

/**
 * An honest peer's loop of exchanges (open, 3-byte echo, close) through
 * `control`, under the bound: one exchange, then a 5 ms pause, until
 * `until` says stop.
 */
async function exchangeWhile (control: Control, addr: Multiaddr, until: { on: boolean }): Promise<Exchanges> {
  const exchanges: Exchanges = { done: 0, failed: [] }

  while (until.on) {
    try {
      const stream = await control.openStream(addr, PROTOCOL, { signal: AbortSignal.timeout(5_000) })
      stream.send(Uint8Array.of(1, 2, 3))
      await stream.close()
      expect(await readAll(stream)).to.deep.equal(Uint8Array.of(1, 2, 3))
      exchanges.done++
    } catch (err: any) {
      exchanges.failed.push(`${err?.name}: ${err?.message}`)
    }

    await new Promise(resolve => setTimeout(resolve, 5))
  }

  return exchanges
}

describe('attack: stream churn (open and reset as fast as possible)', function () {
  this.timeout(60_000)

  let listener: Node
  let churner: Node
  let honest: Node
  let others: Node[] = []

  /** The listener with `init`, a churner from 127.0.1.1 and an honest peer from `honestFrom` */
  async function start (init: StreamInit, honestFrom = '127.0.2.1'): Promise<void> {
    listener = await createNode('tcp', init)
    churner = await createNode('tcp', {}, undefined, [], {}, dialingFrom('127.0.1.1'))
    honest = await createNode('tcp', {}, undefined, [], {}, dialingFrom(honestFrom))
  }

  afterEach(async () => {
    await Promise.all([listener, churner, honest, ...others].filter(node => node != null).map(async node => node.stop()))
    others = []
  })

  it(`lets a churning connection negotiate at most ${BURST} + ${RATE}/s streams, refuses the rest with RATE_LIMITED before negotiation, and keeps serving an honest peer from another group`, async () => {
    await start({ maxInboundStreamRate: RATE })
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const serving = serveEach(incoming, async ({ stream }) => { await echo(stream) }, () => {})
    const churnControl = churner.services.stream.newControl()
    const honestControl = honest.services.stream.newControl()
    const addr = listener.getMultiaddrs()[0]

    // the honest peer's loop, for as long as the churn lasts
    const churning = { on: true }
    const honestLoop = exchangeWhile(honestControl, addr, churning)

    const result = await churn(async () => churnControl.openStream(addr, PROTOCOL, { signal: AbortSignal.timeout(5_000) }))
    churning.on = false
    const exchanges = await honestLoop
    incoming.close()
    await serving

    const allowed = BURST + RATE * result.elapsed / 1000
    const stats = listener.services.stream.stats()
    // eslint-disable-next-line no-console
    console.log(`      in ${(result.elapsed / 1000).toFixed(1)} s the churner negotiated ${result.negotiated} streams (at most ${allowed.toFixed(0)}), ${result.refused} refused with 0x1003; the honest peer made ${exchanges.done} exchanges, ${exchanges.failed.length} failed`)

    expect(result.other, 'every failed open was the listener\'s refusal, a RemoteResetError with code 0x1003').to.deep.equal({})
    expect(result.refused, 'opens refused').to.be.greaterThan(0)
    expect(result.negotiated, `opens negotiated in ${result.elapsed.toFixed(0)} ms, at most ${allowed.toFixed(0)}`).to.be.at.most(Math.ceil(allowed))
    expect(stats.rateLimited, 'the listener counted each refusal').to.equal(result.refused)
    expect(exchanges.failed, 'the honest peer, from another network group, was never refused').to.deep.equal([])
    expect(exchanges.done, 'the honest peer kept working').to.be.greaterThan(0)
  })

  it('does not let a churner take the rate of another peer on its own network, and bounds the network at 4× one connection', async () => {
    // the honest peer on the churner's /24
    await start({ maxInboundStreamRate: RATE }, '127.0.1.2')
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const serving = serveEach(incoming, async ({ stream }) => { await echo(stream) }, () => {})
    const addr = listener.getMultiaddrs()[0]
    const churning = { on: true }
    const honestLoop = exchangeWhile(honest.services.stream.newControl(), addr, churning)
    const result = await churn(async () => churner.services.stream.newControl().openStream(addr, PROTOCOL, { signal: AbortSignal.timeout(5_000) }))
    churning.on = false
    const exchanges = await honestLoop

    expect(result.refused, 'the churner was refused').to.be.greaterThan(0)
    expect(exchanges.failed, 'the peer beside it, on its own connection, never was').to.deep.equal([])
    expect(exchanges.done).to.be.greaterThan(0)

    // six more churners from the same /24: together at most the group's bound
    others = await Promise.all(Array.from({ length: 6 }, async (_, i) => createNode('tcp', {}, undefined, [], {}, dialingFrom(`127.0.1.${10 + i}`))))
    const connections = await Promise.all(others.map(async node => node.dial(addr)))
    await new Promise(resolve => setTimeout(resolve, BURST_SECONDS * 1000)) // the group's bucket full again
    const group = await Promise.all(connections.map(async connection => churn(async () => connection.newStream(PROTOCOL))))
    const negotiated = group.reduce((total, r) => total + r.negotiated, 0)
    const elapsed = Math.max(...group.map(r => r.elapsed))
    const groupAllowed = GROUP_RATES * (BURST + RATE * elapsed / 1000)

    // eslint-disable-next-line no-console
    console.log(`      6 connections from one /24 negotiated ${negotiated} streams in ${(elapsed / 1000).toFixed(1)} s (one connection may ${Math.ceil(BURST + RATE * elapsed / 1000)}, the group ${Math.ceil(groupAllowed)}); the peer beside the first churner made ${exchanges.done} exchanges, 0 refused`)
    expect(negotiated, `negotiated by 6 connections from one /24 in ${elapsed.toFixed(0)} ms, at most ${groupAllowed.toFixed(0)}`).to.be.at.most(Math.ceil(groupAllowed))
    expect(negotiated, 'more than one connection may').to.be.greaterThan(Math.ceil(BURST + RATE * elapsed / 1000))
    incoming.close()
    await serving
  })

  it('bounds every protocol of the node, including one served by raw handle(), and counts nothing with the bound off', async () => {
    await start({ maxInboundStreamRate: RATE })
    await listener.handle(RAW_PROTOCOL, stream => { stream.abort(new Error('served')) })
    const connection = await churner.dial(listener.getMultiaddrs()[0])

    // raw opens see a plain reset: js-libp2p reads no code; the count is the listener's
    const result = await churn(async () => connection.newStream(RAW_PROTOCOL))
    const refused = listener.services.stream.stats().rateLimited

    expect(refused, 'opens refused').to.be.greaterThan(0)
    expect(result.negotiated, 'opens negotiated').to.be.at.most(Math.ceil(BURST + RATE * result.elapsed / 1000))

    await Promise.all([listener, churner, honest].map(async node => node.stop()))
    await start({ maxInboundStreamRate: Infinity })
    await listener.handle(RAW_PROTOCOL, stream => { stream.abort(new Error('served')) })
    const unbounded = await churner.dial(listener.getMultiaddrs()[0])
    const free = await churn(async () => unbounded.newStream(RAW_PROTOCOL))

    expect(listener.services.stream.stats().rateLimited, 'nothing refused with the bound off').to.equal(0)
    expect(free.negotiated, 'with the bound off, the churner negotiates more than the bound would allow').to.be.greaterThan(Math.ceil(BURST + RATE * free.elapsed / 1000))
  })
})
