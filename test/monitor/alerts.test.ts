/**
 * Alert sinks (monitor/alerts.ts): JSON lines on stdout in order, a webhook on 127.0.0.1 that
 * fails before it accepts (retried, bounded), one that never accepts (reported, not fatal), and
 * an --exec command that gets the alert on stdin.
 */
import test from 'ava';
import { createServer, type IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { AlertSinks, alertId, summarize, type Alert } from '../../monitor/alerts.js';
import { tempDir } from '../helpers/tmp.js';

const cp = { size: 3, root: 'AAAA', note: 'test.example/lafs-log\n3\nAAAA\n\n— x y\n' };
const alert: Alert = {
  type: 'builder-disagreement',
  id: alertId('builder-disagreement', 'x'),
  time: '2026-11-23T00:00:00.000Z',
  log: 'test.example/lafs-log',
  checkpoint: cp,
  key: { source: `sha256:${'5'.repeat(64)}`, platform: 'win64', name: 'a.zip' },
  hashes: [`sha256:${'1'.repeat(64)}`, `sha256:${'2'.repeat(64)}`],
  claims: [{ index: 0, builder: 'a'.repeat(40), hash: `sha256:${'1'.repeat(64)}` }, { index: 1, builder: 'b'.repeat(40), hash: `sha256:${'2'.repeat(64)}` }],
};

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.setEncoding('utf8').on('data', (d: string) => (text += d));
  return () => text;
}

async function webhook(statuses: number[]): Promise<{ url: string; bodies: string[]; close: () => void }> {
  const bodies: string[] = [];
  let calls = 0;
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
      bodies.push(body);
      res.statusCode = statuses[Math.min(calls++, statuses.length - 1)]!;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/hook`, bodies, close: () => server.close() };
}

test('stdout gets one JSON line per alert, in order; no terminal summary when stderr is not a TTY', async (t) => {
  const out = new PassThrough();
  const err = new PassThrough();
  const stdout = collect(out);
  const stderr = collect(err);
  const sinks = new AlertSinks({ stdout: out, stderr: err });
  sinks.print(alert);
  sinks.print({ ...alert, id: 'second' });
  const lines = stdout().trimEnd().split('\n');
  t.is(lines.length, 2);
  t.deepEqual(JSON.parse(lines[0]!), alert);
  t.is(JSON.parse(lines[1]!).id, 'second');
  t.is(stderr(), '');
});

test('a TTY stderr gets a human summary line', async (t) => {
  const err = Object.assign(new PassThrough(), { isTTY: true });
  const stderr = collect(err);
  const sinks = new AlertSinks({ stdout: new PassThrough(), stderr: err });
  sinks.print(alert);
  t.is(stderr(), summarize(alert) + '\n');
  t.regex(stderr(), /builder-disagreement: a\.zip \(win64/);
});

test('webhook: retried after 503s until it accepts', async (t) => {
  const hook = await webhook([503, 500, 200]);
  const err = new PassThrough();
  const stderr = collect(err);
  const sinks = new AlertSinks({ webhook: hook.url, webhookBackoffMs: 20, stdout: new PassThrough(), stderr: err });
  t.deepEqual(await sinks.send('webhook', alert), { ok: true });
  hook.close();
  t.is(hook.bodies.length, 3);
  t.deepEqual(JSON.parse(hook.bodies[2]!), alert);
  t.is(stderr(), '');
});

test('webhook: bounded attempts, then reported on stderr; a 400 is not retried', async (t) => {
  const down = await webhook([503]);
  const err = new PassThrough();
  const stderr = collect(err);
  const sinks = new AlertSinks({ webhook: down.url, webhookAttempts: 3, webhookBackoffMs: 10, stdout: new PassThrough(), stderr: err });
  t.like(await sinks.send('webhook', alert), { ok: false });
  down.close();
  t.is(down.bodies.length, 3);
  t.regex(stderr(), /webhook did not take alert .* HTTP 503 after 3 attempts/);

  const rejecting = await webhook([400]);
  const sinks2 = new AlertSinks({ webhook: rejecting.url, webhookAttempts: 5, webhookBackoffMs: 10, stdout: new PassThrough(), stderr: new PassThrough() });
  t.like(await sinks2.send('webhook', alert), { ok: false, permanent: true });
  rejecting.close();
  t.is(rejecting.bodies.length, 1);
});

test('--exec: the command gets the alert JSON on stdin and its type in the environment; a failing command is reported', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'got.json');
  const sinks = new AlertSinks({ exec: `cat > '${file}'; echo "$LAFS_ALERT_TYPE" >> '${file}.type'`, stdout: new PassThrough(), stderr: new PassThrough() });
  t.deepEqual(await sinks.send('exec', alert), { ok: true });
  t.deepEqual(JSON.parse(readFileSync(file, 'utf8')), alert);
  t.is(readFileSync(`${file}.type`, 'utf8'), 'builder-disagreement\n');

  const err = new PassThrough();
  const stderr = collect(err);
  const failing = new AlertSinks({ exec: 'exit 3', stdout: new PassThrough(), stderr: err });
  t.like(await failing.send('exec', alert), { ok: false });
  t.regex(stderr(), /--exec command failed .*exit code 3/);
});
