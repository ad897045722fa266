import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createNode, createPair } from './fixtures/nodes.ts'
import { randomPeerId } from './fixtures/peer-id.ts'
import { bytes } from './fixtures/random.ts'
import { silentServer } from './fixtures/silent-server.ts'
import { readAll, serveEcho, writeAll } from './fixtures/streams.ts'
import type { Node, Transport } from './fixtures/nodes.ts'
import type { Stream } from '@libp2p/interface'

const ECHO = '/test/echo/1.0.0'

async function echo (node: Node): Promise<() => void> {
  const incoming = node.services.stream.newControl().accept(ECHO, { backlog: 1024 })
  void serveEcho(incoming)

  return () => { incoming.close() }
}

for (const transport of ['tcp', 'memory'] satisfies Transport[]) {
  describe(`openStream (${transport})`, () => {
    let listener: Node
    let dialer: Node
    let stop: () => Promise<void>
    let stopEcho: () => void

    beforeEach(async () => {
      ({ listener, dialer, stop } = await createPair(transport))
      stopEcho = await echo(listener)
    })

    afterEach(async () => {
      stopEcho()
      await stop()
    })

    it('dials by peer id from the peer store and negotiates', async () => {
      expect(dialer.getConnections(listener.peerId)).to.have.lengthOf(0)
      const s = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO)
      expect(s.protocol).to.equal(ECHO)
      s.send(new TextEncoder().encode('hello'))
      await s.close()
      expect(new TextDecoder().decode(await readAll(s))).to.equal('hello')
    })

    it('dials by multiaddr, and by a list of multiaddrs', async () => {
      const control = dialer.services.stream.newControl()
      const byAddr = await control.openStream(listener.getMultiaddrs()[0], ECHO)
      expect(byAddr.protocol).to.equal(ECHO)
      await dialer.hangUp(listener.peerId)

      const byList = await control.openStream(listener.getMultiaddrs(), ECHO)
      expect(byList.protocol).to.equal(ECHO)
    })

    it('reuses the open connection, or the one given', async () => {
      const control = dialer.services.stream.newControl()
      await control.openStream(listener.peerId, ECHO)
      await control.openStream(listener.peerId, ECHO)
      const [connection] = dialer.getConnections(listener.peerId)
      expect(dialer.getConnections(listener.peerId)).to.have.lengthOf(1)

      const onGiven = await control.openStream(listener.peerId, ECHO, { connection })
      expect(connection.streams.map(s => s.id)).to.include(onGiven.id)
    })

    it('rejects with UnsupportedProtocolError when the remote supports none of the protocols', async () => {
      await expect(dialer.services.stream.newControl().openStream(listener.peerId, ['/test/nope/2.0.0', '/test/nope/1.0.0']))
        .to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')
    })

    it('rejects with OpenStreamError caused by the dial error for a peer with no known address', async () => {
      const err = await dialer.services.stream.newControl().openStream(await randomPeerId(), ECHO).catch(err => err)
      expect(err).to.have.property('name', 'OpenStreamError')
      expect(err).to.have.nested.property('cause.name', 'NoValidAddressesError')
    })

    it('rejects with AbortError for a signal that is already aborted, without dialling', async () => {
      await expect(dialer.services.stream.newControl().openStream(listener.peerId, ECHO, { signal: AbortSignal.abort() }))
        .to.eventually.be.rejected.with.property('name', 'AbortError')
      expect(dialer.getConnections()).to.have.lengthOf(0)
      expect(dialer.getDialQueue()).to.have.lengthOf(0)
    })

    it('sends data frames of at most 1 MiB when the remote grants a larger window, as rust-yamux does', async () => {
      // rust-yamux grows a stream's window past 1 MiB and closes the connection
      // on frames larger than that; a window update of 4 MiB stands in for it
      type Windowed = Stream & { maxMessageSize: number, handleWindowUpdate(frame: unknown): void }
      const grant = (s: Stream): number => {
        (s as Windowed).handleWindowUpdate({ header: { flag: 0, length: 4 * 1024 * 1024 } })
        return (s as Windowed).maxMessageSize
      }
      const raw = await dialer.dialProtocol(listener.peerId, ECHO)
      const ours = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO)

      expect(grant(raw)).to.be.greaterThan(4 * 1024 * 1024)
      expect(grant(ours)).to.equal(1024 * 1024)

      // and the stream still carries data both ways
      const data = bytes(2 * 1024 * 1024, 3)
      const [echoed] = await Promise.all([readAll(ours), (async () => { await writeAll(ours, data); await ours.close() })()])
      expect(echoed).to.equalBytes(data)
      raw.abort(new Error('done'))
    })

    it('opens 500 streams concurrently from cloned controls to one peer against a backlog of 1024', async function () {
      this.timeout(60_000)
      const control = dialer.services.stream.newControl()
      const streams = await Promise.all(Array.from({ length: 500 }, async (_, i) => {
        const s = await control.clone().openStream(listener.peerId, ECHO)
        s.send(Uint8Array.of(i % 256))
        await s.close()
        return readAll(s)
      }))

      expect(streams.map(b => b[0])).to.deep.equal(Array.from({ length: 500 }, (_, i) => i % 256))
    })

    it('keeps the first-stream guard with negotiateFully: false: 200 opens right after the dial share one live connection', async function () {
      this.timeout(30_000)
      expect(dialer.getConnections(listener.peerId)).to.have.lengthOf(0)
      const control = dialer.services.stream.newControl()
      const echoed = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
        const s = await control.openStream(listener.peerId, ECHO, { negotiateFully: false })
        s.send(Uint8Array.of(i))
        await s.close()
        return readAll(s)
      }))

      expect(echoed.map(b => b[0])).to.deep.equal(Array.from({ length: 200 }, (_, i) => i))
      expect(dialer.getConnections(listener.peerId)).to.have.lengthOf(1)
    })

    it('an open with an already-aborted signal rejects with AbortError whose cause is the signal\'s reason', async () => {
      const reason = new Error('the user went away')
      const err = await dialer.services.stream.newControl().openStream(listener.peerId, ECHO, { signal: AbortSignal.abort(reason) })
        .then(() => undefined, (err: any) => err)

      expect(err).to.have.property('name', 'AbortError')
      expect(err).to.have.property('cause', reason)
    })
  })
}

