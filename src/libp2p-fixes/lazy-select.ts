import { ConnectionClosedError, LimitedConnectionError, TimeoutError, TooManyOutboundProtocolStreamsError, UnsupportedProtocolError } from '@libp2p/interface'
import { AnswerReader, handshake } from './lazy-answers.ts'
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

/** How a lazy open is set up */
export interface LazyOptions {
  maxOutboundStreams: number
  runOnLimitedConnection?: boolean
  /** How long the listener may take to answer once the handshake is sent, in ms */
  negotiationTimeout: number
  /** Told once when the listener's answer is known: `undefined` for agreed */
  onAnswer(err?: Error): void
  log(message: string, ...args: any[]): void
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

type Sendable = Parameters<Stream['send']>[0]

/**
 * The state of one lazy stream: own methods on the stream that send the
 * handshake with the first write (or read, or close), hold received bytes
 * until both answers are in, and report a refusal on every later call.
 */
class LazyHandshake {
  private readonly stream: Stream
  private readonly protocol: string
  private readonly options: LazyOptions
  private readonly agreed: () => void
  private sent = false
  private answered = false
  private error?: Error
  private readonly answers: AnswerReader
  private timer?: ReturnType<typeof setTimeout>
  private told = false
  private readonly waiters: Array<(err?: Error) => void> = []

  /** Makes `stream` lazy: its own methods below take over from its class's */
  static install (stream: Stream, protocol: string, options: LazyOptions, agreed: () => void): void {
    // eslint-disable-next-line no-new
    new LazyHandshake(stream, protocol, options, agreed)
  }

  private constructor (stream: Stream, protocol: string, options: LazyOptions, agreed: () => void) {
    this.stream = stream
    this.protocol = protocol
    this.options = options
    this.agreed = agreed
    this.answers = new AnswerReader(protocol)

    const proto = Object.getPrototypeOf(stream)
    const lazy = this as LazyHandshake
    const s = stream as any
    const send = proto.send
    const close = proto.close
    const addEventListener = proto.addEventListener
    const iterate = proto[Symbol.asyncIterator]
    const onData = proto.onData
    const onRemoteCloseWrite = proto.onRemoteCloseWrite

    s.send = function (data: Sendable): boolean {
      if (lazy.error != null) {
        throw lazy.error
      }

      if (!lazy.sent) {
        lazy.flush(data.byteLength > 0)
      }

      return send.call(this, data)
    }

    s.close = async function (closeOptions?: { signal?: AbortSignal }): Promise<void> {
      if (lazy.error != null) {
        throw lazy.error
      }

      if (!lazy.sent) {
        lazy.flush(false)
      }

      try {
        await close.call(this, closeOptions)
      } catch (err) {
        // a refusal that arrived while the write buffer drained aborts the close
        throw lazy.error ?? err
      }

      await lazy.answer(closeOptions?.signal)
    }

    s.addEventListener = function (...args: any[]): void {
      if (args[0] === 'message' && !lazy.sent && lazy.error == null) {
        lazy.flush(false)
      }

      addEventListener.apply(this, args)
    }

    s[Symbol.asyncIterator] = function () {
      if (lazy.error != null) {
        return failing(lazy.error)
      }

      return iterate.call(this)
    }

    s.onData = function (data: Sendable): void {
      if (lazy.answered) {
        onData.call(this, data)
        return
      }

      if (lazy.error != null) {
        return
      }

      const rest = lazy.read(data instanceof Uint8Array ? data : data.subarray())

      if (rest != null && rest.byteLength > 0) {
        onData.call(this, rest)
      }
    }

    s.onRemoteCloseWrite = function (): void {
      if (!lazy.answered && lazy.error == null) {
        lazy.fail(new UnsupportedProtocolError(`The remote closed the stream without agreeing on ${protocol}`))
        return
      }

      onRemoteCloseWrite.call(this)
    }

    // a stream that ends before the answer (a reset, or the application's
    // abort) reports why on every later call, as a refusal does
    stream.addEventListener('close', (evt: Event & { error?: Error }) => {
      clearTimeout(this.timer)

      if (!this.answered) {
        this.error ??= evt.error ?? new UnsupportedProtocolError(`The stream closed before the remote agreed on ${protocol}`)
        this.settle(this.error)
      }
    }, { once: true })
  }

  /**
   * Puts the header and the protocol in the write buffer, so they go out in
   * the same frame as `data` (or alone, when there is none), and starts the
   * wait for the answers.
   */
  flush (withData: boolean): void {
    this.sent = true
    const bytes = handshake(this.protocol)

    if (withData) {
      (this.stream as any).writeBuffer.append(bytes)
    } else {
      Object.getPrototypeOf(this.stream).send.call(this.stream, bytes)
    }

    this.timer = setTimeout(() => {
      this.fail(new TimeoutError(`The remote did not answer the negotiation of ${this.protocol} within ${this.options.negotiationTimeout} ms`))
    }, this.options.negotiationTimeout)
  }

  /** Waits until the listener answered; rejects with why it refused */
  async answer (signal?: AbortSignal): Promise<void> {
    if (this.answered) {
      return
    }

    if (this.error != null) {
      throw this.error
    }

    const { promise, resolve, reject } = Promise.withResolvers<void>()
    const onAbort = (): void => { reject(signal?.reason) }
    this.waiters.push(err => { err == null ? resolve() : reject(err) })
    signal?.addEventListener('abort', onAbort, { once: true })

    try {
      await promise
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Takes the answers from what arrived; returns what follows them (the
   * listener's first data) once both are in, `undefined` until then.
   */
  read (data: Uint8Array): Uint8Array | undefined {
    const result = this.answers.push(data)

    if (result.state === 'refused') {
      this.fail(result.error)
      return undefined
    }

    if (result.state === 'waiting') {
      return undefined
    }

    this.answered = true
    clearTimeout(this.timer)
    this.agreed()
    this.settle()

    return result.rest
  }

  /** The listener refused or broke the negotiation: the stream is reset and every later call throws `err` */
  fail (err: Error): void {
    if (this.error != null || this.answered) {
      return
    }

    this.error = err
    clearTimeout(this.timer)
    this.options.log('lazy negotiation of %s failed - %e', this.protocol, err)
    this.settle(err)
    this.stream.abort(err)
  }

  /** Tells `onAnswer` (once) and every `close()` waiting for the answer */
  private settle (err?: Error): void {
    if (!this.told) {
      this.told = true
      this.options.onAnswer(err)
    }

    for (const waiter of this.waiters.splice(0)) {
      waiter(err)
    }
  }
}

/** An async iterator whose first `next()` rejects with `err` */
function failing (err: Error): AsyncIterator<never> & AsyncIterable<never> {
  return {
    next: async () => { throw err },
    return: async () => ({ done: true, value: undefined }),
    [Symbol.asyncIterator] () { return this }
  }
}
