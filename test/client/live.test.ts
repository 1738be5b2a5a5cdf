/**
 * LogClient against the real `lafs-log serve` process and against a static mirror of its tiles
 * (copied to a temp dir and served by a bare file server): submissions come back verified, entries
 * equal what was submitted, inclusion and consistency proofs verify in both modes (and are the same
 * proofs: the mirror computes from tiles what the server answers from its API), lookups work on
 * the server and are 'unavailable' on the mirror, tampering with the mirror is caught.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LogClient, type SubmitResult } from '../../client/log-client.js';
import { LafsError } from '../../merkle/errors.js';
import { generateKeyPair } from '../../merkle/note.js';
import { tilePath } from '../../merkle/tiles.js';
import { leafHash } from '../../merkle/hash.js';
import type { Checkpoint } from '../../merkle/checkpoint.js';
import { verifyConsistency, verifyInclusion } from '../../merkle/proof.js';
import { nodeEd25519, nodeSha256 } from '../../attestation/node-crypto.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { mirrorLog, type StaticServer } from '../helpers/mirror.js';
import { attestationBody, makeBuilder, randomStatement, statementText, type EntryBody, type StatementInput } from '../helpers/submissions.js';

// 270 entries: one full entry tile and a partial one; the first 100 are also a checkpoint of their own.
const FIRST = 100;
const TOTAL = 270;

interface Log {
  server: RunningServer;
  mirror: StaticServer;
  statements: StatementInput[];
  bodies: EntryBody[];
  results: SubmitResult[];
  cpFirst: Checkpoint; // checkpoint returned with the last of the first FIRST submissions
  cpAll: Checkpoint; // the mirror's checkpoint
}

let log: Promise<Log> | undefined;

/** Submits `bodies` through the client, a few at a time, in index order of the returned results. */
async function submitAll(c: LogClient, bodies: EntryBody[]): Promise<SubmitResult[]> {
  const out: SubmitResult[] = [];
  for (let i = 0; i < bodies.length; i += 10) out.push(...(await Promise.all(bodies.slice(i, i + 10).map((b) => c.submit(b)))));
  return out;
}

function setUp(): Promise<Log> {
  log ??= (async () => {
    const server = await startServer();
    const builders = await Promise.all([makeBuilder('Alice Builder', 'alice@example.org'), makeBuilder('Bob Builder', 'bob@example.org')]);
    const statements = Array.from({ length: TOTAL }, () => randomStatement({ artifacts: 2 }));
    const bodies = await Promise.all(statements.map((s, i) => attestationBody(builders[i % 2]!, s)));
    const c = new LogClient({ url: server.url, verifierKey: server.verifierKey, origin: server.origin });
    const first = await submitAll(c, bodies.slice(0, FIRST));
    const cpFirst = first.reduce((a, b) => (b.checkpoint.checkpoint.size > a.checkpoint.checkpoint.size ? b : a)).checkpoint.checkpoint;
    const rest = await submitAll(c, bodies.slice(FIRST));
    const mirror = await mirrorLog(server.url);
    const cpAll = (await new LogClient({ url: mirror.url, verifierKey: server.verifierKey, origin: server.origin }).checkpoint()).checkpoint;
    return { server, mirror, statements, bodies, results: [...first, ...rest], cpFirst, cpAll };
  })();
  return log;
}

test.after.always(async () => {
  if (!log) return;
  const l = await log.catch(() => undefined);
  await l?.mirror.close();
  await l?.server.stop();
});

function clientOf(l: Log, where: 'server' | 'mirror'): LogClient {
  return new LogClient({ url: where === 'server' ? l.server.url : l.mirror.url, verifierKey: l.server.verifierKey, origin: l.server.origin, retries: 1, backoffMs: 10 });
}

