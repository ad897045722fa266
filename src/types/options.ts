/** The service's components and every option the package takes */

import type { DroppedStream } from './incoming.ts'
import type { AbortOptions, ComponentLogger, Connection, Metrics, NewStreamOptions, PeerId, PeerStore, StreamHandlerOptions } from '@libp2p/interface'
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
  /** Told of a protocol a lazily opened stream agreed on, as libp2p does after a negotiation */
  peerStore?: PeerStore
  /** Announces each new connection, so its new streams can be held to `maxInboundStreamRate` */
  events?: ConnectionEvents
}

/** `stats()` of the service: what its node-wide bounds did */
export interface ServiceStats {
  /** Inbound streams reset before negotiation by `maxInboundStreamRate`, since the node started */
  rateLimited: number
  /** Network groups whose open rate is being tracked (those that opened streams lately) */
  rateGroups: number
}

/** The part of the node's event target the service listens to */
export interface ConnectionEvents {
  /** Tells `listener` of each connection the node opens or accepts */
  addEventListener(type: 'connection:open', listener: (evt: CustomEvent<Connection>) => void): void
  /** Stops telling `listener`, when the service stops */
  removeEventListener(type: 'connection:open', listener: (evt: CustomEvent<Connection>) => void): void
}

/**
 * Node-wide settings: defaults for every `accept` and `openStream`.
 */
export interface StreamInit {
  /**
   * Backlog of an `accept` that does not set one.
   *
   * @default 512
   */
  backlog?: number

  /**
   * Outbound streams per connection and protocol, for `openStream` and for the
   * protocols passed to `accept`.
   *
   * @default 1000
   */
  maxOutboundStreams?: number

  /**
   * Bytes a stream this package hands out (accepted or opened) may have
   * received and not yet read, while something iterates it. Past this, the
   * stream is paused, so its muxer stops granting the remote window, until
   * the reader has taken half; a reader that stops pulling holds at most
   * this, plus what its remote was granted before the pause.
   *
   * @default 256 KiB (see `DEFAULT_MAX_READ_AHEAD`)
   */
  maxReadAhead?: number

  /**
   * Inbound streams each connection may open on this node per second, on
   * any protocol; the connections of one network group (an IPv4 /24, an
   * IPv6 /48, a relay's address: see `docs/security.md`) four times that
   * together. After a quiet spell, two seconds' worth may be opened at once.
   * A stream over it is reset before it is negotiated, with go-libp2p's
   * `RATE_LIMITED`
   * code (0x1003: the opener gets a `RemoteResetError`); the stream's
   * connection and its other streams are left alone. Counted in the
   * service's `stats().rateLimited` and the metric
   * `libp2p_stream_rate_limited_total`. `Infinity` turns the bound off.
   *
   * @default 1000 (see `DEFAULT_MAX_INBOUND_STREAM_RATE`)
   */
  maxInboundStreamRate?: number
}

/**
 * Options for `Control.accept`. Aborting `signal` ends the iteration and
 * deregisters, like `close()`; `maxOutboundStreams` (default 1000, or the
 * `maxOutboundStreams` given to `stream()`) and `runOnLimitedConnection` are
 * given to the registrar as libp2p documents them.
 */
export interface AcceptOptions<L extends string = string> extends AbortOptions, Pick<StreamHandlerOptions, 'maxOutboundStreams' | 'runOnLimitedConnection'> {
  /**
   * How many streams may wait for the application. Streams beyond it are reset
   * and counted in `dropped`. 0 accepts a stream only while a reader waits.
   * Not allowed together with `lanes`, which set their own.
   *
   * @default 512, or the `backlog` given to `stream()`
   */
  backlog?: number

  /**
   * Classes of inbound streams, each with its own backlog, per-peer bound and
   * counters, so a flood into one lane never drops or delays another's streams.
   * Each stream goes to the first lane whose `match` accepts it; exactly one
   * lane has no `match` and takes the rest. Iterating the handle serves lanes
   * by `priority`, then by `weight`; `lane(name)` serves one lane alone.
   * In TypeScript the names are checked: `lane()` and `move()` take only
   * the names given here.
   */
  lanes?: Record<L, LaneOptions>

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
   * Memory all queued streams of this `accept` may hold together
   * (`stats().heldBytes`): what they received while they wait, as held in
   * memory, and `QUEUED_STREAM_OVERHEAD` each. Queued streams are paused, so
   * each receives at most what its muxer granted before; past this budget
   * the queued stream holding the most is reset (`bytes-limit`).
   *
   * @default 8 MiB (`DEFAULT_MAX_QUEUED_BYTES`)
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
 * Options for `Control.openStream`: libp2p's own for `newStream` (with
 * `maxOutboundStreams` defaulting to 1000, or the `maxOutboundStreams` given
 * to `stream()`, and `negotiateFully: false` opening lazily, see
 * `Control.openStream`), and what this package adds.
 */
export interface OpenStreamOptions extends NewStreamOptions {
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
   * How long the whole open may take, the dial and the negotiation together,
   * before the call rejects with an `OpenStreamError` caused by a
   * `TimeoutError`, in milliseconds. It applies with or without a `signal`.
   *
   * @default 10000
   */
  openTimeout?: number

  /**
   * How long protocol negotiation may take before the call rejects with an
   * `OpenStreamError` caused by a `TimeoutError`, in milliseconds; the open
   * as a whole stays within `openTimeout`.
   *
   * @default 10000
   */
  negotiationTimeout?: number
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
   * @default 512, or the `backlog` given to `stream()`
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
