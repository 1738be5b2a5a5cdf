/** RFC 9162 section 2.1.3 / 2.1.4 proofs. STUB: signatures are the contract. */
import type { Hash, Sha256 } from './hash.js';
import type { Verdict } from './errors.js';
/** Stored hashes addressed by (level, index): the hash of the complete subtree of 2^level leaves starting at leaf index<<level. */
export interface HashSource {
  /** Returns the requested hashes in order; rejects (LafsError 'not-found') if one is not stored. */
  hashes(coords: readonly { level: number; index: number }[]): Promise<Hash[]>;
}
export declare function makeInclusionProof(index: number, size: number, source: HashSource, sha256?: Sha256): Promise<Hash[]>;
export declare function makeConsistencyProof(from: number, to: number, source: HashSource, sha256?: Sha256): Promise<Hash[]>;
/** Root of the first `size` leaves, from stored hashes. */
export declare function rootAt(size: number, source: HashSource, sha256?: Sha256): Promise<Hash>;
/** RFC 9162 2.1.3.2. Never throws. */
export declare function verifyInclusion(leafHash: Hash, index: number, size: number, proof: readonly Hash[], root: Hash, sha256?: Sha256): Verdict;
/** RFC 9162 2.1.4.2. Never throws. */
export declare function verifyConsistency(from: number, to: number, proof: readonly Hash[], oldRoot: Hash, newRoot: Hash, sha256?: Sha256): Verdict;
