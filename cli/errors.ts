/**
 * Exit codes of `lafs` and `lafs-verify`, and the one place that maps an error to one.
 *
 * The codes are a public contract (docs/cli.md, `lafs-verify --help`): scripts branch on them.
 * Errors inside the project are LafsError with a closed `code`; this module decides what each
 * code means to a person at a terminal, so commands never pick exit numbers themselves.
 */
import { LafsError, type ErrorCode } from '../merkle/errors.js';

export const ExitCode = {
  ok: 0,
  /** Internal fault: a bug, not the user's input. */
  internal: 1,
  /** Bad arguments, unreadable or malformed local file, unreachable log. */
  usage: 2,
  /** Fewer than K trusted builders attest this exact hash. */
  notEnough: 3,
  /** A trusted builder attests a different hash for the same (source, platform, name). */
  disagreement: 4,
  /** The log or a proof failed verification: bad checkpoint signature, bad proof, bad leaf signature, rewritten history. */
  logFailure: 5,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Error codes that mean "what the log (or a bundle made from it) gave us does not verify". */
const logFailureCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'bad-checkpoint', 'bad-note', 'bad-tile', 'bad-proof', 'bad-leaf', 'bad-bundle', 'inconsistent',
]);

/** True when the error says what the log (or a bundle made from it) gave us does not verify. */
export function isLogFailure(error: unknown): error is LafsError {
  return error instanceof LafsError && logFailureCodes.has(error.code);
}

/** Exit code for an error thrown by a command. */
export function exitCodeFor(error: unknown): ExitCodeValue {
  if (error instanceof LafsError) {
    if (logFailureCodes.has(error.code)) return ExitCode.logFailure;
    if (error.code === 'internal') return ExitCode.internal;
    return ExitCode.usage;
  }
  // Node file-system errors (ENOENT, EACCES, ...) are I/O errors: usage code.
  if (error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && (error as NodeJS.ErrnoException).syscall) return ExitCode.usage;
  return ExitCode.internal;
}

/** One line a person can act on; file-system errors name the path. */
export function describeError(error: unknown): string {
  if (error instanceof LafsError) return error.message;
  const errno = error as NodeJS.ErrnoException;
  if (error instanceof Error && errno.syscall) {
    const path = errno.path ? ` ${errno.path}` : '';
    switch (errno.code) {
      case 'ENOENT': return `no such file or directory:${path}`;
      case 'EACCES': case 'EPERM': return `permission denied:${path}`;
      case 'EISDIR': return `is a directory, expected a file:${path}`;
      case 'ENOTDIR': return `not a directory:${path}`;
      case 'EEXIST': return `already exists:${path}`;
      default: return `${errno.syscall}${path}: ${errno.code ?? error.message}`;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/** Shorthand for a usage error naming the option at fault. */
export function usageError(message: string): LafsError {
  return new LafsError('usage', message);
}
