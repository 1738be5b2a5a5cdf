/**
 * Issue 5, end to end: a long-running `lafs-monitor` against a real server. It raises a
 * disagreement the moment it appears (and posts it to a webhook), `stalled-log` once when the
 * checkpoint stops changing, `log-unreachable` once when the server goes away (with backoff),
 * and exits 0 on SIGTERM. And the scenario with long-running monitors: agreement, one
 * disagreement with its evidence, a monitor restart, a server restart on the same port.
 */
import test from 'ava';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { Alert, DisagreementAlert } from '../../monitor/alerts.js';
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

/** Waits (bounded) until `state`'s snapshot or live state says `entries` were processed. */
async function processed(state: string, entries: number, timeoutMs = 20_000): Promise<{ entriesProcessed: number; checkpoint: { size: number } }> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const status = await run('lafs-monitor', ['status', '--state', state, '--json']);
    last = status.stdout + status.stderr;
    if (status.code === 0) {
      const s = JSON.parse(status.stdout) as { entriesProcessed: number; checkpoint: { size: number } };
      if (s.entriesProcessed >= entries) return s;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`state ${state} did not reach ${entries} entries in ${timeoutMs} ms; last status: ${last}`);
}

test('live: agreement, one disagreement with its evidence, a monitor restart (no duplicate, no gap), a server restart on the same port under a running monitor (no alert)', async (t) => {
  let server = await startServer();
  const port = new URL(server.url).port;
  const state = join(tempDir('lafs-monitor-live-'), 'state');
  const args = () => ['--log', server.url, '--vkey', server.verifierKey, '--state', state, '--interval', '0.2', '--failures-before-alert', '5'];
  let monitor: LiveMonitor | undefined;
  try {
    const [alice, bob, carol, dave] = await Promise.all([makeBuilder('Alice'), makeBuilder('Bob'), makeBuilder('Carol'), makeBuilder('Dave')]);
    const build = randomStatement({ artifacts: 2 });
    const agreed = [await submit(server, await attestationBody(alice, build)), await submit(server, await attestationBody(bob, build))];
    await submit(server, await attestationBody(alice, randomStatement()));

    // 1. Builders agree: the running monitor processes everything and says nothing.
    monitor = new LiveMonitor(args());
    await processed(state, 3);
    t.deepEqual(monitor.alerts(), []);

    // 2. Carol disagrees on one artifact: exactly one builder-disagreement with the evidence.
    const dissent = { ...build, artifacts: [build.artifacts[0]!, { name: build.artifacts[1]!.name, sha256: 'd'.repeat(64) }] };
    const carolIndex = await submit(server, await attestationBody(carol, dissent));
    const note = await (await fetch(`${server.url}/checkpoint`)).text();
    const seen = await monitor.waitFor((alerts) => alerts.length > 0);
    await new Promise((r) => setTimeout(r, 600)); // a few more polls: still one
    t.is(monitor.alerts().length, 1, monitor.stdout);
    const alert = seen[0] as DisagreementAlert;
    t.is(alert.type, 'builder-disagreement');
    t.deepEqual(alert.key, { source: build.source, platform: build.platform, name: build.artifacts[1]!.name });
    t.deepEqual(alert.hashes, [`sha256:${build.artifacts[1]!.sha256}`, `sha256:${'d'.repeat(64)}`].sort());
    t.deepEqual(alert.claims, [
      { index: agreed[0]!, builder: alice.fingerprint, hash: `sha256:${build.artifacts[1]!.sha256}` },
      { index: agreed[1]!, builder: bob.fingerprint, hash: `sha256:${build.artifacts[1]!.sha256}` },
      { index: carolIndex, builder: carol.fingerprint, hash: `sha256:${'d'.repeat(64)}` },
    ]);
    t.is(alert.checkpoint.size, carolIndex + 1);
    t.is(alert.checkpoint.note, note, 'the signed checkpoint it was seen under, as served');
    t.deepEqual(await monitor.stop('SIGTERM'), { code: 0, signal: null });

    // 3. While it is down, Dave joins Alice's side and more entries arrive. Restarted: no duplicate, no gap.
    await submit(server, await attestationBody(dave, build));
    const before = await submit(server, await attestationBody(bob, randomStatement()));
    monitor = new LiveMonitor(args());
    let s = await processed(state, before + 1);
    t.is(s.entriesProcessed, before + 1);
    await new Promise((r) => setTimeout(r, 600));
    t.deepEqual(monitor.alerts(), [], 'the disagreement is not raised again, Dave is evidence only');

    // 4. The server restarts on the same port under the running monitor: no alert, and it follows on.
    await server.stop();
    server = await startServer({ dataDir: server.dataDir, origin: server.origin, args: ['--port', port] });
    t.is(new URL(server.url).port, port);
    const after = await submit(server, await attestationBody(carol, randomStatement()));
    t.is(after, before + 1);
    s = await processed(state, after + 1, 30_000);
    t.is(s.checkpoint.size, after + 1);
    await new Promise((r) => setTimeout(r, 600));
    t.deepEqual(monitor.alerts(), [], monitor.stderr);
    t.deepEqual(await monitor.stop('SIGTERM'), { code: 0, signal: null });

    const final = JSON.parse((await run('lafs-monitor', ['status', '--state', state, '--json'])).stdout) as { entriesProcessed: number; builders: number; openDisagreements: number; alerts: Record<string, number>; pendingDeliveries: number };
    t.is(final.entriesProcessed, after + 1, 'no gap');
    t.is(final.builders, 4);
    t.is(final.openDisagreements, 1);
    t.deepEqual(final.alerts, { 'builder-disagreement': 1 });
    t.is(final.pendingDeliveries, 0);
  } finally {
    await monitor?.stop('SIGKILL');
    await server.stop();
  }
});
