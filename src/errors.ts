import { StreamResetError } from '@libp2p/interface'
import { CODE_NAMES, CODE_REASONS } from './reset-codes.ts'
import type { DropReason } from './types/incoming.ts'

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
 * Thrown by `stream()` on a Node.js older than this package runs on (see
 * `MIN_NODE_VERSION`), before anything fails in a less clear way.
 */
export class UnsupportedRuntimeError extends Error {
  static name = 'UnsupportedRuntimeError'

  constructor (message: string) {
    super(message)
    this.name = 'UnsupportedRuntimeError'
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
 * reset without yielding it; the opener sees its stream reset, with `code`
 * on the wire over yamux. `reason` says why (see `DROP_REASONS`).
 */
export class StreamDroppedError extends Error {
  static name = 'StreamDroppedError'

  /** Why the stream was dropped */
  readonly reason: DropReason
  /** The reset code sent to the opener (see `DROP_RESET_CODES`) */
  readonly code: number

  constructor (reason: DropReason, code: number, message = `Inbound stream dropped: ${reason}`) {
    super(message)
    this.name = 'StreamDroppedError'
    this.reason = reason
    this.code = code
  }
}

/**
 * The remote reset the stream and said why, with a non-zero reset code (a
 * go-libp2p peer's `ResetWithError`, or a drop by this package on the remote).
 * `openStream` rejects with it when the reset came as soon as the protocol was
 * agreed; reads, `send()` and `close()` throw it when it came later. It is a
 * `StreamResetError`, so code that catches those catches this too; a reset
 * without a code is a plain `StreamResetError` as before.
 */
export class RemoteResetError extends StreamResetError {
  static name = 'RemoteResetError'

  /** The reset code, e.g. 0x1002 (`RESOURCE_LIMIT_EXCEEDED`) */
  readonly code: number
  /** go-libp2p's name for `code` when it has one (see `LIBP2P_RESET_CODES`) */
  readonly codeName?: string
  /** Why the remote dropped the stream, when `code` is one of this package's own (see `DROP_RESET_CODES`) */
  readonly reason?: DropReason

  constructor (code: number, codeName?: string, reason?: DropReason, message = `The remote reset the stream with code 0x${code.toString(16)}${codeName == null ? '' : ` (${codeName})`}${reason == null ? '' : ` (dropped: ${reason})`}`) {
    super(message)
    this.name = 'RemoteResetError'
    this.code = code
    this.codeName = codeName
    this.reason = reason
  }
}

/**
 * Thrown by `IncomingStreams.move()` when the stream cannot go to the lane;
 * the stream stays where it was, untouched, and the caller may keep reading
 * it. `reason` says why:
 *
 * - `lane-full`: the lane already queues its `backlog`
 * - `peer-limit`: the peer already holds `maxPerPeer` of the lane's slots
 * - `closed`: the `accept` has ended
 * - `stream-ended`: the stream is no longer open
 * - `bytes-limit`: what the stream may still receive while it waits in the lane does not fit in what is left of the accept's `maxQueuedBytes`
 *
 * What a stream may still receive is the bytes it buffers and the receive
 * window its remote was granted while the application read it (up to 16 MiB
 * on yamux); a move reserves that much of `maxQueuedBytes` until the stream
 * is yielded again. After a `bytes-limit` refusal, keep reading the stream
 * yourself, or raise `maxQueuedBytes`.
 */
export class MoveRejectedError extends Error {
  static name = 'MoveRejectedError'

  /** Why the move was refused */
  readonly reason: 'lane-full' | 'peer-limit' | 'closed' | 'stream-ended' | 'bytes-limit'

  constructor (reason: MoveRejectedError['reason'], message = `The stream could not be moved: ${reason}`) {
    super(message)
    this.name = 'MoveRejectedError'
    this.reason = reason
  }
}

/**
 * The error for a stream its remote reset with `code`: what reads, writes,
 * `close()` and `openStream` report for it.
 */
export function remoteResetError (code: number): RemoteResetError {
  return new RemoteResetError(code, CODE_NAMES.get(code), CODE_REASONS.get(code))
}
