import { UnsupportedProtocolError } from '@libp2p/interface'
import type { Stream } from '@libp2p/interface'

type Sendable = Parameters<Stream['send']>[0]

/** What the methods ask of the stream's handshake (see `lazy-handshake.ts`) */
export interface LazyState {
  readonly protocol: string
  /** The handshake went out */
  sent: boolean
  /** The listener agreed */
  answered: boolean
  /** Why the negotiation failed, once it did */
  error?: Error
  /** Sends the handshake, with the data of the write that called it when `withData` */
  flush(withData: boolean): void
  /** Waits until the listener answered; rejects with why it refused */
  answer(signal?: AbortSignal): Promise<void>
  /** Takes the answers from `data`; what follows them once both are in */
  read(data: Uint8Array): Uint8Array | undefined
  /** Fails the negotiation: the stream is reset and every later call throws `err` */
  fail(err: Error): void
}

/**
 * Gives a lazy stream its own `send`, `close`, `addEventListener`, async
 * iterator, `onData` and `onRemoteCloseWrite`, which call its class's after
 * `lazy` had its say: the first write (or read, or close) sends the
 * handshake, received bytes are held until both answers are in, and a
 * refusal is thrown by every later call.
 */
export function takeOver (stream: Stream, lazy: LazyState): void {
  const proto = Object.getPrototypeOf(stream)
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
      lazy.fail(new UnsupportedProtocolError(`The remote closed the stream without agreeing on ${lazy.protocol}`))
      return
    }

    onRemoteCloseWrite.call(this)
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
