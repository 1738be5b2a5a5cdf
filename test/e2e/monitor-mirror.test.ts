/**
 * Issue 5, end to end: real `lafs-monitor --once` processes against static tile mirrors built
 * straight from merkle functions (test/helpers/mirror.ts), served by a plain file server on
 * 127.0.0.1, for what a live server cannot easily be made to serve: a leaf with a bad builder
 * signature inside a correctly hashed tree.
 */
import test from 'ava';
import { join } from 'node:path';
import type { InvalidEntryAlert } from '../../monitor/alerts.js';
import { run } from '../helpers/process.js';
import { makeBuilder, randomStatement } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { attestationLeaf, badSignatureLeaf, logKeys, StaticLog } from '../monitor/follower-harness.js';
import { explain, monitorOnce } from './monitor-support.js';

const mirror = (log: StaticLog) => ({ url: log.url, verifierKey: logKeys.verifierKey });

test('a bad builder signature in a correctly hashed tree: one invalid-entry at that index, exit 1, the rest indexed, never re-alerted', async (t) => {
  const [alice, bob] = await Promise.all([makeBuilder('Alice'), makeBuilder('Bob')]);
  const good = await Promise.all(Array.from({ length: 5 }, (_, i) => attestationLeaf(i % 2 ? bob : alice, randomStatement())));
  const leaves = [good[0]!, good[1]!, badSignatureLeaf(good[2]!), good[3]!, good[4]!];
  const log = await StaticLog.serve(leaves);
  const state = join(tempDir('lafs-monitor-mirror-'), 'state');
  try {
    const result = await monitorOnce(mirror(log), state);
    if (result.code !== 1) explain(t, result);
    t.is(result.code, 1);
    t.is(result.alerts.length, 1);
    t.like(result.alerts[0], { type: 'invalid-entry', index: 2, code: 'bad-signature', checkpoint: { size: 5 } });
    t.regex((result.alerts[0] as InvalidEntryAlert).reason, /^bad-signature: /);
    const status = JSON.parse((await run('lafs-monitor', ['status', '--state', state, '--json'])).stdout) as { entriesProcessed: number; builders: number };
    t.is(status.entriesProcessed, 5, 'the monitor went on past the bad leaf');
    t.is(status.builders, 2);

    log.write([...leaves, await attestationLeaf(alice, randomStatement())]);
    const again = await monitorOnce(mirror(log), state);
    if (again.code !== 0) explain(t, again);
    t.is(again.code, 0);
    t.deepEqual(again.alerts, []);
  } finally {
    await log.close();
  }
});
