/**
 * OpenPGP detached-signature verification with a gpg-compatible validity policy
 * (DESIGN.md section 3: "a signature counts if it was made while its key was valid").
 *
 * The idea: openpgp.js parses the packets, node:crypto checks the cryptography
 * (openpgp-native.ts; openpgp.js's own verifier for the rest), and this module decides validity
 * itself. openpgp.js's high-level `verify` evaluates the key at one date with its own
 * strict policy, and rejects real builder keys that gpg accepts (see
 * ../shared/fixtures/guix-sigs/README.md). So we:
 *   1. parse the key once (cached by the SHA-256 of its bytes) and check every self-signature,
 *      binding signature and revocation cryptographically, once;
 *   2. verify the data signature packet cryptographically against the issuing (sub)key;
 *   3. decide, from the verified self-signatures, whether that key was valid at the signature's
 *      creation time T, the way gpg does (docs/signatures.md states the policy in plain words);
 *   4. record what a stricter verifier (openpgp.js defaults, Sequoia) would object to as
 *      `warnings`, without rejecting.
 * Every rule below is a small function whose comment says which gpg behaviour it mirrors.
 */
import { hash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { LafsError, type Checked } from '../merkle/errors.js';
import { nativeSupports, verifyNative } from './openpgp-native.js';

export interface SignatureCheck {
  builder: string; // primary key fingerprint, lowercase hex (canonical form)
  signingKeyId: string; // key ID (16 lowercase hex) of the key that made the signature
  created: Date;
  publicKeyAlgorithm: string; // 'rsa' | 'ecdsa' | 'eddsa' (legacy Ed25519) | 'ed25519' | 'ed448'
  hashAlgorithm: string; // 'sha256' | 'sha512' ...
  warnings: string[]; // policy objections a stricter implementation would raise (e.g. key expired since)
}

// ---------------------------------------------------------------------------------------------
// openpgp.js internals this module relies on (present in 6.3, missing from its .d.ts).

interface SignatureInternals {
  read(bytes: Uint8Array, config?: openpgp.Config): void;
}
interface EcdsaPublicParams { oid: { oid: Uint8Array; getName(): string }; Q: Uint8Array }
type KeyPacket = openpgp.PublicKeyPacket | openpgp.PublicSubkeyPacket;
const internals = (sig: openpgp.SignaturePacket): SignatureInternals => sig as unknown as SignatureInternals;

const { enums } = openpgp;

/**
 * openpgp.js configuration used for parsing and for the cryptographic check only: its policy
 * switches are opened because the policy is decided here (MD5 stays refused everywhere; weak
 * hashes on data signatures are refused by DATA_HASHES with a clear reason).
 */
const cryptoConfig: openpgp.Config = {
  ...openpgp.config,
  rejectHashAlgorithms: new Set([enums.hash.md5]),
  rejectMessageHashAlgorithms: new Set([enums.hash.md5]),
  rejectPublicKeyAlgorithms: new Set(),
  rejectCurves: new Set(),
  minRSABits: 0,
};

/** RSA keys outside these sizes are refused (DESIGN.md: RSA 2048–4096; gpg itself still takes 1024, and makes at most 4096 without --enable-large-rsa). */
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 4096;

const KEY_FLAG_SIGN = 0x02;

/** Clock skew tolerated on a signature's creation time. */
const FUTURE_SKEW_MS = 60 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// Input decoding: armored or binary, strictly one object.

const textDecoder = new TextDecoder('utf-8', { fatal: false });

const ARMOR_START = new TextEncoder().encode('-----BEGIN PGP ');

function looksArmored(input: Uint8Array | string): boolean {
  if (typeof input !== 'string' && input.length > 0) {
    // Decided from the first byte where the decoding below cannot change the answer: a printable
    // ASCII character is not whitespace, so it must start the armor header; a UTF-8 continuation
    // byte (binary OpenPGP's old-format packet headers, 0x80-0xBF) decodes to U+FFFD, not
    // whitespace either. Anything else (whitespace, a UTF-8 lead byte) takes the decoding path.
    const first = input[0]!;
    if (first > 0x20 && first < 0x7f) return input.length >= ARMOR_START.length && ARMOR_START.every((b, i) => input[i] === b);
    if (first >= 0x80 && first < 0xc0) return false;
  }
  const head = typeof input === 'string' ? input.slice(0, 200) : textDecoder.decode(input.subarray(0, 200));
  return head.trimStart().startsWith('-----BEGIN PGP ');
}

async function dearmor(input: Uint8Array | string, expected: openpgp.enums.armor, what: string, code: 'bad-signature' | 'bad-key'): Promise<Uint8Array> {
  const text = typeof input === 'string' ? input : textDecoder.decode(input);
  let result: { type: openpgp.enums.armor; data: Uint8Array };
  try {
    const unarmored = await openpgp.unarmor(text);
    result = { type: unarmored.type as openpgp.enums.armor, data: await readAll(unarmored.data as Uint8Array) };
  } catch (error) {
    throw new LafsError(code, `${what}: bad ASCII armor (${messageOf(error)})`, { cause: error });
  }
  if (result.type !== expected) throw new LafsError(code, `${what}: armor is a ${enums.read(enums.armor, result.type)}, expected a ${enums.read(enums.armor, expected)}`);
  return result.data;
}

async function readAll(data: unknown): Promise<Uint8Array> {
  if (data instanceof Uint8Array) return data;
  throw new Error('armor did not decode to bytes');
}

interface RawPacket { tag: number; body: Uint8Array }

/**
 * Splits binary OpenPGP data into packets (RFC 9580 section 4.2: old and new format headers).
 * Used to insist that a signature input is exactly one signature packet and nothing else,
 * which openpgp.js's lenient readers do not check. Partial lengths are refused: no signature
 * or key packet uses them.
 */
function splitPackets(bytes: Uint8Array, what: string, code: 'bad-signature' | 'bad-key'): RawPacket[] {
  const packets: RawPacket[] = [];
  let i = 0;
  const need = (n: number): void => {
    if (i + n > bytes.length) throw new LafsError(code, `${what}: truncated packet at byte ${i}`);
  };
  while (i < bytes.length) {
    const start = i;
    const header = bytes[i++]!;
    if ((header & 0x80) === 0) throw new LafsError(code, `${what}: byte ${start} is not an OpenPGP packet header`);
    let tag: number;
    let length: number;
    if (header & 0x40) {
      tag = header & 0x3f;
      need(1);
      const first = bytes[i++]!;
      if (first < 192) length = first;
      else if (first < 224) {
        need(1);
        length = ((first - 192) << 8) + bytes[i++]! + 192;
      } else if (first === 255) {
        need(4);
        length = ((bytes[i]! << 24) >>> 0) + (bytes[i + 1]! << 16) + (bytes[i + 2]! << 8) + bytes[i + 3]!;
        i += 4;
      } else throw new LafsError(code, `${what}: partial-length packet at byte ${start} is not allowed here`);
    } else {
      tag = (header >> 2) & 0x0f;
      const lengthType = header & 0x03;
      if (lengthType === 3) throw new LafsError(code, `${what}: indeterminate-length packet at byte ${start} is not allowed here`);
      const size = 1 << lengthType;
      need(size);
      length = 0;
      for (let k = 0; k < size; k++) length = length * 256 + bytes[i++]!;
    }
    need(length);
    packets.push({ tag, body: bytes.subarray(i, i + length) });
    i += length;
  }
  return packets;
}

/** Armored or binary signature -> the binary signature bytes; throws LafsError('bad-signature'). */
export async function readSignature(input: Uint8Array | string): Promise<Uint8Array> {
  const binary = await signatureBinary(input);
  parseSignaturePacket(binary);
  return binary;
}

async function signatureBinary(input: Uint8Array | string): Promise<Uint8Array> {
  if (looksArmored(input)) return dearmor(input, enums.armor.signature, 'signature', 'bad-signature');
  if (typeof input === 'string') throw new LafsError('bad-signature', 'signature: text given but it is not an ASCII-armored PGP signature');
  return input;
}

/**
 * The signature packet of a binary signature (as readSignature returns it) in one canonical
 * framing: a new-format header (RFC 9580 section 4.2.1) with the shortest length encoding, then
 * the packet body exactly as given. The same signature can arrive with an old-format header (gpg
 * writes those) or a new-format one, with 1-, 2- or 4-octet lengths; the framing is not covered by
 * the signature, so a leaf built from the bytes as submitted would differ per framing and the log
 * would take one signature twice. Throws LafsError('bad-signature').
 */
export function canonicalSignature(binary: Uint8Array): Uint8Array {
  return parseCanonical(binary).bytes;
}

/**
 * A submitted signature (armored or binary), read once: its canonical bytes (canonicalSignature)
 * and the packet parsed from them, so that building a leaf parses the packet one time, not once
 * per step (read, re-frame, verify). Opaque outside this module; see verifyPrepared.
 */
export interface PreparedSignature {
  readonly bytes: Uint8Array;
  /** @internal */ readonly packet: openpgp.SignaturePacket;
}

/** readSignature + canonicalSignature with one parse; throws LafsError('bad-signature') as they do. */
export async function prepareSignature(input: Uint8Array | string): Promise<PreparedSignature> {
  return parseCanonical(await signatureBinary(input));
}

function parseCanonical(binary: Uint8Array): PreparedSignature {
  const { tag, body } = onlySignaturePacket(binary);
  const n = body.length;
  const length = n < 192 ? [n] : n < 8384 ? [((n - 192) >> 8) + 192, (n - 192) & 0xff] : [0xff, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + length.length + n);
  out[0] = 0xc0 | tag;
  out.set(length, 1);
  out.set(body, 1 + length.length);
  // Parsed from the canonical copy: the packet checked is exactly the one stored, whatever becomes of `binary`.
  return { bytes: out, packet: readSignatureBody(out.subarray(1 + length.length)) };
}

/** Exactly one signature packet, parsed by openpgp.js; throws LafsError('bad-signature'). */
function parseSignaturePacket(binary: Uint8Array): openpgp.SignaturePacket {
  return readSignatureBody(onlySignaturePacket(binary).body);
}

function onlySignaturePacket(binary: Uint8Array): RawPacket {
  if (binary.length === 0) throw new LafsError('bad-signature', 'signature: empty');
  const packets = splitPackets(binary, 'signature', 'bad-signature');
  if (packets.length !== 1) throw new LafsError('bad-signature', `signature: expected exactly one OpenPGP packet, found ${packets.length}`);
  const packet = packets[0]!;
  if (packet.tag !== enums.packet.signature) throw new LafsError('bad-signature', `signature: packet tag ${packet.tag} is not a signature packet (2)`);
  return packet;
}

function readSignatureBody(body: Uint8Array): openpgp.SignaturePacket {
  const signature = new openpgp.SignaturePacket();
  try {
    internals(signature).read(body, cryptoConfig);
  } catch (error) {
    throw new LafsError('bad-signature', `signature: unreadable signature packet (${messageOf(error)})`, { cause: error });
  }
  return signature;
}

// ---------------------------------------------------------------------------------------------
// Keys: parse once, verify self-signatures once, cache by the key bytes' hash.

/** A self-signature (certification, direct-key or binding) that verified cryptographically. */
interface SelfSignature {
  packet: openpgp.SignaturePacket;
  created: Date;
  /** For subkey bindings: the subkey's primary-key-binding back-signature verified. */
  backSignatureValid: boolean;
  backSignatureHash: number | null;
}

interface Revocation { packet: openpgp.SignaturePacket; created: Date; reason: number | null; reasonText: string | null }

interface UserIdModel { packet: openpgp.UserIDPacket; selfSignatures: SelfSignature[]; revocations: Revocation[] }

interface SubkeyModel { packet: openpgp.PublicSubkeyPacket; bindings: SelfSignature[]; revocations: Revocation[] }

/** A public key with every self-signature already checked; all lists sorted oldest first. */
interface KeyModel {
  primary: openpgp.PublicKeyPacket;
  fingerprint: string;
  /** The primary user ID as gpg would choose it, or null for a key without user IDs (v6). */
  primaryUser: UserIdModel | null;
  /** Direct-key self-signatures (type 0x1F). */
  directSignatures: SelfSignature[];
  /** The self-signatures that state the primary key's expiry and flags (see keyLevelHistory), oldest first. */
  keySelfSignatures: SelfSignature[];
  revocations: Revocation[];
  subkeys: SubkeyModel[];
}

function byCreation<T extends { created: Date; packet: { write(): Uint8Array } }>(a: T, b: T): number {
  const d = a.created.getTime() - b.created.getTime();
  return d !== 0 ? d : compareBytes(a.packet.write(), b.packet.write());
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

async function readPublicKey(input: Uint8Array | string): Promise<openpgp.PublicKey> {
  let keys: openpgp.Key[];
  try {
    if (looksArmored(input)) {
      const text = typeof input === 'string' ? input : textDecoder.decode(input);
      keys = await openpgp.readKeys({ armoredKeys: text, config: cryptoConfig });
    } else {
      if (typeof input === 'string') throw new LafsError('bad-key', 'public key: text given but it is not an ASCII-armored PGP public key');
      if (input.length === 0) throw new LafsError('bad-key', 'public key: empty');
      splitPackets(input, 'public key', 'bad-key');
      keys = await openpgp.readKeys({ binaryKeys: input, config: cryptoConfig });
    }
  } catch (error) {
    if (error instanceof LafsError) throw error;
    throw new LafsError('bad-key', `public key: unreadable (${messageOf(error)})`, { cause: error });
  }
  if (keys.length !== 1) throw new LafsError('bad-key', `public key: expected exactly one key, found ${keys.length}`);
  const key = keys[0]!;
  if (key.isPrivate()) throw new LafsError('bad-key', 'public key: a secret key was given; submit the public key only');
  return key as openpgp.PublicKey;
}

async function buildKeyModel(key: openpgp.PublicKey): Promise<KeyModel> {
  const primary = key.keyPacket as openpgp.PublicKeyPacket;
  const users: UserIdModel[] = [];
  for (const user of key.users) {
    if (!user.userID) continue; // user attributes (photos) play no part in validity
    const selfSignatures = await validCertifications(primary, user.userID, user.selfCertifications);
    const revocations = await validRevocations(user.revocationSignatures, primary, enums.signature.certRevocation, { userID: user.userID, key: primary });
    if (selfSignatures.length > 0) users.push({ packet: user.userID, selfSignatures, revocations });
  }
  const keyRecord = key as unknown as { directSignatures?: openpgp.SignaturePacket[] };
  const directSignatures: SelfSignature[] = [];
  for (const sig of keyRecord.directSignatures ?? []) {
    if (sig.signatureType !== enums.signature.key || !issuedBy(sig, primary)) continue;
    if (await signatureVerifies(sig, primary, enums.signature.key, { key: primary })) directSignatures.push(selfSig(sig));
  }
  directSignatures.sort(byCreation);
  const primaryUser = choosePrimaryUser(users);
  const keySelfSignatures = keyLevelHistory(primary, primaryUser, directSignatures);
  const revocations = await validRevocations(key.revocationSignatures, primary, enums.signature.keyRevocation, { key: primary });
  const subkeys: SubkeyModel[] = [];
  for (const subkey of key.subkeys) {
    const packet = subkey.keyPacket as openpgp.PublicSubkeyPacket;
    const bindings = await validBindings(primary, packet, subkey.bindingSignatures);
    if (bindings.length === 0) continue; // gpg ignores a subkey without a valid binding
    const subRevocations = await validRevocations(subkey.revocationSignatures, primary, enums.signature.subkeyRevocation, { key: primary, bind: packet });
    subkeys.push({ packet, bindings, revocations: subRevocations });
  }
  return { primary, fingerprint: primary.getFingerprint().toLowerCase(), primaryUser, directSignatures, keySelfSignatures, revocations, subkeys };
}

/**
 * Which self-signatures state the primary key's expiry and usage flags. RFC 9580 (v6 keys): the
 * direct-key signature. v4 keys (what gpg does): the primary user ID's self-signatures, or the
 * direct-key signatures of a key without user IDs.
 */
function keyLevelHistory(primary: openpgp.PublicKeyPacket, primaryUser: UserIdModel | null, direct: SelfSignature[]): SelfSignature[] {
  if (primary.version === 6 && direct.length > 0) return direct;
  return primaryUser ? primaryUser.selfSignatures : direct;
}

function selfSig(packet: openpgp.SignaturePacket, backSignatureValid = false, backSignatureHash: number | null = null): SelfSignature {
  return { packet, created: packet.created!, backSignatureValid, backSignatureHash };
}

function issuedBy(sig: openpgp.SignaturePacket, key: KeyPacket): boolean {
  if (sig.issuerFingerprint) return bytesEqual(sig.issuerFingerprint, key.getFingerprintBytes()!);
  return sig.issuerKeyID.equals(key.getKeyID());
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}

const CERTIFICATION_TYPES: ReadonlySet<number> = new Set([enums.signature.certGeneric, enums.signature.certPersona, enums.signature.certCasual, enums.signature.certPositive]);

/** Self-certifications of one user ID that verify (gpg: "self-signature" over the user ID). */
async function validCertifications(primary: openpgp.PublicKeyPacket, userID: openpgp.UserIDPacket, candidates: openpgp.SignaturePacket[]): Promise<SelfSignature[]> {
  const valid: SelfSignature[] = [];
  for (const sig of candidates) {
    if (!CERTIFICATION_TYPES.has(sig.signatureType!) || !issuedBy(sig, primary)) continue;
    if (await signatureVerifies(sig, primary, sig.signatureType!, { userID, key: primary })) valid.push(selfSig(sig));
  }
  return valid.sort(byCreation);
}

/**
 * Subkey binding signatures (0x18) by the primary key that verify. For a binding that grants
 * signing, the embedded primary-key-binding signature (0x19, made by the subkey) is checked too:
 * RFC 4880 section 11.1 requires it, and gpg refuses a signing subkey without it ("not
 * cross-certified") so that nobody can claim another person's signing key as their subkey.
 */
async function validBindings(primary: openpgp.PublicKeyPacket, subkey: openpgp.PublicSubkeyPacket, candidates: openpgp.SignaturePacket[]): Promise<SelfSignature[]> {
  const valid: SelfSignature[] = [];
  for (const sig of candidates) {
    if (sig.signatureType !== enums.signature.subkeyBinding || !issuedBy(sig, primary)) continue;
    if (!(await signatureVerifies(sig, primary, enums.signature.subkeyBinding, { key: primary, bind: subkey }))) continue;
    const back = sig.embeddedSignature;
    let backValid = false;
    if (back && back.signatureType === enums.signature.keyBinding) {
      backValid = await signatureVerifies(back, subkey, enums.signature.keyBinding, { key: primary, bind: subkey });
    }
    valid.push(selfSig(sig, backValid, back ? back.hashAlgorithm : null));
  }
  return valid.sort(byCreation);
}

/** Revocation signatures issued by the primary key itself that verify (third-party/designated revokers are not honoured: their keys are not at hand). */
async function validRevocations(candidates: openpgp.SignaturePacket[], primary: openpgp.PublicKeyPacket, type: number, data: object): Promise<Revocation[]> {
  const valid: Revocation[] = [];
  for (const sig of candidates) {
    if (sig.signatureType !== type || !issuedBy(sig, primary)) continue;
    if (await signatureVerifies(sig, primary, type, data)) {
      valid.push({ packet: sig, created: sig.created!, reason: sig.reasonForRevocationFlag ?? null, reasonText: sig.reasonForRevocationString ?? null });
    }
  }
  return valid.sort(byCreation);
}

/**
 * The primary user ID, chosen as gpg does: among user IDs that are not revoked, the one whose
 * newest self-signature sets the primary-user-ID flag (newest such first); otherwise the one with
 * the newest self-signature. Ties broken by the user ID bytes so the choice is deterministic.
 * Falls back to revoked user IDs only when every user ID is revoked (gpg still shows the key).
 */
function choosePrimaryUser(users: UserIdModel[]): UserIdModel | null {
  if (users.length === 0) return null;
  const newest = (u: UserIdModel): SelfSignature => u.selfSignatures[u.selfSignatures.length - 1]!;
  const isRevoked = (u: UserIdModel): boolean => u.revocations.some((r) => r.created.getTime() >= newest(u).created.getTime());
  const live = users.filter((u) => !isRevoked(u));
  const pool = live.length > 0 ? live : users;
  const ranked = [...pool].sort((a, b) => {
    const pa = newest(a).packet.isPrimaryUserID ? 1 : 0;
    const pb = newest(b).packet.isPrimaryUserID ? 1 : 0;
    if (pa !== pb) return pb - pa;
    const d = newest(b).created.getTime() - newest(a).created.getTime();
    if (d !== 0) return d;
    return compareBytes(a.packet.write(), b.packet.write());
  });
  return ranked[0]!;
}

/** A small least-recently-used map: the caches below hold at most `limit` entries. */
class Lru<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly limit: number) {}
  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key); // most recent last
      this.entries.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    this.entries.set(key, value);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
  }
  clear(): void {
    this.entries.clear();
  }
}

