import { InvalidParametersError } from '@libp2p/interface'
import { MoveRejectedError, StreamDroppedError } from './errors.ts'
import { fixStream } from './stream-fixes.ts'
import type { IncomingStream } from './incoming.ts'
import type { Lane, LaneStats, Queued, Waiter } from './lane.ts'
import type { Connection, Logger, Stream } from '@libp2p/interface'

/**
 * Why an inbound stream was reset without being yielded:
 * - `backlog-full`: its lane was full and the opener already held its fair share of it
 * - `evicted`: it was queued, and made room for a stream from a peer holding fewer slots
 * - `peer-limit`: its peer already held `maxPerPeer` slots of the lane
 * - `stream-limit`: its peer already had `maxInboundStreams` streams open for the protocol
 * - `match-error`: a lane's `match` threw for it
 * - `closed`: it was still queued, or still negotiating, when the `accept` ended
 */
export type DropReason = 'backlog-full' | 'evicted' | 'peer-limit' | 'stream-limit' | 'match-error' | 'closed'

/**
 * Counters of one `accept`, from `IncomingStreams.stats()`.
 */
export interface IncomingStats {
  /** Streams waiting in all lanes */
  queued: number
  /** Streams yielded so far */
  accepted: number
  /** Streams reset without being yielded */
  dropped: number
  /** The same, lane by lane */
  lanes: Record<string, LaneStats>
}

export interface BacklogInit {
  protocols: string[]
  /** In declaration order; exactly one has no `match` */
  lanes: Lane[]
  maxInboundStreams: number
  /** Counts the peer's inbound streams for `protocol` over all its connections (or bounds them, when within the limit) */
  countPeerStreams(connection: Connection, protocol: string): number
  log: Logger
  /** Called once, when the backlog closes, to deregister its protocols */
  onClose(backlog: Backlog): void
  onAccepted(protocol: string, lane: string): void
  onDropped(protocol: string, lane: string | undefined, reason: DropReason): void
}

export const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/**
 * The state behind an `IncomingStreams`: its lanes, the readers waiting for a
 * stream from any lane, and the order lanes are served in. The registrar
 * holds it through `handle`; it never refers to the public handle, so that
 * handle can be garbage-collected.
 *
 * Readers of the whole handle are served from the queued lanes of highest
 * `priority`; among those, by smooth weighted round-robin on `weight`.
 */
export class Backlog {
  readonly protocols: string[]
  readonly log: Logger
  closed = false
  private readonly init: BacklogInit
  private readonly lanes: Lane[]
  private readonly byName: Map<string, Lane>
  private readonly fallback: Lane
  private readonly waiters: Waiter[] = []
  /** Drops that happened before a lane was chosen */
  private unrouted = 0
  private readonly dropErrors = new Map<DropReason, StreamDroppedError>()

  constructor (init: BacklogInit) {
    this.init = init
    this.protocols = init.protocols
    this.log = init.log
    this.lanes = init.lanes
    this.byName = new Map(init.lanes.map(lane => [lane.name, lane]))
    this.fallback = init.lanes.find(lane => lane.match == null) ?? init.lanes[0]
  }

  get queued (): number {
    return this.sum(lane => lane.queue.length)
  }

  get accepted (): number {
    return this.sum(lane => lane.accepted)
  }

  get dropped (): number {
    return this.unrouted + this.sum(lane => lane.dropped)
  }

  stats (): IncomingStats {
    return {
      queued: this.queued,
      accepted: this.accepted,
      dropped: this.dropped,
      lanes: Object.fromEntries(this.lanes.map(lane => [lane.name, lane.stats()]))
    }
  }

  /** The lane called `name`, or an InvalidParametersError */
  lane (name: string): Lane {
    const lane = this.byName.get(name)

    if (lane == null) {
      throw new InvalidParametersError(`lane "${name}" is not one of ${[...this.byName.keys()].join(', ')}`)
    }

    return lane
  }

  /**
   * The registrar's handler: picks the stream's lane, then hands the stream to
   * a waiting reader, queues it, or resets it. Returns at once.
   */
  readonly handle = (stream: Stream, connection: Connection): void => {
    if (this.closed) {
      // negotiation began before the protocol was deregistered
      this.drop(undefined, stream, connection, 'closed')
      return
    }

    const item: IncomingStream = { stream, connection, peer: connection.remotePeer, protocol: stream.protocol, lane: this.fallback.name }
    let lane: Lane

    try {
      lane = this.route(item)
    } catch (err: any) {
      this.log.error('lane match threw for stream %s from %p - %e', stream.id, connection.remotePeer, err)
      this.drop(undefined, stream, connection, 'match-error', `A lane's match threw: ${err?.message}`)
      return
    }

    item.lane = lane.name

    const { maxInboundStreams } = this.init

    if (this.init.countPeerStreams(connection, stream.protocol) > maxInboundStreams) {
      this.drop(lane, stream, connection, 'stream-limit', `${connection.remotePeer} already has ${maxInboundStreams} inbound streams open for ${stream.protocol}`)
      return
    }

    fixStream(stream)

    const waiter = lane.waiters.shift() ?? this.waiters.shift()

    if (waiter != null) {
      waiter(this.accept(lane, item))
      return
    }

    const entry = this.entry(lane, item)
    const refused = lane.admit(entry.peer, victim => {
      this.drop(lane, victim.item.stream, victim.item.connection, 'evicted', `Evicted from lane ${lane.name} for ${victim.item.protocol} to make room for another peer`)
    })

    if (refused != null) {
      this.drop(lane, stream, connection, refused, `Lane ${lane.name} for ${stream.protocol}: ${refused}`)
      return
    }

    lane.add(entry)
  }

