/**
 * The CLI's local building blocks: trust loading, streaming hashing, the remembered-checkpoint
 * store, exit-code mapping, strict encodings, and the audit-path root used by `lafs proof --size`.
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTrust, readKeyFile } from '../../cli/trust.js';
import { sha256File } from '../../cli/hash-file.js';
import { configDir, loadCheckpoint, saveCheckpoint, saveDecision } from '../../cli/config.js';
import { describeError, exitCodeFor, ExitCode } from '../../cli/errors.js';
import { fromBase64Strict, parseSha256Arg } from '../../cli/encoding.js';
import { rootFromInclusionPath } from '../../cli/commands/proof.js';
import { LafsError } from '../../merkle/errors.js';
import { leafHash, rootOfLeafHashes, nodeHash } from '../../merkle/hash.js';
import { makeInclusionProof, type HashSource } from '../../merkle/proof.js';
import { nodeSha256 } from '../../attestation/node-crypto.js';
import { fixturesDir, tempDir } from '../helpers/tmp.js';

const keysDir = join(fixturesDir, 'guix-sigs', 'builder-keys');

test('trust: a directory of key files gives every fingerprint with its user ID', async (t) => {
  const trust = await loadTrust(keysDir);
  t.is(trust.size, 21); // 19 builders, two of them with an older key as well
  t.is(trust.get('71a3b16735405025d447e8f274810b012346c9a6')?.userIds[0], 'Wladimir J. van der Laan <laanwj@gmail.com>');
  t.true(trust.has('41e442a14c342c877ae4dc8f3b6305fa06de51d5'), 'the dated older key of davidgumberg is loaded');
});

test('trust: one armored keyring file holding several keys', async (t) => {
  const dir = tempDir();
  const ring = join(dir, 'ring.asc');
  writeFileSync(ring, ['laanwj.gpg', 'fanquake.gpg', 'luke-jr.gpg'].map((f) => readFileSync(join(keysDir, f), 'utf8')).join('\n'));
  const trust = await loadTrust(ring);
  t.deepEqual([...trust.keys()].sort(), ['1a3e761f19d2cc7785c5502ea291a2c45d0c504a', '71a3b16735405025d447e8f274810b012346c9a6', 'e777299fc265dd04793070eb944d35f9ac3db76a']);
});

test('trust: errors name the file', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'junk.asc'), 'not a key');
  const e1 = await t.throwsAsync(loadTrust(join(dir, 'junk.asc')), { instanceOf: LafsError });
  t.true(e1!.message.includes('junk.asc'));
  t.is(exitCodeFor(e1), ExitCode.usage);
  const e2 = await t.throwsAsync(loadTrust(join(dir, 'missing')), { instanceOf: LafsError });
  t.true(e2!.message.includes('missing'));
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  writeFileSync(join(empty, 'README.md'), 'no keys here');
  const e3 = await t.throwsAsync(loadTrust(empty), { instanceOf: LafsError });
  t.regex(e3!.message, /no OpenPGP public keys/);
  t.is((await readKeyFile(join(keysDir, 'laanwj.gpg'))).length, 1);
});

test('hash-file: streaming sha256 equals a one-shot hash, for empty, small and multi-chunk files', async (t) => {
  const dir = tempDir();
  for (const size of [0, 1, 4 * 1024 * 1024 + 17]) {
    const data = randomBytes(size);
    const file = join(dir, `f${size}`);
    writeFileSync(file, data);
    t.is(await sha256File(file, { progress: null }), createHash('sha256').update(data).digest('hex'));
  }
});

test('hash-file: a missing file or a directory is an I/O error naming the path', async (t) => {
  const dir = tempDir();
  const missing = await t.throwsAsync(sha256File(join(dir, 'nope'), { progress: null }));
  t.is(exitCodeFor(missing), ExitCode.usage);
  t.true(describeError(missing).includes(join(dir, 'nope')));
  const isDir = await t.throwsAsync(sha256File(dir, { progress: null }));
  t.is(exitCodeFor(isDir), ExitCode.usage);
  t.true(describeError(isDir).includes('is a directory'));
});

test('config: checkpoints round-trip per origin under $XDG_CONFIG_HOME/lafs, 0600, missing is null', async (t) => {
  const env = { XDG_CONFIG_HOME: tempDir() };
  t.is(configDir(env), join(env.XDG_CONFIG_HOME, 'lafs'));
  t.is(await loadCheckpoint('example.org/log', env), null);
  const { file } = await saveCheckpoint({ origin: 'example.org/log', size: 5, root: Buffer.alloc(32, 1).toString('base64'), note: 'n' }, env);
  t.is(statSync(file).mode & 0o777, 0o600);
  const back = await loadCheckpoint('example.org/log', env);
  t.like(back, { origin: 'example.org/log', size: 5, note: 'n' });
  t.is(await loadCheckpoint('example.org/other', env), null, 'origins do not share state');
  await saveCheckpoint({ origin: 'example.org/log', size: 9, root: Buffer.alloc(32, 2).toString('base64'), note: 'm' }, env);
  t.is((await loadCheckpoint('example.org/log', env))?.size, 9);
});

test('config: the remembered checkpoint never moves backwards; a same-size other root is a conflict, left alone', async (t) => {
  const env = { XDG_CONFIG_HOME: tempDir() };
  const root = (n: number) => Buffer.alloc(32, n).toString('base64');
  const o = 'example.org/mono';
  t.is((await saveCheckpoint({ origin: o, size: 9, root: root(9), note: 'nine' }, env)).status, 'saved');
  const older = await saveCheckpoint({ origin: o, size: 5, root: root(5), note: 'five' }, env);
  t.is(older.status, 'kept-newer');
  t.like(older, { current: { size: 9, root: root(9) } });
  t.like(await loadCheckpoint(o, env), { size: 9, note: 'nine' });
  const fork = await saveCheckpoint({ origin: o, size: 9, root: root(1), note: 'other nine' }, env);
  t.is(fork.status, 'conflict');
  t.like(await loadCheckpoint(o, env), { size: 9, root: root(9) });
  t.is((await saveCheckpoint({ origin: o, size: 9, root: root(9), note: 'nine re-signed' }, env)).status, 'saved', 'same tree: refreshed');
  t.is((await saveCheckpoint({ origin: o, size: 12, root: root(12), note: 'twelve' }, env)).status, 'saved');
  t.is((await loadCheckpoint(o, env))?.size, 12);
  // The rule itself.
  t.is(saveDecision(null, { size: 0, root: root(0) }), 'saved');
  t.is(saveDecision({ size: 3, root: root(3) }, { size: 2, root: root(2) }), 'kept-newer');
  t.is(saveDecision({ size: 3, root: root(3) }, { size: 3, root: root(4) }), 'conflict');
  t.is(saveDecision({ size: 3, root: root(3) }, { size: 4, root: root(4) }), 'saved');
});

test('config: concurrent saves in any order end with the largest tree, no temp or lock files left', async (t) => {
  const env = { XDG_CONFIG_HOME: tempDir() };
  const sizes = Array.from({ length: 24 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
  await Promise.all(sizes.map((size) => saveCheckpoint({ origin: 'race', size, root: Buffer.alloc(32, size).toString('base64'), note: `n${size}` }, env)));
  t.like(await loadCheckpoint('race', env), { size: 24, note: 'n24' });
  t.deepEqual(readdirSync(join(configDir(env), 'checkpoints')), ['race.json']);
});

test('config: a stale lock left by a dead run is taken over', async (t) => {
  const env = { XDG_CONFIG_HOME: tempDir() };
  const { file } = await saveCheckpoint({ origin: 'stale', size: 1, root: Buffer.alloc(32, 1).toString('base64'), note: 'n' }, env);
  writeFileSync(`${file}.lock`, '99999\n');
  const past = new Date(Date.now() - 60_000);
  utimesSync(`${file}.lock`, past, past);
  t.is((await saveCheckpoint({ origin: 'stale', size: 2, root: Buffer.alloc(32, 2).toString('base64'), note: 'm' }, env)).status, 'saved');
  t.false(existsSync(`${file}.lock`));
});

test('config: a corrupted state file is an I/O error that says how to recover', async (t) => {
  const env = { XDG_CONFIG_HOME: tempDir() };
  const root = Buffer.alloc(32, 3).toString('base64');
  const { file } = await saveCheckpoint({ origin: 'o', size: 1, root, note: 'n' }, env);
  t.is((await loadCheckpoint('o', env))?.root, root);
  writeFileSync(file, JSON.stringify({ origin: 'o', size: 1, root: 'AA==', note: 'n' }));
  await t.throwsAsync(loadCheckpoint('o', env), { message: /malformed/ }, 'a root that is not 32 bytes');
  writeFileSync(file, '{"origin":"o","size":-1}');
  const e = await t.throwsAsync(loadCheckpoint('o', env), { instanceOf: LafsError });
  t.is(e!.code, 'io');
  t.regex(e!.message, /delete it/);
  writeFileSync(file, 'garbage');
  await t.throwsAsync(loadCheckpoint('o', env), { message: /not JSON/ });
});

test('errors: exit codes by error code', (t) => {
  t.is(exitCodeFor(new LafsError('usage', 'x')), 2);
  t.is(exitCodeFor(new LafsError('unavailable', 'x')), 2);
  t.is(exitCodeFor(new LafsError('bad-key', 'x')), 2);
  for (const code of ['bad-proof', 'bad-note', 'bad-checkpoint', 'inconsistent', 'bad-tile', 'bad-bundle', 'bad-leaf'] as const) t.is(exitCodeFor(new LafsError(code, 'x')), 5, code);
  t.is(exitCodeFor(new Error('bug')), 1);
});

test('encoding: strict base64 and sha256 arguments', (t) => {
  t.deepEqual(fromBase64Strict('AAE=', 'f'), new Uint8Array([0, 1]));
  t.throws(() => fromBase64Strict('AA E=', 'field x'), { message: /field x/ });
  t.throws(() => fromBase64Strict('AAF=', 'f'));
  t.is(parseSha256Arg(`sha256:${'AB'.repeat(32)}`, '--hash'), 'ab'.repeat(32));
  t.is(parseSha256Arg('cd'.repeat(32), '--hash'), 'cd'.repeat(32));
  t.throws(() => parseSha256Arg('sha256:abc', '--hash'), { message: /--hash must be sha256:<64 hex digits>/ });
});

test('proof --size: the root implied by an audit path equals the tree root, for every index and size up to 33', async (t) => {
  const leaves = Array.from({ length: 33 }, (_, i) => leafHash(new Uint8Array([i, i >> 8]), nodeSha256));
  const source: HashSource = {
    async hashes(coords) {
      return coords.map(({ level, index }) => rootOfLeafHashes(leaves.slice(index * 2 ** level, (index + 1) * 2 ** level), nodeSha256));
    },
  };
  let checked = 0;
  for (let size = 1; size <= leaves.length; size++) {
    const root = rootOfLeafHashes(leaves.slice(0, size), nodeSha256);
    for (let index = 0; index < size; index++) {
      const path = await makeInclusionProof(index, size, source, nodeSha256);
      const got = rootFromInclusionPath(index, size, leaves[index]!, path, nodeSha256);
      if (!got || Buffer.compare(got, root) !== 0) t.fail(`index ${index} size ${size}`);
      checked++;
      // A path of the wrong length implies no root at all.
      if (path.length > 0) t.is(rootFromInclusionPath(index, size, leaves[index]!, path.slice(1), nodeSha256), null);
    }
  }
  t.is(checked, (33 * 34) / 2);
  t.is(rootFromInclusionPath(3, 3, leaves[0]!, [], nodeSha256), null);
  t.truthy(nodeHash);
});
