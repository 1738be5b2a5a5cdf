/** Leaf encoding v1: the documented test vectors, determinism, canonical decoding, and every rejection. */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LafsError, type ErrorCode } from '../../merkle/errors.js';
import { MAX_LEAF_SIZE, decodeLeaf, encodeLeaf, type Leaf } from '../../attestation/leaf.js';
import type { SumsClaims } from '../../attestation/sums.js';
import { repoRoot } from '../helpers/tmp.js';

interface VectorFile {
  valid: { description: string; leaf: { kind: Leaf['kind']; signed: string; signatureHex: string; publicKeyHex: string; claims?: SumsClaims }; hex: string }[];
  invalid: { description: string; hex: string; error: string }[];
}
const vectors = JSON.parse(readFileSync(join(repoRoot, 'test', 'vectors', 'leaf-v1.json'), 'utf8')) as VectorFile;
const fromHex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function leafOf(v: VectorFile['valid'][number]['leaf']): Leaf {
  return {
    kind: v.kind,
    signed: new TextEncoder().encode(v.signed),
    signature: fromHex(v.signatureHex),
    publicKey: fromHex(v.publicKeyHex),
    ...(v.claims ? { claims: v.claims } : {}),
  };
}

test('the vector file has valid and invalid cases', (t) => {
  t.is(vectors.valid.length, 3);
  t.true(vectors.invalid.length >= 15);
});

for (const v of vectors.valid) {
  test(`vector encodes and decodes: ${v.description}`, (t) => {
    t.is(toHex(encodeLeaf(leafOf(v.leaf))), v.hex);
    t.deepEqual(decodeLeaf(fromHex(v.hex)), leafOf(v.leaf));
  });
}

for (const v of vectors.invalid) {
  test(`vector rejected: ${v.description}`, (t) => {
    const error = t.throws(() => decodeLeaf(fromHex(v.hex)), { instanceOf: LafsError, message: new RegExp(v.error) });
    t.is(error?.code, 'bad-leaf');
  });
}

test('the documented vector in docs/formats.md is the one the test checks', (t) => {
  const doc = readFileSync(join(repoRoot, 'docs', 'formats.md'), 'utf8').replace(/\s+/g, '');
  for (const v of vectors.valid) t.true(doc.includes(v.hex), v.description);
});

test('decoded fields are copies, not views of the input buffer', (t) => {
  const bytes = fromHex(vectors.valid[0]!.hex);
  const leaf = decodeLeaf(bytes);
  bytes.fill(0);
  t.deepEqual(leaf, leafOf(vectors.valid[0]!.leaf));
});

test('claims are normalized: the same claims in any key order give the same bytes', (t) => {
  const base = leafOf(vectors.valid[2]!.leaf);
  const claims = base.claims!;
  const reordered = { platformRegex: claims.platformRegex!, source: claims.source };
  t.deepEqual(encodeLeaf({ ...base, claims: reordered }), encodeLeaf(base));
});

