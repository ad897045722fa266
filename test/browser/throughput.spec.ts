/* eslint-disable no-console -- the figures are the point of this spec */
import { expect } from 'aegir/chai'
import { createBrowserNode, nodePeerAddress } from '../fixtures/browser-node.ts'
import { bytes, readAll, writeAll } from '../fixtures/nodes.ts'
import { ECHO, RAW_ECHO } from '../fixtures/peer-control.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const SIZE = 16 * 1024 * 1024

type Way = 'libp2p-stream' | 'raw js-libp2p'

describe('echo throughput from the browser to the Node peer over WebSockets', function () {
  this.timeout(120_000)

  let node: Node
  let remote: Multiaddr
  const data = bytes(SIZE, 11)

  before(async () => {
    node = await createBrowserNode()
    remote = nodePeerAddress()
  })

  after(async () => {
    await node?.stop()
  })

  async function open (way: Way): Promise<Stream> {
    const signal = AbortSignal.timeout(10_000)
    return way === 'libp2p-stream'
      ? node.services.stream.newControl().openStream(remote, ECHO, { signal })
      : node.dialProtocol(remote, RAW_ECHO, { signal })
  }

  /** Echoes 16 MiB and returns MB/s, failing unless every byte came back */
  async function echo (way: Way): Promise<number> {
    const stream = await open(way)
    const started = performance.now()
    const [, received] = await Promise.all([
      writeAll(stream, data).then(async () => stream.close()),
      readAll(stream)
    ])
    const seconds = (performance.now() - started) / 1000

    expect(received.byteLength).to.equal(SIZE)
    expect(received.every((b, i) => b === data[i]), `${way}: bytes differ`).to.be.true()
    return SIZE / 1e6 / seconds
  }

  it('16 MiB echo, libp2p-stream and raw dialProtocol/handle interleaved (A B B A)', async () => {
    const figures: Record<Way, number[]> = { 'libp2p-stream': [], 'raw js-libp2p': [] }

    for (const way of ['libp2p-stream', 'raw js-libp2p', 'raw js-libp2p', 'libp2p-stream'] satisfies Way[]) {
      figures[way].push(await echo(way))
    }

    const where = typeof globalThis.document === 'undefined' ? 'worker' : 'page'
    for (const [way, runs] of Object.entries(figures)) {
      console.log(`      ${where}: ${way}: ${runs.map(r => r.toFixed(1)).join(', ')} MB/s (16 MiB echo, each way)`)
    }
  })
})