const CACHE_LIMIT = 1024;
/** Parsed, checked keys by the SHA-256 of their bytes: the server sees the same builders' keys again and again. */
const keyCache = new Lru<Promise<KeyModel>>(CACHE_LIMIT);
/** prepareKey results by the SHA-256 of the submitted key (every submission carries its builder's full key). */
const preparedKeyCache = new Lru<Promise<PreparedKey>>(CACHE_LIMIT);

const cacheId = (input: Uint8Array | string): string => hash('sha256', input, 'hex');

/** Parses and models a key, once per distinct key bytes. */
function keyModelOf(publicKey: Uint8Array): Promise<KeyModel> {
  const id = cacheId(publicKey);
  let model = keyCache.get(id);
  if (!model) {
    model = readPublicKey(publicKey).then(buildKeyModel);
    keyCache.set(id, model);
  }
  return model;
}

/** Empties the parsed-key and minimized-key caches (benchmarks measure the uncached path with it). */
export function clearKeyCache(): void {
  keyCache.clear();
  preparedKeyCache.clear();
}

// ---------------------------------------------------------------------------------------------
// Cryptographic verification of one signature packet.

/** Which implementation checks the cryptography: node:crypto where it can (openpgp-native.ts), or openpgp.js only. */
export type CryptoEngine = 'native' | 'openpgp.js';

