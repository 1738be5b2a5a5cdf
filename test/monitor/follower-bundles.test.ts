/**
 * The Follower's catch-up path through whole entry bundles (verifyBundle + rawBundles, what
 * `lafs-monitor` runs): the same verdicts, index and alerts as the entry-by-entry path, over
 * several tiles and a start in the middle of one; a worker dying while it holds a bundle is
 * retried and never a verdict; bad signatures, bad leaves, tampered and malformed bundles are
 * alerted exactly as on the entry-by-entry path (test/monitor/follower.test.ts).
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VerifyPool } from '../../attestation/verify-pool.js';
import { LafsError } from '../../merkle/errors.js';
import type { Alert, InvalidEntryAlert } from '../../monitor/alerts.js';
import type { FollowerOptions } from '../../monitor/follower.js';
import { httpRawBundleReader } from '../../monitor/tile-reader.js';
import { makeBuilder, randomStatement, type TestBuilder } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { attestationLeaf, badSignatureLeaf, harness, StaticLog, tamperBundle } from './follower-harness.js';

let builders: TestBuilder[] = [];
let pool: VerifyPool;
test.before(async () => {
  builders = await Promise.all([makeBuilder('Alice'), makeBuilder('Bob'), makeBuilder('Carol')]);
  pool = new VerifyPool({ threads: 2 });
});
test.after.always(async () => {
  await pool.close();
});

async function leaves(n: number): Promise<Uint8Array[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => attestationLeaf(builders[i % 2]!, randomStatement())));
}

const stateDir = () => join(tempDir('lafs-follower-bundles-'), 'state');

/** The options that put a follower of `url` on the bundle path, through `p` (`before` runs before each request is posted). */
function bundlePath(url: string, p: VerifyPool = pool, before?: () => void): Partial<FollowerOptions> {
  return {
    verifyBundle: (request) => {
      before?.();
      return p.verifyBundle(request);
    },
    rawBundles: httpRawBundleReader(url, { retries: 0 }),
  };
}

/** Alerts without their time of raising, for comparing two runs. */
const timeless = (alerts: Alert[]) => alerts.map(({ time: _t, ...rest }) => rest);

