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
 *   for await (const incoming of control.accept('/my-proto/1.0.0', { backlog: 32 })) {
 *     // incoming.stream, incoming.peer, ...
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
import { resolveInit } from './options.ts'
import type { StreamComponents, StreamInit } from './types/options.ts'

export { Behaviour } from './behaviour.ts'
export { Control } from './control.ts'
export { AlreadyRegisteredError, MoveRejectedError, OpenStreamError, RemoteResetError, StreamDroppedError, UnsupportedRuntimeError } from './errors.ts'
export {
  DEFAULT_BACKLOG, DEFAULT_INBOUND_HEADROOM, DEFAULT_MAX_INBOUND_STREAM_RATE, DEFAULT_LANE, DEFAULT_MAX_OUTBOUND_STREAMS, DEFAULT_MAX_QUEUE_AGE, DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_READ_AHEAD, DEFAULT_NEGOTIATION_TIMEOUT, DEFAULT_OPEN_TIMEOUT, MAX_PROTOCOL_LENGTH, MIN_NODE_VERSION, QUEUED_STREAM_OVERHEAD
} from './constants.ts'
export { DROP_REASONS, DROP_RESET_CODES, LIBP2P_RESET_CODES } from './reset-codes.ts'
export type { DropReasonInfo } from './reset-codes.ts'
export { AbortError, InvalidParametersError, NotStartedError, StreamResetError, StreamStateError, TimeoutError, UnsupportedProtocolError } from '@libp2p/interface'
export type { DroppedStream, DropReason, GoneReason, IncomingStats, IncomingStream, IncomingStreams, LaneStats } from './types/incoming.ts'
export type { AcceptOptions, ConnectionEvents, LaneMatchInput, LaneOptions, OpenStreamOptions, ServiceStats, StreamComponents, StreamInit } from './types/options.ts'

/**
 * The service factory: `services: { stream: stream() }`.
 *
 * @throws {UnsupportedRuntimeError} Node.js is older than `MIN_NODE_VERSION` (22)
 * @throws {InvalidParametersError} an option is malformed
 */
export function stream (init: StreamInit = {}): (components: StreamComponents) => Behaviour {
  // fail where the bad option is written, not later inside createLibp2p
  const resolved = resolveInit(init)

  return (components) => new Behaviour(components, resolved)
}
