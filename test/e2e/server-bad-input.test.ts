/**
 * Every kind of bad request against the real server, as a table: each gets its 4xx status and
 * error code in a `{ error, message }` body, never a 500, and nothing is written (the signed
 * checkpoint is byte-identical before and after the whole table).
 */
import test from 'ava';
import { guixBody, guixEntry, makeBuilder, attestationBody, randomStatement, statementText, signDetached, sumsBody, type TestBuilder } from '../helpers/submissions.js';
import { postEntry, request, type HttpAnswer } from '../helpers/log-http.js';
import { startServer, type RunningServer } from '../helpers/server.js';

let server: RunningServer;
let alice: TestBuilder;
let mallory: TestBuilder;

test.before(async () => {
  server = await startServer({ origin: 'bad-input.example/log' });
  [alice, mallory] = await Promise.all([makeBuilder('Alice'), makeBuilder('Mallory')]);
  for (let i = 0; i < 3; i++) {
    const r = await postEntry(server.url, await attestationBody(alice, randomStatement()));
    if (r.status !== 201) throw new Error(`setup: ${r.status} ${r.text}`);
  }
});
test.after.always(async () => {
  await server?.stop();
});

type Case = [name: string, send: () => Promise<HttpAnswer>, status: number, code: string];

const post = (body: unknown) => () => postEntry(server.url, body);
const raw = (body: string, contentType = 'application/json') => () =>
  request(`${server.url}/v1/entries`, { method: 'POST', headers: { 'content-type': contentType }, body });
const get = (path: string) => () => request(`${server.url}${path}`);

async function validBody(): Promise<Record<string, unknown>> {
  return attestationBody(alice, randomStatement());
}

