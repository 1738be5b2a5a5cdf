/**
 * The monitor's disagreement index and alert dedup (monitor/index-store.ts, monitor/conflicts.ts),
 * on a real LevelDB in a temp dir: the right kind of alert with every claim as evidence, never
 * twice for the same conflict (also across a reopen), and nothing for agreement or repeats.
 */
import test from 'ava';
import { join } from 'node:path';
import { IndexStore, MAX_CLAIMS_PER_BUILDER_HASH, type ProcessedEntry } from '../../monitor/index-store.js';
import { conflictsOf, conflictsWith } from '../../monitor/conflicts.js';
import type { DisagreementAlert } from '../../monitor/alerts.js';
import { tempDir } from '../helpers/tmp.js';

const ORIGIN = 'test.example/lafs-log';
const cp = (size: number) => ({ size, root: Buffer.alloc(32, size).toString('base64'), note: `${ORIGIN}\n${size}\nroot\n\n— sig\n` });
const H = (c: string) => `sha256:${c.repeat(64)}`;
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const src = `sha256:${'5'.repeat(64)}`;

function entry(index: number, builder: string, hash: string, name = 'foo.tar.gz', platform: string | null = 'x86_64-linux-gnu'): ProcessedEntry {
  return { index, builder, artifacts: [{ source: src, platform, name, hash }] };
}

async function open(dir = join(tempDir('lafs-monitor-store-'), 'db')) {
  return { dir, store: await IndexStore.open(dir, ORIGIN, { create: true }) };
}

const ctx = (size: number, trusted?: Set<string>) => ({ origin: ORIGIN, checkpoint: cp(size), time: '2026-11-23T00:00:00.000Z', ...(trusted ? { trusted } : {}) });

test('conflictsOf: agreement none, other builder disagreement, same builder self-contradiction', (t) => {
  const existing = [{ index: 0, builder: A, hash: H('1') }, { index: 1, builder: B, hash: H('1') }];
  t.deepEqual(conflictsOf(existing, { index: 2, builder: C, hash: H('1') }), []);
  const d = conflictsOf(existing, { index: 2, builder: C, hash: H('2') });
  t.is(d.length, 1, 'two builders on one side are one conflict (the pair of hashes)');
  t.is(d[0]!.kind, 'builder-disagreement');
  t.deepEqual(d[0]!.hashes, [H('1'), H('2')]);
  const s = conflictsOf(existing, { index: 2, builder: A, hash: H('2') });
  t.deepEqual(s.map((c) => c.kind).sort(), ['builder-disagreement', 'self-contradiction']);
  t.is(s.find((c) => c.kind === 'self-contradiction')!.builder, A);
});

test('agreeing builders raise nothing; a later dissenter raises exactly one builder-disagreement with every claim', async (t) => {
  const { store } = await open();
  t.deepEqual(await store.commitBatch([entry(0, A, H('1')), entry(1, B, H('1'))], 2, ctx(2)), []);
  const pending = await store.commitBatch([entry(2, C, H('2'))], 3, ctx(3));
  t.is(pending.length, 1);
  const alert = pending[0]!.alert as DisagreementAlert;
  t.is(alert.type, 'builder-disagreement');
  t.is(alert.log, ORIGIN);
  t.deepEqual(alert.checkpoint, cp(3));
  t.deepEqual(alert.key, { source: src, platform: 'x86_64-linux-gnu', name: 'foo.tar.gz' });
  t.deepEqual(alert.hashes, [H('1'), H('2')]);
  t.deepEqual(alert.claims, [
    { index: 0, builder: A, hash: H('1') },
    { index: 1, builder: B, hash: H('1') },
    { index: 2, builder: C, hash: H('2') },
  ]);
  t.is(store.nextIndex(), 3);
  const disputes = await store.disputes();
  t.is(disputes.length, 1);
  t.deepEqual(disputes[0]!.kinds, ['builder-disagreement']);
  await store.close();
});

