/**
 * RFC 9162 2.1.3 / 2.1.4 proofs: the RFC's own worked example, generation checked against the
 * RFC's recursive definitions, verification by property tests (every proof verifies, every
 * tampered one fails), hostile arguments, and tree sizes above 2^32.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  IncrementalTree,
  LafsError,
  emptyRoot,
  makeConsistencyProof,
  makeInclusionProof,
  nodeHash,
  rootAt,
  rootOfLeafHashes,
  tileHashSource,
  verifyConsistency,
  verifyInclusion,
  type Hash,
  type HashSource,
} from '../../merkle/index.js';
import { MemoryTiles, RefTree, hex, nodeSha, refLeafHash, refPath, refSubproof, shape, unhex, vectors } from './reference.js';

/** A tree of n distinct leaves, grown in batches, with its tiles in memory. */
function buildTree(n: number, seed: number) {
  const leafHashes = Array.from({ length: n }, (_, i) => refLeafHash(new TextEncoder().encode(`${seed}/${i}`)));
  const tree = IncrementalTree.empty(nodeSha);
  const store = new MemoryTiles();
  for (let at = 0, batch = 1; at < n; at += batch, batch = (batch * 5 + 1) % 97 + 1) store.put(tree.append(leafHashes.slice(at, at + batch)).tiles);
  return { leafHashes, ref: new RefTree(leafHashes), store, root: tree.root };
}

/** A hash source holding every complete subtree (like Go's stored hashes), from the reference model. */
function refSource(ref: RefTree): HashSource {
  return {
    async hashes(coords) {
      return coords.map(({ level, index }) => ref.mth(index * 2 ** level, (index + 1) * 2 ** level));
    },
  };
}

function flipBit(h: Hash, bit: number): Hash {
  const out = h.slice();
  out[Math.floor(bit / 8) % out.length]! ^= 1 << bit % 8;
  return out;
}

const bitLength = (n: number) => Math.max(1, Math.ceil(Math.log2(n + 1)));

test('RFC 9162 section 2.1.5 example: inclusion and consistency proofs of the 7-leaf tree', async (t) => {
  const ex = vectors.rfc9162Example;
  const leafHashes = vectors.leaves.slice(0, ex.size).map((l) => refLeafHash(unhex(l)));
  const ref = new RefTree(leafHashes);
  const node = (name: string) => hex(ref.mth(...ex.nodes[name]!));
  const root = ref.mth(0, ex.size);
  t.is(hex(root), vectors.roots['7']!);
  for (const { index, proof } of ex.inclusion) {
    const made = await makeInclusionProof(index, ex.size, refSource(ref), nodeSha);
    t.deepEqual(made.map(hex), proof.map(node), `inclusion of d${index}`);
    t.deepEqual(verifyInclusion(leafHashes[index]!, index, ex.size, made, root), { ok: true });
  }
  for (const { from, proof } of ex.consistency) {
    const made = await makeConsistencyProof(from, ex.size, refSource(ref), nodeSha);
    t.deepEqual(made.map(hex), proof.map(node), `consistency ${from} -> ${ex.size}`);
    t.deepEqual(verifyConsistency(from, ex.size, made, ref.mth(0, from), root), { ok: true });
  }
  // The hex values docs/merkle.md prints.
  t.is(hex(leafHashes[3]!), ex.worked.leafHashOfIndex3);
  t.deepEqual((await makeInclusionProof(3, ex.size, refSource(ref))).map(hex), ex.worked.inclusionOfIndex3);
  t.deepEqual((await makeConsistencyProof(3, ex.size, refSource(ref))).map(hex), ex.worked.consistency3to7);
  t.deepEqual(verifyInclusion(unhex(ex.worked.leafHashOfIndex3), 3, 7, ex.worked.inclusionOfIndex3.map(unhex), unhex(vectors.roots['7']!)), { ok: true });
  t.deepEqual(verifyConsistency(3, 7, ex.worked.consistency3to7.map(unhex), unhex(vectors.roots['3']!), unhex(vectors.roots['7']!)), { ok: true });
});

