/**
 * Fetches raw C2SP tlog-tiles resources (hash tiles and entry bundles) over HTTP, unverified.
 * Checks only the shape: a hash tile of width W is exactly W*32 bytes, an entry bundle of width W
 * holds exactly W entries. When a partial tile is gone (a mirror taken later, a log that prunes
 * partials) it falls back to the full tile and keeps its first W items, as tlog-tiles allows.
 * Verification is VerifiedTree's job. Full tiles are immutable, so their bytes may be cached, but
 * only once the caller has verified them (each answer carries a `keep()` for that): bytes that
 * failed a check must not stick, or a mirror that served a bad tile once would stay broken for
 * this client after it recovered.
 */
import { LafsError } from '../merkle/errors.js';
import { HASH_SIZE } from '../merkle/hash.js';
import { TILE_WIDTH, tilePath, type TileRef } from '../merkle/tiles.js';
import { decodeEntryBundle } from '../merkle/bundle.js';
import { MAX_LEAF_SIZE } from '../attestation/leaf.js';
import { apiError, type HttpTransport } from './http.js';
import { TileCache } from './tile-cache.js';

const MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_LEAF_SIZE);

export class TileFetcher {
  constructor(private readonly baseUrl: string, private readonly http: HttpTransport, private readonly cache = new TileCache()) {}

  urlOf(ref: TileRef): string {
    return `${this.baseUrl}/${tilePath(ref)}`;
  }

  /** Raw bytes at `ref`, or undefined on 404; full tiles come from the cache when verified before. */
  private async get(ref: TileRef, maxBytes: number): Promise<{ bytes: Uint8Array; cached: boolean } | undefined> {
    const url = this.urlOf(ref);
    const cached = ref.width === TILE_WIDTH ? this.cache.get(url) : undefined;
    if (cached) return { bytes: cached, cached: true };
    const res = await this.http.request('GET', url, { maxBytes });
    if (res.status === 404 || res.status === 410) return undefined;
    if (res.status !== 200) throw apiError(res);
    return { bytes: res.body, cached: false };
  }

  /** Bytes at `ref`, falling back from a missing partial tile to the full one; `url` is the URL that answered. */
  private async getWithFallback(ref: TileRef, maxBytes: number): Promise<{ bytes: Uint8Array; url: string; fellBack: boolean; keep: () => void }> {
    const got = await this.get(ref, maxBytes);
    if (got) return { bytes: got.bytes, url: this.urlOf(ref), fellBack: false, keep: this.keeper(ref, got) };
    if (ref.width < TILE_WIDTH) {
      const fullRef = { ...ref, width: TILE_WIDTH };
      const full = await this.get(fullRef, maxBytes);
      // Only a prefix of the full tile is used (and verified) here: never cache it from this answer.
      if (full) return { bytes: full.bytes, url: this.urlOf(fullRef), fellBack: true, keep: () => undefined };
    }
    throw new LafsError('unavailable', `GET ${this.urlOf(ref)}: 404 not found, but the checkpoint covers this tile; the log or mirror is missing it (a mirror still syncing?), try again later`);
  }

  /** Caches a full tile's bytes; called by the verifier once they passed every check. */
  private keeper(ref: TileRef, got: { bytes: Uint8Array; cached: boolean }): () => void {
    if (ref.width !== TILE_WIDTH || got.cached) return () => undefined;
    const url = this.urlOf(ref);
    return () => this.cache.set(url, got.bytes);
  }

  /** The `width` hashes of hash tile (level, index): exactly width*32 bytes. Call `keep()` once they are verified. */
  async hashTile(level: number, index: number, width: number): Promise<{ hashes: Uint8Array; url: string; keep: () => void }> {
    const { bytes, url, fellBack, keep } = await this.getWithFallback({ kind: 'hash', level, index, width }, TILE_WIDTH * HASH_SIZE);
    const expected = (fellBack ? TILE_WIDTH : width) * HASH_SIZE;
    if (bytes.byteLength !== expected) {
      throw new LafsError('inconsistent', `GET ${url}: hash tile has ${bytes.byteLength} bytes, expected ${expected}; the log served a malformed tile`);
    }
    return { hashes: fellBack ? bytes.subarray(0, width * HASH_SIZE) : bytes, url, keep };
  }

  /** The `width` leaves of entry bundle `index`. Call `keep()` once they are verified. */
  async entryBundle(index: number, width: number): Promise<{ leaves: Uint8Array[]; url: string; keep: () => void }> {
    const { bytes, url, fellBack, keep } = await this.getWithFallback({ kind: 'entries', index, width }, MAX_BUNDLE_BYTES);
    let leaves: Uint8Array[];
    try {
      leaves = decodeEntryBundle(bytes, fellBack ? TILE_WIDTH : width);
    } catch (err) {
      throw new LafsError('inconsistent', `GET ${url}: malformed entry bundle: ${(err as Error).message}`, { cause: err });
    }
    return { leaves: fellBack ? leaves.slice(0, width) : leaves, url, keep };
  }
}
