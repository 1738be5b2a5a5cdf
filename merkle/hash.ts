/** RFC 9162 section 2.1.1 tree hashing. STUB: signatures are the contract; bodies to be written. */
export type Hash = Uint8Array; // always 32 bytes
/** A SHA-256 function: Node programs pass node:crypto's, browsers the @noble/hashes default. */
export type Sha256 = (data: Uint8Array) => Uint8Array;
export const HASH_SIZE = 32;
export declare const nobleSha256: Sha256;
/** SHA-256(0x00 || leaf) */
export declare function leafHash(leaf: Uint8Array, sha256?: Sha256): Hash;
/** SHA-256(0x01 || left || right) */
export declare function nodeHash(left: Hash, right: Hash, sha256?: Sha256): Hash;
/** SHA-256("") */
export declare function emptyRoot(sha256?: Sha256): Hash;
/** Root hash of a list of leaves (not leaf hashes). */
export declare function rootOfLeaves(leaves: readonly Uint8Array[], sha256?: Sha256): Hash;
/** Root hash of a list of leaf hashes. */
export declare function rootOfLeafHashes(hashes: readonly Hash[], sha256?: Sha256): Hash;
