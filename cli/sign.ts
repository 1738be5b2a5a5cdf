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
    const child = spawn(process.env.LAFS_GPG ?? 'gpg', args, { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (error) => reject(new LafsError('io', `cannot run gpg: ${error.message}; is GnuPG installed and on PATH?`, { cause: error })));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    child.stdin.end(input ?? Buffer.alloc(0));
  });
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

/** `gpg --export --armor KEYID`. */
export async function exportGpgPublicKey(keyId: string): Promise<string> {
  const result = await gpg(['--batch', '--no-tty', '--export', '--armor', keyId]);
  const text = result.stdout.toString('utf8');
  if (result.code !== 0 || !text.includes('-----BEGIN PGP PUBLIC KEY BLOCK')) {
    throw new LafsError('bad-key', `gpg has no public key for --gpg ${keyId}: ${lastLine(result.stderr) || 'nothing exported'}`);
  }
  return text;
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? '';
}
