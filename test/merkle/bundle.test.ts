/** C2SP tlog-tiles entry bundles: round trip, and strict rejection of malformed bundles. */
import test from 'ava';
import fc from 'fast-check';
import { LafsError, decodeEntryBundle, encodeEntryBundle } from '../../merkle/index.js';
import { hex } from './reference.js';

const leavesArb = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 40 });

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof LafsError ? err.code : `not a LafsError: ${String(err)}`;
  }
}

test('encode then decode returns the leaves, with and without the expected count', (t) => {
  fc.assert(
    fc.property(leavesArb, (leaves) => {
      const bytes = encodeEntryBundle(leaves);
      const total = leaves.reduce((n, l) => n + 2 + l.length, 0);
      return (
        bytes.length === total &&
        decodeEntryBundle(bytes).map(hex).join() === leaves.map(hex).join() &&
        decodeEntryBundle(bytes, leaves.length).length === leaves.length
      );
    }),
  );
  t.pass();
});

test('the wire format is a 2-byte big-endian length and then the leaf', (t) => {
  const leaf = new Uint8Array(0x1234).fill(0xab);
  const bytes = encodeEntryBundle([new Uint8Array(0), Uint8Array.of(7), leaf]);
  t.is(hex(bytes.subarray(0, 5)), '0000' + '0001' + '07');
  t.is(hex(bytes.subarray(5, 7)), '1234');
  t.is(bytes.length, 2 + 3 + 2 + 0x1234);
  t.deepEqual(decodeEntryBundle(new Uint8Array(0), 0), []);
});

test('every strict truncation of a bundle is rejected as bad-bundle', (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 50 }), { minLength: 1, maxLength: 10 }), fc.nat(), (leaves, cut) => {
      const bytes = encodeEntryBundle(leaves);
      const short = bytes.subarray(0, cut % bytes.length);
      // With the expected count every truncation fails; without it, only cuts inside an entry fail.
      return code(() => decodeEntryBundle(short, leaves.length)) === 'bad-bundle';
    }),
  );
  const bytes = encodeEntryBundle([Uint8Array.of(1, 2, 3), Uint8Array.of(4)]);
  t.regex(String(t.throws(() => decodeEntryBundle(bytes.subarray(0, 1)))?.message), /entry 0 length prefix truncated/);
  t.regex(String(t.throws(() => decodeEntryBundle(bytes.subarray(0, 4)))?.message), /entry 0 declares 3 bytes but only 2 remain/);
  t.regex(String(t.throws(() => decodeEntryBundle(bytes.subarray(0, 6)))?.message), /entry 1 length prefix truncated/);
});

test('trailing bytes, wrong counts and oversized input are rejected', (t) => {
  const bytes = encodeEntryBundle([Uint8Array.of(1), Uint8Array.of(2)]);
  t.is(code(() => decodeEntryBundle(bytes, 1)), 'bad-bundle');
  t.regex(String(t.throws(() => decodeEntryBundle(bytes, 1))?.message), /trailing bytes at offset 3/);
  t.is(code(() => decodeEntryBundle(bytes, 3)), 'bad-bundle');
  t.regex(String(t.throws(() => decodeEntryBundle(bytes, 3))?.message), /2 entries where 3 were expected/);
  t.is(code(() => decodeEntryBundle(new Uint8Array([...bytes, 0]))), 'bad-bundle');
  // A bundle is one entry tile: more than 256 entries cannot be one.
  const many = encodeEntryBundle(Array.from({ length: 257 }, () => new Uint8Array(0)));
  t.is(code(() => decodeEntryBundle(many)), 'bad-bundle');
  t.is(decodeEntryBundle(many.subarray(0, 512)).length, 256);
  t.is(code(() => decodeEntryBundle(bytes, 257)), 'bad-request');
  t.is(code(() => decodeEntryBundle(bytes, -1)), 'bad-request');
  t.is(code(() => decodeEntryBundle('abc' as unknown as Uint8Array)), 'bad-bundle');
});

test('a leaf over 65535 bytes cannot be encoded; exactly 65535 can', (t) => {
  t.is(code(() => encodeEntryBundle([Uint8Array.of(1), new Uint8Array(65536)])), 'too-large');
  t.regex(String(t.throws(() => encodeEntryBundle([Uint8Array.of(1), new Uint8Array(65536)]))?.message), /leaf 1 is 65536 bytes/);
  const max = new Uint8Array(65535).fill(9);
  t.is(hex(decodeEntryBundle(encodeEntryBundle([max]), 1)[0]!), hex(max));
});

test('decoded leaves are copies, not views of the bundle', (t) => {
  const bytes = encodeEntryBundle([Uint8Array.of(1, 2)]);
  const [leaf] = decodeEntryBundle(bytes);
  bytes[2] = 99;
  t.is(hex(leaf!), '0102');
});
