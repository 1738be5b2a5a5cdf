/**
 * Tiles of one checkpoint's tree, each verified before use (C2SP tlog-tiles over RFC 9162 2.1.1).
 *
 * The idea: the right-edge partial tile of every level together holds exactly the complete
 * subtrees that the root of a tree of N leaves is made of (one per set bit of N), so fetching
 * those tiles and recomputing the root checks every hash in them against the signed checkpoint.
 * A full tile (level L, index I) hashes to one complete subtree whose hash is entry I mod 256 of
 * its parent tile (L+1, I div 256); checking that link, parents first, anchors every full tile
 * to the root too. Level-0 tiles hold leaf hashes, so an entry bundle is verified leaf by leaf
 * against its level-0 tile. Any mismatch is LafsError('inconsistent') naming the URL.
 */
import { LafsError } from '../merkle/errors.js';
import { HASH_SIZE, emptyRoot, leafHash, nodeHash, rootOfLeafHashes, type Hash, type Sha256 } from '../merkle/hash.js';
import { TILE_HEIGHT, TILE_WIDTH, tileWidth } from '../merkle/tiles.js';
import type { TileReader } from '../merkle/tile-source.js';
import type { Checkpoint } from '../merkle/checkpoint.js';
import type { TileFetcher } from './tile-fetcher.js';

/** Number of hashes stored at tile level `level` (tree level 8*level) for a tree of `size` leaves. */
function hashesAtTileLevel(size: number, level: number): number {
  return Math.floor(size / 2 ** (TILE_HEIGHT * level));
}

function hashAt(hashes: Uint8Array, i: number): Hash {
  return hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
}

