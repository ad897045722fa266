import { expect } from 'aegir/chai'
import { createNode, createPair } from './fixtures/nodes.ts'
import { nextWithin } from './fixtures/wait.ts'
import type { Node } from './fixtures/nodes.ts'

describe('one owner per protocol', () => {
  let node: Node

  beforeEach(async () => {
    node = await createNode('memory')
  })

  afterEach(async () => {
    await node.stop()
  })

  it('a protocol accepted by one control cannot be accepted by its clone or another control', () => {
    const control = node.services.stream.newControl()
    const incoming = control.accept('/test/owner/1.0.0')

    for (const other of [control, control.clone(), node.services.stream.newControl()]) {
      expect(() => other.accept('/test/owner/1.0.0')).to.throw().with.property('name', 'AlreadyRegisteredError')
    }

    incoming.close()
    expect(() => control.clone().accept('/test/owner/1.0.0').close()).to.not.throw()
  })

  it('a protocol handled with libp2p.handle cannot be accepted, and its handler is kept', async () => {
    const handler = (): void => {}
    await node.handle('/test/owner/1.0.0', handler)

    expect(() => node.services.stream.newControl().accept('/test/owner/1.0.0'))
      .to.throw().with.property('name', 'AlreadyRegisteredError')
    expect(node.getProtocols()).to.include('/test/owner/1.0.0')
  })

  it('a list with one taken protocol registers none of them', () => {
    const control = node.services.stream.newControl()
    const taken = control.accept('/test/owner/2.0.0')

    const err = (() => {
      try {
        control.clone().accept(['/test/owner/1.0.0', '/test/owner/2.0.0'])
      } catch (err: any) {
        return err
      }
    })()

    expect(err).to.have.property('name', 'AlreadyRegisteredError')
    expect(err).to.have.property('protocol', '/test/owner/2.0.0')
    expect(node.getProtocols()).to.not.include('/test/owner/1.0.0')
    taken.close()
  })

  it('closing a handle does not remove a handler that replaced it with force', async () => {
    const incoming = node.services.stream.newControl().accept('/test/owner/1.0.0')
    const handler = (): void => {}
    await node.handle('/test/owner/1.0.0', handler, { force: true })

    incoming.close()
    expect(node.getProtocols()).to.include('/test/owner/1.0.0')
  })
})

describe('accepting a list of protocols', () => {
  it('yields each stream with the protocol that was negotiated', async () => {
    const { listener, dialer, stop } = await createPair('memory')
    const incoming = listener.services.stream.newControl().accept(['/test/list/2.0.0', '/test/list/1.0.0'])
    const opener = dialer.services.stream.newControl()

    const old = await opener.openStream(listener.peerId, '/test/list/1.0.0')
    const latest = await opener.openStream(listener.peerId, ['/test/list/3.0.0', '/test/list/2.0.0'])
    expect(old.protocol).to.equal('/test/list/1.0.0')
    expect(latest.protocol).to.equal('/test/list/2.0.0')

    expect((await nextWithin(incoming)).value?.protocol).to.equal('/test/list/1.0.0')
    expect((await nextWithin(incoming)).value?.protocol).to.equal('/test/list/2.0.0')

    incoming.close()
    expect(listener.getProtocols().filter(p => p.startsWith('/test/list/'))).to.deep.equal([])
    await stop()
  })
})
