import { expect } from 'aegir/chai'
import { collectGarbage } from '../fixtures/gc.ts'
import { pairPerTest } from '../fixtures/nodes.ts'
import { eventually } from '../fixtures/wait.ts'
import { failOnUnhandledRejections } from './fixtures/guard.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { Stream } from '@libp2p/interface'

const PROTOCOL = '/test/faults/gc/1.0.0'

describe('an IncomingStreams garbage-collected with streams still queued', () => {
  failOnUnhandledRejections()

  let listener: Node
  let dialer: Node
  pairPerTest('memory', pair => { ({ listener, dialer } = pair) })

  it('resets the queued streams at their openers and deregisters', async function () {
    this.timeout(20_000)
    const queued = new WeakRef(listener.services.stream.newControl().accept(PROTOCOL, { backlog: 4 }))
    const opener = dialer.services.stream.newControl()
    const streams: Stream[] = []

    for (let i = 0; i < 3; i++) {
      streams.push(await opener.openStream(listener.peerId, PROTOCOL))
    }

    await eventually(() => queued.deref()?.queued === 3, 'three streams queued')

    // queued streams do not keep the abandoned handle alive
    await eventually(() => {
      collectGarbage()
      return queued.deref() == null && !listener.getProtocols().includes(PROTOCOL)
    }, 'the handle was collected and its protocol deregistered', 15_000)

    await eventually(() => streams.every(s => s.status === 'reset'), 'the queued streams were reset at their openers')
    await expect(opener.openStream(listener.peerId, PROTOCOL))
      .to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')
  })
})
