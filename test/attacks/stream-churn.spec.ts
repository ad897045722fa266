/**
 * Attack: stream churn. A peer opens streams and resets each as soon as it is
 * open, as fast as it can. Each one costs the listener libp2p's work before
 * any handler (a negotiation, a peer store merge, a logger), on raw
 * js-libp2p alike; measured, an honest peer's p99 grew tenfold
 * (`benchmarks/scenarios/churn.js`). Bound: each network group may open
 * `maxInboundStreamRate` streams a second (two seconds' worth at once after
 * a quiet spell), node-wide and on any protocol; a stream over it is
 * reset before it is negotiated, with code 0x1003 (`RATE_LIMITED`), which the
 * opener gets as a `RemoteResetError`. Loopback gives the networks: the
 * churner dials from 127.0.1.1, the honest peer from 127.0.2.1.
 */
import { expect } from 'aegir/chai'
import { LIBP2P_RESET_CODES, RemoteResetError } from '../../src/index.ts'
import { createNode } from '../fixtures/nodes.ts'
import { echo, readAll, serveEach } from '../fixtures/streams.ts'
import type { Node, NodeExtras } from '../fixtures/nodes.ts'
import type { StreamInit } from '../../src/index.ts'

const PROTOCOL = '/test/attack/churn/1.0.0'
const RAW_PROTOCOL = '/test/attack/churn-raw/1.0.0'
const RATE = 200
const BURST = 2 * RATE
const CHURN_MS = 2_000
const CHURN_MAX = 20_000
const IN_FLIGHT = 16

/** A node's TCP transport dialing from `localAddress` (Node's `net.connect` option, which @libp2p/tcp passes on but does not type) */
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

describe('attack: stream churn (open and reset as fast as possible)', function () {
  this.timeout(60_000)

  let listener: Node
  let churner: Node
  let honest: Node

  async function start (init: StreamInit): Promise<void> {
    listener = await createNode('tcp', init)
    churner = await createNode('tcp', {}, undefined, [], {}, dialingFrom('127.0.1.1'))
    honest = await createNode('tcp', {}, undefined, [], {}, dialingFrom('127.0.2.1'))
  }

  afterEach(async () => {
    await Promise.all([listener, churner, honest].filter(node => node != null).map(async node => node.stop()))
  })

  it(`lets a churning connection negotiate at most ${BURST} + ${RATE}/s streams, refuses the rest with RATE_LIMITED before negotiation, and keeps serving an honest peer from another group`, async () => {
    await start({ maxInboundStreamRate: RATE })
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const serving = serveEach(incoming, async ({ stream }) => { await echo(stream) }, () => {})
    const churnControl = churner.services.stream.newControl()
    const honestControl = honest.services.stream.newControl()
    const addr = listener.getMultiaddrs()[0]

    // the honest peer's loop, for as long as the churn lasts, at under the
    // bound: one exchange, then a 5 ms pause
    const exchanges = { done: 0, failed: [] as string[] }
    const churning = { on: true }
    const honestLoop = (async () => {
      while (churning.on) {
        try {
          const stream = await honestControl.openStream(addr, PROTOCOL, { signal: AbortSignal.timeout(5_000) })
          stream.send(Uint8Array.of(1, 2, 3))
          await stream.close()
          const back = await readAll(stream)
          expect(back).to.deep.equal(Uint8Array.of(1, 2, 3))
          exchanges.done++
        } catch (err: any) {
          exchanges.failed.push(`${err?.name}: ${err?.message}`)
        }

        await new Promise(resolve => setTimeout(resolve, 5))
      }
    })()

    const result = await churn(async () => churnControl.openStream(addr, PROTOCOL, { signal: AbortSignal.timeout(5_000) }))
    churning.on = false
    await honestLoop
    incoming.close()
    await serving

    const allowed = BURST + RATE * result.elapsed / 1000
    const stats = listener.services.stream.stats()
    console.info(`      in ${(result.elapsed / 1000).toFixed(1)} s the churner negotiated ${result.negotiated} streams (at most ${allowed.toFixed(0)}), ${result.refused} refused with 0x1003; the honest peer made ${exchanges.done} exchanges, ${exchanges.failed.length} failed`)

    expect(result.other, 'every failed open was the listener\'s refusal, a RemoteResetError with code 0x1003').to.deep.equal({})
    expect(result.refused, 'opens refused').to.be.greaterThan(0)
    expect(result.negotiated, `opens negotiated in ${result.elapsed.toFixed(0)} ms, at most ${allowed.toFixed(0)}`).to.be.at.most(Math.ceil(allowed))
    expect(stats.rateLimited, 'the listener counted each refusal').to.equal(result.refused)
    expect(exchanges.failed, 'the honest peer, from another network group, was never refused').to.deep.equal([])
    expect(exchanges.done, 'the honest peer kept working').to.be.greaterThan(0)
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
