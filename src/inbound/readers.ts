/** A reader waiting for the next item */
export type Reader<T> = (result: IteratorResult<T, undefined>) => void

/**
 * Readers waiting for an item, served first come first served; a reader
 * whose signal aborts leaves the line without taking anything.
 */
export class Readers<T> {
  private readonly line: Array<Reader<T>> = []

  get size (): number {
    return this.line.length
  }

  /** The longest-waiting reader, taken out of the line */
  take (): Reader<T> | undefined {
    return this.line.shift()
  }

  /** Every reader, taken out of the line */
  takeAll (): Array<Reader<T>> {
    return this.line.splice(0)
  }

  /**
   * Waits in line for an item; rejects with the signal's reason, out of the
   * line, if `signal` aborts first.
   */
  wait (signal?: AbortSignal): Promise<IteratorResult<T, undefined>> {
    if (signal?.aborted === true) {
      return Promise.reject(signal.reason)
    }

    // not async: one promise per wait, as a raw handler pays none
    if (signal == null) {
      const { promise, resolve } = Promise.withResolvers<IteratorResult<T, undefined>>()
      this.line.push(resolve)
      return promise
    }

    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.line.indexOf(reader)

        if (index !== -1) {
          this.line.splice(index, 1)
        }

        reject(signal.reason)
      }
      const reader: Reader<T> = result => {
        signal.removeEventListener('abort', onAbort)
        resolve(result)
      }

      this.line.push(reader)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}
