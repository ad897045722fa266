/**
 * Every public type of the package: the service's components and options, the
 * items and handle `accept` returns, and their counters.
 */

import type { AbortOptions, ComponentLogger, Connection, Metrics, PeerId, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

/**
 * What the service uses of the node.
 */
export interface StreamComponents {
  /** Where `accept` registers and deregisters its protocols */
  registrar: Registrar
  /** Finds or dials the connection for `openStream` */
  connectionManager: ConnectionManager
  /** Gives the service its `libp2p:stream` logger */
  logger: ComponentLogger
  /** When present, accepted, dropped, opened and failed streams are counted */
  metrics?: Metrics
}

/**
 * Node-wide settings: defaults for every `accept` and `openStream`.
 */
export interface StreamInit {
  /**
   * Backlog of an `accept` that does not set one.
   *
   * @default 32
   */
  backlog?: number

  /**
   * Outbound streams per connection and protocol, for `openStream` and for the
   * protocols passed to `accept`.
   *
   * @default 1000
   */
  maxOutboundStreams?: number
}

/**
 * Options for `Control.accept`.
 */
export interface AcceptOptions {
  /**
   * How many streams may wait for the application. Streams beyond it are reset
   * and counted in `dropped`. 0 accepts a stream only while a reader waits.
   * Not allowed together with `lanes`, which set their own.
   *
   * @default 32, or the `backlog` given to `stream()`
   */
  backlog?: number

  /**
   * Classes of inbound streams, each with its own backlog, per-peer bound and
   * counters, so a flood into one lane never drops or delays another's streams.
   * Each stream goes to the first lane whose `match` accepts it; exactly one
   * lane has no `match` and takes the rest. Iterating the handle serves lanes
   * by `priority`, then by `weight`; `lane(name)` serves one lane alone.
   */
  lanes?: Record<string, LaneOptions>

  /**
   * Aborting it ends the iteration and deregisters, like `close()`.
   */
  signal?: AbortSignal

  /**
   * Backlog slots one peer may hold. When the backlog is full, a stream from a
   * peer holding fewer slots than another still gets in, evicting that peer's
   * newest, so one peer cannot starve others even at the default; set this
   * lower to also keep a flooding peer from filling an idle backlog.
   *
   * @default backlog
   */
  maxPerPeer?: number

  /**
   * Open inbound streams one peer may have for each of these protocols, over
   * all its connections: those queued and those the application holds.
   * Streams over it are reset and counted in `dropped` (js-libp2p's own cap,
   * which resets silently, is lifted for these protocols).
   *
   * @default backlog (all lanes together) + 32
   */
  maxInboundStreams?: number

  /**
   * Outbound streams per connection for these protocols (libp2p uses the
   * registered value for every stream opened with them).
   *
   * @default 1000, or the `maxOutboundStreams` given to `stream()`
   */
  maxOutboundStreams?: number

  /**
   * Accept streams on limited connections, such as relayed ones.
   *
   * @default false
   */
  runOnLimitedConnection?: boolean

  /**
   * Bytes all queued streams of this `accept` may hold together, received
   * from their remotes while they wait. Queued streams are paused, so each
   * holds at most what its muxer granted before it was queued; past this
   * budget the queued stream holding the most is reset (`bytes-limit`).
   *
   * @default 8 MiB (see `DEFAULT_MAX_QUEUED_BYTES`)
   */
  maxQueuedBytes?: number

  /**
   * How long a stream may wait to be yielded, in milliseconds; older streams
   * are reset (`expired`): their openers have most likely given up.
   *
   * @default 30000
   */
  maxQueueAge?: number

  /**
   * Called for each stream reset without being yielded, with why and whose
   * it was, after it was counted. It runs inside the node's stream handling:
   * keep it short. What it throws is logged and otherwise ignored.
   */
  onDrop?(drop: DroppedStream): void
}

/**
 * Options for `Control.openStream`.
 */
export interface OpenStreamOptions {
  /**
   * Aborts the dial or the negotiation: the call rejects with `AbortError`.
   */
  signal?: AbortSignal

  /**
   * Open the stream on this connection instead of finding or dialling one. It
   * must be a connection to the target peer.
   */
  connection?: Connection

  /**
   * Dial a new connection even if one to the peer exists.
   *
   * @default false
   */
  force?: boolean

  /**
   * How long protocol negotiation may take before the call rejects with an
   * `OpenStreamError` caused by a `TimeoutError`, in milliseconds. The dial
   * itself is bounded by the connection manager's `dialTimeout`.
   *
   * @default 10000
   */
  negotiationTimeout?: number

  /**
   * Outbound streams per connection for the negotiated protocol, when it is
   * not one this node accepts (then the `accept` setting applies).
   *
   * @default 1000, or the `maxOutboundStreams` given to `stream()`
   */
  maxOutboundStreams?: number

  /**
   * Open the stream on a limited connection, such as a relayed one.
   *
   * @default false
   */
  runOnLimitedConnection?: boolean

  /**
   * Passed on to libp2p's `newStream`. It has **no effect on js-libp2p 3.x**:
   * `@libp2p/multistream-select` 7 negotiates fully whatever it says (its lazy,
   * 0-RTT path went away in the v3 streams rewrite), so `openStream` always
   * resolves after the remote agreed on the protocol. Kept so code written
   * for a libp2p that honours it again needs no change.
   *
   * @default true
   */
  negotiateFully?: boolean
}

/**
 * What a lane's `match` is asked about an inbound stream.
 */
export interface LaneMatchInput {
  /** The remote peer that opened the stream */
  peer: PeerId
  /** The connection it arrived on */
  connection: Connection
  /** The negotiated protocol */
  protocol: string
}

/**
 * One lane of an `accept` with lanes.
 */
export interface LaneOptions {
  /**
   * Streams that may wait in this lane.
   *
   * @default 32
   */
  backlog?: number

  /**
   * Slots of this lane one peer may hold.
   *
   * @default backlog
   */
  maxPerPeer?: number

  /**
   * Which streams belong here; the first lane (in declaration order) whose
   * `match` returns true takes the stream, and the one lane without `match`
   * takes the rest. A `match` that throws resets that stream and is logged.
   */
  match?(input: LaneMatchInput): boolean

  /**
   * Iterating the handle serves queued lanes of higher priority first.
   *
   * @default 0
   */
  priority?: number

  /**
   * Among queued lanes of equal priority, each gets a share of the streams
   * yielded in proportion to its weight.
   *
   * @default 1
   */
  weight?: number
}

/**
 * A lane's counters, from `IncomingStreams.stats()`.
 */
export interface LaneStats {
  /** Its backlog size */
  backlog: number
  /** Streams waiting in it now */
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
 * Why an inbound stream was reset without being yielded:
 * - `backlog-full`: its lane was full and its network group and peer already held their fair share of it
 * - `evicted`: it was queued, and made room for a stream from a network group (or peer) holding fewer slots
 * - `peer-limit`: its peer already held `maxPerPeer` slots of the lane
 * - `stream-limit`: its peer already had `maxInboundStreams` streams open for the protocol
 * - `bytes-limit`: the queued streams held more than `maxQueuedBytes`, and it held the most
 * - `expired`: it waited longer than `maxQueueAge`
 * - `match-error`: a lane's `match` threw for it
 * - `closed`: it was still queued, or still negotiating, when the `accept` ended
 */
export type DropReason = 'backlog-full' | 'evicted' | 'peer-limit' | 'stream-limit' | 'bytes-limit' | 'expired' | 'match-error' | 'closed'

/**
 * Why a queued stream left without being yielded or dropped:
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
export interface IncomingStats {
  /** Streams that arrived (negotiated the protocol) */
  arrived: number
  /** Streams waiting in all lanes that were never yielded */
  queued: number
  /** Streams yielded so far, each once */
  accepted: number
  /** Streams reset without being yielded */
  dropped: number
  /** Streams that left the queue unyielded, without being reset by us */
  gone: number
  /** Streams handed back with `move()` that wait to be yielded again */
  requeued: number
  /** Successful `move()` calls */
  moved: number
  /** Bytes the queued streams hold, received while they waited */
  queuedBytes: number
  /** `dropped`, by reason */
  dropReasons: Record<DropReason, number>
  /** `gone`, by reason */
  goneReasons: Record<GoneReason, number>
  /** Lane by lane */
  lanes: Record<string, LaneStats>
}

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
 * them, in arrival order.
 */
export interface IncomingStreams extends AsyncIterable<IncomingStream>, AsyncDisposable {
  /** The protocols this handle accepts */
  readonly protocols: readonly string[]
  /** Streams waiting in the backlog now, moved ones included */
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
   * The next stream, like one step of `for await`, but giving up when
   * `options.signal` aborts: then it rejects with the signal's reason and
   * takes no stream. Use this rather than racing a bare `next()` against a
   * timeout, which takes the stream that arrives after the caller gave up.
   */
  next(options?: AbortOptions): Promise<IteratorResult<IncomingStream, undefined>>
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
   * next and counts it in `moved`. A stream moved again before it was yielded
   * leaves its former lane.
   *
   * @throws {MoveRejectedError} the lane is full, the peer holds `maxPerPeer` of it, the handle closed, or the stream ended; the stream stays where it was
   * @throws {InvalidParametersError} there is no lane called `name`
   */
  move(item: IncomingStream, name: string): void
  /** Counters for the whole handle and for each lane */
  stats(): IncomingStats
}
