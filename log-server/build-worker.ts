/**
 * Worker thread of the build pool: runs attestation's buildLeaf (parse the statement or sums file,
 * minimize the key, verify the OpenPGP signature, encode the leaf) off the main thread, so
 * signature verification, the bound on ingestion (DESIGN.md section 6), uses every core; and
 * viewLeaf of stored leaves whose view runs a submitter's platformRegex (entry-view.ts).
 */
import { writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { decodeLeaf } from '../attestation/leaf.js';
import { buildLeaf, viewLeaf } from '../attestation/record.js';
import { matchPlatforms } from '../attestation/platform-regex.js';
import { nodeSha256 } from '../attestation/node-crypto.js';
import { leafHash } from '../merkle/hash.js';
import { LafsError } from '../merkle/errors.js';
import type { BodyReply, BuildRequest, BuildReply, ViewReply, WorkerMessage, WorkerTask } from './build-pool.js';
import { parseJsonBody, parseSubmission, summarize, type BuiltSubmission } from './submission.js';

if (!parentPort) throw new Error('build-worker must run as a worker thread');
const port = parentPort;

// Named, where Linux allows it, so that `top -H`, /proc/<pid>/task/*/comm and the ingest benchmark
// tell the build workers from V8's and libuv's threads (all "node" otherwise).
try {
  writeFileSync('/proc/thread-self/comm', 'lafs-build');
} catch {
  // Not Linux, or no /proc: only a name.
}

// Warm-up: the first platformRegex match of a thread creates its sandbox and compiles the matcher,
// which is slow; do it now, with a generous budget, rather than inside a submission's 100 ms budget.
try {
  matchPlatforms('^(?<platform>[a-z]+)-', ['warm-up'], 10_000);
} catch {
  // Only a warm-up: a failure here shows again, properly reported, on a real submission.
}

// Requests arrive in batches (see build-pool.ts); replies finished in one turn go back in one
// message, the leaves and leaf hashes of built bodies in one buffer.
type Outgoing = { id: number; reply: BuildReply | ViewReply | BodyReply; built?: BuiltSubmission };
let outbox: Outgoing[] = [];
let transfer: ArrayBuffer[] = [];
function send(id: number, reply: BuildReply | ViewReply): void {
  if (reply.ok && 'bytes' in reply) transfer.push(...transferable(reply.bytes, reply.leafHash));
  queue({ id, reply });
}
function sendBody(id: number, result: BuiltSubmission | BodyReply): void {
  if ('bytes' in result) {
    const { bytes: _bytes, leafHash: _leafHash, ...rest } = result;
    queue({ id, reply: { ok: true, leaf: [0, 0], hash: [0, 0], ...rest }, built: result });
  } else queue({ id, reply: result });
}
function queue(item: Outgoing): void {
  if (outbox.push(item) > 1) return;
  setImmediate(() => {
    const batch = outbox;
    const buffers = transfer;
    outbox = [];
    transfer = [];
    let total = 0;
    for (const o of batch) if (o.built) total += o.built.bytes.byteLength + o.built.leafHash.byteLength;
    const blob = total > 0 ? new ArrayBuffer(total) : undefined;
    if (blob) {
      const into = new Uint8Array(blob);
      let at = 0;
      for (const o of batch) {
        if (!o.built || !o.reply.ok || !('leaf' in o.reply)) continue;
        into.set(o.built.bytes, at);
        o.reply.leaf = [at, (at += o.built.bytes.byteLength)];
        into.set(o.built.leafHash, at);
        o.reply.hash = [at, (at += o.built.leafHash.byteLength)];
      }
      buffers.push(blob);
    }
    // This isolate's heap goes along (a few microseconds per message), for the server's /metrics.
    const stats = getHeapStatistics();
    const heap = { used: stats.used_heap_size, total: stats.total_heap_size, external: stats.external_memory };
    const message: WorkerMessage<{ id: number; reply: Outgoing['reply'] }> = { items: batch.map(({ id, reply }) => ({ id, reply })), heap, ...(blob ? { blob } : {}) };
    port.postMessage(message, buffers);
  });
}

port.on('message', ({ items, blob }: WorkerMessage<{ id: number; task: WorkerTask }>) => {
  for (const { id, task } of items) {
    if (task.op === 'build') void handle(task.request).then((reply) => send(id, reply));
    else if (task.op === 'body') {
      // An empty body has no bytes in the blob (and no blob if every body of the batch is empty).
      const [start, end] = task.body;
      const body = end > start && blob !== undefined ? new Uint8Array(blob, start, end - start) : new Uint8Array(0);
      void handleBody(body)
        .catch((e: unknown): BodyReply => ({ ok: false, code: 'internal', message: e instanceof Error ? e.message : String(e) }))
        .then((result) => sendBody(id, result));
    }
    else send(id, view(task.leaf));
  }
});

function view(leaf: Uint8Array): ViewReply {
  try {
    return { ok: true, view: viewLeaf(decodeLeaf(leaf)) };
  } catch (e) {
    if (e instanceof LafsError) return { ok: false, code: e.code, message: e.message };
    return { ok: false, code: 'internal', message: e instanceof Error ? e.message : String(e) };
  }
}

/** Buffers that own their whole ArrayBuffer can be handed over without a copy. */
function transferable(...views: Uint8Array[]): ArrayBuffer[] {
  return views.flatMap((v) => (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength && v.buffer instanceof ArrayBuffer ? [v.buffer] : []));
}

/** A raw POST body: parsed and checked here (submission.ts), then built as `handle` builds. */
async function handleBody(body: Uint8Array): Promise<BuiltSubmission | BodyReply> {
  let request;
  try {
    request = parseSubmission(parseJsonBody(body));
  } catch (e) {
    if (e instanceof LafsError) return { ok: false, code: e.code, message: e.message };
    return { ok: false, code: 'internal', message: e instanceof Error ? e.message : String(e) };
  }
  const reply = await handle(request);
  return reply.ok ? summarize(reply, request.claims) : reply;
}

async function handle(request: BuildRequest): Promise<BuildReply> {
  const started = performance.now();
  try {
    // A thread that stalls past the platformRegex budget on a loaded machine is retried inside attestation/platform-regex.ts.
    const { bytes, verified } = await buildLeaf(request);
    return { ok: true, bytes, leafHash: leafHash(bytes, nodeSha256), view: verified.view, signature: verified.signature, verifyMs: performance.now() - started };
  } catch (e) {
    if (e instanceof LafsError) return { ok: false, code: e.code, message: e.message };
    // A bug or a library failure on hostile input: report it as the submission's fault only if we
    // know it is; otherwise 'internal' so it shows up in metrics and logs.
    return { ok: false, code: 'internal', message: e instanceof Error ? e.message : String(e) };
  }
}
