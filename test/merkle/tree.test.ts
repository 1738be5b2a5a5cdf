/**
 * IncrementalTree: roots and tiles produced batch by batch equal those computed from scratch,
 * resuming with open() from stored right-edge tiles equals appending everything at once, the
 * hashing cost is one node hash per leaf, and bad input leaves the tree untouched.
 */
import test from 'ava';
import fc from 'fast-check';
import { IncrementalTree, LafsError, changedTiles, emptyRoot, type Hash, type Sha256 } from '../../merkle/index.js';
import { MemoryTiles, RefTree, hex, nodeSha, refLeafHash, tilesFromScratch } from './reference.js';

const leavesOf = (n: number, seed: number): Hash[] => Array.from({ length: n }, (_, i) => refLeafHash(new TextEncoder().encode(`${seed}:${i}`)));

/** Appends `leaves` to `tree` in the given batch sizes (cycled), checking every result against the reference. */
function appendChecked(t: { is: (a: unknown, b: unknown, m?: string) => void }, tree: IncrementalTree, store: MemoryTiles, ref: RefTree, leaves: readonly Hash[], batches: number[]): void {
  const full = tilesFromScratch(ref, ref.leafHashes.length);
  let at = tree.size;
  const end = at + leaves.length;
  let next = 0;
  for (let b = 0; next < leaves.length; b++) {
    const count = Math.min(batches[b % batches.length]!, leaves.length - next);
    const before = at;
    const result = tree.append(leaves.slice(next, next + count));
    next += count;
    at += count;
    t.is(result.size, at);
    t.is(hex(result.root), hex(ref.mth(0, at)), `root after ${at}`);
    const expected = changedTiles(before, at).filter((r) => r.kind === 'hash').map((r) => `${'level' in r ? r.level : ''}/${r.index}/${r.width}`);
    t.is(result.tiles.map((x) => `${x.level}/${x.index}/${x.width}`).join(), expected.join(), `tiles changed ${before} -> ${at}`);
    for (const tile of result.tiles) {
      // A tile at its width then is a prefix of the same tile in the final tree.
      t.is(hex(tile.hashes), full.get(`${tile.level}/${tile.index}`)!.slice(0, tile.width * 64), `tile ${tile.level}/${tile.index} at width ${tile.width}`);
    }
    store.put(result.tiles);
  }
  t.is(at, end);
}

/** Tiles as sorted [coordinate, hex] pairs, so comparisons ignore the order tiles were stored in. */
function sorted(tiles: Map<string, string>): [string, string][] {
  return [...tiles].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
function storeHex(store: MemoryTiles): [string, string][] {
  return sorted(new Map([...store.tiles].map(([k, v]) => [k, hex(v)])));
}

test('tiles produced in random batch sizes equal the tiles computed from scratch', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 3000 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }), fc.nat(), (n, batches, seed) => {
      const leaves = leavesOf(n, seed);
      const ref = new RefTree(leaves);
      const tree = IncrementalTree.empty(nodeSha);
      const store = new MemoryTiles();
      appendChecked(t, tree, store, ref, leaves, batches);
      t.deepEqual(storeHex(store), sorted(tilesFromScratch(ref, n)));
      t.is(hex(tree.root), hex(ref.mth(0, n)));
      return true;
    }),
    { numRuns: 40 },
  );
});

test('open() from the stored right-edge tiles, then append, equals appending all at once', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 1500 }), fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 5 }), fc.nat(), async (n1, n2, batches, seed) => {
      const leaves = leavesOf(n1 + n2, seed);
      const ref = new RefTree(leaves);
      const whole = IncrementalTree.empty(nodeSha);
      const wholeStore = new MemoryTiles();
      wholeStore.put(whole.append(leaves).tiles);

      const first = IncrementalTree.empty(nodeSha);
      const store = new MemoryTiles();
      store.put(first.append(leaves.slice(0, n1)).tiles);
      store.reads = [];
      const resumed = await IncrementalTree.open(n1, store.read, nodeSha);
      // Only the right-edge partial tile of each level is read.
      const expectedReads: string[] = [];
      for (let level = 0; 256 ** level <= n1; level++) {
        const count = Math.floor(n1 / 256 ** level);
        if (count % 256 !== 0) expectedReads.push(`${level}/${Math.floor(count / 256)}/${count % 256}`);
      }
      t.deepEqual(store.reads, expectedReads);
      t.is(resumed.size, n1);
      t.is(hex(resumed.root), hex(ref.mth(0, n1)));
      appendChecked(t, resumed, store, ref, leaves.slice(n1), batches);
      t.is(hex(resumed.root), hex(whole.root));
      t.deepEqual(storeHex(store), storeHex(wholeStore));
    }),
    { numRuns: 40 },
  );
});

