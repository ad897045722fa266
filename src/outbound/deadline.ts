import { TimeoutError } from '@libp2p/interface'

/**
 * The one timer that bounds an open: `openTimeout` over the dial and the
 * negotiation together (libp2p bounds a dial only per address and per
 * stage), or `negotiationTimeout` from the connection on when that is the
 * tighter bound. On a reused connection it is armed once.
 */
export class Deadline {
  private readonly controller: AbortController
  private readonly openTimeout: number
  private readonly negotiationTimeout: number
  private readonly started = Date.now()
  private readonly dialling: boolean
  private timer: ReturnType<typeof setTimeout>

  constructor (controller: AbortController, openTimeout: number, negotiationTimeout: number, connected: boolean) {
    this.controller = controller
    this.openTimeout = openTimeout
    this.negotiationTimeout = negotiationTimeout
    this.dialling = !connected
    this.timer = connected && negotiationTimeout < openTimeout
      ? this.abortAfter(negotiationTimeout, 'Protocol negotiation')
      : this.abortAfter(openTimeout, 'The open (dial and protocol negotiation)')
  }

  /** The connection is there: the negotiation's own bound applies when it ends sooner */
  connected (): void {
    if (this.dialling && this.negotiationTimeout < this.openTimeout - (Date.now() - this.started)) {
      clearTimeout(this.timer)
      this.timer = this.abortAfter(this.negotiationTimeout, 'Protocol negotiation')
    }
  }

  clear (): void {
    clearTimeout(this.timer)
  }

  private abortAfter (ms: number, what: string): ReturnType<typeof setTimeout> {
    return setTimeout(() => {
      this.controller.abort(new TimeoutError(`${what} took longer than ${ms} ms`))
    }, ms)
  }
}
