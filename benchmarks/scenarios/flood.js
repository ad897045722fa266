// 4a. Flood: many inbound stream attempts from one peer against
// accept(..., { backlog: 16 }) with a consumer taking one stream every 10 ms.
// Each flood runs in a fresh process (flood-child.js) so heap and RSS start
// clean. Figures: peak heap growth as sampled (garbage included), peak live
// heap growth (after a forced GC at 10 checkpoints), peak RSS growth, heap
// retained afterwards, and what happened to the attempts.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { summary } from '../lib/util.js'

export const name = 'flood'
export const title = 'Flood: inbound stream attempts from one peer (64 in flight) against accept({ backlog: 16 }), consumer takes one per 10 ms'

const CHILD = fileURLToPath(new URL('./flood-child.js', import.meta.url))

async function child (options) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', CHILD, JSON.stringify(options)], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err != null) {
        reject(new Error(`flood child ${JSON.stringify(options)} failed: ${err.message}\n${stderr}`))
        return
      }
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)))
    })
  })
}

const MB = 1e6

export async function run ({ quick, log }) {
  const runs = quick
    ? [{ side: 'stream', attempts: 1_000 }, { side: 'stream', attempts: 10_000 }]
    : [{ side: 'stream', attempts: 10_000 }, { side: 'raw', attempts: 10_000 }, { side: 'stream', attempts: 100_000 }, { side: 'raw', attempts: 100_000 }]
  const rows = []

  for (const options of runs) {
    const r = await child({ ...options, backlog: 16, inflight: 64, consumeEveryMs: 10 })
    const label = r.side === 'stream'
      ? `accept backlog 16, ${r.attempts} attempts`
      : `raw handle() closing at once (baseline), ${r.attempts} attempts`
    log(`  ${label}: ${r.seconds.toFixed(1)} s (${r.attemptsPerSecond.toFixed(0)}/s), peak heap +${(r.peakHeapGrowth / MB).toFixed(1)} MB, peak live heap +${(r.peakLiveHeapGrowth / MB).toFixed(1)} MB, peak RSS +${(r.peakRssGrowth / MB).toFixed(1)} MB, retained +${(r.retainedHeapAfter / MB).toFixed(2)} MB, dropped ${r.dropped}, accepted ${r.accepted}, max queued ${r.maxQueued}; ${JSON.stringify(r.outcomes)}`)
    const base = { scenario: name, transport: 'TCP+noise+yamux', side: r.side, attempts: r.attempts, detail: r }
    const one = (figure, unit, value, unitLabel) => ({ ...base, figure: `${label}: ${figure}`, unit, unitLabel, higherIsBetter: false, value: summary([value]) })
    rows.push(
      one('peak heap growth, sampled (garbage incl.)', 'B', r.peakHeapGrowth, 'bytes'),
      one('peak live heap growth (GC at 10 points)', 'B', r.peakLiveHeapGrowth, 'bytes'),
      one('peak RSS growth', 'B', r.peakRssGrowth, 'bytes'),
      one('heap retained after', 'B', r.retainedHeapAfter, 'bytes'),
      one(r.side === 'stream' ? `rate; dropped ${r.dropped}, accepted ${r.accepted}, max queued ${r.maxQueued}` : 'rate', 'attempts/s', r.attemptsPerSecond)
    )
  }

  return rows
}
