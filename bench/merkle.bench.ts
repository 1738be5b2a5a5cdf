/**
 * Merkle core benchmark (issue 2, DESIGN.md section 6). Prints one JSON object on stdout:
 *  - the machine's limit, measured in this run: SHA-256 calls/s on 65-byte inputs (an interior
 *    node's input) with @noble/hashes and node:crypto (createHash, and the one-shot crypto.hash);
 *  - IncrementalTree appends/s for 1M leaves of 1 KB, leaf hashing included, node:crypto
 *    createHash, in batches of 1000 (a sequencer's group commit), and appends / (hash rate / 2):
 *    an append costs about two SHA-256 calls (its leaf, one amortised interior node); the same
 *    with the one-shot crypto.hash, and with 64-byte leaves, whose leaf hash is a 65-byte input
 *    like a node's, so that ratio compares like with like (a 1 KB leaf hash costs ~8x more);
 *  - inclusion and consistency proof generation over an in-memory tile store of that tree, with a
 *    new tileHashSource per proof as a server does per request: "warm" shares one
 *    ExpandedTileCache big enough for every tile, "cold" gives each proof an empty cache (every
 *    level-0 tile is expanded again: about 255 hashes per tile level); and proof verification.
 * The machine is shared, so every figure is measured in interleaved slices and reported per second
 * of wall time, per second of this process's CPU time (user + system, which also counts V8's GC
 * helper threads), and as the median over slices of the CPU-time rate; the ratio uses CPU time on
 * both sides, which is the steadier of the two under load.
 * Run: node --expose-gc dist/bench/merkle.bench.js [leaves]   (default 1,000,000)
 */
import { createHash, hash as oneShotHash } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import {
  ExpandedTileCache,
  IncrementalTree,
  leafHash,
  makeConsistencyProof,
  makeInclusionProof,
  nobleSha256,
  rootAt,
  tileHashSource,
  verifyConsistency,
  verifyInclusion,
  type Hash,
  type Sha256,
  type TileReader,
} from '../merkle/index.js';

const nodeSha256: Sha256 = (data) => createHash('sha256').update(data).digest();
const nodeOneShot: Sha256 = (data) => oneShotHash('sha256', data, 'buffer');

const LEAVES = Number(process.argv[2] ?? 1_000_000);
const LEAF_BYTES = 1024;
const BATCH = 1000;
const ROUNDS = 10;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** Accumulates operations, wall time and CPU time of one measured quantity across slices. */
class Meter {
  ops = 0;
  wall = 0;
  cpu = 0;
  /** ops per CPU-second of each slice: the median resists bursts of load from other processes. */
  private readonly slices: number[] = [];
  run(ops: number, fn: () => void): void {
    gc(); // start each slice from a clean heap, so one slice's garbage is not billed to the next
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    fn();
    this.record(ops, c0, w0);
  }
  async runAsync(ops: number, fn: () => Promise<void>): Promise<void> {
    gc();
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    await fn();
    this.record(ops, c0, w0);
  }
  private record(ops: number, c0: NodeJS.CpuUsage, w0: number): void {
    this.wall += (performance.now() - w0) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    this.cpu += cpu;
    this.ops += ops;
    this.slices.push(ops / cpu);
  }
  get medianSlice(): number {
    const sorted = [...this.slices].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? 0;
  }
  get perCpuSecond(): number {
    return this.ops / this.cpu;
  }
  get perWallSecond(): number {
    return this.ops / this.wall;
  }
  report(): { per_s_cpu: number; per_s_wall: number; per_s_cpu_median_slice: number } {
    return { per_s_cpu: Math.round(this.perCpuSecond), per_s_wall: Math.round(this.perWallSecond), per_s_cpu_median_slice: Math.round(this.medianSlice) };
  }
}

/** Deterministic pseudo-random integers below `below` (xorshift32), so runs are comparable. */
function randoms(count: number, below: number, seed: number): number[] {
  const out: number[] = [];
  let x = seed >>> 0;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.push(x % below);
  }
  return out;
}

