import { DONE } from './backlog.ts'
import type { Backlog } from './backlog.ts'
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
  /** Streams reset without being yielded: the backlog was full, or they were queued when the handle closed */
  readonly dropped: number
  /** True once the handle has ended and its protocols are deregistered */
  readonly closed: boolean
  /** Deregisters the protocols, ends every iteration and resets queued streams. Idempotent. */
  close(): void
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
