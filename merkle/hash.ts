/**
 * RFC 9162 section 2.1.1 tree hashing: SHA-256 with domain separation between leaves
 * (0x00 prefix) and interior nodes (0x01 prefix), and SHA-256("") for the empty tree.
 *
 * The SHA-256 function is a parameter everywhere so that Node programs can pass node:crypto
 * (several times faster than pure JS) while browsers use the @noble/hashes default.
 * Hot paths build the hash input in one reused scratch buffer instead of concatenating, so an
 * interior node costs one SHA-256 call and one allocation (the digest). A `Sha256` must
 * therefore not keep a reference to its input after it returns.
 */
import { sha256 as noble } from '@noble/hashes/sha2.js';

export type Hash = Uint8Array; // always 32 bytes
/** A SHA-256 function: Node programs pass node:crypto's, browsers the @noble/hashes default. */
export type Sha256 = (data: Uint8Array) => Uint8Array;
export const HASH_SIZE = 32;

export const nobleSha256: Sha256 = (data) => noble(data);

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** 0x01 || left || right, rewritten in place for every interior node (JS is single-threaded). */
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE);
nodeInput[0] = NODE_PREFIX;
/** 0x00 || leaf; grows to the largest leaf seen, so a stream of 1 KB leaves allocates nothing. */
let leafInput = new Uint8Array(1 + 1024);
leafInput[0] = LEAF_PREFIX;
/** The view of leafInput last hashed; leaves of one size in a row reuse it. */
let leafView = leafInput.subarray(0, 1);

/** SHA-256(0x00 || leaf) */
export function leafHash(leaf: Uint8Array, sha256: Sha256 = nobleSha256): Hash {
  if (leafInput.length < leaf.length + 1) {
    leafInput = new Uint8Array(leaf.length + 1);
    leafInput[0] = LEAF_PREFIX;
  }
  if (leafView.buffer !== leafInput.buffer || leafView.length !== leaf.length + 1) leafView = leafInput.subarray(0, leaf.length + 1);
  leafInput.set(leaf, 1);
  return sha256(leafView);
}

/** SHA-256(0x01 || left || right) */
export function nodeHash(left: Hash, right: Hash, sha256: Sha256 = nobleSha256): Hash {
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256(nodeInput);
}

/**
 * Interior node whose children are 32-byte slices of larger buffers (tiles): avoids creating
 * subarray views in the loops that expand tiles.
 */
export function nodeHashAt(buf: Uint8Array, leftOffset: number, rightOffset: number, sha256: Sha256 = nobleSha256): Hash {
  nodeInput.set(buf.subarray(leftOffset, leftOffset + HASH_SIZE), 1);
  nodeInput.set(buf.subarray(rightOffset, rightOffset + HASH_SIZE), 1 + HASH_SIZE);
  return sha256(nodeInput);
}

/** SHA-256("") */
export function emptyRoot(sha256: Sha256 = nobleSha256): Hash {
  return sha256(new Uint8Array(0));
}

/** Root hash of a list of leaves (not leaf hashes). */
export function rootOfLeaves(leaves: readonly Uint8Array[], sha256: Sha256 = nobleSha256): Hash {
  return rootOfLeafHashes(leaves.map((leaf) => leafHash(leaf, sha256)), sha256);
}

/**
 * Root hash of a list of leaf hashes, MTH of RFC 9162 2.1.1. Computed bottom-up level by level:
 * pairing neighbours and carrying an odd last hash up unchanged gives the same tree as the RFC's
 * "split at the largest power of two smaller than n" recursion.
 */
export function rootOfLeafHashes(hashes: readonly Hash[], sha256: Sha256 = nobleSha256): Hash {
  if (hashes.length === 0) return emptyRoot(sha256);
  let level: Hash[] = hashes.slice();
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!, sha256));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/** Byte equality; hashes are public values, so a plain early-exit loop is fine (no timing secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True for a Uint8Array of exactly HASH_SIZE bytes (hostile input may be anything). */
export function isHash(value: unknown): value is Hash {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}
