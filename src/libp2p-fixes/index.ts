/**
 * Workarounds for js-libp2p behaviours that break what this package promises,
 * one file each, acting only on the streams and connections this package
 * handles. The core calls in through this file alone.
 *
 * The per-stream ones are installed once per stream class (`install.ts`): the
 * class's method is wrapped the first time a stream of it is handed out, and
 * the wrapper acts only for streams in the `fixed` set, so a stream costs one
 * `WeakSet.add` and other streams of the class one `WeakSet` lookup per call
 * of a wrapped method (`addEventListener` only for `remoteCloseWrite`, `send`
 * only after a reset, `handleWindowUpdate` only past 1 MiB).
 *
 * Each names the versions it was seen on and what lets it be deleted. The
 * members of libp2p's classes that are no public API and that a workaround
 * reads or replaces are checked on the installed versions by
 * `test/libp2p-internals.spec.ts`, which fails naming the workaround when one
 * is gone:
 *
 * | file | behaviour (seen on libp2p 3.3.11, `@libp2p/utils` 7.x, `@libp2p/yamux` 8.0.3) | delete when |
 * | --- | --- | --- |
 * | `late-reader.ts` | `remoteCloseWrite` fires once, so a reader that starts after the remote half-closed never sees the end | a listener added after the half-close is told of it |
 * | `drain-each-time.ts` | `onDrain()` resolves at once from the second wait on, so writers buffer without bound | `onDrain()` waits for a fresh `drain` each time |
 * | `frame-size.ts` | js-yamux sends data frames as large as the send window; rust-yamux closes the connection over 1 MiB | js-yamux caps its data frames |
 * | `reset-is-an-error.ts` | a reader that starts after a remote reset sees a clean end; `send()` after it throws `StreamStateError`; `close()` can reject with a `StreamAbortEvent` | a late reader, `send()` and `close()` report the reset as an `Error` |
 * | `compact-read-buffer.ts` | a paused stream keeps each received frame as a chunk of its own, a view that may pin the socket's whole read buffer: one-byte frames hold ~150 bytes each | a paused stream stores what it receives compactly |
 * | `read-ahead.ts` | a stream's iterator queues every received chunk without limit while the muxer keeps granting window: a reader that stops pulling holds all the remote sends | the iterator applies backpressure |
 * | `watch-data.ts` | a paused stream has no public event for the bytes it receives; its class's `onData` (not public API) is hooked to tell the backlog | a stream reports what it buffers while paused |
 * | `window.ts` | js-yamux grows a stream's window to 16 MiB, beyond libp2p's 4 MiB read buffer limit, so a paused stream can hold 16 MiB or be reset for it | the window and the read buffer limit agree |
 * | `reset-code.ts` | js-yamux (`@libp2p/yamux` 8.0.3) resets with code 0 and drops the code of a reset it receives; go-libp2p sends and reads one (libp2p/specs#622) | js-yamux sends the code given to `abort()` and reports the one it receives |
 * | `new-streams.ts` | no hook between the muxer's new inbound stream and the negotiation, where a peer that opens and resets streams spends the listener's time; per connection, yamux's `incomingStream()` (refused at the SYN frame) or else the muxer's `safeDispatchEvent('stream')` is wrapped | libp2p gates new inbound streams |
 * | `early-streams.ts` | more than 10 streams opened before the listener finished setting up a connection abort it (`maxEarlyStreams`) | early streams wait instead of aborting the connection |
 * | `lazy-select.ts` (with `lazy-handshake.ts`, `lazy-methods.ts`, `lazy-answers.ts`) | `@libp2p/multistream-select` 7.0.28 ignores `negotiateFully: false` and waits a round trip before the first write; the lazy path opens on `connection.muxer` and reads the answers in the stream's `onData()` | `negotiateFully: false` pipelines the first write again |
 */

