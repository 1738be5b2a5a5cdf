/**
 * Keys and signatures made by the CLI, checked by real gpg: `lafs keygen` keys (Ed25519 in the
 * encoding gpg 2.2 reads, and RSA) import into gpg, and their detached signatures over a
 * statement are good signatures to gpg. Also the progress bar of the streaming hash on a TTY.
 */
import test from 'ava';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keygen, parseUserId } from '../../cli/commands/keygen.js';
import { signWithKeyFile } from '../../cli/sign.js';
import { sha256File } from '../../cli/hash-file.js';
import { GpgHome } from '../helpers/gpg.js';
import { tempDir } from '../helpers/tmp.js';

const statement = new TextEncoder().encode(`lafs-attestation/v1\nsource git:${'a'.repeat(40)}\nplatform x86_64-linux-gnu\nartifact sha256:${'b'.repeat(64)} app.tar.gz\n`);

for (const rsa of [undefined, 3072]) {
  test(`keygen ${rsa ? `--rsa ${rsa}` : '(Ed25519)'}: gpg imports the key and accepts its signature`, async (t) => {
    const dir = tempDir();
    const made = await keygen({ name: 'Key Test <key.test@example.org>', out: dir, ...(rsa ? { rsa } : {}) });
    t.regex(made.fingerprint, /^[0-9a-f]{40}$/);
    const { signature, publicKey } = await signWithKeyFile(statement, made.privateKeyFile);
    t.is(publicKey.trim(), readFileSync(made.publicKeyFile, 'utf8').trim().replace(/\r/g, ''));
    const gpg = GpgHome.create();
    await gpg.importKey(made.publicKeyFile);
    const verdict = await gpg.verify(statement, new TextEncoder().encode(signature));
    const valid = verdict.status.find((s) => s.startsWith('VALIDSIG '));
    t.truthy(valid, verdict.status.join('\n'));
    t.is(valid!.split(' ')[10]!.toLowerCase(), made.fingerprint);
    // Public-key algorithm as gpg reports it: 22 EdDSA, 1 RSA.
    t.is(valid!.split(' ')[7], rsa ? '1' : '22');
    // A signature over other bytes is bad to gpg: the check above could fail.
    const other = await gpg.verify(new TextEncoder().encode('other'), new TextEncoder().encode(signature));
    t.false(other.status.some((s) => s.startsWith('VALIDSIG ')));
  });
}

test('keygen --force replaces a world-readable private key file with a 0600 one; a new --out dir is 0700', async (t) => {
  const dir = join(tempDir(), 'a', 'new', 'dir');
  const first = await keygen({ name: 'Mode Test <mode@example.org>', out: dir });
  t.is(statSync(dir).mode & 0o777, 0o700);
  t.is(statSync(first.privateKeyFile).mode & 0o777, 0o600);
  t.is(statSync(first.publicKeyFile).mode & 0o777, 0o644);
  // Someone loosened the old key file; --force must not inherit that mode.
  chmodSync(first.privateKeyFile, 0o644);
  const second = await keygen({ name: 'Mode Test <mode@example.org>', out: dir, force: true });
  t.not(second.fingerprint, first.fingerprint);
  t.is(statSync(second.privateKeyFile).mode & 0o777, 0o600);
  t.regex(readFileSync(second.privateKeyFile, 'utf8'), /BEGIN PGP PRIVATE KEY BLOCK/);
  t.deepEqual(readdirSync(dir).sort(), ['private-key.asc', 'public-key.asc'], 'no temp files left');
});

test('keygen without --force refuses when either key file exists, and writes neither', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'public-key.asc'), 'old public key');
  await t.throwsAsync(keygen({ name: 'Refuse <refuse@example.org>', out: dir }), { message: /public-key\.asc already exists.*--force/ });
  t.false(existsSync(join(dir, 'private-key.asc')));
  t.is(readFileSync(join(dir, 'public-key.asc'), 'utf8'), 'old public key');
});

test('keygen --name parsing', (t) => {
  t.deepEqual(parseUserId('Alice Builder <alice@example.org>'), { name: 'Alice Builder', email: 'alice@example.org' });
  t.deepEqual(parseUserId('<ci@example.org>'), { email: 'ci@example.org' });
  t.deepEqual(parseUserId('CI builder'), { name: 'CI builder' });
  t.throws(() => parseUserId('Alice <alice>'), { message: /--name must look like/ });
  t.throws(() => parseUserId('  '), { message: /--name must look like/ });
});

test('hash-file draws a progress bar on a TTY for big files, and nothing otherwise', async (t) => {
  const file = join(tempDir(), 'big');
  writeFileSync(file, Buffer.alloc(64 * 1024 * 1024, 7));
  let drawn = '';
  const tty = { isTTY: true, write: (s: string) => { drawn += s; return true; } } as unknown as NodeJS.WriteStream;
  const hex = await sha256File(file, { progress: tty });
  t.regex(drawn, /\rhashing big \[#{30}\] 100% \d+ MiB\/s\n$/);
  let quiet = '';
  const pipe = { isTTY: false, write: (s: string) => { quiet += s; return true; } } as unknown as NodeJS.WriteStream;
  t.is(await sha256File(file, { progress: pipe }), hex);
  t.is(quiet, '');
});
