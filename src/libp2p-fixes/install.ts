/**
 * How the per-stream workarounds are put in place without costing every open:
 * each is installed once per stream class, on the prototype of the first
 * stream of that class this package hands out, and takes effect only for the
 * streams in `fixed`. Any other stream of the class (a raw `handle()` or
 * `dialProtocol()` stream) goes straight to the original method after one
 * `WeakSet` lookup, and nothing is allocated or assigned per stream.
 *
 * A method a stream holds as its own property (no stream class in libp2p 3.x
 * does that for the methods patched here) is wrapped on that stream alone,
 * as the workarounds used to be.
 */

/** Streams this package handed out (accepted or opened): the only ones the workarounds apply to */
export const fixed = new WeakSet<object>()

/** Every method installed here, so that a prototype whose ancestor already has one is left alone */
const installed = new WeakSet<Function>()

type Method = (this: any, ...args: any[]) => any

/**
 * Replaces `stream[name]` with `wrap(original)`: on the stream's prototype,
 * once for every stream of its class, or on the stream itself when the
 * stream has the method as its own property. Does nothing when the stream
 * has no such method or it is already wrapped.
 *
 * The wrapper must behave exactly as `original` for a stream not in `fixed`.
 */
export function install (stream: object, name: PropertyKey, wrap: (original: Method) => Method): void {
  const own = Object.hasOwn(stream, name)
  const target: object | null = own ? stream : Object.getPrototypeOf(stream)

  if (target == null) {
    return
  }

  const original: unknown = Reflect.get(target, name)

  if (typeof original !== 'function' || installed.has(original)) {
    return
  }

  const wrapper = wrap(original as Method)
  installed.add(wrapper)
  Object.defineProperty(target, name, { value: wrapper, writable: true, configurable: true, enumerable: false })
}

/** Whether `stream` holds any of `names` as its own property rather than its class's */
export function holdsOwn (stream: object, names: readonly PropertyKey[]): boolean {
  for (const name of names) {
    if (Object.hasOwn(stream, name)) {
      return true
    }
  }

  return false
}
