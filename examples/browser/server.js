/* eslint-disable no-console -- the example reports to the terminal */
// The Node side of the browser example: a libp2p node listening on WebSockets
// on loopback, and an HTTP server for the page, its bundle (built here with
// esbuild) and the node's address.
//
// The node answers openStream(GREET) with a greeting, then opens NOTIFY
// streams back to the browser over the same connection, which the page
// accepts.
//
// Run (Node 22+): npm run build && node examples/browser/server.js, then open the URL it
// prints. examples/browser/check.js loads the page in headless Chromium.
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { noise } from '@libp2p/noise'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import * as esbuild from 'esbuild'
import { createLibp2p } from 'libp2p'
import { stream } from 'libp2p-stream'

// libp2p v3 needs Node 22 or newer; older ones fail deep inside a connection
if (typeof Promise.withResolvers !== 'function') {
  console.error('this example needs Node 22 or newer (libp2p v3), not %s; in this repository: ./node_modules/.bin/node', process.version)
  process.exit(1)
}

const GREET = '/example/greet/1.0.0'
const NOTIFY = '/example/notify/1.0.0'
const NOTIFICATIONS = 2

async function readText (s) {
  let text = ''
  for await (const chunk of s) {
    text += new TextDecoder().decode(chunk.subarray())
  }
  return text
}

// Answers one greeting, then opens NOTIFICATIONS streams back to the greeter
async function greet (node, { stream: s, peer }) {
  const name = await readText(s)
  s.send(new TextEncoder().encode(`hello ${name}, from ${node.peerId}`))
  await s.close()

  const control = node.services.stream.newControl()
  for (let i = 1; i <= NOTIFICATIONS; i++) {
    // the browser cannot be dialled; this reuses the connection it opened
    const note = await control.openStream(peer, NOTIFY, { signal: AbortSignal.timeout(5_000) })
    note.send(new TextEncoder().encode(`notification ${i} of ${NOTIFICATIONS}`))
    await note.close()
  }
}

/**
 * Starts the node and the HTTP server on 127.0.0.1.
 *
 * @param {number} [port] - the HTTP port; 0 picks a free one
 * @returns the page's URL, the node's peer id, its GREET accept and a stop function
 */
export async function startServer (port = 0) {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { stream: stream() }
  })

  const greetings = node.services.stream.newControl().accept(GREET, { backlog: 16 })
  const serving = (async () => {
    for await (const item of greetings) {
      greet(node, item).catch(err => {
        console.error('greeting %s failed: %s', item.peer, err.message)
        item.stream.abort(err)
      })
    }
  })()

  const bundle = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('app.js', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'warning'
  })
  const files = {
    '/': { type: 'text/html', body: await readFile(new URL('index.html', import.meta.url)) },
    '/app.js': { type: 'text/javascript', body: bundle.outputFiles[0].contents },
    '/peer.json': {
      type: 'application/json',
      body: JSON.stringify({ address: node.getMultiaddrs().find(ma => ma.toString().includes('/ws'))?.toString() })
    }
  }

  const http = createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://localhost').pathname]
    res.writeHead(file == null ? 404 : 200, { 'content-type': file?.type ?? 'text/plain' })
    res.end(file?.body ?? 'not found')
  })
  http.listen(port, '127.0.0.1')
  await new Promise(resolve => http.once('listening', resolve))

  return {
    url: `http://127.0.0.1:${http.address().port}/`,
    peerId: node.peerId.toString(),
    greetings,
    stop: async () => {
      http.closeAllConnections()
      await new Promise(resolve => http.close(resolve))
      await node.stop()
      await serving
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await startServer(Number(process.env.PORT ?? 0))
  console.log('open %s in a browser (Ctrl-C stops)', server.url)
  process.once('SIGINT', () => { server.stop().then(() => process.exit(0), () => process.exit(1)) })
}
