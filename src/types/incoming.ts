/**
 * What `accept` hands out: the streams, the handle over them, and its
 * counters.
 */

import type { DROP_REASONS } from '../reset-codes.ts'
import type { AbortOptions, Connection, PeerId, Stream } from '@libp2p/interface'

/**
 * A lane's counters, from `IncomingStreams.stats()`.
 */
export interface LaneStats {
  /** Its backlog size */
  backlog: number
  /** Streams waiting in it now, moved ones included: the slots in use */
  queued: number
  /** Streams yielded from it */
  accepted: number
  /** Streams reset without being yielded */
  dropped: number
  /** Streams moved into it with `move()` */
  moved: number
  /** Streams that left it unyielded: their remote reset them or their connection closed */
  gone: number
}

/**
 * Why an inbound stream was reset without being yielded: a key of
 * `DROP_REASONS`, which says what each means and the reset code it sends.
 */
export type DropReason = keyof typeof DROP_REASONS

/**
 * Why a stream left without being yielded or dropped, while queued or
 * before it was handled (closed between the negotiation and the handler):
 * - `remote-reset`: its opener reset it (gave up)
 * - `connection-closed`: its connection closed
 * - `error`: it failed for another reason, such as a muxer error
 */
export type GoneReason = 'remote-reset' | 'connection-closed' | 'error'

/**
 * A stream reset without being yielded, as told to `onDrop`.
 */
export interface DroppedStream {
  /** Why it was dropped */
  reason: DropReason
  /** The remote peer that opened it */
  peer: PeerId
  /** The connection it arrived on */
  connection: Connection
  /** Its negotiated protocol */
  protocol: string
  /** The lane it was in, when one had been chosen */
  lane?: string
  /** True when it had been yielded before and handed back with `move()` */
  moved: boolean
}

/**
 * Counters of one `accept`, from `IncomingStreams.stats()`. Every stream that
 * arrives is in exactly one of `accepted`, `dropped`, `gone` and `queued`, so
 * `arrived === accepted + dropped + gone + queued` at all times. Streams
 * handed back with `move()` were accepted already: they are counted in
 * `moved` and `requeued`, and not again in the others.
 */
export interface IncomingStats<L extends string = string> {
  /** Streams that arrived (negotiated the protocol) */
  arrived: number
  /** Streams waiting in all lanes that were never yielded */
  queued: number
  /** Streams yielded so far, each once */
  accepted: number
  /** Streams reset without being yielded */
  dropped: number
  /**
   * Streams that left unyielded without being reset by us: from the queue,
   * or before they reached a lane (closed between the negotiation and the
   * handler, so in no lane's `gone`)
   */
  gone: number
  /** Streams handed back with `move()` that wait to be yielded again */
  requeued: number
  /**
   * Streams handed back with `move()` that left their lane before being
   * yielded again, without being reset by us: their remote reset them or
   * their connection closed. Not in `gone`, as they were accepted already.
   */
  movedGone: number
  /** Successful `move()` calls */
  moved: number
  /** Bytes the queued streams buffer, received from their remotes */
  queuedBytes: number
  /**
   * What the queued streams are charged against `maxQueuedBytes`: the memory
   * their bytes hold (copied into blocks of their own, so a remote's framing
   * cannot make them hold more), a moved stream's reservation where that is
   * more, and the memory each stream holds for itself
   * (`QUEUED_STREAM_OVERHEAD`). Never more than `maxQueuedBytes`.
   */
  heldBytes: number
  /** `dropped`, by reason */
  dropReasons: Record<DropReason, number>
  /** `gone`, by reason */
  goneReasons: Record<GoneReason, number>
  /** Lane by lane */
  lanes: Record<L, LaneStats>
}

/**
 * One accepted inbound stream, as yielded by {@link IncomingStreams}; `L` is
 * the names of its `accept`'s lanes.
 */
