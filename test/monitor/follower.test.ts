/**
 * The Follower in process, against static tile logs on 127.0.0.1 (test/monitor/follower-harness.ts):
 * a verification worker crash is retried and never becomes `invalid-entry`; bad entries in a
 * correctly hashed tree are alerted once and passed; stale checkpoints are proven, not alerted.
 */
import test from 'ava';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { VerifyPool } from '../../attestation/verify-pool.js';
import { LafsError } from '../../merkle/errors.js';
import type { InconsistentLogAlert, InvalidEntryAlert } from '../../monitor/alerts.js';
import { makeBuilder, randomStatement, type TestBuilder } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { attestationLeaf, badSignatureLeaf, harness, StaticLog, tamperBundle } from './follower-harness.js';

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

test('a bad builder signature inside a correctly hashed tree: invalid-entry once, at that index, and the monitor goes on', async (t) => {
  const good = await leaves(7);
  const all = [...good.slice(0, 3), badSignatureLeaf(good[3]!), ...good.slice(4)];
  const log = await StaticLog.serve(all);
  const state = stateDir();
  let h = await harness(log.url, state);
  try {
    const result = await h.follower.run();
    const alerts = h.alerts();
    t.is(alerts.length, 1, h.stdout());
    const alert = alerts[0] as InvalidEntryAlert;
    t.like(alert, { type: 'invalid-entry', index: 3, code: 'bad-signature', checkpoint: { size: 7 } });
    t.regex(alert.reason, /^bad-signature: signature: /);
    t.is(result.alertsRaised, 1);
    t.false(result.inconsistent, 'a bad leaf in a valid tree is not log inconsistency');
    t.is(h.store.nextIndex(), 7, 'the monitor continues past a bad leaf the tree commits to');
  } finally {
    await h.close();
  }
  // The log grows: the bad entry is behind us, never alerted again.
  log.write([...all, ...(await leaves(3))]);
  h = await harness(log.url, state);
  try {
    await h.follower.run();
    t.deepEqual(h.alerts(), []);
    t.is(h.store.nextIndex(), 10);
    t.is((await h.store.alerts()).length, 1);
  } finally {
    await h.close();
    await log.close();
  }
});

