/**
 * The `sha256sums` statement kind (DESIGN.md section 3; docs/formats.md): a checksum file that a
 * builder already signed, taken verbatim so the original signature stays valid, plus the
 * submitter's unsigned claims (source, and a platform label or a regex deriving it from each name).
 *
 * Parsing follows GNU coreutils `sha256sum` output (`<hex>  <name>`, or `<hex> *<name>` for binary
 * mode) but is stricter where leniency would make the record ambiguous; the choices are listed in
 * docs/formats.md. Real files list one name twice with two hashes: both are kept and the name is
 * reported in `duplicates`, never an error.
 */
import { LafsError } from '../merkle/errors.js';
import {
  MAX_SIGNED_BYTES,
  artifactNameProblem,
  platformProblem,
  quote,
  sourceDigestProblem,
  splitUtf8Lines,
} from './grammar.js';
import { VIEW_REGEX_BUDGET_MS, matchPlatforms, platformRegexProblem } from './platform-regex.js';

export { SUBMIT_REGEX_BUDGET_MS, VIEW_REGEX_BUDGET_MS, MAX_PLATFORM_REGEX_LENGTH } from './platform-regex.js';

export const SUMS_KIND = 'sha256sums';
export interface SumsLine { line: number; name: string; sha256: string; binary: boolean }
/** `duplicates` lists names that appear twice with different hashes (kept, flagged). */
export interface ParsedSums { lines: SumsLine[]; duplicates: string[] }
/** Unsigned submitter claims recorded next to the signed bytes. Exactly one of platform / platformRegex. */
export interface SumsClaims { source: string; platform?: string; platformRegex?: string }

// Hex in either case (coreutils accepts both), one space, then ' ' (text mode) or '*' (binary mode), then the name.
const SUMS_LINE = /^([0-9a-fA-F]{64}) ([ *])(.*)$/s;

function bad(message: string): never {
  throw new LafsError('bad-sums', message);
}

/** Throws LafsError('bad-sums') naming the line. */
export function parseSums(bytes: Uint8Array): ParsedSums {
  if (!(bytes instanceof Uint8Array)) bad('sums file must be bytes');
  if (bytes.length === 0) bad('sums file is empty');
  if (bytes.length > MAX_SIGNED_BYTES) bad(`sums file is ${bytes.length} bytes, over the limit of ${MAX_SIGNED_BYTES}`);
  // A last line without LF is accepted, as coreutils does: the bytes are someone else's signed file.
  const { lines: rawLines } = splitUtf8Lines(bytes, (n) => bad(`line ${n}: not valid UTF-8`));
  const lines: SumsLine[] = [];
  const duplicates: string[] = [];
  const hashesByName = new Map<string, Set<string>>();
  for (const { number, text: raw } of rawLines) {
    // CRLF files (made on Windows) are read as if LF: one CR right before the line end is dropped.
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim().length === 0) bad(`line ${number}: blank line`);
    if (text.startsWith('\\')) bad(`line ${number}: escaped file names (line starting with '\\') are not supported`);
    const m = SUMS_LINE.exec(text);
    if (!m) bad(`line ${number}: must be "<64 hex>  <name>" or "<64 hex> *<name>", got ${quote(text)}`);
    const sha256 = m[1]!.toLowerCase();
    const binary = m[2] === '*';
    const name = m[3]!;
    const nameError = artifactNameProblem(name);
    if (nameError) bad(`line ${number}: ${nameError}`);
    const seen = hashesByName.get(name);
    if (seen?.has(sha256)) continue; // the same name and hash again says nothing new: kept once
    if (seen) {
      seen.add(sha256);
      if (!duplicates.includes(name)) duplicates.push(name);
    } else {
      hashesByName.set(name, new Set([sha256]));
    }
    lines.push({ line: number, name, sha256, binary });
  }
  return { lines, duplicates };
}

function badClaim(message: string): never {
  throw new LafsError('bad-request', message);
}

