/**
 * The record end to end in-process: buildLeaf from real signatures (a throwaway openpgp.js Ed25519
 * key, and all 35 guix.sigs fixture signatures), viewLeaf and verifyLeaf on the decoded bytes,
 * and every refusal naming its field.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LafsError, type ErrorCode } from '../../merkle/errors.js';
import { MAX_LEAF_SIZE, decodeLeaf, encodeLeaf, type Leaf } from '../../attestation/leaf.js';
import { buildLeaf, verifyLeaf, viewLeaf } from '../../attestation/record.js';
import { fingerprintOf } from '../../attestation/openpgp.js';
import { dearmor, guixEntries, makeBuilder, signDetached, type TestBuilder } from '../helpers/submissions.js';
import { repoRoot } from '../helpers/tmp.js';
import { BITCOIN_PLATFORM_REGEX, guixKeys, guixRelease } from './guix-fixture.js';

const enc = (s: string) => new TextEncoder().encode(s);
const H1 = '1'.repeat(64);
const H2 = 'ab'.repeat(32);
const SRC = `sha256:${'c'.repeat(64)}`;
const statement = `lafs-attestation/v1\nsource ${SRC}\nplatform x86_64-linux-gnu\nartifact sha256:${H1} foo-1.0.tar.gz\nartifact sha256:${H2} foo-1.0.whl\n`;
const sums = `${H1}  foo-1.0-linux.tar.gz\n${H2}  foo-1.0-win64.zip\n${H2}  foo-1.0-linux.tar.gz\n${H1}  foo-1.0.tar.gz\n`;
const sumsClaims = { source: SRC, platformRegex: '^foo-1\\.0-(?<platform>[a-z0-9]+)\\.' };

let alice: TestBuilder;
let bob: TestBuilder;
test.before(async () => {
  [alice, bob] = await Promise.all([makeBuilder('Alice', 'alice@example.org'), makeBuilder('Bob', 'bob@example.org')]);
});

async function attestation(builder: TestBuilder, text = statement, armor = false) {
  return { kind: 'lafs-attestation/v1', signed: enc(text), signature: await signDetached(builder, text, armor), publicKey: armor ? builder.armoredPublicKey : builder.publicKey };
}

test('buildLeaf: a signed statement becomes a leaf that decodes, views and verifies on its own', async (t) => {
  const { leaf, bytes, verified } = await buildLeaf(await attestation(alice));
  t.true(bytes.length <= MAX_LEAF_SIZE);
  t.deepEqual(decodeLeaf(bytes), leaf);
  t.deepEqual(encodeLeaf(leaf), bytes);
  t.is(verified.signature.builder, alice.fingerprint);
  t.deepEqual(verified.view, {
    kind: 'lafs-attestation/v1',
    source: SRC,
    artifacts: [
      { platform: 'x86_64-linux-gnu', name: 'foo-1.0.tar.gz', sha256: H1 },
      { platform: 'x86_64-linux-gnu', name: 'foo-1.0.whl', sha256: H2 },
    ],
    flags: [],
  });
  const again = await verifyLeaf(decodeLeaf(bytes));
  t.true(again.ok);
  if (again.ok) {
    t.deepEqual(again.value.view, verified.view);
    t.is(again.value.signature.builder, alice.fingerprint);
  }
});

/** The body of a one-packet binary signature with a new-format header (as openpgp.js writes it). */
function packetBody(sig: Uint8Array): Uint8Array {
  if ((sig[0]! & 0xc0) !== 0xc0) throw new Error('expected a new-format header');
  const first = sig[1]!;
  const headerLength = first < 192 ? 2 : first < 224 ? 3 : 6;
  return sig.subarray(headerLength);
}
/** Tag 2 (signature) framed in the old format with a 1-, 2- or 4-octet length, or the new format with a 5-octet length. */
function frame(body: Uint8Array, how: 'old1' | 'old2' | 'old4' | 'new5'): Uint8Array {
  const n = body.length;
  const be = (bytes: number) => Array.from({ length: bytes }, (_, i) => Math.floor(n / 256 ** (bytes - 1 - i)) % 256);
  const header = { old1: [0x88, ...be(1)], old2: [0x89, ...be(2)], old4: [0x8a, ...be(4)], new5: [0xc2, 0xff, ...be(4)] }[how];
  return new Uint8Array([...header, ...body]);
}

