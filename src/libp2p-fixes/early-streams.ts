import { raceSignal } from '../race-signal.ts'
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
 *
 * Keyed by connection object, so one table serves every node in the process.
 */
const proven = new WeakSet<Connection>()
const pending = new WeakMap<Connection, Promise<void>>()

/**
 * Runs `open` on `connection`, after the connection's first negotiation
 * when that is still in progress. Not async: on a proven connection (every
 * open but the first few) the open's own promise is returned as it is.
 */
export function openAfterFirstStream <T> (connection: Connection, open: () => Promise<T>, signal: AbortSignal): Promise<T> {
  if (proven.has(connection)) {
    return open()
  }

  return openWhenProven(connection, open, signal)
}

async function openWhenProven <T> (connection: Connection, open: () => Promise<T>, signal: AbortSignal): Promise<T> {
  while (!proven.has(connection)) {
    const first = pending.get(connection)

    if (first == null) {
      return lead(connection, open)
    }

    // waits for the leading open to finish, whatever its outcome
    await raceSignal(first, signal)
  }

  return open()
}

async function lead <T> (connection: Connection, open: () => Promise<T>): Promise<T> {
  const { promise, resolve } = Promise.withResolvers<void>()
  pending.set(connection, promise)

  try {
    const result = await open()
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
