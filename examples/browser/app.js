// The page's code: a browser libp2p node that dials a Node peer over
// WebSockets, opens a stream to it with openStream, and accepts the streams
// the Node peer opens back over the same connection. examples/browser/server.js
// bundles it with esbuild and serves it.
import { noise } from '@libp2p/noise'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { stream } from 'libp2p-stream'

const GREET = '/example/greet/1.0.0'
const NOTIFY = '/example/notify/1.0.0'
/** How many streams the Node peer opens to us after the greeting */
const NOTIFICATIONS = 2

const show = (id, text) => { document.getElementById(id).textContent = text }

async function readText (s) {
  let text = ''
  for await (const chunk of s) {
    text += new TextDecoder().decode(chunk.subarray())
  }
  return text
}

async function main () {
  // the Node peer's /ws address, as server.js publishes it
  const { address } = await (await fetch('/peer.json')).json()

  const node = await createLibp2p({
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // In browsers libp2p refuses to dial ws:// and private addresses. This
    // demo's peer is ws://127.0.0.1, so it allows them; a real dApp dials
    // public wss:// addresses and leaves the default gater in place.
    connectionGater: { denyDialMultiaddr: () => false },
    services: { stream: stream() }
  })
  show('peer', node.peerId.toString())
  const control = node.services.stream.newControl()

  // inbound: register first, so the Node peer's streams find us ready
  const notifications = control.accept(NOTIFY, { backlog: 8 })
  const received = (async () => {
    const notes = []
    for await (const { stream: s } of notifications) {
      const note = await readText(s)
      notes.push(note)
      const li = document.createElement('li')
      li.textContent = note
      document.getElementById('notes').append(li)
      if (notes.length === NOTIFICATIONS) {
        break // ends the accept: NOTIFY is deregistered
      }
    }
    return notes
  })()

  // outbound: dial, negotiate, send our name, half-close, read the answer
  const s = await control.openStream(multiaddr(address), GREET, { signal: AbortSignal.timeout(10_000) })
  s.send(new TextEncoder().encode('browser'))
  await s.close()
  show('greeting', await readText(s))

  let timer
  await Promise.race([
    received,
    new Promise((resolve, reject) => { timer = setTimeout(() => { reject(new Error('no notifications within 10 s')) }, 10_000) })
  ]).finally(() => { clearTimeout(timer) })

  show('status', 'done')
}

main().catch(err => {
  show('status', `error: ${err.message}`)
  console.error(err) // eslint-disable-line no-console
})
