import { compactWhilePaused, stopCompacting } from './compact-read-buffer.ts'
import { Block, SMALL, copy } from './small-chunks.ts'
import { windowLeft } from './window.ts'
import type { Chunk } from './small-chunks.ts'
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/** Per-stream read-ahead limits that differ from the default */
const limits = new WeakMap<Stream, number>()

/** Sets how many bytes `stream`'s reader may have received and not yet taken */
export function setReadAhead (stream: Stream, limit: number, defaultLimit: number): void {
  if (limit !== defaultLimit || limits.has(stream)) {
    limits.set(stream, limit)
  }
}

/**
 * Iterates a stream with a bound on what it buffers ahead of the reader.
 *
 * A js-libp2p stream's own iterator (`@libp2p/utils` 7.x) pushes every
 * received chunk into a queue of its own without limit, and the muxer grants
 * the remote more window as the bytes arrive, not as they are read: a reader
 * that stops pulling (an echo loop waiting for a remote that never reads)
 * holds all the remote sends (seen: 128 MiB sent, 114 MiB held). Here the
 * stream is paused once `limit` bytes wait for the reader, so the muxer stops
 * granting window, and resumed once the reader has taken half of them. While
 * paused, what the remote was granted already still arrives into libp2p's read
 * buffer, whose limit is raised to cover it so that an honest sender is never
 * reset for it, and which is compacted as it arrives (`compactWhilePaused`).
 * Chunks smaller than 2 KiB are copied (into 16 KiB blocks while they wait
 * for the reader), so a remote sending one-byte frames makes it hold bytes,
 * not an object and a pinned socket buffer per frame.
 *
 * Otherwise it behaves as the stream's own iterator: it yields each
 * `message`, ends at the remote's half-close after what was received, and
 * throws the error a `close` event carries, after what was received.
 * Delete when libp2p's stream iterator applies backpressure.
 */
export class ReadAhead implements AsyncIterator<Chunk, undefined> {
  private readonly stream: Stream
  private readonly limit: number
  private readonly chunks: Array<Chunk | Block> = []
  private bytes = 0
  private ended = false
  private listening = false
  private error?: Error
  private reader?: PromiseWithResolvers<IteratorResult<Chunk, undefined>>
  /** It paused the stream, and must resume it */
  private paused = false

  constructor (stream: Stream, defaultLimit: number) {
    this.stream = stream
    this.limit = limits.get(stream) ?? defaultLimit

    if (stream.readStatus !== 'readable' && stream.readStatus !== 'paused') {
      this.ended = true
      return
    }

    this.listening = true
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('close', this.onClose)
    stream.addEventListener('remoteCloseWrite', this.onEnd)
  }

  [Symbol.asyncIterator] (): this {
    return this
  }

  next (): Promise<IteratorResult<Chunk, undefined>> {
    const next = this.chunks.shift()

    if (next != null) {
      const value = next instanceof Block ? next.take() : next
      this.bytes -= value.byteLength

      if (this.paused && this.bytes <= this.limit / 2) {
        this.unpause()
      }

      return Promise.resolve({ done: false, value })
    }

    if (this.ended) {
      this.stopListening()
      const error = this.error
      this.error = undefined
      return error == null ? Promise.resolve(DONE) : Promise.reject(error)
    }

    this.reader = Promise.withResolvers()
    return this.reader.promise
  }

  async return (): Promise<IteratorResult<Chunk, undefined>> {
    this.ended = true
    this.chunks.length = 0
    this.bytes = 0
    this.error = undefined
    this.stopListening()
    return DONE
  }

  async throw (err?: unknown): Promise<IteratorResult<Chunk, undefined>> {
    await this.return()
    throw err
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    const data = evt.data
    const reader = this.reader

    if (reader != null) {
      this.reader = undefined
      // a small payload may be a view into the socket's whole read buffer
      reader.resolve({ done: false, value: data.byteLength < SMALL ? copy(data) : data })
      return
    }

    this.bytes += data.byteLength

    if (data.byteLength >= SMALL) {
      this.chunks.push(data)
    } else {
      const last = this.chunks[this.chunks.length - 1]

      if (!(last instanceof Block) || !last.add(data)) {
        const block = new Block()
        block.add(data)
        this.chunks.push(block)
      }
    }

    if (this.bytes >= this.limit && this.stream.readStatus === 'readable') {
      this.pause()
    }
  }

  private readonly onClose = (evt: StreamCloseEvent): void => {
    this.finish(evt.error)
  }

  private readonly onEnd = (): void => {
    this.finish()
  }

  private finish (error?: Error): void {
    if (this.ended) {
      return
    }

    this.ended = true
    this.error = error
    const reader = this.reader

    if (reader != null) {
      this.reader = undefined
      this.stopListening()
      this.error = undefined

      if (error == null) {
        reader.resolve(DONE)
      } else {
        reader.reject(error)
      }
    }
  }

  private pause (): void {
    const { stream } = this
    this.paused = true
    stream.pause()
    compactWhilePaused(stream)

    // what the remote may still send was granted before the pause
    const granted = stream.readBufferLength + windowLeft(stream)

    if (granted > stream.maxReadBufferLength) {
      stream.maxReadBufferLength = granted
    }
  }

  private unpause (): void {
    this.paused = false
    stopCompacting(this.stream)

    if (this.stream.readStatus === 'paused') {
      this.stream.resume()
    }
  }

  private stopListening (): void {
    if (!this.listening) {
      return
    }

    this.listening = false
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('close', this.onClose)
    this.stream.removeEventListener('remoteCloseWrite', this.onEnd)

    if (this.paused) {
      this.unpause()
    }
  }
}
