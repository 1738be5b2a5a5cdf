/**
 * A throwaway GnuPG home for tests: real `gpg` makes the keys and signatures the verifier is
 * tested against. Unprotected keys (`%no-protection`, empty passphrase, loopback pinentry), a
 * private GNUPGHOME in a temp dir, the agent killed and the dir removed when the process exits.
 * `--faked-system-time` backdates key creation, self-signatures, revocations and signatures, so
 * expiry and revocation cases are made by gpg itself.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type GpgKeyType = 'rsa1024' | 'rsa2048' | 'rsa3072' | 'rsa4096' | 'dsa2048' | 'ed25519' | 'nistp256' | 'nistp384';

export interface GpgKeyOptions {
  /** Real name of the one user ID (the e-mail is derived from it). */
  name: string;
  type?: GpgKeyType; // default rsa3072
  /** Make the primary key certify-only and add a signing subkey of this type. */
  signingSubkey?: GpgKeyType;
  /** Add an encryption subkey (RSA for RSA keys, cv25519 otherwise). */
  encryptionSubkey?: boolean;
  /** gpg Expire-Date: "0" (never, default), "1y", "30d", ... counted from `createdAt`. */
  expire?: string;
  /** Creation time (gpg --faked-system-time); default now. */
  createdAt?: Date;
}

export interface GpgSignOptions {
  armor?: boolean;
  digest?: 'SHA256' | 'SHA512' | 'SHA1';
  /** Signature type 0x01 (canonical text) instead of 0x00 (binary). */
  textmode?: boolean;
  /** Signature creation time (gpg --faked-system-time). */
  at?: Date;
}

export type RevocationReason = 'none' | 'compromised' | 'superseded' | 'retired';

export interface GpgResult { stdout: Buffer; stderr: string; code: number }

const gpgKeyParams: Record<GpgKeyType, string[]> = {
  rsa1024: ['RSA', 'Length: 1024'],
  rsa2048: ['RSA', 'Length: 2048'],
  rsa3072: ['RSA', 'Length: 3072'],
  rsa4096: ['RSA', 'Length: 4096'],
  dsa2048: ['DSA', 'Length: 2048'],
  ed25519: ['EDDSA', 'Curve: ed25519'],
  nistp256: ['ECDSA', 'Curve: nistp256'],
  nistp384: ['ECDSA', 'Curve: nistp384'],
};

const isRsa = (type: GpgKeyType): boolean => type.startsWith('rsa');

const homes: GpgHome[] = [];
process.on('exit', () => {
  for (const home of homes) home.closeSync();
});

let counter = 0;

