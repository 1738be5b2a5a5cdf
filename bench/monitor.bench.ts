/**
 * Monitor catch-up benchmark (issue 5): how fast a fresh `lafs-monitor --once` verifies a large
 * log, and whether its memory stays flat as the log grows, beside the machine's OpenPGP limit
 * measured in the same run (DESIGN.md section 6).
 *
 * The log is a static C2SP tlog-tiles mirror (what a CDN would serve) built here from real signed
 * leaves: Ed25519 builders, each statement attested by two of them, signatures made in worker
 * threads and cached under .bench-data/monitor/ so later runs start at once. The mirror is
 * served over loopback HTTP by this process; the monitor is the real program in its own process
 * (its RSS is sampled from /proc). Figures: verified entries/s at each size, peak RSS at each
 * size (and per quarter of each run), and, measured before and after each run, the one-core
 * rates of openpgp.js's own verify (the target: rate >= 0.8 x that rate x cores), of the
 * project's verifyDetached and of decodeLeaf + verifyLeaf on the same leaves (ratios to those are
 * efficiency figures: docs/performance.md, "How the targets are read").
 *
 *   node --expose-gc dist/bench/monitor.bench.js            sizes 10000 and 100000
 *   LAFS_BENCH_MONITOR_SIZES=10000,1000000 node dist/bench/monitor.bench.js
 *
 * Also: LAFS_BENCH_MONITOR_SIGN_ONLY=1 only fills the leaf cache; LAFS_BENCH_MONITOR_MAIN=path runs
 * another build of the monitor (a before/after comparison in one set of conditions);
 * LAFS_BENCH_MONITOR_THREADS=1 prints the CPU seconds of each of the monitor's threads.
 * CPU time is the figure to compare code with on a shared machine: the monitor's, all threads,
 * per entry (from the kernel's count for this reaped child), its main thread's alone (sampled),
 * and this process's (the mirror's HTTP server) beside it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as openpgp from 'openpgp';
import { encodeEntryBundle } from '../merkle/bundle.js';
import { formatCheckpoint } from '../merkle/checkpoint.js';
import { leafHash } from '../merkle/hash.js';
import { generateKeyPair, parseSignerKey, signNote } from '../merkle/note.js';
import { TILE_WIDTH, parseTilePath, tilePath } from '../merkle/tiles.js';
import { IncrementalTree } from '../merkle/tree.js';
import { decodeLeaf, encodeLeaf } from '../attestation/leaf.js';
import { minimizePublicKey } from '../attestation/openpgp.js';
import { verifyLeaf } from '../attestation/record.js';
import { nodeEd25519, nodeSha256 } from '../attestation/node-crypto.js';
import { measureLimitsInFreshProcesses, measureOpenpgpVerifyRate, median } from './limits.js';
import { cpuTimes, processMemoryKiB, threadCpuTimes, type CpuTimes } from './proc.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const dataRoot = join(repoRoot, '.bench-data', 'monitor');
const BUILDERS = 8;
const ORIGIN = 'bench.example/lafs-log';

interface SignJob { keys: string[]; publicKeys: string[]; start: number; count: number }

/** Worker: signs statements [start, start+count) and returns their encoded leaves. */
async function signRange(job: SignJob): Promise<Uint8Array[]> {
  const keys = await Promise.all(job.keys.map((k) => openpgp.readPrivateKey({ armoredKey: k })));
  const publicKeys = job.publicKeys.map((k) => new Uint8Array(Buffer.from(k, 'base64')));
  const leaves: Uint8Array[] = [];
  for (let j = job.start; j < job.start + job.count; j++) {
    const statement = Math.floor(j / 2);
    const builder = (statement + (j % 2)) % BUILDERS;
    const hex = (n: number, salt: string) => Buffer.from(nodeSha256(new TextEncoder().encode(`${salt}${n}`))).toString('hex');
    const text = `lafs-attestation/v1\nsource sha256:${hex(statement, 'src')}\nplatform x86_64-linux-gnu\nartifact sha256:${hex(statement, 'art')} pkg-${statement}.tar.gz\n`;
    const signed = new TextEncoder().encode(text);
    const message = await openpgp.createMessage({ binary: signed });
    const signature = (await openpgp.sign({ message, signingKeys: keys[builder]!, detached: true, format: 'binary' })) as Uint8Array;
    leaves.push(encodeLeaf({ kind: 'lafs-attestation/v1', signed, signature, publicKey: publicKeys[builder]! }));
  }
  return leaves;
}

