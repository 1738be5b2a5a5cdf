/**
 * The HTTP routes of `lafs-log serve` (docs/http-api.md): each route parses its input, calls the
 * reader, build pool or sequencer, and formats the answer. Errors are thrown as LafsError and
 * turned into `{ error, message }` by http-errors.ts, the one place that maps codes to statuses.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { decodeLeaf } from '../attestation/leaf.js';
import { decodeBase64Strict } from '../merkle/base64.js';
import { LafsError } from '../merkle/errors.js';
import { parseTilePath } from '../merkle/tiles.js';
import type { BuildPool } from './build-pool.js';
import { BODY_LIMIT_BYTES, LOOKUP_LIMIT } from './config.js';
import { EntryViews } from './entry-view.js';
import { answerError, errorHandler, sendError } from './http-errors.js';
import type { ByteBudget } from './inflight.js';
import type { Metrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { LogReader } from './reader.js';
import type { Sequencer } from './sequencer.js';
import type { LookupRow, Store } from './store.js';
import { parseSubmission, summarize, type BuiltSubmission } from './submission.js';

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

const IMMUTABLE = 'public, max-age=31536000, immutable';
/**
 * Base64 of bytes, without copying large ones. Small typed arrays (hashes) live inside V8's heap:
 * reading their `.buffer` would move them out, a malloc each, and a proof has twenty of them.
 */
const b64 = (bytes: Uint8Array) => (bytes.byteLength <= 64 ? Buffer.from(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('base64');

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

/** The inflight bytes one submission holds: given back once the response is over and the handler is done with the request. */
interface Release { handling: boolean; done(): void }

/**
 * POST /v1/entries, in the parts both of its paths share: the rate limit, the byte budget, and
 * building, sequencing and answering a submission (createHandler, createApp).
 */
function submissionHandlers(deps: AppDeps) {
  const { reader, sequencer, limiter, inflight, metrics } = deps;

  /** Takes a token for the client; false once it has answered 429. */
  const limitRate = (req: IncomingMessage, res: ServerResponse): boolean => {
    // req.ip without a trusted proxy is the socket's address.
    const wait = limiter.take(req.socket.remoteAddress ?? 'unknown');
    if (wait <= 0) return true;
    metrics.countSubmission('rejected');
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(wait))));
    sendError(res, 'rate-limited', `too many submissions from this client; retry in ${Math.max(1, Math.ceil(wait))} s`);
    return false;
  };

  // Reserves the body's bytes before it is read (see inflight.ts). They are given back when the
  // response is over, or, if the handler got the request, when the handler is done with it: a
  // client that hangs up does not free what the build queue or the sequencer still holds for it.
  const admit = (req: IncomingMessage, res: ServerResponse): Release | undefined => {
    const declared = Number(req.headers['content-length']);
    const bytes = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, BODY_LIMIT_BYTES) : BODY_LIMIT_BYTES;
    if (!inflight.take(bytes)) {
      metrics.countSubmission('rejected');
      res.setHeader('Retry-After', '1');
      sendError(res, 'unavailable', `the server holds as many submission bytes as it may (${inflight.limit}); retry in 1 s`);
      return undefined;
    }
    let released = false;
    const release: Release = {
      handling: false,
      done() {
        release.handling = false;
        if (released) return;
        released = true;
        inflight.release(bytes);
      },
    };
    res.on('close', () => {
      if (!release.handling) release.done();
    });
    return release;
  };

  /** Builds (in a worker), sequences (durably) and answers one submission; throws what building threw. */
  const answer = async (res: ServerResponse, build: () => Promise<BuiltSubmission>): Promise<void> => {
    const t0 = performance.now();
    let built: BuiltSubmission;
    try {
      built = await build();
    } catch (e) {
      metrics.countSubmission('rejected');
      throw e;
    }
    const t1 = performance.now();
    metrics.verifySeconds.observe(built.verifyMs / 1000);
    const seq = await sequencer.submit({
      leaf: built.bytes,
      leafHash: built.leafHash,
      meta: { builder: built.builder, warnings: built.warnings, receivedAt: new Date().toISOString(), ...withPlatforms(built.platforms) },
      rows: built.rows,
    });
    const t2 = performance.now();
    const proof = await reader.inclusionProof(seq.index, seq.size);
    const t3 = performance.now();
    const body = JSON.stringify({
      index: seq.index,
      leafHash: b64(built.leafHash),
      builder: built.builder,
      warnings: built.warnings,
      checkpoint: seq.checkpoint,
      inclusionProof: proof.map(b64),
    });
    res.statusCode = seq.created ? 201 : 200;
    // Where the time went, for operators and the ingestion benchmark (W3C Server-Timing).
    res.setHeader('Server-Timing', `verify;dur=${(t1 - t0).toFixed(2)}, sequence;dur=${(t2 - t1).toFixed(2)}, proof;dur=${(t3 - t2).toFixed(2)}`);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  };

  return { limitRate, admit, answer };
}

