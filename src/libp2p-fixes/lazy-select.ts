import { ConnectionClosedError, LimitedConnectionError, TooManyOutboundProtocolStreamsError } from '@libp2p/interface'
import { LazyHandshake } from './lazy-handshake.ts'
import type { LazyOptions } from './lazy-handshake.ts'
import type { Connection, Metrics, PeerStore, Stream, StreamMuxer } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'

/**
 * A lazy (pipelined) multistream-select open, as go-libp2p and rust-libp2p
 * do it and as `@libp2p/multistream-select` 7 no longer does: the stream is
 * handed out at once, its first write carries the header, the protocol and
 * the data in one frame, and the listener's two answers are checked before
 * the application sees a byte. An answer other than the protocol resets the
 * stream, and the next read, `send()` or `close()` throws
 * `UnsupportedProtocolError`.
 *
 * js-libp2p internals this relies on (seen on libp2p 3.3.11,
 * `@libp2p/utils` 7.4.1, `@chainsafe/libp2p-yamux` 8.0.1; checked by
 * `test/lazy-open.spec.ts`, "the js-libp2p internals it relies on"):
 * a `Connection` carries its `muxer` (`createStream()`, `streams`); a muxer
 * stream is an `AbstractStream`, whose muxer hands it received bytes through
 * `onData()` and the remote's half-close through `onRemoteCloseWrite()`, and
 * whose `send()` sends its `writeBuffer` as one frame; `stream.protocol` is
 * what libp2p counts outbound streams by and what
 * `metrics.trackProtocolStream()` labels bytes with.
 *
 * Delete when `@libp2p/multistream-select` honours `negotiateFully: false`
 * again (then `connection.newStream()` does all of this).
 */

/** What the lazy path needs of the node */
export interface LazyComponents {
  registrar: Registrar
  peerStore?: PeerStore
  metrics?: Metrics
}

/** Protocols the peer store was told about, per connection, so later opens skip the write */
const recorded = new WeakMap<Connection, Set<string>>()

/**
 * Whether a lazy open can stand for `connection.newStream([protocol])`: the
 * connection has a muxer and no outbound middleware is registered for the
 * protocol (middleware needs a negotiated stream).
 */
export function canOpenLazily (connection: Connection, protocol: string, registrar: Registrar): boolean {
  return muxerOf(connection)?.status === 'open' && connection.status === 'open' && registrar.getMiddleware(protocol).length === 0
}

/**
 * Opens a stream for `protocol` on `connection` without waiting for the
 * listener: it resolves once the muxer made the stream. libp2p's checks run
 * first, as `newStream` would (open connection, limited connection, outbound
 * stream cap).
 */
export async function openLazily (connection: Connection, protocol: string, components: LazyComponents, options: LazyOptions, fix: (stream: Stream) => void): Promise<Stream> {
  const muxer = muxerOf(connection)

  if (muxer == null || muxer.status !== 'open' || connection.status !== 'open') {
    throw new ConnectionClosedError(`The connection is "${connection.status}" and not "open"`)
  }

  if (connection.limits != null && options.runOnLimitedConnection !== true) {
    throw new LimitedConnectionError('Cannot open protocol stream on limited connection')
  }

  const limit = outboundLimit(protocol, components.registrar, options.maxOutboundStreams)
  let count = 0

  for (const stream of muxer.streams) {
    if (stream.direction === 'outbound' && stream.protocol === protocol) {
      count++
    }
  }

  if (count >= limit) {
    throw new TooManyOutboundProtocolStreamsError(`Too many outbound protocol streams for protocol "${protocol}" - ${count + 1}/${limit}`)
  }

  const stream = await muxer.createStream({ protocol })

  // a transport that negotiates protocols itself has done so already
  if (stream.protocol !== '' && stream.protocol != null) {
    options.onAnswer()
    return stream
  }

  stream.protocol = protocol
  // the workarounds go on the stream's class first, so the methods below call them
  fix(stream)
  LazyHandshake.install(stream, protocol, options, () => { remember(connection, protocol, components.peerStore, options) })
  components.metrics?.trackProtocolStream(stream)

  return stream
}

/** The connection's muxer: a field of libp2p's `Connection` class, not of the interface */
function muxerOf (connection: Connection): StreamMuxer | undefined {
  const muxer = (connection as { muxer?: StreamMuxer }).muxer

  return typeof muxer?.createStream === 'function' ? muxer : undefined
}

/** The outbound cap libp2p applies: the registered handler's, else the one given */
function outboundLimit (protocol: string, registrar: Registrar, fallback: number): number {
  try {
    return registrar.getHandler(protocol).options.maxOutboundStreams ?? fallback
  } catch {
    return fallback
  }
}

/**
 * After the listener agreed: records the protocol in the peer's record, as
 * libp2p does after a negotiation, once per connection and protocol (the
 * record holds it after the first).
 */
function remember (connection: Connection, protocol: string, peerStore: PeerStore | undefined, options: LazyOptions): void {
  let protocols = recorded.get(connection)

  if (protocols?.has(protocol) === true || peerStore == null) {
    return
  }

  if (protocols == null) {
    protocols = new Set()
    recorded.set(connection, protocols)
  }

  protocols.add(protocol)
  peerStore.merge(connection.remotePeer, { protocols: [protocol] })
    .catch(err => {
      protocols.delete(protocol)
      options.log('could not record %s for %p - %e', protocol, connection.remotePeer, err)
    })
}
