/**
 * The monitor's own reader of C2SP tlog-tiles hash tiles (DESIGN.md section 2), for the
 * consistency proofs it computes itself (merkle tileHashSource + makeConsistencyProof). It never
 * asks the server for a proof: a proof built from whatever tiles were served is then checked
 * against both signed roots (verifyConsistency), so a lying server can only make the check fail,
 * never pass. Tiles are therefore read raw here; only their size is checked.
 *
 * It also reads entry bundles raw, bypassing the client's tile cache, for the one case where the
 * follower checks a bundle leaf by leaf itself: after the client found a bundle that does not
 * match the signed tree, to name the exact entry at fault (or to see that it was a glitch).
 *
 * And it reads entry bundles as raw bytes (httpRawBundleReader) for the catch-up path, where a
 * verification worker splits, hashes and verifies a whole bundle and the follower checks the
 * worker's leaf hashes against the level-0 tile the log client verified against the signed root.
 */
import { LafsError } from '../merkle/errors.js';
import { HASH_SIZE } from '../merkle/hash.js';
import { TILE_WIDTH, tilePath } from '../merkle/tiles.js';
import { decodeEntryBundle } from '../merkle/bundle.js';
import type { TileReader } from '../merkle/tile-source.js';
import { MAX_LEAF_SIZE } from '../attestation/leaf.js';
import { HttpTransport, apiError } from '../client/http.js';

export interface TileReaderOptions { timeoutMs?: number; attempts?: number; signal?: AbortSignal }

/** The `width` leaves of entry bundle `index` as served (unverified), and the URL that answered. */
export type BundleReader = (index: number, width: number) => Promise<{ leaves: Uint8Array[]; url: string }>;

/** GET with a few retries on network errors and 5xx; 404 and 410 give undefined. */
function rawGetter(baseUrl: string, options: TileReaderOptions): (path: string) => Promise<Uint8Array | undefined> {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  return async (path: string): Promise<Uint8Array | undefined> => {
    const url = new URL(path, base).toString();
    const attempts = options.attempts ?? 3;
    let reason = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const signals = [AbortSignal.timeout(options.timeoutMs ?? 10_000), ...(options.signal ? [options.signal] : [])];
        const res = await fetch(url, { signal: AbortSignal.any(signals) });
        if (res.status === 404 || res.status === 410) {
          await res.arrayBuffer().catch(() => undefined);
          return undefined;
        }
        const body = new Uint8Array(await res.arrayBuffer());
        if (res.ok) return body;
        reason = `HTTP ${res.status}`;
        if (res.status < 500) break;
      } catch (error) {
        reason = error instanceof Error ? error.message : String(error);
      }
      if (attempt < attempts) await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** (attempt - 1))));
    }
    throw new LafsError('unavailable', `GET ${url}: ${reason}`);
  };
}

/** A TileReader over HTTP: 404 gives undefined (after trying the full tile for a partial one). */
export function httpTileReader(baseUrl: string, options: TileReaderOptions = {}): TileReader {
  const get = rawGetter(baseUrl, options);
  return async (level, index, width) => {
    let bytes = await get(tilePath({ kind: 'hash', level, index, width }));
    if (bytes === undefined && width < TILE_WIDTH) {
      const full = await get(tilePath({ kind: 'hash', level, index, width: TILE_WIDTH }));
      if (full !== undefined && full.byteLength === TILE_WIDTH * HASH_SIZE) bytes = full.subarray(0, width * HASH_SIZE);
    }
    if (bytes === undefined) return undefined;
    if (bytes.byteLength !== width * HASH_SIZE) throw new LafsError('bad-tile', `hash tile ${tilePath({ kind: 'hash', level, index, width })} has ${bytes.byteLength} bytes, expected ${width * HASH_SIZE}`);
    return bytes;
  };
}

/** A BundleReader over HTTP: httpRawBundleReader's bytes split into leaves; a malformed bundle is 'inconsistent'. */
export function httpBundleReader(baseUrl: string, options: TileReaderOptions = {}): BundleReader {
  const raw = httpRawBundleReader(baseUrl, { ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}), retries: (options.attempts ?? 3) - 1, ...(options.signal ? { signal: options.signal } : {}) });
  return async (index, width) => {
    const { bytes, count, url } = await raw(index, width);
    let leaves: Uint8Array[];
    try {
      leaves = decodeEntryBundle(bytes, count);
    } catch (error) {
      throw new LafsError('inconsistent', `GET ${url}: malformed entry bundle: ${(error as Error).message}`);
    }
    return { leaves: leaves.slice(0, width), url };
  };
}

/** The checkpoint text as served, unverified (the evidence of an `invalid-checkpoint` alert). */
export function httpNoteReader(baseUrl: string, options: TileReaderOptions = {}): () => Promise<string> {
  const get = rawGetter(baseUrl, options);
  return async () => {
    const bytes = await get('checkpoint');
    if (bytes === undefined) throw new LafsError('unavailable', `GET ${baseUrl.replace(/\/+$/, '')}/checkpoint: not found`);
    return new TextDecoder().decode(bytes.subarray(0, 64 * 1024));
  };
}

/** Entry bundle `index` as served (unverified, not split): `count` is the number of entries it must hold (the full tile's when a partial one was missing), `url` what answered. */
export type RawBundleReader = (index: number, width: number) => Promise<{ bytes: Uint8Array; count: number; url: string }>;

/** The most an entry bundle may weigh: 256 entries of the largest leaf with their length prefixes. */
const MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_LEAF_SIZE);

/**
 * A RawBundleReader over HTTP with the log client's transport (per-attempt timeout, retries with
 * backoff on network errors and 5xx, a size limit) and its rules: a missing partial bundle falls
 * back to the full one, a bundle missing altogether is 'unavailable' (a mirror still syncing), a
 * 4xx is the error it says. The body is a fresh buffer of its own, so it can be transferred.
 */
export function httpRawBundleReader(baseUrl: string, options: { timeoutMs?: number; retries?: number; signal?: AbortSignal } = {}): RawBundleReader {
  const http = new HttpTransport({ ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}), ...(options.retries !== undefined ? { retries: options.retries } : {}), ...(options.signal ? { signal: options.signal } : {}), userAgent: 'lafs-monitor' });
  const base = baseUrl.replace(/\/+$/, '');
  const get = async (path: string): Promise<Uint8Array | undefined> => {
    const res = await http.request('GET', `${base}/${path}`, { maxBytes: MAX_BUNDLE_BYTES });
    if (res.status === 404 || res.status === 410) return undefined;
    if (res.status !== 200) throw apiError(res);
    return res.body;
  };
  return async (index, width) => {
    const path = tilePath({ kind: 'entries', index, width });
    const bytes = await get(path);
    if (bytes !== undefined) return { bytes, count: width, url: `${base}/${path}` };
    if (width < TILE_WIDTH) {
      const fullPath = tilePath({ kind: 'entries', index, width: TILE_WIDTH });
      const full = await get(fullPath);
      if (full !== undefined) return { bytes: full, count: TILE_WIDTH, url: `${base}/${fullPath}` };
    }
    throw new LafsError('unavailable', `GET ${base}/${path}: 404 not found, but the checkpoint covers this tile; the log or mirror is missing it (a mirror still syncing?), try again later`);
  };
}
