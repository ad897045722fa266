// Benchmarks for libp2p-stream, each figure side by side with raw js-libp2p
// (node.handle / node.dialProtocol) on the same nodes in the same process.
//
//   node benchmarks/index.js [--quick] [--only=throughput,open-rate,...] [--out=path.json]
//   (swarm takes its own flags too: --accept='{"backlog":1024}', --swarm-n=..., see scenarios/swarm.js)
//
// Prints a table on stdout (progress goes to stderr) and writes
// benchmarks/results/latest.json. Figures are never asserted on: the exit code
// is non-zero only when a scenario throws.
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatTable } from './lib/table.js'
import { machineInfo } from './lib/util.js'
import * as acceptLatency from './scenarios/accept-latency.js'
import * as anatomy from './scenarios/anatomy.js'
import * as churn from './scenarios/churn.js'
import * as crossLanguage from './scenarios/cross-language.js'
import * as flood from './scenarios/flood.js'
import * as heldMemory from './scenarios/held-memory.js'
import * as lanes from './scenarios/lanes.js'
import * as lazyOpen from './scenarios/lazy-open.js'
import * as limits from './scenarios/limits.js'
import * as memory from './scenarios/memory.js'
import * as openRate from './scenarios/open-rate.js'
import * as swarm from './scenarios/swarm.js'
import * as throughput from './scenarios/throughput.js'

const SCENARIOS = [limits, throughput, openRate, lazyOpen, anatomy, acceptLatency, memory, heldMemory, flood, churn, lanes, crossLanguage, swarm]

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const only = args.find(a => a.startsWith('--only='))?.slice('--only='.length).split(',').filter(Boolean)
const here = dirname(fileURLToPath(import.meta.url))
const out = resolve(args.find(a => a.startsWith('--out='))?.slice('--out='.length) ?? resolve(here, 'results', 'latest.json'))

if (args.includes('--help')) {
  process.stdout.write(`usage: node benchmarks/index.js [--quick] [--only=${SCENARIOS.map(s => s.name).join(',')}] [--out=file.json]\n`)
  process.exit(0)
}

const unknown = (only ?? []).filter(n => !SCENARIOS.some(s => s.name === n))
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map(s => s.name).join(', ')}\n`)
  process.exit(2)
}

const log = msg => { process.stderr.write(`${msg}\n`) }
const machine = machineInfo()
const report = {
  startedAt: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine,
  scenarios: []
}

log(`libp2p-stream benchmarks (${report.mode}) on ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, libp2p ${machine.packages.libp2p}`)

const started = performance.now()
let failed = false

for (const scenario of SCENARIOS) {
  if (only != null && !only.includes(scenario.name)) { continue }
  log(`\n== ${scenario.name}: ${scenario.title}`)
  const t0 = performance.now()
  const entry = { name: scenario.name, title: scenario.title }
  try {
    entry.results = await scenario.run({ quick, log })
  } catch (err) {
    failed = true
    entry.error = err?.stack ?? String(err)
    log(`!! ${scenario.name} failed: ${entry.error}`)
  }
  entry.seconds = (performance.now() - t0) / 1000
  log(`   (${entry.seconds.toFixed(1)} s)`)
  report.scenarios.push(entry)
}

report.seconds = (performance.now() - started) / 1000
report.machine.loadAverageAtEnd = os.loadavg()

mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, JSON.stringify(report, null, 2) + '\n')

process.stdout.write(formatTable(report) + '\n')
process.stdout.write(`\ntotal ${report.seconds.toFixed(1)} s; load average ${machine.loadAverageAtStart.map(l => l.toFixed(2)).join(' ')} -> ${report.machine.loadAverageAtEnd.map(l => l.toFixed(2)).join(' ')}; JSON: ${out}\n`)

process.exit(failed ? 1 : 0)
