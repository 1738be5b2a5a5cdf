/**
 * What the monitor remembers, in its own LevelDB (issue 5; docs/monitor.md "State"). Every write
 * that matters is one synced batch, so a crash or a restart never skips an entry and never raises
 * an alert twice: the claims of a batch of entries, the alerts they raise, the alert dedup marks
 * and the new position are committed together.
 *
 * Key layout (all keys and values UTF-8; K = JSON.stringify([source, platform|null, name]),
 * self-delimiting because a JSON array ends at its closing bracket):
 *
 *   meta!origin                       the log's origin; a state dir follows exactly one log
 *   meta!checkpoint                   JSON StoredCheckpoint: the last checkpoint proven to extend
 *                                     every earlier one (size, base64 root, signed note text)
 *   meta!next                         decimal: first entry index not yet processed (<= checkpoint size)
 *   meta!changed                      JSON { at, note }: when the checkpoint last grew or was re-signed
 *   meta!stall-alerted                note text of the checkpoint a stalled-log alert was raised for
 *   meta!seq                          decimal: next alert sequence number
 *   meta!agreed                       decimal: artifact keys attested by 2 or more distinct builders
 *                                     who all gave the same hash (kept in the batches that change it;
 *                                     counted from the key! records when an older state lacks it)
 *   key!K                             JSON KeyRecord { claims: StoredClaim[], alerted: conflict ids }:
 *                                     every claim on K and the conflicts already alerted (the dedup
 *                                     memory). One record per key, so a batch loads the state of
 *                                     all its keys with one multi-get and writes each once.
 *   dispute!K                         JSON DisputeRecord: an open disagreement, with every claim
 *   builder!<fingerprint>             decimal: index of the builder's first entry
 *   seen!<alert id>                   '' (dedup of log-level alerts: inconsistent-log, invalid-entry)
 *   smaller!<size>!<root>             ISO time a smaller checkpoint that could not be proven a prefix
 *                                     of the verified tree was first seen (follower.ts checkStale)
 *   alert!<seq>                       JSON Alert: every alert ever raised (seq zero-padded to 15)
 *   outbox!<seq>                      JSON OutboxRecord { alert, done: sinks that have it, retry: per
 *                                     failed sink { attempts, nextAt, lastError } }: committed but not
 *                                     yet delivered to every configured sink (an older state's bare
 *                                     Alert JSON reads as done: [])
 */
import { mkdirSync } from 'node:fs';
import { Level } from 'level';
import { LafsError } from '../merkle/errors.js';
import { alertId, type Alert, type AlertCheckpoint, type ArtifactKey, type ClaimEvidence, type DisagreementAlert, type InvalidEntryAlert } from './alerts.js';
import { conflictsWith, type Conflict, type ConflictKind, type StoredClaim } from './conflicts.js';

/**
 * Claims kept per (builder, hash) of one key. A builder may legitimately attest the same artifact
 * in a few entries (Bitcoin's all + noncodesigned sums files); one that resubmits it a thousand
 * times must not grow the key's record (read and rewritten with every batch that touches it) or
 * the evidence of its alerts. Past this many, further entries add nothing: they can create no
 * conflict the kept ones did not.
 */
export const MAX_CLAIMS_PER_BUILDER_HASH = 4;

export type StoredCheckpoint = AlertCheckpoint;

/** One processed entry: its builder and artifact claims, or why it is invalid. */
export type ProcessedEntry =
  | { index: number; builder: string; artifacts: { source: string; platform: string | null; name: string; hash: string }[] }
  | { index: number; invalid: string; code?: string };

export interface DisputeRecord {
  key: ArtifactKey;
  kinds: ConflictKind[];
  hashes: string[];
  claims: ClaimEvidence[];
  alerts: string[]; // alert ids, oldest first
  firstSeen: string;
  checkpoint: StoredCheckpoint; // under which the first alert was raised
}

/** Where a failed delivery to one sink stands: tried `attempts` times, next try not before `nextAt`. */
export interface SinkRetry { attempts: number; nextAt: string; lastError: string }

/**
 * An alert in the outbox: `done` lists the sinks that have it (stdout is marked at once, so a
 * restart never prints it twice), `retry` the failed ones. updateOutbox() writes it back, and
 * drops it once every configured sink has it.
 */
export interface PendingAlert { seq: string; alert: Alert; done: string[]; retry: Record<string, SinkRetry> }

interface OutboxRecord { alert: Alert; done: string[]; retry: Record<string, SinkRetry> }

