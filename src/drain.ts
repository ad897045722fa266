import { StreamStateError } from '@libp2p/interface'
import type { AbortOptions, Stream } from '@libp2p/interface'

/**
 * Makes `stream.onDrain()` wait for the next `drain` every time.
 *
 * js-libp2p's message streams keep the promise of the first `onDrain()` after
 * it resolves, so from the second time a writer is told to wait, `onDrain()`
 * returns at once: the `send() === false, await onDrain()` loop stops waiting
 * for the remote and buffers without bound. Here each call waits for a fresh
 * `drain`, and rejects if the stream closes or the signal aborts first.
 */
export function drainEachTime (stream: Stream): void {
  stream.onDrain = async function (this: Stream, options?: AbortOptions): Promise<void> {
    if (!this.writableNeedsDrain) {
      return
    }

    const signal = options?.signal
    signal?.throwIfAborted()

    await new Promise<void>((resolve, reject) => {
      const cleanUp = (): void => {
        this.removeEventListener('drain', onDrain)
        this.removeEventListener('close', onClose)
        signal?.removeEventListener('abort', onAbort)
      }
      const onDrain = (): void => {
        cleanUp()
        resolve()
      }
      const onClose = (evt: Event & { error?: Error }): void => {
        cleanUp()
        reject(evt.error ?? new StreamStateError('The stream closed while waiting for it to drain'))
      }
      const onAbort = (): void => {
        cleanUp()
        reject(signal?.reason)
      }

      this.addEventListener('drain', onDrain)
      this.addEventListener('close', onClose)
      signal?.addEventListener('abort', onAbort)
    })
  }
}