test('buildLeaf: one signature in any packet framing gives one leaf, with the signature in new-format framing', async (t) => {
  const text = statement;
  const signature = (await signDetached(alice, text, false)) as Uint8Array;
  const body = packetBody(signature);
  t.true(body.length < 256, 'an Ed25519 signature fits a 1-octet old-format length');
  const { bytes, leaf } = await buildLeaf({ kind: 'lafs-attestation/v1', signed: enc(text), signature, publicKey: alice.publicKey });
  t.deepEqual(leaf.signature, signature, 'openpgp.js already writes the canonical framing');
  for (const how of ['old1', 'old2', 'old4', 'new5'] as const) {
    const reframed = frame(body, how);
    const built = await buildLeaf({ kind: 'lafs-attestation/v1', signed: enc(text), signature: reframed, publicKey: alice.publicKey });
    t.deepEqual(built.bytes, bytes, how);
    t.deepEqual(built.leaf.signature, signature, how);
    t.true((await verifyLeaf(decodeLeaf(built.bytes))).ok, how);
  }
});

test('buildLeaf is deterministic: armored or binary signature and key give the same bytes', async (t) => {
  const text = statement;
  const binarySig = (await signDetached(alice, text, false)) as Uint8Array;
  const armoredSig = await signDetached(alice, text, true);
  const a = await buildLeaf({ kind: 'lafs-attestation/v1', signed: enc(text), signature: binarySig, publicKey: alice.publicKey });
  const b = await buildLeaf({ kind: 'lafs-attestation/v1', signed: enc(text), signature: binarySig, publicKey: alice.armoredPublicKey });
  const c = await buildLeaf({ kind: 'lafs-attestation/v1', signed: enc(text), signature: binarySig, publicKey: alice.publicKey });
  t.deepEqual(a.bytes, b.bytes);
  t.deepEqual(a.bytes, c.bytes);
  // The armored signature is a different signature (made again), but stored binary all the same.
  const d = await buildLeaf({ kind: 'lafs-attestation/v1', signed: enc(text), signature: armoredSig, publicKey: alice.armoredPublicKey });
  t.deepEqual(d.leaf.signature, dearmor(armoredSig as string));
  t.deepEqual(d.leaf.publicKey, a.leaf.publicKey);
});

test('buildLeaf: a sums file with a platform regex records the claims, flags duplicates and unmatched names', async (t) => {
  const signature = await signDetached(alice, sums);
  const { bytes, verified } = await buildLeaf({ kind: 'sha256sums', signed: enc(sums), signature, publicKey: alice.publicKey, claims: sumsClaims });
  t.deepEqual(decodeLeaf(bytes).claims, sumsClaims);
  t.deepEqual(verified.view.artifacts, [
    { platform: 'linux', name: 'foo-1.0-linux.tar.gz', sha256: H1 },
    { platform: 'win64', name: 'foo-1.0-win64.zip', sha256: H2 },
    { platform: 'linux', name: 'foo-1.0-linux.tar.gz', sha256: H2 },
    { platform: null, name: 'foo-1.0.tar.gz', sha256: H1 },
  ]);
  t.deepEqual(verified.view.flags, ['duplicate-name: foo-1.0-linux.tar.gz', 'no-platform: foo-1.0.tar.gz']);
  t.deepEqual(viewLeaf(decodeLeaf(bytes)), verified.view);
});

test('buildLeaf: a sums file with a fixed platform label', async (t) => {
  const text = `${H1}  a.tar.gz\n`;
  const { verified } = await buildLeaf({ kind: 'sha256sums', signed: enc(text), signature: await signDetached(alice, text), publicKey: alice.publicKey, claims: { source: SRC, platform: 'win64' } });
  t.deepEqual(verified.view.artifacts, [{ platform: 'win64', name: 'a.tar.gz', sha256: H1 }]);
  t.deepEqual(verified.view.flags, []);
});

