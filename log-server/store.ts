/**
 * The log's one LevelDB, and the whole key layout in one place (DESIGN.md section 5).
 *
 * Every key starts with one ASCII tag byte; numbers are fixed-width big-endian so that LevelDB's
 * byte order is numeric order and ranges are plain key ranges.
 *
 *   'M' name                                   -> meta value (utf8): `origin`, `layout`
 *   'C'                                        -> latest signed checkpoint note (utf8)
 *   'L' u64 index                              -> leaf bytes (entry bundles are built from these)
 *   'E' u64 index                              -> entry metadata JSON {builder, warnings, receivedAt,
 *                                                 platforms?}; `platforms` (sha256sums leaves with a
 *                                                 platformRegex; absent in entries written before it
 *                                                 existed) is what the regex derived for each sums
 *                                                 line at submission (entry-view.ts)
 *   'T' u8 level u64 index                     -> hash tile at its current width (width*32 bytes);
 *                                                 a full tile never changes again and is stored
 *                                                 expanded: its 256 hashes, then its internal
 *                                                 levels (proof-source.ts); served: the first 256
 *   'H' leafHash(32)                           -> u64 index (idempotent submissions, lookup by leaf hash)
 *   'A' sha256(32) u64 index u16 n             -> lookup row JSON {builder, source, platform, name}
 *   'S' source 00 platform 00 name 00 u64 index u16 n -> lookup row JSON {builder, hash}
 *   'N' source 00 name 00 platform 00 u64 index u16 n -> 00 (one byte, never read; empty in data
 *                                                 dirs written before 2026-12-02): the same rows
 *                                                 by name first, so a lookup by source and name
 *                                                 without a platform reads only matching keys
 *                                                 (then their 'S' rows), in the same order as a
 *                                                 scan of 'S' would give
 *
 * (`n` numbers the artifacts of one entry; `platform` is empty when a sums line has none; neither
 * a platform nor a name can contain a 00 byte.)
 *
 * Layout versions (meta `layout`): '1' had no 'N' rows; '2' adds them. A version-1 database is
 * upgraded when it is opened for serving (upgradeLayout: 'N' rows written from the 'S' rows, then
 * `layout` set to '2'; interrupted, it simply runs again), so every '2' database has an 'N' row
 * for every 'S' row.
 *
 * Consistency rule: everything one sequencing step changes (leaves, metadata, changed tiles, leaf
 * hash index, lookup rows and the new checkpoint) goes into ONE `db.batch(..., { sync: true })`.
 * LevelDB applies a batch atomically from its write-ahead log, so after a crash the stored
 * checkpoint always matches the stored tiles, and an acknowledged entry is on disk.
 *
 * `level` quirks handled here: `get` yields undefined for a missing key; keys and values are
 * Buffers on both sides (the 'buffer' encoding is LevelDB's native one: no transcoding per
 * operation, which bulk loads notice); only synced writes are durable.
 */
import { Level } from 'level';
import { LafsError } from '../merkle/errors.js';
import type { Hash } from '../merkle/hash.js';
import { TILE_WIDTH, type HashTile } from '../merkle/tiles.js';
import { nodeSha256 } from '../attestation/node-crypto.js';
import { expandFullTile } from './proof-source.js';

export const LAYOUT_VERSION = '2';
/** Older layouts upgradeLayout can bring to LAYOUT_VERSION. */
const UPGRADABLE_LAYOUTS = ['1'];

export interface EntryMeta {
  builder: string;
  warnings: string[];
  receivedAt: string;
  /** Platform (or null) the leaf's platformRegex derived for each sums line, computed once at submission. */
  platforms?: (string | null)[];
}
/** One artifact claim of one entry, as the lookup index stores it. */
export interface IndexRow { builder: string; source: string; platform: string | null; name: string; sha256: string /* hex */ }
export interface LookupRow extends IndexRow { index: number }