/**
 * True when `sig` verifies over `data` with `signer` (self-signatures, bindings, revocations:
 * always the native engine where it applies; their results are cached with the key).
 */
async function signatureVerifies(sig: openpgp.SignaturePacket, signer: KeyPacket, type: number, data: unknown, detached = false): Promise<boolean> {
  try {
    await verifyPacket(sig, signer, type, data, detached, 'native');
    return true;
  } catch {
    return false;
  }
}

/** Like `signatureVerifies`, but throws an Error saying why. */
async function verifyPacket(sig: openpgp.SignaturePacket, signer: KeyPacket, type: number, data: unknown, detached: boolean, engine: CryptoEngine): Promise<void> {
  if (engine === 'native' && nativeSupports(sig, signer)) {
    verifyNative(sig, signer, type, data, detached);
    return;
  }
  // openpgp.js refuses any signature carrying a designated-revoker subpacket; gpg accepts the
  // signature and only honours that revoker's revocations when it has its key. We have no such
  // key, so the subpacket changes nothing here: hide it from the check.
  const revocationKeyClass = sig.revocationKeyClass;
  sig.revocationKeyClass = null;
  try {
    await sig.verify(signer, type, data as object, null as unknown as Date, detached, cryptoConfig);
  } finally {
    sig.revocationKeyClass = revocationKeyClass;
  }
}

