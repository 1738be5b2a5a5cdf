/**
 * The store's lookup index: a lookup by source and name without a platform reads only the rows
 * that match (the 'N' keys) and answers exactly what filtering all the source's rows would, in
 * the same order; a layout-1 database (no 'N' keys) is upgraded when opened for serving.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { nodeSha256 } from '../../attestation/node-crypto.js';
import { leafHash } from '../../merkle/hash.js';
import { openDataDir } from '../../log-server/server.js';
import { LAYOUT_VERSION, Store, keys, type IndexRow, type LookupRow } from '../../log-server/store.js';
import { tempDir } from '../helpers/tmp.js';

const SOURCE = `sha256:${'7'.repeat(64)}`;
const OTHER = `sha256:${'8'.repeat(64)}`;
// Platforms that are prefixes of one another, and none at all, to exercise the key order.
const PLATFORMS = [null, 'linux', 'linux-x', 'linux.x', 'win64', 'a'];
const NAMES = ['pkg.tar.gz', 'pkg.tar.gz.sig', 'pkg', 'other.zip'];

type RawDb = { iterator(o: object): AsyncIterable<[Buffer, Buffer]>; keys(o: object): AsyncIterable<Buffer>; batch(ops: object[], o: object): Promise<void> };
const rawDb = (store: Store) => (store as unknown as { db: RawDb }).db;

/** Counts the entries every iterator of the store yields from now on (keys() and values() read through iterator()). */
function countReads(store: Store): { count: number } {
  type It = { next(): Promise<unknown>; nextv(size: number): Promise<unknown[]> };
  const db = rawDb(store) as unknown as { iterator(o: object): It };
  const counter = { count: 0 };
  const original = db.iterator.bind(db);
  db.iterator = (options: object) => {
    const it = original(options);
    const next = it.next.bind(it);
    const nextv = it.nextv.bind(it);
    it.next = async () => {
      const entry = await next();
      if (entry !== undefined) counter.count++;
      return entry;
    };
    it.nextv = async (size: number) => {
      const entries = await nextv(size);
      counter.count += entries.length;
      return entries;
    };
    return it;
  };
  return counter;
}

/** Every 'N' key in the store. */
async function nameKeys(store: Store): Promise<Buffer[]> {
  const found: Buffer[] = [];
  for await (const key of rawDb(store).keys({ gte: Buffer.from('N'), lt: Buffer.from('O') })) found.push(key);
  return found;
}

/** Makes the store what a layout-1 server wrote: no 'N' rows, layout '1'. Returns the 'N' keys it removed. */
async function makeLayout1(store: Store): Promise<Buffer[]> {
  const removed = await nameKeys(store);
  await rawDb(store).batch([...removed.map((key) => ({ type: 'del', key })), { type: 'put', key: keys.meta('layout'), value: Buffer.from('1') }], { sync: true });
  return removed;
}

/** 60 entries of 1-4 artifacts each over SOURCE and OTHER; returns every row written. */
async function fill(store: Store): Promise<LookupRow[]> {
  const all: LookupRow[] = [];
  const entries = Array.from({ length: 60 }, (_, index) => {
    const rows: IndexRow[] = Array.from({ length: 1 + (index % 4) }, (_, n) => ({
      builder: (index % 3 ? 'ab' : 'cd').repeat(20),
      source: index % 5 === 0 ? OTHER : SOURCE,
      platform: PLATFORMS[(index + n) % PLATFORMS.length]!,
      name: NAMES[(index * 7 + n) % NAMES.length]!,
      sha256: randomBytes(32).toString('hex'),
    }));
    rows.forEach((r) => all.push({ ...r, index }));
    const leaf = new Uint8Array(randomBytes(40));
    return { leaf, leafHash: leafHash(leaf, nodeSha256), meta: { builder: rows[0]!.builder, warnings: [], receivedAt: new Date(0).toISOString() }, rows };
  });
  await store.commit({ firstIndex: 0, entries, tiles: [], checkpoint: 'not a checkpoint\n' });
  return all;
}

