import { DONE } from './backlog.ts'
import type { Backlog, IncomingStats } from './backlog.ts'
import type { Lane } from './lane.ts'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

/**
 * One accepted inbound stream, as yielded by {@link IncomingStreams}.
 */
export interface IncomingStream {
  /** The stream, already negotiated. The application owns it and must close or abort it. */
  stream: Stream
  /** The connection it arrived on */
  connection: Connection
  /** The remote peer that opened it */
  peer: PeerId
  /** The negotiated protocol: one of those passed to `accept` */
  protocol: string
  /** The lane it was queued in (`default` when `accept` has no lanes) */
  lane: string
}

/**
 * The inbound streams of one `accept` call, polled lazily.
 *
 * Streams that arrive while the application is not waiting for one wait in a
 * FIFO backlog of `backlog` entries. When the backlog is full, further streams
 * are **reset** at once, so their openers see an error instead of a hang, and
 * counted in `dropped`. A queued stream whose remote resets it, or whose
 * connection closes, leaves the backlog at once and is never yielded. A queued
 * stream loses nothing: bytes and the half-close its remote sent while it
 * waited are all seen by whoever reads it later.
 *
 * Ending the handle - `close()`, `break`/`return`/`throw` out of `for await`,
 * the `signal` given to `accept`, `await using`, the node stopping, or the
 * handle being garbage-collected - deregisters its protocols, so remotes get
 * `UnsupportedProtocolError` and the protocols can be accepted again at once;
 * streams still queued are reset.
 *
 * Several loops may iterate one handle; each stream goes to exactly one of
 * them, in arrival order.
 */
export interface IncomingStreams extends AsyncIterable<IncomingStream>, AsyncDisposable {
  /** The protocols this handle accepts */
  readonly protocols: readonly string[]
  /** Streams waiting in the backlog now */
  readonly queued: number
  /** Streams handed to the application so far */
  readonly accepted: number
  /** Streams reset without being yielded, for any `DropReason` */
  readonly dropped: number
  /** True once the handle has ended and its protocols are deregistered */
  readonly closed: boolean
  /** Deregisters the protocols, ends every iteration and resets queued streams. Idempotent. */
  close(): void
  /**
   * The streams of one lane alone, polled lazily, for a worker that serves
   * that lane at its own pace. Ending this iteration ends only this reader;
   * the handle stays open.
   *
   * @throws {InvalidParametersError} there is no lane called `name`
   */
  lane(name: string): AsyncIterable<IncomingStream>
  /**
   * Hands an accepted stream to the lane `name`, for example once an
   * application-level handshake has shown who the peer is. The lane yields it
   * next and counts it in `moved`.
   *
   * @throws {MoveRejectedError} the lane is full, the handle closed, or the stream ended; the stream stays with the caller
   * @throws {InvalidParametersError} there is no lane called `name`
   */
  move(item: IncomingStream, name: string): void
  /** Counters for the whole handle and for each lane */
  stats(): IncomingStats
}

/**
 * Closes the backlog of a handle that was garbage-collected while still open,
 * so an abandoned `accept` never keeps its protocols registered.
 */
const abandoned = new FinalizationRegistry<Backlog>(backlog => {
  if (!backlog.closed) {
    backlog.log('IncomingStreams for %s was garbage-collected without close(), deregistering', backlog.protocols)
    backlog.close()
  }
})

/**
 * The public handle over a {@link Backlog}.
 */
class IncomingStreamsHandle implements IncomingStreams {
  readonly #backlog: Backlog

  constructor (backlog: Backlog) {
    this.#backlog = backlog
    abandoned.register(this, backlog, backlog)
  }

  get [Symbol.toStringTag] (): string {
    return 'IncomingStreams'
  }

  get protocols (): readonly string[] {
    return this.#backlog.protocols
  }

  get queued (): number {
    return this.#backlog.queued
  }

  get accepted (): number {
    return this.#backlog.accepted
  }

  get dropped (): number {
    return this.#backlog.dropped
  }

  get closed (): boolean {
    return this.#backlog.closed
  }

  close (): void {
    abandoned.unregister(this.#backlog)
    this.#backlog.close()
  }

  lane (name: string): AsyncIterable<IncomingStream> {
    const lane: Lane = this.#backlog.lane(name)

    return {
      [Symbol.asyncIterator]: () => ({
        // refers to the handle, so a worker in progress keeps it alive
        next: async () => this.#next(lane)
      })
    }
  }

  move (item: IncomingStream, name: string): void {
    this.#backlog.move(item, name)
  }

  stats (): IncomingStats {
    return this.#backlog.stats()
  }

  async #next (lane: Lane): Promise<IteratorResult<IncomingStream, undefined>> {
    return this.#backlog.nextFrom(lane)
  }

  [Symbol.asyncIterator] (): AsyncIterator<IncomingStream, undefined> {
    return {
      // the iterator refers to the handle, so a loop in progress keeps it alive
      next: async () => this.#backlog.next(),
      return: async () => {
        this.close()
        return DONE
      }
    }
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    this.close()
  }
}

export function createIncomingStreams (backlog: Backlog): IncomingStreams {
  return new IncomingStreamsHandle(backlog)
}
