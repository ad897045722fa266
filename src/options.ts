import { InvalidParametersError, isPeerId } from '@libp2p/interface'
import { DEFAULT_BACKLOG, DEFAULT_INBOUND_HEADROOM, DEFAULT_MAX_INBOUND_STREAM_RATE, DEFAULT_LANE, DEFAULT_MAX_OUTBOUND_STREAMS, DEFAULT_MAX_QUEUE_AGE, DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_READ_AHEAD, DEFAULT_NEGOTIATION_TIMEOUT, DEFAULT_OPEN_TIMEOUT, MIN_NODE_VERSION } from './constants.ts'
import { UnsupportedRuntimeError } from './errors.ts'
import { validateCount, validateFlag, validateFunction, validateOptions, validateProtocols, validateRate, validateSignal, validateTarget, validateTimeout } from './validate.ts'
import type { AcceptOptions, LaneOptions, OpenStreamOptions, StreamInit } from './types/options.ts'
import type { Connection, DialTarget } from '@libp2p/interface'

/**
 * Every option is checked here, once, at the call that takes it, and turned
 * into one of the plain resolved objects below; nothing after this re-checks.
 */

/** `stream()`'s init with its defaults filled in */
export type ResolvedInit = Required<StreamInit>

/** One lane of an `accept`, checked, with its defaults */
export type ResolvedLane = Required<Omit<LaneOptions, 'match'>> & Pick<LaneOptions, 'match'> & { name: string }

/** An `accept` call's arguments, checked, with their defaults */
export interface ResolvedAccept extends Required<Pick<AcceptOptions, 'maxInboundStreams' | 'maxOutboundStreams' | 'maxQueuedBytes' | 'maxQueueAge'>>,
  Pick<AcceptOptions, 'onDrop' | 'signal' | 'runOnLimitedConnection'>, Pick<ResolvedInit, 'maxReadAhead'> {
  protocols: string[]
  /** In declaration order; exactly one has no `match` */
  lanes: ResolvedLane[]
}

/** An `openStream` call's arguments, checked, with their defaults */
export interface ResolvedOpen extends Required<Pick<OpenStreamOptions, 'openTimeout' | 'negotiationTimeout' | 'maxOutboundStreams'>>,
  Pick<OpenStreamOptions, 'signal' | 'runOnLimitedConnection' | 'negotiateFully' | 'force' | 'connection' | 'onProgress'> {
  target: DialTarget
  protocols: string[]
}

/**
 * Checks that Node.js, when that is the runtime, is new enough: `node` is
 * its version (`process.versions.node`), `undefined` in a browser.
 */
export function checkRuntime (node: string | undefined = globalThis.process?.versions?.node): void {
  if (node != null && Number.parseInt(node, 10) < MIN_NODE_VERSION) {
    throw new UnsupportedRuntimeError(`libp2p-stream needs Node.js >= ${MIN_NODE_VERSION}, this is Node.js ${node}: libp2p 3 streams fail on it (ECONNRESET on every open)`)
  }
}

/**
 * Checks the runtime and the options given to `stream()`, and fills in the
 * defaults.
 */
export function resolveInit (init: unknown): ResolvedInit {
  checkRuntime()
  const options = validateOptions<StreamInit>(init, 'init')

  return {
    backlog: validateCount(options.backlog, 'init.backlog', DEFAULT_BACKLOG),
    maxOutboundStreams: validateCount(options.maxOutboundStreams, 'init.maxOutboundStreams', DEFAULT_MAX_OUTBOUND_STREAMS, 1),
    maxReadAhead: validateCount(options.maxReadAhead, 'init.maxReadAhead', DEFAULT_MAX_READ_AHEAD, 1),
    maxInboundStreamRate: validateRate(options.maxInboundStreamRate, 'init.maxInboundStreamRate', DEFAULT_MAX_INBOUND_STREAM_RATE)
  }
}

/**
 * Checks the arguments of `accept` and fills in the defaults.
 */
