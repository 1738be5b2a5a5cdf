/**
 * Inclusion proofs on a log of 1M entries (issue 3 benchmark; targets: proof p99 < 2 ms, server
 * RSS < 300 MB at 1M entries), plus the data-dir bytes per entry of that log.
 *
 * The 1M-entry data dir is bulk-loaded fast through the server's own store and tree layer
 * (log-server/store.ts, merkle IncrementalTree: the same key layout, tiles and lookup rows the
 * sequencer writes), with synthetic leaves, the lookup rows of three artifacts per entry (as the
 * ingest benchmark's statements have) and unsynced batches, then served by the real `lafs-log
 * serve` process twice: right after the load, while LevelDB still compacts what the load wrote
 * (a state a log that grew over HTTP never reaches: 1M entries in about a minute), and once those
 * compactions have finished (the log as it stands between bursts; the target is judged there).
 * Proof latency is measured over HTTP (what a client sees; beside it the same client's floor, a
 * trivial GET /healthz on the same connection), by the server itself (its lafs_proof_seconds
 * histogram) and in-process from the stored tiles. The machine's limit measured in the same run:
 * raw SHA-256 rate of node:crypto on 64-byte inputs (what proof construction costs in hashing).
 *
 * Run: node --expose-gc dist/bench/proofs.bench.js   (PROOF_ENTRIES=N to change the size)
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, get } from 'node:http';
import { nodeSha256 } from '../attestation/node-crypto.js';
import { leafHash } from '../merkle/hash.js';
import { IncrementalTree } from '../merkle/tree.js';
import { verifyInclusion } from '../merkle/proof.js';
import { LogReader } from '../log-server/reader.js';
import { openDataDir } from '../log-server/server.js';
import { TileCache } from '../log-server/tile-cache.js';
import type { IndexRow, NewEntry } from '../log-server/store.js';
import { startServer } from '../test/helpers/server.js';
import { tempDir } from '../test/helpers/tmp.js';
import { processMemoryMiB } from './proc.js';

const ENTRIES = Number(process.env.PROOF_ENTRIES ?? 1_000_000);
const LEAF_BYTES = Number(process.env.PROOF_LEAF_BYTES ?? 600); // a typical Ed25519 attestation leaf is ~600-1100 bytes
const REQUESTS = Number(process.env.PROOF_REQUESTS ?? 5000);
const ORIGIN = 'proofs.bench.example/lafs-log';
const BATCH = 8192;

function percentiles(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const p = (q: number) => +s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(3);
  return { p50: p(0.5), p99: p(0.99), max: +s[s.length - 1]!.toFixed(3) };
}

function sha256Rate(): number {
  const input = randomBytes(65);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < 1000) {
    for (let i = 0; i < 1000; i++) nodeSha256(input);
    n += 1000;
  }
  return Math.round(n / ((performance.now() - start) / 1000));
}

// ---- bulk load ----
// PROOF_DATA_DIR=<dir> keeps (or reuses, if already loaded) the bulk-loaded directory between runs.
const dataDir = process.env.PROOF_DATA_DIR ?? tempDir('lafs-proofs-bench-');
const reuse = existsSync(join(dataDir, 'db', 'CURRENT'));
const builders = Array.from({ length: 16 }, () => randomBytes(20).toString('hex'));
/** The lookup rows of one attestation of three artifacts: one source and platform, random artifact hashes. */
function lookupRows(builder: string): IndexRow[] {
  const r = randomBytes(4 + 32 + 3 * 32).toString('hex');
  const source = `sha256:${r.slice(8, 72)}`;
  return [0, 1, 2].map((n) => ({ builder, source, platform: 'x86_64-linux-gnu', name: `pkg-${r.slice(0, 8)}-${n}.tar.gz`, sha256: r.slice(72 + 64 * n, 136 + 64 * n) }));
}
const loadStart = performance.now();
if (!reuse) {
  const { store, signer } = await openDataDir(dataDir, ORIGIN, { writeBufferSize: 64 << 20 });
  const tree = IncrementalTree.empty(nodeSha256);
  for (let first = 0; first < ENTRIES; first += BATCH) {
    const count = Math.min(BATCH, ENTRIES - first);
    const entries: NewEntry[] = new Array(count);
    // Random bytes: as incompressible as signatures and keys, so the bytes per entry are honest.
    const block = randomBytes(count * LEAF_BYTES);
    for (let i = 0; i < count; i++) {
      const leaf = block.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES);
      const builder = builders[(first + i) % builders.length]!;
      entries[i] = { leaf, leafHash: leafHash(leaf, nodeSha256), meta: { builder, warnings: [], receivedAt: new Date().toISOString() }, rows: lookupRows(builder) };
    }
    const appended = tree.append(entries.map((e) => e.leafHash));
    const checkpoint = signer.sign({ size: appended.size, root: appended.root });
    await store.commit({ firstIndex: first, entries, tiles: appended.tiles, checkpoint }, { sync: first + count >= ENTRIES });
  }
  await store.close();
}
const loadSeconds = (performance.now() - loadStart) / 1000;
const dataBytes = Number(execFileSync('du', ['-sb', dataDir], { encoding: 'utf8' }).split('\t')[0]);
process.stderr.write(`proofs: loaded ${ENTRIES} entries in ${loadSeconds.toFixed(1)} s, ${dataBytes} bytes\n`);

