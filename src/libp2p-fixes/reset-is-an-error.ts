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
  install(stream, Symbol.asyncIterator, iterate => function (this: Stream): AsyncGenerator<any> {
    return fixed.has(this) ? iterateReportingReset(this, iterate) : iterate.call(this)
  })

  install(stream, 'send', send => function (this: Stream, data: unknown): boolean {
    if (this.status === 'reset' && fixed.has(this)) {
      throw new StreamResetError('Cannot write: the remote reset the stream')
    }

    return send.call(this, data)
  })

  install(stream, 'close', close => function (this: Stream, options?: AbortOptions): Promise<void> {
    if (!fixed.has(this)) {
      return close.call(this, options)
    }

    try {
      return Promise.resolve(close.call(this, options)).then(toUndefined, rethrowAsError)
    } catch (err: any) {
      return Promise.reject(asError(err))
    }
  })
}

/** The original iteration, then an error if what ended it was a reset */
async function * iterateReportingReset (stream: Stream, iterate: (this: Stream) => AsyncIterator<any>): AsyncGenerator<any> {
  yield * { [Symbol.asyncIterator]: () => iterate.call(stream) }

  // the bytes sent before the reset were all delivered; the end was not
  if (stream.status === 'reset') {
    throw new StreamResetError('The remote reset the stream')
  }
}

function toUndefined (): undefined {
  return undefined
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
