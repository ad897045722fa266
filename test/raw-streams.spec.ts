import { expect } from 'aegir/chai'
import { pairPerTest, eventually } from './fixtures/nodes.ts'
import type { Node } from './fixtures/nodes.ts'
import type { Stream } from '@libp2p/interface'

const WRAPPED = ['addEventListener', 'send', 'close', 'onDrain', 'handleWindowUpdate', Symbol.asyncIterator]

/** Reads one chunk (the opener's byte), then resets the stream */
async function readOneThenReset (stream: Stream): Promise<void> {
  await stream[Symbol.asyncIterator]().next()
  stream.abort(new Error('reset by the test'))
}

/** Sends a byte and waits until the remote has reset the stream */
async function resetByRemote (stream: Stream): Promise<void> {
  stream.send(Uint8Array.of(1))
  await eventually(() => stream.status === 'reset', 'the remote reset the stream')
}

/** What a reader that starts now, then a `send()`, end with: 'end' or the error's name */
async function lateReadAndWrite (stream: Stream): Promise<{ read: string, send: string }> {
  let read = 'end'
  let send = 'sent'

  try {
    for await (const chunk of stream) { void chunk }
  } catch (err: any) {
    read = err.name
  }

  try {
    stream.send(Uint8Array.of(2))
  } catch (err: any) {
    send = err.name
  }

  return { read, send }
}

// the workarounds are installed on the stream class the first time a stream is
// handed out; streams of that class that libp2p-stream did not hand out keep
// js-libp2p's behaviour
describe('workarounds and other streams of the same class', () => {
  let listener: Node
  let dialer: Node
  pairPerTest('memory', pair => { ({ listener, dialer } = pair) })

  it('a raw stream next to one from libp2p-stream keeps js-libp2p\'s behaviour after a remote reset; the other reports the reset', async () => {
    const incoming = listener.services.stream.newControl().accept('/test/raw-streams/fixed/1.0.0')
    const serving = (async () => {
      for await (const { stream } of incoming) {
        await readOneThenReset(stream)
      }
    })()
    await listener.handle('/test/raw-streams/raw/1.0.0', readOneThenReset)

    const fixed = await dialer.services.stream.newControl().openStream(listener.peerId, '/test/raw-streams/fixed/1.0.0')
    const raw = await dialer.dialProtocol(listener.peerId, '/test/raw-streams/raw/1.0.0')

    await resetByRemote(fixed)
    await resetByRemote(raw)

    expect(await lateReadAndWrite(fixed)).to.deep.equal({ read: 'StreamResetError', send: 'StreamResetError' })
    expect(await lateReadAndWrite(raw)).to.deep.equal({ read: 'end', send: 'StreamStateError' })

    incoming.close()
    await serving
  })

  it('puts nothing on the streams it hands out: the wrapped methods stay their class\'s', async () => {
    const incoming = listener.services.stream.newControl().accept('/test/raw-streams/own/1.0.0')
    const accepted = incoming[Symbol.asyncIterator]().next().then(result => result.value?.stream)
    const opened = await dialer.services.stream.newControl().openStream(listener.peerId, '/test/raw-streams/own/1.0.0')
    const taken = await accepted

    for (const stream of [opened, taken]) {
      expect(WRAPPED.filter(name => Object.hasOwn(stream as object, name))).to.be.empty()
    }

    opened.abort(new Error('done'))
    taken?.abort(new Error('done'))
    incoming.close()
  })
})
