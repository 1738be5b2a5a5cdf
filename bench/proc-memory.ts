/**
 * A process's memory as Linux reports it in /proc/PID/status, for the benchmarks that watch a
 * server or monitor process. Resident memory splits into anonymous memory (heaps, LevelDB's
 * memtables and caches) and file-backed pages (mostly the table files LevelDB maps for reading,
 * page cache the kernel can drop); the peak is VmHWM, which counts both.
 */
import { readFileSync } from 'node:fs';

export interface ProcessMemory { rss: number; anon: number; file: number; peak: number }

/** The process's memory in KiB; throws if the process is gone. */
export function processMemoryKiB(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile'), peak: kib('VmHWM') };
}

/** The same in whole MiB. */
export function processMemoryMiB(pid: number): ProcessMemory {
  const m = processMemoryKiB(pid);
  const mib = (kib: number) => Math.round(kib / 1024);
  return { rss: mib(m.rss), anon: mib(m.anon), file: mib(m.file), peak: mib(m.peak) };
}
