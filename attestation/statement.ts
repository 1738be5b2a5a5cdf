/**
 * The `lafs-attestation/v1` statement (DESIGN.md section 3; docs/formats.md): the text a builder signs,
 * one build per statement. The grammar is strict so that exactly one byte string spells a given
 * statement: parseStatement accepts only canonical text, and serializeStatement(parseStatement(x))
 * is x. Every rejection names the line and the rule broken.
 */
import { LafsError } from '../merkle/errors.js';
import {
  MAX_SIGNED_BYTES,
  SHA256_HEX,
  artifactNameProblem,
  compareUtf8,
  platformProblem,
  quote,
  sourceDigestProblem,
  splitUtf8Lines,
} from './grammar.js';

export const STATEMENT_KIND = 'lafs-attestation/v1';
export interface Artifact { name: string; sha256: string /* 64 lowercase hex */ }
export interface Statement { source: string; platform: string; artifacts: Artifact[] }

const ARTIFACT_LINE = /^artifact sha256:([0-9a-f]{64}) (.*)$/s;
const utf8 = new TextEncoder();

function bad(message: string): never {
  throw new LafsError('bad-statement', message);
}

/** Throws LafsError('bad-statement') with a message "line N: ..." naming the rule broken. */
export function parseStatement(bytes: Uint8Array): Statement {
  if (!(bytes instanceof Uint8Array)) bad('statement must be bytes');
  if (bytes.length === 0) bad('statement is empty');
  if (bytes.length > MAX_SIGNED_BYTES) bad(`statement is ${bytes.length} bytes, over the limit of ${MAX_SIGNED_BYTES}`);
  const { lines, finalNewline } = splitUtf8Lines(bytes, (n) => bad(`line ${n}: not valid UTF-8`));

  // Layout rules first, for every line, so the message points at the first broken line.
  for (const { number, text } of lines) {
    if (text.includes('\r')) bad(`line ${number}: carriage return (CR) not allowed, lines end with LF only`);
    if (text.length === 0) bad(`line ${number}: empty line`);
    if (text.endsWith(' ') || text.endsWith('\t')) bad(`line ${number}: trailing whitespace`);
  }
  if (!finalNewline) bad(`line ${lines.length}: missing final newline`);

  const kind = lines[0]!.text;
  if (kind !== STATEMENT_KIND) bad(`line 1: must be exactly ${quote(STATEMENT_KIND)}, got ${quote(kind)}`);

  const sourceLine = lines[1];
  if (!sourceLine) bad('line 2: missing "source <digest>" line');
  if (!sourceLine.text.startsWith('source ')) bad(`line 2: must be "source <digest>", got ${quote(sourceLine.text)}`);
  const source = sourceLine.text.slice('source '.length);
  const sourceError = sourceDigestProblem(source);
  if (sourceError) bad(`line 2: ${sourceError}`);

  const platformLine = lines[2];
  if (!platformLine) bad('line 3: missing "platform <platform>" line');
  if (!platformLine.text.startsWith('platform ')) bad(`line 3: must be "platform <platform>", got ${quote(platformLine.text)}`);
  const platform = platformLine.text.slice('platform '.length);
  const platformError = platformProblem(platform);
  if (platformError) bad(`line 3: ${platformError}`);

  if (lines.length < 4) bad('line 4: at least one "artifact sha256:<hex> <name>" line is required');
  const artifacts: Artifact[] = [];
  for (const { number, text } of lines.slice(3)) {
    const m = ARTIFACT_LINE.exec(text);
    if (!m) bad(`line ${number}: must be "artifact sha256:<64 lowercase hex> <name>", got ${quote(text)}`);
    const sha256 = m[1]!;
    const name = m[2]!;
    const nameError = artifactNameProblem(name);
    if (nameError) bad(`line ${number}: ${nameError}`);
    const previous = artifacts[artifacts.length - 1];
    if (previous) {
      const order = compareUtf8(previous.name, name);
      if (order === 0) bad(`line ${number}: artifact names must be unique: ${quote(name)} repeats line ${number - 1}`);
      if (order > 0) bad(`line ${number}: artifact names must be sorted by UTF-8 bytes: ${quote(name)} after ${quote(previous.name)}`);
    }
    artifacts.push({ name, sha256 });
  }
  return { source, platform, artifacts };
}

/**
 * Canonical bytes of a statement. Artifacts are written sorted by name (a copy is sorted; the
 * argument is not modified), so any order of the same artifacts gives the same bytes.
 * serializeStatement(parseStatement(x)) equals x for every valid x. Throws LafsError('bad-statement')
 * naming the field at fault.
 */
export function serializeStatement(s: Statement): Uint8Array {
  if (typeof s !== 'object' || s === null) bad('statement must be an object');
  if (typeof s.source !== 'string') bad('source: must be a string');
  const sourceError = sourceDigestProblem(s.source);
  if (sourceError) bad(`source: ${sourceError}`);
  if (typeof s.platform !== 'string') bad('platform: must be a string');
  const platformError = platformProblem(s.platform);
  if (platformError) bad(`platform: ${platformError}`);
  if (!Array.isArray(s.artifacts) || s.artifacts.length === 0) bad('artifacts: at least one artifact is required');
  s.artifacts.forEach((a, i) => {
    if (typeof a !== 'object' || a === null || typeof a.name !== 'string' || typeof a.sha256 !== 'string') {
      bad(`artifacts[${i}]: must be { name: string, sha256: string }`);
    }
    if (!SHA256_HEX.test(a.sha256)) bad(`artifacts[${i}].sha256: must be 64 lowercase hex, got ${quote(a.sha256)}`);
    const nameError = artifactNameProblem(a.name);
    if (nameError) bad(`artifacts[${i}].name: ${nameError}`);
  });
  const sorted = [...s.artifacts].sort((a, b) => compareUtf8(a.name, b.name));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.name === sorted[i - 1]!.name) bad(`artifacts: name ${quote(sorted[i]!.name)} appears twice`);
  }
  let text = `${STATEMENT_KIND}\nsource ${s.source}\nplatform ${s.platform}\n`;
  for (const a of sorted) text += `artifact sha256:${a.sha256} ${a.name}\n`;
  const bytes = utf8.encode(text);
  if (bytes.length > MAX_SIGNED_BYTES) bad(`statement is ${bytes.length} bytes, over the limit of ${MAX_SIGNED_BYTES}`);
  return bytes;
}
