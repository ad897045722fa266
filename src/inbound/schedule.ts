/** What the schedule needs to know of a lane */
export interface Scheduled {
  readonly size: number
  readonly priority: number
  readonly weight: number
}

/**
 * The order in which readers of a whole `IncomingStreams` are served from its
 * lanes: the queued lanes of highest `priority` first; among those, smooth
 * weighted round-robin on `weight` (each lane gains its weight in credit, the
 * richest is served and pays the round's total), so over any run of picks
 * each lane's share is in proportion to its weight, interleaved.
 */
export class Schedule<L extends Scheduled> {
  private readonly lanes: readonly L[]
  private readonly credit: number[]

  constructor (lanes: readonly L[]) {
    this.lanes = lanes
    this.credit = lanes.map(() => 0)
  }

  /** The lane to serve next, or undefined when every lane is empty */
  pick (): L | undefined {
    if (this.lanes.length === 1) {
      return this.lanes[0].size > 0 ? this.lanes[0] : undefined
    }

    let top = -Infinity

    for (const lane of this.lanes) {
      if (lane.size > 0 && lane.priority > top) {
        top = lane.priority
      }
    }

    let best = -1
    let total = 0

    for (let i = 0; i < this.lanes.length; i++) {
      const lane = this.lanes[i]

      if (lane.size === 0 || lane.priority !== top) {
        continue
      }

      this.credit[i] += lane.weight
      total += lane.weight

      if (best === -1 || this.credit[i] > this.credit[best]) {
        best = i
      }
    }

    if (best === -1) {
      return undefined
    }

    this.credit[best] -= total

    return this.lanes[best]
  }
}
