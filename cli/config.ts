/**
 * Per-user state of the CLI: the last checkpoint `lafs-verify` verified for each log origin.
 *
 * Remembering it is what turns a signed checkpoint into a guarantee over time: the next run asks
 * the log for a consistency proof from the remembered tree to the new one (RFC 9162 2.1.4), so a
 * log that rewrote history cannot go unnoticed by the same user. The directory is
 * $XDG_CONFIG_HOME/lafs or ~/.config/lafs; one JSON file per origin under `checkpoints/`,
 * replaced atomically (write then rename) so a crash never leaves half a file.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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

/** Remembers `checkpoint` for its origin, replacing the previous one atomically. */
export async function saveCheckpoint(checkpoint: Omit<RememberedCheckpoint, 'verifiedAt'>, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const file = checkpointFile(checkpoint.origin, env);
  await mkdir(join(configDir(env), 'checkpoints'), { recursive: true, mode: 0o700 });
  const record: RememberedCheckpoint = { ...checkpoint, verifiedAt: new Date().toISOString() };
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  await rename(temp, file);
  return file;
}
