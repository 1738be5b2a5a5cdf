/** What a leaf says, and whether it holds: the bridge from leaf bytes to (source, platform, name, hash) claims. STUB. */
import type { Checked } from '../merkle/errors.js';
import type { Leaf, StatementKind } from './leaf.js';
import type { SignatureCheck } from './openpgp.js';
export interface ClaimedArtifact { platform: string | null; name: string; sha256: string }
export interface LeafView {
  kind: StatementKind;
  source: string;
  artifacts: ClaimedArtifact[];
  flags: string[]; // e.g. "duplicate-name: foo.tar.gz", "no-platform: foo.txt"
}
/** Parses the signed bytes and claims of a decoded leaf; throws LafsError('bad-statement' | 'bad-sums'). */
export declare function viewLeaf(leaf: Leaf): LeafView;
export interface VerifiedLeaf { view: LeafView; signature: SignatureCheck }
/** viewLeaf + verifyDetached. Never throws. */
export declare function verifyLeaf(leaf: Leaf): Promise<Checked<VerifiedLeaf>>;
/** Builds and verifies a leaf from a submission (armored or binary signature/key); throws LafsError with the field named. */
export declare function buildLeaf(input: { kind: string; signed: Uint8Array; signature: Uint8Array | string; publicKey: Uint8Array | string; claims?: unknown }): Promise<{ leaf: Leaf; bytes: Uint8Array; verified: VerifiedLeaf }>;
