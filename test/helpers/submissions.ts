/**
 * Signed submissions for tests, made quickly in-process with openpgp.js: Ed25519 builder keys,
 * lafs-attestation/v1 statements (DESIGN.md section 3), and the JSON bodies of
 * `POST /v1/entries` (docs/http-api.md), plus bodies built from the real guix.sigs fixture.
 *
 * Nothing here verifies anything: it only produces inputs, so the code under test does the checking.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { fixturesDir } from './tmp.js';

export interface TestBuilder {
  name: string;
  /** Primary key fingerprint, lowercase hex (the builder id). */
  fingerprint: string;
  armoredPublicKey: string;
  publicKey: Uint8Array; // binary transferable public key
  privateKey: openpgp.PrivateKey;
}

/** A fresh Ed25519 (EdDSA, v4, gpg-compatible) builder key. Takes a few milliseconds. */
export async function makeBuilder(name = 'Test Builder', email = 'builder@example.org'): Promise<TestBuilder> {
  // Created an hour ago so that a signature made "now" is never older than its key.
  const date = new Date(Date.now() - 3_600_000);
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name, email }], date, format: 'object' });
  return {
    name,
    fingerprint: privateKey.getFingerprint().toLowerCase(),
    armoredPublicKey: publicKey.armor(),
    publicKey: publicKey.write(),
    privateKey,
  };
}

export interface StatementInput {
  source: string; // sha256:<hex> or git:<hex>
  platform: string;
  artifacts: { name: string; sha256: string }[];
}

/** The canonical statement text (artifacts sorted by name, LF endings, final newline). */
export function statementText(s: StatementInput): string {
  const artifacts = [...s.artifacts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return ['lafs-attestation/v1', `source ${s.source}`, `platform ${s.platform}`, ...artifacts.map((a) => `artifact sha256:${a.sha256} ${a.name}`)].join('\n') + '\n';
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A random valid statement: a random source digest, one platform, `artifacts` random artifacts. */
export function randomStatement(options: { platform?: string; artifacts?: number; source?: string } = {}): StatementInput {
  const count = options.artifacts ?? 1;
  const tag = randomBytes(4).toString('hex');
  return {
    source: options.source ?? `sha256:${randomBytes(32).toString('hex')}`,
    platform: options.platform ?? 'x86_64-linux-gnu',
    artifacts: Array.from({ length: count }, (_, i) => ({ name: `pkg-${tag}-${i}.tar.gz`, sha256: randomBytes(32).toString('hex') })),
  };
}

/** Detached OpenPGP signature over exactly `data`, binary or ASCII-armored. */
export async function signDetached(builder: TestBuilder, data: string | Uint8Array, armor = false): Promise<Uint8Array | string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const message = await openpgp.createMessage({ binary: bytes });
  if (armor) return openpgp.sign({ message, signingKeys: builder.privateKey, detached: true, format: 'armored' });
  return openpgp.sign({ message, signingKeys: builder.privateKey, detached: true, format: 'binary' });
}

export type EntryBody = Record<string, unknown>;

/** Base64 of binary, or the armored text as it is: the two encodings the API accepts. */
function asField(value: Uint8Array | string): string {
  return typeof value === 'string' ? value : Buffer.from(value).toString('base64');
}

/**
 * JSON body of a lafs-attestation/v1 submission. `armor: true` sends the signature and key
 * ASCII-armored, otherwise base64 of their binary forms.
 */
export async function attestationBody(builder: TestBuilder, statement: StatementInput | string, options: { armor?: boolean } = {}): Promise<EntryBody> {
  const text = typeof statement === 'string' ? statement : statementText(statement);
  const signature = await signDetached(builder, text, options.armor ?? false);
  return {
    kind: 'lafs-attestation/v1',
    statement: text,
    signature: asField(signature),
    publicKey: options.armor ? builder.armoredPublicKey : asField(builder.publicKey),
  };
}

/** `count` distinct signed attestation bodies from `builders` (round robin), made concurrently. */
export async function manyAttestationBodies(builders: readonly TestBuilder[], count: number): Promise<EntryBody[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => attestationBody(builders[i % builders.length]!, randomStatement())));
}

/** JSON body of a sha256sums submission signed by a test builder. */
export async function sumsBody(builder: TestBuilder, sums: string | Uint8Array, claims: Record<string, unknown>, options: { armor?: boolean } = {}): Promise<EntryBody> {
  const bytes = typeof sums === 'string' ? new TextEncoder().encode(sums) : sums;
  const signature = await signDetached(builder, bytes, options.armor ?? false);
  return { kind: 'sha256sums', sums: Buffer.from(bytes).toString('base64'), signature: asField(signature), publicKey: options.armor ? builder.armoredPublicKey : asField(builder.publicKey), claims };
}

