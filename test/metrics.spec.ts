import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { expect } from 'aegir/chai'
import { Registry } from 'prom-client'
import { openOrDropped } from './fixtures/drops.ts'
import { createNode } from './fixtures/nodes.ts'
import { eventually, nextWithin } from './fixtures/wait.ts'
import type { Node } from './fixtures/nodes.ts'

const PROTOCOL = '/test/metrics/1.0.0'

/** The value of one labelled counter, 0 when it was never incremented */
async function counter (registry: Registry, name: string, label: string, value: string): Promise<number> {
  const metric = registry.getSingleMetric(name)
  expect(metric, `${name} is registered`).to.exist()
  const { values } = await metric!.get()
  return values.find(v => v.labels[label] === value)?.value ?? 0
}

describe('metrics', () => {
  let listener: Node
  let dialer: Node
  let registry: Registry

  beforeEach(async () => {
    registry = new Registry()
    listener = await createNode('memory', {}, prometheusMetrics({ registry }))
    dialer = await createNode('memory', {}, prometheusMetrics({ registry: new Registry() }))
    await dialer.peerStore.merge(listener.peerId, { multiaddrs: listener.getMultiaddrs() })
  })

  afterEach(async () => {
    await Promise.all([listener.stop(), dialer.stop()])
  })

  it('counts accepted and dropped streams by protocol, and opens and open failures', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: 1 })
    const opener = listener.services.stream.newControl()
    const remote = dialer.services.stream.newControl()
    const target = listener.peerId

    // one queued, two dropped for a full backlog
    for (let i = 0; i < 3; i++) {
      await openOrDropped(async () => remote.openStream(target, PROTOCOL))
    }

    await eventually(() => incoming.queued + incoming.dropped === 3, 'all three handled')
    await nextWithin(incoming)

    // the listener opens a stream the other way, and one the remote lacks
    const back = dialer.services.stream.newControl().accept('/test/metrics/back/1.0.0')
    await opener.openStream(dialer.peerId, '/test/metrics/back/1.0.0')
    await opener.openStream(dialer.peerId, '/test/metrics/missing/1.0.0').catch(() => {})
    back.close()

    expect(await counter(registry, 'libp2p_stream_accepted_total', 'protocol', PROTOCOL)).to.equal(1)
    expect(await counter(registry, 'libp2p_stream_dropped_total', 'protocol', PROTOCOL)).to.equal(2)
    expect(await counter(registry, 'libp2p_stream_dropped_by_reason_total', 'reason', 'backlog-full')).to.equal(2)
    expect(await counter(registry, 'libp2p_stream_lane_accepted_total', 'lane', 'default')).to.equal(1)
    expect(await counter(registry, 'libp2p_stream_lane_dropped_total', 'lane', 'default')).to.equal(2)
    expect(await counter(registry, 'libp2p_stream_opened_total', 'protocol', '/test/metrics/back/1.0.0')).to.equal(1)
    expect(await counter(registry, 'libp2p_stream_open_errors_total', 'error', 'UnsupportedProtocolError')).to.equal(1)
    incoming.close()
  })
})
