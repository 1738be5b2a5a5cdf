/**
 * LogClient against static tile directories built directly from merkle functions and note signing
 * (no log server): a plain file server with no /v1 API, as a CDN mirror would be. Checks that the
 * checkpoint is verified (key, origin), that tiles and entry bundles are verified (a tampered byte
 * anywhere is LafsError 'inconsistent' naming the URL), and that proofs computed from tiles verify.
 */
import test from 'ava';
import { readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogClient } from '../../client/log-client.js';
import { LafsError } from '../../merkle/errors.js';
import { generateKeyPair } from '../../merkle/note.js';
import { leafHash, rootOfLeaves } from '../../merkle/hash.js';
import { tilePath } from '../../merkle/tiles.js';
import { verifyInclusion, verifyConsistency, rootAt } from '../../merkle/proof.js';
import { tileHashSource } from '../../merkle/tile-source.js';
import { encodeLeaf } from '../../attestation/leaf.js';
import { nodeEd25519, nodeSha256 } from '../../attestation/node-crypto.js';
import { serveDir, writeStaticLog, type StaticServer } from '../helpers/mirror.js';
import { tempDir } from '../helpers/tmp.js';
import { makeBuilder, randomStatement, signDetached, statementText } from '../helpers/submissions.js';

const ORIGIN = 'static.example/lafs-log';
const keys = generateKeyPair(ORIGIN, nodeEd25519);
const fast = { retries: 0, timeoutMs: 5_000 };

/** Distinct small leaves (tiles and proofs do not care what the bytes mean). */
function rawLeaves(n: number, tag = 'leaf'): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => new TextEncoder().encode(`${tag} ${i}`));
}

const servers: StaticServer[] = [];
test.after.always(async () => { await Promise.all(servers.map((s) => s.close())); });

async function staticLog(leaves: readonly Uint8Array[], signerKey = keys.signerKey, origin = ORIGIN): Promise<StaticServer> {
  const dir = tempDir('lafs-static-');
  writeStaticLog(dir, leaves, signerKey, origin);
  const server = await serveDir(dir);
  servers.push(server);
  return server;
}

function client(url: string, extra: Partial<ConstructorParameters<typeof LogClient>[0]> = {}): LogClient {
  return new LogClient({ url, verifierKey: keys.verifierKey, ...fast, ...extra });
}

// A tree of 66311 leaves has a level-2 tile (width 1), full and partial level-1 tiles, 259 full level-0 tiles and a partial one of 7.
const BIG = 256 * 256 + 3 * 256 + 7;
const bigLeaves = rawLeaves(BIG);
let big: Promise<StaticServer> | undefined;
const bigLog = () => (big ??= staticLog(bigLeaves));

test('checkpoint: verified with the right key and origin', async (t) => {
  const srv = await bigLog();
  const { checkpoint, note } = await client(srv.url).checkpoint();
  t.is(checkpoint.origin, ORIGIN);
  t.is(checkpoint.size, BIG);
  t.deepEqual([...checkpoint.root], [...rootOfLeaves(bigLeaves, nodeSha256)]);
  t.is(note, readFileSync(join(srv.dir, 'checkpoint'), 'utf8'));
});

test('checkpoint: a different key with the same name is rejected', async (t) => {
  const srv = await bigLog();
  const other = generateKeyPair(ORIGIN, nodeEd25519);
  const err = await t.throwsAsync(new LogClient({ url: srv.url, verifierKey: other.verifierKey, ...fast }).checkpoint(), { instanceOf: LafsError });
  t.is(err!.code, 'bad-note');
  t.true(err!.message.startsWith(`GET ${srv.url}/checkpoint: checkpoint does not verify`), err!.message);
});

test('checkpoint: the wrong origin is rejected, even when correctly signed', async (t) => {
  const srv = await bigLog();
  const err = await t.throwsAsync(client(srv.url, { origin: 'other.example/log' }).checkpoint(), { instanceOf: LafsError });
  t.is(err!.code, 'bad-note');
  // A log whose key name and checkpoint origin differ from what we expect: signed by a key named for another origin.
  const otherKeys = generateKeyPair('evil.example/log', nodeEd25519);
  const evil = await staticLog(rawLeaves(3), otherKeys.signerKey, 'evil.example/log');
  const err2 = await t.throwsAsync(new LogClient({ url: evil.url, verifierKey: keys.verifierKey, ...fast }).checkpoint(), { instanceOf: LafsError });
  t.is(err2!.code, 'bad-note');
});