function splitHashes(hashes: Uint8Array): Hash[] {
  const out: Hash[] = [];
  for (let i = 0; i < hashes.byteLength / HASH_SIZE; i++) out.push(hashAt(hashes, i));
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** The same bytes as a plain Uint8Array (node:crypto hands out Buffers): callers compare results with deepEqual. */
export function plainBytes(h: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(h) === Uint8Array.prototype ? h : new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
}

function b64(h: Uint8Array): string {
  return Buffer.from(h).toString('base64');
}

export interface VerifiedBundle { leaves: Uint8Array[]; leafHashes: Hash[]; url: string }

export class VerifiedTree {
  /** Verified tiles by "level/index", bounded; promises so that concurrent readers share one fetch. */
  private readonly verified = new Map<string, Promise<Uint8Array>>();
  private readonly maxMemo = 128;
  private rootCheck: Promise<void> | undefined;

  constructor(readonly checkpoint: Checkpoint, private readonly fetcher: TileFetcher, private readonly sha256: Sha256) {}

  get size(): number { return this.checkpoint.size; }

  /** A TileReader for merkle's tileHashSource that only ever returns verified bytes. */
  readonly readTile: TileReader = async (level, index, width) => {
    const expected = tileWidth(level, index, this.size);
    if (width < 1 || width > expected) return undefined;
    const hashes = await this.hashTile(level, index);
    return hashes.subarray(0, width * HASH_SIZE);
  };

  /** The verified hashes of hash tile (level, index) at its width in this tree. */
  hashTile(level: number, index: number): Promise<Uint8Array> {
    const width = tileWidth(level, index, this.size);
    if (width === 0) {
      return Promise.reject(new LafsError('out-of-range', `hash tile ${level}/${index} does not exist in a tree of ${this.size} leaves`));
    }
    const key = `${level}/${index}`;
    const memo = this.verified.get(key);
    if (memo) {
      this.verified.delete(key);
      this.verified.set(key, memo);
      return memo;
    }
    const pending = width < TILE_WIDTH ? this.verifyEdgeTile(level, index) : this.verifyFullTile(level, index);
    this.verified.set(key, pending);
    pending.catch(() => this.verified.delete(key));
    for (const k of this.verified.keys()) {
      if (this.verified.size <= this.maxMemo) break;
      this.verified.delete(k);
    }
    return pending;
  }

  /** A right-edge partial tile: verified by the root check, which fetches all of them at once. */
  private async verifyEdgeTile(level: number, index: number): Promise<Uint8Array> {
    const edge = await this.checkRoot();
    const tile = edge.get(`${level}/${index}`);
    if (!tile) throw new LafsError('internal', `tile ${level}/${index} is not on the right edge of a tree of ${this.size}`);
    return tile;
  }

  /** Fetches the right-edge partial tiles and recomputes the root from them (once per tree). */
  private edgeTiles: Map<string, Uint8Array> | undefined;
  private async checkRoot(): Promise<Map<string, Uint8Array>> {
    this.rootCheck ??= (async () => {
      const edges: { level: number; index: number; width: number }[] = [];
      for (let level = 0; hashesAtTileLevel(this.size, level) > 0; level++) {
        const count = hashesAtTileLevel(this.size, level);
        const width = count % TILE_WIDTH;
        if (width > 0) edges.push({ level, index: Math.floor(count / TILE_WIDTH), width });
      }
      const fetched = await Promise.all(edges.map((e) => this.fetcher.hashTile(e.level, e.index, e.width)));
      // The root's complete subtrees, largest (highest level) first: for each edge tile, one per set bit of its width.
      const subtrees: Hash[] = [];
      for (let i = edges.length - 1; i >= 0; i--) {
        const hashes = splitHashes(fetched[i]!.hashes);
        let offset = 0;
        for (let bit = TILE_HEIGHT - 1; bit >= 0; bit--) {
          const span = 2 ** bit;
          if (edges[i]!.width & span) {
            subtrees.push(rootOfLeafHashes(hashes.slice(offset, offset + span), this.sha256));
            offset += span;
          }
        }
      }
      let root = subtrees.length === 0 ? emptyRoot(this.sha256) : subtrees[subtrees.length - 1]!;
      for (let i = subtrees.length - 2; i >= 0; i--) root = nodeHash(subtrees[i]!, root, this.sha256);
      if (!equal(root, this.checkpoint.root)) {
        const urls = fetched.map((f) => f.url).join(', ') || '(no tiles)';
        throw new LafsError('inconsistent', `tiles ${urls} hash to root ${b64(root)}, but the checkpoint of size ${this.size} says ${b64(this.checkpoint.root)}; the log served tiles that do not match its signed checkpoint`);
      }
      this.edgeTiles = new Map(edges.map((e, i) => [`${e.level}/${e.index}`, fetched[i]!.hashes]));
    })();
    try {
      await this.rootCheck;
    } catch (err) {
      this.rootCheck = undefined; // a transient fetch failure may be retried by the next caller
      throw err;
    }
    return this.edgeTiles!;
  }

  /** A full tile: its subtree hash must equal the matching entry of its (verified) parent tile. */
  private async verifyFullTile(level: number, index: number): Promise<Uint8Array> {
    const [parent, { hashes, url, keep }] = await Promise.all([
      this.hashTile(level + 1, Math.floor(index / TILE_WIDTH)),
      this.fetcher.hashTile(level, index, TILE_WIDTH),
    ]);
    const subtree = rootOfLeafHashes(splitHashes(hashes), this.sha256);
    const expected = hashAt(parent, index % TILE_WIDTH);
    if (!equal(subtree, expected)) {
      throw new LafsError('inconsistent', `GET ${url}: tile hashes to ${b64(subtree)}, but its parent tile (verified against the checkpoint of size ${this.size}) says ${b64(expected)}; the log served a tampered tile`);
    }
    keep();
    return hashes;
  }

  /** The leaves of entry bundle `index`, each checked against the verified level-0 tile. */
  async entryBundle(index: number): Promise<VerifiedBundle> {
    const width = tileWidth(0, index, this.size);
    if (width === 0) throw new LafsError('out-of-range', `entry bundle ${index} does not exist in a tree of ${this.size} leaves`);
    const [tile, bundle] = await Promise.all([this.hashTile(0, index), this.fetcher.entryBundle(index, width)]);
    const leafHashes: Hash[] = [];
    for (let i = 0; i < width; i++) {
      const h = plainBytes(leafHash(bundle.leaves[i]!, this.sha256));
      if (!equal(h, hashAt(tile, i))) {
        throw new LafsError('inconsistent', `GET ${bundle.url}: entry ${index * TILE_WIDTH + i} hashes to ${b64(h)}, but the verified level-0 tile says ${b64(hashAt(tile, i))}; the log served a tampered entry bundle`);
      }
      leafHashes.push(h);
    }
    bundle.keep();
    return { leaves: bundle.leaves, leafHashes, url: bundle.url };
  }
}
