import { StreamDroppedError } from './errors.ts'
import { seeEndWhenReadLate } from './late-reader.ts'
import type { IncomingStream } from './incoming.ts'
import type { Connection, Logger, Stream } from '@libp2p/interface'

/**
 * Why an inbound stream was reset without being yielded:
 * - `backlog-full`: the backlog was full and the opener already held its fair share of it
 * - `evicted`: it was queued, and made room for a stream from a peer holding fewer slots
 * - `peer-limit`: its peer already held `maxPerPeer` backlog slots
 * - `stream-limit`: its connection or peer already had `maxInboundStreams` streams for these protocols
 * - `closed`: it was still queued when the `accept` ended
 */
export type DropReason = 'backlog-full' | 'evicted' | 'peer-limit' | 'stream-limit' | 'closed'

export interface BacklogInit {
  protocols: string[]
  backlog: number
  maxPerPeer: number
  maxInboundStreams: number
  /** Counts the peer's inbound streams for `protocol` over all its connections */
  countPeerStreams(connection: Connection, protocol: string): number
  log: Logger
  /** Called once, when the backlog closes, to deregister its protocols */
  onClose(backlog: Backlog): void
  onAccepted(protocol: string): void
  onDropped(protocol: string, reason: DropReason): void
}

interface Queued {
  item: IncomingStream
  peer: string
  onStreamClose(): void
}

type Waiter = (result: IteratorResult<IncomingStream, undefined>) => void

export const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/**
 * The state behind an `IncomingStreams`: the queue, the readers waiting for a
 * stream and the counters. The registrar holds it through `handle`; it never
 * refers to the public handle, so that handle can be garbage-collected.
 *
 * When the queue is full, a stream from a peer holding fewer slots than the
 * peer holding the most takes the newest slot of that peer, whose stream is
 * reset: one peer may fill an idle backlog, yet cannot keep others out of it.
 */
export class Backlog {
  readonly protocols: string[]
  readonly log: Logger
  accepted = 0
  dropped = 0
  closed = false
  private readonly queue: Queued[] = []
  private readonly slots = new Map<string, number>()
  private readonly waiters: Waiter[] = []
  private readonly init: BacklogInit

  constructor (init: BacklogInit) {
    this.init = init
    this.protocols = init.protocols
    this.log = init.log
  }

  get queued (): number {
    return this.queue.length
  }

  /**
   * The registrar's handler: hands the stream to a waiting reader, queues it,
   * or resets it. Returns at once.
   */
  readonly handle = (stream: Stream, connection: Connection): void => {
    if (this.closed) {
      // negotiation began before the protocol was deregistered
      this.drop(stream, connection, 'closed')
      return
    }

    const { maxInboundStreams } = this.init

    if (this.init.countPeerStreams(connection, stream.protocol) > maxInboundStreams) {
      this.drop(stream, connection, 'stream-limit', `${connection.remotePeer} already has ${maxInboundStreams} inbound streams open for ${stream.protocol}`)
      return
    }

    const item: IncomingStream = { stream, connection, peer: connection.remotePeer, protocol: stream.protocol }
    const waiter = this.waiters.shift()

    if (waiter != null) {
      seeEndWhenReadLate(stream)
      waiter(this.accept(item))
      return
    }

    const peer = connection.remotePeer.toString()
    const held = this.slots.get(peer) ?? 0

    if (held >= this.init.maxPerPeer) {
      this.drop(stream, connection, 'peer-limit', `${peer} already holds ${held} slots of the accept backlog for ${stream.protocol}`)
      return
    }

    if (this.queue.length >= this.init.backlog && !this.evictFor(held)) {
      this.drop(stream, connection, 'backlog-full', `The accept backlog of ${this.init.backlog} for ${stream.protocol} is full`)
      return
    }

    seeEndWhenReadLate(stream)

    const entry: Queued = {
      item,
      peer,
      onStreamClose: () => {
        if (this.remove(entry)) {
          stream.log('left the backlog before being accepted: %s', stream.status)
        }
      }
    }

    stream.addEventListener('close', entry.onStreamClose, { once: true })
    this.queue.push(entry)
    this.slots.set(peer, held + 1)
  }

  /**
   * The next stream, waiting for one if none is queued; done once closed.
   */
  async next (): Promise<IteratorResult<IncomingStream, undefined>> {
    const entry = this.queue[0]

    if (entry != null) {
      this.remove(entry)
      return this.accept(entry.item)
    }

    if (this.closed) {
      return DONE
    }

    return new Promise(resolve => {
      this.waiters.push(resolve)
    })
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

    for (const waiter of this.waiters.splice(0)) {
      waiter(DONE)
    }

    for (const entry of [...this.queue]) {
      this.remove(entry)
      this.drop(entry.item.stream, entry.item.connection, 'closed', `No longer accepting ${entry.item.protocol}`)
    }
  }

  /**
   * Makes room for a stream from a peer holding `held` slots by resetting the
   * newest stream of the peer holding the most, if that peer holds at least
   * two more. Returns whether a slot was freed.
   */
  private evictFor (held: number): boolean {
    let heaviest: string | undefined
    let most = held + 1

    for (const [peer, count] of this.slots) {
      if (count > most) {
        heaviest = peer
        most = count
      }
    }

    if (heaviest == null) {
      return false
    }

    const victim = this.queue.findLast(entry => entry.peer === heaviest)

    if (victim == null) {
      return false
    }

    this.remove(victim)
    this.drop(victim.item.stream, victim.item.connection, 'evicted', `Evicted from the accept backlog for ${victim.item.protocol} to make room for another peer`)

    return true
  }

  /** Takes an entry out of the queue; false if it was not there */
  private remove (entry: Queued): boolean {
    const index = this.queue.indexOf(entry)

    if (index === -1) {
      return false
    }

    this.queue.splice(index, 1)
    entry.item.stream.removeEventListener('close', entry.onStreamClose)

    const held = (this.slots.get(entry.peer) ?? 1) - 1

    if (held === 0) {
      this.slots.delete(entry.peer)
    } else {
      this.slots.set(entry.peer, held)
    }

    return true
  }

  private drop (stream: Stream, connection: Connection, reason: DropReason, message?: string): void {
    this.dropped++
    this.log('resetting stream %s from %p for %s: %s', stream.id, connection.remotePeer, stream.protocol, reason)
    this.init.onDropped(stream.protocol, reason)
    stream.abort(new StreamDroppedError(reason, message))
  }

  private accept (item: IncomingStream): IteratorYieldResult<IncomingStream> {
    this.accepted++
    this.init.onAccepted(item.protocol)

    return { done: false, value: item }
  }
}
