// Renders the report as a plain-text table.

function fmt (value, unit) {
  if (value == null || Number.isNaN(value)) { return '-' }
  if (unit === 'B') {
    const abs = Math.abs(value)
    if (abs >= 1024 * 1024) { return `${(value / 1024 / 1024).toFixed(1)} MiB` }
    if (abs >= 1024) { return `${(value / 1024).toFixed(1)} KiB` }
    return `${value.toFixed(0)} B`
  }
  if (unit === 'ms') { return value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(2)} ms` }
  if (unit === 'µs') { return `${value.toFixed(1)} µs` }
  if (Math.abs(value) >= 100) { return value.toFixed(0) }
  if (Math.abs(value) >= 10) { return value.toFixed(1) }
  return value.toFixed(2)
}

/**
 * "median (min–max)" of a summary, or "p50 / p99" of a latency summary
 *
 * @param s
 * @param unit
 */
function cell (s, unit) {
  if (s == null) { return '-' }
  if (s.p50 != null) { return `${fmt(s.p50, unit)} / ${fmt(s.p99, unit)}` }
  if (s.n === 1 || s.min === s.max) { return `${fmt(s.median, unit)}` }
  return `${fmt(s.median, unit)} (${fmt(s.min, unit)}–${fmt(s.max, unit)})`
}

/**
 * A failure, shortened for the table (the JSON has it whole)
 *
 * @param {string} message - the failure
 */
function failedCell (message) {
  const short = message.replace(/\s+/g, ' ')
  return `FAILED: ${short.length > 90 ? `${short.slice(0, 87)}...` : short}`
}

function ratioCell (r) {
  if (r == null) { return '' }
  if (r.p50 != null) { return `${r.p50.toFixed(3)} / ${r.p99.toFixed(3)}` }
  if (r.n > 1) { return `${r.median.toFixed(3)} (${r.min.toFixed(3)}–${r.max.toFixed(3)})` }
  return r.median.toFixed(3)
}

export function formatTable (report) {
  const header = ['scenario', 'figure', 'transport', 'unit', 'libp2p-stream', 'raw js-libp2p', 'ratio stream/raw', 'CPU per op, stream / raw', 'CPU ratio raw/stream']
  const lines = []
  for (const scenario of report.scenarios) {
    if (scenario.error != null) {
      lines.push([scenario.name, `FAILED: ${scenario.error.split('\n')[0]}`, '', '', '', '', '', '', ''])
      continue
    }
    for (const r of scenario.results ?? []) {
      const unit = r.unitLabel ?? r.unit
      if (r.skipped != null) {
        lines.push([r.scenario, r.figure, r.transport ?? '', '', `skipped: ${r.skipped}`, '', '', '', ''])
        continue
      }
      lines.push([
        r.scenario,
        r.figure,
        r.transport ?? '',
        unit,
        r.failed?.stream != null ? failedCell(r.failed.stream) : cell(r.stream ?? r.value, r.unit),
        r.failed?.raw != null ? failedCell(r.failed.raw) : cell(r.raw, r.unit),
        ratioCell(r.ratio),
        r.cpu == null ? '' : `${fmt(r.cpu.stream.median)} / ${fmt(r.cpu.raw.median)} µs per ${r.cpu.per}`,
        r.cpu == null ? '' : ratioCell(r.cpu.ratio)
      ])
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map(l => String(l[i]).length)))
  const row = cols => cols.map((c, i) => String(c).padEnd(widths[i])).join(' | ').trimEnd()
  return [
    '',
    'median (min–max) over rounds; latencies as p50 / p99 over all samples; ratio per round pair: median (min–max);',
    'CPU = user + system time of the whole process (both nodes) per operation; CPU ratio raw/stream above 1 = libp2p-stream costs less',
    '',
    row(header),
    widths.map(w => '-'.repeat(w)).join('-|-'),
    ...lines.map(row)
  ].join('\n')
}
