import { AbortError, InvalidParametersError, NotStartedError, TimeoutError, isPeerId } from '@libp2p/interface'
import { DEFAULT_NEGOTIATION_TIMEOUT } from './constants.ts'
import { OpenStreamError } from './errors.ts'
import { fixStream } from './stream-fixes.ts'
import { validateCount, validateFlag, validateOptions, validateProtocols, validateSignal, validateTarget, validateTimeout } from './validate.ts'
import type { OpenStreamOptions } from './index.ts'
import type { Shared } from './shared.ts'
import type { Connection, DialTarget, Stream } from '@libp2p/interface'

/**
 * Opens a stream to `target` for the first of `protocol` the remote supports,
 * dialling first when there is no connection. See `Control.openStream`.
 */
export async function openStream (shared: Shared, target: DialTarget, protocol: string | string[], openOptions?: OpenStreamOptions): Promise<Stream> {
  const dialTarget = validateTarget(target)
  const protocols = validateProtocols(protocol)
  const options = validateOptions<OpenStreamOptions>(openOptions)
  const signal = validateSignal(options.signal)
  const negotiationTimeout = validateTimeout(options.negotiationTimeout, 'negotiationTimeout', DEFAULT_NEGOTIATION_TIMEOUT)
  const maxOutboundStreams = validateCount(options.maxOutboundStreams, 'maxOutboundStreams', shared.init.maxOutboundStreams, 1)
  const runOnLimitedConnection = validateFlag(options.runOnLimitedConnection, 'runOnLimitedConnection')
  const negotiateFully = validateFlag(options.negotiateFully, 'negotiateFully')
  const force = validateFlag(options.force, 'force')
  const given = validateConnection(options.connection, dialTarget)

  if (!shared.isRunning) {
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
  const untrack = shared.trackOpen(controller)
  let timer: ReturnType<typeof setTimeout> | undefined

  signal?.addEventListener('abort', onAbort, { once: true })

  try {
    let connection: Connection

    try {
      // reuses an open connection to the peer if there is one
      connection = given ?? await shared.components.connectionManager.openConnection(dialTarget, {
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
        : await shared.firstStream.run(connection, negotiate, controller.signal)

      fixStream(stream)
      shared.metrics.onOpened(stream.protocol)
      return stream
    } catch (err: any) {
      if (err?.name === 'UnsupportedProtocolError' && !controller.signal.aborted) {
        throw err
      }

      throw explain(err, controller.signal, aborted, `Could not open a stream for ${protocols.join(', ')} to ${connection.remotePeer}`)
    }
  } catch (err: any) {
    shared.metrics.onOpenError(err)
    shared.log.trace('openStream %s to %s failed - %e', protocols, dialTarget, err)
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

function validateConnection (connection: unknown, target: DialTarget): Connection | undefined {
  if (connection === undefined) {
    return undefined
  }

  const conn = connection as Partial<Connection> | null

  if (conn == null || typeof conn.newStream !== 'function' || !isPeerId(conn.remotePeer)) {
    throw new InvalidParametersError('connection must be a libp2p Connection')
  }

  if (isPeerId(target) && !target.equals(conn.remotePeer)) {
    throw new InvalidParametersError(`connection is to ${conn.remotePeer}, not to the target ${target}`)
  }

  return conn as Connection
}
