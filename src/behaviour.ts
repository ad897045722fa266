import { serviceCapabilities } from '@libp2p/interface'
import { Control } from './control.ts'
import { Registry } from './registry.ts'
import type { ResolvedInit } from './options.ts'
import type { ServiceStats, StreamComponents } from './types/options.ts'
import type { Startable } from '@libp2p/interface'

/**
 * The libp2p service behind `services: { stream: stream() }`. It owns the
 * node's registry of accepted protocols; applications use it through
 * {@link Control}s from `newControl()`.
 */
export class Behaviour implements Startable {
  readonly #registry: Registry

  /**
   * Made by the `stream()` factory, which checks the init.
   *
   * @internal
   */
  constructor (components: StreamComponents, init: ResolvedInit) {
    this.#registry = new Registry(components, init)
  }

  /** Names the service in logs and inspection */
  readonly [Symbol.toStringTag] = 'libp2p-stream'

  /** What this service provides, for services that declare they depend on it */
  readonly [serviceCapabilities]: string[] = [
    'libp2p-stream'
  ]

  /**
   * A new handle for accepting and opening streams. Controls are cheap: make
   * one per task, or `clone()` an existing one.
   */
  newControl (): Control {
    return new Control(this.#registry)
  }

  /**
   * What the node-wide bounds of this service did: streams refused by
   * `maxInboundStreamRate` (each reset before negotiation with code 0x1003)
   * and the network groups it is tracking.
   */
  stats (): ServiceStats {
    const { openRate } = this.#registry

    return { rateLimited: openRate.refused, rateGroups: openRate.groups }
  }

  /** Lets `openStream` dial; called by libp2p when the node starts */
  start (): void {
    this.#registry.start()
  }

  /**
   * Ends every `accept` iteration (deregistering its protocols and resetting
   * queued streams) and rejects every `openStream` in flight.
   */
  stop (): void {
    this.#registry.stop()
  }
}
