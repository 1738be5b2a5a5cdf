/**
 * The build pool in-process, with real worker threads: a request that cannot be handed to a
 * worker (structured clone fails) fails alone, with an error, and neither crashes the process nor
 * takes the other requests of its batch down with it; and each worker reports its heap.
 */
import test from 'ava';
import { BuildPool } from '../../log-server/build-pool.js';
import { LafsError } from '../../merkle/errors.js';
import { makeBuilder, randomStatement, signDetached, statementText } from '../helpers/submissions.js';

async function goodRequest() {
  const builder = await makeBuilder('Pool');
  const text = statementText(randomStatement());
  return { kind: 'lafs-attestation/v1', signed: new TextEncoder().encode(text), signature: (await signDetached(builder, text)) as Uint8Array, publicKey: builder.publicKey.slice() };
}

test('an unclonable request fails on its own; the rest of its batch is built', async (t) => {
  const pool = new BuildPool(1);
  t.teardown(() => pool.close());
  let deep: unknown[] = [];
  for (let i = 0; i < 200_000; i++) deep = [deep]; // deeper than the structured-clone serializer's stack
  const [before, tooDeep, notCloneable, after] = await Promise.all([goodRequest(), goodRequest(), goodRequest(), goodRequest()]);
  // Made in one turn of the event loop: one postMessage would carry all four.
  const results = await Promise.allSettled([
    pool.build(before),
    pool.build({ ...tooDeep, kind: 'sha256sums', claims: deep }),
    pool.build({ ...notCloneable, kind: 'sha256sums', claims: { source: () => 'not cloneable' } }),
    pool.build(after),
  ]);
  t.is(results[0]!.status, 'fulfilled');
  t.is(results[3]!.status, 'fulfilled');
  for (const r of [results[1]!, results[2]!]) {
    if (r.status !== 'rejected') return t.fail('an unclonable request was built');
    t.true(r.reason instanceof LafsError);
    t.is((r.reason as LafsError).code, 'internal');
    t.regex((r.reason as LafsError).message, /could not be handed to a verification worker/);
  }
  // The pool still works.
  t.truthy((await pool.build(await goodRequest())).bytes.length);
});

test("each worker's heap is zero until it replies, then what its isolate reports", async (t) => {
  const pool = new BuildPool(2);
  t.teardown(() => pool.close());
  t.deepEqual(pool.heaps, [{ used: 0, total: 0, external: 0 }, { used: 0, total: 0, external: 0 }]);
  // Two builds made in one turn go to the two workers (each to the one with fewer pending).
  const [a, b] = await Promise.all([goodRequest(), goodRequest()]);
  await Promise.all([pool.build(a), pool.build(b)]);
  for (const heap of pool.heaps) {
    // A worker that has loaded openpgp.js holds megabytes; used never exceeds reserved.
    t.true(heap.total > 1_000_000);
    t.true(heap.used > 0 && heap.used <= heap.total);
    t.true(heap.external >= 0);
  }
});
