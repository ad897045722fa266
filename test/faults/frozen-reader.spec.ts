import { expect } from 'aegir/chai'
import { WRITE_AHEAD } from '../../src/libp2p-fixes/drain-each-time.ts'
import { createNode } from '../fixtures/nodes.ts'
import { eventually } from '../fixtures/wait.ts'
import { spawnPeer } from './fixtures/child-peer.ts'
import { failOnUnhandledRejections } from './fixtures/guard.ts'
import { SINK } from './fixtures/protocols.ts'
import type { Node } from '../fixtures/nodes.ts'
import type { ChildPeer } from './fixtures/child-peer.ts'
import type { Stream } from '@libp2p/interface'

/**
 * A writer following the documented pattern: send, and when send() says so,
 * wait for onDrain(). Records the most bytes the stream held queued; stops on
 * its own past `limit` queued bytes, so a broken onDrain() cannot exhaust
 * memory.
 */
interface Writer {
  sent(): number
  waiting(): boolean
  peakQueued(): number
  stop(): void
  done: Promise<unknown>
}

/** What a writer may queue on a stream of this package: the write-ahead and the chunk that went over it */
const QUEUE_BOUND = WRITE_AHEAD + 64 * 1024

function writer (s: Stream, limit = 64 * 1024 * 1024): Writer {
  const chunk = new Uint8Array(64 * 1024)
  let sent = 0
  let waiting = false
  let peak = 0
  const state = { running: true }

  const done = (async () => {
    while (state.running && s.writeBufferLength < limit) {
      if (s.send(chunk)) {
        await new Promise(resolve => setImmediate(resolve))
      } else {
        peak = Math.max(peak, s.writeBufferLength)
        waiting = true
        await s.onDrain()
        waiting = false
      }

      sent += chunk.byteLength
    }
  })().catch((err: Error) => err)

  return { sent: () => sent, waiting: () => waiting, peakQueued: () => peak, stop: () => { state.running = false }, done }
}

/**
 * Resolves with what the writer had sent once it stopped: the frozen remote's
 * window and the kernel's socket buffers take what they still can first.
 */
async function stalled (w: Writer): Promise<number> {
  const deadline = Date.now() + 10_000
  let last = -1

  while (Date.now() < deadline) {
    const now = w.sent()

    if (now === last && w.waiting()) {
      return now
    }

    last = now
    await new Promise(resolve => setTimeout(resolve, 500))
  }

  throw new Error(`the writer never stopped: ${w.sent()} bytes sent, ${w.peakQueued()} queued at most`)
}

describe('a remote that stops reading (frozen with SIGSTOP, TCP)', () => {
  failOnUnhandledRejections()

  let local: Node
  let peer: ChildPeer | undefined

  beforeEach(async () => {
    local = await createNode('tcp')
  })

  afterEach(async () => {
    await peer?.kill()
    await local.stop()
    peer = undefined
  })

  it('makes a writer wait for drain instead of buffering while it is frozen, and go on once it reads again', async function () {
    this.timeout(30_000)
    peer = await spawnPeer(['drain'])
    const s = await local.services.stream.newControl().openStream(peer.multiaddrs[0], SINK)
    // frozen before the first byte, so this is the stream's first wait for drain
    peer.signal('SIGSTOP')
    const w = writer(s)
    const stalledAt = await stalled(w)
    expect(w.peakQueued()).to.be.at.most(QUEUE_BOUND)

    peer.signal('SIGCONT')
    await eventually(() => w.sent() > stalledAt, 'the writer goes on', 10_000)

    w.stop()
    await w.done
    s.abort(new Error('done'))
  })

  // js-libp2p's AbstractMessageStream.onDrain() creates its promise once and
  // never replaces it after a 'drain' resolved it, so on its own, from the
  // second time a stream needs draining, onDrain() resolves at once and the
  // writer queues without bound; streams from this package wait every time.
  it('makes the writer wait again the second time the remote stops reading (js-libp2p alone resolves onDrain() at once after the first drain)', async function () {
    this.timeout(30_000)
    peer = await spawnPeer(['drain'])
    const s = await local.services.stream.newControl().openStream(peer.multiaddrs[0], SINK)
    const w = writer(s)

    for (let round = 0; round < 2; round++) {
      // the first round drains at least once before the freeze takes hold
      await eventually(() => w.sent() >= (round + 1) * 1024 * 1024, 'the remote reads', 10_000)
      peer.signal('SIGSTOP')
      const stalledAt = await stalled(w)
      expect(w.peakQueued(), `round ${round}`).to.be.at.most(QUEUE_BOUND)

      peer.signal('SIGCONT')
      await eventually(() => w.sent() > stalledAt, 'the writer goes on', 10_000)
    }

    w.stop()
    await w.done
    s.abort(new Error('done'))
  })
})
