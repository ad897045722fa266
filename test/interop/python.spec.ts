import { expect } from 'aegir/chai'
import { startPeer } from './fixtures/peer.ts'
import { PYTHON_TRANSPORTS } from './fixtures/python.ts'
import { createInteropNode } from './fixtures/transports.ts'
import type { Connection } from '@libp2p/interface'

// every case of the matrix runs against python-peer in interop.spec.ts; these
// are the tests of python-peer alone

describe('interop over TCP + TLS + yamux: the TLS certificate py-libp2p 0.8.1 makes by default', function () {
  if (!PYTHON_TRANSPORTS.includes('tls')) {
    return
  }

  this.timeout(60_000)
  // py-libp2p puts Basic Constraints and Key Usage before the libp2p public
  // key extension; @libp2p/tls 3.1.10 looks for that extension in the first
  // place only (the libp2p TLS spec sets no order, go-libp2p and rust-libp2p
  // find it anywhere), so the matrix (interop.spec.ts) runs python-peer with
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