test('checkpoint: an edited size or root line breaks the signature', async (t) => {
  const srv = await staticLog(rawLeaves(10));
  const file = join(srv.dir, 'checkpoint');
  const note = readFileSync(file, 'utf8');
  writeFileSync(file, note.replace(`${ORIGIN}\n10\n`, `${ORIGIN}\n11\n`));
  const err = await t.throwsAsync(client(srv.url).checkpoint(), { instanceOf: LafsError });
  t.is(err!.code, 'bad-note');
});

test('a malformed verifier key or log URL is refused up front', (t) => {
  t.throws(() => new LogClient({ url: 'http://127.0.0.1:1', verifierKey: 'not-a-key' }), { instanceOf: LafsError });
  t.throws(() => new LogClient({ url: 'ftp://127.0.0.1/', verifierKey: keys.verifierKey }), { instanceOf: LafsError });
  t.throws(() => new LogClient({ url: 'no url', verifierKey: keys.verifierKey }), { instanceOf: LafsError });
});

test('raw entries across tile boundaries equal the leaves, each with its leaf hash', async (t) => {
  const srv = await bigLog();
  const c = client(srv.url);
  const { checkpoint } = await c.checkpoint();
  const ranges: [number, number][] = [[0, 1], [250, 520], [BIG - 300, BIG], [65530, 65540], [7, 7]];
  for (const [start, end] of ranges) {
    const got: number[] = [];
    for await (const e of c.rawEntries(start, end, checkpoint)) {
      t.deepEqual(e.leaf, bigLeaves[e.index]);
      t.deepEqual([...e.leafHash], [...leafHash(bigLeaves[e.index]!, nodeSha256)]);
      got.push(e.index);
    }
    t.deepEqual(got, Array.from({ length: end - start }, (_, i) => start + i), `range [${start}, ${end})`);
  }
  await t.throwsAsync(async () => { for await (const _ of c.rawEntries(0, BIG + 1, checkpoint)) break; }, { instanceOf: LafsError, message: /not within the tree/ });
});

test('inclusion proofs computed from tiles verify, for edge indexes of every tile level', async (t) => {
  const srv = await bigLog();
  const c = client(srv.url);
  const { checkpoint } = await c.checkpoint();
  for (const index of [0, 1, 255, 256, 65535, 65536, 66303, BIG - 1]) {
    const h = leafHash(bigLeaves[index]!, nodeSha256);
    const proof = await c.inclusionProof(index, h, checkpoint);
    t.true(verifyInclusion(h, index, BIG, proof, checkpoint.root, nodeSha256).ok, `index ${index}`);
  }
  // The wrong leaf for an index does not verify.
  const err = await t.throwsAsync(c.inclusionProof(5, leafHash(bigLeaves[6]!, nodeSha256), checkpoint), { instanceOf: LafsError });
  t.is(err!.code, 'inconsistent');
});