export interface StoreStatus {
  origin: string;
  checkpoint: StoredCheckpoint | null;
  entriesProcessed: number;
  builders: number;
  openDisagreements: number;
  /** Artifact keys attested by at least 2 distinct builders, all with the same hash: the builders' agreement. */
  agreedKeys: number;
  alerts: Record<string, number>;
  pendingDeliveries: number;
}

export interface BatchContext {
  origin: string;
  checkpoint: StoredCheckpoint;
  time: string;
  /** Only claims by these builders can conflict (all, when undefined). */
  trusted?: ReadonlySet<string>;
}

const pad = (n: number) => String(n).padStart(15, '0');
/** Upper bound of a prefix scan: every prefix here ends in '!', and '"' is the next character. */
const prefixRange = (prefix: string) => ({ gte: prefix, lt: prefix.slice(0, -1) + '"' });

export class IndexStore {
  private seq = 0;
  /** Builders known to be recorded already (bounded: a cache, not the truth). */
  private readonly knownBuilders = new Set<string>();
  private cachedCheckpoint: StoredCheckpoint | undefined;
  private next = 0;
  private agreed = 0;

  private constructor(private readonly db: Level<string, string>, readonly origin: string) {}

  /**
   * Opens (creating when `create`) the state of the log `origin` in `dir`. Throws
   * LafsError('usage') when the dir belongs to another log or (without create) holds no state,
   * LafsError('io') when LevelDB cannot open it (e.g. another monitor holds its lock).
   */
  static async open(dir: string, origin: string | undefined, options: { create: boolean }): Promise<IndexStore> {
    if (options.create) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch (error) {
        throw new LafsError('io', `cannot create state dir ${dir}: ${(error as Error).message}`, { cause: error });
      }
    }
    const db = new Level<string, string>(dir, { valueEncoding: 'utf8', createIfMissing: options.create });
    try {
      await db.open();
    } catch (error) {
      const cause = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
      throw new LafsError(options.create ? 'io' : 'usage', `cannot open state dir ${dir}: ${cause}`, { cause: error });
    }
    const stored = await db.get('meta!origin');
    if (stored !== undefined && origin !== undefined && stored !== origin) {
      await db.close();
      throw new LafsError('usage', `state dir ${dir} follows log "${stored}", not "${origin}"`);
    }
    if (stored === undefined && origin === undefined) {
      await db.close();
      throw new LafsError('usage', `state dir ${dir} holds no monitor state`);
    }
    const store = new IndexStore(db, (stored ?? origin)!);
    if (stored === undefined) await db.put('meta!origin', store.origin, { sync: true });
    store.seq = Number((await db.get('meta!seq')) ?? '0');
    store.next = Number((await db.get('meta!next')) ?? '0');
    const cp = await db.get('meta!checkpoint');
    store.cachedCheckpoint = cp === undefined ? undefined : (JSON.parse(cp) as StoredCheckpoint);
    const agreed = await db.get('meta!agreed');
    if (agreed !== undefined) {
      store.agreed = Number(agreed);
    } else {
      // A state written before the figure was kept: count it once from the key records.
      for await (const value of db.values(prefixRange('key!'))) if (isAgreement((JSON.parse(value) as KeyRecord).claims)) store.agreed++;
      if (options.create) await db.put('meta!agreed', String(store.agreed), { sync: true });
    }
    return store;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  checkpoint(): StoredCheckpoint | undefined {
    return this.cachedCheckpoint;
  }

  /** First entry index not yet processed. */
  nextIndex(): number {
    return this.next;
  }

  async lastChange(): Promise<{ at: string; note: string } | undefined> {
    const v = await this.db.get('meta!changed');
    return v === undefined ? undefined : (JSON.parse(v) as { at: string; note: string });
  }

  async stallAlertedFor(): Promise<string | undefined> {
    return this.db.get('meta!stall-alerted');
  }

  /** When the smaller checkpoint (size, root) was first seen unproven, recording `now` if this is the first time. */
  async smallerFirstSeen(size: number, root: string, now: string): Promise<string> {
    const key = `smaller!${size}!${root}`;
    const seen = await this.db.get(key);
    if (seen !== undefined) return seen;
    await this.db.put(key, now, { sync: true });
    return now;
  }

