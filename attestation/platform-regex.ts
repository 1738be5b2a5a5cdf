/**
 * Submitter-supplied regular expressions that derive a platform from each file name of a sums file
 * (DESIGN.md section 3; docs/formats.md "claims"). The pattern comes from strangers and is evaluated
 * by the server, monitors and clients on every view of the leaf, so it is fenced twice:
 *  - statically: at most 256 characters, ECMAScript syntax with the `u` flag, a named group `platform`;
 *  - dynamically: V8's backtracking engine can take exponential time on patterns like `(a+)+$`, and no
 *    static check rules that out, so matching runs inside a node:vm context whose `timeout` interrupts
 *    a runaway match. A timeout is an error, never a silently different answer.
 * The budget is CPU time of the matching thread where Linux tells it (/proc/thread-self/stat):
 * `vm`'s timeout is wall-clock, and on a loaded machine a thread can sit descheduled past it with a
 * harmless pattern. So a timed-out run whose thread did not really spend the budget is run again,
 * until the pattern has used its CPU budget or a wall-clock cap (STALL_CAP x budget) has passed.
 */
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { LafsError } from '../merkle/errors.js';

export const MAX_PLATFORM_REGEX_LENGTH = 256;
/** Budget for all names of one submission; ordinary patterns need microseconds. */
export const SUBMIT_REGEX_BUDGET_MS = 100;
/** Budget when viewing a stored leaf: far above the submission budget, so a leaf the log accepted is viewable on a slower machine. */
export const VIEW_REGEX_BUDGET_MS = 2000;

// Every decoded sums leaf re-validates its claims; a log holds few distinct patterns, so remember answers.
const verdicts = new Map<string, string | null>();
const MAX_REMEMBERED = 256;

/** Null when `source` is an acceptable platform regex, else what is wrong with it. */
export function platformRegexProblem(source: string): string | null {
  const known = verdicts.get(source);
  if (known !== undefined) return known;
  const verdict = judgePlatformRegex(source);
  if (source.length > MAX_PLATFORM_REGEX_LENGTH) return verdict; // never keep oversized input
  if (verdicts.size >= MAX_REMEMBERED) verdicts.delete(verdicts.keys().next().value!);
  verdicts.set(source, verdict);
  return verdict;
}

function judgePlatformRegex(source: string): string | null {
  if (source.length === 0) return 'must not be empty';
  if (source.length > MAX_PLATFORM_REGEX_LENGTH) return `must be at most ${MAX_PLATFORM_REGEX_LENGTH} characters, got ${source.length}`;
  // The leaf stores the pattern as UTF-8; an unpaired surrogate would not survive the round trip.
  if (/[\ud800-\udfff]/u.test(source)) return 'is not well-formed Unicode (unpaired surrogate)';
  let withEmptyAlternative: RegExp;
  try {
    new RegExp(source, 'u');
    // `source` compiled on its own, so its parentheses balance and wrapping it cannot change its meaning.
    // The added empty alternative always matches "", which lists every named group of `source`.
    withEmptyAlternative = new RegExp(`(?:${source})|`, 'u');
  } catch (e) {
    return `is not a valid regular expression (ECMAScript, u flag): ${(e as Error).message}`;
  }
  const groups = withEmptyAlternative.exec('')?.groups;
  if (!groups || !Object.prototype.hasOwnProperty.call(groups, 'platform')) return 'must have a named group (?<platform>...)';
  return null;
}

/** A run that timed out without using its CPU budget is retried until this many budgets of wall time passed. */
const STALL_CAP = 20;
const CLOCK_TICK_MS = 10; // Linux USER_HZ is 100 on every architecture Node supports

/** CPU milliseconds used so far by the calling thread (fs calls run on it), or undefined off Linux. */
function threadCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    return Number.isFinite(ticks) ? ticks * CLOCK_TICK_MS : undefined;
  } catch {
    return undefined;
  }
}

// One context per thread, reused: creating a context costs about a millisecond, a run about 0.1 ms.
let sandbox: vm.Context | undefined;
// An arrow function, not top-level `const`s: script-scope declarations would collide on the second run.
const matchAll = new vm.Script(`(() => {
  if (cachedSource !== source) { cachedRegex = new RegExp(source, 'u'); cachedSource = source; }
  const found = [];
  for (const name of names) {
    const m = cachedRegex.exec(name);
    found.push(m === null ? null : m.groups && typeof m.groups.platform === 'string' ? m.groups.platform : null);
  }
  return found;
})()`);

/**
 * The `platform` group of `source` matched against each name (unanchored `exec`; anchor the pattern
 * to match whole names), or null where the pattern does not match or the group took no part.
 * Throws LafsError('bad-request') naming claims.platformRegex when matching exceeds `budgetMs` of
 * this thread's CPU time (of wall time where the thread's CPU time cannot be read).
 */
export function matchPlatforms(source: string, names: readonly string[], budgetMs: number): (string | null)[] {
  if (names.length === 0) return [];
  sandbox ??= vm.createContext({ cachedSource: null, cachedRegex: null, source: '', names: [] });
  sandbox.source = source;
  sandbox.names = [...names];
  const cpuAtStart = threadCpuMs();
  const wallAtStart = performance.now();
  let found: unknown;
  try {
    for (;;) {
      try {
        found = matchAll.runInContext(sandbox, { timeout: budgetMs });
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw new LafsError('bad-request', `claims.platformRegex: ${(e as Error).message}`);
        const cpuNow = cpuAtStart === undefined ? undefined : threadCpuMs();
        // Tick granularity: count a run as having spent its budget once within one tick of it.
        const spentBudget = cpuNow === undefined || cpuNow - cpuAtStart! + CLOCK_TICK_MS >= budgetMs;
        if (spentBudget || performance.now() - wallAtStart >= STALL_CAP * budgetMs) {
          throw new LafsError('bad-request', `claims.platformRegex: matching the file names took over ${budgetMs} ms (catastrophic backtracking?); simplify the pattern`);
        }
      }
    }
  } finally {
    sandbox.names = [];
  }
  // Copied element by element: the array belongs to the sandbox realm, its strings are plain values.
  return Array.from(found as ArrayLike<unknown>, (value) => (typeof value === 'string' ? value : null));
}
