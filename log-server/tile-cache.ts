/**
 * Hash tiles for proofs, read from the store through a small LRU cache (DESIGN.md section 5:
 * proofs come from stored tiles; memory stays bounded). The upper-level tiles that every proof
 * touches stay hot; level-0 tiles come and go. The sequencer writes through: after each durable
 * batch it hands over the changed tiles, so a cached tile is never older than the store.
 *
 * Values are cached in their stored form (full tiles expanded, see proof-source.ts).
 * Tiles only grow by appending hashes, so a tile stored wider than a reader's tree size is cut to
 * the width that size implies: readers of an older checkpoint see exactly their tree.
 */
import { TILE_WIDTH, type HashTile } from '../merkle/tiles.js';
import type { TileReader } from '../merkle/tile-source.js';
import { HASH_SIZE, type Hash } from '../merkle/hash.js';
import { storedTile, type Store } from './store.js';

export class TileCache {
  private readonly tiles = new Map<string, Uint8Array>();

  constructor(private readonly store: Store, private readonly capacity = 1024) {}

  private static key(level: number, index: number): string {
    return `${level}/${index}`;
  }

  private remember(key: string, bytes: Uint8Array): void {
    this.tiles.delete(key);
    this.tiles.set(key, bytes);
    if (this.tiles.size > this.capacity) {
      const oldest = this.tiles.keys().next().value;
      if (oldest !== undefined) this.tiles.delete(oldest);
    }
  }

  /**
   * The stored value of tile (level, index): width*32 bytes, or for a full tile its expanded form.
   * A miss is read from the store synchronously (Store.tile says why), so nothing can change the
   * cache between the read and remembering it.
   */
  readonly stored = (level: number, index: number, need = 0): Uint8Array | undefined => {
    const key = TileCache.key(level, index);
    const cached = this.tiles.get(key);
    if (cached !== undefined && cached.length >= need) {
      this.tiles.delete(key); // refresh its LRU position
      this.tiles.set(key, cached);
      return cached;
    }
    // Not cached, or cached narrower than needed (cached before a batch widened it): the store decides.
    const read = this.store.tile(level, index);
    if (read !== undefined && (cached === undefined || cached.length < read.length)) this.remember(key, read);
    return read;
  };

  /** A merkle TileReader: the tile's first `width` hashes, or undefined if the store has fewer. */
  readonly read: TileReader = async (level, index, width) => {
    const need = width * HASH_SIZE;
    const bytes = this.stored(level, index, need);
    return bytes === undefined || bytes.length < need ? undefined : bytes.subarray(0, need);
  };

  /** The leaf hash at `index` from its level-0 tile, or undefined if the store has no tile that wide. */
  leafHashAt(index: number): Hash | undefined {
    const offset = index % TILE_WIDTH;
    const bytes = this.stored(0, Math.floor(index / TILE_WIDTH), (offset + 1) * HASH_SIZE);
    return bytes === undefined || bytes.length < (offset + 1) * HASH_SIZE ? undefined : bytes.slice(offset * HASH_SIZE, (offset + 1) * HASH_SIZE);
  }

  /** Write-through after a durable batch. */
  update(tiles: readonly HashTile[]): void {
    for (const t of tiles) this.remember(TileCache.key(t.level, t.index), storedTile(t));
  }

  /** Drops everything (after a failed write, when the store is the only truth). */
  clear(): void {
    this.tiles.clear();
  }
}
