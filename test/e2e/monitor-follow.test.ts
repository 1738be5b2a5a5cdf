/**
 * Issue 5, end to end: a real `lafs-log` server, real `lafs-monitor --once` processes sharing one
 * state dir. Builders agree (no alert); one later disagrees (exactly one builder-disagreement with
 * the right evidence); the monitor restarts (no duplicate, no gap); the server restarts (no alert);
 * `status` and `disagreements` report it; usage errors exit 2.
 */
import test from 'ava';
import { join } from 'node:path';
import type { DisagreementAlert } from '../../monitor/alerts.js';
import { run } from '../helpers/process.js';
import { startServer } from '../helpers/server.js';
import { attestationBody, makeBuilder, randomStatement, type StatementInput } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { explain, monitorOnce, submit, submitAll } from './monitor-support.js';

test.serial('agreement, one disagreement alerted once with its evidence, monitor and server restarts', async (t) => {
  let server = await startServer();
  const state = join(tempDir('lafs-monitor-state-'), 'state');
  try {
    const [alice, bob, carol, dave] = await Promise.all([makeBuilder('Alice'), makeBuilder('Bob'), makeBuilder('Carol'), makeBuilder('Dave')]);
    const build: StatementInput = randomStatement({ artifacts: 2 });
    const agreed = await submitAll(server, [await attestationBody(alice, build), await attestationBody(bob, build), await attestationBody(alice, randomStatement())]);

    // 1. Builders agree: no alert, exit 0, every entry processed.
    let result = await monitorOnce(server, state);
    if (result.code !== 0) explain(t, result);
    t.is(result.code, 0);
    t.deepEqual(result.alerts, []);

    // 2. Carol disagrees on one artifact: exactly one builder-disagreement, with every claim.
    const changed = { ...build, artifacts: [build.artifacts[0]!, { name: build.artifacts[1]!.name, sha256: 'f'.repeat(64) }] };
    const carolIndex = await submit(server, await attestationBody(carol, changed));
    result = await monitorOnce(server, state);
    if (result.code !== 1) explain(t, result);
    t.is(result.code, 1);
    t.is(result.alerts.length, 1);
    const alert = result.alerts[0] as DisagreementAlert;
    t.is(alert.type, 'builder-disagreement');
    t.is(alert.log, server.origin);
    t.is(alert.checkpoint.size, carolIndex + 1);
    t.regex(alert.checkpoint.note, new RegExp(`^${server.origin.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n${carolIndex + 1}\\n`));
    t.deepEqual(alert.key, { source: build.source, platform: build.platform, name: build.artifacts[1]!.name });
    t.deepEqual(alert.hashes, [`sha256:${build.artifacts[1]!.sha256}`, `sha256:${'f'.repeat(64)}`].sort());
    t.deepEqual(alert.claims, [
      { index: agreed[0]!, builder: alice.fingerprint, hash: `sha256:${build.artifacts[1]!.sha256}` },
      { index: agreed[1]!, builder: bob.fingerprint, hash: `sha256:${build.artifacts[1]!.sha256}` },
      { index: carolIndex, builder: carol.fingerprint, hash: `sha256:${'f'.repeat(64)}` },
    ]);

    // 3. Monitor restarts: nothing new, so no alert again (no duplicate) and exit 0.
    result = await monitorOnce(server, state);
    t.is(result.code, 0);
    t.deepEqual(result.alerts, []);

    // Dave joins Bob's side and a fresh entry arrives: evidence, not a new conflict; no gap.
    await submit(server, await attestationBody(dave, build));
    const lastIndex = await submit(server, await attestationBody(bob, randomStatement()));
    result = await monitorOnce(server, state);
    t.is(result.code, 0);
    t.deepEqual(result.alerts, []);

    // 4. Server restarts (same data, new port): no alert, and new entries are still followed.
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, origin: server.origin });
    result = await monitorOnce(server, state);
    if (result.code !== 0) explain(t, result);
    t.is(result.code, 0);
    t.deepEqual(result.alerts, []);
    const afterRestart = await submit(server, await attestationBody(carol, randomStatement()));
    t.is(afterRestart, lastIndex + 1);
    result = await monitorOnce(server, state);
    t.is(result.code, 0);
    t.deepEqual(result.alerts, []);

    // status and disagreements read the same state.
    const status = await run('lafs-monitor', ['status', '--state', state, '--json']);
    t.is(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { checkpoint: { size: number }; entriesProcessed: number; builders: number; openDisagreements: number; alerts: Record<string, number> };
    t.is(s.checkpoint.size, afterRestart + 1);
    t.is(s.entriesProcessed, afterRestart + 1, 'no gap: every entry processed');
    t.is(s.builders, 4);
    t.is(s.openDisagreements, 1);
    t.deepEqual(s.alerts, { 'builder-disagreement': 1 });
    const text = await run('lafs-monitor', ['status', '--state', state]);
    t.regex(text.stdout, new RegExp(`verified size: +${afterRestart + 1}`));
    t.regex(text.stdout, /open disagreements: 1/);

    const list = await run('lafs-monitor', ['disagreements', '--state', state, '--json']);
    t.is(list.code, 0, list.stderr);
    const disputes = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: { name: string }; claims: { builder: string }[] });
    t.is(disputes.length, 1);
    t.is(disputes[0]!.key.name, build.artifacts[1]!.name);
    t.deepEqual(disputes[0]!.claims.map((c) => c.builder).sort(), [alice.fingerprint, bob.fingerprint, carol.fingerprint, dave.fingerprint].sort());
  } finally {
    await server.stop();
  }
});

test('usage errors exit 2 with a one-line reason; --help exits 0 with examples', async (t) => {
  const help = await run('lafs-monitor', ['--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /Examples:/);
  t.regex(help.stdout, /--stall-after/);

  for (const args of [[], ['--log', 'http://127.0.0.1:1', '--vkey', 'x+1+AQ'], ['--bogus'], ['--log', 'not a url', '--vkey', 'a+b+c'], ['--log', 'http://127.0.0.1:1', '--vkey', 'a+b+c', '--interval', '0'], ['status']]) {
    const result = await run('lafs-monitor', args, { env: { XDG_DATA_HOME: tempDir() } });
    t.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    t.is(result.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${result.stderr}`);
    t.is(result.stdout, '');
  }
  // $LAFS_LOG and $LAFS_VKEY stand in for the options: the reason is then the key's, as with the options given.
  const fromEnv = await run('lafs-monitor', [], { env: { XDG_DATA_HOME: tempDir(), LAFS_LOG: 'http://127.0.0.1:1', LAFS_VKEY: 'x+1+AQ' } });
  const fromArgs = await run('lafs-monitor', ['--log', 'http://127.0.0.1:1', '--vkey', 'x+1+AQ'], { env: { XDG_DATA_HOME: tempDir() } });
  t.is(fromEnv.code, 2);
  t.is(fromEnv.stderr, fromArgs.stderr);
  t.notRegex(fromEnv.stderr, /is required/);
  const missing = await run('lafs-monitor', ['status', '--state', join(tempDir(), 'none')]);
  t.is(missing.code, 2);
});
