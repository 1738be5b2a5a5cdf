/**
 * The sequencer: gives verified leaves their index, durably (DESIGN.md section 5).
 *
 * Group commit. Submissions queue up while the previous batch is being written; each step takes up
 * to MAX_BATCH of them, drops the ones already logged (same leaf hash, in the store or earlier in
 * the batch: idempotency), appends the rest to the incremental tree, signs the new checkpoint, and
 * writes leaves, changed tiles, index rows and checkpoint in ONE synced LevelDB batch. Only then is
 * the new checkpoint published to readers and every waiter answered. One fsync serves the whole
 * batch, so throughput is not one fsync per entry.
 *
 * If the write fails, the in-memory tree (already appended) is thrown away and the state is read
 * back from the store: its checkpoint, checked as on open, and the tree at that size. The store is
 * the only truth: a write can fail after its batch reached the database (an error raised later,
 * or a storage layer that reports failure for a write it kept), and resuming at the size held in
 * memory would then write the next batch over the rows of that one while its leaf-hash and lookup
 * rows stayed behind. The batch's waiters get 'unavailable' (503) either way: if their entries
 * did reach the store, a retry finds them (200, the existing index). (LevelDB makes a batch
 * visible only after its synced write succeeded, so what is read back is durable.) A leaf-hash
 * row is trusted only if the tree holds that leaf hash at that index (TileCache.leafHashAt).
 *
 * Readers use `state` (the last durable checkpoint) and the tiles in the store; they never wait
 * for a batch.
 */
import { nodeEd25519, nodeSha256 } from '../attestation/node-crypto.js';
import { parseCheckpoint } from '../merkle/checkpoint.js';
import { LafsError } from '../merkle/errors.js';
import type { Hash } from '../merkle/hash.js';
import { openNote, parseVerifierKey } from '../merkle/note.js';
import { IncrementalTree } from '../merkle/tree.js';
import { MAX_BATCH } from './config.js';
import type { Metrics } from './metrics.js';
import type { CheckpointSigner } from './signer.js';
import type { EntryMeta, IndexRow, NewEntry, Store } from './store.js';
import type { TileCache } from './tile-cache.js';

export interface Submission { leaf: Uint8Array; leafHash: Hash; meta: EntryMeta; rows: IndexRow[] }
/** The answer to a submission: its index, whether this call logged it, and a checkpoint that includes it. */
export interface Sequenced { index: number; created: boolean; size: number; checkpoint: string }
/** The last durable, published state of the log. */
export interface LogState { size: number; root: Hash; checkpoint: string }

interface Waiter { submission: Submission; resolve(r: Sequenced): void; reject(e: unknown): void }

export interface SequencerLog { info(obj: object, msg: string): void; error(obj: object, msg: string): void }

function hexOf(h: Uint8Array): string {
  return Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('hex');
}

export class Sequencer {
  private queue: Waiter[] = [];
  private draining = false;
  private closing = false;
  private broken: Error | undefined;
  private idle: (() => void) | undefined;

  private constructor(
    private readonly store: Store,
    private readonly signer: CheckpointSigner,
    private readonly tiles: TileCache,
    private tree: IncrementalTree,
    private current: LogState,
    private readonly metrics: Metrics | undefined,
    private readonly log: SequencerLog | undefined,
  ) {
    if (metrics) metrics.logSize = current.size;
  }

  /**
   * Resumes from the stored checkpoint (checking its signature, origin and that the stored tiles
   * give its root), or starts an empty log by storing a signed checkpoint of size 0.
   */
  static async open(store: Store, signer: CheckpointSigner, tiles: TileCache, options: { metrics?: Metrics; log?: SequencerLog } = {}): Promise<Sequencer> {
    const stored = await Sequencer.load(store, signer, tiles);
    if (stored !== undefined) return new Sequencer(store, signer, tiles, stored.tree, stored.state, options.metrics, options.log);
    const tree = IncrementalTree.empty(nodeSha256);
    const checkpoint = signer.sign({ size: 0, root: tree.root });
    await store.commit({ firstIndex: 0, entries: [], tiles: [], checkpoint });
    return new Sequencer(store, signer, tiles, tree, { size: 0, root: tree.root, checkpoint }, options.metrics, options.log);
  }

  /** The stored checkpoint, checked (signature, origin, the stored tiles give its root), and the tree at its size; undefined for an empty store. */
  private static async load(store: Store, signer: CheckpointSigner, tiles: TileCache): Promise<{ tree: IncrementalTree; state: LogState } | undefined> {
    const note = await store.checkpoint();
    if (note === undefined) return undefined;
    const opened = openNote(note, [parseVerifierKey(signer.verifierKey, nodeEd25519)]);
    if (!opened.ok) throw new LafsError('inconsistent', `the stored checkpoint does not verify with this data directory's key: ${opened.reason}`);
    const cp = parseCheckpoint(opened.value.text);
    if (cp.origin !== signer.origin) throw new LafsError('inconsistent', `the stored checkpoint is for ${JSON.stringify(cp.origin)}, the key for ${JSON.stringify(signer.origin)}`);
    const tree = await IncrementalTree.open(cp.size, tiles.read, nodeSha256);
    if (!Buffer.from(tree.root).equals(Buffer.from(cp.root))) {
      throw new LafsError('inconsistent', `the stored tiles give a different root than the stored checkpoint at size ${cp.size}`);
    }
    return { tree, state: { size: cp.size, root: cp.root, checkpoint: note } };
  }

  /** The last durable checkpoint. */
  get state(): LogState {
    return this.current;
  }

