/**
 * node:crypto (OpenSSL) verification of OpenPGP signature packets: the hot path of the log.
 *
 * openpgp.js parses the packets and computes the exact bytes a signature covers (`toHash`:
 * salt, document or key material, hashed subpackets and trailer, RFC 9580 section 5.2.4); this
 * module hashes them and checks the public-key operation with node:crypto, keeping one KeyObject
 * per key packet. Why not openpgp.js's own `verify`: it re-imports the key into WebCrypto on every
 * call (about half of the cost of a verification), and for ECDSA on curves WebCrypto lacks
 * (secp256k1, brainpool) it needs the optional package `eckey-utils`, which is not installed
 * (kvaciral's key in the guix.sigs fixture). Algorithms covered: RSA PKCS#1 v1.5, ECDSA (NIST,
 * secp256k1, brainpool), legacy EdDSA (Ed25519, algorithm 22) and Ed25519 (algorithm 27). Anything
 * else goes back to openpgp.js (openpgp.ts decides). The test suite checks both paths agree.
 */
import { constants, createPublicKey, hash as oneShotHash, verify, type KeyObject } from 'node:crypto';
import * as openpgp from 'openpgp';

const { enums } = openpgp;

type KeyPacket = openpgp.PublicKeyPacket | openpgp.PublicSubkeyPacket;

interface SignatureInternals {
  toHash(signatureType: number, data: unknown, detached?: boolean): Uint8Array;
  params: Record<string, Uint8Array>;
  salt: Uint8Array | null;
}
interface Oid { oid: Uint8Array; getName(): string }

const HASHES: Readonly<Record<number, { node: string; saltLength: number }>> = {
  [enums.hash.sha1]: { node: 'sha1', saltLength: 0 },
  [enums.hash.sha224]: { node: 'sha224', saltLength: 16 },
  [enums.hash.sha256]: { node: 'sha256', saltLength: 16 },
  [enums.hash.sha384]: { node: 'sha384', saltLength: 24 },
  [enums.hash.sha512]: { node: 'sha512', saltLength: 32 },
  [enums.hash.sha3_256]: { node: 'sha3-256', saltLength: 16 },
  [enums.hash.sha3_512]: { node: 'sha3-512', saltLength: 32 },
};

/** ECDSA curves node:crypto verifies, with their scalar size in bytes. */
const ECDSA_CURVES: Readonly<Record<string, number>> = {
  nistP256: 32, nistP384: 48, nistP521: 66, secp256k1: 32, brainpoolP256r1: 32, brainpoolP384r1: 48, brainpoolP512r1: 64,
};

/** True when `verifyNative` handles this signature/key pair. */
export function nativeSupports(sig: openpgp.SignaturePacket, signer: KeyPacket): boolean {
  if (!HASHES[sig.hashAlgorithm!]) return false;
  switch (signer.algorithm) {
    case enums.publicKey.rsaEncryptSign:
    case enums.publicKey.rsaSign:
    case enums.publicKey.eddsaLegacy:
    case enums.publicKey.ed25519:
      return true;
    case enums.publicKey.ecdsa:
      return (signer.publicParams as { oid: Oid }).oid.getName() in ECDSA_CURVES;
    default:
      return false;
  }
}

/**
 * Verifies `sig` (of type `type`) over `data` with `signer`; throws an Error saying why not.
 * The structural checks are the ones openpgp.js's SignaturePacket.verify makes besides the
 * cryptography: issuer, algorithm, critical subpackets and notations, v6 salt length, the
 * two-byte quick check.
 */
export function verifyNative(sig: openpgp.SignaturePacket, signer: KeyPacket, type: number, data: unknown, detached: boolean): void {
  checkIssuer(sig, signer);
  if (sig.publicKeyAlgorithm !== signer.algorithm) throw new Error('Public key algorithm used to sign signature does not match issuer key algorithm.');
  if (sig.unknownSubpackets.some((s) => s.critical)) throw new Error('Unknown critical signature subpacket');
  for (const notation of sig.rawNotations) {
    if (notation.critical && !openpgp.config.knownNotations.includes(notation.name)) throw new Error(`Unknown critical notation: ${notation.name}`);
  }
  const hash = HASHES[sig.hashAlgorithm!];
  if (!hash) throw new Error(`Unsupported hash algorithm ${sig.hashAlgorithm}`);
  const internal = sig as unknown as SignatureInternals;
  if (sig.version === 6 && internal.salt?.length !== hash.saltLength) throw new Error('Signature salt does not have the expected length');

  const toHash = internal.toHash(type, data, detached);
  const digest = oneShotHash(hash.node, toHash, 'buffer'); // one call, no Hash object
  if (digest[0] !== sig.signedHashValue![0] || digest[1] !== sig.signedHashValue![1]) throw new Error('Signed digest did not match');
  if (!verifyMath(sig, signer, hash.node, toHash, digest)) throw new Error('Signature verification failed');
}

