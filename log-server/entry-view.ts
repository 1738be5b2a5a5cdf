/**
 * The claims view of a stored entry, for GET /v1/entries/<index>, without ever running a
 * submitter's platformRegex on the main thread: the regex is sandboxed by a wall-clock budget
 * (attestation/platform-regex.ts), but a budget spent on the main thread is a stall of every
 * request, and anyone may GET any entry as often as they like.
 *
 * So the platforms a regex derives are computed once, in a build worker at submission (the
 * submission's own view, under the 100 ms submit budget), and stored with the entry's metadata
 * (`platforms` in store.ts); the view of a stored entry uses them. Leaves whose view runs no regex
 * are viewed here directly (parsing only). Entries stored before metadata carried `platforms`
 * are viewed in a build worker, once: the answer (or the error) is remembered by leaf hash.
 */
import type { Leaf } from '../attestation/leaf.js';
import { LafsError } from '../merkle/errors.js';
import { viewLeaf, viewRunsRegex, type LeafView } from '../attestation/record.js';
import type { SumsClaims } from '../attestation/sums.js';
import type { BuildPool } from './build-pool.js';
import type { EntryMeta } from './store.js';

/** The `platforms` to store with a new entry: what its regex derived per artifact, or undefined when its view runs no regex. */
export function derivedPlatforms(claims: SumsClaims | undefined, view: LeafView): (string | null)[] | undefined {
  return claims?.platformRegex === undefined ? undefined : view.artifacts.map((a) => a.platform);
}

export class EntryViews {
  /** Views of entries stored without `platforms`, by leaf hash (hex), computed in a worker. */
  private readonly legacy = new Map<string, Promise<LeafView>>();

  constructor(private readonly pool: BuildPool, private readonly capacity = 256) {}

  /** The view of a stored leaf; throws the LafsError viewLeaf raises. */
  async view(leaf: Uint8Array, decoded: Leaf, leafHashHex: string, meta: EntryMeta | undefined): Promise<LeafView> {
    if (!viewRunsRegex(decoded)) return viewLeaf(decoded);
    if (meta?.platforms !== undefined) return viewLeaf(decoded, { derivedPlatforms: meta.platforms });
    let pending = this.legacy.get(leafHashHex);
    if (pending === undefined) {
      pending = this.pool.view(leaf);
      // Failures are remembered too (a leaf never changes): a leaf whose regex overruns its budget
      // costs a worker that budget once, not once per request.
      // A busy or closing pool is not the leaf's fault: that is forgotten, to be tried again.
      pending.catch((e: unknown) => {
        if (e instanceof LafsError && (e.code === 'unavailable' || e.code === 'internal')) this.legacy.delete(leafHashHex);
      });
      if (this.legacy.size >= this.capacity) this.legacy.delete(this.legacy.keys().next().value!);
      this.legacy.set(leafHashHex, pending);
    }
    return pending;
  }
}
