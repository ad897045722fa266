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

/**
 * Opens a stream with `target[name]` watched (`watch` sees each call's
 * arguments before the method runs), then resets it and puts the method back
 */
async function watching (target: any, name: string, watch: (...args: any[]) => void, open: () => Promise<Stream>): Promise<void> {
  const original = target[name]
  target[name] = function (...args: any[]) { watch(...args); return original.apply(this, args) }

  try {
    const stream = await open()
    stream.abort(new Error('done'))
  } finally {
    target[name] = original
  }
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

  it('window.ts: a yamux stream has a numeric recvWindowCapacity that falls as bytes arrive unread', async () => {
    const full = (accepted as any).recvWindowCapacity
    expect(full, 'YamuxStream.recvWindowCapacity').to.be.a('number')

    accepted.pause()
    opened.send(new Uint8Array(1000))
    await eventually(() => (accepted as any).recvWindowCapacity < full, 'recvWindowCapacity fell')
  })

  it('window.ts: a yamux stream has a numeric maxStreamWindowSize, and stops growing its window there', async () => {
    expect((accepted as any).maxStreamWindowSize, 'YamuxStream.maxStreamWindowSize').to.be.a('number')
    const { listener: l, dialer: d } = { listener, dialer }
    const incoming = l.services.stream.newControl().accept('/libp2p-stream/internals/window')
    const sending = (async () => {
      const s = await d.services.stream.newControl().openStream(l.peerId, '/libp2p-stream/internals/window')
      for (let i = 0; i < 256; i++) {
        if (!s.send(new Uint8Array(64 * 1024))) {
          await s.onDrain()
        }
      }
      await s.close()
    })()
    const { value } = await incoming.next()
    let received = 0

    for await (const chunk of value!.stream) {
      received += chunk.byteLength
      expect((value!.stream as any).recvWindow, 'YamuxStream.recvWindow').to.be.at.most(4 * 1024 * 1024)
    }

    await sending
    incoming.close()
    expect(received).to.equal(256 * 64 * 1024)
  })

  it('compact-read-buffer.ts: a paused stream keeps what it receives in readBuffer, a Uint8ArrayList with bufs and length', async () => {
    accepted.pause()
    opened.send(new Uint8Array(10))
    opened.send(new Uint8Array(20))
    await eventually(() => accepted.readBufferLength === 31, 'the bytes arrived unread')
    const list = (accepted as any).readBuffer
    expect(Array.isArray(list?.bufs), 'readBuffer.bufs').to.be.true()
    expect(list.length, 'readBuffer.length').to.equal(31)
    expect(list.bufs.reduce((n: number, b: Uint8Array) => n + b.byteLength, 0)).to.equal(31)
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

  it('reset-code.ts: a yamux muxer opens through createStream(), keeping the symbol keys of the options it is given', async () => {
    const [connection] = dialer.getConnections(listener.peerId)
    const muxer = (connection as any).muxer
    const key = Symbol('kept')
    const seen: unknown[] = []

    expect(hasMethod(muxer, 'createStream'), 'YamuxMuxer.createStream').to.be.true()
    await watching(muxer, 'createStream', (options: any) => { seen.push(options?.[key]) }, async () => connection.newStream(protocol, { [key]: 'here' } as any))

    expect(seen, 'connection.newStream passes its options on to muxer.createStream').to.deep.equal(['here'])
  })

  it('new-streams.ts: a yamux muxer calls incomingStream(id) for a new inbound stream before the stream exists, and has sendFrame() and an earlyStreams list', async () => {
    const [connection] = listener.getConnections(dialer.peerId)
    const muxer = (connection as any).muxer
    const seen: Array<{ id: number, existed: boolean }> = []

    expect(hasMethod(muxer, 'incomingStream'), 'YamuxMuxer.incomingStream').to.be.true()
    expect(hasMethod(muxer, 'sendFrame'), 'YamuxMuxer.sendFrame').to.be.true()
    expect(muxer.earlyStreams, 'AbstractStreamMuxer.earlyStreams').to.be.an('array')
    await watching(muxer, 'incomingStream', (id: number) => {
      seen.push({ id, existed: muxer.streams.some((s: any) => s.streamId === id) })
    }, async () => dialer.dialProtocol(listener.peerId, protocol))

    expect(seen, 'called once, before the stream was made').to.have.lengthOf(1)
    expect(seen[0].existed).to.be.false()
  })

  it('new-streams.ts: other muxers announce each new inbound stream through safeDispatchEvent(\'stream\', { detail }) (checked on yamux, which inherits it)', async () => {
    const [connection] = listener.getConnections(dialer.peerId)
    const muxer = (connection as any).muxer
    const announced: unknown[] = []

    expect(hasMethod(muxer, 'safeDispatchEvent'), 'YamuxMuxer.safeDispatchEvent').to.be.true()
    await watching(muxer, 'safeDispatchEvent', (type: string, detail: any) => {
      if (type === 'stream') { announced.push(detail?.detail) }
    }, async () => dialer.dialProtocol(listener.peerId, protocol))

    expect(announced, 'one stream announced').to.have.lengthOf(1)
    expect(announced[0], 'the new inbound stream').to.have.property('direction', 'inbound')
  })
})
