/**
 * Attack: one peer opens streams and writes into them while they sit in the
 * backlog, to make the node hold its bytes. Bound: queued streams are paused
 * (each holds at most the muxer's initial window) and all of them together at
 * most `maxQueuedBytes`; with default options a flooding peer makes the node
 * hold at most 16 MiB, however many streams it opens.
 */
import { expect } from 'aegir/chai'
import { openOrDropped } from '../fixtures/drops.ts'
import { bytes, createPair, eventually } from '../fixtures/nodes.ts'
import type { IncomingStreams } from '../../src/index.ts'
import type { Opened } from '../fixtures/drops.ts'
import type { Node } from '../fixtures/nodes.ts'

const PROTOCOL = '/test/attack/bytes/1.0.0'
const MiB = 1024 * 1024

/** Bytes the listener's inbound streams for PROTOCOL hold unread */
function heldBytes (listener: Node): number {
  return listener.getConnections()
    .flatMap(c => c.streams)
    .filter(s => s.direction === 'inbound' && s.protocol === PROTOCOL)
    .reduce((total, s) => total + s.readBufferLength, 0)
}

/**
 * Opens `count` streams, 16 at a time, each writing `perStream` bytes without
 * waiting for the remote, and returns the most the listener held at once.
 */
async function flood (listener: Node, dialer: Node, incoming: IncomingStreams, count: number, perStream: number): Promise<number> {
  const opener = dialer.services.stream.newControl()
  const payload = bytes(perStream)
  const target = listener.peerId
  let peak = 0
  let next = 0
  const sample = setInterval(() => { peak = Math.max(peak, heldBytes(listener), incoming.stats().queuedBytes) }, 5)

  try {
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < count) {
        next++
        const s: Opened = await openOrDropped(async () => opener.openStream(target, PROTOCOL))

        if (!(s instanceof Error) && s.status === 'open') {
          // the listener may reset it at any moment
          try {
            s.send(payload)
          } catch {
            // reset by the listener meanwhile: the write fails, as it should
          }
        }
      }
    }))
    // let the writes land: at most a window each while queued
    await new Promise(resolve => setTimeout(resolve, 500))
    peak = Math.max(peak, heldBytes(listener))
  } finally {
    clearInterval(sample)
  }

  return peak
}

describe('attack: bytes pinned by queued streams', function () {
  this.timeout(60_000)

  let listener: Node
  let dialer: Node
  let stop: () => Promise<void>

  beforeEach(async () => {
    ({ listener, dialer, stop } = await createPair('tcp'))
  })

  afterEach(async () => {
    await stop()
  })

  it('with default options one flooding peer makes the node hold at most 16 MiB, flat in the number of streams it opens', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const peaks: number[] = []

    for (const count of [64, 256]) {
      peaks.push(await flood(listener, dialer, incoming, count, 4 * MiB))
    }

    // 0.1.0 held 133.6 MiB after 3 s of this
    expect(peaks[0]).to.be.at.most(16 * MiB)
    expect(peaks[1]).to.be.at.most(16 * MiB)
    // four times the streams, not four times the bytes
    expect(peaks[1]).to.be.lessThan(peaks[0] * 2 + MiB)
    expect(incoming.stats().queued).to.be.at.most(32)
    incoming.close()
  })

  it('maxQueuedBytes bounds what all queued streams hold together, resetting the largest holder', async () => {
    const budget = 512 * 1024
    const drops: string[] = []
    const incoming = listener.services.stream.newControl().accept(PROTOCOL, {
      backlog: 64,
      maxQueuedBytes: budget,
      onDrop: ({ reason }) => { drops.push(reason) }
    })

    const peak = await flood(listener, dialer, incoming, 32, 200 * 1024)
    const stats = incoming.stats()

    expect(stats.queuedBytes).to.be.at.most(budget)
    expect(heldBytes(listener)).to.be.at.most(budget)
    // the sample may catch the moment one chunk pushed the total over
    expect(peak).to.be.at.most(budget + 256 * 1024)
    expect(stats.dropReasons['bytes-limit']).to.be.greaterThan(0)
    expect(drops.filter(r => r === 'bytes-limit')).to.have.lengthOf(stats.dropReasons['bytes-limit'])
    incoming.close()
  })

  it('a queued stream is paused: its remote cannot send more than the initial window until it is accepted, then everything arrives', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const s = await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
    const payload = bytes(2 * MiB)

    s.send(payload)
    const closing = s.close()
    await eventually(() => incoming.queued === 1, 'queued')
    await new Promise(resolve => setTimeout(resolve, 300))

    // yamux grants 256 KiB to a new stream
    expect(heldBytes(listener)).to.be.at.most(256 * 1024)

    const { value } = await incoming.next()
    let received = 0
    for await (const chunk of value!.stream) {
      received += chunk.byteLength
    }
    await closing

    expect(received).to.equal(payload.byteLength)
    incoming.close()
  })
})
