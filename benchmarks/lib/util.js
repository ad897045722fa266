// Small helpers shared by the benchmark scenarios: statistics, GC, timing,
// stream plumbing and machine information.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import v8 from 'node:v8'
import { collectGarbage } from '../../dist/test/fixtures/gc.js'

export { sleep }
// the tests' stream helpers, under the names the scenarios use
export { drain as countBytes, echo as echoBack, serveEach } from '../../dist/test/fixtures/streams.js'
export { eventually } from '../../dist/test/fixtures/wait.js'

export const KiB = 1024
export const MiB = 1024 * 1024

/** A full garbage collection, with or without --expose-gc */
export const gc = collectGarbage

/** Collects twice with a tick between, so finalizers and weak callbacks settle */
export async function settle () {
  gc()
  await sleep(10)
  gc()
}

export function heapUsed () {
  return v8.getHeapStatistics().used_heap_size
}

export function percentile (values, p) {
  if (values.length === 0) { return NaN }
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index]
}

export function median (values) {
  if (values.length === 0) { return NaN }
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * median, min, max and every sample of a list of per-round figures
 *
 * @param values
 */
export function summary (values) {
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
    samples: values
  }
}

/**
 * Runs `fn` and measures it: wall-clock and CPU time (user + system of the
 * whole process, both nodes and every thread), in microseconds.
 *
 * @param {() => Promise<unknown>} fn
 */
export async function timed (fn) {
  const cpu = process.cpuUsage()
  const started = performance.now()
  const value = await fn()
  const wall = (performance.now() - started) * 1000
  const used = process.cpuUsage(cpu)
  return { value, wall, cpu: used.user + used.system }
}

/**
 * A figure measured in interleaved rounds, as one table row: wall-clock rate
 * (`ops / wall`) for each side with the per-round ratio stream/raw, and beside
 * it the CPU cost of one operation for each side with its own per-round ratio
 * (raw CPU / stream CPU, so that above 1 libp2p-stream costs less, like the
 * wall ratio). Each round is `{ stream: { wall, cpu }, raw: { wall, cpu } }` in
 * µs for `ops` operations; `per` names the operation (`'open'`, `'MB'`).
 *
 * @param {object} row - scenario, figure, transport, unit (of the rate)
 * @param {Array<{ stream: { wall: number, cpu: number }, raw: { wall: number, cpu: number } }>} rounds
 * @param {number} ops - operations per round (opens, or MB for throughput)
 * @param {string} per - what one operation is
 */
export function roundsRow (row, rounds, ops, per) {
  const rate = t => ops / (t / 1e6)
  const cpuPerOp = t => t / ops
  return {
    ...row,
    higherIsBetter: true,
    stream: summary(rounds.map(r => rate(r.stream.wall))),
    raw: summary(rounds.map(r => rate(r.raw.wall))),
    ratio: { ...summary(rounds.map(r => r.raw.wall / r.stream.wall)), ofMedians: median(rounds.map(r => rate(r.stream.wall))) / median(rounds.map(r => rate(r.raw.wall))) },
    cpu: {
      per,
      unit: `µs CPU/${per}`,
      stream: summary(rounds.map(r => cpuPerOp(r.stream.cpu))),
      raw: summary(rounds.map(r => cpuPerOp(r.raw.cpu))),
      ratio: summary(rounds.map(r => r.raw.cpu / r.stream.cpu))
    },
    rounds: rounds.length
  }
}

/**
 * CPU per operation for figures sampled one operation at a time, interleaved
 * (latencies): each side's CPU µs per op as a summary over blocks of
 * `blockSize` consecutive samples, and the per-block ratio raw/stream.
 *
 * @param {number[]} stream - CPU µs of each libp2p-stream sample
 * @param {number[]} raw - CPU µs of each raw sample, in the same order
 * @param {number} blockSize
 * @param {string} per - what one operation is
 */
export function blockCpu (stream, raw, blockSize, per) {
  const blocks = { stream: [], raw: [], ratio: [] }
  for (let i = 0; i + blockSize <= Math.min(stream.length, raw.length); i += blockSize) {
    const sum = a => a.slice(i, i + blockSize).reduce((x, y) => x + y, 0)
    blocks.stream.push(sum(stream) / blockSize)
    blocks.raw.push(sum(raw) / blockSize)
    blocks.ratio.push(sum(raw) / sum(stream))
  }
  return { per, unit: `µs CPU/${per}`, stream: summary(blocks.stream), raw: summary(blocks.raw), ratio: summary(blocks.ratio), blockSize }
}

