import { createHash } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import * as lp from 'it-length-prefixed'
import { bytes, readAll, writeAll } from '../fixtures/nodes.ts'
import { BACKLOG, ECHO, LP, NOPE, V1, V2, serveInteropProtocols } from './fixtures/js-server.ts'
import { startPeer } from './fixtures/peer.ts'
import { PYTHON_PEER_FLAGS, PYTHON_TRANSPORTS } from './fixtures/python.ts'
import { EXPECTED_CONNECTION, TRANSPORT_LABELS, connectionKind, createInteropNode } from './fixtures/transports.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { RunningPeer } from './fixtures/peer.ts'
import type { ConnectionKind } from './fixtures/transports.ts'
import type { Connection, Stream } from '@libp2p/interface'

/** Sizes of the length-prefixed messages: 0 B to 64 KiB, both ends included */
const LP_SIZES = Array.from({ length: 1000 }, (_, i) => Math.round((i * 65536) / 999))

/** Writes `data` and half-closes while reading everything back */
async function echoThrough (stream: Stream, data: Uint8Array): Promise<Uint8Array> {
  const [received] = await Promise.all([
    readAll(stream),
    (async () => {
      await writeAll(stream, data)
      await stream.close()
    })()
  ])

  return received
}

for (const transport of PYTHON_TRANSPORTS) {
  const over = `over ${TRANSPORT_LABELS[transport]}`

  describe(`interop ${over}: js-libp2p (libp2p-stream) opens, python (py-libp2p) listens`, function () {
    this.timeout(60_000)
    let peer: RunningPeer
    let node: Node

    before(async () => {
      peer = await startPeer('python', ['listen', '--transport', transport, ...PYTHON_PEER_FLAGS[transport] ?? []])
      node = await createInteropNode(transport)
    })

    after(async () => {
      await node?.stop()
      await peer?.stop()
    })

    it('echoes 1 MiB with half-close, byte-exact', async () => {
      const data = bytes(1024 * 1024, 7)
      const stream = await node.services.stream.newControl().openStream(peer.multiaddr, ECHO)
      expect(await echoThrough(stream, data)).to.equalBytes(data)
    })

    it(`connects over ${TRANSPORT_LABELS[transport]}`, async () => {
      // the connection of the tests before, or a new one
      const connection = await node.dial(peer.multiaddr)
      expect(connectionKind(connection)).to.deep.equal(EXPECTED_CONNECTION[transport])
      expect(node.getConnections(peerIdFromString(peer.info.peerId))).to.have.lengthOf(1)
    })

    it('runs 64 concurrent streams on one connection, each echoing 64 KiB', async () => {
      const control = node.services.stream.newControl()
      const data = Array.from({ length: 64 }, (_, i) => bytes(64 * 1024, i + 1))
      const streams = await Promise.all(data.map(async () => control.clone().openStream(peer.multiaddr, ECHO)))

      const results = await Promise.all(streams.map(async (stream, i) => {
        const echoed = await echoThrough(stream, data[i])
        return Buffer.from(echoed).equals(data[i])
      }))

      expect(results.every(Boolean)).to.be.true()
      expect(node.getConnections(peerIdFromString(peer.info.peerId))).to.have.lengthOf(1)
    })

    it('exchanges 1,000 length-prefixed messages of 0 B - 64 KiB and gets their SHA-256 back', async () => {
      const stream = await node.services.stream.newControl().openStream(peer.multiaddr, LP)
      const messages = LP_SIZES.map((size, i) => bytes(size, i + 1))
      const answers: Uint8Array[] = []

      await Promise.all([
        (async () => {
          for await (const answer of lp.decode(stream)) {
            answers.push(answer.subarray())
          }
        })(),
        (async () => {
          for (const message of messages) {
            if (!stream.send(lp.encode.single(message))) {
              await stream.onDrain()
            }
          }
          await stream.close()
        })()
      ])

      expect(answers).to.have.lengthOf(1000)
      answers.forEach((answer, i) => {
        expect(answer, `hash of message ${i}`).to.equalBytes(createHash('sha256').update(messages[i]).digest())
      })
    })

    it('negotiates 1.0.0 when offering [2.0.0, 1.0.0] to a listener with only 1.0.0', async () => {
      const stream = await node.services.stream.newControl().openStream(peer.multiaddr, [V2, V1])
      expect(stream.protocol).to.equal(V1)

      const [reply] = await Promise.all([lp.decode(stream)[Symbol.asyncIterator]().next(), stream.close()])
      expect(new TextDecoder().decode(reply.value?.subarray())).to.equal(V1)
    })

    it('rejects with UnsupportedProtocolError for a protocol the listener lacks', async () => {
      await expect(node.services.stream.newControl().openStream(peer.multiaddr, NOPE))
        .to.eventually.be.rejected.with.property('name', 'UnsupportedProtocolError')
    })

    it('dials by peer id once the address is in the peer store, and by multiaddr', async () => {
      const other = await createInteropNode(transport)

      try {
        const peerId = peerIdFromString(peer.info.peerId)
        await other.peerStore.merge(peerId, { multiaddrs: [peer.multiaddr.decapsulateCode(421)] })
        const byId = await other.services.stream.newControl().openStream(peerId, ECHO)
        expect(await echoThrough(byId, Uint8Array.of(1, 2, 3))).to.equalBytes(Uint8Array.of(1, 2, 3))

        await other.hangUp(peerId)
        const byAddr = await other.services.stream.newControl().openStream(peer.multiaddr, ECHO)
        expect(await echoThrough(byAddr, Uint8Array.of(4, 5))).to.equalBytes(Uint8Array.of(4, 5))
      } finally {
        await other.stop()
      }
    })
  })

  describe(`interop ${over}: python (py-libp2p) opens, js-libp2p (libp2p-stream) accepts`, function () {
    this.timeout(60_000)
    let node: Node
    let closeProtocols: () => void
    /** Every connection the peer made to the JS node, as it was when it opened */
    const inbound: ConnectionKind[] = []

    before(async () => {
      node = await createInteropNode(transport)
      node.addEventListener('connection:open', ({ detail }) => { inbound.push(connectionKind(detail)) })
      closeProtocols = serveInteropProtocols(node.services.stream.newControl())
    })

    after(async () => {
      closeProtocols?.()
      await node?.stop()
    })

    /** Runs one dial case in its own python-peer process and returns its result line */
    async function dial (testCase: string, ...flags: string[]): Promise<any> {
      const peer = await startPeer('python', ['dial', node.getMultiaddrs()[0].toString(), testCase, '--transport', transport, ...PYTHON_PEER_FLAGS[transport] ?? [], ...flags])

      try {
        return await peer.result()
      } finally {
        await peer.stop()
      }
    }

    it('echoes 1 MiB with half-close, byte-exact', async () => {
      expect(await dial('echo')).to.include({ ok: true, bytes: 1048576 })
    })

    it('runs 64 concurrent streams on one connection, each echoing 64 KiB', async () => {
      expect(await dial('concurrent')).to.include({ ok: true, streams: 64, connections: 1 })
    })

    it('exchanges 1,000 length-prefixed messages of 0 B - 64 KiB and gets their SHA-256 back', async () => {
      expect(await dial('lp')).to.include({ ok: true, messages: 1000 })
    })

    it('negotiates 1.0.0 when offering [2.0.0, 1.0.0] to libp2p-stream accepting only 1.0.0', async () => {
      expect(await dial('versions')).to.include({ ok: true, protocol: V1, reply: V1 })
    })

    it('reports py-libp2p\'s own "protocols not supported" error for a protocol nobody accepts', async () => {
      expect(await dial('unsupported')).to.include({ ok: true, error: 'unsupported' })
    })

    it('sees 8 of 10 streams reset, not hung, when the libp2p-stream backlog of 2 overflows', async () => {
      const incoming = node.services.stream.newControl().accept(BACKLOG, { backlog: 2 })

      try {
        const result = await dial('backlog')
        expect(result.ok, JSON.stringify(result)).to.be.true()
        expect(result.outcomes, JSON.stringify(result.details)).to.deep.equal({ reset: 8, open: 2 })
        expect(incoming.dropped).to.equal(8)
        expect(incoming.queued).to.be.at.most(2)
      } finally {
        incoming.close()
      }
    })

    it('dials libp2p-stream by peer id after adding its address, and by multiaddr', async () => {
      expect(await dial('echo', '--by-peer-id')).to.include({ ok: true, bytes: 1048576 })
    })

    it(`got every connection of python over ${TRANSPORT_LABELS[transport]}`, () => {
      // one per dial run above
      expect(inbound).to.have.lengthOf(7)
      expect(inbound).to.deep.equal(inbound.map(() => EXPECTED_CONNECTION[transport]))
    })
  })
}

