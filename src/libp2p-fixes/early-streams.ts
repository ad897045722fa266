import { raceSignal } from '../race-signal.ts'
import type { Connection, NewStreamOptions, Stream } from '@libp2p/interface'

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
 *
 * Keyed by connection object, so one table serves every node in the process.
 */
const proven = new WeakSet<Connection>()
const pending = new WeakMap<Connection, Promise<void>>()

/** Whether a negotiation on `connection` has completed, so the remote has finished setting it up */
export function isProven (connection: Connection): boolean {
  return proven.has(connection)
}

/** What `openAfterFirstStream` passes to `connection.newStream`: a signal is required, to give up waiting */
type GuardedOptions = NewStreamOptions & { signal: AbortSignal }

/**
 * Opens a stream for `protocols` on `connection`, after the connection's
 * first negotiation when that is still in progress. Not async: on a proven
 * connection (every open but the first few) libp2p's own promise is returned
 * as it is.
 */
export function openAfterFirstStream (connection: Connection, options: GuardedOptions, protocols: string[]): Promise<Stream> {
  if (proven.has(connection)) {
    return connection.newStream(protocols, options)
  }

  return openWhenProven(connection, options, protocols)
}

async function openWhenProven (connection: Connection, options: GuardedOptions, protocols: string[]): Promise<Stream> {
  while (!proven.has(connection)) {
    const first = pending.get(connection)

    if (first == null) {
      return lead(connection, options, protocols)
    }

    // waits for the leading open to finish, whatever its outcome
    await raceSignal(first, options.signal)
  }

  return connection.newStream(protocols, options)
}

async function lead (connection: Connection, options: GuardedOptions, protocols: string[]): Promise<Stream> {
  const { promise, resolve } = Promise.withResolvers<void>()
  pending.set(connection, promise)

  try {
    const result = await connection.newStream(protocols, options)
    proven.add(connection)
    return result
  } catch (err: any) {
    // the remote answered, so it is ready even though it said no
    if (err?.name === 'UnsupportedProtocolError') {
      proven.add(connection)
    }

    throw err
  } finally {
    pending.delete(connection)
    resolve()
  }
}
