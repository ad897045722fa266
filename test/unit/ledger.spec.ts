import { expect } from 'aegir/chai'
import { StreamDroppedError } from '../../src/errors.ts'
import { Ledger } from '../../src/inbound/ledger.ts'
import { StreamMetrics } from '../../src/metrics.ts'
import type { LedgerInit } from '../../src/inbound/ledger.ts'
import type { DroppedStream } from '../../src/types/incoming.ts'
import type { Connection, Logger, Metrics, Stream, StreamCloseEvent } from '@libp2p/interface'

const PROTOCOL = '/test/ledger/1.0.0'

/** A logger that keeps its error lines */
function logger (): Logger & { errors: unknown[][] } {
  const errors: unknown[][] = []
  return Object.assign(() => {}, { errors, error: (...args: unknown[]) => { errors.push(args) }, trace: () => {}, enabled: false, newScope: () => logger() }) as any
}

/** A metrics component that records every counter increment as "name:label" */
function recordingMetrics (): { metrics: Metrics, counted: string[] } {
  const counted: string[] = []
  const metrics = {
    registerCounterGroup: (name: string) => ({
      increment: (labels: Record<string, boolean>) => { counted.push(...Object.keys(labels).map(label => `${name}:${label}`)) }
    }),
    registerCounter: (name: string) => ({
      increment: () => { counted.push(name) }
    })
  } as unknown as Metrics

  return { metrics, counted }
}

/** A stream that records what it was aborted with */
function fakeStream (id: string): Stream & { abortedWith?: Error } {
  const stream = {
    id,
    protocol: PROTOCOL,
    abortedWith: undefined as Error | undefined,
    abort (err: Error) { stream.abortedWith = err }
  }
  return stream as unknown as Stream & { abortedWith?: Error }
}

const connection = { remotePeer: { toString: () => 'peer-a' } } as unknown as Connection

function ledger (init: Partial<LedgerInit> = {}): Ledger {
  return new Ledger({ protocols: [PROTOCOL], log: logger(), metrics: new StreamMetrics(), ...init })
}

