import { AbortError, NotStartedError } from '@libp2p/interface'
import { Backlog } from './backlog.ts'
import { DEFAULT_BACKLOG, DEFAULT_INBOUND_HEADROOM, DEFAULT_MAX_OUTBOUND_STREAMS } from './constants.ts'
import { AlreadyRegisteredError } from './errors.ts'
import { FirstStream } from './first-stream.ts'
import { createIncomingStreams } from './incoming.ts'
import { createLanes } from './lane.ts'
import { StreamMetrics } from './metrics.ts'
import { validateCount, validateFlag, validateOptions, validateProtocols, validateSignal } from './validate.ts'
import type { IncomingStreams } from './incoming.ts'
import type { AcceptOptions, StreamComponents, StreamInit } from './index.ts'
import type { Connection, Logger } from '@libp2p/interface'

/**
 * Checks the options given to `stream()` and fills in the defaults.
 */
export function resolveInit (init: unknown): Required<StreamInit> {
  const options = validateOptions<StreamInit>(init, 'init')

  return {
    backlog: validateCount(options.backlog, 'init.backlog', DEFAULT_BACKLOG),
    maxOutboundStreams: validateCount(options.maxOutboundStreams, 'init.maxOutboundStreams', DEFAULT_MAX_OUTBOUND_STREAMS, 1)
  }
}

/**
 * The state every `Control` of one node shares: the accepted protocols and the
 * opens in flight. It alone registers and deregisters handlers, so "one owner
 * per protocol" holds across all clones.
 */
export class Shared {
  readonly components: StreamComponents
  readonly log: Logger
  readonly metrics: StreamMetrics
  readonly init: Required<StreamInit>
  readonly firstStream = new FirstStream()
  private readonly backlogs = new Set<Backlog>()
  private readonly opens = new Set<AbortController>()
  private running = false
  /** Set by stop(), cleared by start(): a stopped node takes no new accepts */
  private stopped = false

  constructor (components: StreamComponents, init: Required<StreamInit>) {
    this.components = components
    this.log = components.logger.forComponent('libp2p:stream')
    this.metrics = new StreamMetrics(components.metrics)
    this.init = init
  }

  get isRunning (): boolean {
    return this.running
  }

  start (): void {
    this.running = true
    this.stopped = false
  }

  /**
   * Ends every `accept` (deregistering its protocols and resetting what is
   * queued) and aborts every `openStream` in flight.
   */
  stop (): void {
    this.running = false
    this.stopped = true

    for (const backlog of [...this.backlogs]) {
      backlog.close()
    }

    for (const controller of [...this.opens]) {
      controller.abort(new AbortError('The node is stopping'))
    }
  }

  accept (protocol: string | string[], acceptOptions?: AcceptOptions): IncomingStreams {
    const protocols = validateProtocols(protocol)
    const options = validateOptions<AcceptOptions>(acceptOptions)
    const lanes = createLanes(options.lanes, options.backlog, options.maxPerPeer, this.init.backlog)
    const capacity = lanes.reduce((total, lane) => total + lane.capacity, 0)
    const maxInboundStreams = validateCount(options.maxInboundStreams, 'maxInboundStreams', capacity + DEFAULT_INBOUND_HEADROOM, 1)
    const maxOutboundStreams = validateCount(options.maxOutboundStreams, 'maxOutboundStreams', this.init.maxOutboundStreams, 1)
    const signal = validateSignal(options.signal)
    const runOnLimitedConnection = validateFlag(options.runOnLimitedConnection, 'runOnLimitedConnection')

    if (signal?.aborted === true) {
      throw new AbortError('accept was called with an aborted signal')
    }

    // before the first start is fine (handlers wait for the node to listen),
    // but a stopped node must not be left with a handler registered
    if (this.stopped) {
      throw new NotStartedError('The libp2p node is stopped')
    }

    const { registrar } = this.components
    const registered = new Set(registrar.getProtocols())

    for (const p of protocols) {
      if (registered.has(p)) {
        throw new AlreadyRegisteredError(p)
      }
    }

    const onAbort = (): void => { backlog.close() }
    const backlog = new Backlog({
      protocols,
      lanes,
      maxInboundStreams,
      countPeerStreams: (connection, p) => this.countPeerStreams(connection, p, maxInboundStreams),
      log: this.log,
      onAccepted: (p, lane) => { this.metrics.onAccepted(p, lane) },
      onDropped: (p, lane, reason) => { this.metrics.onDropped(p, lane, reason) },
      onClose: b => {
        signal?.removeEventListener('abort', onAbort)
        this.release(b)
      }
    })

    for (const p of protocols) {
      // the registrar stores the handler before its first await, so remotes
      // can negotiate the protocol once this returns; its inbound cap resets
      // streams without a word, so it is lifted and the backlog enforces
      // maxInboundStreams instead, counting each reset
      registrar.handle(p, backlog.handle, { maxInboundStreams: Infinity, maxOutboundStreams, runOnLimitedConnection })
        .catch(err => { this.log.error('could not record %s in the peer store - %e', p, err) })
    }

    signal?.addEventListener('abort', onAbort, { once: true })
    this.backlogs.add(backlog)
    this.log('accepting %s with lanes %s', protocols, lanes.map(lane => `${lane.name}(${lane.capacity})`))

    return createIncomingStreams(backlog)
  }

  /**
   * Tracks an `openStream` in flight so `stop()` can abort it; the returned
   * function stops tracking it.
   */
  trackOpen (controller: AbortController): () => void {
    this.opens.add(controller)

    return () => { this.opens.delete(controller) }
  }

  /**
   * The remote peer's open inbound streams for `protocol`, over all of its
   * connections to this node, or an upper bound of it when that is within
   * `limit`.
   */
  private countPeerStreams (connection: Connection, protocol: string, limit: number): number {
    const found = this.components.connectionManager.getConnections(connection.remotePeer)
    const connections = found.length > 0 ? found : [connection]
    let count = 0

    // fewer streams of any kind than the limit: no need to look at each
    for (const c of connections) {
      count += c.streams.length
    }

    if (count <= limit) {
      return count
    }

    count = 0

    for (const c of connections) {
      for (const s of c.streams) {
        if (s.direction === 'inbound' && s.protocol === protocol) {
          count++
        }
      }
    }

    return count
  }

  private release (backlog: Backlog): void {
    const { registrar } = this.components

    this.backlogs.delete(backlog)

    for (const p of backlog.protocols) {
      // leave alone a handler that replaced ours with `force: true`
      if (registrar.getProtocols().includes(p) && registrar.getHandler(p).handler === backlog.handle) {
        registrar.unhandle(p)
          .catch(err => { this.log.error('could not remove %s from the peer store - %e', p, err) })
      }
    }

    this.log('stopped accepting %s (%d accepted, %d dropped)', backlog.protocols, backlog.accepted, backlog.dropped)
  }
}
