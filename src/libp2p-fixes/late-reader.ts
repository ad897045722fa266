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
      // buffered bytes are dispatched in a microtask once a reader listens for
      // them: let that happen first so the end comes after the data
      if (this.readBufferLength > 0 && this.listenerCount('message') > 0) {
        queueMicrotask(replay)
        return
      }

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

    queueMicrotask(replay)
  } as Stream['addEventListener']
}
