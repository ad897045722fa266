import { unwatchData, watchData } from './watch-data.ts'
import type { Stream } from '@libp2p/interface'

/**
 * The largest block a queued stream's bytes are copied into. Past the first
 * blocks (1 KiB, then doubling), a stream holds at most this much more than
 * it received.
 */
export const MAX_BLOCK = 64 * 1024

const FIRST_BLOCK = 1024

/** The parts of a `Uint8ArrayList` (`uint8arraylist` 3.x) that a stream's read buffer is made of */
interface ChunkList {
  bufs: Uint8Array[]
  length: number
}

/**
 * The read buffer of a libp2p message stream (`AbstractMessageStream` of
 * `@libp2p/utils` 7.x: a `Uint8ArrayList` in `readBuffer`), or undefined for
 * a stream that does not keep one there.
 */
export function readBufferOf (stream: Stream): ChunkList | undefined {
  const list = (stream as unknown as { readBuffer?: Partial<ChunkList> }).readBuffer

  return Array.isArray(list?.bufs) && typeof list.length === 'number' ? list as ChunkList : undefined
}

/**
 * Keeps what a paused stream's read buffer holds in memory close to the bytes
 * it buffers, however its remote framed them.
 *
 * A paused libp2p stream keeps each received frame as its own chunk: a
 * `Uint8Array` view and a list slot (about 150 bytes of heap for a one-byte
 * frame), and a small payload decrypted in place is a view into the socket's
 * whole read buffer, which it keeps alive (seen with libp2p 3.3.11,
 * `@libp2p/utils` 7.4.1, yamux 8.0.x, noise 17.0.x: 300,000 one-byte frames
 * into 16 paused streams held 43 MiB for 0.29 MiB of payload). Here the
 * chunks received since the last call are copied into blocks owned by the
 * stream (1 KiB, doubling up to {@link MAX_BLOCK}) and the list holds one
 * view per block, so the stream holds its bytes plus less than one block.
 *
 * Used for the streams waiting in an `accept` only: they are paused, so
 * nothing reads the buffer while they wait, and each chunk is copied once.
 * Delete when libp2p stores what a paused stream receives compactly.
 */
export class ReadBufferCompactor {
  /** Bytes of the blocks made so far: what the buffered bytes hold in memory */
  held = 0
  /** The block being filled, and how much of it is */
  private block?: Uint8Array
  private filled = 0
  /** Leading chunks of the list that are views of blocks made here */
  private own = 0
  private lastBlock = 0

  /**
   * Copies the chunks appended to `stream`'s read buffer since the last call
   * into blocks, and returns `held`. For a stream without a read buffer of
   * that shape, what it buffers is all that can be told.
   */
  compact (stream: Stream): number {
    const list = readBufferOf(stream)

    if (list == null) {
      this.held = stream.readBufferLength
      return this.held
    }

    const { bufs } = list

    if (bufs.length < this.own) {
      // the buffer was emptied (the stream was aborted): start over
      this.own = 0
      this.block = undefined
      this.held = 0
    }

    if (bufs.length > this.own) {
      for (const chunk of bufs.splice(this.own)) {
        this.append(bufs, chunk)
      }

      this.own = bufs.length
    }

    return this.held
  }

  /** Copies `chunk` to the end of the blocks, its view last in `bufs` */
  private append (bufs: Uint8Array[], chunk: Uint8Array): void {
    let offset = 0

    while (offset < chunk.byteLength) {
      if (this.block == null || this.filled === this.block.byteLength) {
        this.lastBlock = Math.min(MAX_BLOCK, Math.max(FIRST_BLOCK, this.lastBlock * 2))
        this.block = new Uint8Array(this.lastBlock)
        this.filled = 0
        this.held += this.block.byteLength
        bufs.push(this.block.subarray(0, 0))
      }

      const n = Math.min(chunk.byteLength - offset, this.block.byteLength - this.filled)
      this.block.set(n === chunk.byteLength ? chunk : chunk.subarray(offset, offset + n), this.filled)
      this.filled += n
      offset += n
      bufs[bufs.length - 1] = this.block.subarray(0, this.filled)
    }
  }
}

/** A stream being compacted, and who wants to know when it was */
interface Compacting {
  compactor: ReadBufferCompactor
  onChunk(): void
  onCompacted?(): void
}

/** The streams being compacted */
const compacting = new WeakMap<object, Compacting>()

/**
 * Copies what `stream` has buffered, and each chunk it receives from now on,
 * into blocks of its own (see {@link ReadBufferCompactor}), until
 * {@link stopCompacting}; `onCompacted` is called after each chunk. For a
 * paused stream only: nothing else may read the buffer meanwhile. The chunks
 * are heard through `watchData` (see `watch-data.ts`).
 */
export function compactWhilePaused (stream: Stream, onCompacted?: () => void): ReadBufferCompactor {
  let entry = compacting.get(stream)

  if (entry == null) {
    const compactor = new ReadBufferCompactor()
    const created: Compacting = {
      compactor,
      onChunk: () => {
        compactor.compact(stream)
        created.onCompacted?.()
      }
    }
    entry = created
    compacting.set(stream, entry)
    watchData(stream, entry.onChunk)
  }

  entry.onCompacted = onCompacted
  entry.compactor.compact(stream)

  return entry.compactor
}

/** Stops compacting what `stream` receives */
export function stopCompacting (stream: Stream): void {
  const entry = compacting.get(stream)

  if (entry != null) {
    compacting.delete(stream)
    unwatchData(stream, entry.onChunk)
  }
}
