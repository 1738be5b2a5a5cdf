/**
 * Shared by the monitor end-to-end tests: submitting to a real server, running `lafs-monitor
 * --once` as a real process and parsing its JSON-lines alerts, and a long-running monitor whose
 * stdout is watched line by line (bounded waits only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { ExecutionContext } from 'ava';
import type { Alert } from '../../monitor/alerts.js';
import { programs, run, type RunResult } from '../helpers/process.js';
import { repoRoot } from '../helpers/tmp.js';
import type { RunningServer } from '../helpers/server.js';
import type { EntryBody } from '../helpers/submissions.js';

/** POSTs one submission and returns its index; fails the test on anything but 200/201. */
export async function submit(server: { url: string }, body: EntryBody): Promise<number> {
  const res = await fetch(`${server.url}/v1/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 201 && res.status !== 200) throw new Error(`submission refused: ${res.status} ${text}`);
  return (JSON.parse(text) as { index: number }).index;
}

export async function submitAll(server: { url: string }, bodies: readonly EntryBody[]): Promise<number[]> {
  const indices: number[] = [];
  for (const body of bodies) indices.push(await submit(server, body));
  return indices;
}

export function alertsOf(stdout: string): Alert[] {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Alert);
}

/** `lafs-monitor --once` against `server` with state in `state`. */
export async function monitorOnce(server: Pick<RunningServer, 'url' | 'verifierKey'>, state: string, extra: string[] = []): Promise<RunResult & { alerts: Alert[] }> {
  const result = await run('lafs-monitor', ['--log', server.url, '--vkey', server.verifierKey, '--state', state, '--once', ...extra], { timeoutMs: 60_000 });
  let alerts: Alert[];
  try {
    alerts = alertsOf(result.stdout);
  } catch {
    throw new Error(`stdout is not JSON lines:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
  return { ...result, alerts };
}

export function explain(t: ExecutionContext, result: RunResult): void {
  t.log(`exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
}

/** A monitor following a log in the background; `waitFor` watches its stdout alerts. */
export class LiveMonitor {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [programs['lafs-monitor'], ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    process.on('exit', () => this.child.kill('SIGKILL'));
  }

  alerts(): Alert[] {
    return alertsOf(this.stdout.slice(0, this.stdout.lastIndexOf('\n') + 1));
  }

  /** Waits (at most `timeoutMs`) until `predicate` holds for the alerts printed so far. */
  async waitFor(predicate: (alerts: Alert[]) => boolean, timeoutMs = 20_000): Promise<Alert[]> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const alerts = this.alerts();
      if (predicate(alerts)) return alerts;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`monitor output did not match in ${timeoutMs} ms\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
  }

  /** Waits (bounded) until stderr matches. */
  async waitForLog(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (pattern.test(this.stderr)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`monitor stderr did not match ${pattern} in ${timeoutMs} ms\nstderr:\n${this.stderr}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
