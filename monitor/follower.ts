/**
 * The monitor's loop (issue 5, DESIGN.md sections 2 and 7). Each poll:
 *  1. fetches the signed checkpoint (the client verifies its signature and origin);
 *  2. proves it extends the last verified one with a consistency proof the monitor computes
 *     itself from hash tiles it fetched (never the server's proof API); the same size with another
 *     root, or a failed proof is `inconsistent-log`, and the state stays put. A smaller tree (a
 *     CDN or a lagging mirror serving an old checkpoint) is proven to be a prefix of the verified
 *     one and then only logged as stale; if that proof fails it is `inconsistent-log` too;
 *  3. catches up on the new entries one entry tile (256 entries) at a time: each raw bundle split,
 *     leaf-hashed, decoded and re-verified in a VerifyPool worker (all cores), its leaf hashes
 *     checked here against the level-0 tile the client verified against the signed root (or,
 *     without verifyBundle, bundles checked by the client and leaves verified one by one),
 *     claims indexed, alerts raised, and the batch committed in one synced write.
 *     An entry the tree commits to but that does not decode or verify is `invalid-entry` once,
 *     and passed. A bundle or tile that does not match the signed tree is log misbehaviour: the
 *     bundle is fetched again and checked leaf by leaf to name the exact entry, the entries before
 *     it are processed, `invalid-entry` is raised once for (index, code), and the monitor does not
 *     advance past it (nothing unproven is taken as verified) but tries again at every poll, so
 *     a mirror's transient glitch clears by itself.
 * A few batches are fetched and verified ahead of the one being committed so the cores stay
 * busy, and no more, so memory stays flat however large the log.
 *
 * It never spins: every wait is the poll interval or a capped exponential backoff, and every wait
 * ends early on abort. On abort (SIGINT/SIGTERM) the batch being committed is finished first.
 */
import type { Checkpoint } from '../merkle/checkpoint.js';
import { LafsError } from '../merkle/errors.js';
import { makeConsistencyProof, verifyConsistency } from '../merkle/proof.js';
import { tileHashSource, type TileReader } from '../merkle/tile-source.js';
import { TILE_WIDTH, tileWidth } from '../merkle/tiles.js';
import { HASH_SIZE, equalBytes, leafHash, type Sha256 } from '../merkle/hash.js';
import type { RawEntry, VerifiedCheckpoint } from '../client/log-client.js';
import { alertId, type Alert, type AlertCheckpoint, type AlertSinks, type InconsistentLogAlert, type InvalidCheckpointAlert, type InvalidEntryAlert, type LogUnreachableAlert, type StalledLogAlert } from './alerts.js';
import type { IndexStore, PendingAlert, ProcessedEntry, StoredCheckpoint } from './index-store.js';
import type { BundleReader, RawBundleReader } from './tile-reader.js';
import { invalidVerdict, validVerdict, type BundleRequest, type BundleVerdict, type LeafCheck } from '../attestation/verify-pool.js';

/** What the follower needs of the log client (LogClient satisfies it). */
export interface LogSource {
  checkpoint(): Promise<VerifiedCheckpoint>;
  /** Entries proven in the tree of `cp` (bundles checked against its tiles), not decoded. */
  rawEntries(start: number, end: number, cp: Checkpoint): AsyncIterable<RawEntry>;
  /** Verifies a signed checkpoint note with the log's key and origin; throws LafsError('bad-note'). */
  verifyNote?(note: string): VerifiedCheckpoint;
  /** Hash tiles of `cp`'s tree, each verified against its root (to check a bundle leaf by leaf). */
  tileReader?(cp: Checkpoint): TileReader;
}


/** How long a smaller checkpoint may stay unproven (a mirror catching up) before it is a rollback, without --stall-after. */
export const SMALLER_GRACE_MS = 60 * 60 * 1000;

