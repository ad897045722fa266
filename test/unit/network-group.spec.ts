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

  it('property: any spelling of an IPv6 address, :: anywhere, gives the /48 of its eight hextets', () => {
    const rng = random(48)

    for (let i = 0; i < 500; i++) {
      // hextets with runs of zeros, so :: has something to stand for
      const hextets = Array.from({ length: 8 }, () => rng.below(3) === 0 ? 0 : rng.below(0x10000))
      const start = rng.below(8)
      const length = 1 + rng.below(8 - start)
      const zeroed = hextets.map((h, j) => j >= start && j < start + length ? 0 : h)
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

  it('groups a relayed address by the relay\'s peer id, whatever the relay\'s address or the target', () => {
    expect(group(`/ip4/192.0.2.7/tcp/1/p2p/${RELAY}/p2p-circuit/p2p/${OTHER_RELAY}`)).to.equal(`relay:${RELAY}`)
    expect(group(`/ip6/2001:db8::1/tcp/9/p2p/${RELAY}/p2p-circuit`)).to.equal(`relay:${RELAY}`)
    expect(group(`/ip4/192.0.2.7/tcp/1/p2p/${OTHER_RELAY}/p2p-circuit/p2p/${RELAY}`)).to.equal(`relay:${OTHER_RELAY}`)
  })

  it('groups a relayed address without the relay\'s peer id by the whole address', () => {
    const address = '/ip4/192.0.2.7/tcp/1/p2p-circuit'
    expect(group(address)).to.equal(`relay:${address}`)
  })

  it('keeps memory, DNS and other addresses apart: each is its own group', () => {
    expect(group('/memory/abc')).to.equal('/memory/abc')
    expect(group('/memory/def')).to.equal('/memory/def')
    expect(group('/dns4/example.com/tcp/1')).to.equal('/dns4/example.com/tcp/1')
    expect(group('/p2p-circuit')).to.equal('/p2p-circuit')
  })
})
