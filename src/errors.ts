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
 * The reason given to `stream.abort()` for an inbound stream that arrived
 * while its `accept` backlog was full. The opener sees its stream reset.
 */
export class BacklogFullError extends Error {
  static name = 'BacklogFullError'

  constructor (message = 'The accept backlog is full') {
    super(message)
    this.name = 'BacklogFullError'
  }
}

/**
 * The reason given to `stream.abort()` for inbound streams still queued when
 * their `IncomingStreams` was closed (by `close()`, `break`, its signal, or the
 * node stopping).
 */
export class IncomingClosedError extends Error {
  static name = 'IncomingClosedError'

  constructor (message = 'No longer accepting streams for this protocol') {
    super(message)
    this.name = 'IncomingClosedError'
  }
}
