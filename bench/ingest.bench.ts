/**
 * Sustained ingestion of signed attestations over HTTP into a real `lafs-log serve` process
 * (DESIGN.md section 6; issue 3 benchmark): entries/s and acknowledgement latency (p50/p99) with
 * one client and with many concurrent clients, the data-dir bytes per entry, and, measured in the
 * same run, the one-core OpenPGP verify rate the target is expressed in:
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
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Pool } from 'undici';
import { measureOpenpgpJsRate, measureOpenpgpVerifyRate } from './limits.js';
import { startServer } from '../test/helpers/server.js';
import { attestationBody, makeBuilder, randomStatement } from '../test/helpers/submissions.js';

const SINGLE = Number(process.env.INGEST_SINGLE ?? 300);
const MANY = Number(process.env.INGEST_MANY ?? 30000); // long enough that V8 has finished compiling: sustained figures
// Sustained figures: warm the JIT and every worker's key cache first (64 entries left the optimizing compiler busy during the run).
const WARMUP = 1000;
const CLIENTS = Number(process.env.INGEST_CLIENTS ?? 128);

// The load generator shares the two cores with the server, so it should cost as little as it can:
// undici's connection pool (keep-alive, one request at a time per connection) took 0.047-0.058 ms
// of CPU per entry in these runs where node:http's client took 0.06-0.07.
let pool: Pool | undefined;

/** Where one acknowledgement's time went, from the server's Server-Timing header (app.ts). */
interface Timing { verify: number; sequence: number; proof: number }

