/**
 * C2SP signed-note (c2sp.org/signed-note) with Ed25519 keys, byte-compatible with Go's
 * golang.org/x/mod/sumdb/note. DESIGN.md section 2 (checkpoints are signed notes).
 *
 * A signed note is a text (non-empty, ending in a newline, valid UTF-8, no control characters
 * other than newline), a blank line, then one or more lines `— <key name> <base64(keyID || sig)>`.
 * The signature covers the text including its final newline. A key is named by the pair
 * (key name, 4-byte key ID), key ID = SHA-256(name || 0x0A || 0x01 || public key)[:4].
 *
 * Verification follows the spec's rules: signatures by keys we do not know (name or ID differ)
 * are kept aside and ignored; a signature by a known key must verify or the whole note is
 * rejected; at least one known key must have signed. Ed25519 itself is injected (`Ed25519`) so
 * this module runs unchanged in browsers; key IDs are always SHA-256, taken from @noble/hashes.
 *
 * Key strings (Go's note format): verifier key `name+<hex8 key ID>+base64(0x01 || public key)`,
 * signer key `PRIVATE+KEY+name+<hex8 key ID>+base64(0x01 || 32-byte seed)`.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { LafsError, type Checked } from './errors.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';

/** Ed25519 primitive, injected so merkle stays dependency-free: Node passes node:crypto, browsers @noble/curves. */
export interface Ed25519 {
  publicKey(seed: Uint8Array): Uint8Array; // 32 -> 32
  sign(message: Uint8Array, seed: Uint8Array): Uint8Array; // 64 bytes
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}
/** Signs note bodies with one named Ed25519 key; built from a signer-key string by `parseSignerKey`. */
export interface NoteSigner { readonly name: string; readonly keyId: Uint8Array; sign(message: Uint8Array): Uint8Array }
/** Checks signatures of one named key; built from a verifier-key string by `parseVerifierKey`. */
export interface NoteVerifier { readonly name: string; readonly keyId: Uint8Array; readonly publicKey: Uint8Array; verify(message: Uint8Array, signature: Uint8Array): boolean }
/** One signature line of a note: the key name, its 4-byte key ID and the signature. */
export interface NoteSignature { name: string; keyId: Uint8Array; signature: Uint8Array /* without the 4-byte key ID */ }
/** A note whose body is trusted: the signatures by the given verifiers that checked, and the other lines, kept as the spec says. */
export interface OpenedNote { text: string; verified: NoteSignature[]; unverified: NoteSignature[] }

/** Signature type byte of Ed25519 in key IDs and key strings (c2sp.org/signed-note, "Signature types"). */
export const ED25519_SIGNATURE_TYPE = 0x01;
/** The spec requires accepting at least 16; Go's reference stops at 100. */
export const MAX_NOTE_SIGNATURES = 100;
/** Checkpoints are a few hundred bytes; a cap keeps hostile input cheap to reject. */
export const MAX_NOTE_BYTES = 1 << 20;

const SIGNATURE_PREFIX = '\u2014 '; // em dash, space
const ED25519_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;
const KEY_ID_SIZE = 4;

const utf8Encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the text: the signature covers the bytes as sent.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** ASCII control characters other than newline (c2sp.org/signed-note, "Format"). */
const FORBIDDEN_CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** Exactly the code points Go's unicode.IsSpace accepts, so names valid here are valid there. */
const UNICODE_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** Key names are non-empty, valid Unicode, without Unicode spaces or '+'. */
export function isValidKeyName(name: string): boolean {
  return name !== '' && !UNICODE_SPACE.test(name) && !name.includes('+') && !LONE_SURROGATE.test(name);
}

/** First 4 bytes of SHA-256(name || 0x0A || 0x01 || publicKey). */
export function keyId(name: string, publicKey: Uint8Array): Uint8Array {
  const nameBytes = utf8Encoder.encode(name);
  const input = new Uint8Array(nameBytes.length + 2 + publicKey.length);
  input.set(nameBytes, 0);
  input[nameBytes.length] = 0x0a;
  input[nameBytes.length + 1] = ED25519_SIGNATURE_TYPE;
  input.set(publicKey, nameBytes.length + 2);
  return sha256(input).slice(0, KEY_ID_SIZE);
}