function checkIssuer(sig: openpgp.SignaturePacket, signer: KeyPacket): void {
  if (sig.issuerFingerprint) {
    const expected = signer.getFingerprintBytes()!;
    if (sig.issuerFingerprint.length !== expected.length || sig.issuerFingerprint.some((b, i) => b !== expected[i])) throw new Error('Signature was not issued by the given public key');
    return;
  }
  const id = sig.issuerKeyID as unknown as { bytes: string; equals(other: openpgp.KeyID): boolean };
  if (id.bytes.length > 0 && !id.equals(signer.getKeyID())) throw new Error('Signature was not issued by the given public key');
}

function verifyMath(sig: openpgp.SignaturePacket, signer: KeyPacket, hashName: string, toHash: Uint8Array, digest: Uint8Array): boolean {
  const params = (sig as unknown as SignatureInternals).params;
  const key = keyObjectOf(signer);
  switch (signer.algorithm) {
    case enums.publicKey.rsaEncryptSign:
    case enums.publicKey.rsaSign: {
      // The MPI drops leading zero bytes; OpenSSL wants exactly the modulus length.
      const s = leftPad(params.s!, (signer.publicParams as { n: Uint8Array }).n.length);
      return verify(hashName, toHash, { key, padding: constants.RSA_PKCS1_PADDING }, s);
    }
    case enums.publicKey.ecdsa: {
      const size = ECDSA_CURVES[(signer.publicParams as { oid: Oid }).oid.getName()]!;
      const rs = concat(leftPad(params.r!, size), leftPad(params.s!, size));
      return verify(hashName, toHash, { key, dsaEncoding: 'ieee-p1363' }, rs);
    }
    case enums.publicKey.eddsaLegacy:
    case enums.publicKey.ed25519: {
      // EdDSA in OpenPGP signs the digest, not the data; RFC 9580 5.2.3.3/5.2.3.4 want a digest of at least 256 bits.
      if (digest.length < 32) throw new Error('Hash algorithm too weak for EdDSA.');
      const rs = signer.algorithm === enums.publicKey.ed25519 ? params.RS! : concat(leftPad(params.r!, 32), leftPad(params.s!, 32));
      if (rs.length !== 64) throw new Error('malformed EdDSA signature');
      return verify(null, digest, key, rs);
    }
    default:
      throw new Error(`algorithm ${signer.algorithm} has no native verifier`);
  }
}

const keyObjects = new WeakMap<KeyPacket, KeyObject>();

/** The node:crypto public key of an OpenPGP key packet, built once per packet. */
function keyObjectOf(packet: KeyPacket): KeyObject {
  let key = keyObjects.get(packet);
  if (!key) {
    key = buildKeyObject(packet);
    keyObjects.set(packet, key);
  }
  return key;
}

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

function buildKeyObject(packet: KeyPacket): KeyObject {
  const p = packet.publicParams as Record<string, Uint8Array> & { oid?: Oid };
  switch (packet.algorithm) {
    case enums.publicKey.rsaEncryptSign:
    case enums.publicKey.rsaSign:
      return createPublicKey({ key: { kty: 'RSA', n: b64url(p.n!), e: b64url(p.e!) }, format: 'jwk' });
    case enums.publicKey.ecdsa:
      return createPublicKey({ key: Buffer.from(ecSpki(p.oid!.oid, p.Q!)), format: 'der', type: 'spki' });
    case enums.publicKey.eddsaLegacy: {
      // Native point encoding with the 0x40 prefix (RFC 4880bis section 13.3).
      const q = p.Q!;
      if (q.length !== 33 || q[0] !== 0x40 || p.oid!.getName() !== 'ed25519Legacy') throw new Error('malformed legacy EdDSA public key');
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(q.subarray(1)) }, format: 'jwk' });
    }
    case enums.publicKey.ed25519:
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(p.A!) }, format: 'jwk' });
    default:
      throw new Error(`algorithm ${packet.algorithm} has no native verifier`);
  }
}

/** DER SubjectPublicKeyInfo for an EC point: SEQUENCE { SEQUENCE { id-ecPublicKey, curve OID }, BIT STRING point } (RFC 5480). */
export function ecSpki(curveOid: Uint8Array, point: Uint8Array): Uint8Array {
  const ecPublicKeyOid = Uint8Array.of(0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01);
  const algorithm = der(0x30, concat(ecPublicKeyOid, der(0x06, curveOid)));
  const bitString = der(0x03, concat(Uint8Array.of(0), point));
  return der(0x30, concat(algorithm, bitString));
}

function der(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return concat(Uint8Array.of(tag, ...length), body);
}

function leftPad(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length > length) throw new Error('signature value longer than the key allows');
  if (bytes.length === length) return bytes;
  const out = new Uint8Array(length);
  out.set(bytes, length - bytes.length);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
