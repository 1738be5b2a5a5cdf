/**
 * The machine's signature-verification limits, measured in the calling process so every
 * benchmark can print its figures next to the limit of the same run (DESIGN.md section 6).
 *
 * - measureOpenpgpVerifyRate: detached OpenPGP signatures over a ~500-byte statement verified by
 *   attestation/openpgp.ts `verifyDetached` (openpgp.js underneath) on one core: the per-entry
 *   cost the log server and the monitor pay. By default the parsed key is cached (the server
 *   sees the same builders again and again); `cachedKey: false` re-parses the key every time.
 * - measureOpenpgpJsRate: openpgp.js's own high-level `verify` with an already parsed key.
 * - measureNodeEd25519Rate: the raw Ed25519 primitive of node:crypto over the same bytes.
 * - measureLimitsInFreshProcesses: the first two, each in several fresh processes (limit-probe.ts),
 *   for the openpgp.js rate that differs from one process to the next (see there).
 * Keys are made by openpgp.js in-process (no gpg needed): a v4 EdDSA (legacy Ed25519, as gpg
 * makes it) and an RSA-3072 key.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import * as openpgp from 'openpgp';
import { clearKeyCache, verifyDetached } from '../attestation/openpgp.js';
import { buildLeaf } from '../attestation/record.js';

export type BenchKeyType = 'eddsa' | 'rsa3072';

export interface SignedSample {
  type: BenchKeyType;
  statement: Uint8Array;
  signature: Uint8Array; // binary detached signature
  publicKey: Uint8Array; // binary public key
  privateKey: openpgp.PrivateKey;
}

/** A valid lafs-attestation/v1 statement of about `bytes` bytes (DESIGN.md section 3), distinct per `seed`. */
export function sampleStatement(seed = 0, bytes = 500): Uint8Array {
  const hex = (n: number): string => (n.toString(16).padStart(8, '0')).repeat(8);
  const lines = ['lafs-attestation/v1', `source sha256:${hex(seed)}`, 'platform x86_64-linux-gnu'];
  const artifact = (i: number): string => `artifact sha256:${hex(seed * 1000 + i + 1)} tool-${String(i).padStart(3, '0')}.tar.gz`;
  // Whole artifact lines until the statement is as close to `bytes` as lines allow.
  for (let i = 0; lines.join('\n').length + 1 < bytes - artifact(i).length / 2; i++) lines.push(artifact(i));
  return new TextEncoder().encode(lines.join('\n') + '\n');
}

const keyCache = new Map<BenchKeyType, Promise<openpgp.PrivateKey>>();

function benchKey(type: BenchKeyType): Promise<openpgp.PrivateKey> {
  let key = keyCache.get(type);
  if (!key) {
    const userIDs = [{ name: `Bench ${type}`, email: `${type}@bench.example.org` }];
    key = (type === 'eddsa'
      ? openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs, format: 'object' })
      : openpgp.generateKey({ type: 'rsa', rsaBits: 3072, userIDs, format: 'object' })
    ).then((k) => k.privateKey);
    keyCache.set(type, key);
  }
  return key;
}

/** Signs `statement` (default: a 500-byte statement) with a bench key of `type`. */
export async function signedSample(type: BenchKeyType, statement = sampleStatement()): Promise<SignedSample> {
  const privateKey = await benchKey(type);
  const signature = (await openpgp.sign({ message: await openpgp.createMessage({ binary: statement }), signingKeys: privateKey, detached: true, format: 'binary' })) as Uint8Array;
  return { type, statement, signature, publicKey: privateKey.toPublic().write() as Uint8Array, privateKey };
}

/**
 * Runs `once` back to back for about `ms` in three rounds and returns the best round's
 * completions per second: on a shared, busy machine the best round is the closest estimate of
 * what a core can do.
 */
async function rate(ms: number, once: () => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < 20; i++) await once(); // warm up (JIT, caches)
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < ms / 3) {
      for (let k = 0; k < 10; k++) await once();
      n += 10;
      elapsed = performance.now() - start;
    }
    best = Math.max(best, n / (elapsed / 1000));
  }
  return best;
}

/** Single-core verifyDetached rate (verifies/s) for `type` (default eddsa, as gpg's default key), key cached unless `cachedKey: false`. */
export async function measureOpenpgpVerifyRate(ms = 2000, options: { type?: BenchKeyType; cachedKey?: boolean } = {}): Promise<number> {
  const sample = await signedSample(options.type ?? 'eddsa');
  const cached = options.cachedKey ?? true;
  return rate(ms, async () => {
    if (!cached) clearKeyCache();
    const result = await verifyDetached(sample.statement, sample.signature, sample.publicKey);
    if (!result.ok) throw new Error(`bench signature did not verify: ${result.reason}`);
  });
}

/**
 * Single-core rate of the whole submission path, record.ts buildLeaf (parse the statement,
 * minimize the submitted full key, verify, encode), with the key caches warm (builds/s).
 */
export async function measureBuildLeafRate(ms = 2000, type: BenchKeyType = 'eddsa'): Promise<number> {
  const sample = await signedSample(type);
  return rate(ms, () => buildLeaf({ kind: 'lafs-attestation/v1', signed: sample.statement, signature: sample.signature, publicKey: sample.publicKey }));
}

/** openpgp.js's high-level verify with an already parsed key and signature message re-read each time (verifies/s). */
export async function measureOpenpgpJsRate(ms = 2000, type: BenchKeyType = 'eddsa'): Promise<number> {
  const sample = await signedSample(type);
  const verificationKeys = sample.privateKey.toPublic();
  return rate(ms, async () => {
    const { signatures } = await openpgp.verify({
      message: await openpgp.createMessage({ binary: sample.statement }),
      signature: await openpgp.readSignature({ binarySignature: sample.signature }),
      verificationKeys,
      expectSigned: false,
    });
    await signatures[0]!.verified;
  });
}

/** node:crypto's raw Ed25519 verify over a `bytes`-byte message (verifies/s). */
export async function measureNodeEd25519Rate(ms = 2000, bytes = 500): Promise<number> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const message = sampleStatement(0, bytes);
  const signature = cryptoSign(null, message, privateKey);
  return rate(ms, () => {
    if (!cryptoVerify(null, message, publicKey, signature)) throw new Error('ed25519 bench signature did not verify');
  });
}

/** The middle value (the upper one of the two middle values of an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
}

/** One-core rates measured by limit-probe.js in `count` fresh processes, one after the other. */
export interface ProcessLimits { openpgpJs: number[]; project: number[] }

/**
 * The openpgp.js rate is a property of the process as much as of the machine: V8 settles on code
 * of different speed in different processes, so one process measures about 1,600/s for the whole
 * of its life and the next about 2,100/s (twelve 1 s windows each, 2026-12-01). One process, the
 * benchmark's own included, is therefore one draw; this takes several, each in a fresh process
 * that does nothing else. Run it while nothing else is busy.
 */
export function measureLimitsInFreshProcesses(count: number, ms = 2000): ProcessLimits {
  const probe = new URL('./limit-probe.js', import.meta.url).pathname;
  const out: ProcessLimits = { openpgpJs: [], project: [] };
  for (let i = 0; i < count; i++) {
    const { openpgpJs, project } = JSON.parse(execFileSync(process.execPath, [probe, String(ms)], { encoding: 'utf8' })) as { openpgpJs: number; project: number };
    out.openpgpJs.push(openpgpJs);
    out.project.push(project);
  }
  return out;
}