/** The 8 lowercase hex digits used for key IDs in key strings. */
export function formatKeyId(id: Uint8Array): string {
  let hex = '';
  for (const b of id) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** Verifier key string `name+hex8(keyID)+base64(0x01 || publicKey)` for an Ed25519 public key. */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new LafsError('bad-key', `key name ${JSON.stringify(name)} is empty or contains a space or '+'`);
  if (publicKey.length !== ED25519_KEY_SIZE) throw new LafsError('bad-key', `Ed25519 public key must be ${ED25519_KEY_SIZE} bytes, got ${publicKey.length}`);
  return `${name}+${formatKeyId(keyId(name, publicKey))}+${encodeBase64(withTypeByte(publicKey))}`;
}

/** New key pair: signer key `PRIVATE+KEY+name+hexid+base64(0x01||seed)` (Go note format) and verifier key `name+hexid+base64(0x01||pub)`. */
export function generateKeyPair(name: string, ed: Ed25519, seed?: Uint8Array): { signerKey: string; verifierKey: string } {
  const secret = seed ?? randomBytes(ED25519_KEY_SIZE);
  if (secret.length !== ED25519_KEY_SIZE) throw new LafsError('bad-key', `Ed25519 seed must be ${ED25519_KEY_SIZE} bytes, got ${secret.length}`);
  const verifierKey = formatVerifierKey(name, ed.publicKey(secret));
  const id = verifierKey.split('+')[1]!;
  return { signerKey: `PRIVATE+KEY+${name}+${id}+${encodeBase64(withTypeByte(secret))}`, verifierKey };
}

/** Parses a signer key; throws LafsError('bad-key'). Messages never echo the key, which is secret. */
export function parseSignerKey(signerKey: string, ed: Ed25519): NoteSigner {
  const { name, seed, id } = openSignerKey(signerKey, ed);
  return { name, keyId: id, sign: (message: Uint8Array) => ed.sign(message, seed) };
}

/** The public verifier key string matching a signer key (what a log publishes). Throws LafsError('bad-key'). */
export function verifierKeyFromSignerKey(signerKey: string, ed: Ed25519): string {
  const { name, publicKey } = openSignerKey(signerKey, ed);
  return formatVerifierKey(name, publicKey);
}

/** Parses `name+hex8+base64(0x01||pub)`; throws LafsError('bad-key') saying which part is wrong. */
export function parseVerifierKey(verifierKey: string, ed: Ed25519): NoteVerifier {
  const [name, hex, keyBase64] = splitPlus(verifierKey, 3);
  if (name === undefined || hex === undefined || keyBase64 === undefined) {
    throw new LafsError('bad-key', 'verifier key must have the form <name>+<8 hex digits>+<base64 key>');
  }
  if (!isValidKeyName(name)) throw new LafsError('bad-key', `verifier key name ${JSON.stringify(name)} is empty or contains a space`);
  const claimedId = parseHexKeyId(hex, 'verifier key');
  const publicKey = decodeTypedKey(keyBase64, 'verifier key', 'public key');
  const id = keyId(name, publicKey);
  if (!bytesEqual(id, claimedId)) {
    throw new LafsError('bad-key', `verifier key for ${name}: key ID ${hex} does not match the key (expected ${formatKeyId(id)})`);
  }
  return {
    name,
    keyId: id,
    publicKey,
    verify: (message: Uint8Array, signature: Uint8Array) =>
      signature.length === ED25519_SIGNATURE_SIZE && ed.verify(signature, message, publicKey),
  };
}

/** Checks note text against the spec; returns why it is unusable, or undefined if fine. */
export function noteTextProblem(text: string): string | undefined {
  if (text === '') return 'note text is empty';
  if (!text.endsWith('\n')) return 'note text does not end with a newline';
  const bad = FORBIDDEN_CONTROL.exec(text);
  if (bad) return `note text line ${lineOf(text, bad.index)} contains control character ${codePoint(bad[0])}`;
  if (LONE_SURROGATE.test(text)) return 'note text is not valid Unicode (lone surrogate)';
  return undefined;
}

