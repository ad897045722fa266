/** Something queued at `entry.since` (ms) */
interface Aged {
  entry: { since: number }
}

/**
 * One timer for all the queued streams of an `accept`, armed for the oldest:
 * when it fires, every stream older than `maxAge` is expired and the timer is
 * armed again for the oldest left. No timer runs while nothing is queued.
 */
export class Expiry<T extends Aged> {
  private readonly maxAge: number
  private readonly queued: () => Iterable<T>
  private readonly expire: (queued: T) => void
  private timer?: ReturnType<typeof setTimeout>

  constructor (maxAge: number, queued: () => Iterable<T>, expire: (queued: T) => void) {
    this.maxAge = maxAge
    this.queued = queued
    this.expire = expire
  }

  /** Makes sure a stream queued at `since` is expired on time */
  watch (since: number): void {
    if (this.timer == null) {
      this.arm(since)
    }
  }

  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private arm (oldest: number): void {
    this.timer = setTimeout(() => { this.run() }, Math.max(0, oldest + this.maxAge - Date.now()))
    // a queue must not keep a Node.js process alive
    if (typeof this.timer === 'object' && typeof this.timer.unref === 'function') {
      this.timer.unref()
    }
  }

  private run (): void {
    this.timer = undefined
    const deadline = Date.now() - this.maxAge
    const expired: T[] = []
    let oldest = Infinity

    for (const queued of this.queued()) {
      if (queued.entry.since <= deadline) {
        expired.push(queued)
      } else {
        oldest = Math.min(oldest, queued.entry.since)
      }
    }

    for (const queued of expired) {
      this.expire(queued)
    }

    if (oldest !== Infinity && this.timer == null) {
      this.arm(oldest)
    }
  }
}
