/**
 * Issue 5, end to end: a log that rewrites history is caught.
 * - A fork: two servers started from copies of one data dir (same key), each given different new
 *   entries; a monitor that followed one and is then pointed at the other raises
 *   `inconsistent-log` with both checkpoints, does not advance, and does not repeat the alert.
 * - Tampering on disk (a full hash tile and leaf bytes changed in the server's LevelDB while it
 *   is stopped, with the key layout of log-server/store.ts): a fresh monitor and one that
 *   followed the log before both raise `invalid-entry` (for the tile, at its first entry; for the
 *   leaf, at that leaf), stop there, and exit 1.
 */
import test from 'ava';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { keys } from '../../log-server/store.js';
import type { InconsistentLogAlert, InvalidEntryAlert } from '../../monitor/alerts.js';
import { run } from '../helpers/process.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { makeBuilder, manyAttestationBodies, type EntryBody } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { explain, monitorOnce, submit, submitAll } from './monitor-support.js';

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

test('tampered store: a changed full hash tile and changed leaf bytes are caught, by a fresh monitor and by one that followed', async (t) => {
  const builders = await Promise.all([makeBuilder('A'), makeBuilder('B')]);
  let server = await startServer();
  // Over one full tile (256 entries), so level-0 tile 0 is full and anchored by its hash in level-1
  // tile 0: the server's own start-up check of the right edge of the tree does not read it.
  await submitConcurrently(server, await manyAttestationBodies(builders, 300));
  const followedState = join(tempDir('lafs-monitor-tamper-'), 'state');
  t.is((await monitorOnce(server, followedState)).code, 0);
  await submitAll(server, await manyAttestationBodies(builders, 3)); // 300..302, not yet seen by the monitor
  await server.stop();

  // Flip a bit of leaf hash 4 in the full level-0 tile and of leaf 301's bytes, as someone with disk access could.
  const db = new Level<Uint8Array, Uint8Array>(join(server.dataDir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const tile = await db.get(keys.tile(0, 0));
  const leaf = await db.get(keys.leaf(301));
  t.true((tile?.length ?? 0) >= 256 * 32, 'a full tile: its 256 hashes first (then, as store.ts keeps it, its internal levels)');
  t.truthy(leaf);
  const badTile = Uint8Array.from(tile!);
  badTile[4 * 32]! ^= 1;
  const badLeaf = Uint8Array.from(leaf!);
  badLeaf[badLeaf.length - 1]! ^= 1;
  await db.batch([{ type: 'put', key: keys.tile(0, 0), value: badTile }, { type: 'put', key: keys.leaf(301), value: badLeaf }], { sync: true });
  await db.close();

  server = await startServer({ dataDir: server.dataDir, origin: server.origin });
  try {
    // A fresh monitor: tile 0 does not hash to what the signed tree says; it stops there.
    const freshState = join(tempDir('lafs-monitor-tamper-'), 'state');
    const fresh = await monitorOnce(server, freshState);
    if (fresh.code !== 1) explain(t, fresh);
    t.is(fresh.code, 1);
    t.is(fresh.alerts.length, 1);
    t.like(fresh.alerts[0], { type: 'invalid-entry', index: 0, checkpoint: { size: 303 } });
    t.regex((fresh.alerts[0] as InvalidEntryAlert).reason, /inconsistent/);
    const freshStatus = JSON.parse((await run('lafs-monitor', ['status', '--state', freshState, '--json'])).stdout) as { entriesProcessed: number };
    t.is(freshStatus.entriesProcessed, 0, 'nothing past the bad tile is taken as verified');

    // The monitor that followed to 300: the new bundle's leaf 301 does not match its tile. The
    // alert names that exact entry; entry 300 before it matches the signed tree and is processed.
    const followed = await monitorOnce(server, followedState);
    if (followed.code !== 1) explain(t, followed);
    t.is(followed.code, 1);
    t.is(followed.alerts.length, 1);
    t.like(followed.alerts[0], { type: 'invalid-entry', index: 301, code: 'inconsistent', checkpoint: { size: 303 } });
    t.regex((followed.alerts[0] as InvalidEntryAlert).reason, /entry 301 hashes to/);
    const followedStatus = JSON.parse((await run('lafs-monitor', ['status', '--state', followedState, '--json'])).stdout) as { entriesProcessed: number };
    t.is(followedStatus.entriesProcessed, 301);

    // Run again: the same problem is not alerted twice, but the exit code still says it.
    const again = await monitorOnce(server, followedState);
    t.is(again.code, 1);
    t.deepEqual(again.alerts, []);
  } finally {
    await server.stop();
  }
});

async function submitConcurrently(server: RunningServer, bodies: readonly EntryBody[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 32) await Promise.all(bodies.slice(i, i + 32).map((b) => submit(server, b)));
}
