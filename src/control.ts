import { openStream } from './outbound/open-stream.ts'
import type { DEFAULT_LANE } from './constants.ts'
import type { Registry } from './registry.ts'
import type { IncomingStreams } from './types/incoming.ts'
import type { AcceptOptions, OpenStreamOptions } from './types/options.ts'
import type { DialTarget, Stream } from '@libp2p/interface'

/**
 * A cheap handle for accepting and opening streams. Every control of a node,
 * and every clone of one, shares the node's registry: a protocol accepted
 * through one control is taken for all of them.
 */
export class Control {
  readonly #registry: Registry

  /**
   * Controls come from `Behaviour.newControl()` and `clone()`.
   *
   * @internal
   */
  constructor (registry: Registry) {
    this.#registry = registry
  }

  /** Names the class in logs and inspection */
  get [Symbol.toStringTag] (): string {
    return 'Control'
  }

  /**
   * Another control over the same node, for another task or component.
   */
  clone (): Control {
    return new Control(this.#registry)
  }

  /**
   * Registers `protocol` (or each of a list) and returns its inbound streams.
   *
   * Nothing is accepted until the handle is iterated; meanwhile streams wait
   * in a backlog of `options.backlog` entries (default 512) and streams beyond
   * it are reset and counted in `dropped`. Ending the iteration deregisters.
   *
   * @throws {AlreadyRegisteredError} a protocol already has a handler on this node
   * @throws {InvalidParametersError} a protocol or option is malformed
   * @throws {AbortError} `options.signal` is already aborted
   *
   * With `lanes`, TypeScript knows their names: `lane()` and `move()` take
   * only those, so a typo is a compile error. Without, the one lane is
   * `'default'`.
   *
   * @example
   *
   * ```TypeScript
   * for await (const incoming of control.accept('/echo/1.0.0')) {
   *   // handle the stream without holding up the loop
   *   void echo(incoming.stream, incoming.peer)
   * }
   * ```
   */
  accept <L extends string = typeof DEFAULT_LANE> (protocol: string | string[], options?: AcceptOptions<L>): IncomingStreams<L> {
    // the lane names were checked against `options.lanes` by the registry
    return this.#registry.accept(protocol, options) as IncomingStreams<L>
  }

  /**
   * Opens a stream to `target` for `protocol` (or the first of a list the
   * remote supports), dialling first when not connected: by `PeerId` through
   * the peer store, or by multiaddr. `stream.protocol` is the negotiated one.
   *
   * Backpressure: `stream.send()` returns `false` when the muxer's send window
   * is used up; wait for `stream.onDrain()` before sending more (on streams
   * from this package it waits every time, see the README). The window only
   * stalls a writer while the remote's muxer holds back window updates: a
   * remote application that reads slowly is buffered by its libp2p, and one
   * that never reads has the stream reset once 4 MiB are buffered.
   *
   * Lazy open: `negotiateFully: false` opens as go-libp2p and rust-libp2p
   * can. With one protocol, `openStream` resolves without waiting for the
   * listener, and the first `send()` carries the negotiation and the data in
   * one flight (a read or `close()` first sends the negotiation alone). The
   * listener's answer is checked before the first byte is handed to the
   * reader; a listener that does not speak the protocol resets the stream,
   * and the next read, `send()` or `close()` throws `UnsupportedProtocolError`
   * (`close()` waits for the answer, so a write is never lost unreported).
   * The answer must come within `negotiationTimeout` of the first write, or
   * the stream is reset and those calls throw the `TimeoutError`. Several
   * protocols, outbound middleware registered for the protocol, or a
   * connection whose first negotiation is still running negotiate fully.
   *
   * @throws {UnsupportedProtocolError} the remote supports none of the protocols
   * @throws {OpenStreamError} the peer could not be reached, negotiation timed out, or the node stopped; `cause` says why
   * @throws {AbortError} `options.signal` aborted
   * @throws {NotStartedError} the node is not started
   * @throws {InvalidParametersError} the target, a protocol or an option is malformed
   */
  openStream (target: DialTarget, protocol: string | string[], options?: OpenStreamOptions): Promise<Stream> {
    return openStream(this.#registry, target, protocol, options)
  }
}
