/**
 * attestation/openpgp against signatures made by real gpg (test/helpers/gpg.ts): RSA-3072,
 * Ed25519, ECDSA P-256, a certify-only key signing through a subkey, text-mode signatures, and
 * the validity policy of docs/signatures.md (expiry at signing time, revocation reasons, usage
 * flags, back-signatures, key creation). A few cases gpg will not produce (signing with an
 * encryption subkey, backdating before key creation) are signed with openpgp.js's packet API
 * using the secret key exported from gpg.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import * as openpgp from 'openpgp';
import { canonicalSignature, fingerprintOf, minimizePublicKey, normalizeFingerprint, prepareKey, prepareSignature, readSignature, verifyDetached, verifyPrepared, type SignatureCheck } from '../../attestation/openpgp.js';
import { LafsError, type Checked } from '../../merkle/errors.js';
import { GpgHome } from '../helpers/gpg.js';

const enc = new TextEncoder();
const statement = enc.encode('lafs-attestation/v1\nsource sha256:' + 'ab'.repeat(32) + '\nplatform x86_64-linux-gnu\nartifact sha256:' + 'cd'.repeat(32) + ' tool.tar.gz\n');
const at = (iso: string): Date => new Date(iso);

interface Keys { rsa: string; ed: string; sub: string; p256: string }
let gpg: GpgHome;
let keys: Keys;

test.before(async () => {
  gpg = GpgHome.create();
  const [rsa, ed, sub, p256] = await Promise.all([
    gpg.generateKey({ name: 'RSA Builder', type: 'rsa3072', encryptionSubkey: true }),
    gpg.generateKey({ name: 'Ed Builder', type: 'ed25519', encryptionSubkey: true }),
    gpg.generateKey({ name: 'Subkey Builder', type: 'ed25519', signingSubkey: 'ed25519', encryptionSubkey: true }),
    gpg.generateKey({ name: 'P256 Builder', type: 'nistp256' }),
  ]);
  keys = { rsa: rsa!, ed: ed!, sub: sub!, p256: p256! };
});

test.after.always(() => gpg?.closeSync());

function ok(t: { fail(m: string): void }, result: Checked<SignatureCheck>): SignatureCheck {
  if (!result.ok) {
    t.fail(`expected a valid signature, got: ${result.reason}`);
    throw new Error(result.reason);
  }
  return result.value;
}

function rejected(t: { true(v: boolean, m?: string): void; regex(s: string, r: RegExp): void }, result: Checked<SignatureCheck>, reason: RegExp): void {
  t.true(!result.ok, 'expected a rejection');
  if (!result.ok) t.regex(result.reason, reason);
}

/** A detached binary-document signature made with openpgp.js's packet API by the (sub)key `keyId` of a gpg secret key. */
async function rawSign(secretKey: Uint8Array, keyId: string, data: Uint8Array, date: Date): Promise<Uint8Array> {
  const key = await openpgp.readPrivateKey({ binaryKey: secretKey });
  const target = key.getKeys().find((k) => k.getKeyID().toHex().toUpperCase() === keyId.toUpperCase());
  if (!target) throw new Error(`no key ${keyId}`);
  const packet = target.keyPacket as openpgp.SecretKeyPacket;
  const literal = new openpgp.LiteralDataPacket();
  (literal as unknown as { setBytes(b: Uint8Array, f: number): void }).setBytes(data, openpgp.enums.literal.binary);
  const sig = new openpgp.SignaturePacket();
  sig.signatureType = openpgp.enums.signature.binary;
  sig.hashAlgorithm = openpgp.enums.hash.sha256;
  sig.publicKeyAlgorithm = packet.algorithm;
  await (sig as unknown as { sign(k: unknown, d: unknown, date: Date, detached: boolean, config: openpgp.Config): Promise<void> }).sign(packet, literal, date, true, openpgp.config);
  const list = new openpgp.PacketList<openpgp.SignaturePacket>();
  list.push(sig);
  return list.write() as Uint8Array;
}

// --- Good signatures -------------------------------------------------------------------------

