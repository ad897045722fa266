import { expect } from 'aegir/chai'
import { collectGarbage } from './fixtures/gc.ts'
import { pairPerTest } from './fixtures/nodes.ts'
import { eventually, nextWithin } from './fixtures/wait.ts'
import type { Node } from './fixtures/nodes.ts'
import type { Stream } from '@libp2p/interface'

const PROTOCOL = '/test/deregister/1.0.0'

describe('deregistration', () => {
  let listener: Node
  let dialer: Node
  pairPerTest('memory', pair => { ({ listener, dialer } = pair) })

  /** Remote opens fail with UnsupportedProtocolError, and the protocol can be accepted again at once */
  async function expectDeregistered (): Promise<void> {
    expect(listener.getProtocols()).to.not.include(PROTOCOL)
    await expect(dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL))
      .to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')

    const again = listener.services.stream.newControl().accept(PROTOCOL)
    const opened = dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
    const { value } = await nextWithin(again)
    expect(value?.protocol).to.equal(PROTOCOL)
    expect((await opened).protocol).to.equal(PROTOCOL)
    again.close()
  }

  it('close() ends a waiting loop and deregisters', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const queued = await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
    await eventually(() => incoming.queued === 1, 'queued')

    const loop = (async () => {
      const seen: string[] = []
      for await (const { stream } of incoming) { seen.push(stream.id) }
      return seen
    })()

    // the loop took the queued stream; queue another, then close
    await eventually(() => incoming.accepted === 1, 'accepted by the loop')
    incoming.close()
    expect(await loop).to.have.lengthOf(1)
    expect(incoming.closed).to.be.true()
    expect(queued.status).to.equal('open')

    await expectDeregistered()
  })

  it('close() resets streams still in the backlog so their openers see it', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const queued = await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
    await eventually(() => incoming.queued === 1, 'queued')

    incoming.close()
    await eventually(() => queued.status === 'reset', 'queued stream reset at the opener')
    expect(incoming.dropped).to.equal(1)
  })

  it('break out of for await deregisters', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    void dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)

    // eslint-disable-next-line no-unreachable-loop
    for await (const { stream } of incoming) {
      stream.abort(new Error('done'))
      break
    }

    expect(incoming.closed).to.be.true()
    await expectDeregistered()
  })

  it('throwing out of for await deregisters', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    void dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)

    await expect((async () => {
      // eslint-disable-next-line no-unreachable-loop
      for await (const { stream } of incoming) {
        stream.abort(new Error('done'))
        throw new Error('application failure')
      }
    })()).to.eventually.be.rejectedWith('application failure')

    expect(incoming.closed).to.be.true()
    await expectDeregistered()
  })

  it('an aborted signal ends a waiting loop and deregisters', async () => {
    const controller = new AbortController()
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, { signal: controller.signal })
    const loop = (async () => {
      for await (const { stream } of incoming) { stream.abort(new Error('unexpected')) }
    })()

    controller.abort()
    await loop
    expect(incoming.closed).to.be.true()
    await expectDeregistered()
  })

  it('await using closes the handle at the end of the scope', async () => {
    {
      await using incoming = listener.services.stream.newControl().accept(PROTOCOL)
      expect(incoming.closed).to.be.false()
      expect(listener.getProtocols()).to.include(PROTOCOL)
    }

    await expectDeregistered()
  })

  it('node.stop() ends every loop, resets queued streams and leaves no handler', async () => {
    const control = listener.services.stream.newControl()
    const waiting = control.accept(PROTOCOL)
    const queuing = control.clone().accept('/test/deregister/queue/1.0.0')
    const queued: Stream = await dialer.services.stream.newControl().openStream(listener.peerId, '/test/deregister/queue/1.0.0')
    await eventually(() => queuing.queued === 1, 'queued')

    const loop = (async () => {
      for await (const { stream } of waiting) { stream.abort(new Error('unexpected')) }
      return 'ended'
    })()

    await listener.stop()

    expect(await loop).to.equal('ended')
    expect(waiting.closed).to.be.true()
    expect(queuing.closed).to.be.true()
    expect(listener.getProtocols().filter(p => p.startsWith('/test/'))).to.deep.equal([])
    await eventually(() => queued.status !== 'open', 'queued stream ended at the opener')
  })

  it('accept is refused once the node stopped, and works again after a restart', async () => {
    await listener.stop()
    expect(() => listener.services.stream.newControl().accept(PROTOCOL)).to.throw().with.property('name', 'NotStartedError')
    expect(listener.getProtocols()).to.not.include(PROTOCOL)

    await listener.start()
    await dialer.peerStore.merge(listener.peerId, { multiaddrs: listener.getMultiaddrs() })
    await expectDeregistered()
  })

  it('a handle garbage-collected without close() deregisters', async function () {
    this.timeout(20_000)

    // nothing keeps the handle alive once this function returns
    ;(() => {
      listener.services.stream.newControl().accept(PROTOCOL)
    })()

    expect(listener.getProtocols()).to.include(PROTOCOL)

    await eventually(() => {
      collectGarbage()
      return !listener.getProtocols().includes(PROTOCOL)
    }, 'finalizer deregisters', 15_000)

    await expectDeregistered()
  })

  it('a handle with a loop still waiting on it is not collected', async () => {
    const incoming = new WeakRef(listener.services.stream.newControl().accept(PROTOCOL))
    const loop = (async () => {
      // eslint-disable-next-line no-unreachable-loop
      for await (const { stream } of incoming.deref()!) { return stream }
    })()

    for (let i = 0; i < 5; i++) {
      collectGarbage()
      await new Promise(resolve => setTimeout(resolve, 10))
    }

    expect(listener.getProtocols()).to.include(PROTOCOL)
    const opened = await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
    expect((await loop)?.id).to.be.a('string')
    opened.abort(new Error('done'))
  })
})
