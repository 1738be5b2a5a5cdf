/**
 * Offline proof bundles (cli/proof-bundle.ts, docs/bundle.md) without a server: a small log built
 * in memory (real signed leaves, RFC 9162 proofs, a signed checkpoint), bundled, parsed, verified,
 * and then broken in every field that carries evidence.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildLeaf } from '../../attestation/record.js';
import { encodeLeaf } from '../../attestation/leaf.js';
import { nodeEd25519, nodeSha256 } from '../../attestation/node-crypto.js';
import { formatCheckpoint } from '../../merkle/checkpoint.js';
import { LafsError } from '../../merkle/errors.js';
import { leafHash, rootOfLeafHashes } from '../../merkle/hash.js';
import { generateKeyPair, parseSignerKey, parseVerifierKey, signNote } from '../../merkle/note.js';
import { makeInclusionProof, type HashSource } from '../../merkle/proof.js';
import { formatTlogProof, parseTlogProof } from '../../merkle/tlog-proof.js';
import { encodeBundle, makeBundle, parseBundle, verifyBundle, type ProofBundle } from '../../cli/proof-bundle.js';
import { makeBuilder, randomStatement, signDetached, statementText } from '../helpers/submissions.js';
import { repoRoot } from '../helpers/tmp.js';

const ORIGIN = 'test.example/bundle-log';
const keys = generateKeyPair(ORIGIN, nodeEd25519);
const verifier = parseVerifierKey(keys.verifierKey, nodeEd25519);

interface MemoryLog { leaves: Uint8Array[]; note: string; proof(index: number): Promise<Uint8Array[]>; fingerprints: string[] }

/** `count` real signed leaves from two builders, a tree over them and a signed checkpoint. */
async function memoryLog(count: number, extraLeaves: Uint8Array[] = []): Promise<MemoryLog> {
  const builders = [await makeBuilder('Ann'), await makeBuilder('Ben')];
  const leaves: Uint8Array[] = [];
  const fingerprints: string[] = [];
  for (let i = 0; i < count; i++) {
    const b = builders[i % 2]!;
    const text = statementText(randomStatement());
    const { bytes } = await buildLeaf({ kind: 'lafs-attestation/v1', signed: new TextEncoder().encode(text), signature: await signDetached(b, text), publicKey: b.publicKey });
    leaves.push(bytes);
    fingerprints.push(b.fingerprint);
  }
  leaves.push(...extraLeaves);
  const hashes = leaves.map((l) => leafHash(l, nodeSha256));
  const source: HashSource = { async hashes(coords) { return coords.map(({ level, index }) => rootOfLeafHashes(hashes.slice(index * 2 ** level, (index + 1) * 2 ** level), nodeSha256)); } };
  const root = rootOfLeafHashes(hashes, nodeSha256);
  const note = signNote(formatCheckpoint({ origin: ORIGIN, size: leaves.length, root, extensions: [] }), [parseSignerKey(keys.signerKey, nodeEd25519)]);
  return { leaves, note, fingerprints, proof: (index) => makeInclusionProof(index, leaves.length, source, nodeSha256) };
}

async function bundleOf(log: MemoryLog, indices: number[]): Promise<ProofBundle> {
  const entries = await Promise.all(indices.map(async (index) => ({ index, leaf: log.leaves[index]!, proof: await log.proof(index) })));
  return makeBundle({ origin: ORIGIN, note: log.note, query: { hash: `sha256:${'0'.repeat(64)}` }, entries });
}

const clone = (b: ProofBundle): ProofBundle => parseBundle(encodeBundle(b));

test('a bundle round-trips through its JSON text and verifies; entries come back decoded with their builders', async (t) => {
  const log = await memoryLog(7);
  const bundle = await bundleOf(log, [5, 0, 3]);
  t.deepEqual(bundle.entries.map((e) => e.index), [0, 3, 5], 'sorted by index');
  const text = encodeBundle(bundle);
  t.is(JSON.parse(text).format, 'lafs-proof-bundle');
  t.is(JSON.parse(text).version, 1);
  const parsed = parseBundle(text);
  t.is(encodeBundle(parsed), text, 'canonical');
  const checked = await verifyBundle(parsed, verifier);
  if (!checked.ok) return t.fail(checked.reason);
  t.is(checked.value.checkpoint.size, 7);
  t.deepEqual(checked.value.entries.map((e) => e.signature.builder), [0, 3, 5].map((i) => log.fingerprints[i]));
  t.is(checked.value.entries[0]!.view.kind, 'lafs-attestation/v1');
  // Each entry's proof is a standalone C2SP tlog-proof against the same checkpoint.
  t.is(parseTlogProof(parsed.entries[1]!.proof).checkpoint, log.note);
});

test('an empty bundle (checkpoint only) verifies', async (t) => {
  const log = await memoryLog(1);
  const checked = await verifyBundle(clone(await bundleOf(log, [])), verifier);
  t.true(checked.ok);
});