/** NIST curves: the ones RFC 9580 registers for ECDSA (and the ones WebCrypto has). */
const RFC9580_ECDSA_CURVES: ReadonlySet<string> = new Set(['nistP256', 'nistP384', 'nistP521']);

// ---------------------------------------------------------------------------------------------
// Policy: was the key valid at T, the signature's creation time?

class Rejection extends Error {}
const reject = (reason: string): never => {
  throw new Rejection(reason);
};

const day = (d: Date): string => d.toISOString().slice(0, 10);

/** Algorithms that make signatures and that we verify. DSA/ElGamal and unknown ones are refused by name. */
const SIGNING_ALGORITHMS: Readonly<Record<number, string>> = {
  [enums.publicKey.rsaEncryptSign]: 'rsa',
  [enums.publicKey.rsaSign]: 'rsa',
  [enums.publicKey.ecdsa]: 'ecdsa',
  [enums.publicKey.eddsaLegacy]: 'eddsa',
  [enums.publicKey.ed25519]: 'ed25519',
  [enums.publicKey.ed448]: 'ed448',
};

/**
 * Hashes accepted on the data signature. gpg 2.2 still accepts SHA-1 there; we do not: SHA-1
 * collisions are practical, and the log promises SHA-256/SHA-512 (DESIGN.md section 3).
 */
