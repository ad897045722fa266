import { AbortError, StreamResetError } from '@libp2p/interface'
import { OpenStreamError, RemoteResetError } from '../errors.ts'
import { remoteReset } from '../libp2p-fixes/index.ts'
import type { Stream } from '@libp2p/interface'

/**
 * What `openStream` rejects with: the caller's `AbortError`, the remote's
 * own answer (`UnsupportedProtocolError`, `RemoteResetError`), or an
 * `OpenStreamError` whose `cause` says what went wrong.
 */

/**
 * The error for a stream the remote reset or closed as soon as it was
 * negotiated: a reset that said why is the error a later read would throw
 * (`RemoteResetError`), anything else an `OpenStreamError`.
 */
export function notTaken (stream: Stream): Error {
  return remoteReset(stream) ?? new OpenStreamError(`The remote ${stream.status === 'reset' ? 'reset' : 'closed'} the stream for ${stream.protocol} as soon as it was negotiated: it speaks the protocol but would not take this stream (a full backlog, a limit, or an application that gave up on it; the reset carried no code)`, {
    cause: stream.status === 'reset' ? new StreamResetError('The remote reset the stream') : undefined
  })
}

/** An error that `openStream` rejects with as it is */
export function isFinal (err: any): boolean {
  return err?.name === 'UnsupportedProtocolError' || err instanceof OpenStreamError || err instanceof RemoteResetError
}

/**
 * Turns what libp2p threw into the error `openStream` promises: the caller's
 * `AbortError`, or an `OpenStreamError` whose cause says what went wrong.
 */
export function explain (err: Error, signal: AbortSignal, aborted: AbortError | undefined, context: string): Error {
  if (signal.aborted) {
    const reason: Error = signal.reason

    if (aborted != null && reason === aborted) {
      return aborted
    }

    return new OpenStreamError(`${context}: ${reason.message}`, { cause: reason })
  }

  return new OpenStreamError(`${context}: ${err?.message ?? String(err)}`, { cause: err })
}

/**
 * The `AbortError` an aborted call rejects with; the signal's reason (a
 * `TimeoutError` from `AbortSignal.timeout()`, or the caller's own) is its
 * `cause`.
 */
export function abortError (message: string, signal?: AbortSignal): AbortError {
  const err = new AbortError(message)

  if (signal?.reason !== undefined) {
    Object.defineProperty(err, 'cause', { value: signal.reason, writable: true, configurable: true })
  }

  return err
}
