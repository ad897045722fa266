import { drainEachTime } from './drain.ts'
import { capFrameSize } from './frame-size.ts'
import { seeEndWhenReadLate } from './late-reader.ts'
import type { Stream } from '@libp2p/interface'

/**
 * Works around js-libp2p stream behaviours that break what this package
 * promises, on every stream it hands out (accepted or opened): a late reader
 * sees the remote's half-close, `onDrain()` waits every time, and data frames
 * stay within what every yamux accepts. Each fix touches only this stream.
 */
export function fixStream (stream: Stream): void {
  seeEndWhenReadLate(stream)
  drainEachTime(stream)
  capFrameSize(stream)
}