test('inclusion proofs in an older tree size, from tiles of the newer checkpoint: root proven by consistency', async (t) => {
  const srv = await bigLog();
  const c = client(srv.url);
  const { checkpoint } = await c.checkpoint();
  for (const [index, size] of [[0, 1], [5, 6], [255, 256], [256, 300], [1000, 65536], [65536, 65537], [3, BIG - 1], [BIG - 1, BIG]] as const) {
    const h = leafHash(bigLeaves[index]!, nodeSha256);
    const past = await c.inclusionProofAt(index, h, size, checkpoint);
    const root = rootOfLeaves(bigLeaves.slice(0, size), nodeSha256);
    t.deepEqual([...past.root], [...root], `root of size ${size}`);
    t.true(verifyInclusion(h, index, size, past.proof, root, nodeSha256).ok, `index ${index} size ${size}`);
    t.true(verifyConsistency(size, BIG, past.consistencyProof, root, checkpoint.root, nodeSha256).ok, `consistency ${size} -> ${BIG}`);
  }
  // The wrong leaf implies a root that no consistency proof connects to the checkpoint.
  const err = await t.throwsAsync(c.inclusionProofAt(5, leafHash(bigLeaves[6]!, nodeSha256), 100, checkpoint), { instanceOf: LafsError });
  t.is(err!.code, 'inconsistent');
  await t.throwsAsync(c.inclusionProofAt(100, leafHash(bigLeaves[100]!, nodeSha256), 100, checkpoint), { message: /index 100 is not in the tree of size 100/ });
  await t.throwsAsync(c.inclusionProofAt(1, leafHash(bigLeaves[1]!, nodeSha256), BIG + 1, checkpoint), { message: /between 1 and the checkpoint's size/ });
});

test('logInfo: a static mirror cannot tell its key (says to pass it); a log server is asked through retries', async (t) => {
  const srv = await staticLog(rawLeaves(3));
  const err = await t.throwsAsync(LogClient.logInfo(srv.url, fast), { instanceOf: LafsError });
  t.is(err!.code, 'unavailable');
  t.regex(err!.message, /^GET http:\/\/127\.0\.0\.1:\d+\/v1\/log: .* serves no \/v1 API \(a static tile mirror\?\), so it cannot tell its verifier key; pass the key/);
  const api = createServer((req, res) => {
    if (req.url === '/v1/log') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ origin: ORIGIN, verifierKey: keys.verifierKey, size: 3 }));
    else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not-found","message":"no"}');
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { api.closeAllConnections(); api.close(() => resolve()); }));
  const front = await flakyFront(t, `http://127.0.0.1:${(api.address() as AddressInfo).port}`, 2);
  t.deepEqual(await LogClient.logInfo(front.url, { retries: 3, backoffMs: 1 }), { origin: ORIGIN, verifierKey: keys.verifierKey, size: 3 });
  t.is(front.hits.length, 3);
});

test('on a mirror the client asks /v1 once, then computes proofs from tiles only', async (t) => {
  const leaves = rawLeaves(300, 'probe');
  const srv = await staticLog(leaves);
  const c = client(srv.url);
  const { checkpoint } = await c.checkpoint();
  for (const index of [0, 299, 150]) await c.inclusionProof(index, leafHash(leaves[index]!, nodeSha256), checkpoint);
  t.deepEqual(srv.requests.filter((p) => p.startsWith('/v1/')), ['/v1/proof/inclusion']);
  t.true(srv.requests.includes('/tile/0/000') && srv.requests.includes('/tile/0/001.p/44'));
});

test('consistency proofs computed from tiles verify; a forked log is caught', async (t) => {
  const srv = await bigLog();
  const c = client(srv.url);
  const newer = (await c.checkpoint()).checkpoint;
  for (const m of [1, 255, 256, 257, 65536, 66000]) {
    const older = { origin: ORIGIN, size: m, root: rootOfLeaves(bigLeaves.slice(0, m), nodeSha256), extensions: [] };
    const proof = await c.proveConsistency(older, newer);
    t.true(verifyConsistency(m, BIG, proof, older.root, newer.root, nodeSha256).ok, `from ${m}`);
  }
  t.deepEqual(await c.proveConsistency(newer, newer), []);
  // A log that rewrote entry 3 after showing a checkpoint of size 10.
  const forked = bigLeaves.slice(0, 10);
  forked[3] = new TextEncoder().encode('rewritten');
  const older = { origin: ORIGIN, size: 10, root: rootOfLeaves(forked, nodeSha256), extensions: [] };
  const err = await t.throwsAsync(c.proveConsistency(older, newer), { instanceOf: LafsError });
  t.is(err!.code, 'inconsistent');
  t.regex(err!.message, /not an extension of the one of size 10/);
  // A newer checkpoint smaller than the older one: the log shrank.
  const shrank = await t.throwsAsync(c.proveConsistency(newer, older), { instanceOf: LafsError });
  t.is(shrank!.code, 'inconsistent');
});

/** A fresh static log of 600 leaves in its own dir, for tests that tamper with files. */
async function tamperable(): Promise<{ srv: StaticServer; c: LogClient; leaves: Uint8Array[] }> {
  const leaves = rawLeaves(600, 'tamper');
  const srv = await staticLog(leaves);
  return { srv, c: client(srv.url), leaves };
}

function flipByte(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at]! ^= 0x01;
  writeFileSync(file, bytes);
}

async function drain(c: LogClient, start: number, end: number): Promise<void> {
  const { checkpoint } = await c.checkpoint();
  for await (const _ of c.rawEntries(start, end, checkpoint)) { /* drain */ }
}

