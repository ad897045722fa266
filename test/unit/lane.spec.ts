import { expect } from 'aegir/chai'
import { Lane } from '../../src/inbound/lane.ts'
import { entries } from '../fixtures/lane-entries.ts'
import { random } from '../fixtures/random.ts'
import type { Admission, LaneEntry } from '../../src/inbound/lane.ts'

/** A lane of `backlog` slots holding plain numbers */
function lane (backlog: number, maxPerPeer = backlog): Lane<number> {
  return new Lane<number>({ name: 'test', backlog, maxPerPeer, priority: 0, weight: 1 })
}

let nextItem = 0

function entry (peer: string, group = `group-of-${peer}`): LaneEntry<number> {
  return { item: nextItem++, peer, group }
}

/** Admits an entry like the acceptor does: asks, and queues it when admitted */
function offer (l: Lane<number>, e: LaneEntry<number>): Admission<number> {
  const admission = l.admit(e.peer, e.group)

  if (admission.admitted) {
    l.add(e)
  }

  return admission
}

/** The lane's own slot counts, by peer and by group */
function slots (l: Lane<number>): { peers: Map<string, number>, groups: Map<string, number> } {
  const inside = l as unknown as { peerSlots: Map<string, number>, groupSlots: Map<string, number> }
  return { peers: new Map(inside.peerSlots), groups: new Map(inside.groupSlots) }
}

/** Slot counts recounted from the entries */
function recount (entries: ReadonlyArray<LaneEntry<number>>): { peers: Map<string, number>, groups: Map<string, number> } {
  const peers = new Map<string, number>()
  const groups = new Map<string, number>()

  for (const e of entries) {
    peers.set(e.peer, (peers.get(e.peer) ?? 0) + 1)
    groups.set(e.group, (groups.get(e.group) ?? 0) + 1)
  }

  return { peers, groups }
}

/** Takes the entry to serve next out of the lane, as the acceptor does */
function shift (l: Lane<number>): LaneEntry<number> | undefined {
  const e = l.next()

  if (e != null) {
    l.remove(e)
  }

  return e
}

/** Takes every entry out of the lane, as the acceptor does when it closes */
function clear (l: Lane<number>): Array<LaneEntry<number>> {
  const all = entries(l)
  all.forEach(e => { l.remove(e) })
  return all
}

function peersOf (l: Lane<number>): string[] {
  return entries(l).map(e => e.peer)
}

