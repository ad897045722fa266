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
      '@chainsafe/libp2p-noise': packageVersion('../../node_modules/@chainsafe/libp2p-noise/package.json'),
      '@chainsafe/libp2p-yamux': packageVersion('../../node_modules/@chainsafe/libp2p-yamux/package.json')
    }
  }
}