test('tampered full level-0 tile: inconsistent, naming its URL', async (t) => {
  const { srv, c } = await tamperable();
  const path = tilePath({ kind: 'hash', level: 0, index: 1, width: 256 });
  flipByte(join(srv.dir, path), 100);
  const err = await t.throwsAsync(drain(c, 300, 310), { instanceOf: LafsError });
  t.is(err!.code, 'inconsistent');
  t.true(err!.message.includes(`${srv.url}/${path}`), err!.message);
  // Entries in untouched tiles are still served.
  await t.notThrowsAsync(drain(c, 0, 10));
});

test('tampered partial (right-edge) tile: the root check fails, naming the URL', async (t) => {
  const { srv, c } = await tamperable();
  const path = tilePath({ kind: 'hash', level: 0, index: 2, width: 600 - 512 });
  flipByte(join(srv.dir, path), 0);
  const err = await t.throwsAsync(drain(c, 0, 1), { instanceOf: LafsError });
  t.is(err!.code, 'inconsistent');
  t.true(err!.message.includes(`${srv.url}/${path}`), err!.message);
});

test('tampered level-1 tile: caught by the root check', async (t) => {
  const { srv, c } = await tamperable();
  const path = tilePath({ kind: 'hash', level: 1, index: 0, width: 2 });
  flipByte(join(srv.dir, path), 40);
  const err = await t.throwsAsync(drain(c, 0, 1), { instanceOf: LafsError });
  t.is(err!.code, 'inconsistent');
  t.true(err!.message.includes(`${srv.url}/${path}`), err!.message);
});

test('tampered entry bundle: inconsistent, naming the bundle URL and the entry', async (t) => {
  const { srv, c, leaves } = await tamperable();
  const path = tilePath({ kind: 'entries', index: 0, width: 256 });
  // Entry 0 starts at byte 2 (after its 2-byte length); change a byte of its leaf.
  flipByte(join(srv.dir, path), 4);
  const err = await t.throwsAsync(drain(c, 0, 1), { instanceOf: LafsError });
  t.is(err!.code, 'inconsistent');
  t.true(err!.message.includes(`${srv.url}/${path}`), err!.message);
  t.regex(err!.message, /entry 0 hashes to/);
  // A bundle with a consistent but different leaf count is malformed, also inconsistent.
  const file = join(srv.dir, tilePath({ kind: 'entries', index: 2, width: 88 }));
  writeFileSync(file, readFileSync(file).subarray(0, 2 + leaves[512]!.length));
  const err2 = await t.throwsAsync(drain(c, 520, 530), { instanceOf: LafsError });
  t.is(err2!.code, 'inconsistent');
});

test('a truncated hash tile is inconsistent; a missing one is unavailable with advice', async (t) => {
  const { srv, c } = await tamperable();
  const tile0 = join(srv.dir, tilePath({ kind: 'hash', level: 0, index: 0, width: 256 }));
  writeFileSync(tile0, readFileSync(tile0).subarray(0, 8000));
  const err = await t.throwsAsync(drain(c, 0, 1), { instanceOf: LafsError });
  t.is(err!.code, 'inconsistent');
  t.regex(err!.message, /has 8000 bytes, expected 8192/);
  rmSync(join(srv.dir, tilePath({ kind: 'hash', level: 0, index: 1, width: 256 })));
  const err2 = await t.throwsAsync(drain(c, 256, 257), { instanceOf: LafsError });
  t.is(err2!.code, 'unavailable');
  t.regex(err2!.message, /404 not found, but the checkpoint covers this tile/);
});

test('a bad tile does not stick: once the mirror serves the right bytes again, the same client reads them afresh', async (t) => {
  const { srv } = await tamperable();
  const count = (path: string) => srv.requests.filter((r) => r === `/${path}`).length;
  const cases: [string, string, number, (file: string) => void][] = [
    ['tampered hash tile', tilePath({ kind: 'hash', level: 0, index: 1, width: 256 }), 261, (f) => flipByte(f, 100)],
    ['truncated hash tile', tilePath({ kind: 'hash', level: 0, index: 0, width: 256 }), 7, (f) => writeFileSync(f, readFileSync(f).subarray(0, 8000))],
    ['tampered entry bundle', tilePath({ kind: 'entries', index: 1, width: 256 }), 259, (f) => flipByte(f, 4)],
  ];
  for (const [name, path, index, spoil] of cases) {
    const c = client(srv.url);
    const file = join(srv.dir, path);
    const good = readFileSync(file);
    spoil(file);
    const err = await t.throwsAsync(drain(c, index, index + 1), { instanceOf: LafsError }, name);
    t.is(err!.code, 'inconsistent', name);
    writeFileSync(file, good); // the mirror recovers
    const before = count(path);
    await t.notThrowsAsync(drain(c, index, index + 1), name);
    t.is(count(path), before + 1, `${name}: fetched again, not served from the cache`);
  }
  // Verified full tiles are cached: reading the same entries again costs no request for the full bundle.
  const c = client(srv.url);
  const bundle = tilePath({ kind: 'entries', index: 1, width: 256 });
  await drain(c, 300, 301);
  const before = count(bundle);
  await drain(c, 310, 311);
  t.is(count(bundle), before, 'the verified entry bundle came from the cache');
});

