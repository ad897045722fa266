import { NotStartedError, isPeerId } from '@libp2p/interface'
import { canOpenLazily, fixStream, isProven, OPENING, openAfterFirstStream, openingReset, openLazily } from '../libp2p-fixes/index.ts'
import { resolveOpen } from '../options.ts'
import { Deadline } from './deadline.ts'
import { abortError, explain, isFinal, notTaken } from './open-errors.ts'
import type { Opening } from '../libp2p-fixes/index.ts'
import type { Registry } from '../registry.ts'
import type { AbortError, Connection, DialTarget, NewStreamOptions, Stream } from '@libp2p/interface'

/**
 * Opens a stream to `target` for the first of `protocol` the remote supports,
 * dialling first when there is no connection. See `Control.openStream`.
 */
export async function openStream (registry: Registry, target: unknown, protocol: unknown, openOptions: unknown): Promise<Stream> {
  const {
    target: dialTarget, protocols, signal, openTimeout, negotiationTimeout, maxOutboundStreams,
    runOnLimitedConnection, negotiateFully, force, connection: given, onProgress
  } = resolveOpen(target, protocol, openOptions, registry.init)

  if (!registry.isRunning) {
    throw new NotStartedError('The libp2p node is not started')
  }

  if (signal?.aborted === true) {
    throw abortError('openStream was called with an aborted signal', signal)
  }

  // one signal for libp2p, aborted by the caller, by stop(), or by the open
  // or negotiation timeout; the reason tells them apart
  const controller = new AbortController()
  // made only when needed: an error's stack trace is a large part of an open
  let aborted: AbortError | undefined
  const onAbort = (): void => {
    aborted = abortError('openStream was aborted', signal)
    controller.abort(aborted)
  }
  registry.trackOpen(controller)
  let deadline: Deadline | undefined

  signal?.addEventListener('abort', onAbort, { once: true })

  try {
    let connection: Connection

    // an open connection to the peer is used as it is, without the dialler's
    // bookkeeping; otherwise libp2p finds or dials one
    const reused = given ?? (force ? undefined : openConnectionTo(registry, dialTarget))
    deadline = new Deadline(controller, openTimeout, negotiationTimeout, reused != null)

    try {
      connection = reused ?? await registry.components.connectionManager.openConnection(dialTarget, {
        signal: controller.signal,
        force
      })
    } catch (err: any) {
      throw explain(err, controller.signal, aborted, `Could not connect to ${String(dialTarget)}`)
    }

    deadline.connected()

    try {
      const lazy = negotiateFully === false ? openLazilyIfAble(registry, connection, protocols, maxOutboundStreams, negotiationTimeout, runOnLimitedConnection) : undefined

      if (lazy != null) {
        return await lazy
      }

      const opening: Opening = {}
      const newStreamOptions = { signal: controller.signal, maxOutboundStreams, runOnLimitedConnection, negotiateFully, onProgress, [OPENING]: opening }
      let stream: Stream

      try {
        // waits for multistream-select to agree on a protocol
        stream = await openAfterFirstStream(connection, newStreamOptions, protocols)
      } catch (err: any) {
        stream = await reopen(err, opening, registry, connection, given == null && reused != null, dialTarget, newStreamOptions, protocols)
      }

      // the remote may reset a stream it cannot take (a full backlog) as soon
      // as it has agreed on the protocol; one that already did is no open
      if (stream.status !== 'open') {
        throw notTaken(stream)
      }

      fixStream(stream, registry.init.maxReadAhead)
      registry.metrics.onOpened(stream.protocol)
      return stream
    } catch (err: any) {
      if (isFinal(err) && !controller.signal.aborted) {
        throw err
      }

      throw explain(err, controller.signal, aborted, `Could not open a stream for ${protocols.join(', ')} to ${connection.remotePeer}`)
    }
  } catch (err: any) {
    registry.metrics.onOpenError(err)
    registry.log.trace('openStream %s to %s failed - %e', protocols, dialTarget, err)
    throw err
  } finally {
    deadline?.clear()
    signal?.removeEventListener('abort', onAbort)
    registry.untrackOpen(controller)
  }
}

/**
 * With one protocol, on a connection whose first negotiation is done and no
 * outbound middleware for it, the stream is handed out at once and its first
 * write carries the negotiation (see `libp2p-fixes/lazy-select.ts`); the
 * open is counted when the listener answered. Anything else: `undefined`,
 * negotiate fully.
 */
function openLazilyIfAble (registry: Registry, connection: Connection, protocols: string[], maxOutboundStreams: number, negotiationTimeout: number, runOnLimitedConnection?: boolean): Promise<Stream> | undefined {
  const [protocol] = protocols

  if (protocols.length !== 1 || !isProven(connection) || !canOpenLazily(connection, protocol, registry.components.registrar)) {
    return undefined
  }

  return openLazily(connection, protocol, registry.components, {
    maxOutboundStreams,
    runOnLimitedConnection,
    negotiationTimeout,
    maxReadAhead: registry.init.maxReadAhead,
    log: registry.log,
    onAnswer: err => { err == null ? registry.metrics.onOpened(protocol) : registry.metrics.onOpenError(err) }
  })
}

/**
 * What to do when negotiating on `connection` failed with `err`: a reset
 * that said why (such as the listener's rate limit) is the
 * `RemoteResetError` it makes; libp2p can still list a connection whose
 * muxer has just closed, so one that was `found` (not given, not dialled)
 * gets one fresh dial; anything else is thrown as it is.
 */
async function reopen (err: any, opening: Opening, registry: Registry, connection: Connection, found: boolean, target: DialTarget, options: NewStreamOptions & { signal: AbortSignal }, protocols: string[]): Promise<Stream> {
  const said = openingReset(opening)

  if (said != null) {
    throw said
  }

  if (!found || !isClosed(err) || options.signal.aborted) {
    throw err
  }

  registry.log('connection %s to %p closed under the open, dialling again', connection.id, connection.remotePeer)
  const fresh = await registry.components.connectionManager.openConnection(target, { signal: options.signal, force: true })

  return openAfterFirstStream(fresh, options, protocols)
}

/**
 * An open, unlimited connection to `target` when it is a `PeerId`, a direct
 * one first: what libp2p's `openConnection` would return for it, found
 * without its dialler's bookkeeping. Anything else (a multiaddr, no such
 * connection) is left to `openConnection`.
 */
function openConnectionTo (registry: Registry, target: unknown): Connection | undefined {
  if (!isPeerId(target)) {
    return undefined
  }

  let found: Connection | undefined

  for (const connection of registry.components.connectionManager.getConnections(target)) {
    if (connection.status !== 'open' || connection.limits != null) {
      continue
    }

    if (connection.direct) {
      return connection
    }

    found ??= connection
  }

  return found
}

/** The connection closed under the open: its muxer or socket is gone */
function isClosed (err: any): boolean {
  return err?.name === 'ConnectionClosedError' || err?.name === 'MuxerUnavailableError'
}
