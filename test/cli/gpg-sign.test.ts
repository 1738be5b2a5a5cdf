/**
 * `--gpg KEYID` with the real system gpg: the KEYID is resolved to exactly one secret key before
 * anything is hashed or signed, and that key alone is exported. An ambiguous KEYID (two keys with
 * one name) is refused with a message listing the candidates; before, gpg signed with one of them
 * and `gpg --export KEYID` exported both.
 */
import test from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openGpgSigner, resolveGpgKey } from '../../cli/sign.js';
import { attest } from '../../cli/commands/attest.js';
import { LafsError } from '../../merkle/errors.js';
import { GpgHome } from '../helpers/gpg.js';
import { tempDir } from '../helpers/tmp.js';

const home = GpgHome.create();
process.env.GNUPGHOME = home.dir; // cli/sign.ts runs gpg with this process's environment
const statement = new TextEncoder().encode(`lafs-attestation/v1\nsource git:${'a'.repeat(40)}\nplatform x86_64-linux-gnu\nartifact sha256:${'b'.repeat(64)} app.tar.gz\n`);

// One gpg at a time per home (GpgHome queues its own calls; ours go straight to gpg, so make the keys first).
const keys = (async () => {
  const twinA = await home.generateKey({ name: 'Twin Builder', type: 'ed25519' });
  const twinB = await home.generateKey({ name: 'Twin Builder', type: 'ed25519' });
  const solo = await home.generateKey({ name: 'Solo Builder', type: 'ed25519', signingSubkey: 'ed25519' });
  const [soloSub] = await home.subkeys(solo);
  return { twinA, twinB, solo, soloSub: soloSub!.keyId };
})();

test.serial('an ambiguous --gpg KEYID is refused, naming every matching key; nothing is written', async (t) => {
  const { twinA, twinB } = await keys;
  const err = await t.throwsAsync(resolveGpgKey('Twin Builder'), { instanceOf: LafsError });
  t.is(err!.code, 'usage');
  t.regex(err!.message, /^--gpg Twin Builder matches 2 secret keys \(/);
  t.true(err!.message.includes(twinA) && err!.message.includes(twinB), err!.message);
  t.regex(err!.message, /pass the full fingerprint/);
  const out = join(tempDir(), 'twin');
  const file = join(tempDir(), 'app.tar.gz');
  writeFileSync(file, 'app');
  await t.throwsAsync(attest([file], { source: `git:${'a'.repeat(40)}`, platform: 'x86_64-linux-gnu', gpg: 'Twin Builder', out }), { message: /matches 2 secret keys/ });
  t.false(existsSync(`${out}.statement`));
});

test.serial('a fingerprint (any case), a unique name or a subkey ID with ! resolves to the one primary key', async (t) => {
  const { twinA, solo, soloSub } = await keys;
  t.is((await resolveGpgKey(twinA)).fingerprint, twinA);
  t.is((await resolveGpgKey(twinA.toLowerCase())).fingerprint, twinA);
  t.is((await resolveGpgKey('Solo Builder')).fingerprint, solo);
  t.deepEqual((await resolveGpgKey(`${soloSub}!`)), { fingerprint: solo, userIds: [(await resolveGpgKey(solo)).userIds[0]!] });
  const missing = await t.throwsAsync(resolveGpgKey('Nobody Here'), { instanceOf: LafsError });
  t.is(missing!.code, 'bad-key');
  t.regex(missing!.message, /gpg has no secret key for --gpg Nobody Here/);
});

test.serial('the signer signs with the resolved key and exports exactly that key', async (t) => {
  const { twinA, solo } = await keys;
  for (const [keyId, fingerprint] of [['Solo Builder', solo], [twinA, twinA]] as const) {
    const signer = await openGpgSigner(keyId);
    t.is(signer.fingerprint, fingerprint);
    const signature = await signer.sign(statement);
    const verdict = await home.verify(statement, new TextEncoder().encode(signature));
    const valid = verdict.status.find((s) => s.startsWith('VALIDSIG '));
    t.truthy(valid, verdict.status.join('\n'));
    t.is(valid!.split(' ')[10], fingerprint, 'primary key fingerprint of the signer');
    const exported = join(tempDir(), 'key.asc');
    writeFileSync(exported, await signer.publicKey());
    t.deepEqual(await GpgHome.create().showKeyFingerprints(exported), [fingerprint]);
  }
});
