/**
 * Issue 5, end to end: real `lafs-monitor --once` processes against static tile mirrors built
 * straight from merkle functions (test/helpers/mirror.ts), served by a plain file server on
 * 127.0.0.1, for what a live server cannot easily be made to serve: a leaf with a bad builder
 * signature inside a correctly hashed tree, or a checkpoint signed with another key.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { nodeEd25519 } from '../../attestation/node-crypto.js';
import { generateKeyPair } from '../../merkle/note.js';
import type { InvalidCheckpointAlert, InvalidEntryAlert } from '../../monitor/alerts.js';
import { writeStaticLog } from '../helpers/mirror.js';
import { run } from '../helpers/process.js';
import { makeBuilder, randomStatement } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { attestationLeaf, badSignatureLeaf, logKeys, ORIGIN, StaticLog } from '../monitor/follower-harness.js';
import { explain, LiveMonitor, monitorOnce } from './monitor-support.js';

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

test('a checkpoint signed with another key: one invalid-checkpoint alert with the note as evidence, --once exits 1, not repeated', async (t) => {
  const alice = await makeBuilder('Alice');
  const leaves = await Promise.all(Array.from({ length: 3 }, () => attestationLeaf(alice, randomStatement())));
  const log = await StaticLog.serve(leaves);
  const state = join(tempDir('lafs-monitor-mirror-'), 'state');
  try {
    const first = await monitorOnce(mirror(log), state);
    t.is(first.code, 0, first.stderr);
    const verified = readFileSync(join(log.dir, 'checkpoint'), 'utf8');

    // Same key name (the log's origin), another key: what a compromised or misconfigured log would sign.
    const impostor = generateKeyPair(ORIGIN, nodeEd25519);
    const forged = writeStaticLog(tempDir('lafs-impostor-'), [...leaves, await attestationLeaf(alice, randomStatement())], impostor.signerKey, ORIGIN).checkpoint;
    writeFileSync(join(log.dir, 'checkpoint'), forged);
    const result = await monitorOnce(mirror(log), state);
    if (result.code !== 1) explain(t, result);
    t.is(result.code, 1);
    t.is(result.alerts.length, 1);
    const alert = result.alerts[0] as InvalidCheckpointAlert;
    t.is(alert.type, 'invalid-checkpoint');
    t.is(alert.note, forged);
    t.is(alert.checkpoint?.note, verified, 'the last verified checkpoint');
    t.regex(alert.reason, /does not verify/);
    t.false(result.alerts.some((a) => a.type === 'log-unreachable'));

    const again = await monitorOnce(mirror(log), state);
    t.is(again.code, 1, 'the log still misbehaves');
    t.deepEqual(again.alerts, []);
    t.regex(again.stderr, /alerted before/);

    // A log that varies its bad note at every poll cannot make an alert of each: once per verified tree.
    const forgedAgain = writeStaticLog(tempDir('lafs-impostor-'), [...leaves, await attestationLeaf(alice, randomStatement()), await attestationLeaf(alice, randomStatement())], impostor.signerKey, ORIGIN).checkpoint;
    writeFileSync(join(log.dir, 'checkpoint'), forgedAgain);
    const varied = await monitorOnce(mirror(log), state);
    t.is(varied.code, 1);
    t.deepEqual(varied.alerts, [], 'another bad note under the same verified tree is not a new alert');
    const status = JSON.parse((await run('lafs-monitor', ['status', '--state', state, '--json'])).stdout) as { checkpoint: { size: number }; alerts: Record<string, number> };
    t.is(status.checkpoint.size, 3, 'a checkpoint that does not verify never moves the state');
    t.deepEqual(status.alerts, { 'invalid-checkpoint': 1 });
  } finally {
    await log.close();
  }
});

test('status works during a long first catch-up: the snapshot is written when the catch-up starts', async (t) => {
  const alice = await makeBuilder('Alice');
  const log = await StaticLog.serve(await Promise.all(Array.from({ length: 3 }, () => attestationLeaf(alice, randomStatement()))));
  // A slow mirror: every entry bundle takes 4 s, so the first catch-up is still running when status asks.
  const slow = createServer((req, res) => {
    const path = req.url ?? '/';
    setTimeout(() => {
      void fetch(`${log.url}${path}`).then(async (upstream) => {
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      }, () => res.writeHead(502).end());
    }, path.startsWith('/tile/entries/') ? 4_000 : 0);
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
  const state = join(tempDir('lafs-monitor-mirror-'), 'state');
  const monitor = new LiveMonitor(['--log', url, '--vkey', logKeys.verifierKey, '--state', state, '--interval', '60']);
  try {
    await monitor.waitForLog(/first checkpoint: size 3/);
    let status = await run('lafs-monitor', ['status', '--state', state, '--json']);
    for (let i = 0; i < 20 && status.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await run('lafs-monitor', ['status', '--state', state, '--json']);
    }
    t.is(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { checkpoint: { size: number }; entriesProcessed: number; live: boolean };
    t.false(s.live, 'read from the snapshot while the monitor holds the lock');
    t.is(s.checkpoint.size, 3);
    t.is(s.entriesProcessed, 0, 'still catching up');
    t.deepEqual(await monitor.stop('SIGTERM'), { code: 0, signal: null });
  } finally {
    await monitor.stop('SIGKILL');
    slow.closeAllConnections();
    slow.close();
    await log.close();
  }
});

test('SIGTERM in the middle of a catch-up exits 0 at a batch boundary; the next run resumes there, no gap, no duplicate alert', async (t) => {
  const [alice, bob] = await Promise.all([makeBuilder('Alice'), makeBuilder('Bob')]);
  const first = randomStatement();
  const second = randomStatement();
  const dissent = (s: typeof first) => ({ ...s, artifacts: [{ name: s.artifacts[0]!.name, sha256: 'c'.repeat(64) }] });
  const leaves = await Promise.all(Array.from({ length: 520 }, (_, i) => {
    if (i === 10) return attestationLeaf(alice, first);
    if (i === 20) return attestationLeaf(bob, dissent(first)); // a disagreement in the first batch
    if (i === 515) return attestationLeaf(alice, second);
    if (i === 518) return attestationLeaf(bob, dissent(second)); // and one in the last
    return attestationLeaf(i % 2 ? bob : alice, randomStatement());
  }));
  const log = await StaticLog.serve(leaves);
  // Entry bundles one at a time, each 2 s after the previous one: the catch-up takes a while.
  let chain = Promise.resolve();
  const slow = createServer((req, res) => {
    const path = req.url ?? '/';
    const forward = () => fetch(`${log.url}${path}`).then(async (upstream) => {
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    }, () => { res.writeHead(502).end(); });
    if (!path.startsWith('/tile/entries/')) return void forward();
    chain = chain.then(() => new Promise((r) => setTimeout(r, 2_000))).then(forward);
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  const slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
  const state = join(tempDir('lafs-monitor-mirror-'), 'state');
  const monitor = new LiveMonitor(['--log', slowUrl, '--vkey', logKeys.verifierKey, '--state', state, '--interval', '60']);
  try {
    // The first batch (entries 0..255) is committed with its alert; the next bundle is still 2 s away.
    const early = await monitor.waitFor((alerts) => alerts.length > 0, 30_000);
    t.deepEqual(await monitor.stop('SIGTERM'), { code: 0, signal: null }, monitor.stderr);
    t.is(early.length, 1);
    t.like(early[0], { type: 'builder-disagreement', claims: [{ index: 10 }, { index: 20 }] });
    const stopped = JSON.parse((await run('lafs-monitor', ['status', '--state', state, '--json'])).stdout) as { entriesProcessed: number };
    t.is(stopped.entriesProcessed, 256, 'stopped at the batch boundary, mid catch-up');

    const resumed = await monitorOnce(mirror(log), state);
    if (resumed.code !== 1) explain(t, resumed);
    t.is(resumed.code, 1);
    t.is(resumed.alerts.length, 1, 'only the new disagreement: the first is not raised again');
    t.like(resumed.alerts[0], { type: 'builder-disagreement', claims: [{ index: 515 }, { index: 518 }] });
    const done = JSON.parse((await run('lafs-monitor', ['status', '--state', state, '--json'])).stdout) as { entriesProcessed: number; alerts: Record<string, number> };
    t.is(done.entriesProcessed, 520, 'no gap');
    t.deepEqual(done.alerts, { 'builder-disagreement': 2 });
  } finally {
    await monitor.stop('SIGKILL');
    slow.closeAllConnections();
    slow.close();
    await log.close();
  }
});