describe('unit: Lane', () => {
  describe('queueing', () => {
    it('gives entries back oldest first', () => {
      const l = lane(4)
      const entries = ['a', 'b', 'c'].map(p => entry(p))
      entries.forEach(e => { l.add(e) })

      expect([shift(l), shift(l), shift(l)]).to.deep.equal(entries)
      expect(shift(l)).to.be.undefined()
      expect(l.size).to.equal(0)
    })

    it('serves network groups in turn: one entry from a quiet group waits behind one entry of a flooding group, not all of them', () => {
      const l = lane(16)
      const flood = Array.from({ length: 6 }, () => entry('sybil', 'flood-net'))
      flood.forEach(e => { l.add(e) })
      const honest = entry('honest', 'home-net')
      l.add(honest)

      expect(l.next()).to.equal(flood[0])
      expect([shift(l), shift(l), shift(l)]).to.deep.equal([flood[0], honest, flood[1]])
      expect(entries(l)).to.deep.equal(flood.slice(2))
    })

    it('rotates every group with entries, each oldest first; taking out an entry that is not the next keeps the turns', () => {
      const l = lane(16)
      const [a1, a2, b1, b2, c1] = [entry('a', 'A'), entry('a', 'A'), entry('b', 'B'), entry('b', 'B'), entry('c', 'C')]
      ;[a1, a2, b1, b2, c1].forEach(e => { l.add(e) })

      l.remove(b1)
      expect(entries(l), 'B keeps its place').to.deep.equal([a1, a2, b2, c1])
      expect([shift(l), shift(l), shift(l), shift(l), shift(l)]).to.deep.equal([a1, b2, c1, a2, undefined])
    })

    it('puts a moved entry first, ahead of those already waiting', () => {
      const l = lane(4)
      l.add(entry('a'))
      const moved = entry('b')
      l.add(moved, true)

      expect(entries(l)[0]).to.equal(moved)
      expect(shift(l)).to.equal(moved)
    })

    it('is full at its capacity and admits nothing more from the peer that filled it', () => {
      const l = lane(2)

      expect(offer(l, entry('a')).admitted).to.be.true()
      expect(l.isFull).to.be.false()
      expect(offer(l, entry('a')).admitted).to.be.true()
      expect(l.isFull).to.be.true()
      expect(offer(l, entry('a'))).to.deep.equal({ admitted: false, reason: 'backlog-full' })
      expect(l.size).to.equal(2)
    })

    it('with a capacity of 0 admits nothing, and says the backlog is full', () => {
      const l = lane(0)

      expect(offer(l, entry('a'))).to.deep.equal({ admitted: false, reason: 'backlog-full' })
      expect(l.size).to.equal(0)
    })

    it('removes an entry from the middle, and says false for one it does not hold', () => {
      const l = lane(4)
      const [a, b, c] = ['a', 'b', 'c'].map(p => entry(p))
      ;[a, b, c].forEach(e => { l.add(e) })

      expect(l.remove(b)).to.be.true()
      expect(l.remove(b)).to.be.false()
      expect(entries(l)).to.deep.equal([a, c])
    })

    it('removing every entry frees every slot', () => {
      const l = lane(3, 1)
      const entries = ['a', 'b', 'c'].map(p => entry(p))
      entries.forEach(e => { offer(l, e) })

      expect(clear(l)).to.deep.equal(entries)
      expect(l.size).to.equal(0)
      expect(slots(l)).to.deep.equal({ peers: new Map(), groups: new Map() })
      // the peers' slots are free again
      expect(offer(l, entry('a')).admitted).to.be.true()
    })
  })

  describe('slot counts', () => {
    it('count each peer and each network group after add, remove and shift, and forget a key at zero', () => {
      const l = lane(8)
      const a1 = entry('a', 'net-1')
      const a2 = entry('a', 'net-1')
      const b1 = entry('b', 'net-1')
      const c1 = entry('c', 'net-2')
      ;[a1, a2, b1, c1].forEach(e => { l.add(e) })

      expect(slots(l).peers).to.deep.equal(new Map([['a', 2], ['b', 1], ['c', 1]]))
      expect(slots(l).groups).to.deep.equal(new Map([['net-1', 3], ['net-2', 1]]))

      l.remove(c1)
      shift(l)
      expect(slots(l).peers).to.deep.equal(new Map([['a', 1], ['b', 1]]))
      expect(slots(l).groups).to.deep.equal(new Map([['net-1', 2]]))
    })
  })

  describe('admit', () => {
    it('refuses a peer at maxPerPeer with peer-limit while the lane has room', () => {
      const l = lane(8, 2)
      offer(l, entry('a'))
      offer(l, entry('a'))

      expect(offer(l, entry('a'))).to.deep.equal({ admitted: false, reason: 'peer-limit' })
      expect(offer(l, entry('b')).admitted).to.be.true()
    })

    it('says peer-limit, not backlog-full, for a peer at maxPerPeer when the lane is full too', () => {
      const l = lane(2, 1)
      offer(l, entry('a'))
      offer(l, entry('b'))

      expect(offer(l, entry('a'))).to.deep.equal({ admitted: false, reason: 'peer-limit' })
      expect(offer(l, entry('c'))).to.deep.equal({ admitted: false, reason: 'backlog-full' })
    })

    it('lets one peer fill a lane whose maxPerPeer is its capacity, then says backlog-full', () => {
      const l = lane(3)

      for (let i = 0; i < 3; i++) {
        expect(offer(l, entry('a')).admitted).to.be.true()
      }

      expect(offer(l, entry('a'))).to.deep.equal({ admitted: false, reason: 'backlog-full' })
    })

    it('with maxPerPeer 0 under a larger capacity queues nothing from anyone', () => {
      const l = lane(4, 0)

      expect(offer(l, entry('a'))).to.deep.equal({ admitted: false, reason: 'peer-limit' })
    })

    it('when full, evicts the newest entry of the peer holding the most for a peer holding two fewer', () => {
      const l = lane(4)
      const flood = [entry('a', 'net'), entry('a', 'net'), entry('a', 'net'), entry('b', 'net')]
      flood.forEach(e => { l.add(e) })

      const admission = offer(l, entry('c', 'net'))

      expect(admission).to.deep.equal({ admitted: true, victim: flood[2] })
      expect(entries(l)).to.not.include(flood[2])
      expect(peersOf(l)).to.deep.equal(['a', 'a', 'b', 'c'])
    })

    it('takes the victim out of the queue itself, so the lane is never over capacity', () => {
      const l = lane(2)
      l.add(entry('a', 'net'))
      l.add(entry('a', 'net'))

      expect(l.admit('b', 'net').admitted).to.be.true()
      expect(l.size).to.equal(1)
    })

    it('does not evict for a peer that holds only one slot fewer than the heaviest', () => {
      const l = lane(3)
      ;[entry('a', 'net'), entry('a', 'net'), entry('b', 'net')].forEach(e => { l.add(e) })

      expect(offer(l, entry('b', 'net'))).to.deep.equal({ admitted: false, reason: 'backlog-full' })
    })

    it('evicts by network group first: a new group takes a slot from the heaviest group, whatever its peers hold', () => {
      const l = lane(4)
      // one network with four identities, one slot each
      const sybils = ['s1', 's2', 's3', 's4'].map(p => entry(p, 'net-sybil'))
      sybils.forEach(e => { l.add(e) })

      const admission = offer(l, entry('honest', 'net-honest'))

      // the peers of net-sybil hold one slot each, as many as "honest" will: only the group count lets it in
      expect(admission).to.deep.equal({ admitted: true, victim: sybils[3] })
    })

    it('inside its own group, evicts only between the group\'s peers', () => {
      const l = lane(4)
      ;[entry('a', 'net-1'), entry('a', 'net-1'), entry('a', 'net-1'), entry('x', 'net-2')].forEach(e => { l.add(e) })

      // net-1 holds 3, net-2 holds 1: "b" of net-1 has no lighter group to claim, but "a" holds 3 to its 0
      const admission = offer(l, entry('b', 'net-1'))
      expect(admission.admitted).to.be.true()
      expect((admission as { victim: LaneEntry<number> }).victim.peer).to.equal('a')
      expect(slots(l).groups.get('net-2')).to.equal(1)
    })

    it('picks the victim from the group holding the most when several are heavier', () => {
      const l = lane(6)
      ;[entry('a', 'net-1'), entry('a', 'net-1'), entry('b', 'net-2'), entry('b', 'net-2'), entry('b', 'net-2'), entry('z', 'net-3')].forEach(e => { l.add(e) })

      const admission = offer(l, entry('new', 'net-4'))

      expect((admission as { victim: LaneEntry<number> }).victim.group).to.equal('net-2')
    })

    const newestOfHeaviest: Array<[string, string[], number]> = [
      ['among equally heavy peers of the victim group, evicts the newest entry', ['a', 'b', 'a', 'b'], 3],
      ['evicts the victim group\'s heaviest peer even when a lighter peer\'s entry is newer', ['a', 'a', 'a', 'b'], 2]
    ]

    for (const [title, queued, victim] of newestOfHeaviest) {
      it(title, () => {
        const l = lane(queued.length)
        const entries = queued.map(peer => entry(peer, 'net'))
        entries.forEach(e => { l.add(e) })

        expect(offer(l, entry('c', 'other'))).to.deep.equal({ admitted: true, victim: entries[victim] })
      })
    }
  })

  describe('property: random add/remove/admit sequences', () => {
    const PEERS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6']
    // p1..p3 share a network, p4 and p5 another, p6 is alone
    const GROUP: Record<string, string> = { p1: 'n1', p2: 'n1', p3: 'n1', p4: 'n2', p5: 'n2', p6: 'n3' }

    /** The victim a model of the rules expects: the newest entry of a heaviest peer of the right group, or none */
    function expectedVictimGroup (entries: ReadonlyArray<LaneEntry<number>>, peer: string, group: string): string | undefined {
      const { peers, groups } = recount(entries)
      const heaviest = Math.max(...groups.values())

      if (heaviest >= (groups.get(group) ?? 0) + 2) {
        return 'another'
      }

      const inGroup = entries.filter(e => e.group === group).map(e => peers.get(e.peer) ?? 0)
      return Math.max(0, ...inGroup) >= (peers.get(peer) ?? 0) + 2 ? group : undefined
    }

    function checkVictim (entries: ReadonlyArray<LaneEntry<number>>, victim: LaneEntry<number>, group: string): void {
      const { peers, groups } = recount(entries)
      const victimGroup = victim.group

      if (victimGroup !== group) {
        expect(groups.get(victimGroup), 'the victim comes from a heaviest group').to.equal(Math.max(...groups.values()))
      }

      const sameGroup = entries.filter(e => e.group === victimGroup)
      const heaviestPeer = Math.max(...sameGroup.map(e => peers.get(e.peer) ?? 0))
      const candidates = sameGroup.filter(e => peers.get(e.peer) === heaviestPeer)

      expect(victim, 'the victim is the newest entry of a heaviest peer of its group').to.equal(candidates[candidates.length - 1])
    }

    for (const [capacity, maxPerPeer] of [[8, 8], [8, 3], [5, 2], [1, 1], [0, 0]]) {
      it(`backlog ${capacity}, maxPerPeer ${maxPerPeer}: slot counts equal a recount, size stays within capacity, no peer over maxPerPeer, admit decides as the rules say`, () => {
        const rng = random(0xC0FFEE + capacity * 31 + maxPerPeer)
        const l = lane(capacity, maxPerPeer)

        for (let step = 0; step < 3_000; step++) {
          const roll = rng.below(10)
          const before = [...entries(l)]

          if (roll < 6) {
            const peer = rng.pick(PEERS)
            const e = entry(peer, GROUP[peer])
            const held = before.filter(x => x.peer === peer).length
            const overLimit = maxPerPeer < capacity && held >= maxPerPeer
            const admission = offer(l, e)

            if (overLimit) {
              expect(admission).to.deep.equal({ admitted: false, reason: 'peer-limit' })
            } else if (before.length < capacity) {
              expect(admission).to.deep.equal({ admitted: true })
            } else {
              const expected = expectedVictimGroup(before, peer, e.group)

              if (expected == null) {
                expect(admission, `step ${step}`).to.deep.equal({ admitted: false, reason: 'backlog-full' })
              } else {
                expect(admission.admitted, `step ${step}`).to.be.true()
                const { victim } = admission as { victim: LaneEntry<number> }
                expect(victim).to.exist()
                expect(victim.group === e.group, `step ${step}`).to.equal(expected !== 'another')
                checkVictim(before, victim, e.group)
              }
            }
          } else if (roll < 8 && before.length > 0) {
            expect(l.remove(rng.pick(before))).to.be.true()
          } else if (roll < 9) {
            shift(l)
          } else if (rng.below(20) === 0) {
            clear(l)
          }

          expect(slots(l), `step ${step}`).to.deep.equal(recount(entries(l)))
          expect(l.size).to.be.at.most(capacity)

          if (maxPerPeer < capacity) {
            for (const count of recount(entries(l)).peers.values()) {
              expect(count).to.be.at.most(maxPerPeer)
            }
          }
        }
      })
    }
  })
})