interface BadCase {
  title: string;
  make: () => Promise<Parameters<typeof buildLeaf>[0]>;
  code: ErrorCode;
  message: RegExp;
}
const badCases: BadCase[] = [
  { title: 'unknown kind', make: async () => ({ ...(await attestation(alice)), kind: 'in-toto' }), code: 'unknown-kind', message: /^kind: unknown statement kind "in-toto"/ },
  { title: 'prototype property as kind', make: async () => ({ ...(await attestation(alice)), kind: 'constructor' }), code: 'unknown-kind', message: /^kind: / },
  {
    title: 'statement breaks the grammar',
    make: async () => attestation(alice, statement.replace('foo-1.0.whl', 'a.whl')),
    code: 'bad-statement',
    message: /^statement: line 5: artifact names must be sorted/,
  },
  { title: 'statement not bytes', make: async () => ({ ...(await attestation(alice)), signed: statement as unknown as Uint8Array }), code: 'bad-request', message: /^statement: must be bytes$/ },
  { title: 'claims on a statement', make: async () => ({ ...(await attestation(alice)), claims: sumsClaims }), code: 'bad-request', message: /^claims: not allowed for kind lafs-attestation\/v1$/ },
  {
    title: 'sums file breaks the format',
    make: async () => ({ kind: 'sha256sums', signed: enc(`${H1} a\n`), signature: await signDetached(alice, `${H1} a\n`), publicKey: alice.publicKey, claims: sumsClaims }),
    code: 'bad-sums',
    message: /^sums: line 1: must be "<64 hex>  <name>"/,
  },
  { title: 'sums without claims', make: async () => ({ kind: 'sha256sums', signed: enc(sums), signature: await signDetached(alice, sums), publicKey: alice.publicKey }), code: 'bad-request', message: /^claims: required for kind sha256sums$/ },
  {
    title: 'claims with a regex lacking the group',
    make: async () => ({ kind: 'sha256sums', signed: enc(sums), signature: await signDetached(alice, sums), publicKey: alice.publicKey, claims: { source: SRC, platformRegex: '^foo-(.*)$' } }),
    code: 'bad-request',
    message: /^claims\.platformRegex: must have a named group/,
  },
  {
    title: 'regex deriving a platform that breaks the platform rule',
    make: async () => {
      const text = `${H1}  foo-linux.tar.gz\n${H2}  foo-linux (debug).tar.gz\n`;
      return { kind: 'sha256sums', signed: enc(text), signature: await signDetached(alice, text), publicKey: alice.publicKey, claims: { source: SRC, platformRegex: '^foo-(?<platform>.+)\\.tar\\.gz$' } };
    },
    code: 'bad-request',
    message: /^claims\.platformRegex: the platform it derives from "foo-linux \(debug\)\.tar\.gz" breaks the platform rule/,
  },
  {
    title: 'regex with catastrophic backtracking',
    make: async () => {
      const text = `${H1}  ${'a'.repeat(60)}!\n`;
      return { kind: 'sha256sums', signed: enc(text), signature: await signDetached(alice, text), publicKey: alice.publicKey, claims: { source: SRC, platformRegex: '^(?<platform>(a|a)+)$' } };
    },
    code: 'bad-request',
    message: /^claims\.platformRegex: matching the file names took over 100 ms/,
  },
  { title: 'signature garbage', make: async () => ({ ...(await attestation(alice)), signature: new Uint8Array([1, 2, 3]) }), code: 'bad-signature', message: /^signature: / },
  { title: 'signature armored garbage', make: async () => ({ ...(await attestation(alice)), signature: '-----BEGIN PGP SIGNATURE-----\n\nnope\n-----END PGP SIGNATURE-----\n' }), code: 'bad-signature', message: /^signature: / },
  { title: 'signature missing', make: async () => ({ ...(await attestation(alice)), signature: undefined as unknown as string }), code: 'bad-request', message: /^signature: required$/ },
  { title: 'public key garbage', make: async () => ({ ...(await attestation(alice)), publicKey: new Uint8Array([0x99, 0, 1]) }), code: 'bad-key', message: /^publicKey: (?!public key)/ },
  { title: 'public key of someone else', make: async () => ({ ...(await attestation(alice)), publicKey: bob.publicKey }), code: 'bad-signature', message: /^signature: / },
  {
    title: 'signature over other bytes',
    make: async () => ({ ...(await attestation(alice)), signature: await signDetached(alice, statement.replace('x86_64-linux-gnu', 'win64')) }),
    code: 'bad-signature',
    message: /^signature: .*not verify/,
  },
  {
    title: 'leaf over 64 KiB',
    make: async () => {
      // 64 KiB - 100 bytes of sums file: fits the signed-bytes cap, not the leaf with signature and key.
      const line = `${H1}  n-00000\n`;
      const count = Math.floor((MAX_LEAF_SIZE - 100) / line.length);
      const text = Array.from({ length: count }, (_, i) => `${H1}  n-${String(i).padStart(5, '0')}\n`).join('');
      return { kind: 'sha256sums', signed: enc(text), signature: await signDetached(alice, text), publicKey: alice.publicKey, claims: { source: SRC, platform: 'p' } };
    },
    code: 'too-large',
    message: /^leaf would be \d+ bytes, over the limit of 65535$/,
  },
];

