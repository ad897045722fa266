// Fails when a file in src/ imports, directly or through others, itself.
// Type-only imports count: a cycle of types still means two files each own a
// part of the other. Usage: node scripts/check-cycles.js [dir]
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const root = resolve(process.argv[2] ?? 'src')
const files = readdirSync(root, { recursive: true })
  .filter(f => f.endsWith('.ts'))
  .map(f => join(root, f))
const imports = new Map()

for (const file of files) {
  const source = readFileSync(file, 'utf8')
  const targets = [...source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/gm)]
    .map(match => resolve(dirname(file), match[1]))
  imports.set(file, targets)
}

const cycles = []
const state = new Map() // file → 'visiting' | 'done'

function visit (file, path) {
  if (state.get(file) === 'done') return
  if (state.get(file) === 'visiting') {
    cycles.push([...path.slice(path.indexOf(file)), file])
    return
  }
  state.set(file, 'visiting')
  for (const target of imports.get(file) ?? []) visit(target, [...path, file])
  state.set(file, 'done')
}

for (const file of files) visit(file, [])

const show = path => path.map(f => relative(process.cwd(), f)).join(' → ')

if (cycles.length > 0) {
  console.error(`import cycles in ${relative(process.cwd(), root)}:`)
  for (const cycle of cycles) console.error(`  ${show(cycle)}`)
  process.exit(1)
}

console.log(`no import cycle among ${files.length} files in ${relative(process.cwd(), root) || '.'}`)