/** Proofs over HTTP against the real server on the data dir: client, floor, server-side and memory figures. */
async function overHttp() {
  const server = await startServer({ dataDir, origin: ORIGIN });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const getText = (path: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      get(new URL(path, server.url), { agent }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      }).on('error', reject);
    });
  /** The server's memory in MiB (proc.ts). */
  const memory = () => processMemoryMiB(server.process.pid!);
  const afterStart = memory();
  /** The server's own histogram of proof requests: time from routing to the last byte handed to the
   * socket, without the client process and the loopback round trip (which share the two cores). */
  const proofBuckets = async () =>
    [...(await getText('/metrics')).text.matchAll(/^lafs_proof_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map((m) => ({ le: m[1]!, count: Number(m[2]) }));
  let warmBuckets: { le: string; count: number }[] = [];
  const samples: number[] = [];
  // The floor of what this client can measure: the same connection asking the trivial /healthz,
  // interleaved with the proofs (the client's own event loop, GC and the loopback round trip).
  const floorSamples: number[] = [];
  let verified = 0;
  for (let i = 0; i < REQUESTS; i++) {
    if (i === 500) warmBuckets = await proofBuckets(); // the first 500 warm the caches and are not counted, here as below
    const index = Math.floor(Math.random() * ENTRIES);
    const t = performance.now();
    const r = await getText(`/v1/proof/inclusion?index=${index}`);
    samples.push(performance.now() - t);
    if (r.status !== 200) throw new Error(`proof ${index}: ${r.status}`);
    const f = performance.now();
    await getText('/healthz');
    floorSamples.push(performance.now() - f);
    if (i % 50 === 0) {
      const body = JSON.parse(r.text) as { leafHash: string; proof: string[] };
      const proof = body.proof.map((p) => new Uint8Array(Buffer.from(p, 'base64')));
      if ((JSON.parse((await getText('/v1/log')).text) as { size: number }).size !== ENTRIES) throw new Error('size');
      // Verify against the root from the checkpoint note.
      const root = new Uint8Array(Buffer.from((await getText('/checkpoint')).text.split('\n')[2]!, 'base64'));
      if (verifyInclusion(new Uint8Array(Buffer.from(body.leafHash, 'base64')), index, ENTRIES, proof, root, nodeSha256).ok) verified++;
    }
  }
  const afterProofs = memory();
  const buckets = (await proofBuckets()).map((b, i) => ({ le: b.le, count: b.count - (warmBuckets[i]?.count ?? 0) }));
  const proofCount = buckets.find((b) => b.le === '+Inf')?.count ?? 0;
  const hit = buckets.find((b) => b.le !== '+Inf' && b.count >= 0.99 * proofCount);
  await server.stop();
  agent.destroy();
  return {
    http: percentiles(samples.slice(500)),
    httpFloorHealthz: percentiles(floorSamples.slice(500)),
    serverSide: {
      requests: proofCount,
      withinMs: Object.fromEntries(buckets.filter((b) => b.le !== '+Inf').map((b) => [String(Number(b.le) * 1000), +(b.count / proofCount).toFixed(4)])),
      p99AtMostMs: hit ? Number(hit.le) * 1000 : null,
    },
    proofsVerified: `${verified}/${Math.ceil(REQUESTS / 50)}`,
    serverMemoryMb: { afterStart, afterProofs },
  };
}

/** Waits until LevelDB has no compaction left to run: the process (idle but for LevelDB's background
 * thread) under 5% of a core for 5 s in a row. Seconds waited. */
async function settle(): Promise<number> {
  const start = performance.now();
  let quietSeconds = 0;
  while (quietSeconds < 5) {
    if (performance.now() - start > 20 * 60_000) throw new Error('LevelDB still compacting after 20 minutes');
    const cpu = process.cpuUsage();
    await sleep(1000);
    const used = process.cpuUsage(cpu);
    quietSeconds = (used.user + used.system) / 1e6 < 0.05 ? quietSeconds + 1 : 0;
  }
  return (performance.now() - start) / 1000 - 5;
}

// ---- right after the load: LevelDB compacting what the load wrote ----
const rightAfterLoad = reuse ? null : await overHttp();

// ---- settle, then in-process: proofs from stored tiles, as the server makes them ----
let inProcess;
let settleSeconds;
let settledFilesPerLevel;
{
  const { store, signer } = await openDataDir(dataDir, ORIGIN);
  settleSeconds = await settle();
  settledFilesPerLevel = store.filesPerLevel();
  const tiles = new TileCache(store);
  const { Sequencer } = await import('../log-server/sequencer.js');
  const sequencer = await Sequencer.open(store, signer, tiles);
  const reader = new LogReader(store, tiles, () => sequencer.state);
  const samples: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const index = Math.floor(Math.random() * ENTRIES);
    const t = performance.now();
    await reader.inclusionProof(index, ENTRIES);
    samples.push(performance.now() - t);
  }
  inProcess = percentiles(samples.slice(500));
  await sequencer.close();
  await store.close();
}
const settledBytes = Number(execFileSync('du', ['-sb', dataDir], { encoding: 'utf8' }).split('\t')[0]);

// ---- the settled log over HTTP (the targets) ----
const settled = await overHttp();

console.log(
  JSON.stringify({
    bench: 'proofs',
    entries: ENTRIES,
    leafBytes: LEAF_BYTES,
    lookupRowsPerEntry: 3,
    limit: { sha256PerSecond64B: sha256Rate() },
    bulkLoadSeconds: reuse ? null : +loadSeconds.toFixed(1),
    settleSeconds: +settleSeconds.toFixed(1),
    settledFilesPerLevel,
    dataDirBytesPerEntry: { afterLoad: Math.round(dataBytes / ENTRIES), settled: Math.round(settledBytes / ENTRIES) },
    inclusionProofMs: { inProcess, settled, rightAfterLoad },
    targets: { proofP99Ms: 2, rssMb: 300 },
  }),
);
