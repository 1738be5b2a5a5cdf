/**
 * The real Bitcoin Core 27.0 guix.sigs attestations (../shared/fixtures/guix-sigs/README.md):
 * all 35 detached signatures verify with their builder's key, for the right reasons, and agree
 * with gpg itself; the objections of stricter verifiers are recorded as warnings; key rotation,
 * signing subkeys and tampering behave as the README says.
 */
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { minimizePublicKey, verifyDetached, type SignatureCheck } from '../../attestation/openpgp.js';
import { GpgHome } from '../helpers/gpg.js';
import { fixturesDir } from '../helpers/tmp.js';

const release = join(fixturesDir, 'guix-sigs', '27.0');
const keyDir = join(fixturesDir, 'guix-sigs', 'builder-keys');

/** The README's second pass was on 2026-11-22: judging "now" at that date keeps the warnings stable as keys expire. */
const README_DATE = new Date('2026-11-22T00:00:00Z');

/** The two builders who rotated keys after 27.0 signed it with these older key files. */
const DATED_KEYS: Record<string, string> = { davidgumberg: 'davidgumberg.2024-04.gpg', svanstaa: 'svanstaa.2023-04.gpg' };

interface Attestation { builder: string; set: string; signed: Uint8Array; signature: Uint8Array; keyFile: string }

const attestations: Attestation[] = readdirSync(release).sort().flatMap((builder) =>
  readdirSync(join(release, builder))
    .filter((f) => f.endsWith('.SHA256SUMS'))
    .sort()
    .map((f) => ({
      builder,
      set: f.replace('.SHA256SUMS', ''),
      signed: new Uint8Array(readFileSync(join(release, builder, f))),
      signature: new Uint8Array(readFileSync(join(release, builder, `${f}.asc`))),
      keyFile: join(keyDir, DATED_KEYS[builder] ?? `${builder}.gpg`),
    })),
);

const keyBytes = (file: string): Uint8Array => new Uint8Array(readFileSync(file));

let gpg: GpgHome;
const results = new Map<Attestation, SignatureCheck>();

test.before(async () => {
  gpg = GpgHome.create();
  for (const a of attestations) {
    const result = await verifyDetached(a.signed, a.signature, keyBytes(a.keyFile), { now: README_DATE });
    if (result.ok) results.set(a, result.value);
  }
});

test.after.always(() => gpg?.closeSync());

const named = (builder: string): Attestation[] => attestations.filter((a) => a.builder === builder);

test('the fixture has 35 signatures by 19 builders, every key file exists', (t) => {
  t.is(attestations.length, 35);
  t.is(new Set(attestations.map((a) => a.builder)).size, 19);
  for (const a of attestations) t.true(existsSync(a.keyFile), a.keyFile);
});

test('all 35 signatures verify; builder ids are the primary fingerprints gpg --show-keys reports', async (t) => {
  for (const a of attestations) {
    const check = results.get(a);
    t.truthy(check, `${a.builder}/${a.set}: ${JSON.stringify(await verifyDetached(a.signed, a.signature, keyBytes(a.keyFile), { now: README_DATE }))}`);
    const [gpgFingerprint, ...more] = await gpg.showKeyFingerprints(a.keyFile);
    t.is(more.length, 0);
    t.is(check?.builder, gpgFingerprint!.toLowerCase(), a.builder);
    t.regex(check?.builder ?? '', /^[0-9a-f]{40}$/);
  }
});

test('every signature verifies, with identical findings, against the minimized key', async (t) => {
  const minimized = new Map<string, Uint8Array>();
  for (const a of attestations) {
    if (!minimized.has(a.keyFile)) minimized.set(a.keyFile, await minimizePublicKey(keyBytes(a.keyFile)));
    const minimal = minimized.get(a.keyFile)!;
    t.true(minimal.length < keyBytes(a.keyFile).length, `${a.builder}: minimized key is smaller`);
    const result = await verifyDetached(a.signed, a.signature, minimal, { now: README_DATE });
    t.true(result.ok, `${a.builder}/${a.set}: ${result.ok ? '' : result.reason}`);
    if (result.ok) t.deepEqual(result.value, results.get(a), `${a.builder}/${a.set}`);
  }
  // Deterministic: minimizing again gives the same bytes.
  for (const [file, minimal] of minimized) t.deepEqual(await minimizePublicKey(keyBytes(file)), minimal);
});

test('gpg agrees: VALIDSIG for all 35, with the same primary fingerprint and signing key', async (t) => {
  for (const file of new Set(attestations.map((a) => a.keyFile))) await gpg.importKey(file);
  await Promise.all(attestations.map(async (a) => {
    const { status } = await gpg.verify(a.signed, a.signature);
    const valid = status.find((s) => s.startsWith('VALIDSIG '))?.split(' ');
    t.truthy(valid, `${a.builder}/${a.set}: ${status.join(' | ')}`);
    if (!valid) return;
    const ours = results.get(a)!;
    t.is(valid[10]!.toLowerCase(), ours.builder, a.builder); // primary key fingerprint
    t.is(valid[1]!.slice(-16).toLowerCase(), ours.signingKeyId, a.builder); // the signing (sub)key
    t.is(Number(valid[3]), ours.created.getTime() / 1000, a.builder);
  }));
});

