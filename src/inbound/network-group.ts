import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * The network group a connection comes from, for fairness between groups:
 * identities cost nothing, addresses in distinct networks do. Connections in
 * the same group share their backlog slots when the acceptor decides whom to
 * evict.
 *
 * - IPv4: the /24 (`ip4:192.0.2`)
 * - IPv6: the /48 (`ip6:2001:db8:0`); an IPv4-mapped address counts as IPv4
 * - relayed: the relay's peer id (`relay:12D3…`), whatever the relay's address
 * - anything else (memory, unresolved DNS): the address itself
 */
export function networkGroup (remoteAddr: Multiaddr): string {
  let group = groups.get(remoteAddr)

  if (group == null) {
    group = groupOf(remoteAddr)
    groups.set(remoteAddr, group)
  }

  return group
}

/**
 * Groups by address object: a connection keeps its `remoteAddr`, so the
 * streams of one connection compute it once.
 */
const groups = new WeakMap<Multiaddr, string>()

function groupOf (remoteAddr: Multiaddr): string {
  const components = remoteAddr.getComponents()
  const circuit = components.findIndex(c => c.name === 'p2p-circuit')

  if (circuit > 0) {
    const relay = components.slice(0, circuit).findLast(c => c.name === 'p2p')
    return `relay:${relay?.value ?? remoteAddr.toString()}`
  }

  // a link-local address names its zone first; the zone is no network
  const ip = components[0]?.name === 'ip6zone' ? components[1] : components[0]

  if (ip?.name === 'ip4' && ip.value != null) {
    return `ip4:${ip.value.split('.').slice(0, 3).join('.')}`
  }

  if (ip?.name === 'ip6' && ip.value != null) {
    const hextets = expandIPv6(ip.value)

    // IPv4-mapped (::ffff:a.b.c.d, which multiaddr spells ::ffff:abcd:efgh)
    if (hextets.slice(0, 5).every(h => h === '0') && hextets[5] === 'ffff') {
      const high = parseInt(hextets[6], 16)
      const low = parseInt(hextets[7], 16)
      return `ip4:${high >> 8}.${high & 0xff}.${low >> 8}`
    }

    return `ip6:${hextets.slice(0, 3).join(':')}`
  }

  return remoteAddr.toString()
}

/** The eight hextets of an IPv6 address, `::` filled in, zone dropped, a dotted IPv4 tail as two hextets */
function expandIPv6 (address: string): string[] {
  const [head, tail] = dottedTailToHex(address.split('%')[0].toLowerCase()).split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail == null || tail === '' ? [] : tail.split(':')
  const zeros = tail == null ? [] : new Array(8 - left.length - right.length).fill('0')

  return [...left, ...zeros, ...right].map(hextet => hextet.replace(/^0+(?=.)/, ''))
}

/** `…:1.2.3.4` as `…:102:304` */
function dottedTailToHex (address: string): string {
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address)

  if (dotted == null) {
    return address
  }

  const [a, b, c, d] = dotted.slice(2).map(Number)
  return `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
}
