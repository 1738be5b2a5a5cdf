/** C2SP tlog-checkpoint body. STUB. */
import type { Hash } from './hash.js';
import type { Checked } from './errors.js';
import type { NoteVerifier } from './note.js';
export interface Checkpoint { origin: string; size: number; root: Hash; extensions: string[] }
export declare function formatCheckpoint(c: Checkpoint): string;
/** Strict: throws LafsError('bad-checkpoint') naming the line. */
export declare function parseCheckpoint(body: string): Checkpoint;
/** Opens a signed checkpoint note with `verifier`, checks origin (defaults to the verifier's name). Never throws. */
export declare function verifyCheckpoint(note: string | Uint8Array, verifier: NoteVerifier, origin?: string): Checked<{ checkpoint: Checkpoint; note: string }>;
