/**
 * Starts the real `lafs-log serve` as a child process on a free loopback port (port 0) and reads
 * the URL, origin and verifier key it prints:
 *   lafs-log listening on http://127.0.0.1:PORT
 *   origin: ORIGIN
 *   verifier key: VKEY
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { programs } from './process.js';
import { repoRoot, tempDir } from './tmp.js';

export interface RunningServer {
  url: string;
  origin: string;
  verifierKey: string;
  dataDir: string;
  process: ChildProcess;
  /** Everything the server wrote to stderr so far (its structured log). */
  log(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit (crash tests). */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** `origin: null` starts without --origin (the data directory's own, or the host's default for a new one). */
export async function startServer(options: { dataDir?: string; origin?: string | null; args?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<RunningServer> {
  const dataDir = options.dataDir ?? tempDir('lafs-server-');
  const origin = options.origin === undefined ? 'test.example/lafs-log' : options.origin;
  // LAFS_SERVER_NODE_ARGS: extra node flags for the server process (profiling a benchmark: `--cpu-prof --cpu-prof-dir=DIR`).
  const nodeArgs = process.env.LAFS_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, programs['lafs-log'], 'serve', '--data', dataDir, '--port', '0', '--host', '127.0.0.1', ...(origin === null ? [] : ['--origin', origin]), '--rate-limit', '0', ...(options.args ?? [])],
    { cwd: repoRoot, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => { running.delete(child); resolve(); }));

  const banner = await new Promise<{ url: string; origin: string; verifierKey: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 20 s; stderr:\n${stderr}`)), 20_000);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code} before starting; stderr:\n${stderr}`)); });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      const org = /^origin: (.+)$/m.exec(stdout)?.[1];
      const vkey = /^verifier key: (\S+)$/m.exec(stdout)?.[1];
      if (url && org && vkey) { clearTimeout(timer); resolve({ url, origin: org, verifierKey: vkey }); }
    });
  });

  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    // Bounded: a server that does not stop within 15 s is killed (and the test sees signalCode SIGKILL).
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  return { ...banner, dataDir, process: child, log: () => stderr, stop: () => signal('SIGTERM'), kill: () => signal('SIGKILL') };
}