/** Why a leaf from `url` is refused: its hash is not the one the verified level-0 tile holds. */
function mismatch(url: string, index: number, hash: Uint8Array, expected: Uint8Array, size: number): string {
  const b64 = (h: Uint8Array) => Buffer.from(h).toString('base64');
  return `GET ${url}: entry ${index} hashes to ${b64(hash)}, but the level-0 tile verified against the checkpoint of size ${size} says ${b64(expected)}; the log serves an entry that does not match its signed tree`;
}
export interface FollowerOptions {
  source: LogSource;
  tiles: TileReader;
  /** Raw entry bundles, read past the client's cache, to locate the bad entry of a bundle that did not verify. */
  bundles?: BundleReader;
  /** The checkpoint text as served, unverified: evidence when it does not verify. */
  fetchNote?: () => Promise<string>;
  store: IndexStore;
  sinks: AlertSinks;
  verify: (leaf: Uint8Array) => Promise<LeafCheck>;
  /**
   * The catch-up path when given together with `rawBundles` and a source with `tileReader`: each
   * entry bundle, raw, to a verification worker that splits, hashes, decodes and verifies it (the
   * VerifyPool's verifyBundle); its leaf hashes are checked here against the verified level-0 tile
   * before any verdict is taken. Without them, entries come from `source.rawEntries` one by one.
   */
  verifyBundle?: (request: BundleRequest) => Promise<BundleVerdict>;
  /** Raw entry bundles for `verifyBundle` (the log client's transport, no cache: each is read once). */
  rawBundles?: RawBundleReader;
  sha256: Sha256;
  signal: AbortSignal;
  once?: boolean;
  intervalMs: number;
  /** Alert `stalled-log` when the checkpoint neither grew nor was re-signed for this long (off when undefined). */
  stallAfterMs?: number;
  /** Consecutive failed polls before `log-unreachable` (default 3). */
  failuresBeforeAlert?: number;
  /** Cap of the backoff between failed polls (default 15 minutes, at least the interval). */
  maxBackoffMs?: number;
  /** Entry batches fetched and verified ahead of the one being committed (default 2). */
  prefetch?: number;
  trusted?: ReadonlySet<string>;
  /** First wait before a failed webhook/command delivery is tried again at a later poll (doubling; default 30 s). */
  deliveryRetryMs?: number;
  /** Cap of that wait (default 1 hour). */
  maxDeliveryRetryMs?: number;
  /**
   * After the stop signal, how long alerts already raised may still go to the webhook and the
   * command before their deliveries are cut short and kept for the next start (default 5 s).
   */
  stopGraceMs?: number;
  /** Called when a catch-up starts and with each periodic progress line during one (e.g. to write a status snapshot); its failure is only logged. */
  onProgress?: () => Promise<void>;
  /** Interval of the progress lines during a catch-up (default 10 s). */
  progressEveryMs?: number;
  /** Called after each successful poll (e.g. to write a status snapshot); its failure is only logged. */
  afterPoll?: () => Promise<void>;
  /** Progress and diagnostics for stderr. */
  log?: (line: string) => void;
  now?: () => Date;
}

export interface FollowResult {
  /** Alerts emitted during this run (including ones left undelivered by an earlier crash). */
  alertsRaised: number;
  /** The log currently misbehaves (inconsistent with the verified checkpoint, serving data that does not match its signed tree, or a checkpoint that does not verify), even if alerted before. */
  inconsistent: boolean;
}

/** Errors of the network or a lagging mirror: retry later. Anything else the log did is evidence. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof LafsError)) return true;
  return error.code === 'unavailable' || error.code === 'rate-limited' || error.code === 'not-found' || error.code === 'internal';
}

/** Attempts at verifying one entry when the verifier itself fails (a worker crash), within one poll. */
const VERIFY_ATTEMPTS = 3;

/** Most entries committed in one write when several prepared tile batches are ready at once. */
const MAX_COMMIT_ENTRIES = 4 * TILE_WIDTH;

interface Stop { index: number; code: string; reason: string }
interface PreparedBatch { start: number; end: number; entries: ProcessedEntry[]; stop?: Stop }

export class Follower {
  private readonly o: FollowerOptions;
  private readonly log: (line: string) => void;
  private readonly now: () => Date;
  private alertsRaised = 0;
  private inconsistent = false;
  /** Alerts some configured sink has not had yet, by outbox seq. */
  private readonly undelivered = new Map<string, PendingAlert>();
  /** Seqs with a delivery queued or running; deliveries run one at a time, in the background. */
  private readonly queued = new Set<string>();
  private deliveryChain: Promise<void> = Promise.resolve();
  /**
   * Aborts deliveries: stopGraceMs after the stop signal. An alert raised just before a stop
   * (the log went away, then the operator stopped the monitor) still reaches the webhook, unless
   * that takes longer than the grace.
   */
  private readonly deliveryStop = new AbortController();

  constructor(options: FollowerOptions) {
    this.o = options;
    this.log = options.log ?? (() => undefined);
    this.now = options.now ?? (() => new Date());
    const graceMs = options.stopGraceMs ?? 5_000;
    const stopDeliveries = () => setTimeout(() => this.deliveryStop.abort(), graceMs).unref();
    if (options.signal.aborted) stopDeliveries();
    else options.signal.addEventListener('abort', stopDeliveries, { once: true });
  }

