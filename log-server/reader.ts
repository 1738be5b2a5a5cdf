/**
 * The read side of the log: tiles, entry bundles, entries and proofs, all answered from the store
 * under the last durable checkpoint (DESIGN.md section 5: reads never block on writes; proofs come
 * from stored tiles, never from recomputing the tree). Range checks live here so every route
 * reports out-of-range requests the same way.
 */
import { nodeSha256 } from '../attestation/node-crypto.js';
import { encodeEntryBundle } from '../merkle/bundle.js';
import { LafsError } from '../merkle/errors.js';
import { leafHash, type Hash } from '../merkle/hash.js';
import { makeConsistencyProof, makeInclusionProof } from '../merkle/proof.js';
import { TILE_WIDTH, tileWidth, type TileRef } from '../merkle/tiles.js';
import { StoredHashes } from './proof-source.js';
import type { LogState } from './sequencer.js';
import type { EntryMeta, Store } from './store.js';
import type { TileCache } from './tile-cache.js';

export interface TileAnswer { bytes: Uint8Array; full: boolean }

export class LogReader {
  private readonly hashes: StoredHashes;

  constructor(private readonly store: Store, private readonly tiles: TileCache, readonly state: () => LogState) {
    this.hashes = new StoredHashes(tiles.stored, nodeSha256);
  }

  get size(): number {
    return this.state().size;
  }

  /**
   * The bytes of a tile under the current checkpoint, or undefined (404) if the tree does not have
   * that many hashes there yet. A partial tile narrower than what exists is served as that prefix.
   */
  async tile(ref: TileRef): Promise<TileAnswer | undefined> {
    const size = this.size;
    const level = ref.kind === 'hash' ? ref.level : 0;
    const available = tileWidth(level, ref.index, size);
    if (ref.width > available) return undefined;
    const full = ref.width === TILE_WIDTH;
    if (ref.kind === 'hash') {
      const bytes = await this.tiles.read(ref.level, ref.index, ref.width);
      if (bytes === undefined) throw new LafsError('internal', `tile ${ref.level}/${ref.index} missing from the store below the checkpoint size ${size}`);
      return { bytes, full };
    }
    const start = ref.index * TILE_WIDTH;
    const leaves = await this.store.leaves(start, start + ref.width);
    if (leaves.length !== ref.width) throw new LafsError('internal', `leaves ${start}..${start + ref.width - 1} missing from the store`);
    return { bytes: encodeEntryBundle(leaves), full };
  }

  /** Checks 1 <= size <= current size (size defaults to the current size). */
  treeSize(size: number | undefined): number {
    const current = this.size;
    if (size === undefined) return current;
    if (size < 1 || size > current) throw new LafsError('out-of-range', `size ${size} is outside the log (1..${current})`);
    return size;
  }

  async inclusionProof(index: number, size: number): Promise<Hash[]> {
    if (index >= size) throw new LafsError('out-of-range', `index ${index} is not below size ${size}`);
    return makeInclusionProof(index, size, this.hashes.source(size), nodeSha256);
  }

  async consistencyProof(from: number, to: number): Promise<Hash[]> {
    if (from < 1 || from > to) throw new LafsError('out-of-range', `from ${from} must be between 1 and to (${to})`);
    if (to > this.size) throw new LafsError('out-of-range', `to ${to} is beyond the log size ${this.size}`);
    return makeConsistencyProof(from, to, this.hashes.source(to), nodeSha256);
  }

  /** The leaf hash at `index` (index < size), from the level-0 tile: no leaf read. */
  async leafHashAt(index: number, size: number): Promise<Hash> {
    const [hash] = await this.hashes.source(size).hashes([{ level: 0, index }]);
    return hash!;
  }

  /** Index of a logged leaf hash (under the current checkpoint), or undefined. A leaf-hash row is believed only if the tree has that hash there. */
  async indexOf(hash: Hash): Promise<number | undefined> {
    const [index] = this.store.indexesOf([hash]);
    if (index === undefined || index >= this.size) return undefined;
    const at = this.tiles.leafHashAt(index);
    return at !== undefined && Buffer.from(at).equals(Buffer.from(hash)) ? index : undefined;
  }

  async entry(index: number): Promise<{ leaf: Uint8Array; leafHash: Hash; meta: EntryMeta | undefined }> {
    if (index >= this.size) throw new LafsError('not-found', `entry ${index} is not in the log (size ${this.size})`);
    const leaf = await this.store.leaf(index);
    if (leaf === undefined) throw new LafsError('internal', `leaf ${index} missing from the store`);
    return { leaf, leafHash: leafHash(leaf, nodeSha256), meta: await this.store.entryMeta(index) };
  }
}