test('submit: new entries get distinct indexes, verified checkpoints and proofs; a resubmission is idempotent', async (t) => {
  const l = await setUp();
  t.deepEqual(l.results.map((r) => r.index).sort((a, b) => a - b), Array.from({ length: TOTAL }, (_, i) => i));
  t.true(l.results.every((r) => r.created));
  const again = await clientOf(l, 'server').submit(l.bodies[5]!);
  t.false(again.created);
  t.is(again.index, l.results[5]!.index);
  t.deepEqual([...again.leafHash], [...l.results[5]!.leafHash]);
  t.true(verifyInclusion(again.leafHash, again.index, again.checkpoint.checkpoint.size, again.inclusionProof, again.checkpoint.checkpoint.root, nodeSha256).ok);
});

test('submit: a rejected submission carries the server error code and message', async (t) => {
  const l = await setUp();
  const body = { ...l.bodies[0]!, statement: 'lafs-attestation/v1\nsource nonsense\n' };
  const err = await t.throwsAsync(clientOf(l, 'server').submit(body), { instanceOf: LafsError });
  t.not(err!.code, 'unavailable');
  t.true(['bad-statement', 'bad-signature'].includes(err!.code), err!.code);
  t.true(err!.message.startsWith(`POST ${l.server.url}/v1/entries: the log answered 4`), err!.message);
});

for (const where of ['server', 'mirror'] as const) {
  test(`${where}: checkpoint verified; wrong key or origin rejected`, async (t) => {
    const l = await setUp();
    const c = clientOf(l, where);
    const { checkpoint } = await c.checkpoint();
    t.is(checkpoint.origin, l.server.origin);
    t.true(checkpoint.size >= TOTAL);
    const wrongKey = generateKeyPair(l.server.origin, nodeEd25519).verifierKey;
    const e1 = await t.throwsAsync(new LogClient({ url: c.url, verifierKey: wrongKey, origin: l.server.origin, retries: 0 }).checkpoint(), { instanceOf: LafsError });
    t.is(e1!.code, 'bad-note');
    const e2 = await t.throwsAsync(new LogClient({ url: c.url, verifierKey: l.server.verifierKey, origin: 'elsewhere.example/log', retries: 0 }).checkpoint(), { instanceOf: LafsError });
    t.is(e2!.code, 'bad-note');
  });

  test(`${where}: entries equal what was submitted`, async (t) => {
    const l = await setUp();
    const c = clientOf(l, where);
    const byIndex = new Map(l.results.map((r, i) => [r.index, i]));
    let n = 0;
    for await (const e of c.entries(0, TOTAL, l.cpAll)) {
      const i = byIndex.get(e.index)!;
      t.is(new TextDecoder().decode(e.decoded.signed), statementText(l.statements[i]!));
      t.deepEqual([...e.leafHash], [...l.results[i]!.leafHash]);
      t.deepEqual([...leafHash(e.leaf, nodeSha256)], [...l.results[i]!.leafHash]);
      t.is(e.view.source, l.statements[i]!.source);
      n++;
    }
    t.is(n, TOTAL);
  });

  test(`${where}: inclusion and consistency proofs verify`, async (t) => {
    const l = await setUp();
    const c = clientOf(l, where);
    for (const r of [l.results[0]!, l.results[99]!, l.results[200]!, l.results[TOTAL - 1]!]) {
      const proof = await c.inclusionProof(r.index, r.leafHash, l.cpAll);
      t.true(verifyInclusion(r.leafHash, r.index, l.cpAll.size, proof, l.cpAll.root, nodeSha256).ok);
    }
    const proof = await c.proveConsistency(l.cpFirst, l.cpAll);
    t.true(verifyConsistency(l.cpFirst.size, l.cpAll.size, proof, l.cpFirst.root, l.cpAll.root, nodeSha256).ok);
    // A checkpoint with a forged root for the older size is caught.
    const forged = { ...l.cpFirst, root: new Uint8Array(32).fill(9) };
    const err = await t.throwsAsync(c.proveConsistency(forged, l.cpAll), { instanceOf: LafsError });
    t.is(err!.code, 'inconsistent');
  });
}

