// 4b. Memory per idle registration (N accepts of distinct protocols against N
// node.handle() registrations) and per queued stream (a full backlog against
// a raw handler that holds the same number of streams). Heap deltas after a
// full GC. The per-node figure has the opener in a child process
// (opener-child.js), so it is the accepting node alone; the other per-stream
// figure has both nodes in this process and counts both ends.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createPair } from '../lib/nodes.js'
import { eventually, heapUsed, interleave, median, settle, sleep, summary } from '../lib/util.js'

export const name = 'memory'
export const title = 'Memory per idle accept() registration and per queued stream (heap after GC)'

async function perRegistration (pair, side, n, round) {
  await settle()
  const before = heapUsed()
  const protocols = Array.from({ length: n }, (_, i) => `/bench/idle/${side}/${round}/${i}/1.0.0`)
  let handles
  if (side === 'stream') {
    handles = protocols.map(p => pair.serverControl.accept(p, { backlog: 16 }))
  } else {
    const noop = () => {}
    await Promise.all(protocols.map(async p => pair.server.handle(p, noop)))
  }
  await sleep(50) // let the peer store record the protocols, for both sides
  await settle()
  const bytes = (heapUsed() - before) / n
  if (side === 'stream') {
    for (const h of handles) { h.close() }
  } else {
    await pair.server.unhandle(protocols)
  }
  await sleep(50)
  return bytes
}

const CHILD = fileURLToPath(new URL('./opener-child.js', import.meta.url))

/**
 * An opener in a child process: `send(msg)` resolves when the child answers
 *
 * @param addr - the accepting node's address
 */
async function openerProcess (addr) {
  const child = fork(CHILD, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  let answer
  child.on('message', msg => { answer?.(msg) })
  const next = async () => new Promise(resolve => { answer = resolve })
  const ready = await next()
  if (ready.ready !== true) { throw new Error('opener child did not start') }
  const send = async msg => {
    const reply = next()
    child.send(msg)
    const got = await reply
    if (got.error != null) { throw new Error(`opener child: ${got.error}`) }
    return got
  }
  await send({ dial: addr.toString() })
  return { send, stop: async () => send({ stop: true }) }
}

/**
 * Bytes the accepting node holds per stream waiting to be accepted
 *
 * @param pair - the nodes, from createPair
 * @param side - 'stream' (accept) or 'raw' (handle)
 * @param n - how many streams wait
 * @param round - names the protocol, so each round registers afresh
 * @param opener - the child process that opens the streams (the accepting node alone is measured); without it they are opened in this process and both ends count
 */
async function perQueued (pair, side, n, round, opener) {
  const protocol = `/bench/queued${opener == null ? '' : '-node'}/${side}/${round}/1.0.0`
  let incoming
  const held = []
  if (side === 'stream') {
    incoming = pair.serverControl.accept(protocol, { backlog: n })
  } else {
    await pair.server.handle(protocol, stream => { held.push(stream) }, { maxInboundStreams: n + 32 })
  }
  await sleep(20)
  await settle()
  const before = heapUsed()
  const opened = []
  if (opener != null) {
    await opener.send({ open: protocol, n })
  } else {
    for (let i = 0; i < n; i += 32) {
      opened.push(...await Promise.all(Array.from({ length: Math.min(32, n - i) }, async () =>
        pair.client.dialProtocol(pair.server.peerId, protocol, { maxOutboundStreams: 1000 }))))
    }
  }
  await eventually(() => (side === 'stream' ? incoming.queued : held.length) === n, `${n} streams waiting`, 30_000)
  await settle()
  const bytes = (heapUsed() - before) / n
  if (side === 'stream') {
    incoming.close()
  } else {
    for (const s of held) { s.abort(new Error('benchmark done')) }
    await pair.server.unhandle(protocol)
  }
  for (const s of opened) { s.abort(new Error('benchmark done')) }
  if (opener != null) {
    await opener.send({ abort: true })
  }
  await sleep(50)
  return bytes
}

export async function run ({ quick, log }) {
  const registrations = quick ? 200 : 1_000
  const queued = quick ? 64 : 256
  const rounds = quick ? 2 : 4
  const pair = await createPair('tcp')
  const rows = []

  const opener = await openerProcess(pair.addr)

  for (const [figure, n, fn] of [
    [`per idle registration (${registrations} distinct protocols)`, registrations, perRegistration],
    [`per queued stream, accepting node alone (${queued} waiting, opener in another process)`, queued, perQueued],
    [`per queued stream (${queued} waiting, both ends in this process)`, queued, async (pair, side, n, round) => perQueued(pair, side, n, round)]
  ]) {
    const figures = { stream: [], raw: [] }
    await fn(pair, 'stream', Math.min(n, 32), 'warm', opener)
    await fn(pair, 'raw', Math.min(n, 32), 'warm', opener)
    for (let i = 0; i < rounds; i++) {
      for (const side of interleave(i, 'stream', 'raw')) {
        figures[side].push(await fn(pair, side, n, i, opener))
      }
      log(`  ${figure} round ${i + 1}/${rounds}: stream ${figures.stream.at(-1).toFixed(0)} B, raw ${figures.raw.at(-1).toFixed(0)} B`)
    }
    rows.push({
      scenario: name,
      figure,
      transport: 'TCP+noise+yamux',
      unit: 'B',
      unitLabel: 'bytes',
      higherIsBetter: false,
      stream: summary(figures.stream),
      raw: summary(figures.raw),
      ratio: { median: median(figures.stream) / median(figures.raw), n: 1 },
      overheadBytes: median(figures.stream) - median(figures.raw)
    })
  }

  await opener.stop()
  await pair.close()
  return rows
}
