import { expect } from 'aegir/chai'
import { Lane } from '../../src/inbound/lane.ts'
import { QueuedStream } from '../../src/inbound/queued-stream.ts'
import { WaitingStreams } from '../../src/inbound/waiting-streams.ts'
import { entries } from '../fixtures/lane-entries.ts'
import { eventually } from '../fixtures/wait.ts'
import type { Eviction, Place } from '../../src/inbound/waiting-streams.ts'
import type { IncomingStream } from '../../src/types/incoming.ts'
import type { Connection, PeerId, Stream, StreamCloseEvent } from '@libp2p/interface'

/**
 * Just enough of a libp2p stream: it pauses and resumes, keeps what arrives
 * in a read buffer, takes each received chunk through `onData` (a prototype
 * method, as on libp2p's message streams) and can be closed.
 */
class FakeStream extends EventTarget {
  readonly id: string
  readonly protocol = '/test/waiting/1.0.0'
  status = 'open'
  readStatus = 'readable'
  readBufferLength = 0
  maxReadBufferLength = 200

  constructor (id: string) {
    super()
    this.id = id
  }

  pause (): void { this.readStatus = 'paused' }
  resume (): void { this.readStatus = 'readable' }

  onData (data: Uint8Array): void {
    this.readBufferLength += data.byteLength
  }

  /** The muxer hands over `length` bytes */
  deliver (length: number): void {
    (this as unknown as { onData(data: Uint8Array): void }).onData(new Uint8Array(length))
  }

  /** Closes the stream as its remote or its connection would */
  end (error?: Error): void {
    this.status = error == null ? 'closed' : 'reset'
    this.dispatchEvent(Object.assign(new Event('close'), { error }))
  }
}

function item (id: string, peer = 'peer-a'): IncomingStream & { stream: FakeStream } {
  const stream = new FakeStream(id)
  return {
    stream,
    connection: {} as unknown as Connection,
    peer: { toString: () => peer } as unknown as PeerId,
    protocol: stream.protocol,
    lane: 'default'
  } as unknown as IncomingStream & { stream: FakeStream }
}

function lane (backlog = 16): Lane<IncomingStream> {
  return new Lane({ name: 'default', backlog, maxPerPeer: backlog, priority: 0, weight: 1 })
}

/** WaitingStreams that records what it evicts and what closed */
function waiting (maxQueuedBytes = 1_000, maxQueueAge = 60_000, streamOverhead = 0): { streams: WaitingStreams, evicted: Array<[string, Eviction]>, closed: string[] } {
  const evicted: Array<[string, Eviction]> = []
  const closed: string[] = []
  const streams = new WaitingStreams({ maxQueuedBytes, maxQueueAge, streamOverhead }, (place: Place, reason: Eviction) => {
    evicted.push([place.entry.item.stream.id, reason])
  }, (place: Place) => {
    closed.push(place.entry.item.stream.id)
  })

  return { streams, evicted, closed }
}

