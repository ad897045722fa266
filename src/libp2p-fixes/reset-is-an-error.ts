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

function wrapIterate (iterate: (this: Stream) => AsyncIterator<any>): (this: Stream) => AsyncIterator<any> {
  return function (this: Stream): AsyncIterator<any> {
    return fixed.has(this) ? new ReportReset(this, iterate) : iterate.call(this)
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
 * The original iteration, then an error if what ended it was a reset: what
 * an async generator `yield * iterate(); if (reset) throw` would do, without
 * the generator's cost on every chunk. The original iterator is made on the
 * first `next()`; once it has ended, or thrown, or been returned, this
 * iterator is done.
 */
class ReportReset implements AsyncIterableIterator<any> {
  private readonly stream: Stream
  private readonly iterate: (this: Stream) => AsyncIterator<any>
  private inner?: AsyncIterator<any>
  private finished = false

  constructor (stream: Stream, iterate: (this: Stream) => AsyncIterator<any>) {
    this.stream = stream
    this.iterate = iterate
  }

  [Symbol.asyncIterator] (): this {
    return this
  }

  // not async: the promise of the original's `next()` is chained, not wrapped
  next (): Promise<IteratorResult<any>> {
    if (this.finished) {
      return Promise.resolve({ done: true, value: undefined })
    }

    try {
      this.inner ??= this.iterate.call(this.stream)

      return this.inner.next().then(this.onResult, this.onError)
    } catch (err) {
      this.finished = true
      return Promise.reject(err)
    }
  }

  async return (value?: any): Promise<IteratorResult<any>> {
    if (this.finished || this.inner == null) {
      this.finished = true
      return { done: true, value }
    }

    this.finished = true
    return this.inner.return?.(value) ?? { done: true, value }
  }

  async throw (err?: any): Promise<IteratorResult<any>> {
    if (this.finished || this.inner?.throw == null) {
      this.finished = true
      throw err
    }

    this.finished = true
    return this.inner.throw(err)
  }

  private readonly onResult = (result: IteratorResult<any>): IteratorResult<any> => {
    if (result.done !== true) {
      return result
    }

    this.finished = true

    // the bytes sent before the reset were all delivered; the end was not
    if (this.stream.status === 'reset') {
      throw new StreamResetError('The remote reset the stream')
    }

    return { done: true, value: undefined }
  }

  private readonly onError = (err: unknown): never => {
    this.finished = true
    throw err
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
