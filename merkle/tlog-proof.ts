/** C2SP tlog-proof@v1: index, inclusion proof and signed checkpoint in one offline text. STUB. */
import type { Hash } from './hash.js';
export interface TlogProof { index: number; proof: Hash[]; checkpoint: string /* signed note text */; extra?: Uint8Array }
export declare function formatTlogProof(p: TlogProof): string;
/** Throws LafsError('bad-proof') naming the line. */
export declare function parseTlogProof(text: string): TlogProof;