describe('unit: QueuedStream', () => {
  const ignore = (): void => {}

  it('pauses a readable stream while it waits, and resumes it only when released to be read', () => {
    const a = item('a')
    const b = item('b')
    const queuedA = new QueuedStream(a, 'net', false, 0, ignore, ignore)
    const queuedB = new QueuedStream(b, 'net', false, 0, ignore, ignore)

    expect([a.stream.readStatus, b.stream.readStatus]).to.deep.equal(['paused', 'paused'])
    queuedA.release(true)
    queuedB.release(false)
    expect([a.stream.readStatus, b.stream.readStatus]).to.deep.equal(['readable', 'paused'])
  })

  it('reports the bytes buffered when queued, then each chunk delivered, and none after release', () => {
    const a = item('a')
    a.stream.readBufferLength = 10
    const deltas: number[] = []
    const queued = new QueuedStream(a, 'net', false, 0, (_entry, delta) => { deltas.push(delta) }, ignore)

    a.stream.deliver(5)
    a.stream.deliver(7)
    expect(deltas).to.deep.equal([10, 5, 7])
    expect(queued.bytes).to.equal(22)

    queued.release(true)
    a.stream.deliver(100)
    expect(deltas).to.deep.equal([10, 5, 7])
    expect(a.stream.readBufferLength, 'the stream still receives').to.equal(122)
    expect(Object.hasOwn(a.stream, 'onData'), 'the stream\'s own onData is back').to.be.false()
  })

  it('tells of a close while queued once, and nothing after release', () => {
    const closes: Array<StreamCloseEvent['error']> = []
    const a = item('a')
    const b = item('b')
    new QueuedStream(a, 'net', false, 0, ignore, (_entry, evt) => { closes.push(evt.error) }) // eslint-disable-line no-new
    new QueuedStream(b, 'net', false, 0, ignore, () => { closes.push(new Error('b')) }).release(false)

    const err = new Error('remote reset')
    a.stream.end(err)
    a.stream.end()
    b.stream.end()
    expect(closes).to.deep.equal([err])
  })

  it('raises the read buffer limit to its reservation while it waits, and puts it back (or to what it buffers) when released', () => {
    const a = item('a')
    const b = item('b')
    const queuedA = new QueuedStream(a, 'net', true, 500, ignore, ignore)
    const queuedB = new QueuedStream(b, 'net', true, 50, ignore, ignore)

    expect([a.stream.maxReadBufferLength, b.stream.maxReadBufferLength]).to.deep.equal([500, 200])
    a.stream.deliver(300)
    queuedA.release(false)
    queuedB.release(false)
    expect([a.stream.maxReadBufferLength, b.stream.maxReadBufferLength]).to.deep.equal([300, 200])
  })

  it('is charged its reservation until the bytes it holds are more, and judged for eviction only by the bytes beyond it', () => {
    const charges: number[] = []
    const a = item('a')
    a.stream.readBufferLength = 10
    const queued = new QueuedStream(a, 'net', true, 60, (_entry, _delta, charge) => { charges.push(charge) }, ignore)

    expect([queued.bytes, queued.charge, queued.excess]).to.deep.equal([10, 60, 0])
    a.stream.deliver(50)
    expect([queued.bytes, queued.charge, queued.excess]).to.deep.equal([60, 60, 0])
    a.stream.deliver(15)
    expect([queued.bytes, queued.charge, queued.excess]).to.deep.equal([75, 75, 15])
    expect(charges, 'the charge grows only past the reservation').to.deep.equal([0, 0, 15])
  })
})

