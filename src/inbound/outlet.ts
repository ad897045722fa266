import { Readers } from './readers.ts'
import type { Lane } from './lane.ts'
import type { Lanes } from './lanes.ts'
import type { Ledger } from './ledger.ts'
import type { QueuedStream } from './queued-stream.ts'
import type { WaitingStreams } from './waiting-streams.ts'
import type { IncomingStream } from '../types/incoming.ts'
import type { AbortOptions } from '@libp2p/interface'

/** What an ended iteration gives */
export const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

type Result = IteratorResult<IncomingStream, undefined>

/**
 * Where the streams of one `accept` leave for the application: the readers
 * of the whole handle and of each lane, each served in turn, from the queue
 * (lanes picked by the schedule) or straight from an arrival or a move.
 * Each stream is counted as accepted the first time it is yielded.
 */
export class Outlet {
  /** Readers of the whole handle; each lane holds its own */
  private readonly readers = new Readers<IncomingStream>()
  private readonly lanes: Lanes
  private readonly waiting: WaitingStreams
  private readonly ledger: Ledger
  private ended = false

  constructor (lanes: Lanes, waiting: WaitingStreams, ledger: Ledger) {
    this.lanes = lanes
    this.waiting = waiting
    this.ledger = ledger
  }

  /** Whether a reader waits for a stream of `lane` */
  waits (lane: Lane<IncomingStream>): boolean {
    return lane.readers.size > 0 || this.readers.size > 0
  }

  /** Hands `item` to a reader waiting for `lane` (its own first); false when none waits */
  deliver (lane: Lane<IncomingStream>, item: IncomingStream, moved: boolean): boolean {
    const reader = lane.readers.take() ?? this.readers.take()

    if (reader == null) {
      return false
    }

    reader(this.yield(lane, item, moved))
    return true
  }

  /**
   * The next stream from any lane, waiting for one if none is queued; done
   * once ended. An aborted `signal` gives up the wait without taking one.
   */
  next (options?: AbortOptions): Promise<Result> {
    const lane = this.lanes.pick()

    if (lane != null) {
      return this.shifted(lane)
    }

    // not async: a promise layer per accept that raw js-libp2p does not pay
    return this.ended ? Promise.resolve(DONE) : this.readers.wait(options?.signal)
  }

  /** The same as `next`, from one lane alone */
  nextFrom (lane: Lane<IncomingStream>, options?: AbortOptions): Promise<Result> {
    if (lane.size > 0) {
      return this.shifted(lane)
    }

    return this.ended ? Promise.resolve(DONE) : lane.readers.wait(options?.signal)
  }

  /** Ends every iteration: waiting readers, and those to come, are done */
  end (): void {
    this.ended = true

    for (const reader of [...this.readers.takeAll(), ...this.lanes.all.flatMap(lane => lane.readers.takeAll())]) {
      reader(DONE)
    }
  }

  /** The first stream of `lane`, yielded; a failure to take it rejects instead of throwing */
  private shifted (lane: Lane<IncomingStream>): Promise<Result> {
    try {
      const entry = lane.next() as QueuedStream

      return Promise.resolve(this.yield(lane, this.waiting.remove({ entry, lane }, true), entry.moved))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private yield (lane: Lane<IncomingStream>, item: IncomingStream, moved: boolean): IteratorYieldResult<IncomingStream> {
    // a moved stream was counted when it was first yielded
    if (!moved) {
      this.ledger.countAccepted(item.protocol, lane.name)
    }

    return { done: false, value: item }
  }
}
