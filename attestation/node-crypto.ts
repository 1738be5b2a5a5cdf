/** node:crypto implementations of the primitives merkle takes as parameters. STUB. */
import type { Sha256 } from '../merkle/hash.js';
import type { Ed25519 } from '../merkle/note.js';
export declare const nodeSha256: Sha256;
export declare const nodeEd25519: Ed25519;
