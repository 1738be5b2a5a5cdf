/**
 * A POST /v1/entries body, from its bytes to a checked BuildRequest, and a built leaf to what the
 * sequencer and the answer need (docs/http-api.md). Shared by the main thread (requests that take
 * express's general path) and the build workers (the common case: the raw body bytes go to a
 * worker, which parses the JSON there, so the main thread never parses or decodes the large
 * base64/armored fields). Every failure is a LafsError naming the field, with the same code and
 * message on either path.
 */
import { z } from 'zod';
import { validateClaims, type SumsClaims } from '../attestation/sums.js';
import { decodeBase64Strict } from '../merkle/base64.js';
import { LafsError } from '../merkle/errors.js';
import type { BuildRequest, BuiltLeaf } from './build-pool.js';
import { derivedPlatforms } from './entry-view.js';
import type { IndexRow } from './store.js';

const KINDS = ['lafs-attestation/v1', 'sha256sums'] as const;

const SubmissionSchema = z.strictObject({
  kind: z.string(),
  statement: z.string().min(1).optional(),
  sums: z.string().min(1).optional(),
  signature: z.string().min(1),
  publicKey: z.string().min(1),
  claims: z.unknown().optional(),
});

type SubmissionFields = z.infer<typeof SubmissionSchema>;
const FIELDS: ReadonlySet<string> = new Set(Object.keys(SubmissionSchema.shape));
const optionalText = (v: unknown): boolean => v === undefined || (typeof v === 'string' && v.length >= 1);
const text = (v: unknown): boolean => typeof v === 'string' && v.length >= 1;

/** The body as SubmissionSchema would return it when it surely passes the schema, else undefined (then the schema decides, and words the refusal). */
function wellFormed(body: object): SubmissionFields | undefined {
  for (const key of Object.keys(body)) if (!FIELDS.has(key)) return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b.kind !== 'string' || !optionalText(b.statement) || !optionalText(b.sums) || !text(b.signature) || !text(b.publicKey)) return undefined;
  return b as SubmissionFields;
}

function zodMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid body';
  if (issue.code === 'unrecognized_keys') return `unknown field(s): ${issue.keys.join(', ')}`;
  const path = issue.path.length ? issue.path.join('.') : 'body';
  return `${path}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

/** An OpenPGP object in the JSON body: ASCII-armored text as it is, or standard base64 of the binary. */
function openpgpField(name: string, value: string): Uint8Array | string {
  if (value.trimStart().startsWith('-----BEGIN PGP ')) return value;
  const bytes = decodeBase64Strict(value);
  if (bytes === undefined || bytes.length === 0) throw new LafsError('bad-request', `${name}: neither ASCII-armored nor standard base64`);
  return bytes;
}

export type ParsedSubmission = BuildRequest & { claims?: SumsClaims };

export function parseSubmission(body: unknown): ParsedSubmission {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new LafsError('bad-request', 'body must be a JSON object sent with Content-Type: application/json');
  }
  const kind = (body as { kind?: unknown }).kind;
  if (typeof kind !== 'string') throw new LafsError('bad-request', 'kind: required, a string');
  if (!(KINDS as readonly string[]).includes(kind)) throw new LafsError('unknown-kind', `kind: ${JSON.stringify(kind)} is not one of ${KINDS.join(', ')}`);
  // The common, well-formed body is checked by hand (exactly what the schema accepts); zod runs
  // only when that check fails, so every refusal keeps the schema's message.
  let b = wellFormed(body);
  if (b === undefined) {
    const parsed = SubmissionSchema.safeParse(body);
    if (!parsed.success) throw new LafsError('bad-request', zodMessage(parsed.error));
    b = parsed.data;
  }
  const signature = openpgpField('signature', b.signature);
  const publicKey = openpgpField('publicKey', b.publicKey);
  if (kind === 'lafs-attestation/v1') {
    if (b.statement === undefined) throw new LafsError('bad-request', 'statement: required for kind lafs-attestation/v1');
    if (b.sums !== undefined || b.claims !== undefined) throw new LafsError('bad-request', 'sums/claims: only for kind sha256sums');
    return { kind, signed: new TextEncoder().encode(b.statement), signature, publicKey };
  }
  if (b.sums === undefined) throw new LafsError('bad-request', 'sums: required for kind sha256sums (base64 of the file)');
  if (b.statement !== undefined) throw new LafsError('bad-request', 'statement: only for kind lafs-attestation/v1');
  if (b.claims === undefined) throw new LafsError('bad-request', 'claims: required for kind sha256sums');
  // Replaced by a fresh flat object of three short strings: the raw JSON value may be anything the
  // body limit allows (e.g. an array nested 100k deep), and only a small, known shape may travel
  // between threads (structured clone recurses on nesting).
  const claims = validateClaims(b.claims);
  const signed = decodeBase64Strict(b.sums);
  if (signed === undefined || signed.length === 0) throw new LafsError('bad-request', 'sums: not standard base64 of a non-empty file');
  return { kind, signed, signature, publicKey, claims };
}

const utf8 = new TextDecoder('utf-8'); // not fatal, BOM stripped: as body-parser decodes a utf-8 body
const FIRST_NON_WHITESPACE = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d])/;

/**
 * JSON.parse of a body as express.json({ strict: true }) parses it: utf-8, an empty body is {},
 * and anything but an object or array at the top is refused with the message JSON.parse gives
 * for the first offending character. Throws LafsError('bad-request', 'body is not valid JSON: ...').
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  const text = utf8.decode(bytes);
  if (text.length === 0) return {};
  const fail = (e: unknown): never => {
    throw new LafsError('bad-request', `body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`.trim());
  };
  if (text[0] !== '{' && text[0] !== '[') {
    const first = FIRST_NON_WHITESPACE.exec(text)?.[1];
    if (first !== '{' && first !== '[') {
      // JSON.parse's own message for that character: everything from it on is replaced by '#'
      // (a token no JSON value starts with), and the placeholder put back into the message.
      const at = first === undefined ? -1 : text.indexOf(first);
      const partial = at === -1 ? '' : text.slice(0, at) + '#'.repeat(text.length - at);
      try {
        JSON.parse(partial);
      } catch (e) {
        const message = e instanceof Error ? e.message.replace(/#+/g, (p) => text.slice(at, at + p.length)) : String(e);
        fail(new Error(message));
      }
      fail(new Error('strict violation'));
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    return fail(e);
  }
}

/** What the main thread needs of a built leaf: the leaf, its hash, the entry metadata (less receivedAt) and the lookup rows. */
export interface BuiltSubmission {
  bytes: Uint8Array;
  leafHash: Uint8Array;
  builder: string;
  warnings: string[];
  /** What the leaf's platformRegex derived per artifact (entry-view.ts), when it has one. */
  platforms?: (string | null)[];
  rows: IndexRow[];
  verifyMs: number;
}

export function summarize(built: BuiltLeaf, claims: SumsClaims | undefined): BuiltSubmission {
  const builder = built.signature.builder;
  const rows: IndexRow[] = built.view.artifacts.map((a) => ({ builder, source: built.view.source, platform: a.platform, name: a.name, sha256: a.sha256 }));
  const platforms = derivedPlatforms(claims, built.view);
  return { bytes: built.bytes, leafHash: built.leafHash, builder, warnings: built.signature.warnings, ...(platforms === undefined ? {} : { platforms }), rows, verifyMs: built.verifyMs };
}