  /** Records a checkpoint proven to extend the previous one (or the first one seen), and when it changed. */
  async saveCheckpoint(cp: StoredCheckpoint, changedAt: string): Promise<void> {
    await this.db.batch(
      [
        { type: 'put', key: 'meta!checkpoint', value: JSON.stringify(cp) },
        { type: 'put', key: 'meta!changed', value: JSON.stringify({ at: changedAt, note: cp.note }) },
        { type: 'del', key: 'meta!stall-alerted' },
      ],
      { sync: true },
    );
    this.cachedCheckpoint = cp;
  }

  /**
   * Records a log-level alert unless one with the same id was recorded before (dedup across
   * restarts). Returns the alert if it is new; it is then in the outbox.
   */
  async recordAlert(alert: Alert, extra: { stallNote?: string } = {}): Promise<PendingAlert | undefined> {
    if ((await this.db.get(`seen!${alert.id}`)) !== undefined) return undefined;
    const ops: { type: 'put'; key: string; value: string }[] = [{ type: 'put', key: `seen!${alert.id}`, value: '' }];
    if (extra.stallNote !== undefined) ops.push({ type: 'put', key: 'meta!stall-alerted', value: extra.stallNote });
    const pending = this.pushAlert(ops, alert);
    ops.push({ type: 'put', key: 'meta!seq', value: String(this.seq) });
    await this.db.batch(ops, { sync: true });
    return pending;
  }

  /**
   * Indexes the claims of entries [nextIndex(), next) and raises the alerts they cause, in one
   * synced batch together with the new position. Returns the new alerts (also in the outbox).
   */
  async commitBatch(entries: readonly ProcessedEntry[], next: number, context: BatchContext): Promise<PendingAlert[]> {
    const ops: { type: 'put'; key: string; value: string }[] = [];
    const alerts: Alert[] = [];
    const keys = new Map<string, KeyState>();
    const newBuilders = new Set<string>();
    const seenInBatch = new Set<string>();
    const trusted = (builder: string) => context.trusted === undefined || context.trusted.has(builder);
    const keyOf = (a: { source: string; platform: string | null; name: string }) => JSON.stringify([a.source, a.platform, a.name]);

    // Everything known about the keys of this batch: one multi-get.
    const batchKeys = [...new Set(entries.flatMap((e) => ('invalid' in e ? [] : e.artifacts.map(keyOf))))];
    const records = await this.db.getMany(batchKeys.map((k) => `key!${k}`));
    const disputed: string[] = [];
    for (let i = 0; i < batchKeys.length; i++) {
      const k = batchKeys[i]!;
      const record = records[i] === undefined ? { claims: [], alerted: [] } : (JSON.parse(records[i]!) as KeyRecord);
      keys.set(k, { claims: record.claims, alerted: new Set(record.alerted), dispute: undefined, dirty: false, agreedBefore: isAgreement(record.claims), ...indexClaims(record.claims, trusted) });
      if (record.alerted.length > 0) disputed.push(k);
    }
    const disputes = disputed.length > 0 ? await this.db.getMany(disputed.map((k) => `dispute!${k}`)) : [];
    disputed.forEach((k, i) => {
      if (disputes[i] !== undefined) keys.get(k)!.dispute = JSON.parse(disputes[i]!) as DisputeRecord;
    });

    for (const entry of entries) {
      if ('invalid' in entry) {
        const code = entry.code ?? /^([a-z-]+):/.exec(entry.invalid)?.[1] ?? 'bad-leaf';
        // Keyed on (index, code), like the follower's: one alert per fault however often it is seen.
        const id = alertId('invalid-entry', context.origin, entry.index, code);
        if (seenInBatch.has(id) || (await this.db.get(`seen!${id}`)) !== undefined) continue;
        seenInBatch.add(id);
        const alert: InvalidEntryAlert = { type: 'invalid-entry', id, time: context.time, log: context.origin, checkpoint: context.checkpoint, index: entry.index, code, reason: entry.invalid };
        ops.push({ type: 'put', key: `seen!${alert.id}`, value: '' });
        alerts.push(alert);
        continue;
      }
      if (!newBuilders.has(entry.builder) && !this.knownBuilders.has(entry.builder)) {
        if ((await this.db.get(`builder!${entry.builder}`)) === undefined) {
          newBuilders.add(entry.builder);
          ops.push({ type: 'put', key: `builder!${entry.builder}`, value: String(entry.index) });
        } else {
          this.rememberBuilder(entry.builder);
        }
      }
      for (const artifact of entry.artifacts) {
        const key: ArtifactKey = { source: artifact.source, platform: artifact.platform, name: artifact.name };
        const k = keyOf(key);
        const state = keys.get(k)!;
        const claim: StoredClaim = { index: entry.index, builder: entry.builder, hash: artifact.hash };
        const pair = `${claim.builder} ${claim.hash}`;
        const kept = state.perPair.get(pair) ?? [];
        // The same claim twice in one entry, or a builder repeating itself past the cap: nothing new.
        if (kept.includes(claim.index) || kept.length >= MAX_CLAIMS_PER_BUILDER_HASH) continue;
        const conflicts = trusted(claim.builder) ? conflictsWith(state.byHash, claim) : [];
        state.claims.push(claim);
        state.perPair.set(pair, [...kept, claim.index]);
        if (trusted(claim.builder)) {
          const builders = state.byHash.get(claim.hash) ?? new Set<string>();
          builders.add(claim.builder);
          state.byHash.set(claim.hash, builders);
        }
        state.changed = true;

        const fresh = conflicts.filter((c) => !state.alerted.has(c.id));
        for (const kind of ['builder-disagreement', 'self-contradiction'] as const) {
          const ofKind = fresh.filter((c) => c.kind === kind);
          if (ofKind.length === 0) continue;
          const alert = disagreementAlert(kind, key, ofKind, state.claims.filter((c) => trusted(c.builder)), context, claim);
          for (const c of ofKind) state.alerted.add(c.id);
          state.dispute = mergeDispute(state.dispute, alert, context);
          alerts.push(alert);
        }
        if (state.dispute) {
          // Keep the dispute's evidence current as more builders weigh in, without a new alert.
          state.dispute.claims = evidence(state.claims.filter((c) => trusted(c.builder)));
          state.dirty = true;
        }
      }
    }
    let agreed = this.agreed;
    for (const [k, state] of keys) {
      if (state.changed) agreed += Number(isAgreement(state.claims)) - Number(state.agreedBefore);
      if (state.changed) ops.push({ type: 'put', key: `key!${k}`, value: JSON.stringify({ claims: state.claims, alerted: [...state.alerted] } satisfies KeyRecord) });
      if (state.dispute && state.dirty) ops.push({ type: 'put', key: `dispute!${k}`, value: JSON.stringify(state.dispute) });
    }
    const pending = alerts.map((alert) => this.pushAlert(ops, alert));
    ops.push({ type: 'put', key: 'meta!seq', value: String(this.seq) });
    ops.push({ type: 'put', key: 'meta!next', value: String(next) });
    if (agreed !== this.agreed) ops.push({ type: 'put', key: 'meta!agreed', value: String(agreed) });
    await this.db.batch(ops, { sync: true });
    this.next = next;
    this.agreed = agreed;
    for (const builder of newBuilders) this.rememberBuilder(builder);
    return pending;
  }