export interface IncomingStream<L extends string = string> {
  /** The stream, already negotiated. The application owns it and must close or abort it. */
  stream: Stream
  /** The connection it arrived on */
  connection: Connection
  /** The remote peer that opened it */
  peer: PeerId
  /** The negotiated protocol: one of those passed to `accept` */
  protocol: string
  /** The lane it was queued in (`default` when `accept` has no lanes) */
  lane: L
  /**
   * The application's own, for it to set: for example the decoder that read
   * a handshake and may hold the bytes that followed it. `move()` keeps it.
   */
  context?: unknown
}

/**
 * The inbound streams of one `accept` call, polled lazily.
 *
 * Streams that arrive while the application is not waiting for one wait in a
 * backlog of `backlog` entries (per lane), served network group by network
 * group in turn, each group's oldest first, moved streams before all. When the backlog is full, further streams
 * are **reset** at once, so their openers see an error instead of a hang, and
 * counted in `dropped`. A queued stream whose remote resets it, or whose
 * connection closes, leaves the backlog at once and is never yielded. A queued
 * stream loses nothing: bytes and the half-close its remote sent while it
 * waited are all seen by whoever reads it later. While it waits it is paused,
 * so its remote can send no more than its muxer's window; the queue as a
 * whole holds at most `maxQueuedBytes` and no stream waits longer than
 * `maxQueueAge`.
 *
 * Ending the handle - `close()`, `break`/`return`/`throw` out of `for await`,
 * the `signal` given to `accept`, `await using`, the node stopping, or the
 * handle being garbage-collected - deregisters its protocols, so remotes get
 * `UnsupportedProtocolError` and the protocols can be accepted again at once;
 * streams still queued are reset.
 *
 * Several loops may iterate one handle; each stream goes to exactly one of
 * them, the longest-waiting first.
 */
export interface IncomingStreams<L extends string = string> extends AsyncIterable<IncomingStream<L>>, AsyncDisposable {
  /** The protocols this handle accepts */
  readonly protocols: readonly string[]
  /** `stats().queued`: streams waiting that were never yielded (moved ones waiting are `stats().requeued`) */
  readonly queued: number
  /** `stats().accepted`: streams handed to the application so far */
  readonly accepted: number
  /** `stats().dropped`: streams reset without being yielded, for any `DropReason` */
  readonly dropped: number
  /** True once the handle has ended and its protocols are deregistered (a state, not a counter) */
  readonly closed: boolean
  /** Deregisters the protocols, ends every iteration and resets queued streams. Idempotent. */
  close(): void
  /**
   * The next stream, like one step of `for await`, but giving up when
   * `options.signal` aborts: then it rejects with the signal's reason and
   * takes no stream. Use this rather than racing a bare `next()` against a
   * timeout, which takes the stream that arrives after the caller gave up.
   */
  next(options?: AbortOptions): Promise<IteratorResult<IncomingStream<L>, undefined>>
  /**
   * The streams of one lane alone, polled lazily, for a worker that serves
   * that lane at its own pace. Ending this iteration ends only this reader;
   * the handle stays open.
   *
   * @throws {InvalidParametersError} there is no lane called `name`
   */
  lane(name: L): AsyncIterable<IncomingStream<L>>
  /**
   * Hands an accepted stream to the lane `name`, for example once an
   * application-level handshake has shown who the peer is. The lane yields it
   * next and counts it in `moved`. A stream moved again before it was yielded
   * leaves its former lane.
   *
   * A stream that waits in the lane (no reader is waiting for it) is paused,
   * and what its remote may still send it meanwhile (the bytes it buffers and
   * the receive window granted while the application read it, up to 16 MiB
   * on yamux) is reserved in `maxQueuedBytes` until it is yielded again.
   *
   * @throws {MoveRejectedError} the lane is full, the peer holds `maxPerPeer` of it, the handle closed, the stream ended, or its reservation does not fit in what is left of `maxQueuedBytes` (`bytes-limit`); the stream stays where it was, and the caller may keep reading it
   * @throws {InvalidParametersError} there is no lane called `name`
   */
  move(item: IncomingStream, name: L): void
  /** Counters for the whole handle and for each lane */
  stats(): IncomingStats<L>
}
