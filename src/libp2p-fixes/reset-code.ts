import { StreamResetEvent } from '@libp2p/interface'
import { remoteResetError } from '../errors.ts'
import { fixed, install } from './install.ts'
import type { RemoteResetError } from '../errors.ts'
import type { Connection, Stream } from '@libp2p/interface'

/**
 * Carries a reset code on the wire over yamux, both ways, as go-libp2p does
 * (libp2p/specs#622, #623: the code is the Length of the WindowUpdate frame
 * with the RST flag, which older readers ignore).
 *
 * `@libp2p/yamux` 8.0.3 resets with that frame and Length 0, and drops the
 * Length of one it receives. Relies on, not public API (checked by
 * `test/libp2p-internals.spec.ts`): `YamuxStream.sendReset()`, `sendFrame()`
 * and `streamId`; `YamuxMuxer.handleStreamMessage()` and `streams`; the
 * `muxer` a connection carries. Delete when js yamux sends a code given to
 * `abort()` and reports the code it receives.
 *
 * Sending acts only on streams reset through `resetWithCode`. Reading acts
 * only on connections passed to `readResetCodes`: the code of a reset on any
 * of their streams is recorded, and on a stream this package handed out the
 * reset's error becomes a `RemoteResetError` for readers and writers waiting
 * at that moment (later calls get it from `reset-is-an-error.ts`). Other
 * muxers, such as QUIC's, are left alone.
 */

/** yamux frame type and flag (yamux spec) */
const WINDOW_UPDATE = 1
const RST = 8

/**
 * A key for the options of an open (`connection.newStream`): the muxer's
 * `createStream` puts the stream it made in the {@link Opening} under it,
 * so that an open that fails while negotiating can tell a reset that said
 * why (a listener's rate limit) from any other.
 */
export const OPENING = Symbol('libp2p-stream.opening')

/** Where an open's stream is put, under {@link OPENING} */
export interface Opening {
  stream?: Stream
}

/** Streams to reset with a code, and the code */
const sendCodes = new WeakMap<object, number>()
/** Streams whose remote reset them with a non-zero code, and the code */
const receivedCodes = new WeakMap<object, number>()
/** Muxers whose incoming reset codes are read */
const reading = new WeakSet<object>()

interface YamuxFrame {
  header?: { type: number, flag: number, streamID: number, length: number }
}

interface YamuxStreamLike {
  streamId: number
  sendFrame(header: { type: number, flag: number, streamID: number, length: number }): unknown
}

interface YamuxMuxerLike {
  streams: Array<{ streamId?: number }>
}

/**
 * Resets `stream` (`stream.abort(err)`), sending `code` with the reset when the
 * stream is a yamux one. Code 0 is a plain reset.
 */
export function resetWithCode (stream: Stream, code: number, err: Error): void {
  if (code !== 0 && isYamuxStream(stream)) {
    install(stream, 'sendReset', wrapSendReset)
    sendCodes.set(stream, code)
  }

  stream.abort(err)
}

/**
 * Reads the codes of resets that arrive on `connection`'s streams, when its
 * muxer is yamux. Cheap to call again for the same connection.
 */
export function readResetCodes (connection: Connection): void {
  const muxer: unknown = (connection as { muxer?: unknown }).muxer

  if (muxer == null || typeof muxer !== 'object' || reading.has(muxer)) {
    return
  }

  if (typeof (muxer as { handleStreamMessage?: unknown }).handleStreamMessage !== 'function' || !Array.isArray((muxer as YamuxMuxerLike).streams)) {
    return
  }

  install(muxer, 'handleStreamMessage', wrapHandleStreamMessage)
  install(muxer, 'createStream', wrapCreateStream)
  reading.add(muxer)
}

/**
 * The error for an open on a connection passed to `readResetCodes`, with
 * `opening` under {@link OPENING} in its options, that failed while
 * negotiating: a `RemoteResetError` when the remote reset the stream with a
 * code, otherwise `undefined`.
 */
export function openingReset (opening: Opening): RemoteResetError | undefined {
  return opening.stream == null ? undefined : remoteReset(opening.stream)
}

/**
 * The error for `stream`, which its remote reset: a `RemoteResetError` when
 * the reset carried a code, otherwise `undefined`.
 */
export function remoteReset (stream: Stream): RemoteResetError | undefined {
  const code = receivedCodes.get(stream)

  return code == null ? undefined : remoteResetError(code)
}

function isYamuxStream (stream: object): stream is Stream & YamuxStreamLike {
  const candidate = stream as Partial<YamuxStreamLike>

  return typeof candidate.sendFrame === 'function' && typeof candidate.streamId === 'number'
}

function wrapSendReset (sendReset: (this: Stream, err: Error) => void): (this: Stream, err: Error) => void {
  return function (this: Stream, err: Error): void {
    const code = sendCodes.get(this)

    if (code === undefined || !isYamuxStream(this)) {
      sendReset.call(this, err)
      return
    }

    this.sendFrame({ type: WINDOW_UPDATE, flag: RST, streamID: this.streamId, length: code })
  }
}

type CreateStream = (this: unknown, options?: Record<PropertyKey, unknown>) => Promise<Stream>

function wrapCreateStream (createStream: CreateStream): CreateStream {
  return function (this: unknown, options?: Record<PropertyKey, unknown>): Promise<Stream> {
    const opening = options?.[OPENING] as Opening | undefined
    const created = createStream.call(this, options)

    // any other open gets the muxer's own promise
    if (opening == null) {
      return created
    }

    return created.then(stream => {
      opening.stream = stream
      return stream
    })
  }
}

function wrapHandleStreamMessage (handleStreamMessage: (this: YamuxMuxerLike, frame: YamuxFrame) => void): (this: YamuxMuxerLike, frame: YamuxFrame) => void {
  return function (this: YamuxMuxerLike, frame: YamuxFrame): void {
    const header = frame?.header

    // every frame passes here: a flag test is all a frame without RST costs
    if (header == null || (header.flag & RST) === 0 || header.type !== WINDOW_UPDATE || header.length === 0 || !reading.has(this)) {
      handleStreamMessage.call(this, frame)
      return
    }

    const stream = this.streams.find(s => s.streamId === header.streamID) as Stream | undefined

    if (stream == null) {
      handleStreamMessage.call(this, frame)
      return
    }

    receivedCodes.set(stream, header.length)

    if (!fixed.has(stream)) {
      handleStreamMessage.call(this, frame)
      return
    }

    // the reset dispatches its close event inside this call: the event that
    // ends waiting readers and writers carries the code
    const err = remoteResetError(header.length)
    const own = Object.hasOwn(stream, 'dispatchEvent')
    const dispatchEvent = stream.dispatchEvent

    stream.dispatchEvent = function (this: Stream, evt: Event): boolean {
      return dispatchEvent.call(this, isResetEvent(evt) ? new StreamResetEvent(err) : evt)
    }

    try {
      handleStreamMessage.call(this, frame)
    } finally {
      if (own) {
        stream.dispatchEvent = dispatchEvent
      } else {
        // the class's own method again
        delete (stream as { dispatchEvent?: unknown }).dispatchEvent
      }
    }
  }
}

/** A stream's `close` event for a remote reset, by shape: another copy of `@libp2p/interface` may have made it */
function isResetEvent (evt: Event): boolean {
  return evt.type === 'close' && (evt as Event & { error?: Error }).error?.name === 'StreamResetError'
}
