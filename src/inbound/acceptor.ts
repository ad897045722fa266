import { InvalidParametersError } from '@libp2p/interface'
import { MoveRejectedError } from '../errors.ts'
import { fixStream } from '../libp2p-fixes/index.ts'
import { Expiry } from './expiry.ts'
import { Lane } from './lane.ts'
import { Ledger } from './ledger.ts'
import { networkGroup } from './network-group.ts'
import { QueuedStream } from './queued-stream.ts'
import { Schedule } from './schedule.ts'
import type { Waiter } from './lane.ts'
import type { Drop } from './ledger.ts'
import type { StreamMetrics } from '../metrics.ts'
import type { ResolvedAccept } from '../options.ts'
import type { GoneReason, IncomingStats, IncomingStream } from '../types.ts'
import type { AbortOptions, Connection, Logger, Stream, StreamCloseEvent } from '@libp2p/interface'

export const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

type Result = IteratorResult<IncomingStream, undefined>

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

/**
 * The state of one `accept` call: its lanes, the readers waiting for a
 * stream from any of them, and what its queued streams hold. The registrar
 * holds it through `handle`; it never refers to the public handle, so that
 * handle can be garbage-collected.
 *
 * An inbound stream goes: `handle` → the first lane whose `match` takes it →
 * a waiting reader, or the lane's queue (paused), or a drop (reset, counted
 * and reported by the ledger).
 */
export class Acceptor {
  readonly protocols: readonly string[]
  readonly log: Logger
  readonly ledger: Ledger
  closed = false
  private readonly init: AcceptorInit
  private readonly lanes: Array<Lane<IncomingStream>>
  private readonly byName: Map<string, Lane<IncomingStream>>
  private readonly fallback: Lane<IncomingStream>
  private readonly schedule: Schedule<Lane<IncomingStream>>
  /** Readers of the whole handle */
  private readonly waiters: Array<Waiter<IncomingStream>> = []
  /** Every queued stream, with the lane it waits in */
  private readonly queued = new Map<Stream, { entry: QueuedStream, lane: Lane<IncomingStream> }>()
  private readonly expiry: Expiry<{ entry: QueuedStream, lane: Lane<IncomingStream> }>
  private queuedBytes = 0

  constructor (init: AcceptorInit) {
    this.init = init
    this.protocols = init.options.protocols
    this.log = init.log
    this.lanes = init.options.lanes.map(options => new Lane(options))
    this.byName = new Map(this.lanes.map(lane => [lane.name, lane]))
    this.fallback = this.lanes.find(lane => lane.match == null) ?? this.lanes[0]
    this.schedule = new Schedule(this.lanes)
    this.ledger = new Ledger({ protocols: this.protocols, log: init.log, metrics: init.metrics, onDrop: init.options.onDrop })
    this.expiry = new Expiry(init.options.maxQueueAge, () => this.queued.values(), ({ entry, lane }) => {
      this.unqueue(entry, lane, false)
      this.drop({ ...entry.item, reason: 'expired', lane: lane.name, moved: entry.moved, message: `waited over ${init.options.maxQueueAge} ms` })
    })
  }

  /** Streams waiting now, moved ones included */
  get size (): number {
    return this.queued.size
  }

