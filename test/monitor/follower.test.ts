/**
 * The Follower in process, against static tile logs on 127.0.0.1 (test/monitor/follower-harness.ts):
 * a verification worker crash is retried and never becomes `invalid-entry`; bad entries in a
 * correctly hashed tree are alerted once and passed; stale checkpoints are proven, not alerted.
 */
import test from 'ava';
import { join } from 'node:path';
import { VerifyPool } from '../../attestation/verify-pool.js';
import { LafsError } from '../../merkle/errors.js';
import type { InvalidEntryAlert } from '../../monitor/alerts.js';
import { makeBuilder, randomStatement, type TestBuilder } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { attestationLeaf, harness, StaticLog } from './follower-harness.js';

let builders: TestBuilder[] = [];
test.before(async () => {
  builders = await Promise.all([makeBuilder('Alice'), makeBuilder('Bob')]);
});

async function leaves(n: number): Promise<Uint8Array[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => attestationLeaf(builders[i % builders.length]!, randomStatement())));
}

const stateDir = () => join(tempDir('lafs-follower-state-'), 'state');

test('a verification worker that dies mid-batch is retried: no invalid-entry, no entry skipped', async (t) => {
  const log = await StaticLog.serve(await leaves(6));
  const pool = new VerifyPool({ threads: 1 });
  let calls = 0;
  const h = await harness(log.url, stateDir(), {
    verify: (leaf) => {
      const answer = pool.verify(leaf);
      // Kill the worker while it holds the third request, as a crash (OOM, native abort) would.
      if (++calls === 3) void (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots[0]!.worker.terminate();
      return answer;
    },
  });
  try {
    const result = await h.follower.run();
    t.deepEqual(h.alerts(), [], h.stdout());
    t.is(result.alertsRaised, 0);
    t.is(h.store.nextIndex(), 6);
    t.true(h.logLines.some((l) => /verifying entry \d+ failed .*worker failed.*retrying/.test(l)), h.logLines.join('\n'));
  } finally {
    await h.close();
    await pool.close();
    await log.close();
  }
});

test('a verifier that keeps failing fails the poll and commits nothing past it; the next run verifies the batch', async (t) => {
  const log = await StaticLog.serve(await leaves(5));
  const state = stateDir();
  const broken = await harness(log.url, state, {
    verify: async () => {
      throw new LafsError('unavailable', 'verification worker failed (exited with code 1)');
    },
  });
  try {
    const error = await t.throwsAsync(broken.follower.run());
    t.regex(error!.message, /worker failed/);
    t.is(broken.store.nextIndex(), 0, 'nothing indexed past an entry that was never verified');
    t.deepEqual(broken.alerts(), []);
    t.deepEqual((await broken.store.alerts()).map((a) => a.type), []);
  } finally {
    await broken.close();
  }
  const h = await harness(log.url, state);
  try {
    await h.follower.run();
    t.deepEqual(h.alerts(), []);
    t.is(h.store.nextIndex(), 5);
  } finally {
    await h.close();
    await log.close();
  }
});

export { type InvalidEntryAlert };
