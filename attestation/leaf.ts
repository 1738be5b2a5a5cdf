/** Leaf encoding (DESIGN.md section 3; docs/formats.md): deterministic, versioned, at most 64 KiB. STUB. */
import type { SumsClaims } from './sums.js';
export const MAX_LEAF_SIZE = 65535;
export type StatementKind = 'lafs-attestation/v1' | 'sha256sums';
export interface Leaf {
  kind: StatementKind;
  signed: Uint8Array; // exact signed bytes (statement or sums file)
  signature: Uint8Array; // binary OpenPGP detached signature
  publicKey: Uint8Array; // binary minimal transferable public key
  claims?: SumsClaims; // only for sha256sums
}
export declare function encodeLeaf(leaf: Leaf): Uint8Array; // throws LafsError('too-large' | 'bad-leaf')
export declare function decodeLeaf(bytes: Uint8Array): Leaf; // throws LafsError('bad-leaf'): trailing bytes, unknown version, truncation
