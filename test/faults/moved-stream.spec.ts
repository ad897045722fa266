/**
 * Fault: an honest peer streams fast to an application that reads for a while,
 * then hands the stream to another lane with `move()`, where it waits before
 * being read again. While the application read, yamux grew the stream's
 * receive window (doubling up to 16 MiB); the sender may still send all of
 * it after the stream is paused in its new lane. That much is reserved in
 * the accept's `maxQueuedBytes` while the stream waits: when it fits, every
 * byte must still arrive, in order, and the stream must not be reset for it;
 * when it does not, `move()` must refuse (`bytes-limit`) and leave the stream
 * to its reader, losing nothing. Either way the node holds no more than
 * `maxQueuedBytes` for the accept's queued streams.
 */
import { expect } from 'aegir/chai'
import { MoveRejectedError } from '../../src/index.ts'
import { openOrDropped } from '../fixtures/drops.ts'
import { pairPerTest } from '../fixtures/nodes.ts'
import { eventually, nextWithin } from '../fixtures/wait.ts'
import type { AcceptOptions, Control, IncomingStream, IncomingStreams } from '../../src/index.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { Stream } from '@libp2p/interface'

const PROTOCOL = '/test/fault/moved/1.0.0'
const MiB = 1024 * 1024
const CHUNK = 64 * 1024

/** The byte at `offset` of the stream: no short period, so a lost or repeated chunk shows */
function byteAt (offset: number): number {
  return (offset ^ (offset >>> 8) ^ (offset >>> 16) ^ (offset >>> 24)) & 0xff
}

function chunkAt (offset: number, length: number): Uint8Array {
  const chunk = new Uint8Array(length)

  for (let i = 0; i < length; i++) {
    chunk[i] = byteAt(offset + i)
  }

  return chunk
}

/** Sends `total` bytes as fast as the stream takes them, waiting for drain when asked to, then closes */
async function sendFast (s: Stream, total: number): Promise<void> {
  for (let offset = 0; offset < total; offset += CHUNK) {
    if (!s.send(chunkAt(offset, Math.min(CHUNK, total - offset)))) {
      await s.onDrain()
    }
  }

  await s.close()
}

/** Reads from one iterator of a stream, checking each byte's place, until `until` bytes have come or it ends */
class Checker {
  received = 0
  firstWrong = -1
  ended = false
  private readonly reader: AsyncIterator<Uint8Array | { subarray(): Uint8Array }>

  constructor (stream: Stream) {
    this.reader = stream[Symbol.asyncIterator]()
  }

  async readUntil (until: number): Promise<void> {
    while (this.received < until) {
      const { done, value } = await this.reader.next()

      if (done === true) {
        this.ended = true
        return
      }

      const bytes = value instanceof Uint8Array ? value : value.subarray()

      for (let i = 0; i < bytes.byteLength && this.firstWrong < 0; i++) {
        if (bytes[i] !== byteAt(this.received + i)) {
          this.firstWrong = this.received + i
        }
      }

      this.received += bytes.byteLength
    }
  }
}

/**
 * What a yamux stream's remote may still send it: the receive window js-yamux
 * granted and the remote has not used yet. Undefined for other muxers.
 */
function windowLeft (s: Stream): number | undefined {
  const left = (s as unknown as { recvWindowCapacity?: unknown }).recvWindowCapacity

  return typeof left === 'number' ? left : undefined
}

/**
 * Bytes the node holds unread in its inbound streams: those negotiated for
 * PROTOCOL (`queued`: the accept has them, queued or yielded), and those
 * whose protocol is not settled yet (`before`: libp2p holds them before the
 * accept sees them)
 */
function heldBytes (node: Node, except?: Stream): { queued: number, before: number } {
  const held = { queued: 0, before: 0 }

  for (const s of node.getConnections().flatMap(c => c.streams)) {
    if (s.direction !== 'inbound' || s === except) {
      continue
    }

    if (s.protocol === PROTOCOL) {
      held.queued += s.readBufferLength
    } else if (s.protocol == null || s.protocol === '') {
      held.before += s.readBufferLength
    }
  }

  return held
}

