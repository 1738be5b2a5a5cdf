/** Edge encodings of the CLI: strict base64 and `sha256:<hex>` arguments. Bytes stay Uint8Array inside. */
import { LafsError } from '../merkle/errors.js';

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Standard base64, strictly: Node's decoder skips junk silently, so re-encode and compare (STYLE.md trap). */
export function fromBase64Strict(text: string, field: string): Uint8Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw new LafsError('bad-bundle', `${field}: not canonical standard base64`);
  return new Uint8Array(bytes);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** `sha256:<64 hex>` (or bare hex) -> 64 lowercase hex. Throws a usage error naming the option. */
export function parseSha256Arg(value: string, option: string): string {
  const m = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(value.trim());
  if (!m) throw new LafsError('usage', `${option} must be sha256:<64 hex digits>, got "${value}"`);
  return m[1]!.toLowerCase();
}