test('the mirror computes from tiles the very proofs the server serves', async (t) => {
  const l = await setUp();
  const server = clientOf(l, 'server');
  const mirror = clientOf(l, 'mirror');
  for (const r of [l.results[3]!, l.results[257]!]) {
    t.deepEqual(await mirror.inclusionProof(r.index, r.leafHash, l.cpAll), await server.inclusionProof(r.index, r.leafHash, l.cpAll));
  }
  t.deepEqual(await mirror.proveConsistency(l.cpFirst, l.cpAll), await server.proveConsistency(l.cpFirst, l.cpAll));
});

test('lookups: served by the log server, unavailable on the mirror', async (t) => {
  const l = await setUp();
  const s = l.statements[42]!;
  const i = l.results[42]!.index;
  const byHash = await clientOf(l, 'server').lookupHash(`sha256:${s.artifacts[0]!.sha256}`);
  t.deepEqual(byHash.map((r) => r.index), [i]);
  t.is(byHash[0]!.source, s.source);
  t.is(byHash[0]!.name, s.artifacts[0]!.name);
  const byName = await clientOf(l, 'server').lookupName({ source: s.source, platform: s.platform, name: s.artifacts[1]!.name });
  t.deepEqual(byName.map((r) => [r.index, r.hash]), [[i, `sha256:${s.artifacts[1]!.sha256}`]]);
  const err = await t.throwsAsync(clientOf(l, 'mirror').lookupHash(`sha256:${s.artifacts[0]!.sha256}`), { instanceOf: LafsError });
  t.is(err!.code, 'unavailable');
  t.regex(err!.message, /serves no \/v1 API/);
});

test('a tampered entry bundle or tile in the mirror is detected', async (t) => {
  const l = await setUp();
  // Tamper a copy: other tests read the same mirror concurrently.
  const copy = await mirrorLog(l.server.url);
  t.teardown(() => copy.close());
  const bundle = join(copy.dir, tilePath({ kind: 'entries', index: 0, width: 256 }));
  const bytes = readFileSync(bundle);
  bytes[bytes.length - 1]! ^= 0x20; // last byte of entry 255's leaf
  writeFileSync(bundle, bytes);
  const c = new LogClient({ url: copy.url, verifierKey: l.server.verifierKey, origin: l.server.origin, retries: 0 });
  const { checkpoint } = await c.checkpoint();
  const err = await t.throwsAsync(async () => { for await (const _ of c.entries(250, 260, checkpoint)) { /* drain */ } }, { instanceOf: LafsError });
  t.is(err!.code, 'inconsistent');
  t.true(err!.message.includes(`${copy.url}/tile/entries/000`), err!.message);
  t.regex(err!.message, /entry 255 hashes to/);

  const tile = join(copy.dir, tilePath({ kind: 'hash', level: 0, index: 0, width: 256 }));
  const tb = readFileSync(tile);
  tb[0]! ^= 0x01;
  writeFileSync(tile, tb);
  const c2 = new LogClient({ url: copy.url, verifierKey: l.server.verifierKey, origin: l.server.origin, retries: 0 });
  const err2 = await t.throwsAsync(c2.inclusionProof(l.results[0]!.index, l.results[0]!.leafHash, checkpoint), { instanceOf: LafsError });
  t.is(err2!.code, 'inconsistent');
  t.true(err2!.message.includes(`${copy.url}/tile/0/000`), err2!.message);
});

test('a stopped log gives an unavailable error naming the URL', async (t) => {
  const server = await startServer();
  const c = new LogClient({ url: server.url, verifierKey: server.verifierKey, origin: server.origin, retries: 1, backoffMs: 10 });
  await c.checkpoint();
  await server.stop();
  const err = await t.throwsAsync(c.checkpoint(), { instanceOf: LafsError });
  t.is(err!.code, 'unavailable');
  t.true(err!.message.startsWith(`GET ${server.url}/checkpoint: connection refused after 2 attempts`), err!.message);
});