test('RSA-3072: binary SHA-256 and armored SHA-512 signatures verify; builder is the lowercase primary fingerprint', async (t) => {
  const publicKey = await gpg.exportPublicKey(keys.rsa);
  const binary = ok(t, await verifyDetached(statement, await gpg.sign(keys.rsa, statement), publicKey));
  t.is(binary.builder, keys.rsa.toLowerCase());
  t.is(binary.signingKeyId, keys.rsa.slice(-16).toLowerCase());
  t.is(binary.publicKeyAlgorithm, 'rsa');
  t.is(binary.hashAlgorithm, 'sha256');
  t.deepEqual(binary.warnings, []);
  t.true(Math.abs(binary.created.getTime() - Date.now()) < 5 * 60_000);
  const armored = ok(t, await verifyDetached(statement, await gpg.sign(keys.rsa, statement, { armor: true, digest: 'SHA512' }), publicKey));
  t.is(armored.hashAlgorithm, 'sha512');
  t.is(armored.builder, keys.rsa.toLowerCase());
});

test('Ed25519 (legacy EdDSA) and ECDSA P-256 signatures verify, with an armored public key too', async (t) => {
  const ed = ok(t, await verifyDetached(statement, await gpg.sign(keys.ed, statement, { digest: 'SHA512' }), await gpg.exportPublicKey(keys.ed, true)));
  t.is(ed.publicKeyAlgorithm, 'eddsa');
  t.is(ed.hashAlgorithm, 'sha512');
  t.is(ed.builder, keys.ed.toLowerCase());
  const ec = ok(t, await verifyDetached(statement, await gpg.sign(keys.p256, statement), await gpg.exportPublicKey(keys.p256)));
  t.is(ec.publicKeyAlgorithm, 'ecdsa');
  t.is(ec.builder, keys.p256.toLowerCase());
  t.deepEqual(ec.warnings, []);
});

test('a certify-only key signing through its signing subkey: issuer is the subkey, builder the primary', async (t) => {
  const [signing] = (await gpg.subkeys(keys.sub)).filter((s) => s.capabilities.includes('s'));
  const check = ok(t, await verifyDetached(statement, await gpg.sign(keys.sub, statement), await gpg.exportPublicKey(keys.sub)));
  t.is(check.signingKeyId, signing!.keyId.toLowerCase());
  t.not(check.signingKeyId, keys.sub.slice(-16).toLowerCase());
  t.is(check.builder, keys.sub.toLowerCase());
});

test('text-mode signatures (type 0x01) verify over canonical line endings; binary ones only over the exact bytes', async (t) => {
  const publicKey = await gpg.exportPublicKey(keys.ed);
  const crlf = enc.encode(new TextDecoder().decode(statement).replace(/\n/g, '\r\n'));
  const text = await gpg.sign(keys.ed, statement, { textmode: true });
  ok(t, await verifyDetached(statement, text, publicKey));
  ok(t, await verifyDetached(crlf, text, publicKey));
  const binary = await gpg.sign(keys.ed, statement);
  rejected(t, await verifyDetached(crlf, binary, publicKey), /does not verify/);
});

test('v6 and v4 Ed25519 keys (RFC 9580, algorithm 27) made by openpgp.js verify, also after minimization', async (t) => {
  for (const config of [{ v6Keys: true }, {}]) {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: 'V', email: 'v@example.org' }], format: 'object', config });
    const signature = await openpgp.sign({ message: await openpgp.createMessage({ binary: statement }), signingKeys: privateKey, detached: true, format: 'binary' });
    const keyBytes = publicKey.write() as Uint8Array;
    const check = ok(t, await verifyDetached(statement, signature as Uint8Array, keyBytes));
    t.is(check.publicKeyAlgorithm, 'ed25519');
    t.is(check.builder, publicKey.getFingerprint());
    t.is(check.builder.length, config.v6Keys ? 64 : 40);
    ok(t, await verifyDetached(statement, signature as Uint8Array, await minimizePublicKey(keyBytes)));
  }
});

