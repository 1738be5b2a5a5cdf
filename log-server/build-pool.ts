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
import type { BuiltSubmission } from './submission.js';

export interface BuildRequest { kind: string; signed: Uint8Array; signature: Uint8Array | string; publicKey: Uint8Array | string; claims?: unknown }
export type BuildReply =
  | { ok: true; bytes: Uint8Array; leafHash: Hash; view: LeafView; signature: SignatureCheck; verifyMs: number }
  | { ok: false; code: ErrorCode; message: string };
export type BuiltLeaf = Extract<BuildReply, { ok: true }>;
export type ViewReply = { ok: true; view: LeafView } | { ok: false; code: ErrorCode; message: string };
/**
 * A submission built from its raw body bytes. The leaf and its hash travel as [start, end) in the
 * reply message's one `blob` (one buffer per message, not two per submission).
 */
export type BodyReply =
  | ({ ok: true; leaf: [number, number]; hash: [number, number] } & Omit<BuiltSubmission, 'bytes' | 'leafHash'>)
  | { ok: false; code: ErrorCode; message: string };
/**
 * What a worker is asked to do: build a leaf from a checked submission, or from the raw bytes of a
 * POST body (JSON parsing and all checks in the worker: submission.ts), or view stored leaf bytes.
 * Body bytes travel as [start, end) in the request message's one `blob`.
 */
export type WorkerTask = { op: 'build'; request: BuildRequest } | { op: 'view'; leaf: Uint8Array } | { op: 'body'; body: [number, number] };
/** One message between the main thread and a worker: its items, the buffer their byte ranges point into, and (from a worker) its heap. */
export interface WorkerMessage<T> { items: T[]; blob?: ArrayBuffer; heap?: WorkerHeap }
/** A worker's V8 heap when it last replied (node:v8 getHeapStatistics, bytes), for /metrics. */
export interface WorkerHeap { used: number; total: number; external: number }
type Reply = BuildReply | ViewReply | BodyReply;
type Task = Exclude<WorkerTask, { op: 'body' }> | { op: 'body'; body: Uint8Array };

/** More queued builds than this and new submissions are turned away (503) instead of piling up memory. */
const MAX_QUEUED = 20_000;
const SUBMISSIONS_WAITING = 'too many submissions are waiting for verification; retry later';

/**
 * One worker, its waiters, and the requests not yet posted: requests made in one turn of the event
 * loop go over in one message (and replies come back the same way), because a message between
 * threads costs more main-thread time than the structured clone of a few submissions. And at most
 * MAX_MESSAGES_IN_FLIGHT messages are with a worker at once (the one it works on and the next):
 * while it is busy, new requests wait in the outbox and go over together when a message of
 * it is answered, so under load each message carries many requests.
 */
interface Outgoing { id: number; task: Task; transfer: ArrayBuffer[] }
interface Slot {
  worker: Worker;
  pending: Map<number, (reply: Reply) => void>;
  outbox: Outgoing[];
  /** A flush is scheduled (setImmediate). */
  scheduled: boolean;
  /** Posted messages not fully answered: message number -> requests of it not yet answered. */
  inFlight: Map<number, number>;
  /** Message number of each posted, unanswered request. */
  messageOf: Map<number, number>;
  /** The worker's heap as its last reply reported it (zeros until the first). */
  heap: WorkerHeap;
}
const MAX_MESSAGES_IN_FLIGHT = 2;
let messageNumber = 0;

