/**
 * RFC 9162 section 2.1.3 (inclusion) and 2.1.4 (consistency) proofs: generation over stored
 * hashes, and verification by the RFC's own algorithms (2.1.3.2, 2.1.4.2).
 *
 * Generation follows the RFC's recursive definitions (PATH and SUBPROOF) iteratively: each proof
 * element is the hash of a leaf range [start, end). Ranges the recursion produces start at a
 * multiple of the largest power of two not above their length, so a range is one stored complete
 * subtree when its length is a power of two, and otherwise (the right edge of the tree) the
 * right-to-left fold of the complete subtrees its length's binary digits describe. All stored
 * hashes a proof needs are fetched in one `HashSource.hashes` call, so a tile- or database-backed
 * source can batch its reads.
 *
 * Verification takes hostile input: it returns `{ ok: false, reason }` for every malformed
 * argument and never throws. Tree arithmetic uses plain numbers (`Math.floor(x / 2)`, `x % 2`),
 * never bitwise operators, which would truncate sizes above 2^32.
 */
import { type Hash, type Sha256, emptyRoot, equalBytes, isHash, nobleSha256, nodeHash } from './hash.js';
import { LafsError, type Verdict } from './errors.js';

/** Stored hashes addressed by (level, index): the hash of the complete subtree of 2^level leaves starting at leaf index<<level. */
export interface HashSource {
  /** Returns the requested hashes in order; rejects (LafsError 'not-found') if one is not stored. */
  hashes(coords: readonly { level: number; index: number }[]): Promise<Hash[]>;
  /**
   * Optional memo for hashes of leaf ranges that are not complete subtrees (the right edge of a
   * tree). Such a hash never changes in an append-only log, and every proof at one tree size
   * needs the same few, so a source shared across requests saves their folding.
   */
  readonly rangeMemo?: RangeMemo;
}

/** Hashes of leaf ranges [start, end), remembered by a HashSource (bounded by the implementation). */
export interface RangeMemo {
  get(start: number, end: number): Hash | undefined;
  set(start: number, end: number, hash: Hash): void;
}

/** Address of a stored hash: the complete subtree of 2^level leaves starting at leaf index * 2^level. */
export interface HashCoord { level: number; index: number }

/** Largest power of two strictly below n (n >= 2), exact for every safe integer. */
export function largestPowerOfTwoBelow(n: number): number {
  // Below 2^32 count leading zeros exactly; above, Math.log2 can round up just below a power of
  // two, so the estimate is corrected both ways.
  if (n <= 2 ** 32) return 2 ** (31 - Math.clz32(n - 1));
  let p = 2 ** Math.floor(Math.log2(n - 1));
  while (p >= n) p /= 2;
  while (p * 2 < n) p *= 2;
  return p;
}

/**
 * The complete subtrees, left to right, whose fold is the hash of leaves [start, end). Ranges of
 * the RFC recursion start at a multiple of the largest power of two not above their length, so
 * the pieces are the binary digits of the length, largest first; other ranges take a slower path.
 */
export function subtreeCoords(start: number, end: number): HashCoord[] {
  const coords: HashCoord[] = [];
  const length = end - start;
  if (length <= 0) return coords;
  let size = length === 1 ? 1 : largestPowerOfTwoBelow(length + 1);
  if (start % size === 0) {
    let level = Math.round(Math.log2(size)); // exact for powers of two
    for (let rest = length; rest > 0; size /= 2, level--) {
      if (rest >= size) {
        coords.push({ level, index: start / size });
        start += size;
        rest -= size;
      }
    }
    return coords;
  }
  while (start < end) {
    let piece = 1;
    let level = 0;
    // Largest power of two that fits in the remaining range and keeps `start` aligned.
    while (piece * 2 <= end - start && start % (piece * 2) === 0) {
      piece *= 2;
      level++;
    }
    coords.push({ level, index: start / piece });
    start += piece;
  }
  return coords;
}

/** Leaf ranges of the inclusion proof of `index` in a tree of `size`, in proof order (RFC 9162 2.1.3.1 PATH). */
function inclusionRanges(index: number, size: number): [number, number][] {
  const ranges: [number, number][] = [];
  let start = 0;
  let end = size;
  // k is the RFC's split point; each step's range is at most the previous k, so halving finds the next.
  let k = size > 1 ? largestPowerOfTwoBelow(size) : 1;
  while (end - start > 1) {
    while (k >= end - start) k /= 2;
    if (index < start + k) {
      ranges.push([start + k, end]);
      end = start + k;
    } else {
      ranges.push([start, start + k]);
      start += k;
    }
  }
  // The recursion appends the sibling nearest the root last, so the walk above is reversed.
  return ranges.reverse();
}

