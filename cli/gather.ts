/**
 * Collects, from a live log, the entries a verdict about one artifact needs: every entry that
 * attests the hash, and every entry for the same (source, platform, name) (those are how a
 * disagreement shows up), each with an inclusion proof against one signed checkpoint. The result
 * is a ProofBundle, so `lafs bundle` writes it and `lafs-verify` verifies it through the same
 * code as an offline bundle.
 *
 * Two ways to find them:
 * - lookup: the server's index (docs/http-api.md). Rows are hints, nothing in them is trusted (the
 *   entries are fetched through LogClient and the bundle is verified in full), but the index could
 *   leave an entry out; the monitor, which reads every entry, is what catches that.
 * - scan: every entry up to the checkpoint, read from entry bundles verified against the tiles,
 *   decoded and matched here. Complete by construction, and the only way on a static tile mirror
 *   (no /v1 API), where it is the fallback. Memory stays bounded: entries are streamed (one bundle
 *   plus one prefetched), and only the matching ones are kept.
 */
import { decodeEntry, type LogClient, type LookupRow, type VerifiedCheckpoint } from '../client/log-client.js';
import { LafsError } from '../merkle/errors.js';
import type { Hash } from '../merkle/hash.js';
import { makeBundle, MAX_BUNDLE_ENTRIES, type BundleQuery, type ProofBundle } from './proof-bundle.js';

export interface GatherFilters { source?: string; platform?: string; name?: string }
export interface GatherOptions {
  /** Read every entry instead of asking the lookup index; also chosen when the log has no /v1 API. */
  scan?: boolean;
}
export type SearchMethod = 'lookup' | 'scan';

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

interface Found { leaf: Uint8Array; leafHash: Hash }

/** The subject key of one artifact claim. */
function subjectKey(source: string, platform: string | null, name: string): string {
  return JSON.stringify([source, platform, name]);
}

/**
 * Scans entries [0, size) of `cp` for the ones relevant to `query` (same selection as the lookup
 * path). For a hash, a subject becomes relevant at the first entry attesting the hash under it;
 * entries for it after that are caught in the same pass, and a second pass over the entries before
 * the last such discovery catches the earlier ones. Returns the matching entries' leaves.
 */
export async function scanEntries(client: LogClient, cp: VerifiedCheckpoint, query: BundleQuery, filters: GatherFilters = {}): Promise<Map<number, Found>> {
  const found = new Map<number, Found>();
  const keep = (index: number, e: Found) => {
    if (found.has(index)) return;
    if (found.size >= MAX_BUNDLE_ENTRIES) throw new LafsError('too-large', `more than ${MAX_BUNDLE_ENTRIES} log entries match; narrow with --source, --platform and --name`);
    found.set(index, { leaf: e.leaf, leafHash: e.leafHash }); // not the decoded entry: only what the bundle needs
  };
  const size = cp.checkpoint.size;
  const read = async function* (end: number) {
    for await (const raw of client.rawEntries(0, end, cp.checkpoint)) yield decodeEntry(raw);
  };
  if (!('hash' in query)) {
    for await (const e of read(size)) {
      if (e.view.source !== query.source) continue;
      if (e.view.artifacts.some((a) => a.name === query.name && (query.platform === undefined || a.platform === query.platform))) keep(e.index, e);
    }
    return found;
  }
  const hex = (query.hash.startsWith('sha256:') ? query.hash.slice(7) : query.hash).toLowerCase();
  const bare = (digest: string) => (digest.startsWith('sha256:') ? digest.slice(7) : digest).toLowerCase();
  const attests = (source: string, a: { platform: string | null; name: string; sha256: string }) => bare(a.sha256) === hex
    && (filters.source === undefined || source === filters.source)
    && (filters.platform === undefined || a.platform === filters.platform)
    && (filters.name === undefined || a.name === filters.name);
  /** Subject -> index of the first entry attesting the hash under it. */
  const discovered = new Map<string, number>();
  for await (const e of read(size)) {
    for (const a of e.view.artifacts) {
      const key = subjectKey(e.view.source, a.platform, a.name);
      if (attests(e.view.source, a)) {
        if (!discovered.has(key)) discovered.set(key, e.index);
        keep(e.index, e);
      } else if (discovered.has(key)) {
        keep(e.index, e);
      }
    }
  }
  let lastDiscovery = -1;
  for (const at of discovered.values()) lastDiscovery = Math.max(lastDiscovery, at);
  if (lastDiscovery > 0) {
    for await (const e of read(lastDiscovery)) {
      if (e.view.artifacts.some((a) => (discovered.get(subjectKey(e.view.source, a.platform, a.name)) ?? -1) > e.index)) keep(e.index, e);
    }
  }
  return found;
}

/** Every relevant entry with its leaf bytes and an inclusion proof against `cp`, and how they were found. */
export async function gatherBundle(client: LogClient, cp: VerifiedCheckpoint, query: BundleQuery, filters: GatherFilters = {}, options: GatherOptions = {}): Promise<ProofBundle & { search: SearchMethod }> {
  const search: SearchMethod = options.scan || !(await client.hasApi()) ? 'scan' : 'lookup';
  let leaves: Map<number, Found | null>;
  if (search === 'scan') {
    leaves = await scanEntries(client, cp, query, filters);
  } else {
    leaves = new Map((await relevantIndices(client, query, filters)).filter((i) => i < cp.checkpoint.size).map((i) => [i, null]));
  }
  const indices = [...leaves.keys()].sort((a, b) => a - b);
  const entries: { index: number; leaf: Uint8Array; proof: Uint8Array[] }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < indices.length) {
      const index = indices[next++]!;
      const entry = leaves.get(index) ?? (await client.entry(index, cp.checkpoint));
      const proof = await client.inclusionProof(index, entry.leafHash, cp.checkpoint);
      entries.push({ index, leaf: entry.leaf, proof });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, indices.length) }, worker));
  return { ...makeBundle({ origin: cp.checkpoint.origin, note: cp.note, query, entries }), search };
}
