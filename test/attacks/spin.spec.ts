/**
 * Attack: the remote sends data and half-closes before the application reads,
 * and the application pauses the stream before it starts reading. 0.1.0 then
 * replayed the half-close in a microtask loop that never yielded: 0 timer
 * ticks in 5 s. Bound: no path a remote can trigger runs without yielding to
 * the event loop.
 */
import { expect } from 'aegir/chai'
import { bytes, pairPerTest, eventually } from '../fixtures/nodes.ts'
import type { Node } from '../fixtures/nodes.ts'

const PROTOCOL = '/test/attack/spin/1.0.0'

/** How many times a 10 ms interval fires during `ms` */
async function ticksDuring (ms: number): Promise<number> {
  let ticks = 0
  const interval = setInterval(() => { ticks++ }, 10)
  await new Promise(resolve => setTimeout(resolve, ms))
  clearInterval(interval)
  return ticks
}

describe('attack: a half-close replayed to a paused late reader', () => {
  let listener: Node
  let dialer: Node

  pairPerTest('tcp', pair => { ({ listener, dialer } = pair) })

  it('timers keep firing while a paused late reader waits, and resuming reads every byte and the end', async () => {
    const incoming = listener.services.stream.newControl().accept(PROTOCOL)
    const s = await dialer.services.stream.newControl().openStream(listener.peerId, PROTOCOL)
    const payload = bytes(10_000)

    s.send(payload)
    await s.close()
    await eventually(() => incoming.queued === 1, 'queued')
    await new Promise(resolve => setTimeout(resolve, 100))

    const { value } = await incoming.next()
    const stream = value!.stream
    stream.pause()

    const chunks: Uint8Array[] = []
    const reading = (async () => {
      for await (const chunk of stream) {
        chunks.push(chunk.subarray())
      }
    })()

    // raw js-libp2p ticks about 50 times here; 0.1.0 ticked 0 times
    const ticks = await ticksDuring(500)
    expect(ticks).to.be.greaterThan(20)
    expect(chunks).to.have.lengthOf(0)

    stream.resume()
    await reading
    expect(chunks.reduce((n, c) => n + c.byteLength, 0)).to.equal(payload.byteLength)
    incoming.close()
  })
})
