/** OpenPGP detached-signature verification with gpg-compatible validity policy. STUB. */
import type { Checked } from '../merkle/errors.js';
export interface SignatureCheck {
  builder: string; // primary key fingerprint, lowercase hex (canonical form)
  signingKeyId: string; // key ID (16 lowercase hex) of the key that made the signature
  created: Date;
  publicKeyAlgorithm: string; // 'rsa' | 'ecdsa' | 'eddsa' ...
  hashAlgorithm: string; // 'sha256' | 'sha512' ...
  warnings: string[]; // policy objections a stricter implementation would raise (e.g. key expired since)
}
/** Armored or binary signature -> binary; throws LafsError('bad-signature'). */
export declare function readSignature(input: Uint8Array | string): Promise<Uint8Array>;
/** Armored or binary key -> binary minimal transferable key (primary, signing subkey if any, one user ID, their self-signatures). Throws LafsError('bad-key'). */
export declare function minimizePublicKey(input: Uint8Array | string): Promise<Uint8Array>;
/** Primary-key fingerprint, lowercase hex. Throws LafsError('bad-key'). */
export declare function fingerprintOf(publicKey: Uint8Array | string): Promise<string>;
/** Verifies `signature` over exactly `signed` with `publicKey` (binary). Never throws. */
export declare function verifyDetached(signed: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): Promise<Checked<SignatureCheck>>;
