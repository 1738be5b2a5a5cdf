/**
 * Issue 5, end to end: a long-running `lafs-monitor` against a real server. It raises a
 * disagreement the moment it appears (and posts it to a webhook), `stalled-log` once when the
 * checkpoint stops changing, `log-unreachable` once when the server goes away (with backoff),
 * and exits 0 on SIGTERM.
 */
import test from 'ava';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { Alert } from '../../monitor/alerts.js';
import { run } from '../helpers/process.js';
import { startServer } from '../helpers/server.js';
import { attestationBody, makeBuilder, randomStatement } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { LiveMonitor, submit } from './monitor-support.js';

test('live: disagreement at once (stdout and webhook), stalled-log once, log-unreachable once, SIGTERM exits 0', async (t) => {
  const server = await startServer();
  const hookBodies: string[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
      hookBodies.push(body);
      res.end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/`;
  const state = join(tempDir('lafs-monitor-live-'), 'state');
  let monitor: LiveMonitor | undefined;
  try {
    const [alice, bob] = await Promise.all([makeBuilder('Alice'), makeBuilder('Bob')]);
    const build = randomStatement();
    await submit(server, await attestationBody(alice, build));

    monitor = new LiveMonitor(['--log', server.url, '--vkey', server.verifierKey, '--state', state, '--interval', '0.2', '--stall-after', '3', '--failures-before-alert', '2', '--webhook', hookUrl]);
    await monitor.waitForLog(/first checkpoint: size 1/);

    const bobIndex = await submit(server, await attestationBody(bob, { ...build, artifacts: [{ name: build.artifacts[0]!.name, sha256: '0'.repeat(64) }] }));
    const seen = await monitor.waitFor((alerts) => alerts.some((a) => a.type === 'builder-disagreement'));
    const disagreement = seen.find((a) => a.type === 'builder-disagreement')!;
    t.like(disagreement, { type: 'builder-disagreement', checkpoint: { size: bobIndex + 1 } });

    // status works while the monitor holds the LevelDB lock: it reads the snapshot of the last poll.
    let during = await run('lafs-monitor', ['status', '--state', state]);
    for (let i = 0; i < 50 && !/open disagreements: 1/.test(during.stdout); i++) {
      await new Promise((r) => setTimeout(r, 100));
      during = await run('lafs-monitor', ['status', '--state', state]);
    }
    t.is(during.code, 0, during.stderr);
    t.regex(during.stdout, /open disagreements: 1/);
    t.regex(during.stdout, /a monitor is running/);

    // No growth and no re-signing for 3 s: one stalled-log, not one per poll.
    const stalled = await monitor.waitFor((alerts) => alerts.some((a) => a.type === 'stalled-log'), 15_000);
    t.like(stalled.find((a) => a.type === 'stalled-log'), { checkpoint: { size: bobIndex + 1 } });
    await new Promise((r) => setTimeout(r, 1_000));
    t.is(monitor.alerts().filter((a) => a.type === 'stalled-log').length, 1);

    // The server goes away: after 2 failed polls (with backoff), one log-unreachable.
    await server.stop();
    const down = await monitor.waitFor((alerts) => alerts.some((a) => a.type === 'log-unreachable'), 30_000);
    const unreachable = down.find((a) => a.type === 'log-unreachable') as Extract<Alert, { type: 'log-unreachable' }>;
    t.is(unreachable.failures, 2);
    t.is(unreachable.checkpoint?.size, bobIndex + 1);
    t.regex(monitor.stderr, /poll failed \(1 in a row\).*next try in 1 s/);
    t.regex(monitor.stderr, /poll failed \(2 in a row\).*next try in 2 s/);

    const exit = await monitor.stop('SIGTERM');
    t.deepEqual(exit, { code: 0, signal: null });
    t.is(monitor.alerts().filter((a) => a.type === 'log-unreachable').length, 1);
    t.is(monitor.alerts().filter((a) => a.type === 'builder-disagreement').length, 1);

    // Every alert also reached the webhook, as the same JSON.
    t.deepEqual(hookBodies.map((b) => (JSON.parse(b) as Alert).id).sort(), monitor.alerts().map((a) => a.id).sort());
  } finally {
    await monitor?.stop('SIGKILL');
    await server.stop();
    hook.close();
  }
});
