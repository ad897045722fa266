// Stream churn: one peer opens streams and resets each as soon as it is open,
// as fast as it can (churn-child.js, 32 at a time, its own process and its
// own /24 on 127/8), while an honest peer (this process, another /24) works
// in a closed loop: open, 16-byte echo, close. The server (churn-server.js,
// a process of its own) serves the echo through a default `accept` with 4
// workers, or through raw js-libp2p `handle()` behind a 4-slot FIFO. The
// honest peer opens with `dialProtocol` against both, so the server is all
// that differs. Per side: the honest peer's latency p50/p99 and exchanges/s
// without the churner, then with it, and how many streams the churner
// opened; and, as a control for what the churner's own CPU costs the
// machine, the same with the churner flooding another server process
// instead. The processes' CPU shares and how late the server's event loop
// ran are in the log and the JSON. Each phase is bounded in time; the churner
// also by count.
//
// Flags (after `node benchmarks/index.js --only=churn`):
//   --churn-seconds=8        length of each phase
//   --churn-rounds=2         rounds of both sides, interleaved
//   --churn-cpu-prof=dir     a V8 CPU profile of each server process
//   --churn-workers=4        streams the server serves at once (accept workers, FIFO slots)
//   --churn-rate=500         libp2p-stream's maxInboundStreamRate (Infinity: none)
import { fork } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { interleave, latencySummary, median, sleep, summary } from '../lib/util.js'

export const name = 'churn'
export const title = 'Stream churn: an honest closed loop (open, 16-byte echo, close) with and without a peer opening and resetting streams, accept() with 4 workers beside handle() + 4-slot FIFO'

const PROTOCOL = '/bench/churn/1.0.0'
const SERVER = fileURLToPath(new URL('./churn-server.js', import.meta.url))
const CHURNER = fileURLToPath(new URL('./churn-child.js', import.meta.url))
const HONEST_ADDRESS = '127.0.2.1'
const CHURN_ADDRESS = '127.0.1.1'
const PAYLOAD = new Uint8Array(16).fill(7)

function flag (key) {
  return process.argv.slice(2).find(a => a.startsWith(`--${key}=`))?.slice(key.length + 3)
}

