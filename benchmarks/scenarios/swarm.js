// Swarm scale: N client nodes in this process, each in a closed loop (open,
// 16-byte echo, close; after a failed open or exchange, retry after a random
// 0–20 ms), against one server node. The server serves the echo either
// through libp2p-stream's `accept` (its options from --accept, defaults
// otherwise) with 4 workers, or through raw js-libp2p `handle()` behind a
// 4-slot first-in-first-out wait; the same client nodes run against each, in
// the same run (swarm-server.js is the server, swarm-clients.js the clients,
// swarm-report.js the figures, table rows and charts).
//
// Per side: per-client completions and Jain's fairness index over them,
// exchanges/s, latency p50/p99 (first open attempt → echo back, retries
// included; and of the admitted attempt alone), what went wrong at the
// openers by reason and the server's own drop counts, and over TCP the
// server's memory per connected peer (server in a child process, heap +
// array buffers after GC, minus its own baseline). Variants over TCP: a
// greedy client running 32 loops beside N honest ones, and a Sybil flood of
// many peer ids from one /24 while 100 honest clients work.
//
// Over TCP each client dials from its own 127/8 address, each honest client
// in its own /24 (@libp2p/tcp passes `dialOpts` on to `net.connect`, whose
// `localAddress` picks the source), so the server sees real network groups.
//
// Flags (after `node benchmarks/index.js --only=swarm`):
//   --accept='{"backlog":1024}'   options of the server's accept (JSON)
//   --swarm-n=50,100,300          client counts
//   --swarm-seconds=6             length of each measured run
//   --swarm-rounds=1              runs of each side at each N (interleaved; the table gives median and min–max)
//   --swarm-transports=tcp,memory
//   --swarm-variants=greedy,sybil (or none)
//   --swarm-charts=dir            where the SVG charts go (full runs: docs/images)
//   --swarm-cpu-prof=dir          a V8 CPU profile of each TCP server process
import { fork } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { transportLabel } from '../lib/nodes.js'
import { median, sleep } from '../lib/util.js'
import { closedLoop, createClients } from './swarm-clients.js'
import { figures, latencyRow, over, rowOf, rowsOf, writeCharts } from './swarm-report.js'
import { PROTOCOL, startServer } from './swarm-server.js'

export const name = 'swarm'
export const title = 'Swarm: N clients in closed loops (open, 16-byte echo, close) against accept() with 4 workers, beside raw handle() behind a 4-slot FIFO'

const SERVER = fileURLToPath(new URL('./swarm-server.js', import.meta.url))
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const RETRY_MAX_MS = 20
const GREEDY_LOOPS = 32
const SYBIL_HONEST = 100
const SYBIL_PEERS = 200
const WORKERS = 4

function flag (key) {
  return process.argv.slice(2).find(a => a.startsWith(`--${key}=`))?.slice(key.length + 3)
}

// The options of the run: defaults, then flags
function config (quick) {
  const list = (key, fallback) => (flag(key) ?? fallback).split(',').map(s => s.trim()).filter(Boolean)
  const accept = JSON.parse(flag('accept') ?? '{}')
  const ns = list('swarm-n', quick ? '20,50' : '50,100,300,500').map(Number)
  if (ns.some(n => !Number.isInteger(n) || n < 2 || n > 2000)) { throw new Error(`--swarm-n: client counts between 2 and 2000, got ${flag('swarm-n')}`) }
  const seconds = Number(flag('swarm-seconds') ?? (quick ? 2 : 6))
  if (!(seconds > 0 && seconds <= 120)) { throw new Error(`--swarm-seconds: between 0 and 120, got ${flag('swarm-seconds')}`) }
  const transports = list('swarm-transports', 'tcp,memory')
  if (transports.some(t => t !== 'tcp' && t !== 'memory')) { throw new Error(`--swarm-transports: tcp and/or memory, got ${flag('swarm-transports')}`) }
  const variants = list('swarm-variants', 'greedy,sybil').filter(v => v !== 'none')
  const charts = resolve(ROOT, flag('swarm-charts') ?? (quick ? 'benchmarks/results/images' : 'docs/images'))
  const rounds = Number(flag('swarm-rounds') ?? 1)
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20)) { throw new Error(`--swarm-rounds: 1 to 20, got ${flag('swarm-rounds')}`) }
  return { accept, ns, seconds, transports, variants, charts, rounds }
}

