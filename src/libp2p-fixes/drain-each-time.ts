import { StreamStateError } from '@libp2p/interface'
import { fixed, install } from './install.ts'
import type { AbortOptions, Stream } from '@libp2p/interface'

/**
 * Bytes a writer may queue on a stream from this package before
 * `stream.onDrain()` makes it wait for the remote.
 *
 * Waiting as soon as the send window is used up leaves the link idle while
 * the writer wakes up after each window update (measured on TCP: 0.70 of the
 * throughput of a writer that never waits; 0.76 with 1 MiB queued ahead; the
 * same throughput with 4 MiB). 4 MiB is also what libp2p lets a reader buffer
 * (`maxReadBufferLength`), so each side of a stream holds at most that much.
 */
export const WRITE_AHEAD = 4 * 1024 * 1024

/**
 * Chunks a writer may queue before `stream.onDrain()` makes it wait, however
 * few bytes they hold: each queued chunk is an object of its own, so an echo
 * of one-byte frames to a remote that never reads would otherwise queue
 * millions of them within `WRITE_AHEAD` (about 150 bytes each).
 */
export const WRITE_AHEAD_CHUNKS = 4096

/** The chunks queued in a stream's write buffer (a `Uint8ArrayList` in `writeBuffer`, `@libp2p/utils` 7.x) */
function queuedChunks (stream: Stream): number {
  const bufs = (stream as unknown as { writeBuffer?: { bufs?: unknown } }).writeBuffer?.bufs

  return Array.isArray(bufs) ? bufs.length : 0
}

/** Whether a writer must wait before queueing more */
function mustWait (stream: Stream): boolean {
  return stream.writableNeedsDrain && (stream.writeBufferLength >= WRITE_AHEAD || queuedChunks(stream) >= WRITE_AHEAD_CHUNKS)
}

/**
 * Makes `stream.onDrain()` hold the writer back every time it has more than
 * `WRITE_AHEAD` bytes, or `WRITE_AHEAD_CHUNKS` chunks, waiting.
 *
 * js-libp2p's message streams keep the promise of the first `onDrain()` after
 * it resolves, so from the second time a writer is told to wait, `onDrain()`
 * returns at once: the `send() === false, await onDrain()` loop stops waiting
 * for the remote and buffers without bound. Here a call waits, whenever the
 * stream has `WRITE_AHEAD` bytes or `WRITE_AHEAD_CHUNKS` chunks or more
 * queued, for a `drain` after which it has fewer (libp2p also fires `drain`
 * on every stream when the connection's socket drains, whether or not the
 * stream can send), and rejects if the stream closes or the signal aborts
 * first. Below that it
 * returns at once, so data is ready the moment the remote opens its window
 * again instead of the link idling until the writer wakes up.
 */
export function drainEachTime (stream: Stream): void {
  install(stream, 'onDrain', wrapOnDrain)
}

function wrapOnDrain (onDrain: (this: Stream, options?: AbortOptions) => Promise<void>): (this: Stream, options?: AbortOptions) => Promise<void> {
  return function (this: Stream, options?: AbortOptions): Promise<void> {
    return fixed.has(this) ? waitForDrain(this, options) : onDrain.call(this, options)
  }
}

/** `onDrain()` of a stream from this package */
async function waitForDrain (stream: Stream, options?: AbortOptions): Promise<void> {
  if (!mustWait(stream)) {
    return
  }

  const signal = options?.signal
  signal?.throwIfAborted()

  await new Promise<void>((resolve, reject) => {
    const cleanUp = (): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const onDrain = (): void => {
      // the stream sends what it can once this event is handled
      queueMicrotask(() => {
        if (!mustWait(stream)) {
          cleanUp()
          resolve()
        }
      })
    }
    const onClose = (evt: Event & { error?: Error }): void => {
      cleanUp()
      reject(evt.error ?? new StreamStateError('The stream closed while waiting for it to drain'))
    }
    const onAbort = (): void => {
      cleanUp()
      reject(signal?.reason)
    }

    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
  })
}