async function main(): Promise<void> {
  const load = loadavg();
  const input65 = new Uint8Array(65).fill(1);
  const leaf = new Uint8Array(LEAF_BYTES).fill(7);
  const view = new DataView(leaf.buffer);
  const hashNoble = new Meter();
  const hashNode = new Meter();
  const hashOneShot = new Meter();
  const hashLeafNode = new Meter();
  const append = new Meter();
  const appendOneShot = new Meter();
  const appendSmall = new Meter();

  // 1. Appends, interleaved with the hash-rate slices they are compared with.
  const tiles = new Map<string, Uint8Array>(); // newest bytes of each hash tile, like the server's store
  const tree = IncrementalTree.empty(nodeSha256);
  const treeOneShot = IncrementalTree.empty(nodeOneShot);
  // 64-byte leaves make the leaf hash a 65-byte input like a node's: the cost model of an
  // append (two 65-byte SHA-256 calls), so this ratio compares like with like.
  const treeSmall = IncrementalTree.empty(nodeOneShot);
  const smallLeaf = leaf.subarray(0, 64);
  const batch: Hash[] = new Array(BATCH);
  const appendLeaves = (t: IncrementalTree, sha: Sha256, from: number, to: number, keep: boolean) => {
    for (let done = from; done < to; ) {
      const count = Math.min(BATCH, to - done);
      if (batch.length !== count) batch.length = count;
      for (let i = 0; i < count; i++) {
        view.setFloat64(0, done + i); // distinct leaves
        batch[i] = leafHash(t === treeSmall ? smallLeaf : leaf, sha);
      }
      const result = t.append(batch);
      if (keep) for (const tile of result.tiles) tiles.set(`${tile.level}/${tile.index}`, tile.hashes);
      done += count;
    }
  };
  // As long as an append slice (~0.2 s): a short slice leaves the clean-up of its results to the next one.
  const HASH_SLICE = 240_000;
  gc();
  for (let r = 0; r < ROUNDS; r++) {
    hashNode.run(HASH_SLICE, () => { for (let i = 0; i < HASH_SLICE; i++) nodeSha256(input65); });
    hashOneShot.run(HASH_SLICE, () => { for (let i = 0; i < HASH_SLICE; i++) nodeOneShot(input65); });
    hashNoble.run(HASH_SLICE / 4, () => { for (let i = 0; i < HASH_SLICE / 4; i++) nobleSha256(input65); });
    hashLeafNode.run(HASH_SLICE / 2, () => { for (let i = 0; i < HASH_SLICE / 2; i++) leafHash(leaf, nodeSha256); });
    const from = Math.floor((LEAVES * r) / ROUNDS);
    const to = Math.floor((LEAVES * (r + 1)) / ROUNDS);
    append.run(to - from, () => appendLeaves(tree, nodeSha256, from, to, true));
    appendOneShot.run(to - from, () => appendLeaves(treeOneShot, nodeOneShot, from, to, false));
    appendSmall.run(to - from, () => appendLeaves(treeSmall, nodeOneShot, from, to, false));
  }
  const size = tree.size;
  const root = tree.root;
  if (Buffer.compare(root, treeOneShot.root) !== 0) throw new Error('the two trees disagree');

  // 2. Proofs over the tile store at random leaves / old sizes.
  const readTile: TileReader = async (level, index, width) => {
    const t = tiles.get(`${level}/${index}`);
    if (t === undefined || t.length < width * 32) return undefined;
    return t.length === width * 32 ? t : t.subarray(0, width * 32);
  };
  const N = 2000;
  // A slice must run long enough (~100 ms) that the full GC before it and V8's concurrent
  // sweeping after it do not dominate: 2,000 proofs take only ~15 ms.
  const PROOF_PASSES = 8;
  const indexes = randoms(N, size, 0x9e3779b9);
  const froms = randoms(N, size - 1, 12345).map((x) => x + 1);
  const leafHashes = indexes.map((i) => {
    view.setFloat64(0, i);
    return leafHash(leaf, nodeSha256);
  });
  const warm = new ExpandedTileCache(Math.ceil(size / 256) + 64);
  const fill = new Meter();
  gc();
  // Expand every level-0 tile once into the warm cache (255 hashes each), as a long-running server would have.
  await fill.runAsync(Math.ceil(size / 256), async () => {
    for (let t = 0; t * 256 < size; t++) {
      await tileHashSource(size, readTile, nodeSha256, { cache: warm }).hashes([{ level: 0, index: t * 256 }]);
    }
  });
  const inclusionProofs: Hash[][] = [];
  const consistencyProofs: Hash[][] = [];
  const oldRoots: Hash[] = [];
  for (let k = 0; k < N; k++) {
    const source = tileHashSource(size, readTile, nodeSha256, { cache: warm });
    inclusionProofs.push(await makeInclusionProof(indexes[k]!, size, source, nodeSha256));
    consistencyProofs.push(await makeConsistencyProof(froms[k]!, size, source, nodeSha256));
    oldRoots.push(await rootAt(froms[k]!, source, nodeSha256));
  }
  const inclusionWarm = new Meter();
  const inclusionCold = new Meter();
  const inclusionVerify = new Meter();
  const consistencyWarm = new Meter();
  const consistencyVerify = new Meter();
  const hashNode2 = new Meter();
  for (let r = 0; r < ROUNDS; r++) {
    hashNode2.run(HASH_SLICE / 2, () => { for (let i = 0; i < HASH_SLICE / 2; i++) nodeSha256(input65); });
    await inclusionWarm.runAsync(N * PROOF_PASSES, async () => {
      for (let k = 0; k < N * PROOF_PASSES; k++) await makeInclusionProof(indexes[k % N]!, size, tileHashSource(size, readTile, nodeSha256, { cache: warm }), nodeSha256);
    });
    await inclusionCold.runAsync(20, async () => {
      for (let k = 0; k < 20; k++) await makeInclusionProof(indexes[(r * 20 + k) % N]!, size, tileHashSource(size, readTile, nodeSha256, { cache: new ExpandedTileCache() }), nodeSha256);
    });
    inclusionVerify.run(N / 4, () => {
      for (let k = 0; k < N / 4; k++) {
        const j = (r * 97 + k) % N;
        if (!verifyInclusion(leafHashes[j]!, indexes[j]!, size, inclusionProofs[j]!, root, nodeSha256).ok) throw new Error('inclusion proof did not verify');
      }
    });
    await consistencyWarm.runAsync(N * PROOF_PASSES, async () => {
      for (let k = 0; k < N * PROOF_PASSES; k++) await makeConsistencyProof(froms[k % N]!, size, tileHashSource(size, readTile, nodeSha256, { cache: warm }), nodeSha256);
    });
    consistencyVerify.run(N / 4, () => {
      for (let k = 0; k < N / 4; k++) {
        const j = (r * 97 + k) % N;
        if (!verifyConsistency(froms[j]!, size, consistencyProofs[j]!, oldRoots[j]!, root, nodeSha256).ok) throw new Error('consistency proof did not verify');
      }
    });
  }

  const ratio = (m: Meter, limit: Meter) => Number((m.perCpuSecond / (limit.perCpuSecond / 2)).toFixed(3));
  console.log(JSON.stringify({
    benchmark: 'merkle',
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavg_at_start: load.map((x) => Number(x.toFixed(1))) },
    limit: {
      sha256_65B_noble: hashNoble.report(),
      sha256_65B_node_createHash: hashNode.report(),
      sha256_65B_node_oneshot: hashOneShot.report(),
      leaf_hash_1KB_node_createHash: hashLeafNode.report(),
    },
    append: {
      leaves: LEAVES,
      leaf_bytes: LEAF_BYTES,
      batch: BATCH,
      createHash: { ...append.report(), cpu_seconds: Number(append.cpu.toFixed(2)), ratio_to_half_hash_rate: ratio(append, hashNode) },
      oneshot: { ...appendOneShot.report(), ratio_to_half_hash_rate: ratio(appendOneShot, hashOneShot) },
      oneshot_64B_leaves: { ...appendSmall.report(), ratio_to_half_hash_rate: ratio(appendSmall, hashOneShot) },
      target_ratio: 0.7,
      design_target_per_s: 140000,
      tiles_stored: tiles.size,
    },
    inclusion: {
      tree_size: size,
      proof_hashes: inclusionProofs[0]?.length,
      generate_warm: inclusionWarm.report(),
      generate_cold: inclusionCold.report(),
      verify: inclusionVerify.report(),
      design_target_generate_per_s: 119000,
      warm_cache_tiles: warm.size,
      warm_cache_fill_cpu_seconds: Number(fill.cpu.toFixed(2)),
    },
    consistency: {
      generate_warm: consistencyWarm.report(),
      verify: consistencyVerify.report(),
    },
    sha256_65B_node_createHash_during_proofs: hashNode2.report(),
  }));
}

await main();