/** Content types express.json reads as UTF-8 JSON without further ado. */
const PLAIN_JSON = /^application\/json(?:\s*;\s*charset=(?:utf-8|"utf-8"))?$/i;

/**
 * The server's request listener: the express app of createApp, and in front of it the fast path
 * of the one hot route. A plain POST /v1/entries (application/json, identity encoding, a
 * Content-Length within the body limit) is read here and its raw bytes go to a build worker,
 * which parses and checks the JSON (submission.ts, with express.json's strict rules and the same
 * errors): the main thread, which every submission passes through, does no routing, no JSON
 * parsing and no base64 decoding. Anything else (other routes, other encodings or content types,
 * chunked or oversized bodies) takes the express app, which answers it as before.
 */
export function createHandler(deps: AppDeps): RequestListener {
  const submissions = submissionHandlers(deps);
  const app = createApp(deps, submissions);
  const { pool, metrics, log } = deps;

  const fast = (req: IncomingMessage, res: ServerResponse, declared: number) => {
    res.on('finish', () => metrics.countRequest('/v1/entries', res.statusCode));
    const fail = (e: unknown) => answerError(log, e, req, '/v1/entries', res);
    if (!submissions.limitRate(req, res)) return;
    const release = submissions.admit(req, res);
    if (!release) return;
    const chunks: Buffer[] = [];
    let received = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received <= declared) chunks.push(chunk);
    });
    req.on('aborted', () => {
      over = true;
    });
    req.on('error', () => {
      over = true;
      fail(new LafsError('bad-request', 'the request body could not be read: request aborted'));
    });
    req.on('end', () => {
      if (over) return;
      over = true;
      if (received !== declared) return fail(new LafsError('bad-request', 'the request body could not be read: request size did not match content length'));
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      release.handling = true;
      submissions.answer(res, () => pool.buildBody(body)).catch(fail).finally(() => release.done());
    });
  };

  return (req, res) => {
    if (req.method === 'POST' && req.url === '/v1/entries') {
      const h = req.headers;
      const declared = Number(h['content-length']);
      if (
        PLAIN_JSON.test(h['content-type'] ?? '') &&
        (h['content-encoding'] === undefined || h['content-encoding'] === 'identity') &&
        h['transfer-encoding'] === undefined &&
        h['content-length'] !== undefined && /^[0-9]+$/.test(h['content-length']) &&
        declared <= BODY_LIMIT_BYTES
      ) return fast(req, res, declared);
    }
    app(req, res);
  };
}

/** The express app; `submissions` is shared with createHandler's fast path when there is one. */
export function createApp(deps: AppDeps, submissions = submissionHandlers(deps)): express.Express {
  const { reader, pool, inflight, metrics, store } = deps;
  metrics.inflightBytes = () => inflight.used;
  const views = new EntryViews(pool);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    res.on('finish', () => {
      const route = routeLabel(req.path);
      metrics.countRequest(route, res.statusCode);
      if (route.startsWith('/v1/proof/')) metrics.proofSeconds.observe((performance.now() - started) / 1000);
    });
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

  app.post('/v1/entries', (req, res, next) => {
    if (!submissions.limitRate(req, res)) return;
    const release = submissions.admit(req, res);
    if (!release) return;
    res.locals.release = release;
    next();
  }, express.json({ limit: BODY_LIMIT_BYTES, strict: true }), async (req, res) => {
    (res.locals.release as Release).handling = true;
    try {
      await submissions.answer(res, async () => {
        const submission = parseSubmission(req.body);
        return summarize(await pool.build(submission), submission.claims);
      });
    } finally {
      (res.locals.release as Release).done();
    }
  });

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
