import { MAX_BLOCK } from './compact-read-buffer.ts'
import type { Stream } from '@libp2p/interface'

/**
 * The receive window a stream's remote may still use: what the muxer granted
 * and the remote has not sent yet. Read from js-yamux's `recvWindowCapacity`
 * (`@libp2p/yamux` 8.0.3; it is not public API); 0 for a muxer
 * that does not expose it. A paused stream can still receive this much.
 */
export function windowLeft (stream: Stream): number {
  const left = (stream as unknown as { recvWindowCapacity?: unknown }).recvWindowCapacity

  return typeof left === 'number' && Number.isFinite(left) && left > 0 ? left : 0
}

/**
 * Keeps a stream's receive window within `max`: js-yamux grows a stream's
 * window up to 16 MiB (its `maxStreamWindowSize`, not public API) while the
 * reader keeps up, and a stream paused after that (its reader stopped, or it
 * waits in a backlog) can still receive the whole window. libp2p resets a
 * paused stream that buffers more than its `maxReadBufferLength` (4 MiB), so
 * a window within that is one that neither holds more nor loses an honest
 * sender's bytes. A muxer without that field is left as it is.
 */
export function capWindow (stream: Stream, max: number): void {
  const yamux = stream as unknown as { maxStreamWindowSize?: unknown }

  if (typeof yamux.maxStreamWindowSize === 'number' && yamux.maxStreamWindowSize > max) {
    yamux.maxStreamWindowSize = max
  }
}

/**
 * What a stream may hold once it is paused, if its remote sends all it was
 * granted: the bytes it buffers now, the receive window its remote has not
 * used, and the one block of slack that copying them into blocks may add
 * (see `compact-read-buffer.ts`). A moved stream reserves this much of
 * `maxQueuedBytes` while it waits. For a muxer that does not expose its
 * window, only the bytes buffered; what arrives beyond them counts as any
 * queued stream's bytes do.
 */
export function receivable (stream: Stream): number {
  return stream.readBufferLength + windowLeft(stream) + MAX_BLOCK
}