// --- Reading and normalising -----------------------------------------------------------------

test('readSignature: armored to binary, binary unchanged; junk, two packets and trailing bytes refused', async (t) => {
  const armored = await gpg.sign(keys.ed, statement, { armor: true });
  const binary = await readSignature(new TextDecoder().decode(armored));
  t.is(binary[0]! & 0x80, 0x80);
  t.deepEqual(await readSignature(armored), binary);
  ok(t, await verifyDetached(statement, binary, await gpg.exportPublicKey(keys.ed)));
  const raw = await gpg.sign(keys.ed, statement);
  t.deepEqual(await readSignature(raw), raw);
  for (const bad of [new Uint8Array(0), enc.encode('not a signature'), new Uint8Array([...raw, ...raw]), new Uint8Array([...raw, 0]), raw.subarray(0, raw.length - 3), await gpg.exportPublicKey(keys.ed)]) {
    const error = await t.throwsAsync(readSignature(bad));
    t.true(error instanceof LafsError && error.code === 'bad-signature', String(error));
  }
  await t.throwsAsync(readSignature('-----BEGIN PGP SIGNATURE-----\n\nbroken\n-----END PGP SIGNATURE-----\n'), { instanceOf: LafsError });
});

test('readSignature: armored bytes are read as their text is, whatever whitespace or BOM comes first', async (t) => {
  const armored = await gpg.sign(keys.ed, statement, { armor: true });
  const outcome = (p: Promise<Uint8Array>): Promise<unknown> => p.then((bytes) => ({ bytes }), (e: unknown) => ({ error: String(e) }));
  // Whitespace as String.prototype.trimStart knows it (a BOM, NBSP, LINE SEPARATOR too): read as the text is.
  for (const prefix of [[], [0x20, 0x0a], [0xef, 0xbb, 0xbf], [0xc2, 0xa0], [0x09, 0xe2, 0x80, 0xa8]]) {
    const bytes = new Uint8Array([...prefix, ...armored]);
    t.deepEqual(await outcome(readSignature(bytes)), await outcome(readSignature(new TextDecoder().decode(bytes))), `prefix ${prefix.join(',')}`);
  }
  // Anything else first: not armor, so read as a packet (and refused).
  for (const prefix of [[0x2d], [0x88], [0xc2, 0x41]]) {
    const error = await t.throwsAsync(readSignature(new Uint8Array([...prefix, ...armored])));
    t.true(error instanceof LafsError && error.code === 'bad-signature' && !error.message.includes('armor'), String(error));
  }
  t.deepEqual(await readSignature(new Uint8Array([0x20, 0x0a, ...armored])), await readSignature(armored));
  // Bytes that start like neither armor nor a packet are refused as before.
  for (const bad of [enc.encode('-----BEGIN PGP'), enc.encode('x-----BEGIN PGP SIGNATURE-----'), new Uint8Array([0xbf, ...armored])]) {
    const error = await t.throwsAsync(readSignature(bad));
    t.true(error instanceof LafsError && error.code === 'bad-signature', String(error));
  }
});

test('prepareSignature and prepareKey give what canonicalSignature(readSignature) and minimizePublicKey give, and verifyPrepared what verifyDetached gives', async (t) => {
  for (const fpr of [keys.ed, keys.rsa]) {
    for (const armor of [false, true]) {
      const signature = await gpg.sign(fpr, statement, { armor });
      const publicKey = await gpg.exportPublicKey(fpr, armor);
      const prepared = await prepareSignature(signature);
      const canonical = canonicalSignature(await readSignature(signature));
      t.deepEqual(prepared.bytes, canonical);
      const key = await prepareKey(publicKey);
      const minimal = await minimizePublicKey(publicKey);
      t.deepEqual(key.minimal, minimal);
      t.deepEqual(await verifyPrepared(statement, prepared, key), await verifyDetached(statement, canonical, minimal));
      const other = enc.encode('lafs-attestation/v1\nsomething else\n');
      t.deepEqual(await verifyPrepared(other, prepared, key), await verifyDetached(other, canonical, minimal));
    }
  }
});

