import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { Registry } from 'prom-client'
import { delayProxy } from './fixtures/delay-proxy.ts'
import { createNode } from './fixtures/nodes.ts'
import { bytes } from './fixtures/random.ts'
import { firstChunk, readAll, serveEcho } from './fixtures/streams.ts'
import { eventually } from './fixtures/wait.ts'
import type { DelayProxy } from './fixtures/delay-proxy.ts'
import type { Node } from './fixtures/nodes.ts'
import type { IncomingStreams } from '../src/index.ts'
import type { Connection, Stream } from '@libp2p/interface'

const ECHO = '/test/echo/1.0.0'
const FIRST = '/test/speaks-first/1.0.0'
const NOPE = '/test/nope/1.0.0'
const LAZY = { negotiateFully: false }

/** What a reader sees: the bytes it read, or the error its iteration threw */
async function readOrError (stream: Stream): Promise<Uint8Array | Error> {
  return readAll(stream).catch((err: Error) => err)
}

describe('openStream with negotiateFully: false (lazy, pipelined protocol selection)', function () {
  this.timeout(20_000)
  let listener: Node
  let dialer: Node
  let proxy: DelayProxy
  let connection: Connection
  let echoes: IncomingStreams

  beforeEach(async () => {
    registry = new Registry()
    listener = await createNode('tcp')
    dialer = await createNode('tcp', {}, prometheusMetrics({ registry }), [])
    echoes = listener.services.stream.newControl().accept(ECHO, { backlog: 64 })
    void serveEcho(echoes)

    const first = listener.services.stream.newControl().accept(FIRST)
    void (async () => {
      for await (const { stream } of first) {
        stream.send(new TextEncoder().encode('hello'))
        await stream.close()
      }
    })()

    // every connection goes through the proxy, so a test can hold the listener's answers back
    const port = Number(listener.getMultiaddrs()[0].toString().split('/tcp/')[1].split('/')[0])
    proxy = await delayProxy(port)
    connection = await dialer.dial(multiaddr(`${proxy.address}/p2p/${listener.peerId}`))
    // the first negotiation on a connection is always a full one
    const proof = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO)
    await proof.close()
  })

  afterEach(async () => {
    await Promise.all([dialer.stop(), listener.stop()])
    await proxy.close()
  })

  let registry: Registry

  it('resolves and sends the first write before any answer came back: the listener echoes it once the answers are let through', async () => {
    proxy.holdBack()
    const stream = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO, LAZY)
    expect(stream.protocol).to.equal(ECHO)

    const data = bytes(1000, 3)
    stream.send(data)
    const echoed = readAll(stream)
    // close() waits for the answer: it can only settle after the release
    const closed = stream.close()

    // the listener handed the stream to its accept and echoed, while nothing reached the opener
    await eventually(() => echoes.stats().accepted === 2, 'the listener accepted the lazy stream')
    const back = proxy.forwarded.back
    proxy.release()

    await closed
    expect(await echoed).to.equalBytes(data)
    expect(back, 'chunks the listener sent before it was held back (the connection setup)').to.be.greaterThan(0)
  })

  it('a full open, by contrast, does not resolve while the answers are held back', async () => {
    proxy.holdBack()
    let settled = false
    const open = dialer.services.stream.newControl().openStream(listener.peerId, ECHO)
      .finally(() => { settled = true })

    // the listener's answer is sent (and held) once it has the stream
    await eventually(() => echoes.stats().accepted === 2, 'the listener accepted the stream')
    expect(settled).to.equal(false)
    proxy.release()
    await (await open).close()
  })

  it('hands the reader no byte of the answers: the echo is byte-exact over 256 KiB in 64 writes', async () => {
    const stream = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO, LAZY)
    const data = bytes(256 * 1024, 9)
    const read = readAll(stream)

    for (let i = 0; i < 64; i++) {
      if (!stream.send(data.subarray(i * 4096, (i + 1) * 4096))) {
        await stream.onDrain()
      }
    }

    await stream.close()
    expect(await read).to.equalBytes(data)
  })

  it('a read before any write sends the negotiation: a listener that speaks first is heard', async () => {
    const stream = await dialer.services.stream.newControl().openStream(listener.peerId, FIRST, LAZY)
    expect(new TextDecoder().decode(await firstChunk(stream))).to.equal('hello')
  })

  it('close() without a write sends the negotiation and resolves once the listener agreed', async () => {
    const stream = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO, LAZY)
    await stream.close()
    expect(await readAll(stream)).to.have.lengthOf(0)
    await eventually(() => echoes.stats().accepted === 2, 'the listener accepted the stream')
  })

  describe('a listener that does not speak the protocol', () => {
    it('makes the first read after a write fail with UnsupportedProtocolError, and resets the stream', async () => {
      const stream = await dialer.services.stream.newControl().openStream(listener.peerId, NOPE, LAZY)
      expect(stream.send(bytes(10, 1))).to.equal(true)

      const err = await readOrError(stream)
      expect(err).to.have.property('name', 'UnsupportedProtocolError')
      expect(stream.status).to.equal('aborted')
    })

    it('makes close() after a write reject with UnsupportedProtocolError: the write is not lost unreported', async () => {
      const stream = await dialer.services.stream.newControl().openStream(listener.peerId, NOPE, LAZY)
      stream.send(bytes(10, 1))
      await expect(stream.close()).to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')
    })

    it('makes a send() after the refusal throw UnsupportedProtocolError, and a late reader too', async () => {
      const stream = await dialer.services.stream.newControl().openStream(listener.peerId, NOPE, LAZY)
      const closed = new Promise(resolve => { stream.addEventListener('close', resolve, { once: true }) })
      stream.send(bytes(10, 1))
      await closed

      expect(() => stream.send(bytes(10, 2))).to.throw().with.property('name', 'UnsupportedProtocolError')
      expect(await readOrError(stream)).to.have.property('name', 'UnsupportedProtocolError')
    })

    it('is counted as a failed open, and the agreed ones as opened, once the answer is known', async () => {
      const control = dialer.services.stream.newControl()
      const refused = await control.openStream(listener.peerId, NOPE, LAZY)
      await refused.close().catch(() => {})
      const agreed = await control.openStream(listener.peerId, ECHO, LAZY)
      agreed.send(bytes(1, 1))
      await firstChunk(agreed)

      const opened = await (registry.getSingleMetric('libp2p_stream_opened_total')!.get())
      const failed = await (registry.getSingleMetric('libp2p_stream_open_errors_total')!.get())
      expect(opened.values.find(v => v.labels.protocol === ECHO)?.value).to.equal(2)
      expect(failed.values.find(v => v.labels.error === 'UnsupportedProtocolError')?.value).to.equal(1)
    })
  })

  it('resets the stream when the answer does not come within negotiationTimeout, and reads fail with the TimeoutError', async () => {
    proxy.holdBack()
    const stream = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO, { ...LAZY, negotiationTimeout: 200 })
    stream.send(bytes(1, 1))

    expect(await readOrError(stream)).to.have.property('name', 'TimeoutError')
    expect(stream.status).to.equal('aborted')
    proxy.release()
  })

  it('a stream aborted before the answer came reports the abort on a later close() instead of waiting for an answer', async () => {
    proxy.holdBack()
    const stream = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO, LAZY)
    stream.send(bytes(1, 1))
    stream.abort(new Error('gave up'))

    await expect(stream.close()).to.eventually.be.rejected.with.property('message', 'gave up')
    proxy.release()
  })

  it('is tracked by libp2p\'s metrics under its protocol: the application\'s bytes, sent and received', async () => {
    const stream = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO, LAZY)
    stream.send(bytes(1000, 7))
    let received = 0

    for await (const chunk of stream) {
      received += chunk.byteLength
      if (received === 1000) { break }
    }

    const { values } = await registry.getSingleMetric('libp2p_data_transfer_bytes_total')!.get()
    expect(values.find(v => v.labels.protocol === `${ECHO} sent`)?.value).to.be.at.least(1000)
    expect(values.find(v => v.labels.protocol === `${ECHO} received`)?.value).to.be.at.least(1000)
  })

  it('records the agreed protocol in the peer store, as a full negotiation does', async () => {
    await dialer.peerStore.patch(listener.peerId, { protocols: [] })
    const stream = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO, LAZY)
    stream.send(bytes(1, 1))
    await firstChunk(stream)

    // recorded after the answer, off the application's path
    let protocols: string[] = []

    for (let i = 0; i < 100 && !protocols.includes(ECHO); i++) {
      await new Promise(resolve => setTimeout(resolve, 10))
      protocols = (await dialer.peerStore.get(listener.peerId)).protocols
    }

    expect(protocols).to.include(ECHO)
  })

  it('keeps maxOutboundStreams: the open over it rejects with OpenStreamError caused by TooManyOutboundProtocolStreamsError', async () => {
    const control = dialer.services.stream.newControl()
    const open = await Promise.all([1, 2].map(async () => control.openStream(listener.peerId, ECHO, { ...LAZY, maxOutboundStreams: 2 })))
    const err = await control.openStream(listener.peerId, ECHO, { ...LAZY, maxOutboundStreams: 2 }).catch(err => err)

    expect(err).to.have.property('name', 'OpenStreamError')
    expect(err.cause).to.have.property('name', 'TooManyOutboundProtocolStreamsError')
    open.forEach(stream => { stream.abort(new Error('done')) })
  })

  describe('negotiates fully, so openStream itself rejects with UnsupportedProtocolError,', () => {
    it('with several protocols', async () => {
      const control = dialer.services.stream.newControl()
      await expect(control.openStream(listener.peerId, [NOPE, `${NOPE}/2`], LAZY))
        .to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')

      const stream = await control.openStream(listener.peerId, [NOPE, ECHO], LAZY)
      expect(stream.protocol).to.equal(ECHO)
      stream.abort(new Error('done'))
    })

    it('when outbound middleware is registered for the protocol, and runs it', async () => {
      let ran = 0
      dialer.use(NOPE, (stream, connection, next) => { ran++; next(stream, connection) })
      dialer.use(ECHO, (stream, connection, next) => { ran++; next(stream, connection) })

      await expect(dialer.services.stream.newControl().openStream(listener.peerId, NOPE, LAZY))
        .to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')
      const stream = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO, LAZY)
      expect(ran).to.equal(1)
      stream.abort(new Error('done'))
    })

    it('on a connection whose first negotiation has not finished', async () => {
      await dialer.hangUp(listener.peerId)
      await dialer.dial(multiaddr(`${proxy.address}/p2p/${listener.peerId}`))

      await expect(dialer.services.stream.newControl().openStream(listener.peerId, NOPE, LAZY))
        .to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')
    })
  })

  describe('the js-libp2p internals it relies on (libp2p 3.3, @libp2p/utils 7, yamux 8): when one fails, see src/libp2p-fixes/lazy-select.ts', () => {
    it('libp2p\'s own newStream still negotiates fully with negotiateFully: false (else lazy-select.ts can go)', async () => {
      await expect(connection.newStream(NOPE, { negotiateFully: false }))
        .to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')
    })

    it('a connection carries its muxer, whose streams have onData, onRemoteCloseWrite, writeBuffer, send, close and a settable protocol', async () => {
      const muxer = (connection as any).muxer
      expect(muxer, 'connection.muxer').to.exist()
      expect(muxer.createStream, 'muxer.createStream').to.be.a('function')
      expect(muxer.streams, 'muxer.streams').to.be.an('array')

      const stream = await muxer.createStream({ protocol: ECHO })
      expect(stream.protocol, 'a yamux stream carries no pre-negotiated protocol').to.equal('')
      for (const method of ['onData', 'onRemoteCloseWrite', 'send', 'close', 'addEventListener', Symbol.asyncIterator]) {
        expect(stream[method], String(method)).to.be.a('function')
      }
      expect(stream.writeBuffer?.append, 'writeBuffer.append').to.be.a('function')
      expect(muxer.streams).to.include(stream)
      stream.abort(new Error('done'))
    })

    it('bytes appended to a muxer stream\'s writeBuffer go out ahead of the next send(), and onData() takes what arrives', async () => {
      const muxer = (connection as any).muxer
      const stream = await muxer.createStream()
      const line = (text: string): Uint8Array => Uint8Array.from([text.length + 1, ...new TextEncoder().encode(`${text}\n`)])
      const data = bytes(100, 5)
      const received: Uint8Array[] = []
      const onData = stream.onData
      stream.onData = function (chunk: any) {
        received.push(chunk.subarray())
        onData.call(this, chunk)
      }

      const expected = Uint8Array.from([...line('/multistream/1.0.0'), ...line(ECHO), ...data])

      stream.writeBuffer.append(Uint8Array.from([...line('/multistream/1.0.0'), ...line(ECHO)]))
      stream.send(data)
      await eventually(() => received.reduce((n, c) => n + c.byteLength, 0) >= expected.byteLength, 'the answers and the echo arrived through onData()')

      expect(Uint8Array.from(received.flatMap(c => [...c]))).to.equalBytes(expected)
      stream.abort(new Error('done'))
    })
  })
})
