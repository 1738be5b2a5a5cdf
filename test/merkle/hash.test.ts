/** RFC 9162 2.1.1 hashing against the classic RFC 6962 vectors and a direct node:crypto model. */
import test from 'ava';
import fc from 'fast-check';
import { emptyRoot, leafHash, nodeHash, nobleSha256, rootOfLeafHashes, rootOfLeaves, type Sha256 } from '../../merkle/index.js';
import { RefTree, hex, nodeSha, refLeafHash, refNodeHash, unhex, vectors } from './reference.js';

const leaves = vectors.leaves.map(unhex);

test('roots of the first n RFC 6962 test leaves, n = 1..8, with noble and node:crypto', (t) => {
  t.is(Object.keys(vectors.roots).length, 8);
  for (const [n, root] of Object.entries(vectors.roots)) {
    t.is(hex(rootOfLeaves(leaves.slice(0, Number(n)))), root, `n=${n} noble`);
    t.is(hex(rootOfLeaves(leaves.slice(0, Number(n)), nodeSha)), root, `n=${n} node:crypto`);
  }
});

test('empty tree hashes to SHA-256 of the empty string', (t) => {
  t.is(hex(emptyRoot()), vectors.emptyRoot);
  t.is(hex(emptyRoot(nodeSha)), vectors.emptyRoot);
  t.is(hex(rootOfLeaves([])), vectors.emptyRoot);
  t.is(hex(rootOfLeafHashes([])), vectors.emptyRoot);
});

test('leaf and node hashes carry the 0x00 / 0x01 domain prefixes', (t) => {
  t.is(hex(leafHash(new Uint8Array(0))), '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
  const a = leafHash(leaves[1]!);
  const b = leafHash(leaves[2]!);
  t.is(hex(nodeHash(a, b)), hex(refNodeHash(a, b)));
  t.not(hex(nodeHash(a, b)), hex(nodeHash(b, a)));
  // A leaf whose bytes look like an interior node's input still hashes differently.
  t.not(hex(leafHash(new Uint8Array([...a, ...b]))), hex(nodeHash(a, b)));
});

test('leafHash is right for leaves of every size, also after a larger leaf grew the scratch buffer', (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 5000 }), { minLength: 1, maxLength: 8 }), (batch) => {
      for (const leaf of batch) {
        if (hex(leafHash(leaf)) !== hex(refLeafHash(leaf))) return false;
        if (hex(leafHash(leaf, nodeSha)) !== hex(refLeafHash(leaf))) return false;
      }
      return true;
    }),
    { numRuns: 60 },
  );
  t.pass();
});

test('root of leaf hashes equals the RFC recursion for random sizes', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 600 }), fc.integer(), (n, seed) => {
      const hashes = Array.from({ length: n }, (_, i) => refLeafHash(new TextEncoder().encode(`${seed}/${i}`)));
      return hex(rootOfLeafHashes(hashes, nodeSha)) === hex(new RefTree(hashes).mth(0, n));
    }),
    { numRuns: 40 },
  );
  t.pass();
});

test('the SHA-256 parameter is the one used, and node:crypto and noble agree', (t) => {
  let calls = 0;
  const counting: Sha256 = (d) => {
    calls++;
    return nobleSha256(d);
  };
  const root = rootOfLeaves(leaves, counting);
  t.is(calls, 8 + 7); // 8 leaf hashes + 7 interior nodes
  t.is(hex(root), vectors.roots['8']!);
  const data = new Uint8Array(65).fill(7);
  t.is(hex(nobleSha256(data)), hex(nodeSha(data)));
});

test('hashing does not alias its inputs or its scratch buffer into results', (t) => {
  const a = leafHash(leaves[3]!);
  const b = leafHash(leaves[4]!);
  const ab = nodeHash(a, b);
  const before = hex(ab);
  nodeHash(b, a); // reuses the scratch input
  a.fill(0);
  t.is(hex(ab), before);
});
