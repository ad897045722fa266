/**
 * Streams that may wait for the application in one `accept` backlog.
 *
 * Enough for every peer of a swarm of 500 to have a stream waiting: with a
 * backlog of 32 (0.1.x), 300 peers in closed loops against 4 workers had
 * four streams in five reset, each refusal costing a full negotiation, and
 * who got in was luck (Jain's index 0.17, 21 exchanges/s against raw
 * js-libp2p's 405; with 1,024: 0.998 and 518/s, `benchmarks/scenarios/swarm.js`).
 * What the waiting streams hold is bounded by `maxQueuedBytes`, which charges
 * each stream its own memory ({@link QUEUED_STREAM_OVERHEAD}), not by this
 * count: 512 empty streams are charged 4 MiB of the default 8 MiB, leaving
 * the rest for what they receive, and the network-group shares decide who is
 * reset when the backlog is full.
 */
export const DEFAULT_BACKLOG = 512

/**
 * Inbound streams per connection and protocol that libp2p lets through on top
 * of the backlog, i.e. streams the application already holds.
 *
 * js-libp2p resets streams over its per-connection cap without telling the
 * opener or the handler, so the cap given to the registrar is
 * `backlog + DEFAULT_INBOUND_HEADROOM` unless the caller sets one: the
 * backlog, not libp2p, decides what is dropped, and every drop is counted.
 */
export const DEFAULT_INBOUND_HEADROOM = 32

/**
 * Outbound streams per connection and protocol.
 *
 * js-libp2p's default is 64, which fails the 65th concurrent `openStream` to
 * one peer. yamux already limits a connection to 1,000 streams, so this cap is
 * set at that bound and never the tighter one.
 */
export const DEFAULT_MAX_OUTBOUND_STREAMS = 1000

/**
 * How long protocol negotiation on a new outbound stream may take, in ms.
 *
 * The same as js-libp2p's own default; it applies because `openStream` always
 * passes a signal, which would otherwise switch libp2p's timeout off.
 */
export const DEFAULT_NEGOTIATION_TIMEOUT = 10_000

/**
 * How long a whole `openStream` may take, dial and negotiation together, in ms.
 *
 * libp2p bounds a dial per address (6 s), one address after another, and
 * not as a whole: a peer whose three addresses accept the connection and then
 * say nothing, or send a byte every 100 ms, held an open for 18.0 s
 * (measured). 10 s is libp2p's own `dialTimeout` and negotiation timeout, now
 * one bound for both: the same peer fails at 10.0 s.
 */
export const DEFAULT_OPEN_TIMEOUT = 10_000

/**
 * Inbound streams each connection may open per second, on any protocol
 * (`maxInboundStreamRate`); the connections of one network group may open
 * four times as many together, and a quiet one two seconds' worth at once.
 *
 * A peer opening and resetting streams as fast as it could (3,700 a second
 * on this project's 2-core machine) multiplied an honest peer's p99 by ten,
 * on raw js-libp2p alike: the cost is libp2p's negotiation of each stream,
 * before any handler (`benchmarks/scenarios/churn.js`). The fastest honest
 * peer measured, a closed loop of open, echo and close on loopback, makes
 * 1,000 a second: it is never refused, and a churner is held to as much.
 */
export const DEFAULT_MAX_INBOUND_STREAM_RATE = 1000

/**
 * multistream-select rejects protocol names longer than this (in bytes,
 * including the trailing newline it adds), so longer names can never be
 * negotiated and are refused up front.
 */
export const MAX_PROTOCOL_LENGTH = 1024

/** The lane of an `accept` without lanes */
export const DEFAULT_LANE = 'default'

/**
 * Memory all queued streams of one `accept` may hold together, in bytes: what
 * they received, as held in memory, and {@link QUEUED_STREAM_OVERHEAD} each.
 *
 * Queued streams are paused, so each receives at most the receive window its
 * muxer granted before it was queued (256 KiB on a fresh yamux stream); past
 * the budget the stream holding the most is reset. Measured as the node's
 * heap and array buffers after GC, an attack on a default `accept` holds at
 * most about twice this (`test/attacks/held-memory.spec.ts`).
 */
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024

/**
 * Bytes a stream handed out may have received ahead of its reader before it
 * is paused.
 *
 * js-yamux's initial stream window: the most a remote may send on a new
 * stream before the first window update, so a reader that keeps up is never
 * paused by it, and one that stops holds this much plus the window granted
 * before the pause.
 */
export const DEFAULT_MAX_READ_AHEAD = 256 * 1024

/**
 * How long a stream may wait in a backlog, in ms, before it is reset.
 *
 * Three times js-libp2p's 10 s negotiation timeout: an opener that waited
 * this long for an answer has most likely given up, and a slot it still
 * holds is one an honest peer cannot use.
 */
export const DEFAULT_MAX_QUEUE_AGE = 30_000

/**
 * What a stream waiting in an `accept` holds for itself, in bytes, before any
 * data: the muxer's stream, its listeners and log, the entry that queues it.
 *
 * Measured as heap and array buffers after garbage collection on the
 * accepting node (`benchmarks/scenarios/memory.js`: 7.4 KiB per queued stream
 * on libp2p 3.3.11, raw js-libp2p 6.6 KiB), rounded up. Every queued stream is
 * charged this much of `maxQueuedBytes` on top of what its bytes hold, so the
 * budget bounds what the queue holds, not just the payload in it.
 */
export const QUEUED_STREAM_OVERHEAD = 8 * 1024

/**
 * The oldest Node.js major version this package runs on.
 *
 * On Node.js 20, libp2p 3's streams fail with `ECONNRESET` on every open and
 * `Promise.withResolvers` (Node.js 22) is missing, so `stream()` refuses to
 * start there with an error that says so.
 */
export const MIN_NODE_VERSION = 22