export class BuildPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly threads: number) {
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(new URL('./build-worker.js', import.meta.url)), pending: new Map(), outbox: [], scheduled: false, inFlight: new Map(), messageOf: new Map(), heap: { used: 0, total: 0, external: 0 } };
    slot.worker.on('message', ({ items, blob, heap }: WorkerMessage<{ id: number; reply: Reply }>) => {
      if (heap) slot.heap = heap;
      for (const { id, reply } of items) {
        if (blob !== undefined && 'leaf' in reply && reply.ok) {
          // Views into the one reply buffer, passed on as they are (nothing on this side writes to them).
          (reply as unknown as { bytes: Uint8Array }).bytes = new Uint8Array(blob, reply.leaf[0], reply.leaf[1] - reply.leaf[0]);
          (reply as unknown as { leafHash: Uint8Array }).leafHash = new Uint8Array(blob, reply.hash[0], reply.hash[1] - reply.hash[0]);
        }
        this.answered(slot, id);
        const done = slot.pending.get(id);
        slot.pending.delete(id);
        done?.(reply);
      }
      if (slot.outbox.length > 0 && !slot.scheduled && slot.inFlight.size < MAX_MESSAGES_IN_FLIGHT) this.flush(slot);
    });
    const fail = (why: string) => {
      for (const done of slot.pending.values()) done({ ok: false, code: 'internal', message: `verification worker failed: ${why}` });
      slot.pending.clear();
      slot.inFlight.clear();
      slot.messageOf.clear();
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
    };
    slot.worker.on('error', (e) => fail(e.message));
    slot.worker.on('exit', (code) => { if (!this.closed) fail(`exit ${code}`); });
    return slot;
  }

  /** Each worker's heap as of its last reply. */
  get heaps(): WorkerHeap[] {
    return this.slots.map((s) => s.heap);
  }

  get queued(): number {
    let n = 0;
    for (const s of this.slots) n += s.pending.size;
    return n;
  }

  /** Builds and verifies a leaf in a worker. Throws the LafsError that buildLeaf raised. */
  async build(request: BuildRequest): Promise<BuiltLeaf> {
    // Hand the byte fields over instead of copying them (the request is not used afterwards).
    return (await this.call({ op: 'build', request }, [request.signed, request.signature, request.publicKey], SUBMISSIONS_WAITING)) as BuiltLeaf;
  }

  /**
   * Parses, checks, builds and verifies a POST /v1/entries body (its raw bytes, the JSON not yet
   * parsed) in a worker: parseJsonBody, parseSubmission, buildLeaf, summarize (submission.ts).
   * Throws the LafsError any of them raised. The bytes are copied; the caller may reuse them.
   */
  async buildBody(body: Uint8Array): Promise<BuiltSubmission> {
    const reply = (await this.call({ op: 'body', body }, [], SUBMISSIONS_WAITING)) as Extract<BodyReply, { ok: true }> & { bytes?: Uint8Array; leafHash?: Uint8Array };
    const { bytes, leafHash, builder, warnings, platforms, rows, verifyMs } = reply;
    return { bytes: bytes!, leafHash: leafHash!, builder, warnings, ...(platforms === undefined ? {} : { platforms }), rows, verifyMs };
  }

  /** attestation's viewLeaf of stored leaf bytes, in a worker (its regex budget is VIEW_REGEX_BUDGET_MS). Throws the LafsError it raised. */
  async view(leaf: Uint8Array): Promise<LeafView> {
    return ((await this.call({ op: 'view', leaf: leaf.slice() }, [], 'the verification workers are busy; retry later')) as Extract<ViewReply, { ok: true }>).view;
  }

  /** Runs a task unless too many are queued (503 with `busy`), and throws the LafsError of a failed reply. */
  private async call(task: Task, transferable: readonly unknown[], busy: string): Promise<Extract<Reply, { ok: true }>> {
    if (this.queued >= MAX_QUEUED) throw new LafsError('unavailable', busy);
    const reply = await this.run(task, transferable);
    if (!reply.ok) throw new LafsError(reply.code, reply.message);
    return reply;
  }

  private run(task: Task, transferable: readonly unknown[]): Promise<Reply> {
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
      slot.outbox.push({ id, task, transfer });
      if (!slot.scheduled && slot.inFlight.size < MAX_MESSAGES_IN_FLIGHT) {
        slot.scheduled = true;
        setImmediate(() => {
          slot.scheduled = false;
          this.flush(slot);
        });
      }
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
    const post = (items: Outgoing[]) => {
      // Body bytes go in one buffer for the whole message (a copy each, one transfer).
      let total = 0;
      for (const { task } of items) if (task.op === 'body') total += task.body.byteLength;
      const blob = total > 0 ? new ArrayBuffer(total) : undefined;
      const into = blob && new Uint8Array(blob);
      let at = 0;
      const message: WorkerMessage<{ id: number; task: WorkerTask }> = {
        items: items.map(({ id, task }) => {
          if (task.op !== 'body') return { id, task };
          if (task.body.byteLength > 0) into!.set(task.body, at);
          at += task.body.byteLength;
          return { id, task: { op: 'body', body: [at - task.body.byteLength, at] } };
        }),
        ...(blob ? { blob } : {}),
      };
      const transfer = items.flatMap((o) => o.transfer);
      if (blob) transfer.push(blob);
      slot.worker.postMessage(message, transfer);
      const n = ++messageNumber;
      slot.inFlight.set(n, items.length);
      for (const { id } of items) slot.messageOf.set(id, n);
    };
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
        done?.({ ok: false, code: 'internal', message: `the ${item.task.op === 'view' ? 'leaf' : 'submission'} could not be handed to a verification worker: ${e instanceof Error ? e.message : String(e)}` });
      }
    }
  }

  /** Request `id` of `slot` is answered: its message is done once all its requests are. */
  private answered(slot: Slot, id: number): void {
    const n = slot.messageOf.get(id);
    if (n === undefined) return;
    slot.messageOf.delete(id);
    const left = (slot.inFlight.get(n) ?? 1) - 1;
    if (left > 0) slot.inFlight.set(n, left);
    else slot.inFlight.delete(n);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
