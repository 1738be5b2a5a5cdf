/**
 * The monitor's own reader of C2SP tlog-tiles hash tiles (DESIGN.md section 2), for the
 * consistency proofs it computes itself (merkle tileHashSource + makeConsistencyProof). It never
 * asks the server for a proof: a proof built from whatever tiles were served is then checked
 * against both signed roots (verifyConsistency), so a lying server can only make the check fail,
 * never pass. Tiles are therefore read raw here; only their size is checked.
 */
import { LafsError } from '../merkle/errors.js';
import { HASH_SIZE } from '../merkle/hash.js';
import { TILE_WIDTH, tilePath } from '../merkle/tiles.js';
import type { TileReader } from '../merkle/tile-source.js';

export interface TileReaderOptions { timeoutMs?: number; attempts?: number; signal?: AbortSignal }

/** A TileReader over HTTP: 404 gives undefined (after trying the full tile for a partial one). */
export function httpTileReader(baseUrl: string, options: TileReaderOptions = {}): TileReader {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  const get = async (path: string): Promise<Uint8Array | undefined> => {
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