test('every inclusion proof verifies; any tampering fails exactly when the RFC says it must', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 3000 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), async (n, rawIndex, seed, bit) => {
      const index = rawIndex % n;
      const { leafHashes, ref, store, root } = buildTree(n, seed);
      t.is(hex(root), hex(ref.mth(0, n)));
      const proof = await makeInclusionProof(index, n, tileHashSource(n, store.read, nodeSha), nodeSha);
      const ranges = refPath(index, 0, n);
      t.deepEqual(proof.map(hex), ranges.map(([a, b]) => hex(ref.mth(a, b))), 'generation = RFC PATH');
      t.deepEqual(proof.map(hex), (await makeInclusionProof(index, n, refSource(ref))).map(hex), 'tiles = all stored hashes');
      const leaf = leafHashes[index]!;
      t.deepEqual(verifyInclusion(leaf, index, n, proof, root), { ok: true });

      for (let i = 0; i < proof.length; i++) {
        const bad = proof.slice();
        bad[i] = flipBit(bad[i]!, bit + i);
        t.false(verifyInclusion(leaf, index, n, bad, root).ok, `bit flipped in proof hash ${i}`);
      }
      t.false(verifyInclusion(flipBit(leaf, bit), index, n, proof, root).ok, 'leaf hash flipped');
      t.false(verifyInclusion(leaf, index, n, proof, flipBit(root, bit)).ok, 'root flipped');
      t.false(verifyInclusion(leaf, index, n, [...proof, proof[0] ?? leaf], root).ok, 'one hash too many');
      t.false(verifyInclusion(leaf, index, n, [root, ...proof], root).ok, 'one hash too many in front');
      if (proof.length > 0) {
        t.false(verifyInclusion(leaf, index, n, proof.slice(1), root).ok, 'first hash missing');
        t.false(verifyInclusion(leaf, index, n, proof.slice(0, -1), root).ok, 'last hash missing');
      }

      // Index and size are not hashed into an inclusion proof: a verifier given other numbers
      // accepts exactly when the RFC reconstruction for those numbers rebuilds the same tree.
      const original = shape(0, n);
      const mustAccept = (i2: number, n2: number) => {
        if (i2 >= n2) return false;
        const ranges2 = refPath(i2, 0, n2);
        if (ranges2.length !== ranges.length) return false;
        const subst = new Map(ranges2.map(([a, b], k) => [`${a},${b}`, shape(ranges[k]![0], ranges[k]![1])]));
        subst.set(`${i2},${i2 + 1}`, String(index));
        return shape(0, n2, subst) === original;
      };
      for (let b = 0; b <= bitLength(n); b++) {
        const i2 = index ^ (1 << b);
        t.false(verifyInclusion(leaf, i2, n, proof, root).ok, `index bit ${b} flipped`);
        t.false(mustAccept(i2, n), 'model: another index never rebuilds the same tree');
        const n2 = n ^ (1 << b);
        t.is(verifyInclusion(leaf, index, n2, proof, root).ok, mustAccept(index, n2), `size ${n} -> ${n2}`);
      }
    }),
    { numRuns: 40 },
  );
});

