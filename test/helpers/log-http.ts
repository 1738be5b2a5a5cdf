/**
 * Talking to a real `lafs-log serve` over HTTP in tests, and checking what it says with the merkle
 * verifier (never with server code): POST entries, GET JSON/bytes, a TileReader over /tile/...,
 * and a checker for submission answers (checkpoint signature + inclusion proof).
 */
import { nodeEd25519, nodeSha256 } from '../../attestation/node-crypto.js';
import { verifyCheckpoint, type Checkpoint } from '../../merkle/checkpoint.js';
import { decodeBase64Strict } from '../../merkle/base64.js';
import { leafHash } from '../../merkle/hash.js';
import { parseVerifierKey } from '../../merkle/note.js';
import { verifyInclusion } from '../../merkle/proof.js';
import type { TileReader } from '../../merkle/tile-source.js';
import { tilePath, TILE_WIDTH } from '../../merkle/tiles.js';

export interface HttpAnswer { status: number; headers: Headers; body: any; text: string }

export async function request(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

export function postEntry(base: string, body: unknown): Promise<HttpAnswer> {
  return request(`${base}/v1/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export async function getBytes(url: string): Promise<{ status: number; headers: Headers; bytes: Uint8Array }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  return { status: res.status, headers: res.headers, bytes: new Uint8Array(await res.arrayBuffer()) };
}

/** Hash tiles fetched from the server, exactly as a tlog-tiles client would. */
export function httpTileReader(base: string): TileReader {
  return async (level, index, width) => {
    const r = await getBytes(`${base}/${tilePath({ kind: 'hash', level, index, width })}`);
    return r.status === 200 ? r.bytes : undefined;
  };
}

export function b64(text: string): Uint8Array {
  const bytes = decodeBase64Strict(text);
  if (bytes === undefined) throw new Error(`not base64: ${text}`);
  return bytes;
}

/** Opens a signed checkpoint note with the log's verifier key; throws if it does not verify. */
export function openCheckpoint(note: string, verifierKey: string, origin: string): Checkpoint {
  const checked = verifyCheckpoint(note, parseVerifierKey(verifierKey, nodeEd25519), origin);
  if (!checked.ok) throw new Error(`checkpoint does not verify: ${checked.reason}`);
  return checked.value.checkpoint;
}

/**
 * Checks a POST /v1/entries answer: the checkpoint is signed by the log, the leaf hash is in it at
 * the given index, and (when the leaf bytes are known) the leaf hash is of those bytes.
 */
export function checkSubmitAnswer(answer: any, verifierKey: string, origin: string, leaf?: Uint8Array): { index: number; checkpoint: Checkpoint; leafHash: Uint8Array } {
  const checkpoint = openCheckpoint(answer.checkpoint, verifierKey, origin);
  const hash = b64(answer.leafHash);
  if (leaf && Buffer.compare(Buffer.from(leafHash(leaf, nodeSha256)), Buffer.from(hash)) !== 0) throw new Error('leafHash is not the hash of the leaf');
  const verdict = verifyInclusion(hash, answer.index, checkpoint.size, (answer.inclusionProof as string[]).map(b64), checkpoint.root, nodeSha256);
  if (!verdict.ok) throw new Error(`inclusion proof of ${answer.index} does not verify: ${verdict.reason}`);
  return { index: answer.index, checkpoint, leafHash: hash };
}

export { TILE_WIDTH };