// A server in a child process (TCP), driven over IPC
async function serverProcess (options) {
  const prof = flag('swarm-cpu-prof')
  const execArgv = ['--expose-gc', ...(prof == null ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(prof)}`, `--cpu-prof-name=swarm-${options.side}-${Date.now()}.cpuprofile`])]
  const child = fork(SERVER, [JSON.stringify(options)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const pending = new Map()
  let id = 0
  const ready = new Promise((resolve, reject) => {
    child.once('exit', code => { reject(new Error(`swarm server exited with ${code}`)) })
    child.on('message', msg => {
      if (msg.ready === true) { resolve(msg); return }
      const answer = pending.get(msg.id)
      pending.delete(msg.id)
      if (msg.error != null) { answer?.reject(new Error(`swarm server: ${msg.error}`)) } else { answer?.resolve(msg.value) }
    })
  })
  const { peerId, addrs, baseline } = await ready
  const ask = async cmd => new Promise((resolve, reject) => {
    pending.set(++id, { resolve, reject })
    child.send({ cmd, id })
  })
  return {
    peerId,
    addrs,
    baseline,
    measure: async () => ask('measure'),
    stats: async () => ask('stats'),
    stop: async () => {
      // it exits by itself once stopped (a CPU profile is written on exit); killed if it does not
      const exited = new Promise(resolve => { child.once('exit', resolve) })
      await Promise.race([ask('stop').then(async () => exited), sleep(10_000)])
      if (child.exitCode == null) { child.kill() }
    }
  }
}

// The memory transport does not cross processes: the server runs here, without a memory figure
async function serverHere (options) {
  const server = await startServer(options)
  return {
    peerId: server.peerId,
    addrs: server.addrs,
    baseline: undefined,
    measure: async () => undefined,
    stats: async () => server.stats(),
    stop: async () => server.stop()
  }
}

// One measured run of one side: connect every client, run the loops for
// `seconds`, then measure the server with every connection still open
async function runSide ({ transport, side, accept, groups, seconds }) {
  const server = transport === 'tcp'
    ? await serverProcess({ transport, side, accept, workers: WORKERS })
    : await serverHere({ transport, side, accept, workers: WORKERS })
  const peer = peerIdFromString(server.peerId)
  const all = groups.flatMap(g => g.clients)
  try {
    // connected before the clock starts; a client whose connection goes dials again by peer id
    for (let i = 0; i < all.length; i += 25) {
      await Promise.all(all.slice(i, i + 25).map(async c => {
        await c.peerStore.merge(peer, { multiaddrs: [multiaddr(server.addrs[0])] })
        await c.dial(peer, { signal: AbortSignal.timeout(30_000) })
      }))
    }
    const connected = await server.measure()
    const phase = { served: [], admitted: [], failures: {}, retryLate: [] }
    const started = performance.now()
    const deadline = started + seconds * 1000
    const signal = AbortSignal.timeout(seconds * 1000 + 20_000)
    const records = []
    const loops = []
    for (const g of groups) {
      for (const c of g.clients) {
        const rec = { group: g.name, done: 0, loops: g.loops }
        records.push(rec)
        const control = c.services.stream.newControl()
        const open = side === 'stream'
          ? async s => control.openStream(peer, PROTOCOL, { signal: s })
          : async s => c.dialProtocol(peer, PROTOCOL, { signal: s, maxOutboundStreams: 1000 })
        for (let l = 0; l < g.loops; l++) { loops.push(closedLoop(open, deadline, signal, rec, phase, g.retryMax)) }
      }
    }
    await Promise.all(loops)
    const wall = (performance.now() - started) * 1000
    const after = await server.measure()
    const stats = await server.stats()
    const peers = after?.connections ?? all.length
    return {
      records,
      served: phase.served,
      admitted: phase.admitted,
      failures: phase.failures,
      retryLate: phase.retryLate,
      seconds,
      stats,
      memory: server.baseline == null
        ? undefined
        : {
            baseline: server.baseline.total,
            connected: connected.total,
            after: after.total,
            peers,
            networkGroups: after.networkGroups,
            // the server process's CPU time over the run (µs), and the share of one core it used
            cpu: after.cpu - connected.cpu,
            cpuShare: (after.cpu - connected.cpu) / wall,
            perPeerConnected: (connected.total - server.baseline.total) / connected.connections,
            perPeerAfterLoad: (after.total - server.baseline.total) / peers
          }
    }
  } finally {
    await server.stop()
    await Promise.all(all.map(async c => Promise.all(c.getConnections().map(async conn => conn.abort(new Error('swarm run over'))))))
    await sleep(200)
  }
}

// Runs both sides, the order alternating, and returns their figures
async function bothSides (o, log, order) {
  const out = {}
  for (const side of order % 2 === 0 ? ['stream', 'raw'] : ['raw', 'stream']) {
    out[side] = await runSide({ ...o, side })
    const f = figures(out[side])
    log(`  ${o.label} ${side}: Jain ${f.jain.toFixed(3)}, ${f.exchangesPerSecond.toFixed(0)}/s, served p50/p99 ${f.served.p50?.toFixed(1)}/${f.served.p99?.toFixed(1)} ms, failures ${JSON.stringify(f.failures)}${f.drops == null ? '' : `, drops ${JSON.stringify(Object.fromEntries(Object.entries(f.drops).filter(([, v]) => v > 0)))}`}${f.retryLate == null ? '' : `, retry waits late by p50/max ${f.retryLate.p50.toFixed(1)}/${f.retryLate.max.toFixed(0)} ms`}${f.memory == null ? '' : `, ${(f.memory.perPeerAfterLoad / 1024).toFixed(1)} KiB/peer, server CPU ${(f.memory.cpuShare * 100).toFixed(0)} % of a core (${(f.serverCpuPerExchange / 1000).toFixed(2)} ms per exchange), ${f.memory.peers} peers from ${f.memory.networkGroups} network groups`}`)
  }
  return out
}

// A greedy client running GREEDY_LOOPS loops beside N honest ones: rows, and its figures into `ctx.results`
async function greedyVariant ({ transport, accept, seconds, base, ns, honest, honestCount, results, log, order }) {
  const n = ns.includes(300) ? 300 : ns.at(-1)
  const fair = results[transport].find(r => r.variant === 'plain' && r.n === n)
  const label = `greedy: N=${n} honest + 1 client running ${GREEDY_LOOPS} loops`
  const out = await bothSides({
    transport,
    accept,
    seconds,
    label,
    groups: [
      { name: 'honest', clients: honest.slice(0, n), loops: 1, retryMax: RETRY_MAX_MS },
      { name: 'greedy', clients: [honest[honestCount - 1]], loops: GREEDY_LOOPS, retryMax: RETRY_MAX_MS }
    ]
  }, log, order())
  const s = figures(out.stream)
  const r = figures(out.raw)
  const gs = figures(out.stream, 'greedy')
  const gr = figures(out.raw, 'greedy')
  const fairS = fair.medians.stream.medianPerClientPerSecond
  const fairR = fair.medians.raw.medianPerClientPerSecond
  results[transport].push({ variant: 'greedy', n, seconds, stream: s, raw: r, greedy: { stream: gs, raw: gr }, fair: { stream: fairS, raw: fairR } })
  return [
    rowOf(base, `${label}: honest median ÷ its fair figure (median of the N=${n} run)`, '×', over(s.medianPerClientPerSecond, fairS), over(r.medianPerClientPerSecond, fairR)),
    rowOf(base, `${label}: greedy client's exchanges/s ÷ honest median`, '×', over(gs.groupExchangesPerSecond, s.medianPerClientPerSecond), over(gr.groupExchangesPerSecond, r.medianPerClientPerSecond), false),
    rowOf(base, `${label}: Jain's index over the honest clients`, '', s.jain, r.jain),
    rowOf(base, `${label}: exchanges/s, all`, '/s', s.exchangesPerSecond, r.exchangesPerSecond)
  ]
}

