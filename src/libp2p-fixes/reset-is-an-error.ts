import { StreamResetError } from '@libp2p/interface'
import { DEFAULT_MAX_READ_AHEAD } from '../constants.ts'
import { fixed, install } from './install.ts'
import { ReadAhead } from './read-ahead.ts'
import { remoteReset } from './reset-code.ts'
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
 * A reset that carried a code (see `reset-code.ts`) is a `RemoteResetError`.
 */
export function resetIsAnError (stream: Stream): void {
  install(stream, Symbol.asyncIterator, wrapIterate)
  install(stream, 'send', wrapSend)
  install(stream, 'close', wrapClose)
}

function wrapIterate (iterate: (this: Stream) => AsyncIterator<any>): (this: Stream) => AsyncIterator<any> {
  return function (this: Stream): AsyncIterator<any> {
    return fixed.has(this) ? new ReportReset(this, boundedIterate) : iterate.call(this)
  }
}

/** The iteration of a stream this package handed out: with bounded read-ahead */
function boundedIterate (this: Stream): AsyncIterator<any> {
  return new ReadAhead(this, DEFAULT_MAX_READ_AHEAD)
}

function wrapSend (send: (this: Stream, data: unknown) => boolean): (this: Stream, data: unknown) => boolean {
  return function (this: Stream, data: unknown): boolean {
    if (this.status === 'reset' && fixed.has(this)) {
      throw remoteReset(this) ?? new StreamResetError('Cannot write: the remote reset the stream')
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
 * The original iteration, made on the first `next()`. A reader already
 * iterating when the remote resets the stream is told by the original (its
 * `close` listener ends it with the error), so the calls go straight
 * through. A reader whose first `next()` comes after the reset gets the bytes
 * still buffered and then a `StreamResetError` where the original would end
 * cleanly: only then is each result looked at. Once it has ended, thrown or
 * been returned, this iterator is done.
 */
class ReportReset implements AsyncIterableIterator<any> {
  private readonly stream: Stream
  private readonly iterate: (this: Stream) => AsyncIterator<any>
  private inner?: AsyncIterator<any>
  /** The first `next()` came after a reset: the end is reported as the reset */
  private afterReset = false
  private finished = false

  constructor (stream: Stream, iterate: (this: Stream) => AsyncIterator<any>) {
    this.stream = stream
    this.iterate = iterate
  }

  [Symbol.asyncIterator] (): this {
    return this
  }

  // not async: the original's promise is returned as it is, or chained once
  next (): Promise<IteratorResult<any>> {
    if (this.finished) {
      return Promise.resolve({ done: true, value: undefined })
    }

    try {
      if (this.inner == null) {
        this.afterReset = this.stream.status === 'reset'
        this.inner = this.iterate.call(this.stream)
      }

      if (!this.afterReset) {
        return this.inner.next()
      }

      return this.inner.next().then(result => this.endAsReset(result), err => this.fail(err))
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

  private endAsReset (result: IteratorResult<any>): IteratorResult<any> {
    if (result.done !== true) {
      return result
    }

    // the bytes sent before the reset were all delivered; the end was not
    this.finished = true
    throw remoteReset(this.stream) ?? new StreamResetError('The remote reset the stream')
  }

  private fail (err: unknown): never {
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