describe('unit: Ledger', () => {
  it('starts with every counter, and every reason, at zero', () => {
    const l = ledger()

    expect([l.arrived, l.accepted, l.dropped, l.goneCount]).to.deep.equal([0, 0, 0, 0])
    expect(Object.values(l.dropReasons).every(n => n === 0)).to.be.true()
    expect(Object.keys(l.dropReasons)).to.have.members(['backlog-full', 'evicted', 'peer-limit', 'stream-limit', 'bytes-limit', 'expired', 'match-error', 'closed'])
    expect(l.goneReasons).to.deep.equal({ 'remote-reset': 0, 'connection-closed': 0, error: 0 })
  })

  it('drop() resets the stream with a StreamDroppedError carrying the reason and naming the protocols', () => {
    const l = new Ledger({ protocols: ['/a/1.0.0', '/b/1.0.0'], log: logger(), metrics: new StreamMetrics() })
    const stream = fakeStream('s1')

    l.drop({ stream, connection, reason: 'backlog-full', lane: 'default' })

    expect(stream.abortedWith).to.be.an.instanceOf(StreamDroppedError)
    expect(stream.abortedWith).to.have.property('reason', 'backlog-full')
    expect(stream.abortedWith?.message).to.include('/a/1.0.0, /b/1.0.0').and.to.include('backlog-full')
  })

  it('counts each drop under its reason, and dropped is their sum', () => {
    const l = ledger()

    l.drop({ stream: fakeStream('1'), connection, reason: 'evicted' })
    l.drop({ stream: fakeStream('2'), connection, reason: 'evicted' })
    l.drop({ stream: fakeStream('3'), connection, reason: 'expired' })

    expect(l.dropReasons).to.include({ evicted: 2, expired: 1, 'backlog-full': 0 })
    expect(l.dropped).to.equal(3)
  })

  it('reuses one error per reason instead of building one for every drop', () => {
    const l = ledger()
    const [a, b, c] = [fakeStream('a'), fakeStream('b'), fakeStream('c')]

    l.drop({ stream: a, connection, reason: 'closed' })
    l.drop({ stream: b, connection, reason: 'closed' })
    l.drop({ stream: c, connection, reason: 'peer-limit' })

    expect(a.abortedWith).to.equal(b.abortedWith)
    expect(c.abortedWith).to.not.equal(a.abortedWith)
  })

  it('tells onDrop about each drop, after counting it', () => {
    const told: Array<DroppedStream & { droppedThen: number }> = []
    const l: Ledger = ledger({ onDrop: drop => { told.push({ ...drop, droppedThen: l.dropped }) } })

    l.drop({ stream: fakeStream('1'), connection, reason: 'match-error' })
    l.drop({ stream: fakeStream('2'), connection, reason: 'evicted', lane: 'public', moved: true })

    expect(told).to.deep.equal([
      { reason: 'match-error', peer: connection.remotePeer, connection, protocol: PROTOCOL, lane: undefined, moved: false, droppedThen: 1 },
      { reason: 'evicted', peer: connection.remotePeer, connection, protocol: PROTOCOL, lane: 'public', moved: true, droppedThen: 1 }
    ])
  })

  it('resets and reports a moved stream\'s drop without counting it again', () => {
    const { metrics, counted } = recordingMetrics()
    const l = ledger({ metrics: new StreamMetrics(metrics) })
    const stream = fakeStream('moved')

    l.drop({ stream, connection, reason: 'expired', lane: 'a', moved: true })

    expect(stream.abortedWith).to.have.property('reason', 'expired')
    expect(l.dropped).to.equal(0)
    expect(counted).to.deep.equal([])
  })

  it('logs what onDrop throws and goes on: the stream is reset and counted all the same', () => {
    const log = logger()
    const l = ledger({ log, onDrop: () => { throw new Error('observer failed') } })
    const stream = fakeStream('1')

    expect(() => { l.drop({ stream, connection, reason: 'stream-limit' }) }).to.not.throw()
    expect(stream.abortedWith).to.have.property('reason', 'stream-limit')
    expect(l.dropped).to.equal(1)
    expect(log.errors).to.have.lengthOf(1)
  })

  describe('gone: why a queued stream closed by itself', () => {
    const open = { status: 'open' } as unknown as Connection
    const closed = { status: 'closed' } as unknown as Connection
    const clean = {} as unknown as StreamCloseEvent
    const failed = { error: new Error('muxer failed') } as unknown as StreamCloseEvent
    const status = (s: string): Stream => ({ status: s }) as unknown as Stream
    const cases: Array<[string, Stream, Connection, StreamCloseEvent, string]> = [
      ['a stream its remote reset is remote-reset', status('reset'), open, failed, 'remote-reset'],
      ['a clean close is connection-closed: nothing here closes a queued stream', status('closed'), open, clean, 'connection-closed'],
      ['a failure on a connection that closed is connection-closed', status('aborted'), closed, failed, 'connection-closed'],
      ['a failure on a connection still open is error', status('aborted'), open, failed, 'error']
    ]

    for (const [title, stream, conn, evt, reason] of cases) {
      it(title, () => {
        const l = ledger()

        expect(l.gone(stream, conn, evt, false)).to.equal(reason)
        expect(l.goneReasons).to.include({ [reason]: 1 })
        expect(l.goneCount).to.equal(1)
      })
    }

    it('counts a moved stream in movedGone, not in gone (it was accepted already)', () => {
      const l = ledger()

      expect(l.gone(status('reset'), open, failed, true)).to.equal('remote-reset')
      expect(l.goneCount).to.equal(0)
      expect(l.movedGone).to.equal(1)
    })
  })

  it('stats() adds up: queued leaves out the requeued, moved sums the lanes, the reasons are copies', () => {
    const l = ledger()
    l.arrived = 7
    l.countAccepted(PROTOCOL, 'a')
    l.drop({ stream: fakeStream('1'), connection, reason: 'evicted' })
    l.countMoved('a')
    l.countMoved('a')
    l.countMoved('b')
    const lanes = [{ name: 'a', capacity: 4, size: 2 }, { name: 'b', capacity: 4, size: 1 }]

    const stats = l.stats({ size: 3, requeued: 1, bytes: 99, charged: 8291 }, lanes)

    expect(stats).to.deep.include({ arrived: 7, queued: 2, accepted: 1, dropped: 1, gone: 0, requeued: 1, moved: 3, queuedBytes: 99, heldBytes: 8291 })
    expect(stats.lanes).to.deep.equal({
      a: { backlog: 4, queued: 2, accepted: 1, dropped: 0, moved: 2, gone: 0 },
      b: { backlog: 4, queued: 1, accepted: 0, dropped: 0, moved: 1, gone: 0 }
    })
    stats.dropReasons.evicted = 100
    expect(l.dropReasons.evicted).to.equal(1)
  })

  it('counts each lane: accepted, dropped, moved and gone, a moved stream not again', () => {
    const l = ledger()
    const gone = { error: new Error('reset') } as unknown as StreamCloseEvent
    const reset = { ...fakeStream('3'), status: 'reset' } as unknown as Stream
    l.countAccepted(PROTOCOL, 'a')
    l.countAccepted(PROTOCOL, 'a')
    l.drop({ stream: fakeStream('1'), connection, reason: 'evicted', lane: 'a' })
    l.drop({ stream: fakeStream('2'), connection, reason: 'closed', lane: 'a', moved: true })
    l.countMoved('a')
    l.gone(reset, connection, gone, false, 'a')
    l.gone(reset, connection, gone, true, 'a')

    expect(l.stats({ size: 1, requeued: 0, bytes: 0, charged: 0 }, [{ name: 'a', capacity: 5, size: 1 }]).lanes.a)
      .to.deep.equal({ backlog: 5, queued: 1, accepted: 2, dropped: 1, moved: 1, gone: 1 })
  })

  it('measures accepted and dropped streams by protocol, lane and reason when the node has metrics', () => {
    const { metrics, counted } = recordingMetrics()
    const l = ledger({ metrics: new StreamMetrics(metrics) })

    l.countAccepted(PROTOCOL, 'vip')
    l.drop({ stream: fakeStream('1'), connection, reason: 'bytes-limit', lane: 'public' })
    l.drop({ stream: fakeStream('2'), connection, reason: 'closed' })

    expect(counted).to.deep.equal([
      `libp2p_stream_accepted_total:${PROTOCOL}`,
      'libp2p_stream_lane_accepted_total:vip',
      `libp2p_stream_dropped_total:${PROTOCOL}`,
      'libp2p_stream_dropped_by_reason_total:bytes-limit',
      'libp2p_stream_lane_dropped_total:public',
      `libp2p_stream_dropped_total:${PROTOCOL}`,
      'libp2p_stream_dropped_by_reason_total:closed'
    ])
  })
})