// Many peer ids from one /24, retrying at once, beside honest clients: rows, and its figures into `ctx.results`
async function sybilVariant ({ transport, accept, seconds, base, honest, sybil, sybilHonest, results, log, order }) {
  const n = sybilHonest
  const fair = results[transport].find(r => r.variant === 'plain' && r.n === n)
  const label = `Sybil: ${n} honest + ${sybil.length} peer ids from 127.250.0.0/24 retrying at once`
  const out = await bothSides({
    transport,
    accept,
    seconds,
    label,
    groups: [
      { name: 'honest', clients: honest.slice(0, n), loops: 1, retryMax: RETRY_MAX_MS },
      { name: 'sybil', clients: sybil, loops: 1, retryMax: 0 }
    ]
  }, log, order())
  const s = figures(out.stream)
  const r = figures(out.raw)
  const ss = figures(out.stream, 'sybil')
  const sr = figures(out.raw, 'sybil')
  results[transport].push({ variant: 'sybil', n, seconds, stream: s, raw: r, sybil: { stream: ss, raw: sr } })
  const rows = [
    rowOf(base, `${label}: honest exchanges/s`, '/s', s.groupExchangesPerSecond, r.groupExchangesPerSecond),
    rowOf(base, `${label}: share of all exchanges that went to the Sybil /24`, '', ss.groupExchangesPerSecond / s.exchangesPerSecond, sr.groupExchangesPerSecond / r.exchangesPerSecond, false),
    rowOf(base, `${label}: Jain's index over the honest clients`, '', s.jain, r.jain),
    latencyRow(base, `${label}: honest latency first attempt → echo (p50 / p99)`, [s.served], [r.served])
  ]
  if (fair != null) {
    rows.push(rowOf(base, `${label}: honest median ÷ the N=${n} run's median`, '×', over(s.medianPerClientPerSecond, fair.medians.stream.medianPerClientPerSecond), over(r.medianPerClientPerSecond, fair.medians.raw.medianPerClientPerSecond)))
  }
  return rows
}