test('bundle path and entry-by-entry path agree: index, status, disputes and alerts, over three tiles, a partial one, and a start inside a tile', async (t) => {
  // 600 entries: pairs of builders on the same statement, every 50th pair disagreeing, a bad
  // signature at 300, a leaf that does not decode at 301 (still correctly hashed in the tree).
  const entries: Uint8Array[] = [];
  for (let i = 0; entries.length < 600; i++) {
    const statement = randomStatement();
    entries.push(await attestationLeaf(builders[0]!, statement));
    const other = i % 50 === 7 ? { ...statement, artifacts: statement.artifacts.map((a) => ({ ...a, sha256: a.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')) })) } : statement;
    entries.push(await attestationLeaf(builders[1 + (i % 2)]!, other));
  }
  entries[300] = badSignatureLeaf(entries[300]!);
  entries[301] = new TextEncoder().encode('not a leaf at all');
  const log = await StaticLog.serve(entries.slice(0, 100));
  const results: { status: unknown; disputes: unknown; alerts: unknown; stored: unknown }[] = [];
  const states = [stateDir(), stateDir()];
  try {
    for (const step of [100, 600]) {
      log.write(entries.slice(0, step));
      for (const [k, state] of states.entries()) {
        // Both through the pool (what lafs-monitor runs): one leaf per message, or one bundle.
        const h = await harness(log.url, state, { verify: (leaf) => pool.verify(leaf), ...(k === 1 ? bundlePath(log.url) : {}) });
        try {
          await h.follower.run();
          t.is(h.store.nextIndex(), step);
          if (step === 600) {
            const { lastChange: _l, ...status } = (await h.store.status()) as unknown as Record<string, unknown>;
            results.push({ status, disputes: (await h.store.disputes()).map(({ firstSeen: _f, ...d }) => d), alerts: timeless(h.alerts()), stored: timeless(await h.store.alerts()) });
          }
        } finally {
          await h.close();
        }
      }
    }
    t.deepEqual(results[1], results[0]);
    const alerts = results[1]!.alerts as Alert[];
    t.deepEqual(alerts.filter((a) => a.type === 'invalid-entry').map((a) => [(a as InvalidEntryAlert).index, (a as InvalidEntryAlert).code]), [[300, 'bad-signature'], [301, 'bad-leaf']]);
    // Six disagreeing pairs; the one at entries 14/15 was alerted by the first run (size 100).
    t.is(alerts.filter((a) => a.type === 'builder-disagreement').length, 5);
    t.is((results[1]!.stored as Alert[]).filter((a) => a.type === 'builder-disagreement').length, 6);
  } finally {
    await log.close();
  }
});

test('bundle path: a worker that dies holding a bundle is retried (the bundle fetched again): no invalid-entry, no entry skipped', async (t) => {
  const log = await StaticLog.serve(await leaves(6));
  const one = new VerifyPool({ threads: 1 });
  let calls = 0;
  // The only worker is being terminated when the first bundle is posted to it, as a crash would
  // take it: the request is never answered, and the pool replaces the worker on its exit.
  const h = await harness(log.url, stateDir(), bundlePath(log.url, one, () => {
    if (++calls === 1) void (one as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots[0]!.worker.terminate();
  }));
  try {
    const result = await h.follower.run();
    t.deepEqual(h.alerts(), [], h.stdout());
    t.is(result.alertsRaised, 0);
    t.is(h.store.nextIndex(), 6);
    t.is(calls, 2);
    t.true(h.logLines.some((l) => /verifying entries 0\.\.5 failed .*worker failed.*retrying/.test(l)), h.logLines.join('\n'));
  } finally {
    await h.close();
    await one.close();
    await log.close();
  }
});

test('bundle path: a verifier that keeps failing fails the poll, commits nothing, raises nothing', async (t) => {
  const log = await StaticLog.serve(await leaves(5));
  const h = await harness(log.url, stateDir(), {
    ...bundlePath(log.url),
    verifyBundle: async () => {
      throw new LafsError('unavailable', 'verification worker failed (exited with code 1)');
    },
  });
  try {
    const error = await t.throwsAsync(h.follower.run());
    t.regex(error!.message, /worker failed/);
    t.true(error instanceof LafsError && error.code === 'unavailable');
    t.is(h.store.nextIndex(), 0);
    t.deepEqual(h.alerts(), []);
  } finally {
    await h.close();
    await log.close();
  }
});

test('bundle path: a tampered bundle is one invalid-entry at the exact leaf (inconsistent), entries before it processed; cleared when served right', async (t) => {
  const entries = await leaves(6);
  const log = await StaticLog.serve(entries);
  const bundleFile = join(log.dir, 'tile/entries/000.p/6');
  tamperBundle(bundleFile, 6, 4);
  const state = stateDir();
  let h = await harness(log.url, state, bundlePath(log.url));
  try {
    const result = await h.follower.run();
    const alerts = h.alerts();
    t.is(alerts.length, 1, h.stdout());
    t.like(alerts[0], { type: 'invalid-entry', index: 4, code: 'inconsistent', checkpoint: { size: 6 } });
    t.regex((alerts[0] as InvalidEntryAlert).reason, /entry 4 hashes to .* does not match its signed tree/);
    t.true(result.inconsistent);
    t.is(h.store.nextIndex(), 4);
  } finally {
    await h.close();
  }
  log.write(entries);
  h = await harness(log.url, state, bundlePath(log.url));
  try {
    const result = await h.follower.run();
    t.deepEqual(h.alerts(), []);
    t.false(result.inconsistent);
    t.is(h.store.nextIndex(), 6);
  } finally {
    await h.close();
    await log.close();
  }
});

test('bundle path: a malformed bundle (trailing bytes) is one invalid-entry at its first entry, as on the entry-by-entry path', async (t) => {
  const entries = await leaves(4);
  const results: unknown[] = [];
  for (const bundles of [false, true]) {
    const log = await StaticLog.serve(entries);
    const bundleFile = join(log.dir, 'tile/entries/000.p/4');
    writeFileSync(bundleFile, Buffer.concat([readFileSync(bundleFile), Buffer.from([0, 1, 7])]));
    const h = await harness(log.url, stateDir(), { verify: (leaf) => pool.verify(leaf), ...(bundles ? bundlePath(log.url) : {}) });
    try {
      const result = await h.follower.run();
      t.true(result.inconsistent);
      t.is(h.store.nextIndex(), 0);
      results.push(timeless(h.alerts()));
    } finally {
      await h.close();
      await log.close();
    }
  }
  t.like((results[1] as Alert[])[0], { type: 'invalid-entry', index: 0, code: 'inconsistent' });
  t.regex(((results[1] as InvalidEntryAlert[])[0]!).reason, /malformed entry bundle/);
  // The same alert but for the log's URL (each run had its own server).
  const strip = (a: unknown) => JSON.parse(JSON.stringify(a).replace(/http:\/\/127\.0\.0\.1:\d+/g, 'URL')) as unknown;
  t.deepEqual(strip(results[1]), strip(results[0]));
});