test('canonicalSignature: gpg\'s old-format packet header becomes new-format with the shortest length; the body is untouched', async (t) => {
  for (const fpr of [keys.ed, keys.rsa]) {
    const raw = await gpg.sign(fpr, statement);
    t.is(raw[0]! & 0xc0, 0x80, 'gpg writes an old-format header');
    const lengthBytes = 1 << (raw[0]! & 0x03);
    const body = raw.subarray(1 + lengthBytes);
    const canonical = canonicalSignature(raw);
    const header = body.length < 192 ? [0xc2, body.length] : [0xc2, ((body.length - 192) >> 8) + 192, (body.length - 192) & 0xff];
    t.deepEqual(canonical, new Uint8Array([...header, ...body]));
    t.deepEqual(canonicalSignature(canonical), canonical, 'idempotent');
    ok(t, await verifyDetached(statement, canonical, await gpg.exportPublicKey(fpr)));
  }
  for (const bad of [new Uint8Array(0), enc.encode('junk'), await gpg.exportPublicKey(keys.ed)]) {
    t.throws(() => canonicalSignature(bad), { instanceOf: LafsError });
  }
});

test('fingerprintOf: lowercase primary fingerprint from armored or binary keys; junk is bad-key', async (t) => {
  t.is(await fingerprintOf(await gpg.exportPublicKey(keys.sub)), keys.sub.toLowerCase());
  t.is(await fingerprintOf(new TextDecoder().decode(await gpg.exportPublicKey(keys.sub, true))), keys.sub.toLowerCase());
  const error = await t.throwsAsync(fingerprintOf(enc.encode('junk')));
  t.true(error instanceof LafsError && error.code === 'bad-key');
  const secret = await t.throwsAsync(fingerprintOf(await gpg.exportSecretKey(keys.ed)));
  t.true(secret instanceof LafsError && /secret key/.test(secret.message));
  t.is(normalizeFingerprint(keys.rsa), keys.rsa.toLowerCase());
  t.is(normalizeFingerprint(keys.rsa.toLowerCase()), keys.rsa.toLowerCase());
  t.throws(() => normalizeFingerprint('xyz'), { instanceOf: LafsError });
});

test('minimizePublicKey: one user ID, no encryption subkey, deterministic, idempotent, still verifies', async (t) => {
  for (const fpr of [keys.rsa, keys.sub]) {
    const full = await gpg.exportPublicKey(fpr);
    const minimal = await minimizePublicKey(full);
    t.deepEqual(await minimizePublicKey(await gpg.exportPublicKey(fpr, true)), minimal, 'armored and binary input give the same bytes');
    t.deepEqual(await minimizePublicKey(minimal), minimal, 'idempotent');
    t.true(minimal.length < full.length);
    const parsed = await openpgp.readKey({ binaryKey: minimal });
    t.is(parsed.users.length, 1);
    t.is(parsed.getFingerprint(), fpr.toLowerCase());
    const expectedSubkeys = fpr === keys.sub ? 1 : 0; // only the signing subkey survives
    t.is(parsed.subkeys.length, expectedSubkeys);
    ok(t, await verifyDetached(statement, await gpg.sign(fpr, statement), minimal));
  }
  await t.throwsAsync(minimizePublicKey(enc.encode('junk')), { instanceOf: LafsError });
});

// --- Rejections --------------------------------------------------------------------------------

test('a changed byte, a different key, garbage signature or key: rejected with a reason, never thrown', async (t) => {
  const publicKey = await gpg.exportPublicKey(keys.rsa);
  const signature = await gpg.sign(keys.rsa, statement);
  const changed = statement.slice();
  changed[40] = changed[40]! ^ 1;
  rejected(t, await verifyDetached(changed, signature, publicKey), /does not verify/);
  rejected(t, await verifyDetached(statement, signature, await gpg.exportPublicKey(keys.ed)), /not part of the given public key/);
  const flipped = signature.slice();
  flipped[flipped.length - 5] = flipped[flipped.length - 5]! ^ 0x40;
  rejected(t, await verifyDetached(statement, flipped, publicKey), /does not verify/);
  rejected(t, await verifyDetached(statement, enc.encode('garbage'), publicKey), /signature/);
  rejected(t, await verifyDetached(statement, new Uint8Array(0), publicKey), /signature: empty/);
  rejected(t, await verifyDetached(statement, signature, enc.encode('garbage')), /public key/);
  rejected(t, await verifyDetached(statement, signature, new Uint8Array(0)), /public key/);
});