test('a mirror without the partial tiles falls back to full tiles (a mirror taken later)', async (t) => {
  // The later mirror holds the big tree; the client checks a checkpoint of 600 leaves against its full tiles.
  const earlier = await staticLog(bigLeaves.slice(0, 600));
  const cp600 = (await client(earlier.url).checkpoint()).checkpoint;
  const later = await bigLog();
  t.false(existsSync(join(later.dir, tilePath({ kind: 'hash', level: 0, index: 2, width: 88 }))));
  t.false(existsSync(join(later.dir, tilePath({ kind: 'hash', level: 1, index: 0, width: 2 }))));
  const c = client(later.url);
  const got: number[] = [];
  for await (const e of c.rawEntries(590, 600, cp600)) got.push(e.index);
  t.deepEqual(got, [590, 591, 592, 593, 594, 595, 596, 597, 598, 599]);
  const h = leafHash(bigLeaves[599]!, nodeSha256);
  t.true(verifyInclusion(h, 599, 600, await c.inclusionProof(599, h, cp600), cp600.root, nodeSha256).ok);
  t.true(later.requests.includes('/tile/1/000'));
});

test('decoded entries: leaves decode and their statements are parsed', async (t) => {
  const builder = await makeBuilder('Entry Builder', 'entries@example.org');
  const statements = Array.from({ length: 5 }, () => randomStatement({ artifacts: 2 }));
  const leaves = await Promise.all(statements.map(async (s) => {
    const text = statementText(s);
    const signature = await signDetached(builder, text) as Uint8Array;
    return encodeLeaf({ kind: 'lafs-attestation/v1', signed: new TextEncoder().encode(text), signature, publicKey: builder.publicKey });
  }));
  const srv = await staticLog(leaves);
  const c = client(srv.url);
  const { checkpoint } = await c.checkpoint();
  const seen: string[] = [];
  for await (const e of c.entries(0, 5, checkpoint)) {
    t.is(e.decoded.kind, 'lafs-attestation/v1');
    t.deepEqual(e.leaf, leaves[e.index]);
    t.is(e.view.source, statements[e.index]!.source);
    t.deepEqual(e.view.artifacts.map((a) => a.sha256).sort(), statements[e.index]!.artifacts.map((a) => a.sha256).sort());
    seen.push(e.view.source);
  }
  t.is(seen.length, 5);
  const one = await c.entry(3, checkpoint);
  t.is(one.view.source, statements[3]!.source);
});

test('an undecodable leaf that is in the tree: rawEntries yields it, entries() names the index', async (t) => {
  const srv = await staticLog([new TextEncoder().encode('not a leaf')]);
  const c = client(srv.url);
  const { checkpoint } = await c.checkpoint();
  let raw = 0;
  for await (const _ of c.rawEntries(0, 1, checkpoint)) raw++;
  t.is(raw, 1);
  const err = await t.throwsAsync(c.entry(0, checkpoint), { instanceOf: LafsError });
  t.regex(err!.message, /^entry 0: /);
});

test('lookups and submissions on a static mirror: unavailable, saying why', async (t) => {
  const srv = await bigLog();
  const c = client(srv.url);
  const err = await t.throwsAsync(c.lookupHash('sha256:' + 'ab'.repeat(32)), { instanceOf: LafsError });
  t.is(err!.code, 'unavailable');
  t.regex(err!.message, /serves no \/v1 API \(a static tile mirror\?\); lookups need the log server/);
  const err2 = await t.throwsAsync(c.lookupName({ source: 'sha256:' + 'cd'.repeat(32) }), { instanceOf: LafsError });
  t.is(err2!.code, 'unavailable');
  const err3 = await t.throwsAsync(c.submit({ kind: 'lafs-attestation/v1' }), { instanceOf: LafsError });
  t.is(err3!.code, 'unavailable');
  await t.throwsAsync(c.lookupHash('nothex'), { instanceOf: LafsError, message: /expected sha256:<64 lowercase hex>/ });
});

