// What a remote can make the accepting node hold, measured as memory: the
// victim node runs in a child process of its own (dist/test/fixtures/victim.js)
// and reports heap + array buffers after a full GC (`process.memoryUsage()`)
// before and after each attack; the growth is the figure. Three sides, one
// after the other for each attack, each victim fresh:
//
// - libp2p-stream: a default `accept` (nothing reads in attacks 1 and 2; the
//   README's echo loop over accepted streams in attack 3), with its own
//   `queuedBytes` / `heldBytes` beside what the node holds;
// - raw js-libp2p: `handle()` keeping the streams unread (1, 2), or echoing
//   them with the same loop (3);
// - 0.1.x, when its build is at hand (`--held-v01=dir`, default /tmp/v01: a
//   checkout of 0.1.x built there, with this repository's
//   test/fixtures/victim.ts copied into it): the same victim over 0.1.x's code
//   and dependencies. Without it the issue's figures are printed, labelled so.
//
// Attacks, from one attacker node in this process:
//   1. 16 streams, one-byte writes round-robin (each its own yamux frame)
//   2. 64 streams writing 4 MiB each
//   3. one stream into an echo, up to 512 MiB offered, the echo never read
// Each runs until just before the queue age (maxQueueAge: 30 s by default;
// --quick sets 5 s), sending until then or its count (3: 512 MiB), and the
// victim is sampled every 3 s (--quick: 1 s): the figure is the most it held.
//
// Also writes benchmarks/results/held-memory.md, the README's table.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as now from '../../dist/test/fixtures/victim.js'
import { createNode } from '../lib/nodes.js'
import { MiB, sleep, summary } from '../lib/util.js'

export const name = 'held-memory'
export const title = 'What an attacker makes the accepting node hold: heap + array buffers after GC, victim in its own process'

const PROTOCOL = '/bench/held/1.0.0'
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

// the issue's measurements of 0.1.x (heap + array buffers grown), when its build is not at hand
const ISSUE_V01 = { 1: '82.5 MiB (issue 18, 600,000 frames)', 2: '16.0 MiB array buffers (issue 18)', 3: '538–563 MiB (issue 18, 512 MiB sent)' }

function flag (key) {
  return process.argv.slice(2).find(a => a.startsWith(`--${key}=`))?.slice(key.length + 3)
}

const mib = b => `${(b / MiB).toFixed(1)} MiB`

/**
 * One attack against one fresh victim: memory grown, what was sent, and the
 * victim's own counters
 *
 * @param {object} fixtures - the victim module (this build's or 0.1.x's)
 * @param {object} attack
 * @param {'stream' | 'raw'} side
 * @param {object} accept - accept options of the libp2p-stream side
 * @param {number} seconds - how long the attack runs, at most
 * @param {number} every - ms between samples of what the victim holds
 */
async function runAttack (fixtures, attack, side, accept, seconds, every) {
  const victim = await fixtures.startVictim({ side, mode: attack.mode, protocol: PROTOCOL, accept: side === 'stream' ? accept : undefined })
  const attacker = await createNode('tcp', false)
  try {
    const before = await victim.held()
    const started = performance.now()
    const flooding = attack.mode === 'echo'
      ? now.floodUnread(attacker, victim.addr, PROTOCOL, attack.options)
      : now.floodFrames(attacker, victim.addr, PROTOCOL, attack.options)
    flooding.catch(() => {}) // awaited below
    // sampled as an operator would, every `every` ms while the attack goes
    // on, until `seconds` from its start (the queue age): the most it held,
    // and the counters then
    let peak
    let last
    let samples = 0
    while (performance.now() - started < seconds * 1000) {
      await sleep(Math.min(every, Math.max(0, seconds * 1000 - (performance.now() - started))))
      const held = await victim.held()
      const stats = await victim.stats()
      samples++
      last = held
      if (peak == null || held.total > peak.held.total) { peak = { held, stats, at: (performance.now() - started) / 1000 } }
    }
    const sent = await flooding
    sent.stream?.abort(new Error('benchmark done'))
    const { held: after, stats, at } = peak
    return {
      grown: after.total - before.total,
      heap: after.heapUsed - before.heapUsed,
      arrayBuffers: after.arrayBuffers - before.arrayBuffers,
      rss: after.rss - before.rss,
      at,
      samples,
      // the last sample, at the end of the attack
      end: last.total - before.total,
      sent: { writes: sent.writes, bytes: sent.bytes, seconds: sent.seconds, ended: sent.ended },
      stats
    }
  } finally {
    await attacker.stop()
    await victim.stop()
  }
}

async function loadV01 (log) {
  const dir = resolve(flag('held-v01') ?? '/tmp/v01')
  const file = resolve(dir, 'dist', 'test', 'fixtures', 'victim.js')
  if (!existsSync(file)) {
    log(`  no 0.1.x victim at ${file}: the 0.1.x column gives the issue's figures`)
    return undefined
  }
  return { dir, fixtures: await import(pathToFileURL(file).href) }
}

