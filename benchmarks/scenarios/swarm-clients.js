// The clients of the swarm scenario: client nodes, each dialing from an
// address of its own over TCP, and the closed loop each runs (open, 16-byte
// echo, close; after a failure, a random wait, then again).
import { createNode } from '../lib/nodes.js'
import { sleep } from '../lib/util.js'

const PAYLOAD = 16

// Client nodes; over TCP the i-th dials from 127.<1 + i/250>.<i % 250>.1 (its own /24), or from `sybil` /24's host i
export async function createClients (transport, count, { sybil = false } = {}) {
  const clients = []
  for (let i = 0; i < count; i += 25) {
    clients.push(...await Promise.all(Array.from({ length: Math.min(25, count - i) }, async (_, j) => {
      const k = i + j
      const localAddress = sybil ? `127.250.${Math.floor(k / 250)}.${1 + (k % 250)}` : `127.${1 + Math.floor(k / 250)}.${k % 250}.1`
      return createNode(transport, transport === 'memory', {}, transport === 'tcp' ? { dialOpts: { localAddress } } : undefined)
    })))
  }
  return clients
}

function failureReason (where, err) {
  if (err?.name === 'OpenStreamError') { return `open: ${err.cause?.name ?? err.name}` }
  return `${where}: ${err?.name ?? 'Error'}`
}

// One open, 16-byte echo and close; throws `{ where, err }`
async function exchange (open, signal) {
  let stream
  try {
    stream = await open(signal)
  } catch (err) {
    throw Object.assign(new Error('open failed'), { reason: failureReason('open', err) })
  }
  const onAbort = () => { stream.abort(new Error('swarm run over')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const payload = crypto.getRandomValues(new Uint8Array(PAYLOAD))
    stream.send(payload)
    const got = new Uint8Array(PAYLOAD)
    let n = 0
    const it = stream[Symbol.asyncIterator]()
    while (n < PAYLOAD) {
      const r = await it.next()
      if (r.done === true) { break }
      const chunk = r.value.subarray()
      got.set(chunk.subarray(0, PAYLOAD - n), n)
      n += chunk.byteLength
    }
    const echoedAt = performance.now()
    await stream.close({ signal })
    while ((await it.next()).done !== true) { /* to the end */ }
    if (n !== PAYLOAD || got.some((b, i) => b !== payload[i])) {
      throw Object.assign(new Error('echo differs'), { reason: `echo: ${n} of ${PAYLOAD} bytes${n === PAYLOAD ? ', differing' : ''}` })
    }
    return echoedAt
  } catch (err) {
    stream.abort(err)
    throw err.reason != null ? err : Object.assign(new Error('exchange failed'), { reason: failureReason('exchange', err) })
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/**
 * One client's closed loop until `deadline`; counts into `rec`
 *
 * @param {(signal: AbortSignal) => Promise<import('@libp2p/interface').Stream>} open
 * @param {number} deadline - performance.now() at which no new exchange starts
 * @param {AbortSignal} signal - the hard stop
 * @param {object} rec - this client's record
 * @param {object} phase - the run's shared record
 * @param {number} retryMax - ms of the random wait after a failure
 */
export async function closedLoop (open, deadline, signal, rec, phase, retryMax) {
  while (performance.now() < deadline && !signal.aborted) {
    const first = performance.now()
    for (;;) {
      const attempt = performance.now()
      try {
        const echoedAt = await exchange(open, signal)
        if (echoedAt <= deadline) {
          rec.done++
          phase.served.push(echoedAt - first)
          phase.admitted.push(echoedAt - attempt)
        }
        // over the memory transport an exchange is one chain of microtasks:
        // without a turn of the event loop between exchanges, the clients
        // that loop without failing keep the timers of those waiting to retry
        // from firing until the run ends (measured: late by 2 s at N=100)
        await new Promise(resolve => { setImmediate(resolve) })
        break
      } catch (err) {
        phase.failures[err.reason] = (phase.failures[err.reason] ?? 0) + 1
        if (performance.now() >= deadline || signal.aborted) { return }
        if (retryMax > 0) {
          // how much later than asked the wait ends: a timer starved by a
          // long chain of microtasks in this process shows here
          const wait = Math.random() * retryMax
          const asleep = performance.now()
          await sleep(wait)
          phase.retryLate.push(performance.now() - asleep - wait)
        }
      }
    }
  }
}