export interface NewEntry { leaf: Uint8Array; leafHash: Hash; meta: EntryMeta; rows: IndexRow[] }
/** What one sequencing step writes: entries firstIndex.., the changed tiles, the new checkpoint. */
export interface CommitBatch { firstIndex: number; entries: NewEntry[]; tiles: HashTile[]; checkpoint: string }

type Db = Level<Buffer, Buffer>;
type Op = { type: 'put'; key: Buffer; value: Buffer };

/**
 * The value of an 'N' row. Not empty: classic-level 3.0.0 copies every key and value it is given
 * into a `new char[size]` and frees the copy only when size > 0 (DisposeSliceBuffer in its
 * binding.cc), so each empty value written leaks a 32-byte heap chunk: three per entry, about
 * 96 MB of the server's memory per 1M entries before this (docs/performance.md).
 */
const NAME_ROW_VALUE = Buffer.of(0);
/** LevelDB write buffer (memtable) size of the serving store; see Store.open. */
const DEFAULT_WRITE_BUFFER = 16 << 20;
/** LevelDB data block size (its default is 4 KB); see Store.open. */
const BLOCK_SIZE = 16 << 10;

// Key parts go through Buffer.from, which takes small strings from Node's shared buffer pool;
// TextEncoder.encode allocates a new backing store (a malloc) for every string, and the keys of
// one entry's lookup rows need about twenty of them.
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const dec = new TextDecoder();

