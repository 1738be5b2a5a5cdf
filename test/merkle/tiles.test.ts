/**
 * C2SP tlog-tiles: path encoding and strict parsing, tile widths, the set of tiles a growth
 * changes, and the tile-backed hash source (internal levels, full-tile fallback, bounded cache).
 */
import test from 'ava';
import fc from 'fast-check';
import {
  ExpandedTileCache,
  IncrementalTree,
  LafsError,
  changedTiles,
  makeInclusionProof,
  parseTilePath,
  rootAt,
  tileHashSource,
  tilePath,
  tileWidth,
  type TileRef,
} from '../../merkle/index.js';
import { MemoryTiles, RefTree, hex, nodeSha, refLeafHash } from './reference.js';

test('paths: three-digit groups, x prefix on all but the last, .p/<W> for partial tiles', (t) => {
  t.is(tilePath({ kind: 'hash', level: 0, index: 1234067, width: 256 }), 'tile/0/x001/x234/067');
  t.is(tilePath({ kind: 'hash', level: 0, index: 1234067, width: 5 }), 'tile/0/x001/x234/067.p/5');
  t.is(tilePath({ kind: 'hash', level: 2, index: 0, width: 1 }), 'tile/2/000.p/1');
  t.is(tilePath({ kind: 'hash', level: 1, index: 1000, width: 255 }), 'tile/1/x001/000.p/255');
  t.is(tilePath({ kind: 'entries', index: 67, width: 256 }), 'tile/entries/067');
  t.is(tilePath({ kind: 'entries', index: 999, width: 12 }), 'tile/entries/999.p/12');
  for (const bad of [
    { kind: 'hash', level: 0, index: -1, width: 256 },
    { kind: 'hash', level: 0, index: 1.5, width: 256 },
    { kind: 'hash', level: 64, index: 0, width: 256 },
    { kind: 'hash', level: 0, index: 0, width: 0 },
    { kind: 'entries', index: 0, width: 257 },
    // Beyond 2^53 leaves: parseTilePath would reject these paths, so tilePath must not make them.
    { kind: 'hash', level: 6, index: 2, width: 256 },
    { kind: 'hash', level: 0, index: 2 ** 45, width: 256 },
    { kind: 'entries', index: 2 ** 45, width: 256 },
  ] as TileRef[]) {
    const err = t.throws(() => tilePath(bad));
    t.true(err instanceof LafsError && err.code === 'bad-tile', JSON.stringify(bad));
  }
});

test('parse(path(ref)) = ref for every coordinate, with or without a leading slash', (t) => {
  const ref = fc.oneof(
    fc.integer({ min: 0, max: 5 }).chain((level) =>
      // Only tiles whose first leaf lies below 2^53 exist.
      fc.record({ kind: fc.constant('hash' as const), level: fc.constant(level), index: fc.integer({ min: 0, max: Math.floor(2 ** 53 / 256 ** (level + 1)) - 1 }), width: fc.integer({ min: 1, max: 256 }) }),
    ),
    fc.record({ kind: fc.constant('entries' as const), index: fc.integer({ min: 0, max: 2 ** 45 - 1 }), width: fc.integer({ min: 1, max: 256 }) }),
  );
  fc.assert(
    fc.property(ref, fc.boolean(), (r, slash) => {
      const path = tilePath(r);
      return JSON.stringify(parseTilePath(slash ? `/${path}` : path)) === JSON.stringify(r);
    }),
  );
  t.deepEqual(parseTilePath('tile/0/x001/x234/067.p/8'), { kind: 'hash', level: 0, index: 1234067, width: 8 });
  t.deepEqual(parseTilePath('/tile/entries/x002/000'), { kind: 'entries', index: 2000, width: 256 });
});

