/**
 * Worker thread of the build pool: runs attestation's buildLeaf (parse the statement or sums file,
 * minimize the key, verify the OpenPGP signature, encode the leaf) off the main thread, so
 * signature verification, the bound on ingestion (DESIGN.md section 6), uses every core; and
 * viewLeaf of stored leaves whose view runs a submitter's platformRegex (entry-view.ts).
 */
import { parentPort } from 'node:worker_threads';
import { decodeLeaf } from '../attestation/leaf.js';
import { buildLeaf, viewLeaf } from '../attestation/record.js';
import { matchPlatforms } from '../attestation/platform-regex.js';
import { nodeSha256 } from '../attestation/node-crypto.js';
import { leafHash } from '../merkle/hash.js';
import { LafsError } from '../merkle/errors.js';
import type { BuildRequest, BuildReply, ViewReply, WorkerTask } from './build-pool.js';

if (!parentPort) throw new Error('build-worker must run as a worker thread');
const port = parentPort;

// Warm-up: the first platformRegex match of a thread creates its sandbox and compiles the matcher,
// which is slow; do it now, with a generous budget, rather than inside a submission's 100 ms budget.
try {
  matchPlatforms('^(?<platform>[a-z]+)-', ['warm-up'], 10_000);
} catch {
  // Only a warm-up: a failure here shows again, properly reported, on a real submission.
}

// Requests arrive in batches (see build-pool.ts); replies finished in one turn go back in one message.
let outbox: { id: number; reply: BuildReply | ViewReply }[] = [];
let transfer: ArrayBuffer[] = [];
function send(id: number, reply: BuildReply | ViewReply): void {
  if (reply.ok && 'bytes' in reply) transfer.push(...transferable(reply.bytes, reply.leafHash));
  if (outbox.push({ id, reply }) > 1) return;
  setImmediate(() => {
    const batch = outbox;
    const buffers = transfer;
    outbox = [];
    transfer = [];
    port.postMessage(batch, buffers);
  });
}

port.on('message', (batch: { id: number; task: WorkerTask }[]) => {
  for (const { id, task } of batch) {
    if (task.op === 'build') void handle(task.request).then((reply) => send(id, reply));
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
