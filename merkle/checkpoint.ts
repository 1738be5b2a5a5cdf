/**
 * C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the body of the signed note a log publishes
 * as its tree head. DESIGN.md section 2.
 *
 *   <origin>\n            non-empty; the log's identity (usually a schema-less URL, not required)
 *   <tree size>\n         ASCII decimal, no leading zeros except "0"
 *   <base64 root hash>\n  standard base64 of the 32-byte RFC 6962 root
 *   <extension line>\n    zero or more, each non-empty, opaque
 *
 * Parsing is strict (one spelling per checkpoint) because clients compare checkpoints and
 * monitors store them: a checkpoint that parses must format back to the same bytes.
 */
import type { Hash } from './hash.js';
import { LafsError, type Checked } from './errors.js';
import { openNote, type NoteVerifier } from './note.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';

/** A parsed checkpoint body (c2sp.org/tlog-checkpoint): origin line, tree size, root hash, then optional extension lines. */
export interface Checkpoint { origin: string; size: number; root: Hash; extensions: string[] }

const ROOT_HASH_SIZE = 32;
const CANONICAL_DECIMAL = /^(0|[1-9][0-9]*)$/;
/** Control characters are forbidden in any signed note (c2sp.org/signed-note); newline separates lines. */
const CONTROL = /[\u0000-\u001f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The checkpoint body text, each line newline-terminated; throws LafsError('bad-checkpoint') on a value that has no valid spelling. */
export function formatCheckpoint(c: Checkpoint): string {
  const problem = lineProblem(c.origin);
  if (problem) throw new LafsError('bad-checkpoint', `checkpoint origin ${problem}`);
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new LafsError('bad-checkpoint', `checkpoint size ${c.size} is not a non-negative safe integer`);
  if (c.root.length !== ROOT_HASH_SIZE) throw new LafsError('bad-checkpoint', `checkpoint root hash must be ${ROOT_HASH_SIZE} bytes, got ${c.root.length}`);
  let out = `${c.origin}\n${c.size}\n${encodeBase64(c.root)}\n`;
  c.extensions.forEach((line, i) => {
    const bad = lineProblem(line);
    if (bad) throw new LafsError('bad-checkpoint', `checkpoint extension line ${i + 1} ${bad}`);
    out += line + '\n';
  });
  return out;
}

/** Strict: throws LafsError('bad-checkpoint') naming the line. */
export function parseCheckpoint(body: string): Checkpoint {
  const fail = (line: number, what: string, why: string): never => {
    throw new LafsError('bad-checkpoint', `checkpoint line ${line} (${what}): ${why}`);
  };
  if (typeof body !== 'string') throw new LafsError('bad-checkpoint', `checkpoint is a ${typeof body}, not text`);
  if (!body.endsWith('\n')) throw new LafsError('bad-checkpoint', 'checkpoint does not end with a newline');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) throw new LafsError('bad-checkpoint', `checkpoint has ${lines.length} line(s), needs at least 3 (origin, size, root hash)`);
  lines.forEach((line, i) => {
    const what = i === 0 ? 'origin' : i === 1 ? 'size' : i === 2 ? 'root hash' : 'extension';
    const bad = lineProblem(line);
    if (bad) fail(i + 1, what, bad);
  });
  const [origin, sizeText, rootText] = lines as [string, string, string];

  if (!CANONICAL_DECIMAL.test(sizeText)) fail(2, 'size', `${JSON.stringify(sizeText)} is not a decimal number without leading zeros`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) fail(2, 'size', `${sizeText} is larger than this implementation supports (2^53 - 1)`);

  const root = decodeBase64Strict(rootText);
  if (root === undefined) fail(3, 'root hash', `${JSON.stringify(rootText)} is not canonical standard base64`);
  if (root!.length !== ROOT_HASH_SIZE) fail(3, 'root hash', `decodes to ${root!.length} bytes, expected ${ROOT_HASH_SIZE}`);

  return { origin, size, root: root!, extensions: lines.slice(3) };
}

/**
 * Opens a signed checkpoint note with `verifier`, checks origin (defaults to the verifier's name). Never throws.
 * On success `note` is the whole signed note as text, kept verbatim for storage or a tlog-proof.
 */
export function verifyCheckpoint(note: string | Uint8Array, verifier: NoteVerifier, origin?: string): Checked<{ checkpoint: Checkpoint; note: string }> {
  const opened = openNote(note, [verifier]);
  if (!opened.ok) return { ok: false, reason: `checkpoint signature: ${opened.reason}` };
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(opened.value.text);
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
  const expected = origin ?? verifier.name;
  if (checkpoint.origin !== expected) {
    return { ok: false, reason: `checkpoint origin ${JSON.stringify(checkpoint.origin)} is not the expected ${JSON.stringify(expected)}` };
  }
  // openNote accepted it, so bytes are valid UTF-8 and decode without loss.
  const text = typeof note === 'string' ? note : new TextDecoder('utf-8', { ignoreBOM: true }).decode(note);
  return { ok: true, value: { checkpoint, note: text } };
}

function lineProblem(line: string): string | undefined {
  if (line === '') return 'is empty';
  const bad = CONTROL.exec(line);
  if (bad) return `contains control character U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  if (LONE_SURROGATE.test(line)) return 'is not valid Unicode (lone surrogate)';
  return undefined;
}