test('non-canonical and malformed paths are rejected with bad-tile naming the problem', (t) => {
  const cases: [string, RegExp][] = [
    ['tile/0/x000/001', /leading all-zero group/],
    ['tile/0/x000/x001/002', /leading all-zero group/],
    ['tile/0/0001', /not exactly three digits/],
    ['tile/0/01', /not exactly three digits/],
    ['tile/0/1', /not exactly three digits/],
    ['tile/0/001/002', /lacks the "x" prefix/],
    ['tile/0/x001', /must not have the "x" prefix/],
    ['tile/0/x01/002', /not "x" and exactly three digits/],
    ['tile/0/y001/002', /lacks the "x" prefix/],
    ['tile/0/000.p/256', /not below 256/],
    ['tile/0/000.p/300', /not below 256/],
    ['tile/0/000.p/0', /partial width "0"/],
    ['tile/0/000.p/07', /partial width "07"/],
    ['tile/0/000.p/', /segment 4 is empty/],
    ['tile/0/000.p', /missing width/],
    ['tile/0/000.p/5/6', /extra segments/],
    ['tile/0/x001.p/5/002', /extra segments/],
    ['tile/0//001', /segment 3 is empty/],
    ['tile/0/001/', /segment 4 is empty/],
    ['tile//001', /segment 2 is empty/],
    ['tile/00/001', /level "00"/],
    ['tile/01/001', /level "01"/],
    ['tile/-1/001', /level "-1"/],
    ['tile/64/000', /level 64 is above 63/],
    ['tile/entry/000', /level "entry"/],
    ['tile/0', /needs a level and an index/],
    ['tiles/0/000', /does not start with "tile\/"/],
    ['0/000', /does not start with "tile\/"/],
    ['//tile/0/000', /does not start with "tile\/"/],
    ['tile/0/x009/x007/x199/x254/x740/993', /index 9007199254740993 is too large/],
    ['tile/0/x001/x000/x000/x000/x000/x000/000', /7 groups, more than the 6/],
    ['tile/0/x999/x999/x999/x999/x999', /lacks the "x" prefix|must not have the "x" prefix/],
    ['tile/entries/x036/x028/x797/x018/964', /beyond 2\^53 leaves/],
    ['tile/2/x000/x001/000', /leading all-zero group/],
    ['tile/6/002', /beyond 2\^53 leaves/],
    ['tile/0/x9007/199', /not "x" and exactly three digits/],
    ['tile/0/ 001', /not exactly three digits/],
    ['tile/0/001 ', /not exactly three digits/],
    ['tile/0/+01', /not exactly three digits/],
  ];
  for (const [path, why] of cases) {
    const err = t.throws(() => parseTilePath(path), undefined, path);
    t.true(err instanceof LafsError && err.code === 'bad-tile', path);
    t.regex(err?.message ?? '', why, path);
  }
  t.is((t.throws(() => parseTilePath(42 as unknown as string)) as LafsError).code, 'bad-tile');
  // The largest entry tile below 2^53 leaves parses; level 5 tile 1 still fits.
  t.is(parseTilePath('tile/entries/x035/x184/x372/x088/831').kind, 'entries');
  t.is(parseTilePath('tile/5/001').kind, 'hash');
});

test('tileWidth: full, partial and not-yet-existing tiles', (t) => {
  t.is(tileWidth(0, 0, 0), 0);
  t.is(tileWidth(0, 0, 1), 1);
  t.is(tileWidth(0, 0, 256), 256);
  t.is(tileWidth(0, 1, 256), 0);
  t.is(tileWidth(0, 1, 300), 44);
  t.is(tileWidth(1, 0, 300), 1);
  t.is(tileWidth(1, 0, 255), 0);
  t.is(tileWidth(1, 0, 70000), 256);
  t.is(tileWidth(1, 1, 70000), 17);
  t.is(tileWidth(2, 0, 70000), 1);
  const big = 2 ** 40 + 5 * 2 ** 24 + 7; // beyond 32 bits at every level
  t.is(tileWidth(0, 2 ** 32 + 5 * 2 ** 16, big), 7);
  t.is(tileWidth(0, 2 ** 32 + 5 * 2 ** 16 - 1, big), 256);
  t.is(tileWidth(3, 256, big), 5);
  t.is(tileWidth(3, 257, big), 0);
  t.is(tileWidth(4, 0, big), 256);
  t.is(tileWidth(4, 1, big), 0);
  t.is(tileWidth(5, 0, big), 1);
  t.is(tileWidth(6, 0, big), 0);
});

/** Brute force: every tile coordinate whose width differs between the two sizes. */
function changedByWidth(oldSize: number, size: number): string[] {
  const out: string[] = [];
  const entries: string[] = [];
  for (let level = 0; 256 ** level <= size; level++) {
    for (let index = 0; tileWidth(level, index, size) > 0; index++) {
      const w = tileWidth(level, index, size);
      if (w !== tileWidth(level, index, oldSize)) {
        out.push(`hash/${level}/${index}/${w}`);
        if (level === 0) entries.push(`entries/${index}/${w}`);
      }
    }
  }
  return out.concat(entries);
}

