/* eslint-disable no-console -- the example reports to the terminal */
// Loads the browser example in headless Chromium (playwright-core) and checks
// what the page shows: the Node peer's answer to openStream, and the streams
// the Node peer opened back, which the page accepted.
//
// Run (Node 22+): npm run build && bash scripts/prepare-browser.sh node examples/browser/check.js
// (prepare-browser.sh points playwright at the system Chromium).
// Exits non-zero when the page shows anything else.
import { chromium } from 'playwright-core'
import { startServer } from './server.js'

setTimeout(() => { console.error('FAILED: no result within 60 s'); process.exit(1) }, 60_000).unref()

const server = await startServer()
const browser = await chromium.launch()
const errors = []

try {
  const page = await browser.newPage()
  page.on('pageerror', err => { errors.push(err.message) })
  page.on('console', msg => {
    if (msg.type() === 'error') {
      errors.push(msg.text())
    }
  })

  await page.goto(server.url)
  await page.waitForFunction(() => document.getElementById('status')?.textContent !== 'running', null, { timeout: 30_000 })

  const shown = await page.evaluate(() => ({
    status: document.getElementById('status')?.textContent,
    peer: document.getElementById('peer')?.textContent,
    greeting: document.getElementById('greeting')?.textContent,
    notes: [...document.querySelectorAll('#notes li')].map(li => li.textContent)
  }))

  console.log('libp2p-stream browser example, in %s', browser.version())
  console.log('  status:    %s', shown.status)
  console.log('  page peer: %s', shown.peer)
  console.log('  greeting:  %s', shown.greeting)
  console.log('  accepted:  %s', JSON.stringify(shown.notes))
  console.log('  node side: %d greeting stream(s) accepted', server.greetings.accepted)

  const ok = shown.status === 'done' &&
    shown.greeting === `hello browser, from ${server.peerId}` &&
    JSON.stringify(shown.notes) === JSON.stringify(['notification 1 of 2', 'notification 2 of 2']) &&
    server.greetings.accepted === 1 &&
    errors.length === 0

  if (!ok) {
    console.error('FAILED: the page does not show what it should%s', errors.length > 0 ? `; page errors:\n${errors.join('\n')}` : '')
  }
  process.exitCode = ok ? 0 : 1
} finally {
  await browser.close()
  await server.stop()
}