/** Signs `text` with every signer; throws LafsError('bad-note') if the text or a signer name is unusable. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  const problem = noteTextProblem(text);
  if (problem) throw new LafsError('bad-note', problem);
  if (signers.length === 0) throw new LafsError('bad-note', 'a signed note needs at least one signer');
  const message = utf8Encoder.encode(text);
  let out = text + '\n';
  for (const signer of signers) {
    if (!isValidKeyName(signer.name)) throw new LafsError('bad-note', `signer name ${JSON.stringify(signer.name)} is empty or contains a space or '+'`);
    if (signer.keyId.length !== KEY_ID_SIZE) throw new LafsError('bad-note', `signer ${signer.name} has a ${signer.keyId.length}-byte key ID, expected ${KEY_ID_SIZE}`);
    const signature = signer.sign(message);
    const payload = new Uint8Array(KEY_ID_SIZE + signature.length);
    payload.set(signer.keyId, 0);
    payload.set(signature, KEY_ID_SIZE);
    out += `${SIGNATURE_PREFIX}${signer.name} ${encodeBase64(payload)}\n`;
  }
  return out;
}

/** Verifies a note; ok only if at least one signature verifies with one of `verifiers`. Unknown signature lines are kept in `unverified`. Never throws. */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): Checked<OpenedNote> {
  try {
    return openNoteOrFail(note, verifiers);
  } catch (err) {
    // Only an injected verifier misbehaving can land here; hostile notes are handled above.
    return { ok: false, reason: `note could not be verified: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function openNoteOrFail(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): Checked<OpenedNote> {
  const fail = (reason: string): Checked<OpenedNote> => ({ ok: false, reason });

  // Strings are UTF-16: a string of n code units encodes to at least n UTF-8 bytes.
  if (note.length > MAX_NOTE_BYTES) return fail(`note is larger than ${MAX_NOTE_BYTES} bytes`);
  let str: string;
  if (typeof note === 'string') {
    if (LONE_SURROGATE.test(note)) return fail('note is not valid Unicode (lone surrogate)');
    str = note;
    if (utf8Encoder.encode(str).length > MAX_NOTE_BYTES) return fail(`note is larger than ${MAX_NOTE_BYTES} bytes`);
  } else {
    try {
      str = utf8Decoder.decode(note);
    } catch {
      return fail('note is not valid UTF-8');
    }
  }

  const bad = FORBIDDEN_CONTROL.exec(str);
  if (bad) return fail(`note line ${lineOf(str, bad.index)} contains control character ${codePoint(bad[0])}`);

  // The text ends at the last blank line: the text itself may contain blank lines.
  const split = str.lastIndexOf('\n\n');
  if (split < 0) return fail('note has no blank line between text and signatures');
  const text = str.slice(0, split + 1);
  const block = str.slice(split + 2);
  if (block === '') return fail('note has no signature lines after the blank line');
  if (!block.endsWith('\n')) return fail('note does not end with a newline after its last signature line');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) return fail(`note has ${lines.length} signature lines, more than the limit of ${MAX_NOTE_SIGNATURES}`);
  const firstSignatureLine = lineOf(str, split + 2);

  const message = utf8Encoder.encode(text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seenKnown = new Set<string>();
  const seenUnknown = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const where = `note line ${firstSignatureLine + i}`;
    if (!line.startsWith(SIGNATURE_PREFIX)) return fail(`${where} is not a signature line (must start with an em dash U+2014 and a space)`);
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const encoded = space < 0 ? '' : rest.slice(space + 1);
    if (!isValidKeyName(name)) return fail(`${where}: key name ${JSON.stringify(name)} is empty or contains a space or '+'`);
    if (encoded === '') return fail(`${where}: signature by ${name} is missing`);
    const payload = decodeBase64Strict(encoded);
    if (payload === undefined) return fail(`${where}: signature by ${name} is not canonical standard base64`);
    if (payload.length <= KEY_ID_SIZE) return fail(`${where}: signature by ${name} is too short (${payload.length} bytes)`);
    const signature: NoteSignature = { name, keyId: payload.slice(0, KEY_ID_SIZE), signature: payload.slice(KEY_ID_SIZE) };
    const keyLabel = `${name}+${formatKeyId(signature.keyId)}`;

    const verifier = verifiers.find((v) => v.name === name && bytesEqual(v.keyId, signature.keyId));
    if (verifier === undefined) {
      // Not ours to judge (witnesses, other logs): keep it, once, for the caller to see.
      if (!seenUnknown.has(line)) {
        seenUnknown.add(line);
        unverified.push(signature);
      }
      continue;
    }
    // Like Go's note.Open, a second signature by the same key adds nothing and is skipped.
    if (seenKnown.has(keyLabel)) continue;
    seenKnown.add(keyLabel);
    if (!verifier.verify(message, signature.signature)) return fail(`${where}: signature by known key ${keyLabel} does not verify`);
    verified.push(signature);
  }

  if (verified.length === 0) {
    const known = verifiers.map((v) => `${v.name}+${formatKeyId(v.keyId)}`).join(', ') || 'none given';
    return fail(`note has no signature by a known key (known: ${known})`);
  }
  return { ok: true, value: { text, verified, unverified } };
}

/** Decodes a signer key and checks its key ID against the public key derived from the seed (as Go's NewSigner does). */
function openSignerKey(signerKey: string, ed: Ed25519): { name: string; seed: Uint8Array; publicKey: Uint8Array; id: Uint8Array } {
  const [private1, private2, name, hex, keyBase64] = splitPlus(signerKey, 5);
  if (private1 !== 'PRIVATE' || private2 !== 'KEY' || name === undefined || hex === undefined || keyBase64 === undefined) {
    throw new LafsError('bad-key', 'signer key must have the form PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>');
  }
  if (!isValidKeyName(name)) throw new LafsError('bad-key', `signer key name ${JSON.stringify(name)} is empty or contains a space`);
  const claimedId = parseHexKeyId(hex, 'signer key');
  const seed = decodeTypedKey(keyBase64, 'signer key', 'seed');
  const publicKey = ed.publicKey(seed);
  const id = keyId(name, publicKey);
  if (!bytesEqual(id, claimedId)) {
    throw new LafsError('bad-key', `signer key for ${name}: key ID ${hex} does not match the key (expected ${formatKeyId(id)})`);
  }
  return { name, seed, publicKey, id };
}

/** Splits at the first `parts - 1` pluses (base64 in the last part may itself contain '+'). */
function splitPlus(s: string, parts: number): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  let rest = s;
  for (let i = 0; i < parts - 1; i++) {
    const at = rest.indexOf('+');
    if (at < 0) return out;
    out.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  out.push(rest);
  return out;
}

function parseHexKeyId(hex: string, what: string): Uint8Array {
  if (!/^[0-9a-fA-F]{8}$/.test(hex)) throw new LafsError('bad-key', `${what}: key ID ${JSON.stringify(hex)} is not 8 hex digits`);
  const id = new Uint8Array(KEY_ID_SIZE);
  for (let i = 0; i < KEY_ID_SIZE; i++) id[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return id;
}

/** Decodes base64(type byte || 32-byte key) and checks the type is Ed25519. */
function decodeTypedKey(encoded: string, what: string, keyKind: string): Uint8Array {
  const bytes = decodeBase64Strict(encoded);
  if (bytes === undefined || bytes.length === 0) throw new LafsError('bad-key', `${what}: key data is not canonical standard base64`);
  if (bytes[0] !== ED25519_SIGNATURE_TYPE) {
    throw new LafsError('bad-key', `${what}: signature type 0x${bytes[0]!.toString(16).padStart(2, '0')} is not supported (only Ed25519, 0x01)`);
  }
  if (bytes.length !== 1 + ED25519_KEY_SIZE) throw new LafsError('bad-key', `${what}: Ed25519 ${keyKind} must be ${ED25519_KEY_SIZE} bytes, got ${bytes.length - 1}`);
  return bytes.slice(1);
}

function withTypeByte(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + key.length);
  out[0] = ED25519_SIGNATURE_TYPE;
  out.set(key, 1);
  return out;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function lineOf(s: string, index: number): number {
  let line = 1;
  for (let i = s.indexOf('\n'); i >= 0 && i < index; i = s.indexOf('\n', i + 1)) line++;
  return line;
}

function codePoint(ch: string): string {
  return 'U+' + ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
}
