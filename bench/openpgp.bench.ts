/**
 * The machine limit for ingestion and monitoring (DESIGN.md section 6): how many detached OpenPGP
 * signatures one core verifies, and what the VerifyPool does with every core.
 *
 * Prints one JSON object: single-core rates of attestation/openpgp.ts verifyDetached (parsed key
 * cached, as the server runs, and uncached) for a legacy Ed25519 key (gpg's default) and an
 * RSA-3072 key over a ~500-byte statement; openpgp.js's own high-level verify with a parsed key
 * (the library's raw rate); the whole submission path (record.ts buildLeaf, warm caches);
 * node:crypto's raw Ed25519 primitive; and the VerifyPool's leaf rate
 * with 1 thread and with all cores. Every figure is the best of three rounds (the machine is shared). Run: node --expose-gc dist/bench/openpgp.bench.js [ms]
 */
import { availableParallelism, cpus } from 'node:os';
import { buildLeaf } from '../attestation/record.js';
import { VerifyPool } from '../attestation/verify-pool.js';
import { measureBuildLeafRate, measureNodeEd25519Rate, measureOpenpgpJsRate, measureOpenpgpVerifyRate, sampleStatement, signedSample, type BenchKeyType } from './limits.js';

const ms = Number(process.argv[2] ?? 2000);
const round = (n: number): number => Math.round(n);

/** Distinct signed leaves (one statement each) by one key of `type`. */
async function leavesOf(type: BenchKeyType, count: number): Promise<Uint8Array[]> {
  const leaves: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const sample = await signedSample(type, sampleStatement(i + 1));
    const built = await buildLeaf({ kind: 'lafs-attestation/v1', signed: sample.statement, signature: sample.signature, publicKey: sample.publicKey });
    leaves.push(built.bytes);
  }
  return leaves;
}

/** Leaves verified per second by a pool of `threads`, keeping `4 × threads` requests in flight for about `durationMs` (best of three rounds, as limits.ts). */
async function poolRate(threads: number, leaves: Uint8Array[], durationMs: number): Promise<number> {
  const pool = new VerifyPool({ threads });
  try {
    await Promise.all(leaves.slice(0, threads * 8).map((l) => pool.verify(l))); // warm: spawn, JIT, key caches
    let best = 0;
    for (let round = 0; round < 3; round++) {
      let done = 0;
      const start = performance.now();
      const deadline = start + durationMs / 3;
      const lane = async (offset: number): Promise<void> => {
        for (let i = offset; performance.now() < deadline; i += 4 * threads) {
          const result = await pool.verify(leaves[i % leaves.length]!);
          if (!result.ok) throw new Error(`bench leaf failed to verify: ${result.reason}`);
          done++;
        }
      };
      await Promise.all(Array.from({ length: 4 * threads }, (_, k) => lane(k)));
      best = Math.max(best, done / ((performance.now() - start) / 1000));
    }
    return best;
  } finally {
    await pool.close();
  }
}

const cores = availableParallelism();
const singleCore = {
  eddsaCachedKey: round(await measureOpenpgpVerifyRate(ms, { type: 'eddsa' })),
  eddsaUncachedKey: round(await measureOpenpgpVerifyRate(ms, { type: 'eddsa', cachedKey: false })),
  rsa3072CachedKey: round(await measureOpenpgpVerifyRate(ms, { type: 'rsa3072' })),
  rsa3072UncachedKey: round(await measureOpenpgpVerifyRate(ms, { type: 'rsa3072', cachedKey: false })),
  buildLeafEddsa: round(await measureBuildLeafRate(ms, 'eddsa')),
  openpgpJsEddsa: round(await measureOpenpgpJsRate(ms, 'eddsa')),
  openpgpJsRsa3072: round(await measureOpenpgpJsRate(ms, 'rsa3072')),
  nodeCryptoEd25519Raw: round(await measureNodeEd25519Rate(ms)),
};
const eddsaLeaves = await leavesOf('eddsa', 64);
const rsaLeaves = await leavesOf('rsa3072', 64);
const pool = {
  threads: cores,
  eddsaOneThread: round(await poolRate(1, eddsaLeaves, ms)),
  eddsaAllCores: round(await poolRate(cores, eddsaLeaves, ms)),
  rsa3072AllCores: round(await poolRate(cores, rsaLeaves, ms)),
};

console.log(JSON.stringify({
  benchmark: 'openpgp',
  unit: 'verifications per second',
  statementBytes: sampleStatement().length,
  machine: { cores, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  singleCore,
  pool,
  limit: {
    // What ingestion and the monitor are measured against: verifyDetached on one core with a cached key, times the cores.
    openpgpVerifyPerCore: singleCore.eddsaCachedKey,
    openpgpVerifyAllCores: singleCore.eddsaCachedKey * cores,
    poolEfficiency: Number((pool.eddsaAllCores / (singleCore.eddsaCachedKey * cores)).toFixed(2)),
  },
  durationMsPerFigure: ms,
}));
