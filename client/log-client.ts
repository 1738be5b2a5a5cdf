/** A client of the log that trusts nothing it receives. STUB: signatures are the contract. */
import type { Checkpoint, Hash } from '../merkle/index.js';
import type { Leaf, LeafView } from '../attestation/index.js';
export interface LogClientOptions {
  url: string; // base URL of a log server or of a static tile mirror
  verifierKey: string; // note verifier key `name+hex+base64`
  origin?: string; // defaults to the verifier key's name
  timeoutMs?: number; // per request, default 10000
  retries?: number; // on 5xx and network errors, capped exponential backoff, default 3
}
export interface VerifiedCheckpoint { checkpoint: Checkpoint; note: string }
export interface VerifiedEntry { index: number; leaf: Uint8Array; leafHash: Hash; decoded: Leaf; view: LeafView }
export interface LookupRow { index: number; builder: string; source: string; platform: string | null; name: string; hash: string }
export interface SubmitResult { index: number; leafHash: Hash; builder: string; created: boolean; warnings: string[]; checkpoint: VerifiedCheckpoint; inclusionProof: Hash[] }
export declare class LogClient {
  constructor(options: LogClientOptions);
  /** GET /checkpoint, signature and origin verified. */
  checkpoint(): Promise<VerifiedCheckpoint>;
  /** Proves `newer` extends `older` (server proof if the API exists, else computed from tiles). Throws LafsError('inconsistent'). */
  proveConsistency(older: Checkpoint, newer: Checkpoint): Promise<Hash[]>;
  /** Inclusion proof for `index` under `cp`, verified against the given leaf hash. */
  inclusionProof(index: number, leafHash: Hash, cp: Checkpoint): Promise<Hash[]>;
  /** Entries [start, end) under `cp`, from entry bundles checked against level-0 tiles and the root. */
  entries(start: number, end: number, cp: Checkpoint): AsyncIterable<VerifiedEntry>;
  entry(index: number, cp: Checkpoint): Promise<VerifiedEntry>;
  /** Lookup (needs the /v1 API; throws LafsError('unavailable') on a static mirror). Rows are hints: callers verify entries. */
  lookupHash(sha256Hex: string): Promise<LookupRow[]>;
  lookupName(q: { source: string; platform?: string; name?: string }): Promise<LookupRow[]>;
  /** POST /v1/entries; the returned checkpoint and inclusion proof are verified. */
  submit(body: Record<string, unknown>): Promise<SubmitResult>;
}
