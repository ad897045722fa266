// Line charts as plain SVG text, for the figures the README shows: no
// dependency, readable on GitHub's light and dark themes (white background).

const WIDTH = 640
const HEIGHT = 360
const MARGIN = { top: 56, right: 20, bottom: 50, left: 64 }
export const COLORS = { stream: '#1f77b4', raw: '#d62728', other: '#2ca02c' }

const escape = text => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

// Round tick values covering [min, max]
function ticks (min, max, count = 5) {
  if (max <= min) { max = min + 1 }
  const raw = (max - min) / count
  const power = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map(m => m * power).find(s => s >= raw)
  const out = []
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) { out.push(Number(v.toPrecision(12))) }
  return out
}

function label (v) {
  if (Math.abs(v) >= 10_000) { return `${(v / 1000).toFixed(0)}k` }
  return Number.isInteger(v) ? String(v) : v.toFixed(2)
}

/**
 * A line chart
 *
 * @param {object} chart
 * @param {string} chart.title
 * @param {string} chart.xLabel
 * @param {string} chart.yLabel
 * @param {Array<{ label: string, color: string, points: Array<[number, number]>, dots?: boolean }>} chart.series
 * @param {[number, number]} [chart.yRange] - fixed y axis, else from 0 to the largest value
 * @param {Array<{ y: number, text: string }>} [chart.rules] - dashed horizontal lines
 */
export function lineChart ({ title, xLabel, yLabel, series, yRange, rules = [] }) {
  const xs = series.flatMap(s => s.points.map(p => p[0]))
  const ys = series.flatMap(s => s.points.map(p => p[1]))
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)]
  const [y0, y1] = yRange ?? [0, Math.max(...ys, ...rules.map(r => r.y)) * 1.05 || 1]
  const w = WIDTH - MARGIN.left - MARGIN.right
  const h = HEIGHT - MARGIN.top - MARGIN.bottom
  const sx = x => MARGIN.left + (x1 === x0 ? w / 2 : (x - x0) / (x1 - x0) * w)
  const sy = y => MARGIN.top + h - (y - y0) / (y1 - y0) * h
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="13" font-weight="bold">${escape(title)}</text>`
  ]
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + w}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${label(t)}</text>`)
  }
  for (const t of ticks(x0, x1, 8)) {
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${MARGIN.top + h + 18}" text-anchor="middle">${label(t)}</text>`)
  }
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + w}" y1="${MARGIN.top + h}" y2="${MARGIN.top + h}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + h}" stroke="#333"/>`,
    `<text x="${MARGIN.left + w / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escape(xLabel)}</text>`,
    `<text transform="translate(16 ${MARGIN.top + h / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`)
  for (const r of rules) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + w}" y1="${sy(r.y).toFixed(1)}" y2="${sy(r.y).toFixed(1)}" stroke="#666" stroke-dasharray="4 4"/>`,
      `<text x="${MARGIN.left + w - 4}" y="${(sy(r.y) - 4).toFixed(1)}" text-anchor="end" fill="#666">${escape(r.text)}</text>`)
  }
  let lx = MARGIN.left
  for (const s of series) {
    const d = s.points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`).join(' ')
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`)
    if (s.dots === true) {
      for (const [x, y] of s.points) { parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${s.color}"/>`) }
    }
    // the legend, in one row between the title and the plot
    const ly = MARGIN.top - 16
    parts.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${lx + 26}" y="${ly + 4}">${escape(s.label)}</text>`)
    lx += 40 + s.label.length * 6.5
  }
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
