/**
 * One verification thread of VerifyPool (verify-pool.ts): decodes leaf bytes and runs verifyLeaf.
 * Each worker has its own module instance of openpgp.ts, hence its own parsed-key cache.
 * Messages: in { id, bytes }, out { id, result } with the signature's Date sent as epoch ms.
 */
import { parentPort } from 'node:worker_threads';
import { decodeLeaf } from './leaf.js';
import { verifyLeaf } from './record.js';
import type { WireRequest, WireResponse } from './verify-pool.js';

const port = parentPort;
if (!port) throw new Error('verify-worker.js runs only as a worker thread of VerifyPool');

port.on('message', (request: WireRequest) => {
  void answer(request).then((response) => port.postMessage(response));
});

async function answer({ id, bytes }: WireRequest): Promise<WireResponse> {
  try {
    const result = await verifyLeaf(decodeLeaf(bytes));
    if (!result.ok) return { id, ok: false, reason: result.reason };
    const { view, signature } = result.value;
    return { id, ok: true, value: { view, signature: { ...signature, created: signature.created.getTime() } } };
  } catch (error) {
    // decodeLeaf throws LafsError('bad-leaf') on malformed bytes; verifyLeaf itself never throws.
    return { id, ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}
