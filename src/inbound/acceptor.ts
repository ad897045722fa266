import { InvalidParametersError } from '@libp2p/interface'
import { MoveRejectedError, StreamDroppedError } from '../errors.ts'
import { fixStream } from '../libp2p-fixes/index.ts'
import { Lane } from './lane.ts'
import { Schedule } from './schedule.ts'
import type { LaneEntry } from './lane.ts'
import type { StreamMetrics } from '../metrics.ts'
import type { ResolvedAccept } from '../options.ts'
import type { DropReason, IncomingStats, IncomingStream } from '../types.ts'
import type { Connection, Logger, Stream } from '@libp2p/interface'

export const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/** What an acceptor needs from the registry that created it */
export interface AcceptorInit {
  options: ResolvedAccept
  log: Logger
  metrics: StreamMetrics
  /** Counts the peer's inbound streams for `protocol` over all its connections (or bounds them, when within `maxInboundStreams`) */
  countPeerStreams(connection: Connection, protocol: string): number
  /** Called once, when the acceptor closes, to deregister its protocols */
  onClose(acceptor: Acceptor): void
}

interface QueuedStream extends LaneEntry<IncomingStream> {
  /** Takes the entry out of its lane when the stream closes while queued */
  onStreamClose(): void
}

/**
 * The state of one `accept` call: its lanes and the readers waiting for a
 * stream from any of them. The registrar holds it through `handle`; it never
 * refers to the public handle, so that handle can be garbage-collected.
 *
 * An inbound stream goes: `handle` → the first lane whose `match` takes it →
 * a waiting reader, or the lane's queue, or a drop (reset and counted).
 */
export class Acceptor {
  readonly protocols: readonly string[]
  readonly log: Logger
  closed = false
  private readonly init: AcceptorInit
  private readonly lanes: Array<Lane<IncomingStream>>
  private readonly byName: Map<string, Lane<IncomingStream>>
  private readonly fallback: Lane<IncomingStream>
  private readonly schedule: Schedule<Lane<IncomingStream>>
  /** Readers of the whole handle */
  private readonly waiters: Array<(result: IteratorResult<IncomingStream, undefined>) => void> = []
  /** Drops that happened before a lane was chosen */
  private unrouted = 0
  private readonly dropErrors = new Map<DropReason, StreamDroppedError>()

  constructor (init: AcceptorInit) {
    this.init = init
    this.protocols = init.options.protocols
    this.log = init.log
    this.lanes = init.options.lanes.map(options => new Lane(options))
    this.byName = new Map(this.lanes.map(lane => [lane.name, lane]))
    this.fallback = this.lanes.find(lane => lane.match == null) ?? this.lanes[0]
    this.schedule = new Schedule(this.lanes)
  }

  get queued (): number {
    return this.sum(lane => lane.size)
  }

  get accepted (): number {
    return this.sum(lane => lane.stats().accepted)
  }

