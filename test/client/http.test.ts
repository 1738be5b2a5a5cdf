/**
 * The client's transport against tiny local HTTP servers that misbehave on purpose: retries on
 * 5xx and network errors with backoff, none on 4xx, bounded attempts, timeouts and refusals that
 * name the URL, server error codes passed through, response size limits, the full-tile LRU.
 */
import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpTransport, apiError } from '../../client/http.js';
import { TileCache } from '../../client/tile-cache.js';
import { LafsError } from '../../merkle/errors.js';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** A loopback server running `handler` with the 1-based request count; closed after the test. */
async function tinyServer(t: { teardown(fn: () => unknown): void }, handler: Handler): Promise<{ url: string; count(): number }> {
  let n = 0;
  const server = createServer((req, res) => handler(req, res, ++n));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, count: () => n };
}

/** A port nothing listens on: bind one, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('retries 5xx with backoff, then returns the success', async (t) => {
  const srv = await tinyServer(t, (_req, res, n) => {
    if (n <= 2) res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok after two failures');
  });
  const http = new HttpTransport({ retries: 3, backoffMs: 5, maxBackoffMs: 20 });
  const res = await http.request('GET', `${srv.url}/checkpoint`, { maxBytes: 1000 });
  t.is(res.status, 200);
  t.is(new TextDecoder().decode(res.body), 'ok after two failures');
  t.is(srv.count(), 3);
});

test('gives up after the bounded number of attempts with an error naming the URL and the status', async (t) => {
  const srv = await tinyServer(t, (_req, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('disk on fire'));
  const http = new HttpTransport({ retries: 2, backoffMs: 1, maxBackoffMs: 5 });
  const err = await t.throwsAsync(http.request('GET', `${srv.url}/tile/0/000`, { maxBytes: 1000 }), { instanceOf: LafsError });
  t.is(err!.code, 'unavailable');
  t.is(err!.message.split(';')[0], `GET ${srv.url}/tile/0/000: server error 500 (disk on fire) after 3 attempts`);
  t.is(srv.count(), 3);
});

test('does not retry 4xx: returns it once for the caller to interpret', async (t) => {
  const srv = await tinyServer(t, (_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('no such tile'));
  const http = new HttpTransport({ retries: 3, backoffMs: 1 });
  const res = await http.request('GET', `${srv.url}/tile/0/001`, { maxBytes: 1000 });
  t.is(res.status, 404);
  t.is(srv.count(), 1);
});

test('connection refused: retried, then an unavailable error naming the URL and the attempts', async (t) => {
  const port = await closedPort();
  const http = new HttpTransport({ retries: 2, backoffMs: 1, maxBackoffMs: 5 });
  const url = `http://127.0.0.1:${port}/checkpoint`;
  const err = await t.throwsAsync(http.request('GET', url, { maxBytes: 1000 }), { instanceOf: LafsError });
  t.is(err!.code, 'unavailable');
  t.true(err!.message.startsWith(`GET ${url}: connection refused after 3 attempts; check that the log URL is right`), err!.message);
});

test('a server that never answers times out with an error naming the URL', async (t) => {
  const srv = await tinyServer(t, () => { /* never responds */ });
  // 1 s per attempt, not less: on a loaded machine a shorter timeout can abort the second attempt before the server sees it.
  const http = new HttpTransport({ timeoutMs: 1_000, retries: 1, backoffMs: 1 });
  const url = `${srv.url}/checkpoint`;
  const started = Date.now();
  const err = await t.throwsAsync(http.request('GET', url, { maxBytes: 1000 }), { instanceOf: LafsError });
  t.is(err!.code, 'unavailable');
  t.true(err!.message.startsWith(`GET ${url}: timed out after 1000 ms after 2 attempts`), err!.message);
  t.is(srv.count(), 2);
  t.true(Date.now() - started < 5_000);
});

test('a body that stalls mid-stream also times out', async (t) => {
  const srv = await tinyServer(t, (_req, res) => { res.writeHead(200, { 'content-type': 'application/octet-stream' }); res.write('partial'); });
  const http = new HttpTransport({ timeoutMs: 150, retries: 0 });
  const err = await t.throwsAsync(http.request('GET', `${srv.url}/tile/entries/000`, { maxBytes: 1000 }), { instanceOf: LafsError });
  t.regex(err!.message, /timed out after 150 ms after 1 attempt;/);
});

test('refuses bodies over the limit, declared or streamed', async (t) => {
  const big = new Uint8Array(5000);
  const declared = await tinyServer(t, (_req, res) => res.writeHead(200, { 'content-length': big.length }).end(big));
  const chunked = await tinyServer(t, (_req, res) => { res.writeHead(200); res.write(big.subarray(0, 2500)); res.end(big.subarray(2500)); });
  const http = new HttpTransport({ retries: 0 });
  for (const srv of [declared, chunked]) {
    const err = await t.throwsAsync(http.request('GET', `${srv.url}/tile/0/000`, { maxBytes: 4096 }), { instanceOf: LafsError });
    t.is(err!.code, 'too-large');
    t.true(err!.message.includes(`${srv.url}/tile/0/000`));
  }
});

test('apiError carries the server code and message; a non-JSON 4xx maps to not-found / bad-request', (t) => {
  const body = new TextEncoder().encode(JSON.stringify({ error: 'bad-statement', message: 'line 3: platform is empty' }));
  const e1 = apiError({ method: 'POST', url: 'http://h/v1/entries', status: 400, contentType: 'application/json; charset=utf-8', body });
  t.is(e1.code, 'bad-statement');
  t.is(e1.message, 'POST http://h/v1/entries: the log answered 400 bad-statement: line 3: platform is empty');
  const odd = new TextEncoder().encode(JSON.stringify({ error: 'no-such-code', message: 'x' }));
  t.is(apiError({ method: 'GET', url: 'http://h/v1/x', status: 400, contentType: 'application/json', body: odd }).code, 'bad-request');
  t.is(apiError({ method: 'GET', url: 'http://h/x', status: 404, contentType: 'text/html', body: new Uint8Array() }).code, 'not-found');
});

test('rejects nonsense transport options', (t) => {
  t.throws(() => new HttpTransport({ retries: -1 }), { instanceOf: LafsError });
  t.throws(() => new HttpTransport({ timeoutMs: 0 }), { instanceOf: LafsError });
});

test('the tile cache is LRU and bounded in bytes and entries', (t) => {
  const cache = new TileCache(3000, 10);
  cache.set('a', new Uint8Array(1000));
  cache.set('b', new Uint8Array(1000));
  cache.set('c', new Uint8Array(1000));
  t.truthy(cache.get('a')); // a is now most recently used
  cache.set('d', new Uint8Array(1000)); // evicts b, the least recently used
  t.is(cache.get('b'), undefined);
  t.truthy(cache.get('a'));
  t.truthy(cache.get('c'));
  t.truthy(cache.get('d'));
  t.true(cache.totalBytes <= 3000);
  cache.set('huge', new Uint8Array(4000)); // larger than the whole cache: not kept
  t.is(cache.get('huge'), undefined);
  const small = new TileCache(1 << 20, 2);
  small.set('x', new Uint8Array(1));
  small.set('y', new Uint8Array(1));
  small.set('z', new Uint8Array(1));
  t.is(small.size, 2);
  t.is(small.get('x'), undefined);
});
