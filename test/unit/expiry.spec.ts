import { expect } from 'aegir/chai'
import { Expiry } from '../../src/inbound/expiry.ts'
import { eventually } from '../fixtures/wait.ts'

const MAX_AGE = 30

interface Queued {
  name: string
  entry: { since: number }
}

/** A queue of named items and an Expiry over it that takes what expires out of it */
function setup (maxAge = MAX_AGE): { queue: Queued[], expired: string[], expiry: Expiry<Queued>, add(name: string, age?: number): void } {
  const queue: Queued[] = []
  const expired: string[] = []
  const expiry = new Expiry<Queued>(maxAge, () => queue, item => {
    queue.splice(queue.indexOf(item), 1)
    expired.push(item.name)
  })

  return {
    queue,
    expired,
    expiry,
    add (name, age = 0) {
      const since = Date.now() - age
      queue.push({ name, entry: { since } })
      expiry.watch(since)
    }
  }
}

/** Whether the Expiry has a timer set */
function armed (expiry: Expiry<Queued>): boolean {
  return (expiry as unknown as { timer?: unknown }).timer != null
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

describe('unit: Expiry (real timers, maxAge 30 ms)', () => {
  it('sets no timer until something is watched', () => {
    const { expiry } = setup()
    expect(armed(expiry)).to.be.false()
  })

  it('expires only the entries older than maxAge, leaving the young ones queued', async () => {
    const { add, expired, queue, expiry } = setup()
    add('old', MAX_AGE + 10)
    add('young')

    await eventually(() => expired.length > 0, 'the old entry expired', 1_000)
    expect(expired).to.deep.equal(['old'])
    expect(queue.map(q => q.name)).to.deep.equal(['young'])
    expiry.stop()
  })

  it('does not expire an entry before it is maxAge old', async () => {
    const { add, expired, expiry } = setup()
    const start = Date.now()
    add('a')

    await eventually(() => expired.length === 1, 'a expired', 1_000)
    expect(Date.now() - start).to.be.at.least(MAX_AGE - 1)
    expiry.stop()
  })

  it('re-arms for the oldest entry left, and expires each in its turn', async () => {
    const { add, expired, queue, expiry } = setup()
    add('first')
    await sleep(15)
    add('second')

    await eventually(() => expired.length === 1, 'first expired', 1_000)
    expect(expired).to.deep.equal(['first'])
    expect(armed(expiry), 'armed for the second').to.be.true()

    await eventually(() => expired.length === 2, 'second expired', 1_000)
    expect(expired).to.deep.equal(['first', 'second'])
    expect(queue).to.have.lengthOf(0)
  })

  it('expires in one go every entry that is old when the timer fires', async () => {
    const { add, expired, queue, expiry } = setup()
    add('a', MAX_AGE + 20)
    add('b', MAX_AGE + 10)
    add('c')

    await eventually(() => expired.length >= 2, 'a and b expired', 1_000)
    expect(expired).to.deep.equal(['a', 'b'])
    expect(queue.map(q => q.name)).to.deep.equal(['c'])
    expiry.stop()
  })

  it('keeps no timer once nothing is left queued', async () => {
    const { add, expired, expiry } = setup()
    add('a')

    await eventually(() => expired.length === 1, 'a expired', 1_000)
    expect(armed(expiry)).to.be.false()
  })

  it('forgets entries that left the queue before their time: nothing is expired and the timer ends', async () => {
    const { add, expired, queue, expiry } = setup()
    add('taken')
    queue.splice(0)

    await sleep(MAX_AGE * 2)
    expect(expired).to.deep.equal([])
    expect(armed(expiry)).to.be.false()
  })

  it('stop() clears the timer and nothing expires afterwards', async () => {
    const { add, expired, expiry } = setup()
    add('a')
    add('b', 10)
    expect(armed(expiry)).to.be.true()

    expiry.stop()
    expect(armed(expiry)).to.be.false()

    await sleep(MAX_AGE * 2)
    expect(expired).to.deep.equal([])
  })

  it('does not keep the process alive while a timer is set', () => {
    const { add, expiry } = setup(60_000)
    add('a')

    const timer = (expiry as unknown as { timer: { hasRef(): boolean } }).timer
    expect(timer.hasRef()).to.be.false()
    expiry.stop()
  })
})