  get dropped (): number {
    return this.unrouted + this.sum(lane => lane.stats().dropped)
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
  lane (name: string): Lane<IncomingStream> {
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
    let lane: Lane<IncomingStream>

    try {
      lane = this.route(item)
    } catch (err: any) {
      this.log.error('lane match threw for stream %s from %p - %e', stream.id, connection.remotePeer, err)
      this.drop(undefined, stream, connection, 'match-error', `A lane's match threw: ${err?.message}`)
      return
    }

    item.lane = lane.name

    const { maxInboundStreams } = this.init.options

    if (this.init.countPeerStreams(connection, stream.protocol) > maxInboundStreams) {
      this.drop(lane, stream, connection, 'stream-limit', `${connection.remotePeer} already has ${maxInboundStreams} inbound streams open for ${stream.protocol}`)
      return
    }

    fixStream(stream)

    if (this.handOver(lane, item)) {
      return
    }

    const peer = item.peer.toString()
    const admission = lane.admit(peer)

    if (!admission.admitted) {
      this.drop(lane, stream, connection, admission.reason, `Lane ${lane.name} for ${stream.protocol}: ${admission.reason}`)
      return
    }

    if (admission.victim != null) {
      const victim = this.unqueue(admission.victim as QueuedStream)
      this.drop(lane, victim.stream, victim.connection, 'evicted', `Evicted from lane ${lane.name} for ${victim.protocol} to make room for another peer`)
    }

    this.enqueue(lane, item, peer)
  }

  /**
   * The next stream from any lane, waiting for one if none is queued; done
   * once closed.
   */
  async next (): Promise<IteratorResult<IncomingStream, undefined>> {
    const lane = this.schedule.pick()

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
  async nextFrom (lane: Lane<IncomingStream>): Promise<IteratorResult<IncomingStream, undefined>> {
    if (lane.size > 0) {
      return this.shift(lane)
    }

    if (this.closed) {
      return DONE
    }

    return new Promise(resolve => {
      lane.wait(resolve)
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
    const waiter = lane.takeWaiter() ?? this.waiters.shift()

    if (waiter == null && lane.isFull) {
      throw new MoveRejectedError('lane-full', `Lane ${lane.name} is full (${lane.capacity})`)
    }

    lane.countMoved()

    if (waiter != null) {
      waiter(this.yield(lane, moved))
    } else {
      this.enqueue(lane, moved, moved.peer.toString(), true)
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

    for (const waiter of [...this.waiters.splice(0), ...this.lanes.flatMap(lane => lane.takeWaiters())]) {
      waiter(DONE)
    }

    for (const lane of this.lanes) {
      for (const entry of lane.clear()) {
        const { stream, connection, protocol } = entry.item
        stream.removeEventListener('close', (entry as QueuedStream).onStreamClose)
        this.drop(lane, stream, connection, 'closed', `No longer accepting ${protocol}`)
      }
    }
  }

  /** The first lane whose `match` takes the stream, else the default lane */
  private route (item: IncomingStream): Lane<IncomingStream> {
    for (const lane of this.lanes) {
      if (lane.match?.(item) === true) {
        return lane
      }
    }

    return this.fallback
  }

  /** Gives the stream to a reader already waiting for one of its lane; false if none is */
  private handOver (lane: Lane<IncomingStream>, item: IncomingStream): boolean {
    const waiter = lane.takeWaiter() ?? this.waiters.shift()

    if (waiter == null) {
      return false
    }

    waiter(this.yield(lane, item))
    return true
  }

  private enqueue (lane: Lane<IncomingStream>, item: IncomingStream, peer: string, first = false): void {
    const entry: QueuedStream = {
      item,
      peer,
      onStreamClose: () => {
        if (lane.remove(entry)) {
          item.stream.log('left lane %s before being accepted: %s', lane.name, item.stream.status)
        }
      }
    }

    lane.add(entry, first)
    item.stream.addEventListener('close', entry.onStreamClose, { once: true })
  }

  /** Stops watching a stream that has left its lane */
  private unqueue (entry: QueuedStream): IncomingStream {
    entry.item.stream.removeEventListener('close', entry.onStreamClose)
    return entry.item
  }

  private shift (lane: Lane<IncomingStream>): IteratorYieldResult<IncomingStream> {
    const entry = lane.shift() as QueuedStream

    return this.yield(lane, this.unqueue(entry))
  }

  private yield (lane: Lane<IncomingStream>, item: IncomingStream): IteratorYieldResult<IncomingStream> {
    lane.countAccepted()
    this.init.metrics.onAccepted(item.protocol, lane.name)

    return { done: false, value: item }
  }

  private drop (lane: Lane<IncomingStream> | undefined, stream: Stream, connection: Connection, reason: DropReason, message?: string): void {
    if (lane == null) {
      this.unrouted++
    } else {
      lane.countDropped()
    }

    this.log('resetting stream %s from %p for %s: %s%s', stream.id, connection.remotePeer, stream.protocol, reason, message == null ? '' : ` (${message})`)
    this.init.metrics.onDropped(stream.protocol, lane?.name, reason)
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

  private sum (count: (lane: Lane<IncomingStream>) => number): number {
    let total = 0

    for (const lane of this.lanes) {
      total += count(lane)
    }

    return total
  }
}
