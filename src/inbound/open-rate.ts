import { gateNewStreams, resetWithCode } from '../libp2p-fixes/index.ts'
import { LIBP2P_RESET_CODES } from '../reset-codes.ts'
import { networkGroup } from './network-group.ts'
import type { StreamMetrics } from '../metrics.ts'
import type { ConnectionEvents } from '../types/options.ts'
import type { Connection, Logger, Stream } from '@libp2p/interface'

/**
 * The node-wide bound on how fast each network group may open inbound
 * streams, on any protocol: a token bucket per group, checked on the muxer's
 * new stream before libp2p negotiates it.
 *
 * A peer that opens and resets streams as fast as it can costs the listener a
 * negotiation, a peer store merge and a handler call per stream, whichever
 * protocol it names and whether or not anything accepts it; measured, that
 * multiplied an honest peer's p99 by ten (`benchmarks/scenarios/churn.js`). A
 * stream over the bound is reset at once with go-libp2p's `RATE_LIMITED`
 * code (0x1003), so its opener gets a `RemoteResetError` and nothing is
 * negotiated: a refusal costs the listener a yamux frame each way.
 *
 * The connection is not paused on top (TCP backpressure): measured, a pause
 * also holds back the resets of the streams it already admitted, and the
 * application's workers serving those waited out the pause (an honest
 * peer's p99 under churn 31 ms with 20 ms pauses, 122 ms with 100 ms; 16 ms
 * without).
 *
 * Holds a bucket per group that opened a stream lately (a full bucket is
 * forgotten, which changes nothing); no timer.
 */
export class OpenRateLimit {
  /** Streams refused so far */
  refused = 0
  private readonly rate: number
  private readonly burst: number
  private readonly buckets = new Map<string, Bucket>()
  private sweepAt = MIN_SWEEP
  private events?: ConnectionEvents
  private readonly onConnection = (evt: CustomEvent<Connection>): void => { this.watch(evt.detail) }

  /**
   * @param rate - streams per second each network group may open; `Infinity` is no bound
   * @param burst - streams a group may open at once after a quiet spell
   */
  constructor (rate: number, burst: number, private readonly log: Logger, private readonly metrics: StreamMetrics) {
    this.rate = rate
    this.burst = burst
  }

  /** Whether there is a bound at all */
  get enabled (): boolean {
    return Number.isFinite(this.rate)
  }

  /** Network groups with a bucket (those that opened streams lately) */
  get groups (): number {
    return this.buckets.size
  }

  /** Gates every connection the node has and will have */
  start (events: ConnectionEvents | undefined, connections: Connection[]): void {
    if (!this.enabled || events == null) {
      return
    }

    this.events = events
    events.addEventListener('connection:open', this.onConnection)
    connections.forEach(connection => { this.watch(connection) })
  }

  /** Stops gating: the gates installed let everything through */
  stop (): void {
    this.events?.removeEventListener('connection:open', this.onConnection)
    this.events = undefined
    this.buckets.clear()
  }

  private watch (connection: Connection): void {
    if (!gateNewStreams(connection, (stream, conn) => this.admit(stream, conn))) {
      this.log('stream open rate not bounded on %a: its muxer cannot be gated', connection.remoteAddr)
    }
  }

  /** Takes a token from the stream's network group, or refuses the stream */
  admit (stream: Stream, connection: Connection, now = performance.now()): boolean {
    if (this.events == null) {
      return true
    }

    const group = networkGroup(connection.remoteAddr)
    let bucket = this.buckets.get(group)

    if (bucket == null) {
      bucket = { tokens: this.burst, at: now }
      this.buckets.set(group, bucket)
      this.sweep(now)
    } else {
      bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.rate / 1000)
      bucket.at = now
    }

    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return true
    }

    if (this.refused++ % LOG_EVERY === 0) {
      this.log('network group %s opens streams faster than %d/s: refused one from %p on %a (%d refused in all)', group, this.rate, connection.remotePeer, connection.remoteAddr, this.refused)
    }

    this.metrics.onRateLimited()
    resetWithCode(stream, LIBP2P_RESET_CODES.RATE_LIMITED, RATE_LIMITED)

    return false
  }

  /** Forgets full buckets, when there are twice as many as after the last sweep */
  private sweep (now: number): void {
    if (this.buckets.size < this.sweepAt) {
      return
    }

    for (const [group, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.rate / 1000 >= this.burst) {
        this.buckets.delete(group)
      }
    }

    this.sweepAt = Math.max(MIN_SWEEP, this.buckets.size * 2)
  }
}

/** One log line per this many refusals: a flood must not flood the log */
const LOG_EVERY = 1000
/** Buckets kept before the first sweep */
const MIN_SWEEP = 64

/** The reason given to `abort()` for a refused stream (only the local side sees it; the opener gets the code) */
const RATE_LIMITED = Object.assign(new Error('Inbound stream refused: its network group opens streams faster than maxInboundStreamRate'), { name: 'RateLimitedError' })

interface Bucket {
  /** Streams the group may still open now, a fraction included */
  tokens: number
  /** When `tokens` was last brought up to date (performance.now(), ms) */
  at: number
}
