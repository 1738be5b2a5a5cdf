/**
 * Sustained ingestion of signed attestations over HTTP into a real `lafs-log serve` process
 * (DESIGN.md section 6; issue 3 benchmark): entries/s and acknowledgement latency (p50/p99) with
 * one client and, in ROUNDS rounds, with many concurrent clients; the data-dir bytes per entry;
 * and, measured in the same run (fresh processes before and after the rounds), the one-core
 * OpenPGP verify rate the target is expressed in:
 *   target: ingestion >= 1.0 x (one-core openpgp.js verify rate x cores).
 * The load generator runs on the same machine and takes CPU from the server, so the measured rate
 * is a floor. The server's own CPU time per entry (all its threads, from /proc) is reported too,
 * with the rate it implies for a server that had every core to itself (cores / CPU per entry),
 * and the share of that CPU spent verifying signatures (one-core verify cost / CPU per entry); and
 * the CPU per entry of the server's main thread alone (HTTP, sequencing, storage), which bounds the
 * rate at 1000 / that figure whatever the number of cores; and that of the build workers (threads
 * named lafs-build) and of the remaining helper threads.
 *
 * Run: node --expose-gc dist/bench/ingest.bench.js   (prints one JSON object)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Pool } from 'undici';
import { measureLimitsInFreshProcesses, median } from './limits.js';
import { cpuTimes, processMemoryMiB, threadCpuTimes } from './proc.js';
import { startServer } from '../test/helpers/server.js';
import { attestationBody, makeBuilder, randomStatement } from '../test/helpers/submissions.js';

const SINGLE = Number(process.env.INGEST_SINGLE ?? 300);
const MANY = Number(process.env.INGEST_MANY ?? 20000); // per round; long enough that V8 has finished compiling: sustained figures
const ROUNDS = Number(process.env.INGEST_ROUNDS ?? 3);
// Sustained figures: warm the JIT and every worker's key cache first (64 entries left the optimizing compiler busy during the run).
const WARMUP = 1000;
// Enough clients to saturate the server: with 128, a core stood idle 9-12% of the time (a
// scheduler trace showed every submission in the sequencer's batches or waiting for the main
// thread, none left to verify); from 256 on the rate stays flat (128: 3,789-4,024/s, 256:
// 4,061-4,139/s, 512: 4,164-4,214/s) while the acknowledgement latency grows with the queue
// (docs/performance.md).
const CLIENTS = Number(process.env.INGEST_CLIENTS ?? 256);

// The load generator shares the two cores with the server, so it should cost as little as it can:
// undici's connection pool (keep-alive, one request at a time per connection) driven through its
// dispatcher API took 0.043-0.053 ms of CPU per entry, its `request` (a Readable per response)
// 0.047-0.065, node:http's client 0.06-0.07.
let pool: Pool | undefined;

/** Where one acknowledgement's time went, from the server's Server-Timing header (app.ts). */
interface Timing { verify: number; sequence: number; proof: number }

/**
 * One POST through undici's dispatcher API: the response's status and Server-Timing header, its
 * body dropped as it arrives (no Readable stream per response, as `request` makes).
 */