test('signature made after the key expired is rejected; one made before is accepted with a warning (gpg says EXPKEYSIG for both)', async (t) => {
  const fpr = await gpg.generateKey({ name: 'Expiring', type: 'ed25519', createdAt: at('2020-01-01T00:00:00Z') });
  const before = await gpg.sign(fpr, statement, { at: at('2020-03-01T00:00:00Z') });
  const after = await gpg.sign(fpr, statement, { at: at('2020-12-01T00:00:00Z') });
  await gpg.setExpire(fpr, '2020-09-01', at('2020-06-01T00:00:00Z'));
  const publicKey = await gpg.exportPublicKey(fpr);
  const good = ok(t, await verifyDetached(statement, before, publicKey));
  t.true(good.warnings.some((w) => /primary key expired 2020-09-01 after signing/.test(w)), good.warnings.join('; '));
  rejected(t, await verifyDetached(statement, after, publicKey), /expired on 2020-09-01, before the signature/);
  t.true((await gpg.verify(statement, after)).status.some((s) => s.startsWith('EXPKEYSIG')));
});

test('a key made with an expiry signs while valid; its subkey expiry is judged at signing time too', async (t) => {
  const fpr = await gpg.generateKey({ name: 'Sub Expiring', type: 'ed25519', signingSubkey: 'ed25519', expire: '1y', createdAt: at('2021-01-01T00:00:00Z') });
  const inside = await gpg.sign(fpr, statement, { at: at('2021-06-01T00:00:00Z') });
  const check = ok(t, await verifyDetached(statement, inside, await gpg.exportPublicKey(fpr)));
  t.true(check.warnings.some((w) => /signing subkey \w+ expired 2022-01-01 after signing/.test(w)), check.warnings.join('; '));
  t.true(check.warnings.some((w) => /primary key expired 2022-01-01 after signing/.test(w)));
  // The same signature judged at a time when the key was still valid: no expiry warnings.
  const then = ok(t, await verifyDetached(statement, inside, await gpg.exportPublicKey(fpr), { now: at('2021-07-01T00:00:00Z') }));
  t.deepEqual(then.warnings, []);
});

test('revocation: "compromised" voids every signature; "superseded" only those made after it', async (t) => {
  const compromised = await gpg.generateKey({ name: 'Compromised', type: 'ed25519', createdAt: at('2020-01-01T00:00:00Z') });
  const early = await gpg.sign(compromised, statement, { at: at('2020-03-01T00:00:00Z') });
  await gpg.revoke(compromised, 'compromised', at('2020-06-01T00:00:00Z'));
  rejected(t, await verifyDetached(statement, early, await gpg.exportPublicKey(compromised)), /revoked on 2020-06-01 \(key compromised\): all its signatures are void/);

  const noReason = await gpg.generateKey({ name: 'No Reason', type: 'ed25519', createdAt: at('2020-01-01T00:00:00Z') });
  const early2 = await gpg.sign(noReason, statement, { at: at('2020-03-01T00:00:00Z') });
  await gpg.revoke(noReason, 'none', at('2020-06-01T00:00:00Z'));
  rejected(t, await verifyDetached(statement, early2, await gpg.exportPublicKey(noReason)), /all its signatures are void/);

  const superseded = await gpg.generateKey({ name: 'Superseded', type: 'ed25519', createdAt: at('2020-01-01T00:00:00Z') });
  const before = await gpg.sign(superseded, statement, { at: at('2020-03-01T00:00:00Z') });
  const after = await gpg.sign(superseded, statement, { at: at('2020-08-01T00:00:00Z') });
  await gpg.revoke(superseded, 'superseded', at('2020-06-01T00:00:00Z'));
  const publicKey = await gpg.exportPublicKey(superseded);
  const good = ok(t, await verifyDetached(statement, before, publicKey));
  t.true(good.warnings.some((w) => /revoked on 2020-06-01 \(key superseded\) after signing/.test(w)));
  rejected(t, await verifyDetached(statement, after, publicKey), /revoked on 2020-06-01 \(key superseded\), before the signature/);
  // The minimal key keeps the revocation.
  rejected(t, await verifyDetached(statement, after, await minimizePublicKey(publicKey)), /revoked/);
});

