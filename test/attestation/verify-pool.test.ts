/**
 * VerifyPool: worker threads give the same verdicts as verifyLeaf in the calling thread, for the
 * 35 real guix.sigs leaves and for bad ones; Dates come back as Dates; close() ends the workers.
 * verifyBundle (whole entry bundles, the monitor's catch-up path) agrees with verify entry by entry.
 */
import test from 'ava';
import { availableParallelism } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeLeaf, encodeLeaf } from '../../attestation/leaf.js';
import { buildLeaf, verifyLeaf, type VerifiedLeaf } from '../../attestation/record.js';
import { VerifyPool, invalidCode, invalidVerdict, validVerdict } from '../../attestation/verify-pool.js';
import { encodeEntryBundle } from '../../merkle/bundle.js';
import { leafHash } from '../../merkle/hash.js';
import { nodeSha256 } from '../../attestation/node-crypto.js';
import { LafsError } from '../../merkle/errors.js';
import { fixturesDir } from '../helpers/tmp.js';

const release = join(fixturesDir, 'guix-sigs', '27.0');
const keyDir = join(fixturesDir, 'guix-sigs', 'builder-keys');
const DATED_KEYS: Record<string, string> = { davidgumberg: 'davidgumberg.2024-04.gpg', svanstaa: 'svanstaa.2023-04.gpg' };

interface Built { name: string; bytes: Uint8Array; verified: VerifiedLeaf }
const leaves: Built[] = [];

test.before(async () => {
  for (const builder of readdirSync(release).sort()) {
    for (const file of readdirSync(join(release, builder)).filter((f) => f.endsWith('.SHA256SUMS')).sort()) {
      const signed = new Uint8Array(readFileSync(join(release, builder, file)));
      const source = /^([0-9a-f]{64}) {2}bitcoin-27\.0\.tar\.gz$/m.exec(new TextDecoder().decode(signed))![1]!;
      const built = await buildLeaf({
        kind: 'sha256sums',
        signed,
        signature: readFileSync(join(release, builder, `${file}.asc`), 'utf8'),
        publicKey: new Uint8Array(readFileSync(join(keyDir, DATED_KEYS[builder] ?? `${builder}.gpg`))),
        claims: { source: `sha256:${source}`, platform: 'bitcoin-core-27.0' },
      });
      leaves.push({ name: `${builder}/${file}`, bytes: built.bytes, verified: built.verified });
    }
  }
});

test('the pool verifies all 35 guix.sigs leaves exactly as verifyLeaf does in this thread, Dates included', async (t) => {
  t.is(leaves.length, 35);
  const pool = new VerifyPool({ threads: 2 });
  try {
    const results = await Promise.all(leaves.map((l) => pool.verify(l.bytes)));
    for (const [i, result] of results.entries()) {
      const here = await verifyLeaf(decodeLeaf(leaves[i]!.bytes));
      t.true(result.ok, leaves[i]!.name);
      if (!result.ok || !here.ok) continue;
      t.true(result.value.signature.created instanceof Date);
      t.deepEqual(result.value, here.value, leaves[i]!.name);
      t.is(result.value.signature.builder, leaves[i]!.verified.signature.builder);
    }
    t.is(pool.pending, 0);
  } finally {
    await pool.close();
  }
});

test('bad leaves answer { ok: false, reason, code } and never reject: junk bytes, a tampered sums file, a foreign key', async (t) => {
  const pool = new VerifyPool({ threads: 2 });
  try {
    const junkBytes = new TextEncoder().encode('not a leaf');
    const junk = await pool.verify(junkBytes);
    t.like(junk, { ok: false, code: 'bad-leaf' });
    t.is(invalidCode(junkBytes), 'bad-leaf', 'the same code as worked out in this thread');
    const empty = await pool.verify(new Uint8Array(0));
    t.like(empty, { ok: false, code: 'bad-leaf' });

    const leaf = decodeLeaf(leaves[0]!.bytes);
    const signed = leaf.signed.slice();
    signed[10] = signed[10] === 0x61 ? 0x62 : 0x61; // still a valid hex digit: parses, must fail the signature
    const tampered = await pool.verify(encodeLeaf({ ...leaf, signed }));
    t.like(tampered, { ok: false, code: 'bad-signature' });
    if (!tampered.ok) t.regex(tampered.reason, /does not verify/);

    const other = decodeLeaf(leaves[leaves.length - 1]!.bytes);
    const foreign = await pool.verify(encodeLeaf({ ...leaf, publicKey: other.publicKey }));
    t.like(foreign, { ok: false, code: invalidCode(encodeLeaf({ ...leaf, publicKey: other.publicKey })) });
    if (!foreign.ok) t.regex(foreign.reason, /not part of the given public key/);

    // The pool still works afterwards.
    t.true((await pool.verify(leaves[1]!.bytes)).ok);
  } finally {
    await pool.close();
  }
});

test('many concurrent requests on every core, then close(): later requests reject, workers are gone', async (t) => {
  const pool = new VerifyPool();
  t.is(pool.threads, availableParallelism());
  const batch = Array.from({ length: 140 }, (_, i) => leaves[i % leaves.length]!);
  const results = await Promise.all(batch.map((l) => pool.verify(l.bytes)));
  t.true(results.every((r) => r.ok));
  t.deepEqual(results.map((r) => (r.ok ? r.value.signature.builder : '')), batch.map((l) => l.verified.signature.builder));
  await pool.close();
  const error = await t.throwsAsync(pool.verify(leaves[0]!.bytes));
  t.true(error instanceof LafsError);
  await pool.close(); // idempotent
});

