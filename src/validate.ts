import { InvalidParametersError, isPeerId } from '@libp2p/interface'
import { isMultiaddr } from '@multiformats/multiaddr'
import { MAX_PROTOCOL_LENGTH } from './constants.ts'
import type { DialTarget } from '@libp2p/interface'

const encoder = new TextEncoder()

/**
 * Checks one protocol name or a non-empty list of distinct ones and returns a
 * list of its own (the caller may change theirs later). Names must start with `/`, hold no whitespace or control characters
 * (multistream-select frames them with a newline) and fit its length limit.
 */
export function validateProtocols (protocol: unknown, parameter = 'protocol'): string[] {
  // one name found valid before (an open's usual argument) is not checked again
  if (typeof protocol === 'string' && validNames.has(protocol)) {
    return [protocol]
  }

  const protocols = Array.isArray(protocol) ? [...protocol] : [protocol]

  if (protocols.length === 0) {
    throw new InvalidParametersError(`${parameter} must be a protocol string or a non-empty list of them`)
  }

  const seen = new Set<string>()

  for (const p of protocols) {
    if (typeof p !== 'string') {
      throw new InvalidParametersError(`${parameter} must be a string starting with "/", got ${describe(p)}`)
    }

    if (!p.startsWith('/') || p.length < 2) {
      throw new InvalidParametersError(`${parameter} "${p}" must start with "/" and name a protocol`)
    }

    if (/[\s\p{Cc}]/u.test(p)) {
      throw new InvalidParametersError(`${parameter} "${p}" must not contain whitespace or control characters`)
    }

    // multistream-select counts the trailing newline in its limit
    const length = encoder.encode(p).byteLength + 1

    if (length > MAX_PROTOCOL_LENGTH) {
      throw new InvalidParametersError(`${parameter} is ${length - 1} bytes long, multistream-select allows at most ${MAX_PROTOCOL_LENGTH - 1}`)
    }

    if (seen.has(p)) {
      throw new InvalidParametersError(`${parameter} list names "${p}" twice`)
    }

    seen.add(p)
  }

  if (typeof protocol === 'string' && validNames.size < MAX_VALID_NAMES) {
    validNames.add(protocol)
  }

  return protocols
}

/** Single protocol names that passed `validateProtocols`, up to `MAX_VALID_NAMES` */
const validNames = new Set<string>()
const MAX_VALID_NAMES = 1024

/**
 * Checks a count option: a non-negative safe integer (or at least `min`).
 * Returns `fallback` when the value is `undefined`.
 */
export function validateCount (value: unknown, parameter: string, fallback: number, min = 0): number {
  if (value === undefined) {
    return fallback
  }

  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidParametersError(`${parameter} must be an integer >= ${min}, got ${describe(value)}`)
  }

  return value
}

/**
 * Checks a rate option (per second): a positive number, or `Infinity` for none.
 */
export function validateRate (value: unknown, parameter: string, fallback: number): number {
  if (value === undefined) {
    return fallback
  }

  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new InvalidParametersError(`${parameter} must be a positive number per second, or Infinity, got ${describe(value)}`)
  }

  return value
}

/**
 * Checks a duration option in milliseconds: a positive finite number.
 */
export function validateTimeout (value: unknown, parameter: string, fallback: number): number {
  if (value === undefined) {
    return fallback
  }

  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidParametersError(`${parameter} must be a positive number of milliseconds, got ${describe(value)}`)
  }

  // a longer delay overflows setTimeout, which then fires at once
  if (value > MAX_TIMER_DELAY) {
    throw new InvalidParametersError(`${parameter} must be at most ${MAX_TIMER_DELAY} ms (what a timer can wait), got ${describe(value)}`)
  }

  return value
}

/** The longest delay `setTimeout` honours: 2^31 - 1 ms, about 24.8 days */
const MAX_TIMER_DELAY = 2_147_483_647

/**
 * Checks that `signal`, when given, is an `AbortSignal`.
 */
export function validateSignal (signal: unknown): AbortSignal | undefined {
  if (signal === undefined) {
    return undefined
  }

  if (!(signal instanceof AbortSignal)) {
    throw new InvalidParametersError(`signal must be an AbortSignal, got ${describe(signal)}`)
  }

  return signal
}

/**
 * Checks an options argument: `undefined` or a plain object.
 */
export function validateOptions <T extends object> (options: unknown, parameter = 'options'): Partial<T> {
  if (options === undefined) {
    return {}
  }

  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidParametersError(`${parameter} must be an object, got ${describe(options)}`)
  }

  return options as Partial<T>
}

/**
 * Checks an `openStream` target: a `PeerId`, a `Multiaddr` or a non-empty list
 * of multiaddrs.
 */
export function validateTarget (target: unknown): DialTarget {
  if (isPeerId(target) || isMultiaddr(target)) {
    return target
  }

  if (Array.isArray(target) && target.length > 0 && target.every(ma => isMultiaddr(ma))) {
    return target
  }

  throw new InvalidParametersError(`target must be a PeerId, a Multiaddr or a non-empty list of Multiaddrs, got ${describe(target)}`)
}

function describe (value: unknown): string {
  if (value === null) {
    return 'null'
  }

  if (Array.isArray(value)) {
    return value.length === 0 ? 'an empty list' : 'a list'
  }

  if (typeof value === 'number' || typeof value === 'boolean') {
    return `${typeof value} ${String(value)}`
  }

  if (typeof value === 'string') {
    return `string "${value.length > 40 ? value.slice(0, 40) + '…' : value}"`
  }

  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value
}

/**
 * Checks a flag option: `undefined` or a boolean.
 */
export function validateFlag (value: unknown, parameter: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new InvalidParametersError(`${parameter} must be a boolean, got ${describe(value)}`)
  }

  return value
}

/**
 * Checks a callback option: `undefined` or a function.
 */
export function validateFunction <F extends (...args: any[]) => any> (value: F | undefined, parameter: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') {
    throw new InvalidParametersError(`${parameter} must be a function, got ${describe(value)}`)
  }

  return value
}
