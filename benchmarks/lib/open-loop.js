// The workload the profiling scripts measure: sequential open + 1-byte echo +
// close on one TCP+noise+yamux connection, through libp2p-stream (`accept` /
// `openStream`) or raw js-libp2p (`handle` / `dialProtocol`), on the same
// protocol name. Run as a script: `node open-loop.js <raw|stream> <ops>`.
import { fileURLToPath } from 'node:url'
import { createPair } from './nodes.js'

const PROTOCOL = '/bench/open-loop/1.0.0'
const ONE = new Uint8Array([1])

/**
 * Sends back what arrives, then closes
 *
 * @param stream
 */
async function echo (stream) {
  for await (const chunk of stream) { stream.send(chunk) }
  await stream.close()
}

/**
 * Runs `ops` sequential open + echo + close through `side`, then stops both nodes
 *
 * @param side - 'raw' or 'stream'
 * @param ops
 */
export async function openLoop (side, ops) {
  const pair = await createPair('tcp')
  const peer = pair.server.peerId
  let open

  if (side === 'stream') {
    const incoming = pair.serverControl.accept(PROTOCOL, { backlog: 16 })
    ;(async () => {
      for await (const { stream } of incoming) { echo(stream).catch(err => { stream.abort(err) }) }
    })()
    open = async () => pair.clientControl.openStream(peer, PROTOCOL)
  } else if (side === 'raw') {
    await pair.server.handle(PROTOCOL, stream => { echo(stream).catch(err => { stream.abort(err) }) })
    open = async () => pair.client.dialProtocol(peer, PROTOCOL)
  } else {
    throw new Error(`side must be raw or stream, got ${side}`)
  }

  for (let i = 0; i < ops; i++) {
    const stream = await open()
    stream.send(ONE)
    const it = stream[Symbol.asyncIterator]()
    await it.next()
    await stream.close()
    while ((await it.next()).done !== true) { /* to the end */ }
  }

  await pair.close()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await openLoop(process.argv[2], Number(process.argv[3]))
  process.exit(0)
}
