/**
 * The log's checkpoint key (DESIGN.md sections 2 and 5): a C2SP signed-note Ed25519 key whose name
 * is the log's origin. Created on first start in `<data>/checkpoint.key` (mode 0600, written to a
 * temporary file, synced, then renamed into place so a crash never leaves half a key), and never
 * printed or logged: only the verifier key is shown.
 */
import { closeSync, constants, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync, chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { nodeEd25519 } from '../attestation/node-crypto.js';
import { defaultOrigin } from './config.js';
import { formatCheckpoint, type Checkpoint } from '../merkle/checkpoint.js';
import { LafsError } from '../merkle/errors.js';
import { generateKeyPair, parseSignerKey, signNote, verifierKeyFromSignerKey, type NoteSigner } from '../merkle/note.js';

export const KEY_FILE = 'checkpoint.key';

export class CheckpointSigner {
  private constructor(private readonly signer: NoteSigner, readonly verifierKey: string) {}

  get origin(): string {
    return this.signer.name;
  }

  /** The signed checkpoint note for `checkpoint` (its origin must be this key's name). */
  sign(checkpoint: Omit<Checkpoint, 'origin' | 'extensions'>): string {
    return signNote(formatCheckpoint({ origin: this.origin, size: checkpoint.size, root: checkpoint.root, extensions: [] }), [this.signer]);
  }

  static fromSignerKey(signerKey: string): CheckpointSigner {
    return new CheckpointSigner(parseSignerKey(signerKey, nodeEd25519), verifierKeyFromSignerKey(signerKey, nodeEd25519));
  }

  /**
   * Loads `<dataDir>/checkpoint.key`, or creates it for `origin` when the directory has none.
   * With an existing key, `origin` (when given) must equal the key's name: a log's origin never changes.
   * A new key without `origin` is named defaultOrigin().
   */
  static loadOrCreate(dataDir: string, origin: string | undefined): { signer: CheckpointSigner; created: boolean } {
    const path = join(dataDir, KEY_FILE);
    const existing = readKeyFile(path);
    if (existing !== undefined) {
      const signer = CheckpointSigner.fromSignerKey(existing);
      if (origin !== undefined && origin !== signer.origin) {
        throw new LafsError('usage', `${dataDir} holds the log ${JSON.stringify(signer.origin)}; it cannot be served as ${JSON.stringify(origin)} (omit --origin or pass the same one)`);
      }
      return { signer, created: false };
    }
    mkdirSync(dataDir, { recursive: true });
    const { signerKey } = generateKeyPair(origin ?? defaultOrigin(), nodeEd25519);
    writeSecretFile(path, signerKey + '\n');
    return { signer: CheckpointSigner.fromSignerKey(signerKey), created: true };
  }

  /** The verifier key of an existing data directory (for `lafs-log key`). */
  static verifierKeyOf(dataDir: string): string {
    const path = join(dataDir, KEY_FILE);
    const existing = readKeyFile(path);
    if (existing === undefined) throw new LafsError('io', `${path} does not exist: not a lafs-log data directory (start the server once to create it)`);
    return verifierKeyFromSignerKey(existing, nodeEd25519);
  }
}

function readKeyFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LafsError('io', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) chmodSync(path, 0o600); // a key readable by others is repaired, not trusted less
  return text.trim();
}

function writeSecretFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // Make the rename itself durable.
  const dir = openSync(join(path, '..'), constants.O_RDONLY);
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