test('every consistency proof verifies; any tampering fails exactly when the RFC says it must', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 2, max: 3000 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), async (n, rawFrom, seed, bit) => {
      const m = 1 + (rawFrom % (n - 1));
      const { ref, store, root } = buildTree(n, seed);
      const oldRoot = ref.mth(0, m);
      t.is(hex(await rootAt(m, tileHashSource(n, store.read, nodeSha), nodeSha)), hex(oldRoot), 'rootAt an older size');
      const proof = await makeConsistencyProof(m, n, tileHashSource(n, store.read, nodeSha), nodeSha);
      const ranges = refSubproof(m, 0, n, true);
      t.deepEqual(proof.map(hex), ranges.map(([a, b]) => hex(ref.mth(a, b))), 'generation = RFC SUBPROOF');
      t.deepEqual(verifyConsistency(m, n, proof, oldRoot, root), { ok: true });

      for (let i = 0; i < proof.length; i++) {
        const bad = proof.slice();
        bad[i] = flipBit(bad[i]!, bit + i);
        t.false(verifyConsistency(m, n, bad, oldRoot, root).ok, `bit flipped in proof hash ${i}`);
      }
      t.false(verifyConsistency(m, n, proof, flipBit(oldRoot, bit), root).ok, 'old root flipped');
      t.false(verifyConsistency(m, n, proof, oldRoot, flipBit(root, bit)).ok, 'new root flipped');
      t.false(verifyConsistency(m, n, [...proof, root], oldRoot, root).ok, 'one hash too many');
      t.false(verifyConsistency(m, n, [oldRoot, ...proof], oldRoot, root).ok, 'one hash too many in front');
      t.false(verifyConsistency(m, n, proof.slice(1), oldRoot, root).ok, 'first hash missing');
      t.false(verifyConsistency(m, n, proof.slice(0, -1), oldRoot, root).ok, 'last hash missing');

      const oldShape = shape(0, m);
      const newShape = shape(0, n);
      const mustAccept = (m2: number, n2: number) => {
        if (!(0 < m2 && m2 < n2)) return false;
        const ranges2 = refSubproof(m2, 0, n2, true);
        if (ranges2.length !== ranges.length) return false;
        const subst = new Map(ranges2.map(([a, b], k) => [`${a},${b}`, shape(ranges[k]![0], ranges[k]![1])]));
        // The verifier supplies the old root itself as the first element when m2 is a power of two.
        if (ranges2.length === 0 || !subst.has(`0,${m2}`)) subst.set(`0,${m2}`, oldShape);
        return shape(0, m2, subst) === oldShape && shape(0, n2, subst) === newShape;
      };
      for (let b = 0; b <= bitLength(n); b++) {
        const m2 = m ^ (1 << b);
        const n2 = n ^ (1 << b);
        t.is(verifyConsistency(m2, n, proof, oldRoot, root).ok, mustAccept(m2, n), `old size ${m} -> ${m2} (new ${n})`);
        t.is(verifyConsistency(m, n2, proof, oldRoot, root).ok, mustAccept(m, n2), `new size ${n} -> ${n2} (old ${m})`);
      }
    }),
    { numRuns: 40 },
  );
});

test('consistency edge cases: equal sizes and the empty old tree need an empty proof', async (t) => {
  const { ref, store, root } = buildTree(10, 1);
  const source = tileHashSource(10, store.read, nodeSha);
  t.deepEqual(await makeConsistencyProof(10, 10, source), []);
  t.deepEqual(await makeConsistencyProof(0, 10, source), []);
  t.deepEqual(verifyConsistency(10, 10, [], root, root), { ok: true });
  t.false(verifyConsistency(10, 10, [], ref.mth(0, 9), root).ok);
  t.false(verifyConsistency(10, 10, [root], root, root).ok);
  t.deepEqual(verifyConsistency(0, 10, [], emptyRoot(), root), { ok: true });
  t.false(verifyConsistency(0, 10, [], root, root).ok);
  t.false(verifyConsistency(0, 10, [root], emptyRoot(), root).ok);
  t.deepEqual(verifyConsistency(0, 0, [], emptyRoot(), emptyRoot()), { ok: true });
  t.false(verifyConsistency(0, 0, [], root, root).ok, 'a size-0 tree has only the empty-tree hash');
  t.false(verifyConsistency(4, 10, [], ref.mth(0, 4), root).ok, 'empty proof between different sizes');
  t.false(verifyConsistency(10, 4, [], root, ref.mth(0, 4)).ok, 'shrinking tree');
});

test('generation rejects impossible arguments with LafsError out-of-range, and missing hashes with not-found', async (t) => {
  const { store } = buildTree(20, 2);
  const source = tileHashSource(20, store.read, nodeSha);
  for (const [i, n] of [[20, 20], [-1, 20], [1.5, 20], [0, 2 ** 53], [Number.NaN, 20]] as const) {
    const err = await t.throwsAsync(makeInclusionProof(i, n, source));
    t.true(err instanceof LafsError && err.code === 'out-of-range', `${i} in ${n}`);
  }
  for (const [m, n] of [[5, 4], [-1, 4], [1, 2 ** 53]] as const) {
    const err = await t.throwsAsync(makeConsistencyProof(m, n, source));
    t.true(err instanceof LafsError && err.code === 'out-of-range', `${m} -> ${n}`);
  }
  const err = await t.throwsAsync(makeInclusionProof(3, 21, source));
  t.true(err instanceof LafsError && err.code === 'not-found', 'a size beyond what the source holds');
});

