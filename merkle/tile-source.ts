/**
 * A HashSource backed by C2SP tlog-tiles hash tiles (the server's LevelDB, a client's HTTP
 * fetches, a static mirror).
 *
 * A tile at tile level L stores only tree level 8L; a hash at level 8L+j (0 < j < 8) is the root
 * of 2^j consecutive hashes of one tile and is computed here. Computing it on every request
 * would cost up to 2^j - 1 SHA-256 calls per proof element, so a tile is expanded once into all
 * its internal levels (at most 255 hashes for a full tile) and the expansion may be kept in a
 * bounded LRU `ExpandedTileCache`. A tile of a given (level, index, width) never changes in an
 * append-only log, so one cache can be shared by sources of different tree sizes (a server
 * keeps one for all requests; each source otherwise gets a small private one).
 */
import { type Hash, type Sha256, HASH_SIZE, nobleSha256, nodeHashAt } from './hash.js';
import { LafsError } from './errors.js';
import type { HashSource, RangeMemo } from './proof.js';
import { TILE_HEIGHT, TILE_WIDTH, tileWidth } from './tiles.js';

const TILE_BYTES = TILE_WIDTH * HASH_SIZE;
/** 2^k for every tree level (a table: `**` with a variable exponent is a slow library call). */
const POW2 = Array.from({ length: 54 }, (_, k) => 2 ** k);

/**
 * Returns the bytes of hash tile (level, index) as stored for a tree of `size` leaves (full or the
 * partial width), or undefined. When a partial width is missing, `tileHashSource` asks for the
 * full tile (width 256) and uses its prefix, as tlog-tiles clients do.
 */
export type TileReader = (level: number, index: number, width: number) => Promise<Uint8Array | undefined>;

/** A hash tile with its internal levels: level j (0..7) holds floor(width / 2^j) hashes. */
export class ExpandedTile {
  readonly width: number;
  /** Byte offset of each internal level in `bytes`. */
  private readonly offsets: number[];
  private readonly bytes: Uint8Array;
  /** The same memory as 32-bit words (the buffer is fresh, so aligned), for fast copies. */
  private readonly words: Uint32Array;

  constructor(tileBytes: Uint8Array, width: number, sha256: Sha256) {
    this.width = width;
    this.offsets = [0];
    let total = width;
    for (let j = 1, n = width; j < TILE_HEIGHT; j++) {
      this.offsets.push(total * HASH_SIZE);
      n = Math.floor(n / 2);
      total += n;
    }
    this.bytes = new Uint8Array(total * HASH_SIZE);
    this.words = new Uint32Array(this.bytes.buffer, 0, this.bytes.length / 4);
    this.bytes.set(tileBytes);
    for (let j = 1, below = width; j < TILE_HEIGHT; j++) {
      const count = Math.floor(below / 2);
      const from = this.offsets[j - 1]!;
      const to = this.offsets[j]!;
      for (let i = 0; i < count; i++) {
        this.bytes.set(nodeHashAt(this.bytes, from + 2 * i * HASH_SIZE, from + (2 * i + 1) * HASH_SIZE, sha256), to + i * HASH_SIZE);
      }
      below = count;
    }
  }

  /** Copy of the hash at internal level j, position i (caller guarantees it exists). */
  hash(j: number, i: number): Hash {
    const at = this.offsets[j]! + i * HASH_SIZE;
    return this.bytes.slice(at, at + HASH_SIZE);
  }

  /**
   * Copies the hash at internal level j, position i into `out` (32-bit words) at word `offset`:
   * eight word moves, no view object per hash on the proof hot path.
   */
  copyHashWords(j: number, i: number, out: Uint32Array, offset: number): void {
    const at = (this.offsets[j]! + i * HASH_SIZE) / 4;
    const words = this.words;
    for (let w = 0; w < HASH_SIZE / 4; w++) out[offset + w] = words[at + w]!;
  }

  /** Approximate memory held, for cache accounting. */
  get byteLength(): number {
    return this.bytes.length;
  }
}