/** Leaf ranges of the consistency proof from `from` to `to` (0 < from < to), in proof order (RFC 9162 2.1.4.1 SUBPROOF). */
function consistencyRanges(from: number, to: number): [number, number][] {
  const ranges: [number, number][] = [];
  let start = 0;
  let end = to;
  let k = largestPowerOfTwoBelow(to);
  let fromIsWholeSubtree = true; // the RFC's flag b: the old tree is exactly this subtree, known to the verifier
  while (from !== end) {
    while (k >= end - start) k /= 2;
    if (from - start <= k) {
      ranges.push([start + k, end]);
      end = start + k;
    } else {
      ranges.push([start, start + k]);
      start += k;
      fromIsWholeSubtree = false;
    }
  }
  if (!fromIsWholeSubtree) ranges.push([start, end]);
  return ranges.reverse();
}

/**
 * Fetches every range's subtrees in one source call and folds each range to its hash. A range
 * the source's memo knows is not fetched; a folded range is given to the memo.
 */
async function rangeHashes(ranges: readonly [number, number][], source: HashSource, sha256: Sha256): Promise<Hash[]> {
  const memo = source.rangeMemo;
  const out: (Hash | undefined)[] = new Array(ranges.length);
  const coords: HashCoord[] = [];
  const counts: number[] = new Array(ranges.length).fill(0);
  for (let r = 0; r < ranges.length; r++) {
    const [start, end] = ranges[r]!;
    const length = end - start;
    if (isPowerOfTwo(length)) {
      // A complete subtree: one stored hash (most proof elements).
      counts[r] = 1;
      coords.push({ level: Math.round(Math.log2(length)), index: start / length });
      continue;
    }
    if (memo !== undefined) {
      const known = memo.get(start, end);
      if (known !== undefined) {
        out[r] = known.slice();
        continue;
      }
    }
    const parts = subtreeCoords(start, end);
    counts[r] = parts.length;
    for (const c of parts) coords.push(c);
  }
  const stored = coords.length > 0 ? await source.hashes(coords) : [];
  let at = 0;
  for (let r = 0; r < ranges.length; r++) {
    const count = counts[r]!;
    if (count === 0) continue;
    at += count;
    let hash = stored[at - 1]!;
    for (let i = at - 2; i >= at - count; i--) hash = nodeHash(stored[i]!, hash, sha256);
    if (count > 1) memo?.set(ranges[r]![0], ranges[r]![1], hash.slice());
    out[r] = hash;
  }
  return out as Hash[];
}

function checkSize(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new LafsError('out-of-range', `${name} ${String(value)} is not a non-negative safe integer`);
  }
}

/** Inclusion proof (audit path) of leaf `index` in the tree of the first `size` leaves. */
export async function makeInclusionProof(index: number, size: number, source: HashSource, sha256: Sha256 = nobleSha256): Promise<Hash[]> {
  checkSize('index', index);
  checkSize('tree size', size);
  if (index >= size) throw new LafsError('out-of-range', `index ${index} is not below tree size ${size}`);
  return rangeHashes(inclusionRanges(index, size), source, sha256);
}

/** Consistency proof from tree size `from` to `to`; empty when from is 0 or equals to. */
export async function makeConsistencyProof(from: number, to: number, source: HashSource, sha256: Sha256 = nobleSha256): Promise<Hash[]> {
  checkSize('old tree size', from);
  checkSize('new tree size', to);
  if (from > to) throw new LafsError('out-of-range', `old tree size ${from} is above new tree size ${to}`);
  if (from === 0 || from === to) return [];
  return rangeHashes(consistencyRanges(from, to), source, sha256);
}

/** Root of the first `size` leaves, from stored hashes. */
export async function rootAt(size: number, source: HashSource, sha256: Sha256 = nobleSha256): Promise<Hash> {
  checkSize('tree size', size);
  if (size === 0) return emptyRoot(sha256);
  const [root] = await rangeHashes([[0, size]], source, sha256);
  return root!;
}

function badSize(name: string, value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) return `${name} ${String(value)} is not a safe integer`;
  if (value < 0) return `${name} ${value} is negative`;
  return undefined;
}

/** No proof in a tree below 2^53 leaves is longer (consistency: two paths of at most 53). */
const MAX_PROOF_HASHES = 2 * 53;

function badHashList(proof: unknown): string | undefined {
  if (!Array.isArray(proof)) return 'proof is not an array of hashes';
  // Checked before looking at each element, so a hostile giant array costs nothing.
  if (proof.length > MAX_PROOF_HASHES) return `proof has ${proof.length} hashes, more than any tree below 2^53 leaves needs`;
  for (let i = 0; i < proof.length; i++) {
    if (!isHash(proof[i])) return `proof hash ${i} is not a 32-byte array`;
  }
  return undefined;
}