test('a bundle that does not match the signed tree: one invalid-entry at the exact leaf, no re-alert as the log grows, cleared when the mirror serves it right', async (t) => {
  let entries = await leaves(6);
  const log = await StaticLog.serve(entries);
  const bundleFile = join(log.dir, 'tile/entries/000.p/6');
  tamperBundle(bundleFile, 6, 4);
  const state = stateDir();
  let h = await harness(log.url, state);
  try {
    const result = await h.follower.run();
    const alerts = h.alerts();
    t.is(alerts.length, 1, h.stdout());
    t.like(alerts[0], { type: 'invalid-entry', index: 4, code: 'inconsistent', checkpoint: { size: 6 } });
    t.regex((alerts[0] as InvalidEntryAlert).reason, /entry 4 hashes to .* does not match its signed tree/);
    t.true(result.inconsistent);
    t.is(h.store.nextIndex(), 4, 'entries before the bad one are proven and processed; nothing past it');
  } finally {
    await h.close();
  }

  // The log grows (new checkpoints, new roots) while still serving the bad leaf: no new alert.
  for (const more of [2, 3]) {
    entries = [...entries, ...(await leaves(more))];
    log.write(entries);
    tamperBundle(join(log.dir, `tile/entries/000.p/${entries.length}`), entries.length, 4);
    h = await harness(log.url, state);
    try {
      const result = await h.follower.run();
      t.deepEqual(h.alerts(), [], `no new alert at size ${entries.length}`);
      t.true(result.inconsistent);
      t.is(h.store.nextIndex(), 4);
      t.is(h.store.checkpoint()!.size, entries.length, 'the checkpoint still advances (it is proven consistent)');
      t.true(h.logLines.some((l) => /entry 4 still does not match the tree \(alerted before/.test(l)));
    } finally {
      await h.close();
    }
  }

  // The mirror serves the right bundle again: the monitor catches up, no alert.
  log.write(entries);
  h = await harness(log.url, state);
  try {
    const result = await h.follower.run();
    t.deepEqual(h.alerts(), []);
    t.false(result.inconsistent);
    t.is(h.store.nextIndex(), entries.length);
    t.deepEqual((await h.store.alerts()).map((a) => [a.type, (a as InvalidEntryAlert).index]), [['invalid-entry', 4]]);
  } finally {
    await h.close();
    await log.close();
  }
});

test('a stale checkpoint (a CDN or lagging mirror) is proven to be a prefix and only logged; a smaller fork is inconsistent-log', async (t) => {
  const entries = await leaves(9);
  const log = await StaticLog.serve(entries.slice(0, 4));
  const stale = readFileSync(join(log.dir, 'checkpoint'), 'utf8');
  log.write(entries);
  const state = stateDir();
  let h = await harness(log.url, state);
  try {
    await h.follower.run();
    t.is(h.store.nextIndex(), 9);
  } finally {
    await h.close();
  }

  // The old checkpoint of size 4 is served again (a cache in front of the log): no alert, state unmoved.
  writeFileSync(join(log.dir, 'checkpoint'), stale);
  h = await harness(log.url, state);
  try {
    const result = await h.follower.run();
    t.deepEqual(h.alerts(), [], h.stdout());
    t.false(result.inconsistent);
    t.is(h.store.checkpoint()!.size, 9, 'the verified checkpoint never moves backwards');
    t.true(h.logLines.some((l) => /stale checkpoint of size 4 \(verified: 9\), proven to be a prefix/.test(l)), h.logLines.join('\n'));
  } finally {
    await h.close();
  }

  // A checkpoint of size 4 over other leaves, signed by the same key: a fork, caught by the proof.
  const forked = new StaticLog();
  const forkNote = forked.write([...entries.slice(0, 3), (await leaves(1))[0]!]);
  writeFileSync(join(log.dir, 'checkpoint'), forkNote);
  h = await harness(log.url, state);
  try {
    const result = await h.follower.run();
    const alerts = h.alerts();
    t.is(alerts.length, 1, h.stdout());
    t.like(alerts[0], { type: 'inconsistent-log', previous: { size: 9 }, checkpoint: { size: 4, note: forkNote } });
    t.regex((alerts[0] as InconsistentLogAlert).reason, /smaller than the verified one of size 9 and is not a prefix of it/);
    t.true(result.inconsistent);
    t.is(h.store.checkpoint()!.size, 9);
  } finally {
    await h.close();
    await log.close();
  }
});

test('a log rolled back to a smaller tree, its newer tiles gone: logged at first, inconsistent-log once the grace period has passed (kept across runs)', async (t) => {
  const entries = await leaves(9);
  const log = await StaticLog.serve(entries);
  const state = stateDir();
  let h = await harness(log.url, state);
  try {
    await h.follower.run();
    t.is(h.store.checkpoint()!.size, 9);
  } finally {
    await h.close();
  }
  // Restored from an old backup: the log serves size 4, and the partial tiles of size 9 are gone.
  rmSync(join(log.dir, 'tile'), { recursive: true });
  log.write(entries.slice(0, 4));
  const start = Date.parse('2026-12-01T10:00:00Z');
  const run = async (at: number) => {
    const h = await harness(log.url, state, { stallAfterMs: 60_000, now: () => new Date(at) });
    try {
      const result = await h.follower.run();
      return { result, alerts: h.alerts(), logLines: h.logLines };
    } finally {
      await h.close();
    }
  };
  const first = await run(start);
  t.deepEqual(first.alerts, [], 'a mirror still copying gets the grace period');
  t.true(first.logLines.some((l) => /cannot check it against the verified tree yet/.test(l)), first.logLines.join('\n'));
  const inGrace = await run(start + 59_000);
  t.deepEqual(inGrace.alerts, []);
  const after = await run(start + 60_000);
  t.is(after.alerts.length, 1, JSON.stringify(after.alerts));
  t.like(after.alerts[0], { type: 'inconsistent-log', previous: { size: 9 }, checkpoint: { size: 4 } });
  t.regex((after.alerts[0] as InconsistentLogAlert).reason, /smaller than the verified one of size 9, since 2026-12-01T10:00:00.000Z without the tiles/);
  t.true(after.result.inconsistent);
  const again = await run(start + 120_000);
  t.deepEqual(again.alerts, [], 'raised once');
  await log.close();
});

/**
 * A webhook on 127.0.0.1 answering its first `failures` requests with 503, then 200; the 200s
 * after `delayMs`, or never when `delayMs` is Infinity.
 */
async function flakyHook(failures: number, delayMs = 0): Promise<{ url: string; received: string[]; accepted: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const accepted: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
      received.push(body);
      if (received.length <= failures) {
        res.statusCode = 503;
        res.end();
      } else if (Number.isFinite(delayMs)) {
        setTimeout(() => {
          accepted.push(body);
          res.end();
        }, delayMs);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    accepted,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function disagreeingLeaves(): Promise<Uint8Array[]> {
  const build = randomStatement();
  const other = { ...build, artifacts: [{ name: build.artifacts[0]!.name, sha256: 'e'.repeat(64) }] };
  return [await attestationLeaf(builders[0]!, build), await attestationLeaf(builders[1]!, other)];
}

/** Stops a running follower (whatever the test left undone), then closes its state and the servers. */
async function stopAll(h: Awaited<ReturnType<typeof harness>>, running: Promise<unknown>, ...servers: { close(): unknown }[]): Promise<void> {
  h.controller.abort();
  await running.catch(() => undefined);
  await h.close();
  for (const server of servers) await server.close();
}

async function until(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('webhook: a delivery that fails for longer than one round of retries is kept and retried at later polls, then delivered once', async (t) => {
  const log = await StaticLog.serve(await disagreeingLeaves());
  const hook = await flakyHook(5); // two rounds of 2 attempts fail, and the first attempt of the third
  const h = await harness(log.url, stateDir(), {
    once: false,
    intervalMs: 30,
    deliveryRetryMs: 100,
    sinkOptions: { webhook: hook.url, webhookAttempts: 2, webhookBackoffMs: 10 },
  });
  const running = h.follower.run();
  try {
    await until('the webhook to accept the alert', () => hook.accepted.length > 0);
    h.controller.abort();
    await running;
    t.is(h.alerts().length, 1, 'stdout got the alert once');
    t.is(hook.accepted.length, 1);
    t.deepEqual(JSON.parse(hook.accepted[0]!), h.alerts()[0]);
    t.is(hook.received.length, 6);
    t.deepEqual(await h.store.outbox(), [], 'delivered to every sink: gone from the outbox');
    t.true(h.logLines.some((l) => /webhook delivery of alert .* failed 2 time\(s\) .*kept, next try/.test(l)), h.logLines.join('\n'));
  } finally {
    await stopAll(h, running, hook, log);
  }
});

test('outbox per sink: a webhook down at exit is retried at the next start, and stdout is never printed twice', async (t) => {
  const log = await StaticLog.serve(await disagreeingLeaves());
  const state = stateDir();
  const down = await flakyHook(Number.MAX_SAFE_INTEGER);
  let h = await harness(log.url, state, { sinkOptions: { webhook: down.url, webhookAttempts: 2, webhookBackoffMs: 10 } });
  try {
    const result = await h.follower.run();
    t.is(result.alertsRaised, 1);
    t.is(h.alerts().length, 1);
    t.is(down.received.length, 2);
    const outbox = await h.store.outbox();
    t.is(outbox.length, 1, 'the webhook has not had it: kept');
    t.deepEqual(outbox[0]!.done, ['stdout']);
    t.is(outbox[0]!.retry.webhook?.attempts, 1);
  } finally {
    await h.close();
    await down.close();
  }
  const up = await flakyHook(0);
  h = await harness(log.url, state, { sinkOptions: { webhook: up.url, webhookAttempts: 2, webhookBackoffMs: 10 } });
  try {
    const result = await h.follower.run();
    t.is(h.stdout(), '', 'stdout had it already: not printed again');
    t.is(result.alertsRaised, 0);
    t.is(up.accepted.length, 1);
    t.is((JSON.parse(up.accepted[0]!) as { type: string }).type, 'builder-disagreement');
    t.deepEqual(await h.store.outbox(), []);
  } finally {
    await h.close();
    await up.close();
    await log.close();
  }
});

test('stop: an alert raised just before the stop signal still reaches a slow webhook within the grace', async (t) => {
  const log = await StaticLog.serve(await disagreeingLeaves());
  const hook = await flakyHook(0, 300);
  const h = await harness(log.url, stateDir(), { once: false, intervalMs: 30, sinkOptions: { webhook: hook.url } });
  const running = h.follower.run();
  try {
    await until('the alert on stdout', () => h.alerts().length > 0);
    h.controller.abort();
    await running;
    t.is(hook.accepted.length, 1, 'delivered after the stop signal');
    t.deepEqual(JSON.parse(hook.accepted[0]!), h.alerts()[0]);
    t.deepEqual(await h.store.outbox(), [], 'every sink has it');
  } finally {
    await stopAll(h, running, hook, log);
  }
});

test('stop: a webhook that does not answer holds the stop only for the grace, and the alert is kept for the next start', async (t) => {
  const log = await StaticLog.serve(await disagreeingLeaves());
  const hook = await flakyHook(0, Infinity);
  const h = await harness(log.url, stateDir(), { once: false, intervalMs: 30, stopGraceMs: 400, sinkOptions: { webhook: hook.url } });
  const running = h.follower.run();
  try {
    await until('the webhook to be asked', () => hook.received.length > 0);
    const stopped = performance.now();
    h.controller.abort();
    await running;
    const took = performance.now() - stopped;
    t.true(took >= 350 && took < 3_000, `stopped after ${Math.round(took)} ms`);
    const outbox = await h.store.outbox();
    t.is(outbox.length, 1, 'kept');
    t.deepEqual(outbox[0]!.done, ['stdout']);
  } finally {
    await stopAll(h, running, hook, log);
  }
});
