/**
 * Who makes room in a full lane, from its slot counts alone: an item of a
 * network group (or peer) holding fewer slots than the heaviest takes the
 * newest slot of that group's heaviest peer. One peer, or one network with
 * any number of peer ids, may fill an idle lane, yet cannot keep others out.
 */

/** What eviction needs of a queued entry */
interface Entry {
  peer: string
}

/**
 * The entry to evict for an item of `peer` from `group`: the newest of the
 * heaviest peer of another group holding at least two more slots than
 * `group`, else of a peer of `group` holding at least two more than `peer`.
 * `entriesOf(group)` lists a group's entries, oldest first.
 */
export function victimFor <E extends Entry> (peerSlots: ReadonlyMap<string, number>, groupSlots: ReadonlyMap<string, number>, peer: string, group: string, entriesOf: (group: string) => E[]): E | undefined {
  const heavierGroup = heaviest(groupSlots, (groupSlots.get(group) ?? 0) + 1)

  if (heavierGroup != null) {
    return newestOfHeaviestPeer(entriesOf(heavierGroup), peerSlots, 0)
  }

  return newestOfHeaviestPeer(entriesOf(group), peerSlots, (peerSlots.get(peer) ?? 0) + 1)
}

/** The newest of `candidates` whose peer holds the most slots, if more than `floor` */
function newestOfHeaviestPeer <E extends Entry> (candidates: E[], peerSlots: ReadonlyMap<string, number>, floor: number): E | undefined {
  let victim: E | undefined
  let most = floor

  // newest first, so among equally heavy peers the newest entry goes
  for (let i = candidates.length - 1; i >= 0; i--) {
    const entry = candidates[i]
    const held = peerSlots.get(entry.peer) ?? 0

    if (held > most) {
      victim = entry
      most = held
    }
  }

  return victim
}

/** The key with the largest count, if that count is more than `floor` */
function heaviest (counts: ReadonlyMap<string, number>, floor: number): string | undefined {
  let key: string | undefined
  let most = floor

  for (const [k, count] of counts) {
    if (count > most) {
      key = k
      most = count
    }
  }

  return key
}