  /** Follows until aborted (or once caught up with `once`). Throws on local I/O failure, and with `once` on any failed poll. */
  async run(): Promise<FollowResult> {
    const { signal } = this.o;
    // Left over from an earlier run: stdout is printed only if it never was; a failed webhook or
    // command is tried again now (a start is a natural moment to retry), later on its backoff.
    for (const pending of await this.o.store.outbox()) await this.deliver(pending, { now: true });
    const threshold = this.o.failuresBeforeAlert ?? 3;
    let failures = 0;
    let outageSince = '';
    let lastReason = '';
    try {
      while (!signal.aborted) {
        try {
          this.inconsistent = false;
          this.retryDeliveries();
          await this.poll();
          if (this.o.afterPoll) await this.o.afterPoll().catch((error: unknown) => this.log(`after poll: ${(error as Error).message}`));
          if (failures >= threshold) this.log(`log reachable again after ${failures} failed polls`);
          failures = 0;
          if (this.o.once) break;
          await sleep(this.o.intervalMs, signal);
        } catch (error) {
          if (signal.aborted && !(error instanceof LafsError && error.code === 'io')) break; // a request cut short by the stop
          // Local state failures end the run; with --once so does any failed poll (exit 2).
          if ((error instanceof LafsError && error.code === 'io') || this.o.once) throw error;
          if (failures === 0) outageSince = this.now().toISOString();
          failures++;
          lastReason = error instanceof Error ? error.message : String(error);
          const wait = this.backoff(failures);
          this.log(`poll failed (${failures} in a row): ${lastReason}; next try in ${Math.round(wait / 1000)} s`);
          if (failures === threshold) await this.raiseUnreachable(failures, outageSince, lastReason);
          await sleep(wait, signal);
        }
      }
    } finally {
      // With --once, the deliveries of this run are waited for (each bounded); after a stop
      // signal for at most stopGraceMs, then they are cut short and kept for the next start.
      await this.deliveryChain;
    }
    return { alertsRaised: this.alertsRaised, inconsistent: this.inconsistent };
  }

  /** interval, 2x, 4x, ... capped: a dead log is polled less and less often, never in a tight loop. */
  private backoff(failures: number): number {
    const cap = Math.max(this.o.intervalMs, this.o.maxBackoffMs ?? 15 * 60_000);
    return Math.min(cap, Math.max(1_000, this.o.intervalMs) * 2 ** (failures - 1));
  }

  /** One poll: verify the new checkpoint against the last one, then catch up on its entries. */
  async poll(): Promise<void> {
    const { store } = this.o;
    let fetched: VerifiedCheckpoint;
    try {
      fetched = await this.o.source.checkpoint();
    } catch (error) {
      if (!(error instanceof LafsError && error.code === 'bad-note') || !(await this.checkpointRefused(error))) throw error;
      await this.catchUp(); // the last verified tree can still be followed
      return;
    }
    const current = toStored(fetched);
    const previous = store.checkpoint();
    const nowIso = this.now().toISOString();

    if (previous === undefined) {
      // Trust on first use: everything after is proven to extend this checkpoint.
      await this.storeWrite(() => store.saveCheckpoint(current, nowIso));
      this.log(`first checkpoint: size ${current.size}`);
    } else if (current.size < previous.size) {
      await this.checkStale(previous, current);
    } else if (current.size === previous.size) {
      if (current.root !== previous.root) await this.raiseInconsistent(previous, current, `same tree size ${current.size} with a different root hash`);
      else if (current.note !== previous.note) await this.storeWrite(() => store.saveCheckpoint(current, nowIso)); // re-signed
      else await this.checkStall(current);
    } else {
      const verdict = await this.proveExtends(previous, fetched.checkpoint);
      if (verdict.ok) {
        await this.storeWrite(() => store.saveCheckpoint(current, nowIso));
      } else {
        await this.raiseInconsistent(previous, current, verdict.reason);
      }
    }
    await this.catchUp();
  }

