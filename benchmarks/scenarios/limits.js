// 5. Ceilings for context: raw Node loopback TCP and Node's native
// chacha20-poly1305 (what noise encrypts with), at 64 KiB chunks.
import { createCipheriv, randomBytes } from 'node:crypto'
import net from 'node:net'
import { KiB, MiB, settle, summary } from '../lib/util.js'

export const name = 'limits'
export const title = 'Ceilings on this machine (context, not compared)'

const CHUNK = Buffer.alloc(64 * KiB, 0x5a)

async function loopbackTcp (bytes) {
  const server = net.createServer()
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  const received = new Promise((resolve, reject) => {
    server.once('connection', socket => {
      let n = 0
      socket.on('data', d => { n += d.byteLength })
      socket.on('end', () => { resolve(n) })
      socket.on('error', reject)
    })
  })
  const client = net.connect(server.address().port, '127.0.0.1')
  await new Promise(resolve => client.once('connect', resolve))
  const started = performance.now()
  let left = bytes
  while (left > 0) {
    left -= CHUNK.byteLength
    if (!client.write(CHUNK)) {
      await new Promise(resolve => client.once('drain', resolve))
    }
  }
  client.end()
  const n = await received
  const seconds = (performance.now() - started) / 1000
  server.close()
  if (n !== bytes) { throw new Error(`loopback received ${n} of ${bytes}`) }
  return bytes / 1e6 / seconds
}

function chacha (bytes) {
  const key = randomBytes(32)
  const nonce = Buffer.alloc(12)
  const started = performance.now()
  let sink = 0
  for (let done = 0, counter = 0; done < bytes; done += CHUNK.byteLength, counter++) {
    // a fresh cipher per message, as a noise transport encrypts frame by frame
    nonce.writeUInt32LE(counter, 4)
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
    const out = cipher.update(CHUNK)
    cipher.final()
    sink += out.byteLength + cipher.getAuthTag().byteLength
  }
  const seconds = (performance.now() - started) / 1000
  if (sink === 0) { throw new Error('nothing encrypted') }
  return bytes / 1e6 / seconds
}

export async function run ({ quick, log }) {
  const bytes = (quick ? 32 : 512) * MiB
  const rounds = quick ? 2 : 4
  const tcp = []
  const enc = []
  for (let i = 0; i < rounds; i++) {
    await settle()
    tcp.push(await loopbackTcp(bytes))
    await settle()
    enc.push(chacha(bytes))
    log(`  round ${i + 1}/${rounds}: loopback TCP ${tcp.at(-1).toFixed(0)} MB/s, chacha20-poly1305 ${enc.at(-1).toFixed(0)} MB/s`)
  }
  return [
    { scenario: name, figure: `Node net loopback TCP, 64 KiB writes, ${bytes / MiB} MiB`, unit: 'MB/s', higherIsBetter: true, value: summary(tcp) },
    { scenario: name, figure: 'Node chacha20-poly1305 encrypt, 64 KiB messages', unit: 'MB/s', higherIsBetter: true, value: summary(enc) }
  ]
}
