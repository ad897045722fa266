/* eslint-disable no-console -- the example reports to the terminal */
// A length-prefixed request/response service (a tiny key-value store) on
// libp2p-stream, with a handshake: a stream starts in the `unverified` lane,
// and once its first message carries the right token it is moved to the
// `verified` lane, where another worker serves its requests.
//
// The point to copy: a length-prefixed decoder reads the stream in chunks,
// and the chunk that held the handshake may also hold the requests that
// followed it. Those bytes now sit in the decoder's buffer, not in the stream.
// So the handshake worker hands the decoder itself on with the stream (in
// the incoming stream's `context`, which move() keeps) and the verified
// worker keeps reading from it; calling
// lp.decode(stream) afresh there would silently lose those requests.
//
// Run (Node 22+): npm run build && node examples/request-response.js
// Exits non-zero when any answer is wrong.
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import * as lp from 'it-length-prefixed'
import { createLibp2p } from 'libp2p'
import { stream } from 'libp2p-stream'

// libp2p v3 needs Node 22 or newer; older ones fail deep inside a connection
if (typeof Promise.withResolvers !== 'function') {
  console.error('this example needs Node 22 or newer (libp2p v3), not %s; in this repository: ./node_modules/.bin/node', process.version)
  process.exit(1)
}

const PROTOCOL = '/example/kv/1.0.0'
const TOKEN = 'let-me-in'
/** Largest message either side accepts, in bytes */
const MAX_MESSAGE = 64 * 1024
/** How long a stream may take to send its handshake, in ms */
const HANDSHAKE_TIMEOUT = 5_000

// a lost byte would leave the client waiting for an answer: give up loudly instead
setTimeout(() => { console.error('FAILED: no result within 30 s'); process.exit(1) }, 30_000).unref()

const encode = (value) => lp.encode.single(new TextEncoder().encode(JSON.stringify(value)))
const decode = (message) => JSON.parse(new TextDecoder().decode(message.subarray()))

async function createNode () {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { stream: stream() }
  })
}

// ---- server ---------------------------------------------------------------

const server = await createNode()
const store = new Map()

const incoming = server.services.stream.newControl().accept(PROTOCOL, {
  lanes: {
    // streams get here only through move(), after their handshake
    verified: { backlog: 32, match: () => false, priority: 1 },
    // everything new: strangers may hold 2 slots each while they handshake
    unverified: { backlog: 16, maxPerPeer: 2 }
  }
})

async function handshake (item) {
  const { stream } = item
  const messages = lp.decode(stream, { maxDataLength: MAX_MESSAGE })
  const timer = setTimeout(() => { stream.abort(new Error('no handshake in time')) }, HANDSHAKE_TIMEOUT)
  let first

  try {
    first = await messages.next()
  } finally {
    clearTimeout(timer)
  }

  if (first.done === true || decode(first.value).token !== TOKEN) {
    stream.send(encode({ ok: false, error: 'bad token' }))
    await stream.close()
    return
  }

  stream.send(encode({ ok: true }))
  // the decoder that read the handshake, and may hold more, goes with the stream
  item.context = messages
  incoming.move(item, 'verified')
}

async function serve ({ stream, context: messages }) {
  // the same decoder: whatever it buffered past the handshake is read first

  for await (const message of messages) {
    const request = decode(message)

    if (request.op === 'put') {
      store.set(request.key, request.value)
      stream.send(encode({ ok: true }))
    } else if (request.op === 'get') {
      stream.send(encode({ ok: true, value: store.get(request.key) ?? null }))
    } else {
      stream.send(encode({ ok: false, error: `unknown op ${request.op}` }))
    }
  }

  await stream.close()
}

// Runs `work` on every item of `source`, each on its own, aborting a stream whose work fails
function each (source, work) {
  return (async () => {
    for await (const item of source) {
      work(item).catch(err => {
        console.error('  %s stream from %s failed: %s', item.lane, item.peer, err.message)
        item.stream.abort(err)
      })
    }
  })()
}

const workers = [
  each(incoming.lane('unverified'), handshake),
  each(incoming.lane('verified'), serve)
]

// ---- client ---------------------------------------------------------------

const client = await createNode()
const control = client.services.stream.newControl()

// Opens a stream, sends the handshake and `requests` in one write, and returns every answer
async function session (token, requests, later = []) {
  const s = await control.openStream(server.getMultiaddrs(), PROTOCOL, { signal: AbortSignal.timeout(5_000) })
  const answers = lp.decode(s, { maxDataLength: MAX_MESSAGE })
  const results = []

  // one send: the handshake and the first requests reach the server together
  const first = [{ token }, ...requests].map(m => encode(m).subarray())
  const bytes = new Uint8Array(first.reduce((n, b) => n + b.byteLength, 0))
  first.reduce((offset, b) => { bytes.set(b, offset); return offset + b.byteLength }, 0)
  s.send(bytes)

  const hello = decode((await answers.next()).value)
  results.push(hello)

  if (!hello.ok) {
    // refused: the server closes without reading on
    await s.close()
    return results
  }

  for (let i = 0; i < requests.length; i++) {
    results.push(decode((await answers.next()).value))
  }

  // then plain request/response, one at a time
  for (const request of later) {
    s.send(encode(request))
    results.push(decode((await answers.next()).value))
  }

  await s.close()
  // the server ends too once it saw our close
  if ((await answers.next()).done !== true) {
    throw new Error('unexpected extra answer')
  }
  return results
}

const started = performance.now()
const good = await session(TOKEN, [
  { op: 'put', key: 'colour', value: 'teal' },
  { op: 'put', key: 'shape', value: 'torus' },
  { op: 'get', key: 'colour' }
], [
  { op: 'get', key: 'shape' },
  { op: 'get', key: 'missing' }
])
const refused = await session('wrong', [{ op: 'get', key: 'colour' }])
const stats = incoming.stats()

incoming.close()
await Promise.all(workers)
await Promise.all([client.stop(), server.stop()])

const expected = [
  { ok: true },
  { ok: true },
  { ok: true },
  { ok: true, value: 'teal' },
  { ok: true, value: 'torus' },
  { ok: true, value: null }
]

console.log('libp2p-stream request/response example')
console.log('  verified session answers:  %s', JSON.stringify(good))
console.log('  wrong token:               %s', JSON.stringify(refused))
console.log('  lanes:                     unverified accepted %d, verified accepted %d (moved %d)',
  stats.lanes.unverified.accepted, stats.lanes.verified.accepted, stats.lanes.verified.moved)
console.log('  took %d ms', Math.round(performance.now() - started))

const ok = JSON.stringify(good) === JSON.stringify(expected) &&
  JSON.stringify(refused) === JSON.stringify([{ ok: false, error: 'bad token' }]) &&
  stats.lanes.verified.moved === 1 &&
  stats.lanes.unverified.accepted === 2

if (!ok) {
  console.error('FAILED: answers or lane counts are not what they should be')
}
process.exitCode = ok ? 0 : 1
