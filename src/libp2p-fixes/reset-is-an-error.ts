import { StreamResetError } from '@libp2p/interface'
import { fixed, install } from './install.ts'
import type { AbortOptions, Stream } from '@libp2p/interface'

/**
 * Makes a reset by the remote an error on every later read, write and close
 * of the stream, never a clean end.
 *
 * js-libp2p streams report a remote reset only to a reader already iterating
 * when it happens: a reader that starts later sees a clean, empty end, and
 * `send()` throws a `StreamStateError` that does not say the remote reset
 * the stream. A peer that drops our stream (its backlog was full) would
 * look like one that answered nothing. Also, `close()` can reject with a
 * `StreamAbortEvent` (not an `Error`) when the remote stops the stream, as
 * QUIC's `STOP_SENDING` does; here it rejects with the event's error.
 */
export function resetIsAnError (stream: Stream): void {
  install(stream, Symbol.asyncIterator, wrapIterate)
  install(stream, 'send', wrapSend)
  install(stream, 'close', wrapClose)
}

function wrapIterate (iterate: (this: Stream) => AsyncGenerator<any>): (this: Stream) => AsyncGenerator<any> {
  return function (this: Stream): AsyncGenerator<any> {
    const iterator = iterate.call(this)

    if (fixed.has(this)) {
      reportResetBeforeStart(this, iterator)
    }

    return iterator
  }
}

function wrapSend (send: (this: Stream, data: unknown) => boolean): (this: Stream, data: unknown) => boolean {
  return function (this: Stream, data: unknown): boolean {
    if (this.status === 'reset' && fixed.has(this)) {
      throw new StreamResetError('Cannot write: the remote reset the stream')
    }

    return send.call(this, data)
  }
}

function wrapClose (close: (this: Stream, options?: AbortOptions) => Promise<void>): (this: Stream, options?: AbortOptions) => Promise<void> {
  return function (this: Stream, options?: AbortOptions): Promise<void> {
    if (!fixed.has(this)) {
      return close.call(this, options)
    }

    try {
      const closing = close.call(this, options)

      // one reaction, for a rejection only: libp2p's close() is async
      return closing instanceof Promise ? closing.catch(rethrowAsError) : Promise.resolve(closing)
    } catch (err: any) {
      return Promise.reject(asError(err))
    }
  }
}

/**
 * A reader that was already iterating when the remote reset the stream is
 * told by the original iterator (its `close` listener ends it with the
 * error). One that starts after the reset is not: the original ends cleanly,
 * after any bytes still buffered. So the first `next()` looks at the stream:
 * reset by then, this iteration delivers what was buffered and then throws
 * `StreamResetError` once; otherwise every call goes straight to the
 * original. `next` is replaced on this iterator alone, and `for await` keeps
 * the function it first read, so the check stays in it.
 */
function reportResetBeforeStart (stream: Stream, iterator: AsyncGenerator<any>): void {
  const next = iterator.next
  let state: 'new' | 'plain' | 'reset' | 'reported' = 'new'

  iterator.next = function (...args: [] | [unknown]): Promise<IteratorResult<any>> {
    if (state === 'new') {
      state = stream.status === 'reset' ? 'reset' : 'plain'
    }

    if (state === 'plain') {
      return next.apply(iterator, args)
    }

    if (state === 'reported') {
      return Promise.resolve({ done: true, value: undefined })
    }

    return next.apply(iterator, args).then(result => {
      if (result.done !== true || state === 'reported') {
        return result
      }

      // the bytes sent before the reset were all delivered; the end was not
      state = 'reported'
      throw new StreamResetError('The remote reset the stream')
    })
  }
}

function rethrowAsError (thrown: unknown): never {
  throw asError(thrown)
}

/** What was thrown, as an `Error`: the error inside a close event, or a new one */
function asError (thrown: unknown): Error {
  if (thrown instanceof Error) {
    return thrown
  }

  const error = (thrown as { error?: unknown } | null)?.error

  if (error instanceof Error) {
    return error
  }

  return new StreamResetError(`The stream closed with ${(thrown as { type?: string } | null)?.type ?? String(thrown)}`)
}
