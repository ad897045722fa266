import type { Connection, Stream } from '@libp2p/interface'

/**
 * Lets this package see a connection's new inbound streams before libp2p
 * negotiates them.
 *
 * libp2p has no hook between the muxer's new stream and the negotiation
 * (multistream-select, a peer store merge, a logger, the handler), which is
 * where a peer that opens and resets streams as fast as it can spends the
 * listener's time. The muxer announces each new inbound stream with
 * `safeDispatchEvent('stream', …)` (`@libp2p/utils` 7.x
 * `AbstractStreamMuxer.onRemoteStream`, early streams included); that call is
 * wrapped on the connection's muxer, so a refused stream is never announced.
 *
 * Relies on, not public API (checked by `test/libp2p-internals.spec.ts`): the
 * `muxer` a connection carries, and its `safeDispatchEvent`.
 * Delete when libp2p offers a gate on new inbound streams.
 */

/** What decides on a new inbound stream: `false` refuses it (the gate's owner resets it) */
export type StreamGate = (stream: Stream, connection: Connection) => boolean

interface MuxerLike {
  safeDispatchEvent(type: string, detail?: { detail?: unknown }): boolean
}

/** Muxers already gated */
const gated = new WeakSet<object>()

/**
 * Calls `gate` with every new inbound stream of `connection` before libp2p
 * negotiates it; a stream refused is not announced. Returns `false` when the
 * connection has no muxer of the expected shape (it is then left alone).
 * Cheap to call again for the same connection.
 */
export function gateNewStreams (connection: Connection, gate: StreamGate): boolean {
  const muxer: unknown = (connection as { muxer?: unknown }).muxer

  if (muxer == null || typeof muxer !== 'object' || typeof (muxer as Partial<MuxerLike>).safeDispatchEvent !== 'function') {
    return false
  }

  if (gated.has(muxer)) {
    return true
  }

  const announce = (muxer as MuxerLike).safeDispatchEvent

  // on the instance: only this connection's streams pass through the gate
  ;(muxer as MuxerLike).safeDispatchEvent = function (this: MuxerLike, type: string, detail?: { detail?: unknown }): boolean {
    if (type === 'stream' && detail?.detail != null && !gate(detail.detail as Stream, connection)) {
      return false
    }

    return announce.call(this, type, detail)
  }
  gated.add(muxer)

  return true
}
