/**
 * One verification thread of VerifyPool (verify-pool.ts): decodes leaf bytes and runs verifyLeaf.
 * Each worker has its own module instance of openpgp.ts, hence its own parsed-key cache.
 * Messages: in { id, bytes }, out { id, result } with the signature's Date sent as epoch ms; or in
 * { id, bundle, count, from, to, firstIndex }, out { id, ok, hashes, entries } (hashes transferred
 * back) or { id, ok: false, malformed }.
 */
import { parentPort } from 'node:worker_threads';
import { decodeEntryBundle } from '../merkle/bundle.js';
import { HASH_SIZE, leafHash } from '../merkle/hash.js';
import { decodeLeaf } from './leaf.js';
import { nodeSha256 } from './node-crypto.js';
import { verifyLeaf } from './record.js';
import { invalidCode, invalidVerdict, validVerdict, type EntryVerdict, type WireRequest, type WireResponse } from './verify-pool.js';
// Diagnostics only (off unless LAFS_MONITOR_MEMLOG is set): each worker logs its own heap.
import { startMemlog } from './memlog.js';

const port = parentPort;
if (!port) throw new Error('verify-worker.js runs only as a worker thread of VerifyPool');
startMemlog();

port.on('message', (request: WireRequest) => {
  if ('bundle' in request) {
    void bundle(request).then((response) => port.postMessage(response, 'hashes' in response ? [response.hashes.buffer as ArrayBuffer] : []));
    return;
  }
  void answer(request).then((response) => port.postMessage(response));
});

async function answer({ id, bytes }: { id: number; bytes: Uint8Array }): Promise<WireResponse> {
  try {
    const result = await verifyLeaf(decodeLeaf(bytes));
    if (!result.ok) return { id, ok: false, reason: result.reason, code: invalidCode(bytes) };
    const { view, signature } = result.value;
    return { id, ok: true, value: { view, signature: { ...signature, created: signature.created.getTime() } } };
  } catch (error) {
    // decodeLeaf throws LafsError('bad-leaf') on malformed bytes; verifyLeaf itself never throws.
    return { id, ok: false, reason: error instanceof Error ? error.message : String(error), code: invalidCode(bytes) };
  }
}

async function bundle(request: Extract<WireRequest, { bundle: Uint8Array }>): Promise<WireResponse> {
  const { id, count, from, to, firstIndex } = request;
  let leaves: Uint8Array[];
  try {
    // The same strict split as the client's (no truncation, no trailing bytes, exactly `count`).
    leaves = decodeEntryBundle(request.bundle, count);
  } catch (error) {
    return { id, ok: false, malformed: error instanceof Error ? error.message : String(error) };
  }
  const hashes = new Uint8Array((to - from) * HASH_SIZE);
  const entries: EntryVerdict[] = [];
  for (let i = from; i < to; i++) {
    const leaf = leaves[i]!;
    hashes.set(leafHash(leaf, nodeSha256), (i - from) * HASH_SIZE);
    const index = firstIndex + i;
    let verdict: EntryVerdict;
    try {
      const result = await verifyLeaf(decodeLeaf(leaf));
      verdict = result.ok ? validVerdict(index, result.value) : invalidVerdict(index, leaf, result.reason);
    } catch (error) {
      verdict = invalidVerdict(index, leaf, error instanceof Error ? error.message : String(error));
    }
    entries.push(verdict);
  }
  return { id, ok: true, hashes, entries };
}