/** What the lookup must answer: the matching rows ordered by platform ('' first), name, index, artifact. */
function expected(all: LookupRow[], q: { source: string; platform?: string; name?: string }): LookupRow[] {
  const bytes = (s: string | null) => Buffer.from(s ?? '');
  return all
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.source === q.source && (q.platform === undefined || r.platform === q.platform) && (q.name === undefined || r.name === q.name))
    .sort((a, b) => Buffer.compare(bytes(a.r.platform), bytes(b.r.platform)) || Buffer.compare(bytes(a.r.name), bytes(b.r.name)) || a.r.index - b.r.index || a.i - b.i)
    .map(({ r }) => r);
}

test('lookup by source and name without a platform: the same answer as a filter of the source, reading only matching rows', async (t) => {
  const store = await Store.open(join(tempDir(), 'db'));
  t.teardown(() => store.close());
  const all = await fill(store);
  const reads = countReads(store);
  for (const source of [SOURCE, OTHER]) {
    for (const name of [...NAMES, 'absent.tar.gz']) {
      const want = expected(all, { source, name });
      reads.count = 0;
      t.deepEqual(await store.lookupName({ source, name }, 1000), want, `${source} ${name}`);
      t.true(reads.count <= want.length, `${name}: read ${reads.count} rows for ${want.length} answers`);
      t.deepEqual(await store.lookupName({ source, name }, 2), want.slice(0, 2), 'the limit holds');
      for (const platform of PLATFORMS) {
        if (platform === null) continue;
        t.deepEqual(await store.lookupName({ source, platform, name }, 1000), expected(all, { source, platform, name }));
      }
    }
    t.deepEqual(await store.lookupName({ source }, 1000), expected(all, { source }));
    t.deepEqual(await store.lookupName({ source, platform: 'linux' }, 1000), expected(all, { source, platform: 'linux' }));
  }
});

test('a layout-1 database is upgraded on open: name lookups are complete and the layout is 2', async (t) => {
  const dataDir = tempDir();
  const origin = 'store.example/log';
  let { store } = await openDataDir(dataDir, origin);
  t.is(await store.meta('layout'), LAYOUT_VERSION);
  const all = await fill(store);
  t.is((await makeLayout1(store)).length, all.length);
  t.deepEqual(await store.lookupName({ source: SOURCE, name: NAMES[0]! }, 1000), [], 'without N rows, nothing is found');
  await store.close();

  ({ store } = await openDataDir(dataDir, origin));
  t.teardown(() => store.close());
  t.is(await store.meta('layout'), '2');
  for (const name of NAMES) t.deepEqual(await store.lookupName({ source: SOURCE, name }, 1000), expected(all, { source: SOURCE, name }), name);
  t.is((await nameKeys(store)).length, all.length);
});

test('no key or value written is empty: classic-level leaks its native copy of each empty one', async (t) => {
  const dataDir = tempDir();
  const origin = 'store.example/log';
  let { store } = await openDataDir(dataDir, origin);
  await fill(store);
  // The layout upgrade writes 'N' rows too: make it run once.
  const nKeys = await makeLayout1(store);
  await store.close();
  ({ store } = await openDataDir(dataDir, origin));
  t.teardown(() => store.close());
  let rows = 0;
  for await (const [key, value] of rawDb(store).iterator({})) {
    rows++;
    t.true(key.length > 0 && value.length > 0, `row ${key.toString('latin1').slice(0, 1)}: empty ${key.length === 0 ? 'key' : 'value'}`);
  }
  t.true(rows > nKeys.length * 3, 'every kind of row was read');
});

test("'N' rows with empty values (data dirs written before they had one byte) still answer name lookups", async (t) => {
  const { store } = await openDataDir(tempDir(), 'store.example/log');
  t.teardown(() => store.close());
  const all = await fill(store);
  await rawDb(store).batch((await nameKeys(store)).map((key) => ({ type: 'put', key, value: Buffer.alloc(0) })), { sync: true });
  for (const name of NAMES) t.deepEqual(await store.lookupName({ source: SOURCE, name }, 1000), expected(all, { source: SOURCE, name }), name);
});