export async function run ({ quick, log }) {
  const queueAge = quick ? 5_000 : 30_000
  // stop a second and a half before the queue age: what is held is measured before the queue lets it go
  const seconds = queueAge / 1000 - 1.5
  const accept = quick ? { maxQueueAge: queueAge } : {}
  const attacks = [
    { n: 1, name: '16 streams, one-byte frames round-robin', mode: 'queue', options: { streams: 16, writes: quick ? 200_000 : 2_000_000, size: 1, seconds } },
    { n: 2, name: '64 streams × 4 MiB writes', mode: 'queue', options: { streams: 64, writes: 64, size: 4 * MiB, seconds } },
    { n: 3, name: 'one stream into an echo never read', mode: 'echo', options: { total: (quick ? 128 : 512) * MiB, seconds } }
  ]
  const v01 = await loadV01(log)
  const rows = []
  const table = []

  for (const attack of attacks) {
    const sides = [['now', now, 'stream'], ['raw', now, 'raw']]
    if (v01 != null) { sides.push(['v01', v01.fixtures, 'stream']) }
    const got = {}
    for (const [key, fixtures, side] of sides) {
      got[key] = await runAttack(fixtures, attack, side, accept, seconds, quick ? 1_000 : 3_000)
      const g = got[key]
      log(`  attack ${attack.n} (${attack.name}), ${key}: ${g.sent.writes} writes, ${mib(g.sent.bytes)} in ${g.sent.seconds.toFixed(1)} s -> held at most ${mib(g.grown)} more (at ${g.at.toFixed(1)} s of ${g.samples} samples, ${mib(g.end)} at the end; heap ${mib(g.heap)}, array buffers ${mib(g.arrayBuffers)})` +
        (side === 'stream' ? `; queuedBytes ${mib(g.stats.queuedBytes ?? 0)}, heldBytes ${g.stats.heldBytes == null ? '-' : mib(g.stats.heldBytes)}, queued ${g.stats.queued}, dropped ${g.stats.dropped}` : `; streams open ${g.stats.held}`))
    }
    const base = { scenario: name, transport: 'TCP+noise+yamux', unit: 'B', unitLabel: 'bytes', higherIsBetter: false }
    rows.push({
      ...base,
      figure: `attack ${attack.n}: ${attack.name}, held after GC (heap + array buffers grown)`,
      stream: summary([got.now.grown]),
      raw: summary([got.raw.grown]),
      ratio: { median: got.now.grown / got.raw.grown, n: 1 },
      sides: got
    })
    rows.push({
      ...base,
      figure: `attack ${attack.n}: what was offered (libp2p-stream / raw)`,
      stream: summary([got.now.sent.bytes]),
      raw: summary([got.raw.sent.bytes])
    })
    if (attack.mode === 'queue') {
      rows.push({ ...base, figure: `attack ${attack.n}: libp2p-stream counts: queuedBytes`, value: summary([got.now.stats.queuedBytes]) })
      rows.push({ ...base, figure: `attack ${attack.n}: libp2p-stream counts: heldBytes`, value: summary([got.now.stats.heldBytes]) })
    }
    if (got.v01 != null) {
      rows.push({
        ...base,
        figure: `attack ${attack.n}: 0.1.x (${v01.dir}) held after GC, against the same raw`,
        stream: summary([got.v01.grown]),
        raw: summary([got.raw.grown]),
        ratio: { median: got.v01.grown / got.raw.grown, n: 1 }
      })
    }
    table.push({ attack, got })
  }

  const md = [
    `| attack (${quick ? `--quick, maxQueueAge ${queueAge / 1000} s` : 'default options, until the 30 s queue age'}) | offered | 0.1.x held | now held: most / at the end | counted now (heldBytes) | raw js-libp2p held |`,
    '| --- | --- | --- | --- | --- | --- |',
    ...table.map(({ attack, got }) => `| ${attack.n}. ${attack.name} | ${mib(got.now.sent.bytes)} | ${got.v01 == null ? ISSUE_V01[attack.n] : mib(got.v01.grown)} | ${mib(got.now.grown)} / ${mib(got.now.end)} | ${attack.mode === 'queue' ? mib(got.now.stats.heldBytes) : '-'} | ${mib(got.raw.grown)} |`),
    '',
    `Heap + array buffers grown after GC (the most of samples taken while under attack), victim in its own process; ${os.cpus().length} cores, load average ${os.loadavg().map(l => l.toFixed(2)).join(' ')} (\`node benchmarks/index.js --only=held-memory\`).`
  ].join('\n')
  const out = resolve(ROOT, 'benchmarks', 'results', 'held-memory.md')
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, md + '\n')
  log(`\n${md}\n  (written to ${out})`)
  return rows
}