  /** Sequences a verified leaf; resolves once it is durable. Rejects with 'unavailable' if it could not be written. */
  submit(submission: Submission): Promise<Sequenced> {
    if (this.closing) return Promise.reject(new LafsError('unavailable', 'the server is shutting down'));
    if (this.broken) return Promise.reject(new LafsError('unavailable', `the log cannot accept entries until restarted: ${this.broken.message}`));
    return new Promise<Sequenced>((resolve, reject) => {
      this.queue.push({ submission, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        // setImmediate lets every request that arrived in this turn of the event loop join the batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      await this.step(batch);
    }
    this.draining = false;
    this.idle?.();
  }

  /** One group-commit step. Never throws: every waiter is resolved or rejected. */
  private async step(batch: Waiter[]): Promise<void> {
    try {
      // Dedup within the batch: the first waiter for a leaf hash leads, later ones follow it.
      const leaders = new Map<string, { waiter: Waiter; followers: Waiter[] }>();
      for (const w of batch) {
        const key = hexOf(w.submission.leafHash);
        const group = leaders.get(key);
        if (group) group.followers.push(w);
        else leaders.set(key, { waiter: w, followers: [] });
      }
      const groups = [...leaders.values()];
      const existing = this.loggedIndexes(groups.map((g) => g.waiter.submission.leafHash));

      const fresh: typeof groups = [];
      const before = this.current;
      groups.forEach((g, i) => {
        const index = existing[i];
        if (index === undefined) fresh.push(g);
        else {
          for (const w of [g.waiter, ...g.followers]) {
            this.metrics?.countSubmission('duplicate');
            w.resolve({ index, created: false, size: before.size, checkpoint: before.checkpoint });
          }
        }
      });
      if (fresh.length === 0) return;

      const started = performance.now();
      const firstIndex = this.tree.size;
      let appended;
      try {
        appended = this.tree.append(fresh.map((g) => g.waiter.submission.leafHash));
        const checkpoint = this.signer.sign({ size: appended.size, root: appended.root });
        const entries: NewEntry[] = fresh.map((g) => g.waiter.submission);
        await this.store.commit({ firstIndex, entries, tiles: appended.tiles, checkpoint });
        this.tiles.update(appended.tiles);
        this.current = { size: appended.size, root: appended.root, checkpoint };
      } catch (e) {
        await this.recover(e);
        const err = new LafsError('unavailable', 'the entry could not be written durably; retry', { cause: e });
        for (const g of fresh) for (const w of [g.waiter, ...g.followers]) w.reject(err);
        for (let i = 0; i < fresh.length; i++) this.metrics?.countSubmission('failed');
        return;
      }
      if (this.metrics) {
        this.metrics.logSize = this.current.size;
        this.metrics.batchSize.observe(fresh.length);
        this.metrics.commitSeconds.observe((performance.now() - started) / 1000);
      }
      const done = this.current;
      fresh.forEach((g, i) => {
        this.metrics?.countSubmission('created');
        g.waiter.resolve({ index: firstIndex + i, created: true, size: done.size, checkpoint: done.checkpoint });
        for (const w of g.followers) {
          this.metrics?.countSubmission('duplicate');
          w.resolve({ index: firstIndex + i, created: false, size: done.size, checkpoint: done.checkpoint });
        }
      });
    } catch (e) {
      // Reading the leaf-hash index failed: nothing was appended or written.
      const err = e instanceof LafsError ? e : new LafsError('unavailable', 'the log could not check for duplicates; retry', { cause: e });
      for (const w of batch) w.reject(err);
    }
  }

  /** Index of each leaf hash in the tree, from the leaf-hash rows, trusting a row only where the tree has that hash at that index. */
  private loggedIndexes(hashes: readonly Hash[]): (number | undefined)[] {
    return this.store.indexesOf(hashes).map((index, i) => {
      if (index === undefined || index >= this.current.size) return undefined;
      const at = this.tiles.leafHashAt(index);
      return at !== undefined && Buffer.from(at).equals(Buffer.from(hashes[i]!)) ? index : undefined;
    });
  }

  /**
   * After a failed write: forget the appended tree and resume from what the store holds (see the
   * module comment), which is the old state, or the failed batch's if it did reach the store.
   */
  private async recover(cause: unknown): Promise<void> {
    this.log?.error({ err: cause instanceof Error ? cause.message : String(cause), size: this.current.size }, 'batch write failed; resuming from the store');
    try {
      this.tiles.clear();
      const stored = await Sequencer.load(this.store, this.signer, this.tiles);
      if (stored === undefined) throw new LafsError('inconsistent', 'the store has no checkpoint any more');
      if (stored.state.size < this.current.size) throw new LafsError('inconsistent', `the store's checkpoint (size ${stored.state.size}) is behind the published one (${this.current.size})`);
      if (stored.state.size !== this.current.size) {
        this.log?.info({ size: stored.state.size, before: this.current.size }, 'the failed batch had reached the store; resuming after it');
      }
      this.tree = stored.tree;
      this.current = stored.state;
      if (this.metrics) this.metrics.logSize = this.current.size;
    } catch (e) {
      this.broken = e instanceof Error ? e : new Error(String(e));
      this.log?.error({ err: this.broken.message }, 'cannot reopen the tree; refusing further submissions');
    }
  }

  /** Stops taking submissions and waits for the queued ones to be written and answered. */
  async close(): Promise<void> {
    this.closing = true;
    if (!this.draining) return;
    await new Promise<void>((resolve) => (this.idle = resolve));
  }
}
