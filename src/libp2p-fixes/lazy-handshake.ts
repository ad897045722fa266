import { TimeoutError, UnsupportedProtocolError } from '@libp2p/interface'
import { AnswerReader, handshake } from './lazy-answers.ts'
import { takeOver } from './lazy-methods.ts'
import type { LazyState } from './lazy-methods.ts'
import type { Stream } from '@libp2p/interface'

/** How a lazy open is set up */
export interface LazyOptions {
  maxOutboundStreams: number
  runOnLimitedConnection?: boolean
  /** How long the listener may take to answer once the handshake is sent, in ms */
  negotiationTimeout: number
  /** Told once when the listener's answer is known: `undefined` for agreed */
  onAnswer(err?: Error): void
  log(message: string, ...args: any[]): void
}

/**
 * The state of one lazy stream: own methods on the stream that send the
 * handshake with the first write (or read, or close), hold received bytes
 * until both answers are in, and report a refusal on every later call.
 */
export class LazyHandshake implements LazyState {
  private readonly stream: Stream
  readonly protocol: string
  private readonly options: LazyOptions
  private readonly agreed: () => void
  /** The handshake went out */
  sent = false
  /** The listener agreed */
  answered = false
  /** Why the negotiation failed, once it did */
  error?: Error
  private readonly answers: AnswerReader
  private timer?: ReturnType<typeof setTimeout>
  private told = false
  private readonly waiters: Array<(err?: Error) => void> = []

  /** Makes `stream` lazy: its own methods below take over from its class's */
  static install (stream: Stream, protocol: string, options: LazyOptions, agreed: () => void): void {
    // eslint-disable-next-line no-new
    new LazyHandshake(stream, protocol, options, agreed)
  }

  private constructor (stream: Stream, protocol: string, options: LazyOptions, agreed: () => void) {
    this.stream = stream
    this.protocol = protocol
    this.options = options
    this.agreed = agreed
    this.answers = new AnswerReader(protocol)
    takeOver(stream, this)

    // a stream that ends before the answer (a reset, or the application's
    // abort) reports why on every later call, as a refusal does
    stream.addEventListener('close', (evt: Event & { error?: Error }) => {
      clearTimeout(this.timer)

      if (!this.answered) {
        this.error ??= evt.error ?? new UnsupportedProtocolError(`The stream closed before the remote agreed on ${protocol}`)
        this.settle(this.error)
      }
    }, { once: true })
  }

  /**
   * Puts the header and the protocol in the write buffer, so they go out in
   * the same frame as `data` (or alone, when there is none), and starts the
   * wait for the answers.
   */
  flush (withData: boolean): void {
    this.sent = true
    const bytes = handshake(this.protocol)

    if (withData) {
      (this.stream as any).writeBuffer.append(bytes)
    } else {
      Object.getPrototypeOf(this.stream).send.call(this.stream, bytes)
    }

    this.timer = setTimeout(() => {
      this.fail(new TimeoutError(`The remote did not answer the negotiation of ${this.protocol} within ${this.options.negotiationTimeout} ms`))
    }, this.options.negotiationTimeout)
  }

  /** Waits until the listener answered; rejects with why it refused */
  async answer (signal?: AbortSignal): Promise<void> {
    if (this.answered) {
      return
    }

    if (this.error != null) {
      throw this.error
    }

    const { promise, resolve, reject } = Promise.withResolvers<void>()
    const onAbort = (): void => { reject(signal?.reason) }
    this.waiters.push(err => { err == null ? resolve() : reject(err) })
    signal?.addEventListener('abort', onAbort, { once: true })

    try {
      await promise
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Takes the answers from what arrived; returns what follows them (the
   * listener's first data) once both are in, `undefined` until then.
   */
  read (data: Uint8Array): Uint8Array | undefined {
    const result = this.answers.push(data)

    if (result.state === 'refused') {
      this.fail(result.error)
      return undefined
    }

    if (result.state === 'waiting') {
      return undefined
    }

    this.answered = true
    clearTimeout(this.timer)
    this.agreed()
    this.settle()

    return result.rest
  }

  /** The listener refused or broke the negotiation: the stream is reset and every later call throws `err` */
  fail (err: Error): void {
    if (this.error != null || this.answered) {
      return
    }

    this.error = err
    clearTimeout(this.timer)
    this.options.log('lazy negotiation of %s failed - %e', this.protocol, err)
    this.settle(err)
    this.stream.abort(err)
  }

  /** Tells `onAnswer` (once) and every `close()` waiting for the answer */
  private settle (err?: Error): void {
    if (!this.told) {
      this.told = true
      this.options.onAnswer(err)
    }

    for (const waiter of this.waiters.splice(0)) {
      waiter(err)
    }
  }
}