  /** Alerts committed but not yet delivered to every sink (e.g. after a crash), oldest first. */
  async outbox(): Promise<PendingAlert[]> {
    const pending: PendingAlert[] = [];
    for await (const [key, value] of this.db.iterator(prefixRange('outbox!'))) {
      const parsed = JSON.parse(value) as OutboxRecord | Alert;
      const record: OutboxRecord = 'alert' in parsed && 'done' in parsed ? parsed : { alert: parsed as Alert, done: [], retry: {} };
      pending.push({ seq: key.slice('outbox!'.length), alert: record.alert, done: record.done, retry: record.retry ?? {} });
    }
    return pending;
  }

  /** Writes back where `pending` stands; removes it from the outbox when every sink of `sinks` has it. Returns whether it is gone. */
  async updateOutbox(pending: PendingAlert, sinks: readonly string[]): Promise<boolean> {
    if (sinks.every((s) => pending.done.includes(s))) {
      await this.db.del(`outbox!${pending.seq}`, { sync: true });
      return true;
    }
    const record: OutboxRecord = { alert: pending.alert, done: pending.done, retry: pending.retry };
    await this.db.put(`outbox!${pending.seq}`, JSON.stringify(record), { sync: true });
    return false;
  }

  async alerts(): Promise<Alert[]> {
    const all: Alert[] = [];
    for await (const value of this.db.values(prefixRange('alert!'))) all.push(JSON.parse(value) as Alert);
    return all;
  }

  async disputes(): Promise<DisputeRecord[]> {
    const all: DisputeRecord[] = [];
    for await (const value of this.db.values(prefixRange('dispute!'))) all.push(JSON.parse(value) as DisputeRecord);
    return all;
  }

