import { MAX_DATA_FRAME } from './constants.ts'
import type { Stream } from '@libp2p/interface'

/**
 * Keeps the muxer from sending data frames larger than `MAX_DATA_FRAME`.
 *
 * Stream muxers built on libp2p's message streams cut outgoing data into
 * frames of `maxMessageSize` bytes, and js-yamux sets that to the whole send
 * window on every window update. Turning the property into one that never
 * goes above the cap keeps frames within what every yamux accepts. Streams
 * without a numeric `maxMessageSize` are left alone.
 */
export function capFrameSize (stream: Stream): void {
  const target = stream as Stream & { maxMessageSize?: number }
  let size = target.maxMessageSize

  if (typeof size !== 'number') {
    return
  }

  size = Math.min(size, MAX_DATA_FRAME)

  Object.defineProperty(target, 'maxMessageSize', {
    configurable: true,
    enumerable: true,
    get: () => size,
    set: (value: number | undefined) => {
      size = typeof value === 'number' ? Math.min(value, MAX_DATA_FRAME) : value
    }
  })
}
