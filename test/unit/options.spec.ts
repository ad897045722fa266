import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { DEFAULT_BACKLOG, DEFAULT_INBOUND_HEADROOM, DEFAULT_MAX_INBOUND_STREAM_RATE, DEFAULT_MAX_OUTBOUND_STREAMS, DEFAULT_MAX_QUEUE_AGE, DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_READ_AHEAD, DEFAULT_NEGOTIATION_TIMEOUT, DEFAULT_OPEN_TIMEOUT } from '../../src/constants.ts'
import { stream } from '../../src/index.ts'
import { checkRuntime, resolveAccept, resolveInit, resolveOpen } from '../../src/options.ts'
import { randomPeerId } from '../fixtures/peer-id.ts'
import type { ResolvedInit } from '../../src/options.ts'
import type { PeerId } from '@libp2p/interface'

const INIT: ResolvedInit = {
  backlog: DEFAULT_BACKLOG,
  maxOutboundStreams: DEFAULT_MAX_OUTBOUND_STREAMS,
  maxReadAhead: DEFAULT_MAX_READ_AHEAD,
  maxInboundStreamRate: DEFAULT_MAX_INBOUND_STREAM_RATE
}
const P = '/test/options/1.0.0'

/** Expects `run` to throw an InvalidParametersError whose message names `parameter` */
function expectRejected (run: () => unknown, parameter: string): void {
  expect(run).to.throw().that.satisfies((err: Error) => {
    expect(err.name).to.equal('InvalidParametersError')
    expect(err.message).to.include(parameter)
    return true
  })
}