/** Validates untrusted claims (e.g. parsed JSON) and returns a fresh object holding only the known fields. Throws LafsError('bad-request') naming the field. */
export function validateClaims(claims: unknown): SumsClaims {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) badClaim('claims: must be an object { source, platform | platformRegex }');
  const record = claims as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'source' && key !== 'platform' && key !== 'platformRegex') badClaim(`claims.${key}: unknown field`);
  }
  const { source, platform, platformRegex } = record;
  if (typeof source !== 'string') badClaim('claims.source: required, a string sha256:<hex> or git:<hex>');
  const sourceError = sourceDigestProblem(source);
  if (sourceError) badClaim(`claims.source: ${sourceError}`);
  if (platform !== undefined && platformRegex !== undefined) badClaim('claims: give exactly one of platform and platformRegex, not both');
  if (platform !== undefined) {
    if (typeof platform !== 'string') badClaim('claims.platform: must be a string');
    const platformError = platformProblem(platform);
    if (platformError) badClaim(`claims.platform: ${platformError}`);
    return { source, platform };
  }
  if (platformRegex !== undefined) {
    if (typeof platformRegex !== 'string') badClaim('claims.platformRegex: must be a string');
    const regexError = platformRegexProblem(platformRegex);
    if (regexError) badClaim(`claims.platformRegex: ${regexError}`);
    return { source, platformRegex };
  }
  return badClaim('claims: one of platform or platformRegex is required');
}

export interface SumsArtifact { platform: string | null; name: string; sha256: string }
/** Artifacts plus what a reader should know about them: "duplicate-name: N", "no-platform: N" (regex did not match), "bad-platform: N" (regex matched but its value breaks the platform rule). */
export interface SumsView { artifacts: SumsArtifact[]; flags: string[] }

/**
 * sumsArtifacts with the flags; `budgetMs` bounds regex matching (throws LafsError('bad-request')
 * beyond it). `derived`, when given, is what the platformRegex gave for each line at an earlier
 * view (e.g. a log's record of what it derived at submission): it is used instead of matching
 * again, and the rules are applied to it as to a fresh match. Throws LafsError('bad-request') if
 * it does not have one string or null per line.
 */
export function viewSums(parsed: ParsedSums, claims: SumsClaims, budgetMs: number = VIEW_REGEX_BUDGET_MS, derived?: readonly unknown[]): SumsView {
  const flags = parsed.duplicates.map((name) => `duplicate-name: ${name}`);
  if (claims.platformRegex === undefined) {
    const platform = claims.platform ?? null;
    return { artifacts: parsed.lines.map(({ name, sha256 }) => ({ platform, name, sha256 })), flags };
  }
  if (derived !== undefined && (derived.length !== parsed.lines.length || !derived.every((v) => v === null || typeof v === 'string'))) {
    badClaim(`claims.platformRegex: ${derived.length} derived platforms given for ${parsed.lines.length} lines, or one is neither a string nor null`);
  }
  derived ??= matchPlatforms(claims.platformRegex, parsed.lines.map((l) => l.name), budgetMs);
  const artifacts = parsed.lines.map(({ name, sha256 }, i): SumsArtifact => {
    const value = (derived[i] as string | null | undefined) ?? null;
    if (value === null) {
      flags.push(`no-platform: ${name}`);
      return { platform: null, name, sha256 };
    }
    if (platformProblem(value) !== null) {
      flags.push(`bad-platform: ${name}`);
      return { platform: null, name, sha256 };
    }
    return { platform: value, name, sha256 };
  });
  return { artifacts, flags: [...new Set(flags)] };
}

/** Artifacts with their platform (the claim, or the regex's named group; a name the regex does not match gets no platform and is flagged by viewSums). */
export function sumsArtifacts(parsed: ParsedSums, claims: SumsClaims): SumsArtifact[] {
  return viewSums(parsed, claims).artifacts;
}