test('no duplicate alert for the same conflict, in one batch, in later batches, or after a reopen', async (t) => {
  const { dir, store } = await open();
  const first = await store.commitBatch([entry(0, A, H('1')), entry(1, B, H('2')), entry(2, C, H('2'))], 3, ctx(3));
  t.is(first.length, 1, 'C joining B is evidence, not a new conflict');
  t.deepEqual((first[0]!.alert as DisagreementAlert).claims.map((c) => c.index), [0, 1]);
  await store.close();

  const reopened = await IndexStore.open(dir, ORIGIN, { create: false });
  t.is(reopened.nextIndex(), 3);
  t.deepEqual(await reopened.commitBatch([entry(3, C, H('1')), entry(4, A, H('2'))], 5, ctx(5)).then((p) => p.map((x) => x.alert.type)), ['self-contradiction', 'self-contradiction'],
    'C and A each contradict themselves (new conflicts), but {1,2} between builders is not re-alerted');
  const dispute = (await reopened.disputes())[0]!;
  t.deepEqual(dispute.claims.map((c) => c.index), [0, 1, 2, 3, 4], 'the dispute keeps every claim as evidence');
  t.deepEqual(dispute.kinds.sort(), ['builder-disagreement', 'self-contradiction']);
  t.is((await reopened.alerts()).length, 3);
  const third = await reopened.commitBatch([entry(5, B, H('3'))], 6, ctx(6));
  t.is(third.length, 2, 'a third hash is a new builder-disagreement (and B contradicts itself)');
  t.deepEqual(third.map((p) => p.alert.type).sort(), ['builder-disagreement', 'self-contradiction']);
  const bd = third.find((p) => p.alert.type === 'builder-disagreement')!.alert as DisagreementAlert;
  t.deepEqual(bd.hashes, [H('1'), H('2'), H('3')]);
  await reopened.close();
});

test('same builder, same hash in two entries (all + noncodesigned) is not a contradiction; other keys are separate', async (t) => {
  const { store } = await open();
  const pending = await store.commitBatch([
    entry(0, A, H('1')),
    entry(1, A, H('1')),
    entry(2, B, H('2'), 'foo.tar.gz', 'win64'),
    entry(3, B, H('3'), 'bar.tar.gz'),
    entry(4, C, H('4'), 'foo.tar.gz', null),
  ], 5, ctx(5));
  t.deepEqual(pending, []);
  t.is((await store.status()).builders, 3);
});

test('one entry listing a name twice with two hashes is a self-contradiction', async (t) => {
  const { store } = await open();
  const e: ProcessedEntry = { index: 0, builder: A, artifacts: [{ source: src, platform: 'p', name: 'x', hash: H('1') }, { source: src, platform: 'p', name: 'x', hash: H('2') }] };
  const pending = await store.commitBatch([e], 1, ctx(1));
  t.is(pending.length, 1);
  const alert = pending[0]!.alert as DisagreementAlert;
  t.is(alert.type, 'self-contradiction');
  t.is(alert.builder, A);
  t.deepEqual(alert.claims, [{ index: 0, builder: A, hash: H('1') }, { index: 0, builder: A, hash: H('2') }]);
});

test('invalid entries are alerted in the batch that passes them; the outbox holds alerts until delivered', async (t) => {
  const { dir, store } = await open();
  const pending = await store.commitBatch([{ index: 0, invalid: 'bad-signature: does not verify' }, entry(1, A, H('1'))], 2, ctx(2));
  t.is(pending.length, 1);
  t.like(pending[0]!.alert, { type: 'invalid-entry', index: 0, reason: 'bad-signature: does not verify' });
  t.is((await store.outbox()).length, 1);
  await store.close();
  const reopened = await IndexStore.open(dir, ORIGIN, { create: false });
  const outbox = await reopened.outbox();
  t.is(outbox.length, 1, 'an alert not yet delivered survives a restart');
  t.false(await reopened.updateOutbox({ ...outbox[0]!, done: ['stdout'] }, ['stdout', 'webhook']), 'the webhook has not had it yet');
  t.is((await reopened.outbox()).length, 1);
  t.true(await reopened.updateOutbox({ ...outbox[0]!, done: ['stdout', 'webhook'] }, ['stdout', 'webhook']));
  t.deepEqual(await reopened.outbox(), []);
  t.is((await reopened.alerts()).length, 1, 'the history keeps it');
});

test('recordAlert dedups log-level alerts by id, across a reopen', async (t) => {
  const { dir, store } = await open();
  const alert = { type: 'inconsistent-log' as const, id: 'x1', time: 't', log: ORIGIN, previous: cp(3), checkpoint: cp(2), reason: 'smaller' };
  t.truthy(await store.recordAlert(alert));
  t.is(await store.recordAlert({ ...alert, time: 't2' }), undefined);
  await store.close();
  const reopened = await IndexStore.open(dir, ORIGIN, { create: false });
  t.is(await reopened.recordAlert(alert), undefined);
  t.truthy(await reopened.recordAlert({ ...alert, id: 'x2' }));
});

test('with a trusted set, only claims by trusted builders can conflict', async (t) => {
  const { store } = await open();
  const trusted = new Set([A, B]);
  t.deepEqual(await store.commitBatch([entry(0, A, H('1')), entry(1, C, H('2'))], 2, ctx(2, trusted)), []);
  const pending = await store.commitBatch([entry(2, B, H('3'))], 3, ctx(3, trusted));
  t.is(pending.length, 1);
  t.deepEqual((pending[0]!.alert as DisagreementAlert).claims.map((c) => c.builder), [A, B], 'untrusted claims are not evidence');
});

