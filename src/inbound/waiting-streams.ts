import { QUEUED_STREAM_OVERHEAD } from '../constants.ts'
import { MoveRejectedError } from '../errors.ts'
import { receivable } from '../libp2p-fixes/index.ts'
import { Expiry } from './expiry.ts'
import { QueuedStream } from './queued-stream.ts'
import type { Lane } from './lane.ts'
import type { IncomingStream } from '../types/incoming.ts'
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
  /** What each waiting stream is charged for itself, on top of its bytes; {@link QUEUED_STREAM_OVERHEAD} unless given */
  streamOverhead?: number
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
  /**
   * What the waiting streams count for against `maxQueuedBytes`: each the
   * memory it holds for itself (`streamOverhead`) and its `charge`, the
   * memory its bytes hold or, for a moved stream, its reservation while that
   * is less. Never less than `bytes`.
   */
  charged = 0
  private readonly places = new Map<Stream, Place>()
  private readonly limits: WaitingLimits
  private readonly streamOverhead: number
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
    this.streamOverhead = limits.streamOverhead ?? QUEUED_STREAM_OVERHEAD
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
  requeued = 0

  /**
   * What is left of `maxQueuedBytes` for the reservation of one more waiting
   * stream, once it is charged for itself; `stream`, if it waits already,
   * counts as not waiting
   */
  left (stream?: Stream): number {
    const entry = stream == null ? undefined : this.places.get(stream)?.entry
    const own = entry == null ? 0 : this.streamOverhead + entry.charge

    return this.limits.maxQueuedBytes - this.charged + own - this.streamOverhead
  }

  /**
   * What `item` reserves of `maxQueuedBytes` to wait in `lane` once moved
   * there (see `receivable`), or a `MoveRejectedError` when the lane, the
   * peer's share of it or the budget has no room for it (a stream moved
   * within its own lane keeps its slot).
   */
  reserve (lane: Lane<IncomingStream>, item: IncomingStream, previous?: Place): number {
    const peer = item.peer.toString()

    if (previous?.lane !== lane && lane.isFull) {
      throw new MoveRejectedError('lane-full', `Lane ${lane.name} is full (${lane.capacity})`)
    }

    if (previous?.lane !== lane && lane.isPeerOverLimit(peer)) {
      throw new MoveRejectedError('peer-limit', `${peer} already holds ${lane.maxPerPeer} slots of lane ${lane.name}`)
    }

    const reserved = receivable(item.stream)
    const left = this.left(item.stream)

    if (reserved > left) {
      throw new MoveRejectedError('bytes-limit', `Moving the stream to lane ${lane.name} would reserve ${reserved} bytes for what its remote may still send while it waits (buffered and granted receive window), but only ${Math.max(0, left)} of maxQueuedBytes (${this.limits.maxQueuedBytes}) are left; keep reading the stream yourself, or raise maxQueuedBytes`)
    }

    return reserved
  }

  /** Where `stream` waits, if it does */
  get (stream: Stream): Place | undefined {
    return this.places.get(stream)
  }

  /** Every waiting stream, in no particular order */
  all (): Place[] {
    return [...this.places.values()]
  }

  /**
   * Queues a stream in `lane`: first in line when it was moved, else last.
   * `reserved` bytes of `maxQueuedBytes` are set aside for it while it waits
   * (the caller checked they fit, see {@link left}).
   */
  add (lane: Lane<IncomingStream>, item: IncomingStream, group: string, moved: boolean, reserved = 0): void {
    const onBytes = (e: QueuedStream, delta: number, chargeDelta: number): void => {
      this.bytes += delta
      this.charged += chargeDelta

      if (this.places.has(e.item.stream)) {
        this.enforceByteLimit()
      }
    }
    const entry = new QueuedStream(item, group, moved, reserved, onBytes, (e, evt) => {
      const place = this.places.get(e.item.stream)

      if (place != null) {
        this.remove(place, false)
        this.onClose(place, evt)
      }
    })

    // the constructor reported its bytes as a charge on top of this
    this.charged += this.streamOverhead + entry.reserved
    lane.add(entry, moved)
    this.places.set(item.stream, { entry, lane })
    this.requeued += moved ? 1 : 0
    this.expiry.watch(entry.since)
    this.enforceByteLimit()
  }

  /** Takes a stream out of its lane and stops watching it; resumed when it is to be read */
  remove ({ entry, lane }: Place, resume: boolean): IncomingStream {
    lane.remove(entry)
    this.places.delete(entry.item.stream)
    this.requeued -= entry.moved ? 1 : 0
    this.bytes -= entry.bytes
    this.charged -= this.streamOverhead + entry.charge
    entry.release(resume)

    return entry.item
  }

  /** Stops the age timer; the streams stay for the acceptor to drop */
  stop (): void {
    this.expiry.stop()
  }

  /**
   * Keeps what the waiting streams are charged within `maxQueuedBytes` by
   * evicting the stream whose bytes hold the most memory beyond its
   * reservation (or, when none does, the newest new stream). A
   * moved stream is never evicted for bytes within its reservation: the
   * reservations fit in the budget when they were made, so while the total is
   * over, some stream holds bytes beyond its own.
   */
  private enforceByteLimit (): void {
    while (this.charged > this.limits.maxQueuedBytes) {
      let largest: Place | undefined

      for (const place of this.places.values()) {
        if (place.entry.excess > (largest?.entry.excess ?? 0)) {
          largest = place
        }
      }

      // none holds bytes beyond its reservation: the streams themselves are
      // over the budget (a backlog larger than it allows), so the newest new
      // stream goes; moved ones had their reservations admitted within it
      largest ??= this.newest()

      if (largest == null) {
        return
      }

      const { bytes, held } = largest.entry
      this.remove(largest, false)
      this.onEvict(largest, 'bytes-limit', `it held ${held} bytes of memory (${bytes} received) of the ${this.limits.maxQueuedBytes} that queued streams may hold`)
    }
  }

  /** The stream queued last that was not moved */
  private newest (): Place | undefined {
    let found: Place | undefined

    for (const place of this.places.values()) {
      if (!place.entry.moved) {
        found = place
      }
    }

    return found
  }
}