  stats (): IncomingStats {
    const { ledger } = this
    let requeued = 0

    for (const { entry } of this.queued.values()) {
      requeued += entry.moved ? 1 : 0
    }

    return {
      arrived: ledger.arrived,
      queued: this.queued.size - requeued,
      accepted: ledger.accepted,
      dropped: ledger.dropped,
      gone: ledger.gone,
      requeued,
      moved: this.lanes.reduce((total, lane) => total + lane.stats().moved, 0),
      queuedBytes: this.queuedBytes,
      dropReasons: { ...ledger.dropReasons },
      goneReasons: { ...ledger.goneReasons },
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
    this.ledger.arrived++

    if (this.closed) {
      // negotiation began before the protocol was deregistered
      this.drop({ stream, connection, reason: 'closed' })
      return
    }

    const item: IncomingStream = { stream, connection, peer: connection.remotePeer, protocol: stream.protocol, lane: this.fallback.name }
    let lane: Lane<IncomingStream>

    try {
      lane = this.route(item)
    } catch (err: any) {
      this.log.error('lane match threw for stream %s from %p - %e', stream.id, connection.remotePeer, err)
      this.drop({ stream, connection, reason: 'match-error', message: `A lane's match threw: ${err?.message}` })
      return
    }

    item.lane = lane.name

    const { maxInboundStreams } = this.init.options

    if (this.init.countPeerStreams(connection, stream.protocol) > maxInboundStreams) {
      this.drop({ stream, connection, reason: 'stream-limit', lane: lane.name, message: `${connection.remotePeer} already has ${maxInboundStreams} inbound streams open for ${stream.protocol}` })
      return
    }

    fixStream(stream)

    const waiter = lane.takeWaiter() ?? this.waiters.shift()

    if (waiter != null) {
      waiter(this.yield(lane, item, false))
      return
    }

    const group = networkGroup(connection.remoteAddr)
    const admission = lane.admit(item.peer.toString(), group)

    if (!admission.admitted) {
      this.drop({ stream, connection, reason: admission.reason, lane: lane.name })
      return
    }

    if (admission.victim != null) {
      const victim = admission.victim as QueuedStream
      this.unqueue(victim, lane, false)
      this.drop({ ...victim.item, reason: 'evicted', lane: lane.name, moved: victim.moved, message: `made room in lane ${lane.name} for ${group}` })
    }

    this.enqueue(lane, item, group, false)
  }

  /**
   * The next stream from any lane, waiting for one if none is queued; done
   * once closed. An aborted `signal` gives up the wait without taking one.
   */
  async next (options?: AbortOptions): Promise<Result> {
    const lane = this.schedule.pick()

    if (lane != null) {
      return this.shift(lane)
    }

    return this.wait(options?.signal, waiter => { this.waiters.push(waiter) }, waiter => {
      const index = this.waiters.indexOf(waiter)
      if (index !== -1) { this.waiters.splice(index, 1) }
    })
  }

  /** The same as `next`, from one lane alone */
  async nextFrom (lane: Lane<IncomingStream>, options?: AbortOptions): Promise<Result> {
    if (lane.size > 0) {
      return this.shift(lane)
    }

    return this.wait(options?.signal, waiter => { lane.wait(waiter) }, waiter => { lane.cancelWait(waiter) })
  }

  /**
   * Hands an accepted stream to another lane, to be yielded from it next; a
   * stream moved again before it was yielded leaves its former lane.
   */
  move (item: IncomingStream, name: string): void {
    const lane = this.lane(name)

    if (this.closed) {
      throw new MoveRejectedError('closed', 'The accept has ended')
    }

    if (item.stream.status !== 'open') {
      throw new MoveRejectedError('stream-ended', `The stream is ${item.stream.status}`)
    }

    const previous = this.queued.get(item.stream)
    const peer = item.peer.toString()
    const waiter = lane.takeWaiter() ?? this.waiters.shift()

    if (waiter == null && previous?.lane !== lane) {
      if (lane.isFull) {
        throw new MoveRejectedError('lane-full', `Lane ${lane.name} is full (${lane.capacity})`)
      }

      if (lane.isPeerOverLimit(peer)) {
        throw new MoveRejectedError('peer-limit', `${peer} already holds ${lane.maxPerPeer} slots of lane ${lane.name}`)
      }
    }

    if (previous != null) {
      this.unqueue(previous.entry, previous.lane, false)
    }

    lane.countMoved()
    const moved: IncomingStream = { ...item, lane: lane.name }

    if (waiter != null) {
      waiter(this.yield(lane, moved, true))
    } else {
      this.enqueue(lane, moved, previous?.entry.group ?? networkGroup(item.connection.remoteAddr), true)
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
    this.expiry.stop()
    this.init.onClose(this)

    for (const waiter of [...this.waiters.splice(0), ...this.lanes.flatMap(lane => lane.takeWaiters())]) {
      waiter(DONE)
    }

    for (const { entry, lane } of [...this.queued.values()]) {
      this.unqueue(entry, lane, false)
      this.drop({ ...entry.item, reason: 'closed', lane: lane.name, moved: entry.moved, message: `no longer accepting ${entry.item.protocol}` })
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

  private async wait (signal: AbortSignal | undefined, add: (waiter: Waiter<IncomingStream>) => void, remove: (waiter: Waiter<IncomingStream>) => void): Promise<Result> {
    if (this.closed) {
      return DONE
    }

    signal?.throwIfAborted()

    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        remove(waiter)
        reject(signal?.reason)
      }
      const waiter: Waiter<IncomingStream> = result => {
        signal?.removeEventListener('abort', onAbort)
        resolve(result)
      }

      add(waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  private enqueue (lane: Lane<IncomingStream>, item: IncomingStream, group: string, moved: boolean): void {
    const entry = new QueuedStream(item, group, moved, (_entry, delta) => { this.countBytes(delta) }, (e, evt) => { this.leave(e, evt) })

    lane.add(entry, moved)
    this.queued.set(item.stream, { entry, lane })
    this.expiry.watch(entry.since)
  }

  /** Takes a queued stream out of its lane and stops watching it */
  private unqueue (entry: QueuedStream, lane: Lane<IncomingStream>, resume: boolean): IncomingStream {
    lane.remove(entry)
    this.queued.delete(entry.item.stream)
    this.queuedBytes -= entry.bytes
    entry.release(resume)

    return entry.item
  }

  private shift (lane: Lane<IncomingStream>): IteratorYieldResult<IncomingStream> {
    const entry = lane.entries()[0] as QueuedStream

    return this.yield(lane, this.unqueue(entry, lane, true), entry.moved)
  }

  private yield (lane: Lane<IncomingStream>, item: IncomingStream, moved: boolean): IteratorYieldResult<IncomingStream> {
    // a moved stream was counted when it was first yielded
    if (!moved) {
      lane.countAccepted()
      this.ledger.countAccepted(item.protocol, lane.name)
    }

    return { done: false, value: item }
  }

  /** A queued stream closed: its remote reset it, or its connection went */
  private leave (entry: QueuedStream, evt: StreamCloseEvent): void {
    const found = this.queued.get(entry.item.stream)

    if (found == null) {
      return
    }

    const { stream, connection } = this.unqueue(entry, found.lane, false)
    let reason: GoneReason = 'error'

    // nothing here closes a queued stream's write side, so a clean close
    // means its transport went away
    if (stream.status === 'reset') {
      reason = 'remote-reset'
    } else if (evt.error == null || connection.status !== 'open') {
      reason = 'connection-closed'
    }

    if (!entry.moved) {
      found.lane.countGone()
      this.ledger.countGone(reason)
    }

    stream.log('left lane %s before being accepted: %s%s', found.lane.name, reason, evt.error == null ? '' : ` (${evt.error.message})`)
  }

  /** Keeps the bytes of all queued streams within `maxQueuedBytes` by resetting the largest */
  private countBytes (delta: number): void {
    this.queuedBytes += delta

    while (this.queuedBytes > this.init.options.maxQueuedBytes && this.queued.size > 0) {
      let largest: { entry: QueuedStream, lane: Lane<IncomingStream> } | undefined

      for (const queued of this.queued.values()) {
        if (largest == null || queued.entry.bytes > largest.entry.bytes) {
          largest = queued
        }
      }

      if (largest == null) {
        return
      }

      const { entry, lane } = largest
      this.unqueue(entry, lane, false)
      this.drop({ ...entry.item, reason: 'bytes-limit', lane: lane.name, moved: entry.moved, message: `it held ${entry.bytes} of the ${this.init.options.maxQueuedBytes} bytes queued streams may hold` })
    }
  }

  private drop (drop: Drop & { lane?: string }): void {
    const lane = drop.lane == null ? undefined : this.byName.get(drop.lane)

    if (drop.moved !== true) {
      lane?.countDropped()
    }

    this.ledger.drop(drop)
  }
}