describe('unit: WaitingStreams', () => {
  it('keeps what the waiting streams hold within maxQueuedBytes by evicting the largest holder', () => {
    const { streams, evicted } = waiting(100)
    const l = lane()
    const [a, b, c] = [item('a'), item('b'), item('c')]
    ;[a, b, c].forEach(i => { streams.add(l, i, 'net', false) })

    a.stream.deliver(30)
    b.stream.deliver(60)
    expect(evicted).to.deep.equal([])
    c.stream.deliver(20)

    expect(evicted).to.deep.equal([['b', 'bytes-limit']])
    expect(streams.bytes).to.equal(50)
    expect(streams.size).to.equal(2)
    expect(entries(l).map(e => e.item.stream.id)).to.deep.equal(['a', 'c'])
  })

  it('evicts a stream that holds more than the whole budget as soon as it is queued', () => {
    const { streams, evicted } = waiting(100)
    const big = item('big')
    big.stream.readBufferLength = 500

    streams.add(lane(), big, 'net', false)

    expect(evicted).to.deep.equal([['big', 'bytes-limit']])
    expect([streams.size, streams.bytes]).to.deep.equal([0, 0])
  })

  it('removes a stream that closes while it waits, gives its bytes back, and tells the acceptor', () => {
    const { streams, closed, evicted } = waiting()
    const l = lane()
    const a = item('a')
    streams.add(l, a, 'net', false)
    a.stream.deliver(40)

    a.stream.end(new Error('remote reset'))

    expect(closed).to.deep.equal(['a'])
    expect(evicted).to.deep.equal([])
    expect([streams.size, streams.bytes, l.size]).to.deep.equal([0, 0, 0])
  })

  it('puts a moved stream first in its lane and counts it as requeued', () => {
    const { streams } = waiting()
    const l = lane()
    streams.add(l, item('a'), 'net', false)
    streams.add(l, item('moved'), 'net', true)

    expect(entries(l).map(e => e.item.stream.id)).to.deep.equal(['moved', 'a'])
    expect(streams.requeued).to.equal(1)
  })

  it('remove() takes a stream out, resumed when it is to be read', () => {
    const { streams } = waiting()
    const l = lane()
    const a = item('a')
    streams.add(l, a, 'net', false)
    const place = streams.get(a.stream as unknown as Stream)

    expect(place).to.exist()
    expect(streams.remove(place!, true)).to.equal(a)
    expect(a.stream.readStatus).to.equal('readable')
    expect(streams.get(a.stream as unknown as Stream)).to.be.undefined()
  })

  it('holds a moved stream\'s reservation in the budget, never evicts it for bytes within it, and evicts new streams instead', () => {
    const { streams, evicted } = waiting(100)
    const l = lane()
    const [moved, a, b] = [item('moved'), item('a'), item('b')]
    moved.stream.readBufferLength = 10

    streams.add(l, moved, 'net', true, 60)
    expect([streams.bytes, streams.charged, streams.left()]).to.deep.equal([10, 60, 40])
    expect(streams.left(moved.stream as unknown as Stream), 'leaving out its own charge').to.equal(100)

    streams.add(l, a, 'net', false)
    streams.add(l, b, 'net', false)
    a.stream.deliver(25)
    moved.stream.deliver(50)
    expect(evicted, 'bytes within the reservation use it up').to.deep.equal([])
    expect([streams.bytes, streams.charged]).to.deep.equal([85, 85])

    b.stream.deliver(20)
    expect(evicted, 'the new stream holding the most goes, not the moved one holding more').to.deep.equal([['a', 'bytes-limit']])
    expect([streams.bytes, streams.charged]).to.deep.equal([80, 80])

    b.stream.deliver(25)
    expect(evicted).to.deep.equal([['a', 'bytes-limit'], ['b', 'bytes-limit']])
    expect([streams.size, streams.bytes, streams.charged]).to.deep.equal([1, 60, 60])
  })

  it('counts a moved stream\'s bytes beyond its reservation as usual, and evicts it when it holds the most of them', () => {
    const { streams, evicted } = waiting(100)
    const l = lane()
    const [moved, a] = [item('moved'), item('a')]
    streams.add(l, moved, 'net', true, 50)
    streams.add(l, a, 'net', false)
    a.stream.deliver(20)

    moved.stream.deliver(70)
    expect([streams.bytes, streams.charged]).to.deep.equal([90, 90])
    moved.stream.deliver(15)

    expect(evicted).to.deep.equal([['moved', 'bytes-limit']])
    expect([streams.size, streams.bytes, streams.charged]).to.deep.equal([1, 20, 20])
  })

  it('gives a moved stream\'s reservation back when it leaves, read or closed', () => {
    const { streams } = waiting(100)
    const l = lane()
    const [x, y] = [item('x'), item('y')]
    streams.add(l, x, 'net', true, 40)
    streams.add(l, y, 'net', true, 30)
    x.stream.deliver(45)
    expect([streams.charged, streams.left()]).to.deep.equal([75, 25])

    streams.remove(streams.get(x.stream as unknown as Stream)!, true)
    expect([streams.bytes, streams.charged]).to.deep.equal([0, 30])
    y.stream.end(new Error('remote reset'))
    expect([streams.size, streams.bytes, streams.charged, streams.left()]).to.deep.equal([0, 0, 0, 100])
  })

  it('charges each waiting stream its own memory on top of its bytes, and evicts the newest new stream when the streams alone are over the budget', () => {
    const { streams, evicted } = waiting(99, 60_000, 30)
    const l = lane()
    const [moved, a, b, c] = [item('moved'), item('a'), item('b'), item('c')]

    streams.add(l, moved, 'net', true, 10)
    expect([streams.charged, streams.left()]).to.deep.equal([40, 29])
    expect(streams.left(moved.stream as unknown as Stream), 'leaving out its own charge').to.equal(69)
    streams.add(l, a, 'net', false)
    a.stream.deliver(5)
    expect(streams.charged).to.equal(75)

    streams.add(l, b, 'net', false)
    expect(evicted, 'a holds bytes, so it goes first').to.deep.equal([['a', 'bytes-limit']])
    streams.add(l, c, 'net', false)
    expect(evicted, 'none holds bytes beyond its reservation: the newest new stream goes, never the moved one').to.deep.equal([['a', 'bytes-limit'], ['c', 'bytes-limit']])
    expect([streams.size, streams.charged]).to.deep.equal([2, 70])
  })

  it('evicts streams older than maxQueueAge as expired (real timers, 30 ms), and stop() ends the timer', async () => {
    const { streams, evicted } = waiting(1_000, 30)
    const l = lane()
    streams.add(l, item('old'), 'net', false)

    await eventually(() => evicted.length === 1, 'the stream expired', 1_000)
    expect(evicted).to.deep.equal([['old', 'expired']])
    expect(l.size).to.equal(0)

    streams.add(l, item('kept'), 'net', false)
    streams.stop()
    await new Promise(resolve => setTimeout(resolve, 60))
    expect(evicted).to.have.lengthOf(1)
  })
})
