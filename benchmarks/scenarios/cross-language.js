// 6. Cross-language echo throughput: a JS opener against go-libp2p and
// rust-libp2p peers serving /interop/echo/1.0.0 (the interop peers built from
// test/interop). Both JS sides dial the same remote listener, interleaved:
// libp2p-stream's openStream against raw dialProtocol. Skipped for a peer
// whose binary is missing.
//
// The binaries live at ~/.cache/libp2p-stream/interop-bin/{go-peer,rust-peer}:
// `<bin> listen` prints one JSON line {"peerId": ..., "addrs": [...]}, serves
// until its stdin closes, and logs to stderr.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { multiaddr } from '@multiformats/multiaddr'
import { createNode } from '../lib/nodes.js'
import { countBytes, interleave, KiB, median, MiB, sendBytes, settle, summary } from '../lib/util.js'

export const name = 'cross-language'
export const title = 'Cross-language echo, JS opener -> go-libp2p / rust-libp2p listener (/interop/echo/1.0.0, TCP+noise+yamux)'

export const BIN_DIR = process.env.LIBP2P_STREAM_INTEROP_BIN ?? join(os.homedir(), '.cache', 'libp2p-stream', 'interop-bin')
export const PEERS = ['go-peer', 'rust-peer']
const ECHO = '/interop/echo/1.0.0'
const CHUNK = new Uint8Array(64 * KiB).fill(0x5a)

/**
 * Starts `<bin> listen` and resolves with its first stdout line and a stop()
 *
 * @param bin
 */
async function listen (bin) {
  const child = spawn(bin, ['listen'], { stdio: ['pipe', 'pipe', 'pipe'] })
  const stderr = []
  child.stderr.setEncoding('utf8').on('data', d => {
    stderr.push(d)
    if (stderr.length > 50) { stderr.shift() }
  })
  const exited = new Promise(resolve => child.once('exit', resolve))
  const stop = async () => {
    child.stdin.end() // the peers exit when stdin closes
    const timer = setTimeout(() => { child.kill() }, 3_000)
    await exited
    clearTimeout(timer)
  }
  try {
    const line = await new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout })
      lines.once('line', resolve)
      child.once('error', reject)
      child.once('exit', code => { reject(new Error(`${bin} listen exited with ${code}: ${stderr.join('')}`)) })
      setTimeout(() => { reject(new Error(`${bin} listen printed nothing in 15 s: ${stderr.join('')}`)) }, 15_000).unref()
    })
    return { ...JSON.parse(line), stop, stderr: () => stderr.join('') }
  } catch (err) {
    await stop()
    throw err
  }
}

export async function run ({ quick, log }) {
  const bytes = (quick ? 8 : 64) * MiB
  const rounds = quick ? 2 : 4
  const rows = []

  for (const peerName of PEERS) {
    const bin = join(BIN_DIR, peerName)
    if (!existsSync(bin)) {
      log(`  ${peerName}: skipped, no binary at ${bin}`)
      rows.push({ scenario: name, figure: `JS -> ${peerName} echo`, skipped: `no binary at ${bin}` })
      continue
    }
    rows.push(await measurePeer({ peerName, bin, bytes, rounds, log }))
  }

  return rows
}

// Echo rounds against one remote peer: openStream and raw dialProtocol
// interleaved; a failure is recorded in the row, not thrown.
async function measurePeer (options) {
  const { peerName, bin, bytes, rounds, log } = options
  const remote = await listen(bin)
  const node = await createNode('tcp', false)
  try {
    const addr = multiaddr(remote.addrs[0])
    const control = node.services.stream.newControl()
    const open = {
      stream: async () => control.openStream(addr, ECHO),
      raw: async () => node.dialProtocol(addr, ECHO)
    }
    const transfer = async (side, size) => {
      const s = await open[side]()
      const started = performance.now()
      const [, received] = await Promise.all([
        sendBytes(s, size, CHUNK).then(async () => s.close()),
        countBytes(s)
      ])
      const seconds = (performance.now() - started) / 1000
      if (received !== size) { throw new Error(`${peerName} echoed ${received} of ${size} bytes`) }
      return size / 1e6 / seconds
    }

    // a side that fails (an interop bug between the two stacks) is recorded
    // and left out of later rounds; the other side goes on, redialling if
    // the remote closed the connection
    const failures = {}
    const why = err => {
      const what = err instanceof Event ? `the stream got a '${err.type}' event while sending` : (err?.message ?? String(err))
      const remoteSays = remote.stderr().split('\n').filter(l => /error|fail|reset|closed \(/i.test(l)).slice(-1).join('')
      return `${what}${remoteSays === '' ? '' : ` (remote: ${remoteSays.trim()})`}`
    }
    const attempt = async (side, size) => {
      if (failures[side] != null) {
        return undefined
      }
      try {
        return await transfer(side, size)
      } catch (err) {
        await new Promise(resolve => setTimeout(resolve, 200)) // let the remote log why
        failures[side] = why(err)
        log(`  JS -> ${peerName} ${side}: FAILED ${failures[side]}`)
        return undefined
      }
    }

    await attempt('stream', 2 * MiB)
    await attempt('raw', 2 * MiB)
    const figures = { stream: [], raw: [] }
    const ratios = []
    for (let i = 0; i < rounds; i++) {
      const round = {}
      for (const side of interleave(i, 'stream', 'raw')) {
        await settle()
        round[side] = await attempt(side, bytes)
        if (round[side] != null) {
          figures[side].push(round[side])
        }
      }
      if (round.stream != null && round.raw != null) {
        ratios.push(round.stream / round.raw)
      }
      log(`  JS -> ${peerName} echo round ${i + 1}/${rounds}: stream ${round.stream?.toFixed(1) ?? 'failed'} MB/s, raw ${round.raw?.toFixed(1) ?? 'failed'} MB/s`)
    }
    return ({
      scenario: name,
      figure: `JS opener -> ${peerName} listener, echo (each way), ${bytes / MiB} MiB`,
      transport: 'TCP+noise+yamux',
      unit: 'MB/s',
      higherIsBetter: true,
      remotePeerId: remote.peerId,
      stream: figures.stream.length > 0 ? summary(figures.stream) : undefined,
      raw: figures.raw.length > 0 ? summary(figures.raw) : undefined,
      failed: Object.keys(failures).length > 0 ? failures : undefined,
      ratio: ratios.length > 0 ? { ...summary(ratios), ofMedians: median(figures.stream) / median(figures.raw) } : undefined
    })
  } catch (err) {
    // an interop failure is recorded for that peer, not thrown: it is a
    // finding about the two stacks, and the other peer can still be measured
    await new Promise(resolve => setTimeout(resolve, 200)) // let the remote log why
    const remoteSays = remote.stderr().split('\n').filter(l => /error|fail|reset|closed \(/i.test(l)).slice(-2).join(' | ')
    const what = err instanceof Event ? `the stream got a '${err.type}' event while sending` : (err?.message ?? String(err))
    const message = `${what}${remoteSays === '' ? '' : ` (remote: ${remoteSays})`}`
    log(`  JS -> ${peerName}: FAILED ${message}`)
    return ({ scenario: name, figure: `JS opener -> ${peerName} listener, echo (each way), ${bytes / MiB} MiB`, transport: 'TCP+noise+yamux', failed: { stream: message, raw: message } })
  } finally {
    await node.stop()
    await remote.stop()
  }
}