const DATA_HASHES: ReadonlySet<number> = new Set([enums.hash.sha224, enums.hash.sha256, enums.hash.sha384, enums.hash.sha512, enums.hash.sha3_256, enums.hash.sha3_512]);
/** Hashes on self-signatures that gpg accepts but stricter verifiers object to: accepted with a warning. */
const WEAK_SELF_SIGNATURE_HASHES: ReadonlySet<number> = new Set([enums.hash.sha1, enums.hash.ripemd]);

function hashName(algorithm: number | null): string {
  try {
    return enums.read(enums.hash, algorithm as openpgp.enums.hash).toLowerCase();
  } catch {
    return `hash-${algorithm}`;
  }
}

function algorithmName(algorithm: number | null): string {
  try {
    return enums.read(enums.publicKey, algorithm as openpgp.enums.publicKey);
  } catch {
    return `algorithm-${algorithm}`;
  }
}

/** Expiry date of a key created at `created` under self-signature `sig` (key expiration time subpacket), or null for never. */
function expiryUnder(created: Date, sig: openpgp.SignaturePacket): Date | null {
  if (sig.keyNeverExpires !== false || !sig.keyExpirationTime) return null;
  return new Date(created.getTime() + sig.keyExpirationTime * 1000);
}

/**
 * Revocation rule (the "hard" and "soft" revocations of RFC 9580's Reason for Revocation subpacket, as Sequoia applies
 * them; gpg 2.2 only reports REVKEYSIG, whatever the date): a hard revocation (key compromised,
 * no reason, or a reason we do not know) voids every signature the key ever made; a soft one
 * (superseded, retired) voids only signatures made at or after the revocation.
 */
function applyRevocations(revocations: Revocation[], T: Date, whose: string, warnings: string[]): void {
  for (const revocation of revocations) {
    const soft = revocation.reason === enums.reasonForRevocation.keySuperseded || revocation.reason === enums.reasonForRevocation.keyRetired;
    const why = revocation.reason === null ? 'no reason given' : reasonName(revocation.reason);
    if (!soft) reject(`${whose} was revoked on ${day(revocation.created)} (${why}): all its signatures are void`);
    if (revocation.created.getTime() <= T.getTime()) reject(`${whose} was revoked on ${day(revocation.created)} (${why}), before the signature was made on ${day(T)}`);
    warnings.push(`${whose} revoked on ${day(revocation.created)} (${why}) after signing`);
  }
}

function reasonName(reason: number): string {
  switch (reason) {
    case enums.reasonForRevocation.noReason: return 'no reason specified';
    case enums.reasonForRevocation.keySuperseded: return 'key superseded';
    case enums.reasonForRevocation.keyCompromised: return 'key compromised';
    case enums.reasonForRevocation.keyRetired: return 'key retired';
    default: return `reason code ${reason}`;
  }
}