test('three tile levels: 66,000 leaves in uneven batches, resumed at awkward sizes', async (t) => {
  const n = 66000;
  const leaves = leavesOf(n, 7);
  const ref = new RefTree(leaves);
  const tree = IncrementalTree.empty(nodeSha);
  const store = new MemoryTiles();
  appendChecked(t, tree, store, ref, leaves.slice(0, 65537), [4099, 1, 255, 30000]);
  const reopened = await IncrementalTree.open(65537, store.read, nodeSha);
  t.is(hex(reopened.root), hex(ref.mth(0, 65537)));
  appendChecked(t, reopened, store, ref, leaves.slice(65537), [199]);
  t.deepEqual(storeHex(store), sorted(tilesFromScratch(ref, n)));
  t.true(store.tiles.has('2/0'));
});

test('appending n leaves in one batch costs exactly n - 1 node hashes', (t) => {
  for (const n of [1, 2, 3, 255, 256, 1000, 4097]) {
    let calls = 0;
    const counting: Sha256 = (d) => {
      calls++;
      return nodeSha(d);
    };
    const tree = IncrementalTree.empty(counting);
    calls = 0;
    tree.append(leavesOf(n, n));
    t.is(calls, n - 1, `n=${n}`); // carries (n - popcount) + root fold (popcount - 1)
  }
});

test('the tree keeps only the right edge: one partial tile per level and the compact range', (t) => {
  const tree = IncrementalTree.empty(nodeSha);
  for (let i = 0; i < 70; i++) tree.append(leavesOf(1000, i));
  // White-box look at the private state (names from tree.ts): bounded by levels, not leaves.
  const state = tree as unknown as { edge: Uint8Array[]; compact: (Hash | undefined)[] };
  t.is(state.edge.length, 3);
  t.true(state.edge.every((b) => b.length === 256 * 32));
  t.true(state.compact.filter((h) => h !== undefined).length <= 17);
});

test('empty batches, empty trees, and open(0)', async (t) => {
  const tree = IncrementalTree.empty();
  t.is(tree.size, 0);
  t.is(hex(tree.root), hex(emptyRoot()));
  const r = tree.append([]);
  t.deepEqual(r.tiles, []);
  t.is(hex(r.root), hex(emptyRoot()));
  const opened = await IncrementalTree.open(0, async () => undefined);
  t.is(hex(opened.root), hex(emptyRoot()));
  const leaves = leavesOf(300, 1);
  tree.append(leaves);
  const again = tree.append([]);
  t.deepEqual(again.tiles, []);
  t.is(again.size, 300);
});

test('a bad leaf hash rejects the whole batch and leaves the tree as it was', (t) => {
  const tree = IncrementalTree.empty(nodeSha);
  tree.append(leavesOf(10, 2));
  const root = hex(tree.root);
  for (const bad of [new Uint8Array(31), new Uint8Array(33), 'x' as unknown as Hash, undefined as unknown as Hash]) {
    const err = t.throws(() => tree.append([...leavesOf(3, 3), bad]));
    t.true(err instanceof LafsError && err.code === 'bad-request');
    t.regex(err!.message, /leaf hash 3/);
    t.is(tree.size, 10);
    t.is(hex(tree.root), root);
  }
});

test('the tree does not alias caller buffers or hand out its own', (t) => {
  const leaves = leavesOf(5, 4);
  const ref = new RefTree(leaves.map((l) => l.slice()));
  const tree = IncrementalTree.empty(nodeSha);
  const r = tree.append(leaves);
  for (const l of leaves) l.fill(0); // the caller reuses its buffers
  r.root.fill(0);
  tree.root.fill(0);
  r.tiles[0]!.hashes.fill(0);
  t.is(hex(tree.append([refLeafHash(Uint8Array.of(1))]).root), hex(new RefTree([...ref.leafHashes, refLeafHash(Uint8Array.of(1))]).mth(0, 6)));
});

test('open() rejects bad sizes, missing and malformed right-edge tiles', async (t) => {
  for (const size of [-1, 1.5, 2 ** 53]) {
    const err = await t.throwsAsync(IncrementalTree.open(size, async () => undefined));
    t.true(err instanceof LafsError && err.code === 'out-of-range', String(size));
  }
  const missing = await t.throwsAsync(IncrementalTree.open(300, async () => undefined));
  t.true(missing instanceof LafsError && missing.code === 'not-found');
  const short = await t.throwsAsync(IncrementalTree.open(300, async (_l, _i, w) => new Uint8Array(w * 32 - 1)));
  t.true(short instanceof LafsError && short.code === 'bad-tile');
});
