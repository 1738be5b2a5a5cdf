/** Leaf verification on every core: a pool of worker threads running verifyLeaf. STUB. */
import type { Checked } from '../merkle/errors.js';
import type { VerifiedLeaf } from './record.js';
export declare class VerifyPool {
  constructor(options?: { threads?: number });
  /** Verifies encoded leaf bytes (decode + verifyLeaf) in a worker. Never rejects for bad input. */
  verify(leafBytes: Uint8Array): Promise<Checked<VerifiedLeaf>>;
  close(): Promise<void>;
}