/**
 * Expiry rule, as gpg: the key's expiry is the one stated by its newest self-signature (the key
 * "as it stands"), and the signature counts if made before that moment (DESIGN.md section 3;
 * gpg itself reports EXPKEYSIG whether the key expired before or after signing). A key that
 * expired after the signature is fine (gpg: "Good signature ... by an expired key"), with a
 * warning. When the
 * self-signature in force at T (the newest one not after T) said otherwise — the key was expired
 * by then and was extended later — or no self-signature predates T at all, the signature is still
 * accepted like gpg does, and the stricter view (Sequoia, openpgp.js) is recorded as a warning.
 */
function applyExpiry(created: Date, history: SelfSignature[], T: Date, now: Date, whose: string, signatureKind: string, warnings: string[]): void {
  const current = history[history.length - 1]!;
  const expiry = expiryUnder(created, current.packet);
  if (expiry && expiry.getTime() <= T.getTime()) reject(`${whose} expired on ${day(expiry)}, before the signature was made on ${day(T)}`);
  if (expiry && expiry.getTime() <= now.getTime()) warnings.push(`${whose} expired ${day(expiry)} after signing`);
  let inForce: SelfSignature | undefined;
  for (let i = history.length - 1; i >= 0 && !inForce; i--) if (history[i]!.created.getTime() <= T.getTime()) inForce = history[i];
  if (!inForce) {
    warnings.push(`${signatureKind} newer than the signature: ${whose}'s oldest valid ${signatureKind} is from ${day(history[0]!.created)}, the signature from ${day(T)}`);
    return;
  }
  const expiryThen = expiryUnder(created, inForce.packet);
  if (expiryThen && expiryThen.getTime() <= T.getTime()) {
    warnings.push(`${whose} had expired on ${day(expiryThen)} by its ${signatureKind} in force at signing time (${day(inForce.created)}); a later ${signatureKind} extended it`);
  }
}

/** Self-signature hash rule: gpg accepts SHA-1 self-signatures; openpgp.js and Sequoia refuse them. Warn. */
function warnWeakHash(algorithm: number | null, what: string, warnings: string[]): void {
  if (algorithm !== null && WEAK_SELF_SIGNATURE_HASHES.has(algorithm)) warnings.push(`${what} uses ${hashName(algorithm).toUpperCase().replace('SHA', 'SHA-')}`);
}

/** Creation rule (gpg: "key is N seconds newer than the signature" is an error): a key cannot sign before it exists. */
function applyCreation(keyCreated: Date, T: Date, whose: string): void {
  if (T.getTime() < keyCreated.getTime()) reject(`the signature (${T.toISOString()}) is older than ${whose} (created ${keyCreated.toISOString()})`);
}

/**
 * Usage rule: the key flags of the current self-signature (primary) or binding (subkey) must
 * allow signing. A self-signature without any key flags subpacket (keys older than RFC 4880) lets
 * the algorithm decide, as gpg and openpgp.js do for the primary key.
 */
function applySigningFlag(sig: openpgp.SignaturePacket, whose: string, isSubkey: boolean, warnings: string[]): void {
  if (!sig.keyFlags || sig.keyFlags.length === 0) {
    if (isSubkey) reject(`${whose} binding signature grants no usage flags, so it may not sign`);
    warnings.push(`${whose} has no key flags; signing capability inferred from its algorithm`);
    return;
  }
  if ((sig.keyFlags[0]! & KEY_FLAG_SIGN) === 0) reject(`${whose} is not a signing key (its key flags do not include "sign")`);
}

/** Key material rules: algorithm we verify, RSA of 2048 to 4096 bits. */
function applyKeyMaterial(packet: KeyPacket, whose: string): string {
  const name = SIGNING_ALGORITHMS[packet.algorithm];
  if (!name) reject(`${whose} uses public-key algorithm ${algorithmName(packet.algorithm)}, which is not supported for signatures`);
  if (name === 'rsa') {
    const bits = packet.getAlgorithmInfo().bits ?? 0;
    if (bits < MIN_RSA_BITS) reject(`${whose} is RSA ${bits} bits, below the ${MIN_RSA_BITS}-bit minimum`);
    if (bits > MAX_RSA_BITS) reject(`${whose} is RSA ${bits} bits, above the ${MAX_RSA_BITS}-bit maximum`);
  }
  return name!;
}

/**
 * Curve rule: gpg accepts ECDSA over secp256k1; it is not an RFC 9580 curve and openpgp.js refuses
 * it by default (config.rejectCurves). Accepted, with a warning.
 */
function warnCurve(packet: KeyPacket, whose: string, warnings: string[]): void {
  if (packet.algorithm !== enums.publicKey.ecdsa) return;
  const curve = (packet.publicParams as EcdsaPublicParams).oid.getName();
  if (!RFC9580_ECDSA_CURVES.has(curve)) warnings.push(`${whose} uses ECDSA curve ${curve}, which is not an RFC 9580 curve (openpgp.js refuses it by default)`);
}

/** Checks the primary key's validity at T; adds warnings. */
function checkPrimaryAt(model: KeyModel, T: Date, now: Date, warnings: string[]): void {
  const whose = 'primary key';
  applyCreation(model.primary.created, T, whose);
  applyRevocations(model.revocations, T, whose, warnings);
  if (model.keySelfSignatures.length === 0) reject('the key has no valid self-signature (no self-signed user ID or direct-key signature)');
  applyExpiry(model.primary.created, model.keySelfSignatures, T, now, whose, 'self-signature', warnings);
  warnWeakHash(model.keySelfSignatures[model.keySelfSignatures.length - 1]!.packet.hashAlgorithm, 'self-signature', warnings);
}

