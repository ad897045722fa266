import { DROP_REASONS } from './reset-codes.ts'
import type { DropReason } from './types/incoming.ts'
import type { Counter, CounterGroup, Metrics } from '@libp2p/interface'

/**
 * The service's counters, registered only when the node has a metrics
 * component. Labels are protocol names, or error names for failed opens.
 */
export class StreamMetrics {
  private readonly accepted?: CounterGroup
  private readonly dropped?: CounterGroup
  private readonly dropReasons?: CounterGroup
  private readonly laneAccepted?: CounterGroup
  private readonly laneDropped?: CounterGroup
  private readonly opened?: CounterGroup
  private readonly openErrors?: CounterGroup
  private readonly rateLimited?: Counter

  constructor (metrics?: Metrics) {
    this.accepted = metrics?.registerCounterGroup('libp2p_stream_accepted_total', {
      label: 'protocol',
      help: 'Inbound streams handed to the application'
    })
    this.dropped = metrics?.registerCounterGroup('libp2p_stream_dropped_total', {
      label: 'protocol',
      help: 'Inbound streams reset without being accepted, by protocol'
    })
    this.dropReasons = metrics?.registerCounterGroup('libp2p_stream_dropped_by_reason_total', {
      label: 'reason',
      help: `Inbound streams reset without being accepted, by reason: ${Object.keys(DROP_REASONS).join(', ')}`
    })
    this.laneAccepted = metrics?.registerCounterGroup('libp2p_stream_lane_accepted_total', {
      label: 'lane',
      help: 'Inbound streams handed to the application, by lane'
    })
    this.laneDropped = metrics?.registerCounterGroup('libp2p_stream_lane_dropped_total', {
      label: 'lane',
      help: 'Inbound streams reset without being accepted, by lane'
    })
    this.opened = metrics?.registerCounterGroup('libp2p_stream_opened_total', {
      label: 'protocol',
      help: 'Outbound streams opened and negotiated'
    })
    this.openErrors = metrics?.registerCounterGroup('libp2p_stream_open_errors_total', {
      label: 'error',
      help: 'openStream calls that failed, by error name'
    })
    this.rateLimited = metrics?.registerCounter('libp2p_stream_rate_limited_total', {
      help: 'Inbound streams reset before negotiation because their connection or network group opened streams faster than maxInboundStreamRate allows'
    })
  }

  onAccepted (protocol: string, lane: string): void {
    this.accepted?.increment({ [protocol]: true })
    this.laneAccepted?.increment({ [lane]: true })
  }

  onDropped (protocol: string, lane: string | undefined, reason: DropReason): void {
    this.dropped?.increment({ [protocol]: true })
    this.dropReasons?.increment({ [reason]: true })

    if (lane != null) {
      this.laneDropped?.increment({ [lane]: true })
    }
  }

  onRateLimited (): void {
    this.rateLimited?.increment()
  }

  onOpened (protocol: string): void {
    this.opened?.increment({ [protocol]: true })
  }

  onOpenError (err: Error): void {
    this.openErrors?.increment({ [err.name]: true })
  }
}
