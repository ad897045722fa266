/* eslint-disable no-console -- the example reports to the terminal */
// Sends a file from one node to another over libp2p-stream, with progress on
// both sides and a SHA-256 check at the end.
//
// Wire format on '/example/file/1.0.0': a 4-byte big-endian header length,
// a JSON header { name, size }, then exactly `size` bytes of file, then the
// sender half-closes. The receiver answers with JSON { size, sha256 } once the
// file is on disk.
//
// The points to copy:
// - The sender waits for onDrain() when send() says so: libp2p-stream's
//   streams then hold at most about 4 MiB in memory, whatever the file size,
//   and the progress it prints is what has really left.
// - The first chunk the receiver reads holds the header and the start of the
//   file; the bytes after the header are written, not dropped.
// - The receiver checks the size it was promised, so a sender that dies
//   midway (which libp2p reports as a normal end) is not taken for a
//   complete file.
//
// Run (Node 22+): npm run build && node examples/file-transfer.js [size in MiB, default 32]
// Exits non-zero when the file that arrived differs from the one sent.
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { stream } from 'libp2p-stream'

// libp2p v3 needs Node 22 or newer; older ones fail deep inside a connection
if (typeof Promise.withResolvers !== 'function') {
  console.error('this example needs Node 22 or newer (libp2p v3), not %s; in this repository: ./node_modules/.bin/node', process.version)
  process.exit(1)
}

const PROTOCOL = '/example/file/1.0.0'
const MiB = 1024 * 1024
const SIZE = Number(process.argv[2] ?? 32) * MiB
/** Largest header the receiver reads, in bytes */
const MAX_HEADER = 4096

setTimeout(() => { console.error('FAILED: no result within 120 s'); process.exit(1) }, 120_000).unref()

async function createNode () {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { stream: stream() }
  })
}

// Prints a line each time `done` crosses another tenth of `total`
function progress (label, total) {
  let shown = 0
  return (done) => {
    const tenth = Math.floor(done * 10 / total)
    if (tenth > shown) {
      shown = tenth
      console.log('  %s %s%% (%s of %s MiB)', label, String(tenth * 10).padStart(3), (done / MiB).toFixed(1), total / MiB)
    }
  }
}

// Reads the header from `chunks`; returns it and the file bytes that came in the same chunk
async function readHeader (chunks) {
  let buffered = new Uint8Array(0)

  while (true) {
    if (buffered.byteLength >= 4) {
      const length = new DataView(buffered.buffer, buffered.byteOffset).getUint32(0)
      if (length > MAX_HEADER) {
        throw new Error(`header of ${length} bytes is over ${MAX_HEADER}`)
      }
      if (buffered.byteLength >= 4 + length) {
        const header = JSON.parse(new TextDecoder().decode(buffered.subarray(4, 4 + length)))
        return { header, rest: buffered.subarray(4 + length) }
      }
    }

    const { value, done } = await chunks.next()
    if (done === true) {
      throw new Error('stream ended inside the header')
    }
    const chunk = value.subarray()
    const joined = new Uint8Array(buffered.byteLength + chunk.byteLength)
    joined.set(buffered)
    joined.set(chunk, buffered.byteLength)
    buffered = joined
  }
}

// Receives one file into `dir`, answering with its size and hash
async function receive ({ stream: s }, dir) {
  const chunks = s[Symbol.asyncIterator]()
  const { header, rest } = await readHeader(chunks)
  const path = join(dir, `received-${header.name}`)
  const file = createWriteStream(path)
  const hash = createHash('sha256')
  const report = progress('received', header.size)
  let received = 0

  const write = async (bytes) => {
    received += bytes.byteLength
    if (received > header.size) {
      throw new Error(`more than the ${header.size} bytes announced`)
    }
    hash.update(bytes)
    report(received)
    if (!file.write(bytes)) {
      await once(file, 'drain')
    }
  }

  await write(rest)
  for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) {
    await write(next.value.subarray())
  }
  file.end()
  await once(file, 'finish')

  if (received !== header.size) {
    throw new Error(`stream ended after ${received} of ${header.size} bytes`)
  }

  s.send(new TextEncoder().encode(JSON.stringify({ size: received, sha256: hash.digest('hex'), path })))
  await s.close()
}

// Sends the file at `path` on a new stream to `target`; returns the receiver's answer
async function send (control, target, path, name) {
  const { size } = await stat(path)
  const s = await control.openStream(target, PROTOCOL, { signal: AbortSignal.timeout(5_000) })
  const header = new TextEncoder().encode(JSON.stringify({ name, size }))
  const prefix = new Uint8Array(4)
  new DataView(prefix.buffer).setUint32(0, header.byteLength)
  s.send(prefix)
  s.send(header)

  const report = progress('sent    ', size)
  let sent = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    sent += chunk.byteLength
    if (!s.send(chunk)) {
      await s.onDrain()
    }
    report(sent)
  }
  await s.close()

  let answer = ''
  for await (const chunk of s) {
    answer += new TextDecoder().decode(chunk.subarray())
  }
  return JSON.parse(answer)
}

const dir = await mkdtemp(join(tmpdir(), 'libp2p-stream-file-'))
const receiver = await createNode()
const sender = await createNode()

try {
  // a file of random bytes, and its hash as the sender knows it
  const source = join(dir, 'random.bin')
  const expected = createHash('sha256')
  const out = createWriteStream(source)
  for (let written = 0; written < SIZE; written += MiB) {
    const block = randomBytes(Math.min(MiB, SIZE - written))
    expected.update(block)
    if (!out.write(block)) {
      await once(out, 'drain')
    }
  }
  out.end()
  await once(out, 'finish')
  const sha256 = expected.digest('hex')

  const incoming = receiver.services.stream.newControl().accept(PROTOCOL, { backlog: 4 })
  const receiving = (async () => {
    for await (const item of incoming) {
      receive(item, dir).catch(err => {
        console.error('  receiving failed: %s', err.message)
        item.stream.abort(err)
      })
    }
  })()

  console.log('libp2p-stream file transfer example: %d MiB', SIZE / MiB)
  const started = performance.now()
  const answer = await send(sender.services.stream.newControl(), receiver.getMultiaddrs(), source, 'random.bin')
  const seconds = (performance.now() - started) / 1000
  incoming.close()
  await receiving

  // hash what is on the receiver's disk, not only what it says it received
  const onDisk = createHash('sha256')
  for await (const chunk of createReadStream(answer.path)) {
    onDisk.update(chunk)
  }

  const sameOnDisk = onDisk.digest('hex') === sha256

  console.log('  sent     %s', sha256)
  console.log('  received %s (%d bytes), on disk %s', answer.sha256, answer.size, sameOnDisk ? 'the same' : 'DIFFERENT')
  console.log('  %s MB/s', (SIZE / 1e6 / seconds).toFixed(1))

  const ok = answer.size === SIZE && answer.sha256 === sha256 && sameOnDisk
  if (!ok) {
    console.error('FAILED: the file that arrived is not the file that was sent')
  }
  process.exitCode = ok ? 0 : 1
} finally {
  await Promise.all([sender.stop(), receiver.stop()])
  await rm(dir, { recursive: true, force: true })
}
