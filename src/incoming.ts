import { BacklogFullError, IncomingClosedError } from './errors.ts'
import { seeEndWhenReadLate } from './late-reader.ts'
import type { Connection, Logger, PeerId, Stream } from '@libp2p/interface'

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

export interface BacklogInit {
  protocols: string[]
  backlog: number
  log: Logger
  /** Called once, when the backlog closes, to deregister its protocols */
  onClose(backlog: Backlog): void
  onAccepted(protocol: string): void
  onDropped(protocol: string, reason: 'backlog-full' | 'closed'): void
}

interface Queued {
  item: IncomingStream
  onStreamClose(): void
}

type Waiter = (result: IteratorResult<IncomingStream, undefined>) => void

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/**
 * The state behind an {@link IncomingStreams}: the queue, the readers waiting
 * for a stream and the counters. The registrar holds it through `handle`; it
 * never refers to the public handle, so that handle can be garbage-collected.
 */
export class Backlog {
  readonly protocols: string[]
  readonly log: Logger
  accepted = 0
  dropped = 0
  closed = false
  private readonly capacity: number
  private readonly queue: Queued[] = []
  private readonly waiters: Waiter[] = []
  private readonly init: BacklogInit

  constructor (init: BacklogInit) {
    this.init = init
    this.protocols = init.protocols
    this.log = init.log
    this.capacity = init.backlog
  }

  get queued (): number {
    return this.queue.length
  }

  /**
   * The registrar's handler: hands the stream to a waiting reader, queues it,
   * or resets it when the backlog is full. Returns at once.
   */
  readonly handle = (stream: Stream, connection: Connection): void => {
    if (this.closed) {
      // negotiation began before the protocol was deregistered
      stream.abort(new IncomingClosedError())
      return
    }

    const item: IncomingStream = { stream, connection, peer: connection.remotePeer, protocol: stream.protocol }
    const waiter = this.waiters.shift()

    if (waiter != null) {
      this.deliver(item, waiter)
      return
    }

    if (this.queue.length >= this.capacity) {
      this.dropped++
      this.log('backlog of %d full for %s, resetting stream from %p', this.capacity, stream.protocol, connection.remotePeer)
      this.init.onDropped(stream.protocol, 'backlog-full')
      stream.abort(new BacklogFullError(`The accept backlog of ${this.capacity} for ${stream.protocol} is full`))
      return
    }

    seeEndWhenReadLate(stream)

    const entry: Queued = {
      item,
      onStreamClose: () => {
        const index = this.queue.indexOf(entry)

        if (index !== -1) {
          this.queue.splice(index, 1)
          stream.log('left the backlog before being accepted: %s', stream.status)
        }
      }
    }

    stream.addEventListener('close', entry.onStreamClose, { once: true })
    this.queue.push(entry)
  }

  /**
   * The next stream, waiting for one if none is queued; done once closed.
   */
  async next (): Promise<IteratorResult<IncomingStream, undefined>> {
    const entry = this.queue.shift()

    if (entry != null) {
      entry.item.stream.removeEventListener('close', entry.onStreamClose)

      return this.accept(entry.item)
    }

    if (this.closed) {
      return DONE
    }

    return new Promise(resolve => {
      this.waiters.push(resolve)
    })
  }

  /**
   * Ends every iteration, resets queued streams and deregisters. Idempotent.
   */
  close (): void {
    if (this.closed) {
      return
    }

    this.closed = true
    this.init.onClose(this)

    for (const waiter of this.waiters.splice(0)) {
      waiter(DONE)
    }

    for (const { item, onStreamClose } of this.queue.splice(0)) {
      item.stream.removeEventListener('close', onStreamClose)
      this.dropped++
      this.init.onDropped(item.protocol, 'closed')
      item.stream.abort(new IncomingClosedError())
    }
  }

  private deliver (item: IncomingStream, waiter: Waiter): void {
    seeEndWhenReadLate(item.stream)
    waiter(this.accept(item))
  }

  private accept (item: IncomingStream): IteratorYieldResult<IncomingStream> {
    this.accepted++
    this.init.onAccepted(item.protocol)

    return { done: false, value: item }
  }
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
