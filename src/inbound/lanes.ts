import { InvalidParametersError } from '@libp2p/interface'
import { Lane } from './lane.ts'
import { Schedule } from './schedule.ts'
import type { ResolvedLane } from '../options.ts'
import type { IncomingStream } from '../types/incoming.ts'

/**
 * The lanes of one `accept`, in declaration order: which lane a stream
 * belongs to, which lane a reader of the whole handle is served from, and
 * each lane by name.
 */
export class Lanes {
  /** In declaration order */
  readonly all: ReadonlyArray<Lane<IncomingStream>>
  /** The one lane without `match`, which takes what no other lane does */
  readonly fallback: Lane<IncomingStream>
  private readonly byName: Map<string, Lane<IncomingStream>>
  private readonly schedule: Schedule<Lane<IncomingStream>>

  constructor (lanes: ResolvedLane[]) {
    this.all = lanes.map(options => new Lane(options))
    this.byName = new Map(this.all.map(lane => [lane.name, lane]))
    this.fallback = this.all.find(lane => lane.match == null) ?? this.all[0]
    this.schedule = new Schedule(this.all)
  }

  /** The lane called `name`, or an InvalidParametersError */
  get (name: string): Lane<IncomingStream> {
    const lane = this.byName.get(name)

    if (lane == null) {
      throw new InvalidParametersError(`lane "${name}" is not one of ${[...this.byName.keys()].join(', ')}`)
    }

    return lane
  }

  /** The first lane whose `match` takes the stream, else the default lane; a `match` that throws, throws */
  route (item: IncomingStream): Lane<IncomingStream> {
    for (const lane of this.all) {
      if (lane.match?.(item) === true) {
        return lane
      }
    }

    return this.fallback
  }

  /** The lane to serve a reader of the whole handle from, see {@link Schedule} */
  pick (): Lane<IncomingStream> | undefined {
    return this.schedule.pick()
  }
}