  /**
   * A checkpoint smaller than the verified one is either an old one (a CDN cache, a lagging
   * mirror: harmless) or a fork. Tell them apart with a consistency proof from it to the verified
   * tree, built from tiles: proven means stale (logged; the state never moves backwards), a proof
   * that fails is `inconsistent-log`. Tiles that cannot be had decide nothing at first (a mirror
   * still copying): logged, and checked again at the next poll that sees it. But a log that rolled
   * back (restored from an old backup) looks the same and never gets the tiles again, so a smaller
   * tree still unproven after the grace period (the stall window, else SMALLER_GRACE_MS; the first
   * sighting is kept in the state, so `--once` runs from cron count too) is `inconsistent-log`.
   */
  private async checkStale(verified: StoredCheckpoint, stale: StoredCheckpoint): Promise<void> {
    const newer = { size: verified.size, root: new Uint8Array(Buffer.from(verified.root, 'base64')) };
    let verdict: { ok: true } | { ok: false; reason: string };
    try {
      verdict = await this.proveExtends(stale, newer);
    } catch (error) {
      if (!isTransient(error) || this.o.signal.aborted) throw error;
      const now = this.now();
      const since = await this.storeWrite(() => this.o.store.smallerFirstSeen(stale.size, stale.root, now.toISOString()));
      const grace = this.o.stallAfterMs ?? SMALLER_GRACE_MS;
      if (now.getTime() - Date.parse(since) >= grace) {
        await this.raiseInconsistent(verified, stale, `the log has served a checkpoint of size ${stale.size}, smaller than the verified one of size ${verified.size}, since ${since} without the tiles to prove it a prefix (rolled back?): ${(error as Error).message}`);
        return;
      }
      this.log(`stale checkpoint of size ${stale.size} (verified: ${verified.size}); cannot check it against the verified tree yet: ${(error as Error).message}`);
      return;
    }
    if (verdict.ok) {
      this.log(`stale checkpoint of size ${stale.size} (verified: ${verified.size}), proven to be a prefix of the verified tree: ignored`);
      return;
    }
    await this.raiseInconsistent(verified, stale, `checkpoint of size ${stale.size} is smaller than the verified one of size ${verified.size} and is not a prefix of it: ${verdict.reason}`);
  }

  /**
   * The log served a checkpoint that does not verify. If it is a signed note at all (not an error
   * page) and still does not verify when read again, that is the log signing with another key or
   * for another origin: `invalid-checkpoint`, once per note text, the note as evidence. Returns
   * false when it is not such a note (the poll then fails like any unreachable log).
   */
  private async checkpointRefused(error: LafsError): Promise<boolean> {
    if (!this.o.fetchNote) return false;
    const note = await this.o.fetchNote();
    if (!note.includes('\n\n\u2014 ')) return false;
    if (this.o.source.verifyNote) {
      try {
        this.o.source.verifyNote(note);
        return false; // it verifies now: the first read was a glitch
      } catch {
        // still refused
      }
    }
    this.inconsistent = true;
    const alert: InvalidCheckpointAlert = {
      type: 'invalid-checkpoint',
      // Once per last verified tree, not per note: a log could vary a bad note at every poll.
      id: alertId('invalid-checkpoint', this.o.store.origin, this.o.store.checkpoint()?.root ?? '', this.o.store.checkpoint()?.size ?? -1),
      time: this.now().toISOString(),
      log: this.o.store.origin,
      checkpoint: this.o.store.checkpoint() ?? null,
      note,
      reason: error.message,
    };
    const pending = await this.storeWrite(() => this.o.store.recordAlert(alert));
    if (pending) await this.deliver(pending);
    else this.log(`the log still serves a checkpoint that does not verify (alerted before): ${error.message}`);
    return true;
  }

  /** RFC 9162 2.1.4 consistency of `previous` with the larger `next`, the proof built from tiles fetched here and checked against both roots. */
  private async proveExtends(previous: StoredCheckpoint, next: Pick<Checkpoint, 'size' | 'root'>): Promise<{ ok: true } | { ok: false; reason: string }> {
    if (previous.size === 0) return { ok: true };
    const oldRoot = new Uint8Array(Buffer.from(previous.root, 'base64'));
    let proof;
    try {
      proof = await makeConsistencyProof(previous.size, next.size, tileHashSource(next.size, this.o.tiles, this.o.sha256), this.o.sha256);
    } catch (error) {
      if (isTransient(error)) throw error;
      return { ok: false, reason: `cannot build a consistency proof from the log's tiles: ${(error as Error).message}` };
    }
    const verdict = verifyConsistency(previous.size, next.size, proof, oldRoot, next.root, this.o.sha256);
    return verdict.ok ? verdict : { ok: false, reason: `consistency proof from ${previous.size} to ${next.size} (computed from the log's own tiles) does not verify: ${verdict.reason}` };
  }

