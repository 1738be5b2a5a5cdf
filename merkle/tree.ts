/** Incremental tree: appends leaf hashes, yields new root and changed tiles, memory O(log n) tiles. STUB. */
import type { Hash, Sha256 } from './hash.js';
import type { HashTile } from './tiles.js';
import type { TileReader } from './tile-source.js';
export interface AppendResult { size: number; root: Hash; tiles: HashTile[] /* every hash tile changed by this batch, at its new width */ }
export declare class IncrementalTree {
  /** An empty tree. */
  static empty(sha256?: Sha256): IncrementalTree;
  /** Resumes a tree of `size` leaves by reading only its right-edge tiles. */
  static open(size: number, readTile: TileReader, sha256?: Sha256): Promise<IncrementalTree>;
  get size(): number;
  get root(): Hash;
  /** Appends a batch; mutates this tree. A caller whose write of the result fails must re-open from storage. */
  append(leafHashes: readonly Hash[]): AppendResult;
}
