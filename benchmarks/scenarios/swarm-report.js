// What the swarm scenario reports: each side's figures from a run, the
// table rows (one figure, or one per round), and the SVG charts.
import { mkdirSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { COLORS, lineChart } from '../lib/svg.js'
import { latencySummary, median, summary } from '../lib/util.js'

// Jain's fairness index: 1 when every client got the same, 1/n when one got everything
export function jain (values) {
  const sum = values.reduce((a, b) => a + b, 0)
  const squares = values.reduce((a, b) => a + b * b, 0)
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares)
}

// Figures of one side of one run, for the clients of `group`
export function figures (run, group = 'honest') {
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

// a ratio, or NaN (printed '-') when the figure below is none
export const over = (a, b) => b > 0 ? a / b : NaN
// a table row; `stream` and `raw` are one figure each, or one per round (the ratio is then per round pair)
export function rowOf (base, figure, unit, stream, raw, higherIsBetter = true) {
  const s = [stream].flat()
  const r = [raw].flat()
  const ratios = s.map((x, i) => over(x, r[i])).filter(x => !Number.isNaN(x))
  return { ...base, figure, unit, higherIsBetter, stream: summary(s), raw: summary(r), ratio: ratios.length === 0 ? undefined : summary(ratios) }
}

// a latency row: the median over rounds of each round's p50 and p99
export function latencyRow (base, figure, s, r) {
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
export function rowsOf (base, label, s, r) {
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