export function resolveAccept (protocol: unknown, acceptOptions: unknown, init: ResolvedInit): ResolvedAccept {
  // a list of our own: the caller may change theirs, and close() must still know ours
  const protocols = validateProtocols(protocol)
  const options = validateOptions<AcceptOptions>(acceptOptions)
  const lanes = resolveLanes(options.lanes, options.backlog, options.maxPerPeer, init.backlog)
  const capacity = lanes.reduce((total, lane) => total + lane.backlog, 0)

  return {
    protocols,
    lanes,
    maxInboundStreams: validateCount(options.maxInboundStreams, 'maxInboundStreams', capacity + DEFAULT_INBOUND_HEADROOM, 1),
    maxOutboundStreams: validateCount(options.maxOutboundStreams, 'maxOutboundStreams', init.maxOutboundStreams, 1),
    maxQueuedBytes: validateCount(options.maxQueuedBytes, 'maxQueuedBytes', DEFAULT_MAX_QUEUED_BYTES),
    maxQueueAge: validateTimeout(options.maxQueueAge, 'maxQueueAge', DEFAULT_MAX_QUEUE_AGE),
    maxReadAhead: init.maxReadAhead,
    onDrop: validateFunction(options.onDrop, 'onDrop'),
    signal: validateSignal(options.signal),
    runOnLimitedConnection: validateFlag(options.runOnLimitedConnection, 'runOnLimitedConnection')
  }
}

/**
 * Checks the arguments of `openStream` and fills in the defaults.
 */
export function resolveOpen (target: unknown, protocol: unknown, openOptions: unknown, init: ResolvedInit): ResolvedOpen {
  const dialTarget = validateTarget(target)
  const protocols = validateProtocols(protocol)
  const options = validateOptions<OpenStreamOptions>(openOptions)

  return {
    target: dialTarget,
    protocols,
    signal: validateSignal(options.signal),
    openTimeout: validateTimeout(options.openTimeout, 'openTimeout', DEFAULT_OPEN_TIMEOUT),
    negotiationTimeout: validateTimeout(options.negotiationTimeout, 'negotiationTimeout', DEFAULT_NEGOTIATION_TIMEOUT),
    maxOutboundStreams: validateCount(options.maxOutboundStreams, 'maxOutboundStreams', init.maxOutboundStreams, 1),
    runOnLimitedConnection: validateFlag(options.runOnLimitedConnection, 'runOnLimitedConnection'),
    negotiateFully: validateFlag(options.negotiateFully, 'negotiateFully'),
    force: validateFlag(options.force, 'force'),
    connection: validateConnection(options.connection, dialTarget),
    onProgress: validateFunction(options.onProgress, 'onProgress')
  }
}

/**
 * The lanes of an `accept`: those given in `lanes`, checked, or one lane
 * called `default` from the top-level `backlog` and `maxPerPeer`.
 */
function resolveLanes (lanes: unknown, backlog: unknown, maxPerPeer: unknown, defaultBacklog: number): ResolvedLane[] {
  if (lanes === undefined) {
    const capacity = validateCount(backlog, 'backlog', defaultBacklog)

    return [{
      name: DEFAULT_LANE,
      backlog: capacity,
      maxPerPeer: validateCount(maxPerPeer, 'maxPerPeer', capacity),
      priority: 0,
      weight: 1
    }]
  }

  if (backlog !== undefined || maxPerPeer !== undefined) {
    throw new InvalidParametersError('backlog and maxPerPeer are set per lane when lanes are given')
  }

  const entries = Object.entries(validateOptions<Record<string, LaneOptions>>(lanes, 'lanes'))

  if (entries.length === 0) {
    throw new InvalidParametersError('lanes must name at least one lane')
  }

  const resolved = entries.map(([name, laneOptions]) => resolveLane(name, laneOptions, defaultBacklog))
  const defaults = resolved.filter(lane => lane.match == null)

  if (defaults.length !== 1) {
    throw new InvalidParametersError(defaults.length === 0
      ? 'lanes need a default lane: one without match, for streams no other lane takes'
      : `lanes may have only one default lane (without match), got ${defaults.map(lane => lane.name).join(', ')}`)
  }

  return resolved
}

function resolveLane (name: string, laneOptions: unknown, defaultBacklog: number): ResolvedLane {
  const options = validateOptions<LaneOptions>(laneOptions, `lanes.${name}`)
  const capacity = validateCount(options.backlog, `lanes.${name}.backlog`, defaultBacklog)
  const priority = options.priority ?? 0

  if (name === '') {
    throw new InvalidParametersError('lanes must have non-empty names')
  }

  if (typeof priority !== 'number' || !Number.isSafeInteger(priority)) {
    throw new InvalidParametersError(`lanes.${name}.priority must be an integer`)
  }

  return {
    name,
    backlog: capacity,
    maxPerPeer: validateCount(options.maxPerPeer, `lanes.${name}.maxPerPeer`, capacity),
    priority,
    weight: validateCount(options.weight ?? 1, `lanes.${name}.weight`, 1, 1),
    match: validateFunction(options.match, `lanes.${name}.match`)
  }
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
