import { fixed, install } from './install.ts'
import type { Stream } from '@libp2p/interface'

/**
 * Lets a reader that starts late still see the end of a stream.
 *
 * js-libp2p streams (and helpers such as `byteStream`) learn that the remote
 * closed its write side from the `remoteCloseWrite` event, which fires once.
 * A stream waiting in a backlog has no reader yet, so a reader that starts
 * after the remote half-closed would receive the buffered bytes and then wait
 * forever. For such a stream, a `remoteCloseWrite` listener added after the
 * fact is called once, after the buffered bytes have gone to the `message`
 * listeners, exactly as if it had been there all along.
 *
 * Nothing here polls: with bytes still buffered the call waits for the
 * stream's one-shot `end` event, which fires once they have all been
 * dispatched; a reader that paused the stream first simply waits until it
 * resumes.
 */
export function seeEndWhenReadLate (stream: Stream): void {
  install(stream, 'addEventListener', wrapAddEventListener)
}

function wrapAddEventListener (addEventListener: (this: Stream, ...args: any[]) => void): (this: Stream, ...args: any[]) => void {
  return function (this: Stream, type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void {
    addEventListener.call(this, type, listener, options)

    if (type !== 'remoteCloseWrite' || listener == null || this.remoteWriteStatus !== 'closed' || !fixed.has(this)) {
      return
    }

    replayWhenRead(this, addEventListener, listener)
  }
}

/** Calls `listener` as if `remoteCloseWrite` had fired after the bytes buffered so far were dispatched */
function replayWhenRead (stream: Stream, addEventListener: (this: Stream, ...args: any[]) => void, listener: EventListenerOrEventListenerObject): void {
  const replay = (): void => {
    // the reader may have stopped listening in the meantime
    if (stream.listenerCount('remoteCloseWrite') === 0) {
      return
    }

    const event = new Event('remoteCloseWrite')

    if (typeof listener === 'function') {
      listener.call(stream, event)
    } else {
      listener.handleEvent(event)
    }
  }

  if (stream.readBufferLength > 0 && !stream.readableEnded) {
    // `end` follows the dispatch of the last buffered bytes
    addEventListener.call(stream, 'end', replay, { once: true })
  } else {
    queueMicrotask(replay)
  }
}