function checkSubkeyAt(subkey: SubkeyModel, T: Date, now: Date, warnings: string[]): void {
  const whose = `signing subkey ${subkey.packet.getKeyID().toHex()}`;
  applyCreation(subkey.packet.created, T, whose);
  applyRevocations(subkey.revocations, T, whose, warnings);
  const current = subkey.bindings[subkey.bindings.length - 1]!;
  applySigningFlag(current.packet, whose, true, warnings);
  if (!current.backSignatureValid) reject(`${whose} has no valid primary-key-binding (back-)signature, so the primary key cannot claim it as a signing subkey`);
  applyExpiry(subkey.packet.created, subkey.bindings, T, now, whose, 'binding signature', warnings);
  warnWeakHash(current.packet.hashAlgorithm, 'binding signature', warnings);
  warnWeakHash(current.backSignatureHash, 'primary-key-binding back-signature', warnings);
}

// ---------------------------------------------------------------------------------------------
// Public API

/** Primary-key fingerprint, lowercase hex. Throws LafsError('bad-key'). */
export async function fingerprintOf(publicKey: Uint8Array | string): Promise<string> {
  const key = await readPublicKey(publicKey);
  return key.keyPacket.getFingerprint().toLowerCase();
}

/** Canonical form of a fingerprint given in either case (40 or 64 hex digits); throws LafsError('bad-request'). */
export function normalizeFingerprint(fingerprint: string): string {
  const lower = fingerprint.trim().toLowerCase();
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(lower)) throw new LafsError('bad-request', `fingerprint: expected 40 or 64 hex digits, got "${fingerprint}"`);
  return lower;
}

/**
 * Armored or binary key -> binary minimal transferable key: the primary key, its key
 * revocations and direct-key self-signatures, ONE user ID (the primary one, as gpg picks it)
 * with all of its valid self-signatures and revocations (the history the date-of-signature
 * decisions need), and every subkey that has ever been bound as a signing key, with all its valid
 * bindings and revocations. Dropped: third-party certifications, other user IDs, user attributes,
 * encryption/authentication-only subkeys, and any signature that does not verify. Signatures
 * are ordered by creation time (then bytes), packets in RFC 9580 order, so the output is
 * deterministic. Throws LafsError('bad-key').
 */
export async function minimizePublicKey(input: Uint8Array | string): Promise<Uint8Array> {
  return (await prepareKey(input)).minimal.slice(); // a copy: callers own what they get
}

/**
 * A submitted key (armored or binary), minimized, with the model of the minimized key (its
 * self-signatures checked) that its signatures are verified against: the whole result cached by
 * the SHA-256 of the submitted bytes, so each of a builder's submissions after the first costs a
 * hash and a map lookup. Opaque outside this module; see verifyPrepared. `minimal` is shared by
 * every holder: read it, never write it.
 */
export interface PreparedKey {
  readonly minimal: Uint8Array;
  /** @internal The model of `minimal` (as keyModelOf(minimal)); a failure here is the signature check's, as in verifyDetached. */
  readonly model: Promise<KeyModel>;
}

/** minimizePublicKey without the copy, plus the minimized key's model; throws LafsError('bad-key') as minimizePublicKey does. */
export function prepareKey(input: Uint8Array | string): Promise<PreparedKey> {
  const id = cacheId(input);
  let prepared = preparedKeyCache.get(id);
  if (!prepared) {
    prepared = minimize(input).then((minimal) => {
      const model = keyModelOf(minimal);
      model.catch(() => {}); // reported to whoever verifies with it, not as an unhandled rejection
      return { minimal, model };
    });
    preparedKeyCache.set(id, prepared);
  }
  return prepared;
}

async function minimize(input: Uint8Array | string): Promise<Uint8Array> {
  const model = await buildKeyModel(await readPublicKey(input));
  if (model.keySelfSignatures.length === 0) throw new LafsError('bad-key', 'public key: no valid self-signature (no self-signed user ID or direct-key signature)');
  const canSign = (sig: openpgp.SignaturePacket): boolean => !!sig.keyFlags && (sig.keyFlags[0]! & KEY_FLAG_SIGN) !== 0;
  const signers = model.subkeys.filter((s) => s.bindings.some((b) => canSign(b.packet) && b.backSignatureValid));
  const primaryMaySign = model.keySelfSignatures.some((s) => !s.packet.keyFlags || canSign(s.packet));
  if (!primaryMaySign && signers.length === 0) throw new LafsError('bad-key', 'public key: neither the primary key nor any validly bound subkey may sign');
  const list = new openpgp.PacketList<openpgp.AnyPacket>();
  list.push(model.primary);
  for (const r of model.revocations) list.push(r.packet);
  for (const s of model.directSignatures) list.push(s.packet);
  if (model.primaryUser) {
    list.push(model.primaryUser.packet);
    for (const r of model.primaryUser.revocations) list.push(r.packet);
    for (const s of model.primaryUser.selfSignatures) list.push(s.packet);
  }
  for (const subkey of signers) {
    list.push(subkey.packet);
    for (const r of subkey.revocations) list.push(r.packet);
    for (const b of subkey.bindings) list.push(b.packet);
  }
  return list.write() as Uint8Array;
}

/**
 * Verifies `signature` over exactly `signed` with `publicKey` (binary or armored) and the
 * validity policy above. Never throws: hostile input yields { ok: false, reason }.
 */
export async function verifyDetached(signed: Uint8Array, signature: Uint8Array, publicKey: Uint8Array, options: VerifyOptions = {}): Promise<Checked<SignatureCheck>> {
  return asVerdict(() => checkDetached(signed, signature, publicKey, options.now ?? new Date(), options.crypto ?? 'native'));
}