  /**
   * The next stream from any lane, waiting for one if none is queued; done
   * once closed.
   */
  async next (): Promise<IteratorResult<IncomingStream, undefined>> {
    const lane = this.pick()

    if (lane != null) {
      return this.shift(lane)
    }

    if (this.closed) {
      return DONE
    }

    return new Promise(resolve => {
      this.waiters.push(resolve)
    })
  }

  /**
   * The next stream from one lane, waiting for one if none is queued; done
   * once closed.
   */
  async nextFrom (lane: Lane): Promise<IteratorResult<IncomingStream, undefined>> {
    if (lane.queue.length > 0) {
      return this.shift(lane)
    }

    if (this.closed) {
      return DONE
    }

    return new Promise(resolve => {
      lane.waiters.push(resolve)
    })
  }

  /**
   * Hands an accepted stream to another lane, to be yielded from it next.
   */
  move (item: IncomingStream, name: string): void {
    const lane = this.lane(name)

    if (this.closed) {
      throw new MoveRejectedError('closed', 'The accept has ended')
    }

    if (item.stream.status !== 'open') {
      throw new MoveRejectedError('stream-ended', `The stream is ${item.stream.status}`)
    }

    const moved: IncomingStream = { ...item, lane: lane.name }
    const waiter = lane.waiters.shift() ?? this.waiters.shift()

    if (waiter == null && lane.queue.length >= lane.capacity) {
      throw new MoveRejectedError('lane-full', `Lane ${lane.name} is full (${lane.capacity})`)
    }

    lane.moved++

    if (waiter != null) {
      waiter(this.accept(lane, moved))
    } else {
      lane.add(this.entry(lane, moved), true)
    }
  }

  /**
   * Ends every iteration, resets queued streams and deregisters. Idempotent.
   */
  close (): void {
    if (this.closed) {
      return
    }

    this.closed = true
    this.init.onClose(this)

    for (const waiter of [...this.waiters.splice(0), ...this.lanes.flatMap(lane => lane.waiters.splice(0))]) {
      waiter(DONE)
    }

    for (const lane of this.lanes) {
      for (const entry of [...lane.queue]) {
        lane.remove(entry)
        this.drop(lane, entry.item.stream, entry.item.connection, 'closed', `No longer accepting ${entry.item.protocol}`)
      }
    }
  }

  /** The first lane whose `match` takes the stream, else the default lane */
  private route (item: IncomingStream): Lane {
    for (const lane of this.lanes) {
      if (lane.match?.(item) === true) {
        return lane
      }
    }

    return this.fallback
  }

  /**
   * The lane to serve a reader of the whole handle from: among queued lanes of
   * the highest priority, smooth weighted round-robin (each lane gains its
   * weight in credit, the richest is served and pays the round's total).
   */
  private pick (): Lane | undefined {
    if (this.lanes.length === 1) {
      return this.lanes[0].queue.length > 0 ? this.lanes[0] : undefined
    }

    let top = -Infinity

    for (const lane of this.lanes) {
      if (lane.queue.length > 0 && lane.priority > top) {
        top = lane.priority
      }
    }

    let best: Lane | undefined
    let total = 0

    for (const lane of this.lanes) {
      if (lane.queue.length === 0 || lane.priority !== top) {
        continue
      }

      lane.credit += lane.weight
      total += lane.weight

      if (best == null || lane.credit > best.credit) {
        best = lane
      }
    }

    if (best != null) {
      best.credit -= total
    }

    return best
  }

  private shift (lane: Lane): IteratorYieldResult<IncomingStream> {
    const entry = lane.queue[0]
    lane.remove(entry)

    return this.accept(lane, entry.item)
  }

  private entry (lane: Lane, item: IncomingStream): Queued {
    const entry: Queued = {
      item,
      peer: item.peer.toString(),
      onStreamClose: () => {
        if (lane.remove(entry)) {
          item.stream.log('left lane %s before being accepted: %s', lane.name, item.stream.status)
        }
      }
    }

    return entry
  }

  private drop (lane: Lane | undefined, stream: Stream, connection: Connection, reason: DropReason, message?: string): void {
    if (lane == null) {
      this.unrouted++
    } else {
      lane.dropped++
    }

    this.log('resetting stream %s from %p for %s: %s%s', stream.id, connection.remotePeer, stream.protocol, reason, message == null ? '' : ` (${message})`)
    this.init.onDropped(stream.protocol, lane?.name, reason)
    stream.abort(this.dropError(reason))
  }

  /**
   * One error per reason, reused: under a flood, building an error (and its
   * stack trace) for each reset stream would cost more than the rest of the
   * drop; the details of each drop are in the log line.
   */
  private dropError (reason: DropReason): StreamDroppedError {
    let err = this.dropErrors.get(reason)

    if (err == null) {
      err = new StreamDroppedError(reason, `Inbound stream for ${this.protocols.join(', ')} dropped: ${reason}`)
      this.dropErrors.set(reason, err)
    }

    return err
  }

  private accept (lane: Lane, item: IncomingStream): IteratorYieldResult<IncomingStream> {
    lane.accepted++
    this.init.onAccepted(item.protocol, lane.name)

    return { done: false, value: item }
  }

  private sum (count: (lane: Lane) => number): number {
    let total = 0

    for (const lane of this.lanes) {
      total += count(lane)
    }

    return total
  }
}
