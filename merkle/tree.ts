/**
 * Incremental RFC 9162 tree that produces C2SP tlog-tiles hash tiles as it grows.
 *
 * The tree never holds more than its right edge:
 *  - the compact range: for every set bit h of the size, the root of the complete subtree of
 *    2^h leaves that ends at the right edge (at most 53 hashes). Appending a leaf is a binary
 *    increment: the new leaf merges with the stored subtree of each set low bit, one node hash
 *    per carry, so n appends cost n - 1 node hashes in total (amortised one per leaf);
 *  - for every tile level L, the partial tile being filled at tree level 8L (under 8 KiB each).
 *    Every hash a carry produces at a level divisible by 8 is appended to that level's tile; a
 *    tile reaching 256 hashes is full, handed out once and forgotten.
 * The root is the fold of the compact range, smallest subtree first: O(log n) per batch.
 *
 * Hashing allocates nothing but the digests: the compact range lives in one buffer of 65-byte
 * slots, slot h = 0x01 || compact[h] || scratch. A carry reaching level h is copied once, into the
 * left half if bit h is clear (it becomes compact[h]) or into the right half if set, and then the
 * slot itself is the node's hash input (no concatenation, no global scratch, no view per hash).
 *
 * `open` rebuilds this state from the right-edge partial tiles alone: each set bit h of the size
 * names a complete subtree inside the partial tile of level floor(h / 8).
 */
import { type Hash, type Sha256, HASH_SIZE, emptyRoot, isHash, nobleSha256, rootOfLeafHashes } from './hash.js';
import { LafsError } from './errors.js';
import { type HashTile, TILE_HEIGHT, TILE_WIDTH, hashesAtTileLevel } from './tiles.js';
import type { TileReader } from './tile-source.js';

/** What one append batch changed: the new size and root, and the hash tiles to store. */
export interface AppendResult { size: number; root: Hash; tiles: HashTile[] /* every hash tile changed by this batch, at its new width */ }

const TILE_BYTES = TILE_WIDTH * HASH_SIZE;
/** Tree levels with a slot: a size below 2^53 has at most 53 bits, and a carry stops at level 53. */
const LEVELS = 54;
/** 0x01 || left || right: one interior node's hash input. */
const SLOT = 1 + 2 * HASH_SIZE;

/**
 * An append-only RFC 9162 tree that holds only its right edge (one hash per set bit of the size)
 * and the partial tile of each level; each `append` returns the tiles it changed.
 */
export class IncrementalTree {
  private treeSize: number;
  private readonly sha256: Sha256;
  /**
   * compact[h]: root of the right-edge complete subtree of 2^h leaves; defined iff bit h of the
   * size is set. It is always lefts[h], the left half of slot h: set and cleared, never allocated.
   */
  private readonly compact: (Hash | undefined)[] = new Array<Hash | undefined>(LEVELS).fill(undefined);
  /** LEVELS slots of 0x01 || compact[h] || right child (scratch whenever bit h is set). */
  private readonly slots = new Uint8Array(LEVELS * SLOT);
  /** inputs[h]: view of all of slot h (a node's hash input); lefts[h]: view of its left half. Made once. */
  private readonly inputs: Uint8Array[] = [];
  private readonly lefts: Hash[] = [];
  /** edge[L]: the partial tile of tile level L being filled (TILE_BYTES long). */
  private readonly edge: Uint8Array[] = [];
  /** edgeWidth[L]: hashes in edge[L]; edgeIndex[L]: its tile index (= full tiles before it). */
  private readonly edgeWidth: number[] = [];
  private readonly edgeIndex: number[] = [];
  private currentRoot: Hash;

  private constructor(sha256: Sha256) {
    this.sha256 = sha256;
    for (let h = 0; h < LEVELS; h++) {
      this.slots[h * SLOT] = 0x01;
      this.inputs.push(this.slots.subarray(h * SLOT, (h + 1) * SLOT));
      this.lefts.push(this.slots.subarray(h * SLOT + 1, h * SLOT + 1 + HASH_SIZE));
    }
    this.treeSize = 0;
    this.currentRoot = emptyRoot(sha256);
  }

  /** An empty tree. */
  static empty(sha256: Sha256 = nobleSha256): IncrementalTree {
    return new IncrementalTree(sha256);
  }