/** A stream whose remote sends `total` bytes as fast as it can, yielded from lane `fresh` of a new `accept` */
interface FastStream {
  incoming: IncomingStreams
  item: IncomingStream
  opener: Control
  /** The sender's outcome: undefined, or the error it failed with */
  sending: Promise<Error | undefined>
  checker: Checker
  /** The error the stream closed with at the acceptor, if it did */
  closeError(): Error | undefined
}

async function acceptFastSender (listener: Node, dialer: Node, total: number, options: AcceptOptions): Promise<FastStream> {
  const incoming = listener.services.stream.newControl().accept(PROTOCOL, options)
  const opener = dialer.services.stream.newControl()
  const s = await opener.openStream(listener.peerId, PROTOCOL)
  const sending = sendFast(s, total).then(() => undefined, (err: Error) => err)
  const { value: item } = await nextWithin(incoming.lane('fresh'))

  if (item == null) {
    throw new Error('no stream')
  }

  let closeError: Error | undefined
  item.stream.addEventListener('close', (evt) => { closeError = evt.error })

  return { incoming, item, opener, sending, checker: new Checker(item.stream), closeError: () => closeError }
}

/** What the remote may still send: what the node may have to hold for the stream once it is paused */
function granted (s: Stream): number {
  return s.readBufferLength + (windowLeft(s) ?? 0)
}

