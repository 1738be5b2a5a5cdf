/**
 * The small grammar shared by statements, sums files and claims (DESIGN.md section 3; docs/formats.md):
 * source digests, platform labels, artifact names, and splitting signed bytes into numbered UTF-8 lines.
 * Each rule is a function returning null when the value is fine, or a sentence saying what is wrong,
 * so every parser can prefix it with the line or field at fault.
 */

export const SOURCE_DIGEST = /^(?:sha256:[0-9a-f]{64}|git:(?:[0-9a-f]{40}|[0-9a-f]{64}))$/;
export const PLATFORM = /^[A-Za-z0-9._+-]{1,64}$/;
export const SHA256_HEX = /^[0-9a-f]{64}$/;
export const MAX_NAME_BYTES = 255;
/** Signed bytes (statement or sums file) can never exceed the leaf that carries them (leaf.ts MAX_LEAF_SIZE). */
export const MAX_SIGNED_BYTES = 65535;

const utf8 = new TextEncoder();
// fatal: invalid UTF-8 is an error, not U+FFFD; ignoreBOM: a BOM stays in the text, so it is rejected
// by the line grammar instead of silently vanishing from what the signature covers.
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Shows a value from untrusted input inside an error message: quoted, escaped, and cut short. */
export function quote(value: string, max = 80): string {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(shown);
}

export function sourceDigestProblem(value: string): string | null {
  if (SOURCE_DIGEST.test(value)) return null;
  return `source must be sha256:<64 lowercase hex> or git:<40 or 64 lowercase hex>, got ${quote(value)}`;
}

export function platformProblem(value: string): string | null {
  if (PLATFORM.test(value)) return null;
  return `platform must be 1-64 characters from A-Za-z0-9._+-, got ${quote(value)}`;
}

// Unicode category Cc: C0 controls (NUL and TAB included), DEL, and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
// With the u flag a surrogate pair is one code point, so only unpaired halves match.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** A file's base name: non-empty, at most 255 UTF-8 bytes, no '/', no control characters, not '.' or '..', no leading or trailing space. */
export function artifactNameProblem(name: string): string | null {
  if (name.length === 0) return 'artifact name is empty';
  // A lone UTF-16 surrogate has no UTF-8 form; it could never round-trip through the signed bytes.
  if (LONE_SURROGATE.test(name)) return `artifact name is not well-formed Unicode: ${quote(name)}`;
  if (utf8.encode(name).length > MAX_NAME_BYTES) return `artifact name is over ${MAX_NAME_BYTES} bytes: ${quote(name)}`;
  if (name.includes('/')) return `artifact name must be a base name without '/': ${quote(name)}`;
  if (CONTROL.test(name)) return `artifact name contains a control character: ${quote(name)}`;
  if (name === '.' || name === '..') return `artifact name must not be ${quote(name)}`;
  if (name.startsWith(' ') || name.endsWith(' ')) return `artifact name must not start or end with a space: ${quote(name)}`;
  return null;
}

/** Orders strings by their UTF-8 bytes (= Unicode code point order, unlike JavaScript's UTF-16 `<`). */
export function compareUtf8(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    if (x[i] !== y[i]) return x[i]! - y[i]!;
  }
  return x.length - y.length;
}

export interface NumberedLine {
  number: number; // 1-based
  text: string;
}

export interface SplitLines {
  lines: NumberedLine[];
  /** True when the bytes end with LF (the last line is complete). */
  finalNewline: boolean;
}

/**
 * Splits bytes at LF into numbered lines, decoding each as strict UTF-8. `onBadUtf8(lineNumber)` is
 * called (and must throw) for a line that is not valid UTF-8, so the caller names its own error code.
 * A trailing LF does not start an extra empty line.
 */
export function splitUtf8Lines(bytes: Uint8Array, onBadUtf8: (lineNumber: number) => never): SplitLines {
  const finalNewline = bytes.length > 0 && bytes[bytes.length - 1] === 0x0a;
  let text: string;
  try {
    // Fast path: one decode for the whole input (LF never occurs inside a multi-byte sequence).
    text = strictDecoder.decode(bytes);
  } catch {
    return onBadUtf8(firstBadLine(bytes));
  }
  const parts = text.split('\n');
  if (finalNewline || text.length === 0) parts.pop();
  return { lines: parts.map((line, i) => ({ number: i + 1, text: line })), finalNewline };
}

/** The 1-based number of the first LF-terminated line that is not valid UTF-8 (only called when one is). */
function firstBadLine(bytes: Uint8Array): number {
  let start = 0;
  for (let number = 1; start < bytes.length; number++) {
    let end = bytes.indexOf(0x0a, start);
    if (end === -1) end = bytes.length;
    try {
      strictDecoder.decode(bytes.subarray(start, end));
    } catch {
      return number;
    }
    start = end + 1;
  }
  return 1;
}