for (const c of badCases) {
  test(`buildLeaf refuses: ${c.title}`, async (t) => {
    const error = await t.throwsAsync(async () => buildLeaf(await c.make()), { instanceOf: LafsError, message: c.message });
    t.is(error?.code, c.code);
  });
}

test('verifyLeaf never throws, and fails with a reason on tampered or malformed leaves', async (t) => {
  const { leaf } = await buildLeaf(await attestation(alice));
  const tampered: Leaf = { ...leaf, signed: enc(statement.replace(H1, '2'.repeat(64))) };
  const otherKey: Leaf = { ...leaf, publicKey: bob.publicKey };
  const cases: [Leaf, RegExp][] = [
    [tampered, /^signature: /],
    [otherKey, /^signature: /],
    [{ ...leaf, signed: enc('hello\n') }, /^line 1: must be exactly "lafs-attestation\/v1"/],
    [{ ...leaf, claims: { source: SRC, platform: 'p' } }, /^claims: not allowed/],
    [{ ...leaf, kind: 'sha256sums' }, /^sums|^line|^claims/],
    [{ ...leaf, kind: 'nope' as Leaf['kind'] }, /^kind: unknown statement kind/],
    [{ ...leaf, signature: new Uint8Array(0) }, /^signature: /],
    [null as unknown as Leaf, /./],
  ];
  for (const [bad, reason] of cases) {
    const result = await verifyLeaf(bad);
    t.false(result.ok);
    if (!result.ok) t.regex(result.reason, reason);
  }
});

test('viewLeaf refuses leaves built in code that break the record rules, with codes', (t) => {
  const base: Leaf = { kind: 'lafs-attestation/v1', signed: enc(statement), signature: new Uint8Array([1]), publicKey: new Uint8Array([1]) };
  t.is(viewLeaf(base).artifacts.length, 2);
  const cases: [Leaf, ErrorCode, RegExp][] = [
    [{ ...base, claims: { source: SRC, platform: 'p' } }, 'bad-leaf', /^claims: not allowed on a lafs-attestation\/v1 leaf$/],
    [{ ...base, kind: 'sha256sums', signed: enc(sums) }, 'bad-leaf', /^claims: required on a sha256sums leaf$/],
    [{ ...base, kind: 'sha256sums', signed: enc(sums), claims: { source: 'git:xyz', platform: 'p' } }, 'bad-request', /^claims\.source: /],
    [{ ...base, signed: enc(statement.slice(0, -1)) }, 'bad-statement', /^line 5: missing final newline$/],
    [{ ...base, kind: 'sha256sums', signed: enc('\n'), claims: { source: SRC, platform: 'p' } }, 'bad-sums', /^line 1: blank line$/],
    [{ ...base, kind: 'x' as Leaf['kind'] }, 'unknown-kind', /^kind: /],
  ];
  for (const [leaf, code, message] of cases) {
    const error = t.throws(() => viewLeaf(leaf), { instanceOf: LafsError, message });
    t.is(error?.code, code);
  }
});