const sig = fromHex('534947');
const key = fromHex('4b4559');
const signed = new TextEncoder().encode('x');
const rejectedOnEncode: [string, Leaf, ErrorCode, RegExp][] = [
  ['unknown kind', { kind: 'in-toto' as Leaf['kind'], signed, signature: sig, publicKey: key }, 'bad-leaf', /^kind: unknown statement kind "in-toto"$/],
  ['prototype kind', { kind: 'toString' as Leaf['kind'], signed, signature: sig, publicKey: key }, 'bad-leaf', /^kind: unknown statement kind/],
  ['claims on an attestation', { kind: 'lafs-attestation/v1', signed, signature: sig, publicKey: key, claims: { source: `git:${'a'.repeat(40)}`, platform: 'p' } }, 'bad-leaf', /^claims: not allowed on a lafs-attestation\/v1 leaf$/],
  ['sums without claims', { kind: 'sha256sums', signed, signature: sig, publicKey: key }, 'bad-leaf', /^claims: required on a sha256sums leaf$/],
  ['sums with bad claims', { kind: 'sha256sums', signed, signature: sig, publicKey: key, claims: { source: 'x', platform: 'p' } }, 'bad-leaf', /^claims\.source: /],
  ['empty signed', { kind: 'lafs-attestation/v1', signed: new Uint8Array(0), signature: sig, publicKey: key }, 'bad-leaf', /^signed: must not be empty$/],
  ['key not bytes', { kind: 'lafs-attestation/v1', signed, signature: sig, publicKey: 'KEY' as unknown as Uint8Array }, 'bad-leaf', /^publicKey: must be bytes$/],
  ['one byte over 64 KiB', { kind: 'lafs-attestation/v1', signed: new Uint8Array(MAX_LEAF_SIZE - 2 - 2 - 5 - 5 + 1), signature: sig, publicKey: key }, 'too-large', /^leaf would be 65536 bytes, over the limit of 65535$/],
];
for (const [title, leaf, code, message] of rejectedOnEncode) {
  test(`encodeLeaf rejects: ${title}`, (t) => {
    const error = t.throws(() => encodeLeaf(leaf), { instanceOf: LafsError, message });
    t.is(error?.code, code);
  });
}

test('a leaf of exactly 65535 bytes encodes and decodes', (t) => {
  const leaf: Leaf = { kind: 'lafs-attestation/v1', signed: new Uint8Array(MAX_LEAF_SIZE - 2 - 2 - 5 - 5).fill(7), signature: sig, publicKey: key };
  const bytes = encodeLeaf(leaf);
  t.is(bytes.length, MAX_LEAF_SIZE);
  t.deepEqual(decodeLeaf(bytes), leaf);
  t.throws(() => decodeLeaf(new Uint8Array([...bytes, 0])), { instanceOf: LafsError, message: /over the limit of 65535/ });
});

const bytes = (max: number) => fc.uint8Array({ minLength: 1, maxLength: max });
const claims = fc.oneof(
  fc.record({ source: fc.stringMatching(/^sha256:[0-9a-f]{64}$/), platform: fc.stringMatching(/^[A-Za-z0-9._+-]{1,64}$/) }),
  fc.record({ source: fc.stringMatching(/^git:[0-9a-f]{40}$/), platformRegex: fc.constantFrom('(?<platform>.+)', '^x-(?<platform>[a-z]+)$') }),
);
const leaves: fc.Arbitrary<Leaf> = fc.oneof(
  fc.record({ kind: fc.constant('lafs-attestation/v1' as const), signed: bytes(300), signature: bytes(100), publicKey: bytes(100) }),
  fc.record({ kind: fc.constant('sha256sums' as const), signed: bytes(300), signature: bytes(100), publicKey: bytes(100), claims }),
);

test('property: decodeLeaf(encodeLeaf(l)) is l, and encoding is deterministic', (t) => {
  fc.assert(
    fc.property(leaves, (leaf) => {
      const encoded = encodeLeaf(leaf);
      t.deepEqual(decodeLeaf(encoded), leaf);
      t.deepEqual(encodeLeaf(decodeLeaf(encoded)), encoded);
    }),
    { numRuns: 300 },
  );
});

test('property: any byte change or cut either decodes to a leaf that re-encodes to the same bytes, or is bad-leaf', (t) => {
  fc.assert(
    fc.property(leaves, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (leaf, position, byte, cut) => {
      const encoded = encodeLeaf(leaf);
      const changed = cut ? encoded.slice(0, position % encoded.length) : encoded.slice();
      if (!cut) changed[position % changed.length] = byte;
      try {
        t.deepEqual(encodeLeaf(decodeLeaf(changed)), changed);
      } catch (e) {
        t.true(e instanceof LafsError && e.code === 'bad-leaf', String(e));
      }
    }),
    { numRuns: 500 },
  );
});