/** RFC 9162 2.1.3.2. Never throws. */
export function verifyInclusion(leafHash: Hash, index: number, size: number, proof: readonly Hash[], root: Hash, sha256: Sha256 = nobleSha256): Verdict {
  try {
    const malformed =
      badSize('index', index) ?? badSize('tree size', size) ?? badHashList(proof) ??
      (isHash(leafHash) ? undefined : 'leaf hash is not a 32-byte array') ??
      (isHash(root) ? undefined : 'root hash is not a 32-byte array');
    if (malformed) return { ok: false, reason: malformed };
    if (index >= size) return { ok: false, reason: `index ${index} is not below tree size ${size}` };

    let fn = index;
    let sn = size - 1;
    let r = leafHash;
    for (const p of proof) {
      if (sn === 0) return { ok: false, reason: `inclusion proof has ${proof.length} hashes, more than a tree of size ${size} needs` };
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(p, r, sha256);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn /= 2;
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = nodeHash(r, p, sha256);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) return { ok: false, reason: `inclusion proof has ${proof.length} hashes, fewer than index ${index} in a tree of size ${size} needs` };
    if (!equalBytes(r, root)) return { ok: false, reason: `inclusion proof of index ${index} does not lead to the root of the tree of size ${size}` };
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `inclusion proof could not be checked: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** RFC 9162 2.1.4.2. Never throws. */
export function verifyConsistency(from: number, to: number, proof: readonly Hash[], oldRoot: Hash, newRoot: Hash, sha256: Sha256 = nobleSha256): Verdict {
  try {
    const malformed =
      badSize('old tree size', from) ?? badSize('new tree size', to) ?? badHashList(proof) ??
      (isHash(oldRoot) ? undefined : 'old root hash is not a 32-byte array') ??
      (isHash(newRoot) ? undefined : 'new root hash is not a 32-byte array');
    if (malformed) return { ok: false, reason: malformed };
    if (from > to) return { ok: false, reason: `old tree size ${from} is above new tree size ${to}` };

    // The RFC covers 0 < from < to; the two edge cases have empty proofs by convention.
    if (from === to) {
      if (proof.length !== 0) return { ok: false, reason: `consistency proof between equal sizes must be empty, has ${proof.length} hashes` };
      if (to === 0 && !equalBytes(oldRoot, emptyRoot(sha256))) return { ok: false, reason: 'root is not the empty-tree hash for size 0' };
      return equalBytes(oldRoot, newRoot) ? { ok: true } : { ok: false, reason: `two different roots for the same tree size ${to}` };
    }
    if (from === 0) {
      if (proof.length !== 0) return { ok: false, reason: `consistency proof from the empty tree must be empty, has ${proof.length} hashes` };
      return equalBytes(oldRoot, emptyRoot(sha256)) ? { ok: true } : { ok: false, reason: 'old root is not the empty-tree hash for size 0' };
    }

    // 1. An empty proof cannot connect two different sizes.
    if (proof.length === 0) return { ok: false, reason: `consistency proof from ${from} to ${to} is empty` };
    // 2. When the old tree is a complete subtree its root is the proof's implicit first element.
    const path: readonly Hash[] = isPowerOfTwo(from) ? [oldRoot, ...proof] : proof;
    // 3-4.
    let fn = from - 1;
    let sn = to - 1;
    while (fn % 2 === 1) {
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    // 5.
    let fr = path[0]!;
    let sr = path[0]!;
    // 6.
    for (let i = 1; i < path.length; i++) {
      const c = path[i]!;
      if (sn === 0) return { ok: false, reason: `consistency proof has ${proof.length} hashes, more than sizes ${from} to ${to} need` };
      if (fn % 2 === 1 || fn === sn) {
        fr = nodeHash(c, fr, sha256);
        sr = nodeHash(c, sr, sha256);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn /= 2;
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        sr = nodeHash(sr, c, sha256);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    // 7.
    if (sn !== 0) return { ok: false, reason: `consistency proof has ${proof.length} hashes, fewer than sizes ${from} to ${to} need` };
    if (!equalBytes(fr, oldRoot)) return { ok: false, reason: `consistency proof does not lead to the old root of size ${from}` };
    if (!equalBytes(sr, newRoot)) return { ok: false, reason: `consistency proof does not lead to the new root of size ${to}` };
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `consistency proof could not be checked: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function isPowerOfTwo(n: number): boolean {
  if (n <= 2 ** 31) return n > 0 && (n & (n - 1)) === 0; // exact: n fits in 32 bits here
  while (n > 1 && n % 2 === 0) n /= 2;
  return n === 1;
}
