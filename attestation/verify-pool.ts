/**
 * Leaf verification on every core: a pool of worker threads, each running decodeLeaf + verifyLeaf
 * (record.ts). OpenPGP verification is the cost that bounds ingestion (DESIGN.md section 6), and
 * it is CPU-bound JavaScript, so one thread per core is the way past one core's rate. Requests go
 * to the least-busy worker; each worker parses a builder's key once and keeps it (openpgp.ts's
 * cache is per thread). A worker that dies is replaced and its in-flight requests reject with
 * LafsError('unavailable'): a crash says nothing about the leaves it was verifying, so callers
 * must retry them, never take the crash for a verdict. Idle workers are unref'd, so an open pool
 * never keeps a process alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LafsError, type Checked } from '../merkle/errors.js';
import type { VerifiedLeaf } from './record.js';
import type { SignatureCheck } from './openpgp.js';

/** Message to a worker. */
export interface WireRequest { id: number; bytes: Uint8Array }
/** Message from a worker: a Checked<VerifiedLeaf> whose Date travels as epoch milliseconds. */
export type WireResponse =
  | { id: number; ok: true; value: { view: VerifiedLeaf['view']; signature: Omit<SignatureCheck, 'created'> & { created: number } } }
  | { id: number; ok: false; reason: string };

interface Pending { resolve(result: Checked<VerifiedLeaf>): void; reject(error: Error): void }

interface Slot { worker: Worker; inFlight: Map<number, Pending> }

const workerUrl = new URL('./verify-worker.js', import.meta.url);

export class VerifyPool {
  /** Number of worker threads. */
  readonly threads: number;
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(options: { threads?: number } = {}) {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new LafsError('bad-request', `threads: must be a positive integer, got ${threads}`);
    this.threads = threads;
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
  }

  /** Requests in flight over all workers. */
  get pending(): number {
    return this.slots.reduce((n, s) => n + s.inFlight.size, 0);
  }

  /**
   * Verifies encoded leaf bytes (decode + verifyLeaf) in a worker. Never rejects for bad input:
   * a bad leaf answers { ok: false, reason }. Rejects with LafsError('unavailable') when the worker
   * died while verifying it (retry: a new worker is already in its place) and LafsError('internal')
   * once the pool is closed.
   */
  verify(leafBytes: Uint8Array): Promise<Checked<VerifiedLeaf>> {
    if (this.closed) return Promise.reject(new LafsError('internal', 'VerifyPool: closed'));
    const slot = this.leastBusy();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.inFlight.set(id, { resolve, reject });
      if (slot.inFlight.size === 1) slot.worker.ref();
      slot.worker.postMessage({ id, bytes: leafBytes } satisfies WireRequest);
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
    const worker = new Worker(workerUrl);
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
    if (!response.ok) {
      pending.resolve({ ok: false, reason: response.reason });
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
