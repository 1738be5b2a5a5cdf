/**
 * Leaf verification on every core: a pool of worker threads, each running decodeLeaf + verifyLeaf
 * (record.ts). OpenPGP verification is the cost that bounds ingestion (DESIGN.md section 6), and
 * it is CPU-bound JavaScript, so one thread per core is the way past one core's rate. Requests go
 * to the least-busy worker; each worker parses a builder's key once and keeps it (openpgp.ts's
 * cache is per thread). A worker that dies is replaced and its in-flight requests reject with
 * LafsError('unavailable'): a crash says nothing about the leaves it was verifying, so callers
 * must retry them, never take the crash for a verdict. Idle workers are unref'd, so an open pool
 * never keeps a process alive.
 *
 * Two kinds of request: `verify` (one encoded leaf, the full VerifiedLeaf back) and `verifyBundle`
 * (a whole C2SP entry bundle as served, its buffer transferred, not copied: the worker splits it,
 * hashes the leaves of the asked range, decodes and verifies each, and answers once with the leaf
 * hashes and one compact verdict per entry). The bundle form is the monitor's catch-up path: one
 * message each way per 256 entries instead of one per entry, and the calling thread does no work
 * per entry. The worker's leaf hashes are not trusted for anything by themselves: the caller
 * compares them with a level-0 tile it verified against the signed tree before it takes any
 * verdict (a worker computing them is no less trustworthy than the one checking signatures).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LafsError } from '../merkle/errors.js';
import { decodeLeaf } from './leaf.js';
import { viewLeaf, type VerifiedLeaf } from './record.js';
import type { SignatureCheck } from './openpgp.js';

/** Message to a worker: one leaf, or entries [from, to) of an encoded entry bundle of `count` entries. */
export type WireRequest =
  | { id: number; bytes: Uint8Array }
  | { id: number; bundle: Uint8Array; count: number; from: number; to: number; firstIndex: number };
/** Message from a worker: a LeafCheck whose Date travels as epoch milliseconds, or a bundle's verdict. */
export type WireResponse =
  | { id: number; ok: true; value: { view: VerifiedLeaf['view']; signature: Omit<SignatureCheck, 'created'> & { created: number } } }
  | { id: number; ok: false; reason: string; code: string }
  | ({ id: number } & BundleVerdict);

/**
 * What the monitor keeps of one entry: the builder's key fingerprint and its claims (hashes as
 * `sha256:<hex>`), or why it is not valid, with the code of the first check it fails (decoding and
 * parsing first, which need no cryptography, then the signature).
 */
export type EntryVerdict =
  | { index: number; builder: string; artifacts: { source: string; platform: string | null; name: string; hash: string }[] }
  | { index: number; invalid: string; code: string };

/**
 * A bundle's answer. `hashes` holds the RFC 9162 leaf hashes of entries [from, to) back to back
 * (computed by the worker, to be compared with the verified level-0 tile), `entries` their
 * verdicts in order. `malformed` when the bytes are not an entry bundle of `count` entries.
 */
export type BundleVerdict =
  | { ok: true; hashes: Uint8Array; entries: EntryVerdict[] }
  | { ok: false; malformed: string };

/** Entries [from, to) of one encoded entry bundle of `count` entries whose first entry is log index `firstIndex`. */
export interface BundleRequest { bundle: Uint8Array; count: number; from: number; to: number; firstIndex: number }

/**
 * The error code of a leaf that did not verify: decoding and parsing decide first (no
 * cryptography), else it is the signature. Runs the leaf's view, its platformRegex included, so
 * the workers work it out, not the caller's thread.
 */
export function invalidCode(leafBytes: Uint8Array): string {
  try {
    viewLeaf(decodeLeaf(leafBytes));
  } catch (error) {
    return error instanceof LafsError ? error.code : 'bad-leaf';
  }
  return 'bad-signature';
}

/** The verdict of a leaf that did not verify, with its code (`invalidCode` unless the caller knows it). */
export function invalidVerdict(index: number, leafBytes: Uint8Array, reason: string, code = invalidCode(leafBytes)): EntryVerdict {
  return { index, code, invalid: reason.startsWith(`${code}: `) ? reason : `${code}: ${reason}` };
}

/** What `verify` answers: the verified leaf, or why not and the error code (worked out in the worker). */
export type LeafCheck = { ok: true; value: VerifiedLeaf } | { ok: false; reason: string; code?: string };

/** The claims of a verified leaf as the monitor indexes them. */
export function validVerdict(index: number, verified: VerifiedLeaf): EntryVerdict {
  const { view, signature } = verified;
  return {
    index,
    builder: signature.builder,
    artifacts: view.artifacts.map((a) => ({ source: view.source, platform: a.platform, name: a.name, hash: a.sha256.startsWith('sha256:') ? a.sha256 : `sha256:${a.sha256}` })),
  };
}

interface Pending { resolve(result: LeafCheck | BundleVerdict): void; reject(error: Error): void }

interface Slot { worker: Worker; inFlight: Map<number, Pending> }

const workerUrl = new URL('./verify-worker.js', import.meta.url);

/**
 * Young generation of each worker, MiB. A verification allocates a lot and keeps almost nothing,
 * and V8 grows a thread's semispaces towards their default maximum (16 MiB each, 32 MiB held per
 * thread) the longer it runs: over a long catch-up that alone made each worker hold about 16 MiB
 * more than at this cap, so peak RSS rose with the length of the log. 16 MiB (two 8 MiB
 * semispaces, as V8 11.3 in Node 20 reads it) costs no measurable CPU per entry (docs/monitor.md,
 * Performance).
 */
