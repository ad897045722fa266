import { raceSignal } from './race-signal.ts'
import type { Connection } from '@libp2p/interface'

/**
 * Holds back concurrent opens on a connection until its first negotiation has
 * finished.
 *
 * A js-libp2p listener treats streams that arrive before it has finished
 * setting up a new connection as "early" and aborts the whole connection when
 * there are more than 10 of them (`maxEarlyStreams`). Opening many streams at
 * once right after a dial would therefore lose the connection. The first
 * negotiation to complete proves the remote is ready, so until then one open
 * at a time goes ahead and the others wait for it.
 */
export class FirstStream {
  private readonly proven = new WeakSet<Connection>()
  private readonly pending = new WeakMap<Connection, Promise<void>>()

  /**
   * Runs `open` on `connection`, after the connection's first negotiation
   * when that is still in progress.
   */
  async run <T> (connection: Connection, open: () => Promise<T>, signal: AbortSignal): Promise<T> {
    while (!this.proven.has(connection)) {
      const first = this.pending.get(connection)

      if (first == null) {
        return this.lead(connection, open)
      }

      // waits for the leading open to finish, whatever its outcome
      await raceSignal(first, signal)
    }

    return open()
  }

  private async lead <T> (connection: Connection, open: () => Promise<T>): Promise<T> {
    const { promise, resolve } = Promise.withResolvers<void>()
    this.pending.set(connection, promise)

    try {
      const result = await open()
      this.proven.add(connection)
      return result
    } catch (err: any) {
      // the remote answered, so it is ready even though it said no
      if (err?.name === 'UnsupportedProtocolError') {
        this.proven.add(connection)
      }

      throw err
    } finally {
      this.pending.delete(connection)
      resolve()
    }
  }
}