test('checkpoint, position and stall marks persist; a state dir follows one log only', async (t) => {
  const { dir, store } = await open();
  await store.saveCheckpoint(cp(7), '2026-11-23T01:00:00.000Z');
  await store.recordAlert({ type: 'stalled-log', id: 's', time: 't', log: ORIGIN, checkpoint: cp(7), since: 'x', stalledSeconds: 5 }, { stallNote: cp(7).note });
  await store.close();
  const reopened = await IndexStore.open(dir, undefined, { create: false });
  t.deepEqual(reopened.checkpoint(), cp(7));
  t.deepEqual(await reopened.lastChange(), { at: '2026-11-23T01:00:00.000Z', note: cp(7).note });
  t.is(await reopened.stallAlertedFor(), cp(7).note);
  await reopened.saveCheckpoint(cp(8), '2026-11-23T02:00:00.000Z');
  t.is(await reopened.stallAlertedFor(), undefined, 'a change ends the stall');
  await reopened.close();
  await t.throwsAsync(IndexStore.open(dir, 'other.example/log', { create: true }), { message: /follows log "test.example\/lafs-log"/ });
  await t.throwsAsync(IndexStore.open(join(tempDir(), 'nothing'), undefined, { create: false }), { message: /cannot open state dir/ });
});

test('agreedKeys: keys with 2+ distinct builders and one hash; a dissent or a lone builder does not count; survives a reopen', async (t) => {
  const { dir, store } = await open();
  await store.commitBatch([entry(0, A, H('1')), entry(1, A, H('1'), 'solo.tar.gz'), entry(2, A, H('3'), 'self.tar.gz'), entry(3, A, H('3'), 'self.tar.gz')], 4, ctx(4));
  t.is((await store.status()).agreedKeys, 0, 'one builder, however often, is not agreement');
  await store.commitBatch([entry(4, B, H('1')), entry(5, B, H('2'), 'other.tar.gz'), entry(6, C, H('2'), 'other.tar.gz')], 7, ctx(7));
  t.is((await store.status()).agreedKeys, 2);
  await store.close();
  const reopened = await IndexStore.open(dir, ORIGIN, { create: false });
  t.is((await reopened.status()).agreedKeys, 2);
  await reopened.commitBatch([entry(7, C, H('9'))], 8, ctx(8));
  t.is((await reopened.status()).agreedKeys, 1, 'a dissent ends the agreement on foo.tar.gz');
  await reopened.close();
});

test('one builder resubmitting the same artifact cannot blow up a key: claims are kept per (builder, hash) up to a cap', async (t) => {
  const { store } = await open();
  const repeats = Array.from({ length: 60 }, (_, i) => entry(i, A, H('1')));
  t.deepEqual(await store.commitBatch(repeats.slice(0, 30), 30, ctx(30)), []);
  t.deepEqual(await store.commitBatch(repeats.slice(30), 60, ctx(60)), []);
  const pending = await store.commitBatch([entry(60, B, H('2'))], 61, ctx(61));
  t.is(pending.length, 1);
  const alert = pending[0]!.alert as DisagreementAlert;
  t.is(alert.claims.length, MAX_CLAIMS_PER_BUILDER_HASH + 1, 'A\'s 60 identical claims are kept as the first few');
  t.deepEqual(alert.claims.map((c) => c.index), [...Array.from({ length: MAX_CLAIMS_PER_BUILDER_HASH }, (_, i) => i), 60]);
  t.is((await store.status()).builders, 2);
});

test('conflictsWith (hash -> builders) finds exactly the conflicts of conflictsOf (every claim)', (t) => {
  const builders = [A, B, C];
  for (let round = 0; round < 200; round++) {
    const claims = Array.from({ length: 1 + (round % 7) }, (_, i) => ({ index: i, builder: builders[(round * 7 + i * 3) % 3]!, hash: H(String((round + i * i) % 3)) }));
    const incoming = { index: 99, builder: builders[round % 3]!, hash: H(String(round % 4)) };
    const byHash = new Map<string, Set<string>>();
    for (const c of claims) byHash.set(c.hash, (byHash.get(c.hash) ?? new Set()).add(c.builder));
    const ids = (cs: { id: string }[]) => cs.map((c) => c.id).sort();
    t.deepEqual(ids(conflictsWith(byHash, incoming)), ids(conflictsOf(claims, incoming)), JSON.stringify({ claims, incoming }));
  }
});