// ---- the real guix.sigs fixture: 35 signatures by 19 builders, RSA, ECDSA and EdDSA keys ----

const guixClaims = (source: string) => ({ source, platformRegex: BITCOIN_PLATFORM_REGEX });

test('guix.sigs: all 35 signed sums files build leaves that verify from their bytes alone, and a changed byte is refused', async (t) => {
  const entries = guixEntries();
  t.is(entries.length, 35);
  const builders = new Map<string, string>();
  for (const e of entries) {
    const label = `${e.builder}/${e.file}`;
    const input = { kind: 'sha256sums', signed: e.sums, signature: e.signatureArmored, publicKey: e.publicKeyArmored, claims: guixClaims(e.source) };
    const { bytes, verified } = await buildLeaf(input);
    t.true(bytes.length <= MAX_LEAF_SIZE, label);
    const checked = await verifyLeaf(decodeLeaf(bytes));
    t.true(checked.ok, `${label}: ${checked.ok ? '' : checked.reason}`);
    if (checked.ok) t.is(checked.value.signature.builder, verified.signature.builder, label);
    const previous = builders.get(e.builder);
    if (previous) t.is(verified.signature.builder, previous, label);
    builders.set(e.builder, verified.signature.builder);
    const byName = new Map(verified.view.artifacts.map((a) => [a.name, a.platform]));
    t.is(byName.get('bitcoin-27.0-x86_64-linux-gnu.tar.gz'), 'x86_64-linux-gnu', label);
    t.is(byName.get('bitcoin-27.0.tar.gz'), null, label);

    const changed = e.sums.slice();
    changed[10] = changed[10] === 0x30 ? 0x31 : 0x30; // one hex digit of the first hash
    const error = await t.throwsAsync(buildLeaf({ ...input, signed: changed }), { instanceOf: LafsError, message: /^signature: / }, label);
    t.is(error?.code, 'bad-signature');
    const decoded = decodeLeaf(bytes);
    const tampered = await verifyLeaf({ ...decoded, signed: changed });
    t.false(tampered.ok, label);
  }
  t.is(new Set(builders.values()).size, 19);
});

test('guix.sigs: laanwj (signing subkey, SHA-512) gives exactly the stored real-leaf vector', async (t) => {
  const dir = join(guixRelease, 'laanwj');
  const sumsBytes = new Uint8Array(readFileSync(join(dir, 'all.SHA256SUMS')));
  const source = `sha256:${new TextDecoder().decode(sumsBytes).match(/^([0-9a-f]{64}) {2}bitcoin-27\.0\.tar\.gz$/m)![1]}`;
  const keyFile = readFileSync(join(guixKeys, 'laanwj.gpg'));
  const { bytes, leaf, verified } = await buildLeaf({
    kind: 'sha256sums',
    signed: sumsBytes,
    signature: readFileSync(join(dir, 'all.SHA256SUMS.asc'), 'utf8'),
    publicKey: readFileSync(join(guixKeys, 'laanwj.gpg'), 'utf8'),
    claims: guixClaims(source),
  });
  // laanwj's well-known primary key, and a key file of 80 KB reduced to what verification needs.
  t.is(verified.signature.builder, '71a3b16735405025d447e8f274810b012346c9a6');
  t.is(await fingerprintOf(leaf.publicKey), verified.signature.builder);
  t.not(verified.signature.signingKeyId, verified.signature.builder.slice(-16));
  t.is(verified.signature.hashAlgorithm, 'sha512');
  t.true(keyFile.length > 60_000 && leaf.publicKey.length < 8_000);
  const vector = new Uint8Array(readFileSync(join(repoRoot, 'test', 'vectors', 'leaf-laanwj-all.bin')));
  t.deepEqual(bytes, vector);
  const checked = await verifyLeaf(decodeLeaf(vector));
  t.true(checked.ok);
});
