import { install } from './install.ts'
import type { Stream } from '@libp2p/interface'

/**
 * Tells of each chunk a stream receives, read or not: a stream waiting in a
 * backlog is paused, and libp2p has no public event for the bytes it
 * buffers then. Its muxer hands it every chunk through `onData` (libp2p's
 * `AbstractMessageStream`, not public API), so that method is wrapped once
 * per stream class (see `install.ts`) and tells the watcher of a watched
 * stream after the class's own has buffered the chunk.
 */

/** Each watched stream's watcher. Counted apart, so the hook costs one comparison while nothing is watched */
const watchers = new WeakMap<object, () => void>()
let watching = 0

/** Calls `onChunk` after each chunk `stream` receives, until {@link unwatchData} */
export function watchData (stream: Stream, onChunk: () => void): void {
  if (!watchers.has(stream)) {
    watching++
  }

  watchers.set(stream, onChunk)
  install(stream, 'onData', wrapOnData)
}

/** Stops calling `onChunk`, if it is still the stream's watcher */
export function unwatchData (stream: Stream, onChunk: () => void): void {
  if (watchers.get(stream) === onChunk) {
    watchers.delete(stream)
    watching--
  }
}

/** The class-level `onData` hook: the original, then the watcher, if any */
function wrapOnData (onData: (this: Stream, data: unknown) => void): (this: Stream, data: unknown) => void {
  return function (this: Stream, data: unknown): void {
    onData.call(this, data)

    if (watching > 0) {
      watchers.get(this)?.()
    }
  }
}