async function post(url: URL, body: string): Promise<{ status: number; timing: Timing | undefined }> {
  pool ??= new Pool(url.origin, { connections: CLIENTS, pipelining: 1 });
  const res = await pool.request({ path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await res.body.dump();
  const header = res.headers['server-timing'];
  const dur = (name: string) => Number(new RegExp(`${name};dur=([0-9.]+)`).exec(String(header))?.[1]);
  return { status: res.statusCode, timing: header === undefined ? undefined : { verify: dur('verify'), sequence: dur('sequence'), proof: dur('proof') } };
}

/** User + system CPU seconds of a process, all threads (Linux /proc; fields 14 and 15 in clock ticks). */
function processCpuSeconds(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
/** CPU seconds of every thread of a process, by thread id, with the thread's name. */
function threadCpuSeconds(pid: number): Map<number, { name: string; cpu: number }> {
  const out = new Map<number, { name: string; cpu: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), { name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), cpu: processCpuSeconds(pid, Number(tid)) });
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return out;
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function ingest(url: URL, bodies: string[], clients: number) {
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
// The limits are measured before and after the runs (the machine's speed drifts: the openpgp.js
// rate read 1,616-2,452/s within one hour) and the target uses their mean.
const openpgpJsBefore = Math.round(await measureOpenpgpJsRate(3000, 'eddsa'));
const projectVerifyBefore = Math.round(await measureOpenpgpVerifyRate(3000, { type: 'eddsa' }));

process.stderr.write(`ingest: signing ${WARMUP + SINGLE + MANY} submissions\n`);
const builders = await Promise.all(Array.from({ length: 16 }, (_, i) => makeBuilder(`Bench Builder ${i}`)));
const bodies: string[] = [];
for (let i = 0; i < WARMUP + SINGLE + MANY; i += 200) {
  const chunk = await Promise.all(Array.from({ length: Math.min(200, WARMUP + SINGLE + MANY - i) }, (_, k) => attestationBody(builders[(i + k) % builders.length]!, randomStatement({ artifacts: 3 }))));
  bodies.push(...chunk.map((b) => JSON.stringify(b)));
}

const server = await startServer({ origin: 'bench.example/lafs-log' });
const url = new URL('/v1/entries', server.url);
// Warm-up: workers parse each builder key once (then cached), JIT.
await ingest(url, bodies.splice(0, WARMUP), 16);
process.stderr.write('ingest: one client\n');
const single = await ingest(url, bodies.splice(0, SINGLE), 1);
process.stderr.write(`ingest: ${CLIENTS} clients\n`);
const serverCpuBefore = processCpuSeconds(server.process.pid!);
const mainThreadCpuBefore = processCpuSeconds(server.process.pid!, server.process.pid!);
const threadsBefore = threadCpuSeconds(server.process.pid!);
const clientCpuBefore = process.cpuUsage();
const many = await ingest(url, bodies.splice(0, MANY), CLIENTS);
// Per thread: the build workers name themselves "lafs-build" (build-worker.ts); the other threads
// besides the main one are V8's (compiler, GC) and libuv's and LevelDB's helpers.
const threads = [...threadCpuSeconds(server.process.pid!)]
  .filter(([tid]) => tid !== server.process.pid)
  .map(([tid, { name, cpu }]) => ({ name, ms: ((cpu - (threadsBefore.get(tid)?.cpu ?? 0)) * 1000) / MANY }))
  .sort((a, b) => b.ms - a.ms);
const buildWorkersMsPerEntry = threads.filter((t) => t.name === 'lafs-build').reduce((a, t) => a + t.ms, 0);
const otherThreadsMsPerEntry = threads.filter((t) => t.name !== 'lafs-build').reduce((a, t) => a + t.ms, 0);
const serverCpuMsPerEntry = ((processCpuSeconds(server.process.pid!) - serverCpuBefore) * 1000) / many.entries;
// The main thread (its thread id is the process id) is the one every request passes through.
const mainThreadCpuMsPerEntry = ((processCpuSeconds(server.process.pid!, server.process.pid!) - mainThreadCpuBefore) * 1000) / many.entries;
const clientCpu = process.cpuUsage(clientCpuBefore);
const clientCpuMsPerEntry = (clientCpu.user + clientCpu.system) / 1000 / many.entries;

const metrics = await (await fetch(new URL('/metrics', server.url))).text();
const batches = Number(/^lafs_batch_size_count (\d+)$/m.exec(metrics)?.[1] ?? 0);
// Whole run (warm-up included): the mean time one batch takes to sign and write durably.
const commitMs = (Number(/^lafs_commit_seconds_sum (\S+)$/m.exec(metrics)?.[1] ?? 0) * 1000) / Math.max(1, batches);
const logged = Number(/^lafs_log_entries (\d+)$/m.exec(metrics)?.[1] ?? 0);
const rssMb = Math.round(Number(/VmRSS:\s+(\d+)/.exec(execFileSync('cat', [`/proc/${server.process.pid}/status`], { encoding: 'utf8' }))?.[1] ?? 0) / 1024);
await server.stop();
const dataBytes = Number(execFileSync('du', ['-sb', server.dataDir], { encoding: 'utf8' }).split('\t')[0]);

const openpgpJsAfter = Math.round(await measureOpenpgpJsRate(3000, 'eddsa'));
const projectVerifyAfter = Math.round(await measureOpenpgpVerifyRate(3000, { type: 'eddsa' }));
const openpgpJsOneCore = Math.round((openpgpJsBefore + openpgpJsAfter) / 2);
const projectVerifyOneCore = Math.round((projectVerifyBefore + projectVerifyAfter) / 2);
const limit = openpgpJsOneCore * cores;
console.log(
  JSON.stringify({
    bench: 'ingest',
    cores,
    limit: {
      openpgpJsVerifyPerSecondOneCore: openpgpJsOneCore,
      openpgpJsBeforeAfter: [openpgpJsBefore, openpgpJsAfter],
      projectVerifyPerSecondOneCore: projectVerifyOneCore,
      projectVerifyBeforeAfter: [projectVerifyBefore, projectVerifyAfter],
      target: `>= ${limit} entries/s (openpgp.js one-core rate, mean of before and after, x ${cores} cores)`,
    },
    single,
    concurrent: many,
    ratioToTarget: +(many.entriesPerSecond / limit).toFixed(2),
    ratioToProjectVerifyAllCores: +(many.entriesPerSecond / (projectVerifyOneCore * cores)).toFixed(2),
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
    serverRssMb: rssMb,
  }),
);
await pool?.close();
