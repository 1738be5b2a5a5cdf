/**
 * Collects, from a live log, the entries a verdict about one artifact needs: every entry that
 * attests the hash, and every entry for the same (source, platform, name) (those are how a
 * disagreement shows up), each with an inclusion proof against one signed checkpoint. The result
 * is a ProofBundle, so `lafs bundle` writes it and `lafs-verify` verifies it through the same
 * code as an offline bundle.
 *
 * Lookup rows are hints from the server's index (docs/http-api.md); nothing in them is trusted:
 * the entries are fetched through LogClient (checked against tiles and the root) and the bundle
 * is then verified in full. A log can hide entries from its index; the monitor, which reads
 * every entry, is what catches that.
 */
import type { LogClient, LookupRow, VerifiedCheckpoint } from '../client/log-client.js';
import { makeBundle, type BundleQuery, type ProofBundle } from './proof-bundle.js';

export interface GatherFilters { source?: string; platform?: string; name?: string }

/** Fetches at most this many entries at once: enough to hide latency, polite to the server. */
const CONCURRENCY = 8;

function rowMatches(row: LookupRow, f: GatherFilters): boolean {
  return (f.source === undefined || row.source === f.source)
    && (f.platform === undefined || row.platform === f.platform)
    && (f.name === undefined || row.name === f.name);
}

/** Index numbers of the entries relevant to `query`, from the lookup API. */
export async function relevantIndices(client: LogClient, query: BundleQuery, filters: GatherFilters = {}): Promise<number[]> {
  const indices = new Set<number>();
  let subjects: { source: string; platform: string | null; name: string }[];
  if ('hash' in query) {
    const hex = query.hash.startsWith('sha256:') ? query.hash.slice(7) : query.hash;
    const rows = (await client.lookupHash(hex)).filter((r) => rowMatches(r, filters));
    for (const r of rows) indices.add(r.index);
    subjects = [];
    for (const r of rows) {
      if (!subjects.some((s) => s.source === r.source && s.platform === r.platform && s.name === r.name)) subjects.push({ source: r.source, platform: r.platform, name: r.name });
    }
  } else {
    subjects = [{ source: query.source, platform: query.platform ?? null, name: query.name }];
  }
  for (const s of subjects) {
    const q = s.platform === null ? { source: s.source, name: s.name } : { source: s.source, platform: s.platform, name: s.name };
    const rows = await client.lookupName(q);
    // Without a platform the server returns every platform for the name: keep the exact subject.
    for (const r of rows) if (r.name === s.name && r.source === s.source && (s.platform === null ? true : r.platform === s.platform)) indices.add(r.index);
  }
  return [...indices].sort((a, b) => a - b);
}

/** Every relevant entry with its leaf bytes and an inclusion proof against `cp`. */
export async function gatherBundle(client: LogClient, cp: VerifiedCheckpoint, query: BundleQuery, filters: GatherFilters = {}): Promise<ProofBundle> {
  const indices = (await relevantIndices(client, query, filters)).filter((i) => i < cp.checkpoint.size);
  const entries: { index: number; leaf: Uint8Array; proof: Uint8Array[] }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < indices.length) {
      const index = indices[next++]!;
      const entry = await client.entry(index, cp.checkpoint);
      const proof = await client.inclusionProof(index, entry.leafHash, cp.checkpoint);
      entries.push({ index, leaf: entry.leaf, proof });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, indices.length) }, worker));
  return makeBundle({ origin: cp.checkpoint.origin, note: cp.note, query, entries });
}
