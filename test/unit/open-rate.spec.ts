import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { BURST_SECONDS, GROUP_RATES, OpenRateLimit } from '../../src/inbound/open-rate.ts'
import { StreamMetrics } from '../../src/metrics.ts'
import type { ConnectionEvents } from '../../src/index.ts'
import type { Connection, Logger } from '@libp2p/interface'

const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => log }) as unknown as Logger
const events: ConnectionEvents = { addEventListener: () => {}, removeEventListener: () => {} }

/** A connection from `ip` (only its address is read, and its peer for the log) */
function from (ip: string): Connection {
  return { remoteAddr: multiaddr(`/ip4/${ip}/tcp/4001`), remotePeer: 'peer' } as unknown as Connection
}

function started (rate: number): OpenRateLimit {
  const limit = new OpenRateLimit(rate, log, new StreamMetrics())
  limit.start(events, [])
  return limit
}

describe('unit: OpenRateLimit', () => {
  it(`lets a quiet connection open ${BURST_SECONDS} seconds' worth at once, then the rate, and resets the rest`, () => {
    const limit = started(100)
    const connection = from('127.0.7.1')
    let admitted = 0
    let refused = 0

    for (let i = 0; i < 500; i++) {
      if (limit.admit(connection, 0)) { admitted++ } else { refused++ }
    }

    expect(admitted, 'the burst').to.equal(100 * BURST_SECONDS)
    expect(refused).to.equal(500 - 100 * BURST_SECONDS)
    expect(limit.refused, 'counted').to.equal(refused)

    // 50 ms later: five more, at 100 a second
    let later = 0
    for (let i = 0; i < 20; i++) {
      if (limit.admit(connection, 50)) { later++ }
    }
    expect(later).to.equal(5)
  })

  it(`gives each connection its own rate, and the connections of one network group ${GROUP_RATES} times that together`, () => {
    const limit = started(10)
    const flooder = from('127.0.7.1')

    for (let i = 0; i < 10 * BURST_SECONDS; i++) {
      expect(limit.admit(flooder, 0)).to.be.true()
    }

    expect(limit.admit(flooder, 0), 'the flooder, over its own rate').to.be.false()
    expect(limit.admit(from('127.0.7.200'), 0), 'another peer of the same /24 keeps its own rate').to.be.true()

    // many connections from one /24: the group's bucket runs out for all of them
    const sybils = Array.from({ length: 2 * GROUP_RATES }, (_, i) => from(`127.0.7.${10 + i}`))
    let admitted = 0
    for (const sybil of sybils) {
      for (let i = 0; i < 10 * BURST_SECONDS; i++) {
        if (limit.admit(sybil, 0)) { admitted++ }
      }
    }

    expect(admitted + 10 * BURST_SECONDS + 1, 'the group\'s burst in all').to.equal(GROUP_RATES * 10 * BURST_SECONDS)
    expect(limit.admit(from('127.0.8.1'), 0), 'a peer of another /24').to.be.true()
  })

  it('forgets the buckets of groups that are full again: what it holds follows the groups opening now, not every group seen', () => {
    const limit = started(1000)

    // 10,000 groups, one stream each, a second apart: a bucket is full again two seconds after its stream
    for (let i = 0; i < 10_000; i++) {
      limit.admit(from(`127.${(i >> 8) & 255}.${i & 255}.1`), i * 1000)
    }

    expect(limit.groups, 'buckets held').to.be.at.most(128)
  })

  it('lets everything through, and holds nothing, when stopped or unbounded', () => {
    const limit = started(1)
    limit.stop()
    const unbounded = new OpenRateLimit(Infinity, log, new StreamMetrics())
    unbounded.start(events, [])

    for (let i = 0; i < 100; i++) {
      expect(limit.admit(from('127.0.7.1'), 0)).to.be.true()
      expect(unbounded.admit(from('127.0.7.1'), 0)).to.be.true()
    }

    expect(unbounded.enabled).to.be.false()
    expect(limit.groups + unbounded.groups).to.equal(0)
  })
})
