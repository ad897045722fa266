import { DONE } from './outlet.ts'
import type { Acceptor } from './acceptor.ts'
import type { IncomingStats, IncomingStream, IncomingStreams } from '../types/incoming.ts'
import type { AbortOptions } from '@libp2p/interface'

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
    return this.#acceptor.ledger.accepted
  }

  get dropped (): number {
    return this.#acceptor.ledger.dropped
  }

  get closed (): boolean {
    return this.#acceptor.closed
  }

  close (): void {
    abandoned.unregister(this.#acceptor)
    this.#acceptor.close()
  }

  next (options?: AbortOptions): Promise<IteratorResult<IncomingStream, undefined>> {
    return this.#acceptor.outlet.next(options)
  }

  lane (name: string): AsyncIterable<IncomingStream> {
    const lane = this.#acceptor.lane(name)

    return {
      [Symbol.asyncIterator]: () => ({
        // refers to the handle, so a worker in progress keeps it alive
        next: (options?: AbortOptions) => this.#acceptor.outlet.nextFrom(lane, options)
      })
    }
  }

  move (item: IncomingStream, name: string): void {
    this.#acceptor.move(item, name)
  }

  stats (): IncomingStats {
    return this.#acceptor.stats()
  }

  [Symbol.asyncIterator] (): AsyncIterator<IncomingStream, undefined> {
    return {
      // the iterator refers to the handle, so a loop in progress keeps it alive
      next: (options?: AbortOptions) => this.#acceptor.outlet.next(options),
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
