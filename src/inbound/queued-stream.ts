import type { LaneEntry } from './lane.ts'
import type { IncomingStream } from '../types/index.ts'
import type { Stream, StreamCloseEvent } from '@libp2p/interface'

interface DataSink {
  onData?(data: unknown): void
}

/**
 * A stream waiting in a lane, watched while it waits: it is paused so its
 * remote gets no window beyond what the muxer already granted, the bytes it
 * receives are reported, and its closing takes it out of the queue.
 */
export class QueuedStream implements LaneEntry<IncomingStream> {
  readonly item: IncomingStream
  readonly peer: string
  readonly group: string
  /** When it was queued, for `maxQueueAge` */
  readonly since: number
  /** It was yielded before and handed back with `move()` */
  readonly moved: boolean
  /** Bytes it holds that arrived from its remote */
  bytes = 0
  private readonly onClose: (evt: StreamCloseEvent) => void
  /** The stream's own `onData`, when it had one rather than its prototype's */
  private ownOnData?: DataSink['onData']

  /**
   * @param item - the stream and where it came from
   * @param group - the network group of its connection
   * @param moved - it was yielded before and handed back with `move()`
   * @param onBytes - told each change of `bytes`
   * @param onClose - told when the stream closes while queued
   */
  constructor (item: IncomingStream, group: string, moved: boolean, onBytes: (entry: QueuedStream, delta: number) => void, onClose: (entry: QueuedStream, evt: StreamCloseEvent) => void) {
    this.item = item
    this.peer = item.peer.toString()
    this.group = group
    this.since = Date.now()
    this.moved = moved
    this.onClose = evt => { onClose(this, evt) }

    const { stream } = item

    if (stream.readStatus === 'readable') {
      stream.pause()
    }

    stream.addEventListener('close', this.onClose, { once: true })
    this.countBytes(stream, onBytes)
  }

  /**
   * Stops watching the stream: it leaves the queue to be yielded (then it is
   * resumed, and reads from where it paused) or reset.
   */
  release (resume: boolean): Stream {
    const { stream } = this.item

    stream.removeEventListener('close', this.onClose)

    if (this.ownOnData != null) {
      (stream as DataSink).onData = this.ownOnData
    } else {
      delete (stream as DataSink).onData
    }

    if (resume && stream.readStatus === 'paused') {
      stream.resume()
    }

    return stream
  }

  /**
   * Reports the bytes already buffered, then each chunk the muxer delivers.
   * libp2p's message streams take every received chunk through `onData`;
   * a stream without one is counted once, when queued.
   */
  private countBytes (stream: Stream, onBytes: (entry: QueuedStream, delta: number) => void): void {
    const report = (): void => {
      const now = stream.readBufferLength
      const delta = now - this.bytes

      if (delta !== 0) {
        this.bytes = now
        onBytes(this, delta)
      }
    }
    const sink = stream as DataSink
    const onData = sink.onData

    if (Object.hasOwn(sink, 'onData')) {
      this.ownOnData = onData
    }

    report()

    if (typeof onData === 'function') {
      sink.onData = function (this: DataSink, data: unknown): void {
        onData.call(this, data)
        report()
      }
    }
  }
}
