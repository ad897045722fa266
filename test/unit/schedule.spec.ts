import { expect } from 'aegir/chai'
import { Schedule } from '../../src/inbound/schedule.ts'
import { random } from '../fixtures/random.ts'

/** A stand-in for a lane: a name, how many items wait in it, and its place in the schedule */
interface FakeLane {
  name: string
  size: number
  priority: number
  weight: number
}

function fake (name: string, size: number, { priority = 0, weight = 1 } = {}): FakeLane {
  return { name, size, priority, weight }
}

/** Picks `count` times, taking one item from each lane picked, as the acceptor does; stops early when all are empty */
function serve (schedule: Schedule<FakeLane>, count: number): string[] {
  const order: string[] = []

  for (let i = 0; i < count; i++) {
    const lane = schedule.pick()

    if (lane == null) {
      break
    }

    lane.size--
    order.push(lane.name)
  }

  return order
}

function tally (order: string[]): Record<string, number> {
  const counts: Record<string, number> = {}

  for (const name of order) {
    counts[name] = (counts[name] ?? 0) + 1
  }

  return counts
}

describe('unit: Schedule', () => {
  it('picks nothing when every lane is empty', () => {
    expect(new Schedule([fake('a', 0), fake('b', 0)]).pick()).to.be.undefined()
    expect(new Schedule([fake('only', 0)]).pick()).to.be.undefined()
  })

  it('serves a single lane while it has items', () => {
    const only = fake('only', 2)
    expect(serve(new Schedule([only]), 5)).to.deep.equal(['only', 'only'])
  })

  it('serves strictly by priority: a lower lane gets nothing while a higher one has items, whatever the weights', () => {
    const high = fake('high', 3, { priority: 2 })
    const low = fake('low', 3, { priority: 1, weight: 100 })
    const lowest = fake('lowest', 3, { priority: -1 })

    expect(serve(new Schedule([lowest, low, high]), 20)).to.deep.equal([
      'high', 'high', 'high', 'low', 'low', 'low', 'lowest', 'lowest', 'lowest'
    ])
  })

  it('goes back to a higher lane as soon as it has items again', () => {
    const high = fake('high', 0, { priority: 1 })
    const low = fake('low', 10)
    const schedule = new Schedule([high, low])

    expect(serve(schedule, 2)).to.deep.equal(['low', 'low'])
    high.size = 1
    expect(serve(schedule, 2)).to.deep.equal(['high', 'low'])
  })

  it('with weights 3:1 gives exactly 3 of every 4 picks to the heavier lane, interleaved', () => {
    const heavy = fake('heavy', 1_000, { weight: 3 })
    const light = fake('light', 1_000)
    const order = serve(new Schedule([heavy, light]), 400)

    // every run of 4 consecutive picks, wherever it starts
    for (let i = 0; i + 4 <= order.length; i++) {
      expect(order.slice(i, i + 4).filter(name => name === 'heavy'), `picks ${i} to ${i + 3}`).to.have.lengthOf(3)
    }
  })

  it('shares among equal-priority lanes in proportion to their weights over any long run', () => {
    const lanes = [fake('w1', 10_000), fake('w2', 10_000, { weight: 2 }), fake('w5', 10_000, { weight: 5 })]
    const counts = tally(serve(new Schedule(lanes), 800))

    expect(counts).to.deep.equal({ w1: 100, w2: 200, w5: 500 })
  })

  it('skips a lane that empties out, and shares by weight again once it has items', () => {
    const heavy = fake('heavy', 3, { weight: 3 })
    const light = fake('light', 1_000)
    const schedule = new Schedule([heavy, light])

    const drained = serve(schedule, 10)
    expect(drained.filter(name => name === 'heavy')).to.have.lengthOf(3)
    expect(drained.slice(-5)).to.deep.equal(['light', 'light', 'light', 'light', 'light'])

    heavy.size = 1_000
    const counts = tally(serve(schedule, 400))
    // credit left from before the gap may shift the split by a pick or so
    expect(counts.heavy).to.be.within(299, 301)
  })

  it('property: with random weights and every lane busy, each full round of total-weight picks gives each lane exactly its weight', () => {
    const rng = random(2024)

    for (let trial = 0; trial < 50; trial++) {
      const lanes = Array.from({ length: 2 + rng.below(4) }, (_, i) => fake(`lane-${i}`, 1_000_000, { weight: 1 + rng.below(6) }))
      const total = lanes.reduce((sum, lane) => sum + lane.weight, 0)
      const schedule = new Schedule(lanes)

      for (let round = 0; round < 5; round++) {
        const counts = tally(serve(schedule, total))
        expect(lanes.map(lane => counts[lane.name] ?? 0), `trial ${trial}, round ${round}`).to.deep.equal(lanes.map(lane => lane.weight))
      }
    }
  })

  it('leaves out lanes that are empty from the round, so their weight is not given to anyone', () => {
    const rng = random(7)
    const lanes = [fake('a', 0, { weight: 2 }), fake('b', 0), fake('c', 0, { weight: 3 })]
    const schedule = new Schedule(lanes)

    for (let round = 0; round < 200; round++) {
      lanes.forEach(lane => { lane.size = rng.below(3) })
      const nonEmpty = lanes.filter(lane => lane.size > 0).map(lane => lane.name)
      const picked = schedule.pick()

      if (nonEmpty.length === 0) {
        expect(picked).to.be.undefined()
      } else {
        expect(nonEmpty).to.include(picked?.name)
      }
    }
  })
})
