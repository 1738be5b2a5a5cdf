/**
 * POST /v1/entries has two paths through the server (log-server/app.ts, createHandler): a plain
 * JSON body goes raw to a build worker, which parses it there; any other request (here: a
 * Content-Type with an extra parameter, which express.json reads all the same) goes through
 * express and express.json on the main thread. Both must answer every body alike: the same
 * status, error code and message, and the same entry for the same leaf.
 */
import test from 'ava';
import { attestationBody, makeBuilder, randomStatement, sumsBody, type TestBuilder } from '../helpers/submissions.js';
import { request, type HttpAnswer } from '../helpers/log-http.js';
import { startServer, type RunningServer } from '../helpers/server.js';

let server: RunningServer;
let alice: TestBuilder;

test.before(async () => {
  server = await startServer({ origin: 'submit-paths.example/log' });
  alice = await makeBuilder('Alice');
});
test.after.always(async () => {
  await server?.stop();
});

const FAST = 'application/json';
const EXPRESS = 'application/json; x-path=express';
const send = (body: string, contentType: string): Promise<HttpAnswer> =>
  request(`${server.url}/v1/entries`, { method: 'POST', headers: { 'content-type': contentType }, body });

test('bad bodies get the same status, code and message on both paths', async (t) => {
  const good = await attestationBody(alice, randomStatement());
  const sums = await sumsBody(alice, `${'c'.repeat(64)}  pkg-1.0.tar.gz\n`, { source: `sha256:${'a'.repeat(64)}`, platform: 'win64' });
  const bodies: [string, string][] = [
    ['malformed JSON', '{"kind": "lafs-attestation/v1",'],
    ['a JSON string', '"hello"'],
    ['a number after spaces', '   7'],
    ['only whitespace', ' \n '],
    ['empty body', ''],
    ['empty object', '{}'],
    ['an array', JSON.stringify([good])],
    ['unknown kind', JSON.stringify({ ...good, kind: 'lafs-attestation/v9' })],
    ['unknown field', JSON.stringify({ ...good, extra: 1 })],
    ['bad base64 signature', JSON.stringify({ ...good, signature: 'not*base64!' })],
    ['a BOM, then bad base64', '\ufeff' + JSON.stringify({ ...good, publicKey: 'AAA' })],
    ['claims nested 100k deep', `${JSON.stringify({ ...sums, claims: undefined }).slice(0, -1)},"claims":${'['.repeat(100_000)}${']'.repeat(100_000)}}`],
    ['signature over other bytes', JSON.stringify({ ...good, statement: `${good.statement as string}`.replace('lafs-attestation/v1', 'lafs-attestation/v1 ') })],
  ];
  for (const [name, body] of bodies) {
    const [fast, slow] = await Promise.all([send(body, FAST), send(body, EXPRESS)]);
    t.true(fast.status >= 400 && fast.status < 500, `${name}: 4xx (${fast.status} ${fast.text})`);
    t.is(fast.status, slow.status, `${name}: status`);
    t.is(fast.body?.error, slow.body?.error, `${name}: error code`);
    t.is(fast.body?.message, slow.body?.message, `${name}: message`);
    t.is(fast.headers.get('content-type'), slow.headers.get('content-type'), `${name}: content type`);
    t.is(fast.headers.get('cache-control'), 'no-store', `${name}: not cached`);
  }
  t.false(/"level":50/.test(server.log()), 'no request was logged as a server fault');
});

test('a submission logged on one path is the same entry on the other', async (t) => {
  const body = JSON.stringify(await attestationBody(alice, randomStatement()));
  const first = await send(body, EXPRESS);
  t.is(first.status, 201, first.text);
  const again = await send(body, FAST);
  t.is(again.status, 200, again.text);
  t.is(again.body.index, first.body.index);
  t.is(again.body.leafHash, first.body.leafHash);
  t.is(again.headers.get('content-type'), first.headers.get('content-type'));
  const other = JSON.stringify(await attestationBody(alice, randomStatement()));
  const created = await send(other, FAST);
  t.is(created.status, 201, created.text);
  t.is(created.body.index, first.body.index + 1);
  t.deepEqual(Object.keys(created.body), Object.keys(first.body));
  t.true((created.body.inclusionProof as string[]).length > 0);
  t.regex(created.headers.get('server-timing') ?? '', /verify;dur=.*sequence;dur=.*proof;dur=/);
});
