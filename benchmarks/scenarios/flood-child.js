// One flood, in a process of its own so that its heap and RSS figures start
// clean: `node --expose-gc flood-child.js '<json options>'` prints one JSON line.
//
// The client opens `attempts` streams to one protocol, at most `inflight` at a
// time, half-closes each at once and waits for it to end: reset by the
// acceptor (dropped), or closed after the consumer took it. The server side is
// either libp2p-stream's accept with a small backlog and a consumer taking one
// stream every `consumeEveryMs`, or, as a baseline for libp2p's own cost of
// the churn, a raw handler that closes every stream at once.
import { createPair } from '../lib/nodes.js'
import { gc, heapUsed, settle, sleep, whenClosed } from '../lib/util.js'

const options = JSON.parse(process.argv[2] ?? '{}')
const { side = 'stream', attempts = 10_000, backlog = 16, inflight = 64, consumeEveryMs = 10, checkpoints = 10 } = options
const PROTOCOL = '/bench/flood/1.0.0'
const rss = () => process.memoryUsage.rss()

const pair = await createPair('tcp')
const peer = pair.server.peerId
let incoming
let consuming

if (side === 'stream') {
  incoming = pair.serverControl.accept(PROTOCOL, { backlog })
  consuming = (async () => {
    for await (const { stream } of incoming) {
      stream.close().catch(err => { stream.abort(err) })
      await sleep(consumeEveryMs)
    }
  })()
} else {
  await pair.server.handle(PROTOCOL, stream => {
    stream.close().catch(err => { stream.abort(err) })
  }, { maxInboundStreams: inflight + 32 })
}

const outcomes = {}
const count = key => { outcomes[key] = (outcomes[key] ?? 0) + 1 }

async function flood (n, onAttempt) {
  let next = 0
  await Promise.all(Array.from({ length: inflight }, async () => {
    while (next < n) {
      next++
      onAttempt?.(next)
      try {
        const s = await pair.client.dialProtocol(peer, PROTOCOL, { maxOutboundStreams: 1000 })
        s.close().catch(() => {})
        await whenClosed(s)
        count(s.status === 'closed' ? 'closed after being accepted' : `ended ${s.status}`)
      } catch (err) {
        count(`open failed: ${err.name}`)
      }
    }
  }))
}

// warm up every code path, then take the baseline
await flood(Math.min(500, attempts))
for (const key of Object.keys(outcomes)) { delete outcomes[key] }
const droppedBefore = incoming?.dropped ?? 0
const acceptedBefore = incoming?.accepted ?? 0
await sleep(200)
await settle()
const base = { heap: heapUsed(), rss: rss() }
const peak = { heap: base.heap, rss: base.rss, liveHeap: base.heap }
const sampler = setInterval(() => {
  peak.heap = Math.max(peak.heap, heapUsed())
  peak.rss = Math.max(peak.rss, rss())
}, 20)
let maxQueued = 0
const queueSampler = setInterval(() => { maxQueued = Math.max(maxQueued, incoming?.queued ?? 0) }, 5)

const every = Math.max(1, Math.floor(attempts / checkpoints))
const live = []
const started = performance.now()
await flood(attempts, n => {
  if (n % every === 0) {
    // live heap: what is still referenced at this point of the flood
    gc()
    const h = heapUsed()
    live.push(h - base.heap)
    peak.liveHeap = Math.max(peak.liveHeap, h)
  }
})
const seconds = (performance.now() - started) / 1000
clearInterval(sampler)
clearInterval(queueSampler)

const endQueued = incoming?.queued ?? 0
incoming?.close()
await consuming
await sleep(200)
await settle()
const retained = heapUsed() - base.heap

const result = {
  side,
  attempts,
  backlog,
  inflight,
  consumeEveryMs,
  seconds,
  attemptsPerSecond: attempts / seconds,
  outcomes,
  dropped: (incoming?.dropped ?? 0) - droppedBefore,
  accepted: (incoming?.accepted ?? 0) - acceptedBefore,
  maxQueued,
  queuedAtEnd: endQueued,
  baseline: base,
  peakHeapGrowth: peak.heap - base.heap,
  peakLiveHeapGrowth: peak.liveHeap - base.heap,
  liveHeapGrowthAtCheckpoints: live,
  peakRssGrowth: peak.rss - base.rss,
  retainedHeapAfter: retained
}

await pair.close()
process.stdout.write(JSON.stringify(result) + '\n')
process.exit(0)