if (!isMainThread) {
  const leaves = await signRange(workerData as SignJob);
  parentPort!.postMessage(leaves);
}

/** All leaves of the largest log, cached as (u32 length, bytes)*. */
async function leavesFor(count: number): Promise<Uint8Array[]> {
  const file = join(dataRoot, `leaves-${count}.bin`);
  // A cache of a larger log serves too: its first `count` leaves are as good as any.
  const cached = existsSync(dataRoot)
    ? readdirSync(dataRoot).map((f) => Number(/^leaves-(\d+)\.bin$/.exec(f)?.[1] ?? NaN)).filter((n) => n >= count).sort((a, b) => a - b)
    : [];
  for (const n of cached) {
    const all = readFileSync(join(dataRoot, `leaves-${n}.bin`));
    const out: Uint8Array[] = [];
    for (let o = 0; o < all.length && out.length < count; ) {
      const len = all.readUInt32BE(o);
      out.push(new Uint8Array(all.buffer, all.byteOffset + o + 4, len));
      o += 4 + len;
    }
    if (out.length === count) return out;
  }
  process.stderr.write(`bench: signing ${count} statements (cached afterwards in ${dataRoot})\n`);
  const keys: string[] = [];
  const publicKeys: string[] = [];
  for (let b = 0; b < BUILDERS; b++) {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: `Bench Builder ${b}`, email: `b${b}@bench.example` }], date: new Date(Date.now() - 86_400_000), format: 'armored' });
    keys.push(privateKey);
    publicKeys.push(Buffer.from(await minimizePublicKey(publicKey)).toString('base64'));
  }
  const threads = availableParallelism();
  const per = Math.ceil(count / threads);
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, i) => {
      const start = i * per;
      const job: SignJob = { keys, publicKeys, start, count: Math.max(0, Math.min(per, count - start)) };
      return new Promise<Uint8Array[]>((resolve, reject) => {
        const worker = new Worker(fileURLToPath(import.meta.url), { workerData: job });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    }),
  );
  const leaves = parts.flat();
  mkdirSync(dataRoot, { recursive: true });
  const chunks: Buffer[] = [];
  for (const leaf of leaves) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(leaf.length);
    chunks.push(len, Buffer.from(leaf));
  }
  writeFileSync(file, Buffer.concat(chunks));
  return leaves;
}

/** Writes a static tlog-tiles mirror of the first `size` leaves; returns its verifier key. */
function buildMirror(leaves: readonly Uint8Array[], size: number, dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  const write = (path: string, bytes: Uint8Array | string) => {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, bytes);
  };
  const tree = IncrementalTree.empty(nodeSha256);
  for (let start = 0; start < size; start += 256) {
    const batch = leaves.slice(start, Math.min(size, start + 256));
    const result = tree.append(batch.map((l) => leafHash(l, nodeSha256)));
    for (const tile of result.tiles) write(tilePath({ kind: 'hash', level: tile.level, index: tile.index, width: tile.width }), tile.hashes);
    write(tilePath({ kind: 'entries', index: start / 256, width: batch.length }), encodeEntryBundle(batch));
  }
  const { signerKey, verifierKey } = generateKeyPair(ORIGIN, nodeEd25519);
  const note = signNote(formatCheckpoint({ origin: ORIGIN, size: tree.size, root: tree.root, extensions: [] }), [parseSignerKey(signerKey, nodeEd25519)]);
  write('checkpoint', note);
  writeFileSync(join(dir, '..', `mirror-${size}.vkey`), verifierKey + '\n'); // beside the mirror, for runs by hand
  return verifierKey;
}

/** Entries the mirror has served in entry bundles so far: how far the running monitor has got (a bundle ahead of what it verified at most). */
let entriesServed = 0;

/** Serves `dir` as a static mirror on 127.0.0.1 (404 for anything missing). */
async function serve(dir: string): Promise<{ url: string; close: () => void }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    if (path.startsWith('tile/entries/')) {
      try {
        const ref = parseTilePath(path);
        entriesServed = Math.max(entriesServed, ref.index * TILE_WIDTH + ref.width);
      } catch {
        /* not a tile path: the 404 below */
      }
    }
    const file = join(dir, path);
    if (path.includes('..') || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-length', statSync(file).size);
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() };
}