/**
 * p50/p90/p99 and min/max of a list of latency samples (samples themselves left out: too many)
 *
 * @param values
 */
export function latencySummary (values) {
  return {
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length
  }
}

/**
 * A table row of p50 / p99 latencies over TCP + noise + yamux, libp2p-stream
 * beside raw js-libp2p, with their ratios (lower is better).
 *
 * @param {string} scenario
 * @param {string} figure
 * @param {{ p50: number, p99: number }} stream - from `latencySummary`
 * @param {{ p50: number, p99: number }} raw - from `latencySummary`
 */
export function latencyRow (scenario, figure, stream, raw) {
  return {
    scenario,
    figure,
    transport: 'TCP+noise+yamux',
    unit: 'ms',
    unitLabel: 'ms p50 / p99',
    higherIsBetter: false,
    stream,
    raw,
    ratio: { p50: stream.p50 / raw.p50, p99: stream.p99 / raw.p99 }
  }
}

/**
 * The order of the two sides in round `i`: A B, then B A, and so on, so that
 * neither side always runs first (warm caches, GC debt, machine load drift).
 *
 * @param i
 * @param a
 * @param b
 */
export function interleave (i, a, b) {
  return i % 2 === 0 ? [a, b] : [b, a]
}

/**
 * Resolves once the stream is fully closed (both directions), or has been reset
 *
 * @param stream
 */
export async function whenClosed (stream) {
  if (stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset') {
    return
  }
  await new Promise(resolve => { stream.addEventListener('close', resolve, { once: true }) })
}

/**
 * Writes `total` bytes as repeated `chunk`s, waiting for drain whenever send()
 * says so; returns the most bytes the stream held queued at once
 *
 * @param stream
 * @param total
 * @param chunk
 */
export async function sendBytes (stream, total, chunk) {
  let left = total
  let peak = 0
  while (left > 0) {
    const piece = left >= chunk.byteLength ? chunk : chunk.subarray(0, left)
    left -= piece.byteLength
    if (!stream.send(piece)) {
      peak = Math.max(peak, stream.writeBufferLength)
      await stream.onDrain()
    }
  }
  return peak
}

function packageVersion (url) {
  try {
    return JSON.parse(readFileSync(new URL(url, import.meta.url), 'utf8')).version
  } catch {
    return undefined
  }
}

/** Which code was measured: the commit, whether the tree differs from it, and when dist/ was built */
function codeInfo () {
  const root = new URL('../../', import.meta.url)
  const git = args => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    } catch {
      return undefined
    }
  }
  let distBuiltAt
  try {
    // the newest file: a build rewrites only what changed
    const dist = new URL('dist/src/', root)
    distBuiltAt = new Date(Math.max(...readdirSync(dist).filter(f => f.endsWith('.js')).map(f => statSync(new URL(f, dist)).mtimeMs))).toISOString()
  } catch {
    distBuiltAt = undefined // not built
  }
  const status = git(['status', '--porcelain', '--', 'src'])
  return { commit: git(['rev-parse', 'HEAD']), srcModified: status == null ? undefined : status.length > 0, distBuiltAt }
}

export function machineInfo () {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model?.trim(),
    cores: cpus.length,
    availableParallelism: os.availableParallelism?.(),
    totalMemoryMiB: Math.round(os.totalmem() / MiB),
    loadAverageAtStart: os.loadavg(),
    code: codeInfo(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl,
    packages: {
      'libp2p-stream': packageVersion('../../package.json'),
      libp2p: packageVersion('../../node_modules/libp2p/package.json'),
      '@libp2p/tcp': packageVersion('../../node_modules/@libp2p/tcp/package.json'),
      '@libp2p/memory': packageVersion('../../node_modules/@libp2p/memory/package.json'),
      '@libp2p/noise': packageVersion('../../node_modules/@libp2p/noise/package.json'),
      '@libp2p/yamux': packageVersion('../../node_modules/@libp2p/yamux/package.json')
    }
  }
}
