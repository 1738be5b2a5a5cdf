/**
 * Memory under load is bounded by bytes, not by request count (docs/operating.md, "Limits"):
 * submission bodies announced or received and not yet answered are counted against
 * --inflight-bytes, and a submission that does not fit gets 503 `unavailable` with Retry-After at
 * once, before its body is read. The budget is given back when a request ends, also when its
 * client hangs up.
 */
import test from 'ava';
import { connect, type Socket } from 'node:net';
import { postEntry, request } from '../helpers/log-http.js';
import { startServer } from '../helpers/server.js';
import { attestationBody, makeBuilder, randomStatement } from '../helpers/submissions.js';

const LIMIT = 300_000;

/** A POST whose headers announce `length` body bytes; only `sent` of them are sent (for now). */
async function openPost(url: string, length: number, sent = 0): Promise<{ socket: Socket; answer: Promise<string> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let text = '';
  socket.setEncoding('latin1').on('data', (d: string) => (text += d));
  const answer = new Promise<string>((resolve) => {
    const done = () => resolve(text);
    socket.on('end', done).on('close', done).on('error', done);
    // A complete response (headers and its Content-Length of body) is enough.
    socket.on('data', () => {
      const split = text.indexOf('\r\n\r\n');
      const len = /content-length: *(\d+)/i.exec(text)?.[1];
      if (split >= 0 && len !== undefined && text.length >= split + 4 + Number(len)) resolve(text);
    });
  });
  socket.write(`POST /v1/entries HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`);
  if (sent > 0) socket.write('{'.padEnd(sent, ' '));
  return { socket, answer };
}

function parse(raw: string): { status: number; headers: string; body: any } {
  const split = raw.indexOf('\r\n\r\n');
  const headers = raw.slice(0, split);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]), headers, body: JSON.parse(raw.slice(split + 4)) };
}

test('submissions over the byte budget get 503 with Retry-After before their body is read; the budget comes back', async (t) => {
  const server = await startServer({ origin: 'inflight.example/log', args: ['--inflight-bytes', String(LIMIT)] });
  t.teardown(() => server.stop());
  const alice = await makeBuilder('Alice');

  // A slow client holds 200 000 bytes of the budget (its body is only partly sent).
  const slow = await openPost(server.url, 200_000, 1000);
  await new Promise((r) => setTimeout(r, 200));
  t.regex((await request(`${server.url}/metrics`)).text, /^lafs_inflight_bytes 200000$/m);

  // A small submission still fits.
  const small = await postEntry(server.url, await attestationBody(alice, randomStatement()));
  t.is(small.status, 201, small.text);

  // One announcing 150 000 more bytes does not, and is told so at once.
  const big = await openPost(server.url, 150_000);
  const refused = parse(await big.answer);
  t.is(refused.status, 503);
  t.regex(refused.headers, /^retry-after: 1$/im);
  t.regex(refused.headers, /^content-type: application\/json/im);
  t.is(refused.body.error, 'unavailable');
  t.regex(refused.body.message, /300000/);
  big.socket.destroy();

  // The slow client hangs up: its bytes come back, and the same request now gets as far as the JSON parser.
  slow.socket.destroy();
  await new Promise((r) => setTimeout(r, 200));
  t.regex((await request(`${server.url}/metrics`)).text, /^lafs_inflight_bytes 0$/m);
  const again = await openPost(server.url, 150_000, 150_000);
  const parsed = parse(await again.answer);
  again.socket.destroy();
  t.is(parsed.status, 400);
  t.is(parsed.body.error, 'bad-request');
  t.regex((await request(`${server.url}/metrics`)).text, /^lafs_inflight_bytes 0$/m);
  t.regex((await request(`${server.url}/metrics`)).text, /^lafs_submissions_total\{result="created"\} 1$/m);
  t.false(/"level":50/.test(server.log()), 'no request was logged as a server fault');
});

test('--inflight-bytes below the body limit is a usage error', async (t) => {
  const e = await t.throwsAsync(startServer({ args: ['--inflight-bytes', '1000'] }));
  t.regex(e?.message ?? '', /--inflight-bytes 1000: must be between 262144/);
});