function post(url: URL, body: Buffer): Promise<{ status: number; timing: Timing | undefined }> {
  pool ??= new Pool(url.origin, { connections: CLIENTS, pipelining: 1 });
  return new Promise((resolve, reject) => {
    let status = 0;
    let header: unknown;
    pool!.dispatch(
      { origin: url.origin, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json' }, body },
      {
        onRequestStart() {},
        onResponseStart(_controller, statusCode, headers) {
          status = statusCode;
          header = headers['server-timing'];
        },
        onResponseData() {},
        onResponseEnd() {
          const dur = (name: string) => Number(new RegExp(`${name};dur=([0-9.]+)`).exec(String(header))?.[1]);
          resolve({ status, timing: header === undefined ? undefined : { verify: dur('verify'), sequence: dur('sequence'), proof: dur('proof') } });
        },
        onResponseError(_controller, error) {
          reject(error);
        },
      },
    );
  });
}

/** Machine-wide CPU time by state (/proc/stat, first line), in clock ticks: what every core did, our processes or not. */
function machineTicks(): { idle: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return { idle: idle + iowait, total: user + nice + system + idle + iowait + irq + softirq + steal };
}
/** Resident memory of a process in MiB: anonymous and file-backed (proc.ts). */
function residentMb(pid: number): { total: number; anonymous: number; fileBacked: number } {
  const m = processMemoryMiB(pid);
  return { total: m.rss, anonymous: m.anon, fileBacked: m.file };
}
/** A metric from the server's /metrics text: its value, summed over its labelled lines (one per worker for the lafs_worker_ ones); 0 if absent. */
function metricValue(text: string, name: string): number {
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
}
/** The server's memory gauges from /metrics, in MiB: V8 heaps and external memory (main thread, build workers summed), LevelDB's own estimate. */
async function memoryMetrics(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(new URL('/metrics', base))).text();
  const mb = (name: string) => Math.round(metricValue(text, name) / 2 ** 20);
  return {
    mainHeapUsed: mb('nodejs_heap_size_used_bytes'),
    mainHeapTotal: mb('nodejs_heap_size_total_bytes'),
    mainExternal: mb('nodejs_external_memory_bytes'),
    workersHeapTotal: mb('lafs_worker_heap_size_total_bytes'),
    workersExternal: mb('lafs_worker_external_memory_bytes'),
    leveldb: mb('lafs_leveldb_memory_bytes'),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function ingest(url: URL, bodies: Buffer[], clients: number) {
  const latencies: number[] = [];
  const timing: Timing = { verify: 0, sequence: 0, proof: 0 };
  let timed = 0;
  let next = 0;
  let failures = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const t = performance.now();
        const { status, timing: one } = await post(url, body);
        latencies.push(performance.now() - t);
        if (status !== 201) failures++;
        if (one) {
          timed++;
          timing.verify += one.verify;
          timing.sequence += one.sequence;
          timing.proof += one.proof;
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    entries: bodies.length,
    clients,
    entriesPerSecond: Math.round(bodies.length / seconds),
    ackLatencyMs: { p50: +percentile(latencies, 50).toFixed(2), p99: +percentile(latencies, 99).toFixed(2) },
    // Mean, per acknowledgement, as the server saw it: request read to leaf built (the queue to a
    // build worker and the build), to durable (the sequencer's queue and its synced batch), proof.
    serverTimingMs: { verify: +(timing.verify / Math.max(1, timed)).toFixed(2), sequence: +(timing.sequence / Math.max(1, timed)).toFixed(2), proof: +(timing.proof / Math.max(1, timed)).toFixed(3) },
    failures,
  };
}

const cores = availableParallelism();

// The limits: measured in fresh processes (limits.ts says why), half before and half after the
// rounds, with nothing else running; the target is the median of all of them, and the best of
// them gives the strictest reading.
const PROBES = Number(process.env.INGEST_LIMIT_PROBES ?? 3);
const limitsBefore = measureLimitsInFreshProcesses(PROBES);

process.stderr.write(`ingest: signing ${WARMUP + SINGLE + MANY * ROUNDS} submissions\n`);
const builders = await Promise.all(Array.from({ length: 16 }, (_, i) => makeBuilder(`Bench Builder ${i}`)));
const bodies: Buffer[] = [];
for (let i = 0; i < WARMUP + SINGLE + MANY * ROUNDS; i += 200) {
  const chunk = await Promise.all(Array.from({ length: Math.min(200, WARMUP + SINGLE + MANY * ROUNDS - i) }, (_, k) => attestationBody(builders[(i + k) % builders.length]!, randomStatement({ artifacts: 3 }))));
  bodies.push(...chunk.map((b) => Buffer.from(JSON.stringify(b))));
}

const server = await startServer({ origin: 'bench.example/lafs-log' });
const pid = server.process.pid!;
const url = new URL('/v1/entries', server.url);
// Warm-up: workers parse each builder key once (then cached), JIT.
await ingest(url, bodies.splice(0, WARMUP), 16);
process.stderr.write('ingest: one client\n');
const single = await ingest(url, bodies.splice(0, SINGLE), 1);

const serverCpuBefore = cpuTimes(pid).seconds;
const mainThreadCpuBefore = cpuTimes(pid, pid).seconds;
const threadsBefore = threadCpuTimes(pid);
const rounds = [];
let clientCpuMs = 0;
let measuredEntries = 0;
for (let r = 0; r < ROUNDS; r++) {
  process.stderr.write(`ingest: ${CLIENTS} clients, round ${r + 1} of ${ROUNDS}\n`);
  const clientCpuBefore = process.cpuUsage();
  const machineBefore = machineTicks();
  const run = await ingest(url, bodies.splice(0, MANY), CLIENTS);
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const machineAfter = machineTicks();
  clientCpuMs += (clientCpu.user + clientCpu.system) / 1000;
  measuredEntries += run.entries;
  // Share of the cores' time nobody used during the round (idle or waiting for I/O): work the
  // pipeline left undone, as opposed to work it did.
  rounds.push({ ...run, serverRssMbAfter: residentMb(pid), serverMemoryMbAfter: await memoryMetrics(server.url), machineIdleShare: +((machineAfter.idle - machineBefore.idle) / Math.max(1, machineAfter.total - machineBefore.total)).toFixed(3) });
}
// CPU over all rounds (the server's includes answering the /metrics reads between them).
// Per thread: the build workers name themselves "lafs-build" (build-worker.ts); the other threads
// besides the main one are V8's (compiler, GC) and libuv's and LevelDB's helpers.
const threads = [...threadCpuTimes(pid)]
  .filter(([tid]) => tid !== pid)
  .map(([tid, { name, seconds }]) => ({ name, ms: ((seconds - (threadsBefore.get(tid)?.seconds ?? 0)) * 1000) / measuredEntries }))
  .sort((a, b) => b.ms - a.ms);
const buildWorkersMsPerEntry = threads.filter((t) => t.name === 'lafs-build').reduce((a, t) => a + t.ms, 0);
const otherThreadsMsPerEntry = threads.filter((t) => t.name !== 'lafs-build').reduce((a, t) => a + t.ms, 0);
const serverCpuMsPerEntry = ((cpuTimes(pid).seconds - serverCpuBefore) * 1000) / measuredEntries;
// The main thread (its thread id is the process id) is the one every request passes through.
const mainThreadCpuMsPerEntry = ((cpuTimes(pid, pid).seconds - mainThreadCpuBefore) * 1000) / measuredEntries;
const clientCpuMsPerEntry = clientCpuMs / measuredEntries;

const metrics = await (await fetch(new URL('/metrics', server.url))).text();
const batches = metricValue(metrics, 'lafs_batch_size_count');
// Whole run (warm-up included): the mean time one batch takes to sign and write durably.
const commitMs = (metricValue(metrics, 'lafs_commit_seconds_sum') * 1000) / Math.max(1, batches);
const logged = metricValue(metrics, 'lafs_log_entries');
const rss = residentMb(pid);
await server.stop();
const dataBytes = Number(execFileSync('du', ['-sb', server.dataDir], { encoding: 'utf8' }).split('\t')[0]);

const limitsAfter = measureLimitsInFreshProcesses(PROBES);
const openpgpJsRates = [...limitsBefore.openpgpJs, ...limitsAfter.openpgpJs];
const openpgpJsOneCore = median(openpgpJsRates);
const projectVerifyOneCore = median([...limitsBefore.project, ...limitsAfter.project]);
const target = openpgpJsOneCore * cores;
const strictTarget = Math.max(...openpgpJsRates) * cores;
const rates = rounds.map((r) => r.entriesPerSecond);
console.log(
  JSON.stringify({
    bench: 'ingest',
    cores,
    limit: {
      openpgpJsVerifyPerSecondOneCore: openpgpJsOneCore,
      openpgpJsPerProcess: openpgpJsRates,
      projectVerifyPerSecondOneCore: projectVerifyOneCore,
      target: `>= ${target} entries/s (openpgp.js one-core rate, median of ${openpgpJsRates.length} fresh processes, x ${cores} cores)`,
      strictTarget: `${strictTarget} entries/s (the best process's rate x ${cores} cores)`,
    },
    single,
    concurrent: rounds,
    // Each round's rate against the target; the median round against the strict one.
    ratioToTarget: rates.map((r) => +(r / target).toFixed(2)),
    medianRatioToStrictTarget: +(median(rates) / strictTarget).toFixed(2),
    ratioToProjectVerifyAllCores: +(median(rates) / (projectVerifyOneCore * cores)).toFixed(2),
    cpu: {
      serverMsPerEntry: +serverCpuMsPerEntry.toFixed(3),
      serverMainThreadMsPerEntry: +mainThreadCpuMsPerEntry.toFixed(3),
      serverBuildWorkersMsPerEntry: +buildWorkersMsPerEntry.toFixed(3),
      serverOtherThreadsMsPerEntry: +otherThreadsMsPerEntry.toFixed(3),
      serverThreadsMsPerEntry: threads.filter((t) => t.ms >= 0.001).map((t) => `${t.name} ${t.ms.toFixed(3)}`),
      loadGeneratorMsPerEntry: +clientCpuMsPerEntry.toFixed(3),
      verifyMsPerEntryOneCore: +(1000 / projectVerifyOneCore).toFixed(3),
      verifyShareOfServerCpu: +(1000 / projectVerifyOneCore / serverCpuMsPerEntry).toFixed(2),
      serverOnlyEntriesPerSecondAllCores: Math.round((cores * 1000) / serverCpuMsPerEntry),
    },
    meanBatchSize: batches ? +(logged / batches).toFixed(1) : null,
    meanCommitMs: +commitMs.toFixed(2),
    logSize: logged,
    dataDirBytesPerEntry: Math.round(dataBytes / logged),
    serverRssMb: rss,
  }),
);
await pool?.close();
