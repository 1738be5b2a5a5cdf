/**
 * Turning `lafs-monitor`'s command line into settings (issue 5): numbers checked with the option
 * named, the verifier key read from a string or a file, the default per-log state directory under
 * the user's data dir, and the trusted-builder set. Every problem is LafsError('usage') (exit 2).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LafsError } from '../merkle/errors.js';
import { fingerprintOf } from '../attestation/openpgp.js';

/** A positive number of seconds (fractions allowed), as milliseconds. */
export function parseSeconds(option: string, text: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !Number.isFinite(value) || value <= 0) {
    throw new LafsError('usage', `${option}: expected a positive number of seconds, got "${text}"`);
  }
  return Math.round(value * 1000);
}

export function parseCount(option: string, text: string): number {
  if (!/^[1-9]\d{0,5}$/.test(text.trim())) throw new LafsError('usage', `${option}: expected a positive whole number, got "${text}"`);
  return Number(text);
}

/** `--vkey` is the key itself (`name+hex+base64`) or a file holding it. */
export function readVerifierKey(arg: string): string {
  if (!arg.includes('+') && existsSync(arg) && statSync(arg).isFile()) return readFileSync(arg, 'utf8').trim();
  if (arg.includes('+')) return arg.trim();
  throw new LafsError('usage', `--vkey: "${arg}" is neither a verifier key (name+hex+base64) nor a readable file`);
}

/** The origin a verifier key names (its part before the first '+'). */
export function originOfKey(verifierKey: string): string {
  const name = verifierKey.split('+')[0] ?? '';
  if (!name) throw new LafsError('usage', '--vkey: the verifier key has no name');
  return name;
}

/** A directory name from an origin: anything but [A-Za-z0-9._-] becomes '_'. */
export function sanitizeOrigin(origin: string): string {
  const name = origin.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return name.length > 0 ? name.slice(0, 200) : '_';
}

/** $XDG_DATA_HOME/lafs/monitor/<origin>, or ~/.local/share/lafs/monitor/<origin>. */
export function defaultStateDir(origin: string, env: NodeJS.ProcessEnv = process.env): string {
  const dataHome = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(env.HOME || homedir(), '.local', 'share');
  return join(dataHome, 'lafs', 'monitor', sanitizeOrigin(origin));
}

/**
 * `--trust`: comma-separated builder fingerprints (40 or 64 hex) and/or files, each an OpenPGP
 * public key (armored or binary) or a text file with one fingerprint per line (# comments).
 */
export async function parseTrust(arg: string): Promise<Set<string>> {
  const trusted = new Set<string>();
  for (const item of arg.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (/^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/.test(item)) {
      trusted.add(item.toLowerCase());
      continue;
    }
    if (!existsSync(item)) throw new LafsError('usage', `--trust: "${item}" is neither a fingerprint (40 or 64 hex) nor an existing file`);
    const bytes = readFileSync(item);
    const text = bytes.toString('utf8');
    if (text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----') || (bytes.length > 0 && (bytes[0]! & 0x80) !== 0)) {
      try {
        trusted.add(await fingerprintOf(text.includes('-----BEGIN') ? text : new Uint8Array(bytes)));
      } catch (error) {
        throw new LafsError('usage', `--trust: ${item}: ${(error as Error).message}`);
      }
      continue;
    }
    text.split('\n').forEach((line, i) => {
      const value = line.replace(/#.*/, '').trim();
      if (!value) return;
      if (!/^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/.test(value)) throw new LafsError('usage', `--trust: ${item} line ${i + 1}: expected a fingerprint (40 or 64 hex)`);
      trusted.add(value.toLowerCase());
    });
  }
  if (trusted.size === 0) throw new LafsError('usage', '--trust: no builder given');
  return trusted;
}
