import { compactWhilePaused, stopCompacting } from '../libp2p-fixes/index.ts'
import type { LaneEntry } from './lane.ts'
import type { ReadBufferCompactor } from '../libp2p-fixes/index.ts'
import type { IncomingStream } from '../types/incoming.ts'
import type { Stream, StreamCloseEvent } from '@libp2p/interface'

/** The queued streams, by stream, for the close listener they share */
const queued = new WeakMap<object, QueuedStream>()

const ONCE = { once: true }

/** Every queued stream's `close` listener: one function for all */
function onQueuedClose (evt: StreamCloseEvent): void {
  const entry = evt.target == null ? undefined : queued.get(evt.target)

  if (entry != null && entry.item.stream === evt.target) {
    entry.closed(evt)
  }
}

/**
 * A stream waiting in a lane, watched while it waits: it is paused so its
 * remote gets no window beyond what the muxer already granted, the bytes it
 * receives are reported, and its closing takes it out of the queue.
 *
 * A moved stream was read by the application first, and the muxer grew its
 * window as the bytes came (js-yamux: up to 16 MiB), so its remote may still
 * send that much after the pause. The acceptor reserves that much of
 * `maxQueuedBytes` for it when it is moved (`reserved`, see
 * `receivable`), or refuses the move: the bytes that arrive use the
 * reservation up, and only bytes beyond it add to what the stream is charged
 * (`charge`). Its read buffer limit is raised to the reservation while it
 * waits (libp2p would otherwise reset it at 4 MiB) and put back when it
 * leaves the queue.
 *
 * Nothing is assigned to the stream itself: what it receives is copied into
 * blocks of its own and counted as each chunk arrives (`compactWhilePaused`),
 * and its closing is heard by one listener shared by all queued streams.
 */
export class QueuedStream implements LaneEntry<IncomingStream> {
  readonly item: IncomingStream
  readonly peer: string
  readonly group: string
  /** When it was queued, for `maxQueueAge` */
  readonly since: number
  /** It was yielded before and handed back with `move()` */
  readonly moved: boolean
  /** Bytes it buffers that arrived from its remote */
  bytes = 0
  /** Memory those bytes hold, copied into blocks of its own (see `compactWhilePaused`) */
  held = 0
  /** Bytes of `maxQueuedBytes` reserved for it while it waits: what a moved stream may receive once paused; 0 for a new stream */
  readonly reserved: number
  /** Its read buffer limit before it was raised to `reserved`, if it was */
  private readonly bufferLimit?: number
  private compactor?: ReadBufferCompactor
  private readonly onBytes: (entry: QueuedStream, delta: number, chargeDelta: number) => void
  private readonly onClose: (entry: QueuedStream, evt: StreamCloseEvent) => void

  /**
   * @param item - the stream and where it came from
   * @param group - the network group of its connection
   * @param moved - it was yielded before and handed back with `move()`
   * @param reserved - bytes of `maxQueuedBytes` set aside for it (see `receivable`); 0 for a new stream
   * @param onBytes - told each change of `bytes` and of `charge`
   * @param onClose - told when the stream closes while queued
   */
  constructor (item: IncomingStream, group: string, moved: boolean, reserved: number, onBytes: (entry: QueuedStream, delta: number, chargeDelta: number) => void, onClose: (entry: QueuedStream, evt: StreamCloseEvent) => void) {
    this.item = item
    this.peer = item.peer.toString()
    this.group = group
    this.since = Date.now()
    this.moved = moved
    this.onBytes = onBytes
    this.onClose = onClose

    const { stream } = item

    if (stream.readStatus === 'readable') {
      stream.pause()
    }

    this.reserved = reserved

    // bytes within the reservation must not make libp2p reset the stream
    if (reserved > stream.maxReadBufferLength) {
      this.bufferLimit = stream.maxReadBufferLength
      stream.maxReadBufferLength = reserved
    }

    stream.addEventListener('close', onQueuedClose, ONCE)
    this.countBytes(stream)
  }

  /**
   * Stops watching the stream: it leaves the queue to be yielded (then it is
   * resumed, and reads from where it paused) or reset.
   */
  release (resume: boolean): Stream {
    const { stream } = this.item

    stream.removeEventListener('close', onQueuedClose)

    if (queued.get(stream) === this) {
      queued.delete(stream)
      stopCompacting(stream)
    }

    if (resume && stream.readStatus === 'paused') {
      stream.resume()
    }

    if (this.bufferLimit != null) {
      // what resuming did not hand to a reader stays buffered until one comes
      stream.maxReadBufferLength = Math.max(this.bufferLimit, stream.readBufferLength)
    }

    return stream
  }

  /** What its bytes count for against `maxQueuedBytes`: its reservation, or the memory they hold once that is more */
  get charge (): number {
    return Math.max(this.held, this.reserved)
  }

  /** Memory its bytes hold beyond its reservation: what evicting it is judged by (all of it, for a new stream) */
  get excess (): number {
    return Math.max(0, this.held - this.reserved)
  }

  /** The stream closed while queued */
  closed (evt: StreamCloseEvent): void {
    this.onClose(this, evt)
  }

  /** Reports a change in the bytes the stream holds, and in the memory they hold */
  report (): void {
    const { stream } = this.item
    const held = this.compactor?.held ?? stream.readBufferLength
    const delta = stream.readBufferLength - this.bytes

    if (delta !== 0 || held !== this.held) {
      const charge = this.charge
      this.bytes += delta
      this.held = held
      this.onBytes(this, delta, this.charge - charge)
    }
  }

  /** Reports the bytes already buffered, then those of each chunk the muxer delivers */
  private countBytes (stream: Stream): void {
    queued.set(stream, this)
    this.compactor = compactWhilePaused(stream, () => { this.report() })
    this.report()
  }
}
