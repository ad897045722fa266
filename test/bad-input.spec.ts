import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { stream } from '../src/index.ts'
import { createNode } from './fixtures/nodes.ts'
import type { Node } from './fixtures/nodes.ts'

const LONG = '/' + 'a'.repeat(1023)

describe('bad input', () => {
  let node: Node
  let other: Node

  before(async () => {
    [node, other] = await Promise.all([createNode('memory'), createNode('memory')])
  })

  after(async () => {
    await Promise.all([node.stop(), other.stop()])
  })

  const acceptCases: Array<[string, unknown, unknown, string]> = [
    ['a protocol that is not a string', 42, undefined, 'protocol'],
    ['a protocol not starting with /', 'my-proto/1.0.0', undefined, 'protocol'],
    ['an empty protocol', '', undefined, 'protocol'],
    ['a bare /', '/', undefined, 'protocol'],
    ['a protocol with a newline', '/my-proto\n/1.0.0', undefined, 'protocol'],
    ['a protocol over multistream-select\'s length limit', LONG, undefined, 'protocol'],
    ['an empty protocol list', [], undefined, 'protocol'],
    ['a list naming a protocol twice', ['/a/1.0.0', '/a/1.0.0'], undefined, 'twice'],
    ['a list with a non-string', ['/a/1.0.0', null], undefined, 'protocol'],
    ['a negative backlog', '/a/1.0.0', { backlog: -1 }, 'backlog'],
    ['a fractional backlog', '/a/1.0.0', { backlog: 1.5 }, 'backlog'],
    ['an infinite backlog', '/a/1.0.0', { backlog: Infinity }, 'backlog'],
    ['a NaN backlog', '/a/1.0.0', { backlog: NaN }, 'backlog'],
    ['a string backlog', '/a/1.0.0', { backlog: '32' }, 'backlog'],
    ['a zero maxInboundStreams', '/a/1.0.0', { maxInboundStreams: 0 }, 'maxInboundStreams'],
    ['a non-signal signal', '/a/1.0.0', { signal: { aborted: false } }, 'signal'],
    ['options that are not an object', '/a/1.0.0', 'fast', 'options'],
    ['a non-boolean runOnLimitedConnection', '/a/1.0.0', { runOnLimitedConnection: 'yes' }, 'runOnLimitedConnection']
  ]

  acceptCases.forEach(([name, protocol, options, mentions]) => {
    it(`accept rejects ${name} with InvalidParametersError naming ${mentions}, registering nothing`, () => {
      const before = node.getProtocols()

      expect(() => node.services.stream.newControl().accept(protocol as string, options as any))
        .to.throw().that.satisfies((err: Error) => err.name === 'InvalidParametersError' && err.message.includes(mentions))
      expect(node.getProtocols()).to.deep.equal(before)
    })
  })

  it('accept with an aborted signal throws AbortError and registers nothing', () => {
    expect(() => node.services.stream.newControl().accept('/a/1.0.0', { signal: AbortSignal.abort() }))
      .to.throw().with.property('name', 'AbortError')
    expect(node.getProtocols()).to.not.include('/a/1.0.0')
  })

  const openCases: Array<[string, () => unknown, unknown, unknown, string]> = [
    ['a target that is a string', () => '12D3KooW', '/a/1.0.0', undefined, 'target'],
    ['a target that is null', () => null, '/a/1.0.0', undefined, 'target'],
    ['an empty list of multiaddrs', () => [], '/a/1.0.0', undefined, 'target'],
    ['a list mixing multiaddrs and strings', () => [multiaddr('/ip4/127.0.0.1/tcp/1'), '/ip4/127.0.0.1/tcp/2'], '/a/1.0.0', undefined, 'target'],
    ['an empty protocol', () => other.peerId, '', undefined, 'protocol'],
    ['a protocol over the length limit', () => other.peerId, LONG, undefined, 'protocol'],
    ['a zero negotiationTimeout', () => other.peerId, '/a/1.0.0', { negotiationTimeout: 0 }, 'negotiationTimeout'],
    ['an infinite negotiationTimeout', () => other.peerId, '/a/1.0.0', { negotiationTimeout: Infinity }, 'negotiationTimeout'],
    ['a fractional maxOutboundStreams', () => other.peerId, '/a/1.0.0', { maxOutboundStreams: 2.5 }, 'maxOutboundStreams'],
    ['a non-signal signal', () => other.peerId, '/a/1.0.0', { signal: 'soon' }, 'signal'],
    ['a connection that is not one', () => other.peerId, '/a/1.0.0', { connection: {} }, 'connection']
  ]

  openCases.forEach(([name, target, protocol, options, mentions]) => {
    it(`openStream rejects ${name} with InvalidParametersError naming ${mentions}, dialling nothing`, async () => {
      const err = await node.services.stream.newControl().openStream(target() as any, protocol as string, options as any).catch(err => err)

      expect(err).to.have.property('name', 'InvalidParametersError')
      expect(err.message).to.include(mentions)
      expect(node.getConnections()).to.have.lengthOf(0)
      expect(node.getDialQueue()).to.have.lengthOf(0)
    })
  })

  const initCases: Array<[string, unknown, string]> = [
    ['a negative backlog', { backlog: -5 }, 'init.backlog'],
    ['a zero maxOutboundStreams', { maxOutboundStreams: 0 }, 'init.maxOutboundStreams'],
    ['init that is not an object', 7, 'init']
  ]

  initCases.forEach(([name, init, mentions]) => {
    it(`stream() rejects ${name} with InvalidParametersError naming ${mentions}`, () => {
      expect(() => stream(init as any))
        .to.throw().that.satisfies((err: Error) => err.name === 'InvalidParametersError' && err.message.includes(mentions))
    })
  })
})