describe('interop over TCP + TLS + yamux: the TLS certificate py-libp2p 0.8.1 makes by default', function () {
  if (!PYTHON_TRANSPORTS.includes('tls')) {
    return
  }

  this.timeout(60_000)
  // py-libp2p puts Basic Constraints and Key Usage before the libp2p public
  // key extension; @libp2p/tls 3.1.10 looks for that extension in the first
  // place only (the libp2p TLS spec sets no order, go-libp2p and rust-libp2p
  // find it anywhere), so the matrix above runs python-peer with
  // --tls-extension-first. When one of these tests fails, one side changed:
  // the flag may go.
  const REFUSAL = 'The certificate did not include the libp2p public key extension'

  it('is refused by js-libp2p dialing py-libp2p', async () => {
    const peer = await startPeer('python', ['listen', '--transport', 'tls'])
    const node = await createInteropNode('tls')

    try {
      const err = await node.dial(peer.multiaddr).then(() => undefined, (err: Error) => err)
      expect(err?.message).to.include(REFUSAL)
      expect(node.getConnections()).to.be.empty()
    } finally {
      await node.stop()
      await peer.stop()
    }
  })

  it('is refused by js-libp2p accepting py-libp2p\'s dial', async () => {
    const node = await createInteropNode('tls')
    const opened: Connection[] = []
    node.addEventListener('connection:open', ({ detail }) => { opened.push(detail) })

    try {
      const peer = await startPeer('python', ['dial', node.getMultiaddrs()[0].toString(), 'echo', '--transport', 'tls'])
      let result: any

      try {
        result = await peer.result()
      } finally {
        await peer.stop()
      }

      expect(result).to.include({ ok: false })
      expect(result.error).to.match(/^dial failed/)
      expect(opened).to.be.empty()
    } finally {
      await node.stop()
    }
  })
})
