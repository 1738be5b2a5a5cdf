/**
 * Offline proof bundles (docs/bundle.md): what `lafs bundle` writes and `lafs-verify --bundle`
 * reads, so a user can verify a file with no network at all.
 *
 * A bundle is versioned JSON holding one signed checkpoint (C2SP tlog-checkpoint note), and for
 * each entry its leaf bytes and a C2SP tlog-proof (index, RFC 9162 inclusion proof, the same
 * signed checkpoint). Everything in it is checked here against the log's verifier key: the note
 * signature, that every tlog-proof carries exactly the bundle's checkpoint, each inclusion proof
 * against the checkpoint root, and each leaf's builder signature. `lafs-verify` online builds the
 * same structure in memory from the log and runs the same checks, so there is one verification path.
 */
import { LafsError, type Checked } from '../merkle/errors.js';
import { leafHash, type Hash } from '../merkle/hash.js';
import type { Checkpoint } from '../merkle/checkpoint.js';
import { verifyCheckpoint } from '../merkle/checkpoint.js';
import type { NoteVerifier } from '../merkle/note.js';
import { verifyInclusion } from '../merkle/proof.js';
import { formatTlogProof, parseTlogProof } from '../merkle/tlog-proof.js';
import { decodeLeaf, type Leaf } from '../attestation/leaf.js';
import { verifyLeaf, type LeafView } from '../attestation/record.js';
import type { SignatureCheck } from '../attestation/openpgp.js';
import { nodeSha256 } from '../attestation/node-crypto.js';
import { fromBase64Strict, toBase64 } from './encoding.js';

export const BUNDLE_FORMAT = 'lafs-proof-bundle';
export const BUNDLE_VERSION = 1;
/** Guard against absurd inputs: a bundle is about one artifact, not a log dump. */
export const MAX_BUNDLE_ENTRIES = 10_000;

/** What the bundle was made for; informational (verification uses the user's own target). */
export type BundleQuery = { hash: string } | { source: string; platform?: string; name: string };

export interface BundleEntry {
  index: number;
  /** Leaf bytes exactly as logged. */
  leaf: Uint8Array;
  /** C2SP tlog-proof@v1 text against the bundle's checkpoint. */
  proof: string;
}

export interface ProofBundle {
  origin: string;
  /** Signed checkpoint note text. */
  checkpoint: string;
  query: BundleQuery;
  /** When the bundle was made (ISO 8601); informational, not verified. */
  created: string;
  entries: BundleEntry[];
}

export interface VerifiedBundleEntry {
  index: number;
  leaf: Uint8Array;
  leafHash: Hash;
  decoded: Leaf;
  view: LeafView;
  signature: SignatureCheck;
}

export interface VerifiedBundle {
  checkpoint: Checkpoint;
  note: string;
  entries: VerifiedBundleEntry[];
}

/** Assembles a bundle from verified material (entries sorted by index, one tlog-proof each). */
export function makeBundle(input: { origin: string; note: string; query: BundleQuery; entries: readonly { index: number; leaf: Uint8Array; proof: readonly Hash[] }[]; created?: Date }): ProofBundle {
  const entries = [...input.entries]
    .sort((a, b) => a.index - b.index)
    .map((e) => ({ index: e.index, leaf: e.leaf, proof: formatTlogProof({ index: e.index, proof: [...e.proof], checkpoint: input.note }) }));
  return { origin: input.origin, checkpoint: input.note, query: input.query, created: (input.created ?? new Date()).toISOString(), entries };
}

/** Canonical JSON text of a bundle (docs/bundle.md). */
export function encodeBundle(bundle: ProofBundle): string {
  const json = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    origin: bundle.origin,
    created: bundle.created,
    query: bundle.query,
    checkpoint: bundle.checkpoint,
    entries: bundle.entries.map((e) => ({ index: e.index, leaf: toBase64(e.leaf), proof: e.proof })),
  };
  return JSON.stringify(json, null, 2) + '\n';
}

function fail(field: string, why: string): never {
  throw new LafsError('bad-bundle', `proof bundle: ${field}: ${why}`);
}

function requireString(obj: Record<string, unknown>, field: string, path: string): string {
  const v = obj[field];
  if (typeof v !== 'string') fail(`${path}${field}`, 'missing or not a string');
  return v;
}

