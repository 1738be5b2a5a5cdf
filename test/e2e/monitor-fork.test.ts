/**
 * Issue 5, end to end: a log that rewrites history is caught.
 * - A fork: two servers started from copies of one data dir (same key), each given different new
 *   entries; a monitor that followed one and is then pointed at the other raises
 *   `inconsistent-log` with both checkpoints, does not advance, and does not repeat the alert.
 * - Tampering on disk (leaf bytes and a hash tile changed in the server's LevelDB while it is
 *   stopped, with the key layout of log-server/store.ts): a fresh monitor and one that followed
 *   the log before both raise alerts and exit 1.
 */
import test from 'ava';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { keys } from '../../log-server/store.js';
import type { InconsistentLogAlert } from '../../monitor/alerts.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { makeBuilder, manyAttestationBodies } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { explain, monitorOnce, submitAll } from './monitor-support.js';

async function checkpointText(server: RunningServer): Promise<string> {
  return (await fetch(`${server.url}/checkpoint`)).text();
}

test('forked log: the monitor that followed one fork raises inconsistent-log on the other, once', async (t) => {
  const builders = await Promise.all([makeBuilder('A'), makeBuilder('B')]);
  const original = await startServer();
  await submitAll(original, await manyAttestationBodies(builders, 5));
  await original.stop();
  const copy = join(tempDir('lafs-fork-'), 'data');
  cpSync(original.dataDir, copy, { recursive: true });

  const left = await startServer({ dataDir: original.dataDir, origin: original.origin });
  const right = await startServer({ dataDir: copy, origin: original.origin });
  try {
    t.is(right.verifierKey, left.verifierKey, 'same key');
    await submitAll(left, await manyAttestationBodies(builders, 1));
    await submitAll(right, await manyAttestationBodies(builders, 2));
    const state = join(tempDir('lafs-monitor-fork-'), 'state');
    const followed = await monitorOnce(left, state);
    t.is(followed.code, 0, followed.stderr);
    const leftNote = await checkpointText(left);
    const rightNote = await checkpointText(right);

    const result = await monitorOnce(right, state);
    if (result.code !== 1) explain(t, result);
    t.is(result.code, 1);
    t.is(result.alerts.length, 1);
    const alert = result.alerts[0] as InconsistentLogAlert;
    t.is(alert.type, 'inconsistent-log');
    t.is(alert.previous.size, 6);
    t.is(alert.previous.note, leftNote);
    t.is(alert.checkpoint.size, 7);
    t.is(alert.checkpoint.note, rightNote);
    t.regex(alert.reason, /consistency proof from 6 to 7/);

    // Not advanced, not repeated: the next run reports the known inconsistency by exit code only.
    const again = await monitorOnce(right, state);
    t.is(again.code, 1);
    t.deepEqual(again.alerts, []);
    t.regex(again.stderr, /still inconsistent/);

    // Same size, other root: the other fork seen from a fresh monitor's point of view.
    await submitAll(left, await manyAttestationBodies(builders, 1));
    const state2 = join(tempDir('lafs-monitor-fork-'), 'state');
    t.is((await monitorOnce(right, state2)).code, 0);
    const sameSize = await monitorOnce(left, state2);
    t.is(sameSize.code, 1);
    t.like(sameSize.alerts[0], { type: 'inconsistent-log', previous: { size: 7 }, checkpoint: { size: 7 } });
    t.regex((sameSize.alerts[0] as InconsistentLogAlert).reason, /same tree size 7 with a different root/);
  } finally {
    await Promise.all([left.stop(), right.stop()]);
  }
});

test('tampered store: changed leaf bytes and a changed hash tile are caught', async (t) => {
  const builders = await Promise.all([makeBuilder('A'), makeBuilder('B')]);
  let server = await startServer();
  await submitAll(server, await manyAttestationBodies(builders, 6));
  const followedState = join(tempDir('lafs-monitor-tamper-'), 'state');
  t.is((await monitorOnce(server, followedState)).code, 0);
  await server.stop();

  // Flip a byte of leaf 3 and of hash 4 in the level-0 tile, as an attacker with disk access would.
  const db = new Level<Uint8Array, Uint8Array>(join(server.dataDir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const leaf = await db.get(keys.leaf(3));
  const tile = await db.get(keys.tile(0, 0));
  t.truthy(leaf);
  t.truthy(tile);
  const badLeaf = Uint8Array.from(leaf!);
  badLeaf[badLeaf.length - 1]! ^= 1;
  const badTile = Uint8Array.from(tile!);
  badTile[4 * 32]! ^= 1;
  await db.batch([{ type: 'put', key: keys.leaf(3), value: badLeaf }, { type: 'put', key: keys.tile(0, 0), value: badTile }], { sync: true });
  await db.close();

  server = await startServer({ dataDir: server.dataDir, origin: server.origin });
  try {
    const fresh = await monitorOnce(server, join(tempDir('lafs-monitor-tamper-'), 'state'));
    if (fresh.code !== 1) explain(t, fresh);
    t.is(fresh.code, 1);
    t.true(fresh.alerts.length >= 1);
    t.true(fresh.alerts.every((a) => a.type === 'invalid-entry' || a.type === 'inconsistent-log'), fresh.stdout);

    // The monitor that verified the log before: the log's next checkpoint no longer extends it.
    await submitAll(server, await manyAttestationBodies(builders, 1)).catch(() => undefined);
    const followed = await monitorOnce(server, followedState);
    if (followed.code !== 1) explain(t, followed);
    t.is(followed.code, 1);
    t.true(followed.alerts.length >= 1);
    t.true(followed.alerts.every((a) => a.type === 'invalid-entry' || a.type === 'inconsistent-log'), followed.stdout);
  } finally {
    await server.stop();
  }
});
