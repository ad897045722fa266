import { InvalidMessageError, UnsupportedProtocolError } from '@libp2p/interface'

/**
 * The multistream-select 1.0 messages of a lazy open, without any stream: the
 * handshake the opener sends, and a reader of the listener's two answers
 * (the header, then the protocol echoed back) from bytes as they arrive.
 */

/** The multistream-select 1.0 header */
export const HEADER = '/multistream/1.0.0'

/** The longest answer accepted, in bytes with its newline (multistream-select's own limit) */
export const MAX_ANSWER = 1024

const NEWLINE = 0x0a
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** What the opener sends ahead of its first write: the header and the protocol, each a message */
export function handshake (protocol: string): Uint8Array {
  return concat([message(HEADER), message(protocol)])
}

/** One multistream-select message: an unsigned varint length, the text, a newline */
export function message (text: string): Uint8Array {
  const body = encoder.encode(`${text}\n`)
  const prefix: number[] = []
  let n = body.byteLength

  while (n >= 0x80) {
    prefix.push((n & 0x7f) | 0x80)
    n >>>= 7
  }

  prefix.push(n)

  return concat([Uint8Array.from(prefix), body])
}

/** Where reading the answers stands after some bytes */
export type AnswerResult =
  | { state: 'waiting' }
  | { state: 'agreed', rest: Uint8Array }
  | { state: 'refused', error: Error }

/**
 * Reads the listener's answers to `protocol` from chunks as they arrive. It
 * holds at most one incomplete answer (copied, so no chunk's buffer is pinned).
 */
export class AnswerReader {
  private readonly protocol: string
  private pending?: Uint8Array
  private headerSeen = false

  constructor (protocol: string) {
    this.protocol = protocol
  }

  /** Takes the next chunk: `agreed` with what follows the answers (the listener's first data), `refused` with why, or `waiting` for more */
  push (chunk: Uint8Array): AnswerResult {
    let bytes = this.pending == null ? chunk : concat([this.pending, chunk])
    this.pending = undefined

    while (true) {
      const [length, offset] = decodeLength(bytes)

      if (length !== undefined && length > MAX_ANSWER) {
        return this.refuse(new InvalidMessageError(`The remote's answer to ${this.protocol} is longer than ${MAX_ANSWER} bytes`))
      }

      if (length === undefined || bytes.byteLength < offset + length) {
        this.pending = bytes.slice()
        return { state: 'waiting' }
      }

      const body = bytes.subarray(offset, offset + length)
      bytes = bytes.subarray(offset + length)

      if (body.byteLength === 0 || body[body.byteLength - 1] !== NEWLINE) {
        return this.refuse(new InvalidMessageError(`The remote's answer to ${this.protocol} is missing its newline`))
      }

      const answer = decoder.decode(body.subarray(0, -1))

      if (!this.headerSeen) {
        if (answer !== HEADER) {
          return this.refuse(new UnsupportedProtocolError(`The remote does not speak multistream-select 1.0 (answered "${answer}")`))
        }

        this.headerSeen = true
        continue
      }

      if (answer !== this.protocol) {
        return this.refuse(new UnsupportedProtocolError(`The remote does not support ${this.protocol} (answered "${answer}")`))
      }

      return { state: 'agreed', rest: bytes }
    }
  }

  private refuse (error: Error): AnswerResult {
    this.pending = undefined
    return { state: 'refused', error }
  }
}

/**
 * An unsigned varint at the start of `bytes` and the offset after it;
 * `undefined` while incomplete. Two bytes cover every answer allowed, so a
 * third continuation byte means one too long (`Infinity`).
 */
function decodeLength (bytes: Uint8Array): [number | undefined, number] {
  let value = 0

  for (let i = 0; i < bytes.byteLength; i++) {
    if (i === 2) {
      return [Infinity, 0]
    }

    value += (bytes[i] & 0x7f) * 2 ** (7 * i)

    if ((bytes[i] & 0x80) === 0) {
      return [value, i + 1]
    }
  }

  return [undefined, 0]
}

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0))
  let offset = 0

  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }

  return out
}