test('changedTiles lists exactly the tiles whose width changed', (t) => {
  const key = (r: TileRef) => (r.kind === 'hash' ? `hash/${r.level}/${r.index}/${r.width}` : `entries/${r.index}/${r.width}`);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 200000 }), fc.integer({ min: 0, max: 3000 }), (a, grow) => {
      return changedTiles(a, a + grow).map(key).join() === changedByWidth(a, a + grow).join();
    }),
    { numRuns: 200 },
  );
  t.deepEqual(changedTiles(5, 5), []);
  t.deepEqual(changedTiles(0, 1).map(key), ['hash/0/0/1', 'entries/0/1']);
  t.deepEqual(changedTiles(255, 256).map(key), ['hash/0/0/256', 'hash/1/0/1', 'entries/0/256']);
  // Far above 2^32: one leaf completing a level-3 tile changes one tile at every level.
  t.deepEqual(changedTiles(2 ** 32 - 1, 2 ** 32).map(key), [
    'hash/0/16777215/256', 'hash/1/65535/256', 'hash/2/255/256', 'hash/3/0/256', 'hash/4/0/1', 'entries/16777215/256',
  ]);
  for (const [a, b] of [[3, 2], [-1, 2], [0, 2 ** 53], [0.5, 2]]) {
    const err = t.throws(() => changedTiles(a!, b!));
    t.true(err instanceof LafsError && err.code === 'out-of-range');
  }
});

/** A tree of n leaves with its tiles, grown in batches of 100. */
function grown(n: number) {
  const leafHashes = Array.from({ length: n }, (_, i) => refLeafHash(new TextEncoder().encode(`t/${i}`)));
  const tree = IncrementalTree.empty(nodeSha);
  const store = new MemoryTiles();
  for (let at = 0; at < n; at += 100) store.put(tree.append(leafHashes.slice(at, at + 100)).tiles);
  return { ref: new RefTree(leafHashes), store, root: tree.root };
}

test('tile source: hashes at every level, including levels computed inside a tile', async (t) => {
  const n = 70000; // three tile levels
  const { ref, store } = grown(n);
  const source = tileHashSource(n, store.read, nodeSha);
  const coords: { level: number; index: number }[] = [];
  for (let level = 0; 2 ** level <= n; level++) {
    const count = Math.floor(n / 2 ** level);
    for (const index of new Set([0, 1, Math.floor(count / 2), count - 1])) if (index < count) coords.push({ level, index });
  }
  const got = await source.hashes(coords);
  t.deepEqual(got.map(hex), coords.map(({ level, index }) => hex(ref.mth(index * 2 ** level, (index + 1) * 2 ** level))));
});

test('tile source: incomplete subtrees are not-found, wrong tile lengths bad-tile, missing tiles not-found', async (t) => {
  const { store } = grown(1000);
  const source = tileHashSource(1000, store.read, nodeSha);
  for (const c of [{ level: 0, index: 1000 }, { level: 3, index: 125 }, { level: 10, index: 0 }]) {
    const err = await t.throwsAsync(source.hashes([c]));
    t.true(err instanceof LafsError && err.code === 'not-found', JSON.stringify(c));
  }
  for (const c of [{ level: -1, index: 0 }, { level: 0, index: 0.5 }, { level: 54, index: 0 }]) {
    const err = await t.throwsAsync(source.hashes([c]));
    t.true(err instanceof LafsError && err.code === 'out-of-range', JSON.stringify(c));
  }
  const short = tileHashSource(1000, async () => new Uint8Array(31), nodeSha);
  const err = await t.throwsAsync(short.hashes([{ level: 0, index: 0 }]));
  t.true(err instanceof LafsError && err.code === 'bad-tile');
  const none = tileHashSource(1000, async () => undefined, nodeSha);
  const err2 = await t.throwsAsync(none.hashes([{ level: 0, index: 0 }]));
  t.true(err2 instanceof LafsError && err2.code === 'not-found');
});

test('tile source: an older size reads the prefix of the full tile when its partial tile is gone', async (t) => {
  const { ref, store } = grown(1000);
  // The store only holds the newest bytes per tile: tile (0, 0) is full now, (0, 0).p/100 is gone.
  store.reads = [];
  const root100 = await rootAt(100, tileHashSource(100, store.read, nodeSha), nodeSha);
  t.is(hex(root100), hex(ref.mth(0, 100)));
  t.deepEqual(store.reads, ['0/0/100', '0/0/256']);
});

