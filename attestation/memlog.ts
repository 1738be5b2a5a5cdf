/**
 * Memory diagnostics of the monitor (docs/monitor.md, Performance): with LAFS_MONITOR_MEMLOG=FILE
 * each thread (the main thread and every verify worker) appends one JSON line to FILE every
 * LAFS_MONITOR_MEMLOG_MS (default 1000) milliseconds: its own V8 heap (heapUsed, heapTotal),
 * the external and ArrayBuffer memory of its isolate, and, from the main thread, the process's
 * RSS split as /proc/self/smaps_rollup splits it (anonymous vs file-backed). Off by default;
 * the timer is unref'd so it never keeps a process alive. Figures are in KiB.
 * It lives here, beside verify-worker.ts, because the worker must log too and attestation/ may
 * not import from monitor/ (DESIGN.md section 4).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import { isMainThread, threadId } from 'node:worker_threads';

/** The rollup's fields in KiB (Rss, Pss_Anon, Pss_File, Anonymous, ...), or {} where it is not available. */
function smapsRollup(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync('/proc/self/smaps_rollup', 'utf8').split('\n')) {
      const m = /^(\w+):\s+(\d+) kB/.exec(line);
      if (m) out[m[1]!] = Number(m[2]);
    }
  } catch {
    /* not Linux */
  }
  return out;
}

/** Starts the periodic log of this thread when LAFS_MONITOR_MEMLOG names a file; `extra` adds fields (e.g. queue depths). */
export function startMemlog(extra?: () => Record<string, number>): void {
  const file = process.env.LAFS_MONITOR_MEMLOG;
  if (!file) return;
  const every = Number(process.env.LAFS_MONITOR_MEMLOG_MS ?? 1000);
  const started = Date.now();
  const kib = (n: number) => Math.round(n / 1024);
  const write = () => {
    const m = process.memoryUsage();
    const line: Record<string, unknown> = {
      t: Date.now() - started,
      thread: isMainThread ? 'main' : `worker-${threadId}`,
      heapUsed: kib(m.heapUsed),
      heapTotal: kib(m.heapTotal),
      external: kib(m.external),
      arrayBuffers: kib(m.arrayBuffers),
    };
    // Committed size of each V8 space (new_space is the young generation's semispaces).
    for (const space of getHeapSpaceStatistics()) if (space.space_size > 0) line[space.space_name.replace(/_space$/, '')] = kib(space.space_size);
    if (isMainThread) {
      const r = smapsRollup();
      Object.assign(line, { rss: kib(m.rss), anon: r.Anonymous, file: (r.Rss ?? 0) - (r.Anonymous ?? 0) });
    }
    if (extra) Object.assign(line, extra());
    try {
      appendFileSync(file, JSON.stringify(line) + '\n');
    } catch {
      /* diagnostics only */
    }
  };
  setInterval(write, Number.isFinite(every) && every > 0 ? every : 1000).unref();
}