// ---- the real guix.sigs fixture (Bitcoin Core 27.0) ----

export const guixSigsDir = join(fixturesDir, 'guix-sigs');
/** Platform from a Bitcoin Core release file name, e.g. bitcoin-27.0-x86_64-linux-gnu-debug.tar.gz -> x86_64-linux-gnu. */
export const BITCOIN_PLATFORM_REGEX = '^bitcoin-[0-9.]+(?:rc[0-9]+)?-(?<platform>[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*?)(?:-debug|-unsigned|-setup-unsigned|-setup|-codesigning)?\\.(?:tar\\.gz|zip|exe|dmg)$';

/** Builders whose 27.0 signature needs an older key file than builder-keys/<name>.gpg. */
const OLDER_KEYS: Record<string, string> = { davidgumberg: 'davidgumberg.2024-04.gpg', svanstaa: 'svanstaa.2023-04.gpg' };

export interface GuixEntry {
  builder: string; // folder name in the fixture
  file: 'all' | 'noncodesigned';
  sums: Uint8Array;
  signatureArmored: string;
  publicKeyArmored: string;
  /** sha256 of the bitcoin-27.0.tar.gz line: the source claim. */
  source: string;
}

export function guixEntry(builder: string, file: 'all' | 'noncodesigned' = 'noncodesigned'): GuixEntry {
  const dir = join(guixSigsDir, '27.0', builder);
  const sums = readFileSync(join(dir, `${file}.SHA256SUMS`));
  const signatureArmored = readFileSync(join(dir, `${file}.SHA256SUMS.asc`), 'utf8');
  const publicKeyArmored = readFileSync(join(guixSigsDir, 'builder-keys', OLDER_KEYS[builder] ?? `${builder}.gpg`), 'utf8');
  const line = sums.toString('utf8').split('\n').find((l) => l.endsWith('  bitcoin-27.0.tar.gz'));
  if (!line) throw new Error(`${builder}/${file}: no bitcoin-27.0.tar.gz line`);
  return { builder, file, sums: new Uint8Array(sums), signatureArmored, publicKeyArmored, source: `sha256:${line.slice(0, 64)}` };
}

/** Every (builder, file) pair present in the fixture: 35 in all. */
export function guixEntries(): GuixEntry[] {
  const builders = ['0xb10c', 'CoinForensics', 'Emzy', 'Sjors', 'TheCharlatan', 'achow101', 'davidgumberg', 'fanquake', 'glozow', 'guggero', 'hebasto', 'jackielove4u', 'kvaciral', 'laanwj', 'luke-jr', 'pinheadmz', 'svanstaa', 'theStack', 'willcl-ark'];
  const out: GuixEntry[] = [];
  for (const b of builders) {
    for (const file of ['noncodesigned', 'all'] as const) {
      try {
        out.push(guixEntry(b, file));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }
  return out;
}

/** The POST /v1/entries body of a guix.sigs entry: sums base64, signature and key armored, platform from the file name. */
export function guixBody(entry: GuixEntry, options: { binaryKey?: boolean } = {}): EntryBody {
  let publicKey: string = entry.publicKeyArmored;
  if (options.binaryKey) publicKey = Buffer.from(dearmor(entry.publicKeyArmored)).toString('base64');
  return {
    kind: 'sha256sums',
    sums: Buffer.from(entry.sums).toString('base64'),
    signature: entry.signatureArmored,
    publicKey,
    claims: { source: entry.source, platformRegex: BITCOIN_PLATFORM_REGEX },
  };
}

/** Binary body of an ASCII-armored block (test-side only; ignores the CRC line). */
export function dearmor(armored: string): Uint8Array {
  const lines = armored.replace(/\r/g, '').split('\n');
  const start = lines.findIndex((l) => l.startsWith('-----BEGIN '));
  const end = lines.findIndex((l, i) => i > start && l.startsWith('-----END '));
  if (start < 0 || end < 0) throw new Error('not an ASCII-armored block');
  let i = start + 1;
  while (i < end && lines[i]!.trim() !== '') i++; // armor headers end at the first empty line
  const body = lines.slice(i + 1, end).filter((l) => !l.startsWith('='));
  return new Uint8Array(Buffer.from(body.join(''), 'base64'));
}
