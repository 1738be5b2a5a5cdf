/**
 * Alerts of `lafs-monitor` (issue 5, DESIGN.md section 7): the JSON schema every sink receives,
 * and the sinks themselves. Every alert goes, one JSON object per line, to stdout; optionally it
 * is also POSTed to a webhook (a few quick retries per delivery attempt) and piped to a command's
 * stdin. A short human line goes to stderr when stderr is a terminal. Which sinks have had an
 * alert is the follower's business (it keeps that per sink in the outbox and tries a failed
 * webhook or command again at later polls): `print` and `send` here do one delivery each.
 *
 * Alerts are identified by `id`, a digest of what makes them distinct (not of their time), so a
 * consumer can drop duplicates that an at-least-once delivery after a crash may produce.
 * docs/monitor.md documents the schema with an example of each type.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';

/** The checkpoint an alert was seen under: tree size, standard-base64 root, the signed note text. */
export interface AlertCheckpoint { size: number; root: string; note: string }

/** One attestation of one artifact: entry index, builder fingerprint, `sha256:<hex>`. */
export interface ClaimEvidence { index: number; builder: string; hash: string }

/** What an artifact claim is about: (source, platform, artifact name). */
export interface ArtifactKey { source: string; platform: string | null; name: string }

interface AlertBase { id: string; time: string; log: string }

export interface DisagreementAlert extends AlertBase {
  type: 'builder-disagreement' | 'self-contradiction';
  checkpoint: AlertCheckpoint;
  key: ArtifactKey;
  /** The hashes in dispute (two or more, sorted). */
  hashes: string[];
  /** Every claim for this key at the time of the alert (sorted by index): anyone can re-check each entry. */
  claims: ClaimEvidence[];
  /** For self-contradiction: the builder who contradicted itself. */
  builder?: string;
}

export interface InconsistentLogAlert extends AlertBase {
  type: 'inconsistent-log';
  /** The last checkpoint this monitor verified. */
  previous: AlertCheckpoint;
  /** The checkpoint that does not extend it. */
  checkpoint: AlertCheckpoint;
  reason: string;
}

export interface InvalidEntryAlert extends AlertBase {
  type: 'invalid-entry';
  checkpoint: AlertCheckpoint;
  /** The exact entry at fault. */
  index: number;
  /** What is wrong, as an error code: `bad-signature`, `bad-leaf`, `bad-statement`, `inconsistent`, ... (with `index`, the alert's identity). */
  code: string;
  reason: string;
}

export interface InvalidCheckpointAlert extends AlertBase {
  type: 'invalid-checkpoint';
  /** The last checkpoint this monitor verified (null before the first). */
  checkpoint: AlertCheckpoint | null;
  /** The signed note the log served, exactly as served: it does not verify with the log's key and origin. */
  note: string;
  reason: string;
}

export interface StalledLogAlert extends AlertBase {
  type: 'stalled-log';
  checkpoint: AlertCheckpoint;
  /** When the checkpoint last grew or was re-signed (as observed by this monitor). */
  since: string;
  stalledSeconds: number;
}

export interface LogUnreachableAlert extends AlertBase {
  type: 'log-unreachable';
  /** The last verified checkpoint, or null if none was ever verified. */
  checkpoint: AlertCheckpoint | null;
  failures: number;
  since: string;
  reason: string;
}

export type Alert = DisagreementAlert | InconsistentLogAlert | InvalidEntryAlert | InvalidCheckpointAlert | StalledLogAlert | LogUnreachableAlert;
export type AlertType = Alert['type'];
export const ALERT_TYPES: readonly AlertType[] = ['builder-disagreement', 'self-contradiction', 'inconsistent-log', 'invalid-entry', 'invalid-checkpoint', 'stalled-log', 'log-unreachable'];

/** Distinct alerts get distinct ids; the same conflict always gets the same id. */
export function alertId(type: AlertType, ...identity: (string | number)[]): string {
  return createHash('sha256').update(JSON.stringify([type, ...identity])).digest('hex').slice(0, 32);
}

/** One human line about an alert, for a terminal. */
export function summarize(alert: Alert): string {
  switch (alert.type) {
    case 'builder-disagreement':
    case 'self-contradiction': {
      const who = [...new Set(alert.claims.map((c) => `${c.builder.slice(-16)}=${c.hash.slice(7, 19)}`))].join(', ');
      const what = `${alert.key.name} (${alert.key.platform ?? 'no platform'}, ${alert.key.source})`;
      return `ALERT ${alert.type}: ${what}: ${who}`;
    }
    case 'inconsistent-log':
      return `ALERT inconsistent-log: size ${alert.previous.size} -> ${alert.checkpoint.size}: ${alert.reason}`;
    case 'invalid-entry':
      return `ALERT invalid-entry: index ${alert.index}: ${alert.reason}`;
    case 'invalid-checkpoint':
      return `ALERT invalid-checkpoint: ${alert.reason}`;
    case 'stalled-log':
      return `ALERT stalled-log: no new or re-signed checkpoint for ${alert.stalledSeconds} s (size ${alert.checkpoint.size})`;
    case 'log-unreachable':
      return `ALERT log-unreachable: ${alert.failures} failed polls since ${alert.since}: ${alert.reason}`;
  }
}