test('a log API that serves a bad inclusion proof is caught, not trusted', async (t) => {
  // A hostile server: honest tiles (copied from a static log), dishonest /v1 proofs.
  const leaves = rawLeaves(40, 'hostile');
  const dir = tempDir('lafs-static-');
  writeStaticLog(dir, leaves, keys.signerKey, ORIGIN);
  const honest = await serveDir(dir);
  servers.push(honest);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/v1/proof/inclusion') {
      const index = Number(url.searchParams.get('index'));
      const body = { index, size: 40, leafHash: Buffer.from(leafHash(leaves[index]!, nodeSha256)).toString('base64'), proof: Array.from({ length: 6 }, () => Buffer.alloc(32, 7).toString('base64')) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    if (url.pathname === '/v1/proof/consistency') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ from: Number(url.searchParams.get('from')), to: 40, proof: ['AAAA'] }));
      return;
    }
    fetch(`${honest.url}${url.pathname}`).then(async (r) => res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? '' }).end(Buffer.from(await r.arrayBuffer())));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const c = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const { checkpoint } = await c.checkpoint();
  const err = await t.throwsAsync(c.inclusionProof(7, leafHash(leaves[7]!, nodeSha256), checkpoint), { instanceOf: LafsError });
  t.is(err!.code, 'inconsistent');
  t.regex(err!.message, /\/v1\/proof\/inclusion\?index=7&size=40: inclusion proof .* does not verify/);
  const older = (await client((await staticLog(leaves.slice(0, 20))).url).checkpoint()).checkpoint;
  const err2 = await t.throwsAsync(c.proveConsistency(older, checkpoint), { instanceOf: LafsError });
  t.is(err2!.code, 'inconsistent');
  t.regex(err2!.message, /field "proof\[0\]" of the response is not a 32-byte hash/);
});

/** A loopback front for `backend` that answers 503 to the first `failures` requests, then proxies. */
async function flakyFront(t: { teardown(fn: () => unknown): void }, backend: string, failures: number): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (hits.length <= failures) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('overloaded');
      return;
    }
    fetch(`${backend}${req.url}`).then(async (r) => res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? '' }).end(Buffer.from(await r.arrayBuffer())));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

test('a log that fails twice with 503 is retried, then verified as usual', async (t) => {
  const srv = await staticLog(rawLeaves(20, 'flaky'));
  const front = await flakyFront(t, srv.url, 2);
  const c = new LogClient({ url: front.url, verifierKey: keys.verifierKey, retries: 3, backoffMs: 5, maxBackoffMs: 20 });
  const { checkpoint } = await c.checkpoint();
  t.is(checkpoint.size, 20);
  t.deepEqual(front.hits, ['/checkpoint', '/checkpoint', '/checkpoint']);
  // With fewer retries than failures it gives up, naming the URL.
  const front2 = await flakyFront(t, srv.url, 2);
  const c2 = new LogClient({ url: front2.url, verifierKey: keys.verifierKey, retries: 1, backoffMs: 5 });
  const err = await t.throwsAsync(c2.checkpoint(), { instanceOf: LafsError });
  t.is(err!.code, 'unavailable');
  t.true(err!.message.startsWith(`GET ${front2.url}/checkpoint: server error 503 (overloaded) after 2 attempts`), err!.message);
});

test('a log that never answers: a timeout error naming the URL', async (t) => {
  const server = createServer(() => { /* hangs */ });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const c = new LogClient({ url, verifierKey: keys.verifierKey, timeoutMs: 200, retries: 0 });
  const err = await t.throwsAsync(c.checkpoint(), { instanceOf: LafsError });
  t.is(err!.code, 'unavailable');
  t.true(err!.message.startsWith(`GET ${url}/checkpoint: timed out after 200 ms after 1 attempt;`), err!.message);
});

