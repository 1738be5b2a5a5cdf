/**
 * Where proofs get their hashes (DESIGN.md section 5: proofs come from stored tiles).
 *
 * A hash tile holds one tree level (8L); a proof also needs the 7 levels inside it. Computing
 * them costs up to ~250 SHA-256 calls per tile, which on a large log (level-0 tiles too many to
 * cache) would dominate a proof. So a tile is stored *expanded* once it is full and immutable:
 * its 256 hashes followed by its internal levels (128, 64, …, 2 hashes: 510 hashes, 16320
 * bytes). The tile as served is the first 256 hashes of that value; a proof reads any hash of a
 * full tile directly. Only the few partial tiles on the right edge are expanded on the fly (and
 * those expansions are cached: every proof of one tree size shares them).
 */
import type { Hash, Sha256 } from '../merkle/hash.js';
import { HASH_SIZE, nodeHash } from '../merkle/hash.js';
import { LafsError } from '../merkle/errors.js';
import type { HashSource } from '../merkle/proof.js';
import { ExpandedTile, ExpandedTileCache } from '../merkle/tile-source.js';
import { TILE_HEIGHT, TILE_WIDTH, tileWidth } from '../merkle/tiles.js';

/** Hashes in an expanded full tile: 256 + 128 + … + 2. */
export const EXPANDED_HASHES = 2 * TILE_WIDTH - 2;
export const EXPANDED_BYTES = EXPANDED_HASHES * HASH_SIZE;

/** Offset (in hashes) of internal level j in an expanded full tile: 256 + 128 + … (j terms). */
function levelOffset(j: number): number {
  return 2 * TILE_WIDTH - (2 * TILE_WIDTH) / 2 ** j;
}

/** A full tile's 256 hashes followed by its internal levels 1..7. */
export function expandFullTile(hashes: Uint8Array, sha256: Sha256): Uint8Array {
  if (hashes.length !== TILE_WIDTH * HASH_SIZE) throw new LafsError('internal', `expandFullTile: ${hashes.length} bytes is not a full tile`);
  const out = new Uint8Array(EXPANDED_BYTES);
  out.set(hashes);
  for (let j = 1; j < TILE_HEIGHT; j++) {
    const below = levelOffset(j - 1) * HASH_SIZE;
    const here = levelOffset(j) * HASH_SIZE;
    for (let i = 0; i < TILE_WIDTH >> j; i++) {
      const left = out.subarray(below + 2 * i * HASH_SIZE, below + (2 * i + 1) * HASH_SIZE);
      const right = out.subarray(below + (2 * i + 1) * HASH_SIZE, below + (2 * i + 2) * HASH_SIZE);
      out.set(nodeHash(left, right, sha256), here + i * HASH_SIZE);
    }
  }
  return out;
}

/**
 * Reads the stored value of a tile (expanded if full, else width*32 bytes), or undefined.
 * Synchronous (the server's tile reads are: store.ts), so a proof's hashes are gathered in one
 * go rather than one promise each.
 */
export type StoredTileReader = (level: number, index: number) => Uint8Array | undefined;

export class StoredHashes {
  /** Expansions of right-edge partial tiles, and the memo of right-edge range hashes (both immutable facts). */
  private readonly partials = new ExpandedTileCache(64, 4096);

  constructor(private readonly read: StoredTileReader, private readonly sha256: Sha256) {}

  /** A merkle HashSource for the tree of `size` leaves. */
  source(size: number): HashSource {
    return { hashes: (coords) => this.hashes(size, coords), rangeMemo: this.partials };
  }

  private async hashes(size: number, coords: readonly { level: number; index: number }[]): Promise<Hash[]> {
    return coords.map((c) => this.hash(size, c.level, c.index));
  }

  private hash(size: number, level: number, index: number): Hash {
    if (!Number.isSafeInteger(level) || !Number.isSafeInteger(index) || level < 0 || index < 0 || level > 53 || (index + 1) * 2 ** level > size) {
      throw new LafsError('not-found', `hash (${level}, ${index}) is not a complete subtree of the tree of size ${size}`);
    }
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const j = level - tileLevel * TILE_HEIGHT;
    const perTile = TILE_WIDTH / 2 ** j; // hashes of internal level j in one tile
    const tileIndex = Math.floor(index / perTile);
    const i = index - tileIndex * perTile;
    const width = tileWidth(tileLevel, tileIndex, size);
    const stored = this.read(tileLevel, tileIndex);
    if (stored === undefined) throw new LafsError('not-found', `hash tile (${tileLevel}, ${tileIndex}) is not stored`);
    if (width === TILE_WIDTH && stored.length === EXPANDED_BYTES) {
      const at = (levelOffset(j) + i) * HASH_SIZE;
      return stored.slice(at, at + HASH_SIZE);
    }
    if (stored.length < width * HASH_SIZE) throw new LafsError('not-found', `hash tile (${tileLevel}, ${tileIndex}) is narrower than ${width}`);
    const key = `${tileLevel}/${tileIndex}/${width}`;
    let tile = this.partials.getTile(key);
    if (tile === undefined) {
      tile = new ExpandedTile(stored.subarray(0, width * HASH_SIZE), width, this.sha256);
      this.partials.setTile(key, tile);
    }
    return tile.hash(j, i);
  }
}
