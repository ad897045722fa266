import type { Stream } from '@libp2p/interface'

/**
 * Small chunks as bytes of their own, for `read-ahead.ts`: a received chunk
 * is an object of its own, and a small one may be a view into the socket's
 * whole read buffer (noise decrypts messages under ~1,200 bytes in place), so
 * a remote sending one-byte frames would make a reader's queue hold an object
 * and a pinned socket buffer per byte.
 */

/** What a stream's iterator yields (a `Uint8Array` or a `Uint8ArrayList`), from libp2p's own type */
export type Chunk = Parameters<Stream['send']>[0]

/**
 * Chunks smaller than this are copied: into a block rather than kept as
 * objects of their own while they wait, and into a buffer of their own when
 * handed to a waiting reader. noise decrypts messages under ~1,200 bytes in
 * place, so such a chunk may be a view that keeps the socket's whole read
 * buffer alive for as long as the application keeps it.
 */
export const SMALL = 2048

/** The size of a block small chunks are copied into */
const BLOCK = 16 * 1024

/** `chunk`'s bytes in a buffer of their own */
export function copy (chunk: Chunk): Uint8Array {
  return chunk.slice()
}

/** Small chunks copied together, yielded as one */
export class Block {
  readonly bytes = new Uint8Array(BLOCK)
  filled = 0

  /** Copies `chunk` in; false when it does not fit */
  add (chunk: Chunk): boolean {
    if (this.filled + chunk.byteLength > BLOCK) {
      return false
    }

    for (const buf of chunk instanceof Uint8Array ? [chunk] : chunk) {
      this.bytes.set(buf, this.filled)
      this.filled += buf.byteLength
    }

    return true
  }

  /** The bytes copied in: a view when they fill most of the block, else a copy, so a reader keeping them pins no more */
  take (): Uint8Array {
    return this.filled > BLOCK / 2 ? this.bytes.subarray(0, this.filled) : this.bytes.slice(0, this.filled)
  }
}