test('tileReader gives only verified tiles: the root recomputed through it matches, a tampered tile is refused', async (t) => {
  const { srv, c, leaves } = await tamperable();
  const { checkpoint } = await c.checkpoint();
  const root = await rootAt(checkpoint.size, tileHashSource(checkpoint.size, c.tileReader(checkpoint), nodeSha256), nodeSha256);
  t.deepEqual([...root], [...rootOfLeaves(leaves, nodeSha256)]);
  flipByte(join(srv.dir, tilePath({ kind: 'hash', level: 0, index: 1, width: 256 })), 7);
  const fresh = client(srv.url);
  await t.throwsAsync(fresh.tileReader(checkpoint)(0, 1, 256), { instanceOf: LafsError, message: /tampered tile/ });
});

test('a submission answer with a bad proof or a checkpoint signed by another key is refused', async (t) => {
  const leaves = rawLeaves(5, 'submitted');
  const srv = await staticLog(leaves);
  const note = readFileSync(join(srv.dir, 'checkpoint'), 'utf8');
  const otherKeys = generateKeyPair(ORIGIN, nodeEd25519);
  const foreign = await staticLog(leaves, otherKeys.signerKey);
  const foreignNote = readFileSync(join(foreign.dir, 'checkpoint'), 'utf8');
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
  // An honest proof for leaf 4 of 5: its sibling subtree is the root of leaves 0..3.
  const honestProof = [b64(rootOfLeaves(leaves.slice(0, 4), nodeSha256))];
  let answer: Record<string, unknown> = {};
  const server = createServer((_req, res) => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(answer)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const c = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const base = { index: 4, leafHash: b64(leafHash(leaves[4]!, nodeSha256)), builder: 'ab'.repeat(20), warnings: [] };

  answer = { ...base, checkpoint: note, inclusionProof: honestProof };
  const ok = await c.submit({ kind: 'x' });
  t.true(ok.created);
  t.is(ok.index, 4);
  t.is(ok.checkpoint.note, note);

  answer = { ...base, checkpoint: note, inclusionProof: [b64(new Uint8Array(32))] };
  t.is((await t.throwsAsync(c.submit({ kind: 'x' }), { instanceOf: LafsError }))!.code, 'inconsistent');
  answer = { ...base, checkpoint: foreignNote, inclusionProof: honestProof };
  t.is((await t.throwsAsync(c.submit({ kind: 'x' }), { instanceOf: LafsError }))!.code, 'bad-note');
  answer = { ...base, index: 5, checkpoint: note, inclusionProof: honestProof };
  t.is((await t.throwsAsync(c.submit({ kind: 'x' }), { instanceOf: LafsError }))!.code, 'inconsistent');
  answer = { ...base, leafHash: 'not base64!', checkpoint: note, inclusionProof: honestProof };
  t.regex((await t.throwsAsync(c.submit({ kind: 'x' }), { instanceOf: LafsError }))!.message, /field "leafHash" of the response is not a 32-byte hash/);
});

test('a mirror under a path prefix (with a trailing slash in the URL) works', async (t) => {
  const root = tempDir('lafs-static-');
  const leaves = rawLeaves(260, 'prefixed');
  writeStaticLog(join(root, 'logs', 'ours'), leaves, keys.signerKey, ORIGIN);
  const srv = await serveDir(root);
  servers.push(srv);
  const c = client(`${srv.url}/logs/ours/`);
  t.is(c.url, `${srv.url}/logs/ours`);
  const { checkpoint } = await c.checkpoint();
  const got: number[] = [];
  for await (const e of c.rawEntries(254, 260, checkpoint)) got.push(e.index);
  t.deepEqual(got, [254, 255, 256, 257, 258, 259]);
  t.true(srv.requests.includes('/logs/ours/tile/entries/001.p/4'));
});

test('lookup answers are type-checked, and a truncated one is refused', async (t) => {
  let answer: unknown = {};
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const c = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const row = { index: 3, builder: 'ab'.repeat(20), source: 'sha256:' + '11'.repeat(32), platform: null, name: 'a.tar.gz', hash: 'sha256:' + '22'.repeat(32) };
  answer = { entries: [row], truncated: false };
  t.deepEqual(await c.lookupHash('22'.repeat(32)), [row]);
  answer = { entries: [row], truncated: true };
  t.is((await t.throwsAsync(c.lookupHash('22'.repeat(32)), { instanceOf: LafsError }))!.code, 'too-large');
  answer = { entries: [{ ...row, index: -1 }] };
  t.regex((await t.throwsAsync(c.lookupName({ source: row.source }), { instanceOf: LafsError }))!.message, /entries\[0\]: field "index" of the response is not a non-negative integer/);
});
