import { resetWithCode } from './reset-code.ts'
import type { Connection, Stream } from '@libp2p/interface'

/**
 * Lets this package refuse a connection's new inbound streams before libp2p
 * negotiates them.
 *
 * libp2p has no hook between the muxer's new stream and the negotiation
 * (multistream-select, a peer store merge, a logger, the handler), which is
 * where a peer that opens and resets streams as fast as it can spends the
 * listener's time. Two ways in, both on the connection's muxer instance, so
 * only this connection's streams pass through the gate:
 *
 * - yamux (`@libp2p/yamux` 8.x): `incomingStream(id)`, called for each SYN
 * frame before any stream object exists. A refused stream gets a RST frame
 * carrying the code, as yamux itself does for streams over its own cap, and
 * is never created: the frames that follow for it are dropped as frames for
 * a missing stream. A refusal costs one frame each way. Streams that came
 * before the connection existed (the muxer's `earlyStreams`, at most 10) go
 * through the gate when it is put in place, and are reset if refused.
 * - any other muxer (`@libp2p/utils` 7.x `AbstractStreamMuxer.onRemoteStream`,
 * `@chainsafe/libp2p-quic` 2.x): `safeDispatchEvent('stream', …)`, which
 * announces each new inbound stream, early streams included; a refused
 * stream is reset and never announced.
 *
 * Relies on, not public API (checked by `test/libp2p-internals.spec.ts`): the
 * `muxer` a connection carries; yamux's `incomingStream()` and `sendFrame()`,
 * and the `earlyStreams` list of `AbstractStreamMuxer`; otherwise
 * `safeDispatchEvent`. Delete when libp2p offers a gate on new
 * inbound streams.
 */

/** Whether `connection` may have one more new inbound stream; `false` refuses it */
export type StreamGate = (connection: Connection) => boolean

/** yamux frame type and flag (yamux spec) */
const WINDOW_UPDATE = 1
const RST = 8

interface YamuxMuxerLike {
  earlyStreams?: Stream[]
  incomingStream(id: number): void
  sendFrame(header: { type: number, flag: number, streamID: number, length: number }): void
}

interface MuxerLike {
  safeDispatchEvent(type: string, detail?: { detail?: unknown }): boolean
}

/** Muxers already gated */
const gated = new WeakSet<object>()

/**
 * Calls `gate` for every new inbound stream of `connection` before libp2p
 * negotiates it; a stream refused is reset with `code` and never reaches
 * libp2p. Returns `false` when the connection has no muxer of a shape this
 * knows (it is then left alone). Cheap to call again for the same connection.
 */
export function gateNewStreams (connection: Connection, gate: StreamGate, code: number, reason: Error): boolean {
  const muxer: unknown = (connection as { muxer?: unknown }).muxer

  if (muxer == null || typeof muxer !== 'object') {
    return false
  }

  if (gated.has(muxer)) {
    return true
  }

  if (isYamux(muxer)) {
    const incomingStream = muxer.incomingStream

    muxer.incomingStream = function (this: YamuxMuxerLike, id: number): void {
      if (gate(connection)) {
        incomingStream.call(this, id)
        return
      }

      this.sendFrame({ type: WINDOW_UPDATE, flag: RST, streamID: id, length: code })
    }

    // made before the gate: libp2p announces them after this, in a microtask
    for (const early of Array.isArray(muxer.earlyStreams) ? muxer.earlyStreams : []) {
      if (!gate(connection)) {
        resetWithCode(early, code, reason)
      }
    }
  } else if (typeof (muxer as Partial<MuxerLike>).safeDispatchEvent === 'function') {
    const announce = (muxer as MuxerLike).safeDispatchEvent

    ;(muxer as MuxerLike).safeDispatchEvent = function (this: MuxerLike, type: string, detail?: { detail?: unknown }): boolean {
      if (type !== 'stream' || detail?.detail == null || gate(connection)) {
        return announce.call(this, type, detail)
      }

      resetWithCode(detail.detail as Stream, code, reason)
      return false
    }
  } else {
    return false
  }

  gated.add(muxer)
  return true
}

function isYamux (muxer: object): muxer is YamuxMuxerLike {
  const candidate = muxer as Partial<YamuxMuxerLike>

  return typeof candidate.incomingStream === 'function' && typeof candidate.sendFrame === 'function'
}
