/**
 * Configuration of `lafs-log serve`: the command-line options, checked once at the door, and the
 * limits the server enforces (documented in docs/http-api.md and docs/operating.md).
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { LafsError } from '../merkle/errors.js';

/** Largest accepted POST body. A leaf is at most 64 KiB; base64 and armor inflate it by ~4/3. */
export const BODY_LIMIT_BYTES = 256 * 1024;
/** Most lookup rows returned by one /v1/lookup request. */
export const LOOKUP_LIMIT = 1000;
/** Most submissions sequenced in one synced batch. */
export const MAX_BATCH = 1024;
/** Default of --inflight-bytes: submission bytes held at once (bodies received and not yet answered). */
export const DEFAULT_INFLIGHT_BYTES = 64 * 1024 * 1024;
/** Open TCP connections at most; further ones are closed by Node as they arrive. */
export const MAX_CONNECTIONS = 2048;

export interface ServeConfig {
  dataDir: string; // absolute
  port: number; // 0 = any free port
  host: string;
  /** As given; undefined serves the data directory's own origin (defaultOrigin() for a new one). */
  origin: string | undefined;
  /** Submissions per second per client IP (token bucket, burst = 2 s worth); 0 disables the limit. */
  rateLimit: number;
  /** Signature-verification worker threads. */
  workers: number;
  /** Submission body bytes in flight at most (see log-server/inflight.ts); more get 503. */
  inflightBytes: number;
}

export function defaultOrigin(): string {
  return `${hostname().toLowerCase() || 'localhost'}/lafs-log`;
}

/**
 * A checkpoint origin is the first line of the checkpoint and the name of the note key: printable
 * ASCII without spaces or '+' (the key format separates fields with '+').
 */
export function checkOrigin(origin: string): string {
  if (origin.length === 0 || origin.length > 255) throw new LafsError('usage', '--origin must be 1 to 255 characters');
  if (!/^[\x21-\x7e]+$/.test(origin)) throw new LafsError('usage', `--origin ${JSON.stringify(origin)}: only printable ASCII without spaces is allowed`);
  if (origin.includes('+')) throw new LafsError('usage', `--origin ${JSON.stringify(origin)}: '+' is not allowed in a note key name`);
  return origin;
}

function integerOption(name: string, text: string, min: number, max: number): number {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) throw new LafsError('usage', `${name} ${JSON.stringify(text)}: expected a whole number`);
  const n = Number(text);
  if (n < min || n > max) throw new LafsError('usage', `${name} ${n}: must be between ${min} and ${max}`);
  return n;
}

/** Options as commander hands them over (strings), to a checked config. Throws LafsError('usage'). */
export function serveConfig(raw: { data?: string; port?: string; host?: string; origin?: string; rateLimit?: string; workers?: string; inflightBytes?: string }, cores: number): ServeConfig {
  const host = raw.host ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:\-\[\]%]+$/.test(host)) throw new LafsError('usage', `--host ${JSON.stringify(host)}: not a host name or address`);
  const rateText = raw.rateLimit ?? '20';
  if (!/^(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(rateText)) throw new LafsError('usage', `--rate-limit ${JSON.stringify(rateText)}: expected a number of submissions per second (0 = off)`);
  return {
    dataDir: resolve(raw.data ?? './data'),
    port: integerOption('--port', raw.port ?? '8080', 0, 65535),
    host,
    origin: raw.origin === undefined ? undefined : checkOrigin(raw.origin),
    rateLimit: Number(rateText),
    workers: integerOption('--workers', raw.workers ?? String(Math.max(1, cores)), 1, 256),
    // At least one largest body must fit, or no large submission could ever be accepted.
    inflightBytes: integerOption('--inflight-bytes', raw.inflightBytes ?? String(DEFAULT_INFLIGHT_BYTES), BODY_LIMIT_BYTES, 2 ** 40),
  };
}