/** A check's result, or its rejection as a reason: the verify functions never throw. */
async function asVerdict(check: () => Promise<SignatureCheck>): Promise<Checked<SignatureCheck>> {
  try {
    return { ok: true, value: await check() };
  } catch (error) {
    if (error instanceof Rejection || error instanceof LafsError) return { ok: false, reason: error.message };
    return { ok: false, reason: `signature could not be checked: ${messageOf(error)}` };
  }
}

export interface VerifyOptions {
  /** The present, for "expired after signing" warnings and future-dated signatures (default: the clock). */
  now?: Date;
  /** Engine for the data signature's cryptography (default native; 'openpgp.js' for cross-checks in tests). */
  crypto?: CryptoEngine;
}

/**
 * verifyDetached(signed, signature.bytes, key.minimal) without parsing either again: the same
 * checks, in the same order, with the same reasons. Never throws.
 */
export async function verifyPrepared(signed: Uint8Array, signature: PreparedSignature, key: PreparedKey, options: VerifyOptions = {}): Promise<Checked<SignatureCheck>> {
  return asVerdict(async () => checkParsed(signed, signature.packet, await key.model, options.now ?? new Date(), options.crypto ?? 'native'));
}

async function checkDetached(signed: Uint8Array, signatureBytes: Uint8Array, publicKey: Uint8Array, now: Date, engine: CryptoEngine): Promise<SignatureCheck> {
  const sig = parseSignaturePacket(looksArmored(signatureBytes) ? await readSignature(signatureBytes) : signatureBytes);
  return checkParsed(signed, sig, await keyModelOf(publicKey), now, engine);
}

async function checkParsed(signed: Uint8Array, sig: openpgp.SignaturePacket, model: KeyModel, now: Date, engine: CryptoEngine): Promise<SignatureCheck> {
  const T = sig.created!;
  const warnings: string[] = [];

  // The signature must be over a document: binary (0x00) or canonical text (0x01).
  if (sig.signatureType !== enums.signature.binary && sig.signatureType !== enums.signature.text) {
    reject(`signature type 0x${(sig.signatureType ?? 0).toString(16).padStart(2, '0')} is not a document signature (expected binary 0x00 or text 0x01)`);
  }
  if (!DATA_HASHES.has(sig.hashAlgorithm!)) reject(`signature hash ${hashName(sig.hashAlgorithm)} is not accepted (use SHA-256 or SHA-512)`);

  const { packet: signer, subkey } = findSigner(model, sig);
  const whose = subkey ? `signing subkey ${signer.getKeyID().toHex()}` : 'primary key';
  const algorithm = applyKeyMaterial(signer, whose);
  warnCurve(signer, whose, warnings);
  if (sig.publicKeyAlgorithm !== signer.algorithm) reject(`signature algorithm ${algorithmName(sig.publicKeyAlgorithm)} does not match the key's ${algorithmName(signer.algorithm)}`);

  // Cryptography over exactly the signed bytes. openpgp.js applies the text-mode line-ending
  // canonicalisation itself when the signature type is 0x01.
  const literal = new openpgp.LiteralDataPacket();
  (literal as unknown as { setBytes(bytes: Uint8Array, format: number): void }).setBytes(signed, enums.literal.binary);
  try {
    await verifyPacket(sig, signer, sig.signatureType!, literal, true, engine);
  } catch (error) {
    reject(`signature does not verify: ${messageOf(error)}`);
  }

  // gpg refuses a signature dated in the future ("time conflict"); allow an hour of clock skew.
  if (T.getTime() > now.getTime() + FUTURE_SKEW_MS) reject(`the signature is dated ${T.toISOString()}, in the future`);

  // A signature that states its own expiry and is past it is not good (gpg: EXPSIG).
  const sigExpiry = sig.getExpirationTime();
  if (sigExpiry !== Infinity && (sigExpiry as Date).getTime() <= now.getTime()) reject(`the signature itself expired on ${day(sigExpiry as Date)}`);

  // The key at T: the primary key always (a subkey is only as valid as its primary), then the subkey.
  checkPrimaryAt(model, T, now, warnings);
  if (subkey) checkSubkeyAt(subkey, T, now, warnings);
  else applySigningFlag(model.keySelfSignatures[model.keySelfSignatures.length - 1]!.packet, whose, false, warnings);

  return {
    builder: model.fingerprint,
    signingKeyId: signer.getKeyID().toHex().toLowerCase(),
    created: T,
    publicKeyAlgorithm: algorithm,
    hashAlgorithm: hashName(sig.hashAlgorithm),
    warnings,
  };
}

/** The (sub)key the signature names as its issuer (issuer fingerprint, else issuer key ID). */
function findSigner(model: KeyModel, sig: openpgp.SignaturePacket): { packet: KeyPacket; subkey: SubkeyModel | null } {
  const names = (packet: KeyPacket): boolean => {
    if (sig.issuerFingerprint) return bytesEqual(sig.issuerFingerprint, packet.getFingerprintBytes()!);
    return !isWildcard(sig.issuerKeyID) && sig.issuerKeyID.equals(packet.getKeyID());
  };
  if (!sig.issuerFingerprint && isWildcard(sig.issuerKeyID)) reject('the signature does not name its issuer key');
  if (names(model.primary)) return { packet: model.primary, subkey: null };
  const subkey = model.subkeys.find((s) => names(s.packet));
  if (subkey) return { packet: subkey.packet, subkey };
  const issuer = sig.issuerFingerprint ? Array.from(sig.issuerFingerprint, (b) => b.toString(16).padStart(2, '0')).join('') : sig.issuerKeyID.toHex();
  return reject(`the signature was made by key ${issuer.toLowerCase()}, which is not part of the given public key ${model.fingerprint} (or has no valid binding)`);
}

function isWildcard(keyID: openpgp.KeyID): boolean {
  return (keyID as unknown as { isWildcard(): boolean }).isWildcard();
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
