/**
 * The `lafs-log` program itself: help, usage errors (exit 2, one line), `key`, the key file
 * (0600, never printed), one process per data dir, per-client rate limiting, graceful SIGTERM.
 */
import test from 'ava';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { postEntry, request } from '../helpers/log-http.js';
import { run } from '../helpers/process.js';
import { startServer } from '../helpers/server.js';
import { attestationBody, makeBuilder, manyAttestationBodies, randomStatement } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';

test('--help shows examples and exits 0', async (t) => {
  const top = await run('lafs-log', ['--help']);
  t.is(top.code, 0);
  t.regex(top.stdout, /Examples:/);
  const serve = await run('lafs-log', ['serve', '--help']);
  t.is(serve.code, 0);
  t.regex(serve.stdout, /--rate-limit/);
  t.regex(serve.stdout, /lafs-log serve --data/);
});

for (const args of [
  ['serve', '--port', 'abc'],
  ['serve', '--port', '70000'],
  ['serve', '--bogus'],
  ['serve', '--origin', 'has space/log'],
  ['serve', '--origin', 'a+b'],
  ['serve', '--rate-limit', 'fast'],
  ['serve', '--host', 'bad host!'],
  ['nonsense'],
]) {
  test(`usage error exits 2 with one line: lafs-log ${args.join(' ')}`, async (t) => {
    const r = await run('lafs-log', [...args, '--data', tempDir()], { timeoutMs: 20_000 });
    t.is(r.code, 2, r.stderr);
    t.is(r.stdout, '');
    t.true(r.stderr.trim().length > 0);
    const reasons = r.stderr.trim().split('\n').filter((l) => !l.startsWith('(run with --help'));
    t.is(reasons.length, 1, r.stderr);
  });
}

test('the key file is 0600 and never shown; `key` prints the verifier key; a second server on the dir fails clearly', async (t) => {
  const server = await startServer({ origin: 'cli.example/log' });
  try {
    const keyFile = join(server.dataDir, 'checkpoint.key');
    t.is(statSync(keyFile).mode & 0o777, 0o600);
    const secret = readFileSync(keyFile, 'utf8').trim();
    t.regex(secret, /^PRIVATE\+KEY\+cli\.example\/log\+[0-9a-f]{8}\+/);
    t.false(server.log().includes(secret.split('+').pop()!));
    const key = await run('lafs-log', ['key', '--data', server.dataDir]);
    t.is(key.code, 0);
    t.is(key.stdout, `${server.verifierKey}\n`);
    t.false(key.stdout.includes('PRIVATE'));
    t.regex(server.verifierKey, /^cli\.example\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/);

    const second = await run('lafs-log', ['serve', '--data', server.dataDir, '--port', '0', '--origin', 'cli.example/log'], { timeoutMs: 20_000 });
    t.is(second.code, 1);
    t.regex(second.stderr, /in use by another process/);
  } finally {
    await server.stop();
  }
  const none = await run('lafs-log', ['key', '--data', tempDir()]);
  t.is(none.code, 1);
  t.regex(none.stderr, /checkpoint\.key does not exist/);
});

test('submissions are rate limited per client (429 + Retry-After); reads are not', async (t) => {
  const server = await startServer({ origin: 'rate.example/log', args: ['--rate-limit', '1'] });
  try {
    const builder = await makeBuilder();
    const bodies = await Promise.all([0, 1, 2, 3].map(() => attestationBody(builder, randomStatement())));
    const answers = [];
    for (const b of bodies) answers.push(await postEntry(server.url, b));
    const limited = answers.filter((a) => a.status === 429);
    t.true(limited.length >= 1, answers.map((a) => a.status).join(','));
    t.is(limited[0]!.body.error, 'rate-limited');
    t.regex(limited[0]!.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
    t.is(answers[0]!.status, 201);
    for (let i = 0; i < 20; i++) t.is((await request(`${server.url}/checkpoint`)).status, 200);
  } finally {
    await server.stop();
  }
});

test('SIGTERM finishes what it acknowledged and exits 0; a restart has every acknowledged entry', async (t) => {
  const server = await startServer({ origin: 'term.example/log' });
  const bodies = await manyAttestationBodies([await makeBuilder()], 60);
  const pending = bodies.map((b) => postEntry(server.url, b).catch(() => undefined));
  await pending[0];
  const stopped = server.stop();
  const answers = await Promise.all(pending);
  await stopped;
  t.is(server.process.exitCode, 0);
  const acked = answers.filter((a) => a?.status === 201).map((a) => a!.body.index as number);
  t.true(acked.length >= 1);
  for (const a of answers) if (a) t.true([201, 503].includes(a.status), a.text);
  // Restarted without --origin: it serves the directory's own origin, not the host's default.
  const again = await startServer({ dataDir: server.dataDir, origin: null });
  try {
    t.is(again.origin, 'term.example/log');
    const size = (await request(`${again.url}/healthz`)).body.size;
    t.true(acked.every((i) => i < size));
  } finally {
    await again.stop();
  }
});
