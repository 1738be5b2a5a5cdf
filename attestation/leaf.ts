/**
 * Leaf encoding (DESIGN.md section 3; byte layout and test vector in docs/formats.md). A leaf is
 * what the log hashes and serves in entry bundles, so it must be deterministic (one submission, one
 * byte string: the log's idempotency and every leaf hash depend on it) and self-contained.
 *
 *   u8 version (1) | u8 kind (1 = lafs-attestation/v1, 2 = sha256sums)
 *   | u16 len | signed | u16 len | signature | u16 len | publicKey
 *   sha256sums only: | u16 len | source | u8 platform mode (1 = label, 2 = regex) | u16 len | value
 *
 * Lengths are big-endian. decodeLeaf accepts exactly the bytes encodeLeaf produces and nothing else,
 * so encodeLeaf(decodeLeaf(b)) equals b whenever decoding succeeds.
 */
import { LafsError } from '../merkle/errors.js';
import { SUMS_KIND, validateClaims, type SumsClaims } from './sums.js';
import { STATEMENT_KIND } from './statement.js';

export const MAX_LEAF_SIZE = 65535;
export const LEAF_VERSION = 1;
export type StatementKind = 'lafs-attestation/v1' | 'sha256sums';
export interface Leaf {
  kind: StatementKind;
  signed: Uint8Array; // exact signed bytes (statement or sums file)
  signature: Uint8Array; // binary OpenPGP detached signature
  publicKey: Uint8Array; // binary minimal transferable public key
  claims?: SumsClaims; // only for sha256sums
}

const KIND_CODES: Record<StatementKind, number> = { 'lafs-attestation/v1': 1, sha256sums: 2 };
const KINDS_BY_CODE = new Map<number, StatementKind>([
  [1, 'lafs-attestation/v1'],
  [2, 'sha256sums'],
]);
const PLATFORM_LABEL = 1;
const PLATFORM_REGEX = 2;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bad(message: string): never {
  throw new LafsError('bad-leaf', message);
}

/** Claims errors from validateClaims come as 'bad-request'; inside a leaf they make the leaf bad. */
function checkedClaims(claims: unknown): SumsClaims {
  try {
    return validateClaims(claims);
  } catch (e) {
    if (e instanceof LafsError) bad(e.message);
    throw e;
  }
}

/** Throws LafsError('too-large') over MAX_LEAF_SIZE, LafsError('bad-leaf') for anything malformed. */
export function encodeLeaf(leaf: Leaf): Uint8Array {
  if (typeof leaf !== 'object' || leaf === null) bad('leaf must be an object');
  const kindCode = Object.prototype.hasOwnProperty.call(KIND_CODES, leaf.kind) ? KIND_CODES[leaf.kind] : undefined;
  if (kindCode === undefined) bad(`kind: unknown statement kind ${JSON.stringify(String(leaf.kind))}`);
  const fields: Uint8Array[] = [];
  for (const field of ['signed', 'signature', 'publicKey'] as const) {
    const value = leaf[field];
    if (!(value instanceof Uint8Array)) bad(`${field}: must be bytes`);
    if (value.length === 0) bad(`${field}: must not be empty`);
    fields.push(value);
  }
  let claimBytes: { source: Uint8Array; mode: number; value: Uint8Array } | undefined;
  if (leaf.kind === SUMS_KIND) {
    if (leaf.claims === undefined) bad('claims: required on a sha256sums leaf');
    const claims = checkedClaims(leaf.claims);
    claimBytes =
      claims.platform !== undefined
        ? { source: utf8.encode(claims.source), mode: PLATFORM_LABEL, value: utf8.encode(claims.platform) }
        : { source: utf8.encode(claims.source), mode: PLATFORM_REGEX, value: utf8.encode(claims.platformRegex!) };
  } else if (leaf.claims !== undefined) {
    bad(`claims: not allowed on a ${leaf.kind} leaf`);
  }

  let size = 2 + fields.reduce((n, f) => n + 2 + f.length, 0);
  if (claimBytes) size += 2 + claimBytes.source.length + 1 + 2 + claimBytes.value.length;
  if (size > MAX_LEAF_SIZE) throw new LafsError('too-large', `leaf would be ${size} bytes, over the limit of ${MAX_LEAF_SIZE}`);

  const out = new Uint8Array(size);
  let at = 0;
  const putU8 = (v: number) => {
    out[at++] = v;
  };
  const putField = (bytes: Uint8Array) => {
    out[at++] = bytes.length >> 8;
    out[at++] = bytes.length & 0xff;
    out.set(bytes, at);
    at += bytes.length;
  };
  putU8(LEAF_VERSION);
  putU8(kindCode);
  for (const f of fields) putField(f);
  if (claimBytes) {
    putField(claimBytes.source);
    putU8(claimBytes.mode);
    putField(claimBytes.value);
  }
  return out;
}

