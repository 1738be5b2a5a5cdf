/**
 * Finding the evidence by scanning (cli/gather.ts): on a static tile mirror (no /v1 API, built
 * straight from merkle functions) every entry is read from verified entry bundles and matched
 * locally. The selection must equal the lookup path's: entries attesting the hash, and every entry
 * for the same (source, platform, name), including entries logged before the first one that
 * attests the hash (the second pass), across entry-bundle boundaries.
 */
import test from 'ava';
import { LogClient } from '../../client/log-client.js';
import { generateKeyPair, parseVerifierKey } from '../../merkle/note.js';
import { encodeLeaf } from '../../attestation/leaf.js';
import { nodeEd25519 } from '../../attestation/node-crypto.js';
import { gatherBundle, scanEntries } from '../../cli/gather.js';
import { verifyBundle } from '../../cli/proof-bundle.js';
import { serveDir, writeStaticLog, type StaticServer } from '../helpers/mirror.js';
import { tempDir } from '../helpers/tmp.js';
import { makeBuilder, signDetached, statementText, type StatementInput } from '../helpers/submissions.js';

const ORIGIN = 'scan.example/lafs-log';
const keys = generateKeyPair(ORIGIN, nodeEd25519);
const H = '1'.repeat(64);
const G = '2'.repeat(64);
const SRC = `sha256:${'3'.repeat(64)}`;
const servers: StaticServer[] = [];
test.after.always(async () => { await Promise.all(servers.map((s) => s.close())); });

/** index -> what it is; the rest of the 300 entries are one unrelated statement repeated. */
const layout: Record<number, [builder: number, name: string, hash: string, platform?: string]> = {
  10: [0, 'app.tar.gz', G], // before the hash is first seen for this subject: found by the second pass
  20: [1, 'app.tar.gz', G, 'win64'], // same name, other platform: another subject, not relevant
  290: [2, 'app.tar.gz', H], // first entry attesting H for (SRC, x86_64, app.tar.gz)
  291: [0, 'app.tar.gz', H],
  292: [1, 'renamed.tar.gz', H], // H under another name: a second subject
  295: [2, 'renamed.tar.gz', G], // after its discovery: found in the first pass
  299: [1, 'app.tar.gz', G],
};

const world = (async () => {
  const builders = await Promise.all(['Scan A', 'Scan B', 'Scan C'].map((n, i) => makeBuilder(n, `scan${i}@example.org`)));
  const leafOf = async (b: number, s: StatementInput) => {
    const text = statementText(s);
    return encodeLeaf({ kind: 'lafs-attestation/v1', signed: new TextEncoder().encode(text), signature: await signDetached(builders[b]!, text) as Uint8Array, publicKey: builders[b]!.publicKey });
  };
  const filler = await leafOf(0, { source: `sha256:${'4'.repeat(64)}`, platform: 'x86_64-linux-gnu', artifacts: [{ name: 'unrelated.tar.gz', sha256: H }] });
  const leaves = await Promise.all(Array.from({ length: 300 }, (_, i) => {
    const at = layout[i];
    return at ? leafOf(at[0], { source: SRC, platform: at[3] ?? 'x86_64-linux-gnu', artifacts: [{ name: at[1], sha256: at[2] }] }) : filler;
  }));
  const dir = tempDir('lafs-scan-');
  writeStaticLog(dir, leaves, keys.signerKey, ORIGIN);
  const srv = await serveDir(dir);
  servers.push(srv);
  const client = new LogClient({ url: srv.url, verifierKey: keys.verifierKey, retries: 0 });
  return { client, cp: await client.checkpoint() };
})();

test('scan by hash: every entry for the subjects of the hash, before and after its first attestation', async (t) => {
  const { client, cp } = await world;
  // The filler attests H too, under its own source: that subject is relevant; narrow it away with --source.
  const found = await scanEntries(client, cp, { hash: `sha256:${H}` }, { source: SRC });
  t.deepEqual([...found.keys()].sort((a, b) => a - b), [10, 290, 291, 292, 295, 299]);
  const named = await scanEntries(client, cp, { hash: `sha256:${H}` }, { source: SRC, name: 'app.tar.gz' });
  t.deepEqual([...named.keys()].sort((a, b) => a - b), [10, 290, 291, 299]);
  const unfiltered = await scanEntries(client, cp, { hash: `sha256:${H}` });
  t.is(unfiltered.size, 6 + (300 - Object.keys(layout).length));
  t.deepEqual([...(await scanEntries(client, cp, { hash: `sha256:${'9'.repeat(64)}` })).keys()], []);
});

test('scan by subject: every entry for it, any platform unless one is given', async (t) => {
  const { client, cp } = await world;
  const all = await scanEntries(client, cp, { source: SRC, name: 'app.tar.gz' });
  t.deepEqual([...all.keys()].sort((a, b) => a - b), [10, 20, 290, 291, 299]);
  const x86 = await scanEntries(client, cp, { source: SRC, platform: 'x86_64-linux-gnu', name: 'app.tar.gz' });
  t.deepEqual([...x86.keys()].sort((a, b) => a - b), [10, 290, 291, 299]);
});

test('gatherBundle on a mirror falls back to the scan; the bundle verifies', async (t) => {
  const { client, cp } = await world;
  t.false(await client.hasApi());
  const bundle = await gatherBundle(client, cp, { hash: `sha256:${H}` }, { source: SRC, name: 'app.tar.gz' });
  t.is(bundle.search, 'scan');
  t.deepEqual(bundle.entries.map((e) => e.index), [10, 290, 291, 299]);
  const checked = await verifyBundle(bundle, parseVerifierKey(keys.verifierKey, nodeEd25519));
  t.true(checked.ok, checked.ok ? '' : checked.reason);
});
