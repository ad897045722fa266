// Where the CPU of one open + 1-byte echo + close goes, in js-libp2p itself:
// runs the ops in a child process under --cpu-prof, then splits the sampled
// CPU into the costs named below (a sample counts for a cost when one of the
// cost's functions is on its stack; event dispatch counts only the time spent
// in the event machinery itself, not in the listeners it calls).
//
//   node benchmarks/upstream-costs.js [--side=raw|stream|both] [--ops=5000] [--interval=200]
//
// Prints one table per side; the figures are samples, so expect a few percent
// of noise, more on a busy machine.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const args = Object.fromEntries(process.argv.slice(2).map(a => a.replace(/^--/, '').split('=')).map(([k, v]) => [k, v ?? 'true']))
const ops = Number(args.ops ?? 5_000)
const WARM = 500

/**
 * The costs: what a sample's stack must hold to count for each. `self: true`
 * counts only samples whose innermost frame matches.
 */
const COSTS = [
  { name: 'peerStore.merge of the stream\'s protocol, on both nodes (peer store, its datastore, lock and protobuf codec)', match: f => /@libp2p\/peer-store|datastore-core|interface-datastore|mortice/.test(f.url) },
  { name: 'noise length decoder throwing RangeError at each message boundary (uint16BEDecode)', match: f => f.functionName === 'uint16BEDecode' },
  { name: 'a logger per stream (@libp2p/logger logger(), weald createDebug, isatty)', match: f => (f.functionName === 'logger' && f.url.includes('@libp2p/logger')) || (f.functionName === 'createDebug' && f.url.includes('weald')) },
  { name: 'UnhandledProtocolError built per open (registrar.getHandler for the opener\'s outbound limit)', match: f => f.functionName === 'UnhandledProtocolError' || (f.functionName === 'getHandler' && f.url.includes('libp2p/dist/src/registrar')) },
  { name: 'event dispatch and listener bookkeeping (main-event, Node EventTarget), itself', match: f => /main-event|node:internal\/event_target/.test(f.url), self: true },
  { name: 'libp2p-stream (this package)', match: f => f.url.includes('/dist/src/') && !f.url.includes('node_modules'), self: true }
]

if (args.child != null) {
  await child(args.side)
} else {
  const sides = args.side == null || args.side === 'both' ? ['raw', 'stream'] : [args.side]
  for (const side of sides) {
    analyse(side, profile(side))
  }
}

function profile (side) {
  const dir = mkdtempSync(join(tmpdir(), 'libp2p-stream-prof-'))
  const run = spawnSync(process.execPath, [
    '--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${args.interval ?? 200}`,
    fileURLToPath(import.meta.url), '--child', `--side=${side}`, `--ops=${ops}`
  ], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (run.status !== 0) { throw new Error(`profiled child exited with ${run.status}`) }
  const file = readdirSync(dir).find(f => f.endsWith('.cpuprofile'))
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8'))
  rmSync(dir, { recursive: true })
  return p
}

function analyse (side, p) {
  const per = (p.endTime - p.startTime) / p.samples.length
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map()
  for (const n of p.nodes) { for (const c of n.children ?? []) { parent.set(c, n.id) } }
  const counts = new Map()
  for (const s of p.samples) { counts.set(s, (counts.get(s) ?? 0) + 1) }
  let busy = 0
  const hits = COSTS.map(() => 0)
  for (const [id, count] of counts) {
    const leaf = byId.get(id).callFrame
    if (leaf.functionName === '(idle)') { continue }
    busy += count
    const stack = []
    for (let cur = id; cur != null; cur = parent.get(cur)) { stack.push(byId.get(cur).callFrame) }
    COSTS.forEach((cost, i) => {
      if (cost.self === true ? cost.match(leaf) : stack.some(cost.match)) { hits[i] += count }
    })
  }
  const n = ops + WARM
  process.stdout.write(`\n${side}: ${n} open + 1-byte echo + close (sequential), ${(busy * per / n).toFixed(0)} µs sampled CPU per op (profiler overhead included)\n`)
  COSTS.forEach((cost, i) => {
    process.stdout.write(`  ${(100 * hits[i] / busy).toFixed(1).padStart(5)} %  ${(hits[i] * per / n).toFixed(1).padStart(6)} µs/op  ${cost.name}\n`)
  })
}

async function child (side) {
  const { openLoop } = await import('./lib/open-loop.js')
  await openLoop(side, ops + WARM)
  process.exit(0)
}