  async status(): Promise<StoreStatus> {
    let builders = 0;
    for await (const _ of this.db.keys(prefixRange('builder!'))) builders++;
    let openDisagreements = 0;
    for await (const _ of this.db.keys(prefixRange('dispute!'))) openDisagreements++;
    let pendingDeliveries = 0;
    for await (const _ of this.db.keys(prefixRange('outbox!'))) pendingDeliveries++;
    const alerts: Record<string, number> = {};
    for (const alert of await this.alerts()) alerts[alert.type] = (alerts[alert.type] ?? 0) + 1;
    return { origin: this.origin, checkpoint: this.cachedCheckpoint ?? null, entriesProcessed: this.next, builders, openDisagreements, agreedKeys: this.agreed, alerts, pendingDeliveries };
  }

  private rememberBuilder(builder: string): void {
    if (this.knownBuilders.size >= 10_000) this.knownBuilders.clear();
    this.knownBuilders.add(builder);
  }

  private pushAlert(ops: { type: 'put'; key: string; value: string }[], alert: Alert): PendingAlert {
    const seq = pad(this.seq++);
    const record: OutboxRecord = { alert, done: [], retry: {} };
    ops.push({ type: 'put', key: `alert!${seq}`, value: JSON.stringify(alert) }, { type: 'put', key: `outbox!${seq}`, value: JSON.stringify(record) });
    return { seq, alert, done: [], retry: {} };
  }
}

interface KeyRecord { claims: StoredClaim[]; alerted: string[] }
interface KeyState {
  claims: StoredClaim[];
  alerted: Set<string>;
  dispute: DisputeRecord | undefined;
  dirty: boolean;
  changed?: boolean;
  agreedBefore: boolean;
  /** Entry indices kept per "builder hash". */
  perPair: Map<string, number[]>;
  /** hash -> builders, trusted claims only: what a new claim can conflict with. */
  byHash: Map<string, Set<string>>;
}

function indexClaims(claims: readonly StoredClaim[], trusted: (builder: string) => boolean): Pick<KeyState, 'perPair' | 'byHash'> {
  const perPair = new Map<string, number[]>();
  const byHash = new Map<string, Set<string>>();
  for (const c of claims) {
    const pair = `${c.builder} ${c.hash}`;
    perPair.set(pair, [...(perPair.get(pair) ?? []), c.index]);
    if (!trusted(c.builder)) continue;
    const builders = byHash.get(c.hash) ?? new Set<string>();
    builders.add(c.builder);
    byHash.set(c.hash, builders);
  }
  return { perPair, byHash };
}

/** At least two distinct builders, and every claim with the same hash. */
function isAgreement(claims: readonly StoredClaim[]): boolean {
  if (claims.length < 2) return false;
  const hash = claims[0]!.hash;
  const builders = new Set<string>();
  for (const c of claims) {
    if (c.hash !== hash) return false;
    builders.add(c.builder);
  }
  return builders.size >= 2;
}

function evidence(claims: readonly StoredClaim[]): ClaimEvidence[] {
  return [...claims].sort((a, b) => a.index - b.index || a.builder.localeCompare(b.builder)).map((c) => ({ index: c.index, builder: c.builder, hash: c.hash }));
}

function disagreementAlert(kind: ConflictKind, key: ArtifactKey, conflicts: Conflict[], claims: readonly StoredClaim[], context: BatchContext, incoming: StoredClaim): DisagreementAlert {
  const hashes = [...new Set(conflicts.flatMap((c) => c.hashes))].sort();
  const alert: DisagreementAlert = {
    type: kind,
    id: alertId(kind, context.origin, key.source, key.platform ?? '', key.name, ...conflicts.map((c) => c.id).sort()),
    time: context.time,
    log: context.origin,
    checkpoint: context.checkpoint,
    key,
    hashes,
    claims: evidence(claims),
  };
  if (kind === 'self-contradiction') alert.builder = incoming.builder;
  return alert;
}

function mergeDispute(existing: DisputeRecord | undefined, alert: DisagreementAlert, context: BatchContext): DisputeRecord {
  if (!existing) return { key: alert.key, kinds: [alert.type], hashes: alert.hashes, claims: alert.claims, alerts: [alert.id], firstSeen: context.time, checkpoint: context.checkpoint };
  return {
    ...existing,
    kinds: [...new Set([...existing.kinds, alert.type])],
    hashes: [...new Set([...existing.hashes, ...alert.hashes])].sort(),
    alerts: [...existing.alerts, alert.id],
  };
}
