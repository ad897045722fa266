import { AbortError, NotStartedError, TimeoutError } from '@libp2p/interface'
import { OpenStreamError } from '../errors.ts'
import { fixStream, openAfterFirstStream } from '../libp2p-fixes/index.ts'
import { resolveOpen } from '../options.ts'
import type { Registry } from '../registry.ts'
import type { Connection, Stream } from '@libp2p/interface'

/**
 * Opens a stream to `target` for the first of `protocol` the remote supports,
 * dialling first when there is no connection. See `Control.openStream`.
 */
export async function openStream (registry: Registry, target: unknown, protocol: unknown, openOptions: unknown): Promise<Stream> {
  const {
    target: dialTarget, protocols, signal, negotiationTimeout, maxOutboundStreams,
    runOnLimitedConnection, negotiateFully, force, connection: given
  } = resolveOpen(target, protocol, openOptions, registry.init)

  if (!registry.isRunning) {
    throw new NotStartedError('The libp2p node is not started')
  }

  if (signal?.aborted === true) {
    throw new AbortError('openStream was called with an aborted signal')
  }

  // one signal for libp2p, aborted by the caller, by stop(), or by the
  // negotiation timeout; the reason tells them apart
  const controller = new AbortController()
  // made only when needed: an error's stack trace is a large part of an open
  let aborted: AbortError | undefined
  const onAbort = (): void => {
    aborted = new AbortError('openStream was aborted')
    controller.abort(aborted)
  }
  const untrack = registry.trackOpen(controller)
  let timer: ReturnType<typeof setTimeout> | undefined

  signal?.addEventListener('abort', onAbort, { once: true })

  try {
    let connection: Connection

    try {
      // reuses an open connection to the peer if there is one
      connection = given ?? await registry.components.connectionManager.openConnection(dialTarget, {
        signal: controller.signal,
        force
      })
    } catch (err: any) {
      throw explain(err, controller.signal, aborted, `Could not connect to ${String(dialTarget)}`)
    }

    timer = setTimeout(() => {
      controller.abort(new TimeoutError(`Protocol negotiation took longer than ${negotiationTimeout} ms`))
    }, negotiationTimeout)

    try {
      // waits for multistream-select to agree on a protocol
      const negotiate = async (): Promise<Stream> => connection.newStream(protocols, {
        signal: controller.signal,
        maxOutboundStreams,
        runOnLimitedConnection,
        negotiateFully
      })
      // a lazily negotiated stream proves nothing about the remote being ready
      const stream = negotiateFully === false
        ? await negotiate()
        : await openAfterFirstStream(connection, negotiate, controller.signal)

      fixStream(stream)
      registry.metrics.onOpened(stream.protocol)
      return stream
    } catch (err: any) {
      if (err?.name === 'UnsupportedProtocolError' && !controller.signal.aborted) {
        throw err
      }

      throw explain(err, controller.signal, aborted, `Could not open a stream for ${protocols.join(', ')} to ${connection.remotePeer}`)
    }
  } catch (err: any) {
    registry.metrics.onOpenError(err)
    registry.log.trace('openStream %s to %s failed - %e', protocols, dialTarget, err)
    throw err
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
    untrack()
  }
}

/**
 * Turns what libp2p threw into the error `openStream` promises: the caller's
 * `AbortError`, or an `OpenStreamError` whose cause says what went wrong.
 */
function explain (err: Error, signal: AbortSignal, aborted: AbortError | undefined, context: string): Error {
  if (signal.aborted) {
    const reason: Error = signal.reason

    if (aborted != null && reason === aborted) {
      return aborted
    }

    return new OpenStreamError(`${context}: ${reason.message}`, { cause: reason })
  }

  return new OpenStreamError(`${context}: ${err?.message ?? String(err)}`, { cause: err })
}