test('a key that cannot sign: encryption subkey and certify-only primary are refused', async (t) => {
  const secret = await gpg.exportSecretKey(keys.rsa);
  const [encryption] = (await gpg.subkeys(keys.rsa)).filter((s) => s.capabilities.includes('e'));
  const byEncryptionKey = await rawSign(secret, encryption!.keyId, statement, new Date());
  rejected(t, await verifyDetached(statement, byEncryptionKey, await gpg.exportPublicKey(keys.rsa)), /is not a signing key/);
  // The minimal key does not even carry the encryption subkey.
  rejected(t, await verifyDetached(statement, byEncryptionKey, await minimizePublicKey(await gpg.exportPublicKey(keys.rsa))), /not part of the given public key/);
  const byCertifyOnlyPrimary = await rawSign(await gpg.exportSecretKey(keys.sub), keys.sub.slice(-16), statement, new Date());
  rejected(t, await verifyDetached(statement, byCertifyOnlyPrimary, await gpg.exportPublicKey(keys.sub)), /primary key is not a signing key/);
});

test('a signature older than its key is refused', async (t) => {
  const publicKey = await gpg.exportPublicKey(keys.ed);
  const created = (await openpgp.readKey({ binaryKey: publicKey })).getCreationTime();
  const backdated = await rawSign(await gpg.exportSecretKey(keys.ed), keys.ed.slice(-16), statement, new Date(created.getTime() - 86_400_000));
  rejected(t, await verifyDetached(statement, backdated, publicKey), /older than primary key/);
  t.true((await gpg.verify(statement, backdated)).status.some((s) => s.startsWith('ERRSIG ')), 'gpg refuses it too (time conflict)');
});

test('a signing subkey without its primary-key-binding back-signature is refused', async (t) => {
  const key = await openpgp.readKey({ binaryKey: await gpg.exportPublicKey(keys.sub) });
  const signingSubkey = key.subkeys.find((s) => s.bindingSignatures.some((b) => b.keyFlags && (b.keyFlags[0]! & 2) !== 0))!;
  for (const binding of signingSubkey.bindingSignatures) {
    binding.unhashedSubpackets = binding.unhashedSubpackets.filter((p) => p.type !== 32); // embedded signature lives unhashed
    binding.embeddedSignature = null;
  }
  const stripped = key.write() as Uint8Array;
  const signature = await gpg.sign(keys.sub, statement);
  rejected(t, await verifyDetached(statement, signature, stripped), /back-\)?signature/);
  // gpg refuses it too ("not cross-certified").
  const other = GpgHome.create();
  try {
    const file = join(other.dir, 'stripped.gpg');
    writeFileSync(file, stripped);
    await other.importKey(file);
    const verdict = await other.verify(statement, signature);
    t.true(verdict.status.some((s) => s.startsWith('ERRSIG ')), verdict.status.join(' | '));
    t.false(verdict.status.some((s) => s.startsWith('VALIDSIG ')));
  } finally {
    other.closeSync();
  }
});