  /** Resumes a tree of `size` leaves by reading only its right-edge tiles. */
  static async open(size: number, readTile: TileReader, sha256: Sha256 = nobleSha256): Promise<IncrementalTree> {
    if (!Number.isSafeInteger(size) || size < 0) throw new LafsError('out-of-range', `tree size ${String(size)} is not a non-negative safe integer`);
    const tree = new IncrementalTree(sha256);
    tree.treeSize = size;
    for (let level = 0; hashesAtTileLevel(level, size) > 0; level++) {
      const count = hashesAtTileLevel(level, size);
      const index = Math.floor(count / TILE_WIDTH);
      const width = count - index * TILE_WIDTH;
      tree.edgeIndex[level] = index;
      tree.edgeWidth[level] = width;
      tree.edge[level] = new Uint8Array(TILE_BYTES);
      if (width === 0) continue;
      const bytes = await readTile(level, index, width);
      if (bytes === undefined) throw new LafsError('not-found', `right-edge hash tile (${level}, ${index}) of width ${width} is not stored`);
      if (!(bytes instanceof Uint8Array) || bytes.length !== width * HASH_SIZE) {
        throw new LafsError('bad-tile', `right-edge hash tile (${level}, ${index}) of width ${width} has ${bytes?.length} bytes, expected ${width * HASH_SIZE}`);
      }
      tree.edge[level]!.set(bytes);
      // Bits 8L .. 8L+7 of the size are the bits of `width`: each set bit j is a complete
      // subtree of 2^j tile hashes, laid out left to right from the largest.
      let start = width;
      for (let j = 0; j < TILE_HEIGHT; j++) {
        const span = 2 ** j;
        if (Math.floor(width / span) % 2 === 0) continue;
        start -= span;
        const hashes: Hash[] = [];
        for (let i = start; i < start + span; i++) hashes.push(bytes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
        const h = level * TILE_HEIGHT + j;
        tree.slots.set(rootOfLeafHashes(hashes, sha256), h * SLOT + 1);
        tree.compact[h] = tree.lefts[h];
      }
    }
    tree.currentRoot = tree.computeRoot();
    return tree;
  }

  get size(): number {
    return this.treeSize;
  }

  get root(): Hash {
    return this.currentRoot.slice();
  }

  /** Appends a batch; mutates this tree. A caller whose write of the result fails must re-open from storage. */
  append(leafHashes: readonly Hash[]): AppendResult {
    // Check the whole batch first, so a bad hash leaves the tree untouched.
    for (let i = 0; i < leafHashes.length; i++) {
      if (!isHash(leafHashes[i])) throw new LafsError('bad-request', `append: leaf hash ${i} of the batch is not a 32-byte array`);
    }
    if (this.treeSize + leafHashes.length > Number.MAX_SAFE_INTEGER) throw new LafsError('out-of-range', 'append: tree would exceed 2^53 - 1 leaves');

    const tiles: HashTile[] = [];
    if (leafHashes.length === 0) return { size: this.treeSize, root: this.currentRoot.slice(), tiles };
    // Tile levels touched by this batch: always 0 .. topTile, as a carry reaching tree level 8L
    // has passed every lower multiple of 8.
    let topTile = 0;
    const sha256 = this.sha256;
    const compact = this.compact;
    const slots = this.slots;
    const lefts = this.lefts;
    const inputs = this.inputs;
    for (let n = 0; n < leafHashes.length; n++) {
      // Every hash, the caller's leaf hash included, is copied into a slot before it is kept, so
      // the tree never holds a caller's buffer (nor a digest: those are dropped at once).
      let carry = leafHashes[n]!;
      let level = 0;
      for (;;) {
        if ((level & (TILE_HEIGHT - 1)) === 0) {
          const tileLevel = level >>> 3;
          if (tileLevel > topTile) topTile = tileLevel;
          this.pushToEdge(tileLevel, carry, tiles);
        }
        if (compact[level] === undefined) {
          slots.set(carry, level * SLOT + 1);
          compact[level] = lefts[level];
          break;
        }
        slots.set(carry, level * SLOT + 1 + HASH_SIZE);
        compact[level] = undefined;
        carry = sha256(inputs[level]!);
        level++;
      }
    }
    this.treeSize += leafHashes.length;
    for (let level = 0; level <= topTile; level++) {
      const width = this.edgeWidth[level]!;
      if (width > 0) tiles.push({ level, index: this.edgeIndex[level]!, width, hashes: this.edge[level]!.slice(0, width * HASH_SIZE) });
    }
    if (tiles.length > 1) tiles.sort((a, b) => a.level - b.level || a.index - b.index);
    this.currentRoot = this.computeRoot();
    return { size: this.treeSize, root: this.currentRoot.slice(), tiles };
  }

  /** Appends one tree-level-8L hash to tile level L; a tile that fills up is emitted as full. */
  private pushToEdge(tileLevel: number, hash: Hash, out: HashTile[]): void {
    let buf = this.edge[tileLevel];
    if (buf === undefined) {
      buf = this.edge[tileLevel] = new Uint8Array(TILE_BYTES);
      this.edgeWidth[tileLevel] = 0;
      this.edgeIndex[tileLevel] = 0;
    }
    const width = this.edgeWidth[tileLevel]!;
    buf.set(hash, width * HASH_SIZE);
    if (width + 1 < TILE_WIDTH) {
      this.edgeWidth[tileLevel] = width + 1;
      return;
    }
    // Full: hand the buffer itself out (it is never written again) and start a fresh one.
    out.push({ level: tileLevel, index: this.edgeIndex[tileLevel]!, width: TILE_WIDTH, hashes: buf });
    this.edge[tileLevel] = new Uint8Array(TILE_BYTES);
    this.edgeWidth[tileLevel] = 0;
    this.edgeIndex[tileLevel]!++;
  }

  /**
   * RFC 9162 root of the current size: the compact range folded right to left. The partial root
   * is copied into the right half of the next set slot, which is scratch while its bit is set.
   */
  private computeRoot(): Hash {
    let root: Hash | undefined;
    for (let level = 0; level < LEVELS; level++) {
      if (this.compact[level] === undefined) continue;
      if (root === undefined) {
        root = this.lefts[level]!;
      } else {
        this.slots.set(root, level * SLOT + 1 + HASH_SIZE);
        root = this.sha256(this.inputs[level]!);
      }
    }
    if (root === undefined) return emptyRoot(this.sha256);
    // A lone subtree's root is a view of its slot, which later appends overwrite.
    return root.buffer === this.slots.buffer ? root.slice() : root;
  }
}
