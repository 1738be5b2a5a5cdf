/** node:crypto primitives: SHA-256 against @noble/hashes and FIPS vectors, Ed25519 against RFC 8032 vectors. */
import test from 'ava';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { nodeEd25519, nodeSha256 } from '../../attestation/node-crypto.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

test('nodeSha256 matches the FIPS 180-2 vectors', (t) => {
  t.is(hex(nodeSha256(new Uint8Array())), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  t.is(hex(nodeSha256(new TextEncoder().encode('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('nodeSha256 agrees with @noble/hashes, also on views into larger buffers', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(16), (bytes, offset) => {
      const backing = new Uint8Array(offset + bytes.length + 7);
      backing.set(bytes, offset);
      const view = backing.subarray(offset, offset + bytes.length);
      return hex(nodeSha256(view)) === hex(sha256(bytes)) && nodeSha256(view).length === 32;
    }),
  );
  t.pass();
});

// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72).
const rfc8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
];

for (const [i, v] of rfc8032.entries()) {
  test(`nodeEd25519 reproduces RFC 8032 test ${i + 1}`, (t) => {
    t.is(hex(nodeEd25519.publicKey(unhex(v.seed))), v.publicKey);
    t.is(hex(nodeEd25519.sign(unhex(v.message), unhex(v.seed))), v.signature);
    t.true(nodeEd25519.verify(unhex(v.signature), unhex(v.message), unhex(v.publicKey)));
  });
}

test('nodeEd25519.verify rejects wrong messages, flipped bits and wrong lengths without throwing', (t) => {
  const v = rfc8032[1]!;
  const sig = unhex(v.signature);
  const pub = unhex(v.publicKey);
  const msg = unhex(v.message);
  t.false(nodeEd25519.verify(sig, unhex('73'), pub));
  for (const bit of [0, 7, 255, 256, 511]) {
    const flipped = sig.slice();
    flipped[bit >> 3]! ^= 1 << (bit & 7);
    t.false(nodeEd25519.verify(flipped, msg, pub), `bit ${bit}`);
  }
  t.false(nodeEd25519.verify(sig.subarray(0, 63), msg, pub));
  t.false(nodeEd25519.verify(new Uint8Array([...sig, 0]), msg, pub));
  t.false(nodeEd25519.verify(sig, msg, pub.subarray(0, 31)));
  t.false(nodeEd25519.verify(new Uint8Array(), msg, new Uint8Array()));
  // Another key's signature does not verify.
  t.false(nodeEd25519.verify(unhex(rfc8032[0]!.signature), new Uint8Array(), pub));
});

test('nodeEd25519.verify returns false (never throws) for 32-byte strings that are not public keys', (t) => {
  const sig = unhex(rfc8032[0]!.signature);
  // About half of all y coordinates are not on the curve; 0xff..ff is not even reduced mod p.
  const candidates = [new Uint8Array(32).fill(0xff), ...Array.from({ length: 38 }, (_, y) => new Uint8Array(32).fill(0).map((_, i) => (i === 0 ? y + 2 : 0)))];
  for (const candidate of candidates) {
    let result: boolean | undefined;
    t.notThrows(() => {
      result = nodeEd25519.verify(sig, new Uint8Array(), candidate);
    });
    t.false(result);
  }
});

test('nodeEd25519 sign/verify round trips for many keys (more than the key cache holds)', (t) => {
  const message = new TextEncoder().encode('checkpoint\n');
  const keys = Array.from({ length: 300 }, () => randomBytes(32));
  const signatures = keys.map((seed) => ({ seed, pub: nodeEd25519.publicKey(seed), sig: nodeEd25519.sign(message, seed) }));
  // Second pass re-uses evicted and cached keys alike.
  for (const { seed, pub, sig } of signatures) {
    t.is(sig.length, 64);
    t.true(nodeEd25519.verify(sig, message, pub));
    t.deepEqual(nodeEd25519.sign(message, seed), sig); // Ed25519 is deterministic
  }
  t.false(nodeEd25519.verify(signatures[0]!.sig, message, signatures[1]!.pub));
});

test('nodeEd25519 rejects seeds that are not 32 bytes', (t) => {
  t.throws(() => nodeEd25519.publicKey(new Uint8Array(31)), { instanceOf: RangeError });
  t.throws(() => nodeEd25519.sign(new Uint8Array(1), new Uint8Array(33)), { instanceOf: RangeError });
});