/** Throws LafsError('bad-leaf'): trailing bytes, unknown version or kind, truncation, claims where they do not belong or missing. */
export function decodeLeaf(bytes: Uint8Array): Leaf {
  if (!(bytes instanceof Uint8Array)) bad('leaf must be bytes');
  if (bytes.length > MAX_LEAF_SIZE) bad(`leaf is ${bytes.length} bytes, over the limit of ${MAX_LEAF_SIZE}`);
  let at = 0;
  const u8 = (what: string): number => {
    if (at >= bytes.length) bad(`truncated: ${what} missing at byte ${at}`);
    return bytes[at++]!;
  };
  const field = (what: string): Uint8Array => {
    if (at + 2 > bytes.length) bad(`truncated: length of ${what} missing at byte ${at}`);
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    at += 2;
    if (at + length > bytes.length) bad(`truncated: ${what} declares ${length} bytes, only ${bytes.length - at} left`);
    // Copied, so the leaf does not alias a buffer the caller may reuse (LevelDB, network chunks).
    const value = new Uint8Array(bytes.subarray(at, at + length));
    at += length;
    return value;
  };
  const text = (what: string, value: Uint8Array): string => {
    try {
      return strictUtf8.decode(value);
    } catch {
      return bad(`${what}: not valid UTF-8`);
    }
  };

  const version = u8('version');
  if (version !== LEAF_VERSION) bad(`unknown leaf version ${version} (this software reads version ${LEAF_VERSION})`);
  const kindCode = u8('kind');
  const kind = KINDS_BY_CODE.get(kindCode);
  if (kind === undefined) bad(`unknown statement kind code ${kindCode}`);
  const signed = field('signed');
  const signature = field('signature');
  const publicKey = field('publicKey');
  for (const [name, value] of [['signed', signed], ['signature', signature], ['publicKey', publicKey]] as const) {
    if (value.length === 0) bad(`${name}: must not be empty`);
  }
  const leaf: Leaf = { kind, signed, signature, publicKey };
  if (kind === SUMS_KIND) {
    if (at === bytes.length) bad('claims: required on a sha256sums leaf, missing');
    const source = text('claims.source', field('claims.source'));
    const mode = u8('claims platform mode');
    if (mode !== PLATFORM_LABEL && mode !== PLATFORM_REGEX) bad(`claims: unknown platform mode ${mode}`);
    const value = text(mode === PLATFORM_LABEL ? 'claims.platform' : 'claims.platformRegex', field('claims value'));
    leaf.claims = checkedClaims(mode === PLATFORM_LABEL ? { source, platform: value } : { source, platformRegex: value });
  }
  if (at !== bytes.length) {
    bad(kind === STATEMENT_KIND ? `${bytes.length - at} trailing bytes (claims are not allowed on a ${kind} leaf)` : `${bytes.length - at} trailing bytes`);
  }
  return leaf;
}
