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
  const addEventListener = stream.addEventListener

  stream.addEventListener = function (this: Stream, ...args: Parameters<Stream['addEventListener']>): void {
    Reflect.apply(addEventListener, this, args)

    const [type, listener] = args

    if (type !== 'remoteCloseWrite' || listener == null || this.remoteWriteStatus !== 'closed') {
      return
    }

    const replay = (): void => {
      // the reader may have stopped listening in the meantime
      if (this.listenerCount('remoteCloseWrite') === 0) {
        return
      }

      const event = new Event('remoteCloseWrite')

      if (typeof listener === 'function') {
        listener.call(this, event)
      } else {
        listener.handleEvent(event)
      }
    }

    if (this.readBufferLength > 0 && !this.readableEnded) {
      // `end` follows the dispatch of the last buffered bytes
      Reflect.apply(addEventListener, this, ['end', replay, { once: true }])
    } else {
      queueMicrotask(replay)
    }
  } as Stream['addEventListener']
}
