import { gateNewStreams } from '../libp2p-fixes/index.ts'
import { LIBP2P_RESET_CODES } from '../reset-codes.ts'
import { networkGroup } from './network-group.ts'
import type { StreamMetrics } from '../metrics.ts'
import type { ConnectionEvents } from '../types/options.ts'
import type { Connection, Logger } from '@libp2p/interface'

/**
 * The node-wide bound on how fast inbound streams may be opened, on any
 * protocol, checked on the muxer's new stream before libp2p negotiates it:
 * a token bucket per connection (`rate` a second) and one per network group
 * ({@link GROUP_RATES} × `rate`), a stream taking a token from both.
 *
 * A peer that opens and resets streams as fast as it can costs the listener a
 * negotiation, a peer store merge and a handler call per stream, whichever
 * protocol it names and whether or not anything accepts it; measured, that
 * multiplied an honest peer's p99 by ten (`benchmarks/scenarios/churn.js`). A
 * stream over the bound is reset at once with go-libp2p's `RATE_LIMITED`
 * code (0x1003), so its opener gets a `RemoteResetError` and nothing is
 * negotiated: over yamux the stream is refused at its first frame, before
 * the muxer makes a stream of it (`libp2p-fixes/new-streams.ts`).
 *
 * Per connection, so that a flooding peer does not take the rate of an
 * honest peer in its network (a trusted peer next to it keeps being
 * accepted); per group as well, because peer ids and their connections cost
 * a flooder little: many ids from one network get {@link GROUP_RATES} × the
 * rate of one in all.
 *
 * The connection is not paused on top (TCP backpressure): measured, a pause
 * also holds back the resets of the streams it already admitted, and the
 * application's workers serving those waited out the pause (an honest
 * peer's p99 under churn 31 ms with 20 ms pauses, 122 ms with 100 ms; 16 ms
 * without).
 *
 * Holds a bucket per connection (with the connection, in a `WeakMap`) and
 * one per group that opened a stream lately (a full bucket is forgotten,
 * which changes nothing); no timer.
 */
export class OpenRateLimit {
  /** Streams refused so far */
  refused = 0
  private readonly rate: number
  private readonly connections = new WeakMap<Connection, Bucket>()
  private readonly groupBuckets = new Map<string, Bucket>()
  private sweepAt = MIN_SWEEP
  private events?: ConnectionEvents
  private readonly onConnection = (evt: CustomEvent<Connection>): void => { this.watch(evt.detail) }

  /**
   * @param rate - streams per second a connection may open; `Infinity` is no bound
   */
  constructor (rate: number, private readonly log: Logger, private readonly metrics: StreamMetrics) {
    this.rate = rate
  }

  /** Whether there is a bound at all */
  get enabled (): boolean {
    return Number.isFinite(this.rate)
  }

  /** Network groups with a bucket (those that opened streams lately) */
  get groups (): number {
    return this.groupBuckets.size
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
    this.groupBuckets.clear()
  }

  private watch (connection: Connection): void {
    if (!gateNewStreams(connection, conn => this.admit(conn), LIBP2P_RESET_CODES.RATE_LIMITED, RATE_LIMITED)) {
      this.log('stream open rate not bounded on %a: its muxer cannot be gated', connection.remoteAddr)
    }
  }

  /** Takes a token for a new stream from its connection and its network group, or says it is refused (and counts it) */
  admit (connection: Connection, now = performance.now()): boolean {
    if (this.events == null) {
      return true
    }

    const group = networkGroup(connection.remoteAddr)
    let own = this.connections.get(connection)
    let shared = this.groupBuckets.get(group)

    if (own == null) {
      own = fullBucket(this.rate, now)
      this.connections.set(connection, own)
    }

    if (shared == null) {
      shared = fullBucket(GROUP_RATES * this.rate, now)
      this.groupBuckets.set(group, shared)
      this.sweep(now)
    }

    const connectionMay = refill(own, this.rate, now)
    const groupMay = refill(shared, GROUP_RATES * this.rate, now)

    if (connectionMay && groupMay) {
      own.tokens -= 1
      shared.tokens -= 1
      return true
    }

    if (this.refused++ % LOG_EVERY === 0) {
      this.log('refused a stream from %p on %a: its %s opens streams faster than %d/s (%d refused in all)', connection.remotePeer, connection.remoteAddr,
        connectionMay ? `network group ${group}` : 'connection', connectionMay ? GROUP_RATES * this.rate : this.rate, this.refused)
    }

    this.metrics.onRateLimited()

    return false
  }

  /** Forgets full group buckets, when there are twice as many as after the last sweep */
  private sweep (now: number): void {
    if (this.groupBuckets.size < this.sweepAt) {
      return
    }

    const rate = GROUP_RATES * this.rate

    for (const [group, bucket] of this.groupBuckets) {
      if (bucket.tokens + (now - bucket.at) * rate / 1000 >= burstOf(rate)) {
        this.groupBuckets.delete(group)
      }
    }

    this.sweepAt = Math.max(MIN_SWEEP, this.groupBuckets.size * 2)
  }
}

/** A network group may open this many times the streams a connection may */
export const GROUP_RATES = 4
/** A quiet bucket may give this many seconds' worth of its rate at once */
export const BURST_SECONDS = 2
/** One log line per this many refusals: a flood must not flood the log */
const LOG_EVERY = 1000
/** Group buckets kept before the first sweep */
const MIN_SWEEP = 64

/** The reason given to `abort()` for a refused stream that was made before it was refused (not over yamux): only the local side sees it, the opener gets the code */
const RATE_LIMITED = Object.assign(new Error('Inbound stream refused: its connection or network group opens streams faster than maxInboundStreamRate allows'), { name: 'RateLimitedError' })

interface Bucket {
  /** Streams that may still be opened now, a fraction included */
  tokens: number
  /** When `tokens` was last brought up to date (performance.now(), ms) */
  at: number
}

function burstOf (rate: number): number {
  return Math.max(1, BURST_SECONDS * rate)
}

function fullBucket (rate: number, now: number): Bucket {
  return { tokens: burstOf(rate), at: now }
}

/** Brings `bucket` up to `now` at `rate` a second; whether it holds a token */
function refill (bucket: Bucket, rate: number, now: number): boolean {
  bucket.tokens = Math.min(burstOf(rate), bucket.tokens + (now - bucket.at) * rate / 1000)
  bucket.at = now
  return bucket.tokens >= 1
}