async function cases(): Promise<Case[]> {
  const good = await validBody();
  const text = statementText(randomStatement());
  const otherText = statementText(randomStatement());
  const guix = guixEntry('laanwj');
  const tampered = Uint8Array.from(guix.sums);
  tampered[10] = tampered[10] === 0x61 ? 0x62 : 0x61;
  const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');
  const sigOver = async (signer: TestBuilder, data: string) => b64((await signDetached(signer, data)) as Uint8Array);
  const badStatement = 'lafs-attestation/v1\nsource sha256:XYZ\nplatform x86_64-linux-gnu\n';
  const notSums = 'this is not a checksum line\n';
  // A small, validly signed sha256sums body whose claims the rows below replace. Deep nesting is
  // written as text: JSON.stringify would recurse as deep as the value.
  const sums = await sumsBody(alice, `${'c'.repeat(64)}  pkg-1.0.tar.gz\n`, { source: `sha256:${'a'.repeat(64)}`, platform: 'win64' });
  const withClaims = (claimsJson: string) => raw(`${JSON.stringify({ ...sums, claims: undefined }).slice(0, -1)},"claims":${claimsJson}}`);
  const deep = (depth: number, open: string, inner: string, close: string) => open.repeat(depth) + inner + close.repeat(depth);
  const source = JSON.stringify(`sha256:${'a'.repeat(64)}`);

  return [
    // ---- submissions: the body ----
    ['malformed JSON', raw('{"kind": "lafs-attestation/v1",'), 400, 'bad-request'],
    ['oversized body', raw(JSON.stringify({ ...good, statement: 'x'.repeat(300 * 1024) })), 413, 'too-large'],
    ['not JSON content type', raw(JSON.stringify(good), 'text/plain'), 400, 'bad-request'],
    ['JSON array body', post([good]), 400, 'bad-request'],
    ['JSON string body', raw('"hello"'), 400, 'bad-request'],
    ['missing kind', post({ ...good, kind: undefined }), 400, 'bad-request'],
    ['unknown kind', post({ ...good, kind: 'lafs-attestation/v9' }), 400, 'unknown-kind'],
    ['unknown field', post({ ...good, extra: 1 }), 400, 'bad-request'],
    ['statement not a string', post({ ...good, statement: 42 }), 400, 'bad-request'],
    ['missing statement', post({ ...good, statement: undefined }), 400, 'bad-request'],
    ['missing signature', post({ ...good, signature: undefined }), 400, 'bad-request'],
    ['bad base64 signature', post({ ...good, signature: 'not*base64!' }), 400, 'bad-request'],
    ['bad base64 key', post({ ...good, publicKey: 'AAA' }), 400, 'bad-request'],
    ['claims on an attestation', post({ ...good, claims: { source: `sha256:${'a'.repeat(64)}`, platform: 'win64' } }), 400, 'bad-request'],
    // ---- submissions: the statement, signature and key ----
    ['bad statement', post({ kind: 'lafs-attestation/v1', statement: badStatement, signature: await sigOver(alice, badStatement), publicKey: b64(alice.publicKey) }), 400, 'bad-statement'],
    ['statement with CRLF', post({ kind: 'lafs-attestation/v1', statement: text.replace(/\n/g, '\r\n'), signature: await sigOver(alice, text.replace(/\n/g, '\r\n')), publicKey: b64(alice.publicKey) }), 400, 'bad-statement'],
    ['signature over other bytes', post({ kind: 'lafs-attestation/v1', statement: text, signature: await sigOver(alice, otherText), publicKey: b64(alice.publicKey) }), 400, 'bad-signature'],
    ['signature by another key', post({ kind: 'lafs-attestation/v1', statement: text, signature: await sigOver(mallory, text), publicKey: b64(alice.publicKey) }), 400, 'bad-signature'],
    ['signature bytes that are not OpenPGP', post({ ...good, signature: b64('definitely not a signature') }), 400, 'bad-signature'],
    ['key bytes that are not OpenPGP', post({ ...good, publicKey: b64('definitely not a key') }), 400, 'bad-key'],
    ['armored garbage key', post({ ...good, publicKey: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n' }), 400, 'bad-key'],
    // ---- submissions: sha256sums ----
    ['sums without claims', post({ ...guixBody(guix), claims: undefined }), 400, 'bad-request'],
    ['sums with a statement', post({ ...guixBody(guix), statement: text }), 400, 'bad-request'],
    ['bad base64 sums', post({ ...guixBody(guix), sums: '%%%' }), 400, 'bad-request'],
    ['claims with platform and platformRegex', post({ ...guixBody(guix), claims: { source: guix.source, platform: 'win64', platformRegex: '(?<platform>.*)' } }), 400, 'bad-request'],
    ['claims with a bad source', post({ ...guixBody(guix), claims: { source: 'md5:abc', platform: 'win64' } }), 400, 'bad-request'],
    ['guix sums with one byte changed', post({ ...guixBody(guix), sums: b64(tampered) }), 400, 'bad-signature'],
    // ---- submissions: claims of every wrong shape, checked before anything reaches a worker ----
    ['claims: an array nested 100k deep', withClaims(deep(100_000, '[', '', ']')), 400, 'bad-request'],
    ['claims: an object nested 40k deep', withClaims(deep(40_000, '{"a":', '0', '}')), 400, 'bad-request'],
    ['claims.platform nested 100k deep', withClaims(`{"source":${source},"platform":${deep(100_000, '[', '', ']')}}`), 400, 'bad-request'],
    ['claims with an unknown field nested 100k deep', withClaims(`{"source":${source},"platform":"win64","x":${deep(100_000, '[', '', ']')}}`), 400, 'bad-request'],
    ['claims.platformRegex of 200 KB', post({ ...sums, claims: { source: `sha256:${'a'.repeat(64)}`, platformRegex: `(?<platform>${'a'.repeat(200_000)})` } }), 400, 'bad-request'],
    ['claims.platform of 200 KB', post({ ...sums, claims: { source: `sha256:${'a'.repeat(64)}`, platform: 'a'.repeat(200_000) } }), 400, 'bad-request'],
    ['claims.source of 200 KB', post({ ...sums, claims: { source: `sha256:${'a'.repeat(200_000)}`, platform: 'win64' } }), 400, 'bad-request'],
    ['claims with 10k unknown fields', post({ ...sums, claims: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i])) }), 400, 'bad-request'],
    ['claims: a string', post({ ...sums, claims: 'win64' }), 400, 'bad-request'],
    ['claims: null', post({ ...sums, claims: null }), 400, 'bad-request'],
    ['claims: an array', post({ ...sums, claims: [`sha256:${'a'.repeat(64)}`, 'win64'] }), 400, 'bad-request'],
    ['claims.source a number', post({ ...sums, claims: { source: 42, platform: 'win64' } }), 400, 'bad-request'],
    ['claims.source an array', post({ ...sums, claims: { source: [`sha256:${'a'.repeat(64)}`], platform: 'win64' } }), 400, 'bad-request'],
    ['claims.platform a number', post({ ...sums, claims: { source: `sha256:${'a'.repeat(64)}`, platform: 64 } }), 400, 'bad-request'],
    ['claims.platformRegex an object', post({ ...sums, claims: { source: `sha256:${'a'.repeat(64)}`, platformRegex: { source: '(?<platform>.*)' } } }), 400, 'bad-request'],
    ['claims with neither platform nor platformRegex', post({ ...sums, claims: { source: `sha256:${'a'.repeat(64)}` } }), 400, 'bad-request'],
    ['a file that is not sha256sums', post(await sumsBody(alice, notSums, { source: `sha256:${'a'.repeat(64)}`, platform: 'win64' })), 400, 'bad-sums'],
    // ---- reads: entries and proofs ----
    ['entry index not a number', get('/v1/entries/abc'), 400, 'bad-request'],
    ['entry index with leading zero', get('/v1/entries/01'), 400, 'bad-request'],
    ['entry beyond the log', get('/v1/entries/3'), 404, 'not-found'],
    ['inclusion: index = size', get('/v1/proof/inclusion?index=3'), 400, 'out-of-range'],
    ['inclusion: size beyond the log', get('/v1/proof/inclusion?index=0&size=4'), 400, 'out-of-range'],
    ['inclusion: size 0', get('/v1/proof/inclusion?index=0&size=0'), 400, 'out-of-range'],
    ['inclusion: index above size', get('/v1/proof/inclusion?index=2&size=2'), 400, 'out-of-range'],
    ['inclusion: negative index', get('/v1/proof/inclusion?index=-1'), 400, 'bad-request'],
    ['inclusion: index twice', get('/v1/proof/inclusion?index=1&index=2'), 400, 'bad-request'],
    ['inclusion: neither index nor leafHash', get('/v1/proof/inclusion'), 400, 'bad-request'],
    ['inclusion: both index and leafHash', get(`/v1/proof/inclusion?index=0&leafHash=${'A'.repeat(43)}%3D`), 400, 'bad-request'],
    ['inclusion: leafHash not base64 of 32 bytes', get('/v1/proof/inclusion?leafHash=abcd'), 400, 'bad-request'],
    ['inclusion: unknown leafHash', get(`/v1/proof/inclusion?leafHash=${'A'.repeat(43)}%3D`), 404, 'not-found'],
    ['inclusion: unknown parameter', get('/v1/proof/inclusion?index=0&foo=1'), 400, 'bad-request'],
    ['consistency: from 0', get('/v1/proof/consistency?from=0&to=2'), 400, 'out-of-range'],
    ['consistency: from > to', get('/v1/proof/consistency?from=3&to=2'), 400, 'out-of-range'],
    ['consistency: to beyond the log', get('/v1/proof/consistency?from=1&to=4'), 400, 'out-of-range'],
    ['consistency: missing from', get('/v1/proof/consistency?to=2'), 400, 'bad-request'],
    ['consistency: from not a number', get('/v1/proof/consistency?from=1e2&to=2'), 400, 'bad-request'],
    // ---- reads: tiles ----
    ['tile index not 3 digits', get('/tile/0/1'), 400, 'bad-tile'],
    ['tile with x on the last group', get('/tile/0/x000'), 400, 'bad-tile'],
    ['tile width 0', get('/tile/0/000.p/0'), 400, 'bad-tile'],
    ['tile width 256 as partial', get('/tile/0/000.p/256'), 400, 'bad-tile'],
    ['tile width with leading zero', get('/tile/0/000.p/02'), 400, 'bad-tile'],
    ['tile level not a number', get('/tile/a/000'), 400, 'bad-tile'],
    ['entries tile with trailing slash', get('/tile/entries/000/'), 400, 'bad-tile'],
    ['partial tile wider than the tree', get('/tile/0/000.p/4'), 404, 'not-found'],
    ['full tile not yet complete', get('/tile/0/000'), 404, 'not-found'],
    ['entry bundle wider than the tree', get('/tile/entries/000.p/5'), 404, 'not-found'],
    // ---- reads: lookup ----
    ['lookup without parameters', get('/v1/lookup'), 400, 'bad-request'],
    ['lookup by md5', get('/v1/lookup?hash=md5:abc'), 400, 'bad-request'],
    ['lookup hash with uppercase hex', get(`/v1/lookup?hash=sha256:${'A'.repeat(64)}`), 400, 'bad-request'],
    ['lookup by hash and source', get(`/v1/lookup?hash=sha256:${'a'.repeat(64)}&source=sha256:${'a'.repeat(64)}`), 400, 'bad-request'],
    ['lookup platform without source', get('/v1/lookup?platform=win64'), 400, 'bad-request'],
    ['lookup with a bad source', get('/v1/lookup?source=foo'), 400, 'bad-request'],
    ['lookup with a bad platform', get(`/v1/lookup?source=sha256:${'a'.repeat(64)}&platform=a%20b`), 400, 'bad-request'],
    ['lookup name with a slash', get(`/v1/lookup?source=sha256:${'a'.repeat(64)}&name=a%2Fb`), 400, 'bad-request'],
    ['lookup with an unknown parameter', get(`/v1/lookup?source=sha256:${'a'.repeat(64)}&arch=x`), 400, 'bad-request'],
    // ---- anything else ----
    ['unknown route', get('/v2/anything'), 404, 'not-found'],
    ['POST to a read route', () => request(`${server.url}/checkpoint`, { method: 'POST' }), 404, 'not-found'],
  ];
}

test('each bad request gets its 4xx status and error code, and nothing is written', async (t) => {
  const before = (await request(`${server.url}/checkpoint`)).text;
  const table = await cases();
  for (const [name, send, status, code] of table) {
    const answer = await send();
    t.is(answer.status, status, `${name}: status (${answer.text})`);
    t.is(answer.body?.error, code, `${name}: error code (${answer.text})`);
    t.true(typeof answer.body?.message === 'string' && answer.body.message.length > 0, `${name}: message`);
    if (name.startsWith('claims')) t.regex(answer.body?.message ?? '', /\bclaims\b/, `${name}: the message names the claims field`);
    t.true((answer.headers.get('content-type') ?? '').startsWith('application/json'), `${name}: JSON`);
  }
  t.is((await request(`${server.url}/checkpoint`)).text, before, 'the log did not change');
  t.is((await request(`${server.url}/healthz`)).body.size, 3);
  t.false(/"level":50/.test(server.log()), 'no request was logged as a server fault');
  t.is(server.process.exitCode, null, 'the server is still running');
});
