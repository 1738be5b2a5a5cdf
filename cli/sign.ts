/**
 * Detached signatures over statement bytes, two ways: with a key file made by `lafs keygen`
 * (openpgp.js), or by the system gpg so keys on smartcards and in existing keyrings work
 * (GNUPGHOME is honoured because gpg reads it from the environment we pass through).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { LafsError } from '../merkle/errors.js';

/** Armored detached signature by the private key in `keyFile`, and that key's armored public half. */
export async function signWithKeyFile(data: Uint8Array, keyFile: string): Promise<{ signature: string; publicKey: string }> {
  const text = await readFile(keyFile, 'utf8');
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: text });
  } catch (error) {
    throw new LafsError('bad-key', `--key ${keyFile} is not an armored OpenPGP private key (${(error as Error).message}); make one with \`lafs keygen\``, { cause: error });
  }
  if (!key.isDecrypted()) throw new LafsError('bad-key', `--key ${keyFile} is passphrase-protected; sign with --gpg KEYID instead (gpg asks for the passphrase)`);
  const message = await openpgp.createMessage({ binary: data });
  const signature = await openpgp.sign({ message, signingKeys: key, detached: true, format: 'armored' });
  return { signature, publicKey: key.toPublic().armor() };
}

interface GpgResult { code: number | null; stdout: Buffer; stderr: string }

function gpg(args: readonly string[], input?: Uint8Array): Promise<GpgResult> {
  return new Promise((resolve, reject) => {
    // Without input, stdin is closed from the start: ending an empty pipe to a gpg that already exited is EPIPE.
    const child = spawn(process.env.LAFS_GPG ?? 'gpg', args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: process.env });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (error) => reject(new LafsError('io', `cannot run gpg: ${error.message}; is GnuPG installed and on PATH?`, { cause: error })));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // gpg may exit before reading all of it (a bad key): its exit code and stderr tell
      child.stdin.end(input);
    }
  });
}

export interface GpgKey { fingerprint: string; userIds: string[] }

/**
 * Resolves --gpg KEYID (a key ID, fingerprint, user ID or e-mail, anything gpg accepts) to exactly
 * one secret key, by `gpg --with-colons --list-secret-keys`. A KEYID several keys match (two keys
 * with one name, a short ID that collides) is refused: signing with one and exporting all of them,
 * or a different one, would publish a key that is not the signer's.
 */
export async function resolveGpgKey(keyId: string): Promise<GpgKey> {
  const result = await gpg(['--batch', '--no-tty', '--with-colons', '--list-secret-keys', '--', keyId]);
  const keys: GpgKey[] = [];
  let current: GpgKey | null = null;
  let wantFpr = false;
  for (const line of result.stdout.toString('utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === 'sec') {
      current = { fingerprint: '', userIds: [] };
      keys.push(current);
      wantFpr = true;
    } else if (fields[0] === 'ssb') {
      wantFpr = false;
    } else if (fields[0] === 'fpr' && wantFpr && current) {
      current.fingerprint = (fields[9] ?? '').toUpperCase();
      wantFpr = false;
    } else if (fields[0] === 'uid' && current) {
      current.userIds.push(fields[9] ?? '');
    }
  }
  const found = keys.filter((k) => /^[0-9A-F]{40}$|^[0-9A-F]{64}$/.test(k.fingerprint));
  if (found.length === 0) throw new LafsError('bad-key', `gpg has no secret key for --gpg ${keyId}: ${lastLine(result.stderr) || 'no match'} (see \`gpg --list-secret-keys\`)`);
  if (found.length > 1) {
    const list = found.map((k) => `${k.fingerprint}${k.userIds[0] ? ` ${k.userIds[0]}` : ''}`).join('; ');
    throw new LafsError('usage', `--gpg ${keyId} matches ${found.length} secret keys (${list}); pass the full fingerprint of the one to sign with`);
  }
  return found[0]!;
}

/** Armored detached signature made by `gpg --detach-sign --armor -u KEYID` over `data` (fed on stdin). */
export async function signWithGpg(data: Uint8Array, keyId: string): Promise<string> {
  // --batch only when nobody can answer a prompt; pinentry still handles passphrases and PINs.
  const args = [...(process.stdin.isTTY ? [] : ['--batch']), '--no-tty', '--detach-sign', '--armor', '--local-user', keyId, '--output', '-'];
  const result = await gpg(args, data);
  if (result.code !== 0 || !result.stdout.toString('utf8').includes('-----BEGIN PGP SIGNATURE')) {
    throw new LafsError('bad-signature', `gpg could not sign with --gpg ${keyId}: ${lastLine(result.stderr) || `exit code ${result.code}`}`);
  }
  return result.stdout.toString('utf8');
}

/** `gpg --export --armor FINGERPRINT`: give a fingerprint from resolveGpgKey, so exactly one key is exported. */
export async function exportGpgPublicKey(fingerprint: string): Promise<string> {
  const result = await gpg(['--batch', '--no-tty', '--export', '--armor', '--', fingerprint]);
  const text = result.stdout.toString('utf8');
  if (result.code !== 0 || !text.includes('-----BEGIN PGP PUBLIC KEY BLOCK')) {
    throw new LafsError('bad-key', `gpg has no public key for --gpg ${fingerprint}: ${lastLine(result.stderr) || 'nothing exported'}`);
  }
  return text;
}

/**
 * A signer for --gpg KEYID, resolved to one key up front (before any file is hashed): signs with
 * gpg and exports exactly that key's public half. A KEYID ending in "!" (gpg: this very subkey)
 * is passed to gpg as given for signing; otherwise gpg signs by the resolved primary fingerprint.
 */
export async function openGpgSigner(keyId: string): Promise<{ fingerprint: string; sign: (data: Uint8Array) => Promise<string>; publicKey: () => Promise<string> }> {
  const key = await resolveGpgKey(keyId);
  return {
    fingerprint: key.fingerprint,
    sign: (data) => signWithGpg(data, keyId.endsWith('!') ? keyId : key.fingerprint),
    publicKey: () => exportGpgPublicKey(key.fingerprint),
  };
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? '';
}