test('verification never throws on hostile arguments and names the problem', (t) => {
  const { leafHashes, root } = buildTree(8, 3);
  const good = leafHashes[0]!;
  const h = (len: number) => new Uint8Array(len);
  const cases: [string, () => { ok: boolean; reason?: string }, RegExp][] = [
    ['index = size', () => verifyInclusion(good, 8, 8, [], root), /not below tree size/],
    ['negative index', () => verifyInclusion(good, -1, 8, [], root), /negative/],
    ['fractional size', () => verifyInclusion(good, 0, 7.5, [], root), /not a safe integer/],
    ['size beyond 2^53', () => verifyInclusion(good, 0, 2 ** 53, [], root), /not a safe integer/],
    ['NaN index', () => verifyInclusion(good, Number.NaN, 8, [], root), /not a safe integer/],
    ['string size', () => verifyInclusion(good, 0, '8' as unknown as number, [], root), /not a safe integer/],
    ['short proof hash', () => verifyInclusion(good, 0, 8, [h(31), h(32), h(32)], root), /proof hash 0/],
    ['long proof hash', () => verifyInclusion(good, 0, 8, [h(32), h(33), h(32)], root), /proof hash 1/],
    ['proof not an array', () => verifyInclusion(good, 0, 8, null as unknown as Hash[], root), /not an array/],
    ['proof of strings', () => verifyInclusion(good, 0, 8, ['ab'] as unknown as Hash[], root), /proof hash 0/],
    ['short leaf hash', () => verifyInclusion(h(31), 0, 8, [], root), /leaf hash/],
    ['root of wrong type', () => verifyInclusion(good, 0, 8, [], 'root' as unknown as Hash), /root/],
    ['too many hashes', () => verifyInclusion(good, 0, 1, [h(32)], root), /more than/],
    ['giant proof', () => verifyInclusion(good, 0, 8, new Array(1e6).fill(h(32)), root), /1000000 hashes, more than any tree/],
    ['consistency: giant proof', () => verifyConsistency(3, 8, new Array(107).fill(h(32)), root, root), /107 hashes, more than any tree/],
    ['too few hashes', () => verifyInclusion(good, 0, 8, [h(32)], root), /fewer than/],
    ['consistency: shrinking', () => verifyConsistency(8, 4, [h(32)], root, root), /above new tree size/],
    ['consistency: negative', () => verifyConsistency(-4, 8, [h(32)], root, root), /negative/],
    ['consistency: beyond 2^53', () => verifyConsistency(4, 2 ** 60, [h(32)], root, root), /not a safe integer/],
    ['consistency: bad hash', () => verifyConsistency(3, 8, [h(32), h(3)], root, root), /proof hash 1/],
    ['consistency: bad old root', () => verifyConsistency(3, 8, [h(32)], h(0), root), /old root/],
    ['consistency: bad new root', () => verifyConsistency(3, 8, [h(32)], root, undefined as unknown as Hash), /new root/],
    ['consistency: too many', () => verifyConsistency(4, 8, [h(32), h(32), h(32)], root, root), /more than/],
    ['consistency: too few', () => verifyConsistency(3, 8, [h(32)], root, root), /fewer than/],
  ];
  for (const [name, run, reason] of cases) {
    const verdict = run();
    t.false(verdict.ok, name);
    t.regex(verdict.reason ?? '', reason, name);
  }
  fc.assert(
    fc.property(fc.anything(), fc.anything(), fc.anything(), fc.anything(), fc.anything(), (a, b, c, d, e) => {
      const v1 = verifyInclusion(a as Hash, b as number, c as number, d as Hash[], e as Hash);
      const v2 = verifyConsistency(a as number, b as number, c as Hash[], d as Hash, e as Hash);
      return v1.ok === false && v2.ok === false && typeof v1.reason === 'string' && typeof v2.reason === 'string';
    }),
    { numRuns: 300 },
  );
});

