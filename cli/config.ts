/**
 * Per-user state of the CLI: the last checkpoint `lafs-verify` verified for each log origin.
 *
 * Remembering it is what turns a signed checkpoint into a guarantee over time: the next run asks
 * the log for a consistency proof from the remembered tree to the new one (RFC 9162 2.1.4), so a
 * log that rewrote history cannot go unnoticed by the same user. The directory is
 * $XDG_CONFIG_HOME/lafs or ~/.config/lafs; one JSON file per origin under `checkpoints/`,
 * replaced atomically (write then rename) so a crash never leaves half a file.
 *
 * The remembered tree only ever grows. Several lafs-verify runs may finish at once, each with the
 * checkpoint it saw; a plain "write mine" would let a run that saw an older tree replace a newer
 * one. So saving happens under a short-lived lock file: re-read what is remembered, write only if
 * ours is not older, and report a newer or conflicting remembered checkpoint to the caller, which
 * proves its own checkpoint consistent with it (cli/verify-artifact.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LafsError } from '../merkle/errors.js';

export interface RememberedCheckpoint {
  origin: string;
  size: number;
  /** Standard base64 root hash. */
  root: string;
  /** The signed checkpoint note as the log served it. */
  note: string;
  /** When this checkpoint was verified (ISO 8601). */
  verifiedAt: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.config');
  return join(base, 'lafs');
}

function checkpointFile(origin: string, env: NodeJS.ProcessEnv): string {
  // encodeURIComponent keeps the file name reversible and free of '/'; '.' and '..' cannot result from a non-empty origin with a suffix.
  return join(configDir(env), 'checkpoints', `${encodeURIComponent(origin)}.json`);
}

/** The remembered checkpoint for `origin`, or null if none. Throws LafsError('io') naming the file if it is unreadable or malformed. */
export async function loadCheckpoint(origin: string, env: NodeJS.ProcessEnv = process.env): Promise<RememberedCheckpoint | null> {
  const file = checkpointFile(origin, env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new LafsError('io', `cannot read remembered checkpoint ${file}: ${(error as Error).message}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new LafsError('io', `remembered checkpoint ${file} is not JSON: delete it to start trusting this log afresh`);
  }
  const v = value as Partial<RememberedCheckpoint>;
  const root = typeof v?.root === 'string' ? v.root : '';
  const rootOk = Buffer.from(root, 'base64').length === 32 && Buffer.from(root, 'base64').toString('base64') === root;
  if (typeof v !== 'object' || v === null || v.origin !== origin || !Number.isSafeInteger(v.size) || (v.size as number) < 0 || !rootOk || typeof v.note !== 'string') {
    throw new LafsError('io', `remembered checkpoint ${file} is malformed (fields origin, size, root, note): delete it to start trusting this log afresh`);
  }
  return { origin: v.origin, size: v.size as number, root, note: v.note, verifiedAt: typeof v.verifiedAt === 'string' ? v.verifiedAt : '' };
}

/**
 * What saving did: `saved` (ours was not older than what was remembered), `kept-newer` (a larger
 * tree is remembered, left as it is), or `conflict` (a checkpoint of the same size with another
 * root is remembered: the log forked; left as it is).
 */
export type SaveResult =
  | { status: 'saved'; file: string }
  | { status: 'kept-newer' | 'conflict'; file: string; current: RememberedCheckpoint };

/** The monotonic rule alone: may `next` replace `current`? */
export function saveDecision(current: Pick<RememberedCheckpoint, 'size' | 'root'> | null, next: Pick<RememberedCheckpoint, 'size' | 'root'>): 'saved' | 'kept-newer' | 'conflict' {
  if (!current || current.size < next.size) return 'saved';
  if (current.size > next.size) return 'kept-newer';
  return current.root === next.root ? 'saved' : 'conflict';
}

/** A lock older than this was left by a run that died: taken over. */
const STALE_LOCK_MS = 10_000;
const LOCK_WAIT_MS = 5_000;

async function withLock<T>(file: string, body: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new LafsError('io', `cannot create lock ${lock}: ${(error as Error).message}`, { cause: error });
    }
    const age = await stat(lock).then((st) => Date.now() - st.mtimeMs, () => 0);
    if (age > STALE_LOCK_MS) {
      await rm(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new LafsError('io', `lock ${lock} is held by another lafs-verify run; if none is running, delete it`);
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
  }
  try {
    return await body();
  } finally {
    await rm(lock, { force: true });
  }
}

/** Remembers `checkpoint` for its origin unless an older-or-conflicting save would result (see SaveResult); atomic. */
export async function saveCheckpoint(checkpoint: Omit<RememberedCheckpoint, 'verifiedAt'>, env: NodeJS.ProcessEnv = process.env): Promise<SaveResult> {
  const file = checkpointFile(checkpoint.origin, env);
  await mkdir(join(configDir(env), 'checkpoints'), { recursive: true, mode: 0o700 });
  return withLock(file, async () => {
    const current = await loadCheckpoint(checkpoint.origin, env);
    const status = saveDecision(current, checkpoint);
    if (status !== 'saved') return { status, file, current: current! };
    const record: RememberedCheckpoint = { ...checkpoint, verifiedAt: new Date().toISOString() };
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(temp, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return { status, file };
  });
}