/**
 * A bounded, approximately least-recently-used map. Map keeps insertion order; a hit is moved to
 * the end only when it has drifted into the older half, so hot entries cost one lookup.
 */
class Lru<V> {
  private readonly map = new Map<string, { value: V; stamp: number }>();
  private clock = 0;
  constructor(readonly max: number) {}
  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (hit === undefined) return undefined;
    if (this.clock - hit.stamp > this.max / 2) {
      this.map.delete(key);
      hit.stamp = ++this.clock;
      this.map.set(key, hit);
    }
    return hit.value;
  }
  set(key: string, value: V): void {
    if (this.max === 0) return;
    this.map.delete(key);
    this.map.set(key, { value, stamp: ++this.clock });
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
  get size(): number {
    return this.map.size;
  }
}

/** Hashes of right-edge ranges, by end then start; bounded by dropping the oldest end's entries. */
class RangeTable {
  private readonly byEnd = new Map<number, Map<number, Hash>>();
  private count = 0;
  constructor(readonly max: number) {}
  get(start: number, end: number): Hash | undefined {
    return this.byEnd.get(end)?.get(start);
  }
  set(start: number, end: number, hash: Hash): void {
    if (this.max === 0) return;
    let starts = this.byEnd.get(end);
    if (starts === undefined) this.byEnd.set(end, (starts = new Map()));
    if (!starts.has(start)) this.count++;
    starts.set(start, hash);
    while (this.count > this.max) {
      const [oldest, entries] = this.byEnd.entries().next().value!;
      this.byEnd.delete(oldest);
      this.count -= entries.size;
    }
  }
}

/**
 * Bounded cache of expanded tiles, keyed by (level, index, width), plus a small memo of
 * right-edge range hashes (see RangeMemo). Both hold only immutable facts of one log, so one
 * cache may serve every tree size of that log, but never two different logs.
 */
export class ExpandedTileCache implements RangeMemo {
  readonly maxTiles: number;
  private readonly tiles: Lru<ExpandedTile>;
  private readonly ranges: RangeTable;

  constructor(maxTiles = 64, maxRanges = 256) {
    if (!Number.isInteger(maxTiles) || maxTiles < 0) throw new LafsError('bad-request', `tile cache size ${String(maxTiles)} is not a non-negative integer`);
    if (!Number.isInteger(maxRanges) || maxRanges < 0) throw new LafsError('bad-request', `range memo size ${String(maxRanges)} is not a non-negative integer`);
    this.maxTiles = maxTiles;
    this.tiles = new Lru(maxTiles);
    this.ranges = new RangeTable(maxRanges);
  }

  getTile(key: string): ExpandedTile | undefined {
    return this.tiles.get(key);
  }

  setTile(key: string, tile: ExpandedTile): void {
    this.tiles.set(key, tile);
  }

  get(start: number, end: number): Hash | undefined {
    return this.ranges.get(start, end);
  }

  set(start: number, end: number, hash: Hash): void {
    this.ranges.set(start, end, hash);
  }

  /** Number of expanded tiles held. */
  get size(): number {
    return this.tiles.size;
  }
}

export interface TileSourceOptions {
  /** Shared cache of expanded tiles; default: a private cache of 16 tiles (upper tiles of one tree). */
  cache?: ExpandedTileCache;
}

