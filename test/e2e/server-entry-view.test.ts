/**
 * GET /v1/entries/<index> never runs a submitter's platformRegex on the server's main thread:
 * what the regex derived at submission is stored with the entry and served from there, and an
 * entry stored without it (older data directories) is viewed in a worker, once. Checked with a
 * regex that backtracks catastrophically on one of its names: were it run on the main thread, the
 * server would answer nothing else until its 2000 ms view budget ran out.
 */
import test from 'ava';
import { encodeLeaf, type Leaf } from '../../attestation/leaf.js';
import { nodeSha256 } from '../../attestation/node-crypto.js';
import { leafHash } from '../../merkle/hash.js';
import { Sequencer } from '../../log-server/sequencer.js';
import { openDataDir } from '../../log-server/server.js';
import { Store } from '../../log-server/store.js';
import { TileCache } from '../../log-server/tile-cache.js';
import { postEntry, request } from '../helpers/log-http.js';
import { startServer } from '../helpers/server.js';
import { guixBody, guixEntry } from '../helpers/submissions.js';
import { tempDir } from '../helpers/tmp.js';
import { join } from 'node:path';

const ORIGIN = 'entry-view.example/lafs-log';
const SOURCE = `sha256:${'5'.repeat(64)}`;
// (a|aa)+ tries every split of a run of a's: about 1.6^60 ways for the name below before it fails.
const SLOW_REGEX = '^(?<platform>(a|aa)+)$';
const SLOW_SUMS = `${'1'.repeat(64)}  ${'a'.repeat(60)}!\n${'2'.repeat(64)}  aaaa\n`;

function sumsLeaf(sums: string): Uint8Array {
  // The signature and key are placeholders: viewing a leaf does not verify it.
  const leaf: Leaf = { kind: 'sha256sums', signed: new TextEncoder().encode(sums), signature: Uint8Array.of(1), publicKey: Uint8Array.of(2), claims: { source: SOURCE, platformRegex: SLOW_REGEX } };
  return encodeLeaf(leaf);
}

/** Writes entries straight into a data directory, as an older server (or this one) would have. */
async function seed(dataDir: string, entries: { leaf: Uint8Array; platforms?: (string | null)[] }[]): Promise<void> {
  const { store, signer } = await openDataDir(dataDir, ORIGIN);
  const sequencer = await Sequencer.open(store, signer, new TileCache(store));
  for (const [i, e] of entries.entries()) {
    const meta = { builder: 'ab'.repeat(20), warnings: [], receivedAt: new Date(0).toISOString(), ...(e.platforms ? { platforms: e.platforms } : {}) };
    const r = await sequencer.submit({ leaf: e.leaf, leafHash: leafHash(e.leaf, nodeSha256), meta, rows: [] });
    if (r.index !== i) throw new Error('seed: unexpected index');
  }
  await sequencer.close();
  await store.close();
}

/** Milliseconds /healthz takes to answer while `busy` is in flight. */
async function healthzLatencyDuring(url: string, busy: Promise<unknown>): Promise<number> {
  await new Promise((r) => setTimeout(r, 150)); // let the busy request reach the server
  const t0 = performance.now();
  const health = await request(`${url}/healthz`);
  const ms = performance.now() - t0;
  if (health.status !== 200) throw new Error(`healthz: ${health.status}`);
  await busy;
  return ms;
}

test('entries are viewed from what was derived at submission, or in a worker; the main thread never runs the regex', async (t) => {
  const dataDir = tempDir('lafs-entry-view-');
  // 0: stored platforms (the slow name's platform recorded as null, as the 100 ms submit budget
  //    could never have produced it: what matters is that GET serves the record, not a rerun).
  // 1: the same lines in the other order (so another leaf), stored without platforms (a legacy entry).
  const recorded = sumsLeaf(SLOW_SUMS);
  const legacy = sumsLeaf(SLOW_SUMS.split('\n').reverse().join('\n').trimStart() + '\n');
  await seed(dataDir, [{ leaf: recorded, platforms: [null, 'stored-platform'] }, { leaf: legacy }]);

  const server = await startServer({ dataDir, origin: ORIGIN });
  t.teardown(() => server.stop());

  const fromRecord = request(`${server.url}/v1/entries/0`);
  t.true((await healthzLatencyDuring(server.url, fromRecord)) < 1000, 'the server kept answering');
  const e0 = await fromRecord;
  t.is(e0.status, 200, e0.text);
  t.deepEqual(e0.body.artifacts.map((a: { platform: string | null }) => a.platform), [null, 'stored-platform'], 'the recorded platforms, not a rerun of the regex');
  t.deepEqual(e0.body.flags, [`no-platform: ${'a'.repeat(60)}!`]);
  t.deepEqual(e0.body.claims, { source: SOURCE, platformRegex: SLOW_REGEX });

  // The legacy entry is viewed in a worker, whose 2000 ms budget runs out: an error, as before,
  // but the main thread answered meanwhile, and the verdict is remembered.
  const fromWorker = request(`${server.url}/v1/entries/1`);
  t.true((await healthzLatencyDuring(server.url, fromWorker)) < 1000, 'the server kept answering while the regex ran');
  const e1 = await fromWorker;
  t.is(e1.status, 400, e1.text);
  t.regex(e1.body.message, /claims\.platformRegex: matching the file names took over 2000 ms/);
  const t0 = performance.now();
  t.is((await request(`${server.url}/v1/entries/1`)).status, 400);
  t.true(performance.now() - t0 < 1000, 'the second view of the legacy entry is remembered, not recomputed');
  t.false(/"level":50/.test(server.log()), 'no request was logged as a server fault');
});

test('a submission with a platformRegex stores what it derived, and GET serves exactly that', async (t) => {
  const server = await startServer({ origin: ORIGIN });
  const guix = guixEntry('laanwj');
  const posted = await postEntry(server.url, guixBody(guix));
  t.is(posted.status, 201, posted.text);
  const entry = await request(`${server.url}/v1/entries/${posted.body.index}`);
  t.is(entry.status, 200);
  const platforms = entry.body.artifacts.map((a: { platform: string | null }) => a.platform);
  t.true(platforms.includes('x86_64-linux-gnu'));
  await server.stop();

  const store = await Store.open(join(server.dataDir, 'db'));
  t.teardown(() => store.close());
  t.deepEqual((await store.entryMeta(posted.body.index))?.platforms, platforms);
});