export async function run ({ quick, log }) {
  const { accept, ns, seconds, transports, variants, charts, rounds } = config(quick)
  const maxN = Math.max(...ns)
  const rows = []
  const results = {}
  const acceptLabel = Object.keys(accept).length === 0 ? 'defaults' : JSON.stringify(accept)
  log(`  accept options: ${acceptLabel}; ${rounds} round(s) of ${seconds} s per side; N = ${ns.join(', ')}; ${transports.join(', ')}; variants: ${variants.join(', ') || 'none'}`)
  // which side goes first alternates from one run to the next
  const turns = { next: 0 }

  for (const transport of transports) {
    const base = { scenario: name, transport: transportLabel(transport), accept }
    // a quick run keeps the Sybil variant small: 20 honest clients beside 40 peer ids
    const sybilHonest = quick ? Math.min(20, maxN) : SYBIL_HONEST
    const honestCount = Math.max(maxN, variants.includes('sybil') ? sybilHonest : 0) + (variants.includes('greedy') ? 1 : 0)
    const honest = await createClients(transport, honestCount)
    const sybil = variants.includes('sybil') && transport === 'tcp' ? await createClients(transport, quick ? 40 : SYBIL_PEERS, { sybil: true }) : []
    results[transport] = []
    try {
      // warm both sides' code paths up (not recorded)
      const warm = Math.min(20, maxN)
      await bothSides({ transport, accept, seconds: 1, label: `warm-up N=${warm}`, groups: [{ name: 'honest', clients: honest.slice(0, warm), loops: 1, retryMax: RETRY_MAX_MS }] }, () => {}, 0)
      for (const n of ns) {
        const label = `N=${n} (accept ${acceptLabel})`
        const o = { transport, accept, seconds, label, groups: [{ name: 'honest', clients: honest.slice(0, n), loops: 1, retryMax: RETRY_MAX_MS }] }
        const s = []
        const r = []
        for (let k = 0; k < rounds; k++) {
          const out = await bothSides({ ...o, label: rounds > 1 ? `${label} round ${k + 1}/${rounds}` : label }, log, turns.next++)
          s.push(figures(out.stream))
          r.push(figures(out.raw))
        }
        // charts and the greedy variant's fair figure take the median over rounds; the JSON keeps every round
        const medians = list => ({
          jain: median(list.map(f => f.jain)),
          exchangesPerSecond: median(list.map(f => f.exchangesPerSecond)),
          medianPerClientPerSecond: median(list.map(f => f.medianPerClientPerSecond))
        })
        results[transport].push({ variant: 'plain', n, seconds, stream: s[0], raw: r[0], medians: { stream: medians(s), raw: medians(r) }, rounds: { stream: s.slice(1), raw: r.slice(1) } })
        rows.push(...rowsOf(base, label, s, r))
      }

      // the variants run where network groups are real
      const variantTransport = transports.includes('tcp') ? 'tcp' : transports[0]
      if (transport !== variantTransport) { continue }

      const ctx = { transport, accept, seconds, base, ns, honest, honestCount, sybil, sybilHonest, results, log, order: () => turns.next++ }
      if (variants.includes('greedy')) {
        rows.push(...await greedyVariant(ctx))
      }
      if (variants.includes('sybil') && sybil.length > 0) {
        rows.push(...await sybilVariant(ctx))
      }
    } finally {
      await Promise.all([...honest, ...sybil].map(async c => c.stop()))
    }
  }

  writeCharts(charts, results, accept, log)
  // every figure, per-client lists included, stays in the JSON
  if (rows.length > 0) { rows[0].detail = results }
  return rows
}
