import { StreamDroppedError } from '../errors.ts'
import { resetWithCode } from '../libp2p-fixes/index.ts'
import { DROP_REASONS } from '../reset-codes.ts'
import type { StreamMetrics } from '../metrics.ts'
import type { DropReason, DroppedStream, GoneReason, IncomingStats, LaneStats } from '../types/incoming.ts'
import type { Connection, Logger, Stream, StreamCloseEvent } from '@libp2p/interface'

const GONE_REASONS: GoneReason[] = ['remote-reset', 'connection-closed', 'error']

/** What a ledger needs to report a drop */
export interface LedgerInit {
  protocols: readonly string[]
  log: Logger
  metrics: StreamMetrics
  onDrop?(drop: DroppedStream): void
}

/** A stream being dropped, and where it stood */
export interface Drop {
  stream: Stream
  connection: Connection
  reason: DropReason
  lane?: string
  moved?: boolean
  /** Details for the log line */
  message?: string
}

/** A lane as the ledger reports it: its name, size and what waits in it now */
export interface LaneView {
  name: string
  capacity: number
  size: number
}

/** What the ledger counts for each lane */
type LaneCounts = Omit<LaneStats, 'backlog' | 'queued'>

/**
 * The fate of every stream of one `accept`: arrived, then exactly one of
 * accepted, dropped (reset by us, by reason) or gone (left unyielded), unless
 * still queued; and the same counters lane by lane. Drops are reset here,
 * counted, logged, measured and told to `onDrop`, so none of them is silent.
 */
export class Ledger {
  arrived = 0
  accepted = 0
  /** Moved streams that left their lane unyielded again, without a reset by us */
  movedGone = 0
  readonly dropReasons = Object.fromEntries(Object.keys(DROP_REASONS).map(r => [r, 0])) as Record<DropReason, number>
  readonly goneReasons = Object.fromEntries(GONE_REASONS.map(r => [r, 0])) as Record<GoneReason, number>
  private readonly init: LedgerInit
  private readonly dropErrors = new Map<DropReason, StreamDroppedError>()
  private readonly lanes = new Map<string, LaneCounts>()

  constructor (init: LedgerInit) {
    this.init = init
  }

  get dropped (): number {
    return sum(this.dropReasons)
  }

  get goneCount (): number {
    return sum(this.goneReasons)
  }

  countAccepted (protocol: string, lane: string): void {
    this.accepted++
    this.lane(lane).accepted++
    this.init.metrics.onAccepted(protocol, lane)
  }

  /** A stream was handed to `lane` with `move()` */
  countMoved (lane: string): void {
    this.lane(lane).moved++
  }

  /**
   * Why a stream closed by itself, queued or before it was handled: its
   * remote reset it, or its transport went away (nothing here closes such a
   * stream's write side, so a clean close means that), or something failed.
   * Counted by reason and in its lane's `gone`, or in `movedGone` for a
   * `moved` stream, which was accepted already.
   */
  gone (stream: Stream, connection: Connection, evt: StreamCloseEvent, moved: boolean, lane?: string): GoneReason {
    let reason: GoneReason = 'error'

    if (stream.status === 'reset') {
      reason = 'remote-reset'
    } else if (evt.error == null || connection.status !== 'open') {
      reason = 'connection-closed'
    }

    if (moved) {
      this.movedGone++
    } else {
      this.goneReasons[reason]++

      if (lane != null) {
        this.lane(lane).gone++
      }
    }

    return reason
  }

  /** The counters of the whole `accept`, with what waits now and each lane's own */
  stats (waiting: { size: number, requeued: number, bytes: number, charged: number }, lanes: readonly LaneView[]): IncomingStats {
    const requeued = waiting.requeued
    let moved = 0

    for (const counts of this.lanes.values()) {
      moved += counts.moved
    }

    return {
      arrived: this.arrived,
      queued: waiting.size - requeued,
      accepted: this.accepted,
      dropped: this.dropped,
      gone: this.goneCount,
      requeued,
      movedGone: this.movedGone,
      moved,
      queuedBytes: waiting.bytes,
      heldBytes: waiting.charged,
      dropReasons: { ...this.dropReasons },
      goneReasons: { ...this.goneReasons },
      lanes: Object.fromEntries(lanes.map(lane => [lane.name, { backlog: lane.capacity, queued: lane.size, ...this.lane(lane.name) }]))
    }
  }

  /**
   * Resets the stream and records why. A moved stream was counted as
   * accepted already, so it is reported but not counted again.
   */
  drop ({ stream, connection, reason, lane, moved = false, message }: Drop): void {
    if (!moved) {
      this.dropReasons[reason]++
      this.init.metrics.onDropped(stream.protocol, lane, reason)

      if (lane != null) {
        this.lane(lane).dropped++
      }
    }

    const err = this.dropError(reason)
    this.init.log('resetting stream %s from %p for %s: %s (code 0x%s)%s', stream.id, connection.remotePeer, stream.protocol, reason, err.code.toString(16), message == null ? '' : ` (${message})`)
    resetWithCode(stream, err.code, err)

    try {
      this.init.onDrop?.({ reason, peer: connection.remotePeer, connection, protocol: stream.protocol, lane, moved })
    } catch (err: any) {
      this.init.log.error('onDrop threw for stream %s - %e', stream.id, err)
    }
  }

  private lane (name: string): LaneCounts {
    let counts = this.lanes.get(name)

    if (counts == null) {
      counts = { accepted: 0, dropped: 0, moved: 0, gone: 0 }
      this.lanes.set(name, counts)
    }

    return counts
  }

  /**
   * One error per reason, reused: under a flood, building an error (and its
   * stack trace) for each reset stream would cost more than the rest of the
   * drop; the details of each drop are in the log line.
   */
  private dropError (reason: DropReason): StreamDroppedError {
    let err = this.dropErrors.get(reason)

    if (err == null) {
      err = new StreamDroppedError(reason, DROP_REASONS[reason].code, `Inbound stream for ${this.init.protocols.join(', ')} dropped: ${reason}`)
      this.dropErrors.set(reason, err)
    }

    return err
  }
}

function sum (counts: Record<string, number>): number {
  let total = 0

  for (const count of Object.values(counts)) {
    total += count
  }

  return total
}
