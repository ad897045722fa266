import { victimFor } from './eviction.ts'
import { Readers } from './readers.ts'
import type { ResolvedLane } from '../options.ts'
import type { DropReason } from '../types/incoming.ts'
import type { LaneMatchInput } from '../types/options.ts'

/** A queued item, with the peer and the network group whose slot it holds */
export interface LaneEntry<T> {
  item: T
  peer: string
  group: string
}

/** What `admit` decided: queue it, queue it after evicting `victim`, or refuse */
export type Admission<T> =
  | { admitted: true, victim?: LaneEntry<T> }
  | { admitted: false, reason: DropReason }

/**
 * One bounded queue, with its own readers and per-peer slots (its counters
 * are the ledger's). It
 * knows nothing of streams: the acceptor puts items in and takes them out.
 *
 * Items are served network group by network group in turn, each group's
 * oldest first (moved items before all): a group with one item waiting is
 * served after at most one item of each other group, however many the others
 * hold, so a flood from one network delays an honest peer by one turn, not
 * by the flood's length.
 *
 * When full, an item from a network group holding fewer slots than the group
 * holding the most takes the newest slot of that group's heaviest peer; within
 * one group, the same holds between its peers. One peer, or one network with
 * any number of peer ids, may fill an idle lane, yet cannot keep others out.
 */
export class Lane<T> {
  readonly name: string
  readonly capacity: number
  readonly maxPerPeer: number
  readonly priority: number
  readonly weight: number
  readonly match?: (input: LaneMatchInput) => boolean
  /** Moved items, served before any other */
  private readonly front: Array<LaneEntry<T>> = []
  /** Each group's items, oldest first; the groups in the order of their turns */
  private readonly turns = new Map<string, Array<LaneEntry<T>>>()
  private count = 0
  /** Readers of this lane alone (`IncomingStreams.lane(name)`) */
  readonly readers = new Readers<T>()
  /** Slots held by each peer, and by each network group */
  private readonly peerSlots = new Map<string, number>()
  private readonly groupSlots = new Map<string, number>()

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
    return this.count
  }

  get isFull (): boolean {
    return this.count >= this.capacity
  }

  /** The entry to serve next: the first moved one, else the oldest of the group whose turn it is */
  next (): LaneEntry<T> | undefined {
    return this.front[0] ?? this.turns.values().next().value?.[0]
  }

  /** Whether `peer` is over `maxPerPeer` here (a peer may always fill a lane whose `maxPerPeer` is its size) */
  isPeerOverLimit (peer: string): boolean {
    return this.maxPerPeer < this.capacity && (this.peerSlots.get(peer) ?? 0) >= this.maxPerPeer
  }

  /**
   * Whether an item of `peer` from `group` may queue here now, and which entry
   * must make room for it. The victim is already out of the queue when this
   * returns.
   */
  admit (peer: string, group: string): Admission<T> {
    // a peer holding the whole lane is told the lane is full, not its limit
    if (this.isPeerOverLimit(peer)) {
      return { admitted: false, reason: 'peer-limit' }
    }

    if (this.count < this.capacity) {
      return { admitted: true }
    }

    const victim = victimFor(this.peerSlots, this.groupSlots, peer, group, g => [...this.front.filter(entry => entry.group === g), ...(this.turns.get(g) ?? [])])

    if (victim == null) {
      return { admitted: false, reason: 'backlog-full' }
    }

    this.remove(victim)

    return { admitted: true, victim }
  }

  /** Appends an entry to its group's items, or puts it first (for a moved item) */
  add (entry: LaneEntry<T>, first = false): void {
    if (first) {
      this.front.unshift(entry)
    } else {
      const items = this.turns.get(entry.group)

      if (items == null) {
        // a group with nothing waiting takes its turn after the others
        this.turns.set(entry.group, [entry])
      } else {
        items.push(entry)
      }
    }

    this.count++
    increment(this.peerSlots, entry.peer, 1)
    increment(this.groupSlots, entry.group, 1)
  }

  /**
   * Takes an entry out of the queue; false if it was not there. The oldest of
   * the group whose turn it is ends that turn: the group goes last.
   */
  remove (entry: LaneEntry<T>): boolean {
    if (!this.take(entry)) {
      return false
    }

    this.count--
    increment(this.peerSlots, entry.peer, -1)
    increment(this.groupSlots, entry.group, -1)

    return true
  }

  private take (entry: LaneEntry<T>): boolean {
    const moved = this.front.indexOf(entry)

    if (moved !== -1) {
      this.front.splice(moved, 1)
      return true
    }

    const items = this.turns.get(entry.group)
    const index = items?.indexOf(entry) ?? -1

    if (items == null || index === -1) {
      return false
    }

    items.splice(index, 1)

    if (items.length === 0) {
      this.turns.delete(entry.group)
    } else if (index === 0 && this.turns.keys().next().value === entry.group) {
      // its turn is over: last in line
      this.turns.delete(entry.group)
      this.turns.set(entry.group, items)
    }

    return true
  }
}

function increment (counts: Map<string, number>, key: string, by: number): void {
  const count = (counts.get(key) ?? 0) + by

  if (count <= 0) {
    counts.delete(key)
  } else {
    counts.set(key, count)
  }
}
