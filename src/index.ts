/**
 * @packageDocumentation
 *
 * Accept and open streams for your own protocols through a cheap, cloneable
 * {@link Control}, the design of rust-libp2p's `libp2p-stream` crate.
 *
 * `accept(protocol)` registers the protocol and returns its inbound streams as
 * a lazily-polled async iterable with a bounded backlog: when the application
 * falls behind, extra streams are reset (the opener sees an error, not a hang)
 * and counted. Ending the iteration deregisters.
 *
 * `openStream(peer, protocol)` dials if needed, negotiates, and rejects with
 * typed errors.
 *
 * @example
 *
 * ```TypeScript
 * import { createLibp2p } from 'libp2p'
 * import { stream } from 'libp2p-stream'
 *
 * const node = await createLibp2p({
 *   // ...transports, connectionEncrypters, streamMuxers
 *   services: { stream: stream() }
 * })
 * const control = node.services.stream.newControl()
 *
 * // inbound
 * void (async () => {
 *   for await (const { stream } of control.accept('/my-proto/1.0.0', { backlog: 32 })) {
 *     // ...
 *   }
 * })()
 *
 * // outbound
 * const s = await control.clone().openStream(remotePeerId, '/my-proto/1.0.0', {
 *   signal: AbortSignal.timeout(5_000)
 * })
 * ```
 */

import { Behaviour } from './behaviour.ts'
import { resolveInit } from './shared.ts'
import type { LaneOptions } from './lane.ts'
import type { ComponentLogger, Connection, Metrics } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'

export { Behaviour } from './behaviour.ts'
export { Control } from './control.ts'
export { AlreadyRegisteredError, MoveRejectedError, OpenStreamError, StreamDroppedError } from './errors.ts'
export { AbortError, InvalidParametersError, NotStartedError, UnsupportedProtocolError } from '@libp2p/interface'
export type { IncomingStream, IncomingStreams } from './incoming.ts'
export type { DropReason, IncomingStats } from './backlog.ts'
export type { LaneMatchInput, LaneOptions, LaneStats } from './lane.ts'

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
   * With a single protocol, `false` lets libp2p send the protocol name with the
   * first write instead of waiting a round trip; an unsupported protocol then
   * shows up as an error on the first read or write instead of here.
   *
   * @default true
   */
  negotiateFully?: boolean
}

/**
 * The service factory: `services: { stream: stream() }`.
 */
export function stream (init: StreamInit = {}): (components: StreamComponents) => Behaviour {
  // fail where the bad option is written, not later inside createLibp2p
  resolveInit(init)

  return (components) => new Behaviour(components, init)
}
