/**
 * Issue 5, end to end: the real guix.sigs fixture (Bitcoin Core 27.0, 35 signed sums files by 19
 * builders with RSA, ECDSA and EdDSA keys, expired and rotated keys) imported into a real server.
 * The monitor re-verifies every signature itself and reports the builders' real agreement: no
 * alert, 19 builders, no disagreement, and the number of artifact keys that two or more builders
 * attested with one hash, computed here independently from the fixture's sums files. Then one forged dissent (a test builder claiming another
 * hash for a real file name) is caught as exactly one builder-disagreement.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DisagreementAlert } from '../../monitor/alerts.js';
import { run } from '../helpers/process.js';
import { startServer } from '../helpers/server.js';
import { guixBody, guixEntries, guixEntry, guixSigsDir, makeBuilder, sumsBody, BITCOIN_PLATFORM_REGEX } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { explain, monitorOnce, submit, submitAll } from './monitor-support.js';

/**
 * From the fixture files alone (no project code): for every file name in any builder's sums
 * files, the builder folders that list it and the hashes they give. The source is the same
 * bitcoin-27.0.tar.gz for all, and a name's platform is a function of the name, so a key is a name.
 */
function agreementInFixture(): { agreed: number; names: number; disputed: number } {
  const release = join(guixSigsDir, '27.0');
  const byName = new Map<string, { builders: Set<string>; hashes: Set<string> }>();
  for (const builder of readdirSync(release)) {
    for (const file of readdirSync(join(release, builder)).filter((f) => f.endsWith('.SHA256SUMS'))) {
      for (const line of readFileSync(join(release, builder, file), 'utf8').split('\n')) {
        const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
        if (!m) continue;
        const entry = byName.get(m[2]!) ?? { builders: new Set(), hashes: new Set() };
        entry.builders.add(builder);
        entry.hashes.add(m[1]!);
        byName.set(m[2]!, entry);
      }
    }
  }
  const values = [...byName.values()];
  return { agreed: values.filter((v) => v.builders.size >= 2 && v.hashes.size === 1).length, names: values.length, disputed: values.filter((v) => v.hashes.size > 1).length };
}

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
    const s = JSON.parse(status.stdout) as { entriesProcessed: number; builders: number; openDisagreements: number; agreedKeys: number; alerts: Record<string, number> };
    t.is(s.entriesProcessed, 35);
    t.is(s.builders, 19);
    t.is(s.openDisagreements, 0);
    t.deepEqual(s.alerts, {});
    const fixture = agreementInFixture();
    t.is(fixture.disputed, 0, 'the fixture README: all builders agree');
    t.true(fixture.agreed > 20, `the fixture has many jointly attested files (${fixture.agreed})`);
    t.is(s.agreedKeys, fixture.agreed, 'every file two or more builders attested, all with one hash');
    const text = await run('lafs-monitor', ['status', '--state', state]);
    t.regex(text.stdout, new RegExp(`agreeing keys: +${fixture.agreed} `));

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
    const disputedStatus = JSON.parse((await run('lafs-monitor', ['status', '--state', state, '--json'])).stdout) as { agreedKeys: number; openDisagreements: number };
    t.is(disputedStatus.openDisagreements, 1);
    t.is(disputedStatus.agreedKeys, fixture.agreed - 1, 'the disputed file no longer counts as agreed');
  } finally {
    await server.stop();
  }
});
