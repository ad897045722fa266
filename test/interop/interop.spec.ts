import { createHash } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import * as lp from 'it-length-prefixed'
import { RemoteResetError } from '../../src/index.ts'
import { bytes, readAll } from '../fixtures/nodes.ts'
import { echoThrough } from './fixtures/echo.ts'
import { BACKLOG, ECHO, LP, NOPE, RESET_CODE, V1, V2, serveInteropProtocols } from './fixtures/js-server.ts'
import { LIBRARIES, peerLabel, startPeer } from './fixtures/peer.ts'
import { peerFlags, peersOn } from './fixtures/python.ts'
import { EXPECTED_CONNECTION, TRANSPORTS, TRANSPORT_LABELS, connectionKind, createInteropNode } from './fixtures/transports.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { RunningPeer } from './fixtures/peer.ts'
import type { ConnectionKind } from './fixtures/transports.ts'
import type { Stream } from '@libp2p/interface'

/** Sizes of the length-prefixed messages: 0 B to 64 KiB, both ends included */
const LP_SIZES = Array.from({ length: 1000 }, (_, i) => Math.round((i * 65536) / 999))

// reset codes cross over yamux; the QUIC transport neither sends nor reads them
const CARRIES_RESET_CODES = (transport: string): boolean => transport !== 'quic'