test('requests still in flight when the pool closes reject instead of hanging', async (t) => {
  const pool = new VerifyPool({ threads: 1 });
  const inFlight = leaves.map((l) => pool.verify(l.bytes));
  await pool.close();
  const settled = await Promise.allSettled(inFlight);
  t.true(settled.some((s) => s.status === 'rejected'));
  t.throws(() => new VerifyPool({ threads: 0 }), { instanceOf: LafsError });
  t.throws(() => new VerifyPool({ threads: 1, youngGenerationMb: 0 }), { instanceOf: LafsError });
});

test('a worker that dies is replaced: its in-flight requests reject as unavailable (never a verdict), later ones verify', async (t) => {
  const pool = new VerifyPool({ threads: 1 });
  try {
    t.true((await pool.verify(leaves[0]!.bytes)).ok);
    const inFlight = leaves.slice(0, 5).map((l) => pool.verify(l.bytes));
    // Kill the only worker from outside, as a crash would.
    await (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots[0]!.worker.terminate();
    const settled = await Promise.allSettled(inFlight);
    // A crash is not evidence against a leaf: nothing in flight may come back as { ok: false }.
    t.false(settled.some((s) => s.status === 'fulfilled' && !s.value.ok), JSON.stringify(settled.map((s) => s.status)));
    const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    t.true(rejected.length > 0);
    for (const r of rejected) {
      t.true(r.reason instanceof LafsError);
      t.is((r.reason as LafsError).code, 'unavailable');
      t.regex((r.reason as LafsError).message, /worker failed/);
    }
    const after = await pool.verify(leaves[1]!.bytes);
    t.true(after.ok);
    t.is(pool.pending, 0);
  } finally {
    await pool.close();
  }
});

test('verifyBundle: one message per bundle, the same verdicts as verify per entry, leaf hashes of the range, the buffer transferred', async (t) => {
  const pool = new VerifyPool({ threads: 2 });
  try {
    const good = leaves.slice(0, 6).map((l) => l.bytes);
    const leaf = decodeLeaf(good[2]!);
    const signed = leaf.signed.slice();
    signed[10] = signed[10] === 0x61 ? 0x62 : 0x61;
    const all = [good[0]!, good[1]!, encodeLeaf({ ...leaf, signed }), new TextEncoder().encode('not a leaf'), good[4]!, good[5]!];
    const bundle = encodeEntryBundle(all);
    const verdict = await pool.verifyBundle({ bundle, count: all.length, from: 1, to: 5, firstIndex: 512 });
    t.is(bundle.byteLength, 0, 'the bundle buffer went to the worker, not a copy');
    t.true(verdict.ok);
    if (!verdict.ok) return;
    t.deepEqual(Buffer.from(verdict.hashes), Buffer.concat(all.slice(1, 5).map((l) => leafHash(l, nodeSha256))));
    t.deepEqual(verdict.entries.map((e) => e.index), [513, 514, 515, 516]);
    for (const [k, entry] of verdict.entries.entries()) {
      const one = await pool.verify(all[k + 1]!);
      t.deepEqual(entry, one.ok ? validVerdict(513 + k, one.value) : invalidVerdict(513 + k, all[k + 1]!, one.reason));
    }
    t.like(verdict.entries[1], { code: 'bad-signature' });
    t.regex((verdict.entries[1] as { invalid: string }).invalid, /^bad-signature: signature: .*does not verify/);
    t.like(verdict.entries[2], { code: 'bad-leaf' });

    // A view into a larger buffer is copied, not transferred: the owner keeps its bytes.
    const again = encodeEntryBundle(all);
    const big = new Uint8Array(again.length + 10);
    big.set(again, 5);
    const view = big.subarray(5, 5 + again.length);
    t.true((await pool.verifyBundle({ bundle: view, count: all.length, from: 0, to: 1, firstIndex: 0 })).ok);
    t.is(view.byteLength, again.length);

    // Not an entry bundle of that many entries: malformed, never a verdict on its entries.
    const short = await pool.verifyBundle({ bundle: encodeEntryBundle(all).subarray(0, 100).slice(), count: all.length, from: 0, to: all.length, firstIndex: 0 });
    t.false(short.ok);
    if (!short.ok) t.regex(short.malformed, /entry bundle/);
    const counted = await pool.verifyBundle({ bundle: encodeEntryBundle(all), count: 5, from: 0, to: 5, firstIndex: 0 });
    t.false(counted.ok);
    await t.throwsAsync(pool.verifyBundle({ bundle: encodeEntryBundle(all), count: 6, from: 4, to: 7, firstIndex: 0 }), { instanceOf: LafsError });
  } finally {
    await pool.close();
  }
});

test('verifyBundle: a worker that dies holding a bundle rejects it as unavailable (never a verdict); the pool goes on', async (t) => {
  const pool = new VerifyPool({ threads: 1 });
  try {
    const bundle = encodeEntryBundle(leaves.map((l) => l.bytes));
    const inFlight = pool.verifyBundle({ bundle, count: leaves.length, from: 0, to: leaves.length, firstIndex: 0 });
    await (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots[0]!.worker.terminate();
    const error = await t.throwsAsync(inFlight);
    t.true(error instanceof LafsError);
    t.is((error as LafsError).code, 'unavailable');
    const after = await pool.verifyBundle({ bundle: encodeEntryBundle(leaves.map((l) => l.bytes)), count: leaves.length, from: 0, to: leaves.length, firstIndex: 0 });
    t.true(after.ok);
    if (after.ok) t.true(after.entries.every((e) => 'builder' in e));
    t.is(pool.pending, 0);
  } finally {
    await pool.close();
  }
});
