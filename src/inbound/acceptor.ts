import { StreamCloseEvent, StreamStateError } from '@libp2p/interface'
import { MoveRejectedError } from '../errors.ts'
import { fixStream } from '../libp2p-fixes/index.ts'
import { Lanes } from './lanes.ts'
import { Ledger } from './ledger.ts'
import { networkGroup } from './network-group.ts'
import { Outlet } from './outlet.ts'
import { WaitingStreams } from './waiting-streams.ts'
import type { Lane } from './lane.ts'
import type { QueuedStream } from './queued-stream.ts'
import type { Place } from './waiting-streams.ts'
import type { StreamMetrics } from '../metrics.ts'
import type { ResolvedAccept } from '../options.ts'
import type { IncomingStats, IncomingStream } from '../types/incoming.ts'
import type { Connection, Logger, Stream } from '@libp2p/interface'

/** How a stream found closed when handled closed, for the ledger: made once, as no event came */
const CLOSED_UNHANDLED = new StreamCloseEvent(false)
const FAILED_UNHANDLED = new StreamCloseEvent(false, new StreamStateError('The stream failed before it was handled'))

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
 * The state of one `accept` call: its lanes, what its queued streams hold,
 * and the outlet where they leave for the application. The registrar
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
  /** Where its streams leave for the application */
  readonly outlet: Outlet
  private readonly lanes: Lanes
  private readonly waiting: WaitingStreams

  constructor (init: AcceptorInit) {
    this.init = init
    this.protocols = init.options.protocols
    this.log = init.log
    this.lanes = new Lanes(init.options.lanes)
    this.ledger = new Ledger({ protocols: this.protocols, log: init.log, metrics: init.metrics, onDrop: init.options.onDrop })
    this.waiting = new WaitingStreams(init.options, ({ entry, lane }, reason, message) => {
      this.ledger.drop({ ...entry.item, reason, lane: lane.name, moved: entry.moved, message })
    }, (place, evt) => { this.leave(place, evt) })
    this.outlet = new Outlet(this.lanes, this.waiting, this.ledger)
  }

  /** Streams waiting now that were never yielded */
  get queued (): number {
    return this.waiting.size - this.waiting.requeued
  }

  stats (): IncomingStats {
    return this.ledger.stats(this.waiting, this.lanes.all)
  }

  /** The lane called `name`, or an InvalidParametersError */
  lane (name: string): Lane<IncomingStream> {
    return this.lanes.get(name)
  }

  /**
   * The registrar's handler: picks the stream's lane, then hands the stream to
   * a waiting reader, queues it, or resets it. Returns at once.
   */
  readonly handle = (stream: Stream, connection: Connection): void => {
    this.ledger.arrived++

    if (stream.status !== 'open') {
      // reset or closed between the negotiation and this call (libp2p awaits
      // its peer store in between): no close event will come to unqueue it
      const reason = this.ledger.gone(stream, connection, stream.status === 'aborted' ? FAILED_UNHANDLED : CLOSED_UNHANDLED, false)
      stream.log('%s before it was handled: %s', stream.status, reason)
      return
    }

    if (this.closed) {
      // negotiation began before the protocol was deregistered
      this.ledger.drop({ stream, connection, reason: 'closed' })
      return
    }

    const item: IncomingStream = { stream, connection, peer: connection.remotePeer, protocol: stream.protocol, lane: this.lanes.fallback.name }
    let lane: Lane<IncomingStream>

    try {
      lane = this.lanes.route(item)
    } catch (err: any) {
      this.log.error('lane match threw for stream %s from %p - %e', stream.id, connection.remotePeer, err)
      this.ledger.drop({ stream, connection, reason: 'match-error', message: `A lane's match threw: ${err?.message}` })
      return
    }

    item.lane = lane.name

    const { maxInboundStreams } = this.init.options

    if (this.init.countPeerStreams(connection, stream.protocol) > maxInboundStreams) {
      this.ledger.drop({ stream, connection, reason: 'stream-limit', lane: lane.name, message: `${connection.remotePeer} already has ${maxInboundStreams} inbound streams open for ${stream.protocol}` })
      return
    }

    fixStream(stream, this.init.options.maxReadAhead, connection)

    if (this.outlet.deliver(lane, item, false)) {
      return
    }

    const group = networkGroup(connection.remoteAddr)
    const admission = lane.admit(item.peer.toString(), group)

    if (!admission.admitted) {
      this.ledger.drop({ stream, connection, reason: admission.reason, lane: lane.name })
      return
    }

    if (admission.victim != null) {
      const victim = admission.victim as QueuedStream
      this.waiting.remove({ entry: victim, lane }, false)
      this.ledger.drop({ ...victim.item, reason: 'evicted', lane: lane.name, moved: victim.moved, message: `made room in lane ${lane.name} for ${group}` })
    }

    this.waiting.add(lane, item, group, false)
  }

  /**
   * Hands an accepted stream to another lane, to be yielded from it next; a
   * stream moved again before it was yielded leaves its former lane.
   *
   * A stream that is queued (no reader waits for it) reserves what it may
   * still receive while paused (see `receivable`) in `maxQueuedBytes`;
   * when that does not fit, the move is refused (`bytes-limit`) and the
   * stream is left as it was, so the application can go on reading it.
   */
  move (item: IncomingStream, name: string): void {
    const lane = this.lane(name)

    if (this.closed) {
      throw new MoveRejectedError('closed', 'The accept has ended')
    }

    if (item.stream.status !== 'open') {
      throw new MoveRejectedError('stream-ended', `The stream is ${item.stream.status}`)
    }

    const previous = this.waiting.get(item.stream)
    const direct = this.outlet.waits(lane)
    // straight to a reader it takes no room; to wait, it must fit
    const reserved = direct ? 0 : this.waiting.reserve(lane, item, previous)

    if (previous != null) {
      // resumed when it goes straight to a reader; queued again, it stays paused
      this.waiting.remove(previous, direct)
    }

    this.ledger.countMoved(lane.name)
    const moved: IncomingStream = { ...item, lane: lane.name }

    if (!this.outlet.deliver(lane, moved, true)) {
      this.waiting.add(lane, moved, previous?.entry.group ?? networkGroup(item.connection.remoteAddr), true, reserved)
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
    this.waiting.stop()
    this.init.onClose(this)

    this.outlet.end()

    for (const place of this.waiting.all()) {
      const { entry, lane } = place
      this.waiting.remove(place, false)
      this.ledger.drop({ ...entry.item, reason: 'closed', lane: lane.name, moved: entry.moved, message: `no longer accepting ${entry.item.protocol}` })
    }
  }

  /** A queued stream closed: its remote reset it, or its connection went */
  private leave ({ entry, lane }: Place, evt: StreamCloseEvent): void {
    // a moved stream was counted when it was first yielded
    const reason = this.ledger.gone(entry.item.stream, entry.item.connection, evt, entry.moved, lane.name)

    entry.item.stream.log('left lane %s before being accepted: %s', lane.name, reason)
  }
}
