// Instructions per open + 1-byte echo + close, libp2p-stream against raw
// js-libp2p, counted by valgrind (cachegrind) rather than timed: a count does
// not move with other work on the machine, so it shows differences of a
// fraction of a percent that CPU time, moving by several percent between
// rounds, cannot.
//
//   node benchmarks/instructions.js [--ops=1000] [--warm=100] [--repeat=2] [--cache]
//
// Each side runs `lib/open-loop.js` in a child under valgrind twice, with
// `warm` and `warm + ops` opens; the difference divided by `ops` is the cost
// of one open, without start-up and JIT warm-up. Both nodes and every thread
// of the process (GC helpers included) are counted; the kernel is not.
// `--cache` also simulates the caches (slower) and reports first-level and
// last-level misses per open. Needs `valgrind` on the PATH; takes about two
// minutes per repeat on 2 cores (both sides run at once).
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const args = Object.fromEntries(process.argv.slice(2).map(a => a.replace(/^--/, '').split('=')).map(([k, v]) => [k, v ?? 'true']))
const ops = Number(args.ops ?? 1_000)
const warm = Number(args.warm ?? 100)
const repeat = Number(args.repeat ?? 2)
const cache = args.cache === 'true'
const loop = fileURLToPath(new URL('./lib/open-loop.js', import.meta.url))
const SIDES = ['stream', 'raw']

if (spawnSync('valgrind', ['--version']).status !== 0) {
  process.stderr.write('valgrind was not found: install it (apt-get install valgrind) to count instructions\n')
  process.exit(1)
}

/**
 * Runs `opens` opens of `side` under cachegrind and returns its totals
 *
 * @param side - 'stream' or 'raw'
 * @param opens - how many open + echo + close to run
 */
function count (side, opens) {
  return new Promise((resolve, reject) => {
    const child = spawn('valgrind', [
      '--tool=cachegrind', `--cache-sim=${cache ? 'yes' : 'no'}`, '--smc-check=all-non-file', '--cachegrind-out-file=/dev/null',
      process.execPath, loop, side, String(opens)
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    let report = ''
    child.stderr.on('data', chunk => { report += chunk })
    child.on('error', reject)
    child.on('close', code => {
      const read = label => Number(report.match(new RegExp(`${label}:\\s+([\\d,]+)`))?.[1].replaceAll(',', ''))
      const totals = { instructions: read('I\\s+refs'), l1: read('I1\\s+misses') + read('D1\\s+misses'), ll: read('LL misses') }
      if (code !== 0 || Number.isNaN(totals.instructions)) {
        reject(new Error(`valgrind ${side} ${opens} exited with ${code}:\n${report.slice(-2000)}`))
      } else {
        resolve(totals)
      }
    })
  })
}

const runs = { stream: [], raw: [] }

for (let r = 0; r < repeat; r++) {
  // both sides at once, one core each
  const [base, full] = [await Promise.all(SIDES.map(side => count(side, warm))), await Promise.all(SIDES.map(side => count(side, warm + ops)))]
  SIDES.forEach((side, i) => {
    const per = key => (full[i][key] - base[i][key]) / ops
    runs[side].push({ instructions: per('instructions'), l1: per('l1'), ll: per('ll') })
  })
  process.stderr.write(`repeat ${r + 1}/${repeat}: stream ${fmt(runs.stream[r].instructions)}, raw ${fmt(runs.raw[r].instructions)} instructions per open\n`)
}

function fmt (n) { return Math.round(n).toLocaleString('en-US') }
function range (values) {
  const min = Math.min(...values)
  const max = Math.max(...values)
  return min === max || values.length === 1 ? fmt(min) : `${fmt(min)}–${fmt(max)}`
}
function mean (values) { return values.reduce((a, b) => a + b, 0) / values.length }

const rows = [['instructions', 'instructions per open']]
if (cache) { rows.push(['l1', 'L1 misses (I1 + D1) per open'], ['ll', 'last-level misses per open']) }

process.stdout.write(`\n${ops} sequential open + 1-byte echo + close (TCP+noise+yamux, both nodes in one process), ${repeat} repeat(s), counted by valgrind\n\n`)
process.stdout.write('figure | libp2p-stream | raw js-libp2p | ratio raw/stream\n--- | --- | --- | ---\n')
for (const [key, label] of rows) {
  const s = runs.stream.map(run => run[key])
  const r = runs.raw.map(run => run[key])
  process.stdout.write(`${label} | ${range(s)} | ${range(r)} | ${(mean(r) / mean(s)).toFixed(3)}\n`)
}