test('every piece of evidence is checked: flipped leaf, proof hash, index, checkpoint, key', async (t) => {
  const log = await memoryLog(6);
  const good = await bundleOf(log, [1, 2, 4]);
  const flip = (bytes: Uint8Array, at: number) => { const c = new Uint8Array(bytes); c[at % c.length]! ^= 0x80; return c; };
  const cases: [string, (b: ProofBundle) => void, RegExp][] = [
    ['leaf byte', (b) => { b.entries[1]!.leaf = flip(b.entries[1]!.leaf, 50); }, /entry 2: inclusion proof does not verify/],
    ['proof hash', (b) => {
      const p = parseTlogProof(b.entries[0]!.proof);
      p.proof[0] = flip(p.proof[0]!, 3);
      b.entries[0]!.proof = formatTlogProof(p);
    }, /entry 1: inclusion proof does not verify/],
    ['proof shortened', (b) => {
      const p = parseTlogProof(b.entries[0]!.proof);
      p.proof.pop();
      b.entries[0]!.proof = formatTlogProof(p);
    }, /entry 1: inclusion proof/],
    ['entry index moved', (b) => { b.entries[2]!.index = 3; }, /entry 3: its tlog-proof is for index 4/],
    ['both indices moved', (b) => {
      const p = parseTlogProof(b.entries[2]!.proof);
      b.entries[2]!.index = 5;
      b.entries[2]!.proof = formatTlogProof({ ...p, index: 5 });
    }, /entry 5: inclusion proof does not verify/],
    ['index beyond the tree', (b) => {
      const p = parseTlogProof(b.entries[2]!.proof);
      b.entries[2]!.index = 6;
      b.entries[2]!.proof = formatTlogProof({ ...p, index: 6 });
    }, /entry 6: index beyond the checkpoint's tree size 6/],
    ['checkpoint root', (b) => { b.checkpoint = b.checkpoint.replace(/\n([A-Za-z0-9+/]{43}=)\n/, (_, r: string) => `\n${Buffer.from(flip(Buffer.from(r, 'base64'), 0)).toString('base64')}\n`); }, /checkpoint does not verify/],
    ['tlog-proof with another checkpoint', (b) => { b.entries[0]!.proof = formatTlogProof({ ...parseTlogProof(b.entries[0]!.proof), checkpoint: log.note.replace('\n6\n', '\n7\n') }); }, /entry 1: its tlog-proof carries a different checkpoint/],
    ['origin field', (b) => { b.origin = 'other.example/log'; }, /origin test\.example\/bundle-log is not the bundle's origin other\.example\/log/],
    ['tlog-proof text', (b) => { b.entries[1]!.proof = 'not a proof'; }, /entry 2: tlog-proof malformed/],
  ];
  for (const [name, mutate, reason] of cases) {
    const b = clone(good);
    mutate(b);
    const checked = await verifyBundle(b, verifier);
    if (checked.ok) { t.fail(`${name}: verified`); continue; }
    t.regex(checked.reason, reason, name);
  }
  const otherKey = parseVerifierKey(generateKeyPair(ORIGIN, nodeEd25519).verifierKey, nodeEd25519);
  const wrongKey = await verifyBundle(clone(good), otherKey);
  t.false(wrongKey.ok);
});

test('a leaf whose inclusion holds but whose builder signature does not: fails, naming the entry', async (t) => {
  const builder = await makeBuilder('Forger');
  const text = statementText(randomStatement());
  const { leaf } = await buildLeaf({ kind: 'lafs-attestation/v1', signed: new TextEncoder().encode(text), signature: await signDetached(builder, text), publicKey: builder.publicKey });
  // The signature belongs to other bytes: same shape, wrong content.
  const forged = encodeLeaf({ ...leaf, signed: new TextEncoder().encode(statementText(randomStatement())) });
  const log = await memoryLog(2, [forged]);
  const checked = await verifyBundle(clone(await bundleOf(log, [0, 2])), verifier);
  t.false(checked.ok);
  if (!checked.ok) t.regex(checked.reason, /entry 2: builder signature does not verify/);
});

test('parseBundle rejects malformed text with LafsError(bad-bundle) naming the field', async (t) => {
  const log = await memoryLog(2);
  const good = JSON.parse(encodeBundle(await bundleOf(log, [0, 1])));
  const cases: [string, unknown, RegExp][] = [
    ['not JSON', '{', /\(file\): not JSON/],
    ['array', [], /not a JSON object/],
    ['format', { ...good, format: 'something-else' }, /format: expected "lafs-proof-bundle"/],
    ['version', { ...good, version: 2 }, /version: unsupported version 2/],
    ['checkpoint', { ...good, checkpoint: 7 }, /checkpoint: missing or not a string/],
    ['entries', { ...good, entries: {} }, /entries: missing or not an array/],
    ['index', { ...good, entries: [{ ...good.entries[0], index: -1 }] }, /entries\[0\]\.index: not a non-negative integer/],
    ['duplicate index', { ...good, entries: [good.entries[0], good.entries[0]] }, /entries\[1\]\.index: index 0 appears twice/],
    ['leaf base64', { ...good, entries: [{ ...good.entries[0], leaf: `${good.entries[0].leaf.slice(0, -2)}!!` }] }, /entries\[0\]\.leaf: not canonical standard base64/],
    ['proof missing', { ...good, entries: [{ index: 0, leaf: good.entries[0].leaf }] }, /entries\[0\]\.proof: missing or not a string/],
    ['query', { ...good, query: 'x' }, /query: missing or not an object/],
  ];
  for (const [name, value, reason] of cases) {
    const error = t.throws(() => parseBundle(typeof value === 'string' ? value : JSON.stringify(value)), { instanceOf: LafsError }, name);
    t.is(error?.code, 'bad-bundle', name);
    t.regex(error?.message ?? '', reason, name);
  }
});

test('the example in docs/bundle.md parses and verifies with the verifier key printed there', async (t) => {
  const doc = readFileSync(join(repoRoot, 'docs', 'bundle.md'), 'utf8');
  const json = /```json\n([\s\S]*?)\n```/.exec(doc)?.[1];
  const vkey = /verifier key\s+`([^`]+)`/.exec(doc)?.[1];
  if (!json || !vkey) return t.fail('docs/bundle.md has no ```json example or no verifier key');
  const checked = await verifyBundle(parseBundle(json), parseVerifierKey(vkey, nodeEd25519));
  if (!checked.ok) return t.fail(checked.reason);
  t.true(checked.value.entries.length >= 1);
});
