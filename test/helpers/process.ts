/** Runs the project's built programs as real child processes. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './tmp.js';

export const programs = {
  lafs: join(repoRoot, 'dist/cli/lafs.js'),
  'lafs-verify': join(repoRoot, 'dist/cli/lafs-verify.js'),
  'lafs-log': join(repoRoot, 'dist/log-server/main.js'),
  'lafs-monitor': join(repoRoot, 'dist/monitor/main.js'),
} as const;
export type Program = keyof typeof programs;

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** This process's environment without LAFS_LOG and LAFS_VKEY, which stand in for --log and --vkey: a test passes them itself or means their absence. */
function inheritedEnv(): NodeJS.ProcessEnv {
  const { LAFS_LOG: _log, LAFS_VKEY: _vkey, ...rest } = process.env;
  return rest;
}

/** Runs a program to completion (bounded by `timeoutMs`, default 60 s) and collects its output. */
export function run(program: Program, args: readonly string[], options: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [programs[program], ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...inheritedEnv(), NO_COLOR: '1', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}
