import { expect } from 'aegir/chai'
import { createBrowserNode, nodePeerAddress } from '../fixtures/browser-node.ts'
import { bytes, eventually, readAll, serveEcho, writeAll } from '../fixtures/nodes.ts'
import { ECHO, ask } from '../fixtures/peer-control.ts'
import type { IncomingStream } from '../../src/index.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

const MiB = 1024 * 1024

/** Takes the next `count` items of `source`, failing after `timeout` ms */
async function take (source: AsyncIterable<IncomingStream>, count: number, timeout = 5_000): Promise<IncomingStream[]> {
  const iterator = source[Symbol.asyncIterator]()
  const items: IncomingStream[] = []
  const deadline = Date.now() + timeout

  while (items.length < count) {
    let timer: ReturnType<typeof setTimeout> | undefined
    const next = await Promise.race([
      iterator.next(),
      new Promise<never>((resolve, reject) => {
        timer = setTimeout(() => { reject(new Error(`took ${items.length} of ${count} streams`)) }, Math.max(0, deadline - Date.now()))
      })
    ]).finally(() => { clearTimeout(timer) })

    if (next.done === true) {
      throw new Error(`the iteration ended after ${items.length} of ${count} streams`)
    }

    items.push(next.value)
  }

  return items
}

describe('a browser node and a Node peer over WebSockets', function () {
  this.timeout(60_000)

  let node: Node
  let remote: Multiaddr

  before(async () => {
    node = await createBrowserNode()
    remote = nodePeerAddress()
  })

  after(async () => {
    await node?.stop()
  })

  it('openStream to the Node peer echoes 1 MiB byte-exact', async () => {
    const data = bytes(MiB, 7)
    const stream = await node.services.stream.newControl().openStream(remote, ECHO, {
      signal: AbortSignal.timeout(10_000)
    })
    const [, received] = await Promise.all([
      writeAll(stream, data).then(async () => stream.close()),
      readAll(stream)
    ])

    expect(received.byteLength).to.equal(MiB)
    expect(received.every((b, i) => b === data[i])).to.be.true()
    expect(node.getConnections()[0]?.remoteAddr.toString()).to.include('/ws')
  })

  it('accepts a stream the Node peer opens back over the same connection', async () => {
    const protocol = '/browser-test/echo-back/1.0.0'
    const incoming = node.services.stream.newControl().accept(protocol, { backlog: 4 })
    const served: IncomingStream[] = []
    const serving = serveEcho({
      async * [Symbol.asyncIterator] () {
        for await (const item of incoming) {
          served.push(item)
          yield item
        }
      }
    })

    try {
      const answer = await ask(node, remote, { op: 'echo', protocol, size: MiB, seed: 3 })

      expect(answer).to.deep.equal({ ok: true, received: MiB, sameConnection: true })
      expect(served).to.have.lengthOf(1)
      const connections = node.getConnections()
      expect(connections).to.have.lengthOf(1)
      expect(served[0]?.connection).to.equal(connections[0])
      expect(served[0]?.peer.equals(connections[0]?.remotePeer)).to.be.true()
      expect(served[0]?.protocol).to.equal(protocol)
    } finally {
      incoming.close()
      await serving
    }
  })

  it('a backlog overflow in the browser reaches the Node peer as resets', async () => {
    const protocol = '/browser-test/backlog/1.0.0'
    const incoming = node.services.stream.newControl().accept(protocol, { backlog: 2 })

    try {
      const answer = await ask(node, remote, { op: 'open', protocol, count: 10, resets: 8 })

      expect(answer).to.deep.equal({ statuses: { reset: 8, open: 2 }, errors: {} })
      expect(incoming.dropped).to.equal(8)
      expect(incoming.queued).to.equal(2)

      // the two that waited still carry what the Node peer wrote, and its end
      const kept = await take(incoming, 2)
      const firstBytes = await Promise.all(kept.map(async ({ stream }) => readAll(stream)))
      expect(firstBytes.map(b => b.byteLength)).to.deep.equal([1, 1])
    } finally {
      incoming.close()
    }
  })

  it('ending for await deregisters: the Node peer then gets UnsupportedProtocolError', async () => {
    const protocol = '/browser-test/deregister/1.0.0'
    const incoming = node.services.stream.newControl().accept(protocol)
    const loop = (async () => {
      // eslint-disable-next-line no-unreachable-loop -- ending the loop is the point
      for await (const { stream } of incoming) {
        stream.abort(new Error('done with it'))
        break
      }
    })()

    const first = await ask(node, remote, { op: 'open', protocol, count: 1 })
    expect(first.errors).to.deep.equal({})
    await loop

    expect(incoming.closed).to.be.true()
    expect(node.getProtocols()).to.not.include(protocol)
    const second = await ask(node, remote, { op: 'open', protocol, count: 1 })
    expect(second).to.deep.equal({ statuses: {}, errors: { UnsupportedProtocolError: 1 } })
  })

  it('lanes route the Node peer\'s streams, and a flood of one lane leaves the other whole', async () => {
    const urgent = '/browser-test/urgent/1.0.0'
    const bulk = '/browser-test/bulk/1.0.0'
    const incoming = node.services.stream.newControl().accept([urgent, bulk], {
      lanes: {
        urgent: { backlog: 4, match: ({ protocol }) => protocol === urgent, priority: 1 },
        bulk: { backlog: 2 }
      }
    })

    try {
      const flood = await ask(node, remote, { op: 'open', protocol: bulk, count: 6, resets: 4 })
      expect(flood).to.deep.equal({ statuses: { reset: 4, open: 2 }, errors: {} })
      const calm = await ask(node, remote, { op: 'open', protocol: urgent, count: 3 })
      expect(calm).to.deep.equal({ statuses: { open: 3 }, errors: {} })

      const stats = incoming.stats()
      expect(stats.lanes.urgent).to.include({ queued: 3, dropped: 0 })
      expect(stats.lanes.bulk).to.include({ queued: 2, dropped: 4 })

      // the whole handle serves the higher priority lane first
      const order = await take(incoming, 5)
      expect(order.map(i => i.lane)).to.deep.equal(['urgent', 'urgent', 'urgent', 'bulk', 'bulk'])
      expect(order.map(i => i.protocol)).to.deep.equal([urgent, urgent, urgent, bulk, bulk])
      order.forEach(({ stream }) => { stream.abort(new Error('seen')) })
      await eventually(() => incoming.queued === 0, 'nothing queued')
    } finally {
      incoming.close()
    }
  })
})
