/**
 * Crash safety (DESIGN.md section 5): submit concurrently, SIGKILL the server mid-stream, restart.
 * Every acknowledged entry must be there with identical bytes, every checkpoint handed out must be
 * a prefix of the reopened log (consistency proof), the stored tiles must give the stored root,
 * and submissions must continue (re-sending a written-but-unacknowledged entry is idempotent).
 * The indexes agree with the leaves too: re-sending an acknowledged entry answers its own index,
 * and its leaf hash and artifact hashes and names look it up there.
 */
import test from 'ava';
import { nodeSha256 } from '../../attestation/node-crypto.js';
import { leafHash } from '../../merkle/hash.js';
import { rootAt, verifyConsistency } from '../../merkle/proof.js';
import { tileHashSource } from '../../merkle/tile-source.js';
import { b64, checkSubmitAnswer, httpTileReader, openCheckpoint, postEntry, request } from '../helpers/log-http.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { makeBuilder, manyAttestationBodies, type EntryBody } from '../helpers/submissions.js';

const ORIGIN = 'crash.example/lafs-log';

interface Ack { body: EntryBody; index: number; leafHash: Uint8Array; checkpoint: string; size: number }

/** Posts `bodies` from `clients` concurrent loops until they run out or the server dies; returns the acknowledged ones. */
async function submitUntilDeath(server: RunningServer, bodies: EntryBody[], clients: number, killAfterAcks: number): Promise<{ acks: Ack[]; unacked: EntryBody[] }> {
  const acks: Ack[] = [];
  const unacked: EntryBody[] = [];
  let next = 0;
  let killed: Promise<void> | undefined;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        try {
          const answer = await postEntry(server.url, body);
          // 200: written before an earlier crash without being acknowledged, now acknowledged.
          if (answer.status !== 201 && answer.status !== 200) throw new Error(`unexpected ${answer.status}: ${answer.text}`);
          const checked = checkSubmitAnswer(answer.body, server.verifierKey, ORIGIN);
          acks.push({ body, index: checked.index, leafHash: checked.leafHash, checkpoint: answer.body.checkpoint, size: checked.checkpoint.size });
          if (acks.length >= killAfterAcks) killed ??= server.kill();
        } catch (e) {
          if (!killed) throw e;
          unacked.push(body); // in flight when the server died: maybe written, never acknowledged
        }
      }
    }),
  );
  await killed;
  return { acks, unacked };
}

async function checkReopened(t: import('ava').ExecutionContext, server: RunningServer, acks: Ack[]): Promise<number> {
  const cp = openCheckpoint((await request(`${server.url}/checkpoint`)).text, server.verifierKey, ORIGIN);
  t.true(cp.size >= Math.max(...acks.map((a) => a.index)) + 1, 'every acknowledged index is below the reopened size');
  const root = await rootAt(cp.size, tileHashSource(cp.size, httpTileReader(server.url), nodeSha256), nodeSha256);
  t.deepEqual(Buffer.from(root), Buffer.from(cp.root), 'the stored tiles give the stored checkpoint root');
  const entries = await Promise.all(acks.map((a) => request(`${server.url}/v1/entries/${a.index}`)));
  acks.forEach((a, i) => {
    t.is(entries[i]!.status, 200);
    t.deepEqual(Buffer.from(leafHash(b64(entries[i]!.body.leaf), nodeSha256)), Buffer.from(a.leafHash), `entry ${a.index} has the acknowledged bytes`);
  });
  for (const [size, note] of new Map(acks.map((a) => [a.size, a.checkpoint]))) {
    if (size === cp.size) {
      t.is(note, (await request(`${server.url}/checkpoint`)).text);
      continue;
    }
    const old = openCheckpoint(note, server.verifierKey, ORIGIN);
    const proof = await request(`${server.url}/v1/proof/consistency?from=${size}&to=${cp.size}`);
    t.deepEqual(verifyConsistency(size, cp.size, proof.body.proof.map(b64), old.root, cp.root, nodeSha256), { ok: true }, `checkpoint ${size} is a prefix`);
  }
  await checkIndexes(t, server, acks);
  return cp.size;
}

/** The leaf-hash rows and lookup rows of the reopened store point each acknowledged entry at its own index. */
async function checkIndexes(t: import('ava').ExecutionContext, server: RunningServer, acks: Ack[]): Promise<void> {
  const enc = (s: string) => encodeURIComponent(s);
  for (const a of acks) {
    const again = await postEntry(server.url, a.body);
    t.is(again.status, 200, `resubmitting entry ${a.index}: ${again.text}`);
    t.is(again.body?.index, a.index, 'resubmission answers the acknowledged index');
    const byLeafHash = await request(`${server.url}/v1/proof/inclusion?leafHash=${enc(Buffer.from(a.leafHash).toString('base64'))}`);
    t.is(byLeafHash.body?.index, a.index, `leaf hash of entry ${a.index}`);
    const text = a.body.statement as string;
    const source = /^source (\S+)$/m.exec(text)![1]!;
    for (const [, hash, name] of text.matchAll(/^artifact sha256:([0-9a-f]{64}) (.+)$/gm)) {
      const byHash = await request(`${server.url}/v1/lookup?hash=sha256:${hash}`);
      t.deepEqual(byHash.body?.entries?.map((e: { index: number }) => e.index), [a.index], `lookup by hash of entry ${a.index}`);
      const byName = await request(`${server.url}/v1/lookup?source=${enc(source)}&name=${enc(name!)}`);
      t.deepEqual(byName.body?.entries?.map((e: { index: number; hash: string }) => [e.index, e.hash]), [[a.index, `sha256:${hash}`]], `lookup by name of entry ${a.index}`);
    }
  }
}

test('SIGKILL mid-stream loses no acknowledged entry and leaves a consistent store, twice', async (t) => {
  const builders = await Promise.all([makeBuilder('A'), makeBuilder('B')]);
  const bodies = await manyAttestationBodies(builders, 400);
  let server = await startServer({ origin: ORIGIN });
  const dataDir = server.dataDir;
  const allAcks: Ack[] = [];

  const t0 = Date.now();
  const lap = (what: string) => t.log(`${what}: ${Date.now() - t0} ms`);
  const round1 = await submitUntilDeath(server, bodies.slice(0, 200), 16, 80);
  t.is(server.process.signalCode, 'SIGKILL');
  allAcks.push(...round1.acks);
  lap('round 1');
  server = await startServer({ dataDir, origin: ORIGIN });
  lap('restart');
  await checkReopened(t, server, allAcks);
  lap('check');

  const round2 = await submitUntilDeath(server, [...round1.unacked, ...bodies.slice(200)], 16, 150);
  allAcks.push(...round2.acks);
  server = await startServer({ dataDir, origin: ORIGIN });
  const size = await checkReopened(t, server, allAcks);

  // Submissions continue: re-send whatever was never acknowledged. Some of it may have been written
  // just before the kill (200, existing index); the rest is new (201). Either way nothing doubles.
  const seen = new Set(allAcks.map((a) => a.index));
  for (const body of round2.unacked) {
    const answer = await postEntry(server.url, body);
    t.true(answer.status === 200 || answer.status === 201, answer.text);
    const { index } = checkSubmitAnswer(answer.body, server.verifierKey, ORIGIN);
    t.false(seen.has(index), 'an unacknowledged entry never reuses an acknowledged index');
    seen.add(index);
    if (answer.status === 201) t.true(index >= size);
  }
  const final = (await request(`${server.url}/healthz`)).body.size;
  t.is(final, bodies.length, 'each distinct submission is logged exactly once');
  await server.stop();
});
