/**
 * `lafs keygen`: a builder's OpenPGP signing key, made with openpgp.js. Ed25519 in the v4
 * "legacy" EdDSA encoding by default, because that is what gpg 2.2 (still the gpg of many
 * distributions) can import and verify; RSA on request. Files are armored; the private key is
 * written 0600 and never overwritten unless --force.
 */
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { usageError } from '../errors.js';
import { examples, integerArg } from '../program.js';

export const PRIVATE_KEY_FILE = 'private-key.asc';
export const PUBLIC_KEY_FILE = 'public-key.asc';

/** "Name <email>" or "Name" -> openpgp.js user ID. */
export function parseUserId(text: string): openpgp.UserID {
  const trimmed = text.trim();
  const m = /^([^<>]*?)\s*<([^<>\s]+@[^<>\s]+)>$/.exec(trimmed);
  if (m) return m[1] ? { name: m[1], email: m[2]! } : { email: m[2]! };
  if (/[<>]/.test(trimmed) || trimmed === '') throw usageError(`--name must look like "Name <email@example.org>", got "${text}"`);
  return { name: trimmed };
}

export interface KeygenOptions { name: string; out: string; rsa?: number; force?: boolean }

export async function keygen(options: KeygenOptions): Promise<{ fingerprint: string; privateKeyFile: string; publicKeyFile: string }> {
  const userID = parseUserId(options.name);
  if (options.rsa !== undefined && options.rsa < 2048) throw usageError(`--rsa ${options.rsa}: use at least 2048 bits (3072 recommended)`);
  const { privateKey, publicKey } = await openpgp.generateKey({
    userIDs: [userID],
    ...(options.rsa !== undefined ? { type: 'rsa' as const, rsaBits: options.rsa } : { type: 'ecc' as const, curve: 'curve25519Legacy' as const }),
    format: 'armored',
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  // A new key directory is private to its owner; an existing one is the user's to manage.
  await mkdir(options.out, { recursive: true, mode: 0o700 });
  const privateKeyFile = join(options.out, PRIVATE_KEY_FILE);
  const publicKeyFile = join(options.out, PUBLIC_KEY_FILE);
  if (!options.force) {
    // Check both before writing either, so a refusal leaves the directory as it was.
    for (const file of [privateKeyFile, publicKeyFile]) {
      if (await exists(file)) throw usageError(`${file} already exists: choose another --out directory, or pass --force to replace the key`);
    }
  }
  try {
    await writeKeyFile(privateKeyFile, privateKey, 0o600, options.force ?? false);
    await writeKeyFile(publicKeyFile, publicKey, 0o644, options.force ?? false);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw usageError(`${(error as NodeJS.ErrnoException).path} already exists: choose another --out directory, or pass --force to replace the key`);
    throw error;
  }
  return { fingerprint: key.getFingerprint().toLowerCase(), privateKeyFile, publicKeyFile };
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Writes a key file with exactly `mode`. A file's mode is only set when it is created, so
 * replacing one in place (--force) would keep, say, 0644 on a new private key: instead a fresh
 * file is written beside it and renamed over it. Without `replace` an existing file is EEXIST.
 */
async function writeKeyFile(file: string, text: string, mode: number, replace: boolean): Promise<void> {
  if (!replace) {
    await writeFile(file, text, { mode, flag: 'wx' });
    await chmod(file, mode); // the umask may have taken bits away; never more than `mode`
    return;
  }
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text, { mode, flag: 'wx' });
    await chmod(temp, mode);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .summary('make a builder signing key (OpenPGP, Ed25519 by default)')
    .description(`Makes an OpenPGP key for signing attestations and writes it armored to DIR:
${PRIVATE_KEY_FILE} (mode 0600, unencrypted: protect the directory) and ${PUBLIC_KEY_FILE}.
Prints the key's fingerprint (lowercase hex), which is your builder id in the log.
Ed25519 keys use the encoding gpg 2.2 understands, so \`gpg --import\` works on both files.`)
    .requiredOption('--name <"Name <email>">', 'user ID of the key')
    .requiredOption('--out <dir>', 'directory to write the key files to (created if missing)')
    .option('--rsa <bits>', 'make an RSA key of this size instead of Ed25519', integerArg(1024))
    .option('--force', 'replace existing key files in DIR')
    .addHelpText('after', examples([
      'lafs keygen --name "Alice Builder <alice@example.org>" --out ~/.lafs/alice',
      'lafs keygen --name "CI builder <ci@example.org>" --out keys/ci --rsa 3072',
    ]))
    .action(async (opts: KeygenOptions) => {
      const made = await keygen(opts);
      process.stderr.write(`wrote ${made.privateKeyFile} (private, 0600) and ${made.publicKeyFile}\n`);
      process.stdout.write(`${made.fingerprint}\n`);
    });
}