// A child process driven over IPC: resolves its first message, then `ask(cmd)` answers by id
async function child (file, options, execArgv = []) {
  const proc = fork(file, [JSON.stringify(options)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const pending = new Map()
  let id = 0
  let first
  const ready = new Promise((resolve, reject) => {
    first = resolve
    proc.once('exit', code => { reject(new Error(`${file} exited with ${code}`)) })
  })
  proc.on('message', msg => {
    if (first != null) { const f = first; first = undefined; f(msg); return }
    const answer = pending.get(msg.id ?? 'stop')
    pending.delete(msg.id ?? 'stop')
    if (msg.error != null) { answer?.reject(new Error(msg.error)) } else { answer?.resolve(msg.value ?? msg) }
  })
  const hello = await ready
  return {
    hello,
    ask: async cmd => new Promise((resolve, reject) => { pending.set(++id, { resolve, reject }); proc.send({ cmd, id }) }),
    stop: async () => new Promise((resolve, reject) => { pending.set('stop', { resolve, reject }); proc.send({ stop: true }) }),
    exited: async () => { if (proc.exitCode == null) { await Promise.race([new Promise(resolve => { proc.once('exit', resolve) }), sleep(10_000)]) } if (proc.exitCode == null) { proc.kill() } }
  }
}

// The honest peer's closed loop for `seconds`: latencies (ms) and failures
async function honestLoop (node, peer, seconds) {
  const latencies = []
  const failures = {}
  const deadline = performance.now() + seconds * 1000
  while (performance.now() < deadline) {
    const t0 = performance.now()
    try {
      const s = await node.dialProtocol(peer, PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      s.send(PAYLOAD)
      let got = 0
      const it = s[Symbol.asyncIterator]()
      while (got < PAYLOAD.byteLength) {
        const next = await it.next()
        if (next.done === true) { throw new Error(`echo ended after ${got} bytes`) }
        got += next.value.byteLength
      }
      await s.close()
      while ((await it.next()).done !== true) { /* to the end */ }
      latencies.push(performance.now() - t0)
    } catch (err) {
      failures[err?.name ?? 'Error'] = (failures[err?.name ?? 'Error'] ?? 0) + 1
      await sleep(5)
    }
  }
  return { latencies, failures }
}

// One phase of the honest loop, with the server's CPU share, how late its
// event loop ran and this process's CPU share over it
async function phase (honest, peer, server, seconds) {
  const before = await server.ask('stats')
  const cpu = process.cpuUsage()
  const loop = await honestLoop(honest, peer, seconds)
  const used = process.cpuUsage(cpu)
  const after = await server.ask('stats')
  return {
    ...latencySummary(loop.latencies),
    rate: loop.latencies.length / seconds,
    failures: loop.failures,
    serverCpuShare: (after.cpu - before.cpu) / (seconds * 1e6),
    serverLoopDelay: after.loopDelay,
    honestCpuShare: (used.user + used.system) / (seconds * 1e6)
  }
}

// The churner against `addr` for the length of `fn`: its opens, their rate and its CPU share
async function churning (addr, seconds, fn) {
  const churner = await child(CHURNER, { addr: addr.toString(), protocol: PROTOCOL, localAddress: CHURN_ADDRESS, seconds: seconds + 30 })
  const started = performance.now()
  await sleep(500) // the churn under way
  const value = await fn()
  const churn = await churner.stop()
  await churner.exited()
  const elapsed = (performance.now() - started) / 1000
  return { value, churner: { opened: churn.opened, perSecond: churn.opened / elapsed, cpuShare: churn.cpu / (elapsed * 1e6), failed: churn.failed } }
}

async function runSide (side, seconds, prof, workers, rate) {
  const execArgv = prof == null ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(prof)}`, `--cpu-prof-name=churn-${side}-${Date.now()}.cpuprofile`]
  const server = await child(SERVER, { side, protocol: PROTOCOL, workers, rate: rate == null ? undefined : String(rate) }, execArgv)
  // the control: a second server, which the churner floods instead of the measured one
  const decoy = await child(SERVER, { side: 'raw', protocol: PROTOCOL })
  const addr = multiaddr(server.hello.addrs[0])
  const honest = await createLibp2p({
    transports: [tcp({ dialOpts: { localAddress: HONEST_ADDRESS } })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  try {
    const connection = await honest.dial(addr)
    const peer = connection.remotePeer
    await honestLoop(honest, peer, 0.5) // warm-up
    const quiet = await phase(honest, peer, server, seconds)
    const churned = await churning(addr, seconds, async () => phase(honest, peer, server, seconds))
    const elsewhere = await churning(multiaddr(decoy.hello.addrs[0]), seconds, async () => phase(honest, peer, server, seconds))
    const stats = await server.ask('stats')
    return {
      quiet,
      churned: churned.value,
      elsewhere: elsewhere.value,
      churner: churned.churner,
      churnerElsewhere: elsewhere.churner,
      server: { served: stats.served, accept: stats.accept, service: stats.service }
    }
  } finally {
    await honest.stop()
    for (const c of [server, decoy]) {
      await c.ask('stop').catch(() => {})
      await c.exited()
    }
  }
}

// The README's table: medians over the rounds, written to benchmarks/results/churn.md
function writeMarkdown (got, { phases: PHASES, rounds, seconds, workers, log }) {
  const pick = (side, phase, key) => got[side].map(r => r[phase][key])
  const ms = v => `${v.toFixed(1)} ms`
  const cellOf = (side, phase) => `${ms(median(pick(side, phase, 'p50')))} / ${ms(median(pick(side, phase, 'p99')))} (${median(pick(side, phase, 'rate')).toFixed(0)}/s)`
  const md = [
    `| honest peer: open + 16-byte echo + close, p50 / p99 (exchanges/s) | libp2p-stream \`accept\`, ${workers} workers | raw \`handle()\` + ${workers}-slot FIFO |`,
    '| --- | --- | --- |',
    ...Object.entries(PHASES).map(([phase, label]) => `| ${label} | ${cellOf('stream', phase)} | ${cellOf('raw', phase)} |`),
    `| churner's opens + resets per second | ${median(got.stream.map(r => r.churner.perSecond)).toFixed(0)} | ${median(got.raw.map(r => r.churner.perSecond)).toFixed(0)} |`,
    '',
    `Medians of ${rounds} rounds of ${seconds} s per phase; ${os.cpus().length} cores shared by the server, the honest peer and the churner (each its own process), load average ${os.loadavg().map(l => l.toFixed(2)).join(' ')} (\`node benchmarks/index.js --only=churn\`).`
  ].join('\n')
  const out = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'churn.md')
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, md + '\n')
  log(`\n${md}\n  (written to ${out})`)
}