import { DEFAULT_MAX_READ_AHEAD } from '../constants.ts'
import { drainEachTime } from './drain-each-time.ts'
import { openAfterFirstStream as openFirstThenOthers } from './early-streams.ts'
import { capFrameSize } from './frame-size.ts'
import { fixed, holdsOwn } from './install.ts'
import { seeEndWhenReadLate } from './late-reader.ts'
import { openLazily as open } from './lazy-select.ts'
import { setReadAhead } from './read-ahead.ts'
import { readResetCodes } from './reset-code.ts'
import { resetIsAnError } from './reset-is-an-error.ts'
import { capWindow } from './window.ts'
import type { LazyOptions } from './lazy-handshake.ts'
import type { LazyComponents } from './lazy-select.ts'
import type { Connection, NewStreamOptions, Stream } from '@libp2p/interface'

export { compactWhilePaused, stopCompacting } from './compact-read-buffer.ts'
export type { ReadBufferCompactor } from './compact-read-buffer.ts'
export { isProven } from './early-streams.ts'
export { gateNewStreams } from './new-streams.ts'
export type { StreamGate } from './new-streams.ts'
export { canOpenLazily } from './lazy-select.ts'
export type { LazyComponents } from './lazy-select.ts'
export { OPENING, openingReset, remoteReset, resetWithCode } from './reset-code.ts'
export type { Opening } from './reset-code.ts'
export { receivable } from './window.ts'

/**
 * Opens a stream for `protocols` on `connection` (see `early-streams.ts`),
 * reading the codes of resets on the connection (see `reset-code.ts`): with
 * an `Opening` under `OPENING` in `options`, a failed open can be asked for
 * the code its stream was reset with (`openingReset`).
 */
export function openAfterFirstStream (connection: Connection, options: NewStreamOptions & { signal: AbortSignal }, protocols: string[]): Promise<Stream> {
  readResetCodes(connection)

  return openFirstThenOthers(connection, options, protocols)
}

/**
 * Applies the per-stream workarounds to a stream this package hands out
 * (accepted or opened): a late reader sees the remote's half-close,
 * `onDrain()` waits every time, and data frames stay within what every yamux
 * accepts, and a remote reset is an error on every later read, write and
 * close, carrying the reset code when `connection`'s muxer reads codes. Each
 * touches only this stream.
 *
 * Each workaround is installed once per stream class (see `install.ts`), so
 * after the first stream of a class this costs one `WeakSet.add`.
 */
export function fixStream (stream: Stream, maxReadAhead: number, connection?: Connection): void {
  if (fixed.has(stream)) {
    return
  }

  if (connection != null) {
    readResetCodes(connection)
  }

  fixed.add(stream)
  setReadAhead(stream, maxReadAhead, DEFAULT_MAX_READ_AHEAD)
  capWindow(stream, stream.maxReadBufferLength)

  const proto = Object.getPrototypeOf(stream)

  // every stream of this class is covered already
  if (ready.has(proto) && !holdsOwn(stream, PATCHED)) {
    return
  }

  seeEndWhenReadLate(stream)
  resetIsAnError(stream)
  drainEachTime(stream)
  capFrameSize(stream)

  if (proto != null) {
    ready.add(proto)
  }
}

/** The methods the workarounds above replace */
const PATCHED: readonly PropertyKey[] = ['addEventListener', Symbol.asyncIterator, 'send', 'close', 'onDrain', 'handleWindowUpdate']

/** Stream prototypes that have every workaround installed */
const ready = new WeakSet<object>()

/**
 * Opens a stream for `protocol` on `connection` lazily (see `lazy-select.ts`):
 * it resolves before the listener answered, with the workarounds above
 * applied, and the first write carries the negotiation.
 */
export async function openLazily (connection: Connection, protocol: string, components: LazyComponents, options: LazyOptions & { maxReadAhead: number }): Promise<Stream> {
  return open(connection, protocol, components, options, stream => { fixStream(stream, options.maxReadAhead, connection) })
}
