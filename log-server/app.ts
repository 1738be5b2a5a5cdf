/**
 * The HTTP routes of `lafs-log serve` (docs/http-api.md): each route parses its input, calls the
 * reader, build pool or sequencer, and formats the answer. Errors are thrown as LafsError and
 * turned into `{ error, message }` by http-errors.ts, the one place that maps codes to statuses.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { decodeLeaf } from '../attestation/leaf.js';
import { validateClaims, type SumsClaims } from '../attestation/sums.js';
import { decodeBase64Strict } from '../merkle/base64.js';
import { LafsError } from '../merkle/errors.js';
import { parseTilePath } from '../merkle/tiles.js';
import type { BuildPool } from './build-pool.js';
import { BODY_LIMIT_BYTES, LOOKUP_LIMIT } from './config.js';
import { EntryViews, derivedPlatforms } from './entry-view.js';
import { errorHandler, sendError } from './http-errors.js';
import type { ByteBudget } from './inflight.js';
import type { Metrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { LogReader } from './reader.js';
import type { Sequencer } from './sequencer.js';
import type { IndexRow, LookupRow, Store } from './store.js';

export interface AppDeps {
  origin: string;
  verifierKey: string;
  store: Store;
  reader: LogReader;
  sequencer: Sequencer;
  pool: BuildPool;
  limiter: RateLimiter;
  inflight: ByteBudget;
  metrics: Metrics;
  log: { error(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

const KINDS = ['lafs-attestation/v1', 'sha256sums'] as const;
const IMMUTABLE = 'public, max-age=31536000, immutable';
const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

// ---- input parsing (every failure names the field) ----

const SubmissionSchema = z.strictObject({
  kind: z.string(),
  statement: z.string().min(1).optional(),
  sums: z.string().min(1).optional(),
  signature: z.string().min(1),
  publicKey: z.string().min(1),
  claims: z.unknown().optional(),
});

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

function parseSubmission(body: unknown): { kind: string; signed: Uint8Array; signature: Uint8Array | string; publicKey: Uint8Array | string; claims?: SumsClaims } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new LafsError('bad-request', 'body must be a JSON object sent with Content-Type: application/json');
  }
  const kind = (body as { kind?: unknown }).kind;
  if (typeof kind !== 'string') throw new LafsError('bad-request', 'kind: required, a string');
  if (!(KINDS as readonly string[]).includes(kind)) throw new LafsError('unknown-kind', `kind: ${JSON.stringify(kind)} is not one of ${KINDS.join(', ')}`);
  const parsed = SubmissionSchema.safeParse(body);
  if (!parsed.success) throw new LafsError('bad-request', zodMessage(parsed.error));
  const b = parsed.data;
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
  // Checked here, on the main thread, and replaced by a fresh flat object of three short strings:
  // the raw JSON value may be anything the body limit allows (e.g. an array nested 100k deep), and
  // only a small, known shape may travel to a worker (structured clone recurses on nesting).
  const claims = validateClaims(b.claims);
  const signed = decodeBase64Strict(b.sums);
  if (signed === undefined || signed.length === 0) throw new LafsError('bad-request', 'sums: not standard base64 of a non-empty file');
  return { kind, signed, signature, publicKey, claims };
}

function withPlatforms(platforms: (string | null)[] | undefined): { platforms?: (string | null)[] } {
  return platforms === undefined ? {} : { platforms };
}

/** A decimal query/path number: canonical (no sign, no leading zeros), a safe integer. */
function number(name: string, text: unknown): number {
  if (typeof text !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(text)) throw new LafsError('bad-request', `${name}: expected a non-negative decimal integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new LafsError('bad-request', `${name}: too large`);
  return n;
}

/** The query, with every parameter a single string and none outside `allowed`. */
function query(req: Request, allowed: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(req.query as Record<string, unknown>)) {
    if (!allowed.includes(key)) throw new LafsError('bad-request', `unknown query parameter ${JSON.stringify(key)} (allowed: ${allowed.join(', ')})`);
    if (typeof value !== 'string') throw new LafsError('bad-request', `${key}: give it once, as a plain value`);
    out[key] = value;
  }
  return out;
}

function hashParam(name: string, text: string): Uint8Array {
  // A '+' that was not percent-encoded arrives as a space; base64 has no spaces, so restoring it is safe.
  const bytes = decodeBase64Strict(text.replace(/ /g, '+'));
  if (bytes === undefined || bytes.length !== 32) throw new LafsError('bad-request', `${name}: expected standard base64 of 32 bytes`);
  return bytes;
}

const SOURCE_RE = /^(sha256:[0-9a-f]{64}|git:([0-9a-f]{40}|[0-9a-f]{64}))$/;
const PLATFORM_RE = /^[A-Za-z0-9._+-]{1,64}$/;

function lookupRowJson(r: LookupRow) {
  return { index: r.index, builder: r.builder, source: r.source, platform: r.platform, name: r.name, hash: `sha256:${r.sha256}` };
}

/** Bounded label set for request metrics. */
function routeLabel(path: string): string {
  if (path === '/checkpoint') return '/checkpoint';
  if (path.startsWith('/tile/entries/')) return '/tile/entries';
  if (path.startsWith('/tile/')) return '/tile';
  if (path === '/v1/entries') return '/v1/entries';
  if (path.startsWith('/v1/entries/')) return '/v1/entries/:index';
  for (const p of ['/v1/proof/inclusion', '/v1/proof/consistency', '/v1/lookup', '/v1/log', '/healthz', '/metrics']) if (path === p) return p;
  return 'other';
}

export function createApp(deps: AppDeps): express.Express {
  const { reader, sequencer, pool, limiter, inflight, metrics, store } = deps;
  metrics.inflightBytes = () => inflight.used;
  const views = new EntryViews(pool);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    res.on('finish', () => metrics.countRequest(routeLabel(req.path), res.statusCode));
    next();
  });

  // ---- C2SP tlog-tiles ----

  app.get('/checkpoint', (_req, res) => {
    res.set('Content-Type', 'text/plain; charset=utf-8').set('Cache-Control', 'no-cache').send(reader.state().checkpoint);
  });

  app.get(/^\/tile\//, async (req, res) => {
    const ref = parseTilePath(req.path);
    const answer = await reader.tile(ref);
    if (answer === undefined) throw new LafsError('not-found', `${req.path.slice(1)} does not exist in the tree of size ${reader.size}`);
    res.set('Content-Type', 'application/octet-stream').set('Cache-Control', answer.full ? IMMUTABLE : 'no-cache').send(Buffer.from(answer.bytes.buffer, answer.bytes.byteOffset, answer.bytes.byteLength));
  });

  // ---- submissions ----

  const rateLimit = (req: Request, res: Response, next: NextFunction) => {
    const wait = limiter.take(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    if (wait > 0) {
      metrics.countSubmission('rejected');
      res.set('Retry-After', String(Math.max(1, Math.ceil(wait))));
      return sendError(res, 'rate-limited', `too many submissions from this client; retry in ${Math.max(1, Math.ceil(wait))} s`);
    }
    next();
  };

  // Reserves the body's bytes before it is read (see inflight.ts). They are given back when the
  // response is over, or, if the handler got the request, when the handler is done with it: a
  // client that hangs up does not free what the build queue or the sequencer still holds for it.
  const admit = (req: Request, res: Response, next: NextFunction) => {
    const declared = Number(req.headers['content-length']);
    const bytes = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, BODY_LIMIT_BYTES) : BODY_LIMIT_BYTES;
    if (!inflight.take(bytes)) {
      metrics.countSubmission('rejected');
      res.set('Retry-After', '1');
      return sendError(res, 'unavailable', `the server holds as many submission bytes as it may (${inflight.limit}); retry in 1 s`);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      inflight.release(bytes);
    };
    res.locals.releaseInflight = release;
    res.on('close', () => {
      if (!res.locals.handling) release();
    });
    next();
  };

  app.post('/v1/entries', rateLimit, admit, express.json({ limit: BODY_LIMIT_BYTES, strict: true }), async (req, res) => {
    res.locals.handling = true;
    try {
      await submit(req, res);
    } finally {
      res.locals.handling = false;
      (res.locals.releaseInflight as () => void)();
    }
  });

  const submit = async (req: Request, res: Response) => {
    const t0 = performance.now();
    let built;
    let submission;
    try {
      submission = parseSubmission(req.body);
      built = await pool.build(submission);
    } catch (e) {
      metrics.countSubmission('rejected');
      throw e;
    }
    const t1 = performance.now();
    metrics.verifySeconds.observe(built.verifyMs / 1000);
    const builder = built.signature.builder;
    const rows: IndexRow[] = built.view.artifacts.map((a) => ({ builder, source: built.view.source, platform: a.platform, name: a.name, sha256: a.sha256 }));
    const seq = await sequencer.submit({
      leaf: built.bytes,
      leafHash: built.leafHash,
      meta: { builder, warnings: built.signature.warnings, receivedAt: new Date().toISOString(), ...withPlatforms(derivedPlatforms(submission.claims, built.view)) },
      rows,
    });
    const t2 = performance.now();
    const proof = await reader.inclusionProof(seq.index, seq.size);
    const t3 = performance.now();
    // Where the time went, for operators and the ingestion benchmark (W3C Server-Timing).
    res.set('Server-Timing', `verify;dur=${(t1 - t0).toFixed(2)}, sequence;dur=${(t2 - t1).toFixed(2)}, proof;dur=${(t3 - t2).toFixed(2)}`);
    res.status(seq.created ? 201 : 200).json({
      index: seq.index,
      leafHash: b64(built.leafHash),
      builder,
      warnings: built.signature.warnings,
      checkpoint: seq.checkpoint,
      inclusionProof: proof.map(b64),
    });
  };

  // ---- reads ----

  app.get('/v1/entries/:index', async (req, res) => {
    const index = number('index', req.params.index);
    const { leaf, leafHash, meta } = await reader.entry(index);
    const decoded = decodeLeaf(leaf);
    const view = await views.view(leaf, decoded, Buffer.from(leafHash).toString('hex'), meta);
    res.json({
      index,
      leafHash: b64(leafHash),
      leaf: b64(leaf),
      kind: view.kind,
      builder: meta?.builder ?? null,
      source: view.source,
      artifacts: view.artifacts.map((a) => ({ platform: a.platform, name: a.name, hash: `sha256:${a.sha256}` })),
      ...(decoded.claims ? { claims: decoded.claims } : {}),
      flags: view.flags,
      warnings: meta?.warnings ?? [],
      receivedAt: meta?.receivedAt ?? null,
    });
  });

  app.get('/v1/proof/inclusion', async (req, res) => {
    const q = query(req, ['index', 'leafHash', 'size']);
    if ((q.index === undefined) === (q.leafHash === undefined)) throw new LafsError('bad-request', 'give exactly one of index or leafHash');
    const size = reader.treeSize(q.size === undefined ? undefined : number('size', q.size));
    let index: number;
    if (q.index !== undefined) {
      index = number('index', q.index);
    } else {
      const found = await reader.indexOf(hashParam('leafHash', q.leafHash!));
      if (found === undefined) throw new LafsError('not-found', 'leafHash: no entry with this leaf hash');
      index = found;
    }
    if (index >= size) throw new LafsError('out-of-range', `index ${index} is not below size ${size}`);
    const [proof, leafHash] = await Promise.all([reader.inclusionProof(index, size), reader.leafHashAt(index, size)]);
    res.json({ index, size, leafHash: b64(leafHash), proof: proof.map(b64) });
  });

  app.get('/v1/proof/consistency', async (req, res) => {
    const q = query(req, ['from', 'to']);
    if (q.from === undefined) throw new LafsError('bad-request', 'from: required');
    const from = number('from', q.from);
    const to = q.to === undefined ? reader.size : number('to', q.to);
    const proof = await reader.consistencyProof(from, to);
    res.json({ from, to, proof: proof.map(b64) });
  });

  app.get('/v1/lookup', async (req, res) => {
    const q = query(req, ['hash', 'source', 'platform', 'name']);
    let rows: LookupRow[];
    if (q.hash !== undefined) {
      if (q.source !== undefined || q.platform !== undefined || q.name !== undefined) throw new LafsError('bad-request', 'give either hash, or source with optional platform and name, not both');
      const m = /^sha256:([0-9a-f]{64})$/.exec(q.hash);
      if (!m) throw new LafsError('bad-request', 'hash: expected sha256:<64 lowercase hex>');
      rows = await store.lookupHash(m[1]!, LOOKUP_LIMIT + 1);
    } else {
      if (q.source === undefined) throw new LafsError('bad-request', 'source: required unless hash is given');
      if (!SOURCE_RE.test(q.source)) throw new LafsError('bad-request', 'source: expected sha256:<64 hex> or git:<40 or 64 hex>, lowercase');
      if (q.platform !== undefined && !PLATFORM_RE.test(q.platform)) throw new LafsError('bad-request', 'platform: 1-64 characters from A-Za-z0-9._+-');
      if (q.name !== undefined && (q.name === '' || q.name.includes('/') || /[\u0000-\u001f\u007f]/.test(q.name) || Buffer.byteLength(q.name) > 255)) {
        throw new LafsError('bad-request', 'name: a file base name (no "/", no control characters, at most 255 bytes)');
      }
      rows = await store.lookupName({ source: q.source, ...(q.platform !== undefined ? { platform: q.platform } : {}), ...(q.name !== undefined ? { name: q.name } : {}) }, LOOKUP_LIMIT + 1);
    }
    const size = reader.size;
    const visible = rows.filter((r) => r.index < size); // rows of a batch not yet published stay hidden
    res.json({ entries: visible.slice(0, LOOKUP_LIMIT).map(lookupRowJson), truncated: visible.length > LOOKUP_LIMIT });
  });

  app.get('/v1/log', (_req, res) => {
    res.set('Cache-Control', 'no-cache').json({ origin: deps.origin, verifierKey: deps.verifierKey, size: reader.size, bodyLimit: BODY_LIMIT_BYTES, lookupLimit: LOOKUP_LIMIT });
  });

  app.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ ok: true, size: reader.size });
  });

  app.get('/metrics', (_req, res) => {
    res.set('Content-Type', 'text/plain; version=0.0.4; charset=utf-8').set('Cache-Control', 'no-store').send(metrics.render());
  });

  app.use((req: Request, _res: Response) => {
    throw new LafsError('not-found', `no route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(deps.log));
  return app;
}