describe('openStream over TCP failures', () => {
  let dialer: Node

  beforeEach(async () => {
    dialer = await createNode('tcp')
  })

  afterEach(async () => {
    await dialer.stop()
  })

  it('an open aborted by AbortSignal.timeout() during the dial rejects with AbortError whose cause is the TimeoutError', async function () {
    this.timeout(5_000)
    const { server, address } = await silentServer()

    try {
      const err = await dialer.services.stream.newControl().openStream(multiaddr(address), ECHO, { signal: AbortSignal.timeout(200) })
        .then(() => undefined, (err: any) => err)

      expect(err).to.have.property('name', 'AbortError')
      expect(err.cause).to.have.property('name', 'TimeoutError')
    } finally {
      // stops listening; the dialer's stop ends the socket it left
      server.close()
    }
  })

  it('rejects with OpenStreamError when the address refuses the connection', async function () {
    this.timeout(5_000)
    const { server, address } = await silentServer()
    await new Promise(resolve => server.close(resolve))

    const err = await dialer.services.stream.newControl().openStream(multiaddr(address), ECHO).catch(err => err)
    expect(err).to.have.property('name', 'OpenStreamError')
    expect(err.cause).to.be.an.instanceOf(Error)
  })

  it('rejects with AbortError when the signal aborts during a dial that never completes, leaving no dial behind', async () => {
    const { server, address } = await silentServer()
    const controller = new AbortController()
    const open = dialer.services.stream.newControl().openStream(multiaddr(address), ECHO, { signal: controller.signal })

    setTimeout(() => { controller.abort() }, 100)
    await expect(open).to.eventually.be.rejected.with.property('name', 'AbortError')
    expect(dialer.getDialQueue()).to.have.lengthOf(0)
    server.close()
  })

  it('rejects pending opens with OpenStreamError when the node stops', async () => {
    const { server, address } = await silentServer()
    const open = dialer.services.stream.newControl().openStream(multiaddr(address), ECHO)

    setTimeout(() => { void dialer.stop() }, 100)
    const err = await open.catch(err => err)
    expect(err).to.have.property('name', 'OpenStreamError')
    server.close()
  })

  it('rejects with NotStartedError after the node stopped', async () => {
    await dialer.stop()
    await expect(dialer.services.stream.newControl().openStream(multiaddr('/ip4/127.0.0.1/tcp/1'), ECHO))
      .to.eventually.be.rejected.with.property('name', 'NotStartedError')
  })
})
