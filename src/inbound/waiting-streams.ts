import { Expiry } from './expiry.ts'
import { QueuedStream } from './queued-stream.ts'
import type { Lane } from './lane.ts'
import type { IncomingStream } from '../types/index.ts'
import type { Stream, StreamCloseEvent } from '@libp2p/interface'

/** A queued stream and the lane it waits in */
export interface Place {
  entry: QueuedStream
  lane: Lane<IncomingStream>
}

/** The limits on what queued streams may hold */
export interface WaitingLimits {
  maxQueuedBytes: number
  maxQueueAge: number
}

/** Why the waiting streams gave up a stream: it waited too long, or held the most of too many bytes */
export type Eviction = 'expired' | 'bytes-limit'

/**
 * Every stream waiting in the lanes of one `accept`, and the limits on what
 * they hold together: their age (one timer, see {@link Expiry}) and their
 * bytes. A stream that breaks a limit, or closes while it waits, is taken out
 * of its lane and handed back to the acceptor to drop or count.
 */
export class WaitingStreams {
  /** Bytes the waiting streams hold */
  bytes = 0
  /** What of `bytes` counts against `maxQueuedBytes`: all but moved streams' granted window */
  private excess = 0
  private readonly places = new Map<Stream, Place>()
  private readonly limits: WaitingLimits
  private readonly expiry: Expiry<Place>
  private readonly onEvict: (place: Place, reason: Eviction, message: string) => void
  private readonly onClose: (place: Place, evt: StreamCloseEvent) => void

  /**
   * @param limits - `maxQueuedBytes` and `maxQueueAge`
   * @param onEvict - told of a stream taken out for breaking a limit, to reset
   * @param onClose - told of a stream taken out because it closed while waiting
   */
  constructor (limits: WaitingLimits, onEvict: (place: Place, reason: Eviction, message: string) => void, onClose: (place: Place, evt: StreamCloseEvent) => void) {
    this.limits = limits
    this.onEvict = onEvict
    this.onClose = onClose
    this.expiry = new Expiry(limits.maxQueueAge, () => this.places.values(), place => {
      this.remove(place, false)
      this.onEvict(place, 'expired', `waited over ${limits.maxQueueAge} ms`)
    })
  }

  /** Streams waiting, moved ones included */
  get size (): number {
    return this.places.size
  }

  /** Streams waiting that had been yielded before and were moved */
  get requeued (): number {
    let count = 0

    for (const { entry } of this.places.values()) {
      count += entry.moved ? 1 : 0
    }

    return count
  }

  /** Where `stream` waits, if it does */
  get (stream: Stream): Place | undefined {
    return this.places.get(stream)
  }

  /** Every waiting stream, in no particular order */
  all (): Place[] {
    return [...this.places.values()]
  }

  /** Queues a stream in `lane`: first in line when it was moved, else last */
  add (lane: Lane<IncomingStream>, item: IncomingStream, group: string, moved: boolean): void {
    const onBytes = (e: QueuedStream, delta: number, excessDelta: number): void => {
      this.bytes += delta
      this.excess += excessDelta

      if (this.places.has(e.item.stream)) {
        this.enforceByteLimit()
      }
    }
    const entry = new QueuedStream(item, group, moved, onBytes, (e, evt) => {
      const place = this.places.get(e.item.stream)

      if (place != null) {
        this.remove(place, false)
        this.onClose(place, evt)
      }
    })

    lane.add(entry, moved)
    this.places.set(item.stream, { entry, lane })
    this.expiry.watch(entry.since)
    this.enforceByteLimit()
  }

  /** Takes a stream out of its lane and stops watching it; resumed when it is to be read */
  remove ({ entry, lane }: Place, resume: boolean): IncomingStream {
    lane.remove(entry)
    this.places.delete(entry.item.stream)
    this.bytes -= entry.bytes
    this.excess -= entry.excess
    entry.release(resume)

    return entry.item
  }

  /** Stops the age timer; the streams stay for the acceptor to drop */
  stop (): void {
    this.expiry.stop()
  }

  /**
   * Keeps the bytes of all waiting streams within `maxQueuedBytes` by evicting
   * the largest holders. A moved stream's granted window is not counted: the
   * application let its remote send that much, and resetting the stream for it
   * would punish an honest sender (see {@link QueuedStream}).
   */
  private enforceByteLimit (): void {
    while (this.excess > this.limits.maxQueuedBytes && this.places.size > 0) {
      let largest: Place | undefined

      for (const place of this.places.values()) {
        if (largest == null || place.entry.excess > largest.entry.excess) {
          largest = place
        }
      }

      const place = largest as Place
      const held = place.entry.bytes
      this.remove(place, false)
      this.onEvict(place, 'bytes-limit', `it held ${held} of the ${this.limits.maxQueuedBytes} bytes queued streams may hold`)
    }
  }
}