describe('fault: a stream moved after the application read from it', function () {
  this.timeout(60_000)

  let listener: Node
  let dialer: Node

  pairPerTest('tcp', pair => { ({ listener, dialer } = pair) })

  it('with maxQueuedBytes 32 MiB, a fast sender loses nothing when the application reads 24 MiB, moves the stream and reads the rest 300 ms later', async () => {
    const total = 48 * MiB
    const before = 24 * MiB
    const budget = 32 * MiB
    const { incoming, item, sending, checker, closeError } = await acceptFastSender(listener, dialer, total, {
      maxQueuedBytes: budget,
      lanes: {
        fresh: { backlog: 4 },
        later: { backlog: 4, match: () => false }
      }
    })

    // the application reads, and yamux grows the window as the bytes arrive
    await checker.readUntil(before)
    // reserved at the move
    const reserved = granted(item.stream)
    incoming.move(item, 'later')
    let peakHeld = item.stream.readBufferLength
    let peakQueued = 0
    const sample = setInterval(() => {
      peakHeld = Math.max(peakHeld, item.stream.readBufferLength)
      peakQueued = Math.max(peakQueued, incoming.stats().queuedBytes)
    }, 2)

    await new Promise(resolve => setTimeout(resolve, 300))
    clearInterval(sample)
    peakHeld = Math.max(peakHeld, item.stream.readBufferLength)
    const readAtMove = checker.received
    let failure: Error | undefined

    try {
      const again = await nextWithin(incoming.lane('later'), 2_000)
      expect(again.value?.stream).to.equal(item.stream)
      await checker.readUntil(Infinity)
    } catch (err: any) {
      failure = err
    }

    const sent = await sending
    const stats = incoming.stats()
    // eslint-disable-next-line no-console
    console.log('      granted at move %s KiB, held at peak while moved %s KiB (queuedBytes %s KiB), read %s MiB before the move and %s MiB in all',
      (reserved / 1024).toFixed(0), (peakHeld / 1024).toFixed(0), (peakQueued / 1024).toFixed(0),
      (readAtMove / MiB).toFixed(1), (checker.received / MiB).toFixed(1))

    expect(closeError()?.message).to.equal(undefined)
    expect(failure?.message).to.equal(undefined)
    expect(sent).to.equal(undefined)
    expect(checker.firstWrong).to.equal(-1)
    expect(checker.received).to.equal(total)
    expect(checker.ended).to.equal(true)
    expect(item.stream.status).to.not.equal('reset')
    expect(item.stream.status).to.not.equal('aborted')
    // the node held no more than the remote had been granted, within the budget, and yamux grants at most 16 MiB
    expect(peakHeld).to.be.at.most(reserved)
    expect(peakQueued).to.be.at.most(budget)
    // the window of a stream handed out is kept within libp2p's 4 MiB read
    // buffer limit (js-yamux alone grows it to 16 MiB); the buffered part is under that limit too
    expect(reserved).to.be.at.most(4 * MiB + 4 * MiB)
    expect(stats.dropped).to.equal(0)
    expect(stats.moved).to.equal(1)
    incoming.close()
  })
  it('with a maxQueuedBytes (2 MiB) smaller than the window, the same move() is refused (bytes-limit) and leaves the stream to its reader, which reads every byte in order', async () => {
    const total = 48 * MiB
    const before = 24 * MiB
    const { incoming, item, sending, checker, closeError } = await acceptFastSender(listener, dialer, total, {
      maxQueuedBytes: 2 * MiB,
      lanes: {
        fresh: { backlog: 4 },
        later: { backlog: 4, match: () => false }
      }
    })

    await checker.readUntil(before)
    const wanted = granted(item.stream)
    let refused: unknown

    try {
      incoming.move(item, 'later')
    } catch (err) {
      refused = err
    }

    // eslint-disable-next-line no-console
    console.log('      move refused: %s', (refused as Error)?.message)
    expect(refused).to.be.an.instanceOf(MoveRejectedError)
    expect((refused as MoveRejectedError).reason).to.equal('bytes-limit')
    expect((refused as Error).message).to.include(`${2 * MiB}`).and.to.include('maxQueuedBytes')

    // left as it was: open, not paused, in no lane, still read by its reader
    expect(wanted).to.be.greaterThan(2 * MiB)
    expect(item.stream.status).to.equal('open')
    expect(item.stream.readStatus).to.equal('readable')
    let stats = incoming.stats()
    expect([stats.queued, stats.moved, stats.queuedBytes, stats.dropped]).to.deep.equal([0, 0, 0, 0])

    await checker.readUntil(Infinity)
    stats = incoming.stats()
    // eslint-disable-next-line no-console
    console.log('      granted at the refused move %s KiB; read %s MiB before it and %s MiB in all',
      (wanted / 1024).toFixed(0), (before / MiB).toFixed(1), (checker.received / MiB).toFixed(1))

    expect(closeError()?.message).to.equal(undefined)
    expect(await sending).to.equal(undefined)
    expect(checker.firstWrong).to.equal(-1)
    expect(checker.received).to.equal(total)
    expect(checker.ended).to.equal(true)
    expect([stats.moved, stats.dropped]).to.deep.equal([0, 0])
    incoming.close()
  })
  it('a moved stream whose remote resets it while it waits leaves its lane and counts in movedGone, not in gone', async () => {
    const { incoming, item, sending } = await acceptFastSender(listener, dialer, 64 * 1024, {
      lanes: {
        fresh: { backlog: 4 },
        later: { backlog: 4, match: () => false }
      }
    })
    expect(await sending).to.equal(undefined)

    incoming.move(item, 'later')
    expect(incoming.stats().requeued).to.equal(1)

    const [opened] = dialer.getConnections(listener.peerId).flatMap(c => c.streams).filter(s => s.protocol === PROTOCOL)
    opened.abort(new Error('the remote gives up'))

    await eventually(() => incoming.stats().requeued === 0, 'the moved stream left its lane')
    const stats = incoming.stats()
    expect(stats.movedGone).to.equal(1)
    expect([stats.gone, stats.dropped, stats.accepted, stats.arrived]).to.deep.equal([0, 0, 1, 1])
    expect(incoming.queued).to.equal(0)
    incoming.close()
  })

  it('a stream moved again while it waits, to a lane whose reader is waiting, reaches that reader resumed and delivers everything', async () => {
    const total = MiB
    const { incoming, item, sending, checker } = await acceptFastSender(listener, dialer, total, {
      lanes: {
        fresh: { backlog: 4 },
        held: { backlog: 4, match: () => false },
        served: { backlog: 4, match: () => false }
      }
    })

    // paused in `held`, then moved on before it was yielded, straight to a waiting reader
    incoming.move(item, 'held')
    await new Promise(resolve => setTimeout(resolve, 100))
    const waiting = nextWithin(incoming.lane('served'))
    incoming.move(item, 'served')
    const { value: served } = await waiting

    expect(served?.stream).to.equal(item.stream)
    expect(item.stream.readStatus).to.not.equal('paused')

    const timeout = AbortSignal.timeout(5_000)
    await Promise.race([
      checker.readUntil(Infinity),
      new Promise((resolve, reject) => timeout.addEventListener('abort', () => {
        reject(new Error(`read ${checker.received} of ${total} bytes in 5 s, read status ${item.stream.readStatus}`))
      }))
    ])

    expect(await sending).to.equal(undefined)
    expect(checker.firstWrong).to.equal(-1)
    expect(checker.received).to.equal(total)
    expect(incoming.stats().moved).to.equal(2)
    incoming.close()
  })
  it('fresh streams flooding in while a moved stream holds its reservation are the ones reset: the accept\'s streams hold at most maxQueuedBytes, and the moved stream delivers everything', async () => {
    const total = 40 * MiB
    const budget = 24 * MiB
    const { incoming, item, opener, sending, checker, closeError } = await acceptFastSender(listener, dialer, total, {
      maxQueuedBytes: budget,
      maxInboundStreams: 256,
      lanes: {
        fresh: { backlog: 128 },
        later: { backlog: 4, match: () => false }
      }
    })

    await checker.readUntil(16 * MiB)
    const reserved = granted(item.stream)
    incoming.move(item, 'later')

    // 96 streams from the same peer, each writing 1 MiB: 256 KiB each reaches the node while they wait,
    // 24 MiB in all, beyond what the reservation leaves of the budget
    let peak = 0
    let peakBefore = 0
    let peakQueuedBytes = 0
    const sample = (): void => {
      const held = heldBytes(listener)
      peak = Math.max(peak, held.queued)
      peakBefore = Math.max(peakBefore, held.before)
      peakQueuedBytes = Math.max(peakQueuedBytes, incoming.stats().queuedBytes)
    }
    const sampling = setInterval(sample, 2)
    const payload = chunkAt(0, MiB)
    const target = listener.peerId
    let next = 0
    let reset = 0

    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < 96) {
        next++
        const opened = await openOrDropped(async () => opener.openStream(target, PROTOCOL))

        if (opened instanceof Error) {
          reset++
        } else if (opened.status === 'open') {
          try {
            opened.send(payload)
          } catch {
            // the listener may reset it at any moment: then the write fails, as it should
          }
        }
      }
    }))
    await new Promise(resolve => setTimeout(resolve, 500))
    clearInterval(sampling)
    sample()
    const stats = incoming.stats()
    const movedHeld = item.stream.readBufferLength
    // eslint-disable-next-line no-console
    console.log('      reserved at move %s KiB, moved stream holds %s KiB; the accept\'s streams held at peak %s KiB (queuedBytes peak %s KiB) of a %s KiB budget, unnegotiated streams at peak %s KiB; bytes-limit drops %d, opens reset %d',
      (reserved / 1024).toFixed(0), (movedHeld / 1024).toFixed(0), (peak / 1024).toFixed(0), (peakQueuedBytes / 1024).toFixed(0),
      (budget / 1024).toFixed(0), (peakBefore / 1024).toFixed(0), stats.dropReasons['bytes-limit'], reset)

    // the moved stream keeps its reservation; the fresh ones share what is left, and are what gets reset
    expect(closeError()?.message).to.equal(undefined)
    expect(item.stream.status).to.equal('open')
    expect(stats.lanes.later.queued).to.equal(1)
    expect(stats.dropReasons['bytes-limit']).to.be.greaterThan(0)
    expect(stats.dropped).to.equal(stats.lanes.fresh.dropped)
    expect(movedHeld).to.be.at.most(reserved)
    expect(peakQueuedBytes).to.be.at.most(budget)
    expect(peak).to.be.at.most(budget)

    const { value: again } = await nextWithin(incoming.lane('later'))
    expect(again?.stream).to.equal(item.stream)
    await checker.readUntil(Infinity)

    expect(closeError()?.message).to.equal(undefined)
    expect(await sending).to.equal(undefined)
    expect(checker.firstWrong).to.equal(-1)
    expect(checker.received).to.equal(total)
    incoming.close()
  })
})
