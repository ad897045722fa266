import { InvalidParametersError } from '@libp2p/interface'
import { validateCount, validateOptions } from './validate.ts'
import type { DropReason } from './backlog.ts'
import type { IncomingStream } from './incoming.ts'
import type { Connection, PeerId } from '@libp2p/interface'

/**
 * What a lane's `match` is asked about an inbound stream.
 */
export interface LaneMatchInput {
  /** The remote peer that opened the stream */
  peer: PeerId
  /** The connection it arrived on */
  connection: Connection
  /** The negotiated protocol */
  protocol: string
}

/**
 * One lane of an `accept` with lanes.
 */
export interface LaneOptions {
  /**
   * Streams that may wait in this lane.
   *
   * @default 32
   */
  backlog?: number

  /**
   * Slots of this lane one peer may hold.
   *
   * @default backlog
   */
  maxPerPeer?: number

  /**
   * Which streams belong here; the first lane (in declaration order) whose
   * `match` returns true takes the stream, and the one lane without `match`
   * takes the rest. A `match` that throws resets that stream and is logged.
   */
  match?(input: LaneMatchInput): boolean

  /**
   * Iterating the handle serves queued lanes of higher priority first.
   *
   * @default 0
   */
  priority?: number

  /**
   * Among queued lanes of equal priority, each gets a share of the streams
   * yielded in proportion to its weight.
   *
   * @default 1
   */
  weight?: number
}

/**
 * A lane's counters, from `IncomingStreams.stats()`.
 */
export interface LaneStats {
  /** Its backlog size */
  backlog: number
  /** Streams waiting in it now */
  queued: number
  /** Streams yielded from it */
  accepted: number
  /** Streams reset without being yielded */
  dropped: number
  /** Streams moved into it with `move()` */
  moved: number
}

export interface Queued {
  item: IncomingStream
  peer: string
  onStreamClose(): void
}

export type Waiter = (result: IteratorResult<IncomingStream, undefined>) => void

/**
 * One bounded FIFO queue of inbound streams, with its own readers, counters
 * and per-peer slots.
 *
 * When full, a stream from a peer holding fewer slots than the peer holding
 * the most takes the newest slot of that peer: one peer may fill an idle lane,
 * yet cannot keep others out of it.
 */
export class Lane {
  readonly name: string
  readonly capacity: number
  readonly maxPerPeer: number
  readonly priority: number
  readonly weight: number
  readonly match?: (input: LaneMatchInput) => boolean
  readonly queue: Queued[] = []
  /** Readers of this lane alone (`IncomingStreams.lane(name)`) */
  readonly waiters: Waiter[] = []
  accepted = 0
  dropped = 0
  moved = 0
  /** Smooth weighted round-robin state, see `Backlog.pick()` */
  credit = 0
  private readonly slots = new Map<string, number>()

  constructor (name: string, options: Required<Omit<LaneOptions, 'match'>> & Pick<LaneOptions, 'match'>) {
    this.name = name
    this.capacity = options.backlog
    this.maxPerPeer = options.maxPerPeer
    this.priority = options.priority
    this.weight = options.weight
    this.match = options.match
  }

  stats (): LaneStats {
    return { backlog: this.capacity, queued: this.queue.length, accepted: this.accepted, dropped: this.dropped, moved: this.moved }
  }

  /**
   * Why `peer` may not queue a stream here now, or undefined if it may;
   * `evict` is called with the entry that has to make room for it.
   */
  admit (peer: string, evict: (entry: Queued) => void): DropReason | undefined {
    const held = this.slots.get(peer) ?? 0

    // a peer holding the whole lane is told the lane is full, not its limit
    if (held >= this.maxPerPeer && this.maxPerPeer < this.capacity) {
      return 'peer-limit'
    }

    if (this.queue.length < this.capacity) {
      return undefined
    }

    const victim = this.heaviestNewest(held)

    if (victim == null) {
      return 'backlog-full'
    }

    this.remove(victim)
    evict(victim)

    return undefined
  }

  /** Appends an entry, or puts it first (for a moved stream) */
  add (entry: Queued, first = false): void {
    if (first) {
      this.queue.unshift(entry)
    } else {
      this.queue.push(entry)
    }

    entry.item.stream.addEventListener('close', entry.onStreamClose, { once: true })
    this.slots.set(entry.peer, (this.slots.get(entry.peer) ?? 0) + 1)
  }

  /** Takes an entry out of the queue; false if it was not there */
  remove (entry: Queued): boolean {
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

  /**
   * The newest entry of the peer holding the most slots, if that peer holds at
   * least two more than `held`.
   */
  private heaviestNewest (held: number): Queued | undefined {
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

/** The lane of an `accept` without lanes */
export const DEFAULT_LANE = 'default'

/**
 * The lanes of an `accept`: those given in `lanes`, checked, or one lane
 * called `default` from the top-level `backlog` and `maxPerPeer`.
 */
export function createLanes (lanes: unknown, backlog: unknown, maxPerPeer: unknown, defaultBacklog: number): Lane[] {
  if (lanes === undefined) {
    const capacity = validateCount(backlog, 'backlog', defaultBacklog)

    return [new Lane(DEFAULT_LANE, {
      backlog: capacity,
      maxPerPeer: validateCount(maxPerPeer, 'maxPerPeer', capacity),
      priority: 0,
      weight: 1
    })]
  }

  if (backlog !== undefined || maxPerPeer !== undefined) {
    throw new InvalidParametersError('backlog and maxPerPeer are set per lane when lanes are given')
  }

  const entries = Object.entries(validateOptions<Record<string, LaneOptions>>(lanes, 'lanes'))

  if (entries.length === 0) {
    throw new InvalidParametersError('lanes must name at least one lane')
  }

  const created = entries.map(([name, laneOptions]) => {
    const options = validateOptions<LaneOptions>(laneOptions, `lanes.${name}`)
    const capacity = validateCount(options.backlog, `lanes.${name}.backlog`, defaultBacklog)
    const priority = options.priority ?? 0
    const weight = options.weight ?? 1

    if (name === '') {
      throw new InvalidParametersError('lanes must have non-empty names')
    }

    if (options.match !== undefined && typeof options.match !== 'function') {
      throw new InvalidParametersError(`lanes.${name}.match must be a function`)
    }

    if (typeof priority !== 'number' || !Number.isSafeInteger(priority)) {
      throw new InvalidParametersError(`lanes.${name}.priority must be an integer`)
    }

    return new Lane(name, {
      backlog: capacity,
      maxPerPeer: validateCount(options.maxPerPeer, `lanes.${name}.maxPerPeer`, capacity),
      priority,
      weight: validateCount(weight, `lanes.${name}.weight`, 1, 1),
      match: options.match
    })
  })

  const defaults = created.filter(lane => lane.match == null)

  if (defaults.length !== 1) {
    throw new InvalidParametersError(defaults.length === 0
      ? 'lanes need a default lane: one without match, for streams no other lane takes'
      : `lanes may have only one default lane (without match), got ${defaults.map(lane => lane.name).join(', ')}`)
  }

  return created
}
