/**
 * Sequencer + store + reader in-process, with synthetic leaves (no OpenPGP): group commit gives
 * contiguous indexes, dedups, writes tiles that reproduce the signed root, proofs verify, a
 * reopened store resumes exactly, and a failed write loses nothing acknowledged.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { nodeEd25519, nodeSha256 } from '../../attestation/node-crypto.js';
import { verifyCheckpoint } from '../../merkle/checkpoint.js';
import { LafsError } from '../../merkle/errors.js';
import { leafHash, rootOfLeaves } from '../../merkle/hash.js';
import { parseVerifierKey } from '../../merkle/note.js';
import { rootAt, verifyConsistency, verifyInclusion } from '../../merkle/proof.js';
import { tileHashSource } from '../../merkle/tile-source.js';
import { LogReader } from '../../log-server/reader.js';
import { Sequencer, type Submission } from '../../log-server/sequencer.js';
import { CheckpointSigner } from '../../log-server/signer.js';
import { Store, keys } from '../../log-server/store.js';
import { TileCache } from '../../log-server/tile-cache.js';
import { tempDir } from '../helpers/tmp.js';

function submission(leaf: Uint8Array, n = 0): Submission {
  return {
    leaf,
    leafHash: leafHash(leaf, nodeSha256),
    meta: { builder: 'ab'.repeat(20), warnings: [], receivedAt: new Date(0).toISOString() },
    rows: [{ builder: 'ab'.repeat(20), source: `sha256:${'0'.repeat(63)}${n % 10}`, platform: 'x86_64-linux-gnu', name: `f${n}.tar.gz`, sha256: randomBytes(32).toString('hex') }],
  };
}

async function openLog(dir: string) {
  const { signer } = CheckpointSigner.loadOrCreate(dir, 'test.example/seq');
  const store = await Store.open(join(dir, 'db'));
  const tiles = new TileCache(store, 8);
  const sequencer = await Sequencer.open(store, signer, tiles);
  const reader = new LogReader(store, tiles, () => sequencer.state);
  return { signer, store, tiles, sequencer, reader };
}

test('concurrent submissions get contiguous indexes; tiles give the signed root; proofs verify; reopen resumes', async (t) => {
  const dir = tempDir();
  const log = await openLog(dir);
  t.is(log.sequencer.state.size, 0);
  const leaves = Array.from({ length: 700 }, (_, i) => new Uint8Array(randomBytes(20 + (i % 50))));
  const results = await Promise.all(leaves.map((l, i) => log.sequencer.submit(submission(l, i))));
  t.deepEqual(results.map((r) => r.index).sort((a, b) => a - b), leaves.map((_, i) => i));
  t.true(results.every((r) => r.created && r.index < r.size));
  t.true(new Set(results.map((r) => r.size)).size > 1 || results[0]!.size === 700, 'batches happened');

  const state = log.sequencer.state;
  t.is(state.size, 700);
  const verifier = parseVerifierKey(log.signer.verifierKey, nodeEd25519);
  const cp = verifyCheckpoint(state.checkpoint, verifier, 'test.example/seq');
  if (!cp.ok) return t.fail(cp.reason);
  // Leaves in index order recompute the root; so do the stored tiles.
  const byIndex = new Array<Uint8Array>(700);
  results.forEach((r, i) => (byIndex[r.index] = leaves[i]!));
  t.deepEqual(Buffer.from(rootOfLeaves(byIndex, nodeSha256)), Buffer.from(cp.value.checkpoint.root));
  t.deepEqual(Buffer.from(await rootAt(700, tileHashSource(700, log.tiles.read, nodeSha256), nodeSha256)), Buffer.from(cp.value.checkpoint.root));

  for (const i of [0, 1, 255, 256, 511, 699]) {
    const proof = await log.reader.inclusionProof(i, 700);
    t.deepEqual(verifyInclusion(leafHash(byIndex[i]!, nodeSha256), i, 700, proof, cp.value.checkpoint.root, nodeSha256), { ok: true });
  }
  // Every intermediate checkpoint handed out is consistent with the final one.
  for (const r of results.slice(0, 50)) {
    const old = verifyCheckpoint(r.checkpoint, verifier);
    if (!old.ok) return t.fail(old.reason);
    const proof = await log.reader.consistencyProof(r.size, 700);
    t.deepEqual(verifyConsistency(r.size, 700, proof, old.value.checkpoint.root, cp.value.checkpoint.root, nodeSha256), { ok: true });
  }

  // Resubmission is idempotent, also twice in one batch.
  const again = await Promise.all([log.sequencer.submit(submission(leaves[5]!)), log.sequencer.submit(submission(leaves[5]!))]);
  t.deepEqual(again.map((r) => [r.index, r.created]), [[results[5]!.index, false], [results[5]!.index, false]]);
  const twin = new Uint8Array(randomBytes(30));
  const twins = await Promise.all([log.sequencer.submit(submission(twin)), log.sequencer.submit(submission(twin))]);
  t.deepEqual(twins.map((r) => [r.index, r.created]), [[700, true], [700, false]]);

  // Lookup rows were written with the entries.
  const rows = await log.store.lookupName({ source: `sha256:${'0'.repeat(63)}3` }, 1000);
  t.is(rows.length, 70);
  const one = await log.store.lookupHash(rows[0]!.sha256, 10);
  t.deepEqual(one.map((r) => r.index), [rows[0]!.index]);

  const before = log.sequencer.state;
  await log.sequencer.close();
  await log.store.close();
  const reopened = await openLog(dir);
  t.is(reopened.sequencer.state.size, 701);
  t.is(reopened.sequencer.state.checkpoint, before.checkpoint);
  const next = await reopened.sequencer.submit(submission(new Uint8Array(randomBytes(40))));
  t.is(next.index, 701);
  t.deepEqual(Buffer.from((await reopened.store.leaf(3))!), Buffer.from(byIndex[3]!));
  await reopened.sequencer.close();
  await reopened.store.close();
});

test('a failed batch write rejects its waiters with unavailable, keeps earlier entries, and later submissions continue', async (t) => {
  const dir = tempDir();
  const log = await openLog(dir);
  const first = await Promise.all(Array.from({ length: 300 }, () => log.sequencer.submit(submission(new Uint8Array(randomBytes(32))))));
  t.is(log.sequencer.state.size, 300);
  const realCommit = log.store.commit.bind(log.store);
  let failures = 1;
  log.store.commit = async (...args) => {
    if (failures-- > 0) throw new Error('disk full (simulated)');
    return realCommit(...args);
  };
  const failed = await Promise.allSettled(Array.from({ length: 10 }, () => log.sequencer.submit(submission(new Uint8Array(randomBytes(32))))));
  t.true(failed.every((r) => r.status === 'rejected' && r.reason instanceof LafsError && r.reason.code === 'unavailable'));
  t.is(log.sequencer.state.size, 300);
  const later = await log.sequencer.submit(submission(new Uint8Array(randomBytes(32))));
  t.is(later.index, 300, 'the failed batch left no gap and no ghost entries');
  const proof = await log.reader.inclusionProof(first[0]!.index, 301);
  const cp = verifyCheckpoint(log.sequencer.state.checkpoint, parseVerifierKey(log.signer.verifierKey, nodeEd25519));
  if (!cp.ok) return t.fail(cp.reason);
  t.deepEqual(verifyInclusion(leafHash((await log.store.leaf(first[0]!.index))!, nodeSha256), first[0]!.index, 301, proof, cp.value.checkpoint.root, nodeSha256), { ok: true });
  await log.sequencer.close();
  await log.store.close();
});

test('the reader serves tiles and bundles only under the checkpoint, partial prefixes included', async (t) => {
  const dir = tempDir();
  const log = await openLog(dir);
  await Promise.all(Array.from({ length: 260 }, () => log.sequencer.submit(submission(new Uint8Array(randomBytes(10))))));
  t.is((await log.reader.tile({ kind: 'hash', level: 0, index: 0, width: 256 }))?.bytes.length, 256 * 32);
  t.true((await log.reader.tile({ kind: 'hash', level: 0, index: 0, width: 256 }))?.full);
  t.is((await log.reader.tile({ kind: 'hash', level: 0, index: 1, width: 4 }))?.bytes.length, 4 * 32);
  t.is(await log.reader.tile({ kind: 'hash', level: 0, index: 1, width: 5 }), undefined);
  t.is(await log.reader.tile({ kind: 'hash', level: 0, index: 1, width: 256 }), undefined);
  t.is((await log.reader.tile({ kind: 'hash', level: 1, index: 0, width: 1 }))?.bytes.length, 32);
  t.is(await log.reader.tile({ kind: 'hash', level: 1, index: 0, width: 2 }), undefined);
  t.is((await log.reader.tile({ kind: 'entries', index: 1, width: 4 }))?.bytes.length, 4 * 12);
  t.is(await log.reader.tile({ kind: 'entries', index: 2, width: 1 }), undefined);
  await t.throwsAsync(log.reader.inclusionProof(260, 260), { instanceOf: LafsError, message: /index 260/ });
  t.throws(() => log.reader.treeSize(261), { instanceOf: LafsError });
  await t.throwsAsync(log.reader.consistencyProof(0, 5), { instanceOf: LafsError });
  await log.sequencer.close();
  await log.store.close();
});

test('a batch that reached the store although its write reported failure is resumed after, never overwritten', async (t) => {
  const dir = tempDir();
  const log = await openLog(dir);
  await Promise.all(Array.from({ length: 300 }, () => log.sequencer.submit(submission(new Uint8Array(randomBytes(32))))));
  const realCommit = log.store.commit.bind(log.store);
  let failures = 1;
  log.store.commit = async (...args) => {
    await realCommit(...args); // the batch is written...
    if (failures-- > 0) throw new Error('fsync reported EIO after the write (simulated)'); // ...but reported lost
  };
  const ghosts = Array.from({ length: 10 }, (_, i) => new Uint8Array(randomBytes(32 + i)));
  const failed = await Promise.allSettled(ghosts.map((l, i) => log.sequencer.submit(submission(l, i))));
  t.true(failed.every((r) => r.status === 'rejected' && r.reason instanceof LafsError && r.reason.code === 'unavailable'));
  t.is(log.sequencer.state.size, 310, 'the state is what the store holds');

  const later = await log.sequencer.submit(submission(new Uint8Array(randomBytes(32))));
  t.is(later.index, 310, 'the next entry goes after the batch that reached the store');
  // Every leaf of that batch is where its leaf-hash row says, and a retry is idempotent.
  for (const leaf of ghosts) {
    const again = await log.sequencer.submit(submission(leaf));
    t.false(again.created);
    t.true(again.index >= 300 && again.index < 310);
    t.deepEqual(Buffer.from((await log.store.leaf(again.index))!), Buffer.from(leaf));
    t.is(await log.reader.indexOf(leafHash(leaf, nodeSha256)), again.index);
  }
  const rows = await log.store.lookupName({ source: `sha256:${'0'.repeat(63)}3` }, 1000);
  for (const r of rows.filter((r) => r.index >= 300)) t.is(r.index, (await log.reader.indexOf(leafHash(ghosts[3]!, nodeSha256)))!);
  // The tree, the tiles and the checkpoint agree.
  const cp = verifyCheckpoint(log.sequencer.state.checkpoint, parseVerifierKey(log.signer.verifierKey, nodeEd25519));
  if (!cp.ok) return t.fail(cp.reason);
  t.is(cp.value.checkpoint.size, 311);
  t.deepEqual(Buffer.from(await rootAt(311, tileHashSource(311, log.tiles.read, nodeSha256), nodeSha256)), Buffer.from(cp.value.checkpoint.root));
  await log.sequencer.close();
  await log.store.close();
  const reopened = await openLog(dir);
  t.is(reopened.sequencer.state.size, 311);
  await reopened.sequencer.close();
  await reopened.store.close();
});

test('a leaf-hash row that does not match the tree is not believed', async (t) => {
  const dir = tempDir();
  const log = await openLog(dir);
  const leaves = Array.from({ length: 5 }, () => new Uint8Array(randomBytes(32)));
  for (const l of leaves) await log.sequencer.submit(submission(l));
  // A stale row (as an older server could leave behind): it points at an index holding another leaf.
  const stray = new Uint8Array(randomBytes(32));
  const db = (log.store as unknown as { db: { put(k: Buffer, v: Buffer, o: object): Promise<void> } }).db;
  await db.put(keys.leafHash(leafHash(stray, nodeSha256)), Buffer.from([0, 0, 0, 0, 0, 0, 0, 2]), { sync: true });
  t.is(await log.reader.indexOf(leafHash(stray, nodeSha256)), undefined);
  const r = await log.sequencer.submit(submission(stray));
  t.deepEqual([r.index, r.created], [5, true], 'logged as new, not mistaken for entry 2');
  t.is(await log.reader.indexOf(leafHash(stray, nodeSha256)), 5);
  t.is(await log.reader.indexOf(leafHash(leaves[2]!, nodeSha256)), 2);
  await log.sequencer.close();
  await log.store.close();
});
