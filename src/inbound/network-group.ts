import { multiaddr } from '@multiformats/multiaddr'
import type { Component, Multiaddr } from '@multiformats/multiaddr'

/**
 * The network group a connection comes from, for fairness between groups:
 * identities cost nothing, addresses in distinct networks do. Connections in
 * the same group share their backlog slots when the acceptor decides whom to
 * evict.
 *
 * - IPv4: the /24 (`ip4:192.0.2`)
 * - IPv6: the /48 (`ip6:2001:db8:0`); a zone (link-local) is no network
 * - IPv6 that embeds an IPv4 address: that address's /24, as IPv4 (`ip4:…`):
 * IPv4-mapped (`::ffff:0:0/96`), 6to4 (`2002::/16`, the address in hextets
 * 2-3), NAT64 (`64:ff9b::/96`, and `64:ff9b:1::/48` in its /96 form: the
 * address in the last 32 bits)
 * - relayed: the group of the relay's own address, what precedes the first
 * `/p2p-circuit`, without the relay's peer id (relay ids cost nothing
 * either); a relayed address that does not name the relay's address (only
 * one this node dialed can) is in the group `relay`
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

  if (circuit === -1) {
    return ipGroup(components) ?? remoteAddr.toString()
  }

  const relay = components.slice(0, circuit).filter(c => c.name !== 'p2p')

  if (relay.length === 0) {
    return 'relay'
  }

  return ipGroup(relay) ?? multiaddr(relay).toString()
}

/** The group of an address that starts with an IP address, else undefined */
function ipGroup (components: Component[]): string | undefined {
  // a link-local address names its zone first; the zone is no network
  const ip = components[0]?.name === 'ip6zone' ? components[1] : components[0]

  if (ip?.name === 'ip4' && ip.value != null) {
    return `ip4:${ip.value.split('.').slice(0, 3).join('.')}`
  }

  if (ip?.name === 'ip6' && ip.value != null) {
    const hextets = expandIPv6(ip.value)
    const embedded = embeddedIPv4(hextets)

    if (embedded != null) {
      const [high, low] = embedded.map(h => parseInt(h, 16))
      return `ip4:${high >> 8}.${high & 0xff}.${low >> 8}`
    }

    return `ip6:${hextets.slice(0, 3).join(':')}`
  }

  return undefined
}

/**
 * The two hextets of the IPv4 address an IPv6 address embeds, if it is of a
 * form that embeds one where it can be told: the rest of the address is the
 * same for every host of the IPv4 network, so it would give one group per
 * IPv4 address (6to4) or one for all of them (NAT64).
 */
function embeddedIPv4 (hextets: string[]): string[] | undefined {
  // IPv4-mapped (::ffff:a.b.c.d, which multiaddr spells ::ffff:abcd:efgh)
  if (hextets.slice(0, 5).every(h => h === '0') && hextets[5] === 'ffff') {
    return hextets.slice(6)
  }

  // 6to4: 2002:abcd:efgh::/48
  if (hextets[0] === '2002') {
    return hextets.slice(1, 3)
  }

  // NAT64 /96 forms of the well-known prefix (RFC 6052) and the local-use
  // prefix (RFC 8215); the local-use prefix may also be used at lengths that
  // put the address in the middle, which cannot be told apart from other
  // uses, so only hextets 4-6 all zero counts (no IPv4 host gives that)
  if (hextets[0] === '64' && hextets[1] === 'ff9b' && (hextets[2] === '0' || hextets[2] === '1') && hextets.slice(3, 6).every(h => h === '0')) {
    return hextets.slice(6)
  }

  return undefined
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
