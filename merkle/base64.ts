/**
 * Standard base64 (RFC 4648 section 4, with padding), written here because merkle/ runs in
 * browsers (no Buffer) and because the formats we parse (C2SP signed notes, checkpoints,
 * tlog-proof) need a *strict* decoder: exactly one encoding per byte string, so a note or proof
 * cannot be altered without changing its bytes. Node's decoder silently skips junk characters.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** char code -> 6-bit value, or -1. */
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Standard base64 with padding (RFC 4648 section 4). */
export function encodeBase64(bytes: Uint8Array): string {
  let out = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + ALPHABET[v & 63]!;
  }
  if (n - i === 1) {
    const v = bytes[i]! << 16;
    out += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + '==';
  } else if (n - i === 2) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + '=';
  }
  return out;
}

/**
 * Decodes canonical padded standard base64, or returns undefined: wrong length, characters
 * outside the alphabet, misplaced padding, or non-zero unused bits (which would give a second
 * spelling of the same bytes). The empty string decodes to zero bytes.
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  let padding = 0;
  if (text.endsWith('==')) padding = 2;
  else if (text.endsWith('=')) padding = 1;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const c0 = sextet(text, i);
    const c1 = sextet(text, i + 1);
    const c2 = last && padding === 2 ? 0 : sextet(text, i + 2);
    const c3 = last && padding >= 1 ? 0 : sextet(text, i + 3);
    if (c0 < 0 || c1 < 0 || c2 < 0 || c3 < 0) return undefined;
    const v = (c0 << 18) | (c1 << 12) | (c2 << 6) | c3;
    if (last && padding === 2) {
      if ((c1 & 15) !== 0) return undefined;
      out[o++] = v >> 16;
    } else if (last && padding === 1) {
      if ((c2 & 3) !== 0) return undefined;
      out[o++] = v >> 16;
      out[o++] = (v >> 8) & 255;
    } else {
      out[o++] = v >> 16;
      out[o++] = (v >> 8) & 255;
      out[o++] = v & 255;
    }
  }
  return out;
}

function sextet(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c < 128 ? DECODE[c]! : -1;
}
