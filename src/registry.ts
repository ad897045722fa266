import { AbortError, NotStartedError } from '@libp2p/interface'
import { AlreadyRegisteredError } from './errors.ts'
import { Acceptor } from './inbound/acceptor.ts'
import { createIncomingStreams } from './inbound/incoming-streams.ts'
import { OpenRateLimit } from './inbound/open-rate.ts'
import { StreamMetrics } from './metrics.ts'
import { resolveAccept } from './options.ts'
import type { ResolvedInit } from './options.ts'
import type { IncomingStreams } from './types/incoming.ts'
import type { StreamComponents } from './types/options.ts'
import type { Connection, Logger } from '@libp2p/interface'

/** Whether the node has started, and whether it was stopped since */
type NodeState = 'new' | 'started' | 'stopped'

/**
 * The state every `Control` of one node shares: the accepted protocols and the
 * opens in flight. It alone registers and deregisters handlers, so "one owner
 * per protocol" holds across all clones.
 */
export class Registry {
  readonly components: StreamComponents
  readonly log: Logger
  readonly metrics: StreamMetrics
  readonly init: ResolvedInit
  /** The node-wide bound on how fast each connection, and each network group, opens streams */
  readonly openRate: OpenRateLimit
  private readonly acceptors = new Set<Acceptor>()
  private readonly opens = new Set<AbortController>()
  private state: NodeState = 'new'

  constructor (components: StreamComponents, init: ResolvedInit) {
    this.components = components
    this.log = components.logger.forComponent('libp2p:stream')
    this.metrics = new StreamMetrics(components.metrics)
    this.init = init
    this.openRate = new OpenRateLimit(init.maxInboundStreamRate, this.log, this.metrics)
  }

  get isRunning (): boolean {
    return this.state === 'started'
  }

  start (): void {
    this.state = 'started'
    this.openRate.start(this.components.events, this.components.connectionManager.getConnections())
  }

  /**
   * Ends every `accept` (deregistering its protocols and resetting what is
   * queued) and aborts every `openStream` in flight.
   */
  stop (): void {
    this.state = 'stopped'
    this.openRate.stop()

    for (const acceptor of [...this.acceptors]) {
      acceptor.close()
    }

    for (const controller of [...this.opens]) {
      controller.abort(new AbortError('The node is stopping'))
    }
  }

  accept (protocol: unknown, acceptOptions: unknown): IncomingStreams {
    const options = resolveAccept(protocol, acceptOptions, this.init)
    const { protocols, signal, maxInboundStreams, maxOutboundStreams, runOnLimitedConnection } = options

    if (signal?.aborted === true) {
      throw new AbortError('accept was called with an aborted signal')
    }

    // before the first start is fine (handlers wait for the node to listen),
    // but a stopped node must not be left with a handler registered
    if (this.state === 'stopped') {
      throw new NotStartedError('The libp2p node is stopped')
    }

    const { registrar } = this.components
    const registered = new Set(registrar.getProtocols())

    for (const p of protocols) {
      if (registered.has(p)) {
        throw new AlreadyRegisteredError(p)
      }
    }

    const onAbort = (): void => { acceptor.close() }
    const acceptor = new Acceptor({
      options,
      log: this.log,
      metrics: this.metrics,
      countPeerStreams: (connection, p) => this.countPeerStreams(connection, p, maxInboundStreams),
      onClose: a => {
        signal?.removeEventListener('abort', onAbort)
        this.release(a)
      }
    })

    for (const p of protocols) {
      // the registrar stores the handler before its first await, so remotes
      // can negotiate the protocol once this returns; its inbound cap resets
      // streams without a word, so it is lifted and the acceptor enforces
      // maxInboundStreams instead, counting each reset
      registrar.handle(p, acceptor.handle, { maxInboundStreams: Infinity, maxOutboundStreams, runOnLimitedConnection })
        .catch(err => { this.log.error('could not record %s in the peer store - %e', p, err) })
    }

    signal?.addEventListener('abort', onAbort, { once: true })
    this.acceptors.add(acceptor)
    this.log('accepting %s with lanes %s', protocols, options.lanes.map(lane => `${lane.name}(${lane.backlog})`))

    return createIncomingStreams(acceptor)
  }

  /** Tracks an `openStream` in flight so `stop()` can abort it */
  trackOpen (controller: AbortController): void {
    this.opens.add(controller)
  }

  /** Stops tracking an `openStream` that has settled */
  untrackOpen (controller: AbortController): void {
    this.opens.delete(controller)
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

  private release (acceptor: Acceptor): void {
    const { registrar } = this.components

    this.acceptors.delete(acceptor)

    for (const p of acceptor.protocols) {
      // leave alone a handler that replaced ours with `force: true`
      if (registrar.getProtocols().includes(p) && registrar.getHandler(p).handler === acceptor.handle) {
        registrar.unhandle(p)
          .catch(err => { this.log.error('could not remove %s from the peer store - %e', p, err) })
      }
    }

    this.log('stopped accepting %s (%d accepted, %d dropped)', acceptor.protocols, acceptor.ledger.accepted, acceptor.ledger.dropped)
  }
}
