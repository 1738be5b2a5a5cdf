/**
 * HTTP transport of the log client: global fetch with a per-attempt timeout, a bounded number of
 * attempts with capped exponential backoff and full jitter on network errors and 5xx, and errors
 * that name the method, the URL and what to do. 4xx answers are returned to the caller (they are
 * meaningful: a missing tile, a static mirror without /v1, a rejected submission), never retried.
 * Response bodies are read with a size limit so a hostile server cannot exhaust memory.
 */
import { LafsError, type ErrorCode } from '../merkle/errors.js';

export interface TransportOptions {
  timeoutMs?: number; // per attempt, default 10000
  retries?: number; // extra attempts after the first on network errors and 5xx, default 3
  backoffMs?: number; // first backoff, default 250
  maxBackoffMs?: number; // backoff cap, default 5000
  signal?: AbortSignal; // aborts every request and backoff wait (long-running callers)
  userAgent?: string;
}

export interface HttpResponse {
  method: string;
  url: string;
  status: number;
  contentType: string;
  body: Uint8Array;
}

export interface RequestOptions {
  body?: string; // JSON text for POST
  maxBytes: number; // larger bodies are refused (LafsError 'too-large')
}

/** Error codes the server may send in a JSON error body (merkle/errors.ts ErrorCode). */
const KNOWN_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'bad-request', 'bad-statement', 'bad-sums', 'bad-signature', 'bad-key', 'bad-leaf', 'bad-checkpoint',
  'bad-note', 'bad-tile', 'bad-bundle', 'bad-proof', 'unknown-kind', 'not-found', 'out-of-range',
  'too-large', 'rate-limited', 'inconsistent', 'unavailable', 'io', 'usage', 'internal',
]);

/** Why an attempt failed in words a person understands (fetch hides the cause in `cause.code`). */
function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return err.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : 'aborted';
  }
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const code = cause?.code ?? (err as { code?: string } | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ECONNRESET': return 'connection reset by the server';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'host name not found';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'host unreachable';
    case 'UND_ERR_SOCKET': return 'connection closed by the server';
    case 'UND_ERR_HEADERS_TIMEOUT': case 'UND_ERR_BODY_TIMEOUT': case 'ETIMEDOUT': return `timed out after ${timeoutMs} ms`;
    default: break;
  }
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** Aborts as soon as `signal` does; resolves after `ms` otherwise. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Reads at most `maxBytes` of a response body; the limit is checked while streaming. */
async function readLimited(res: Response, maxBytes: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new LafsError('too-large', `${what}: response of ${declared} bytes is over the limit of ${maxBytes}`);
  }
  if (!res.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new LafsError('too-large', `${what}: response is over the limit of ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) { out.set(c, offset); offset += c.byteLength; }
  return out;
}

export class HttpTransport {
  readonly timeoutMs: number;
  readonly attempts: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly userAgent: string;

  constructor(options: TransportOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const retries = options.retries ?? 3;
    if (!Number.isInteger(retries) || retries < 0 || retries > 20) throw new LafsError('bad-request', `retries: expected an integer 0..20, got ${retries}`);
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) throw new LafsError('bad-request', `timeoutMs: expected a positive number, got ${this.timeoutMs}`);
    this.attempts = retries + 1;
    this.backoffMs = options.backoffMs ?? 250;
    this.maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.signal = options.signal;
    this.userAgent = options.userAgent ?? 'lafs-client';
  }

  /** Capped exponential backoff with full jitter: uniform in [0, min(cap, base * 2^n)]. */
  private backoff(attempt: number): number {
    return Math.random() * Math.min(this.maxBackoffMs, this.backoffMs * 2 ** attempt);
  }

  /**
   * One logical request. Resolves with any status below 500 (callers decide what a 404 means);
   * throws LafsError('unavailable') after the last attempt failed with a network error or a 5xx.
   */
  async request(method: 'GET' | 'POST', url: string, options: RequestOptions): Promise<HttpResponse> {
    const what = `${method} ${url}`;
    let lastProblem = '';
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      if (attempt > 0) await sleep(this.backoff(attempt - 1), this.signal);
      const timeout = AbortSignal.timeout(this.timeoutMs);
      const signal = this.signal ? AbortSignal.any([this.signal, timeout]) : timeout;
      let res: Response;
      let body: Uint8Array;
      try {
        const headers: Record<string, string> = { 'user-agent': this.userAgent };
        if (options.body !== undefined) headers['content-type'] = 'application/json';
        res = await fetch(url, { method, headers, body: options.body, signal, redirect: 'follow' });
        body = await readLimited(res, options.maxBytes, what);
      } catch (err) {
        if (err instanceof LafsError) throw err; // over the size limit: retrying would not help
        if (this.signal?.aborted) throw new LafsError('unavailable', `${what}: aborted`, { cause: err });
        lastProblem = describeNetworkError(err, this.timeoutMs);
        continue;
      }
      if (res.status >= 500) {
        lastProblem = `server error ${res.status}${summarize(body)}`;
        continue;
      }
      return { method, url, status: res.status, contentType: res.headers.get('content-type') ?? '', body };
    }
    const n = this.attempts;
    throw new LafsError('unavailable', `${what}: ${lastProblem} after ${n} attempt${n === 1 ? '' : 's'}; check that the log URL is right and the log is reachable, or try again later`);
  }
}

/** A short, printable excerpt of an error body for messages. */
function summarize(body: Uint8Array): string {
  const text = new TextDecoder().decode(body.subarray(0, 200)).replace(/[^\x20-\x7e]+/g, ' ').trim();
  return text ? ` (${text})` : '';
}

/** The `{ error, message }` body of an API error, or undefined when the body is not one (e.g. a static server's 404 page). */
export function apiErrorBody(res: HttpResponse): { error: string; message: string } | undefined {
  if (!res.contentType.toLowerCase().includes('application/json')) return undefined;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(res.body));
    if (parsed && typeof parsed === 'object' && typeof (parsed as { error?: unknown }).error === 'string') {
      const message = (parsed as { message?: unknown }).message;
      return { error: (parsed as { error: string }).error, message: typeof message === 'string' ? message : '' };
    }
  } catch {
    // not JSON: not an API error body
  }
  return undefined;
}

/** A LafsError carrying the server's error code and message (4xx from the API). */
export function apiError(res: HttpResponse): LafsError {
  const body = apiErrorBody(res);
  const what = `${res.method} ${res.url}`;
  if (!body) return new LafsError(res.status === 404 ? 'not-found' : 'bad-request', `${what}: HTTP ${res.status}${summarize(res.body)}`);
  const code: ErrorCode = KNOWN_CODES.has(body.error) ? (body.error as ErrorCode) : 'bad-request';
  const message = body.message.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 500);
  return new LafsError(code, `${what}: the log answered ${res.status} ${body.error}: ${message}`);
}
