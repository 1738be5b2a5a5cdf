/**
 * C2SP tlog-tiles entry bundles: the leaves of one entry tile, each written as a 2-byte
 * big-endian length followed by the leaf bytes, with nothing between or after them.
 * Decoding is strict because bundles come from untrusted mirrors: a truncated length or body,
 * trailing bytes, or a count other than the tile width the caller expects are all rejected.
 */
import { LafsError } from './errors.js';
import { TILE_WIDTH } from './tiles.js';

/** Largest leaf a bundle can carry: the length prefix is 16 bits. */
export const MAX_BUNDLE_LEAF = 0xffff;

/** Concatenation of (2-byte big-endian length || leaf); throws LafsError('too-large') for a leaf over 65535 bytes. */
export function encodeEntryBundle(leaves: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (let i = 0; i < leaves.length; i++) {
    const length = leaves[i]!.length;
    if (length > MAX_BUNDLE_LEAF) throw new LafsError('too-large', `entry bundle: leaf ${i} is ${length} bytes, over the ${MAX_BUNDLE_LEAF}-byte limit`);
    total += 2 + length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const leaf of leaves) {
    out[at] = leaf.length >>> 8;
    out[at + 1] = leaf.length & 0xff;
    out.set(leaf, at + 2);
    at += 2 + leaf.length;
  }
  return out;
}

/** Throws LafsError('bad-bundle') on truncation, trailing bytes or (when given) a count other than `expected`. */
export function decodeEntryBundle(bytes: Uint8Array, expected?: number): Uint8Array[] {
  if (!(bytes instanceof Uint8Array)) throw new LafsError('bad-bundle', 'entry bundle: not a byte array');
  if (expected !== undefined && (!Number.isInteger(expected) || expected < 0 || expected > TILE_WIDTH)) {
    throw new LafsError('bad-request', `entry bundle: expected count ${String(expected)} is not an integer in 0..${TILE_WIDTH}`);
  }
  // Without an expected count, a bundle still holds one entry tile: at most TILE_WIDTH entries.
  const limit = expected ?? TILE_WIDTH;
  const leaves: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const index = leaves.length;
    if (index >= limit) {
      throw new LafsError('bad-bundle', `entry bundle: trailing bytes at offset ${at} after ${limit} entries (the most this bundle may hold)`);
    }
    if (at + 2 > bytes.length) throw new LafsError('bad-bundle', `entry bundle: entry ${index} length prefix truncated at offset ${at}`);
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    const start = at + 2;
    if (start + length > bytes.length) {
      throw new LafsError('bad-bundle', `entry bundle: entry ${index} declares ${length} bytes but only ${bytes.length - start} remain`);
    }
    // A copy, so a caller keeping one leaf does not pin the whole bundle buffer.
    leaves.push(bytes.slice(start, start + length));
    at = start + length;
  }
  if (expected !== undefined && leaves.length !== expected) {
    throw new LafsError('bad-bundle', `entry bundle: ${leaves.length} entries where ${expected} were expected`);
  }
  return leaves;
}
