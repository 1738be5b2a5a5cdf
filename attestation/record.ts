/**
 * What a leaf says, and whether it holds (DESIGN.md section 3; docs/formats.md section 5): the bridge
 * from leaf bytes to (source, platform, name, hash) claims. viewLeaf reads the claims without any
 * cryptography; verifyLeaf adds the OpenPGP check and never throws; buildLeaf turns an untrusted
 * submission into canonical leaf bytes, refusing anything that would not verify later from the
 * leaf alone (the key is minimized first, and the signature is checked against that minimized key),
 * and storing one signature one way (its packet re-framed canonically: canonicalSignature, via
 * prepareSignature, which parses the packet once for the re-framing and the check).
 */
import { LafsError, type Checked } from '../merkle/errors.js';
import { encodeLeaf, type Leaf, type StatementKind } from './leaf.js';
import { prepareKey, prepareSignature, verifyDetached, verifyPrepared, type SignatureCheck } from './openpgp.js';
import { STATEMENT_KIND, parseStatement } from './statement.js';
import { SUBMIT_REGEX_BUDGET_MS, SUMS_KIND, VIEW_REGEX_BUDGET_MS, parseSums, validateClaims, viewSums, type SumsClaims } from './sums.js';

export interface ClaimedArtifact { platform: string | null; name: string; sha256: string }
export interface LeafView {
  kind: StatementKind;
  source: string;
  artifacts: ClaimedArtifact[];
  flags: string[]; // e.g. "duplicate-name: foo.tar.gz", "no-platform: foo.txt", "bad-platform: foo.txt"
}

const KINDS: readonly string[] = [STATEMENT_KIND, SUMS_KIND];

function unknownKind(kind: unknown): never {
  throw new LafsError('unknown-kind', `kind: unknown statement kind ${JSON.stringify(String(kind)).slice(0, 80)} (expected ${KINDS.join(' or ')})`);
}

function view(kind: StatementKind, signed: Uint8Array, claims: SumsClaims | undefined, regexBudgetMs: number, derived?: readonly unknown[]): LeafView {
  if (kind === STATEMENT_KIND) {
    if (claims !== undefined) throw new LafsError('bad-leaf', `claims: not allowed on a ${STATEMENT_KIND} leaf`);
    const s = parseStatement(signed);
    return { kind, source: s.source, artifacts: s.artifacts.map((a) => ({ platform: s.platform, name: a.name, sha256: a.sha256 })), flags: [] };
  }
  if (claims === undefined) throw new LafsError('bad-leaf', `claims: required on a ${SUMS_KIND} leaf`);
  const { artifacts, flags } = viewSums(parseSums(signed), claims, regexBudgetMs, derived);
  return { kind, source: claims.source, artifacts, flags };
}

export interface ViewOptions {
  /**
   * For a sha256sums leaf with a platformRegex: the platform (or null) the regex gave for each
   * sums line, recorded when the leaf was first viewed (a log stores it at submission), so the
   * submitter's regex is not run again; see viewSums.
   */
  derivedPlatforms?: readonly unknown[];
}

/** Parses the signed bytes and claims of a decoded leaf; throws LafsError('bad-statement' | 'bad-sums' | 'bad-leaf' | 'unknown-kind', or 'bad-request' for a regex over its time budget). */
export function viewLeaf(leaf: Leaf, options: ViewOptions = {}): LeafView {
  if (!KINDS.includes(leaf.kind)) unknownKind(leaf.kind);
  // Claims of a leaf built in code have not been through decodeLeaf's checks.
  const claims = leaf.claims === undefined ? undefined : validateClaims(leaf.claims);
  return view(leaf.kind, leaf.signed, claims, VIEW_REGEX_BUDGET_MS, options.derivedPlatforms);
}

/** True when viewing the leaf runs the submitter's platformRegex (a sha256sums leaf whose claims give one). */
export function viewRunsRegex(leaf: Leaf): boolean {
  return leaf.claims?.platformRegex !== undefined;
}

export interface VerifiedLeaf { view: LeafView; signature: SignatureCheck }

