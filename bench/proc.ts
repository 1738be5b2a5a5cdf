/**
 * What Linux reports about a process in /proc, for the benchmarks that watch a server or monitor
 * process: its memory (/proc/PID/status) and its CPU time, per thread too (/proc/PID/stat,
 * /proc/PID/task/TID/stat).
 *
 * Resident memory splits into anonymous memory (heaps, LevelDB's memtables and caches) and
 * file-backed pages (mostly the table files LevelDB maps for reading, page cache the kernel can
 * drop); the peak is VmHWM, which counts both.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

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

/** Clock ticks per second of /proc's CPU times (USER_HZ). */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export interface CpuTimes {
  /** The process's or thread's name (comm; build workers name themselves). */
  name: string;
  /** User + system CPU seconds: of every thread for a process, of itself for a thread. */
  seconds: number;
  /** The same of its children that have been waited for. */
  childrenSeconds: number;
}

/** CPU times of a process (`'self'` for this one) or of one of its threads; throws if it is gone. */
export function cpuTimes(pid: number | 'self', tid?: number): CpuTimes {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  // The name may hold spaces and parentheses: it ends at the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state(0) ppid ... utime(11) stime(12) cutime(13) cstime(14).
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    seconds: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS,
    childrenSeconds: (Number(f[13]) + Number(f[14])) / CLOCK_TICKS,
  };
}

/** CPU times of every thread of a process now, by thread id (empty once it exited). */
export function threadCpuTimes(pid: number): Map<number, CpuTimes> {
  const out = new Map<number, CpuTimes>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // exited
  }
  for (const tid of tids) {
    try {
      out.set(Number(tid), cpuTimes(pid, Number(tid)));
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return out;
}
