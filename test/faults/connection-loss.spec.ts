import { expect } from 'aegir/chai'
import { pairPerTest } from '../fixtures/nodes.ts'
import { eventually, nextWithin } from '../fixtures/wait.ts'
import { failOnUnhandledRejections } from './fixtures/guard.ts'
import type { IncomingStream } from '../../src/index.ts'
import type { Node, Transport } from '../fixtures/nodes.ts'
import type { Stream } from '@libp2p/interface'

const PROTOCOL = '/test/faults/connection-loss/1.0.0'
const BACKLOG = 3

type Side = 'dialer' | 'listener'
type Way = 'hangUp' | 'abort'

const CASES: Array<{ side: Side, how: Way }> = [
  { side: 'dialer', how: 'hangUp' },
  { side: 'dialer', how: 'abort' },
  { side: 'listener', how: 'hangUp' },
  { side: 'listener', how: 'abort' }
]

async function openMany (dialer: Node, listener: Node, count: number): Promise<Stream[]> {
  const control = dialer.services.stream.newControl()
  return Promise.all(Array.from({ length: count }, async () => control.openStream(listener.peerId, PROTOCOL)))
}

/**
 * Fills the listener's backlog, loses the connection the way `how` says on
 * `side`, and checks that the queued streams leave the backlog unyielded and
 * that their slots take the streams of a new connection.
 */
async function loseWhileQueued (listener: Node, dialer: Node, side: Side, how: Way): Promise<void> {
  const incoming = listener.services.stream.newControl().accept(PROTOCOL, { backlog: BACKLOG })
  const lost = await openMany(dialer, listener, BACKLOG)
  await eventually(() => incoming.queued === BACKLOG, 'the backlog is full')

  const node = side === 'dialer' ? dialer : listener
  const remote = side === 'dialer' ? listener : dialer
  const [connection] = node.getConnections(remote.peerId)

  if (how === 'hangUp') {
    await node.hangUp(remote.peerId)
  } else {
    connection.abort(new Error('connection lost'))
  }

  await eventually(() => incoming.queued === 0, 'the backlog emptied')
  expect(incoming.accepted).to.equal(0)
  expect(incoming.dropped).to.equal(0)
  await eventually(() => lost.every(s => s.status !== 'open'), 'the lost streams ended at the opener')
  // libp2p can still list the lost connection for a moment after its muxer closed
  await eventually(() => dialer.getConnections(listener.peerId).length === 0, 'the dialer let go of the lost connection')

  // a new connection fills the freed slots, and only its streams are yielded
  const fresh = await openMany(dialer, listener, BACKLOG)
  await eventually(() => incoming.queued === BACKLOG, 'the backlog is full again')
  expect(incoming.dropped).to.equal(0)

  const [current] = listener.getConnections(dialer.peerId)
  expect(current.id).to.not.equal(connection.id)

  const yielded: IncomingStream[] = []

  for (let i = 0; i < BACKLOG; i++) {
    const { value } = await nextWithin(incoming)
    yielded.push(value!)
  }

  expect(yielded.map(item => item.connection.id)).to.deep.equal(Array(BACKLOG).fill(current.id))
  expect(yielded.map(item => item.stream.status)).to.deep.equal(Array(BACKLOG).fill('open'))
  expect(incoming.queued).to.equal(0)
  expect(incoming.accepted).to.equal(BACKLOG)
  expect(incoming.dropped).to.equal(0)

  incoming.close()
  fresh.forEach(s => { s.abort(new Error('done')) })
}

for (const transport of ['tcp', 'memory'] satisfies Transport[]) {
  describe(`a connection lost while its streams wait in the backlog (${transport})`, () => {
    failOnUnhandledRejections()

    let listener: Node
    let dialer: Node
    pairPerTest(transport, pair => { ({ listener, dialer } = pair) })

    const run = async (side: Side, how: Way): Promise<void> => { await loseWhileQueued(listener, dialer, side, how) }

    for (const { side, how } of CASES) {
      it(`closed by ${how}() on the ${side}: queued streams are never yielded, queued drops to 0, and the freed slots take new streams`, async function () {
        this.timeout(20_000)
        await run(side, how)
      })
    }
  })
}
