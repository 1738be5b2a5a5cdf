/** Small log-server pieces in isolation: option checking, token buckets, metrics text, the key file, the status map. */
import test from 'ava';
import { readFileSync, statSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveConfig, checkOrigin, defaultOrigin } from '../../log-server/config.js';
import { RateLimiter } from '../../log-server/rate-limit.js';
import { Metrics } from '../../log-server/metrics.js';
import { CheckpointSigner, KEY_FILE } from '../../log-server/signer.js';
import { STATUS_OF } from '../../log-server/http-errors.js';
import { LafsError } from '../../merkle/errors.js';
import { nodeEd25519 } from '../../attestation/node-crypto.js';
import { openNote, parseVerifierKey } from '../../merkle/note.js';
import { emptyRoot } from '../../merkle/hash.js';
import { tempDir } from '../helpers/tmp.js';

test('serveConfig: defaults, and every bad option is a usage error naming it', (t) => {
  const c = serveConfig({}, 4);
  t.is(c.port, 8080);
  t.is(c.host, '127.0.0.1');
  t.is(c.origin, undefined, 'no --origin: the data directory keeps its own');
  t.is(c.rateLimit, 20);
  t.is(c.workers, 4);
  t.is(c.inflightBytes, 64 * 1024 * 1024);
  t.is(serveConfig({ inflightBytes: '262144' }, 1).inflightBytes, 262144);
  t.true(c.dataDir.endsWith('/data'));
  t.is(serveConfig({ port: '0', rateLimit: '0' }, 1).port, 0);
  for (const [raw, name] of [
    [{ port: '-1' }, '--port'],
    [{ port: '08' }, '--port'],
    [{ port: '65536' }, '--port'],
    [{ rateLimit: '-3' }, '--rate-limit'],
    [{ origin: '' }, '--origin'],
    [{ origin: 'x y' }, '--origin'],
    [{ origin: 'a+b' }, '--origin'],
    [{ host: 'a b' }, '--host'],
    [{ workers: '0' }, '--workers'],
    [{ inflightBytes: '262143' }, '--inflight-bytes'],
    [{ inflightBytes: '64MiB' }, '--inflight-bytes'],
  ] as const) {
    const e = t.throws(() => serveConfig(raw, 2), { instanceOf: LafsError });
    t.is(e?.code, 'usage');
    t.true(e?.message.startsWith(name), e?.message);
  }
  t.is(checkOrigin('example.org/lafs-log'), 'example.org/lafs-log');
});

test('rate limiter: burst, refill, retry time, disabled at 0, per client', (t) => {
  let now = 0;
  const limiter = new RateLimiter(2, 3, () => now);
  t.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0]);
  t.is(limiter.take('a'), 0.5);
  t.is(limiter.take('b'), 0, 'another client has its own bucket');
  now = 500; // half a second: one token back
  t.is(limiter.take('a'), 0);
  t.true(limiter.take('a') > 0);
  const off = new RateLimiter(0);
  for (let i = 0; i < 1000; i++) t.is(off.take('a'), 0);
});

test('metrics render as Prometheus text', (t) => {
  const m = new Metrics();
  m.logSize = 7;
  m.countSubmission('created');
  m.countRequest('/v1/entries', 201);
  m.countRequest('/v1/entries', 201);
  m.batchSize.observe(3);
  const text = m.render();
  t.regex(text, /^lafs_log_entries 7$/m);
  t.regex(text, /^lafs_submissions_total\{result="created"\} 1$/m);
  t.regex(text, /^lafs_http_requests_total\{route="\/v1\/entries",status="201"\} 2$/m);
  t.regex(text, /^lafs_batch_size_bucket\{le="2"\} 0$/m);
  t.regex(text, /^lafs_batch_size_bucket\{le="4"\} 1$/m);
  t.regex(text, /^lafs_batch_size_count 1$/m);
  t.regex(text, /^# TYPE lafs_verify_seconds histogram$/m);
});

test('checkpoint key: created 0600 on first start, reloaded, origin fixed, checkpoints verify', (t) => {
  const dir = tempDir();
  const { signer, created } = CheckpointSigner.loadOrCreate(dir, 'unit.example/log');
  t.true(created);
  t.is(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600);
  const again = CheckpointSigner.loadOrCreate(dir, undefined);
  t.false(again.created);
  t.is(again.signer.verifierKey, signer.verifierKey);
  t.is(CheckpointSigner.verifierKeyOf(dir), signer.verifierKey);
  const e = t.throws(() => CheckpointSigner.loadOrCreate(dir, 'other.example/log'), { instanceOf: LafsError });
  t.regex(e!.message, /cannot be served as "other.example\/log"/);
  t.false(e!.message.includes(readFileSync(join(dir, KEY_FILE), 'utf8').trim()));
  const note = signer.sign({ size: 0, root: emptyRoot() });
  t.true(openNote(note, [parseVerifierKey(signer.verifierKey, nodeEd25519)]).ok);
  t.regex(note, /^unit\.example\/log\n0\n47DEQpj8HBSa\+\/TImW\+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n/);
  // A key left readable by others is tightened.
  chmodSync(join(dir, KEY_FILE), 0o644);
  CheckpointSigner.loadOrCreate(dir, undefined);
  t.is(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600);
  writeFileSync(join(dir, KEY_FILE), 'garbage\n');
  t.throws(() => CheckpointSigner.loadOrCreate(dir, undefined), { instanceOf: LafsError });
  // A new directory without an origin is named after the host.
  const fresh = CheckpointSigner.loadOrCreate(tempDir(), undefined);
  t.true(fresh.created);
  t.is(fresh.signer.origin, defaultOrigin());
  t.regex(fresh.signer.origin, /\/lafs-log$/);
});

test('every error code has a status; client mistakes are 4xx', (t) => {
  for (const code of ['bad-request', 'bad-statement', 'bad-sums', 'bad-signature', 'bad-key', 'bad-leaf', 'bad-tile', 'unknown-kind', 'out-of-range'] as const) t.is(STATUS_OF[code], 400);
  t.is(STATUS_OF['not-found'], 404);
  t.is(STATUS_OF['too-large'], 413);
  t.is(STATUS_OF['rate-limited'], 429);
  t.is(STATUS_OF.unavailable, 503);
  t.is(STATUS_OF.internal, 500);
});
