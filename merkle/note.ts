/** C2SP signed-note with Ed25519. STUB. */
import type { Checked } from './errors.js';
/** Ed25519 primitive, injected so merkle stays dependency-free: Node passes node:crypto, browsers @noble/curves. */
export interface Ed25519 {
  publicKey(seed: Uint8Array): Uint8Array; // 32 -> 32
  sign(message: Uint8Array, seed: Uint8Array): Uint8Array; // 64 bytes
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}
export interface NoteSigner { readonly name: string; readonly keyId: Uint8Array; sign(message: Uint8Array): Uint8Array }
export interface NoteVerifier { readonly name: string; readonly keyId: Uint8Array; readonly publicKey: Uint8Array; verify(message: Uint8Array, signature: Uint8Array): boolean }
export interface NoteSignature { name: string; keyId: Uint8Array; signature: Uint8Array /* without the 4-byte key ID */ }
export interface OpenedNote { text: string; verified: NoteSignature[]; unverified: NoteSignature[] }
/** First 4 bytes of SHA-256(name || 0x0A || 0x01 || publicKey). */
export declare function keyId(name: string, publicKey: Uint8Array): Uint8Array;
/** New key pair: signer key `PRIVATE+KEY+name+hexid+base64(0x01||seed)` (Go note format) and verifier key `name+hexid+base64(0x01||pub)`. */
export declare function generateKeyPair(name: string, ed: Ed25519, seed?: Uint8Array): { signerKey: string; verifierKey: string };
export declare function parseSignerKey(signerKey: string, ed: Ed25519): NoteSigner; // throws LafsError('bad-key')
export declare function parseVerifierKey(verifierKey: string, ed: Ed25519): NoteVerifier; // throws LafsError('bad-key')
export declare function signNote(text: string, signers: readonly NoteSigner[]): string;
/** Verifies a note; ok only if at least one signature verifies with one of `verifiers`. Unknown signature lines are kept in `unverified`. Never throws. */
export declare function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): Checked<OpenedNote>;
