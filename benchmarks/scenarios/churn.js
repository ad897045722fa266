// Stream churn: one peer opens streams and resets each as soon as it is open,
// as fast as it can (churn-child.js, 32 at a time, its own process and its
// own /24 on 127/8), while an honest peer (this process, another /24) works
// in a closed loop: open, 16-byte echo, close. The server (churn-server.js,
// a process of its own) serves the echo through a default `accept` with 4
// workers, or through raw js-libp2p `handle()` behind a 4-slot FIFO. The
// honest peer opens with `dialProtocol` against both, so the server is all
// that differs. Per side: the honest peer's latency p50/p99 and exchanges/s
// without the churner, then with it, and how many streams the churner
// opened. Each phase is bounded in time; the churner also by count.
//
// Flags (after `node benchmarks/index.js --only=churn`):
//   --churn-seconds=8        length of each phase
//   --churn-rounds=2         rounds of both sides, interleaved
//   --churn-cpu-prof=dir     a V8 CPU profile of each server process
import { fork } from 'node:child_process'
import { resolve } from 'node:path'
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

async function runSide (side, seconds, prof) {
  const execArgv = prof == null ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(prof)}`, `--cpu-prof-name=churn-${side}-${Date.now()}.cpuprofile`]
  const server = await child(SERVER, { side, protocol: PROTOCOL }, execArgv)
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
    const cpu0 = (await server.ask('stats')).cpu
    const quiet = await honestLoop(honest, peer, seconds)
    const cpu1 = (await server.ask('stats')).cpu

    const churner = await child(CHURNER, { addr: addr.toString(), protocol: PROTOCOL, localAddress: CHURN_ADDRESS, seconds: seconds + 30 })
    await sleep(500) // the churn under way
    const cpu2 = (await server.ask('stats')).cpu
    const churned = await honestLoop(honest, peer, seconds)
    const cpu3 = (await server.ask('stats')).cpu
    const churn = await churner.stop()
    await churner.exited()
    const stats = await server.ask('stats')
    return {
      quiet: { ...latencySummary(quiet.latencies), rate: quiet.latencies.length / seconds, failures: quiet.failures, serverCpuShare: (cpu1 - cpu0) / (seconds * 1e6) },
      churned: { ...latencySummary(churned.latencies), rate: churned.latencies.length / seconds, failures: churned.failures, serverCpuShare: (cpu3 - cpu2) / (seconds * 1e6) },
      churner: { opened: churn.opened, perSecond: churn.opened / (seconds + 0.5), failed: churn.failed },
      server: { served: stats.served, accept: stats.accept }
    }
  } finally {
    await honest.stop()
    await server.ask('stop').catch(() => {})
    await server.exited()
  }
}

export async function run ({ quick, log }) {
  const seconds = Number(flag('churn-seconds') ?? (quick ? 2 : 8))
  if (!(seconds > 0 && seconds <= 60)) { throw new Error(`--churn-seconds: between 0 and 60, got ${flag('churn-seconds')}`) }
  const rounds = Number(flag('churn-rounds') ?? (quick ? 1 : 2))
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 10)) { throw new Error(`--churn-rounds: 1 to 10, got ${flag('churn-rounds')}`) }
  const prof = flag('churn-cpu-prof')
  const got = { stream: [], raw: [] }

  for (let i = 0; i < rounds; i++) {
    for (const side of interleave(i, 'stream', 'raw')) {
      const r = await runSide(side, seconds, prof)
      got[side].push(r)
      const f = p => `p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms, ${p.rate.toFixed(0)}/s, server CPU ${(p.serverCpuShare * 100).toFixed(0)} %`
      log(`  ${side} round ${i + 1}/${rounds}: quiet ${f(r.quiet)}; under churn ${f(r.churned)}; churner opened ${r.churner.opened} (${r.churner.perSecond.toFixed(0)}/s)${Object.keys(r.churned.failures).length > 0 ? `; honest failures ${JSON.stringify(r.churned.failures)}` : ''}`)
    }
  }

  const base = { scenario: name, transport: 'TCP+noise+yamux' }
  const pick = (side, phase, key) => got[side].map(r => r[phase][key])
  const rows = []
  for (const phase of ['quiet', 'churned']) {
    for (const key of ['p50', 'p99']) {
      rows.push({
        ...base,
        figure: `honest ${key}, ${phase === 'quiet' ? 'no churner' : 'under churn'} (${rounds} × ${seconds} s)`,
        unit: 'ms',
        higherIsBetter: false,
        stream: summary(pick('stream', phase, key)),
        raw: summary(pick('raw', phase, key)),
        ratio: summary(got.stream.map((r, j) => r[phase][key] / got.raw[j][phase][key]))
      })
    }
    rows.push({
      ...base,
      figure: `honest exchanges/s, ${phase === 'quiet' ? 'no churner' : 'under churn'}`,
      unit: '/s',
      higherIsBetter: true,
      stream: summary(pick('stream', phase, 'rate')),
      raw: summary(pick('raw', phase, 'rate')),
      ratio: summary(got.stream.map((r, j) => r[phase].rate / got.raw[j][phase].rate))
    })
  }
  for (const key of ['p50', 'p99']) {
    rows.push({
      ...base,
      figure: `honest ${key} under churn / without (above 2: more than doubles)`,
      unit: '×',
      stream: summary(got.stream.map(r => r.churned[key] / r.quiet[key])),
      raw: summary(got.raw.map(r => r.churned[key] / r.quiet[key]))
    })
  }
  rows.push({
    ...base,
    figure: 'churner opens + resets per second',
    unit: '/s',
    stream: summary(got.stream.map(r => r.churner.perSecond)),
    raw: summary(got.raw.map(r => r.churner.perSecond)),
    details: got
  })
  log(`  p99 under churn / without: libp2p-stream ${median(got.stream.map(r => r.churned.p99 / r.quiet.p99)).toFixed(2)}×, raw ${median(got.raw.map(r => r.churned.p99 / r.quiet.p99)).toFixed(2)}×`)
  return rows
}
