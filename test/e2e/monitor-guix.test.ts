/**
 * Issue 5, end to end: the real guix.sigs fixture (Bitcoin Core 27.0, 35 signed sums files by 19
 * builders with RSA, ECDSA and EdDSA keys, expired and rotated keys) imported into a real server.
 * The monitor re-verifies every signature itself and reports the builders' real agreement: no
 * alert, 19 builders, no disagreement. Then one forged dissent (a test builder claiming another
 * hash for a real file name) is caught as exactly one builder-disagreement.
 */
import test from 'ava';
import { join } from 'node:path';
import type { DisagreementAlert } from '../../monitor/alerts.js';
import { run } from '../helpers/process.js';
import { startServer } from '../helpers/server.js';
import { guixBody, guixEntries, guixEntry, makeBuilder, sumsBody, BITCOIN_PLATFORM_REGEX } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { explain, monitorOnce, submit, submitAll } from './monitor-support.js';

test('guix.sigs 27.0: real agreement, no false alert; a forged dissent is one alert', async (t) => {
  const server = await startServer();
  try {
    const entries = guixEntries();
    t.is(entries.length, 35);
    await submitAll(server, entries.map((e) => guixBody(e)));
    const state = join(tempDir('lafs-monitor-guix-'), 'state');
    const result = await monitorOnce(server, state);
    if (result.code !== 0) explain(t, result);
    t.is(result.code, 0);
    t.deepEqual(result.alerts, []);

    const status = await run('lafs-monitor', ['status', '--state', state, '--json']);
    const s = JSON.parse(status.stdout) as { entriesProcessed: number; builders: number; openDisagreements: number; alerts: Record<string, number> };
    t.is(s.entriesProcessed, 35);
    t.is(s.builders, 19);
    t.is(s.openDisagreements, 0);
    t.deepEqual(s.alerts, {});

    // A dissenter: same source, a real file name, another hash.
    const fanquake = guixEntry('fanquake', 'noncodesigned');
    const line = new TextDecoder().decode(fanquake.sums).split('\n').find((l) => l.endsWith('-x86_64-linux-gnu.tar.gz'))!;
    const name = line.slice(66);
    const mallory = await makeBuilder('Mallory');
    const index = await submit(server, await sumsBody(mallory, `${'e'.repeat(64)}  ${name}\n`, { source: fanquake.source, platformRegex: BITCOIN_PLATFORM_REGEX }));
    const after = await monitorOnce(server, state);
    t.is(after.code, 1);
    t.is(after.alerts.length, 1);
    const alert = after.alerts[0] as DisagreementAlert;
    t.is(alert.type, 'builder-disagreement');
    t.deepEqual(alert.key, { source: fanquake.source, platform: 'x86_64-linux-gnu', name });
    t.deepEqual(alert.hashes, [`sha256:${line.slice(0, 64)}`, `sha256:${'e'.repeat(64)}`].sort());
    t.is(alert.claims.filter((c) => c.hash === `sha256:${line.slice(0, 64)}`).length, 35, 'every real claim (both files of 16 builders, one file of 3) is evidence');
    t.deepEqual(alert.claims.filter((c) => c.hash !== `sha256:${line.slice(0, 64)}`), [{ index, builder: mallory.fingerprint, hash: `sha256:${'e'.repeat(64)}` }]);
  } finally {
    await server.stop();
  }
});