/** A Buffer view of the same bytes (no copy). */
function buf(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
function u64(n: number): Buffer {
  // Two 32-bit halves: indexes stay below 2^53, and `>>> 0` is exact modulo 2^32.
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 0);
  b.writeUInt32BE(n >>> 0, 4);
  return b;
}
function readU64(b: Uint8Array, offset: number): number {
  return Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(offset));
}
function concat(...parts: Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = Buffer.allocUnsafe(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const tag = (c: string) => Buffer.of(c.charCodeAt(0));
const ZERO = Uint8Array.of(0);

/** The key constructors: the layout above, as code. */
export const keys = {
  meta: (name: string) => concat(tag('M'), utf8(name)),
  checkpoint: () => tag('C'),
  leaf: (index: number) => concat(tag('L'), u64(index)),
  entryMeta: (index: number) => concat(tag('E'), u64(index)),
  tile: (level: number, index: number) => concat(tag('T'), Uint8Array.of(level), u64(index)),
  leafHash: (hash: Hash) => concat(tag('H'), hash),
  byHash: (sha256: Uint8Array, index: number, n: number) => concat(tag('A'), sha256, u64(index), Uint8Array.of(n >> 8, n & 0xff)),
  byHashPrefix: (sha256: Uint8Array) => concat(tag('A'), sha256),
  byName: (row: IndexRow, index: number, n: number) =>
    concat(tag('S'), utf8(row.source), ZERO, utf8(row.platform ?? ''), ZERO, utf8(row.name), ZERO, u64(index), Uint8Array.of(n >> 8, n & 0xff)),
  byNameFirst: (row: IndexRow, index: number, n: number) =>
    concat(tag('N'), utf8(row.source), ZERO, utf8(row.name), ZERO, utf8(row.platform ?? ''), ZERO, u64(index), Uint8Array.of(n >> 8, n & 0xff)),
  byNameFirstPrefix: (source: string, name: string) => concat(tag('N'), utf8(source), ZERO, utf8(name), ZERO),
  byNamePrefix: (source: string, platform?: string, name?: string) => {
    const parts = [tag('S'), utf8(source), ZERO];
    if (platform !== undefined) {
      parts.push(utf8(platform), ZERO);
      if (name !== undefined) parts.push(utf8(name), ZERO);
    }
    return concat(...parts);
  },
};

/** [prefix, next key after every key with that prefix) */
function prefixRange(prefix: Buffer): { gte: Buffer; lt: Buffer } {
  const lt = Buffer.from(prefix);
  let i = lt.length - 1;
  while (i >= 0 && lt[i] === 0xff) i--;
  if (i < 0) throw new Error('prefix of 0xff bytes');
  lt[i]! += 1;
  return { gte: prefix, lt: lt.subarray(0, i + 1) };
}

/** The stored form of a tile: full tiles expanded (computed once, when the tile fills). */
export function storedTile(t: HashTile): Uint8Array {
  return t.width === TILE_WIDTH ? expandFullTile(t.hashes, nodeSha256) : t.hashes;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
function parseJson<T>(bytes: Uint8Array): T {
  return JSON.parse(dec.decode(bytes)) as T;
}

export class Store {
  private constructor(private readonly db: Db) {}

  /** Opens (creating if needed) the database in `location`. A second process on the same dir fails with a clear error. */
  static async open(location: string, options: { writeBufferSize?: number } = {}): Promise<Store> {
    // LevelDB tuning (docs/operating.md, "LevelDB settings"): a 16 MB write buffer (LevelDB's
    // default is 4 MB; bulk loads pass more) means fewer, larger level-0 files, so fewer flushes
    // and compactions of the randomly keyed H/A/S/N rows on LevelDB's background thread. Costs up
    // to two memtables of that size in RSS and up to that much write-ahead log to replay on
    // start. Snappy stays on: turning it off measured about 2.4x the bytes on disk. 16 KB data
    // blocks: every open table keeps its index block in memory, one entry per data block, so 4x
    // larger blocks cut that memory about 4x; Snappy also compresses larger blocks better (the data
    // dir measured 15% smaller at 300,000 entries). A full tile (16 KB expanded) is one or two
    // blocks instead of four or five.
    const tuning = { writeBufferSize: options.writeBufferSize ?? DEFAULT_WRITE_BUFFER, blockSize: BLOCK_SIZE };
    const db: Db = new Level<Buffer, Buffer>(location, { keyEncoding: 'buffer', valueEncoding: 'buffer', ...tuning });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      if (cause?.code === 'LEVEL_LOCKED') throw new LafsError('io', `the database in ${location} is in use by another process`, { cause: e });
      throw new LafsError('io', `cannot open the database in ${location}: ${(e as Error).message}`, { cause: e });
    }
    return new Store(db);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** LevelDB's own estimate of its memory use: memtables and block cache (not the open tables' indexes and filters). */
  memoryBytes(): number {
    return Number(this.property('leveldb.approximate-memory-usage'));
  }

  /** How many table files LevelDB has at each of its seven levels (0 = freshly flushed memtables). */
  filesPerLevel(): number[] {
    return Array.from({ length: 7 }, (_, level) => Number(this.property(`leveldb.num-files-at-level${level}`)));
  }

  private property(name: string): string {
    // On Node, `level`'s Level is classic-level's, whose getProperty its universal type leaves out.
    return (this.db as unknown as { getProperty(name: string): string }).getProperty(name);
  }

  // ---- meta and checkpoint ----

  async meta(name: string): Promise<string | undefined> {
    const v = await this.db.get(keys.meta(name));
    return v === undefined ? undefined : dec.decode(v);
  }
  async putMeta(values: Record<string, string>): Promise<void> {
    await this.db.batch(
      Object.entries(values).map(([k, v]) => ({ type: 'put' as const, key: keys.meta(k), value: Buffer.from(v, 'utf8') })),
      { sync: true },
    );
  }
  async checkpoint(): Promise<string | undefined> {
    const v = await this.db.get(keys.checkpoint());
    return v === undefined ? undefined : dec.decode(v);
  }

  // ---- entries ----

  leaf(index: number): Promise<Uint8Array | undefined> {
    return this.db.get(keys.leaf(index));
  }
  /** Leaves [start, end) as stored; the caller checks the count. */
  leaves(start: number, end: number): Promise<Uint8Array[]> {
    return this.db.values({ gte: keys.leaf(start), lt: keys.leaf(end) }).all();
  }
  async entryMeta(index: number): Promise<EntryMeta | undefined> {
    const v = await this.db.get(keys.entryMeta(index));
    return v === undefined ? undefined : parseJson<EntryMeta>(v);
  }
  /**
   * Index of each leaf hash, or undefined where not logged. Synchronous, as tile reads are (see
   * `tile`): the sequencer asks this for every batch before it can append, and a thread-pool hop
   * there would add an event-loop turn of waiting to every batch; a miss costs LevelDB's bloom
   * filters, a hit one small value.
   */
  indexesOf(leafHashes: readonly Hash[]): (number | undefined)[] {
    return leafHashes.map((h) => {
      const v = this.db.getSync(keys.leafHash(h));
      return v === undefined ? undefined : readU64(v, 0);
    });
  }

  // ---- tiles ----

  /**
   * Hash tile (level, index) as stored (current width; a full tile expanded), or undefined.
   * Synchronous: a tile is one small value, nearly always in LevelDB's block cache or the page
   * cache, and an asynchronous get costs more than the read itself: a hop to the thread pool and
   * back, which on a busy machine waits for a core, and a promise per read. Measured on a 1M-entry
   * log: server-side proofs within 2 ms went from 99.2% to 99.8% (docs/performance.md). A tile
   * that has to come from disk blocks the event loop for that one read.
   */
  tile(level: number, index: number): Uint8Array | undefined {
    return this.db.getSync(keys.tile(level, index));
  }

  // ---- lookup ----

  async lookupHash(sha256Hex: string, limit: number): Promise<LookupRow[]> {
    const rows: LookupRow[] = [];
    const prefix = keys.byHashPrefix(Buffer.from(sha256Hex, 'hex'));
    for await (const [key, value] of this.db.iterator({ ...prefixRange(prefix), limit })) {
      const row = parseJson<Omit<IndexRow, 'sha256'>>(value);
      rows.push({ index: readU64(key, prefix.length), ...row, sha256: sha256Hex });
    }
    return rows;
  }

  /** Rows for `source`, narrowed by platform and/or name, ordered by platform, name, index. Reads only matching rows. */
  async lookupName(q: { source: string; platform?: string; name?: string }, limit: number): Promise<LookupRow[]> {
    if (q.name !== undefined && q.platform === undefined) return this.lookupNameAnyPlatform(q.source, q.name, limit);
    const rows: LookupRow[] = [];
    const prefix = keys.byNamePrefix(q.source, q.platform, q.platform !== undefined ? q.name : undefined);
    for await (const [key, value] of this.db.iterator(prefixRange(prefix))) {
      // key: 'S' source 00 platform 00 name 00 u64 u16
      const tail = key.length - 10;
      const fields = dec.decode(key.subarray(1, tail - 1)).split('\0');
      const [source, platform, name] = [fields[0]!, fields[1]!, fields.slice(2).join('\0')];
      const row = parseJson<{ builder: string; hash: string }>(value);
      rows.push({ index: readU64(key, tail), builder: row.builder, source, platform: platform === '' ? null : platform, name, sha256: row.hash });
      if (rows.length >= limit) break;
    }
    return rows;
  }

  /** Rows for `source` and `name` on any platform, from the 'N' keys, then the values of their 'S' rows. */
  private async lookupNameAnyPlatform(source: string, name: string, limit: number): Promise<LookupRow[]> {
    const prefix = keys.byNameFirstPrefix(source, name);
    const found: { row: IndexRow; index: number; n: number }[] = [];
    for await (const key of this.db.keys({ ...prefixRange(prefix), limit })) {
      // key: 'N' source 00 name 00 platform 00 u64 u16
      const tail = key.length - 10;
      const platform = dec.decode(key.subarray(prefix.length, tail - 1));
      found.push({ row: { builder: '', source, platform: platform === '' ? null : platform, name, sha256: '' }, index: readU64(key, tail), n: key.readUInt16BE(tail + 8) });
    }
    const values = await this.db.getMany(found.map((f) => keys.byName(f.row, f.index, f.n)));
    return found.map((f, i) => {
      const value = values[i];
      if (value === undefined) throw new LafsError('inconsistent', `lookup row of entry ${f.index} missing from the by-source index`);
      const { builder, hash } = parseJson<{ builder: string; hash: string }>(value);
      return { index: f.index, builder, source, platform: f.row.platform, name, sha256: hash };
    });
  }

  // ---- layout upgrades ----

  /** Whether upgradeLayout can bring a database of layout `version` to LAYOUT_VERSION. */
  static canUpgrade(version: string): boolean {
    return UPGRADABLE_LAYOUTS.includes(version);
  }

  /**
   * Brings a database of an older layout to LAYOUT_VERSION. Call it before anything else uses
   * the store. 1 -> 2: an 'N' row for every 'S' row, written in synced chunks, and `layout` set
   * last; an interrupted upgrade leaves layout '1' and runs again from the start (puts are
   * idempotent).
   */
  async upgradeLayout(from: string): Promise<void> {
    if (!Store.canUpgrade(from)) throw new LafsError('io', `cannot upgrade a database of layout ${JSON.stringify(from)} to ${LAYOUT_VERSION}`);
    let ops: Op[] = [];
    for await (const key of this.db.keys(prefixRange(tag('S')))) {
      // key: 'S' source 00 platform 00 name 00 u64 u16
      const tail = key.length - 10;
      const fields = dec.decode(key.subarray(1, tail - 1)).split('\0');
      const row: IndexRow = { builder: '', source: fields[0]!, platform: fields[1] === '' ? null : fields[1]!, name: fields.slice(2).join('\0'), sha256: '' };
      ops.push({ type: 'put', key: keys.byNameFirst(row, readU64(key, tail), key.readUInt16BE(tail + 8)), value: NAME_ROW_VALUE });
      if (ops.length >= 10_000) {
        await this.db.batch(ops, { sync: false });
        ops = [];
      }
    }
    ops.push({ type: 'put', key: keys.meta('layout'), value: Buffer.from(LAYOUT_VERSION, 'utf8') });
    await this.db.batch(ops, { sync: true });
  }

  // ---- the one write path ----

  /** The operations of one sequencing step (see the consistency rule above). */
  static commitOps(batch: CommitBatch): Op[] {
    const ops: Op[] = [];
    batch.entries.forEach((e, i) => {
      const index = batch.firstIndex + i;
      ops.push({ type: 'put', key: keys.leaf(index), value: buf(e.leaf) });
      ops.push({ type: 'put', key: keys.entryMeta(index), value: json(e.meta) });
      ops.push({ type: 'put', key: keys.leafHash(e.leafHash), value: u64(index) });
      e.rows.forEach((row, n) => {
        ops.push({ type: 'put', key: keys.byHash(Buffer.from(row.sha256, 'hex'), index, n), value: json({ builder: row.builder, source: row.source, platform: row.platform, name: row.name }) });
        ops.push({ type: 'put', key: keys.byName(row, index, n), value: json({ builder: row.builder, hash: row.sha256 }) });
        ops.push({ type: 'put', key: keys.byNameFirst(row, index, n), value: NAME_ROW_VALUE });
      });
    });
    for (const t of batch.tiles) ops.push({ type: 'put', key: keys.tile(t.level, t.index), value: buf(storedTile(t)) });
    ops.push({ type: 'put', key: keys.checkpoint(), value: Buffer.from(batch.checkpoint, 'utf8') });
    return ops;
  }

  /** Writes one sequencing step atomically; durable when it resolves (unless `sync: false`, for bulk loading). */
  async commit(batch: CommitBatch, options: { sync?: boolean } = {}): Promise<void> {
    // A chained batch: one LevelDB WriteBatch, applied atomically like an array batch, but each put
    // goes straight to the native batch; abstract-level's array batch clones and re-checks every
    // operation object on the main thread first, which costs several times more per entry.
    const chained = this.db.batch();
    try {
      for (const op of Store.commitOps(batch)) chained.put(op.key, op.value);
    } catch (e) {
      await chained.close();
      throw e;
    }
    await chained.write({ sync: options.sync ?? true });
  }
}