test('tile source: each tile is read once per call, and a shared cache serves later calls and other sizes', async (t) => {
  const { ref, store } = grown(3000);
  const cache = new ExpandedTileCache(4);
  store.reads = [];
  const coords = Array.from({ length: 200 }, (_, i) => ({ level: 0, index: i }));
  await tileHashSource(3000, store.read, nodeSha, { cache }).hashes(coords);
  t.deepEqual(store.reads, ['0/0/256']);
  await tileHashSource(2900, store.read, nodeSha, { cache }).hashes([{ level: 3, index: 5 }]);
  t.deepEqual(store.reads, ['0/0/256'], 'full tile (0,0) served from the cache to another tree size');
  for (let i = 0; i < 11; i++) await tileHashSource(3000, store.read, nodeSha, { cache }).hashes([{ level: 0, index: i * 256 }]);
  t.is(cache.size, 4, 'the cache never grows beyond its bound');
  store.reads = [];
  const got = await tileHashSource(3000, store.read, nodeSha, { cache }).hashes([{ level: 8, index: 10 }, { level: 0, index: 0 }]);
  t.deepEqual(got.map(hex), [hex(ref.mth(2560, 2816)), hex(ref.mth(0, 1))]);
  t.deepEqual(store.reads, ['1/0/11', '0/0/256'], 'evicted tiles are read again');
  const err = t.throws(() => new ExpandedTileCache(-1));
  t.true(err instanceof LafsError);
});

test('a shared cache (expanded tiles and right-edge range memo) gives correct proofs at every size', async (t) => {
  const { ref, store } = grown(3000);
  const cache = new ExpandedTileCache(6, 20); // small bounds, so eviction happens all the time
  const pathOf = (index: number, size: number) => {
    // Reference: the RFC recursion over the model tree.
    const out: string[] = [];
    const walk = (m: number, a: number, b: number): void => {
      if (b - a <= 1) return;
      let k = 1;
      while (k * 2 < b - a) k *= 2;
      if (m < a + k) {
        walk(m, a, a + k);
        out.push(hex(ref.mth(a + k, b)));
      } else {
        walk(m, a + k, b);
        out.push(hex(ref.mth(a, a + k)));
      }
    };
    walk(index, 0, size);
    return out;
  };
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 3000 }), fc.nat(), async (size, raw) => {
      const index = raw % size;
      const proof = await makeInclusionProof(index, size, tileHashSource(size, store.readPrefix, nodeSha, { cache }), nodeSha);
      t.deepEqual(proof.map(hex), pathOf(index, size), `${index} in ${size}`);
      t.is(hex(await rootAt(size, tileHashSource(size, store.readPrefix, nodeSha, { cache }), nodeSha)), hex(ref.mth(0, size)));
    }),
    { numRuns: 150 },
  );
  t.true(cache.size <= 6);
});

test('the range memo spares the stored hashes of the right edge on the next proof', async (t) => {
  const { store } = grown(3000);
  const cache = new ExpandedTileCache();
  let asked = 0;
  const counting = (size: number) => {
    const inner = tileHashSource(size, store.read, nodeSha, { cache });
    return { rangeMemo: inner.rangeMemo, hashes: (coords: readonly { level: number; index: number }[]) => ((asked += coords.length), inner.hashes(coords)) };
  };
  // 3000 = 2048 + 952: the top sibling of leaf 0 is [2048, 3000), folded from 6 complete subtrees.
  await makeInclusionProof(0, 3000, counting(3000), nodeSha);
  const first = asked;
  asked = 0;
  const again = await makeInclusionProof(1, 3000, counting(3000), nodeSha);
  t.is(first, 11 + 6);
  t.is(asked, 11, 'the right-edge range came from the memo');
  t.is(again.length, 12);
});

test('tile source: a bad coordinate after a missing tile rejects once, leaving no unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const source = tileHashSource(1000, async () => undefined, nodeSha);
    const err = await t.throwsAsync(source.hashes([{ level: 0, index: 0 }, { level: 0, index: -1 }]));
    t.true(err instanceof LafsError && err.code === 'out-of-range');
    await new Promise((resolve) => setTimeout(resolve, 20));
    t.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