/**
 * A tree of any size whose leaves are all equal: the complete subtree of 2^k leaves has the same
 * hash everywhere, so a hash source for trees of 2^50 leaves fits in 53 hashes. It exercises the
 * index arithmetic far above 2^32, where bitwise operators would silently truncate.
 */
function uniformSource(): { source: HashSource; mth: (size: number) => Hash } {
  const levels: Hash[] = [refLeafHash(new Uint8Array([42]))];
  for (let k = 1; k <= 53; k++) levels.push(nodeHash(levels[k - 1]!, levels[k - 1]!, nodeSha));
  const mth = (size: number): Hash => {
    const parts: Hash[] = [];
    for (let k = 53; k >= 0; k--) if (Math.floor(size / 2 ** k) % 2 === 1) parts.push(levels[k]!);
    let h = parts[parts.length - 1]!;
    for (let i = parts.length - 2; i >= 0; i--) h = nodeHash(parts[i]!, h, nodeSha);
    return h;
  };
  return { source: { hashes: async (coords) => coords.map((c) => levels[c.level]!) }, mth };
}

test('proofs for tree sizes far above 2^32 generate and verify', async (t) => {
  const { source, mth } = uniformSource();
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 2 ** 32 + 1, max: Number.MAX_SAFE_INTEGER }), fc.double({ min: 0, max: 1, noNaN: true }), async (size, f) => {
      const index = Math.min(size - 1, Math.floor(f * size));
      const root = await rootAt(size, source, nodeSha);
      t.is(hex(root), hex(mth(size)));
      const leaf = refLeafHash(new Uint8Array([42]));
      const proof = await makeInclusionProof(index, size, source, nodeSha);
      t.deepEqual(verifyInclusion(leaf, index, size, proof, root, nodeSha), { ok: true }, `${index} in ${size}`);
      t.false(verifyInclusion(leaf, index, size, proof.slice(1), root, nodeSha).ok);
      const from = Math.max(1, Math.floor(f * (size - 1)));
      const cproof = await makeConsistencyProof(from, size, source, nodeSha);
      t.deepEqual(verifyConsistency(from, size, cproof, mth(from), root, nodeSha), { ok: true }, `${from} -> ${size}`);
      t.false(verifyConsistency(from, size, cproof, mth(from), flipBit(root, 3), nodeSha).ok);
    }),
    { numRuns: 50 },
  );
  // The largest tree: proof length is the number of levels.
  const size = Number.MAX_SAFE_INTEGER;
  const proof = await makeInclusionProof(size - 1, size, source, nodeSha);
  t.is(proof.length, 52);
  t.deepEqual(verifyInclusion(refLeafHash(new Uint8Array([42])), size - 1, size, proof, await rootAt(size, source, nodeSha), nodeSha), { ok: true });
});

test('root of leaf hashes and rootAt over tiles agree for every small size', async (t) => {
  const { leafHashes, store } = buildTree(600, 4);
  for (let size = 0; size <= 600; size++) {
    t.is(hex(await rootAt(size, tileHashSource(size, store.readPrefix, nodeSha), nodeSha)), hex(rootOfLeafHashes(leafHashes.slice(0, size), nodeSha)), `size ${size}`);
  }
});

test('a proof alone does not pin the tree size (why the size comes from a signed checkpoint)', (t) => {
  const { leafHashes, ref } = buildTree(8, 5);
  const root5 = ref.mth(0, 5);
  const path = refPath(0, 0, 5).map(([a, b]) => ref.mth(a, b));
  // Leaf 0 of a 5-leaf tree takes the left branch at every level, as it would in 6- or 7-leaf trees.
  t.true(verifyInclusion(leafHashes[0]!, 0, 5, path, root5).ok);
  t.true(verifyInclusion(leafHashes[0]!, 0, 7, path, root5).ok);
  t.false(verifyInclusion(leafHashes[0]!, 0, 4, path, root5).ok);
  t.false(verifyInclusion(leafHashes[0]!, 0, 9, path, root5).ok);
  const cons = refSubproof(4, 0, 5, true).map(([a, b]) => ref.mth(a, b));
  t.true(verifyConsistency(4, 5, cons, ref.mth(0, 4), root5).ok);
  t.true(verifyConsistency(4, 6, cons, ref.mth(0, 4), root5).ok);
});