describe('unit: option resolution', () => {
  describe('the Node.js version guard', () => {
    it('refuses Node.js 20 with an UnsupportedRuntimeError naming the version needed and the one found', () => {
      expect(() => { checkRuntime('20.19.2') }).to.throw().that.satisfies((err: Error) => {
        expect(err.name).to.equal('UnsupportedRuntimeError')
        expect(err.message).to.include('Node.js >= 22').and.include('20.19.2')
        return true
      })
    })

    it('lets Node.js 22 and later, and a browser (no Node.js version), through', () => {
      expect(() => { checkRuntime('22.0.0') }).to.not.throw()
      expect(() => { checkRuntime('24.21.0') }).to.not.throw()
      expect(() => { checkRuntime(undefined) }).to.not.throw()
    })

    it('runs where a user first calls in: stream() checks the Node.js it runs on', () => {
      const versions = process.versions as { node: string }
      const real = versions.node
      Object.defineProperty(versions, 'node', { value: '20.11.1', configurable: true, writable: true })

      try {
        expect(() => stream()).to.throw(/needs Node\.js >= 22, this is Node\.js 20\.11\.1/)
      } finally {
        Object.defineProperty(versions, 'node', { value: real, configurable: true, writable: true })
      }

      expect(process.versions.node).to.equal(real)
      expect(stream()).to.be.a('function')
    })
  })

  describe('resolveInit', () => {
    it('fills in the defaults for missing init', () => {
      expect(resolveInit(undefined)).to.deep.equal({ backlog: DEFAULT_BACKLOG, maxOutboundStreams: 1000, maxReadAhead: 256 * 1024, maxInboundStreamRate: 1000 })
      expect(resolveInit({})).to.deep.equal(INIT)
    })

    it('keeps what is given, a backlog of 0 included', () => {
      const given = { backlog: 0, maxOutboundStreams: 5, maxReadAhead: 1, maxInboundStreamRate: 0.5 }
      expect(resolveInit(given)).to.deep.equal(given)
      expect(resolveInit({ maxInboundStreamRate: Infinity }).maxInboundStreamRate).to.equal(Infinity)
    })

    const bad: Array<[string, unknown, string]> = [
      ['init that is not an object', 'big', 'init'],
      ['init that is an array', [], 'init'],
      ['a negative backlog', { backlog: -1 }, 'init.backlog'],
      ['a fractional backlog', { backlog: 2.5 }, 'init.backlog'],
      ['a zero maxOutboundStreams', { maxOutboundStreams: 0 }, 'init.maxOutboundStreams'],
      ['a zero maxReadAhead', { maxReadAhead: 0 }, 'init.maxReadAhead'],
      ['a string maxOutboundStreams', { maxOutboundStreams: '9' }, 'init.maxOutboundStreams'],
      ['a zero maxInboundStreamRate', { maxInboundStreamRate: 0 }, 'init.maxInboundStreamRate'],
      ['a NaN maxInboundStreamRate', { maxInboundStreamRate: NaN }, 'init.maxInboundStreamRate']
    ]

    for (const [name, init, parameter] of bad) {
      it(`rejects ${name}, naming ${parameter}`, () => {
        expectRejected(() => resolveInit(init), parameter)
      })
    }
  })

  describe('resolveAccept', () => {
    it('fills in the defaults: one lane called default with the node\'s backlog, and limits derived from it', () => {
      const resolved = resolveAccept(P, undefined, INIT)

      expect(resolved.protocols).to.deep.equal([P])
      expect(resolved.lanes).to.deep.equal([{ name: 'default', backlog: DEFAULT_BACKLOG, maxPerPeer: DEFAULT_BACKLOG, priority: 0, weight: 1 }])
      expect(resolved.maxInboundStreams).to.equal(DEFAULT_BACKLOG + DEFAULT_INBOUND_HEADROOM)
      expect(resolved.maxOutboundStreams).to.equal(DEFAULT_MAX_OUTBOUND_STREAMS)
      expect(resolved.maxQueuedBytes).to.equal(DEFAULT_MAX_QUEUED_BYTES)
      expect(resolved.maxQueueAge).to.equal(DEFAULT_MAX_QUEUE_AGE)
      expect(resolved.onDrop).to.be.undefined()
      expect(resolved.signal).to.be.undefined()
      expect(resolved.runOnLimitedConnection).to.be.undefined()
    })

    it('takes its defaults from the node\'s init', () => {
      const resolved = resolveAccept(P, {}, { ...INIT, backlog: 4, maxOutboundStreams: 7 })

      expect(resolved.lanes[0]).to.include({ backlog: 4, maxPerPeer: 4 })
      expect(resolved.maxInboundStreams).to.equal(4 + DEFAULT_INBOUND_HEADROOM)
      expect(resolved.maxOutboundStreams).to.equal(7)
    })

    it('keeps a top-level backlog and maxPerPeer in the default lane', () => {
      const resolved = resolveAccept(P, { backlog: 10, maxPerPeer: 3 }, INIT)
      expect(resolved.lanes).to.deep.equal([{ name: 'default', backlog: 10, maxPerPeer: 3, priority: 0, weight: 1 }])
    })

    it('copies the protocol list, so changing the caller\'s list later changes nothing', () => {
      const list = ['/a/1.0.0', '/b/1.0.0']
      const resolved = resolveAccept(list, undefined, INIT)
      list.push('/c/1.0.0')
      list[0] = '/changed/1.0.0'

      expect(resolved.protocols).to.deep.equal(['/a/1.0.0', '/b/1.0.0'])
    })

    it('resolves lanes in declaration order with their defaults, and sizes maxInboundStreams from all of them', () => {
      const match = (): boolean => true
      const resolved = resolveAccept(P, { lanes: { vip: { backlog: 2, match, priority: 1, weight: 3 }, rest: {} } }, INIT)

      expect(resolved.lanes).to.deep.equal([
        { name: 'vip', backlog: 2, maxPerPeer: 2, priority: 1, weight: 3, match },
        { name: 'rest', backlog: DEFAULT_BACKLOG, maxPerPeer: DEFAULT_BACKLOG, priority: 0, weight: 1, match: undefined }
      ])
      expect(resolved.maxInboundStreams).to.equal(2 + DEFAULT_BACKLOG + DEFAULT_INBOUND_HEADROOM)
    })

    it('keeps the signal, onDrop and flags it is given', () => {
      const signal = new AbortController().signal
      const onDrop = (): void => {}
      const resolved = resolveAccept(P, { signal, onDrop, runOnLimitedConnection: true, maxQueueAge: 5, maxQueuedBytes: 0, maxInboundStreams: 1 }, INIT)

      expect(resolved).to.include({ signal, onDrop, runOnLimitedConnection: true, maxQueueAge: 5, maxQueuedBytes: 0, maxInboundStreams: 1 })
    })

    const bad: Array<[string, unknown, unknown, string]> = [
      ['a protocol that is not a string', 7, undefined, 'protocol'],
      ['a protocol without a leading /', 'a/1.0.0', undefined, 'protocol'],
      ['a protocol with a space', '/a /1.0.0', undefined, 'protocol'],
      ['a protocol with a control character', '/a\u0007/1.0.0', undefined, 'protocol'],
      ['a protocol over 1023 bytes', '/' + 'é'.repeat(512), undefined, 'protocol'],
      ['an empty protocol list', [], undefined, 'protocol'],
      ['a protocol listed twice', [P, P], undefined, 'protocol list'],
      ['options that are null', P, null, 'options'],
      ['options that are an array', P, [], 'options'],
      ['a negative backlog', P, { backlog: -1 }, 'backlog'],
      ['a negative maxPerPeer', P, { maxPerPeer: -1 }, 'maxPerPeer'],
      ['a zero maxInboundStreams', P, { maxInboundStreams: 0 }, 'maxInboundStreams'],
      ['a zero maxOutboundStreams', P, { maxOutboundStreams: 0 }, 'maxOutboundStreams'],
      ['a fractional maxQueuedBytes', P, { maxQueuedBytes: 1.5 }, 'maxQueuedBytes'],
      ['a zero maxQueueAge', P, { maxQueueAge: 0 }, 'maxQueueAge'],
      ['an infinite maxQueueAge', P, { maxQueueAge: Infinity }, 'maxQueueAge'],
      ['an onDrop that is not a function', P, { onDrop: 'log' }, 'onDrop'],
      ['a signal that is not an AbortSignal', P, { signal: {} }, 'signal'],
      ['a runOnLimitedConnection that is not a boolean', P, { runOnLimitedConnection: 1 }, 'runOnLimitedConnection'],
      ['a backlog beside lanes', P, { backlog: 1, lanes: { a: {} } }, 'backlog'],
      ['a maxPerPeer beside lanes', P, { maxPerPeer: 1, lanes: { a: {} } }, 'maxPerPeer'],
      ['lanes that are not an object', P, { lanes: 'many' }, 'lanes'],
      ['no lanes', P, { lanes: {} }, 'lanes'],
      ['no default lane', P, { lanes: { a: { match: () => true } } }, 'lanes'],
      ['two default lanes', P, { lanes: { a: {}, b: {} } }, 'a, b'],
      ['a lane with an empty name', P, { lanes: { '': {} } }, 'lanes'],
      ['a lane that is not an object', P, { lanes: { a: 1 } }, 'lanes.a'],
      ['a lane backlog that is negative', P, { lanes: { a: { backlog: -1 } } }, 'lanes.a.backlog'],
      ['a lane maxPerPeer that is fractional', P, { lanes: { a: { maxPerPeer: 0.5 } } }, 'lanes.a.maxPerPeer'],
      ['a lane priority that is fractional', P, { lanes: { a: { priority: 1.5 } } }, 'lanes.a.priority'],
      ['a lane priority that is a string', P, { lanes: { a: { priority: '1' } } }, 'lanes.a.priority'],
      ['a lane weight of 0', P, { lanes: { a: { weight: 0 } } }, 'lanes.a.weight'],
      ['a lane match that is not a function', P, { lanes: { a: { match: true }, b: {} } }, 'lanes.a.match']
    ]

    for (const [name, protocol, options, parameter] of bad) {
      it(`rejects ${name}, naming ${parameter}`, () => {
        expectRejected(() => resolveAccept(protocol, options, INIT), parameter)
      })
    }

    // Node runs a setTimeout over 2^31 - 1 ms after 1 ms: Expiry would wake
    // about every millisecond while anything is queued
    it('rejects a maxQueueAge longer than a timer can wait (2^31 - 1 ms), naming maxQueueAge', () => {
      expectRejected(() => resolveAccept(P, { maxQueueAge: 2 ** 31 }, INIT), 'maxQueueAge')
    })
  })

  describe('resolveOpen', () => {
    let target: PeerId
    let other: PeerId

    before(async () => {
      [target, other] = await Promise.all([randomPeerId(), randomPeerId()])
    })

    it('fills in the defaults', () => {
      const resolved = resolveOpen(target, P, undefined, INIT)

      expect(resolved.target).to.equal(target)
      expect(resolved.protocols).to.deep.equal([P])
      expect(resolved.negotiationTimeout).to.equal(DEFAULT_NEGOTIATION_TIMEOUT)
      expect(resolved.openTimeout).to.equal(DEFAULT_OPEN_TIMEOUT)
      expect(resolved.maxOutboundStreams).to.equal(DEFAULT_MAX_OUTBOUND_STREAMS)
      expect(resolved).to.include({ signal: undefined, runOnLimitedConnection: undefined, negotiateFully: undefined, force: undefined, connection: undefined })
    })

    it('takes maxOutboundStreams from the node\'s init', () => {
      expect(resolveOpen(target, P, {}, { ...INIT, backlog: 1, maxOutboundStreams: 9 }).maxOutboundStreams).to.equal(9)
    })

    it('accepts a multiaddr and a list of multiaddrs as the target', () => {
      const one = multiaddr('/ip4/127.0.0.1/tcp/1')
      const list = [one, multiaddr('/ip4/127.0.0.1/tcp/2')]

      expect(resolveOpen(one, P, undefined, INIT).target).to.equal(one)
      expect(resolveOpen(list, P, undefined, INIT).target).to.equal(list)
    })

    it('keeps a connection to the target peer, and the flags it is given', () => {
      const connection = { remotePeer: target, newStream: async () => {} }
      const resolved = resolveOpen(target, P, { connection, force: true, negotiateFully: false, runOnLimitedConnection: true, negotiationTimeout: 5 }, INIT)

      expect(resolved).to.include({ connection, force: true, negotiateFully: false, runOnLimitedConnection: true, negotiationTimeout: 5 })
    })

    // openStream negotiates after the dial: a caller changing its list
    // meanwhile must not change what is negotiated
    it('copies the protocol list, so changing the caller\'s list later changes nothing', () => {
      const list = ['/a/1.0.0', '/b/1.0.0']
      const resolved = resolveOpen(target, list, undefined, INIT)
      list[0] = '/changed/1.0.0'

      expect(resolved.protocols).to.deep.equal(['/a/1.0.0', '/b/1.0.0'])
    })

    // as maxQueueAge: a longer one would time the negotiation out after 1 ms
    it('rejects a negotiationTimeout longer than a timer can wait (2^31 - 1 ms), naming negotiationTimeout', () => {
      expectRejected(() => resolveOpen(target, P, { negotiationTimeout: 2 ** 31 }, INIT), 'negotiationTimeout')
    })

    it('rejects a connection to another peer than the target, naming connection', () => {
      const connection = { remotePeer: other, newStream: async () => {} }
      expectRejected(() => resolveOpen(target, P, { connection }, INIT), 'connection')
    })

    const bad: Array<[string, () => unknown, unknown, unknown, string]> = [
      ['a string target', () => target.toString(), P, undefined, 'target'],
      ['an undefined target', () => undefined, P, undefined, 'target'],
      ['an empty list as the target', () => [], P, undefined, 'target'],
      ['a list of strings as the target', () => ['/ip4/127.0.0.1/tcp/1'], P, undefined, 'target'],
      ['a protocol without a leading /', () => target, 'a', undefined, 'protocol'],
      ['a protocol list naming one twice', () => target, [P, P], undefined, 'protocol list'],
      ['options that are a string', () => target, P, 'now', 'options'],
      ['a negative negotiationTimeout', () => target, P, { negotiationTimeout: -1 }, 'negotiationTimeout'],
      ['a NaN negotiationTimeout', () => target, P, { negotiationTimeout: NaN }, 'negotiationTimeout'],
      ['a zero openTimeout', () => target, P, { openTimeout: 0 }, 'openTimeout'],
      ['an openTimeout longer than a timer can wait', () => target, P, { openTimeout: 2 ** 31 }, 'openTimeout'],
      ['a zero maxOutboundStreams', () => target, P, { maxOutboundStreams: 0 }, 'maxOutboundStreams'],
      ['a signal that is not an AbortSignal', () => target, P, { signal: 'x' }, 'signal'],
      ['a force that is not a boolean', () => target, P, { force: 'yes' }, 'force'],
      ['a negotiateFully that is not a boolean', () => target, P, { negotiateFully: 0 }, 'negotiateFully'],
      ['a runOnLimitedConnection that is not a boolean', () => target, P, { runOnLimitedConnection: null }, 'runOnLimitedConnection'],
      ['a connection that is not one', () => target, P, { connection: { remotePeer: 'x' } }, 'connection'],
      ['a null connection', () => target, P, { connection: null }, 'connection']
    ]

    for (const [name, getTarget, protocol, options, parameter] of bad) {
      it(`rejects ${name}, naming ${parameter}`, () => {
        expectRejected(() => resolveOpen(getTarget(), protocol, options, INIT), parameter)
      })
    }
  })
})
