// Swarm scale: N client nodes in this process, each in a closed loop (open,
// 16-byte echo, close; after a failed open or exchange, retry after a random
// 0–20 ms), against one server node. The server serves the echo either
// through libp2p-stream's `accept` (its options from --accept, defaults
// otherwise) with 4 workers, or through raw js-libp2p `handle()` behind a
// 4-slot first-in-first-out wait; the same client nodes run against each, in
// the same run (swarm-server.js is the server).
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
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createNode, transportLabel } from '../lib/nodes.js'
import { COLORS, lineChart } from '../lib/svg.js'
import { latencySummary, median, sleep, summary } from '../lib/util.js'
import { PROTOCOL, startServer } from './swarm-server.js'

export const name = 'swarm'
export const title = 'Swarm: N clients in closed loops (open, 16-byte echo, close) against accept() with 4 workers, beside raw handle() behind a 4-slot FIFO'

const SERVER = fileURLToPath(new URL('./swarm-server.js', import.meta.url))
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const PAYLOAD = 16
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

// Jain's fairness index: 1 when every client got the same, 1/n when one got everything
export function jain (values) {
  const sum = values.reduce((a, b) => a + b, 0)
  const squares = values.reduce((a, b) => a + b * b, 0)
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares)
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

// Client nodes; over TCP the i-th dials from 127.<1 + i/250>.<i % 250>.1 (its own /24), or from `sybil` /24's host i
async function createClients (transport, count, { sybil = false } = {}) {
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
async function closedLoop (open, deadline, signal, rec, phase, retryMax) {
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

// Figures of one side of one run, for the clients of `group`
function figures (run, group = 'honest') {
  const recs = run.records.filter(r => r.group === group)
  const done = recs.map(r => r.done)
  const total = run.records.reduce((a, r) => a + r.done, 0)
  return {
    clients: recs.length,
    perClient: done,
    jain: jain(done),
    exchangesPerSecond: total / run.seconds,
    groupExchangesPerSecond: done.reduce((a, b) => a + b, 0) / run.seconds,
    medianPerClientPerSecond: median(done) / run.seconds,
    served: latencySummary(run.served),
    admitted: latencySummary(run.admitted),
    failures: run.failures,
    retryLate: run.retryLate.length === 0 ? undefined : latencySummary(run.retryLate),
    openFailures: Object.values(run.failures).reduce((a, b) => a + b, 0),
    drops: run.stats?.accept?.dropReasons,
    acceptStats: run.stats?.accept,
    memory: run.memory,
    serverCpuPerExchange: run.memory == null || total === 0 ? undefined : run.memory.cpu / total
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

// a ratio, or NaN (printed '-') when the figure below is none
const over = (a, b) => b > 0 ? a / b : NaN
// a table row; `stream` and `raw` are one figure each, or one per round (the ratio is then per round pair)
function rowOf (base, figure, unit, stream, raw, higherIsBetter = true) {
  const s = [stream].flat()
  const r = [raw].flat()
  const ratios = s.map((x, i) => over(x, r[i])).filter(x => !Number.isNaN(x))
  return { ...base, figure, unit, higherIsBetter, stream: summary(s), raw: summary(r), ratio: ratios.length === 0 ? undefined : summary(ratios) }
}

// a latency row: the median over rounds of each round's p50 and p99
function latencyRow (base, figure, s, r) {
  const of = list => ({ p50: median(list.map(l => l.p50)), p99: median(list.map(l => l.p99)), n: list.length })
  const [ls, lr] = [of(s), of(r)]
  return { ...base, figure, unit: 'ms', higherIsBetter: false, stream: ls, raw: lr, ratio: { p50: ls.p50 / lr.p50, p99: ls.p99 / lr.p99 } }
}

// counts by reason, summed over rounds
function sumCounts (list) {
  const out = {}
  for (const counts of list) {
    for (const [k, v] of Object.entries(counts ?? {})) { out[k] = (out[k] ?? 0) + v }
  }
  return out
}

// The table rows of one plain run: `s` and `r` hold each side's figures, one per round
function rowsOf (base, label, s, r) {
  const failures = list => {
    const counts = sumCounts(list.map(f => f.failures))
    const total = Object.values(counts).reduce((a, b) => a + b, 0)
    return `${total}${total > 0 ? ` (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`
  }
  const pick = (list, fn) => list.map(fn)
  const rows = [
    rowOf(base, `${label}: Jain's index over per-client exchanges`, '', pick(s, f => f.jain), pick(r, f => f.jain)),
    rowOf(base, `${label}: exchanges/s`, '/s', pick(s, f => f.exchangesPerSecond), pick(r, f => f.exchangesPerSecond)),
    latencyRow(base, `${label}: latency first attempt → echo, retries incl. (p50 / p99)`, pick(s, f => f.served), pick(r, f => f.served)),
    latencyRow(base, `${label}: latency of the admitted attempt (p50 / p99)`, pick(s, f => f.admitted), pick(r, f => f.admitted)),
    { ...rowOf(base, `${label}: failed attempts (all rounds), stream: ${failures(s)}; raw: ${failures(r)}`, 'attempts', pick(s, f => f.openFailures), pick(r, f => f.openFailures), false), ratio: undefined }
  ]
  if (s[0].drops != null) {
    const drops = sumCounts(s.map(f => f.drops))
    const reasons = Object.entries(drops).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'
    // raw handle() refuses nothing: its wait has no bound
    rows.push({ ...rowOf(base, `${label}: streams the server reset (all rounds), by reason: ${reasons}`, 'streams', pick(s, f => Object.values(f.drops).reduce((a, b) => a + b, 0)), pick(r, () => 0), false), ratio: undefined })
  }
  if (s[0].memory != null && r[0].memory != null) {
    rows.push(rowOf(base, `${label}: server CPU per exchange (server process, user + system)`, 'ms', pick(s, f => f.serverCpuPerExchange / 1000), pick(r, f => f.serverCpuPerExchange / 1000), false))
    rows.push(rowOf(base, `${label}: server CPU used, share of one core`, '', pick(s, f => f.memory.cpuShare), pick(r, f => f.memory.cpuShare), false))
    rows.push(rowOf(base, `${label}: server memory per connected peer after the run (heap + array buffers, GC)`, 'B', pick(s, f => f.memory.perPeerAfterLoad), pick(r, f => f.memory.perPeerAfterLoad), false))
  }
  return rows
}

/**
 * The SVG charts of a run: per-client exchanges sorted for each N, Jain's
 * index and exchanges/s against N; named (and titled) for the accept options
 * when not the defaults
 *
 * @param {string} dir
 * @param {object} results - per transport, the runs (the `detail` of the JSON report's first swarm row)
 * @param {object} accept - the accept options of the run
 * @param {(msg: string) => void} log
 */
export function writeCharts (dir, results, accept, log) {
  mkdirSync(dir, { recursive: true })
  const options = Object.entries(accept)
  const suffix = options.length === 0 ? '' : `-${options.map(([k, v]) => `${k}-${v}`).join('-').replace(/[^\w-]/g, '')}`
  const named = options.length === 0 ? ', default options' : `, ${options.map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ')}`
  const written = []
  const put = (file, svg) => {
    const path = resolve(dir, file.replace(/\.svg$/, `${suffix}.svg`))
    writeFileSync(path, svg)
    written.push(path)
  }
  for (const [transport, runs] of Object.entries(results)) {
    const plain = runs.filter(r => r.variant === 'plain')
    if (plain.length === 0) { continue }
    const label = transport === 'tcp' ? 'TCP' : 'memory transport'
    for (const run of plain) {
      const sorted = side => [...run[side].perClient].sort((a, b) => a - b).map((v, i) => [i + 1, v / run.seconds])
      put(`swarm-sorted-${transport}-${run.n}.svg`, lineChart({
        title: `Each client's exchanges/s, sorted: ${run.n} clients, ${label}${named}`,
        xLabel: 'client (sorted by exchanges)',
        yLabel: 'exchanges/s',
        series: [
          { label: `libp2p-stream accept (Jain ${run.stream.jain.toFixed(3)})`, color: COLORS.stream, points: sorted('stream') },
          { label: `raw handle() + FIFO (Jain ${run.raw.jain.toFixed(3)})`, color: COLORS.raw, points: sorted('raw') }
        ]
      }))
    }
    const byN = (side, key) => plain.map(r => [r.n, r.medians?.[side]?.[key] ?? r[side][key]])
    put(`swarm-jain-${transport}.svg`, lineChart({
      title: `Jain's fairness index against clients, ${label}${named}`,
      xLabel: 'clients',
      yLabel: "Jain's index",
      yRange: [0, 1],
      rules: [{ y: 0.95, text: '0.95' }],
      series: [
        { label: 'libp2p-stream accept', color: COLORS.stream, points: byN('stream', 'jain'), dots: true },
        { label: 'raw handle() + FIFO', color: COLORS.raw, points: byN('raw', 'jain'), dots: true }
      ]
    }))
    put(`swarm-rate-${transport}.svg`, lineChart({
      title: `Exchanges/s against clients, ${label}${named}`,
      xLabel: 'clients',
      yLabel: 'exchanges/s',
      series: [
        { label: 'libp2p-stream accept', color: COLORS.stream, points: byN('stream', 'exchangesPerSecond'), dots: true },
        { label: 'raw handle() + FIFO', color: COLORS.raw, points: byN('raw', 'exchangesPerSecond'), dots: true }
      ]
    }))
  }
  log(`  charts: ${written.join(', ')}`)
}

export async function run ({ quick, log }) {
  const { accept, ns, seconds, transports, variants, charts, rounds } = config(quick)
  const maxN = Math.max(...ns)
  const rows = []
  const results = {}
  const acceptLabel = Object.keys(accept).length === 0 ? 'defaults' : JSON.stringify(accept)
  log(`  accept options: ${acceptLabel}; ${rounds} round(s) of ${seconds} s per side; N = ${ns.join(', ')}; ${transports.join(', ')}; variants: ${variants.join(', ') || 'none'}`)
  let order = 0

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
          const out = await bothSides({ ...o, label: rounds > 1 ? `${label} round ${k + 1}/${rounds}` : label }, log, order++)
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

      if (variants.includes('greedy')) {
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
        }, log, order++)
        const s = figures(out.stream)
        const r = figures(out.raw)
        const gs = figures(out.stream, 'greedy')
        const gr = figures(out.raw, 'greedy')
        const fairS = fair.medians.stream.medianPerClientPerSecond
        const fairR = fair.medians.raw.medianPerClientPerSecond
        results[transport].push({ variant: 'greedy', n, seconds, stream: s, raw: r, greedy: { stream: gs, raw: gr }, fair: { stream: fairS, raw: fairR } })
        rows.push(
          rowOf(base, `${label}: honest median ÷ its fair figure (median of the N=${n} run)`, '×', over(s.medianPerClientPerSecond, fairS), over(r.medianPerClientPerSecond, fairR)),
          rowOf(base, `${label}: greedy client's exchanges/s ÷ honest median`, '×', over(gs.groupExchangesPerSecond, s.medianPerClientPerSecond), over(gr.groupExchangesPerSecond, r.medianPerClientPerSecond), false),
          rowOf(base, `${label}: Jain's index over the honest clients`, '', s.jain, r.jain),
          rowOf(base, `${label}: exchanges/s, all`, '/s', s.exchangesPerSecond, r.exchangesPerSecond)
        )
      }

      if (variants.includes('sybil') && sybil.length > 0) {
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
        }, log, order++)
        const s = figures(out.stream)
        const r = figures(out.raw)
        const ss = figures(out.stream, 'sybil')
        const sr = figures(out.raw, 'sybil')
        results[transport].push({ variant: 'sybil', n, seconds, stream: s, raw: r, sybil: { stream: ss, raw: sr } })
        rows.push(
          rowOf(base, `${label}: honest exchanges/s`, '/s', s.groupExchangesPerSecond, r.groupExchangesPerSecond),
          rowOf(base, `${label}: share of all exchanges that went to the Sybil /24`, '', ss.groupExchangesPerSecond / s.exchangesPerSecond, sr.groupExchangesPerSecond / r.exchangesPerSecond, false),
          rowOf(base, `${label}: Jain's index over the honest clients`, '', s.jain, r.jain),
          { ...rowOf(base, `${label}: honest latency first attempt → echo (p50 / p99)`, 'ms', 0, 0, false), stream: s.served, raw: r.served, ratio: { p50: s.served.p50 / r.served.p50, p99: s.served.p99 / r.served.p99 } }
        )
        if (fair != null) {
          rows.push(rowOf(base, `${label}: honest median ÷ the N=${n} run's median`, '×', over(s.medianPerClientPerSecond, fair.medians.stream.medianPerClientPerSecond), over(r.medianPerClientPerSecond, fair.medians.raw.medianPerClientPerSecond)))
        }
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