/** A place alerts go: stdout always, the others when configured. */
export type SinkName = 'stdout' | 'webhook' | 'exec';

/** The outcome of one delivery to one sink; `permanent` when retrying cannot help (a 4xx other than 429). */
export type SendResult = { ok: true } | { ok: false; reason: string; permanent?: boolean };

export interface SinkOptions {
  webhook?: string;
  exec?: string;
  /** Attempts for the webhook within one delivery (first try included), default 3. */
  webhookAttempts?: number;
  /** First retry delay; doubles each time, capped at 30 s. Default 500 ms. */
  webhookBackoffMs?: number;
  webhookTimeoutMs?: number;
  execTimeoutMs?: number;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * The configured sinks. `print` writes stdout at once; `send` makes one delivery to the webhook
 * (with a few quick retries) or the command and reports a failure on stderr. The follower decides
 * when to call them and keeps, per alert and sink, what was delivered (so a failed webhook is
 * tried again later and nothing is lost).
 */
export class AlertSinks {
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream & { isTTY?: boolean };

  constructor(private readonly options: SinkOptions = {}) {
    this.out = options.stdout ?? process.stdout;
    this.err = options.stderr ?? process.stderr;
  }

  /** The configured sinks, stdout first. */
  names(): SinkName[] {
    return ['stdout', ...(this.options.webhook ? (['webhook'] as const) : []), ...(this.options.exec ? (['exec'] as const) : [])];
  }

  /** Writes the JSON line (and on a terminal the human line) now. */
  print(alert: Alert): void {
    this.out.write(JSON.stringify(alert) + '\n');
    if (this.err.isTTY) this.err.write(summarize(alert) + '\n');
  }

  /** One delivery to the webhook or the command (the webhook with its few quick retries); a failure is also reported on stderr. */
  async send(sink: 'webhook' | 'exec', alert: Alert, signal?: AbortSignal): Promise<SendResult> {
    const body = JSON.stringify(alert);
    if (sink === 'webhook') {
      if (!this.options.webhook) return { ok: true };
      const result = await postWithRetries(this.options.webhook, body, {
        attempts: this.options.webhookAttempts ?? 3,
        backoffMs: this.options.webhookBackoffMs ?? 500,
        timeoutMs: this.options.webhookTimeoutMs ?? 10_000,
        ...(signal ? { signal } : {}),
      });
      if (!result.ok) this.err.write(`lafs-monitor: webhook did not take alert ${alert.id} (${alert.type}): ${result.reason}\n`);
      return result;
    }
    if (!this.options.exec) return { ok: true };
    const result = await runWithInput(this.options.exec, body + '\n', alert, this.options.execTimeoutMs ?? 60_000);
    if (!result.ok) this.err.write(`lafs-monitor: --exec command failed for alert ${alert.id} (${alert.type}): ${result.reason}\n`);
    return result;
  }

}

/** POST `body` as JSON; retries network errors, 429 and 5xx with doubling delays (capped at 30 s); `signal` cuts it short. */
export async function postWithRetries(url: string, body: string, policy: { attempts: number; backoffMs: number; timeoutMs: number; signal?: AbortSignal }): Promise<SendResult> {
  let reason = 'no attempt made';
  let made = 0;
  for (let attempt = 1; attempt <= policy.attempts && !policy.signal?.aborted; attempt++) {
    made = attempt;
    try {
      const timeout = AbortSignal.timeout(policy.timeoutMs);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'lafs-monitor' },
        body,
        signal: policy.signal ? AbortSignal.any([timeout, policy.signal]) : timeout,
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { ok: true };
      reason = `HTTP ${response.status}`;
      // A 4xx other than 429 means the receiver rejects this alert: retrying will not help.
      if (response.status < 500 && response.status !== 429) return { ok: false, reason, permanent: true };
    } catch (error) {
      reason = policy.signal?.aborted ? 'stopped' : error instanceof Error ? error.message : String(error);
    }
    if (attempt < policy.attempts) await delay(Math.min(30_000, policy.backoffMs * 2 ** (attempt - 1)), policy.signal);
  }
  return { ok: false, reason: `${reason} after ${made} attempt${made === 1 ? '' : 's'}` };
}

/** Runs `command` through the shell with `input` on stdin and LAFS_ALERT_TYPE / LAFS_ALERT_ID set. */
export function runWithInput(command: string, input: string, alert: Alert, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, {
      shell: true,
      stdio: ['pipe', 'ignore', 'inherit'],
      env: { ...process.env, LAFS_ALERT_TYPE: alert.type, LAFS_ALERT_ID: alert.id },
      timeout: timeoutMs,
    });
    child.on('error', (error) => resolve({ ok: false, reason: error.message }));
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ ok: true });
      else resolve({ ok: false, reason: signal ? `killed by ${signal}` : `exit code ${code}` });
    });
    // A command that does not read its stdin must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