export class GpgHome {
  readonly dir: string;
  private closed = false;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** A fresh, empty GNUPGHOME (short path: the agent's socket path must stay under 108 bytes). */
  static create(): GpgHome {
    const dir = mkdtempSync(join(tmpdir(), 'lafs-gpg-'));
    writeFileSync(join(dir, 'gpg-agent.conf'), 'allow-loopback-pinentry\n');
    writeFileSync(join(dir, 'gpg.conf'), 'no-auto-key-locate\nno-auto-key-retrieve\n');
    const home = new GpgHome(dir);
    homes.push(home);
    return home;
  }

  /**
   * Runs gpg in this home; `at` freezes its clock (--faked-system-time). Rejects on non-zero exit
   * unless `allowFailure`. `interactive` drops --batch for the few commands gpg refuses in batch
   * mode (answers then come on --command-fd 0).
   */
  gpg(args: readonly string[], options: { input?: string | Uint8Array; at?: Date; allowFailure?: boolean; interactive?: boolean } = {}): Promise<GpgResult> {
    // One gpg at a time per home: concurrent runs race on the keybox (a reader can catch it mid-rewrite).
    const run = this.queue.then(() => this.spawnGpg(args, options));
    this.queue = run.then(() => undefined, () => undefined);
    return run;
  }

  private queue: Promise<void> = Promise.resolve();

  private spawnGpg(args: readonly string[], options: { input?: string | Uint8Array; at?: Date; allowFailure?: boolean; interactive?: boolean }): Promise<GpgResult> {
    const timeArgs = options.at ? ['--faked-system-time', `${Math.floor(options.at.getTime() / 1000)}!`] : [];
    const fullArgs = ['--homedir', this.dir, ...(options.interactive ? [] : ['--batch']), '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...timeArgs, ...args];
    return new Promise((resolve, reject) => {
      const child = execFile('gpg', fullArgs, { encoding: 'buffer', timeout: 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GNUPGHOME: this.dir, LC_ALL: 'C' } }, (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0;
        const result = { stdout, stderr: stderr.toString('utf8'), code };
        if (code !== 0 && !options.allowFailure) reject(new Error(`gpg ${args.join(' ')} failed (${code}): ${result.stderr}`));
        else resolve(result);
      });
      child.stdin!.on('error', () => undefined); // gpg may exit before reading its input; its exit code tells
      child.stdin!.end(options.input ?? '');
    });
  }

  /** Generates a key and returns its primary fingerprint (uppercase, as gpg prints it). */
  async generateKey(options: GpgKeyOptions): Promise<string> {
    const type = options.type ?? 'rsa3072';
    const [algo, size] = gpgKeyParams[type];
    const email = `${options.name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}.${++counter}@example.org`;
    const lines = ['%no-protection', `Key-Type: ${algo}`, `Key-${size}`];
    lines.push(`Key-Usage: ${options.signingSubkey ? 'cert' : 'sign'}`);
    if (options.signingSubkey) {
      const [subAlgo, subSize] = gpgKeyParams[options.signingSubkey];
      lines.push(`Subkey-Type: ${subAlgo}`, `Subkey-${subSize}`, 'Subkey-Usage: sign');
    }
    lines.push(`Name-Real: ${options.name}`, `Name-Email: ${email}`, `Expire-Date: ${options.expire ?? '0'}`, '%commit', '');
    const result = await this.gpg(['--status-fd', '1', '--gen-key'], { input: lines.join('\n'), ...(options.createdAt ? { at: options.createdAt } : {}) });
    const created = /KEY_CREATED \w+ ([0-9A-F]{40})/.exec(result.stdout.toString('utf8'));
    if (!created) throw new Error(`gpg --gen-key printed no KEY_CREATED: ${result.stderr}`);
    const fingerprint = created[1]!;
    if (options.encryptionSubkey) {
      const encAlgo = isRsa(type) ? type : 'cv25519';
      await this.gpg(['--quick-add-key', fingerprint, encAlgo, 'encr', options.expire ?? '0'], options.createdAt ? { at: options.createdAt } : {});
    }
    return fingerprint;
  }

  async exportPublicKey(fingerprint: string, armor = false): Promise<Uint8Array> {
    const out = (await this.gpg([...(armor ? ['--armor'] : []), '--export', fingerprint])).stdout;
    if (out.length === 0) throw new Error(`gpg exported nothing for ${fingerprint}`);
    return new Uint8Array(out);
  }

  async exportSecretKey(fingerprint: string): Promise<Uint8Array> {
    return new Uint8Array((await this.gpg(['--export-secret-keys', fingerprint])).stdout);
  }

  /** Key IDs (16 uppercase hex) of the key's subkeys, in gpg's listing order, with their capabilities. */
  async subkeys(fingerprint: string): Promise<{ keyId: string; fingerprint: string; capabilities: string }[]> {
    const colons = (await this.gpg(['--with-colons', '--list-keys', fingerprint])).stdout.toString('utf8').split('\n');
    const subs: { keyId: string; fingerprint: string; capabilities: string }[] = [];
    for (let i = 0; i < colons.length; i++) {
      const fields = colons[i]!.split(':');
      if (fields[0] !== 'sub') continue;
      const fpr = colons[i + 1]?.split(':')[9] ?? '';
      subs.push({ keyId: fields[4]!, fingerprint: fpr, capabilities: fields[11]! });
    }
    return subs;
  }

  /** A detached signature over `data` by the key (gpg picks its signing (sub)key). */
  async sign(fingerprint: string, data: Uint8Array | string, options: GpgSignOptions = {}): Promise<Uint8Array> {
    const args = ['--local-user', fingerprint, '--detach-sign', '--digest-algo', options.digest ?? 'SHA256'];
    if (options.armor) args.unshift('--armor');
    if (options.textmode) args.unshift('--textmode');
    const out = (await this.gpg(args, { input: data, ...(options.at ? { at: options.at } : {}) })).stdout;
    return new Uint8Array(out);
  }

  /** Sets the primary key's expiry ("0", "1y", or an ISO date) by a new self-signature made at `at`. */
  async setExpire(fingerprint: string, expire: string, at?: Date): Promise<void> {
    await this.gpg(['--quick-set-expire', fingerprint, expire], at ? { at } : {});
  }

  /** Sets the expiry of all subkeys of the key ("0", "1y", an ISO date) by new binding signatures made at `at`. */
  async setSubkeysExpire(fingerprint: string, expire: string, at?: Date): Promise<void> {
    await this.gpg(['--quick-set-expire', fingerprint, expire, '*'], at ? { at } : {});
  }

  /**
   * Revokes the key with a revocation certificate made by gpg itself (`--gen-revoke`, answers
   * given on --command-fd), dated `at`, with the given reason, and imports it.
   */
  async revoke(fingerprint: string, reason: RevocationReason, at?: Date): Promise<void> {
    const code = { none: '0', compromised: '1', superseded: '2', retired: '3' }[reason];
    const answers = ['y', code, '', 'y', ''].join('\n');
    const cert = await this.gpg(['--armor', '--command-fd', '0', '--status-fd', '2', '--gen-revoke', fingerprint], { input: answers, interactive: true, ...(at ? { at } : {}) });
    if (!cert.stdout.toString('utf8').includes('BEGIN PGP PUBLIC KEY BLOCK')) throw new Error(`gpg --gen-revoke made no certificate: ${cert.stderr}`);
    await this.gpg(['--import'], { input: cert.stdout });
  }

  /** gpg's own verdict on a detached signature: its exit code and --status-fd lines (VALIDSIG, EXPKEYSIG, REVKEYSIG, BADSIG...). */
  async verify(data: Uint8Array, signature: Uint8Array): Promise<{ code: number; status: string[] }> {
    const dir = mkdtempSync(join(this.dir, 'v-'));
    const dataPath = join(dir, 'data');
    const sigPath = join(dir, 'data.sig');
    writeFileSync(dataPath, data);
    writeFileSync(sigPath, signature);
    const result = await this.gpg(['--status-fd', '1', '--verify', sigPath, dataPath], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
    const status = result.stdout.toString('utf8').split('\n').filter((l) => l.startsWith('[GNUPG:] ')).map((l) => l.slice(9));
    return { code: result.code, status };
  }

  /** Primary fingerprints (uppercase) of the keys in a key file, as `gpg --with-colons --show-keys` reads them. */
  async showKeyFingerprints(keyFile: string): Promise<string[]> {
    const lines = (await this.gpg(['--with-colons', '--show-keys', keyFile])).stdout.toString('utf8').split('\n');
    const out: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.startsWith('pub:')) out.push(lines[i + 1]!.split(':')[9]!);
    }
    return out;
  }

  async importKey(keyFile: string): Promise<void> {
    await this.gpg(['--import', keyFile]);
  }

  /** Kills this home's agent and removes the directory (also done at process exit). */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      execFileSync('gpgconf', ['--homedir', this.dir, '--kill', 'all'], { stdio: 'ignore', env: { ...process.env, GNUPGHOME: this.dir }, timeout: 10_000 });
    } catch {
      // no agent was started
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
