import { RemoteResetError } from './errors.ts'
import type { DropReason } from './types/index.ts'

/**
 * The stream reset codes of go-libp2p (`network.StreamErrorCode`, from
 * libp2p/specs#623), by the name go gives them. A go-libp2p peer sends
 * `RESOURCE_LIMIT_EXCEEDED` when its resource manager refuses a stream and
 * `PROTOCOL_NEGOTIATION_FAILED` when negotiation fails.
 */
export const LIBP2P_RESET_CODES = {
  /** No reason given: what every reset without a code reads as */
  NO_ERROR: 0,
  /** Protocol negotiation failed */
  PROTOCOL_NEGOTIATION_FAILED: 0x1001,
  /** A resource limit refused the stream; this package's limits send it too */
  RESOURCE_LIMIT_EXCEEDED: 0x1002,
  /** The remote rate-limits streams */
  RATE_LIMITED: 0x1003,
  /** The stream broke its protocol */
  PROTOCOL_VIOLATION: 0x1004,
  /** Another stream took its place */
  SUPPLANTED: 0x1005,
  /** The remote reclaimed the stream */
  GARBAGE_COLLECTED: 0x1006,
  /** The remote is shutting down */
  SHUTDOWN: 0x1007,
  /** A gater refused the stream */
  GATED: 0x1008,
  /** The transport could not carry the code that was meant */
  CODE_OUT_OF_RANGE: 0x1009
} as const

/**
 * The reset code this package sends with each drop reason. Every limit
 * (`backlog-full`, `evicted`, `peer-limit`, `stream-limit`, `bytes-limit`)
 * is go-libp2p's `RESOURCE_LIMIT_EXCEEDED` (0x1002), which a go-libp2p opener
 * reads as `network.StreamError{ErrorCode: 0x1002}`; the reasons go-libp2p
 * has no code for get codes of this package's own, 0x4C53xxxx ("LS"), outside
 * the range libp2p reserves (0 to 5000).
 */
export const DROP_RESET_CODES: Readonly<Record<DropReason, number>> = {
  'backlog-full': LIBP2P_RESET_CODES.RESOURCE_LIMIT_EXCEEDED,
  evicted: LIBP2P_RESET_CODES.RESOURCE_LIMIT_EXCEEDED,
  'peer-limit': LIBP2P_RESET_CODES.RESOURCE_LIMIT_EXCEEDED,
  'stream-limit': LIBP2P_RESET_CODES.RESOURCE_LIMIT_EXCEEDED,
  'bytes-limit': LIBP2P_RESET_CODES.RESOURCE_LIMIT_EXCEEDED,
  expired: 0x4C530001,
  'match-error': 0x4C530002,
  closed: 0x4C530003
}

const NAMES = new Map<number, string>(Object.entries(LIBP2P_RESET_CODES).map(([name, code]) => [code, name]))

/** Drop reasons by code, for the codes that belong to one reason only (this package's own) */
const REASONS = new Map<number, DropReason>()

for (const [reason, code] of Object.entries(DROP_RESET_CODES) as Array<[DropReason, number]>) {
  if (!NAMES.has(code)) {
    REASONS.set(code, reason)
  }
}

/**
 * The error for a stream its remote reset with `code`: what reads, writes,
 * `close()` and `openStream` report for it.
 */
export function remoteResetError (code: number): RemoteResetError {
  return new RemoteResetError(code, NAMES.get(code), REASONS.get(code))
}
