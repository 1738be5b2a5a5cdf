/**
 * The server's stored-tile hash source (full tiles stored expanded) gives exactly the proofs of
 * merkle's own tile source over plain tiles, for every tree size, and they verify.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { nodeSha256 } from '../../attestation/node-crypto.js';
import { type Hash } from '../../merkle/hash.js';
import { makeConsistencyProof, makeInclusionProof, rootAt, verifyConsistency, verifyInclusion } from '../../merkle/proof.js';
import { ExpandedTile, tileHashSource } from '../../merkle/tile-source.js';
import { IncrementalTree } from '../../merkle/tree.js';
import { expandFullTile, EXPANDED_BYTES, StoredHashes } from '../../log-server/proof-source.js';
import { storedTile } from '../../log-server/store.js';

const SIZE = 70_000; // three tile levels, full and partial tiles at each

async function build() {
  const tree = IncrementalTree.empty(nodeSha256);
  const stored = new Map<string, Uint8Array>();
  const leaves: Hash[] = [];
  const roots: Hash[] = [];
  // Odd batch sizes so tiles are written at many widths before they fill.
  for (let n = 0; n < SIZE; ) {
    const count = Math.min(SIZE - n, 1 + ((n * 7919) % 3001));
    const batch = Array.from({ length: count }, () => new Uint8Array(randomBytes(32)));
    leaves.push(...batch);
    const r = tree.append(batch);
    for (const t of r.tiles) stored.set(`${t.level}/${t.index}`, storedTile(t));
    roots[r.size] = r.root;
    n += count;
  }
  return { stored, leaves, roots, root: tree.root };
}

test('expandFullTile matches merkle ExpandedTile at every internal level', (t) => {
  const hashes = new Uint8Array(randomBytes(256 * 32));
  const expanded = expandFullTile(hashes, nodeSha256);
  t.is(expanded.length, EXPANDED_BYTES);
  const reference = new ExpandedTile(hashes, 256, nodeSha256);
  let offset = 0;
  for (let j = 0; j < 8; j++) {
    for (let i = 0; i < 256 >> j; i++) t.deepEqual(Buffer.from(expanded.subarray((offset + i) * 32, (offset + i + 1) * 32)), Buffer.from(reference.hash(j, i)));
    offset += 256 >> j;
  }
});

test('stored-tile proofs equal merkle tile-source proofs and verify, at many sizes', async (t) => {
  const { stored, leaves, root } = await build();
  const read = (level: number, index: number) => stored.get(`${level}/${index}`);
  const plain = async (level: number, index: number, width: number) => stored.get(`${level}/${index}`)?.subarray(0, width * 32);
  const source = new StoredHashes(read, nodeSha256);
  t.deepEqual(Buffer.from(await rootAt(SIZE, source.source(SIZE), nodeSha256)), Buffer.from(root));
  const sizes = [1, 2, 255, 256, 257, 65535, 65536, 65537, SIZE, ...Array.from({ length: 20 }, () => 1 + Math.floor(Math.random() * SIZE))];
  for (const size of sizes) {
    const rootAtSize = await rootAt(size, tileHashSource(size, plain, nodeSha256), nodeSha256);
    for (const index of [0, size - 1, Math.floor(Math.random() * size)]) {
      const ours = await makeInclusionProof(index, size, source.source(size), nodeSha256);
      const theirs = await makeInclusionProof(index, size, tileHashSource(size, plain, nodeSha256), nodeSha256);
      t.deepEqual(ours.map((h) => Buffer.from(h)), theirs.map((h) => Buffer.from(h)));
      t.deepEqual(verifyInclusion(leaves[index]!, index, size, ours, rootAtSize, nodeSha256), { ok: true });
    }
    if (size < SIZE) {
      const proof = await makeConsistencyProof(size, SIZE, source.source(SIZE), nodeSha256);
      t.deepEqual(verifyConsistency(size, SIZE, proof, rootAtSize, root, nodeSha256), { ok: true });
    }
  }
});
