/**
 * The disagreement rule of DESIGN.md section 3, as a pure function. For one artifact key
 * (source, platform, name), two claims conflict when their hashes differ: a
 * `builder-disagreement` when different builders made them, a `self-contradiction` when the same
 * builder did. A conflict is identified by the pair of hashes in dispute (plus the builder for a
 * self-contradiction), not by who joined which side: a tenth builder agreeing with one side of a
 * known dispute adds evidence, not a new conflict. That identity is what alert dedup remembers.
 */

export interface StoredClaim { index: number; builder: string; hash: string }
export type ConflictKind = 'builder-disagreement' | 'self-contradiction';
export interface Conflict { kind: ConflictKind; id: string; hashes: [string, string]; builder?: string }

/**
 * The same as conflictsOf, from the earlier claims grouped as hash -> builders: O(distinct
 * hashes) per claim instead of O(claims), which is what keeps a busy key cheap.
 */
export function conflictsWith(byHash: ReadonlyMap<string, ReadonlySet<string>>, incoming: StoredClaim): Conflict[] {
  const found: Conflict[] = [];
  for (const [hash, builders] of byHash) {
    if (hash === incoming.hash) continue;
    const hashes = [hash, incoming.hash].sort() as [string, string];
    if (builders.has(incoming.builder)) {
      found.push({ kind: 'self-contradiction', id: `self:${incoming.builder}:${hashes.join(',')}`, hashes, builder: incoming.builder });
    }
    if (builders.size > (builders.has(incoming.builder) ? 1 : 0)) {
      found.push({ kind: 'builder-disagreement', id: `pair:${hashes.join(',')}`, hashes });
    }
  }
  return found;
}

/** The conflicts that `incoming` creates with the earlier claims of the same key, each once. */
export function conflictsOf(existing: readonly StoredClaim[], incoming: StoredClaim): Conflict[] {
  const found = new Map<string, Conflict>();
  for (const claim of existing) {
    if (claim.hash === incoming.hash) continue;
    const hashes = [claim.hash, incoming.hash].sort() as [string, string];
    if (claim.builder === incoming.builder) {
      const id = `self:${incoming.builder}:${hashes.join(',')}`;
      found.set(id, { kind: 'self-contradiction', id, hashes, builder: incoming.builder });
    } else {
      const id = `pair:${hashes.join(',')}`;
      found.set(id, { kind: 'builder-disagreement', id, hashes });
    }
  }
  return [...found.values()];
}
