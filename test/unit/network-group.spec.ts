import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { networkGroup } from '../../src/inbound/network-group.ts'
import { random } from '../fixtures/random.ts'

const RELAY = '12D3KooWAEavbVAYuVQVvz8NCEZvKK1RSzuT6HwZEzBTvBWPuNUT'
const OTHER_RELAY = '12D3KooWLF4vvhnw3rA1Q4Mv2pf2F8Mu8TfVjJzmWwhGbqyShQ5k'

function group (address: string): string {
  return networkGroup(multiaddr(address))
}

describe('unit: networkGroup', () => {
  it('groups IPv4 addresses by their /24', () => {
    expect(group('/ip4/192.0.2.7/tcp/4001')).to.equal('ip4:192.0.2')
    expect(group('/ip4/192.0.2.250/udp/9/quic-v1')).to.equal('ip4:192.0.2')
    expect(group('/ip4/192.0.3.7/tcp/4001')).to.not.equal(group('/ip4/192.0.2.7/tcp/4001'))
  })

  it('groups IPv6 addresses by their /48, whatever the port', () => {
    expect(group('/ip6/2001:db8:1:2::1/tcp/1')).to.equal('ip6:2001:db8:1')
    expect(group('/ip6/2001:db8:1:ffff::9/tcp/2')).to.equal('ip6:2001:db8:1')
    expect(group('/ip6/2001:db8:2::1/tcp/1')).to.equal('ip6:2001:db8:2')
  })

  it('expands :: before taking the /48, wherever it stands', () => {
    expect(group('/ip6/2001:db8::1/tcp/1')).to.equal('ip6:2001:db8:0')
    expect(group('/ip6/::1/tcp/1')).to.equal('ip6:0:0:0')
    expect(group('/ip6/1::/tcp/1')).to.equal('ip6:1:0:0')
    expect(group('/ip6/1:2:3:4:5:6:7:8/tcp/1')).to.equal('ip6:1:2:3')
  })

  it('reads IPv6 in any spelling the same way: leading zeros and upper case', () => {
    expect(group('/ip6/2001:0DB8:0001:0000::5/tcp/1')).to.equal('ip6:2001:db8:1')
  })

  it('property: any spelling of an IPv6 address, :: anywhere, gives the /48 of its eight hextets (forms that embed an IPv4 address aside)', () => {
    const rng = random(48)

    for (let i = 0; i < 500; i++) {
      // hextets with runs of zeros, so :: has something to stand for
      const hextets = Array.from({ length: 8 }, () => rng.below(3) === 0 ? 0 : rng.below(0x10000))
      const start = rng.below(8)
      const length = 1 + rng.below(8 - start)
      const zeroed = hextets.map((h, j) => j >= start && j < start + length ? 0 : h)

      if (zeroed[0] === 0x2002 || zeroed[0] === 0x64) {
        continue // 6to4 and NAT64 embed an IPv4 address: tested below
      }

      const hex = zeroed.map(h => h.toString(16))
      const written = `${hex.slice(0, start).join(':')}::${hex.slice(start + length).join(':')}`

      expect(group(`/ip6/${written}/tcp/1`), written).to.equal(`ip6:${hex.slice(0, 3).join(':')}`)
    }
  })

  it('property: any IPv4 address gives its first three octets', () => {
    const rng = random(24)

    for (let i = 0; i < 500; i++) {
      const octets = Array.from({ length: 4 }, () => rng.below(256))
      expect(group(`/ip4/${octets.join('.')}/tcp/1`)).to.equal(`ip4:${octets.slice(0, 3).join('.')}`)
    }
  })

  // @multiformats/multiaddr 13 stores "::ffff:192.0.2.7" as "::ffff:c000:207"
  it('counts an IPv4-mapped IPv6 address as the IPv4 address it maps', () => {
    expect(group('/ip6/::ffff:192.0.2.7/tcp/1')).to.equal('ip4:192.0.2')
    expect(group('/ip6/::ffff:198.51.100.1/tcp/1')).to.equal('ip4:198.51.100')
  })

  it('groups a link-local address with a zone by its address, not the whole multiaddr', () => {
    expect(group('/ip6zone/eth0/ip6/fe80::1/tcp/1')).to.equal('ip6:fe80:0:0')
    expect(group('/ip6zone/eth0/ip6/fe80::2/tcp/2')).to.equal('ip6:fe80:0:0')
  })

  it('counts a 6to4 address (2002::/16) as the IPv4 address it embeds in its second and third hextets', () => {
    expect(group('/ip6/2002:c000:207::1/tcp/1')).to.equal('ip4:192.0.2')
    expect(group('/ip6/2002:c000:2fe:5:6::9/tcp/2')).to.equal('ip4:192.0.2')
    expect(group('/ip6/2002:c633:6401::/tcp/1')).to.equal('ip4:198.51.100')
    expect(group('/ip6/2002:c000:307::1/tcp/1')).to.not.equal(group('/ip6/2002:c000:207::1/tcp/1'))
  })

  it('property: the 256 hosts of an IPv4 /24 behind 6to4, whatever their subnet and interface, are one group', () => {
    const rng = random(6)

    for (let i = 0; i < 500; i++) {
      const octets = Array.from({ length: 4 }, () => rng.below(256))
      const embedded = [(octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]]
      const rest = Array.from({ length: 5 }, () => rng.below(0x10000))
      const written = [0x2002, ...embedded, ...rest].map(h => h.toString(16)).join(':')

      expect(group(`/ip6/${written}/tcp/1`), written).to.equal(`ip4:${octets.slice(0, 3).join('.')}`)
    }
  })

  it('counts a NAT64 address of the well-known prefix (64:ff9b::/96) as the IPv4 address in its last 32 bits', () => {
    expect(group('/ip6/64:ff9b::192.0.2.7/tcp/1')).to.equal('ip4:192.0.2')
    expect(group('/ip6/64:ff9b::c000:2fe/tcp/1')).to.equal('ip4:192.0.2')
    expect(group('/ip6/64:ff9b::c633:6401/tcp/1')).to.equal('ip4:198.51.100')
    expect(group('/ip6/64:ff9b::203.0.113.1/tcp/1')).to.not.equal(group('/ip6/64:ff9b::192.0.2.7/tcp/1'))
  })

  it('counts a NAT64 address of the local-use prefix (64:ff9b:1::/48) in its /96 form as the IPv4 address in its last 32 bits', () => {
    expect(group('/ip6/64:ff9b:1::192.0.2.7/tcp/1')).to.equal('ip4:192.0.2')
    expect(group('/ip6/64:ff9b:1::203.0.113.9/tcp/1')).to.equal('ip4:203.0.113')
  })

  it('groups other addresses under the NAT64 prefixes by their /48, as any IPv6 address: their IPv4 address cannot be told', () => {
    // a local-use prefix longer than /48 and shorter than /96 puts the IPv4 address in the middle
    expect(group('/ip6/64:ff9b:1:c000:2:700::/tcp/1')).to.equal('ip6:64:ff9b:1')
    // outside the /96 of the well-known prefix
    expect(group('/ip6/64:ff9b:0:0:1::1/tcp/1')).to.equal('ip6:64:ff9b:0')
  })

  it('property: every IPv4 address behind NAT64, either prefix, groups with the same address reached directly', () => {
    const rng = random(64)

    for (let i = 0; i < 500; i++) {
      const octets = Array.from({ length: 4 }, () => rng.below(256))
      const prefix = rng.below(2) === 0 ? '64:ff9b::' : '64:ff9b:1::'

      expect(group(`/ip6/${prefix}${octets.join('.')}/tcp/1`)).to.equal(group(`/ip4/${octets.join('.')}/tcp/1`))
    }
  })

  it('groups a relayed address by the network group of the relay\'s own address, whatever the relay\'s peer id or the target', () => {
    expect(group(`/ip4/192.0.2.7/tcp/1/p2p/${RELAY}/p2p-circuit/p2p/${OTHER_RELAY}`)).to.equal('ip4:192.0.2')
    expect(group(`/ip4/192.0.2.8/tcp/2/p2p/${OTHER_RELAY}/p2p-circuit/p2p/${RELAY}`)).to.equal('ip4:192.0.2')
    expect(group(`/ip4/192.0.3.7/tcp/1/p2p/${RELAY}/p2p-circuit/p2p/${OTHER_RELAY}`)).to.equal('ip4:192.0.3')
    expect(group(`/ip6/2001:db8::1/tcp/9/p2p/${RELAY}/p2p-circuit`)).to.equal('ip6:2001:db8:0')
    expect(group(`/ip6/2002:c000:207::1/tcp/9/p2p/${RELAY}/p2p-circuit/p2p/${OTHER_RELAY}`)).to.equal('ip4:192.0.2')
    expect(group(`/ip6/64:ff9b::192.0.2.7/tcp/9/p2p/${RELAY}/p2p-circuit/p2p/${OTHER_RELAY}`)).to.equal('ip4:192.0.2')
    expect(group(`/ip6zone/eth0/ip6/fe80::1/tcp/9/p2p/${RELAY}/p2p-circuit/p2p/${OTHER_RELAY}`)).to.equal('ip6:fe80:0:0')
  })

  it('counts a relayed connection in the same group as a direct one from the relay\'s network', () => {
    expect(group(`/ip4/192.0.2.7/tcp/1/p2p/${RELAY}/p2p-circuit/p2p/${OTHER_RELAY}`)).to.equal(group('/ip4/192.0.2.200/tcp/4001'))
  })

  it('property: any number of relay ids on one address are one group', () => {
    const ids = new Set<string>()

    for (let i = 0; i < 100; i++) {
      ids.add(group(`/ip4/127.0.0.1/tcp/${1000 + i}/p2p/${i % 2 === 0 ? RELAY : OTHER_RELAY}/p2p-circuit/p2p/${i % 3 === 0 ? RELAY : OTHER_RELAY}`))
    }

    expect([...ids]).to.deep.equal(['ip4:127.0.0'])
  })

  it('groups a connection relayed twice by the first relay, the one this node is connected to', () => {
    expect(group(`/ip4/192.0.2.7/tcp/1/p2p/${RELAY}/p2p-circuit/p2p/${OTHER_RELAY}/p2p-circuit/p2p/${RELAY}`)).to.equal('ip4:192.0.2')
  })

  it('groups a relay with a DNS or memory address by that address without the relay\'s peer id', () => {
    expect(group(`/dns4/relay.example.com/tcp/443/wss/p2p/${RELAY}/p2p-circuit/p2p/${OTHER_RELAY}`)).to.equal('/dns4/relay.example.com/tcp/443/wss')
    expect(group(`/dns4/relay.example.com/tcp/443/wss/p2p/${OTHER_RELAY}/p2p-circuit/p2p/${RELAY}`)).to.equal('/dns4/relay.example.com/tcp/443/wss')
    expect(group(`/memory/abc/p2p/${RELAY}/p2p-circuit/p2p/${OTHER_RELAY}`)).to.equal('/memory/abc')
    expect(group(`/memory/abc/p2p/${OTHER_RELAY}/p2p-circuit`)).to.equal(group('/memory/abc'))
  })

  it('puts every relayed address that does not say where its relay is in one group', () => {
    expect(group(`/p2p/${RELAY}/p2p-circuit/p2p/${OTHER_RELAY}`)).to.equal('relay')
    expect(group(`/p2p/${OTHER_RELAY}/p2p-circuit/p2p/${RELAY}`)).to.equal('relay')
    expect(group('/p2p-circuit')).to.equal('relay')
  })

  it('keeps memory, DNS and other addresses apart: each is its own group', () => {
    expect(group('/memory/abc')).to.equal('/memory/abc')
    expect(group('/memory/def')).to.equal('/memory/def')
    expect(group('/dns4/example.com/tcp/1')).to.equal('/dns4/example.com/tcp/1')
    expect(group('/dns6/example.com/tcp/2')).to.equal('/dns6/example.com/tcp/2')
    expect(group('/unix/%2Ftmp%2Fsocket')).to.equal('/unix/%2Ftmp%2Fsocket')
  })
})
