import { StreamResetError } from '@libp2p/interface'
import type { Stream } from '@libp2p/interface'

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
  const iterate = stream[Symbol.asyncIterator]
  const send = stream.send
  const close = stream.close

  stream[Symbol.asyncIterator] = async function * (this: Stream) {
    yield * { [Symbol.asyncIterator]: () => Reflect.apply(iterate, this, []) }

    // the bytes sent before the reset were all delivered; the end was not
    if (this.status === 'reset') {
      throw new StreamResetError('The remote reset the stream')
    }
  } as Stream[typeof Symbol.asyncIterator]

  stream.send = function (this: Stream, data) {
    if (this.status === 'reset') {
      throw new StreamResetError('Cannot write: the remote reset the stream')
    }

    return Reflect.apply(send, this, [data])
  }

  stream.close = async function (this: Stream, options) {
    try {
      await Reflect.apply(close, this, [options])
    } catch (err: any) {
      throw asError(err)
    }
  }
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
