import type { DropReason } from './types/index.ts'

/**
 * Thrown by `accept` when a protocol already has a handler on this node:
 * another `accept` from any control of the same node, or a handler registered
 * with `libp2p.handle`. Nothing is registered when it is thrown.
 */
export class AlreadyRegisteredError extends Error {
  static name = 'AlreadyRegisteredError'

  /** The protocol that already had a handler */
  readonly protocol: string

  constructor (protocol: string, message = `Protocol ${protocol} is already registered on this node`) {
    super(message)
    this.name = 'AlreadyRegisteredError'
    this.protocol = protocol
  }
}

/**
 * Thrown by `openStream` when no stream could be opened for a reason other than
 * the remote's protocol support or the caller's signal: the peer has no known
 * address, refused or timed out the dial, the connection closed during
 * negotiation, or the node stopped. The underlying error is the `cause`.
 */
export class OpenStreamError extends Error {
  static name = 'OpenStreamError'

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'OpenStreamError'
  }
}

/**
 * The reason given to `stream.abort()` for an inbound stream that this package
 * reset without yielding it; the opener sees its stream reset. `reason` says
 * why: the backlog was full, the stream was evicted for another peer's, its
 * peer was over `maxPerPeer` or `maxInboundStreams`, or it was still queued
 * when the `accept` ended.
 */
export class StreamDroppedError extends Error {
  static name = 'StreamDroppedError'

  /** Why the stream was dropped */
  readonly reason: DropReason

  constructor (reason: DropReason, message = `Inbound stream dropped: ${reason}`) {
    super(message)
    this.name = 'StreamDroppedError'
    this.reason = reason
  }
}

/**
 * Thrown by `IncomingStreams.move()` when the stream cannot go to the lane;
 * the stream stays where it was. `reason` says why: the lane is full, the
 * peer already holds `maxPerPeer` of its slots, the `accept` has ended, or the
 * stream is no longer open.
 */
export class MoveRejectedError extends Error {
  static name = 'MoveRejectedError'

  /** Why the move was refused */
  readonly reason: 'lane-full' | 'peer-limit' | 'closed' | 'stream-ended'

  constructor (reason: 'lane-full' | 'peer-limit' | 'closed' | 'stream-ended', message = `The stream could not be moved: ${reason}`) {
    super(message)
    this.name = 'MoveRejectedError'
    this.reason = reason
  }
}
