import { expect } from 'aegir/chai'
import { bytes, readAll } from '../fixtures/nodes.ts'
import { echoThrough } from './fixtures/echo.ts'
import { ECHO, NOPE, serveInteropProtocols } from './fixtures/js-server.ts'
import { startPeer } from './fixtures/peer.ts'
import { peerFlags, peersOn } from './fixtures/python.ts'
import { TRANSPORTS, TRANSPORT_LABELS, createInteropNode } from './fixtures/transports.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { Implementation, RunningPeer } from './fixtures/peer.ts'
import type { Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const LAZY = { negotiateFully: false }

/**
 * Sends `data` before any read, so that it leaves in one frame with the
 * multistream header and the protocol, then half-closes and reads everything
 * back (`echoThrough` starts reading first, and a read sends the negotiation
 * on its own)
 */
async function writeFirstThenEcho (stream: Stream, data: Uint8Array): Promise<Uint8Array> {
  stream.send(data)
  const [received] = await Promise.all([readAll(stream), stream.close()])

  return received
}

/** A listener of each implementation: a Go, Rust or Python peer process, or a js-libp2p node serving through `accept` */
async function startListener (implementation: Implementation | 'js', transport: typeof TRANSPORTS[number]): Promise<{ address: Multiaddr, stop(): Promise<void> }> {
  if (implementation === 'js') {
    const node = await createInteropNode(transport)
    const close = serveInteropProtocols(node.services.stream.newControl())

    return {
      address: node.getMultiaddrs()[0],
      stop: async () => {
        close()
        await node.stop()
      }
    }
  }

  const peer: RunningPeer = await startPeer(implementation, ['listen', '--transport', transport, ...peerFlags(implementation, transport)])

  return { address: peer.multiaddr, stop: async () => { await peer.stop() } }
}

for (const transport of TRANSPORTS) {
  // python-peer only on the transports it runs in `npm run test:interop`
  for (const implementation of [...peersOn(transport), 'js'] as const) {
    describe(`interop over ${TRANSPORT_LABELS[transport]}: libp2p-stream opens lazily (negotiateFully: false), ${implementation} listens`, function () {
      this.timeout(60_000)
      let listener: { address: Multiaddr, stop(): Promise<void> }
      let node: Node

      before(async () => {
        listener = await startListener(implementation, transport)
        node = await createInteropNode(transport)

        // the first negotiation on a connection is a full one
        const first = await node.services.stream.newControl().openStream(listener.address, ECHO)
        expect(await echoThrough(first, bytes(1, 1))).to.equalBytes(bytes(1, 1))
      })

      after(async () => {
        await node?.stop()
        await listener?.stop()
      })

      it('opens on the proven connection and echoes 1 MiB with half-close, byte-exact', async () => {
        const stream = await node.services.stream.newControl().openStream(listener.address, ECHO, LAZY)
        const data = bytes(1024 * 1024, 11)
        expect(await echoThrough(stream, data)).to.equalBytes(data)
      })

      it('runs 32 lazy opens one after another, each echoing its first write of 1 byte', async () => {
        const control = node.services.stream.newControl()

        for (let i = 0; i < 32; i++) {
          const stream = await control.openStream(listener.address, ECHO, LAZY)
          expect(await echoThrough(stream, bytes(1, i + 1))).to.equalBytes(bytes(1, i + 1))
        }
      })

      it('runs 32 lazy opens whose first write of 16 bytes goes out with the header and the protocol in one frame, each echoed', async () => {
        const control = node.services.stream.newControl()

        for (let i = 0; i < 32; i++) {
          const stream = await control.openStream(listener.address, ECHO, LAZY)
          expect(await writeFirstThenEcho(stream, bytes(16, i + 40))).to.equalBytes(bytes(16, i + 40))
        }
      })

      it('a protocol the listener lacks: the first read fails with UnsupportedProtocolError and the stream is reset', async () => {
        const stream = await node.services.stream.newControl().openStream(listener.address, NOPE, LAZY)
        stream.send(bytes(16, 3))

        const err = await readAll(stream).catch((err: Error) => err)
        expect(err).to.have.property('name', 'UnsupportedProtocolError')
        expect(stream.status).to.equal('aborted')
      })

      it('a protocol the listener lacks: close() after a write rejects with UnsupportedProtocolError', async () => {
        const stream = await node.services.stream.newControl().openStream(listener.address, NOPE, LAZY)
        stream.send(bytes(16, 4))

        await expect(stream.close()).to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')
      })

      it('the connection still works after a refusal', async () => {
        const stream = await node.services.stream.newControl().openStream(listener.address, ECHO, LAZY)
        expect(await echoThrough(stream, bytes(100, 5))).to.equalBytes(bytes(100, 5))
      })
    })
  }
}