function parseQuery(q: unknown): BundleQuery {
  if (typeof q !== 'object' || q === null || Array.isArray(q)) fail('query', 'missing or not an object');
  const o = q as Record<string, unknown>;
  if (typeof o.hash === 'string') return { hash: o.hash };
  const source = requireString(o, 'source', 'query.');
  const name = requireString(o, 'name', 'query.');
  if (o.platform !== undefined && typeof o.platform !== 'string') fail('query.platform', 'not a string');
  return o.platform === undefined ? { source, name } : { source, platform: o.platform as string, name };
}

/** Strict parse of a bundle's text. Throws LafsError('bad-bundle') naming the field. Does not verify. */
export function parseBundle(text: string): ProofBundle {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    fail('(file)', `not JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('(file)', 'not a JSON object');
  const o = value as Record<string, unknown>;
  if (o.format !== BUNDLE_FORMAT) fail('format', `expected "${BUNDLE_FORMAT}": is this a LAFS proof bundle (made by \`lafs bundle\`)?`);
  if (o.version !== BUNDLE_VERSION) fail('version', `unsupported version ${JSON.stringify(o.version)}; this lafs-verify reads version ${BUNDLE_VERSION}`);
  const origin = requireString(o, 'origin', '');
  const checkpoint = requireString(o, 'checkpoint', '');
  const created = typeof o.created === 'string' ? o.created : '';
  const query = parseQuery(o.query);
  if (!Array.isArray(o.entries)) fail('entries', 'missing or not an array');
  if (o.entries.length > MAX_BUNDLE_ENTRIES) fail('entries', `more than ${MAX_BUNDLE_ENTRIES} entries`);
  const seen = new Set<number>();
  const entries = o.entries.map((raw, i): BundleEntry => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`entries[${i}]`, 'not an object');
    const e = raw as Record<string, unknown>;
    if (!Number.isSafeInteger(e.index) || (e.index as number) < 0) fail(`entries[${i}].index`, 'not a non-negative integer');
    const index = e.index as number;
    if (seen.has(index)) fail(`entries[${i}].index`, `index ${index} appears twice`);
    seen.add(index);
    const leaf = fromBase64Strict(requireString(e, 'leaf', `entries[${i}].`), `proof bundle: entries[${i}].leaf`);
    const proof = requireString(e, 'proof', `entries[${i}].`);
    return { index, leaf, proof };
  });
  return { origin, checkpoint, query, created, entries };
}

/** Verifies everything in a bundle against the log's verifier key. Never throws; the reason names the entry and the check. */
export async function verifyBundle(bundle: ProofBundle, verifier: NoteVerifier, origin?: string): Promise<Checked<VerifiedBundle>> {
  const opened = verifyCheckpoint(bundle.checkpoint, verifier, origin);
  if (!opened.ok) return { ok: false, reason: `checkpoint does not verify with the log's key: ${opened.reason}` };
  const { checkpoint, note } = opened.value;
  if (checkpoint.origin !== bundle.origin) {
    return { ok: false, reason: `checkpoint origin ${checkpoint.origin} is not the bundle's origin ${bundle.origin}` };
  }
  const entries: VerifiedBundleEntry[] = [];
  for (const entry of bundle.entries) {
    const where = `entry ${entry.index}`;
    let proof;
    try {
      proof = parseTlogProof(entry.proof);
    } catch (error) {
      return { ok: false, reason: `${where}: tlog-proof malformed: ${(error as Error).message}` };
    }
    if (proof.index !== entry.index) return { ok: false, reason: `${where}: its tlog-proof is for index ${proof.index}` };
    if (proof.checkpoint !== bundle.checkpoint) return { ok: false, reason: `${where}: its tlog-proof carries a different checkpoint than the bundle` };
    if (entry.index >= checkpoint.size) return { ok: false, reason: `${where}: index beyond the checkpoint's tree size ${checkpoint.size}` };
    const hash = leafHash(entry.leaf, nodeSha256);
    const included = verifyInclusion(hash, entry.index, checkpoint.size, proof.proof, checkpoint.root, nodeSha256);
    if (!included.ok) return { ok: false, reason: `${where}: inclusion proof does not verify against the checkpoint root: ${included.reason}` };
    let decoded: Leaf;
    try {
      decoded = decodeLeaf(entry.leaf);
    } catch (error) {
      return { ok: false, reason: `${where}: leaf bytes malformed: ${(error as Error).message}` };
    }
    const checked = await verifyLeaf(decoded);
    if (!checked.ok) return { ok: false, reason: `${where}: builder signature does not verify: ${checked.reason}` };
    entries.push({ index: entry.index, leaf: entry.leaf, leafHash: hash, decoded, view: checked.value.view, signature: checked.value.signature });
  }
  return { ok: true, value: { checkpoint, note, entries } };
}