  /** Processes entries [next, verified size) in tile-aligned batches with a bounded prefetch. */
  private async catchUp(): Promise<void> {
    const { store, signal } = this.o;
    const stored = store.checkpoint();
    if (!stored || store.nextIndex() >= stored.size) return;
    const cp: Checkpoint = { origin: store.origin, size: stored.size, root: new Uint8Array(Buffer.from(stored.root, 'base64')), extensions: [] };
    const depth = Math.max(1, (this.o.prefetch ?? 2) + 1);
    // Each batch in flight, with its outcome once it has one, so batches that are already done
    // when one is committed go into the same write.
    const queue: { prepared: Promise<PreparedBatch>; result?: PreparedBatch }[] = [];
    const tiles = this.o.verifyBundle && this.o.rawBundles && this.o.source.tileReader ? this.o.source.tileReader(cp) : undefined;
    let cursor = store.nextIndex();
    const fill = () => {
      while (queue.length < depth && cursor < cp.size && !signal.aborted) {
        const start = cursor;
        const end = Math.min(cp.size, (Math.floor(start / TILE_WIDTH) + 1) * TILE_WIDTH);
        cursor = end;
        const item: (typeof queue)[number] = { prepared: this.prepare(start, end, cp, tiles) };
        // Awaited in order below; no unhandled rejection meanwhile.
        item.prepared.then((result) => (item.result = result), () => undefined);
        queue.push(item);
      }
    };
    const started = Date.now();
    const first = store.nextIndex();
    let lastProgress = started;
    await this.progress();
    fill();
    while (queue.length > 0) {
      let batch = await queue.shift()!.prepared;
      // Tile batches that are ready too join this one: one synced write for all of them (never
      // past a stop, never more than MAX_COMMIT_ENTRIES). A batch that failed is left at the head,
      // to fail the poll after this write, as it would on its own.
      while (!batch.stop && queue[0]?.result && batch.entries.length + queue[0].result.entries.length <= MAX_COMMIT_ENTRIES) {
        const next = queue.shift()!.result!;
        batch = { start: batch.start, end: next.end, entries: batch.entries.concat(next.entries), ...(next.stop ? { stop: next.stop } : {}) };
      }
      // The next batches are fetched and verified while this one is written.
      if (!batch.stop) fill();
      const context = { origin: store.origin, checkpoint: stored, time: this.now().toISOString(), ...(this.o.trusted ? { trusted: this.o.trusted } : {}) };
      const pending = await this.storeWrite(() => store.commitBatch(batch.entries, batch.stop ? batch.stop.index : batch.end, context));
      for (const p of pending) await this.deliver(p);
      if (batch.stop) {
        await this.raiseInvalidEntry(stored, batch.stop);
        this.inconsistent = true;
        return;
      }
      if (signal.aborted) return;
      if (Date.now() - lastProgress >= (this.o.progressEveryMs ?? 10_000)) {
        lastProgress = Date.now();
        this.log(`catching up: ${store.nextIndex()} of ${cp.size} entries verified`);
        await this.progress();
      }
      fill();
    }
    const done = store.nextIndex() - first;
    if (done > 0) this.log(`processed entries ${first}..${store.nextIndex() - 1} (${Math.round(done / Math.max(0.001, (Date.now() - started) / 1000))} entries/s)`);
  }

  /**
   * Fetches entries [start, end) proven in the tree (bundles checked against the tiles) and
   * re-verifies each one in the pool. Leaves are decoded there too, so a leaf the tree commits to
   * but that does not decode or verify becomes an `invalid-entry` and the monitor moves on; a
   * bundle or tile that does not match the signed tree stops processing at its first entry.
   */
  private async prepare(start: number, end: number, cp: Checkpoint, tiles?: TileReader): Promise<PreparedBatch> {
    if (tiles && this.o.verifyBundle && this.o.rawBundles) return this.prepareBundle(start, end, cp, tiles);
    const raw: RawEntry[] = [];
    let stop: PreparedBatch['stop'];
    try {
      for await (const entry of this.o.source.rawEntries(start, end, cp)) {
        if (entry.index !== start + raw.length) throw new LafsError('internal', `client returned entry ${entry.index} where ${start + raw.length} was expected`);
        raw.push(entry);
      }
      if (raw.length !== end - start) throw new LafsError('internal', `client returned ${raw.length} entries for [${start}, ${end})`);
    } catch (error) {
      if (isTransient(error)) throw error;
      const located = await this.locate(start + raw.length, end, cp, error);
      raw.push(...located.proven);
      stop = located.stop;
    }
    const entries = await Promise.all(raw.map((e) => this.check(e.index, e.leaf)));
    return stop ? { start, end: stop.index, entries, stop } : { start, end, entries };
  }

