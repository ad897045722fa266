import { getEventListeners } from 'node:events'
import { expect } from 'aegir/chai'
import { Readers } from '../../src/inbound/readers.ts'

const item = (value: number): IteratorResult<number, undefined> => ({ done: false, value })

describe('unit: Readers', () => {
  it('serves waiting readers first come first served', async () => {
    const readers = new Readers<number>()
    const first = readers.wait()
    const second = readers.wait()

    expect(readers.size).to.equal(2)
    readers.take()?.(item(1))
    readers.take()?.(item(2))

    expect(await first).to.deep.equal(item(1))
    expect(await second).to.deep.equal(item(2))
    expect(readers.take()).to.be.undefined()
  })

  it('takeAll() hands over every reader in line order and leaves the line empty', async () => {
    const readers = new Readers<number>()
    const waits = [readers.wait(), readers.wait(), readers.wait()]

    readers.takeAll().forEach((reader, i) => { reader(item(i)) })

    expect(await Promise.all(waits)).to.deep.equal([item(0), item(1), item(2)])
    expect(readers.takeAll()).to.deep.equal([])
  })

  it('a reader whose signal aborts leaves the line with the signal\'s reason, and the others keep their places', async () => {
    const readers = new Readers<number>()
    const controller = new AbortController()
    const first = readers.wait()
    const quitting = readers.wait(controller.signal)
    const third = readers.wait()

    const reason = new Error('gave up')
    controller.abort(reason)
    await expect(quitting).to.eventually.be.rejected().and.equal(reason)
    expect(readers.size).to.equal(2)

    readers.take()?.(item(1))
    readers.take()?.(item(3))
    expect(await first).to.deep.equal(item(1))
    expect(await third).to.deep.equal(item(3))
  })

  it('with a signal already aborted, rejects at once and never joins the line', async () => {
    const readers = new Readers<number>()

    await expect(readers.wait(AbortSignal.abort(new Error('too late')))).to.eventually.be.rejectedWith('too late')
    expect(readers.size).to.equal(0)
  })

  it('stops listening on the signal once served', async () => {
    const readers = new Readers<number>()
    const { signal } = new AbortController()
    const waiting = readers.wait(signal)

    expect(getEventListeners(signal, 'abort')).to.have.lengthOf(1)
    readers.take()?.(item(1))
    await waiting
    expect(getEventListeners(signal, 'abort')).to.have.lengthOf(0)
  })
})