for (const transport of TRANSPORTS) {
  // python on the transports of PYTHON_TRANSPORTS only (see fixtures/python.ts)
  for (const implementation of peersOn(transport)) {
    const over = `over ${TRANSPORT_LABELS[transport]}`
    const flags = peerFlags(implementation, transport)

    describe(`interop ${over}: js-libp2p (libp2p-stream) opens, ${peerLabel(implementation)} listens`, function () {
      this.timeout(60_000)
      let peer: RunningPeer
      let node: Node

      before(async () => {
        peer = await startPeer(implementation, ['listen', '--transport', transport, ...flags])
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
        let streams: Stream[]

        if (implementation === 'rust') {
          // rust libp2p-stream hands inbound streams to `accept` through a
          // channel with room for one and drops the rest of a burst ("Channel is
          // full, dropping inbound stream"), so the 64 streams are opened one
          // after another - each echoing its first byte before the next opens -
          // and then all transfer at once
          streams = []
          for (let i = 0; i < 64; i++) {
            const stream = await control.clone().openStream(peer.multiaddr, ECHO)
            stream.send(data[i].subarray(0, 1))
            await stream[Symbol.asyncIterator]().next()
            streams.push(stream)
          }
        } else {
          streams = await Promise.all(data.map(async () => control.clone().openStream(peer.multiaddr, ECHO)))
        }

        const results = await Promise.all(streams.map(async (stream, i) => {
          const skip = implementation === 'rust' ? 1 : 0
          const echoed = await echoThrough(stream, data[i].subarray(skip))
          return Buffer.from(echoed).equals(data[i].subarray(skip))
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

      if (implementation === 'go') {
        it(CARRIES_RESET_CODES(transport)
          ? 'reports the code of go\'s ResetWithError: a read after the open fails with RemoteResetError code 0x1003 (RATE_LIMITED)'
          : 'meets go\'s ResetWithError as a plain end or reset: QUIC here carries no code', async () => {
          const stream = await node.services.stream.newControl().openStream(peer.multiaddr, RESET_CODE)
          stream.send(Uint8Array.of(1))
          const err = await readAll(stream).then(() => undefined, (err: Error) => err)

          if (CARRIES_RESET_CODES(transport)) {
            expect(err).to.be.an.instanceOf(RemoteResetError)
            expect(err).to.include({ name: 'RemoteResetError', code: 0x1003, codeName: 'RATE_LIMITED' })
          } else {
            expect(err).to.not.be.an.instanceOf(RemoteResetError)
          }
        })
      }

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

    describe(`interop ${over}: ${peerLabel(implementation)} opens, js-libp2p (libp2p-stream) accepts`, function () {
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

      /** Runs one dial case in its own peer process and returns its result line */
      async function dial (testCase: string, ...caseFlags: string[]): Promise<any> {
        const peer = await startPeer(implementation, ['dial', node.getMultiaddrs()[0].toString(), testCase, '--transport', transport, ...flags, ...caseFlags])

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
        const result = await dial('concurrent')
        expect(result).to.include({ ok: true, streams: 64 })

        if (implementation !== 'rust') {
          // rust-peer does not report its connections
          expect(result).to.include({ connections: 1 })
        }
      })

      it('exchanges 1,000 length-prefixed messages of 0 B - 64 KiB and gets their SHA-256 back', async () => {
        expect(await dial('lp')).to.include({ ok: true, messages: 1000 })
      })

      it('negotiates 1.0.0 when offering [2.0.0, 1.0.0] to libp2p-stream accepting only 1.0.0', async () => {
        expect(await dial('versions')).to.include({ ok: true, protocol: V1, reply: V1 })
      })

      it(`reports ${LIBRARIES[implementation]}'s own "protocol not supported" error for a protocol nobody accepts`, async () => {
        expect(await dial('unsupported')).to.include({ ok: true, error: 'unsupported' })
      })

      it(`sees 8 of 10 streams reset, not hung, when the libp2p-stream backlog of 2 overflows${implementation === 'go' && CARRIES_RESET_CODES(transport) ? ', each with code 0x1002 (network.StreamError)' : ''}`, async () => {
        const incoming = node.services.stream.newControl().accept(BACKLOG, { backlog: 2 })

        try {
          const result = await dial('backlog')
          expect(result.ok, JSON.stringify(result)).to.be.true()
          expect(result.outcomes, JSON.stringify(result.details ?? result)).to.deep.equal({ reset: 8, open: 2 })
          expect(incoming.dropped).to.equal(8)

          if (implementation === 'go') {
            // go-libp2p's network.StreamError: RESOURCE_LIMIT_EXCEEDED over yamux
            expect(result.codes).to.deep.equal(CARRIES_RESET_CODES(transport) ? { '0x1002': 8 } : { '0x0': 8 })
          }
          expect(incoming.queued).to.be.at.most(2)
        } finally {
          incoming.close()
        }
      })

      it('dials libp2p-stream by peer id after adding its address, and by multiaddr', async () => {
        expect(await dial('echo', '--by-peer-id')).to.include({ ok: true, bytes: 1048576 })
      })

      it(`got every connection of ${implementation} over ${TRANSPORT_LABELS[transport]}`, () => {
        // one per dial run above
        expect(inbound).to.have.lengthOf(7)
        expect(inbound).to.deep.equal(inbound.map(() => EXPECTED_CONNECTION[transport]))
      })
    })
  }
}

// a peer of another implementation opening faster than the listener's bound:
// refused at the first yamux frame, which go-libp2p reads as a StreamError
for (const implementation of ['go', 'rust'] as const) {
  describe(`interop over ${TRANSPORT_LABELS.tcp}: ${peerLabel(implementation)} opens faster than maxInboundStreamRate`, function () {
    this.timeout(60_000)
    let node: Node

    before(async () => {
      // one stream a second, two at once: the peer's burst of 10 (and its identify stream) is over it
      node = await createInteropNode('tcp', { maxInboundStreamRate: 1 })
    })

    after(async () => {
      await node?.stop()
    })

    // rust-libp2p's multistream-select reads a reset during negotiation as a refusal of the protocol
    const refusal = implementation === 'go' ? 'reset' : 'unsupported'

    it(`sees its streams over the bound ${implementation === 'go' ? 'reset with code 0x1003 (network.StreamError RATE_LIMITED)' : 'fail as UnsupportedProtocol (a reset during negotiation)'}, not hung, and the listener counts them`, async () => {
      const incoming = node.services.stream.newControl().accept(BACKLOG)
      const peer = await startPeer(implementation, ['dial', node.getMultiaddrs()[0].toString(), 'backlog', '--transport', 'tcp'])

      try {
        const result = await peer.result()
        expect(result.ok, JSON.stringify(result)).to.be.true()
        const refused: number = result.outcomes[refusal] ?? 0
        expect(refused, JSON.stringify(result.details ?? result)).to.be.at.least(8)
        expect(refused + (result.outcomes.open ?? 0), JSON.stringify(result.details ?? result)).to.equal(10)

        if (implementation === 'go') {
          expect(Object.keys(result.codes), JSON.stringify(result.codes)).to.deep.equal(['0x1003'])
        }

        expect(node.services.stream.stats().rateLimited, 'refused by the listener').to.be.at.least(refused)
        expect(incoming.dropped, 'refused before negotiation: no accept saw them').to.equal(0)
      } finally {
        await peer.stop()
        incoming.close()
      }
    })
  })
}

// the other way in (new-streams.ts): a muxer that is not yamux, QUIC's, is
// gated as it announces each stream; QUIC carries no reset code
describe(`interop over ${TRANSPORT_LABELS.quic}: js-libp2p opens faster than a libp2p-stream listener's maxInboundStreamRate`, function () {
  this.timeout(60_000)
  let listener: Node
  let opener: Node

  before(async () => {
    listener = await createInteropNode('quic', { maxInboundStreamRate: 1 })
    opener = await createInteropNode('quic')
  })

  after(async () => {
    await Promise.all([opener, listener].map(async node => node?.stop()))
  })

  it('resets the streams over the bound before negotiation (OpenStreamError for the opener, not a hang), and counts them', async () => {
    const incoming = listener.services.stream.newControl().accept(BACKLOG)
    const control = opener.services.stream.newControl()
    const connection = await opener.dial(listener.getMultiaddrs()[0])

    try {
      const outcomes = await Promise.all(Array.from({ length: 10 }, async () => {
        try {
          const stream = await control.openStream(listener.peerId, BACKLOG, { connection, signal: AbortSignal.timeout(5_000) })
          stream.abort(new Error('done'))
          return 'open'
        } catch (err: any) {
          // QUIC carries no code: multistream-select sees the reset as the end of the stream
          return err?.name === 'OpenStreamError' ? 'refused' : `${err?.name}: ${err?.message}`
        }
      }))
      const refused = outcomes.filter(outcome => outcome === 'refused').length

      expect(outcomes.filter(outcome => outcome !== 'open' && outcome !== 'refused'), 'every other open failed with OpenStreamError, none hung').to.deep.equal([])
      expect(refused, JSON.stringify(outcomes)).to.be.at.least(8)
      expect(listener.services.stream.stats().rateLimited, 'refused by the listener').to.be.at.least(refused)
      expect(incoming.dropped, 'refused before negotiation: no accept saw them').to.equal(0)
    } finally {
      incoming.close()
    }
  })
})