/** Hash source over the tiles of a tree of `size` leaves; hashes at levels between tile levels are computed inside the tile. */
export function tileHashSource(size: number, readTile: TileReader, sha256: Sha256 = nobleSha256, options: TileSourceOptions = {}): HashSource {
  if (!Number.isSafeInteger(size) || size < 0) throw new LafsError('out-of-range', `tile source: tree size ${String(size)} is not a non-negative safe integer`);
  const cache = options.cache ?? new ExpandedTileCache(16);

  async function load(level: number, index: number, width: number, key: string): Promise<ExpandedTile> {
    let bytes = await readTile(level, index, width);
    if (bytes === undefined && width < TILE_WIDTH) {
      // tlog-tiles lets a log drop a partial tile once the full tile exists; its prefix is the partial tile.
      const full = await readTile(level, index, TILE_WIDTH);
      if (full instanceof Uint8Array && full.length === TILE_BYTES) bytes = full.subarray(0, width * HASH_SIZE);
    }
    if (bytes === undefined) throw new LafsError('not-found', `hash tile (${level}, ${index}) of width ${width} is not stored`);
    if (!(bytes instanceof Uint8Array) || bytes.length !== width * HASH_SIZE) {
      throw new LafsError('bad-tile', `hash tile (${level}, ${index}) of width ${width} has ${bytes?.length} bytes, expected ${width * HASH_SIZE}`);
    }
    const tile = new ExpandedTile(bytes, width, sha256);
    cache.setTile(key, tile);
    return tile;
  }

  return {
    rangeMemo: cache,
    async hashes(coords) {
      const out: Hash[] = new Array(coords.length);
      // One buffer holds every returned hash (each a view of its own 32 bytes): one allocation
      // per call instead of one per hash, which is most of the garbage a proof makes.
      const block = new Uint8Array(coords.length * HASH_SIZE);
      const blockWords = new Uint32Array(block.buffer);
      // Tiles missing from the cache are read once each, concurrently, then the gaps are filled.
      let pending: Map<string, Promise<ExpandedTile>> | undefined;
      let waiting: { slot: number; key: string; j: number; pos: number }[] | undefined;
      let lastLevel = -1;
      let lastIndex = -1;
      let lastKey = '';
      let lastWidth = 0;
      let lastTile: ExpandedTile | undefined;
      for (let slot = 0; slot < coords.length; slot++) {
        const { level, index } = coords[slot]!;
        if (!Number.isSafeInteger(level) || !Number.isSafeInteger(index) || level < 0 || index < 0 || level > 53) {
          throw new LafsError('out-of-range', `hash coordinate (${String(level)}, ${String(index)}) is not valid`);
        }
        if ((index + 1) * POW2[level]! > size) {
          throw new LafsError('not-found', `hash (${level}, ${index}) is not a complete subtree of the tree of size ${size}`);
        }
        const tileLevel = Math.floor(level / TILE_HEIGHT);
        const j = level - tileLevel * TILE_HEIGHT;
        const perTile = TILE_WIDTH / POW2[j]!; // hashes of internal level j in a full tile
        const tileIndex = Math.floor(index / perTile);
        const pos = index - tileIndex * perTile;
        // Proofs ask for runs of hashes from one tile: look the tile up once per run.
        if (tileLevel !== lastLevel || tileIndex !== lastIndex || lastTile === undefined) {
          lastWidth = tileWidth(tileLevel, tileIndex, size);
          lastKey = `${tileLevel}/${tileIndex}/${lastWidth}`;
          lastTile = cache.getTile(lastKey);
          lastLevel = tileLevel;
          lastIndex = tileIndex;
        }
        const tile = lastTile;
        const key = lastKey;
        const width = lastWidth;
        if (tile !== undefined) {
          tile.copyHashWords(j, pos, blockWords, slot * (HASH_SIZE / 4));
          out[slot] = block.subarray(slot * HASH_SIZE, (slot + 1) * HASH_SIZE);
          continue;
        }
        pending ??= new Map();
        waiting ??= [];
        if (!pending.has(key)) {
          const loading = load(tileLevel, tileIndex, width, key);
          // A later coordinate may still throw before this is awaited: never leave it unhandled.
          loading.catch(() => {});
          pending.set(key, loading);
        }
        waiting.push({ slot, key, j, pos });
      }
      if (waiting !== undefined) {
        const loaded = new Map<string, ExpandedTile>();
        await Promise.all([...pending!].map(async ([key, p]) => loaded.set(key, await p)));
        for (const w of waiting) {
          loaded.get(w.key)!.copyHashWords(w.j, w.pos, blockWords, w.slot * (HASH_SIZE / 4));
          out[w.slot] = block.subarray(w.slot * HASH_SIZE, (w.slot + 1) * HASH_SIZE);
        }
      }
      return out;
    },
  };
}
