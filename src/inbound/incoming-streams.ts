import { DONE } from './acceptor.ts'
import type { Acceptor } from './acceptor.ts'
import type { Lane } from './lane.ts'
import type { IncomingStats, IncomingStream, IncomingStreams } from '../types.ts'

/**
 * Closes the acceptor of a handle that was garbage-collected while still open,
 * so an abandoned `accept` never keeps its protocols registered.
 */
const abandoned = new FinalizationRegistry<Acceptor>(acceptor => {
  if (!acceptor.closed) {
    acceptor.log('IncomingStreams for %s was garbage-collected without close(), deregistering', acceptor.protocols)
    acceptor.close()
  }
})

/**
 * The public handle over an {@link Acceptor}.
 */
class IncomingStreamsHandle implements IncomingStreams {
  readonly #acceptor: Acceptor

  constructor (acceptor: Acceptor) {
    this.#acceptor = acceptor
    abandoned.register(this, acceptor, acceptor)
  }

  get [Symbol.toStringTag] (): string {
    return 'IncomingStreams'
  }

  get protocols (): readonly string[] {
    return this.#acceptor.protocols
  }

  get queued (): number {
    return this.#acceptor.queued
  }

  get accepted (): number {
    return this.#acceptor.accepted
  }

  get dropped (): number {
    return this.#acceptor.dropped
  }

  get closed (): boolean {
    return this.#acceptor.closed
  }

  close (): void {
    abandoned.unregister(this.#acceptor)
    this.#acceptor.close()
  }

  lane (name: string): AsyncIterable<IncomingStream> {
    const lane = this.#acceptor.lane(name)

    return {
      [Symbol.asyncIterator]: () => ({
        // refers to the handle, so a worker in progress keeps it alive
        next: async () => this.#next(lane)
      })
    }
  }

  move (item: IncomingStream, name: string): void {
    this.#acceptor.move(item, name)
  }

  stats (): IncomingStats {
    return this.#acceptor.stats()
  }

  async #next (lane: Lane<IncomingStream>): Promise<IteratorResult<IncomingStream, undefined>> {
    return this.#acceptor.nextFrom(lane)
  }

  [Symbol.asyncIterator] (): AsyncIterator<IncomingStream, undefined> {
    return {
      // the iterator refers to the handle, so a loop in progress keeps it alive
      next: async () => this.#acceptor.next(),
      return: async () => {
        this.close()
        return DONE
      }
    }
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    this.close()
  }
}

export function createIncomingStreams (acceptor: Acceptor): IncomingStreams {
  return new IncomingStreamsHandle(acceptor)
}
