/**
 * The user's trust set for `lafs-verify --trust`: an armored (or binary) keyring file, or a
 * directory of key files. Only builders whose primary-key fingerprint is in this set count
 * towards the threshold (DESIGN.md section 3: a builder is identified by its primary key's
 * fingerprint). The user IDs are kept so the verdict can name people, not just hex.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import * as openpgp from 'openpgp';
import { LafsError } from '../merkle/errors.js';

export interface TrustedBuilder {
  /** Primary-key fingerprint, lowercase hex (the builder id used in leaves and lookups). */
  fingerprint: string;
  userIds: string[];
  /** The file the key came from. */
  file: string;
}

/** Fingerprint -> builder. One builder may appear in several files; the first user IDs win. */
export type TrustSet = Map<string, TrustedBuilder>;

/** Extensions taken from a --trust directory; other files (READMEs, signatures) are skipped. */
const KEY_EXTENSIONS = new Set(['.asc', '.gpg', '.pgp', '.key', '.pub']);

/** Loads a keyring file or a directory of key files. Throws LafsError('bad-key' | 'io') naming the file. */
export async function loadTrust(path: string): Promise<TrustSet> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new LafsError('io', `--trust ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`, { cause: error });
  }
  const files = info.isDirectory()
    ? (await readdir(path)).filter((name) => !name.startsWith('.') && KEY_EXTENSIONS.has(extname(name).toLowerCase())).sort().map((name) => join(path, name))
    : [path];
  const trust: TrustSet = new Map();
  for (const file of files) {
    for (const builder of await readKeyFile(file)) {
      if (!trust.has(builder.fingerprint)) trust.set(builder.fingerprint, builder);
    }
  }
  if (trust.size === 0) throw new LafsError('bad-key', `--trust ${path}: no OpenPGP public keys found${info.isDirectory() ? ` (looked at files ending in ${[...KEY_EXTENSIONS].join(', ')})` : ''}`);
  return trust;
}

/** Every key in one file, armored or binary. */
export async function readKeyFile(file: string): Promise<TrustedBuilder[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new LafsError('io', `cannot read key file ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const text = bytes.toString('utf8');
    let keys: openpgp.Key[];
    if (text.includes('-----BEGIN PGP')) {
      // A keyring file may be several armored blocks one after another (cat a.asc b.asc > ring.asc).
      const blocks = text.match(/-----BEGIN PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----[\s\S]*?-----END PGP (?:PUBLIC|PRIVATE) KEY BLOCK-----/g) ?? [];
      if (blocks.length === 0) throw new Error('no armored key block');
      keys = (await Promise.all(blocks.map((armoredKeys) => openpgp.readKeys({ armoredKeys })))).flat();
    } else {
      keys = await openpgp.readKeys({ binaryKeys: new Uint8Array(bytes) });
    }
    return keys.map((key) => ({ fingerprint: key.getFingerprint().toLowerCase(), userIds: key.getUserIDs(), file }));
  } catch (error) {
    throw new LafsError('bad-key', `${file} is not an OpenPGP public key file: ${(error as Error).message}`, { cause: error });
  }
}

/** "Name <email> (fingerprint)" for a verdict line; just the fingerprint for strangers. */
export function describeBuilder(fingerprint: string, trust: TrustSet): string {
  const known = trust.get(fingerprint);
  const name = known?.userIds[0];
  return name ? `${name} (${fingerprint})` : fingerprint;
}