  /**
   * Entries [start, end) of one entry tile through a verification worker: the raw bundle goes to
   * the worker (transferred), which answers with the leaf hashes of the range and a verdict per
   * entry; meanwhile the level-0 tile is read and verified against the signed root by the log
   * client. Only when every leaf hash equals the tile's are the verdicts taken; a malformed bundle
   * or a leaf that does not match is log misbehaviour, handled like the client's refusal on the
   * per-entry path (locate: fetched again, checked leaf by leaf, stop at the exact entry).
   */
  private async prepareBundle(start: number, end: number, cp: Checkpoint, tiles: TileReader): Promise<PreparedBatch> {
    const tileIndex = Math.floor(start / TILE_WIDTH);
    const first = tileIndex * TILE_WIDTH;
    const width = tileWidth(0, tileIndex, cp.size);
    const from = start - first;
    const to = end - first;
    try {
      const tile = tiles(0, tileIndex, width);
      tile.catch(() => undefined); // awaited below, after the worker's answer
      const { verdict, url } = await this.verifyBundleOf(tileIndex, width, from, to, start, end);
      const hashes = await tile;
      if (hashes === undefined) throw new LafsError('unavailable', `level-0 tile ${tileIndex} of the tree of size ${cp.size} is missing`);
      if (!verdict.ok) throw new LafsError('inconsistent', `GET ${url}: malformed entry bundle: ${verdict.malformed}`);
      const expected = hashes.subarray(from * HASH_SIZE, to * HASH_SIZE);
      if (!Buffer.from(verdict.hashes.buffer, verdict.hashes.byteOffset, verdict.hashes.byteLength).equals(expected)) {
        let i = 0;
        while (equalBytes(verdict.hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE), expected.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) i++;
        throw new LafsError('inconsistent', mismatch(url, start + i, verdict.hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE), expected.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE), cp.size));
      }
      if (verdict.entries.length !== end - start || verdict.entries.some((e, k) => e.index !== start + k)) throw new LafsError('internal', `verification worker answered ${verdict.entries.length} entries for [${start}, ${end})`);
      return { start, end, entries: verdict.entries };
    } catch (error) {
      if (isTransient(error)) throw error;
      const located = await this.locate(start, end, cp, error);
      const entries = await Promise.all(located.proven.map((e) => this.check(e.index, e.leaf)));
      return located.stop ? { start, end: located.stop.index, entries, stop: located.stop } : { start, end, entries };
    }
  }

  /** Fetches bundle `tileIndex` and has a worker verify entries [from, to) of it; a worker that died is retried with the bundle fetched again (its bytes went to the dead worker). */
  private async verifyBundleOf(tileIndex: number, width: number, from: number, to: number, start: number, end: number): Promise<{ verdict: BundleVerdict; url: string }> {
    for (let attempt = 1; ; attempt++) {
      const raw = await this.o.rawBundles!(tileIndex, width);
      try {
        return { verdict: await this.o.verifyBundle!({ bundle: raw.bytes, count: raw.count, from, to, firstIndex: tileIndex * TILE_WIDTH }), url: raw.url };
      } catch (error) {
        // As for one entry (check): a crash says nothing about these entries, never a verdict.
        if (attempt >= VERIFY_ATTEMPTS || this.o.signal.aborted) throw error instanceof LafsError ? error : new LafsError('unavailable', `verifying entries ${start}..${end - 1}: ${(error as Error).message}`);
        this.log(`verifying entries ${start}..${end - 1} failed (${(error as Error).message}); retrying`);
        await sleep(250 * 2 ** (attempt - 1), this.o.signal);
      }
    }
  }

  /**
   * After the client refused the bundle holding [from, end): fetches it again, past any cache, and
   * checks it leaf by leaf against the level-0 tile verified against the signed root. Leaves that
   * match are proven; the first that does not is where the monitor stops. If the tile itself does
   * not verify, no leaf of it can be proven: the stop is at `from`. If everything matches now,
   * the first refusal was a glitch and the whole range is proven.
   */
  private async locate(from: number, end: number, cp: Checkpoint, error: unknown): Promise<{ proven: RawEntry[]; stop?: Stop }> {
    const stopAt = (index: number, e: unknown): Stop => {
      const code = e instanceof LafsError ? e.code : 'internal';
      return { index, code, reason: `${code}: ${(e as Error).message}` };
    };
    const { bundles, source } = this.o;
    if (!bundles || !source.tileReader) return { proven: [], stop: stopAt(from, error) };
    const tileIndex = Math.floor(from / TILE_WIDTH);
    const width = tileWidth(0, tileIndex, cp.size);
    let tile: Uint8Array | undefined;
    let bundle: { leaves: Uint8Array[]; url: string };
    try {
      tile = await source.tileReader(cp)(0, tileIndex, width);
      if (tile === undefined) throw new LafsError('unavailable', `level-0 tile ${tileIndex} of the tree of size ${cp.size} is missing`);
      bundle = await bundles(tileIndex, width);
    } catch (e) {
      if (isTransient(e)) throw e;
      return { proven: [], stop: stopAt(from, e) };
    }
    const proven: RawEntry[] = [];
    for (let index = from; index < end; index++) {
      const i = index - tileIndex * TILE_WIDTH;
      const leaf = bundle.leaves[i]!;
      const hash = leafHash(leaf, this.o.sha256);
      const expected = tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
      if (!equalBytes(hash, expected)) {
        return { proven, stop: { index, code: 'inconsistent', reason: `inconsistent: ${mismatch(bundle.url, index, hash, expected, cp.size)}` } };
      }
      proven.push({ index, leaf, leafHash: hash });
    }
    this.log(`entries ${from}..${end - 1} match the signed tree when fetched again (the first answer did not: ${(error as Error).message})`);
    return { proven };
  }

  private async check(index: number, leaf: Uint8Array): Promise<ProcessedEntry> {
    // A leaf is usually a view into its whole entry bundle; posting the view to a worker would
    // clone the bundle's entire buffer (about 100 KB) for every entry. Send a compact copy.
    const compact = leaf.byteOffset === 0 && leaf.byteLength === leaf.buffer.byteLength ? leaf : Uint8Array.prototype.slice.call(leaf);
    let result: LeafCheck;
    for (let attempt = 1; ; attempt++) {
      try {
        result = await this.o.verify(compact);
        break;
      } catch (error) {
        // A verification worker died (the pool has replaced it): that says nothing about this entry,
        // so it is never taken for a verdict. Retry a few times now; if it keeps failing the poll
        // fails, the batch is not committed, and the next poll (after backoff) tries it again.
        if (attempt >= VERIFY_ATTEMPTS || this.o.signal.aborted) throw error instanceof LafsError ? error : new LafsError('unavailable', `verifying entry ${index}: ${(error as Error).message}`);
        this.log(`verifying entry ${index} failed (${(error as Error).message}); retrying`);
        await sleep(250 * 2 ** (attempt - 1), this.o.signal);
      }
    }
    // The pool's workers give the error code with the verdict, so this thread never runs the leaf's
    // view (and a hostile leaf's platformRegex) to find it.
    return result.ok ? validVerdict(index, result.value) : invalidVerdict(index, leaf, result.reason, result.code);
  }

  private async progress(): Promise<void> {
    if (this.o.onProgress) await this.o.onProgress().catch((error: unknown) => this.log(`progress: ${(error as Error).message}`));
  }

  private async checkStall(current: StoredCheckpoint): Promise<void> {
    const after = this.o.stallAfterMs;
    if (after === undefined) return;
    const changed = await this.o.store.lastChange();
    if (!changed) return;
    const stalledMs = this.now().getTime() - Date.parse(changed.at);
    if (stalledMs < after) return;
    if ((await this.o.store.stallAlertedFor()) === current.note) return; // this stall was reported already
    const alert: StalledLogAlert = {
      type: 'stalled-log',
      id: alertId('stalled-log', this.o.store.origin, current.note),
      time: this.now().toISOString(),
      log: this.o.store.origin,
      checkpoint: current,
      since: changed.at,
      stalledSeconds: Math.round(stalledMs / 1000),
    };
    const pending = await this.storeWrite(() => this.o.store.recordAlert(alert, { stallNote: current.note }));
    if (pending) await this.deliver(pending);
  }

  private async raiseInconsistent(previous: StoredCheckpoint, current: StoredCheckpoint, reason: string): Promise<void> {
    this.inconsistent = true;
    // One alert per verified checkpoint the log broke away from: it cannot advance past it anyway.
    const alert: InconsistentLogAlert = {
      type: 'inconsistent-log',
      id: alertId('inconsistent-log', this.o.store.origin, previous.size, previous.root),
      time: this.now().toISOString(),
      log: this.o.store.origin,
      previous,
      checkpoint: current,
      reason,
    };
    const pending = await this.storeWrite(() => this.o.store.recordAlert(alert));
    if (pending) await this.deliver(pending);
    else this.log(`log still inconsistent with verified checkpoint of size ${previous.size} (alerted before): ${reason}`);
  }

  /** Keyed on (index, code), not on the checkpoint: a stuck entry on a growing log is one alert, not one per checkpoint. */
  private async raiseInvalidEntry(checkpoint: StoredCheckpoint, stop: Stop): Promise<void> {
    const alert: InvalidEntryAlert = {
      type: 'invalid-entry',
      id: invalidEntryId(this.o.store.origin, stop.index, stop.code),
      time: this.now().toISOString(),
      log: this.o.store.origin,
      checkpoint,
      index: stop.index,
      code: stop.code,
      reason: stop.reason,
    };
    const pending = await this.storeWrite(() => this.o.store.recordAlert(alert));
    if (pending) await this.deliver(pending);
    else this.log(`entry ${stop.index} still does not match the tree (alerted before; retried at every poll): ${stop.reason}`);
  }

  private async raiseUnreachable(failures: number, since: string, reason: string): Promise<void> {
    const alert: LogUnreachableAlert = {
      type: 'log-unreachable',
      id: alertId('log-unreachable', this.o.store.origin, since),
      time: this.now().toISOString(),
      log: this.o.store.origin,
      checkpoint: this.o.store.checkpoint() ?? null,
      failures,
      since,
      reason,
    };
    const pending = await this.storeWrite(() => this.o.store.recordAlert(alert));
    if (pending) await this.deliver(pending);
  }

  /**
   * Hands an alert to its sinks. stdout at once, and marked at once in the outbox, so that a
   * restart never prints it twice; the webhook and the command in the background, one delivery
   * at a time. A failed one stays in the outbox and is tried again at later polls with backoff.
   */
  private async deliver(pending: PendingAlert, options: { now?: boolean } = {}): Promise<void> {
    const sinks = this.o.sinks.names();
    if (!pending.done.includes('stdout')) {
      this.alertsRaised++;
      this.o.sinks.print(pending.alert);
      pending.done.push('stdout');
    }
    // Sinks no longer configured (a restart without --webhook) are not waited for.
    this.undelivered.set(pending.seq, pending);
    if (await this.persistDelivery(pending, sinks)) return;
    if (options.now) for (const retry of Object.values(pending.retry)) retry.nextAt = new Date(0).toISOString();
    this.queueDelivery(pending);
  }

  /** Queues every undelivered alert whose failed sinks are due again. Never blocks the poll. */
  private retryDeliveries(): void {
    const now = this.now().getTime();
    for (const pending of this.undelivered.values()) {
      if (Object.values(pending.retry).some((r) => Date.parse(r.nextAt) <= now)) this.queueDelivery(pending);
    }
  }

  private queueDelivery(pending: PendingAlert): void {
    if (this.queued.has(pending.seq)) return;
    this.queued.add(pending.seq);
    this.deliveryChain = this.deliveryChain
      .then(() => this.deliverElsewhere(pending))
      .catch((error: unknown) => this.log(`delivering alert ${pending.alert.id}: ${(error as Error).message}`))
      .finally(() => this.queued.delete(pending.seq));
  }

  private async deliverElsewhere(pending: PendingAlert): Promise<void> {
    const sinks = this.o.sinks.names();
    for (const sink of sinks) {
      if (sink === 'stdout' || pending.done.includes(sink) || this.deliveryStop.signal.aborted) continue;
      const retry = pending.retry[sink];
      if (retry && Date.parse(retry.nextAt) > this.now().getTime()) continue;
      const result = await this.o.sinks.send(sink, pending.alert, this.deliveryStop.signal);
      if (result.ok) {
        pending.done.push(sink);
        delete pending.retry[sink];
      } else if (result.permanent) {
        // The receiver refuses this alert (a 4xx): asking again cannot help. Reported on stderr by the sink.
        this.log(`${sink} refused alert ${pending.alert.id} (${result.reason}); not retried`);
        pending.done.push(sink);
        delete pending.retry[sink];
      } else if (!this.deliveryStop.signal.aborted) {
        const attempts = (retry?.attempts ?? 0) + 1;
        const base = this.o.deliveryRetryMs ?? 30_000;
        const wait = Math.min(this.o.maxDeliveryRetryMs ?? 3_600_000, base * 2 ** (attempts - 1));
        pending.retry[sink] = { attempts, nextAt: new Date(this.now().getTime() + wait).toISOString(), lastError: result.reason };
        this.log(`${sink} delivery of alert ${pending.alert.id} failed ${attempts} time(s) (${result.reason}); kept, next try in ${Math.round(wait / 1000)} s`);
      }
    }
    await this.persistDelivery(pending, sinks);
  }

  /** Writes the alert's delivery state; forgets it once every configured sink has it. Returns whether it is done. */
  private async persistDelivery(pending: PendingAlert, sinks: readonly string[]): Promise<boolean> {
    const gone = await this.storeWrite(() => this.o.store.updateOutbox(pending, sinks));
    if (gone) this.undelivered.delete(pending.seq);
    return gone;
  }

  /** Local state failures are fatal (exit 2), never mistaken for a flaky log. */
  private async storeWrite<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof LafsError) throw error;
      throw new LafsError('io', `monitor state: ${(error as Error).message}`, { cause: error });
    }
  }
}

export function invalidEntryId(origin: string, index: number, code: string): string {
  return alertId('invalid-entry', origin, index, code);
}

function toStored(v: VerifiedCheckpoint): AlertCheckpoint {
  return { size: v.checkpoint.size, root: Buffer.from(v.checkpoint.root).toString('base64'), note: v.note };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
