/**
 * The one error class of the project. Every thrown error carries a `code` from a closed
 * union so callers (HTTP status mapping, CLI exit codes) branch on codes, never on messages.
 * Verification functions do not throw on hostile input: they return a `Verdict`.
 */
export type ErrorCode =
  | 'bad-request' // malformed request or argument (names the field)
  | 'bad-statement' // statement text breaks DESIGN.md section 3 (names the line)
  | 'bad-sums' // sha256sums file unusable
  | 'bad-signature' // OpenPGP signature malformed or does not verify / key not valid at signing time
  | 'bad-key' // OpenPGP public key or note key malformed
  | 'bad-leaf' // leaf encoding malformed
  | 'bad-checkpoint' // checkpoint body malformed
  | 'bad-note' // signed note malformed or unverifiable
  | 'bad-tile' // tile path or tile bytes malformed / non-canonical
  | 'bad-bundle' // entry bundle or proof bundle malformed
  | 'bad-proof' // proof malformed or does not verify
  | 'unknown-kind' // statement kind not supported
  | 'not-found'
  | 'out-of-range' // index or size beyond the tree
  | 'too-large' // body or leaf over its size limit
  | 'rate-limited'
  | 'inconsistent' // a log contradicted itself (consistency, root mismatch)
  | 'unavailable' // network failure, timeout, 5xx after retries
  | 'io' // local file system failure
  | 'usage' // CLI usage error
  | 'internal';

export class LafsError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LafsError';
    this.code = code;
  }
}

/** Outcome of a check on untrusted input: never thrown, always returned. */
export type Verdict = { ok: true } | { ok: false; reason: string };

/** Outcome of a check that also yields a value. */
export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };
