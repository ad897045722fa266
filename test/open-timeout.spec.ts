import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createNode } from './fixtures/nodes.ts'
import { randomPeerId } from './fixtures/peer-id.ts'
import { silentServer, tricklingServer } from './fixtures/silent-server.ts'
import type { Node } from './fixtures/nodes.ts'
import type { SilentServer } from './fixtures/silent-server.ts'
import type { PeerId } from '@libp2p/interface'

const ECHO = '/test/echo/1.0.0'

/** The bound the tests give; far below libp2p's own per-stage timeouts (6 s per address, 10 s per stage) */
const OPEN_TIMEOUT = 300

/**
 * Generous room for a loaded machine: the point is that the open ends near
 * its bound and not at libp2p's 6-18 s, not how near
 */
const MARGIN = 2_500

describe('openStream without a signal is bounded by openTimeout, the dial and the negotiation together', () => {
  let dialer: Node
  let server: SilentServer | undefined

  beforeEach(async () => {
    dialer = await createNode('tcp', {}, undefined, [])
  })

  afterEach(async () => {
    await dialer.stop()
    await server?.close()
    server = undefined
  })

  /** Opens to `target` with `openTimeout` and no signal; the error and how long it took */
  async function failedOpen (target: string | PeerId, options: Record<string, number> = { openTimeout: OPEN_TIMEOUT }): Promise<{ err: any, elapsed: number }> {
    const started = Date.now()
    const err = await dialer.services.stream.newControl().openStream(typeof target === 'string' ? multiaddr(target) : target, ECHO, options)
      .then(() => undefined, (err: any) => err)

    return { err, elapsed: Date.now() - started }
  }

  it('rejects an open to a server that accepts and says nothing with OpenStreamError caused by a TimeoutError, within openTimeout', async function () {
    this.timeout(10_000)
    server = await silentServer()

    const { err, elapsed } = await failedOpen(server.address)

    expect(err).to.have.property('name', 'OpenStreamError')
    expect(err.cause).to.have.property('name', 'TimeoutError')
    expect(err.message).to.include(`${OPEN_TIMEOUT} ms`)
    expect(elapsed).to.be.at.least(OPEN_TIMEOUT - 20).and.below(OPEN_TIMEOUT + MARGIN)
    expect(dialer.getDialQueue()).to.have.lengthOf(0)
  })

  it('rejects an open to a server that sends a byte every 100 ms (never idle, never done) the same way, within openTimeout', async function () {
    this.timeout(10_000)
    server = await tricklingServer(100)

    const { err, elapsed } = await failedOpen(server.address)

    expect(err).to.have.property('name', 'OpenStreamError')
    expect(err.cause).to.have.property('name', 'TimeoutError')
    expect(elapsed).to.be.at.least(OPEN_TIMEOUT - 20).and.below(OPEN_TIMEOUT + MARGIN)
    expect(dialer.getDialQueue()).to.have.lengthOf(0)
  })

  // libp2p alone gives each address 6 s in turn: 18 s for these three
  it('bounds an open by peer id whose three addresses all accept and say nothing the same way', async function () {
    this.timeout(10_000)
    const servers = await Promise.all([silentServer(), silentServer(), silentServer()])
    const peer = await randomPeerId()
    await dialer.peerStore.merge(peer, { multiaddrs: servers.map(({ address }) => multiaddr(address)) })

    try {
      const { err, elapsed } = await failedOpen(peer, { openTimeout: 1_000 })

      expect(err).to.have.property('name', 'OpenStreamError')
      expect(err.cause).to.have.property('name', 'TimeoutError')
      expect(elapsed).to.be.at.least(980).and.below(1_000 + MARGIN)
    } finally {
      await Promise.all(servers.map(async server => server.close()))
    }
  })

  it('bounds the open by openTimeout even when negotiationTimeout is longer', async function () {
    this.timeout(10_000)
    server = await tricklingServer(100)

    const { err, elapsed } = await failedOpen(server.address, { openTimeout: OPEN_TIMEOUT, negotiationTimeout: 60_000 })

    expect(err.cause).to.have.property('name', 'TimeoutError')
    expect(elapsed).to.be.below(OPEN_TIMEOUT + MARGIN)
  })
})