export const WORKER_YOUNG_GENERATION_MB = 16;

export class VerifyPool {
  /** Number of worker threads. */
  readonly threads: number;
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  private readonly youngGenerationMb: number;

  /**
   * `youngGenerationMb` caps each worker's V8 young generation (resourceLimits
   * .maxYoungGenerationSizeMb; default WORKER_YOUNG_GENERATION_MB). It is a size, not a limit a
   * worker can die of: past it objects are promoted, never refused.
   */
  constructor(options: { threads?: number; youngGenerationMb?: number } = {}) {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new LafsError('bad-request', `threads: must be a positive integer, got ${threads}`);
    const young = options.youngGenerationMb ?? WORKER_YOUNG_GENERATION_MB;
    if (!Number.isFinite(young) || young <= 0) throw new LafsError('bad-request', `youngGenerationMb: must be a positive number, got ${young}`);
    this.youngGenerationMb = young;
    this.threads = threads;
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
  }

  /** Requests in flight over all workers. */
  get pending(): number {
    return this.slots.reduce((n, s) => n + s.inFlight.size, 0);
  }

  /**
   * Verifies encoded leaf bytes (decode + verifyLeaf) in a worker. Never rejects for bad input:
   * a bad leaf answers { ok: false, reason, code } (the code as invalidCode gives it). Rejects
   * with LafsError('unavailable') when the worker died while verifying it (retry: a new worker is
   * already in its place) and LafsError('internal') once the pool is closed.
   */
  verify(leafBytes: Uint8Array): Promise<LeafCheck> {
    return this.post((id) => ({ id, bytes: leafBytes })) as Promise<LeafCheck>;
  }

  /**
   * Splits an encoded entry bundle in a worker and, for entries [from, to), computes their leaf
   * hashes and decodes and verifies each (the same checks as `verify`). The bundle's buffer is
   * transferred to the worker, so `bundle` is unusable afterwards (a view into a larger buffer is
   * copied first: a transfer would take the whole buffer from its owner). Never rejects for bad
   * input: a bundle that does not split into `count` entries answers { ok: false, malformed }, a
   * bad entry its EntryVerdict. Rejects like `verify` when the worker dies or the pool is closed.
   */
  verifyBundle(request: BundleRequest): Promise<BundleVerdict> {
    const { count, from, to, firstIndex } = request;
    if (!Number.isInteger(count) || !Number.isInteger(from) || !Number.isInteger(to) || from < 0 || from > to || to > count || !Number.isSafeInteger(firstIndex)) {
      return Promise.reject(new LafsError('bad-request', `verifyBundle: range [${from}, ${to}) of a bundle of ${count} entries`));
    }
    let bundle = request.bundle;
    if (bundle.byteOffset !== 0 || bundle.byteLength !== bundle.buffer.byteLength || !(bundle.buffer instanceof ArrayBuffer)) bundle = bundle.slice();
    const buffer = bundle.buffer as ArrayBuffer;
    return this.post((id) => ({ id, bundle, count, from, to, firstIndex }), [buffer]) as Promise<BundleVerdict>;
  }

  private post(message: (id: number) => WireRequest, transfer: ArrayBuffer[] = []): Promise<LeafCheck | BundleVerdict> {
    if (this.closed) return Promise.reject(new LafsError('internal', 'VerifyPool: closed'));
    const slot = this.leastBusy();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.inFlight.set(id, { resolve, reject });
      if (slot.inFlight.size === 1) slot.worker.ref();
      slot.worker.postMessage(message(id), transfer);
    });
  }

  /** Terminates every worker; requests still in flight reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const slot of slots) this.failAll(slot, (p) => p.reject(new LafsError('internal', 'VerifyPool: closed while verifying')));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private leastBusy(): Slot {
    let best = this.slots[0]!;
    for (const slot of this.slots) if (slot.inFlight.size < best.inFlight.size) best = slot;
    return best;
  }

  private spawn(): Slot {
    const worker = new Worker(workerUrl, { resourceLimits: { maxYoungGenerationSizeMb: this.youngGenerationMb } });
    const slot: Slot = { worker, inFlight: new Map() };
    worker.unref();
    worker.on('message', (response: WireResponse) => this.settle(slot, response));
    const replace = (why: string): void => {
      if (this.closed) return;
      const index = this.slots.indexOf(slot);
      if (index < 0) return; // already replaced
      this.slots[index] = this.spawn();
      this.failAll(slot, (p) => p.reject(new LafsError('unavailable', `verification worker failed (${why}); the leaf was not verified, try again`)));
    };
    worker.on('error', (error) => replace(error.message));
    worker.on('exit', (code) => replace(`exited with code ${code}`));
    return slot;
  }

  private settle(slot: Slot, response: WireResponse): void {
    const pending = slot.inFlight.get(response.id);
    if (!pending) return;
    slot.inFlight.delete(response.id);
    if (slot.inFlight.size === 0) slot.worker.unref();
    if ('hashes' in response || 'malformed' in response) {
      const { id: _id, ...verdict } = response;
      pending.resolve(verdict);
      return;
    }
    if (!response.ok) {
      pending.resolve({ ok: false, reason: response.reason, code: response.code });
      return;
    }
    const { view, signature } = response.value;
    pending.resolve({ ok: true, value: { view, signature: { ...signature, created: new Date(signature.created) } } });
  }

  private failAll(slot: Slot, fail: (p: Pending) => void): void {
    const pending = [...slot.inFlight.values()];
    slot.inFlight.clear();
    for (const p of pending) fail(p);
  }
}
