import { expect } from 'aegir/chai'
import { AnswerReader, HEADER, MAX_ANSWER, handshake, message } from '../../src/libp2p-fixes/lazy-answers.ts'

const P = '/test/echo/1.0.0'
const DATA = new Uint8Array([1, 2, 3, 4, 5])

function concat (...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap(part => [...part]))
}

describe('lazy open: the multistream-select messages', () => {
  it('sends the header and the protocol, each as varint length, text and newline', () => {
    expect(handshake(P)).to.equalBytes(concat(
      Uint8Array.from([HEADER.length + 1]), new TextEncoder().encode(`${HEADER}\n`),
      Uint8Array.from([P.length + 1]), new TextEncoder().encode(`${P}\n`)
    ))
  })

  it('writes a two-byte varint for a message of 128 bytes or more', () => {
    const long = `/${'a'.repeat(200)}`
    expect(message(long).subarray(0, 2)).to.equalBytes(Uint8Array.from([(202 & 0x7f) | 0x80, 202 >> 7]))
  })

  it('agrees when both answers arrive in one chunk, and hands on the data after them', () => {
    const result = new AnswerReader(P).push(concat(handshake(P), DATA))
    expect(result.state).to.equal('agreed')
    expect(result.state === 'agreed' && result.rest).to.equalBytes(DATA)
  })

  it('agrees whatever the chunking: split at every byte boundary', () => {
    const wire = concat(handshake(P), DATA)

    for (let cut = 1; cut < wire.byteLength; cut++) {
      const reader = new AnswerReader(P)
      const first = reader.push(wire.subarray(0, cut))
      const handshakeLength = handshake(P).byteLength

      if (cut >= handshakeLength) {
        expect(first.state, `cut at ${cut}`).to.equal('agreed')
        expect(first.state === 'agreed' && first.rest, `cut at ${cut}`).to.equalBytes(wire.subarray(handshakeLength, cut))
        continue
      }

      expect(first.state, `cut at ${cut}`).to.equal('waiting')
      const second = reader.push(wire.subarray(cut))
      expect(second.state, `cut at ${cut}`).to.equal('agreed')
      expect(second.state === 'agreed' && second.rest, `cut at ${cut}`).to.equalBytes(DATA)
    }
  })

  it('agrees one byte at a time', () => {
    const reader = new AnswerReader(P)
    const wire = handshake(P)
    let result = reader.push(wire.subarray(0, 1))

    for (let i = 1; i < wire.byteLength; i++) {
      expect(result.state).to.equal('waiting')
      result = reader.push(wire.subarray(i, i + 1))
    }

    expect(result.state).to.equal('agreed')
  })

  it('refuses with UnsupportedProtocolError on "na"', () => {
    const result = new AnswerReader(P).push(concat(message(HEADER), message('na')))
    expect(result.state).to.equal('refused')
    expect(result.state === 'refused' && result.error).to.have.property('name', 'UnsupportedProtocolError')
  })

  it('refuses with UnsupportedProtocolError when another protocol is echoed', () => {
    const result = new AnswerReader(P).push(concat(message(HEADER), message('/test/other/1.0.0')))
    expect(result.state === 'refused' && result.error).to.have.property('name', 'UnsupportedProtocolError')
  })

  it('refuses with UnsupportedProtocolError when the first answer is not the multistream-select header', () => {
    const result = new AnswerReader(P).push(message('/multistream/2.0.0'))
    expect(result.state === 'refused' && result.error).to.have.property('name', 'UnsupportedProtocolError')
  })

  it('refuses with InvalidMessageError an answer without its newline', () => {
    const result = new AnswerReader(P).push(Uint8Array.from([3, 0x61, 0x62, 0x63]))
    expect(result.state === 'refused' && result.error).to.have.property('name', 'InvalidMessageError')
  })

  it('refuses with InvalidMessageError an empty answer', () => {
    const result = new AnswerReader(P).push(Uint8Array.from([0]))
    expect(result.state === 'refused' && result.error).to.have.property('name', 'InvalidMessageError')
  })

  it(`refuses with InvalidMessageError an answer announced longer than ${MAX_ANSWER} bytes, without waiting for it`, () => {
    const result = new AnswerReader(P).push(Uint8Array.from([(1025 & 0x7f) | 0x80, 1025 >> 7]))
    expect(result.state === 'refused' && result.error).to.have.property('name', 'InvalidMessageError')
  })

  it('refuses a length of three varint bytes (longer than any answer) at its third byte', () => {
    const reader = new AnswerReader(P)
    expect(reader.push(Uint8Array.from([0x80, 0x80])).state).to.equal('waiting')
    expect(reader.push(Uint8Array.from([0x01])).state).to.equal('refused')
  })

  it('holds a copy of an incomplete answer, not a view of the chunk', () => {
    const reader = new AnswerReader(P)
    const wire = handshake(P)
    const chunk = wire.slice(0, 10)
    expect(reader.push(chunk).state).to.equal('waiting')
    chunk.fill(0)
    expect(reader.push(wire.subarray(10)).state).to.equal('agreed')
  })
})