test('algorithms as gpg saw them: laanwj through a signing subkey with SHA-512, luke-jr/davidgumberg EdDSA, kvaciral ECDSA', async (t) => {
  t.is(named('laanwj').length, 2);
  for (const a of named('laanwj')) {
    const check = results.get(a)!;
    t.is(check.hashAlgorithm, 'sha512');
    t.is(check.publicKeyAlgorithm, 'rsa');
    t.is(check.signingKeyId, '1e4aed62986cd25d'); // laanwj's signing subkey
    t.false(check.builder.endsWith(check.signingKeyId));
  }
  for (const a of [...named('luke-jr'), ...named('davidgumberg')]) t.is(results.get(a)!.publicKeyAlgorithm, 'eddsa');
  for (const a of named('luke-jr')) t.is(results.get(a)!.hashAlgorithm, 'sha512');
  for (const a of named('kvaciral')) t.is(results.get(a)!.publicKeyAlgorithm, 'ecdsa');
  const rsa = attestations.filter((a) => results.get(a)!.publicKeyAlgorithm === 'rsa');
  t.is(new Set(rsa.map((a) => a.builder)).size, 16);
});

test('rotated keys: davidgumberg and svanstaa current keys do NOT verify their 27.0 signatures', async (t) => {
  for (const builder of Object.keys(DATED_KEYS)) {
    t.true(named(builder).length > 0);
    for (const a of named(builder)) {
      const result = await verifyDetached(a.signed, a.signature, keyBytes(join(keyDir, `${builder}.gpg`)));
      t.false(result.ok, builder);
      if (!result.ok) t.regex(result.reason, /not part of the given public key/);
    }
  }
});

test('keys that expired after signing (CoinForensics, Emzy, glozow, luke-jr, willcl-ark, svanstaa): accepted with a warning; no one else warns of expiry', (t) => {
  const expiredLater = new Set(['CoinForensics', 'Emzy', 'glozow', 'luke-jr', 'willcl-ark', 'svanstaa']);
  let count = 0;
  for (const a of attestations) {
    const warned = results.get(a)!.warnings.some((w) => /expired \d{4}-\d\d-\d\d after signing/.test(w));
    t.is(warned, expiredLater.has(a.builder), `${a.builder}: ${results.get(a)!.warnings.join('; ')}`);
    if (warned) count++;
  }
  t.is(count, 10); // the README's "10 good signatures by a key that has since expired"
});

test('where plain openpgp.js and Sequoia object, the objection is a warning (Sjors, TheCharlatan, achow101, kvaciral)', (t) => {
  const warningsOf = (builder: string): string[] => named(builder).flatMap((a) => results.get(a)!.warnings);
  t.true(warningsOf('Sjors').some((w) => /had expired on 2019-\d\d-\d\d by its self-signature in force at signing time/.test(w)), warningsOf('Sjors').join('; '));
  t.true(warningsOf('TheCharlatan').some((w) => /back-signature uses SHA-1/.test(w)));
  t.true(warningsOf('TheCharlatan').some((w) => /binding signature newer than the signature/.test(w)));
  t.true(warningsOf('achow101').some((w) => /self-signature newer than the signature/.test(w)));
  t.true(warningsOf('kvaciral').some((w) => /secp256k1/.test(w)));
  // Builders whose keys stand unchanged since signing get no warnings at all.
  for (const builder of ['0xb10c', 'fanquake', 'guggero', 'hebasto', 'jackielove4u', 'laanwj', 'pinheadmz', 'theStack', 'davidgumberg']) {
    t.deepEqual(warningsOf(builder), [], builder);
  }
});

test('every signature is rejected once a byte of its sums file changes (first, middle, last byte)', async (t) => {
  for (const a of attestations) {
    for (const position of [0, Math.floor(a.signed.length / 2), a.signed.length - 1]) {
      const tampered = a.signed.slice();
      tampered[position] = tampered[position]! ^ 0x01;
      const result = await verifyDetached(tampered, a.signature, keyBytes(a.keyFile));
      t.false(result.ok, `${a.builder}/${a.set} byte ${position}`);
      if (!result.ok) t.regex(result.reason, /does not verify/);
    }
    const truncated = await verifyDetached(a.signed.subarray(0, a.signed.length - 1), a.signature, keyBytes(a.keyFile));
    t.false(truncated.ok);
  }
});

test('node:crypto and openpgp.js agree on every signature, good and tampered; openpgp.js alone cannot do kvaciral (eckey-utils)', async (t) => {
  for (const a of attestations) {
    const key = keyBytes(a.keyFile);
    const tampered = a.signed.slice();
    tampered[7] = tampered[7]! ^ 0x02;
    for (const signed of [a.signed, tampered]) {
      const native = await verifyDetached(signed, a.signature, key, { now: README_DATE, crypto: 'native' });
      const js = await verifyDetached(signed, a.signature, key, { now: README_DATE, crypto: 'openpgp.js' });
      if (a.builder === 'kvaciral' && signed === a.signed) {
        t.true(native.ok);
        t.false(js.ok);
        if (!js.ok) t.regex(js.reason, /eckey-utils/); // the optional package openpgp.js wants for secp256k1
        continue;
      }
      t.deepEqual(js, native, `${a.builder}/${a.set}`);
    }
  }
});
