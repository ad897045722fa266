import { MAX_DATA_FRAME } from './constants.ts'
import type { Stream } from '@libp2p/interface'

interface WindowedStream extends Stream {
  maxMessageSize?: number
  handleWindowUpdate?(frame: unknown): void
}

/**
 * Keeps js-yamux from sending data frames larger than `MAX_DATA_FRAME`.
 *
 * libp2p's message streams cut outgoing data into frames of `maxMessageSize`
 * bytes, and js-yamux raises that to the whole send window on every window
 * update. Clamping it after each update keeps frames within what every yamux
 * accepts. Streams of other muxers are left alone.
 */
export function capFrameSize (stream: Stream): void {
  const target = stream as WindowedStream
  const handleWindowUpdate = target.handleWindowUpdate

  if (typeof handleWindowUpdate !== 'function') {
    return
  }

  target.handleWindowUpdate = function (this: WindowedStream, frame: unknown): void {
    handleWindowUpdate.call(this, frame)

    if (this.maxMessageSize != null && this.maxMessageSize > MAX_DATA_FRAME) {
      this.maxMessageSize = MAX_DATA_FRAME
    }
  }
}
