/**
 * Waits for `promise`, or rejects with the signal's reason once it aborts,
 * whichever comes first. Leaves no listener on the signal behind.
 */
export async function raceSignal <T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    throw signal.reason
  }

  let onAbort: (() => void) | undefined

  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        onAbort = () => { reject(signal.reason) }
        signal.addEventListener('abort', onAbort, { once: true })
      })
    ])
  } finally {
    if (onAbort != null) {
      signal.removeEventListener('abort', onAbort)
    }
  }
}
