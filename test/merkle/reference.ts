/**
 * Reference model for the Merkle tests: RFC 9162 2.1's recursive definitions written as literally
 * as possible (MTH, PATH, SUBPROOF), slow and independent of merkle/'s iterative code, plus the
 * shared test inputs (the vectors file, a node:crypto SHA-256, an in-memory tile store).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/tmp.js';
import type { Hash, Sha256, HashTile, TileReader } from '../../merkle/index.js';

export const vectors = JSON.parse(readFileSync(join(repoRoot, 'test/vectors/rfc6962.json'), 'utf8')) as {
  leaves: string[];
  roots: Record<string, string>;
  emptyRoot: string;
  rfc9162Example: {
    size: number;
    nodes: Record<string, [number, number]>;
    inclusion: { index: number; proof: string[] }[];
    consistency: { from: number; proof: string[] }[];
    worked: { inclusionOfIndex3: string[]; leafHashOfIndex3: string; consistency3to7: string[] };
  };
};

export const nodeSha: Sha256 = (data) => new Uint8Array(createHash('sha256').update(data).digest());
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

function sha(...parts: Uint8Array[]): Hash {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
export const refLeafHash = (leaf: Uint8Array): Hash => sha(Uint8Array.of(0), leaf);
export const refNodeHash = (l: Hash, r: Hash): Hash => sha(Uint8Array.of(1), l, r);

/** k of RFC 9162 2.1.1: the largest power of two smaller than n (n > 1). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[start:end]) over leaf hashes, memoised per tree (the tests ask for many overlapping ranges). */
export class RefTree {
  private readonly memo = new Map<string, Hash>();
  constructor(readonly leafHashes: readonly Hash[]) {}
  mth(start: number, end: number): Hash {
    if (end - start === 0) return sha();
    if (end - start === 1) return this.leafHashes[start]!;
    const key = `${start},${end}`;
    let h = this.memo.get(key);
    if (h === undefined) {
      const k = splitPoint(end - start);
      h = refNodeHash(this.mth(start, start + k), this.mth(start + k, end));
      this.memo.set(key, h);
    }
    return h;
  }
}

/** PATH(m, D[start:end]) as leaf ranges. */
export function refPath(m: number, start: number, end: number): [number, number][] {
  if (end - start <= 1) return [];
  const k = splitPoint(end - start);
  return m < start + k
    ? [...refPath(m, start, start + k), [start + k, end]]
    : [...refPath(m, start + k, end), [start, start + k]];
}

/** SUBPROOF(m, D[start:end], b) as leaf ranges (m absolute). */
export function refSubproof(m: number, start: number, end: number, b: boolean): [number, number][] {
  if (m === end) return b ? [] : [[start, end]];
  const k = splitPoint(end - start);
  return m - start <= k
    ? [...refSubproof(m, start, start + k, b), [start + k, end]]
    : [...refSubproof(m, start + k, end, false), [start, start + k]];
}

/**
 * The tree T(start, end) written out as nested pairs of leaf numbers, where the subtrees named
 * in `subst` are replaced by given strings. Used to decide when a verifier *must* accept a proof
 * checked against other sizes than it was made for: exactly when the RFC's reconstruction for
 * those sizes, fed the proof's hashes, rebuilds the very same tree (collision-free hashing).
 */
export function shape(start: number, end: number, subst: Map<string, string> = new Map()): string {
  const s = subst.get(`${start},${end}`);
  if (s !== undefined) return s;
  if (end - start === 1) return String(start);
  const k = splitPoint(end - start);
  return `(${shape(start, start + k, subst)},${shape(start + k, end, subst)})`;
}

/** Hash tiles of a whole tree computed from scratch: tile (L, N) = MTH of each 2^(8L)-leaf block. */
export function tilesFromScratch(tree: RefTree, size: number): Map<string, string> {
  const out = new Map<string, string>();
  for (let level = 0; 256 ** level <= size; level++) {
    const span = 256 ** level;
    const count = Math.floor(size / span);
    for (let index = 0; index * 256 < count; index++) {
      const width = Math.min(256, count - index * 256);
      let bytes = '';
      for (let i = 0; i < width; i++) {
        const first = (index * 256 + i) * span;
        bytes += hex(tree.mth(first, first + span));
      }
      out.set(`${level}/${index}`, bytes);
    }
  }
  return out;
}

/** In-memory tile store keeping, like a real log, the newest bytes of each tile. */
export class MemoryTiles {
  readonly tiles = new Map<string, Uint8Array>();
  reads: string[] = [];
  put(tiles: readonly HashTile[]): void {
    for (const t of tiles) this.tiles.set(`${t.level}/${t.index}`, t.hashes);
  }
  /** Serves exactly the stored width; asked for a narrower width it serves nothing (a missing old partial tile). */
  readonly read: TileReader = async (level, index, width) => {
    this.reads.push(`${level}/${index}/${width}`);
    const t = this.tiles.get(`${level}/${index}`);
    return t !== undefined && t.length === width * 32 ? t : undefined;
  };
  /** Serves any width as a prefix of the stored tile (a log that keeps every partial tile). */
  readonly readPrefix: TileReader = async (level, index, width) => {
    this.reads.push(`${level}/${index}/${width}`);
    const t = this.tiles.get(`${level}/${index}`);
    return t !== undefined && t.length >= width * 32 ? t.subarray(0, width * 32) : undefined;
  };
}
