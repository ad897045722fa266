import { readFileSync } from 'node:fs'
import { expect } from 'aegir/chai'
import { pairPerTest, eventually } from './fixtures/nodes.ts'
import type { Node } from './fixtures/nodes.ts'
import type { Stream } from '@libp2p/interface'

/** The version of `name` in the project's node_modules (this file runs from dist/test) */
function installed (name: string): string {
  return JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version
}

/** Whether `value` has a function `name`, on itself or its prototype chain */
function hasMethod (value: object, name: PropertyKey): boolean {
  return typeof Reflect.get(value, name) === 'function'
}

// The workarounds in src/libp2p-fixes/ read or replace members that are not
// part of any package's public API. Each check below fails, naming the
// workaround, when an installed version no longer has what it relies on.
describe(`libp2p internals the workarounds rely on (installed: @libp2p/yamux ${installed('@libp2p/yamux')}, @libp2p/utils ${installed('@libp2p/utils')}, libp2p ${installed('libp2p')})`, () => {
  const protocol = '/libp2p-stream/internals/1'
  let dialer: Node
  let listener: Node
  let opened: Stream
  let accepted: Stream

  pairPerTest('memory', (pair) => { ({ dialer, listener } = pair) })

  beforeEach(async () => {
    const inbound = Promise.withResolvers<Stream>()
    await listener.handle(protocol, (stream) => { inbound.resolve(stream) })
    opened = await dialer.dialProtocol(listener.getMultiaddrs(), protocol)
    opened.send(Uint8Array.of(1))
    accepted = await inbound.promise
  })

  it('frame-size.ts: a yamux stream has handleWindowUpdate() and a numeric maxMessageSize', () => {
    for (const stream of [opened, accepted]) {
      expect(hasMethod(stream, 'handleWindowUpdate'), 'YamuxStream.handleWindowUpdate').to.be.true()
      expect((stream as any).maxMessageSize, 'YamuxStream.maxMessageSize').to.be.a('number')
    }
  })

  it('queued-stream.ts: a yamux stream has a numeric recvWindowCapacity that falls as bytes arrive unread', async () => {
    const full = (accepted as any).recvWindowCapacity
    expect(full, 'YamuxStream.recvWindowCapacity').to.be.a('number')

    accepted.pause()
    opened.send(new Uint8Array(1000))
    await eventually(() => (accepted as any).recvWindowCapacity < full, 'recvWindowCapacity fell')
  })

  it('reset-code.ts: a yamux stream resets through sendReset() and sendFrame(), and has a numeric streamId', () => {
    for (const stream of [opened, accepted]) {
      expect(hasMethod(stream, 'sendReset'), 'YamuxStream.sendReset').to.be.true()
      expect(hasMethod(stream, 'sendFrame'), 'YamuxStream.sendFrame').to.be.true()
      expect((stream as any).streamId, 'YamuxStream.streamId').to.be.a('number')
    }
  })

  it('reset-code.ts: a yamux connection carries its muxer, with handleStreamMessage() and a streams list', () => {
    const [connection] = dialer.getConnections(listener.peerId)
    const muxer = (connection as any).muxer

    expect(typeof muxer, 'Connection.muxer').to.equal('object')
    expect(muxer, 'Connection.muxer').to.not.be.null()
    expect(hasMethod(muxer, 'handleStreamMessage'), 'YamuxMuxer.handleStreamMessage').to.be.true()
    expect(muxer.streams, 'YamuxMuxer.streams').to.be.an('array').that.includes(opened)
  })
})
