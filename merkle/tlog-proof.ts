/**
 * C2SP tlog-proof@v1 (c2sp.org/tlog-proof): an entry's index, its RFC 6962 inclusion proof and
 * the log's signed checkpoint in one text that verifies offline. DESIGN.md section 2.
 *
 *   c2sp.org/tlog-proof@v1\n
 *   extra <base64>\n          optional, unauthenticated application data
 *   index <decimal>\n         no leading zeros except "0"
 *   <base64 hash>\n           zero or more: the audit path, leaf's sibling first
 *   \n
 *   <signed checkpoint note, verbatim>
 *
 * format/parse handle the framing only; verifyTlogProof does the whole offline check (checkpoint
 * signature and origin, then the inclusion proof against the checkpoint's root).
 */
import type { Hash, Sha256 } from './hash.js';
import { LafsError, type Checked } from './errors.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { MAX_NOTE_BYTES, type NoteVerifier } from './note.js';
import { verifyCheckpoint, type Checkpoint } from './checkpoint.js';
import { verifyInclusion } from './proof.js';

export interface TlogProof { index: number; proof: Hash[]; checkpoint: string /* signed note text */; extra?: Uint8Array }

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
/** An audit path in a tree of up to 2^64 leaves has at most 64 hashes. */
export const MAX_TLOG_PROOF_HASHES = 64;
/** The checkpoint is bounded by the note limit; extra data gets as much again. */
export const MAX_TLOG_PROOF_CHARS = 2 * MAX_NOTE_BYTES;

const HASH_SIZE = 32;
const CANONICAL_DECIMAL = /^(0|[1-9][0-9]*)$/;

/** Empty `extra` is written as no extra line (the spec has no spelling for it). Throws LafsError('bad-proof'). */
export function formatTlogProof(p: TlogProof): string {
  if (!Number.isSafeInteger(p.index) || p.index < 0) throw new LafsError('bad-proof', `tlog-proof index ${p.index} is not a non-negative safe integer`);
  if (p.proof.length > MAX_TLOG_PROOF_HASHES) throw new LafsError('bad-proof', `tlog-proof has ${p.proof.length} hashes, more than ${MAX_TLOG_PROOF_HASHES}`);
  if (p.checkpoint === '' || !p.checkpoint.endsWith('\n')) throw new LafsError('bad-proof', 'tlog-proof checkpoint must be a signed note ending in a newline');
  let out = TLOG_PROOF_HEADER + '\n';
  if (p.extra !== undefined && p.extra.length > 0) out += `extra ${encodeBase64(p.extra)}\n`;
  out += `index ${p.index}\n`;
  p.proof.forEach((hash, i) => {
    if (hash.length !== HASH_SIZE) throw new LafsError('bad-proof', `tlog-proof hash ${i + 1} is ${hash.length} bytes, expected ${HASH_SIZE}`);
    out += encodeBase64(hash) + '\n';
  });
  return out + '\n' + p.checkpoint;
}

/** Throws LafsError('bad-proof') naming the line. */
export function parseTlogProof(text: string): TlogProof {
  const fail = (line: number, why: string): never => {
    throw new LafsError('bad-proof', `tlog-proof line ${line}: ${why}`);
  };
  if (text.length > MAX_TLOG_PROOF_CHARS) throw new LafsError('bad-proof', `tlog-proof is longer than ${MAX_TLOG_PROOF_CHARS} characters`);

  let pos = 0;
  let lineNo = 0;
  /** Next newline-terminated line, or undefined at a missing newline. */
  const nextLine = (): string | undefined => {
    const end = text.indexOf('\n', pos);
    if (end < 0) return undefined;
    const line = text.slice(pos, end);
    pos = end + 1;
    lineNo++;
    return line;
  };
  const requireLine = (what: string): string => nextLine() ?? fail(lineNo + 1, `missing ${what} (or it does not end with a newline)`);

  const header = requireLine(`the header ${TLOG_PROOF_HEADER}`);
  if (header !== TLOG_PROOF_HEADER) fail(lineNo, `expected ${JSON.stringify(TLOG_PROOF_HEADER)}, got ${JSON.stringify(header.slice(0, 40))}`);

  let line = requireLine('the index line');
  let extra: Uint8Array | undefined;
  if (line.startsWith('extra ')) {
    const encoded = line.slice('extra '.length);
    if (encoded === '') fail(lineNo, 'extra line has no data');
    extra = decodeBase64Strict(encoded) ?? fail(lineNo, 'extra data is not canonical standard base64');
    line = requireLine('the index line');
  }

  if (!line.startsWith('index ')) fail(lineNo, `expected "index <n>", got ${JSON.stringify(line.slice(0, 40))}`);
  const indexText = line.slice('index '.length);
  if (!CANONICAL_DECIMAL.test(indexText)) fail(lineNo, `index ${JSON.stringify(indexText.slice(0, 40))} is not a decimal number without leading zeros`);
  const index = Number(indexText);
  if (!Number.isSafeInteger(index)) fail(lineNo, `index ${indexText} is larger than this implementation supports (2^53 - 1)`);

  const proof: Hash[] = [];
  for (;;) {
    line = requireLine('the blank line before the checkpoint');
    if (line === '') break;
    if (proof.length === MAX_TLOG_PROOF_HASHES) fail(lineNo, `more than ${MAX_TLOG_PROOF_HASHES} proof hashes`);
    const hash = decodeBase64Strict(line) ?? fail(lineNo, 'proof hash is not canonical standard base64');
    if (hash.length !== HASH_SIZE) fail(lineNo, `proof hash decodes to ${hash.length} bytes, expected ${HASH_SIZE}`);
    proof.push(hash);
  }

  const checkpoint = text.slice(pos);
  if (checkpoint === '') fail(lineNo + 1, 'missing the signed checkpoint');
  if (!checkpoint.endsWith('\n')) throw new LafsError('bad-proof', 'tlog-proof checkpoint does not end with a newline');
  return extra === undefined ? { index, proof, checkpoint } : { index, proof, checkpoint, extra };
}

/**
 * Offline verification of a tlog-proof for the leaf whose RFC 9162 leaf hash is `leafHash`:
 * the checkpoint must be signed by `verifier` with the expected origin (default: the verifier's
 * name) and the inclusion proof must lead from the leaf to its root. Never throws.
 */
export function verifyTlogProof(
  text: string,
  leafHash: Hash,
  verifier: NoteVerifier,
  origin?: string,
  sha256?: Sha256,
): Checked<{ proof: TlogProof; checkpoint: Checkpoint }> {
  let proof: TlogProof;
  try {
    proof = parseTlogProof(text);
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
  const checked = verifyCheckpoint(proof.checkpoint, verifier, origin);
  if (!checked.ok) return { ok: false, reason: `tlog-proof ${checked.reason}` };
  const { checkpoint } = checked.value;
  const inclusion = verifyInclusion(leafHash, proof.index, checkpoint.size, proof.proof, checkpoint.root, sha256);
  if (!inclusion.ok) return { ok: false, reason: `tlog-proof inclusion proof for index ${proof.index} in tree size ${checkpoint.size}: ${inclusion.reason}` };
  return { ok: true, value: { proof, checkpoint } };
}
