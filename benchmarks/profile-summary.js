// Where a V8 CPU profile's time went, in short: self time by package (the
// node_modules package, this package's dist/src, Node internals, GC, idle),
// the functions with the most self time, and the inclusive time of the
// functions whose name matches --match (a regular expression).
//
//   node benchmarks/profile-summary.js file.cpuprofile [--top=25] [--match=regexp]
//
// Used on the churn scenario's server profiles (`--churn-cpu-prof=dir`).
import { readFileSync } from 'node:fs'

const args = process.argv.slice(2)
const file = args.find(a => !a.startsWith('--'))
if (file == null) {
  process.stderr.write('usage: node benchmarks/profile-summary.js file.cpuprofile [--top=25] [--match=regexp]\n')
  process.exit(2)
}
const top = Number(args.find(a => a.startsWith('--top='))?.slice(6) ?? 25)
const match = args.find(a => a.startsWith('--match='))?.slice(8)

const p = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(p.nodes.map(n => [n.id, n]))
const parent = new Map()
for (const n of p.nodes) { for (const c of n.children ?? []) { parent.set(c, n.id) } }
const ms = (p.endTime - p.startTime) / 1000
const per = ms / p.samples.length

function where (frame) {
  const url = frame.url ?? ''
  if (url === '') { return `(${frame.functionName || 'native'})` }
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)
  if (m != null) { return m.at(-1).replace('node_modules/', '') }
  if (url.includes('/dist/src/')) { return 'libp2p-stream' }
  if (url.startsWith('node:')) { return 'node internals' }
  return url.replace(/^.*\/benchmarks\//, 'benchmarks/')
}

const selfBy = new Map()
const selfFn = new Map()
const incl = new Map()
for (const id of p.samples) {
  const frame = byId.get(id).callFrame
  const pkg = where(frame)
  selfBy.set(pkg, (selfBy.get(pkg) ?? 0) + per)
  const fn = `${frame.functionName || '(anonymous)'} ${pkg}${frame.url === '' ? '' : `:${frame.lineNumber + 1}`}`
  selfFn.set(fn, (selfFn.get(fn) ?? 0) + per)
  if (match != null) {
    const seen = new Set()
    for (let n = id; n != null; n = parent.get(n)) {
      const f = byId.get(n).callFrame
      const key = `${f.functionName || '(anonymous)'} ${where(f)}:${f.lineNumber + 1}`
      if (!seen.has(key) && new RegExp(match).test(`${f.functionName} ${f.url}`)) {
        seen.add(key)
        incl.set(key, (incl.get(key) ?? 0) + per)
      }
    }
  }
}

const pct = v => `${(100 * v / ms).toFixed(1).padStart(5)} %`
const list = (title, map, n) => {
  process.stdout.write(`\n${title}\n`)
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    process.stdout.write(`  ${pct(v)}  ${v.toFixed(0).padStart(7)} ms  ${k}\n`)
  }
}
process.stdout.write(`${file}: ${ms.toFixed(0)} ms profiled, ${p.samples.length} samples\n`)
list('self time by package', selfBy, top)
list('functions by self time', selfFn, top)
if (match != null) { list(`inclusive time of functions matching /${match}/`, incl, top) }