interface CatchUpRun {
  seconds: number;
  entriesPerSecond: number;
  reportedEntriesPerSecond: number | null;
  peakRssMiB: number;
  peakAnonMiB: number;
  peakFileMiB: number;
  /**
   * Peak anonymous memory in each quarter of the run, by entries served: memory flat in log size
   * shows as a plateau (the first quarter includes start-up and the heaps' growth to their
   * working size; later quarters of a long run hold as many entries as a whole short run).
   */
  peakAnonMiBByQuarter: number[];
  exitCode: number | null;
  /** The monitor process, all threads, from its start to its exit (the kernel's count of this bench's reaped child). */
  monitorCpuMsPerEntry: number;
  /** Its main thread alone (sampled every 50 ms, so a lower bound by at most one sample). */
  mainThreadCpuMsPerEntry: number;
  /** Its other threads (verify workers, libuv and V8 helpers), sampled likewise. */
  otherThreadsCpuMsPerEntry: number;
  /** Mean cores the monitor kept busy: its CPU time over the run's wall-clock time. */
  monitorCoresBusy: number;
  /** This bench process (the static mirror's HTTP server) during the run, on the same cores. */
  mirrorCpuMsPerEntry: number;
}

/** Runs a fresh `lafs-monitor --once` against the mirror, sampling its RSS and CPU time. */
async function catchUp(url: string, verifierKey: string, size: number): Promise<CatchUpRun> {
  const state = join(tmpdir(), `lafs-monitor-bench-${process.pid}-${size}`);
  rmSync(state, { recursive: true, force: true });
  const childrenBefore = cpuTimes('self').childrenSeconds;
  const selfBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const nodeArgs = (process.env.LAFS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean); // e.g. --cpu-prof, for profiling
  const child = spawn(process.execPath, [...nodeArgs, process.env.LAFS_BENCH_MONITOR_MAIN ?? join(repoRoot, 'dist/monitor/main.js'), '--log', url, '--vkey', verifierKey, '--state', state, '--once'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  let peakKiB = 0;
  // VmHWM counts LevelDB's mmapped table files too (page cache the kernel can drop): anonymous
  // memory is what the monitor itself holds.
  let peakAnonKiB = 0;
  let peakFileKiB = 0;
  const anonByQuarter = [0, 0, 0, 0];
  entriesServed = 0;
  const threads = new Map<number, CpuTimes>();
  const sample = setInterval(() => {
    try {
      const { peak, anon, file } = processMemoryKiB(child.pid!);
      peakKiB = Math.max(peakKiB, peak);
      peakAnonKiB = Math.max(peakAnonKiB, anon);
      const quarter = Math.min(3, Math.floor((entriesServed / size) * 4));
      anonByQuarter[quarter] = Math.max(anonByQuarter[quarter]!, anon);
      peakFileKiB = Math.max(peakFileKiB, file);
    } catch {
      /* exited */
    }
    for (const [tid, t] of threadCpuTimes(child.pid!)) threads.set(tid, t);
  }, 50);
  const exitCode = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  clearInterval(sample);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const selfCpu = process.cpuUsage(selfBefore);
  // The exit event comes after libuv reaped the child, so its CPU time is in our cutime/cstime now.
  const monitorSeconds = cpuTimes('self').childrenSeconds - childrenBefore;
  const mainSeconds = threads.get(child.pid!)?.seconds ?? 0;
  const otherSeconds = [...threads].filter(([tid]) => tid !== child.pid).reduce((n, [, t]) => n + t.seconds, 0);
  const msPerEntry = (seconds: number) => Math.round(((seconds * 1000) / size) * 1000) / 1000;
  if (process.env.LAFS_BENCH_MONITOR_THREADS) {
    process.stderr.write(`bench: monitor threads (CPU seconds): ${[...threads].map(([tid, t]) => `${t.name}${tid === child.pid ? '*' : ''}=${t.seconds}`).join(' ')}\n`);
  }
  rmSync(state, { recursive: true, force: true });
  if (exitCode !== 0) throw new Error(`monitor exited ${exitCode}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  const reported = /processed entries 0\.\.\d+ \((\d+) entries\/s\)/.exec(stderr)?.[1];
  return {
    seconds: round(seconds),
    entriesPerSecond: Math.round(size / seconds),
    reportedEntriesPerSecond: reported ? Number(reported) : null,
    peakRssMiB: round(peakKiB / 1024),
    peakAnonMiB: round(peakAnonKiB / 1024),
    peakFileMiB: round(peakFileKiB / 1024),
    peakAnonMiBByQuarter: anonByQuarter.map((k) => round(k / 1024)),
    exitCode,
    monitorCpuMsPerEntry: msPerEntry(monitorSeconds),
    mainThreadCpuMsPerEntry: msPerEntry(mainSeconds),
    otherThreadsCpuMsPerEntry: msPerEntry(otherSeconds),
    monitorCoresBusy: round(monitorSeconds / seconds),
    mirrorCpuMsPerEntry: Math.round(((selfCpu.user + selfCpu.system) / 1000 / size) * 1000) / 1000,
  };
}

/**
 * One core: decodeLeaf + verifyLeaf over the benchmark's own leaves, as each pool worker runs it.
 * The rate is by the clock (what the cores gave this run); `cpuMs` is the CPU time of one such
 * verification (this process, all threads: the mirror's server is idle meanwhile), the cost that
 * does not move with the machine's load.
 */
async function oneCoreLeafVerify(leaves: readonly Uint8Array[], ms = 2000): Promise<{ rate: number; cpuMs: number }> {
  let n = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < ms) {
    const result = await verifyLeaf(decodeLeaf(leaves[n % leaves.length]!));
    if (!result.ok) throw new Error(`bench leaf ${n} does not verify: ${result.reason}`);
    n++;
  }
  const used = process.cpuUsage(cpu);
  return { rate: Math.round(n / ((performance.now() - start) / 1000)), cpuMs: (used.user + used.system) / 1000 / n };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function main(): Promise<void> {
  const sizes = (process.env.LAFS_BENCH_MONITOR_SIZES ?? '10000,100000').split(',').map(Number).sort((a, b) => a - b);
  const leaves = await leavesFor(sizes[sizes.length - 1]!);
  if (process.env.LAFS_BENCH_MONITOR_SIGN_ONLY) return; // only fill the cache
  const cores = availableParallelism();
  const sample = leaves.slice(0, 2000);
  const openpgpVerify = Math.round(await measureOpenpgpVerifyRate(2000));
  // The machine is shared and noisy: the one-core limits are measured right before and right
  // after each catch-up, and each run is compared with the mean of its own two measurements
  // (openpgp.js's: the median of four fresh processes, two before and two after).
  // The CPU time the monitor spent per entry does not depend on the load much: it is the figure
  // to compare code with; the rates and ratios say what this run got on these cores.
  const runs: (CatchUpRun & { entries: number; oneCoreLeafVerifyPerSecond: number; leafVerifyCpuMs: number; oneCoreOpenpgpVerifyDetachedPerSecond: number; oneCoreOpenpgpJsVerifyPerSecond: number; openpgpJsPerProcess: number[]; ratioToOpenpgpJsTimesCores: number; ratioToOneCoreTimesCores: number; ratioToOpenpgpTimesCores: number; leafVerifyShareOfCpu: number })[] = [];
  for (const size of sizes) {
    const dir = join(dataRoot, `mirror-${size}`);
    const verifierKey = buildMirror(leaves, size, dir);
    const mirror = await serve(dir);
    try {
      await oneCoreLeafVerify(sample, 500); // warm-up (JIT, key cache)
      const before = await oneCoreLeafVerify(sample);
      const openpgpBefore = await measureOpenpgpVerifyRate(1500);
      // openpgp.js's rate from fresh processes (limits.ts says why), two before and two after.
      const openpgpJsBefore = measureLimitsInFreshProcesses(2, 1500).openpgpJs;
      process.stderr.write(`bench: monitor catch-up on ${size} entries\n`);
      const run = await catchUp(mirror.url, verifierKey, size);
      const after = await oneCoreLeafVerify(sample);
      const openpgpAfter = await measureOpenpgpVerifyRate(1500);
      const openpgpJsAfter = measureLimitsInFreshProcesses(2, 1500).openpgpJs;
      const openpgpJsOneCore = median([...openpgpJsBefore, ...openpgpJsAfter]);
      const oneCore = Math.round((before.rate + after.rate) / 2);
      const leafVerifyCpuMs = Math.round(((before.cpuMs + after.cpuMs) / 2) * 1000) / 1000;
      const openpgpOneCore = Math.round((openpgpBefore + openpgpAfter) / 2);
      const rate = run.reportedEntriesPerSecond ?? run.entriesPerSecond;
      runs.push({
        entries: size,
        ...run,
        oneCoreLeafVerifyPerSecond: oneCore,
        leafVerifyCpuMs,
        oneCoreOpenpgpVerifyDetachedPerSecond: openpgpOneCore,
        oneCoreOpenpgpJsVerifyPerSecond: openpgpJsOneCore,
        openpgpJsPerProcess: [...openpgpJsBefore, ...openpgpJsAfter],
        // The issue's target (docs/performance.md, "How the targets are read").
        ratioToOpenpgpJsTimesCores: round(rate / (openpgpJsOneCore * cores)),
        ratioToOneCoreTimesCores: round(rate / (oneCore * cores)),
        ratioToOpenpgpTimesCores: round(rate / (openpgpOneCore * cores)),
        // CPU of one decodeLeaf + verifyLeaf over what the monitor spent per entry: 1.0 would be a
        // monitor doing nothing else (its ratio on idle cores is about this share, at most).
        leafVerifyShareOfCpu: round(leafVerifyCpuMs / run.monitorCpuMsPerEntry),
      });
    } finally {
      mirror.close();
    }
  }
  const largest = runs[runs.length - 1]!;
  process.stdout.write(
    JSON.stringify({
      bench: 'monitor',
      cores,
      loadAverage: loadavg().map(round),
      limit: { oneCoreOpenpgpVerifyDetachedPerSecond: openpgpVerify, oneCoreLeafVerifyPerSecond: largest.oneCoreLeafVerifyPerSecond, note: 'oneCoreOpenpgpVerifyDetachedPerSecond: verifyDetached of a 500-byte statement, Ed25519 key, best of 3 rounds, at the start (each run also has its own, before/after); oneCoreLeafVerifyPerSecond: decodeLeaf + verifyLeaf (Ed25519 builders) on one core, mean of before and after the largest run' },
      target: {
        entriesPerSecond: Math.round(0.8 * largest.oneCoreOpenpgpJsVerifyPerSecond * cores),
        rule: "0.8 x one-core openpgp.js verify rate x cores (issue 5; the verification rate DESIGN.md section 6 names; docs/performance.md, 'How the targets are read')",
        ownPathEntriesPerSecond: Math.round(0.8 * largest.oneCoreOpenpgpVerifyDetachedPerSecond * cores),
        ownPathRule: "0.8 x the project's own one-core verifyDetached rate x cores: an efficiency figure, not the target",
        leafVerifyEntriesPerSecond: Math.round(0.8 * largest.oneCoreLeafVerifyPerSecond * cores),
        leafVerifyRule: '0.8 x one-core decodeLeaf + verifyLeaf rate x cores: the same, on the bench leaves',
      },
      runs,
      largest: {
        entries: largest.entries,
        entriesPerSecond: largest.entriesPerSecond,
        steadyEntriesPerSecond: largest.reportedEntriesPerSecond,
        peakRssMiB: largest.peakRssMiB,
        ratioToOpenpgpJsTimesCores: largest.ratioToOpenpgpJsTimesCores,
        ratioToOneCoreTimesCores: largest.ratioToOneCoreTimesCores,
        ratioToOpenpgpTimesCores: largest.ratioToOpenpgpTimesCores,
        monitorCpuMsPerEntry: largest.monitorCpuMsPerEntry,
        mainThreadCpuMsPerEntry: largest.mainThreadCpuMsPerEntry,
        leafVerifyCpuMs: largest.leafVerifyCpuMs,
        leafVerifyShareOfCpu: largest.leafVerifyShareOfCpu,
      },
      rssFlat: runs.map((r) => ({ entries: r.entries, peakRssMiB: r.peakRssMiB, peakAnonMiB: r.peakAnonMiB, peakFileMiB: r.peakFileMiB, peakAnonMiBByQuarter: r.peakAnonMiBByQuarter })),
    }) + '\n',
  );
}

if (isMainThread) await main();