// The scenario's flags, checked
function readFlags (quick) {
  const seconds = Number(flag('churn-seconds') ?? (quick ? 2 : 8))
  if (!(seconds > 0 && seconds <= 60)) { throw new Error(`--churn-seconds: between 0 and 60, got ${flag('churn-seconds')}`) }
  const rounds = Number(flag('churn-rounds') ?? (quick ? 1 : 2))
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 10)) { throw new Error(`--churn-rounds: 1 to 10, got ${flag('churn-rounds')}`) }
  const workers = Number(flag('churn-workers') ?? 4)
  if (!(Number.isInteger(workers) && workers >= 1 && workers <= 256)) { throw new Error(`--churn-workers: 1 to 256, got ${flag('churn-workers')}`) }
  const rate = flag('churn-rate') == null ? undefined : Number(flag('churn-rate'))
  if (rate != null && !(rate > 0)) { throw new Error(`--churn-rate: a positive number or Infinity, got ${flag('churn-rate')}`) }
  return { seconds, rounds, workers, rate, prof: flag('churn-cpu-prof') }
}

export async function run ({ quick, log }) {
  const { seconds, rounds, workers, rate, prof } = readFlags(quick)
  const got = { stream: [], raw: [] }

  for (let i = 0; i < rounds; i++) {
    for (const side of interleave(i, 'stream', 'raw')) {
      const r = await runSide(side, seconds, prof, workers, rate)
      got[side].push(r)
      const f = p => `p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms, ${p.rate.toFixed(0)}/s, CPU server ${(p.serverCpuShare * 100).toFixed(0)} % honest ${(p.honestCpuShare * 100).toFixed(0)} %, server loop late p99 ${p.serverLoopDelay.p99.toFixed(1)} ms max ${p.serverLoopDelay.max.toFixed(1)} ms`
      const c = k => `${r[k].opened} opens (${r[k].perSecond.toFixed(0)}/s, CPU ${(r[k].cpuShare * 100).toFixed(0)} %)`
      log(`  ${side} round ${i + 1}/${rounds}:\n    quiet ${f(r.quiet)}\n    churn here ${f(r.churned)}; churner ${c('churner')}\n    churn at another node ${f(r.elsewhere)}; churner ${c('churnerElsewhere')}
    server: streams refused by the open rate bound ${r.server.service.rateLimited}${Object.keys(r.churned.failures).length > 0 ? `\n    honest failures under churn ${JSON.stringify(r.churned.failures)}` : ''}`)
    }
  }

  const base = { scenario: name, transport: 'TCP+noise+yamux' }
  const pick = (side, phase, key) => got[side].map(r => r[phase][key])
  const rows = []
  const PHASES = { quiet: 'no churner', churned: 'under churn', elsewhere: 'churner at another node (control)' }
  for (const phase of Object.keys(PHASES)) {
    for (const key of ['p50', 'p99']) {
      rows.push({
        ...base,
        figure: `honest ${key}, ${PHASES[phase]} (${rounds} × ${seconds} s)`,
        unit: 'ms',
        higherIsBetter: false,
        stream: summary(pick('stream', phase, key)),
        raw: summary(pick('raw', phase, key)),
        ratio: summary(got.stream.map((r, j) => r[phase][key] / got.raw[j][phase][key]))
      })
    }
    rows.push({
      ...base,
      figure: `honest exchanges/s, ${PHASES[phase]}`,
      unit: '/s',
      higherIsBetter: true,
      stream: summary(pick('stream', phase, 'rate')),
      raw: summary(pick('raw', phase, 'rate')),
      ratio: summary(got.stream.map((r, j) => r[phase].rate / got.raw[j][phase].rate))
    })
  }
  for (const key of ['p50', 'p99']) {
    for (const phase of ['churned', 'elsewhere']) {
      rows.push({
        ...base,
        figure: `honest ${key} ${PHASES[phase]} / without (above 2: more than doubles)`,
        unit: '×',
        stream: summary(got.stream.map(r => r[phase][key] / r.quiet[key])),
        raw: summary(got.raw.map(r => r[phase][key] / r.quiet[key]))
      })
    }
  }
  rows.push({
    ...base,
    figure: 'server event loop late, p99, under churn',
    unit: 'ms',
    stream: summary(got.stream.map(r => r.churned.serverLoopDelay.p99)),
    raw: summary(got.raw.map(r => r.churned.serverLoopDelay.p99))
  })
  rows.push({
    ...base,
    figure: 'churner opens + resets per second',
    unit: '/s',
    stream: summary(got.stream.map(r => r.churner.perSecond)),
    raw: summary(got.raw.map(r => r.churner.perSecond)),
    details: got
  })
  writeMarkdown(got, { phases: PHASES, rounds, seconds, workers, log })
  log(`  p99 under churn / without: libp2p-stream ${median(got.stream.map(r => r.churned.p99 / r.quiet.p99)).toFixed(2)}×, raw ${median(got.raw.map(r => r.churned.p99 / r.quiet.p99)).toFixed(2)}×`)
  return rows
}
