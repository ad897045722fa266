import type { ResolvedLane } from '../options.ts'
import type { DropReason, LaneMatchInput, LaneStats } from '../types.ts'

/** A queued item and the key of the peer holding its slot */
export interface LaneEntry<T> {
  item: T
  peer: string
}

/** A reader waiting for the next item of a lane */
export type Waiter<T> = (result: IteratorResult<T, undefined>) => void

/** What `admit` decided: queue it, queue it after evicting `victim`, or refuse */
export type Admission<T> =
  | { admitted: true, victim?: LaneEntry<T> }
  | { admitted: false, reason: DropReason }

/**
 * One bounded FIFO queue, with its own readers, counters and per-peer slots.
 * It knows nothing of streams: the acceptor puts items in and takes them out.
 *
 * When full, an item from a peer holding fewer slots than the peer holding
 * the most takes the newest slot of that peer: one peer may fill an idle lane,
 * yet cannot keep others out of it.
 */
export class Lane<T> {
  readonly name: string
  readonly capacity: number
  readonly maxPerPeer: number
  readonly priority: number
  readonly weight: number
  readonly match?: (input: LaneMatchInput) => boolean
  private readonly queue: Array<LaneEntry<T>> = []
  private readonly waiters: Array<Waiter<T>> = []
  private readonly slots = new Map<string, number>()
  private accepted = 0
  private dropped = 0
  private moved = 0

  constructor (options: ResolvedLane) {
    this.name = options.name
    this.capacity = options.backlog
    this.maxPerPeer = options.maxPerPeer
    this.priority = options.priority
    this.weight = options.weight
    this.match = options.match
  }

  /** Items waiting now */
  get size (): number {
    return this.queue.length
  }

  get isFull (): boolean {
    return this.queue.length >= this.capacity
  }

  stats (): LaneStats {
    return { backlog: this.capacity, queued: this.queue.length, accepted: this.accepted, dropped: this.dropped, moved: this.moved }
  }

  countAccepted (): void { this.accepted++ }
  countDropped (): void { this.dropped++ }
  countMoved (): void { this.moved++ }

  /**
   * Whether `peer` may queue an item here now, and which entry must make room
   * for it. The victim is already out of the queue when this returns.
   */
  admit (peer: string): Admission<T> {
    const held = this.slots.get(peer) ?? 0

    // a peer holding the whole lane is told the lane is full, not its limit
    if (held >= this.maxPerPeer && this.maxPerPeer < this.capacity) {
      return { admitted: false, reason: 'peer-limit' }
    }

    if (this.queue.length < this.capacity) {
      return { admitted: true }
    }

    const victim = this.heaviestNewest(held)

    if (victim == null) {
      return { admitted: false, reason: 'backlog-full' }
    }

    this.remove(victim)

    return { admitted: true, victim }
  }

  /** Appends an entry, or puts it first (for a moved item) */
  add (entry: LaneEntry<T>, first = false): void {
    if (first) {
      this.queue.unshift(entry)
    } else {
      this.queue.push(entry)
    }

    this.slots.set(entry.peer, (this.slots.get(entry.peer) ?? 0) + 1)
  }

  /** Takes the oldest entry out of the queue */
  shift (): LaneEntry<T> | undefined {
    const entry = this.queue[0]

    if (entry != null) {
      this.remove(entry)
    }

    return entry
  }

  /** Takes an entry out of the queue; false if it was not there */
  remove (entry: LaneEntry<T>): boolean {
    const index = this.queue.indexOf(entry)

    if (index === -1) {
      return false
    }

    this.queue.splice(index, 1)

    const held = (this.slots.get(entry.peer) ?? 1) - 1

    if (held === 0) {
      this.slots.delete(entry.peer)
    } else {
      this.slots.set(entry.peer, held)
    }

    return true
  }

  /** Takes every entry out of the queue, oldest first */
  clear (): Array<LaneEntry<T>> {
    this.slots.clear()
    return this.queue.splice(0)
  }

  /** Queues a reader of this lane alone */
  wait (waiter: Waiter<T>): void {
    this.waiters.push(waiter)
  }

  /** The longest-waiting reader of this lane alone, taken off the list */
  takeWaiter (): Waiter<T> | undefined {
    return this.waiters.shift()
  }

  /** Every reader of this lane alone, taken off the list */
  takeWaiters (): Array<Waiter<T>> {
    return this.waiters.splice(0)
  }

  /**
   * The newest entry of the peer holding the most slots, if that peer holds at
   * least two more than `held`.
   */
  private heaviestNewest (held: number): LaneEntry<T> | undefined {
    let heaviest: string | undefined
    let most = held + 1

    for (const [peer, count] of this.slots) {
      if (count > most) {
        heaviest = peer
        most = count
      }
    }

    return heaviest == null ? undefined : this.queue.findLast(entry => entry.peer === heaviest)
  }
}
