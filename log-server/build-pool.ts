/**
 * A pool of worker threads that turn submissions into verified leaves (build-worker.ts), one
 * worker per core. Verification happens here, before sequencing, so the sequencer only ever sees
 * leaves whose signatures held. A worker that dies is replaced and its tasks fail as 'internal'.
 * The same workers view stored leaves whose view runs a submitter's regex (entry-view.ts), so
 * that never happens on the main thread.
 */
import { Worker } from 'node:worker_threads';
import { LafsError, type ErrorCode } from '../merkle/errors.js';
import type { Hash } from '../merkle/hash.js';
import type { LeafView } from '../attestation/record.js';
import type { SignatureCheck } from '../attestation/openpgp.js';

export interface BuildRequest { kind: string; signed: Uint8Array; signature: Uint8Array | string; publicKey: Uint8Array | string; claims?: unknown }
export type BuildReply =
  | { ok: true; bytes: Uint8Array; leafHash: Hash; view: LeafView; signature: SignatureCheck; verifyMs: number }
  | { ok: false; code: ErrorCode; message: string };
export type BuiltLeaf = Extract<BuildReply, { ok: true }>;
export type ViewReply = { ok: true; view: LeafView } | { ok: false; code: ErrorCode; message: string };
/** What a worker is asked to do: build a leaf from a submission, or view stored leaf bytes. */
export type WorkerTask = { op: 'build'; request: BuildRequest } | { op: 'view'; leaf: Uint8Array };
type Reply = BuildReply | ViewReply;

/** More queued builds than this and new submissions are turned away (503) instead of piling up memory. */
const MAX_QUEUED = 20_000;

/**
 * One worker, its waiters, and the requests not yet posted: requests made in one turn of the event
 * loop go over in one message (and replies come back the same way), because a message between
 * threads costs more main-thread time than the structured clone of a few submissions.
 */
interface Outgoing { id: number; task: WorkerTask; transfer: ArrayBuffer[] }
interface Slot { worker: Worker; pending: Map<number, (reply: Reply) => void>; outbox: Outgoing[] }

export class BuildPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly threads: number) {
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(new URL('./build-worker.js', import.meta.url)), pending: new Map(), outbox: [] };
    slot.worker.on('message', (replies: { id: number; reply: Reply }[]) => {
      for (const { id, reply } of replies) {
        const done = slot.pending.get(id);
        slot.pending.delete(id);
        done?.(reply);
      }
    });
    const fail = (why: string) => {
      for (const done of slot.pending.values()) done({ ok: false, code: 'internal', message: `verification worker failed: ${why}` });
      slot.pending.clear();
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
    };
    slot.worker.on('error', (e) => fail(e.message));
    slot.worker.on('exit', (code) => { if (!this.closed) fail(`exit ${code}`); });
    return slot;
  }

  get queued(): number {
    let n = 0;
    for (const s of this.slots) n += s.pending.size;
    return n;
  }

  /** Builds and verifies a leaf in a worker. Throws the LafsError that buildLeaf raised. */
  async build(request: BuildRequest): Promise<BuiltLeaf> {
    if (this.queued >= MAX_QUEUED) throw new LafsError('unavailable', 'too many submissions are waiting for verification; retry later');
    // Hand the byte fields over instead of copying them (the request is not used afterwards).
    const reply = (await this.run({ op: 'build', request }, [request.signed, request.signature, request.publicKey])) as BuildReply;
    if (!reply.ok) throw new LafsError(reply.code, reply.message);
    return reply;
  }

  /** attestation's viewLeaf of stored leaf bytes, in a worker (its regex budget is VIEW_REGEX_BUDGET_MS). Throws the LafsError it raised. */
  async view(leaf: Uint8Array): Promise<LeafView> {
    if (this.queued >= MAX_QUEUED) throw new LafsError('unavailable', 'the verification workers are busy; retry later');
    const reply = (await this.run({ op: 'view', leaf: leaf.slice() }, [])) as ViewReply;
    if (!reply.ok) throw new LafsError(reply.code, reply.message);
    return reply.view;
  }

  private run(task: WorkerTask, transferable: readonly unknown[]): Promise<Reply> {
    if (this.closed) return Promise.reject(new LafsError('unavailable', 'the server is shutting down'));
    let slot = this.slots[0]!;
    for (const s of this.slots) if (s.pending.size < slot.pending.size) slot = s;
    const id = this.nextId++;
    const transfer: ArrayBuffer[] = [];
    for (const f of transferable) {
      if (f instanceof Uint8Array && f.byteOffset === 0 && f.byteLength === f.buffer.byteLength && f.buffer instanceof ArrayBuffer && !transfer.includes(f.buffer)) transfer.push(f.buffer);
    }
    return new Promise<Reply>((resolve) => {
      slot.pending.set(id, resolve);
      if (slot.outbox.push({ id, task, transfer }) === 1) setImmediate(() => this.flush(slot));
    });
  }

  /**
   * Posts the slot's outbox. Runs in setImmediate, where a throw would kill the process, so it
   * never throws: postMessage fails synchronously when a request cannot be structured-cloned
   * (a value nested too deeply for the serializer's stack, or one that is not cloneable). The
   * routes only hand over checked, flat requests, so that is a server bug; it costs the request
   * that caused it a 500 and nothing more: a failed batch is re-posted one request at a time
   * (a failed postMessage has detached none of its transfer buffers), and only those that fail
   * again are answered with the error.
   */
  private flush(slot: Slot): void {
    const batch = slot.outbox;
    slot.outbox = [];
    if (batch.length === 0) return;
    const post = (items: Outgoing[]) => slot.worker.postMessage(items.map(({ id, task }) => ({ id, task })), items.flatMap((o) => o.transfer));
    try {
      post(batch);
      return;
    } catch {
      // Find the request(s) at fault below.
    }
    for (const item of batch) {
      try {
        post([item]);
      } catch (e) {
        const done = slot.pending.get(item.id);
        slot.pending.delete(item.id);
        done?.({ ok: false, code: 'internal', message: `the ${item.task.op === 'build' ? 'submission' : 'leaf'} could not be handed to a verification worker: ${e instanceof Error ? e.message : String(e)}` });
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