test('weak or unsupported material: SHA-1 data signature, RSA-1024, DSA, non-document signature, future date', async (t) => {
  rejected(t, await verifyDetached(statement, await gpg.sign(keys.ed, statement, { digest: 'SHA1' }), await gpg.exportPublicKey(keys.ed)), /hash sha1 is not accepted/);
  const [small, dsa] = await Promise.all([gpg.generateKey({ name: 'Small', type: 'rsa1024' }), gpg.generateKey({ name: 'Dsa', type: 'dsa2048' })]);
  rejected(t, await verifyDetached(statement, await gpg.sign(small!, statement), await gpg.exportPublicKey(small!)), /RSA 1024 bits, below the 2048-bit minimum/);
  rejected(t, await verifyDetached(statement, await gpg.sign(dsa!, statement), await gpg.exportPublicKey(dsa!)), /algorithm dsa, which is not supported/);
  // A self-signature (type 0x13) offered as the document signature.
  const key = await openpgp.readKey({ binaryKey: await gpg.exportPublicKey(keys.ed) });
  const list = new openpgp.PacketList<openpgp.SignaturePacket>();
  list.push(key.users[0]!.selfCertifications[0]!);
  rejected(t, await verifyDetached(statement, list.write() as Uint8Array, await gpg.exportPublicKey(keys.ed)), /not a document signature/);
  rejected(t, await verifyDetached(statement, await gpg.sign(keys.ed, statement), await gpg.exportPublicKey(keys.ed), { now: at('2001-01-01T00:00:00Z') }), /in the future/);
});

test('RSA above 4096 bits is refused, with the size in the reason', async (t) => {
  // openpgp.js makes keys gpg will not (gpg stops at 4096 without --enable-large-rsa).
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'rsa', rsaBits: 4608, userIDs: [{ name: 'Large', email: 'large@example.org' }], date: new Date(Date.now() - 3_600_000), format: 'object' });
  const signature = await openpgp.sign({ message: await openpgp.createMessage({ binary: statement }), signingKeys: privateKey, detached: true, format: 'binary' });
  const result = await verifyDetached(statement, signature as Uint8Array, publicKey.write());
  rejected(t, result, /primary key is RSA 4608 bits, above the 4096-bit maximum/);
});

test('the node:crypto engine and openpgp.js agree on gpg signatures of every key type, good and tampered', async (t) => {
  for (const fpr of [keys.rsa, keys.ed, keys.sub, keys.p256]) {
    const publicKey = await gpg.exportPublicKey(fpr);
    for (const options of [{}, { digest: 'SHA512' as const }, { textmode: true }]) {
      const signature = await gpg.sign(fpr, statement, options);
      const tampered = statement.slice();
      tampered[3] = tampered[3]! ^ 0x20;
      for (const signed of [statement, tampered]) {
        const native = await verifyDetached(signed, signature, publicKey, { crypto: 'native' });
        const js = await verifyDetached(signed, signature, publicKey, { crypto: 'openpgp.js' });
        t.is(native.ok, signed === statement);
        t.deepEqual(native, js);
      }
    }
  }
});

test('hostile bytes: mutated signatures and keys never throw, and whatever still verifies names the same builder', async (t) => {
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'F', email: 'f@example.org' }], format: 'object' });
  const signature = (await openpgp.sign({ message: await openpgp.createMessage({ binary: statement }), signingKeys: privateKey, detached: true, format: 'binary' })) as Uint8Array;
  const keyBytes = publicKey.write() as Uint8Array;
  const builder = publicKey.getFingerprint();
  ok(t, await verifyDetached(statement, signature, keyBytes));
  const mutate = (bytes: Uint8Array, edits: { at: number; value: number }[], cut: number): Uint8Array => {
    const out = bytes.slice(0, Math.max(0, bytes.length - cut));
    for (const { at, value } of edits) if (out.length > 0) out[at % out.length] = value;
    return out;
  };
  const edit = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) });
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(edit, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 3 }), async (onKey, edits, cut) => {
      const sig = onKey ? signature : mutate(signature, edits, cut);
      const key = onKey ? mutate(keyBytes, edits, cut) : keyBytes;
      const result = await verifyDetached(statement, sig, key);
      if (result.ok) return result.value.builder === builder;
      return typeof result.reason === 'string' && result.reason.length > 0;
    }),
    { numRuns: 300 },
  );
  t.pass();
});
