/**
 * node:crypto implementations of the primitives that merkle/ takes as parameters (DESIGN.md
 * section 4: merkle stays dependency-free and browser-safe; Node programs inject these faster
 * native versions).
 *
 * - `nodeSha256`: one-shot SHA-256 via OpenSSL with `crypto.hash` (Node >= 20.12), which skips
 *   the Hash object of createHash and is about 1.5-2x faster on the 65-byte inputs of tree
 *   hashing. The digest Buffer is returned as is (a Buffer is a Uint8Array): no copy.
 * - `nodeEd25519`: RFC 8032 Ed25519 over raw 32-byte seeds and public keys. node:crypto only
 *   imports keys as KeyObjects, so raw bytes are wrapped in the fixed DER prefix of a PKCS#8
 *   private key or an SPKI public key. Importing costs far more than a verify, so KeyObjects are
 *   cached per key (bounded, oldest evicted first).
 */
import { hash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { Sha256 } from '../merkle/hash.js';
import type { Ed25519 } from '../merkle/note.js';

export const nodeSha256: Sha256 = (data: Uint8Array): Uint8Array => hash('sha256', data, 'buffer');

/** DER of PKCS#8 PrivateKeyInfo { version 0, AlgorithmIdentifier id-Ed25519 (1.3.101.112), OCTET STRING { OCTET STRING seed } } minus the seed. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** DER of SubjectPublicKeyInfo { AlgorithmIdentifier id-Ed25519, BIT STRING (0 unused bits) public key } minus the key. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const ED25519_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;
/** A server signs with one key and a client verifies against a handful; 256 leaves ample room without growing unbounded. */
const KEY_CACHE_LIMIT = 256;

/** Small insertion-ordered cache: a Map iterates oldest first, so eviction is O(1). */
class KeyCache {
  private readonly entries = new Map<string, KeyObject>();
  get(key: Uint8Array, load: () => KeyObject): KeyObject {
    // latin1 maps each byte to one char: a cheap, collision-free map key for 32 bytes.
    const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    let value = this.entries.get(id);
    if (value === undefined) {
      value = load();
      if (this.entries.size >= KEY_CACHE_LIMIT) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      this.entries.set(id, value);
    }
    return value;
  }
}

const privateKeys = new KeyCache();
const publicKeys = new KeyCache();

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== ED25519_KEY_SIZE) throw new RangeError(`Ed25519 seed must be ${ED25519_KEY_SIZE} bytes, got ${seed.length}`);
  return privateKeys.get(seed, () =>
    createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' }),
  );
}

function publicKeyFromRaw(publicKey: Uint8Array): KeyObject {
  return publicKeys.get(publicKey, () =>
    createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' }),
  );
}

export const nodeEd25519: Ed25519 = {
  publicKey(seed: Uint8Array): Uint8Array {
    const spki = createPublicKey(privateKeyFromSeed(seed)).export({ format: 'der', type: 'spki' });
    return new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length));
  },

  sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, privateKeyFromSeed(seed)));
  },

  /** Never throws: malformed keys or signatures simply do not verify. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    if (signature.length !== ED25519_SIGNATURE_SIZE || publicKey.length !== ED25519_KEY_SIZE) return false;
    try {
      return verify(null, message, publicKeyFromRaw(publicKey), signature);
    } catch {
      // OpenSSL rejects some 32-byte strings as public keys (not a curve point).
      return false;
    }
  },
};