/** viewLeaf + verifyDetached. Never throws. */
export async function verifyLeaf(leaf: Leaf): Promise<Checked<VerifiedLeaf>> {
  try {
    const leafView = viewLeaf(leaf);
    const check = await verifyDetached(leaf.signed, leaf.signature, leaf.publicKey);
    if (!check.ok) return { ok: false, reason: `signature: ${check.reason}` };
    return { ok: true, value: { view: leafView, signature: check.value } };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Re-raises an error of a step with the submission field it concerns at the front of the message
 * (openpgp.ts names the thing in its own words, e.g. "public key: ...": that prefix is replaced).
 */
async function inField<T>(field: string, code: 'bad-signature' | 'bad-key', step: () => Promise<T> | T): Promise<T> {
  try {
    return await step();
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).replace(/^(?:public key|signature|publicKey): /i, '');
    throw new LafsError(e instanceof LafsError ? e.code : code, `${field}: ${message}`, { cause: e });
  }
}

function withPrefix<T>(prefix: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof LafsError) throw new LafsError(e.code, `${prefix}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** The view of a submission, with the submission field ("statement" / "sums") named in parse errors; claims errors name themselves. */
function viewSubmission(kind: StatementKind, signed: Uint8Array, claims: SumsClaims | undefined): LeafView {
  if (kind === STATEMENT_KIND) return withPrefix('statement', () => view(kind, signed, undefined, SUBMIT_REGEX_BUDGET_MS));
  const parsed = withPrefix('sums', () => parseSums(signed));
  const { artifacts, flags } = viewSums(parsed, claims!, SUBMIT_REGEX_BUDGET_MS);
  return { kind, source: claims!.source, artifacts, flags };
}

/** Builds and verifies a leaf from a submission (armored or binary signature/key); throws LafsError with the field named. */
export async function buildLeaf(input: { kind: string; signed: Uint8Array; signature: Uint8Array | string; publicKey: Uint8Array | string; claims?: unknown }): Promise<{ leaf: Leaf; bytes: Uint8Array; verified: VerifiedLeaf }> {
  if (typeof input !== 'object' || input === null) throw new LafsError('bad-request', 'submission: must be an object');
  const { kind, claims: rawClaims } = input;
  if (!KINDS.includes(kind)) unknownKind(kind);
  const statementKind = kind as StatementKind;
  const field = statementKind === STATEMENT_KIND ? 'statement' : 'sums';
  if (!(input.signed instanceof Uint8Array)) throw new LafsError('bad-request', `${field}: must be bytes`);
  const signed = new Uint8Array(input.signed); // our own copy: the caller's buffer may change under us

  // Cheap checks first: the text and the claims, before any cryptography.
  let claims: SumsClaims | undefined;
  if (statementKind === STATEMENT_KIND) {
    if (rawClaims !== undefined) throw new LafsError('bad-request', `claims: not allowed for kind ${STATEMENT_KIND}`);
  } else {
    if (rawClaims === undefined) throw new LafsError('bad-request', `claims: required for kind ${SUMS_KIND}`);
    claims = validateClaims(rawClaims);
  }
  const leafView = viewSubmission(statementKind, signed, claims);
  const badPlatform = leafView.flags.find((f) => f.startsWith('bad-platform: '));
  if (badPlatform) {
    const name = badPlatform.slice('bad-platform: '.length);
    throw new LafsError('bad-request', `claims.platformRegex: the platform it derives from ${JSON.stringify(name)} breaks the platform rule (1-64 characters from A-Za-z0-9._+-)`);
  }

  if (input.signature === undefined || input.signature === null) throw new LafsError('bad-request', 'signature: required');
  if (input.publicKey === undefined || input.publicKey === null) throw new LafsError('bad-request', 'publicKey: required');
  // In its canonical framing: one signature, one leaf, however its packet header was written
  // (parsed once, from those canonical bytes, for the check below).
  const signature = await inField('signature', 'bad-signature', () => prepareSignature(input.signature));
  // Minimized, and the minimized key parsed and its self-signatures checked: cached per submitted key.
  const key = await inField('publicKey', 'bad-key', () => prepareKey(input.publicKey));
  // Checked against the minimized key, the one the leaf stores: what anyone will verify later.
  const check = await verifyPrepared(signed, signature, key);
  if (!check.ok) throw new LafsError('bad-signature', `signature: ${check.reason}`);

  // The leaf's key is a copy: the cached one is shared by every submission of this key.
  const leaf: Leaf = { kind: statementKind, signed, signature: signature.bytes, publicKey: key.minimal.slice(), ...(claims ? { claims } : {}) };
  const bytes = encodeLeaf(leaf);
  return { leaf, bytes, verified: { view: leafView, signature: check.value } };
}
