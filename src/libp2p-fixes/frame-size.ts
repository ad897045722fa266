import { fixed, install } from './install.ts'
import type { Stream } from '@libp2p/interface'

/**
 * The largest yamux data frame payload sent on streams this package hands
 * out, in bytes.
 *
 * js-yamux sizes each data frame by the whole send window the remote granted;
 * rust-yamux grows windows past 1 MiB and closes the connection on any frame
 * body over 1 MiB (`FrameTooLarge`). 1 MiB is that limit: smaller frames cost
 * throughput (measured: 64 KiB frames gave 0.74 of the uncapped rate on TCP,
 * 1 MiB frames the same rate).
 */
export const MAX_DATA_FRAME = 1024 * 1024

interface WindowedStream extends Stream {
  maxMessageSize?: number
}

/**
 * Keeps js-yamux from sending data frames larger than `MAX_DATA_FRAME`.
 *
 * libp2p's message streams cut outgoing data into frames of `maxMessageSize`
 * bytes, and js-yamux raises that to the whole send window on every window
 * update. Clamping it after each update keeps frames within what every yamux
 * accepts. Streams of other muxers are left alone. Relies on
 * `YamuxStream.handleWindowUpdate` and `maxMessageSize` (not public API;
 * checked against `@libp2p/yamux` 8.0.3 by `test/libp2p-internals.spec.ts`).
 */
export function capFrameSize (stream: Stream): void {
  install(stream, 'handleWindowUpdate', wrapHandleWindowUpdate)
}

function wrapHandleWindowUpdate (handleWindowUpdate: (this: WindowedStream, frame: unknown) => void): (this: WindowedStream, frame: unknown) => void {
  return function (this: WindowedStream, frame: unknown): void {
    handleWindowUpdate.call(this, frame)

    if (this.maxMessageSize != null && this.maxMessageSize > MAX_DATA_FRAME && fixed.has(this)) {
      this.maxMessageSize = MAX_DATA_FRAME
    }
  }
}
