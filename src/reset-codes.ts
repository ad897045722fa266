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

const LIMIT = LIBP2P_RESET_CODES.RESOURCE_LIMIT_EXCEEDED

/** One entry of {@link DROP_REASONS} */
export interface DropReasonInfo {
  /** The reset code the opener gets */
  code: number
  /** When a stream is dropped for it */
  means: string
}

/** Types the table while keeping its keys, the `DropReason` names */
function table <K extends string> (reasons: Record<K, DropReasonInfo>): Readonly<Record<K, Readonly<DropReasonInfo>>> {
  return reasons
}

/**
 * Every reason this package resets an inbound stream without yielding it,
 * with what it means and the reset code the opener gets: the one list the
 * `DropReason` type, `stats().dropReasons`, the metrics and
 * {@link DROP_RESET_CODES} are made from.
 *
 * Every limit is go-libp2p's `RESOURCE_LIMIT_EXCEEDED` (0x1002), which a
 * go-libp2p opener reads as `network.StreamError{ErrorCode: 0x1002}`; the
 * reasons go-libp2p has no code for get codes of this package's own,
 * 0x4C53xxxx ("LS"), outside the range libp2p reserves (0 to 5000).
 */
export const DROP_REASONS = table({
  'backlog-full': { code: LIMIT, means: 'its lane was full and its network group and peer already held their fair share of it' },
  evicted: { code: LIMIT, means: 'it was queued, and made room for a stream from a network group (or peer) holding fewer slots' },
  'peer-limit': { code: LIMIT, means: 'its peer already held `maxPerPeer` slots of the lane' },
  'stream-limit': { code: LIMIT, means: 'its peer already had `maxInboundStreams` streams open for the protocol' },
  'bytes-limit': { code: LIMIT, means: 'the queued streams held more than `maxQueuedBytes`, and it held the most' },
  expired: { code: 0x4C530001, means: 'it waited longer than `maxQueueAge`' },
  'match-error': { code: 0x4C530002, means: "a lane's `match` threw for it" },
  closed: { code: 0x4C530003, means: 'it was still queued, or still negotiating, when the `accept` ended' }
})

type Reason = keyof typeof DROP_REASONS

/**
 * The reset code this package sends with each drop reason (see
 * {@link DROP_REASONS}).
 */
export const DROP_RESET_CODES = Object.fromEntries(
  Object.entries(DROP_REASONS).map(([reason, { code }]) => [reason, code])
) as Readonly<Record<Reason, number>>

/** go-libp2p's name for a code, when it has one */
export const CODE_NAMES = new Map<number, string>(Object.entries(LIBP2P_RESET_CODES).map(([name, code]) => [code, name]))

/** Drop reasons by code, for the codes that belong to one reason only (this package's own) */
export const CODE_REASONS = new Map<number, Reason>()

for (const [reason, code] of Object.entries(DROP_RESET_CODES) as Array<[Reason, number]>) {
  if (!CODE_NAMES.has(code)) {
    CODE_REASONS.set(code, reason)
  }
}
